/**
 * Claims (spec §3, §2.3, §14.2 Claim and the parallel-claimers test; design §3 "no task claimed by nobody").
 * Both the engine (the v1 behaviour, never waiting: blockForMs 0) and the store's `taskClaim` directly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../store/store.js';
import type { Task } from '../types/index.js';
import {
  HOUR,
  MINUTE,
  NS_PER_MS,
  OTHER_WORKER,
  SECOND,
  SEED_DEFAULTS,
  T0,
  WORKER,
  assertNewerVersion,
  assertSameRecord,
  claimNow,
  createAndClaim,
  ids,
  plain,
  seedTasks,
  withHarness,
} from './helpers.js';
import type { ConformanceOptions } from './index.js';

const SEED_TIMEOUT_MS = SEED_DEFAULTS.processingTimeoutNs / NS_PER_MS; // 15m

/** Every claimed task is CLAIMED by `workerId` at `now`, attempted as expected, and persisted so. */
async function assertClaimedAndPersisted(
  store: Store,
  claimed: Task[],
  expected: { workerId: string; now: number; attempted: number },
): Promise<void> {
  for (const task of claimed) {
    assert.equal(task.state, 'claimed');
    assert.equal(task.attempted, expected.attempted);
    assert.equal(task.modifiedAt, expected.now);
    assert.ok(task.lastClaimed);
    assert.equal(task.lastClaimed.workerId, expected.workerId);
    assert.equal(task.lastClaimed.claimedAt, expected.now);
    assert.equal(task.lastClaimed.timesOutAt, expected.now + task.processingTimeoutNs / NS_PER_MS);
    assert.equal(task.lastClaimed.lastReport, undefined);
    assert.equal(task.lastClaimed.result, undefined);
    const stored = await store.taskGet({ queue: task.queue, id: task.id });
    assert.ok(stored, `claimed task ${task.queue}/${task.id} is gone`);
    assertSameRecord(stored, task, `persisted ${task.queue}/${task.id} differs from what the claim returned`);
  }
}

async function statesOf(store: Store, tasks: Task[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of tasks) out.push((await store.taskGet({ queue: t.queue, id: t.id }))?.state ?? 'missing');
  return out;
}

export function claimTests(options: ConformanceOptions): void {
  describe(`${options.name}: task claim`, () => {
    it(
      'claims 10 of 20 seeded, then the other 10, then none',
      withHarness(options, async ({ engine }) => {
        const seeded = await seedTasks(engine, 20, { queue: 'q' });
        const first = await claimNow(engine, ['q'], 10);
        assert.equal(first.length, 10);
        const second = await claimNow(engine, ['q'], 10);
        assert.equal(second.length, 10);
        assert.deepEqual(ids([...first, ...second]), ids(seeded));
        assert.equal(new Set(ids([...first, ...second])).size, 20);
        assert.deepEqual(await claimNow(engine, ['q'], 10), []);
      }),
    );

    it(
      'claims 20 of 20 seeded',
      withHarness(options, async ({ engine }) => {
        const seeded = await seedTasks(engine, 20, { queue: 'q' });
        const claimed = await claimNow(engine, ['q'], 20);
        assert.equal(claimed.length, 20);
        assert.deepEqual(ids(claimed), ids(seeded));
        assert.deepEqual(await claimNow(engine, ['q'], 20), []);
      }),
    );

    it(
      'claims 6 when 20 are requested and 6 exist',
      withHarness(options, async ({ engine }) => {
        const seeded = await seedTasks(engine, 6, { queue: 'q' });
        const claimed = await claimNow(engine, ['q'], 20);
        assert.equal(claimed.length, 6);
        assert.deepEqual(ids(claimed), ids(seeded));
      }),
    );

    it(
      'claims nothing, and changes nothing, for amount 0',
      withHarness(options, async ({ engine, store, clock }) => {
        const seeded = await seedTasks(engine, 3, { queue: 'q' });
        assert.deepEqual(await claimNow(engine, ['q'], 0), []);
        assert.deepEqual(await store.taskClaim({ queues: ['q'], amount: 0, workerId: WORKER, now: clock.now() }), []);
        assert.deepEqual(await store.taskClaim({ queues: [], amount: 0, workerId: WORKER, now: clock.now() }), []);
        for (const task of seeded) {
          const stored = await store.taskGet({ queue: 'q', id: task.id });
          assert.ok(stored);
          assertSameRecord(stored, task);
        }
      }),
    );

    it(
      'claims nothing from queues that do not exist, even when other queues have work',
      withHarness(options, async ({ engine, store, clock }) => {
        assert.deepEqual(await claimNow(engine, ['nope', 'nada'], 0), []);
        assert.deepEqual(await claimNow(engine, ['nope', 'nada'], 5), []);
        assert.deepEqual(await claimNow(engine, [], 5), [], 'an empty store has nothing in any queue');
        const seeded = await seedTasks(engine, 3, { queue: 'real' });
        assert.deepEqual(await claimNow(engine, ['nope', 'nada'], 5), []);
        assert.deepEqual(await store.taskClaim({ queues: ['nope'], amount: 5, workerId: WORKER, now: clock.now() }), []);
        assert.deepEqual(await statesOf(store, seeded), ['queued', 'queued', 'queued']);
        // A mix of real and missing queues claims from the real one.
        assert.equal((await claimNow(engine, ['nope', 'real'], 5)).length, 3);
      }),
    );

    it(
      'sets attempted 1, state claimed and last_claimed {worker, claimed_at = now, times_out_at = now + timeout}, persisted',
      withHarness(options, async ({ engine, store, clock }) => {
        clock.advance(7 * SECOND);
        const now = clock.now();
        const seeded = await seedTasks(engine, 5, { queue: 'q', args: { a: 1 }, context: { c: 2 } });
        const custom = await engine.createTask({ queue: 'q', kind: 'k', processingTimeoutNs: 1_500_000_000 });
        clock.advance(3 * SECOND);
        const claimed = await claimNow(engine, ['q'], 10, 'the-worker');
        assert.equal(claimed.length, 6);
        await assertClaimedAndPersisted(store, claimed, { workerId: 'the-worker', now: now + 3 * SECOND, attempted: 1 });
        const claimedCustom = claimed.find((t) => t.id === custom.id);
        assert.equal(claimedCustom?.lastClaimed?.timesOutAt, now + 3 * SECOND + 1500);
        const claimedSeed = claimed.find((t) => t.id === seeded[0]!.id);
        assert.equal(claimedSeed?.lastClaimed?.timesOutAt, now + 3 * SECOND + 15 * MINUTE);
        // Everything else is untouched by the claim.
        for (const before of [...seeded, custom]) {
          const after = claimed.find((t) => t.id === before.id);
          assert.ok(after);
          assertNewerVersion(after.version, before.version);
          const { state: _s1, attempted: _a1, lastClaimed: _l1, modifiedAt: _m1, version: _v1, ...restBefore } = before;
          const { state: _s2, attempted: _a2, lastClaimed: _l2, modifiedAt: _m2, version: _v2, ...restAfter } = after;
          assertSameRecord(restAfter, restBefore);
        }
      }),
    );

    it(
      'claims in order of priority descending, then run_at ascending, across several queues',
      withHarness(options, async ({ engine, store, clock }) => {
        const specs: [queue: string, id: string, priority: number, runAtOffset: number][] = [
          ['q-b', 'p0-old', 0, -50 * SECOND],
          ['q-a', 'p5-new', 5, -1 * SECOND],
          ['q-c', 'pneg', -3, -100 * SECOND],
          ['q-a', 'p10-mid', 10, -20 * SECOND],
          ['q-c', 'p5-old', 5, -30 * SECOND],
          ['q-b', 'p10-new', 10, -2 * SECOND],
          ['q-a', 'p0-new', 0, 0],
          ['q-b', 'p10-old', 10, -40 * SECOND],
          ['q-c', 'p5-mid', 5, -10 * SECOND],
          ['other', 'p99-unrequested', 99, -HOUR],
        ];
        for (const [queue, id, priority, offset] of specs) {
          await engine.createTask({ queue, id, kind: 'k', priority, runAt: clock.now() + offset });
        }
        const expected = ['p10-old', 'p10-mid', 'p10-new', 'p5-old', 'p5-mid', 'p5-new', 'p0-old', 'p0-new', 'pneg'];

        // One claim returns them in claim order, and a partial claim takes the global best, not per queue.
        const top3 = await store.taskClaim({ queues: ['q-c', 'q-a', 'q-b'], amount: 3, workerId: WORKER, now: clock.now() });
        assert.deepEqual(
          top3.map((t) => t.id),
          expected.slice(0, 3),
        );
        const rest = await claimNow(engine, ['q-a', 'q-b', 'q-c'], 100);
        assert.deepEqual(
          rest.map((t) => t.id),
          expected.slice(3),
        );
        assert.equal((await store.taskGet({ queue: 'other', id: 'p99-unrequested' }))?.state, 'queued');
      }),
    );

    it(
      'within one queue, a small claim takes the best tasks first (priority desc, then run_at asc)',
      withHarness(options, async ({ engine, store, clock }) => {
        const specs: [id: string, priority: number, runAtOffset: number][] = [
          ['low-old', -1, -90 * SECOND],
          ['mid-new', 3, -1 * SECOND],
          ['high-new', 8, -2 * SECOND],
          ['mid-old', 3, -60 * SECOND],
          ['zero-old', 0, -HOUR],
          ['high-old', 8, -30 * SECOND],
          ['zero-new', 0, 0],
        ];
        for (const [id, priority, offset] of specs) {
          await engine.createTask({ queue: 'q', id, kind: 'k', priority, runAt: clock.now() + offset });
        }
        const top2 = await store.taskClaim({ queues: ['q'], amount: 2, workerId: WORKER, now: clock.now() });
        assert.deepEqual(
          top2.map((t) => t.id),
          ['high-old', 'high-new'],
        );
        const order: string[] = [];
        for (let i = 0; i < specs.length; i++) {
          const [task] = await claimNow(engine, ['q'], 1);
          if (!task) break;
          order.push(task.id);
        }
        assert.deepEqual(await claimNow(engine, ['q'], 1), []);
        assert.deepEqual(order, ['mid-old', 'mid-new', 'zero-old', 'zero-new', 'low-old']);
      }),
    );

    it(
      'across queues, a small claim takes the global best even when each queue has more than the amount',
      withHarness(options, async ({ engine, store, clock }) => {
        // Per queue, the best tasks are not the global best: a driver must not take `amount` per queue
        // in insertion order, nor stop at the first queue.
        for (const [queue, base] of [['a', 0], ['b', 1], ['c', 2]] as const) {
          for (let i = 0; i < 4; i++) {
            await engine.createTask({
              queue,
              id: `${queue}-${i}`,
              kind: 'k',
              priority: base + 3 * i, // a: 0 3 6 9, b: 1 4 7 10, c: 2 5 8 11
              runAt: clock.now() - i * SECOND,
            });
          }
        }
        const top4 = await store.taskClaim({ queues: ['a', 'b', 'c'], amount: 4, workerId: WORKER, now: clock.now() });
        assert.deepEqual(
          top4.map((t) => t.id),
          ['c-3', 'b-3', 'a-3', 'c-2'],
        );
        const next3 = await claimNow(engine, [], 3);
        assert.deepEqual(
          next3.map((t) => t.id),
          ['b-2', 'a-2', 'c-1'],
        );
      }),
    );

    it(
      'never returns a task twice in one claim, even when a queue is named twice',
      withHarness(options, async ({ engine, store, clock }) => {
        const seeded = await seedTasks(engine, 3, { queue: 'q' });
        const claimed = await store.taskClaim({ queues: ['q', 'q'], amount: 10, workerId: WORKER, now: clock.now() });
        assert.deepEqual(ids(claimed), ids(seeded));
        for (const t of claimed) assert.equal(t.attempted, 1);
        assert.deepEqual(await store.taskClaim({ queues: ['q', 'q'], amount: 10, workerId: WORKER, now: clock.now() }), []);
      }),
    );

    it(
      'claims one at a time in the same global order, and `queues: []` means every queue',
      withHarness(options, async ({ engine, clock }) => {
        await engine.createTask({ queue: 'x', id: 'third', kind: 'k', priority: 1, runAt: clock.now() - 5 * SECOND });
        await engine.createTask({ queue: 'y', id: 'first', kind: 'k', priority: 2, runAt: clock.now() });
        await engine.createTask({ queue: 'z', id: 'fourth', kind: 'k', priority: 1, runAt: clock.now() - 1 });
        await engine.createTask({ queue: 'x', id: 'second', kind: 'k', priority: 1, runAt: clock.now() - 9 * SECOND });
        const order: string[] = [];
        for (let i = 0; i < 4; i++) {
          const [task] = await claimNow(engine, [], 1);
          assert.ok(task, `claim ${i + 1} found nothing`);
          order.push(task.id);
        }
        assert.deepEqual(order, ['first', 'second', 'third', 'fourth']);
        assert.deepEqual(await claimNow(engine, [], 1), []);
      }),
    );

    it(
      '`queues: []` claims from every queue, including queues created through another store instance',
      withHarness(options, async (h) => {
        const { engine, store } = h;
        const a = await seedTasks(engine, 2, { queue: 'alpha' });
        const b = await seedTasks(engine, 2, { queue: 'beta' });
        const peer = await h.peer();
        const c = peer ? await seedTasks(h.engineOn(peer), 2, { queue: 'gamma' }) : await seedTasks(engine, 2, { queue: 'gamma' });
        const claimed = await claimNow(engine, [], 100);
        assert.deepEqual(ids(claimed), ids([...a, ...b, ...c]));
        assert.deepEqual(await statesOf(store, [...a, ...b, ...c]), Array(6).fill('claimed'));
      }),
    );

    it(
      'does not claim a task before its run_at; claims it once the clock reaches run_at',
      withHarness(options, async ({ engine, clock }) => {
        const task = await engine.createTask({ queue: 'q', kind: 'k', runAt: T0 + MINUTE });
        assert.deepEqual(await claimNow(engine, ['q'], 1), []);
        assert.deepEqual(await claimNow(engine, [], 1), []);
        clock.set(T0 + MINUTE - 1);
        assert.deepEqual(await claimNow(engine, ['q'], 1), []);
        clock.set(T0 + MINUTE);
        const claimed = await claimNow(engine, ['q'], 1);
        assert.deepEqual(ids(claimed), [task.id]);
        assert.equal(claimed[0]!.lastClaimed?.claimedAt, T0 + MINUTE);
        assert.equal(claimed[0]!.runAt, T0 + MINUTE, 'a claim does not change run_at');
      }),
    );

    it(
      'never claims done, dead or already-claimed tasks, however much time passes',
      withHarness(options, async ({ engine, store, clock }) => {
        const done = await createAndClaim(engine, { queue: 'q', id: 'done' });
        await engine.markDone('q', done.id, WORKER, undefined);
        const dead = await createAndClaim(engine, { queue: 'q', id: 'dead', retryTimes: 0 });
        assert.equal((await engine.markFailed('q', dead.id, WORKER, undefined)).state, 'dead');
        await createAndClaim(engine, { queue: 'q', id: 'claimed' });
        clock.advance(365 * 24 * HOUR);
        assert.deepEqual(await claimNow(engine, ['q'], 10, OTHER_WORKER), []);
        assert.deepEqual(await claimNow(engine, [], 10, OTHER_WORKER), []);
        assert.deepEqual(
          await store.taskClaim({ queues: ['q'], amount: 10, workerId: OTHER_WORKER, now: clock.now() }),
          [],
        );
        const states = [];
        for (const id of ['done', 'dead', 'claimed']) states.push((await store.taskGet({ queue: 'q', id }))?.state);
        assert.deepEqual(states, ['done', 'dead', 'claimed']);
        assert.equal((await store.taskGet({ queue: 'q', id: 'claimed' }))?.lastClaimed?.workerId, WORKER);
      }),
    );

    it(
      'claims a failed task once its backoff has passed, replacing last_claimed entirely',
      withHarness(options, async ({ engine, store, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', retryTimes: 3 });
        await engine.reportIn('q', claimed.id, WORKER, { progress: 1 });
        clock.advance(2 * SECOND);
        const failedAt = clock.now();
        const failed = await engine.markFailed('q', claimed.id, WORKER, { why: 'boom' });
        assert.equal(failed.state, 'failed');
        // First failure, r = 0, fixed random 0.5: 15 + 0 + 15·1 = 30 s.
        assert.equal(failed.runAt, failedAt + 30 * SECOND);
        clock.set(failedAt + 30 * SECOND - 1);
        assert.deepEqual(await claimNow(engine, ['q'], 1, OTHER_WORKER), []);
        clock.set(failedAt + 30 * SECOND);
        const [again] = await claimNow(engine, ['q'], 1, OTHER_WORKER);
        assert.ok(again);
        assert.equal(again.id, claimed.id);
        assert.equal(again.state, 'claimed');
        assert.equal(again.attempted, 2);
        assert.deepEqual(plain(again.lastClaimed), {
          workerId: OTHER_WORKER,
          claimedAt: failedAt + 30 * SECOND,
          timesOutAt: failedAt + 30 * SECOND + SEED_TIMEOUT_MS,
        });
        const stored = await store.taskGet({ queue: 'q', id: claimed.id });
        assert.ok(stored);
        assertSameRecord(stored, again);
      }),
    );

    it(
      'does not claim a queued task whose attempts are used up',
      withHarness(options, async ({ store, clock }) => {
        // Only reachable by writing the record directly: a queued task with attempted > retryTimes.
        await store.taskCreate({
          task: {
            queue: 'q',
            id: 'exhausted',
            kind: 'k',
            state: 'queued',
            priority: 0,
            runAt: T0,
            retryTimes: 1,
            attempted: 2,
            processingTimeoutNs: MINUTE * NS_PER_MS,
            lastEnqueuedAt: T0,
            createdAt: T0,
            modifiedAt: T0,
          },
        });
        await store.taskCreate({
          task: {
            queue: 'q',
            id: 'one-left',
            kind: 'k',
            state: 'failed',
            priority: 0,
            runAt: T0,
            retryTimes: 1,
            attempted: 1,
            processingTimeoutNs: MINUTE * NS_PER_MS,
            lastEnqueuedAt: T0,
            createdAt: T0,
            modifiedAt: T0,
          },
        });
        const claimed = await store.taskClaim({ queues: ['q'], amount: 10, workerId: WORKER, now: clock.now() });
        assert.deepEqual(
          claimed.map((t) => [t.id, t.attempted]),
          [['one-left', 2]],
        );
      }),
    );

    it(
      'hands each task out exactly once to many concurrent claims on one store (10 claimers × 10 over 10 tasks)',
      withHarness(options, async ({ engine, store }) => {
        const seeded = await seedTasks(engine, 10, { queue: 'q' });
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => claimNow(engine, ['q'], 10, `w-${i}`)),
        );
        const sweep = await claimNow(engine, ['q'], 100, 'sweeper');
        assertEachExactlyOnce(seeded, results, sweep);
        await assertOwnersPersisted(store, [...results, sweep]);
      }),
    );

    it(
      'hands each task out exactly once to concurrent claims mixing queues, amounts and `queues: []`',
      withHarness(options, async ({ engine, store, clock }) => {
        const seeded = [
          ...(await seedTasks(engine, 40, { queue: 'a' })),
          ...(await seedTasks(engine, 40, { queue: 'b', priority: 20 })),
        ];
        const shapes: string[][] = [['a'], ['b'], ['a', 'b'], [], ['b', 'a']];
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            i % 2 === 0
              ? claimNow(engine, shapes[i % shapes.length]!, 1 + (i % 7), `w-${i}`)
              : store.taskClaim({ queues: shapes[i % shapes.length]!, amount: 1 + (i % 5), workerId: `w-${i}`, now: clock.now() }),
          ),
        );
        // Whatever is left is still claimable, exactly once.
        const leftovers = await claimNow(engine, [], 1000, 'sweeper');
        assertEachExactlyOnce(seeded, results, leftovers);
        await assertOwnersPersisted(store, [...results, leftovers]);
      }),
    );

    it(
      'hands each task out exactly once across peer store instances on the same data',
      { skip: options.makePeerStore ? false : 'the driver offers no peer store' },
      withHarness(options, async (h) => {
        const peers: Store[] = [];
        for (let i = 0; i < 3; i++) {
          const peer = await h.peer();
          if (peer) peers.push(peer);
        }
        const stores = [h.store, ...peers];
        const engines = stores.map((s) => h.engineOn(s));
        // Seed through every instance; every instance must see every task.
        const seeded: Task[] = [];
        for (let i = 0; i < 60; i++) {
          seeded.push(await engines[i % engines.length]!.createTask({ ...SEED_DEFAULTS, queue: 'q' }));
        }
        for (const s of stores) {
          const t = seeded[seeded.length - 1]!;
          assertSameRecord(await s.taskGet({ queue: 'q', id: t.id }), t);
        }
        const results = await Promise.all(
          Array.from({ length: 24 }, (_, i) =>
            i % 2 === 0
              ? claimNow(engines[i % engines.length]!, ['q'], 4, `w-${i}`)
              : stores[i % stores.length]!.taskClaim({ queues: ['q'], amount: 4, workerId: `w-${i}`, now: h.clock.now() }),
          ),
        );
        const sweep = await claimNow(engines[1 % engines.length]!, ['q'], 100, 'sweeper');
        assertEachExactlyOnce(seeded, results, sweep);
        for (const s of stores) await assertOwnersPersisted(s, [...results, sweep]);
      }),
    );

    it(
      'taskNextRunAt: the earliest run_at among queued and failed tasks of the given queues',
      withHarness(options, async ({ engine, store, clock }) => {
        assert.equal(await store.taskNextRunAt({ queues: [] }), undefined);
        assert.equal(await store.taskNextRunAt({ queues: ['q1'] }), undefined);
        await engine.createTask({ queue: 'q1', kind: 'k', id: 'in-10s', runAt: T0 + 10 * SECOND });
        await engine.createTask({ queue: 'q1', kind: 'k', id: 'in-5s', runAt: T0 + 5 * SECOND });
        await engine.createTask({ queue: 'q2', kind: 'k', id: 'in-20s', runAt: T0 + 20 * SECOND });
        await engine.createTask({ queue: 'q3', kind: 'k', id: 'past', runAt: T0 - HOUR, retryTimes: 2 });
        assert.equal(await store.taskNextRunAt({ queues: ['q1'] }), T0 + 5 * SECOND);
        assert.equal(await store.taskNextRunAt({ queues: ['q2'] }), T0 + 20 * SECOND);
        assert.equal(await store.taskNextRunAt({ queues: ['q1', 'q2'] }), T0 + 5 * SECOND);
        assert.equal(await store.taskNextRunAt({ queues: ['q2', 'missing'] }), T0 + 20 * SECOND);
        assert.equal(await store.taskNextRunAt({ queues: ['missing'] }), undefined);
        assert.equal(await store.taskNextRunAt({ queues: [] }), T0 - HOUR, 'a task already due counts');

        // Claimed tasks do not count; a failed one counts with its backed-off run_at.
        const [past] = await claimNow(engine, ['q3'], 1);
        assert.equal(past?.id, 'past');
        assert.equal(await store.taskNextRunAt({ queues: ['q3'] }), undefined);
        assert.equal(await store.taskNextRunAt({ queues: [] }), T0 + 5 * SECOND);
        clock.advance(SECOND);
        const failed = await engine.markFailed('q3', 'past', WORKER, undefined);
        assert.equal(failed.runAt, T0 + SECOND + 30 * SECOND);
        assert.equal(await store.taskNextRunAt({ queues: ['q3'] }), T0 + 31 * SECOND);

        // Done and dead tasks do not count either.
        clock.set(T0 + 10 * SECOND);
        const claimed = await claimNow(engine, ['q1'], 10);
        assert.deepEqual(
          claimed.map((t) => t.id),
          ['in-5s', 'in-10s'],
        );
        await engine.markDone('q1', 'in-5s', WORKER, undefined);
        assert.equal(await store.taskNextRunAt({ queues: ['q1'] }), undefined);
        // Unclaim puts one back, with its run_at unchanged.
        await engine.unclaim('q1', 'in-10s', WORKER);
        assert.equal(await store.taskNextRunAt({ queues: ['q1'] }), T0 + 10 * SECOND);
      }),
    );

    it(
      'a large task claimed again after a report and a failure: args as created, no report or result of the earlier attempt',
      withHarness(options, async ({ engine, store, clock }) => {
        // Over 16 KiB: the Elasticsearch store writes such a claim as a partial update, not the whole document.
        const args = { text: 'é'.repeat(20_000), nested: { list: [1, 2, 3], deep: { a: 'b' } } };
        const first = await createAndClaim(engine, { queue: 'big', id: 'large', retryTimes: 2, args, context: { c: 'x'.repeat(1_000) } });
        await engine.reportIn('big', 'large', WORKER, { progress: { done: 1 } });
        const failed = await engine.markFailed('big', 'large', WORKER, { reason: { code: 7 } });
        assert.equal(failed.state, 'failed');
        clock.set(failed.runAt);
        const again = await claimNow(engine, ['big'], 1, OTHER_WORKER);
        assert.deepEqual(ids(again), ['large']);
        await assertClaimedAndPersisted(store, again, { workerId: OTHER_WORKER, now: clock.now(), attempted: 2 });
        const stored = await store.taskGet({ queue: 'big', id: 'large' });
        assert.deepEqual(stored?.args, args);
        assert.deepEqual(stored?.context, first.context);
        assert.equal(stored?.errorHistory?.length, 1, 'the failure is in the history');
        await engine.markDone('big', 'large', OTHER_WORKER, { ok: true });
        const done = await store.taskGet({ queue: 'big', id: 'large' });
        assert.equal(done?.state, 'done');
        assert.deepEqual(done?.args, args);
        assert.deepEqual(done?.lastClaimed?.result?.success, { ok: true });
      }),
    );

    it(
      'with a byte budget (maxBytes) claims at least one task, a prefix of the claim order; the rest stays claimable',
      withHarness(options, async ({ engine, store, clock }) => {
        const big = { text: 'x'.repeat(2_000) };
        const seeded: Task[] = [];
        for (let i = 0; i < 5; i++) seeded.push(await engine.createTask({ queue: 'q', kind: 'k', id: `t${i}`, priority: 10 - i, args: big }));
        // A budget smaller than any task: the first in claim order, alone (a driver may honour the hint or not).
        const claimed = await store.taskClaim({ queues: ['q'], amount: 5, workerId: WORKER, now: clock.now(), maxBytes: 1 });
        assert.ok(claimed.length >= 1, 'at least one task, however small the budget');
        assert.deepEqual(ids(claimed), ids(seeded.slice(0, claimed.length)), 'a prefix of the claim order');
        const rest = await store.taskClaim({ queues: [], amount: 5, workerId: WORKER, now: clock.now(), maxBytes: 1_000_000 });
        assert.deepEqual(ids(rest), ids(seeded.slice(claimed.length)), 'the others were left claimable, in order');
      }),
    );

    it(
      'through the engine with sizeOf: the answer stops at maxAnswerBytes, at least one task; the others are given back unclaimed',
      withHarness(
        options,
        async ({ engine, store, clock }) => {
          const seeded = await seedTasks(engine, 5, { queue: 'q' });
          const sizeOf = () => 400; // what an answer would measure: 2 fit in 1 000 bytes, not 3
          const first = await engine.claimTasks({ queues: ['q'], amount: 5, workerId: WORKER, blockForMs: 0, sizeOf });
          // Two fit; the store may have stopped earlier on its own estimate of the budget (a hint).
          assert.ok(first.length === 1 || first.length === 2, `claimed ${first.length}`);
          assert.deepEqual(ids(first), ids(seeded.slice(0, first.length)));
          let next = first.length;
          for (const task of seeded.slice(next)) {
            const stored = await store.taskGet({ queue: 'q', id: task.id });
            assert.equal(stored?.state, 'queued', `${task.id} was given back`);
            assert.equal(stored?.attempted, 0, `${task.id}: giving it back did not count an attempt`);
          }
          const alone = await engine.claimTasks({ queues: ['q'], amount: 5, workerId: WORKER, blockForMs: 0, sizeOf: () => 5_000 });
          assert.deepEqual(ids(alone), ids(seeded.slice(next, next + 1)), 'a task larger than the budget is handed out alone');
          next += 1;
          // An answer that cannot be built gives back everything it claimed.
          const unanswerable = () => {
            throw new Error('cannot serialize');
          };
          await assert.rejects(
            engine.claimTasks({ queues: ['q'], amount: 5, workerId: WORKER, blockForMs: 0, sizeOf: unanswerable }),
            /cannot serialize/,
          );
          const rest = await store.taskClaim({ queues: ['q'], amount: 5, workerId: WORKER, now: clock.now() });
          assert.deepEqual(ids(rest), ids(seeded.slice(next)), 'still claimable, in order, attempts not counted');
          assert.ok(rest.every((task) => task.attempted === 1));
        },
        { settings: { maxAnswerBytes: 1_000 } },
      ),
    );
  });
}

/**
 * Concurrent claims (`batches`) plus one claim afterwards (`sweep`) handed out every seeded task exactly
 * once, and the concurrent claims made progress. Under contention a claim may return fewer tasks than it
 * could have (the contract says "up to `amount`"), so the exact split between them is not asserted.
 */
function assertEachExactlyOnce(seeded: Task[], batches: Task[][], sweep: Task[]): void {
  const key = (t: Task) => `${t.queue}/${t.id}`;
  const concurrent = batches.flat();
  assert.ok(concurrent.length > 0, 'the concurrent claims got nothing at all');
  const all = [...concurrent, ...sweep].map(key);
  const counts = new Map<string, number>();
  for (const k of all) counts.set(k, (counts.get(k) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1).map(([k]) => k);
  assert.deepEqual(twice, [], 'tasks handed out more than once');
  assert.deepEqual(all.sort(), seeded.map(key).sort(), 'every task is claimed exactly once in total');
}

/** Each task a claimer got is stored as CLAIMED by that claimer, attempted 1. */
async function assertOwnersPersisted(store: Store, results: Task[][]): Promise<void> {
  for (const batch of results) {
    for (const task of batch) {
      const stored = await store.taskGet({ queue: task.queue, id: task.id });
      assert.equal(stored?.state, 'claimed');
      assert.equal(stored?.attempted, 1);
      assert.equal(stored?.lastClaimed?.workerId, task.lastClaimed?.workerId);
    }
  }
}
