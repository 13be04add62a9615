// @ts-check
// Task list: filters (kept in the URL hash, so a view can be shared and reloaded), newest first, cursor
// paging with "Load more". An auto-refresh reloads as many tasks as are shown, so rows loaded with "Load
// more" stay, and the form and the scroll position are left alone.
import { mountBulkActions } from './bulk.js';
import { api } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { fmtCount, stateBadge, STATES, timeEl } from '../format.js';
import { chartPanel } from './charts.js';

const PAGE = 50;
const MAX_LIMIT = 1000;
/** The filters, in the order they appear in the URL. */
const FILTERS = ['prefix', 'queue', 'state', 'kind', 'recurring_task_id', 'created_after', 'created_before'];

export const taskHref = (task) => `#/task/${encodeURIComponent(task.queue)}/${encodeURIComponent(task.id)}`;

/** An RFC 3339 instant as a datetime-local value (local time, to the second). */
function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A datetime-local value (local time) as RFC 3339 in UTC. */
function fromLocalInput(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace(/\.000Z$/, 'Z');
}

function readFilters(params) {
  const f = {};
  for (const k of FILTERS) {
    const v = params.get(k);
    if (v) f[k] = v;
  }
  return f;
}

export function tasksView() {
  let filters = {};
  let tasks = [];
  let nextCursor;
  let loaded = false; // false until the first page for the current filters is in
  let inflight = null; // the load in flight (refresh or load more): they never overlap
  const inputs = {};
  const stateBoxes = {};
  let bodyEl;
  let summaryEl;
  let moreEl;
  let queueList;
  let recurringList;
  let debounce;
  let formEl;
  let moreFiltersEl;
  // The queue's charts (a queue filter set): loaded only while opened, so the list costs nothing more.
  let chartsEl;
  let chartsTitleEl;
  let chartsPanelEl;
  let charts;

  const syncCharts = () => {
    chartsEl.hidden = !filters.queue;
    chartsTitleEl.textContent = filters.queue ? `Charts of ${filters.queue} (last hour)` : '';
  };

  const loadCharts = async (ctx) => {
    if (!filters.queue || !chartsEl.open) return;
    const gen = ctx.generation;
    const queue = filters.queue;
    const answer = await api.series('1h', queue);
    if (!ctx.isCurrent(gen) || filters.queue !== queue || !chartsEl.open) return;
    charts ??= chartPanel(chartsPanelEl);
    charts.update(answer, answer.overall);
  };

  /** The "More filters" button says how many of the hidden filters are in use, and opens when some are. */
  const syncMoreFilters = () => {
    const n = ['queue', 'kind', 'recurring_task_id', 'created_after', 'created_before'].filter((k) => filters[k]).length;
    moreFiltersEl.textContent = n ? `More filters (${n})` : 'More filters';
    if (n) {
      formEl.classList.add('expanded');
      moreFiltersEl.setAttribute('aria-expanded', 'true');
    }
  };

  const writeHash = () => {
    clearTimeout(debounce);
    const params = new URLSearchParams();
    for (const k of ['prefix', 'queue', 'kind', 'recurring_task_id']) {
      const v = inputs[k].value.trim();
      if (v) params.set(k, v);
    }
    const states = STATES.filter((s) => stateBoxes[s].checked);
    if (states.length) params.set('state', states.join(','));
    for (const k of ['created_after', 'created_before']) {
      const v = fromLocalInput(inputs[k].value);
      if (v) params.set(k, v);
    }
    const ordered = new URLSearchParams();
    for (const k of FILTERS) {
      const value = params.get(k);
      if (value !== null) ordered.set(k, value);
    }
    const qs = ordered.toString();
    const hash = `#/tasks${qs ? `?${qs}` : ''}`;
    if (location.hash !== hash) location.hash = hash;
  };

  const fillForm = () => {
    for (const k of ['prefix', 'queue', 'kind', 'recurring_task_id']) {
      // Leave a field being typed in alone when it already holds the value (the change came from it).
      if (inputs[k].value.trim() !== (filters[k] ?? '')) inputs[k].value = filters[k] ?? '';
    }
    const states = (filters.state ?? '').split(',');
    for (const s of STATES) stateBoxes[s].checked = states.includes(s);
    for (const k of ['created_after', 'created_before']) {
      if (fromLocalInput(inputs[k].value) !== (filters[k] ?? '')) inputs[k].value = filters[k] ? toLocalInput(filters[k]) : '';
    }
  };

  const textField = (key, label, placeholder, attrs = {}) => {
    const input = h('input', {
      type: 'search',
      name: key,
      id: `f-${key}`,
      placeholder,
      autocomplete: 'off',
      spellcheck: 'false',
      ...attrs,
      on: {
        change: writeHash,
        input: () => {
          clearTimeout(debounce);
          debounce = setTimeout(writeHash, 500);
        },
      },
    });
    inputs[key] = input;
    return h('label', { class: ['field', `field-${key}`], for: `f-${key}` }, h('span', { class: 'field-label' }, label), input);
  };

  const dateField = (key, label) => {
    const input = h('input', { type: 'datetime-local', step: 1, name: key, id: `f-${key}`, on: { change: writeHash } });
    inputs[key] = input;
    return h('label', { class: ['field', `field-${key}`], for: `f-${key}` }, h('span', { class: 'field-label' }, label), input);
  };

  const row = (t) => {
    // Waiting but not due yet: scheduled for later, or (failed) waiting for its next attempt.
    const scheduled = (t.state === 'queued' || t.state === 'failed') && Date.parse(t.run_at) > Date.now();
    return h(
      'tr',
      { dataset: { id: t.id, queue: t.queue, state: t.state, scheduled } },
      h(
        'td',
        { class: 'state', 'data-label': 'State' },
        stateBadge(t.state, { cancelled: t.cancellation !== undefined }),
        scheduled
          ? h('span', { class: 'badge scheduled-badge', title: t.state === 'failed' ? 'Waiting for its next attempt' : 'Not due yet' }, t.state === 'failed' ? 'retry later' : 'scheduled')
          : null,
      ),
      h(
        'td',
        { class: 'task', 'data-label': 'Task' },
        h('a', { class: 'task-link', href: taskHref(t) }, h('span', { class: 'kind' }, t.kind), h('span', { class: 'id mono' }, t.id)),
      ),
      h(
        'td',
        { class: 'queue', 'data-label': 'Queue' },
        t.queue,
        // Flow control (docs/flow-control.md): the task's keys, when it has them.
        t.concurrency_key ? [' ', h('span', { class: 'badge neutral flow-key', title: 'concurrency key' }, t.concurrency_key)] : null,
        t.rate_key ? [' ', h('span', { class: 'badge neutral rate-key', title: 'rate key' }, t.rate_key)] : null,
      ),
      h(
        'td',
        { class: 'num attempts', 'data-label': 'Attempts', title: `${t.attempted} of at most ${t.retry_times + 1} attempts` },
        `${t.attempted}/${t.retry_times + 1}`,
      ),
      h('td', { class: 'created', 'data-label': 'Created' }, timeEl(t.metadata?.created_at)),
      // A cancelled task will not run: its run_at (maybe in the future) is not shown as a countdown.
      t.cancellation
        ? h('td', { class: 'run-at', 'data-label': 'Run at' }, h('span', { class: 'muted' }, '—'))
        : h(
            'td',
            { class: 'run-at', 'data-label': scheduled && t.state === 'failed' ? 'Next attempt' : 'Run at' },
            scheduled && t.state === 'failed' ? h('span', { class: 'muted' }, 'next attempt ') : null,
            timeEl(t.run_at),
          ),
      h(
        'td',
        { class: 'worker', 'data-label': 'Worker' },
        t.last_claimed ? h('span', { class: 'mono' }, t.last_claimed.worker_id) : h('span', { class: 'muted' }, '—'),
      ),
    );
  };

  const render = () => {
    if (!loaded) return;
    if (tasks.length === 0) {
      const any = Object.keys(filters).length > 0;
      replaceChildren(bodyEl, h('tr', {}, h('td', { colspan: 7, class: 'empty' }, any ? 'No task matches these filters.' : 'No tasks yet.')));
    } else {
      replaceChildren(bodyEl, tasks.map(row));
    }
    summaryEl.textContent = `${fmtCount(tasks.length)} task${tasks.length === 1 ? '' : 's'}${nextCursor ? ' shown, newest first; more below' : ''}`;
    moreEl.hidden = !nextCursor;
    moreEl.disabled = false;
  };

  /**
   * The list as shown, brought up to date: pages from the start until the last task shown before is in
   * again, so that new tasks (on top) do not push shown ones out. Bounded: it stops once it holds as many
   * tasks as before plus the new ones, should the last one have left the list (archived, state changed).
   */
  const loadFromStart = async (ctx) => {
    const gen = ctx.generation;
    const key = (t) => `${t.queue}\u0000${t.id}`;
    const shown = new Set(tasks.map(key));
    const lastKey = tasks.length ? key(tasks[tasks.length - 1]) : undefined;
    const want = Math.max(PAGE, tasks.length);
    const got = [];
    let cursor;
    let target = want;
    do {
      const limit = Math.min(MAX_LIMIT, got.length === 0 ? want : target - got.length);
      const page = await api.tasks({ ...filters, limit, cursor });
      got.push(...page.tasks);
      cursor = page.next_cursor;
      if (lastKey === undefined || page.tasks.some((t) => key(t) === lastKey)) break;
      target = want + got.filter((t) => !shown.has(key(t))).length;
    } while (cursor && got.length < target);
    if (!ctx.isCurrent(gen)) return;
    tasks = got;
    nextCursor = cursor;
    loaded = true;
    render();
  };

  const loadMore = async (ctx) => {
    if (!nextCursor || inflight) return;
    const gen = ctx.generation;
    moreEl.disabled = true;
    inflight = (async () => {
      try {
        const page = await api.tasks({ ...filters, limit: PAGE, cursor: nextCursor });
        if (!ctx.isCurrent(gen)) return;
        tasks = tasks.concat(page.tasks);
        nextCursor = page.next_cursor;
        render();
      } catch (err) {
        ctx.reportError(err);
        moreEl.disabled = false;
      } finally {
        inflight = null;
      }
    })();
    await inflight;
  };

  const loadOptions = async () => {
    // Suggestions only: the list works without them.
    try {
      const { queues } = await api.queues();
      replaceChildren(queueList, queues.map((q) => h('option', { value: q.queue })));
    } catch {}
    try {
      const recurring = await api.recurring();
      replaceChildren(recurringList, recurring.map((r) => h('option', { value: r.id })));
    } catch {}
  };

  return {
    mount(el, r, ctx) {
      chartsTitleEl = h('span', {});
      chartsPanelEl = h('div', { class: 'chart-panel' });
      chartsEl = h(
        'details',
        { class: 'queue-charts', on: { toggle: () => void loadCharts(ctx).catch((err) => ctx.reportError(err)) } },
        h('summary', {}, chartsTitleEl),
        chartsPanelEl,
      );
      filters = readFilters(r.params);
      queueList = h('datalist', { id: 'queue-options' });
      recurringList = h('datalist', { id: 'recurring-options' });
      bodyEl = h('tbody', {});
      summaryEl = h('p', { class: 'muted small summary', 'aria-live': 'polite' }, 'Loading…');
      moreEl = h('button', { type: 'button', class: 'button secondary load-more', hidden: true, on: { click: () => loadMore(ctx) } }, 'Load more');
      // On a phone only the search and the states show until "More filters" is pressed (or one of the
      // others is in use); on a wider screen everything shows and the button is hidden.
      moreFiltersEl = h(
        'button',
        {
          type: 'button',
          class: 'button link more-filters',
          'aria-expanded': 'false',
          on: {
            click: () => {
              const open = form.classList.toggle('expanded');
              moreFiltersEl.setAttribute('aria-expanded', String(open));
            },
          },
        },
        'More filters',
      );
      const form = h(
        'form',
        { class: 'filters', role: 'search', on: { submit: (e) => (e.preventDefault(), writeHash()) } },
        textField('prefix', 'Search', 'Task id or kind prefix…'),
        textField('queue', 'Queue', 'any queue', { list: 'queue-options' }),
        textField('kind', 'Kind', 'any kind'),
        textField('recurring_task_id', 'Recurring task', 'any', { list: 'recurring-options' }),
        dateField('created_after', 'Created from'),
        dateField('created_before', 'Created before'),
        h(
          'fieldset',
          { class: 'states' },
          h('legend', { class: 'field-label' }, 'State'),
          STATES.map((s) => {
            const box = h('input', { type: 'checkbox', name: 'state', value: s, on: { change: writeHash } });
            stateBoxes[s] = box;
            return h('label', { class: ['chip', `chip-${s}`] }, box, h('span', {}, s));
          }),
        ),
        h(
          'div',
          { class: 'form-actions' },
          moreFiltersEl,
          h(
            'button',
            {
              type: 'button',
              class: 'button link',
              on: {
                click: () => {
                  if (location.hash !== '#/tasks') location.hash = '#/tasks';
                  else fillForm(); // nothing applied yet: drop what was typed
                },
              },
            },
            'Clear filters',
          ),
        ),
        queueList,
        recurringList,
      );
      el.appendChild(
        h(
          'section',
          { class: 'tasks-view' },
          h('div', { class: 'view-head' }, h('h1', {}, 'Tasks'), summaryEl),
          form,
          chartsEl,
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'data tasks' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['State', 'Task', 'Queue', 'Attempts', 'Created', 'Run at', 'Last worker'].map((c) =>
                    h('th', { scope: 'col', class: c === 'Attempts' ? 'num' : null }, c),
                  ),
                ),
              ),
              bodyEl,
            ),
          ),
          h('div', { class: 'more' }, moreEl),
        ),
      );
      mountBulkActions(el.lastElementChild, ctx, { filter: () => filters });
      fillForm();
      formEl = form;
      syncMoreFilters();
      syncCharts();
      void loadOptions();
    },
    update(r) {
      filters = readFilters(r.params);
      fillForm();
      syncMoreFilters();
      syncCharts();
      tasks = [];
      nextCursor = undefined;
      loaded = false;
      summaryEl.textContent = 'Loading…';
      moreEl.hidden = true;
    },
    unmount() {
      charts?.destroy();
    },
    async refresh(ctx) {
      // The charts on their own: a failure there is reported without failing the list.
      void loadCharts(ctx).catch((err) => ctx.reportError(err));
      while (inflight) await inflight;
      inflight = loadFromStart(ctx);
      try {
        await inflight;
      } catch (err) {
        if (!loaded) summaryEl.textContent = 'Could not load the tasks.';
        throw err;
      } finally {
        inflight = null;
      }
    },
  };
}
