/**
 * The task state machine (spec §2.3, §4, §6): every transition, its effects, and every error, including
 * the order of checks (state before owner).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ErrorKind, isTasquesError, TasquesError } from '../errors/index.js';
import type { Task, TaskState } from '../types/index.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import {
  boundedFailure,
  finishedAt,
  intoCancelled,
  intoClaimed,
  intoDone,
  intoFailed,
  intoReported,
  intoUnclaimed,
  isClaimable,
  remainingAttempts,
  TIMED_OUT_FAILURE,
} from './task-lifecycle.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const TIMEOUT_NS = 30 * 60 * 1e9; // 30m

function queued(overrides: Partial<Task> = {}): Task {
  return {
    queue: 'q',
    id: 'task-1',
    kind: 'k',
    state: 'queued',
    priority: 0,
    runAt: T0,
    retryTimes: 25,
    attempted: 0,
    processingTimeoutNs: TIMEOUT_NS,
    args: { a: 1 },
    context: { c: 2 },
    lastEnqueuedAt: T0,
    createdAt: T0,
    modifiedAt: T0,
    version: { seqNum: 3, primaryTerm: 1 },
    ...overrides,
  };
}

/** A task claimed by `worker` at T0 + 1 minute. */
function claimed(worker = 'w1', overrides: Partial<Task> = {}): Task {
  return intoClaimed(queued(overrides), { workerId: worker, now: T0 + MINUTE });
}

/** Deep-freezes a task, so that a transition that mutates its input throws. */
function frozen(task: Task): Task {
  const freeze = (o: unknown): void => {
    if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
      Object.freeze(o);
      for (const v of Object.values(o)) freeze(v);
    }
  };
  freeze(task);
  return task;
}

function assertFails(fn: () => unknown, kind: ErrorKind, status: number, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TasquesError, `expected a TasquesError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    assert.equal(e.status, status);
    assert.equal(e.message, message);
    return true;
  });
}

const NOT_CLAIMED = 'The Task is not currently Claimed so cannot be reported on: [task-1]';

describe('remainingAttempts', () => {
  it('is retry_times + 1 − attempted, never negative', () => {
    const table: Array<[retryTimes: number, attempted: number, remaining: number]> = [
      [0, 0, 1], // even with 0 retries there is one attempt
      [0, 1, 0],
      [25, 0, 26],
      [25, 1, 25],
      [25, 26, 0],
      [2, 5, 0], // clamped
      [3, 2, 2],
    ];
    for (const [retryTimes, attempted, remaining] of table) {
      assert.equal(remainingAttempts({ retryTimes, attempted }), remaining, `${retryTimes}/${attempted}`);
    }
  });
});

describe('isClaimable', () => {
  it('is true for queued or failed tasks that are due and have attempts left', () => {
    assert.equal(isClaimable(queued(), T0), true);
    assert.equal(isClaimable(queued({ state: 'failed' }), T0), true);
    assert.equal(isClaimable(queued({ runAt: T0 - 1 }), T0), true);
  });

  it('is false before run_at, without attempts left, or in any other state', () => {
    assert.equal(isClaimable(queued({ runAt: T0 + 1 }), T0), false);
    assert.equal(isClaimable(queued({ retryTimes: 0, attempted: 1 }), T0), false);
    for (const state of ['claimed', 'done', 'dead'] as TaskState[]) {
      assert.equal(isClaimable(queued({ state }), T0), false, state);
    }
  });
});

describe('intoClaimed (QUEUED/FAILED → CLAIMED)', () => {
  it('counts the attempt and sets a fresh last_claimed', () => {
    const now = T0 + MINUTE;
    const before = frozen(queued());
    const after = intoClaimed(before, { workerId: 'w1', now });
    assert.equal(after.state, 'claimed');
    assert.equal(after.attempted, 1);
    assert.deepEqual(after.lastClaimed, { workerId: 'w1', claimedAt: now, timesOutAt: now + 30 * MINUTE });
    assert.equal(after.modifiedAt, now);
    // Unchanged by a claim.
    assert.equal(after.runAt, before.runAt);
    assert.equal(after.lastEnqueuedAt, before.lastEnqueuedAt);
    assert.deepEqual(after.args, before.args);
    assert.deepEqual(after.version, before.version);
    assert.equal(before.state, 'queued', 'the input is not changed');
  });

  it('replaces the previous last_claimed entirely (report and result dropped)', () => {
    const failed = intoFailed(claimed('w1'), 'w1', T0 + 2 * MINUTE, { e: 1 }, DEFAULT_BACKOFF, () => 0);
    const reclaimed = intoClaimed(frozen(failed), { workerId: 'w2', now: T0 + 10 * MINUTE });
    assert.equal(reclaimed.attempted, 2);
    assert.deepEqual(reclaimed.lastClaimed, {
      workerId: 'w2',
      claimedAt: T0 + 10 * MINUTE,
      timesOutAt: T0 + 40 * MINUTE,
    });
  });

  it('uses the task’s own processing timeout', () => {
    const t = intoClaimed(queued({ processingTimeoutNs: 1.5e9 }), { workerId: 'w', now: T0 });
    assert.equal(t.lastClaimed?.timesOutAt, T0 + 1500);
  });
});

describe('intoReported (CLAIMED → CLAIMED)', () => {
  it('records the report and pushes times_out_at to now + processing_timeout', () => {
    const c = frozen(claimed('w1'));
    const now = T0 + 5 * MINUTE;
    const r = intoReported(c, 'w1', now, { progress: 50 });
    assert.equal(r.state, 'claimed');
    assert.equal(r.attempted, 1);
    assert.deepEqual(r.lastClaimed?.lastReport, { at: now, data: { progress: 50 } });
    assert.equal(r.lastClaimed?.timesOutAt, now + 30 * MINUTE);
    assert.equal(r.lastClaimed?.claimedAt, T0 + MINUTE);
    assert.equal(r.lastClaimed?.workerId, 'w1');
    assert.equal(r.modifiedAt, now);
    assert.equal(c.lastClaimed?.lastReport, undefined, 'the input is not changed');
  });

  it('accepts a report without data, and a report at the same instant as the previous one', () => {
    const now = T0 + 5 * MINUTE;
    const r1 = intoReported(claimed('w1'), 'w1', now, undefined);
    assert.deepEqual(r1.lastClaimed?.lastReport, { at: now, data: undefined });
    const r2 = intoReported(frozen(r1), 'w1', now, { again: true });
    assert.deepEqual(r2.lastClaimed?.lastReport, { at: now, data: { again: true } });
  });

  it('rejects a report older than the existing one (ReportFromThePast, 400)', () => {
    const later = intoReported(claimed('w1'), 'w1', T0 + 10 * MINUTE, undefined);
    assertFails(
      () => intoReported(later, 'w1', T0 + 9 * MINUTE, undefined),
      'TASK_REPORT_FROM_THE_PAST',
      400,
      'The Task [task-1] was already reported on at [2026-01-01T00:10:00.000Z], which overrides the current one reported at [2026-01-01T00:09:00.000Z]',
    );
  });
});

describe('intoDone (CLAIMED → DONE)', () => {
  it('records the success result and keeps the rest', () => {
    const reported = intoReported(claimed('w1'), 'w1', T0 + 2 * MINUTE, { r: 1 });
    const now = T0 + 3 * MINUTE;
    const d = intoDone(frozen(reported), 'w1', now, { ok: true });
    assert.equal(d.state, 'done');
    assert.equal(d.attempted, 1);
    assert.equal(d.lastClaimed?.result?.failure, undefined);
    assert.deepEqual(d.lastClaimed?.result, { at: now, success: { ok: true } });
    assert.deepEqual(d.lastClaimed?.lastReport, { at: T0 + 2 * MINUTE, data: { r: 1 } });
    assert.equal(d.runAt, reported.runAt);
    assert.equal(d.lastEnqueuedAt, reported.lastEnqueuedAt);
    assert.equal(d.modifiedAt, now);
  });

  it('omits the success data when none is given', () => {
    const d = intoDone(claimed('w1'), 'w1', T0 + 3 * MINUTE, undefined);
    assert.deepEqual(d.lastClaimed?.result, { at: T0 + 3 * MINUTE, success: undefined });
  });
});

describe('intoFailed (CLAIMED → FAILED | DEAD)', () => {
  it('with attempts left: FAILED, run_at pushed back by the backoff, re-enqueued now', () => {
    const now = T0 + 3 * MINUTE;
    const f = intoFailed(frozen(claimed('w1')), 'w1', now, { error: 'boom' }, DEFAULT_BACKOFF, () => 0.5);
    assert.equal(f.state, 'failed');
    assert.equal(f.attempted, 1, 'a failure does not count again: the claim did');
    assert.equal(f.runAt, now + (15 + 0 + 15) * SECOND); // r = 0, U = 15
    assert.equal(f.lastEnqueuedAt, now);
    assert.deepEqual(f.lastClaimed?.result, { at: now, failure: { error: 'boom' } });
    assert.equal(f.lastClaimed?.workerId, 'w1');
    assert.equal(f.modifiedAt, now);
    assert.equal(isClaimable(f, now), false, 'not claimable before its new run_at');
    assert.equal(isClaimable(f, f.runAt), true);
  });

  it('backs off according to the attempt number', () => {
    // Third claim (attempted = 3, r = 2): 15 + 16 + 0.
    let t = queued();
    for (let i = 0; i < 3; i++) {
      t = intoClaimed({ ...t, runAt: T0 }, { workerId: 'w', now: T0 });
      if (i < 2) t = intoFailed(t, 'w', T0, undefined, DEFAULT_BACKOFF, () => 0);
    }
    assert.equal(t.attempted, 3);
    const f = intoFailed(t, 'w', T0, undefined, DEFAULT_BACKOFF, () => 0);
    assert.equal(f.runAt - T0, (15 + 16) * SECOND);
  });

  it('without attempts left: DEAD, run_at and last_enqueued_at unchanged', () => {
    const c = claimed('w1', { retryTimes: 0 });
    const now = T0 + 3 * MINUTE;
    const d = intoFailed(frozen(c), 'w1', now, { error: 'last' }, DEFAULT_BACKOFF, () => 0);
    assert.equal(d.state, 'dead');
    assert.equal(d.runAt, c.runAt);
    assert.equal(d.lastEnqueuedAt, c.lastEnqueuedAt);
    assert.deepEqual(d.lastClaimed?.result, { at: now, failure: { error: 'last' } });
    assert.equal(d.modifiedAt, now);
    assert.equal(isClaimable(d, now + 365 * 24 * 60 * MINUTE), false);
  });

  it('with retry_times R: FAILED after claims 1..R, DEAD after claim R+1', () => {
    const R = 3;
    let t = queued({ retryTimes: R });
    const states: TaskState[] = [];
    for (let k = 1; k <= R + 1; k++) {
      t = intoClaimed({ ...t, runAt: T0 }, { workerId: 'w', now: T0 });
      assert.equal(t.attempted, k);
      t = intoFailed(t, 'w', T0, undefined, DEFAULT_BACKOFF, () => 0);
      states.push(t.state);
    }
    assert.deepEqual(states, ['failed', 'failed', 'failed', 'dead']);
  });

  it('records the reaper’s timeout failure like any other', () => {
    const f = intoFailed(claimed('w1'), 'w1', T0 + 31 * MINUTE, TIMED_OUT_FAILURE, DEFAULT_BACKOFF, () => 0);
    assert.deepEqual(f.lastClaimed?.result?.failure, { timed_out: 'Did not finish before claim timeout period' });
    assert.equal(f.state, 'failed');
  });
});

describe('intoUnclaimed (CLAIMED → QUEUED)', () => {
  it('gives the task back without counting the attempt, keeping last_claimed and run_at', () => {
    const c = frozen(claimed('w1'));
    const now = T0 + 4 * MINUTE;
    const u = intoUnclaimed(c, 'w1', now);
    assert.equal(u.state, 'queued');
    assert.equal(u.attempted, 0);
    assert.equal(u.lastEnqueuedAt, now);
    assert.equal(u.runAt, c.runAt);
    assert.deepEqual(u.lastClaimed, c.lastClaimed);
    assert.equal(u.modifiedAt, now);
    assert.equal(isClaimable(u, now), true, 'claimable again at once');
  });
});

describe('errors and the order of checks', () => {
  type Op = [name: string, apply: (t: Task, worker: string) => Task];
  const ops: Op[] = [
    ['report', (t, w) => intoReported(t, w, T0 + 5 * MINUTE, undefined)],
    ['done', (t, w) => intoDone(t, w, T0 + 5 * MINUTE, undefined)],
    ['failed', (t, w) => intoFailed(t, w, T0 + 5 * MINUTE, undefined, DEFAULT_BACKOFF, () => 0)],
    ['unclaim', (t, w) => intoUnclaimed(t, w, T0 + 5 * MINUTE)],
  ];

  const notClaimedStates: Array<[string, () => Task]> = [
    ['queued', () => queued()],
    ['failed', () => intoFailed(claimed('w1'), 'w1', T0 + 2 * MINUTE, undefined, DEFAULT_BACKOFF, () => 0)],
    ['done', () => intoDone(claimed('w1'), 'w1', T0 + 2 * MINUTE, undefined)],
    ['dead', () => intoFailed(claimed('w1', { retryTimes: 0 }), 'w1', T0 + 2 * MINUTE, undefined, DEFAULT_BACKOFF)],
    ['unclaimed (queued again)', () => intoUnclaimed(claimed('w1'), 'w1', T0 + 2 * MINUTE)],
  ];

  for (const [opName, apply] of ops) {
    for (const [stateName, make] of notClaimedStates) {
      it(`${opName} on a ${stateName} task → NotClaimed (400), for its last worker and for anyone else`, () => {
        const task = frozen(make());
        assertFails(() => apply(task, 'w1'), 'TASK_NOT_CLAIMED', 400, NOT_CLAIMED);
        // The state check runs before the owner check: another worker also gets 400, not 403.
        assertFails(() => apply(task, 'w2'), 'TASK_NOT_CLAIMED', 400, NOT_CLAIMED);
      });
    }

    it(`${opName} by another worker on a claimed task → NotOwnedByWorker (403) naming the requester`, () => {
      const task = frozen(claimed('w1'));
      assertFails(() => apply(task, 'w2'), 'TASK_NOT_OWNED_BY_WORKER', 403, 'The Task was not owned by the worker [w2]');
    });

    it(`${opName} after the task was re-claimed by someone else → 403 to the old worker`, () => {
      const failed = intoFailed(claimed('w1'), 'w1', T0 + 2 * MINUTE, undefined, DEFAULT_BACKOFF, () => 0);
      const reclaimed = frozen(intoClaimed(failed, { workerId: 'w2', now: failed.runAt }));
      assertFails(() => apply(reclaimed, 'w1'), 'TASK_NOT_OWNED_BY_WORKER', 403, 'The Task was not owned by the worker [w1]');
      assert.doesNotThrow(() => apply(reclaimed, 'w2'));
    });
  }

  it('checks the owner before the report time', () => {
    const later = intoReported(claimed('w1'), 'w1', T0 + 10 * MINUTE, undefined);
    assert.throws(
      () => intoReported(later, 'w2', T0 + 9 * MINUTE, undefined),
      (e: unknown) => isTasquesError(e, 'TASK_NOT_OWNED_BY_WORKER'),
    );
  });

  it('compares worker ids exactly', () => {
    const task = claimed('worker-1');
    assert.throws(() => intoDone(task, 'Worker-1', T0, undefined), (e: unknown) => isTasquesError(e, 'TASK_NOT_OWNED_BY_WORKER'));
    assert.throws(() => intoDone(task, 'worker-1 ', T0, undefined), (e: unknown) => isTasquesError(e, 'TASK_NOT_OWNED_BY_WORKER'));
  });
});

describe('cancel and error history', () => {
  it('a cancel ends a claim: DEAD with the record, the claim kept with a result saying so', () => {
    const claimed = intoClaimed(queued(), { workerId: 'w', now: T0 });
    const dead = intoCancelled(claimed, T0 + SECOND, { by: 'ops', reason: 'why' });
    assert.equal(dead.state, 'dead');
    assert.deepEqual(dead.cancellation, { at: T0 + SECOND, by: 'ops', reason: 'why' });
    assert.deepEqual(dead.lastClaimed?.result, { at: T0 + SECOND, failure: { cancelled: true, reason: 'why' } });
    assert.equal(finishedAt(dead), T0 + SECOND);
    assertFails(() => intoReported(dead, 'w', T0 + 2 * SECOND, undefined), 'TASK_CANCELLED', 400, NOT_CLAIMED);
    assertFails(
      () => intoCancelled(dead, T0 + 2 * SECOND, { by: 'ops' }),
      'TASK_NOT_WAITING',
      409,
      'Only a queued, claimed or failed Task can be cancelled: [task-1] is dead',
    );
  });

  it('a task never claimed gets no claim record; its finish time is the cancellation', () => {
    const dead = intoCancelled(queued({ runAt: T0 + 365 * 24 * 3600 * SECOND }), T0 + MINUTE, { by: 'operator' });
    assert.equal(dead.lastClaimed, undefined);
    assert.deepEqual(dead.cancellation, { at: T0 + MINUTE, by: 'operator' });
    assert.equal(finishedAt(dead), T0 + MINUTE);
  });

  it('a failure too large for the history becomes a marker that fits, however much its JSON escapes', () => {
    for (const value of ['x'.repeat(5000), '"'.repeat(5000), '\\'.repeat(5000), 'é'.repeat(5000), '\u0001'.repeat(3000)]) {
      const failure = { value };
      const kept = boundedFailure(failure, 512) as { truncated: boolean; bytes: number; preview: string };
      assert.equal(kept.truncated, true);
      assert.equal(kept.bytes, Buffer.byteLength(JSON.stringify(failure)));
      assert.ok(Buffer.byteLength(JSON.stringify(kept)) <= 512, `${Buffer.byteLength(JSON.stringify(kept))} bytes`);
      assert.ok(JSON.stringify(failure).startsWith(kept.preview));
      assert.ok(kept.preview.length > 50, 'the preview keeps a useful start');
    }
    const small = { error: 'fits' };
    assert.equal(boundedFailure(small, 512), small);
  });
});
