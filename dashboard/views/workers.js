// @ts-check
// Workers: who holds claims now (worker id, queues, tasks held, since when, last report-in) and who was
// seen lately (GET /workers). Workers are known only by their X-TASQUES-WORKER-ID header.
import { api } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { fmtCount, timeEl } from '../format.js';

const WINDOWS = ['15m', '1h', '24h'];
const tasksHref = (params) => `#/tasks?${new URLSearchParams(params)}`;

export function workersView() {
  let holdingBody;
  let recentBody;
  let summaryEl;
  let windowSel;
  let seenWindow = '1h';

  const queueLinks = (queues, extra = {}) =>
    queues.length === 0
      ? h('span', { class: 'muted' }, '—')
      : queues.map((q, i) => [i > 0 ? ', ' : null, h('a', { href: tasksHref({ queue: q, ...extra }) }, q)]);

  const holdingRow = (w) =>
    h(
      'tr',
      { dataset: { worker: w.worker_id } },
      h('th', { scope: 'row', 'data-label': 'Worker' }, h('span', { class: 'mono' }, w.worker_id)),
      h('td', { class: 'num', 'data-label': 'Tasks held' }, fmtCount(w.claimed)),
      h('td', { 'data-label': 'Queues' }, queueLinks(w.queues, { state: 'claimed' })),
      h('td', { class: 'since', 'data-label': 'Working since' }, timeEl(w.claimed_since)),
      h('td', { class: 'last-report', 'data-label': 'Last report-in' }, timeEl(w.last_report_at)),
    );

  const recentRow = (w, holding) =>
    h(
      'tr',
      { dataset: { worker: w.worker_id } },
      h('th', { scope: 'row', 'data-label': 'Worker' }, h('span', { class: 'mono' }, w.worker_id)),
      h('td', { class: 'seen', 'data-label': 'Last seen' }, timeEl(w.last_seen_at)),
      h('td', { 'data-label': 'Queues' }, queueLinks(w.queues)),
      h(
        'td',
        { 'data-label': 'Now' },
        holding.has(w.worker_id) ? h('span', { class: 'badge neutral' }, 'holding claims') : h('span', { class: 'muted' }, 'idle'),
      ),
    );

  const table = (cls, heads, body) =>
    h(
      'div',
      { class: 'table-wrap' },
      h('table', { class: ['data', cls] }, h('thead', {}, h('tr', {}, heads.map((c) => h('th', { scope: 'col' }, c)))), body),
    );

  return {
    mount(el, _r, ctx) {
      holdingBody = h('tbody', {});
      recentBody = h('tbody', {});
      summaryEl = h('p', { class: 'muted small summary' }, 'Loading…');
      windowSel = h(
        'select',
        {
          'aria-label': 'Seen within',
          on: {
            change: () => {
              seenWindow = windowSel.value;
              void ctx.refresh();
            },
          },
        },
        WINDOWS.map((w) => h('option', { value: w, selected: w === seenWindow }, `last ${w}`)),
      );
      el.appendChild(
        h(
          'section',
          { class: 'workers-view' },
          h('div', { class: 'view-head' }, h('h1', {}, 'Workers'), summaryEl),
          h('h2', {}, 'Holding claims'),
          table('workers-holding', ['Worker', 'Tasks held', 'Queues', 'Working since', 'Last report-in'], holdingBody),
          h('div', { class: 'view-head' }, h('h2', {}, 'Seen lately'), h('label', { class: 'small' }, 'Seen within ', windowSel)),
          table('workers-recent', ['Worker', 'Last seen', 'Queues', 'Now'], recentBody),
        ),
      );
    },
    async refresh(ctx) {
      const gen = ctx.generation;
      const answer = await api.workers({ window: seenWindow });
      if (!ctx.isCurrent(gen)) return;
      const held = answer.holding.reduce((n, w) => n + w.claimed, 0);
      summaryEl.textContent =
        `${fmtCount(answer.holding_count)} worker${answer.holding_count === 1 ? '' : 's'} holding ${fmtCount(held)} task${held === 1 ? '' : 's'}` +
        (answer.holding.length < answer.holding_count ? ` (the ${answer.holding.length} busiest shown)` : '') +
        (answer.holding_complete ? '' : '; over 10 000 tasks are claimed: figures cover the first 10 000');
      replaceChildren(
        holdingBody,
        answer.holding.length === 0
          ? h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No worker holds a claim right now.'))
          : answer.holding.map(holdingRow),
      );
      const holding = new Set(answer.holding.map((w) => w.worker_id));
      replaceChildren(
        recentBody,
        answer.recent.length === 0
          ? h('tr', {}, h('td', { colspan: 4, class: 'empty' }, `No worker called in the last ${seenWindow}.`))
          : answer.recent.map((w) => recentRow(w, holding)),
      );
    },
  };
}
