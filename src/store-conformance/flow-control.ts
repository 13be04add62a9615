/**
 * Flow control (issue 15; store contract: `queueLimitsSet`, `queueLimitsList`, `queueFlowStatus` and the
 * flow-control and fairness paragraph of `taskClaim`; docs/flow-control.md):
 *
 * - limits are stored, replaced, listed (sorted by queue) and removed;
 * - a claim never hands out a task that would put its queue or its concurrency key above a concurrency
 *   limit, nor one whose queue or rate key has no token left; it skips to tasks it may hand out;
 * - a task that leaves CLAIMED (done, failed, reaped by any write, unclaimed) gives its slot back;
 * - token buckets refill pro rata with the `now` of the claim, up to their burst;
 * - fairness: one task per concurrency-key group in turn (the unkeyed group first, then keys ascending),
 *   from after the group this store instance served last; queues merged by the claim order of their heads;
 * - limits hold across store instances on the same data (a peer when the driver offers one);
 * - `queueFlowStatus` reports the claimed count, the tokens, the throttled keys and the tasks waiting.
 *
 * Time only moves through the ManualClock (the engine passes `clock.now()` as the claim's `now`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewTaskInput, TaskEngine } from '../engine/task-engine.js';
import type { Store } from '../store/store.js';
import type { QueueLimits, Task } from '../types/index.js';
import { SECOND, SEED_DEFAULTS, T0, WORKER, assertSameRecord, claimNow, ids, withHarness } from './helpers.js';
import type { ConformanceOptions } from './index.js';

/** Creates one task per entry, in order: `key` is its concurrency key (undefined: unkeyed). */
async function enqueue(
  engine: TaskEngine,
  queue: string,
  tasks: readonly ({ id: string } & Partial<NewTaskInput>)[],
): Promise<Task[]> {
  const created: Task[] = [];
  for (const t of tasks) created.push(await engine.createTask({ ...SEED_DEFAULTS, queue, ...t }));
  return created;
}

/**
 * `n` tasks (ids `${prefix}-0` …) with `fields`, due a second apart from a minute ago: their claim order
 * is their index (equal priorities would leave the order between them open).
 */
function keyed(prefix: string, n: number, fields: Partial<NewTaskInput> = {}): ({ id: string } & Partial<NewTaskInput>)[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, runAt: T0 - 60 * SECOND + i * SECOND, ...fields }));
}

function setLimits(store: Store, queue: string, limits: QueueLimits | undefined, now = T0): Promise<unknown> {
  return store.queueLimitsSet({ queue, limits, now });
}

/** How many of `tasks` have each concurrency key ('' for none). */
function perKey(tasks: readonly Task[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of tasks) out[t.concurrencyKey ?? ''] = (out[t.concurrencyKey ?? ''] ?? 0) + 1;
  return out;
}

export function flowControlTests(options: ConformanceOptions): void {
  describe(`${options.name}: flow control`, () => {
    it(
      'stores, replaces, lists (sorted by queue, optionally only some queues) and removes limits',
      withHarness(options, async ({ store }) => {
        assert.deepEqual(await store.queueLimitsList({}), []);
        const limitsB: QueueLimits = {
          queue: { concurrency: 10, rate: { count: 5, perMs: SECOND, burst: 5 } },
          perKey: { concurrency: 2 },
          keys: { acme: { concurrency: 4, rate: { count: 1, perMs: 60 * SECOND, burst: 3 } } },
        };
        const stored = await store.queueLimitsSet({ queue: 'b', limits: limitsB, now: T0 });
        assertSameRecord(stored, { queue: 'b', limits: limitsB, modifiedAt: T0 });
        await store.queueLimitsSet({ queue: 'a', limits: { queue: { concurrency: 1 } }, now: T0 + SECOND });
        await store.queueLimitsSet({ queue: 'c', limits: { perKey: { rate: { count: 2, perMs: SECOND, burst: 1 } } }, now: T0 });
        assertSameRecord(
          (await store.queueLimitsList({})).map((r) => r.queue),
          ['a', 'b', 'c'],
        );
        assertSameRecord(await store.queueLimitsList({ queues: ['c', 'b', 'nope'] }), [
          { queue: 'b', limits: limitsB, modifiedAt: T0 },
          { queue: 'c', limits: { perKey: { rate: { count: 2, perMs: SECOND, burst: 1 } } }, modifiedAt: T0 },
        ]);
        // Replacing: the new limits replace the old ones whole.
        const replaced = await store.queueLimitsSet({ queue: 'b', limits: { perKey: { concurrency: 7 } }, now: T0 + 2 * SECOND });
        assertSameRecord(replaced, { queue: 'b', limits: { perKey: { concurrency: 7 } }, modifiedAt: T0 + 2 * SECOND });
        assertSameRecord(await store.queueLimitsList({ queues: ['b'] }), [replaced]);
        // Removing.
        assert.equal(await store.queueLimitsSet({ queue: 'b', limits: undefined, now: T0 + 3 * SECOND }), undefined);
        assertSameRecord(
          (await store.queueLimitsList({})).map((r) => r.queue),
          ['a', 'c'],
        );
        assert.deepEqual(await store.queueLimitsList({ queues: ['b'] }), []);
        // Removing what is not there is no error.
        assert.equal(await store.queueLimitsSet({ queue: 'never', limits: undefined, now: T0 }), undefined);
      }),
    );

    it(
      'keeps the keys on the task (create, get, claim, list)',
      withHarness(options, async ({ engine, store }) => {
        const [created] = await enqueue(engine, 'q', [{ id: 't', concurrencyKey: 'acme', rateKey: 'mail' }]);
        assert.equal(created?.concurrencyKey, 'acme');
        assert.equal(created?.rateKey, 'mail');
        const stored = await store.taskGet({ queue: 'q', id: 't' });
        assert.equal(stored?.concurrencyKey, 'acme');
        assert.equal(stored?.rateKey, 'mail');
        const [claimed] = await claimNow(engine, ['q'], 1);
        assert.equal(claimed?.concurrencyKey, 'acme');
        assert.equal(claimed?.rateKey, 'mail');
        const done = await engine.markDone('q', 't', WORKER, undefined);
        assert.equal(done.concurrencyKey, 'acme');
        const listed = await store.taskList({ limit: 10 });
        assert.equal(listed.tasks[0]?.rateKey, 'mail');
        const unkeyed = await engine.createTask({ ...SEED_DEFAULTS, queue: 'q', id: 'plain' });
        assert.equal(unkeyed.concurrencyKey, undefined);
        assert.equal((await store.taskGet({ queue: 'q', id: 'plain' }))?.rateKey, undefined);
      }),
    );

    it(
      'queue concurrency: never more claimed at once than the limit; done, failed and unclaimed give slots back',
      withHarness(options, async ({ engine, store }) => {
        await setLimits(store, 'q', { queue: { concurrency: 2 } });
        await enqueue(engine, 'q', keyed('t', 6));
        const first = await claimNow(engine, ['q'], 10);
        assert.equal(first.length, 2);
        assert.deepEqual(await claimNow(engine, ['q'], 10), [], 'the queue is at its limit');
        await engine.markDone('q', first[0]!.id, WORKER, undefined);
        const second = await claimNow(engine, ['q'], 10);
        assert.equal(second.length, 1, 'done gave one slot back');
        await engine.markFailed('q', first[1]!.id, WORKER, undefined);
        const third = await claimNow(engine, ['q'], 10);
        assert.equal(third.length, 1, 'failed gave one slot back');
        await engine.unclaim('q', second[0]!.id, WORKER);
        const fourth = await claimNow(engine, ['q'], 10);
        assert.equal(fourth.length, 1, 'unclaimed gave one slot back');
        assert.deepEqual(await claimNow(engine, ['q'], 10), []);
        // Other queues are not limited by it.
        await enqueue(engine, 'other', keyed('o', 3));
        assert.equal((await claimNow(engine, ['q', 'other'], 10)).length, 3);
      }),
    );

    it(
      'a claimed task that reports in keeps its slot, whoever claims next and however long after',
      withHarness(options, async (h) => {
        const { engine, store, clock } = h;
        const peer = (await h.peer()) ?? store;
        await setLimits(store, 'q', { queue: { concurrency: 1 }, perKey: { concurrency: 1 } });
        await enqueue(engine, 'q', [...keyed('a', 2, { concurrencyKey: 'a' }), ...keyed('p', 2)]);
        const [first] = await claimNow(engine, ['q'], 1);
        assert.ok(first);
        // Reports rewrite the claimed task; a claim that finds the limit full checks its holds for stale
        // ones (after a crash) and must still count this one, long after the claim.
        for (let i = 0; i < 3; i++) {
          clock.advance(60 * SECOND);
          await engine.reportIn('q', first.id, WORKER, { step: i });
          for (const s of [peer, store]) {
            const more = await s.taskClaim({ queues: ['q'], amount: 5, workerId: 'other', now: clock.now() });
            assert.deepEqual(ids(more), [], `report ${i}: the queue is at its limit of 1`);
          }
        }
        await engine.markDone('q', first.id, WORKER, undefined);
        assert.equal((await claimNow(engine, ['q'], 5)).length, 1, 'done gave the slot back');
      }),
    );

    it(
      'a slot freed through one instance is claimable through another (drivers may write the release just after the task)',
      withHarness(options, async (h) => {
        const { engine, store, clock } = h;
        const peer = (await h.peer()) ?? store;
        await setLimits(store, 'q', { queue: { concurrency: 1 }, perKey: { concurrency: 1 } });
        await enqueue(engine, 'q', keyed('a', 3, { concurrencyKey: 'a' }));
        // Bounded retries, no sleep: each claim is a full round trip to the store.
        const claimSoon = async (s: Store, workerId: string): Promise<Task[]> => {
          let got: Task[] = [];
          for (let attempt = 0; attempt < 200 && got.length === 0; attempt++) {
            got = await s.taskClaim({ queues: ['q'], amount: 1, workerId, now: clock.now() });
          }
          return got;
        };
        const [first] = await claimNow(engine, ['q'], 1);
        assert.ok(first);
        assert.deepEqual(await peer.taskClaim({ queues: ['q'], amount: 1, workerId: 'other', now: clock.now() }), []);
        await engine.markDone('q', first.id, WORKER, undefined);
        const [second] = await claimSoon(peer, 'other');
        assert.ok(second, 'the other instance got the slot freed through this one');
        assert.deepEqual(await store.taskClaim({ queues: ['q'], amount: 1, workerId: WORKER, now: clock.now() }), []);
        await peer.taskUpdate({ task: { ...second, state: 'done' }, expectedVersion: second.version });
        assert.equal((await claimSoon(store, WORKER)).length, 1, 'and back');
      }),
    );

    it(
      'a task that leaves CLAIMED through any store write (the timeout reaper) gives its slot back',
      withHarness(options, async ({ engine, store, clock }) => {
        await setLimits(store, 'q', { queue: { concurrency: 1 }, perKey: { concurrency: 1 } });
        await enqueue(engine, 'q', keyed('t', 3, { concurrencyKey: 'k' }));
        const [claimed] = await claimNow(engine, ['q'], 10);
        assert.ok(claimed);
        assert.deepEqual(await claimNow(engine, ['q'], 10), []);
        // What the reaper writes: the task back to queued (due now), by a plain compare-and-set update.
        clock.advance(SECOND);
        const requeued: Task = { ...claimed, state: 'queued', runAt: clock.now(), modifiedAt: clock.now() };
        await store.taskUpdate({ task: requeued, expectedVersion: claimed.version });
        const again = await claimNow(engine, ['q'], 10);
        assert.equal(again.length, 1);
      }),
    );

    it(
      'per-key concurrency, with overrides for named keys; tasks without a key count only against the queue',
      withHarness(options, async ({ engine, store }) => {
        await setLimits(store, 'q', { perKey: { concurrency: 1 }, keys: { big: { concurrency: 3 } } });
        await enqueue(engine, 'q', [
          ...keyed('a', 3, { concurrencyKey: 'a' }),
          ...keyed('big', 5, { concurrencyKey: 'big' }),
          ...keyed('c', 2, { concurrencyKey: 'c' }),
          ...keyed('none', 2),
        ]);
        const claimed = await claimNow(engine, ['q'], 100);
        assert.deepEqual(perKey(claimed), { '': 2, a: 1, big: 3, c: 1 });
        assert.deepEqual(await claimNow(engine, ['q'], 100), []);
        // A slot of 'big' back: one more of 'big', nothing of the others.
        const oneBig = claimed.find((t) => t.concurrencyKey === 'big')!;
        await engine.markDone('q', oneBig.id, WORKER, undefined);
        assert.deepEqual(perKey(await claimNow(engine, ['q'], 100)), { big: 1 });
      }),
    );

    it(
      'the queue limit and the key limits hold together',
      withHarness(options, async ({ engine, store }) => {
        await setLimits(store, 'q', { queue: { concurrency: 3 }, perKey: { concurrency: 2 } });
        await enqueue(engine, 'q', [...keyed('a', 4, { concurrencyKey: 'a' }), ...keyed('b', 4, { concurrencyKey: 'b' })]);
        const claimed = await claimNow(engine, ['q'], 100);
        assert.equal(claimed.length, 3);
        for (const [key, n] of Object.entries(perKey(claimed))) assert.ok(n <= 2, `key ${key} has ${n} claimed`);
      }),
    );

    it(
      'skips to tasks it may hand out: a key at its limit does not hold back lower-priority tasks of other keys',
      withHarness(options, async ({ engine, store }) => {
        await setLimits(store, 'q', { perKey: { concurrency: 1 } });
        await enqueue(engine, 'q', [
          ...keyed('hot', 5, { concurrencyKey: 'hot', priority: 100 }),
          ...keyed('cold', 2, { concurrencyKey: 'cold', priority: 0 }),
        ]);
        const [first] = await claimNow(engine, ['q'], 1);
        assert.ok(first);
        const next = await claimNow(engine, ['q'], 10);
        assert.equal(next.length, 1);
        assert.notEqual(next[0]!.concurrencyKey, first.concurrencyKey, 'the second claim goes to the other key');
        assert.deepEqual(await claimNow(engine, ['q'], 10), []);
      }),
    );

    it(
      'queue rate: a token bucket that starts full, refills pro rata with `now`, and never holds more than its burst',
      withHarness(options, async ({ engine, store, clock }) => {
        // 2 per second, burst 2.
        await setLimits(store, 'q', { queue: { rate: { count: 2, perMs: SECOND, burst: 2 } } });
        await enqueue(engine, 'q', keyed('t', 20));
        assert.equal((await claimNow(engine, ['q'], 10)).length, 2, 'a full bucket: the burst');
        assert.equal((await claimNow(engine, ['q'], 10)).length, 0, 'no token left');
        clock.advance(250);
        assert.equal((await claimNow(engine, ['q'], 10)).length, 0, 'half a token is no token');
        clock.advance(250);
        assert.equal((await claimNow(engine, ['q'], 10)).length, 1, 'one token after 500 ms');
        clock.advance(60 * SECOND);
        assert.equal((await claimNow(engine, ['q'], 10)).length, 2, 'a minute idle refills only up to the burst');
        // A tenth of a second later: a fifth of a token.
        clock.advance(100);
        assert.equal((await claimNow(engine, ['q'], 10)).length, 0);
      }),
    );

    it(
      'a rate with a burst above its count: the burst first, then the count per interval',
      withHarness(options, async ({ engine, store, clock }) => {
        await setLimits(store, 'q', { queue: { rate: { count: 1, perMs: SECOND, burst: 5 } } });
        await enqueue(engine, 'q', keyed('t', 20));
        assert.equal((await claimNow(engine, ['q'], 3)).length, 3);
        assert.equal((await claimNow(engine, ['q'], 10)).length, 2);
        clock.advance(3 * SECOND);
        assert.equal((await claimNow(engine, ['q'], 10)).length, 3);
      }),
    );

    it(
      'queueFlowPrune deletes only idle key state (full buckets idle long enough, empty holds): a binding limit stays binding',
      withHarness(options, async ({ engine, store, clock }) => {
        await setLimits(store, 'q', { perKey: { concurrency: 1, rate: { count: 1, perMs: 60 * SECOND, burst: 1 } } });
        await enqueue(engine, 'q', keyed('a', 3, { concurrencyKey: 'a', rateKey: 'a' }));
        const [first] = await claimNow(engine, ['q'], 10);
        assert.ok(first);
        const prune = () => store.queueFlowPrune({ now: clock.now(), idleBefore: clock.now() + 3600 * SECOND, limit: 100 });
        await prune();
        assert.deepEqual(await claimNow(engine, ['q'], 10), [], 'the key still holds a task and has no token');
        await engine.markDone('q', first.id, WORKER, undefined);
        await prune();
        assert.deepEqual(await claimNow(engine, ['q'], 10), [], 'the empty bucket was kept: still no token');
        clock.advance(60 * SECOND);
        // A bucket taken from at or after idleBefore stays, even when full.
        await store.queueFlowPrune({ now: clock.now(), idleBefore: clock.now() - 120 * SECOND, limit: 100 });
        assert.equal(await store.queueFlowPrune({ now: clock.now(), idleBefore: clock.now(), limit: 0 }), 0, 'limit 0 deletes nothing');
        assert.ok((await prune()) >= 1, 'the full, idle bucket is deleted');
        assert.equal(await prune(), 0, 'nothing idle is left');
        const [second] = await claimNow(engine, ['q'], 10);
        assert.ok(second, 'a deleted bucket is a full one');
        assert.deepEqual(await claimNow(engine, ['q'], 10), [], 'and the limits bind again');
        await prune();
        await engine.markDone('q', second.id, WORKER, undefined);
        assert.deepEqual(await claimNow(engine, ['q'], 10), [], 'the new bucket is empty again');
      }),
    );

    it(
      'per-key rate by rate key, with overrides; tasks without a rate key are not rate-limited by it',
      withHarness(options, async ({ engine, store, clock }) => {
        await setLimits(store, 'q', {
          perKey: { rate: { count: 1, perMs: SECOND, burst: 1 } },
          keys: { fast: { rate: { count: 3, perMs: SECOND, burst: 3 } } },
        });
        await enqueue(engine, 'q', [
          ...keyed('x', 4, { rateKey: 'x' }),
          ...keyed('y', 4, { rateKey: 'y' }),
          ...keyed('fast', 6, { rateKey: 'fast' }),
          ...keyed('free', 2),
        ]);
        const first = await claimNow(engine, ['q'], 100);
        const byRateKey = (tasks: Task[]): Record<string, number> => {
          const out: Record<string, number> = {};
          for (const t of tasks) out[t.rateKey ?? ''] = (out[t.rateKey ?? ''] ?? 0) + 1;
          return out;
        };
        assert.deepEqual(byRateKey(first), { x: 1, y: 1, fast: 3, '': 2 });
        assert.deepEqual(await claimNow(engine, ['q'], 100), []);
        clock.advance(SECOND);
        assert.deepEqual(byRateKey(await claimNow(engine, ['q'], 100)), { x: 1, y: 1, fast: 3 });
      }),
    );

    it(
      'skips a task whose rate key has no token to the next task it may hand out, in claim order',
      withHarness(options, async ({ engine, store }) => {
        await setLimits(store, 'q', { perKey: { rate: { count: 1, perMs: 60 * SECOND, burst: 1 } } });
        await enqueue(engine, 'q', [
          { id: 'r1-high', rateKey: 'r1', priority: 9 },
          { id: 'r1-also-high', rateKey: 'r1', priority: 8 },
          { id: 'r2-low', rateKey: 'r2', priority: 1 },
        ]);
        const claimed = await claimNow(engine, ['q'], 3);
        assert.deepEqual(
          claimed.map((t) => t.id),
          ['r1-high', 'r2-low'],
        );
      }),
    );

    it(
      'a rate and a concurrency limit on the same key both hold',
      withHarness(options, async ({ engine, store, clock }) => {
        await setLimits(store, 'q', { keys: { acme: { concurrency: 2, rate: { count: 1, perMs: SECOND, burst: 1 } } } });
        await enqueue(engine, 'q', keyed('acme', 5, { concurrencyKey: 'acme', rateKey: 'acme' }));
        assert.equal((await claimNow(engine, ['q'], 10)).length, 1, 'one token');
        clock.advance(SECOND);
        assert.equal((await claimNow(engine, ['q'], 10)).length, 1, 'one more token, second slot');
        clock.advance(10 * SECOND);
        assert.equal((await claimNow(engine, ['q'], 10)).length, 0, 'a token, but no slot');
      }),
    );

    it(
      'fairness: one task per key in turn, the unkeyed group first then keys ascending, claim order within a key',
      withHarness(options, async ({ engine }) => {
        await enqueue(engine, 'q', [
          { id: 'b-low', concurrencyKey: 'b', priority: 1 },
          { id: 'b-high', concurrencyKey: 'b', priority: 5 },
          { id: 'a-1', concurrencyKey: 'a', runAt: T0 - 3 * SECOND },
          { id: 'a-2', concurrencyKey: 'a', runAt: T0 - 2 * SECOND },
          { id: 'a-3', concurrencyKey: 'a', runAt: T0 - SECOND },
          { id: 'unkeyed', priority: -5 },
        ]);
        const claimed = await claimNow(engine, ['q'], 10);
        assert.deepEqual(
          claimed.map((t) => t.id),
          ['unkeyed', 'a-1', 'b-high', 'a-2', 'b-low', 'a-3'],
        );
      }),
    );

    it(
      'fairness across claims: each claim starts after the group this store served last, wrapping around',
      withHarness(options, async ({ engine }) => {
        await enqueue(engine, 'q', [
          ...keyed('c', 2, { concurrencyKey: 'c' }),
          ...keyed('a', 3, { concurrencyKey: 'a' }),
          ...keyed('u', 2),
        ]);
        const order: string[] = [];
        for (let i = 0; i < 4; i++) order.push(...(await claimNow(engine, ['q'], 1)).map((t) => t.id));
        assert.deepEqual(order, ['u-0', 'a-0', 'c-0', 'u-1']);
        // A key created meanwhile between the last served group and the next takes its turn in key order.
        await enqueue(engine, 'q', [{ id: 'b-0', concurrencyKey: 'b' }]);
        const next = await claimNow(engine, ['q'], 3);
        assert.deepEqual(
          next.map((t) => t.id),
          ['a-1', 'b-0', 'c-1'],
        );
        assert.deepEqual(
          (await claimNow(engine, ['q'], 3)).map((t) => t.id),
          ['a-2'],
        );
      }),
    );

    it(
      'fairness: a backlog of one key does not starve the others',
      withHarness(options, async ({ engine }) => {
        await enqueue(engine, 'q', keyed('big', 30, { concurrencyKey: 'big', priority: 5 }));
        await enqueue(engine, 'q', keyed('small', 2, { concurrencyKey: 'small' }));
        const claimed = await claimNow(engine, ['q'], 4);
        assert.deepEqual(perKey(claimed), { big: 2, small: 2 });
      }),
    );

    it(
      'fairness across queues: the queues\' sequences merged by the claim order of their heads',
      withHarness(options, async ({ engine }) => {
        await enqueue(engine, 'q1', [
          { id: 'q1-a', concurrencyKey: 'a', priority: 5 },
          { id: 'q1-b', concurrencyKey: 'b', priority: 1 },
        ]);
        await enqueue(engine, 'q2', [{ id: 'q2-u', priority: 3 }]);
        const claimed = await claimNow(engine, ['q1', 'q2'], 3);
        assert.deepEqual(
          claimed.map((t) => t.id),
          ['q1-a', 'q2-u', 'q1-b'],
        );
      }),
    );

    it(
      'a queue whose tasks carry no keys keeps the claim order',
      withHarness(options, async ({ engine, store }) => {
        await setLimits(store, 'q', { queue: { concurrency: 100 }, perKey: { concurrency: 1 } });
        await enqueue(engine, 'q', [
          { id: 'low', priority: 1 },
          { id: 'high', priority: 9 },
          { id: 'mid', priority: 5 },
        ]);
        assert.deepEqual(
          (await claimNow(engine, ['q'], 3)).map((t) => t.id),
          ['high', 'mid', 'low'],
        );
      }),
    );

    it(
      'claims over every queue (queues: []) honour the limits too',
      withHarness(options, async ({ engine, store }) => {
        await setLimits(store, 'limited', { queue: { concurrency: 1 } });
        await enqueue(engine, 'limited', keyed('l', 3));
        await enqueue(engine, 'keyed', keyed('k', 3, { concurrencyKey: 'k' }));
        await setLimits(store, 'keyed', { perKey: { concurrency: 2 } });
        await enqueue(engine, 'free', keyed('f', 2));
        const claimed = await claimNow(engine, [], 100);
        const byQueue: Record<string, number> = {};
        for (const t of claimed) byQueue[t.queue] = (byQueue[t.queue] ?? 0) + 1;
        assert.deepEqual(byQueue, { limited: 1, keyed: 2, free: 2 });
        assert.deepEqual(await claimNow(engine, [], 100), []);
      }),
    );

    it(
      'removing the limits lifts them at once; new limits apply to the very next claim',
      withHarness(options, async ({ engine, store }) => {
        await enqueue(engine, 'q', keyed('t', 5));
        await setLimits(store, 'q', { queue: { concurrency: 1 } });
        assert.equal((await claimNow(engine, ['q'], 10)).length, 1);
        await setLimits(store, 'q', undefined);
        assert.equal((await claimNow(engine, ['q'], 2)).length, 2);
        await setLimits(store, 'q', { queue: { concurrency: 4 } });
        assert.equal((await claimNow(engine, ['q'], 10)).length, 1, '3 claimed already, so 1 more');
      }),
    );

    it(
      'reports the tasks a limit held back in `throttled`, per queue',
      withHarness(options, async ({ engine, store, clock }) => {
        await setLimits(store, 'q', { perKey: { concurrency: 1 } });
        await enqueue(engine, 'q', keyed('a', 3, { concurrencyKey: 'a' }));
        await enqueue(engine, 'free', keyed('f', 1));
        const throttled = new Map<string, number>();
        const claimed = await store.taskClaim({ queues: ['q', 'free'], amount: 10, workerId: WORKER, now: clock.now(), throttled });
        assert.equal(claimed.length, 2);
        assert.ok((throttled.get('q') ?? 0) > 0, 'q had tasks held back by its key limit');
        assert.equal(throttled.get('free') ?? 0, 0, 'nothing of `free` was held back');
      }),
    );

    it(
      "a limit set through another instance binds this one's next claim, however recently it claimed",
      withHarness(options, async (h) => {
        const { engine, store, clock } = h;
        const peer = (await h.peer()) ?? store;
        await enqueue(engine, 'q', keyed('t', 6));
        // Claims first, so whatever this instance keeps of the limits is warm (and says: none).
        assert.equal((await store.taskClaim({ queues: ['q'], amount: 1, workerId: WORKER, now: clock.now() })).length, 1);
        await setLimits(peer, 'q', { queue: { concurrency: 2 } });
        const next = await store.taskClaim({ queues: ['q'], amount: 5, workerId: WORKER, now: clock.now() });
        assert.equal(next.length, 1, 'one claimed already, so one more under a limit of 2');
        await setLimits(peer, 'q', undefined);
        assert.equal((await store.taskClaim({ queues: ['q'], amount: 5, workerId: WORKER, now: clock.now() })).length, 4);
      }),
    );

    it(
      'never over-grants with several store instances claiming at once on the same data',
      withHarness(options, async (h) => {
        const { engine, store, clock } = h;
        const peer = (await h.peer()) ?? store;
        await setLimits(peer, 'q', { queue: { concurrency: 5 }, perKey: { concurrency: 2 } });
        await enqueue(engine, 'q', [
          ...keyed('a', 10, { concurrencyKey: 'a' }),
          ...keyed('b', 10, { concurrencyKey: 'b' }),
          ...keyed('c', 10, { concurrencyKey: 'c' }),
        ]);
        const stores = [store, peer, store, peer, store, peer];
        const rounds = await Promise.all(
          stores.map((s, i) => s.taskClaim({ queues: ['q'], amount: 2, workerId: `w${i}`, now: clock.now() })),
        );
        const claimed = rounds.flat();
        assert.equal(new Set(ids(claimed)).size, claimed.length, 'a task was handed out twice');
        assert.equal(claimed.length, 5, 'the queue limit, exactly');
        for (const [key, n] of Object.entries(perKey(claimed))) assert.ok(n <= 2, `key ${key}: ${n} claimed, limit 2`);
        // And with rate limits: one bucket, whoever claims.
        await setLimits(peer, 'r', { queue: { rate: { count: 1, perMs: SECOND, burst: 3 } } });
        await enqueue(engine, 'r', keyed('r', 10));
        const rated = await Promise.all(
          stores.map((s, i) => s.taskClaim({ queues: ['r'], amount: 1, workerId: `w${i}`, now: clock.now() })),
        );
        // Never more than the burst. Fewer is allowed: a token is spent when it is taken, and a claimer that
        // then loses the task's own write to another claimer does not get it back (optimistic claims).
        const granted = rated.flat().length;
        assert.ok(granted >= 1 && granted <= 3, `${granted} claimed with a burst of 3`);
      }),
    );

    it(
      'a fast rate (tokens a driver may take ahead): several instances together grant at most the bucket, and a rate change binds at once',
      withHarness(options, async (h) => {
        const { engine, store, clock } = h;
        const peer = (await h.peer()) ?? store;
        // 1 000 per second, burst 40: a driver may take tokens ahead in batches (the Elasticsearch store leases 10).
        await setLimits(peer, 'fast', { queue: { rate: { count: 1_000, perMs: SECOND, burst: 40 } } });
        await enqueue(engine, 'fast', keyed('f', 60));
        let granted = 0;
        for (let round = 0; round < 30; round++) {
          const s = round % 2 === 0 ? store : peer;
          granted += (await s.taskClaim({ queues: ['fast'], amount: 2, workerId: `w${round}`, now: clock.now() })).length;
        }
        assert.ok(granted <= 40, `${granted} claimed with a burst of 40 and the clock still`);
        assert.ok(granted >= 20, `${granted} claimed: tokens taken ahead may be lost, but not most of them`);

        await setLimits(peer, 'slow', { queue: { rate: { count: 1_000, perMs: SECOND, burst: 40 } } });
        await enqueue(engine, 'slow', keyed('s', 20));
        assert.equal((await store.taskClaim({ queues: ['slow'], amount: 1, workerId: WORKER, now: clock.now() })).length, 1);
        // Whatever this instance took ahead under the old rate, the new one binds its next claims.
        await setLimits(peer, 'slow', { queue: { rate: { count: 1, perMs: 60 * SECOND, burst: 1 } } });
        let after = 0;
        for (let i = 0; i < 5; i++) after += (await store.taskClaim({ queues: ['slow'], amount: 3, workerId: WORKER, now: clock.now() })).length;
        assert.ok(after <= 1, `${after} claimed under a rate of 1 a minute, burst 1`);
      }),
    );

    it(
      'queueFlowStatus: claimed count, tokens, throttled keys (most waiting first) and tasks waiting on a limit',
      withHarness(options, async ({ engine, store, clock }) => {
        const empty = await store.queueFlowStatus({ queue: 'q', now: clock.now(), limit: 10 });
        assertSameRecord(empty, { queue: 'q', claimed: 0, throttledKeys: [], waitingOnLimit: 0 });

        await setLimits(store, 'q', {
          queue: { rate: { count: 10, perMs: SECOND, burst: 10 } },
          perKey: { concurrency: 1 },
          keys: { mail: { rate: { count: 1, perMs: 60 * SECOND, burst: 1 } } },
        });
        await enqueue(engine, 'q', [
          ...keyed('a', 3, { concurrencyKey: 'a' }),
          ...keyed('b', 4, { concurrencyKey: 'b' }),
          ...keyed('m', 2, { rateKey: 'mail' }),
          { id: 'free' },
          { id: 'later', concurrencyKey: 'c', runAt: clock.now() + 60 * SECOND },
        ]);
        // One per key, one of mail, the free one: 4 claimed, 4 tokens of the queue's 10 used.
        const claimed = await claimNow(engine, ['q'], 100);
        assert.equal(claimed.length, 4);
        const status = await store.queueFlowStatus({ queue: 'q', now: clock.now(), limit: 10 });
        assert.equal(status.queue, 'q');
        assert.equal(status.claimed, 4);
        assert.ok(status.tokens !== undefined && Math.abs(status.tokens - 6) < 1e-6, `tokens ${status.tokens}`);
        assert.deepEqual(status.throttledKeys, [
          { key: 'b', claimed: 1, waiting: 3, reason: 'concurrency' },
          { key: 'a', claimed: 1, waiting: 2, reason: 'concurrency' },
          { key: 'mail', claimed: 0, waiting: 1, reason: 'rate' },
        ]);
        assert.equal(status.waitingOnLimit, 6, 'two of a, three of b, one of mail; not the task not yet due');
        const top = await store.queueFlowStatus({ queue: 'q', now: clock.now(), limit: 1 });
        assert.deepEqual(
          top.throttledKeys.map((k) => k.key),
          ['b'],
        );
        assert.equal(top.waitingOnLimit, 6, 'the limit bounds the list, not the count');

        // A queue at its own limit: everything claimable waits on it.
        await setLimits(store, 'z', { queue: { concurrency: 1 } });
        await enqueue(engine, 'z', keyed('z', 3));
        assert.equal((await claimNow(engine, ['z'], 10)).length, 1);
        const z = await store.queueFlowStatus({ queue: 'z', now: clock.now(), limit: 10 });
        assertSameRecord(z, { queue: 'z', claimed: 1, throttledKeys: [], waitingOnLimit: 2 });
      }),
    );
  });
}
