// @ts-check
// Recurring tasks: schedule, what they enqueue, their next five fire times and when the leader last ticked
// them (GET /recurring_tasques joined with GET /schedule by id), with the operator's actions: run now,
// pause/resume, delete (confirmed inline).
import { api, ApiError } from '../api.js';
import { h, jsonView, replaceChildren } from '../dom.js';
import { fmtAbsolute, timeEl } from '../format.js';

const tasksHref = (params) => `#/tasks?${new URLSearchParams(params)}`;

export function recurringView() {
  let bodyEl;
  let summaryEl;
  let highlight; // ?id=… : the row to point at (a link from a task)
  let scrolled = false;
  const open = new Set(); // ids whose definition is expanded: kept across refreshes
  const busy = new Set(); // ids with an action in flight
  let confirmingDelete; // the id whose delete asks for confirmation
  let ctxRef;

  const act = async (id, call, done) => {
    busy.add(id);
    try {
      const result = await call();
      ctxRef.notify(done(result));
    } catch (err) {
      ctxRef.reportError(err, { sticky: true });
    } finally {
      busy.delete(id);
      await ctxRef.refresh();
    }
  };

  const button = (label, action, cls, id, onClick, title) =>
    h('button', { type: 'button', class: ['button', cls, 'small'], disabled: busy.has(id), dataset: { action }, title, 'aria-label': `${label} ${id}`, on: { click: onClick } }, label);

  const actions = (rt, sched) => {
    const paused = sched?.paused === true;
    if (confirmingDelete === rt.id) {
      return h(
        'span',
        { class: 'confirm' },
        h('span', { class: 'small' }, 'Stop it for good? '),
        button('Delete', 'confirm-delete', 'danger', rt.id, () => {
          confirmingDelete = undefined;
          void act(rt.id, () => api.deleteRecurring(rt.id), () => `Recurring task ${rt.id} deleted.`);
        }),
        button('Keep', 'keep', 'link', rt.id, () => {
          confirmingDelete = undefined;
          void ctxRef.refresh();
        }),
      );
    }
    return h(
      'span',
      { class: 'actions' },
      button('Run now', 'run', 'primary', rt.id, () =>
        act(rt.id, () => api.runRecurring(rt.id), (task) => `Enqueued task ${task.id} on ${task.queue}.`),
      'Enqueue one task from its definition now; the schedule goes on'),
      paused
        ? button('Resume', 'resume', 'secondary', rt.id, () => act(rt.id, () => api.resumeRecurring(rt.id), () => `Recurring task ${rt.id} resumed.`))
        : button('Pause', 'pause', 'secondary', rt.id, () => act(rt.id, () => api.pauseRecurring(rt.id), () => `Recurring task ${rt.id} paused.`),
          'Skip its ticks until resumed'),
      button('Delete…', 'delete', 'danger-outline', rt.id, () => {
        confirmingDelete = rt.id;
        void ctxRef.refresh();
      }),
    );
  };

  const nextRuns = (sched) => {
    if (!sched) return h('span', { class: 'muted' }, '—');
    if (sched.paused) return h('span', { class: 'badge paused-badge', title: `Paused ${sched.paused_at ?? ''}` }, 'paused');
    const times = sched.next_run_times ?? (sched.next_run_at ? [sched.next_run_at] : []);
    if (times.length === 0) return h('span', { class: 'muted' }, 'never');
    // One <time> (relative, refreshed like the others); the later ones as plain dates.
    const [first, ...rest] = times;
    return h(
      'span',
      {},
      timeEl(first),
      rest.length === 0 ? null : h('ul', { class: 'next-runs small muted', 'aria-label': 'Then' }, rest.map((t) => h('li', { title: t }, fmtAbsolute(t)))),
    );
  };

  const row = (rt, sched) => {
    const def = rt.task_definition ?? {};
    const details = h(
      'details',
      {
        class: 'definition',
        open: open.has(rt.id),
        on: { toggle: () => (details.open ? open.add(rt.id) : open.delete(rt.id)) },
      },
      h('summary', {}, 'definition'),
      h(
        'dl',
        { class: 'fields compact' },
        h('dt', {}, 'Priority'),
        h('dd', {}, String(def.priority)),
        h('dt', {}, 'Retries'),
        h('dd', {}, String(def.retry_times)),
        h('dt', {}, 'Timeout'),
        h('dd', {}, def.processing_timeout ?? '—'),
        h('dt', {}, 'Loaded'),
        h('dd', {}, timeEl(rt.loaded_at)),
      ),
      def.args === undefined ? null : [h('h3', {}, 'Args'), jsonView(def.args, 'Args')],
      def.context === undefined ? null : [h('h3', {}, 'Context'), jsonView(def.context, 'Context')],
    );
    return h(
      'tr',
      { dataset: { id: rt.id, paused: sched?.paused === true }, class: [rt.id === highlight ? 'highlight' : null, sched?.paused ? 'paused' : null] },
      h('th', { scope: 'row', 'data-label': 'Id' }, h('span', { class: 'mono' }, rt.id), details),
      h('td', { 'data-label': 'Schedule' }, h('code', {}, rt.schedule_expression)),
      h('td', { 'data-label': 'Enqueues' }, h('span', { class: 'kind' }, def.kind), h('span', { class: 'muted' }, ' on '), def.queue),
      h('td', { class: 'next-run', 'data-label': 'Next runs' }, nextRuns(sched)),
      h('td', { class: 'last-tick', 'data-label': 'Last tick' }, sched ? timeEl(sched.last_tick_at) : h('span', { class: 'muted' }, '—')),
      h(
        'td',
        { 'data-label': 'Skip if outstanding' },
        rt.skip_if_outstanding_tasks_exist ? h('span', { class: 'badge neutral' }, 'skips') : h('span', { class: 'muted' }, 'no'),
      ),
      h('td', { 'data-label': '' }, h('a', { href: tasksHref({ recurring_task_id: rt.id }) }, 'tasks →')),
      h('td', { class: 'actions', 'data-label': '' }, actions(rt, sched)),
    );
  };

  return {
    mount(el, r) {
      highlight = r.params.get('id') ?? undefined;
      bodyEl = h('tbody', {});
      summaryEl = h('p', { class: 'muted small summary' }, 'Loading…');
      el.appendChild(
        h(
          'section',
          { class: 'recurring-view' },
          h('div', { class: 'view-head' }, h('h1', {}, 'Recurring tasks'), summaryEl),
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'data recurring' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Id', 'Schedule', 'Enqueues', 'Next runs', 'Last tick', 'Skip if outstanding', '', 'Actions'].map((c) => h('th', { scope: 'col' }, c)),
                ),
              ),
              bodyEl,
            ),
          ),
        ),
      );
    },
    update(r) {
      highlight = r.params.get('id') ?? undefined;
      scrolled = false;
    },
    async refresh(ctx) {
      ctxRef = ctx;
      const gen = ctx.generation;
      const [list, schedule] = await Promise.all([
        api.recurring(),
        // The schedule is an operator route; an older server without it still gets the list.
        api.schedule().catch((err) => {
          if (err instanceof ApiError && err.status === 404) return { recurring_tasks: [] };
          throw err;
        }),
      ]);
      if (!ctx.isCurrent(gen)) return;
      const byId = new Map(schedule.recurring_tasks.map((s) => [s.id, s]));
      summaryEl.textContent = `${list.length} recurring task${list.length === 1 ? '' : 's'}; the leader enqueues them on schedule`;
      if (list.length === 0) {
        replaceChildren(bodyEl, h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No recurring tasks (POST /recurring_tasques creates one).')));
        return;
      }
      replaceChildren(bodyEl, list.map((rt) => row(rt, byId.get(rt.id))));
      if (highlight && !scrolled) {
        scrolled = true;
        bodyEl.querySelector('tr.highlight')?.scrollIntoView({ block: 'center' });
      }
    },
  };
}
