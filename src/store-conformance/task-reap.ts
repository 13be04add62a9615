/**
 * The claim-timeout reaper's store side (spec §5, §14.2 "Timeout reaper"): `taskListTimedOut` lists
 * CLAIMED tasks whose deadline passed, across queues, earliest first; the reaper's write is the
 * lifecycle transition (`intoFailed` with v1's timed-out failure) through the ordinary compare-and-set
 * `taskUpdate`, which must lose against a worker that finished concurrently.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_BACKOFF } from '../domain/backoff.js';
import { intoFailed, TIMED_OUT_FAILURE } from '../domain/task-lifecycle.js';
import type { Task } from '../types/index.js';
import {
  FIXED_RANDOM,
  MINUTE,
  NS_PER_MS,
  SECOND,
  T0,
  WORKER,
  assertNewerVersion,
  assertSameRecord,
  claimNow,
  createAndClaim,
  expectError,
  ids,
  seedTasks,
  withHarness,
} from './helpers.js';
import type { ConformanceOptions } from './index.js';

const TIMEOUT = 15 * MINUTE;

/** What the reaper writes for a timed-out task. */
function reaped(task: Task, now: number): Task {
  return intoFailed(task, task.lastClaimed!.workerId, now, TIMED_OUT_FAILURE, DEFAULT_BACKOFF, () => FIXED_RANDOM);
}

export function taskReapTests(options: ConformanceOptions): void {
  describe(`${options.name}: claim timeouts (reaper query)`, () => {
    it(
      'lists nothing on an empty store, and nothing that is not claimed however old',
      withHarness(options, async ({ store, engine, clock }) => {
        assert.deepEqual(await store.taskListTimedOut({ now: T0 + 100 * TIMEOUT, limit: 10 }), []);
        await seedTasks(engine, 3, { queue: 'waiting' });
        const done = await createAndClaim(engine, { queue: 'finished' });
        await engine.markDone(done.queue, done.id, WORKER, undefined);
        const failed = await createAndClaim(engine, { queue: 'failing' });
        await engine.markFailed(failed.queue, failed.id, WORKER, undefined);
        const unclaimed = await createAndClaim(engine, { queue: 'given-back' });
        await engine.unclaim(unclaimed.queue, unclaimed.id, WORKER);
        clock.advance(100 * TIMEOUT);
        assert.deepEqual(await store.taskListTimedOut({ now: clock.now(), limit: 10 }), []);
      }),
    );

    it(
      'claimed tasks not yet expired stay out; once times_out_at has passed they are listed, across queues',
      withHarness(options, async ({ store, engine, clock }) => {
        await seedTasks(engine, 10, { queue: 'reap-a' });
        await seedTasks(engine, 10, { queue: 'reap-b' });
        const claimed = [...(await claimNow(engine, ['reap-a'], 10)), ...(await claimNow(engine, ['reap-b'], 10))];
        assert.equal(claimed.length, 20);
        const deadline = T0 + TIMEOUT;
        for (const t of claimed) assert.equal(t.lastClaimed!.timesOutAt, deadline);
        assert.deepEqual(await store.taskListTimedOut({ now: deadline - 1, limit: 100 }), []);
        const listed = await store.taskListTimedOut({ now: deadline, limit: 100 });
        assert.deepEqual(ids(listed), ids(claimed), 'times_out_at itself counts as timed out');
        for (const t of listed) assertSameRecord(t, claimed.find((c) => c.id === t.id && c.queue === t.queue));
        // v1's test: with the clock 5× the timeout ahead, all of them.
        clock.advance(5 * TIMEOUT);
        assert.equal((await store.taskListTimedOut({ now: clock.now(), limit: 100 })).length, 20);
      }),
    );

    it(
      'lists the earliest deadlines first and at most `limit`',
      withHarness(options, async ({ store, engine, clock }) => {
        const claimed: Task[] = [];
        for (let i = 0; i < 5; i++) {
          // Claimed one minute apart, so their deadlines are one minute apart; queues interleave.
          claimed.push(await createAndClaim(engine, { queue: i % 2 === 0 ? 'even' : 'odd', id: `t${i}` }));
          clock.advance(MINUTE);
        }
        const now = T0 + 4 * MINUTE + TIMEOUT;
        const firstThree = await store.taskListTimedOut({ now, limit: 3 });
        assert.deepEqual(
          firstThree.map((t) => t.id),
          ['t0', 't1', 't2'],
        );
        assert.deepEqual((await store.taskListTimedOut({ now, limit: 10 })).map((t) => t.id), ['t0', 't1', 't2', 't3', 't4']);
        assert.deepEqual((await store.taskListTimedOut({ now: now - MINUTE, limit: 10 })).map((t) => t.id), [
          't0',
          't1',
          't2',
          't3',
        ]);
      }),
    );

    it(
      'a report-in keeps a task alive: its new deadline counts, not the one set at claim time',
      withHarness(options, async ({ store, engine, clock }) => {
        const task = await createAndClaim(engine, { queue: 'reporting' });
        clock.advance(TIMEOUT - SECOND);
        await engine.reportIn(task.queue, task.id, WORKER, { progress: 1 });
        clock.advance(2 * SECOND); // past the claim-time deadline
        assert.deepEqual(await store.taskListTimedOut({ now: clock.now(), limit: 10 }), []);
        clock.advance(TIMEOUT);
        assert.deepEqual(ids(await store.taskListTimedOut({ now: clock.now(), limit: 10 })), [task.id]);
      }),
    );

    it(
      'the reaper\'s write: FAILED with backoff and v1\'s timed_out failure while attempts are left, then off the list',
      withHarness(options, async ({ store, engine, clock }) => {
        const task = await createAndClaim(engine, { queue: 'to-reap', retryTimes: 10 });
        clock.advance(TIMEOUT);
        const [listed] = await store.taskListTimedOut({ now: clock.now(), limit: 10 });
        assert.ok(listed);
        const written = await store.taskUpdate({ task: reaped(listed, clock.now()), expectedVersion: listed.version });
        assertNewerVersion(written.version, listed.version);
        const stored = await store.taskGet({ queue: task.queue, id: task.id });
        assertSameRecord(stored, written);
        assert.equal(stored!.state, 'failed');
        assert.equal(stored!.attempted, 1, 'the timed-out attempt counts');
        assertSameRecord(stored!.lastClaimed!.result, { at: clock.now(), failure: TIMED_OUT_FAILURE });
        assert.ok(stored!.runAt > clock.now(), 'backoff pushes run_at into the future');
        assert.equal(stored!.lastEnqueuedAt, clock.now());
        assert.deepEqual(await store.taskListTimedOut({ now: clock.now() + 100 * TIMEOUT, limit: 10 }), []);
      }),
    );

    it(
      'the reaper\'s write on the last attempt: DEAD, run_at unchanged',
      withHarness(options, async ({ store, engine, clock }) => {
        const task = await createAndClaim(engine, { queue: 'to-reap', retryTimes: 0, processingTimeoutNs: SECOND * NS_PER_MS });
        clock.advance(SECOND);
        const [listed] = await store.taskListTimedOut({ now: clock.now(), limit: 10 });
        assert.ok(listed);
        await store.taskUpdate({ task: reaped(listed, clock.now()), expectedVersion: listed.version });
        const stored = await store.taskGet({ queue: task.queue, id: task.id });
        assert.equal(stored!.state, 'dead');
        assert.equal(stored!.runAt, task.runAt);
        assert.deepEqual(stored!.lastClaimed!.result!.failure, TIMED_OUT_FAILURE);
      }),
    );

    it(
      'a worker that finishes after the listing wins: the reaper\'s compare-and-set fails and the task stays done',
      withHarness(options, async ({ store, engine, clock }) => {
        const task = await createAndClaim(engine, { queue: 'race' });
        clock.advance(TIMEOUT);
        const [listed] = await store.taskListTimedOut({ now: clock.now(), limit: 10 });
        assert.ok(listed);
        const done = await engine.markDone(task.queue, task.id, WORKER, { ok: true });
        await expectError(
          store.taskUpdate({ task: reaped(listed, clock.now()), expectedVersion: listed.version }),
          'TASK_VERSION_CONFLICT',
          409,
        );
        assertSameRecord(await store.taskGet({ queue: task.queue, id: task.id }), done);
      }),
    );
  });
}
