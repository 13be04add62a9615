/**
 * What the leader's recurring scheduler needs from a store (spec §8.2–§8.3, §14.2 "NotLoaded",
 * "MarkLoaded", "OutstandingTasksCount"): the recurring tasks written since the leader last loaded them
 * (soft-deleted ones included), marking them loaded with compare-and-set, the per-recurring-task tick
 * bookkeeping (monotonic), and the outstanding-task count behind skip_if_outstanding_tasks_exist.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskEngine } from '../engine/task-engine.js';
import type { Store } from '../store/store.js';
import type { RecurringTask } from '../types/index.js';
import {
  MINUTE,
  T0,
  WORKER,
  assertNewerVersion,
  assertSameRecord,
  claimNow,
  expectError,
  seedTasks,
  withHarness,
} from './helpers.js';
import type { ConformanceOptions } from './index.js';

function createRecurring(engine: TaskEngine, id: string): Promise<RecurringTask> {
  return engine.createRecurringTask({
    id,
    scheduleExpression: '@every 1m',
    taskDefinition: { queue: 'recurring-q', kind: 'tick' },
  });
}

/** Marks a recurring task loaded the way the leader does: the whole record with `loadedAt`, CAS. */
function markLoaded(store: Store, task: RecurringTask, now: number): Promise<RecurringTask> {
  const { version, ...record } = task;
  return store.recurringTaskUpdate({ task: { ...record, loadedAt: now }, expectedVersion: version });
}

export function recurringScheduleTests(options: ConformanceOptions): void {
  describe(`${options.name}: recurring scheduling support`, () => {
    it(
      'lists created recurring tasks as not loaded, sorted by id, until they are marked loaded',
      withHarness(options, async ({ store, engine, clock }) => {
        assert.deepEqual(await store.recurringTaskListNotLoaded(), []);
        const b = await createRecurring(engine, 'b');
        const a = await createRecurring(engine, 'a');
        const c = await createRecurring(engine, 'c');
        const listed = await store.recurringTaskListNotLoaded();
        assert.deepEqual(
          listed.map((t) => t.id),
          ['a', 'b', 'c'],
        );
        for (const t of listed) assert.equal(t.loadedAt, undefined);
        assertSameRecord(listed[0], a);

        clock.advance(MINUTE);
        const loadedB = await markLoaded(store, b, clock.now());
        assertNewerVersion(loadedB.version, b.version);
        assert.equal(loadedB.loadedAt, clock.now());
        assertSameRecord(await store.recurringTaskGet({ id: 'b' }), loadedB);
        assert.deepEqual(
          (await store.recurringTaskListNotLoaded()).map((t) => t.id),
          ['a', 'c'],
        );
        await markLoaded(store, a, clock.now());
        await markLoaded(store, c, clock.now());
        assert.deepEqual(await store.recurringTaskListNotLoaded(), []);
      }),
    );

    it(
      'an update or a soft delete through the engine makes it not loaded again; deleted ones are listed too',
      withHarness(options, async ({ store, engine, clock }) => {
        const kept = await markLoaded(store, await createRecurring(engine, 'kept'), T0);
        await markLoaded(store, await createRecurring(engine, 'changed'), T0);
        await markLoaded(store, await createRecurring(engine, 'deleted'), T0);
        clock.advance(MINUTE);
        await engine.updateRecurringTask('changed', { scheduleExpression: '@every 5m' });
        await engine.deleteRecurringTask('deleted');
        const listed = await store.recurringTaskListNotLoaded();
        assert.deepEqual(
          listed.map((t) => [t.id, t.isDeleted, t.scheduleExpression]),
          [
            ['changed', false, '@every 5m'],
            ['deleted', true, '@every 1m'],
          ],
        );
        assertSameRecord(await store.recurringTaskGet({ id: 'kept' }), kept);
        // The leader marks the soft-deleted one loaded too; it stays hidden from the API.
        for (const t of listed) await markLoaded(store, t, clock.now());
        assert.deepEqual(await store.recurringTaskListNotLoaded(), []);
        assert.equal(await store.recurringTaskGet({ id: 'deleted' }), undefined);
        assert.deepEqual(
          (await store.recurringTaskList()).map((t) => t.id),
          ['changed', 'kept'],
        );
      }),
    );

    it(
      'marking loaded loses against a concurrent write (compare-and-set), which stays not loaded',
      withHarness(options, async ({ store, engine, clock }) => {
        const read = await createRecurring(engine, 'raced');
        clock.advance(MINUTE);
        const updated = await engine.updateRecurringTask('raced', { skipIfOutstandingTasksExist: true });
        await expectError(markLoaded(store, read, clock.now()), 'RECURRING_TASK_VERSION_CONFLICT', 409);
        const [listed] = await store.recurringTaskListNotLoaded();
        assertSameRecord(listed, updated);
      }),
    );

    it(
      'tick bookkeeping: absent until recorded, then the latest tick; an earlier tick never moves it back',
      withHarness(options, async ({ store }) => {
        assert.deepEqual(await store.recurringTaskTickList({ recurringTaskIds: [] }), []);
        assert.deepEqual(await store.recurringTaskTickList({ recurringTaskIds: ['x'] }), []);
        assert.deepEqual(await store.recurringTaskTickRecord({ recurringTaskId: 'x', tickAt: T0 + MINUTE }), {
          recurringTaskId: 'x',
          lastTickAt: T0 + MINUTE,
        });
        assert.deepEqual(await store.recurringTaskTickRecord({ recurringTaskId: 'x', tickAt: T0 + 3 * MINUTE }), {
          recurringTaskId: 'x',
          lastTickAt: T0 + 3 * MINUTE,
        });
        assert.deepEqual(
          await store.recurringTaskTickRecord({ recurringTaskId: 'x', tickAt: T0 + 2 * MINUTE }),
          { recurringTaskId: 'x', lastTickAt: T0 + 3 * MINUTE },
          'a deposed leader recording an older tick',
        );
        await store.recurringTaskTickRecord({ recurringTaskId: 'y', tickAt: T0 });
        await store.recurringTaskTickRecord({ recurringTaskId: 'z', tickAt: T0 + 5 * MINUTE });
        const listed = await store.recurringTaskTickList({ recurringTaskIds: ['x', 'z', 'never'] });
        assert.deepEqual(
          [...listed].sort((p, q) => p.recurringTaskId.localeCompare(q.recurringTaskId)),
          [
            { recurringTaskId: 'x', lastTickAt: T0 + 3 * MINUTE },
            { recurringTaskId: 'z', lastTickAt: T0 + 5 * MINUTE },
          ],
        );
      }),
    );

    it(
      'outstanding count: 0 for an unknown queue; only tasks of that recurring task and queue; queued + claimed + failed',
      withHarness(options, async ({ store, engine }) => {
        assert.equal(await store.taskCountOutstanding({ queue: 'nope', recurringTaskId: 'r' }), 0);
        await seedTasks(engine, 10, { queue: 'rq', recurringTaskId: 'r', retryTimes: 0 });
        await seedTasks(engine, 10, { queue: 'rq', recurringTaskId: 'r', retryTimes: 3 });
        await seedTasks(engine, 3, { queue: 'rq', recurringTaskId: 'other' });
        await seedTasks(engine, 3, { queue: 'rq' });
        await seedTasks(engine, 3, { queue: 'elsewhere', recurringTaskId: 'r' });
        assert.equal(await store.taskCountOutstanding({ queue: 'rq', recurringTaskId: 'r' }), 20);
        assert.equal(await store.taskCountOutstanding({ queue: 'elsewhere', recurringTaskId: 'r' }), 3);

        // Claim every task of the queue; claimed ones still count.
        const claimed = await claimNow(engine, ['rq'], 100);
        assert.equal(claimed.length, 26);
        const mine = claimed.filter((t) => t.recurringTaskId === 'r');
        assert.equal(await store.taskCountOutstanding({ queue: 'rq', recurringTaskId: 'r' }), 20);

        // Each done, or failed to DEAD (retry_times 0), lowers the count by one; failed with retries left does not.
        let expected = 20;
        let retryable = 0;
        for (const task of mine) {
          if (task.retryTimes === 0) {
            const dead = await engine.markFailed(task.queue, task.id, WORKER, undefined);
            assert.equal(dead.state, 'dead');
            expected--;
          } else if (retryable++ % 2 === 0) {
            await engine.markDone(task.queue, task.id, WORKER, undefined);
            expected--;
          } else {
            const failed = await engine.markFailed(task.queue, task.id, WORKER, undefined);
            assert.equal(failed.state, 'failed');
          }
          assert.equal(await store.taskCountOutstanding({ queue: 'rq', recurringTaskId: 'r' }), expected);
        }
        assert.equal(expected, 5, 'the 5 failed tasks with retries left are still outstanding');
      }),
    );
  });
}
