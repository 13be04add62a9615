/**
 * Recurring tasks (spec §1.3, §1.4, §2.4, §8.3 loaded_at, §8.4 soft delete, §14.2 recurring_service_test).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecurringTask } from '../types/index.js';
import {
  MINUTE,
  NS_PER_MS,
  SECOND,
  T0,
  assertNewerVersion,
  assertSameRecord,
  assertSaneVersion,
  expectError,
  plain,
  withHarness,
} from './helpers.js';
import type { ConformanceOptions } from './index.js';

const DEFAULT_DEFINITION = {
  queue: 'q',
  kind: 'k',
  retryTimes: 25,
  priority: 0,
  processingTimeoutNs: 30 * MINUTE * NS_PER_MS,
};

export function recurringTests(options: ConformanceOptions): void {
  describe(`${options.name}: recurring tasks`, () => {
    it(
      'creates with defaults filled in: skip false, retry_times 25, priority 0, 30m, not deleted, not loaded',
      withHarness(options, async ({ engine, store, clock }) => {
        clock.advance(SECOND);
        const created = await engine.createRecurringTask({
          id: 'every-minute',
          scheduleExpression: '@every 1m',
          taskDefinition: { queue: 'q', kind: 'k' },
        });
        assert.deepEqual(plain(created), {
          id: 'every-minute',
          scheduleExpression: '@every 1m',
          skipIfOutstandingTasksExist: false,
          taskDefinition: DEFAULT_DEFINITION,
          isDeleted: false,
          createdAt: T0 + SECOND,
          modifiedAt: T0 + SECOND,
          version: created.version,
        });
        assertSaneVersion(created.version);
        assertSameRecord(await store.recurringTaskGet({ id: 'every-minute' }), created);
        assertSameRecord(await engine.getRecurringTask('every-minute'), created);
      }),
    );

    it(
      'round-trips a full definition: skip flag, priority, retries, timeout, args and context',
      withHarness(options, async ({ engine, store }) => {
        const created = await engine.createRecurringTask({
          id: 'full',
          scheduleExpression: '0,5,10 * * * *',
          skipIfOutstandingTasksExist: true,
          taskDefinition: {
            queue: 'reports',
            kind: 'build-report',
            retryTimes: 0,
            priority: -2,
            processingTimeoutNs: 1_500_000_000,
            args: { user: 'ü', list: [1, { a: null }], empty: {} },
            context: { trace: 'abc' },
          },
        });
        const stored = await store.recurringTaskGet({ id: 'full' });
        assert.ok(stored);
        assertSameRecord(stored, created);
        assert.equal(stored.skipIfOutstandingTasksExist, true);
        assert.deepEqual(plain(stored.taskDefinition), {
          queue: 'reports',
          kind: 'build-report',
          retryTimes: 0,
          priority: -2,
          processingTimeoutNs: 1_500_000_000,
          args: { user: 'ü', list: [1, { a: null }], empty: {} },
          context: { trace: 'abc' },
        });
      }),
    );

    it(
      'rejects a live id with RECURRING_TASK_ALREADY_EXISTS (409) and keeps the original',
      withHarness(options, async ({ engine, store }) => {
        const original = await engine.createRecurringTask({
          id: 'dup',
          scheduleExpression: '@hourly',
          taskDefinition: { queue: 'q', kind: 'original' },
        });
        const err = await expectError(
          engine.createRecurringTask({ id: 'dup', scheduleExpression: '@daily', taskDefinition: { queue: 'q', kind: 'x' } }),
          'RECURRING_TASK_ALREADY_EXISTS',
          409,
        );
        assert.equal(err.message, 'Id already exists [dup]');
        const { version: _v, ...record } = original;
        await expectError(
          store.recurringTaskCreate({ task: { ...record, scheduleExpression: '@weekly' } }),
          'RECURRING_TASK_ALREADY_EXISTS',
          409,
        );
        assertSameRecord(await store.recurringTaskGet({ id: 'dup' }), original);
      }),
    );

    it(
      're-creates over a soft-deleted id: a fresh record with a newer version; the old version is stale',
      withHarness(options, async ({ engine, store, clock }) => {
        await engine.createRecurringTask({ id: 'again', scheduleExpression: '@hourly', taskDefinition: { queue: 'q', kind: 'old' } });
        clock.advance(SECOND);
        const deleted = await engine.deleteRecurringTask('again');
        clock.advance(SECOND);
        const recreated = await engine.createRecurringTask({
          id: 'again',
          scheduleExpression: '@daily',
          taskDefinition: { queue: 'q2', kind: 'new' },
        });
        assert.deepEqual(plain(recreated), {
          id: 'again',
          scheduleExpression: '@daily',
          skipIfOutstandingTasksExist: false,
          taskDefinition: { ...DEFAULT_DEFINITION, queue: 'q2', kind: 'new' },
          isDeleted: false,
          createdAt: T0 + 2 * SECOND,
          modifiedAt: T0 + 2 * SECOND,
          version: recreated.version,
        });
        assertNewerVersion(recreated.version, deleted.version);
        assertSameRecord(await store.recurringTaskGet({ id: 'again' }), recreated);
        assert.deepEqual(
          (await store.recurringTaskList()).map((r) => r.id),
          ['again'],
        );
        // A writer still holding the deleted record's version must not win.
        const { version: _v, ...stale } = deleted;
        await expectError(
          store.recurringTaskUpdate({ task: { ...stale, isDeleted: true }, expectedVersion: deleted.version }),
          'RECURRING_TASK_VERSION_CONFLICT',
          409,
        );
        assertSameRecord(await store.recurringTaskGet({ id: 'again' }), recreated);
      }),
    );

    it(
      'get: undefined / RECURRING_TASK_NOT_FOUND (404) when missing; soft-deleted hidden unless includeDeleted',
      withHarness(options, async ({ engine, store }) => {
        assert.equal(await store.recurringTaskGet({ id: 'missing' }), undefined);
        assert.equal(await store.recurringTaskGet({ id: 'missing', includeDeleted: true }), undefined);
        const err = await expectError(engine.getRecurringTask('missing'), 'RECURRING_TASK_NOT_FOUND', 404);
        assert.equal(err.message, 'Could not find [missing]');
        await engine.createRecurringTask({ id: 'gone', scheduleExpression: '@hourly', taskDefinition: { queue: 'q', kind: 'k' } });
        const deleted = await engine.deleteRecurringTask('gone');
        assert.equal(await store.recurringTaskGet({ id: 'gone' }), undefined);
        assert.equal(await store.recurringTaskGet({ id: 'gone', includeDeleted: false }), undefined);
        await expectError(engine.getRecurringTask('gone'), 'RECURRING_TASK_NOT_FOUND', 404);
        const withDeleted = await store.recurringTaskGet({ id: 'gone', includeDeleted: true });
        assert.ok(withDeleted);
        assert.equal(withDeleted.isDeleted, true);
        assertSameRecord(withDeleted, deleted);
      }),
    );

    it(
      'list: [] when empty; every live recurring task sorted by id (code-point order), none deleted',
      withHarness(options, async ({ engine, store }) => {
        assert.deepEqual(await store.recurringTaskList(), []);
        assert.deepEqual(await engine.listRecurringTasks(), []);
        const created = new Map<string, RecurringTask>();
        for (const id of ['task-2', 'alpha', 'Task-1', 'task-10', 'deleted-1', 'beta', 'deleted-2', '0-first']) {
          created.set(
            id,
            await engine.createRecurringTask({ id, scheduleExpression: '@hourly', taskDefinition: { queue: 'q', kind: id } }),
          );
        }
        await engine.deleteRecurringTask('deleted-1');
        await engine.deleteRecurringTask('deleted-2');
        const listed = await store.recurringTaskList();
        assert.deepEqual(
          listed.map((r) => r.id),
          ['0-first', 'Task-1', 'alpha', 'beta', 'task-10', 'task-2'],
        );
        for (const r of listed) {
          assert.equal(r.isDeleted, false);
          assertSameRecord(r, created.get(r.id));
        }
        assertSameRecord(await engine.listRecurringTasks(), listed);
      }),
    );

    it(
      'list returns every one of many recurring tasks (no silent page limit)',
      withHarness(options, async ({ engine, store }) => {
        const expected: string[] = [];
        for (let i = 0; i < 150; i++) {
          const id = `r-${String(i).padStart(3, '0')}`;
          expected.push(id);
          await engine.createRecurringTask({ id, scheduleExpression: '@hourly', taskDefinition: { queue: 'q', kind: 'k' } });
        }
        await engine.deleteRecurringTask('r-077');
        const listed = await store.recurringTaskList();
        assert.deepEqual(
          listed.map((r) => r.id),
          expected.filter((id) => id !== 'r-077'),
        );
      }),
    );

    it(
      'update replaces the given fields, re-applies definition defaults, clears loaded_at and moves the version',
      withHarness(options, async ({ engine, store, clock }) => {
        const created = await engine.createRecurringTask({
          id: 'r',
          scheduleExpression: '@hourly',
          taskDefinition: { queue: 'q', kind: 'k', priority: 5, retryTimes: 3, args: { a: 1 } },
        });
        // The leader marks it loaded (a plain store update with loadedAt).
        clock.advance(SECOND);
        const { version: _v, ...record } = created;
        const loaded = await store.recurringTaskUpdate({
          task: { ...record, loadedAt: clock.now(), modifiedAt: clock.now() },
          expectedVersion: created.version,
        });
        assert.equal(loaded.loadedAt, T0 + SECOND);
        assert.equal((await store.recurringTaskGet({ id: 'r' }))?.loadedAt, T0 + SECOND);
        assertNewerVersion(loaded.version, created.version);

        clock.advance(SECOND);
        const updated = await engine.updateRecurringTask('r', {
          scheduleExpression: '*/5 * * * *',
          skipIfOutstandingTasksExist: true,
          taskDefinition: { queue: 'other', kind: 'k2' },
        });
        assert.deepEqual(plain(updated), {
          id: 'r',
          scheduleExpression: '*/5 * * * *',
          skipIfOutstandingTasksExist: true,
          // The whole definition is replaced: priority, retries and args do not survive.
          taskDefinition: { ...DEFAULT_DEFINITION, queue: 'other', kind: 'k2' },
          isDeleted: false,
          createdAt: T0,
          modifiedAt: T0 + 2 * SECOND,
          version: updated.version,
        });
        assert.equal(updated.loadedAt, undefined);
        assertNewerVersion(updated.version, loaded.version);
        assertSameRecord(await store.recurringTaskGet({ id: 'r' }), updated);
      }),
    );

    it(
      'update keeps the fields a patch omits',
      withHarness(options, async ({ engine, store }) => {
        const created = await engine.createRecurringTask({
          id: 'r',
          scheduleExpression: '@hourly',
          skipIfOutstandingTasksExist: true,
          taskDefinition: { queue: 'q', kind: 'k', priority: 5, args: { a: 1 } },
        });
        const onlySchedule = await engine.updateRecurringTask('r', { scheduleExpression: '@daily' });
        assert.equal(onlySchedule.scheduleExpression, '@daily');
        assert.equal(onlySchedule.skipIfOutstandingTasksExist, true);
        assertSameRecord(onlySchedule.taskDefinition, created.taskDefinition);
        const onlyFlag = await engine.updateRecurringTask('r', { skipIfOutstandingTasksExist: false });
        assert.equal(onlyFlag.scheduleExpression, '@daily');
        assert.equal(onlyFlag.skipIfOutstandingTasksExist, false);
        assertSameRecord(onlyFlag.taskDefinition, created.taskDefinition);
        assertSameRecord(await store.recurringTaskGet({ id: 'r' }), onlyFlag);
      }),
    );

    it(
      'store update: RECURRING_TASK_VERSION_CONFLICT (409) for a stale version and for a missing id',
      withHarness(options, async ({ engine, store }) => {
        const created = await engine.createRecurringTask({ id: 'r', scheduleExpression: '@hourly', taskDefinition: { queue: 'q', kind: 'k' } });
        const { version: _v, ...record } = created;
        const first = await store.recurringTaskUpdate({
          task: { ...record, scheduleExpression: '@daily' },
          expectedVersion: created.version,
        });
        await expectError(
          store.recurringTaskUpdate({ task: { ...record, scheduleExpression: '@weekly' }, expectedVersion: created.version }),
          'RECURRING_TASK_VERSION_CONFLICT',
          409,
        );
        assertSameRecord(await store.recurringTaskGet({ id: 'r' }), first);
        await expectError(
          store.recurringTaskUpdate({ task: { ...record, id: 'ghost' }, expectedVersion: created.version }),
          'RECURRING_TASK_VERSION_CONFLICT',
          409,
        );
        assert.equal(await store.recurringTaskGet({ id: 'ghost', includeDeleted: true }), undefined);
      }),
    );

    it(
      'concurrent engine updates all succeed, each on its own version (conflicts are retried)',
      withHarness(options, async ({ engine, store }) => {
        await engine.createRecurringTask({ id: 'r', scheduleExpression: '@hourly', taskDefinition: { queue: 'q', kind: 'k' } });
        const schedules = ['@daily', '@weekly', '@monthly', '@yearly', '*/2 * * * *'];
        const results = await Promise.all(schedules.map((s) => engine.updateRecurringTask('r', { scheduleExpression: s })));
        const versions = new Set(results.map((r) => `${r.version.primaryTerm}:${r.version.seqNum}`));
        assert.equal(versions.size, schedules.length, 'two updates succeeded on the same version');
        const stored = await store.recurringTaskGet({ id: 'r' });
        assert.ok(stored);
        const winner = results.find((r) => r.scheduleExpression === stored.scheduleExpression);
        assert.ok(winner);
        assertSameRecord(stored, winner);
      }),
    );

    it(
      'engine update of a missing or soft-deleted id: RECURRING_TASK_NOT_FOUND (404)',
      withHarness(options, async ({ engine, store }) => {
        await expectError(engine.updateRecurringTask('missing', { scheduleExpression: '@daily' }), 'RECURRING_TASK_NOT_FOUND', 404);
        await engine.createRecurringTask({ id: 'gone', scheduleExpression: '@hourly', taskDefinition: { queue: 'q', kind: 'k' } });
        const deleted = await engine.deleteRecurringTask('gone');
        await expectError(engine.updateRecurringTask('gone', { scheduleExpression: '@daily' }), 'RECURRING_TASK_NOT_FOUND', 404);
        assertSameRecord(await store.recurringTaskGet({ id: 'gone', includeDeleted: true }), deleted);
      }),
    );

    it(
      'delete soft-deletes (hidden, kept, loaded_at cleared); a second delete and a missing id are 404',
      withHarness(options, async ({ engine, store, clock }) => {
        const created = await engine.createRecurringTask({
          id: 'r',
          scheduleExpression: '@hourly',
          taskDefinition: { queue: 'q', kind: 'k' },
        });
        const { version: _v, ...record } = created;
        const loaded = await store.recurringTaskUpdate({ task: { ...record, loadedAt: T0 }, expectedVersion: created.version });
        clock.advance(5 * SECOND);
        const deleted = await engine.deleteRecurringTask('r');
        assert.equal(deleted.isDeleted, true);
        assert.equal(deleted.loadedAt, undefined);
        assert.equal(deleted.modifiedAt, T0 + 5 * SECOND);
        assert.equal(deleted.createdAt, T0);
        assert.equal(deleted.scheduleExpression, '@hourly');
        assertNewerVersion(deleted.version, loaded.version);
        assert.equal(await store.recurringTaskGet({ id: 'r' }), undefined);
        assert.deepEqual(await store.recurringTaskList(), []);
        assertSameRecord(await store.recurringTaskGet({ id: 'r', includeDeleted: true }), deleted);
        await expectError(engine.deleteRecurringTask('r'), 'RECURRING_TASK_NOT_FOUND', 404);
        await expectError(engine.deleteRecurringTask('never-existed'), 'RECURRING_TASK_NOT_FOUND', 404);
        assertSameRecord(await store.recurringTaskGet({ id: 'r', includeDeleted: true }), deleted);
      }),
    );

    it(
      'pause and resume (issue 16): pausedAt is stored, kept by v1 updates, cleared by resume; idempotent',
      withHarness(options, async ({ engine, store, clock }) => {
        await engine.createRecurringTask({ id: 'p', scheduleExpression: '@every 1m', taskDefinition: { queue: 'q', kind: 'k' } });
        clock.advance(SECOND);
        const paused = await engine.setRecurringTaskPaused('p', true);
        assert.equal(paused.pausedAt, T0 + SECOND);
        assert.equal(paused.loadedAt, undefined, 'the leader reloads it');
        assertSameRecord(await store.recurringTaskGet({ id: 'p' }), paused);
        clock.advance(SECOND);
        assertSameRecord(await engine.setRecurringTaskPaused('p', true), paused);
        const updated = await engine.updateRecurringTask('p', { scheduleExpression: '@every 2m' });
        assert.equal(updated.pausedAt, T0 + SECOND, 'a v1 update keeps the pause');
        assert.equal((await store.recurringTaskList())[0]?.pausedAt, T0 + SECOND);
        const resumed = await engine.setRecurringTaskPaused('p', false);
        assert.equal(resumed.pausedAt, undefined);
        assertNewerVersion(resumed.version, updated.version);
        assert.equal((await store.recurringTaskGet({ id: 'p' }))?.pausedAt, undefined);
        await expectError(engine.setRecurringTaskPaused('missing', true), 'RECURRING_TASK_NOT_FOUND', 404);
      }),
    );

    it(
      'run now (issue 16): enqueues from the definition with recurringTaskId; refuses while outstanding if skip is set',
      withHarness(options, async ({ engine }) => {
        await engine.createRecurringTask({
          id: 'r',
          scheduleExpression: '@every 1h',
          skipIfOutstandingTasksExist: true,
          taskDefinition: { queue: 'rq', kind: 'rk', priority: 4, args: { a: 1 } },
        });
        await engine.setRecurringTaskPaused('r', true);
        const task = await engine.runRecurringTaskNow('r');
        assert.equal(task.queue, 'rq');
        assert.equal(task.kind, 'rk');
        assert.equal(task.priority, 4);
        assert.deepEqual(task.args, { a: 1 });
        assert.equal(task.recurringTaskId, 'r');
        assert.equal(task.state, 'queued');
        await expectError(engine.runRecurringTaskNow('r'), 'RECURRING_TASK_OUTSTANDING', 409);
        await engine.updateRecurringTask('r', { skipIfOutstandingTasksExist: false });
        const second = await engine.runRecurringTaskNow('r');
        assert.notEqual(second.id, task.id);
        await expectError(engine.runRecurringTaskNow('missing'), 'RECURRING_TASK_NOT_FOUND', 404);
      }),
    );

    it(
      'the schedule lists the next five fire times from the upcoming tick',
      withHarness(options, async ({ engine, clock }) => {
        await engine.createRecurringTask({ id: 's', scheduleExpression: '*/15 * * * *', taskDefinition: { queue: 'q', kind: 'k' } });
        clock.advance(MINUTE);
        const [schedule] = await engine.listSchedules();
        assert.deepEqual(schedule?.nextRunTimes, [15, 30, 45, 60, 75].map((m) => T0 + m * MINUTE));
        assert.equal(schedule?.nextRunAt, T0 + 15 * MINUTE);
      }),
    );
  });
}
