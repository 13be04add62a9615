/**
 * Mark done (spec §2.3, §6, §14.2 MarkDone), and the compare-and-set every single-task write rests on
 * (spec §3.6; design §3 "version conflicts are retried up to the configured count"): the store's
 * `taskUpdate` contract, and the engine retrying conflicts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store, TaskUpdateParams } from '../store/store.js';
import type { Task } from '../types/index.js';
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
  plain,
  withHarness,
} from './helpers.js';
import type { ConformanceOptions } from './index.js';

/**
 * The store the engine sees, with a real concurrent writer: before each of the engine's first `writes`
 * task updates, another party rewrites the same task (unchanged, so only its version moves), exactly as
 * a second server would between the engine's read and its compare-and-set. Counts the engine's updates.
 */
export function withInterferingWriter(writes: number): {
  wrap: (store: Store) => Store;
  stats: { updates: number; interfered: number };
} {
  const stats = { updates: 0, interfered: 0 };
  const wrap = (store: Store): Store =>
    new Proxy(store, {
      get(target, prop) {
        if (prop === 'taskUpdate') {
          return async (params: TaskUpdateParams): Promise<Task> => {
            stats.updates++;
            if (stats.interfered < writes) {
              stats.interfered++;
              const current = await target.taskGet({ queue: params.task.queue, id: params.task.id });
              assert.ok(current, 'the interfering writer found no task');
              await target.taskUpdate({ task: current, expectedVersion: current.version });
            }
            return target.taskUpdate(params);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  return { wrap, stats };
}

export function doneTests(options: ConformanceOptions): void {
  describe(`${options.name}: task mark done`, () => {
    it(
      'answers TASK_NOT_FOUND (404) for an unknown task',
      withHarness(options, async ({ engine }) => {
        await expectError(engine.markDone('nowhere', 'nothing', WORKER, { ok: true }), 'TASK_NOT_FOUND', 404);
        await engine.createTask({ queue: 'q', kind: 'k', id: 'exists' });
        await expectError(engine.markDone('q', 'missing', WORKER, undefined), 'TASK_NOT_FOUND', 404);
      }),
    );

    it(
      'answers TASK_NOT_CLAIMED (400) for a queued task, and leaves it unchanged',
      withHarness(options, async ({ engine, store }) => {
        const task = await engine.createTask({ queue: 'q', kind: 'k' });
        await expectError(engine.markDone('q', task.id, WORKER, undefined), 'TASK_NOT_CLAIMED', 400);
        assertSameRecord(await store.taskGet({ queue: 'q', id: task.id }), task);
      }),
    );

    it(
      'answers TASK_NOT_OWNED_BY_WORKER (403) to another worker, and leaves the task unchanged',
      withHarness(options, async ({ engine, store }) => {
        const claimed = await createAndClaim(engine, { queue: 'q' });
        await expectError(engine.markDone('q', claimed.id, OTHER_WORKER, { x: 1 }), 'TASK_NOT_OWNED_BY_WORKER', 403);
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), claimed);
      }),
    );

    it(
      'marks done: state done, result {at: now, success: data} without failure, nothing else changed',
      withHarness(options, async ({ engine, store, clock }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', args: { in: 1 } });
        clock.advance(3 * SECOND);
        await engine.reportIn('q', claimed.id, WORKER, { progress: 50 });
        clock.advance(4 * SECOND);
        const done = await engine.markDone('q', claimed.id, WORKER, { answer: 42, nested: { ok: true } });
        assert.equal(done.state, 'done');
        assert.equal(done.attempted, 1);
        assert.equal(done.modifiedAt, T0 + 7 * SECOND);
        assert.deepEqual(plain(done.lastClaimed), {
          workerId: WORKER,
          claimedAt: T0,
          timesOutAt: claimed.lastClaimed!.timesOutAt + 3 * SECOND,
          lastReport: { at: T0 + 3 * SECOND, data: { progress: 50 } },
          result: { at: T0 + 7 * SECOND, success: { answer: 42, nested: { ok: true } } },
        });
        assert.equal(done.lastClaimed?.result?.failure, undefined);
        assert.equal(done.runAt, claimed.runAt);
        assert.equal(done.lastEnqueuedAt, claimed.lastEnqueuedAt);
        assert.equal(done.createdAt, claimed.createdAt);
        assert.deepEqual(done.args, { in: 1 });
        const stored = await store.taskGet({ queue: 'q', id: claimed.id });
        assertSameRecord(stored, done);
        assert.equal(stored?.lastClaimed?.result?.failure, undefined);
      }),
    );

    it(
      'marks done without data: the result has no success field; empty data stays {}',
      withHarness(options, async ({ engine, store }) => {
        const a = await createAndClaim(engine, { queue: 'a' });
        const b = await createAndClaim(engine, { queue: 'b' });
        await engine.markDone('a', a.id, WORKER, undefined);
        await engine.markDone('b', b.id, WORKER, {});
        const storedA = await store.taskGet({ queue: 'a', id: a.id });
        const storedB = await store.taskGet({ queue: 'b', id: b.id });
        assert.deepEqual(plain(storedA?.lastClaimed?.result), { at: T0 });
        assert.deepEqual(plain(storedB?.lastClaimed?.result), { at: T0, success: {} });
      }),
    );

    it(
      'answers TASK_NOT_CLAIMED (400) to a second done, and to done after failed',
      withHarness(options, async ({ engine, store }) => {
        const claimed = await createAndClaim(engine, { queue: 'q' });
        const done = await engine.markDone('q', claimed.id, WORKER, { first: true });
        await expectError(engine.markDone('q', claimed.id, WORKER, { second: true }), 'TASK_NOT_CLAIMED', 400);
        await expectError(engine.markDone('q', claimed.id, OTHER_WORKER, undefined), 'TASK_NOT_CLAIMED', 400);
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), done);

        const other = await createAndClaim(engine, { queue: 'r', retryTimes: 3 });
        await engine.markFailed('r', other.id, WORKER, undefined);
        await expectError(engine.markDone('r', other.id, WORKER, undefined), 'TASK_NOT_CLAIMED', 400);
      }),
    );

    it(
      'two concurrent dones by the owner: exactly one wins, the other gets TASK_NOT_CLAIMED',
      withHarness(options, async ({ engine, store }) => {
        const claimed = await createAndClaim(engine, { queue: 'q' });
        const outcomes = await Promise.allSettled([
          engine.markDone('q', claimed.id, WORKER, { by: 'a' }),
          engine.markDone('q', claimed.id, WORKER, { by: 'b' }),
        ]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o) => o.status === 'rejected');
        assert.equal(won.length, 1);
        assert.equal(lost.length, 1);
        await expectError(Promise.reject(lost[0]!.reason), 'TASK_NOT_CLAIMED', 400);
        const winner = won[0]!.value;
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), winner);
        assert.equal(winner.state, 'done');
      }),
    );

    it(
      'concurrent failed, done and unclaim by the owner: exactly one wins, the stored task is the winner\'s',
      withHarness(options, async ({ engine, store }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', retryTimes: 3 });
        const outcomes = await Promise.allSettled([
          engine.markFailed('q', claimed.id, WORKER, { f: 1 }),
          engine.markDone('q', claimed.id, WORKER, { s: 1 }),
          engine.unclaim('q', claimed.id, WORKER),
        ]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o) => o.status === 'rejected');
        assert.equal(won.length, 1);
        assert.equal(lost.length, 2);
        for (const l of lost) await expectError(Promise.reject(l.reason), 'TASK_NOT_CLAIMED', 400);
        assertSameRecord(await store.taskGet({ queue: 'q', id: claimed.id }), won[0]!.value);
      }),
    );
  });

  describe(`${options.name}: task update (compare-and-set)`, () => {
    it(
      'replaces the task when the expected version is current, with a newer version',
      withHarness(options, async ({ engine, store }) => {
        const task = await engine.createTask({ queue: 'q', kind: 'k', args: { a: 1 } });
        const next: Task = { ...task, priority: 9, args: { a: 2 }, modifiedAt: T0 + 1 };
        const updated = await store.taskUpdate({ task: next, expectedVersion: task.version });
        assertNewerVersion(updated.version, task.version);
        const { version: _v1, ...restUpdated } = updated;
        const { version: _v2, ...restNext } = next;
        assertSameRecord(restUpdated, restNext);
        assertSameRecord(await store.taskGet({ queue: 'q', id: task.id }), updated);
      }),
    );

    it(
      'answers TASK_VERSION_CONFLICT (409) to a stale expected version, and leaves the task unchanged',
      withHarness(options, async ({ engine, store }) => {
        const task = await engine.createTask({ queue: 'q', kind: 'k' });
        const first = await store.taskUpdate({ task: { ...task, priority: 1 }, expectedVersion: task.version });
        // The same stale version again: must fail, even though it was valid a moment ago.
        await expectError(
          store.taskUpdate({ task: { ...task, priority: 2 }, expectedVersion: task.version }),
          'TASK_VERSION_CONFLICT',
          409,
        );
        // A version from the future fails too.
        await expectError(
          store.taskUpdate({
            task: { ...task, priority: 3 },
            expectedVersion: { seqNum: first.version.seqNum + 1000, primaryTerm: first.version.primaryTerm },
          }),
          'TASK_VERSION_CONFLICT',
          409,
        );
        assertSameRecord(await store.taskGet({ queue: 'q', id: task.id }), first);
      }),
    );

    it(
      'answers TASK_NOT_FOUND (404) for a task that does not exist, and creates nothing',
      withHarness(options, async ({ engine, store }) => {
        const task = await engine.createTask({ queue: 'q', kind: 'k' });
        await expectError(
          store.taskUpdate({ task: { ...task, id: 'ghost' }, expectedVersion: task.version }),
          'TASK_NOT_FOUND',
          404,
        );
        await expectError(
          store.taskUpdate({ task: { ...task, queue: 'ghost-queue' }, expectedVersion: task.version }),
          'TASK_NOT_FOUND',
          404,
        );
        assert.equal(await store.taskGet({ queue: 'q', id: 'ghost' }), undefined);
        assert.equal(await store.taskGet({ queue: 'ghost-queue', id: task.id }), undefined);
      }),
    );

    it(
      'only one of many concurrent writers with the same expected version succeeds',
      withHarness(options, async ({ engine, store }) => {
        const task = await engine.createTask({ queue: 'q', kind: 'k' });
        const outcomes = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) =>
            store.taskUpdate({ task: { ...task, priority: i }, expectedVersion: task.version }),
          ),
        );
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        assert.equal(won.length, 1);
        for (const o of outcomes) {
          if (o.status === 'rejected') await expectError(Promise.reject(o.reason), 'TASK_VERSION_CONFLICT', 409);
        }
        assertSameRecord(await store.taskGet({ queue: 'q', id: task.id }), won[0]!.value);
      }),
    );

    it('the engine retries a conflicting concurrent write and then succeeds', async () => {
      const writer = withInterferingWriter(3);
      await withHarness(
        options,
        async ({ engine, store }) => {
          await engine.createTask({ queue: 'q', kind: 'k', id: 't' });
          const [claimed] = await claimNow(engine, ['q'], 1);
          assert.ok(claimed);
          const done = await engine.markDone('q', 't', WORKER, { ok: 1 });
          assert.equal(writer.stats.interfered, 3);
          assert.equal(writer.stats.updates, 4, '3 conflicts, then the 4th update succeeds');
          assert.equal(done.state, 'done');
          assertSameRecord(await store.taskGet({ queue: 'q', id: 't' }), done);
        },
        { wrapStore: writer.wrap, settings: { versionConflictRetries: 3 } },
      )();
    });

    it('the engine answers TASK_VERSION_CONFLICT (409) once the configured retries are used up', async () => {
      const writer = withInterferingWriter(1_000);
      await withHarness(
        options,
        async ({ engine, store }) => {
          await engine.createTask({ queue: 'q', kind: 'k', id: 't' });
          const [claimed] = await claimNow(engine, ['q'], 1);
          assert.ok(claimed);
          await expectError(engine.markDone('q', 't', WORKER, undefined), 'TASK_VERSION_CONFLICT', 409);
          assert.equal(writer.stats.updates, 3, 'one try and 2 retries');
          await expectError(engine.reportIn('q', 't', WORKER, undefined), 'TASK_VERSION_CONFLICT', 409);
          await expectError(engine.markFailed('q', 't', WORKER, undefined), 'TASK_VERSION_CONFLICT', 409);
          await expectError(engine.unclaim('q', 't', WORKER), 'TASK_VERSION_CONFLICT', 409);
          assert.equal(writer.stats.updates, 12);
          const stored = await store.taskGet({ queue: 'q', id: 't' });
          assert.equal(stored?.state, 'claimed');
          assert.equal(stored?.lastClaimed?.result, undefined);
          assert.equal(stored?.lastClaimed?.lastReport, undefined);
        },
        { wrapStore: writer.wrap, settings: { versionConflictRetries: 2 } },
      )();
    });
  });
}
