// @ts-check
// Queues overview: totals, then one row per queue with its counts by state (each a link to the filtered
// task list), recent activity, how long the oldest claimable task has waited, and pause/resume.
import { api } from '../api.js';
import { mountBulkActions } from './bulk.js';
import { h, replaceChildren } from '../dom.js';
import { fmtCount, fmtSeconds, STATES } from '../format.js';

const WINDOWS = ['5m', '1h', '24h'];
/** Past this the oldest claimable age is highlighted: work is waiting and nothing picks it up. */
const WAIT_WARN_SECONDS = 60;

/** A Go duration without its zero tails: "5m0s" → "5m", "1h0m0s" → "1h". */
const shortDuration = (d) => String(d).replace(/([hm])0s$/, '$1').replace(/h0m$/, 'h');

const tasksHref = (params) => `#/tasks?${new URLSearchParams(params)}`;

export function queuesView() {
  let root;
  let totalsEl;
  let bodyEl;
  let windowSel;
  let statsWindow = '5m';
  const busy = new Set(); // queues with a pause/resume call in flight
  let bulk; // the bulk-action panel (bulk.js)

  const render = (queues, ctx) => {
    const totals = Object.fromEntries(STATES.map((s) => [s, 0]));
    for (const q of queues) for (const s of STATES) totals[s] += q.counts?.[s] ?? 0;
    replaceChildren(
      totalsEl,
      STATES.map((s) =>
        h(
          'a',
          { class: ['tile', `tile-${s}`], href: tasksHref({ state: s }), dataset: { state: s } },
          h('span', { class: 'tile-label' }, s),
          h('span', { class: 'tile-value' }, fmtCount(totals[s])),
        ),
      ),
    );
    if (queues.length === 0) {
      replaceChildren(
        bodyEl,
        h(
          'tr',
          {},
          h(
            'td',
            { colspan: 10, class: 'empty' },
            'No queues yet. A queue appears when its first task is enqueued (POST /tasques).',
          ),
        ),
      );
      return;
    }
    replaceChildren(bodyEl, queues.map((q) => row(q, ctx)));
  };

  const row = (q, ctx) => {
    const age = q.oldest_claimable_age_seconds;
    const action = q.paused ? 'resume' : 'pause';
    const button = h(
      'button',
      {
        type: 'button',
        class: ['button', q.paused ? 'primary' : 'secondary', 'small'],
        disabled: busy.has(q.queue),
        dataset: { action, access: 'operate' },
        'aria-label': `${q.paused ? 'Resume' : 'Pause'} queue ${q.queue}`,
        on: {
          click: async () => {
            busy.add(q.queue);
            button.disabled = true;
            try {
              await (q.paused ? api.resumeQueue(q.queue) : api.pauseQueue(q.queue));
              ctx.notify(`Queue ${q.queue} ${q.paused ? 'resumed' : 'paused'}.`);
            } catch (err) {
              ctx.reportError(err, { sticky: true });
            } finally {
              busy.delete(q.queue);
              await ctx.refresh();
            }
          },
        },
      },
      q.paused ? 'Resume' : 'Pause',
    );
    return h(
      'tr',
      { dataset: { queue: q.queue, paused: q.paused }, class: q.paused ? 'paused' : null },
      h(
        'th',
        { scope: 'row', class: 'queue-name', 'data-label': 'Queue' },
        h('a', { href: tasksHref({ queue: q.queue }) }, q.queue),
        q.paused ? h('span', { class: 'badge paused-badge', title: 'No claims are handed out' }, 'paused') : null,
        h('a', { class: 'queue-charts-link small', href: `#/charts?${new URLSearchParams({ queue: q.queue })}`, 'aria-label': `Charts of ${q.queue}` }, 'charts'),
      ),
      STATES.map((s) => {
        const n = q.counts?.[s] ?? 0;
        return h(
          'td',
          { class: ['num', `count-${s}`, n === 0 ? 'zero' : null], dataset: { state: s }, 'data-label': s },
          h('a', { href: tasksHref({ queue: q.queue, state: s }) }, fmtCount(n)),
        );
      }),
      h(
        'td',
        {
          class: ['num', 'count-scheduled', q.scheduled ? null : 'zero'],
          'data-label': 'scheduled',
          title: 'Queued or failed tasks not due yet (counted in queued/failed too)',
        },
        fmtCount(q.scheduled ?? 0),
      ),
      h(
        'td',
        { class: 'recent', 'data-label': `Last ${shortDuration(q.recent?.window ?? statsWindow)}` },
        h('span', { title: 'created' }, `+${fmtCount(q.recent?.created)}`),
        h('span', { class: 'muted' }, ' created, '),
        h('span', { class: q.recent?.done ? 'ok-text' : null, title: 'done' }, fmtCount(q.recent?.done)),
        h('span', { class: 'muted' }, ' done'),
        q.recent?.dead ? [h('span', { class: 'muted' }, ', '), h('span', { class: 'dead-text' }, `${fmtCount(q.recent.dead)} dead`)] : null,
      ),
      h(
        'td',
        { class: ['num', 'wait', age !== undefined && age > WAIT_WARN_SECONDS ? 'warn' : null], 'data-label': 'Oldest waiting' },
        age === undefined ? h('span', { class: 'muted' }, '—') : fmtSeconds(age),
      ),
      h('td', { class: 'actions', 'data-label': '' }, button),
    );
  };

  return {
    mount(el, r, ctx) {
      statsWindow = WINDOWS.includes(r.params.get('window')) ? r.params.get('window') : '5m';
      windowSel = h(
        'select',
        {
          id: 'window',
          'aria-label': 'Window of the recent counts',
          on: {
            change: () => {
              location.hash = windowSel.value === '5m' ? '#/queues' : `#/queues?window=${windowSel.value}`;
            },
          },
        },
        WINDOWS.map((w) => h('option', { value: w, selected: w === statsWindow }, `last ${w}`)),
      );
      totalsEl = h('div', { class: 'tiles', 'aria-label': 'Tasks by state, all queues' });
      bodyEl = h('tbody', {});
      root = h(
        'section',
        { class: 'queues-view' },
        h('div', { class: 'view-head' }, h('h1', {}, 'Queues'), h('label', { class: 'inline-field' }, 'Activity ', windowSel)),
        totalsEl,
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'data queues' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { scope: 'col' }, 'Queue'),
                STATES.map((s) => h('th', { scope: 'col', class: 'num' }, s[0].toUpperCase() + s.slice(1))),
                h('th', { scope: 'col', class: 'num', title: 'Queued or failed tasks not due yet (counted in queued/failed too)' }, 'Scheduled'),
                h('th', { scope: 'col' }, 'Activity'),
                h('th', { scope: 'col', class: 'num', title: 'How long the oldest claimable task has waited past its run_at' }, 'Oldest waiting'),
                h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')),
              ),
            ),
            bodyEl,
          ),
        ),
      );
      el.appendChild(root);
      bulk = mountBulkActions(root, ctx, { queues: true });
    },
    update(r) {
      statsWindow = WINDOWS.includes(r.params.get('window')) ? r.params.get('window') : '5m';
      windowSel.value = statsWindow;
    },
    async refresh(ctx) {
      const gen = ctx.generation;
      const { queues } = await api.queues(statsWindow);
      if (ctx.isCurrent(gen)) render(queues, ctx);
      bulk?.setQueues(queues.map((q) => q.queue));
    },
  };
}
