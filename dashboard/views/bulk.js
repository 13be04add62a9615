// @ts-check
// Bulk actions (issue 16): retry every dead task, cancel every waiting one, delete every finished one, of
// the current filter (the task list) or of a queue (the queue overview). Each asks first: a dry run gives
// the count to confirm; then the operation runs on the server in steps and this panel shows its progress
// (GET /operations/{id}) until it ends.
import { api } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { fmtCount } from '../format.js';

const ACTIONS = [
  { kind: 'retry_dead', label: 'Retry dead…', verb: 'Retry', noun: 'dead', cls: 'secondary', done: 'retried' },
  { kind: 'cancel_waiting', label: 'Cancel waiting…', verb: 'Cancel', noun: 'waiting (queued or failed)', cls: 'danger-outline', done: 'cancelled' },
  { kind: 'delete_finished', label: 'Delete finished…', verb: 'Delete', noun: 'finished (done or dead)', cls: 'danger-outline', done: 'deleted' },
];
const POLL_MS = 1000;

/** The task-list filters an operation takes (paging and UI-only keys left out). */
const FILTER_KEYS = ['queue', 'state', 'kind', 'recurring_task_id', 'created_after', 'created_before', 'prefix'];
function operationFilter(filters) {
  const out = {};
  for (const k of FILTER_KEYS) if (filters?.[k]) out[k] = filters[k];
  return out;
}

function describeFilter(filter) {
  const parts = Object.entries(filter).map(([k, v]) => `${k.replace(/_/g, ' ')} ${v}`);
  return parts.length === 0 ? 'in every queue' : `with ${parts.join(', ')}`;
}

/**
 * Mounts the bulk-action panel into `el`. `options.filter()` gives the current filters (the task list's);
 * `options.queues()`, when given, offers a queue picker instead (the queue overview). `ctx` is the shell's.
 */
export function mountBulkActions(el, ctx, options) {
  const statusEl = h('div', { class: 'bulk-status', 'aria-live': 'polite' });
  let queueSel;
  let busy = false;

  const currentFilter = () => {
    if (options.queues) return queueSel?.value ? { queue: queueSel.value } : null;
    return operationFilter(options.filter());
  };

  const follow = async (operation, action) => {
    let op = operation;
    const show = () =>
      replaceChildren(
        statusEl,
        h(
          'p',
          { class: ['small', op.state === 'failed' ? 'error-text' : null], dataset: { operation: op.id, state: op.state } },
          `${action.verb}: ${fmtCount(op.processed)} of ${fmtCount(op.total)} looked at, ${fmtCount(op.changed)} ${action.done}` +
            (op.skipped > 0 ? `, ${fmtCount(op.skipped)} skipped (changed meanwhile)` : '') +
            (op.state === 'running' ? '…' : op.state === 'done' ? '. Done.' : `. Failed: ${op.error ?? 'unknown error'}`),
        ),
      );
    show();
    // Until it ends, or the panel leaves the page (another view).
    while (op.state === 'running' && statusEl.isConnected) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      try {
        op = await api.operation(op.id);
      } catch (err) {
        ctx.reportError(err);
        return;
      }
      show();
    }
    if (op.state !== 'running') void ctx.refresh();
  };

  const ask = async (action) => {
    const filter = currentFilter();
    if (filter === null) {
      replaceChildren(statusEl, h('p', { class: 'small muted' }, 'Pick a queue first.'));
      return;
    }
    busy = true;
    try {
      const { count } = await api.startOperation({ kind: action.kind, filter, dry_run: true });
      if (count === 0) {
        replaceChildren(statusEl, h('p', { class: 'small muted', dataset: { count: 0 } }, `No ${action.noun} task ${describeFilter(filter)}.`));
        return;
      }
      const confirm = h(
        'button',
        {
          type: 'button',
          class: ['button', 'small', action.kind === 'retry_dead' ? 'primary' : 'danger'],
          dataset: { action: 'confirm-bulk' },
          on: {
            click: async () => {
              confirm.disabled = true;
              try {
                const op = await api.startOperation({ kind: action.kind, filter });
                await follow(op, action);
              } catch (err) {
                ctx.reportError(err, { sticky: true });
                replaceChildren(statusEl);
              }
            },
          },
        },
        `${action.verb} ${fmtCount(count)}`,
      );
      replaceChildren(
        statusEl,
        h(
          'p',
          { class: 'bulk-confirm small', dataset: { count } },
          `${action.verb} ${fmtCount(count)} ${action.noun} task${count === 1 ? '' : 's'} ${describeFilter(filter)}? `,
          confirm,
          ' ',
          h('button', { type: 'button', class: 'button link small', dataset: { action: 'keep-bulk' }, on: { click: () => replaceChildren(statusEl) } }, 'Keep them'),
        ),
      );
    } catch (err) {
      ctx.reportError(err, { sticky: true });
    } finally {
      busy = false;
    }
  };

  const buttons = ACTIONS.map((action) =>
    h(
      'button',
      {
        type: 'button',
        class: ['button', action.cls, 'small'],
        dataset: { bulk: action.kind },
        on: { click: () => (busy ? undefined : ask(action)) },
      },
      action.label,
    ),
  );

  if (options.queues) {
    queueSel = h('select', { 'aria-label': 'Queue for bulk actions', class: 'bulk-queue' }, h('option', { value: '' }, 'queue…'));
  }
  el.appendChild(
    h(
      'div',
      { class: 'bulk-actions' },
      h('span', { class: 'small muted' }, options.queues ? 'Bulk actions on ' : 'Bulk actions on these tasks: '),
      queueSel ?? null,
      buttons,
      statusEl,
    ),
  );

  return {
    /** Refreshes the queue picker (the overview calls it with each load), keeping the selection. */
    setQueues(names) {
      if (!queueSel) return;
      const chosen = queueSel.value;
      replaceChildren(queueSel, h('option', { value: '' }, 'queue…'), names.map((q) => h('option', { value: q, selected: q === chosen }, q)));
    },
  };
}
