/**
 * What a claim is guaranteed to see (store contract, `taskClaim`; the Elasticsearch driver's reasoning in
 * docs/design/elasticsearch-claims.md):
 *
 * - read-your-writes on one store instance: a task written through it is claimable at once, in claim
 *   order, whatever the claims before it saw;
 * - a claim that returns fewer than `amount` has seen every write completed before it was called,
 *   through any instance;
 * - a claim never hands out a task on the strength of an outdated view: whatever a search still shows,
 *   a task claimed meanwhile (here or through a peer) is not handed out again;
 * - an engine that wrote a task last still checks the stored task before the worker's next write.
 *
 * A driver with one connection (SQLite) meets all of this trivially; the Elasticsearch driver, whose
 * searches see only what the last refresh made visible, meets it with its own-writes record and the
 * refresh of a short claim.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OTHER_WORKER, SECOND, SEED_DEFAULTS, WORKER, claimNow, createAndClaim, expectError, ids, seedTasks, withHarness } from './helpers.js';
import type { ConformanceOptions } from './index.js';

export function claimVisibilityTests(options: ConformanceOptions): void {
  describe(`${options.name}: what a claim sees`, () => {
    it(
      'a task written through this instance is claimable at once and in claim order, right after a claim that searched',
      withHarness(options, async ({ engine, store, clock }) => {
        await seedTasks(engine, 2, { queue: 'q', priority: 1 });
        // These claims search (and may refresh): what is written next is newer than anything they saw.
        assert.equal((await claimNow(engine, ['q'], 1)).length, 1);
        await engine.createTask({ queue: 'q', id: 'high', kind: 'k', priority: 9, runAt: clock.now() - SECOND });
        await engine.createTask({ queue: 'q', id: 'higher-older', kind: 'k', priority: 9, runAt: clock.now() - 2 * SECOND });
        const [first] = await store.taskClaim({ queues: ['q'], amount: 1, workerId: WORKER, now: clock.now() });
        assert.equal(first?.id, 'higher-older');
        // Failed and its backoff over: waiting again, behind 'high' (same priority, later run_at), ahead of the rest.
        await engine.markFailed('q', 'higher-older', WORKER, undefined);
        clock.advance(HOUR_AND_A_BIT);
        const next = await claimNow(engine, ['q'], 2);
        assert.deepEqual(
          next.map((t) => t.id),
          ['high', 'higher-older'],
        );
      }),
    );

    it(
      'a task that comes due after a claim is handed out by the next claim, in claim order',
      withHarness(options, async ({ engine, clock }) => {
        await engine.createTask({ queue: 'q', id: 'now', kind: 'k', runAt: clock.now() });
        await engine.createTask({ queue: 'q', id: 'soon', kind: 'k', priority: 5, runAt: clock.now() + 100 });
        await engine.createTask({ queue: 'q', id: 'later', kind: 'k', priority: 9, runAt: clock.now() + 2 * SECOND });
        await engine.createTask({ queue: 'q', id: 'filler', kind: 'k', runAt: clock.now() });
        // A claim that fills its amount: the drivers may keep what it searched for the next claims.
        assert.deepEqual(ids(await claimNow(engine, ['q'], 1)), ['now']);
        clock.advance(200);
        assert.deepEqual(ids(await claimNow(engine, ['q'], 1)), ['soon'], 'a task come due is ahead of older ones by priority');
        clock.advance(2 * SECOND);
        assert.deepEqual(ids(await claimNow(engine, ['q'], 1)), ['later']);
        assert.deepEqual(ids(await claimNow(engine, ['q'], 5)), ['filler']);
      }),
    );

    it(
      'a claim that returns fewer than `amount` has seen every task another instance created before it',
      withHarness(options, async (h) => {
        const { engine } = h;
        const peer = (await h.peer()) ?? h.store;
        await seedTasks(engine, 1, { queue: 'q' });
        // A claim searches now, so this instance's view is as fresh as it gets ...
        assert.equal((await claimNow(engine, ['q'], 1)).length, 1);
        // ... and the peer's tasks are written after it.
        const created = await seedTasks(h.engineOn(peer), 3, { queue: 'q' });
        const claimed = await claimNow(engine, ['q'], 10);
        assert.deepEqual(ids(claimed), ids(created), 'a short claim must not miss what was written before it');
      }),
    );

    it(
      'never hands out a task claimed meanwhile, here or through another instance, whatever a search still shows',
      withHarness(options, async (h) => {
        const { engine, store, clock } = h;
        const peer = (await h.peer()) ?? store;
        const seeded = await seedTasks(engine, 6, { queue: 'q' });
        // Searches that refresh (on drivers that need it): the six are visible, waiting.
        assert.equal((await store.taskList({ limit: 10 })).tasks.length, 6);
        const here = await claimNow(engine, ['q'], 2, WORKER);
        const there = await peer.taskClaim({ queues: ['q'], amount: 2, workerId: OTHER_WORKER, now: clock.now() });
        const rest = await claimNow(engine, ['q'], 10, 'third-worker');
        const all = [...here, ...there, ...rest];
        assert.equal(new Set(all.map((t) => t.id)).size, all.length, 'a task was handed out twice');
        assert.deepEqual(ids(all), ids(seeded));
        for (const t of all) assert.equal(t.attempted, 1);
        assert.deepEqual(await claimNow(engine, ['q'], 10), []);
      }),
    );

    it(
      "the worker's next write checks the stored task: a task requeued by someone else meanwhile is not done",
      withHarness(options, async (h) => {
        const { engine, store } = h;
        const other = h.engineOn((await h.peer()) ?? store);
        await createAndClaim(engine, { ...SEED_DEFAULTS, queue: 'q', id: 't' });
        // Another server gives it back (as an operator or the timeout reaper would) ...
        await other.unclaim('q', 't', WORKER);
        // ... so the claimer's engine, which wrote it last, must not complete it on what it remembers.
        await expectError(engine.markDone('q', 't', WORKER, undefined), 'TASK_NOT_CLAIMED', 400);
        await expectError(engine.reportIn('q', 't', WORKER, undefined), 'TASK_NOT_CLAIMED', 400);
        assert.equal((await store.taskGet({ queue: 'q', id: 't' }))?.state, 'queued');
        // Claimed again, by someone else: the first worker's write is refused as not its own.
        const [again] = await claimNow(other, ['q'], 1, OTHER_WORKER);
        assert.equal(again?.id, 't');
        await expectError(engine.markFailed('q', 't', WORKER, undefined), 'TASK_NOT_OWNED_BY_WORKER', 403);
        assert.equal((await other.markDone('q', 't', OTHER_WORKER, undefined)).state, 'done');
      }),
    );
  });
}

/** Past any backoff of a first failure with the default policy. */
const HOUR_AND_A_BIT = 3700 * SECOND;
