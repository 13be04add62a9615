/**
 * Cancellation and error history (issue 15 item 6, issue 16 items 6–7; docs/design/task-lifecycle.md):
 * what a store must keep of them. A cancelled task is DEAD with its `cancellation` record, through every
 * read, the archive and a retry; a claimed task's worker is refused with TASK_CANCELLED afterwards. Each
 * failed attempt (worker failure or claim timeout) adds to `errorHistory`, which claims keep and the
 * archive copies. A task cancelled before any claim counts as finished at its cancellation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { intoFailed, TIMED_OUT_FAILURE } from '../domain/task-lifecycle.js';
import type { Task } from '../types/index.js';
import {
  HOUR,
  MINUTE,
  OTHER_WORKER,
  SECOND,
  T0,
  WORKER,
  assertNewerVersion,
  assertSameRecord,
  claimNow,
  createAndClaim,
  expectError,
  withHarness,
} from './helpers.js';
import type { ConformanceOptions } from './index.js';

export function cancelHistoryTests(options: ConformanceOptions): void {
  describe(`${options.name}: cancellation and error history`, () => {
    it(
      'cancels a claimed task: DEAD at once with who/when/why, stored as answered, its claim ended',
      withHarness(options, async ({ engine, store, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', id: 'c1' });
        clock.advance(5 * SECOND);
        const cancelled = await engine.cancelTask('q', 'c1', 'alice', 'customer left');
        assert.equal(cancelled.state, 'dead');
        assert.deepEqual(cancelled.cancellation, { at: clock.now(), by: 'alice', reason: 'customer left' });
        // The real claim stays (no made-up one), ended at the cancel, with what v1 readers see.
        assert.equal(cancelled.lastClaimed?.workerId, WORKER);
        assert.equal(cancelled.lastClaimed?.claimedAt, claimed.lastClaimed?.claimedAt);
        assertSameRecord(cancelled.lastClaimed?.result, { at: clock.now(), failure: { cancelled: true, reason: 'customer left' } });
        assertNewerVersion(cancelled.version, claimed.version);
        assertSameRecord(await store.taskGet({ queue: 'q', id: 'c1' }), cancelled);
        assert.deepEqual(await claimNow(engine, ['q'], 10), [], 'a cancelled task is never claimed again');
      }),
    );

    it(
      "refuses the cancelled claim's worker with TASK_CANCELLED (400) on report-in, done, failed and unclaim",
      withHarness(options, async ({ engine, store }) => {
        await createAndClaim(engine, { queue: 'q', id: 'c1' });
        const cancelled = await engine.cancelTask('q', 'c1', 'operator', undefined);
        await expectError(engine.reportIn('q', 'c1', WORKER, { progress: 1 }), 'TASK_CANCELLED', 400);
        await expectError(engine.markDone('q', 'c1', WORKER, { ok: true }), 'TASK_CANCELLED', 400);
        await expectError(engine.markFailed('q', 'c1', WORKER, { e: 1 }), 'TASK_CANCELLED', 400);
        await expectError(engine.unclaim('q', 'c1', WORKER), 'TASK_CANCELLED', 400);
        // State before owner, as for every refusal: another worker is told the same.
        await expectError(engine.reportIn('q', 'c1', OTHER_WORKER, undefined), 'TASK_CANCELLED', 400);
        const [many] = await engine.markDoneMany([{ queue: 'q', id: 'c1' }], WORKER);
        assert.equal(many?.error?.kind, 'TASK_CANCELLED');
        assertSameRecord(await store.taskGet({ queue: 'q', id: 'c1' }), cancelled, 'nothing was recorded after the cancel');
      }),
    );

    it(
      'a cancel through another store instance reaches a worker whose engine holds the claim',
      withHarness(options, async (h) => {
        const peer = await h.peer();
        if (peer === undefined) return; // the driver offers no second instance on the same data
        await createAndClaim(h.engine, { queue: 'q', id: 'c1' });
        await h.engine.reportIn('q', 'c1', WORKER, undefined); // the worker's engine now caches its own write
        await h.engineOn(peer).cancelTask('q', 'c1', 'bob', 'stop');
        await expectError(h.engine.reportIn('q', 'c1', WORKER, undefined), 'TASK_CANCELLED', 400);
        await expectError(h.engine.markDone('q', 'c1', WORKER, undefined), 'TASK_CANCELLED', 400);
        const stored = await h.store.taskGet({ queue: 'q', id: 'c1' });
        assert.equal(stored?.state, 'dead');
        assert.equal(stored?.cancellation?.by, 'bob');
      }),
    );

    it(
      'a cancel racing the worker\'s done or failed: exactly one wins, the loser is refused, the task shows the winner',
      withHarness(options, async (h) => {
        const peer = (await h.peer()) ?? h.store;
        const operator = h.engineOn(peer);
        for (let i = 0; i < 6; i++) {
          const id = `race-${i}`;
          await createAndClaim(h.engine, { queue: 'race', id, retryTimes: 0 });
          const finish = i % 2 === 0 ? h.engine.markDone('race', id, WORKER, { i }) : h.engine.markFailed('race', id, WORKER, { i });
          const [worker, cancel] = await Promise.allSettled([finish, operator.cancelTask('race', id, 'operator', 'race')]);
          const stored = await h.store.taskGet({ queue: 'race', id });
          if (worker.status === 'fulfilled') {
            assert.equal(cancel.status, 'rejected', `${id}: both won`);
            await expectError(Promise.reject((cancel as PromiseRejectedResult).reason), 'TASK_NOT_WAITING', 409);
            assert.equal(stored?.cancellation, undefined);
            assert.equal(stored?.state, i % 2 === 0 ? 'done' : 'dead');
          } else {
            assert.equal(cancel.status, 'fulfilled', `${id}: neither won`);
            await expectError(Promise.reject(worker.reason), 'TASK_CANCELLED', 400);
            assert.equal(stored?.state, 'dead');
            assert.equal(stored?.cancellation?.reason, 'race');
            assert.equal(stored?.errorHistory, undefined, 'the refused failure is not in the history');
          }
        }
      }),
    );

    it(
      'cancels a task never claimed without a claim record; it is finished at its cancellation (archive, recent counts)',
      withHarness(options, async ({ engine, store, clock }) => {
        await engine.createTask({ queue: 'w', kind: 'k', id: 'later', runAt: T0 + 365 * 24 * HOUR });
        clock.advance(MINUTE);
        const cancelled = await engine.cancelTask('w', 'later', 'operator', undefined);
        const cancelledAt = clock.now();
        assert.equal(cancelled.state, 'dead');
        assert.equal(cancelled.lastClaimed, undefined, 'no made-up claim');
        assertSameRecord(cancelled.cancellation, { at: cancelledAt, by: 'operator' });
        assertSameRecord(await store.taskGet({ queue: 'w', id: 'later' }), cancelled);

        const [stats] = await store.queueStatsList({ now: cancelledAt, recentWindowMs: MINUTE, queues: ['w'] });
        assert.equal(stats?.counts.dead, 1);
        assert.equal(stats?.recent.dead, 1, 'counted as finished within the window');

        assert.deepEqual(await store.taskArchive({ finishedBefore: cancelledAt - 1, limit: 10, now: cancelledAt }), { archived: 0 });
        clock.advance(HOUR);
        assert.deepEqual(await store.taskArchive({ finishedBefore: cancelledAt, limit: 10, now: clock.now() }), { archived: 1 });
        assert.equal(await store.taskGet({ queue: 'w', id: 'later' }), undefined);
        const archived = await store.archivedTaskGet({ queue: 'w', id: 'later' });
        assertSameRecord(archived?.cancellation, { at: cancelledAt, by: 'operator' });
        assert.equal(archived?.lastClaimed, undefined);
      }),
    );

    it(
      'a retry clears the cancellation and keeps the error history; done and dead tasks answer TASK_NOT_WAITING (409)',
      withHarness(options, async ({ engine, store }) => {
        await createAndClaim(engine, { queue: 'q', id: 'r1', retryTimes: 3 });
        await engine.markFailed('q', 'r1', WORKER, { e: 'first' });
        const cancelled = await engine.cancelTask('q', 'r1', 'carol', 'wrong input');
        assert.equal(cancelled.errorHistory?.length, 1);
        assertSameRecord(cancelled.lastClaimed?.result?.failure, { cancelled: true, reason: 'wrong input' });
        await expectError(engine.cancelTask('q', 'r1', 'carol', undefined), 'TASK_NOT_WAITING', 409);

        const retried = await engine.retryTask('q', 'r1');
        assert.equal(retried.state, 'queued');
        assert.equal(retried.cancellation, undefined);
        const stored = await store.taskGet({ queue: 'q', id: 'r1' });
        assert.equal(stored?.cancellation, undefined, 'the cleared cancellation is not stored');
        assertSameRecord(stored?.errorHistory, cancelled.errorHistory);

        const [again] = await claimNow(engine, ['q'], 1);
        assert.equal(again?.id, 'r1');
        const done = await engine.markDone('q', 'r1', WORKER, undefined);
        await expectError(engine.cancelTask('q', 'r1', 'carol', undefined), 'TASK_NOT_WAITING', 409);
        assertSameRecord(await store.taskGet({ queue: 'q', id: 'r1' }), done);
      }),
    );

    it(
      'keeps one record per failed attempt (time, attempt, worker, failure), through claims and into the archive',
      withHarness(options, async ({ engine, store, clock }) => {
        await createAndClaim(engine, { queue: 'h', id: 'h1', retryTimes: 2 }, WORKER);
        const firstAt = clock.now();
        await engine.markFailed('h', 'h1', WORKER, { error: 'one' });
        clock.advance(HOUR);
        const [second] = await claimNow(engine, ['h'], 1, OTHER_WORKER);
        assert.equal(second?.errorHistory?.length, 1, 'a claim keeps the history');
        await engine.markFailed('h', 'h1', OTHER_WORKER, { error: 'two' });
        clock.advance(HOUR);
        await claimNow(engine, ['h'], 1, WORKER);
        const dead = await engine.markFailed('h', 'h1', WORKER, undefined);
        assert.equal(dead.state, 'dead');
        assertSameRecord(dead.errorHistory, [
          { at: firstAt, attempt: 1, workerId: WORKER, failure: { error: 'one' } },
          { at: firstAt + HOUR, attempt: 2, workerId: OTHER_WORKER, failure: { error: 'two' } },
          { at: firstAt + 2 * HOUR, attempt: 3, workerId: WORKER },
        ]);
        assertSameRecord(await store.taskGet({ queue: 'h', id: 'h1' }), dead);

        clock.advance(HOUR);
        await store.taskArchive({ finishedBefore: clock.now(), limit: 10, now: clock.now() });
        assertSameRecord((await store.archivedTaskGet({ queue: 'h', id: 'h1' }))?.errorHistory, dead.errorHistory);
      }),
    );

    it(
      'records claim timeouts (the reaper\'s failure) as timed out, with the worker that held the claim',
      withHarness(options, async ({ engine, store, clock, settings }) => {
        const claimed = await createAndClaim(engine, { queue: 't', id: 't1', processingTimeoutNs: MINUTE * 1_000_000 });
        clock.advance(2 * MINUTE);
        const [timedOut] = await store.taskListTimedOut({ now: clock.now(), limit: 10 });
        assert.equal(timedOut?.id, 't1');
        const failed = intoFailed(timedOut!, WORKER, clock.now(), TIMED_OUT_FAILURE, settings.backoff, () => 0.5, {
          errorHistory: settings.errorHistory,
          timedOut: true,
        });
        const written = await store.taskUpdate({ task: failed, expectedVersion: claimed.version });
        assertSameRecord(written.errorHistory, [
          { at: clock.now(), attempt: 1, workerId: WORKER, failure: TIMED_OUT_FAILURE, timedOut: true },
        ]);
        assertSameRecord((await store.taskGet({ queue: 't', id: 't1' }))?.errorHistory, written.errorHistory);
      }),
    );

    it(
      'keeps only the last N failures, and a too large failure as a marker (settings.errorHistory)',
      withHarness(
        options,
        async ({ engine, store, clock }) => {
          await engine.createTask({ queue: 'n', kind: 'k', id: 'n1', retryTimes: 5 });
          let last: Task | undefined;
          for (let attempt = 1; attempt <= 4; attempt++) {
            clock.advance(24 * HOUR); // past any backoff
            const [claimed] = await claimNow(engine, ['n'], 1);
            assert.equal(claimed?.id, 'n1');
            const failure = attempt === 4 ? { big: 'x'.repeat(2000) } : { attempt };
            last = await engine.markFailed('n', 'n1', WORKER, failure);
          }
          const history = last?.errorHistory ?? [];
          assert.deepEqual(
            history.map((r) => r.attempt),
            [3, 4],
            'the oldest are dropped',
          );
          const marker = history[1]?.failure as { truncated?: unknown; bytes?: unknown; preview?: unknown };
          assert.equal(marker.truncated, true);
          assert.equal(marker.bytes, JSON.stringify({ big: 'x'.repeat(2000) }).length);
          assert.ok(typeof marker.preview === 'string' && marker.preview.startsWith('{"big":"xxx'));
          assert.ok(Buffer.byteLength(JSON.stringify(marker)) <= 1024, 'the marker fits the entry budget');
          assert.deepEqual(last?.lastClaimed?.result?.failure, { big: 'x'.repeat(2000) }, 'the last result stays whole');
          assertSameRecord((await store.taskGet({ queue: 'n', id: 'n1' }))?.errorHistory, history);
        },
        { settings: { errorHistory: { keep: 2, maxEntryBytes: 1024 } } },
      ),
    );

    it(
      'keeps no history with keep = 0',
      withHarness(
        options,
        async ({ engine, store }) => {
          await createAndClaim(engine, { queue: 'z', id: 'z1', retryTimes: 3 });
          const failed = await engine.markFailed('z', 'z1', WORKER, { e: 1 });
          assert.equal(failed.errorHistory, undefined);
          assert.equal((await store.taskGet({ queue: 'z', id: 'z1' }))?.errorHistory, undefined);
        },
        { settings: { errorHistory: { keep: 0, maxEntryBytes: 1024 } } },
      ),
    );
  });
}
