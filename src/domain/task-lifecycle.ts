/**
 * The task state machine (see docs/design/task-lifecycle.md). Pure functions: each takes a task and the
 * facts of the operation and returns the next task, or throws the v1 error for an illegal move.
 * The state check runs before the owner check, as in v1: a task that timed out answers 400 to its old
 * worker, a task re-claimed by someone else answers 403.
 *
 *   (create) ──► QUEUED ──claim──► CLAIMED ──done──► DONE
 *                  ▲  ▲              │  ▲ report-in
 *        unclaim ──┘  │              │  └──┘
 *                     │   fail/timeout, attempts left ──► FAILED ──claim──► CLAIMED
 *                     │   fail/timeout, none left ──────► DEAD
 *   cancel (operator): QUEUED, CLAIMED or FAILED ──► DEAD with a `cancellation` record
 */
import { errors } from '../errors/index.js';
import type { JsonObject, Task, TaskCancellation, TaskFailureRecord } from '../types/index.js';
import { type BackoffPolicy, backoffMs } from './backoff.js';
import { nsToMs } from './duration.js';

export interface ClaimFacts {
  workerId: string;
  now: number;
}

/** Attempts left: `retryTimes + 1 − attempted`, never negative. */
export function remainingAttempts(task: Pick<Task, 'retryTimes' | 'attempted'>): number {
  return Math.max(0, task.retryTimes + 1 - task.attempted);
}

export function isClaimable(task: Task, now: number): boolean {
  return (task.state === 'queued' || task.state === 'failed') && task.runAt <= now && remainingAttempts(task) > 0;
}

export function intoClaimed(task: Task, { workerId, now }: ClaimFacts): Task {
  return {
    ...task,
    state: 'claimed',
    attempted: task.attempted + 1,
    lastClaimed: { workerId, claimedAt: now, timesOutAt: now + nsToMs(task.processingTimeoutNs) },
    modifiedAt: now,
  };
}

function assertClaimedBy(task: Task, workerId: string): asserts task is Task & { lastClaimed: NonNullable<Task['lastClaimed']> } {
  if (task.state !== 'claimed' || task.lastClaimed === undefined) {
    // v1's "not claimed" either way; the code tells a worker whose task was cancelled why.
    throw task.cancellation !== undefined ? errors.taskCancelled(task.id) : errors.taskNotClaimed(task.id);
  }
  if (task.lastClaimed.workerId !== workerId) throw errors.taskNotOwnedByWorker(workerId);
}

export function intoReported(task: Task, workerId: string, now: number, data: JsonObject | undefined): Task {
  assertClaimedBy(task, workerId);
  const previous = task.lastClaimed.lastReport;
  if (previous !== undefined && previous.at > now) {
    throw errors.taskReportFromThePast(task.id, new Date(previous.at).toISOString(), new Date(now).toISOString());
  }
  return {
    ...task,
    lastClaimed: {
      ...task.lastClaimed,
      lastReport: { at: now, data },
      timesOutAt: now + nsToMs(task.processingTimeoutNs),
    },
    modifiedAt: now,
  };
}

export function intoDone(task: Task, workerId: string, now: number, data: JsonObject | undefined): Task {
  assertClaimedBy(task, workerId);
  return {
    ...task,
    state: 'done',
    lastClaimed: { ...task.lastClaimed, result: { at: now, success: data } },
    modifiedAt: now,
  };
}

/**
 * How much of a task's failure history is kept (`tasks.error_history`): the last `keep` failed attempts
 * (0: none), each failure cut to a marker when its JSON is larger than `maxEntryBytes`.
 */
export interface ErrorHistoryPolicy {
  keep: number;
  maxEntryBytes: number;
}

export const DEFAULT_ERROR_HISTORY: ErrorHistoryPolicy = { keep: 10, maxEntryBytes: 8192 };

/** How an attempt failed, besides its data: the reaper's timeout has no answer from the worker. */
export interface FailureFacts {
  errorHistory?: ErrorHistoryPolicy | undefined;
  timedOut?: boolean | undefined;
}

/**
 * A failure as kept in the history: itself when its JSON fits `maxBytes` (UTF-8), else a marker with
 * its size and the start of its JSON text, so a huge failure cannot make every later write of the task
 * carry it `keep` times.
 */
export function boundedFailure(failure: JsonObject | undefined, maxBytes: number): JsonObject | undefined {
  if (failure === undefined) return undefined;
  const text = JSON.stringify(failure);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return failure;
  // The marker itself must fit: its preview is escaped again inside it (quotes, backslashes), so the
  // preview is shortened until the marker's JSON is within the budget.
  const marker = (preview: string): JsonObject => ({ truncated: true, bytes, preview });
  let preview = text.slice(0, maxBytes);
  while (preview.length > 0 && Buffer.byteLength(JSON.stringify(marker(preview)), 'utf8') > maxBytes) {
    preview = preview.slice(0, Math.floor(preview.length * 0.9));
  }
  return marker(preview);
}

/** The history with one more failed attempt, the oldest dropped beyond `keep`; undefined when disabled. */
function withFailure(task: Task, record: TaskFailureRecord, policy: ErrorHistoryPolicy): TaskFailureRecord[] | undefined {
  if (policy.keep <= 0) return task.errorHistory;
  const entry: TaskFailureRecord = { ...record, failure: boundedFailure(record.failure, policy.maxEntryBytes) };
  const previous = task.errorHistory ?? [];
  return [...previous.slice(Math.max(0, previous.length + 1 - policy.keep)), entry];
}

/**
 * A failure from the worker or from the claim-timeout reaper: FAILED with backoff, or DEAD when no
 * attempts are left. The attempt is added to the task's error history.
 */
export function intoFailed(
  task: Task,
  workerId: string,
  now: number,
  data: JsonObject | undefined,
  backoff: BackoffPolicy,
  random?: () => number,
  facts: FailureFacts = {},
): Task {
  assertClaimedBy(task, workerId);
  const lastClaimed = { ...task.lastClaimed, result: { at: now, failure: data } };
  const record: TaskFailureRecord = { at: now, attempt: task.attempted, workerId, failure: data };
  if (facts.timedOut === true) record.timedOut = true;
  const errorHistory = withFailure(task, record, facts.errorHistory ?? DEFAULT_ERROR_HISTORY);
  if (remainingAttempts(task) > 0) {
    return {
      ...task,
      state: 'failed',
      runAt: now + backoffMs(task.attempted, backoff, random),
      lastEnqueuedAt: now,
      lastClaimed,
      errorHistory,
      modifiedAt: now,
    };
  }
  return { ...task, state: 'dead', lastClaimed, errorHistory, modifiedAt: now };
}

/** Gives the task back without consequence: the attempt is not counted, `lastClaimed` is kept (v1). */
export function intoUnclaimed(task: Task, workerId: string, now: number): Task {
  assertClaimedBy(task, workerId);
  return {
    ...task,
    state: 'queued',
    attempted: Math.max(0, task.attempted - 1),
    lastEnqueuedAt: now,
    modifiedAt: now,
  };
}

/** The failure data v1 records when the reaper times out a claim (spec §5). */
export const TIMED_OUT_FAILURE: JsonObject = { timed_out: 'Did not finish before claim timeout period' };

/**
 * An operator's retry of a DEAD task: QUEUED at once with a fresh set of attempts. `lastClaimed` is kept
 * so the failure that killed it stays visible until the next claim replaces it; a cancellation is
 * cleared (the task lives again), the error history is kept.
 */
export function intoRetried(task: Task, now: number): Task {
  if (task.state !== 'dead') throw errors.taskNotDead(task.id, task.state);
  return { ...task, state: 'queued', attempted: 0, runAt: now, lastEnqueuedAt: now, cancellation: undefined, modifiedAt: now };
}

/** The failure data v1 clients see in `last_claimed.result` of a task cancelled while it was claimed. */
export function cancelledFailure(reason: string | undefined): JsonObject {
  return reason === undefined ? { cancelled: true } : { cancelled: true, reason };
}

/**
 * An operator's cancel: a QUEUED, CLAIMED or FAILED task becomes DEAD at once, with a `cancellation`
 * record (who, when, why). A claimed task's claim ends here (its worker learns at its next report-in,
 * done or failed: TASK_CANCELLED). A task that was ever claimed gets `last_claimed.result` =
 * `{"cancelled": true, "reason"}` at the cancel, so v1 readers see why it ended (an earlier failure it
 * replaces is in the error history). A task never claimed gets no claim record: its finish time is the
 * cancellation's (`finishedAt`).
 */
export function intoCancelled(task: Task, now: number, cancellation: Omit<TaskCancellation, 'at'>): Task {
  if (task.state !== 'queued' && task.state !== 'failed' && task.state !== 'claimed') {
    throw errors.taskNotWaiting(task.id, task.state);
  }
  const record: TaskCancellation = { at: now, by: cancellation.by };
  if (cancellation.reason !== undefined) record.reason = cancellation.reason;
  const lastClaimed = task.lastClaimed && { ...task.lastClaimed, result: { at: now, failure: cancelledFailure(cancellation.reason) } };
  return { ...task, state: 'dead', lastClaimed, cancellation: record, modifiedAt: now };
}

/**
 * When a DONE or DEAD task finished: its result's time, or, for a task cancelled before it was ever
 * claimed, its cancellation's. Archiving and the recent counts go by it; stores index it.
 */
export function finishedAt(task: Pick<Task, 'lastClaimed' | 'cancellation'>): number | undefined {
  return task.lastClaimed?.result?.at ?? task.cancellation?.at;
}
