// @ts-check
// Charts: tasks created, done, failed and dead per interval, queue depth, the oldest waiting age and
// claim-wait percentiles, over the last hour or day, for every queue or one (#/charts?window=24h&queue=q).
// Data from GET /stats/series (docs/design/queue-series.md); drawn with uPlot, vendored in vendor/uplot/.
import { api } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { fmtCount, fmtSeconds } from '../format.js';
import uPlot from '../vendor/uplot/uPlot.esm.js';

const WINDOWS = ['1h', '24h'];

/** The colours of the state badges (style.css), read once so that dark mode gets its own. */
function palette() {
  const css = getComputedStyle(document.documentElement);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return {
    created: v('--queued', '#2563eb'),
    done: v('--done', '#15803d'),
    failed: v('--failed', '#c2410c'),
    dead: v('--dead', '#b91c1c'),
    claimed: v('--claimed', '#7c3aed'),
    scheduled: v('--muted', '#667085'),
    accent: v('--accent', '#4f46e5'),
    warn: v('--warn', '#b45309'),
    text: v('--muted', '#667085'),
    grid: v('--border', '#e2e5ea'),
  };
}

/** Each chart: its title, unit, and the series it draws from an answer's figures. */
const CHARTS = [
  {
    id: 'throughput',
    title: 'Tasks per interval',
    series: [
      { key: 'created', label: 'created', color: 'created' },
      { key: 'done', label: 'done', color: 'done' },
      { key: 'failed', label: 'failed', color: 'failed' },
      { key: 'dead', label: 'dead', color: 'dead' },
    ],
    format: (n) => fmtCount(n),
  },
  {
    id: 'depth',
    title: 'Depth (sampled each minute)',
    series: [
      { key: 'claimable', label: 'claimable', color: 'created' },
      { key: 'scheduled', label: 'scheduled', color: 'scheduled', dash: [4, 4] },
      { key: 'claimed_now', label: 'claimed', color: 'claimed' },
    ],
    format: (n) => fmtCount(n),
  },
  {
    id: 'oldest',
    title: 'Oldest waiting',
    series: [{ key: 'oldest_age_seconds', label: 'oldest claimable', color: 'warn' }],
    format: (s) => fmtSeconds(s),
  },
  {
    id: 'wait',
    title: 'Claim wait (enqueued → claimed; legend: the window\'s peak)',
    series: [
      { key: 'claim_wait_p50_ms', label: 'p50', color: 'done' },
      { key: 'claim_wait_p95_ms', label: 'p95', color: 'accent' },
      { key: 'claim_wait_p99_ms', label: 'p99', color: 'dead' },
    ],
    format: (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : ms < 60_000 ? `${Number((ms / 1000).toFixed(1))} s` : fmtSeconds(ms / 1000)),
  },
];

/** The window's total of a count series, the last sample of a gauge, the peak of a percentile. */
function summary(chart, figures) {
  return chart.series.map((s) => {
    const values = (figures[s.key] ?? []).filter((v) => v !== null);
    let text;
    if (chart.id === 'throughput') text = fmtCount(values.reduce((a, b) => a + b, 0));
    else if (values.length === 0) text = '—';
    else if (chart.id === 'wait') text = chart.format(Math.max(...values));
    else text = chart.format(values[values.length - 1]);
    return { ...s, text };
  });
}

/**
 * The charts of one answer's figures, in `el`. Returns { update(answer, figures), destroy() }: charts are
 * made once and get new data on each refresh (uPlot keeps the cursor and the size).
 */
export function chartPanel(el) {
  const colors = palette();
  const plots = new Map(); // chart id → { plot, legendEl }
  const cards = CHARTS.map((chart) => {
    const plotEl = h('div', { class: 'chart-plot' });
    const legendEl = h('ul', { class: 'chart-legend' });
    const card = h(
      'figure',
      { class: 'chart', dataset: { chart: chart.id } },
      h('figcaption', {}, chart.title),
      legendEl,
      plotEl,
    );
    return { chart, card, plotEl, legendEl };
  });
  replaceChildren(el, h('div', { class: 'charts' }, cards.map((c) => c.card)));

  const width = (plotEl) => Math.max(240, Math.floor(plotEl.clientWidth || el.clientWidth || 320));
  const resize = new ResizeObserver(() => {
    for (const { plotEl, chart } of cards) plots.get(chart.id)?.plot.setSize({ width: width(plotEl), height: 180 });
  });

  return {
    update(answer, figures) {
      for (const { chart, plotEl, legendEl } of cards) {
        const data = [answer.times, ...chart.series.map((s) => figures[s.key] ?? [])];
        replaceChildren(
          legendEl,
          summary(chart, figures).map((s) =>
            h(
              'li',
              { dataset: { series: s.key } },
              h('span', { class: 'swatch', dataset: { color: s.color } }),
              `${s.label} `,
              h('strong', { class: 'chart-value' }, s.text),
            ),
          ),
        );
        for (const sw of legendEl.querySelectorAll('.swatch')) sw.style.background = colors[sw.dataset.color];
        const existing = plots.get(chart.id);
        if (existing) {
          existing.plot.setData(data);
          continue;
        }
        const plot = new uPlot(
          {
            width: width(plotEl),
            height: 180,
            legend: { show: false },
            cursor: { drag: { x: false, y: false } },
            scales: { y: { range: (_u, min, max) => [0, Math.max(1, max ?? 0) * 1.1] } },
            axes: [
              { stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid } },
              {
                stroke: colors.text,
                grid: { stroke: colors.grid, width: 1 },
                ticks: { stroke: colors.grid },
                size: 68,
                values: (_u, splits) => splits.map((v) => chart.format(v)),
              },
            ],
            series: [
              {},
              ...chart.series.map((s) => ({
                label: s.label,
                stroke: colors[s.color],
                width: 2,
                dash: s.dash,
                spanGaps: false,
                points: { show: false },
              })),
            ],
          },
          data,
          plotEl,
        );
        plots.set(chart.id, { plot });
        resize.observe(plotEl);
      }
    },
    destroy() {
      resize.disconnect();
      for (const { plot } of plots.values()) plot.destroy();
      plots.clear();
    },
  };
}

export function chartsView() {
  let windowSel;
  let queueSel;
  let noteEl;
  let panel;
  let window = '1h';
  let queue = '';
  let knownQueues = [];

  const go = () => {
    const params = new URLSearchParams();
    if (windowSel.value !== '1h') params.set('window', windowSel.value);
    if (queueSel.value !== '') params.set('queue', queueSel.value);
    const qs = params.toString();
    location.hash = qs === '' ? '#/charts' : `#/charts?${qs}`;
  };

  const readRoute = (r) => {
    window = WINDOWS.includes(r.params.get('window')) ? r.params.get('window') : '1h';
    queue = r.params.get('queue') ?? '';
  };

  const fillQueues = () => {
    const names = [...new Set([...knownQueues, ...(queue ? [queue] : [])])].sort();
    replaceChildren(
      queueSel,
      h('option', { value: '', selected: queue === '' }, 'All queues'),
      names.map((name) => h('option', { value: name, selected: name === queue }, name)),
    );
  };

  return {
    mount(el, r) {
      readRoute(r);
      windowSel = h(
        'select',
        { id: 'chart-window', 'aria-label': 'Time window', on: { change: go } },
        WINDOWS.map((w) => h('option', { value: w, selected: w === window }, w === '1h' ? 'last hour' : 'last day')),
      );
      queueSel = h('select', { id: 'chart-queue', 'aria-label': 'Queue', on: { change: go } });
      fillQueues();
      noteEl = h('p', { class: 'muted small chart-note' });
      const panelEl = h('div', { class: 'chart-panel' });
      el.appendChild(
        h(
          'section',
          { class: 'charts-view' },
          h(
            'div',
            { class: 'view-head' },
            h('h1', {}, 'Charts'),
            h('div', { class: 'chart-controls' }, h('label', { class: 'inline-field' }, 'Queue ', queueSel), h('label', { class: 'inline-field' }, 'Window ', windowSel)),
          ),
          panelEl,
          noteEl,
        ),
      );
      panel = chartPanel(panelEl);
    },
    update(r) {
      readRoute(r);
      windowSel.value = window;
      fillQueues();
    },
    unmount() {
      panel?.destroy();
    },
    async refresh(ctx) {
      const gen = ctx.generation;
      const answer = await api.series(window, queue || undefined);
      if (!ctx.isCurrent(gen)) return;
      if (queue === '') {
        knownQueues = answer.queues.map((q) => q.queue);
        fillQueues();
      }
      panel.update(answer, answer.overall);
      const interval = answer.interval_seconds >= 60 ? `${answer.interval_seconds / 60}-minute` : `${answer.interval_seconds}-second`;
      noteEl.textContent =
        `${interval} intervals, counted by every server; the current interval fills within ~10 s. ` +
        (queue === '' && answer.queues_total > answer.queues.length
          ? `${answer.queues_total} queues; the list offers the ${answer.queues.length} busiest.`
          : '');
    },
  };
}
