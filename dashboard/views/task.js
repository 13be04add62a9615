// @ts-check
// One task: its fields, args and context, last claim, last report and result, its error history (one
// entry per failed attempt, GET /tasques/errors/…), who cancelled it, the recurring task that enqueued it;
// Retry (DEAD) and Cancel (QUEUED, CLAIMED, FAILED). A task that has left the live index is looked up
// among the archived ones. A cancelled task shows as cancelled (who, when, why), not as a failure.
import { api, ApiError } from '../api.js';
import { h, jsonView, replaceChildren } from '../dom.js';
import { FINAL_STATES, stateBadge, timeBoth, timeEl } from '../format.js';

const tasksHref = (params) => `#/tasks?${new URLSearchParams(params)}`;

function field(label, ...value) {
  return [h('dt', {}, label), h('dd', {}, ...value)];
}

function jsonSection(title, value, name) {
  return h(
    'section',
    { class: 'card', dataset: { section: name } },
    h('h2', {}, title),
    value === undefined ? h('p', { class: 'muted' }, 'None.') : jsonView(value, title),
  );
}

export function taskView() {
  let queue;
  let id;
  let root;
  let headEl;
  let bodyEl;
  let shownVersion; // re-render only when the task changed, so an open cancel form is not wiped
  let archived = false;
  let cancelOpen = false;
  /** What GET /tasques/errors answered: `{ errors, cancellation? }` (none while it is unknown). */
  let history = { errors: [] };
  const cancellable = (state) => state === 'queued' || state === 'failed' || state === 'claimed';

  const actions = (task, ctx) => {
    if (archived) return null;
    const out = [];
    if (task.state === 'dead') {
      const retry = h(
        'button',
        {
          type: 'button',
          class: 'button primary',
          dataset: { action: 'retry', access: 'operate' },
          title: 'Queue it again now, with a fresh set of retries',
          on: {
            click: async () => {
              retry.disabled = true;
              try {
                const t = await api.retryTask(task.queue, task.id);
                history = { ...history, cancellation: undefined }; // a retry clears it
                show(t, ctx);
                ctx.notify('Task queued again.');
              } catch (err) {
                ctx.reportError(err, { sticky: true });
                retry.disabled = false;
              }
            },
          },
        },
        'Retry',
      );
      out.push(retry);
    }
    if (cancellable(task.state)) {
      if (!cancelOpen) {
        out.push(
          h(
            'button',
            {
              type: 'button',
              class: 'button danger-outline',
              dataset: { action: 'cancel', access: 'operate' },
              on: {
                click: () => {
                  cancelOpen = true;
                  show(task, ctx, true);
                },
              },
            },
            'Cancel…',
          ),
        );
      } else {
        const reason = h('input', { type: 'text', name: 'reason', maxlength: 1000, placeholder: 'Reason (optional)', 'aria-label': 'Reason' });
        const confirm = h('button', { type: 'submit', class: 'button danger', dataset: { action: 'confirm-cancel' } }, 'Cancel task');
        const form = h(
          'form',
          {
            class: 'cancel-form',
            dataset: { access: 'operate' },
            on: {
              submit: async (e) => {
                e.preventDefault();
                confirm.disabled = true;
                try {
                  const t = await api.cancelTask(task.queue, task.id, reason.value.trim());
                  // The cancel route answers the operator's task, with its cancellation: shown at once.
                  history = { ...history, cancellation: t.cancellation };
                  cancelOpen = false;
                  show(t, ctx);
                  ctx.notify('Task cancelled: it is dead now.');
                } catch (err) {
                  ctx.reportError(err, { sticky: true });
                  confirm.disabled = false;
                }
              },
            },
          },
          h(
            'span',
            { class: 'small' },
            task.state === 'claimed'
              ? `It becomes DEAD now; its worker (${task.last_claimed?.worker_id ?? 'unknown'}) is told at its next report-in, and its result is refused.`
              : 'It becomes DEAD and is not run.',
          ),
          reason,
          confirm,
          h(
            'button',
            {
              type: 'button',
              class: 'button link',
              on: {
                click: () => {
                  cancelOpen = false;
                  show(task, ctx, true);
                },
              },
            },
            'Keep it',
          ),
        );
        out.push(form);
        queueMicrotask(() => reason.focus());
      }
    }
    return out.length ? h('div', { class: 'actions' }, out) : null;
  };

  const lastClaimSection = (lc, cancellation) => {
    if (!lc) return h('section', { class: 'card', dataset: { section: 'last-claim' } }, h('h2', {}, 'Last claim'), h('p', { class: 'muted' }, 'Never claimed.'));
    const result = lc.result;
    // The result a cancel wrote (for v1 readers) is the cancellation, not a failure of the work.
    const cancelledResult = cancellation !== undefined && result?.failure?.cancelled === true;
    return h(
      'section',
      { class: 'card', dataset: { section: 'last-claim' } },
      h('h2', {}, 'Last claim'),
      h(
        'dl',
        { class: 'fields' },
        field('Worker', h('span', { class: 'mono' }, lc.worker_id)),
        field('Claimed', timeBoth(lc.claimed_at)),
        // Once the attempt has a result the claim is over: its timeout is history, not a countdown.
        field('Times out', result ? timeEl(lc.times_out_at, { absolute: true }) : timeBoth(lc.times_out_at)),
      ),
      h('h3', {}, 'Last report'),
      lc.last_report
        ? [h('p', { class: 'small' }, timeBoth(lc.last_report.at)), lc.last_report.data === undefined ? null : jsonView(lc.last_report.data, 'Last report data')]
        : h('p', { class: 'muted' }, 'No report.'),
      h('h3', {}, 'Result'),
      cancelledResult
        ? h(
            'div',
            { class: ['result', 'result-cancelled'], dataset: { section: 'result' } },
            h('p', { class: 'small' }, h('strong', {}, 'Cancelled'), ' · ', timeBoth(result.at), ' · see Cancellation'),
          )
        : result
        ? h(
            'div',
            { class: ['result', result.failure ? 'result-failure' : 'result-success'], dataset: { section: 'result' } },
            h('p', { class: 'small' }, h('strong', {}, result.failure ? 'Failure' : 'Success'), ' · ', timeBoth(result.at)),
            jsonView(result.failure ?? result.success ?? {}, result.failure ? 'Failure' : 'Success'),
          )
        : h('p', { class: 'muted' }, 'No result yet.'),
    );
  };

  const cancellationSection = (c) =>
    h(
      'section',
      { class: ['card', 'cancellation'], dataset: { section: 'cancellation' } },
      h('h2', {}, 'Cancellation'),
      h(
        'dl',
        { class: 'fields' },
        field('Cancelled by', h('span', { class: 'mono', dataset: { field: 'by' } }, c.by)),
        field('When', timeBoth(c.at)),
        field('Reason', c.reason ? h('span', { dataset: { field: 'reason' } }, c.reason) : h('span', { class: 'muted' }, 'None given.')),
      ),
    );

  const errorsSection = (errors) =>
    h(
      'section',
      { class: 'card', dataset: { section: 'errors' } },
      h('h2', {}, 'Error history'),
      errors.length === 0
        ? h('p', { class: 'muted' }, 'No failed attempt.')
        : h(
            'ol',
            { class: 'error-history' },
            // Newest first: the one that matters most is on top.
            [...errors].reverse().map((e) =>
              h(
                'li',
                { dataset: { attempt: String(e.attempt) } },
                h(
                  'p',
                  { class: 'small' },
                  h('strong', {}, `Attempt ${e.attempt}`),
                  ' · ',
                  timeBoth(e.at),
                  ' · ',
                  h('span', { class: 'mono' }, e.worker_id),
                  e.timed_out ? [' · ', h('span', { class: 'badge timed-out-badge' }, 'timed out')] : null,
                ),
                e.failure === undefined ? h('p', { class: 'muted small' }, 'No failure data.') : jsonView(e.failure, `Attempt ${e.attempt} failure`),
              ),
            ),
          ),
    );

  /** Run at, as it matters: a countdown while the task waits; history once it finished; nothing if it never ran. */
  const runAtValue = (task, cancellation) => {
    if (!FINAL_STATES.includes(task.state)) return timeBoth(task.run_at);
    if (cancellation && !task.last_claimed) return h('span', { class: 'muted', dataset: { field: 'run-at' } }, '— (cancelled before it ran)');
    return timeEl(task.run_at, { absolute: true });
  };

  const show = (task, ctx, force = false) => {
    const cancellation = history.cancellation;
    const version = `${task.state}/${task.metadata?.version?.seq_num}/${task.metadata?.modified_at}/${history.errors.length}/${cancellation?.at ?? ''}`;
    if (!force && version === shownVersion) return;
    if (version !== shownVersion && !force) cancelOpen = cancelOpen && cancellable(task.state);
    shownVersion = version;
    const m = task.metadata ?? {};
    replaceChildren(
      headEl,
      h(
        'nav',
        { class: 'crumbs small', 'aria-label': 'Breadcrumb' },
        h('a', { href: '#/tasks' }, 'Tasks'),
        ' / ',
        h('a', { href: tasksHref({ queue: task.queue }) }, task.queue),
        ' / ',
        h('span', { class: 'mono' }, task.id),
      ),
      h(
        'div',
        { class: 'title-row' },
        h('h1', {}, h('span', { class: 'kind' }, task.kind)),
        stateBadge(task.state, { cancelled: cancellation !== undefined }),
        archived ? h('span', { class: 'badge archived-badge' }, 'archived') : null,
      ),
      actions(task, ctx),
    );
    replaceChildren(
      bodyEl,
      h(
        'section',
        { class: 'card', dataset: { section: 'fields' } },
        h('h2', {}, 'Task'),
        h(
          'dl',
          { class: 'fields' },
          field('Id', h('span', { class: 'mono' }, task.id)),
          field('Queue', h('a', { href: tasksHref({ queue: task.queue }) }, task.queue)),
          field('Kind', h('a', { href: tasksHref({ kind: task.kind }) }, task.kind)),
          field('State', stateBadge(task.state, { cancelled: cancellation !== undefined })),
          field('Attempts', `${task.attempted} of at most ${task.retry_times + 1} (retry_times ${task.retry_times})`),
          field('Priority', String(task.priority)),
          field('Processing timeout', task.processing_timeout),
          field('Run at', runAtValue(task, cancellation)),
          field('Last enqueued', timeBoth(task.last_enqueued_at)),
          task.recurring_task_id
            ? field(
                'Recurring task',
                h('a', { href: `#/recurring?id=${encodeURIComponent(task.recurring_task_id)}`, class: 'mono' }, task.recurring_task_id),
                ' · ',
                h('a', { href: tasksHref({ recurring_task_id: task.recurring_task_id }) }, 'its tasks'),
              )
            : null,
          field('Created', timeBoth(m.created_at)),
          field('Modified', timeBoth(m.modified_at)),
          field('Version', m.version ? `seq_num ${m.version.seq_num}, primary_term ${m.version.primary_term}` : '—'),
        ),
      ),
      cancellation ? cancellationSection(cancellation) : null,
      lastClaimSection(task.last_claimed, cancellation),
      errorsSection(history.errors),
      jsonSection('Args', task.args, 'args'),
      jsonSection('Context', task.context, 'context'),
    );
  };

  const notFound = () => {
    shownVersion = undefined;
    replaceChildren(
      headEl,
      h('nav', { class: 'crumbs small' }, h('a', { href: '#/tasks' }, 'Tasks')),
      h('h1', {}, 'Task not found'),
    );
    replaceChildren(bodyEl, h('p', { class: 'muted' }, `No task [${id}] in queue [${queue}], live or archived.`));
  };

  return {
    mount(el, r) {
      [queue = '', id = ''] = r.path;
      headEl = h('div', { class: 'task-head' });
      bodyEl = h('div', { class: 'task-body' });
      root = h('section', { class: 'task-view' }, headEl, bodyEl);
      el.appendChild(root);
    },
    async refresh(ctx) {
      const gen = ctx.generation;
      // The error history and the cancellation come from the operator route (v1 answers have neither);
      // asked at the same time as the task. A 404 there (the task is gone) leaves the page to the task.
      const historyLoad = api.taskErrors(queue, id).catch((err) => {
        if (err instanceof ApiError && err.status === 404) return { errors: [] };
        throw err;
      });
      let task;
      try {
        task = await api.task(queue, id);
        archived = false;
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
        try {
          task = await api.archivedTask(queue, id);
          archived = true;
        } catch (err2) {
          if (!(err2 instanceof ApiError && err2.status === 404)) throw err2;
          if (ctx.isCurrent(gen)) notFound();
          return;
        }
      }
      const loaded = await historyLoad;
      if (!ctx.isCurrent(gen)) return;
      history = loaded;
      show(task, ctx);
    },
  };
}
