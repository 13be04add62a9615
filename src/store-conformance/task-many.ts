/**
 * Many tasks per call, the store side of the batch endpoints (POST /tasques/batch, PUT /tasques/done):
 * `taskCreateMany`, `taskGetMany` and `taskUpdateMany` answer each item as the single-task method would,
 * with items applied in order and independently of each other; and the engine's `createTasks` and
 * `markDoneMany` built on them answer each item as `createTask` / `markDone` would.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errors } from '../errors/index.js';
import type { Store, TaskUpdateManyParams, TaskWriteResult } from '../store/store.js';
import type { JsonObject, NewTaskRecord, Task } from '../types/index.js';
import {
  OTHER_WORKER,
  SECOND,
  T0,
  WORKER,
  assertNewerVersion,
  assertSameRecord,
  assertSaneVersion,
  claimNow,
  createAndClaim,
  expectError,
  withHarness,
} from './helpers.js';
import type { ConformanceOptions } from './index.js';

/** A complete new-task record, as the engine would build it. */
function record(queue: string, id: string, overrides: Partial<NewTaskRecord> = {}): NewTaskRecord {
  return {
    queue,
    id,
    kind: 'many',
    state: 'queued',
    priority: 0,
    runAt: T0,
    retryTimes: 3,
    attempted: 0,
    processingTimeoutNs: 60 * SECOND * 1_000_000,
    lastEnqueuedAt: T0,
    createdAt: T0,
    modifiedAt: T0,
    ...overrides,
  };
}

/** The task of a successful item, failing the test with the item's error otherwise. */
function taskOf(result: TaskWriteResult | undefined, label = 'item'): Task {
  assert.ok(result, `${label}: no result`);
  assert.equal(result.error, undefined, `${label}: unexpected error ${result.error?.kind}: ${result.error?.message}`);
  assert.ok(result.task, `${label}: no task`);
  return result.task;
}

/** Asserts that an item failed with the registry error `kind` (and its status). */
async function itemError(result: TaskWriteResult | undefined, kind: Parameters<typeof expectError>[1], status: number) {
  assert.ok(result, 'no result');
  assert.equal(result.task, undefined, `expected ${kind}, got a task`);
  await expectError(Promise.reject(result.error), kind, status);
}

const withoutVersion = ({ version: _v, ...rest }: Task): Omit<Task, 'version'> => rest;

export function manyTests(options: ConformanceOptions): void {
  describe(`${options.name}: many tasks per call (taskCreateMany, taskGetMany, taskUpdateMany)`, () => {
    it(
      'taskCreateMany creates every task, in order, each stored as taskCreate would store it',
      withHarness(options, async ({ store, engine }) => {
        const args: JsonObject = { text: 'héllo ✓', list: [1, 'two', { three: 3 }], nothing: null, nested: { a: { b: [] } } };
        const records = [
          record('q', 'a', { args, priority: 1 }),
          record('r', 'b', { context: { from: 'test' }, runAt: T0 + 5 * SECOND }),
          record('q', 'c', { priority: 7, recurringTaskId: 'every-minute' }),
        ];
        const results = await store.taskCreateMany({ tasks: records });
        assert.equal(results.length, 3);
        results.forEach((result, i) => {
          const task = taskOf(result, `tasks[${i}]`);
          assertSaneVersion(task.version);
          assertSameRecord(withoutVersion(task), records[i]);
        });
        for (const result of results) {
          const task = result.task!;
          assertSameRecord(await store.taskGet({ queue: task.queue, id: task.id }), task);
        }
        // Claimable like any other task, in claim order (priority first).
        const claimed = await claimNow(engine, ['q'], 10);
        assert.deepEqual(claimed.map((t) => t.id), ['c', 'a']);
      }),
    );

    it(
      'taskCreateMany answers TASK_ALREADY_EXISTS per item (an existing id, a repeat within the call) and creates the others',
      withHarness(options, async ({ store }) => {
        await store.taskCreate({ task: record('q', 'taken', { args: { first: true } }) });
        const results = await store.taskCreateMany({
          tasks: [
            record('q', 'b', { args: { n: 1 } }),
            record('q', 'taken', { args: { second: true } }),
            record('other', 'taken'), // the same id in another queue is another task
            record('q', 'b', { args: { n: 2 } }),
            record('q', 'c'),
          ],
        });
        taskOf(results[0]);
        await itemError(results[1], 'TASK_ALREADY_EXISTS', 409);
        assert.equal(results[1]!.error!.message, errors.taskAlreadyExists('taken').message);
        taskOf(results[2]);
        await itemError(results[3], 'TASK_ALREADY_EXISTS', 409);
        taskOf(results[4]);
        assert.deepEqual((await store.taskGet({ queue: 'q', id: 'taken' }))?.args, { first: true });
        assert.deepEqual((await store.taskGet({ queue: 'q', id: 'b' }))?.args, { n: 1 });
        assert.ok(await store.taskGet({ queue: 'other', id: 'taken' }));
        assert.ok(await store.taskGet({ queue: 'q', id: 'c' }));
      }),
    );

    it(
      'taskCreateMany of no tasks writes nothing; tasks it created are seen through every instance',
      withHarness(options, async (h) => {
        assert.deepEqual(await h.store.taskCreateMany({ tasks: [] }), []);
        const results = await h.store.taskCreateMany({
          tasks: Array.from({ length: 50 }, (_, i) => record(`q${i % 3}`, `t${i}`)),
        });
        assert.equal(results.filter((r) => r.task).length, 50);
        const peer = (await h.peer()) ?? h.store;
        const seen = await peer.taskGetMany({ keys: results.map((r) => r.task!) });
        assert.equal(seen.filter((t) => t !== undefined).length, 50);
        const claimed = await claimNow(h.engineOn(peer), [], 100);
        assert.equal(claimed.length, 50);
      }),
    );

    it(
      'taskGetMany answers in key order: the task, or undefined; repeated keys repeat',
      withHarness(options, async ({ store, engine }) => {
        const a = await engine.createTask({ queue: 'q', kind: 'k', id: 'a', args: { a: 1 } });
        const b = await engine.createTask({ queue: 'r', kind: 'k', id: 'b' });
        assert.deepEqual(await store.taskGetMany({ keys: [] }), []);
        const got = await store.taskGetMany({
          keys: [
            { queue: 'r', id: 'b' },
            { queue: 'q', id: 'missing' },
            { queue: 'q', id: 'a' },
            { queue: 'nowhere', id: 'a' },
            { queue: 'r', id: 'b' },
          ],
        });
        assert.equal(got.length, 5);
        assertSameRecord(got[0], b);
        assert.equal(got[1], undefined);
        assertSameRecord(got[2], a);
        assert.equal(got[3], undefined);
        assertSameRecord(got[4], b);
      }),
    );

    it(
      'taskUpdateMany writes each item with compare-and-set: success, stale version, missing task, independently',
      withHarness(options, async ({ store, engine }) => {
        const [t1, t2, t3] = await Promise.all(
          ['t1', 't2', 't3'].map((id) => engine.createTask({ queue: 'q', kind: 'k', id })),
        );
        const t2moved = await store.taskUpdate({ task: { ...t2!, priority: 5 }, expectedVersion: t2!.version });
        const results = await store.taskUpdateMany({
          updates: [
            { task: { ...t1!, priority: 1, args: { n: 1 }, modifiedAt: T0 + 1 }, expectedVersion: t1!.version },
            { task: { ...t2!, priority: 2 }, expectedVersion: t2!.version },
            { task: { ...t3!, id: 'ghost' }, expectedVersion: t3!.version },
            { task: { ...t3!, priority: 3 }, expectedVersion: t3!.version },
          ],
        });
        assert.equal(results.length, 4);
        const u1 = taskOf(results[0]);
        assertNewerVersion(u1.version, t1!.version);
        assertSameRecord(withoutVersion(u1), withoutVersion({ ...t1!, priority: 1, args: { n: 1 }, modifiedAt: T0 + 1 }));
        assertSameRecord(await store.taskGet({ queue: 'q', id: 't1' }), u1);
        await itemError(results[1], 'TASK_VERSION_CONFLICT', 409);
        assertSameRecord(await store.taskGet({ queue: 'q', id: 't2' }), t2moved);
        await itemError(results[2], 'TASK_NOT_FOUND', 404);
        assert.equal(await store.taskGet({ queue: 'q', id: 'ghost' }), undefined);
        const u3 = taskOf(results[3]);
        assertNewerVersion(u3.version, t3!.version);
        assertSameRecord(await store.taskGet({ queue: 'q', id: 't3' }), u3);
        assert.deepEqual(await store.taskUpdateMany({ updates: [] }), []);
      }),
    );

    it(
      'taskUpdateMany applies items in order: of two writes with the same expected version, the first wins',
      withHarness(options, async ({ store, engine }) => {
        const task = await engine.createTask({ queue: 'q', kind: 'k', id: 't' });
        const results = await store.taskUpdateMany({
          updates: [
            { task: { ...task, priority: 1 }, expectedVersion: task.version },
            { task: { ...task, priority: 2 }, expectedVersion: task.version },
          ],
        });
        const first = taskOf(results[0]);
        await itemError(results[1], 'TASK_VERSION_CONFLICT', 409);
        assert.equal(first.priority, 1);
        assertSameRecord(await store.taskGet({ queue: 'q', id: 't' }), first);
        // The version it returned is the one stored: it works as the next expected version.
        const again = await store.taskUpdateMany({ updates: [{ task: { ...first, priority: 3 }, expectedVersion: first.version }] });
        assert.equal(taskOf(again[0]).priority, 3);
      }),
    );

    it(
      'concurrent taskUpdateMany calls with the same expected versions: each task is written by exactly one',
      withHarness(options, async ({ store, engine }) => {
        const tasks = await Promise.all(['a', 'b', 'c'].map((id) => engine.createTask({ queue: 'q', kind: 'k', id })));
        const batch = (priority: number): TaskUpdateManyParams => ({
          updates: tasks.map((t) => ({ task: { ...t, priority }, expectedVersion: t.version })),
        });
        const outcomes = await Promise.all([store.taskUpdateMany(batch(1)), store.taskUpdateMany(batch(2))]);
        for (let i = 0; i < tasks.length; i++) {
          const won = outcomes.filter((results) => results[i]!.task !== undefined);
          assert.equal(won.length, 1, `task ${tasks[i]!.id}: exactly one writer wins`);
          const lost = outcomes.find((results) => results[i]!.task === undefined)!;
          await itemError(lost[i], 'TASK_VERSION_CONFLICT', 409);
          assertSameRecord(await store.taskGet({ queue: 'q', id: tasks[i]!.id }), won[0]![i]!.task);
        }
      }),
    );
  });

  describe(`${options.name}: engine createTasks and markDoneMany`, () => {
    it(
      'createTasks fills the defaults as createTask does and answers each item; waiting claims find the tasks',
      withHarness(options, async ({ engine, store, settings }) => {
        const results = await engine.createTasks([
          { queue: 'q', kind: 'a', id: 'one', args: { n: 1 } },
          { queue: 'q', kind: 'b', id: 'one' },
          { queue: 'q', kind: 'c' },
        ]);
        const one = taskOf(results[0]);
        assert.equal(one.retryTimes, settings.defaultRetryTimes);
        assert.equal(one.processingTimeoutNs, settings.defaultProcessingTimeoutNs);
        assert.equal(one.priority, 0);
        assert.equal(one.runAt, T0);
        assert.equal(one.state, 'queued');
        await itemError(results[1], 'TASK_ALREADY_EXISTS', 409);
        const generated = taskOf(results[2]);
        assert.match(generated.id, /^[0-9a-f]{32}$/);
        assertSameRecord(await store.taskGet({ queue: 'q', id: generated.id }), generated);
        assert.equal((await claimNow(engine, ['q'], 10)).length, 2);
      }),
    );

    it(
      'markDoneMany answers each item as markDone would, in order: done, 403, 404, 400 (queued), 400 (named twice)',
      withHarness(options, async ({ engine, store, clock }) => {
        const mine = await createAndClaim(engine, { queue: 'q', id: 'mine' });
        const theirs = await createAndClaim(engine, { queue: 'q', id: 'theirs' }, OTHER_WORKER);
        const queued = await engine.createTask({ queue: 'q', kind: 'k', id: 'queued' });
        clock.advance(2 * SECOND);
        const results = await engine.markDoneMany(
          [
            { queue: 'q', id: 'mine', data: { ok: true } },
            { queue: 'q', id: 'theirs' },
            { queue: 'q', id: 'missing' },
            { queue: 'q', id: 'queued' },
            { queue: 'q', id: 'mine', data: { again: true } },
          ],
          WORKER,
        );
        const done = taskOf(results[0]);
        assert.equal(done.state, 'done');
        assert.deepEqual(done.lastClaimed?.result, { at: T0 + 2 * SECOND, success: { ok: true } });
        assertNewerVersion(done.version, mine.version);
        assertSameRecord(await store.taskGet({ queue: 'q', id: 'mine' }), done);
        await itemError(results[1], 'TASK_NOT_OWNED_BY_WORKER', 403);
        await itemError(results[2], 'TASK_NOT_FOUND', 404);
        await itemError(results[3], 'TASK_NOT_CLAIMED', 400);
        await itemError(results[4], 'TASK_NOT_CLAIMED', 400);
        assertSameRecord(await store.taskGet({ queue: 'q', id: 'theirs' }), theirs);
        assertSameRecord(await store.taskGet({ queue: 'q', id: 'queued' }), queued);
      }),
    );

    it('markDoneMany completes an item whose write met a concurrent one, the single-task way', async () => {
      // Before the engine's many-write, another party rewrites one of the tasks (unchanged: only its
      // version moves), as a second server could between the engine's read and its compare-and-set.
      const stats = { manyWrites: 0 };
      const wrap = (store: Store): Store =>
        new Proxy(store, {
          get(target, prop) {
            if (prop === 'taskUpdateMany') {
              return async (params: TaskUpdateManyParams) => {
                if (stats.manyWrites++ === 0) {
                  const victim = params.updates[1]!.task;
                  const current = await target.taskGet({ queue: victim.queue, id: victim.id });
                  assert.ok(current);
                  await target.taskUpdate({ task: current, expectedVersion: current.version });
                }
                return target.taskUpdateMany(params);
              };
            }
            const value: unknown = Reflect.get(target, prop, target);
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
      await withHarness(
        options,
        async ({ engine, store }) => {
          for (const id of ['a', 'b', 'c']) await createAndClaim(engine, { queue: 'q', id });
          const results = await engine.markDoneMany(
            ['a', 'b', 'c'].map((id) => ({ queue: 'q', id, data: { id } })),
            WORKER,
          );
          for (const [i, id] of ['a', 'b', 'c'].entries()) {
            const task = taskOf(results[i], id);
            assert.equal(task.state, 'done');
            assert.deepEqual(task.lastClaimed?.result?.success, { id });
            assertSameRecord(await store.taskGet({ queue: 'q', id }), task);
          }
          assert.equal(stats.manyWrites, 1);
        },
        { wrapStore: wrap },
      )();
    });

    it(
      'markDoneMany and markDone racing on one task: exactly one wins, the other gets TASK_NOT_CLAIMED',
      withHarness(options, async ({ engine, store }) => {
        const claimed = await createAndClaim(engine, { queue: 'q', id: 't' });
        const [many, single] = await Promise.allSettled([
          engine.markDoneMany([{ queue: 'q', id: 't', data: { by: 'many' } }], WORKER),
          engine.markDone('q', 't', WORKER, { by: 'single' }),
        ]);
        assert.equal(many.status, 'fulfilled');
        const manyResult = (many as PromiseFulfilledResult<TaskWriteResult[]>).value[0]!;
        const winners = [manyResult.task, single.status === 'fulfilled' ? single.value : undefined].filter(Boolean);
        assert.equal(winners.length, 1, 'exactly one of the two completes the task');
        if (manyResult.task) {
          await expectError(Promise.reject((single as PromiseRejectedResult).reason), 'TASK_NOT_CLAIMED', 400);
        } else {
          await itemError(manyResult, 'TASK_NOT_CLAIMED', 400);
        }
        assertSameRecord(await store.taskGet({ queue: 'q', id: 't' }), winners[0]);
        assert.equal(claimed.state, 'claimed');
      }),
    );
  });
}
