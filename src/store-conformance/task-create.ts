/**
 * Task creation (spec §1.3 POST /tasques, §1.4 defaults, §7 idempotency, §14.2 Create, §14.3 defaults).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GO_ZERO_TIME_MS } from '../engine/task-engine.js';
import type { JsonObject } from '../types/index.js';
import {
  HOUR,
  MINUTE,
  NS_PER_MS,
  SECOND,
  T0,
  assertSameRecord,
  assertSaneVersion,
  claimNow,
  expectError,
  withHarness,
} from './helpers.js';
import type { ConformanceOptions } from './index.js';

const RICH_ARGS: JsonObject = {
  text: 'héllo wörld ✓ 日本語 🎉',
  quote: 'she said "hi" \\ back',
  int: 42,
  negative: -7,
  float: 3.25,
  big: 9_007_199_254_740_991,
  zero: 0,
  yes: true,
  no: false,
  nothing: null,
  empty: {},
  list: [1, 'two', { three: 3 }, [], null],
  nested: { a: { b: { c: ['deep'] } } },
};

export function createTests(options: ConformanceOptions): void {
  describe(`${options.name}: task create`, () => {
    it(
      'fills v1 defaults: retry_times 25, priority 0, processing timeout 30m, run_at now, queued, attempted 0',
      withHarness(options, async ({ engine, store }) => {
        const task = await engine.createTask({ queue: 'q', kind: 'say-hello' });
        assert.equal(task.queue, 'q');
        assert.equal(task.kind, 'say-hello');
        assert.equal(task.state, 'queued');
        assert.equal(task.retryTimes, 25);
        assert.equal(task.priority, 0);
        assert.equal(task.processingTimeoutNs, 30 * MINUTE * NS_PER_MS);
        assert.equal(task.runAt, T0);
        assert.equal(task.attempted, 0);
        assert.equal(task.lastClaimed, undefined);
        assert.equal(task.lastEnqueuedAt, T0);
        assert.equal(task.createdAt, T0);
        assert.equal(task.modifiedAt, T0);
        assert.equal(task.args, undefined);
        assert.equal(task.context, undefined);
        assert.equal(task.recurringTaskId, undefined);
        assertSaneVersion(task.version);
        const stored = await store.taskGet({ queue: 'q', id: task.id });
        assert.ok(stored);
        assertSameRecord(stored, task);
      }),
    );

    it(
      "treats v1's zero time (0001-01-01T00:00:00Z) as run_at now",
      withHarness(options, async ({ engine, clock, store }) => {
        clock.advance(1234);
        const task = await engine.createTask({ queue: 'q', kind: 'k', runAt: GO_ZERO_TIME_MS });
        assert.equal(task.runAt, T0 + 1234);
        assert.equal((await store.taskGet({ queue: 'q', id: task.id }))?.runAt, T0 + 1234);
      }),
    );

    it(
      'keeps an explicit run_at, past or future, to the millisecond',
      withHarness(options, async ({ engine, store }) => {
        const past = await engine.createTask({ queue: 'q', kind: 'k', runAt: T0 - 3 * HOUR - 7 });
        const future = await engine.createTask({ queue: 'q', kind: 'k', runAt: T0 + 90 * SECOND + 1 });
        assert.equal(past.runAt, T0 - 3 * HOUR - 7);
        assert.equal(future.runAt, T0 + 90 * SECOND + 1);
        assert.equal((await store.taskGet({ queue: 'q', id: past.id }))?.runAt, T0 - 3 * HOUR - 7);
        assert.equal((await store.taskGet({ queue: 'q', id: future.id }))?.runAt, T0 + 90 * SECOND + 1);
        // lastEnqueuedAt is the creation time whatever run_at says.
        assert.equal(future.lastEnqueuedAt, T0);
      }),
    );

    it(
      'honours explicit fields: negative priority, retry_times 0, odd and large processing timeouts',
      withHarness(options, async ({ engine, store }) => {
        const a = await engine.createTask({
          queue: 'q',
          kind: 'k',
          priority: -5,
          retryTimes: 0,
          processingTimeoutNs: 1_500_000_000, // 1.5s
        });
        const b = await engine.createTask({
          queue: 'q',
          kind: 'k',
          priority: 2_147_483_647,
          retryTimes: 2_147_483_647,
          processingTimeoutNs: 1000 * HOUR * NS_PER_MS,
        });
        const c = await engine.createTask({ queue: 'q', kind: 'k', processingTimeoutNs: 0 });
        for (const created of [a, b, c]) {
          const stored = await store.taskGet({ queue: 'q', id: created.id });
          assert.ok(stored);
          assertSameRecord(stored, created);
        }
        assert.equal(a.priority, -5);
        assert.equal(a.retryTimes, 0);
        assert.equal(a.processingTimeoutNs, 1_500_000_000);
        assert.equal(b.priority, 2_147_483_647);
        assert.equal(b.retryTimes, 2_147_483_647);
        assert.equal(b.processingTimeoutNs, 3_600_000_000_000_000);
        assert.equal(c.processingTimeoutNs, 0);
      }),
    );

    it(
      'generates distinct 32-character lower-case hex ids',
      withHarness(options, async ({ engine, store }) => {
        const seen = new Set<string>();
        for (let i = 0; i < 20; i++) {
          const task = await engine.createTask({ queue: 'q', kind: 'k' });
          assert.match(task.id, /^[0-9a-f]{32}$/);
          seen.add(task.id);
          assert.equal((await store.taskGet({ queue: 'q', id: task.id }))?.id, task.id);
        }
        assert.equal(seen.size, 20);
      }),
    );

    it(
      'honours a custom id',
      withHarness(options, async ({ engine, store }) => {
        const task = await engine.createTask({ queue: 'q', kind: 'k', id: 'my-custom-ID_1.2' });
        assert.equal(task.id, 'my-custom-ID_1.2');
        const stored = await store.taskGet({ queue: 'q', id: 'my-custom-ID_1.2' });
        assert.ok(stored);
        assertSameRecord(stored, task);
      }),
    );

    it(
      'rejects the same id twice in one queue with TASK_ALREADY_EXISTS (409) and keeps the original',
      withHarness(options, async ({ engine, store }) => {
        const first = await engine.createTask({ queue: 'q', kind: 'original', id: 'dup' });
        await expectError(engine.createTask({ queue: 'q', kind: 'impostor', id: 'dup' }), 'TASK_ALREADY_EXISTS', 409);
        // Directly against the store too.
        const { version: _version, ...record } = first;
        await expectError(store.taskCreate({ task: { ...record, kind: 'impostor-2' } }), 'TASK_ALREADY_EXISTS', 409);
        const stored = await store.taskGet({ queue: 'q', id: 'dup' });
        assert.ok(stored);
        assertSameRecord(stored, first);
      }),
    );

    it(
      'rejects a duplicate id whatever the state of the existing task (claimed, done)',
      withHarness(options, async ({ engine }) => {
        await engine.createTask({ queue: 'q', kind: 'k', id: 'dup' });
        const [claimed] = await claimNow(engine, ['q'], 1);
        assert.equal(claimed?.id, 'dup');
        await expectError(engine.createTask({ queue: 'q', kind: 'k', id: 'dup' }), 'TASK_ALREADY_EXISTS', 409);
        await engine.markDone('q', 'dup', 'worker-1', undefined);
        await expectError(engine.createTask({ queue: 'q', kind: 'k', id: 'dup' }), 'TASK_ALREADY_EXISTS', 409);
      }),
    );

    it(
      'allows the same id in different queues, as independent tasks',
      withHarness(options, async ({ engine, store }) => {
        const a = await engine.createTask({ queue: 'queue-a', kind: 'kind-a', id: 'shared' });
        const b = await engine.createTask({ queue: 'queue-b', kind: 'kind-b', id: 'shared', priority: 3 });
        assert.equal(a.id, 'shared');
        assert.equal(b.id, 'shared');
        const storedA = await store.taskGet({ queue: 'queue-a', id: 'shared' });
        const storedB = await store.taskGet({ queue: 'queue-b', id: 'shared' });
        assert.ok(storedA && storedB);
        assertSameRecord(storedA, a);
        assertSameRecord(storedB, b);
        assert.equal(storedA.kind, 'kind-a');
        assert.equal(storedB.kind, 'kind-b');
        // Claiming one leaves the other untouched.
        const claimed = await claimNow(engine, ['queue-a'], 5);
        assert.deepEqual(
          claimed.map((t) => [t.queue, t.id]),
          [['queue-a', 'shared']],
        );
        assert.equal((await store.taskGet({ queue: 'queue-b', id: 'shared' }))?.state, 'queued');
      }),
    );

    it(
      'round-trips args and context exactly (nested, unicode, numbers, null, empty objects)',
      withHarness(options, async ({ engine, store }) => {
        const context: JsonObject = { trace: { id: 'abc', sampled: true }, empty: {} };
        const task = await engine.createTask({ queue: 'q', kind: 'k', args: RICH_ARGS, context });
        assert.deepEqual(task.args, RICH_ARGS);
        assert.deepEqual(task.context, context);
        const stored = await store.taskGet({ queue: 'q', id: task.id });
        assert.ok(stored);
        assert.deepEqual(stored.args, RICH_ARGS);
        assert.deepEqual(stored.context, context);
        // An empty object stays an empty object (it is not "absent").
        const empty = await engine.createTask({ queue: 'q', kind: 'k', args: {}, context: {} });
        const storedEmpty = await store.taskGet({ queue: 'q', id: empty.id });
        assert.deepEqual(storedEmpty?.args, {});
        assert.deepEqual(storedEmpty?.context, {});
      }),
    );

    it(
      'round-trips recurringTaskId, and leaves it absent when not given',
      withHarness(options, async ({ engine, store }) => {
        const spawned = await engine.createTask({ queue: 'q', kind: 'k', recurringTaskId: 'every-minute' });
        const plainTask = await engine.createTask({ queue: 'q', kind: 'k' });
        assert.equal(spawned.recurringTaskId, 'every-minute');
        assert.equal((await store.taskGet({ queue: 'q', id: spawned.id }))?.recurringTaskId, 'every-minute');
        assert.equal((await store.taskGet({ queue: 'q', id: plainTask.id }))?.recurringTaskId, undefined);
      }),
    );

    it(
      'returns from the store exactly the record it was given, plus a sane version',
      withHarness(options, async ({ store }) => {
        const record = {
          queue: 'q',
          id: 'raw',
          kind: 'k',
          state: 'queued' as const,
          priority: 7,
          runAt: T0 - 5,
          retryTimes: 3,
          attempted: 0,
          processingTimeoutNs: 2 * SECOND * NS_PER_MS,
          args: { a: 1 },
          context: { c: 'x' },
          lastEnqueuedAt: T0 - 10,
          createdAt: T0 - 20,
          modifiedAt: T0 - 15,
          recurringTaskId: 'r',
        };
        const created = await store.taskCreate({ task: record });
        assertSaneVersion(created.version);
        const { version, ...rest } = created;
        assertSameRecord(rest, record);
        const stored = await store.taskGet({ queue: 'q', id: 'raw' });
        assert.ok(stored);
        assertSameRecord(stored, created);
        assert.deepEqual(stored.version, version);
      }),
    );

    it(
      'migrate() is idempotent and keeps the data',
      withHarness(options, async ({ engine, store }) => {
        const task = await engine.createTask({ queue: 'q', kind: 'k' });
        await store.migrate();
        await store.migrate();
        const stored = await store.taskGet({ queue: 'q', id: task.id });
        assert.ok(stored);
        assertSameRecord(stored, task);
      }),
    );
  });
}
