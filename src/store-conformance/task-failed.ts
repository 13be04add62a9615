/**
 * Mark failed (spec §2.3, §4, §6, §14.2 MarkFailed) with the design's backoff (design §3):
 * wait = 15 + r^4 + floor(random·30)·(r+1) seconds, r = attempts so far − 1, capped by the configured max.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  HOUR,
  OTHER_WORKER,
  SECOND,
  T0,
  WORKER,
  assertNewerVersion,
  assertSameRecord,
  claimNow,
  createAndClaim,
  expectError,
  expectedBackoffMs,
  plain,
  withHarness,
} from './helpers.js';
import type { ConformanceOptions } from './index.js';

export function failedTests(options: ConformanceOptions): void {
  describe(`${options.name}: task mark failed`, () => {
    it(
      'answers TASK_NOT_FOUND (404) for an unknown task',
      withHarness(options, async ({ engine }) => {
        await expectError(engine.markFailed('nowhere', 'nothing', WORKER, { e: 1 }), 'TASK_NOT_FOUND', 404);
        await engine.createTask({ queue: 'q', kind: 'k', id: 'exists' });
        await expectError(engine.markFailed('q', 'missing', WORKER, undefined), 'TASK_NOT_FOUND', 404);
      }),
    );

    it(
      'answers TASK_NOT_CLAIMED (400) for a queued task, after done, and to a second failure',
      withHarness(options, async ({ engine, store }) => {
        const queued = await engine.createTask({ queue: 'q', kind: 'k', id: 'queued' });
        await expectError(engine.markFailed('q', queued.id, WORKER, undefined), 'TASK_NOT_CLAIMED', 400);
        assertSameRecord(await store.taskGet({ queue: 'q', id: queued.id }), queued);

        const done = await createAndClaim(engine, { queue: 'd' });
        await engine.markDone('d', done.id, WORKER, undefined);
        await expectError(engine.markFailed('d', done.id, WORKER, { e: 1 }), 'TASK_NOT_CLAIMED', 400);
        assert.equal((await store.taskGet({ queue: 'd', id: done.id }))?.state, 'done');

        const failed = await createAndClaim(engine, { queue: 'f', retryTimes: 3 });
        const first = await engine.markFailed('f', failed.id, WORKER, { e: 1 });
        await expectError(engine.markFailed('f', failed.id, WORKER, { e: 2 }), 'TASK_NOT_CLAIMED', 400);
        assertSameRecord(await store.taskGet({ queue: 'f', id: failed.id }), first);
      }),
    );

    it(
      'answers TASK_NOT_OWNED_BY_WORKER (403) to another worker, and leaves the task unchanged',
      withHarness(options, async ({ engine, store }) => {
        const claimed = await createAndClaim(engine, { queue: 'q' });
        await expectError(engine.markFailed('q', claimed.id, OTHER_WORKER, { e: 1 }), 'TASK_NOT_OWNED_BY_WORKER', 403);
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), claimed);
      }),
    );

    it(
      'with retries left: FAILED, run_at = now + backoff, last_enqueued_at = now, result {at, failure}',
      withHarness(options, async ({ engine, store, clock, settings }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', retryTimes: 10 });
        clock.advance(5 * SECOND);
        const now = clock.now();
        const failed = await engine.markFailed('q', claimed.id, WORKER, { error: 'boom', code: 7 });
        assert.equal(failed.state, 'failed');
        assert.equal(failed.attempted, 1, 'a failure does not count an extra attempt');
        // r = 0, random 0.5: 15 + 0 + floor(15)·1 = 30 s.
        assert.equal(failed.runAt, now + 30 * SECOND);
        assert.equal(failed.runAt, now + expectedBackoffMs(1, settings, 0.5));
        assert.equal(failed.lastEnqueuedAt, now);
        assert.equal(failed.modifiedAt, now);
        assert.deepEqual(plain(failed.lastClaimed), {
          workerId: WORKER,
          claimedAt: T0,
          timesOutAt: claimed.lastClaimed!.timesOutAt,
          result: { at: now, failure: { error: 'boom', code: 7 } },
        });
        assert.equal(failed.lastClaimed?.result?.success, undefined);
        assertNewerVersion(failed.version, claimed.version);
        const stored = await store.taskGet({ queue: 'q', id: claimed.id });
        assertSameRecord(stored, failed);
        assert.equal(stored?.lastClaimed?.result?.success, undefined);
      }),
    );

    for (const [label, random, firstWaitS] of [
      ['smallest jitter (random 0)', 0, 15],
      ['largest jitter (random → 1)', 0.999_999, 44],
    ] as const) {
      it(
        `run_at stays within [now + base, now + max] of the formula: ${label}`,
        withHarness(
          options,
          async ({ engine, clock, settings }) => {
            const claimed = await createAndClaim(engine, { queue: 'q', retryTimes: 10 });
            // Attempt 1 (r = 0): 15 + 0 + j·1, j in [0, 29].
            const t1 = clock.now();
            const first = await engine.markFailed('q', claimed.id, WORKER, undefined);
            assert.equal(first.runAt - t1, firstWaitS * SECOND);
            assert.ok(first.runAt - t1 >= 15 * SECOND && first.runAt - t1 <= (15 + 29) * SECOND);
            // Attempts 2 and 3 (r = 1, 2): bounds [15 + r^4, 15 + r^4 + 29·(r+1)].
            for (const attempted of [2, 3]) {
              clock.set(first.runAt + attempted * HOUR);
              const [again] = await claimNow(engine, ['q'], 1);
              assert.equal(again?.attempted, attempted);
              const now = clock.now();
              const failed = await engine.markFailed('q', claimed.id, WORKER, undefined);
              const r = attempted - 1;
              const wait = failed.runAt - now;
              assert.ok(wait >= (15 + r ** 4) * SECOND, `wait ${wait} below the base for r=${r}`);
              assert.ok(wait <= (15 + r ** 4 + 29 * (r + 1)) * SECOND, `wait ${wait} above the max for r=${r}`);
              assert.equal(wait, expectedBackoffMs(attempted, settings, random));
            }
          },
          { random: () => random },
        ),
      );
    }

    it(
      'backs off exponentially with the attempt number (fixed random 0.5: 30 s, 46 s, 76 s, 156 s)',
      withHarness(options, async ({ engine, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', retryTimes: 10 });
        const waits: number[] = [];
        for (let attempt = 1; attempt <= 4; attempt++) {
          if (attempt > 1) {
            clock.advance(HOUR);
            const [again] = await claimNow(engine, ['q'], 1);
            assert.equal(again?.attempted, attempt);
          }
          const now = clock.now();
          const failed = await engine.markFailed('q', claimed.id, WORKER, undefined);
          waits.push((failed.runAt - now) / SECOND);
        }
        // 15 + r^4 + 15·(r+1): r=0 → 30, r=1 → 46, r=2 → 76, r=3 → 156.
        assert.deepEqual(waits, [30, 46, 76, 156]);
      }),
    );

    it(
      'caps the wait at the configured maximum',
      withHarness(
        options,
        async ({ engine, clock }) => {
          const claimed = await createAndClaim(engine, { queue: 'q', retryTimes: 10 });
          const now = clock.now();
          const failed = await engine.markFailed('q', claimed.id, WORKER, undefined);
          assert.equal(failed.runAt, now + 20 * SECOND);
        },
        { settings: { backoff: { baseSeconds: 15, jitterSeconds: 30, maxSeconds: 20 } } },
      ),
    );

    it(
      'goes DEAD when the attempts are used up, with run_at and last_enqueued_at unchanged',
      withHarness(options, async ({ engine, store, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', retryTimes: 1 });
        clock.advance(SECOND);
        const failed = await engine.markFailed('q', claimed.id, WORKER, { n: 1 });
        assert.equal(failed.state, 'failed');
        clock.set(failed.runAt);
        const [again] = await claimNow(engine, ['q'], 1, OTHER_WORKER);
        assert.equal(again?.attempted, 2);
        clock.advance(7 * SECOND);
        const dead = await engine.markFailed('q', claimed.id, OTHER_WORKER, { n: 2 });
        assert.equal(dead.state, 'dead');
        assert.equal(dead.attempted, 2);
        assert.equal(dead.runAt, failed.runAt, 'run_at is not moved on the way to DEAD');
        assert.equal(dead.lastEnqueuedAt, failed.lastEnqueuedAt);
        assert.equal(dead.modifiedAt, clock.now());
        assert.deepEqual(plain(dead.lastClaimed), {
          workerId: OTHER_WORKER,
          claimedAt: failed.runAt,
          timesOutAt: again!.lastClaimed!.timesOutAt,
          result: { at: clock.now(), failure: { n: 2 } },
        });
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), dead);
        clock.advance(365 * 24 * HOUR);
        assert.deepEqual(await claimNow(engine, ['q'], 1), []);
        await expectError(engine.markFailed('q', claimed.id, OTHER_WORKER, undefined), 'TASK_NOT_CLAIMED', 400);
      }),
    );

    it(
      'with retry_times 0 the first failure is DEAD, run_at unchanged, failure without data omitted',
      withHarness(options, async ({ engine, store, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', retryTimes: 0, runAt: T0 - 5 * SECOND });
        clock.advance(SECOND);
        const dead = await engine.markFailed('q', claimed.id, WORKER, undefined);
        assert.equal(dead.state, 'dead');
        assert.equal(dead.attempted, 1);
        assert.equal(dead.runAt, T0 - 5 * SECOND);
        assert.equal(dead.lastEnqueuedAt, T0);
        assert.deepEqual(plain(dead.lastClaimed?.result), { at: T0 + SECOND });
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), dead);
      }),
    );

    it(
      'a failed task is claimed again with a fresh last_claimed; the old worker then gets 403',
      withHarness(options, async ({ engine, store, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', retryTimes: 2 });
        const failed = await engine.markFailed('q', claimed.id, WORKER, { e: 1 });
        clock.set(failed.runAt);
        const [again] = await claimNow(engine, ['q'], 1, OTHER_WORKER);
        assert.ok(again);
        assert.equal(again.lastClaimed?.result, undefined, 'the new claim carries no result');
        await expectError(engine.markFailed('q', claimed.id, WORKER, undefined), 'TASK_NOT_OWNED_BY_WORKER', 403);
        await expectError(engine.markDone('q', claimed.id, WORKER, undefined), 'TASK_NOT_OWNED_BY_WORKER', 403);
        await expectError(engine.unclaim('q', claimed.id, WORKER), 'TASK_NOT_OWNED_BY_WORKER', 403);
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), again);
      }),
    );
  });
}
