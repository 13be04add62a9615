/**
 * Unclaim (spec §2.3, §6, §14.2 UnClaim): the owner gives a task back "without consequence".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
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

export function unclaimTests(options: ConformanceOptions): void {
  describe(`${options.name}: task unclaim`, () => {
    it(
      'answers TASK_NOT_FOUND (404) for an unknown task',
      withHarness(options, async ({ engine }) => {
        await expectError(engine.unclaim('nowhere', 'nothing', WORKER), 'TASK_NOT_FOUND', 404);
        await engine.createTask({ queue: 'q', kind: 'k', id: 'exists' });
        await expectError(engine.unclaim('q', 'missing', WORKER), 'TASK_NOT_FOUND', 404);
      }),
    );

    it(
      'answers TASK_NOT_CLAIMED (400) for a queued task, after done, and to a second unclaim',
      withHarness(options, async ({ engine, store }) => {
        const queued = await engine.createTask({ queue: 'q', kind: 'k' });
        await expectError(engine.unclaim('q', queued.id, WORKER), 'TASK_NOT_CLAIMED', 400);
        assertSameRecord(await store.taskGet({ queue: 'q', id: queued.id }), queued);

        const done = await createAndClaim(engine, { queue: 'd' });
        const doneTask = await engine.markDone('d', done.id, WORKER, undefined);
        await expectError(engine.unclaim('d', done.id, WORKER), 'TASK_NOT_CLAIMED', 400);
        assertSameRecord(await store.taskGet({ queue: 'd', id: done.id }), doneTask);

        const twice = await createAndClaim(engine, { queue: 't' });
        const unclaimed = await engine.unclaim('t', twice.id, WORKER);
        await expectError(engine.unclaim('t', twice.id, WORKER), 'TASK_NOT_CLAIMED', 400);
        assertSameRecord(await store.taskGet({ queue: 't', id: twice.id }), unclaimed);
      }),
    );

    it(
      'answers TASK_NOT_OWNED_BY_WORKER (403) to another worker, and leaves the task unchanged',
      withHarness(options, async ({ engine, store }) => {
        const claimed = await createAndClaim(engine, { queue: 'q' });
        await expectError(engine.unclaim('q', claimed.id, OTHER_WORKER), 'TASK_NOT_OWNED_BY_WORKER', 403);
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), claimed);
      }),
    );

    it(
      'puts the task back: queued, attempted − 1, last_enqueued_at = now, run_at and last_claimed kept',
      withHarness(options, async ({ engine, store, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', runAt: T0 - 30 * SECOND });
        clock.advance(2 * SECOND);
        const reported = await engine.reportIn('q', claimed.id, WORKER, { step: 1 });
        clock.advance(3 * SECOND);
        const unclaimed = await engine.unclaim('q', claimed.id, WORKER);
        assert.equal(unclaimed.state, 'queued');
        assert.equal(unclaimed.attempted, 0);
        assert.equal(unclaimed.runAt, T0 - 30 * SECOND);
        assert.equal(unclaimed.lastEnqueuedAt, T0 + 5 * SECOND);
        assert.equal(unclaimed.modifiedAt, T0 + 5 * SECOND);
        assert.ok(unclaimed.lastClaimed, 'last_claimed is kept');
        assertSameRecord(unclaimed.lastClaimed, reported.lastClaimed);
        assertNewerVersion(unclaimed.version, reported.version);
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), unclaimed);
      }),
    );

    it(
      'is claimable again at once, by anyone, and the new claim counts as attempt 1 again',
      withHarness(options, async ({ engine, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q' });
        await engine.unclaim('q', claimed.id, WORKER);
        clock.advance(1);
        const [again] = await claimNow(engine, ['q'], 1, OTHER_WORKER);
        assert.ok(again);
        assert.equal(again.id, claimed.id);
        assert.equal(again.attempted, 1);
        assert.equal(again.lastClaimed?.workerId, OTHER_WORKER);
        assert.equal(again.lastClaimed?.claimedAt, T0 + 1);
      }),
    );

    it(
      'after a failure and a re-claim, unclaim takes attempted from 2 back to 1',
      withHarness(options, async ({ engine, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', retryTimes: 3 });
        const failed = await engine.markFailed('q', claimed.id, WORKER, undefined);
        clock.set(failed.runAt);
        const [again] = await claimNow(engine, ['q'], 1);
        assert.equal(again?.attempted, 2);
        const unclaimed = await engine.unclaim('q', claimed.id, WORKER);
        assert.equal(unclaimed.attempted, 1);
        assert.equal(unclaimed.state, 'queued');
        assert.equal(unclaimed.runAt, failed.runAt);
      }),
    );

    it(
      'costs no attempt: with retry_times 0, claims and unclaims any number of times, then one failure is DEAD',
      withHarness(options, async ({ engine }) => {
        const task = await engine.createTask({ queue: 'q', kind: 'k', retryTimes: 0 });
        for (let i = 0; i < 3; i++) {
          const [claimed] = await claimNow(engine, ['q'], 1);
          assert.equal(claimed?.id, task.id, `round ${i + 1}: not claimable`);
          assert.equal(claimed?.attempted, 1);
          await engine.unclaim('q', task.id, WORKER);
        }
        const [last] = await claimNow(engine, ['q'], 1);
        assert.equal(last?.id, task.id);
        assert.equal((await engine.markFailed('q', task.id, WORKER, undefined)).state, 'dead');
      }),
    );
  });
}
