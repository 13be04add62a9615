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
 */
import { errors } from '../errors/index.js';
import type { JsonObject, Task } from '../types/index.js';
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
  if (task.state !== 'claimed' || task.lastClaimed === undefined) throw errors.taskNotClaimed(task.id);
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

/** A failure from the worker or from the claim-timeout reaper: FAILED with backoff, or DEAD when no attempts are left. */
export function intoFailed(
  task: Task,
  workerId: string,
  now: number,
  data: JsonObject | undefined,
  backoff: BackoffPolicy,
  random?: () => number,
): Task {
  assertClaimedBy(task, workerId);
  const lastClaimed = { ...task.lastClaimed, result: { at: now, failure: data } };
  if (remainingAttempts(task) > 0) {
    return {
      ...task,
      state: 'failed',
      runAt: now + backoffMs(task.attempted, backoff, random),
      lastEnqueuedAt: now,
      lastClaimed,
      modifiedAt: now,
    };
  }
  return { ...task, state: 'dead', lastClaimed, modifiedAt: now };
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

/** The worker id recorded on the claim record of a task cancelled before any worker claimed it. */
export const OPERATOR_WORKER_ID = 'tasques-operator';

/**
 * An operator's retry of a DEAD task: QUEUED at once with a fresh set of attempts. `lastClaimed` is kept
 * so the failure that killed it stays visible until the next claim replaces it.
 */
export function intoRetried(task: Task, now: number): Task {
  if (task.state !== 'dead') throw errors.taskNotDead(task.id, task.state);
  return { ...task, state: 'queued', attempted: 0, runAt: now, lastEnqueuedAt: now, modifiedAt: now };
}

/**
 * An operator's cancel of a waiting (QUEUED or FAILED) task: DEAD, with a final result saying so. A claimed
 * task cannot be cancelled: its worker would never learn of it and would finish it anyway.
 */
export function intoCancelled(task: Task, now: number, reason: string | undefined): Task {
  if (task.state !== 'queued' && task.state !== 'failed') throw errors.taskNotWaiting(task.id, task.state);
  const failure: JsonObject = reason === undefined ? { cancelled: true } : { cancelled: true, reason };
  const claim = task.lastClaimed ?? { workerId: OPERATOR_WORKER_ID, claimedAt: now, timesOutAt: now };
  return { ...task, state: 'dead', lastClaimed: { ...claim, result: { at: now, failure } }, modifiedAt: now };
}
