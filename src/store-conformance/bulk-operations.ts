/**
 * Bulk operations (issue 16) over each driver: steps of compare-and-set writes that skip a task written
 * meanwhile, and a takeover of a quiet server's operation that goes on from its cursor.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STALE_AFTER_MS, STEP_SIZE } from '../engine/bulk-operations.js';
import type { Store } from '../store/store.js';
import { SECOND, T0, seedTasks, withHarness } from './helpers.js';
import type { ConformanceOptions } from './index.js';

export function bulkOperationTests(options: ConformanceOptions): void {
  describe(`${options.name}: bulk operations`, () => {
    let raw: Store | undefined;
    let writeBetween = false;
    it(
      'a task written between the listing and the write is skipped and counted; the others change',
      withHarness(
        options,
        async ({ engine, store }) => {
          raw = store;
          const seeded = await seedTasks(engine, 5, { queue: 'q' });
          writeBetween = true;
          const started = await engine.bulk.start('cancel_waiting', { queue: 'q' });
          await engine.bulk.idle();
          writeBetween = false;
          const done = await engine.bulk.get(started.id);
          assert.deepEqual(
            { state: done?.state, total: done?.total, processed: done?.processed, changed: done?.changed, skipped: done?.skipped },
            { state: 'done', total: 5, processed: 5, changed: 4, skipped: 1 },
          );
          const states = await Promise.all(seeded.map(async (t) => (await store.taskGet({ queue: 'q', id: t.id }))?.state));
          assert.deepEqual(states.filter((s) => s === 'dead').length, 4);
          assert.deepEqual(states.filter((s) => s === 'queued').length, 1, 'the one written meanwhile was left alone');
        },
        {
          // A concurrent writer: right after the operation lists its page, someone changes its first task.
          wrapStore: (store) =>
            new Proxy(store, {
              get(target, prop) {
                if (prop === 'taskList') {
                  return async (params: Parameters<Store['taskList']>[0]) => {
                    const page = await target.taskList(params);
                    const first = page.tasks[0];
                    if (writeBetween && first && raw) {
                      writeBetween = false;
                      const { version, ...task } = first;
                      await raw.taskUpdate({ task: { ...task, version, priority: task.priority + 1 }, expectedVersion: version });
                    }
                    return page;
                  };
                }
                const value: unknown = Reflect.get(target, prop, target);
                return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
              },
            }),
        },
      ),
    );

    it(
      "the leader takes over a quiet server's running operation and goes on from its cursor, over several steps",
      withHarness(options, async ({ engine, store, clock }) => {
        const n = STEP_SIZE + 20;
        await engine.createTasks(Array.from({ length: n }, (_, i) => ({ queue: 'q', kind: 'k', id: `t${String(i).padStart(4, '0')}` })));
        const all = (await store.taskList({ queue: 'q', limit: 1000 })).tasks;
        assert.equal(all.length, n);
        const cursorTask = all[9]!; // the dead server had done the first 10 of the listing
        const created = await store.operationCreate({
          operation: {
            id: 'op-orphan',
            kind: 'cancel_waiting',
            filter: { queue: 'q', states: ['queued', 'failed'] },
            state: 'running',
            total: n,
            processed: 10,
            changed: 10,
            skipped: 0,
            cursor: { createdAt: cursorTask.createdAt, queue: cursorTask.queue, id: cursorTask.id },
            ownerId: 'server-gone',
            heartbeatAt: T0,
            createdAt: T0,
            modifiedAt: T0,
          },
        });
        clock.advance(STALE_AFTER_MS - SECOND);
        assert.deepEqual(await engine.bulk.resumeStale(), [], 'not quiet long enough');
        clock.advance(SECOND);
        assert.deepEqual(await engine.bulk.resumeStale(), ['op-orphan']);
        await engine.bulk.idle();
        const done = await engine.bulk.get('op-orphan');
        assert.equal(done?.state, 'done');
        assert.equal(done?.ownerId, engine.bulk.ownerId);
        assert.equal(done?.processed, n);
        assert.equal(done?.changed, n);
        const counts = (await store.queueStatsList({ now: clock.now(), recentWindowMs: SECOND, queues: ['q'] }))[0]?.counts;
        assert.equal(counts?.dead, n - 10, 'the first 10 (before the cursor) were left to the dead server');
        assert.equal(counts?.queued, 10);
        // The old owner's progress save now fails: it would stop.
        const { version: _v, ...record } = created;
        await assert.rejects(store.operationUpdate({ operation: record, expectedVersion: created.version }));
        assert.deepEqual(await engine.bulk.resumeStale(), [], 'a finished operation is not taken over');
      }),
    );
  });
}
