/**
 * Report-in (spec §2.3, §5 "On report-in", §6, §14.2 ReportIn): the owner's heartbeat on a claimed task.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MINUTE,
  NS_PER_MS,
  OTHER_WORKER,
  SECOND,
  T0,
  WORKER,
  assertNewerVersion,
  assertSameRecord,
  claimNow,
  createAndClaim,
  expectError,
  plain,
  withHarness,
} from './helpers.js';
import type { ConformanceOptions } from './index.js';

export function reportTests(options: ConformanceOptions): void {
  describe(`${options.name}: task report-in`, () => {
    it(
      'answers TASK_NOT_FOUND (404) for an unknown task',
      withHarness(options, async ({ engine }) => {
        await expectError(engine.reportIn('nowhere', 'nothing', WORKER, { a: 1 }), 'TASK_NOT_FOUND', 404);
        await engine.createTask({ queue: 'q', kind: 'k', id: 'exists' });
        await expectError(engine.reportIn('q', 'missing', WORKER, undefined), 'TASK_NOT_FOUND', 404);
        await expectError(engine.reportIn('other', 'exists', WORKER, undefined), 'TASK_NOT_FOUND', 404);
      }),
    );

    it(
      'answers TASK_NOT_CLAIMED (400) for a queued task, and leaves it unchanged',
      withHarness(options, async ({ engine, store }) => {
        const task = await engine.createTask({ queue: 'q', kind: 'k' });
        const err = await expectError(engine.reportIn('q', task.id, WORKER, { a: 1 }), 'TASK_NOT_CLAIMED', 400);
        assert.equal(err.message, `The Task is not currently Claimed so cannot be reported on: [${task.id}]`);
        assertSameRecord(await store.taskGet({ queue: 'q', id: task.id }), task);
      }),
    );

    it(
      'answers TASK_NOT_OWNED_BY_WORKER (403) to another worker, and leaves the task unchanged',
      withHarness(options, async ({ engine, store }) => {
        const claimed = await createAndClaim(engine, { queue: 'q' });
        const err = await expectError(
          engine.reportIn('q', claimed.id, OTHER_WORKER, { a: 1 }),
          'TASK_NOT_OWNED_BY_WORKER',
          403,
        );
        assert.equal(err.message, `The Task was not owned by the worker [${OTHER_WORKER}]`);
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), claimed);
      }),
    );

    it(
      'checks the state before the owner: a done task answers 400 to anyone, a re-claimed one 403 to its old worker',
      withHarness(options, async ({ engine, clock }) => {
        const done = await createAndClaim(engine, { queue: 'q', id: 'done' });
        await engine.markDone('q', done.id, WORKER, undefined);
        await expectError(engine.reportIn('q', done.id, WORKER, undefined), 'TASK_NOT_CLAIMED', 400);
        await expectError(engine.reportIn('q', done.id, OTHER_WORKER, undefined), 'TASK_NOT_CLAIMED', 400);

        const retried = await createAndClaim(engine, { queue: 'r', id: 'retried', retryTimes: 5 });
        await engine.markFailed('r', retried.id, WORKER, undefined);
        await expectError(engine.reportIn('r', retried.id, WORKER, undefined), 'TASK_NOT_CLAIMED', 400);
        clock.advance(MINUTE);
        const [reclaimed] = await claimNow(engine, ['r'], 1, OTHER_WORKER);
        assert.equal(reclaimed?.id, retried.id);
        await expectError(engine.reportIn('r', retried.id, WORKER, undefined), 'TASK_NOT_OWNED_BY_WORKER', 403);
      }),
    );

    it(
      'stores last_report {at: now, data}, moves times_out_at to now + timeout, and changes nothing else',
      withHarness(options, async ({ engine, store, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', processingTimeoutNs: 15 * MINUTE * NS_PER_MS });
        assert.equal(claimed.lastClaimed?.timesOutAt, T0 + 15 * MINUTE);
        clock.advance(10 * MINUTE);
        const reported = await engine.reportIn('q', claimed.id, WORKER, { progress: 42, note: 'half way' });
        assert.equal(reported.state, 'claimed');
        assert.deepEqual(plain(reported.lastClaimed), {
          workerId: WORKER,
          claimedAt: T0,
          timesOutAt: T0 + 25 * MINUTE,
          lastReport: { at: T0 + 10 * MINUTE, data: { progress: 42, note: 'half way' } },
        });
        assert.equal(reported.modifiedAt, T0 + 10 * MINUTE);
        assertNewerVersion(reported.version, claimed.version);
        const {
          lastClaimed: _l1,
          modifiedAt: _m1,
          version: _v1,
          ...restBefore
        } = claimed;
        const { lastClaimed: _l2, modifiedAt: _m2, version: _v2, ...restAfter } = reported;
        assertSameRecord(restAfter, restBefore, 'report-in changed more than last_claimed and modified_at');
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), reported);
      }),
    );

    it(
      'keeps extending times_out_at, replaces the previous report, and accepts an equal timestamp',
      withHarness(options, async ({ engine, store, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', processingTimeoutNs: 1_500_000_000 });
        assert.equal(claimed.lastClaimed?.timesOutAt, T0 + 1500);
        clock.advance(SECOND);
        const first = await engine.reportIn('q', claimed.id, WORKER, { step: 1 });
        assert.equal(first.lastClaimed?.timesOutAt, T0 + 2500);
        const same = await engine.reportIn('q', claimed.id, WORKER, { step: 2 });
        assert.deepEqual(plain(same.lastClaimed?.lastReport), { at: T0 + SECOND, data: { step: 2 } });
        clock.advance(MINUTE); // past the old deadline: without a reaper the claim still holds
        const late = await engine.reportIn('q', claimed.id, WORKER, undefined);
        assert.equal(late.lastClaimed?.timesOutAt, T0 + SECOND + MINUTE + 1500);
        assert.deepEqual(plain(late.lastClaimed?.lastReport), { at: T0 + SECOND + MINUTE });
        assert.equal(late.lastClaimed?.lastReport?.data, undefined, 'a report without data has no data');
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), late);
      }),
    );

    it(
      'keeps empty report data as an empty object',
      withHarness(options, async ({ engine, store }) => {
        const claimed = await createAndClaim(engine, { queue: 'q' });
        await engine.reportIn('q', claimed.id, WORKER, {});
        const stored = await store.taskGet({ queue: 'q', id: claimed.id });
        assert.deepEqual(stored?.lastClaimed?.lastReport?.data, {});
      }),
    );

    it(
      'rejects a report dated before the last one with TASK_REPORT_FROM_THE_PAST (400), leaving the task unchanged',
      withHarness(options, async ({ engine, store, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q' });
        clock.advance(10 * SECOND);
        const reported = await engine.reportIn('q', claimed.id, WORKER, { step: 1 });
        clock.set(T0 + 10 * SECOND - 1);
        await expectError(engine.reportIn('q', claimed.id, WORKER, { step: 0 }), 'TASK_REPORT_FROM_THE_PAST', 400);
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), reported);
        // With the clock back in order it is accepted again.
        clock.set(T0 + 10 * SECOND);
        const ok = await engine.reportIn('q', claimed.id, WORKER, { step: 2 });
        assert.deepEqual(ok.lastClaimed?.lastReport?.data, { step: 2 });
      }),
    );

    it(
      'a new claim starts without the previous claim\'s report',
      withHarness(options, async ({ engine, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', retryTimes: 2 });
        await engine.reportIn('q', claimed.id, WORKER, { step: 1 });
        await engine.unclaim('q', claimed.id, WORKER);
        clock.advance(SECOND);
        const [again] = await claimNow(engine, ['q'], 1, OTHER_WORKER);
        assert.ok(again);
        assert.equal(again.lastClaimed?.lastReport, undefined);
        assert.equal(again.lastClaimed?.workerId, OTHER_WORKER);
        assert.equal(again.lastClaimed?.claimedAt, T0 + SECOND);
      }),
    );

    it(
      'concurrent report-ins by the owner all succeed (the engine retries version conflicts)',
      withHarness(options, async ({ engine, store }) => {
        const claimed = await createAndClaim(engine, { queue: 'q' });
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => engine.reportIn('q', claimed.id, WORKER, { n: i })),
        );
        assert.equal(results.length, 8);
        const versions = new Set(results.map((r) => `${r.version.primaryTerm}:${r.version.seqNum}`));
        assert.equal(versions.size, 8, 'two writes succeeded on the same version');
        const stored = await store.taskGet({ queue: 'q', id: claimed.id });
        assert.ok(stored);
        assert.equal(stored.state, 'claimed');
        const n = stored.lastClaimed?.lastReport?.data?.n;
        assert.ok(typeof n === 'number' && n >= 0 && n < 8, `last report data ${JSON.stringify(n)}`);
        // The stored record is the one returned by the last successful write.
        const last = results.find((r) => r.lastClaimed?.lastReport?.data?.n === n);
        assert.ok(last);
        assertSameRecord(stored, last);
      }),
    );
  });
}
