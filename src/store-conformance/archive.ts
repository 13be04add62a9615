/**
 * Archiving (spec §7, §9.2, §14.2 "Archive"): DONE and DEAD tasks that finished at or before a cutoff
 * leave the live store for the archive unchanged, which frees their ids; archived tasks can be read back,
 * and deleted by finish time (retention). Concurrent archivers never archive a task twice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../store/store.js';
import type { Task } from '../types/index.js';
import {
  HOUR,
  MINUTE,
  T0,
  WORKER,
  assertSameRecord,
  createAndClaim,
  expectError,
  seedTasks,
  withHarness,
  type Harness,
} from './helpers.js';
import type { ConformanceOptions } from './index.js';

/** A task claimed and finished at the current clock time: done, or dead (retry_times 0, then failed). */
async function finished(h: Harness, queue: string, id: string, how: 'done' | 'dead'): Promise<Task> {
  await createAndClaim(h.engine, { queue, id, retryTimes: 0 });
  return how === 'done'
    ? h.engine.markDone(queue, id, WORKER, { result: id })
    : h.engine.markFailed(queue, id, WORKER, { error: id });
}

/** Archives until nothing is left (as the archiver does), returning the total. */
async function archiveAll(store: Store, finishedBefore: number, now: number, limit = 100): Promise<number> {
  let total = 0;
  for (;;) {
    const { archived } = await store.taskArchive({ finishedBefore, limit, now });
    total += archived;
    if (archived < limit) return total;
  }
}

export function archiveTests(options: ConformanceOptions): void {
  describe(`${options.name}: archive`, () => {
    it(
      'archives nothing on an empty store; archivedTaskGet of an unknown task is undefined',
      withHarness(options, async ({ store }) => {
        assert.deepEqual(await store.taskArchive({ finishedBefore: T0 + HOUR, limit: 10, now: T0 + HOUR }), {
          archived: 0,
        });
        assert.equal(await store.archivedTaskGet({ queue: 'q', id: 'nope' }), undefined);
        assert.deepEqual(await store.archivedTaskDeleteBefore({ finishedBefore: T0 + HOUR, limit: 10 }), { deleted: 0 });
      }),
    );

    it(
      'moves done and dead tasks out of the live store unchanged; they can be read back from the archive',
      withHarness(options, async (h) => {
        const done = await finished(h, 'arch', 'done-1', 'done');
        const dead = await finished(h, 'arch', 'dead-1', 'dead');
        assert.equal(done.state, 'done');
        assert.equal(dead.state, 'dead');
        h.clock.advance(HOUR);
        const result = await h.store.taskArchive({ finishedBefore: h.clock.now(), limit: 10, now: h.clock.now() });
        assert.deepEqual(result, { archived: 2 });
        for (const task of [done, dead]) {
          assert.equal(await h.store.taskGet({ queue: task.queue, id: task.id }), undefined, `${task.id} left the live store`);
          assertSameRecord(await h.store.archivedTaskGet({ queue: task.queue, id: task.id }), task);
        }
        assert.equal(await h.store.archivedTaskGet({ queue: 'other', id: 'done-1' }), undefined, 'archive is per queue');
      }),
    );

    it(
      'never archives queued, claimed or failed tasks, nor ones that finished after the cutoff',
      withHarness(options, async (h) => {
        await seedTasks(h.engine, 2, { queue: 'live', id: 'queued' });
        const claimed = await createAndClaim(h.engine, { queue: 'live-claimed', id: 'claimed' });
        const failing = await createAndClaim(h.engine, { queue: 'live-failed', id: 'failed', retryTimes: 3 });
        const failed = await h.engine.markFailed(failing.queue, failing.id, WORKER, undefined);
        assert.equal(failed.state, 'failed');
        const old = await finished(h, 'arch', 'old', 'done');
        h.clock.advance(HOUR);
        const recent = await finished(h, 'arch', 'recent', 'done');
        const cutoff = h.clock.now() - 1; // `recent` finished after it, `old` an hour before
        h.clock.advance(100 * HOUR);
        assert.deepEqual(await h.store.taskArchive({ finishedBefore: cutoff, limit: 10, now: h.clock.now() }), {
          archived: 1,
        });
        assert.equal(await h.store.taskGet({ queue: 'arch', id: 'old' }), undefined);
        assertSameRecord(await h.store.archivedTaskGet({ queue: 'arch', id: 'old' }), old);
        assertSameRecord(await h.store.taskGet({ queue: 'arch', id: 'recent' }), recent);
        assert.equal(await h.store.archivedTaskGet({ queue: 'arch', id: 'recent' }), undefined);
        for (const [queue, id] of [
          ['live', 'queued-0'],
          ['live', 'queued-1'],
          [claimed.queue, claimed.id],
          [failed.queue, failed.id],
        ] as const) {
          assert.ok(await h.store.taskGet({ queue, id }), `${queue}/${id} stays live`);
          assert.equal(await h.store.archivedTaskGet({ queue, id }), undefined);
        }
        // The cutoff is inclusive: finished exactly at it counts.
        assert.deepEqual(
          await h.store.taskArchive({ finishedBefore: recent.lastClaimed!.result!.at, limit: 10, now: h.clock.now() }),
          { archived: 1 },
        );
      }),
    );

    it(
      'archives at most `limit` per call, oldest finish first',
      withHarness(options, async (h) => {
        for (let i = 0; i < 5; i++) {
          await finished(h, 'batch', `t${i}`, i % 2 === 0 ? 'done' : 'dead');
          h.clock.advance(MINUTE);
        }
        const now = h.clock.now() + HOUR;
        assert.deepEqual(await h.store.taskArchive({ finishedBefore: now, limit: 2, now }), { archived: 2 });
        const live = async () => {
          const out: string[] = [];
          for (let i = 0; i < 5; i++) if (await h.store.taskGet({ queue: 'batch', id: `t${i}` })) out.push(`t${i}`);
          return out;
        };
        assert.deepEqual(await live(), ['t2', 't3', 't4']);
        assert.deepEqual(await h.store.taskArchive({ finishedBefore: now, limit: 2, now }), { archived: 2 });
        assert.deepEqual(await live(), ['t4']);
        assert.deepEqual(await h.store.taskArchive({ finishedBefore: now, limit: 2, now }), { archived: 1 });
        assert.deepEqual(await live(), []);
      }),
    );

    it(
      'frees the id: the same id can be created again in the queue, and archived again; the latest archived is read',
      withHarness(options, async (h) => {
        const first = await finished(h, 'reuse', 'order-42', 'done');
        await expectError(h.engine.createTask({ queue: 'reuse', id: 'order-42', kind: 'k' }), 'TASK_ALREADY_EXISTS', 409);
        h.clock.advance(HOUR);
        assert.equal(await archiveAll(h.store, h.clock.now(), h.clock.now()), 1);
        h.clock.advance(HOUR);
        const second = await finished(h, 'reuse', 'order-42', 'dead');
        assert.notEqual(second.createdAt, first.createdAt);
        assertSameRecord(await h.store.archivedTaskGet({ queue: 'reuse', id: 'order-42' }), first);
        h.clock.advance(HOUR);
        assert.equal(await archiveAll(h.store, h.clock.now(), h.clock.now()), 1);
        assertSameRecord(await h.store.archivedTaskGet({ queue: 'reuse', id: 'order-42' }), second);
      }),
    );

    it(
      'deletes archived tasks by finish time, at most `limit` per call',
      withHarness(options, async (h) => {
        const tasks: Task[] = [];
        for (let i = 0; i < 4; i++) {
          tasks.push(await finished(h, 'retention', `t${i}`, 'done'));
          h.clock.advance(HOUR);
        }
        assert.equal(await archiveAll(h.store, h.clock.now(), h.clock.now()), 4);
        // t0..t2 finished at or before T0 + 2h; t3 after.
        const cutoff = tasks[2]!.lastClaimed!.result!.at;
        assert.deepEqual(await h.store.archivedTaskDeleteBefore({ finishedBefore: cutoff, limit: 2 }), { deleted: 2 });
        assert.equal(await h.store.archivedTaskGet({ queue: 'retention', id: 't0' }), undefined);
        assert.equal(await h.store.archivedTaskGet({ queue: 'retention', id: 't1' }), undefined);
        assert.ok(await h.store.archivedTaskGet({ queue: 'retention', id: 't2' }));
        assert.deepEqual(await h.store.archivedTaskDeleteBefore({ finishedBefore: cutoff, limit: 2 }), { deleted: 1 });
        assert.equal(await h.store.archivedTaskGet({ queue: 'retention', id: 't2' }), undefined);
        assertSameRecord(await h.store.archivedTaskGet({ queue: 'retention', id: 't3' }), tasks[3]);
        assert.deepEqual(await h.store.archivedTaskDeleteBefore({ finishedBefore: cutoff, limit: 2 }), { deleted: 0 });
      }),
    );

    it(
      'concurrent archivers (peer connections when the driver has them) archive each task exactly once',
      withHarness(options, async (h) => {
        const n = 30;
        for (let i = 0; i < n; i++) await finished(h, 'concurrent', `t${i}`, i % 3 === 0 ? 'dead' : 'done');
        h.clock.advance(HOUR);
        const stores: Store[] = [h.store];
        for (let i = 0; i < 3; i++) stores.push((await h.peer()) ?? h.store);
        const now = h.clock.now();
        const totals = await Promise.all(stores.map((s) => archiveAll(s, now, now, 4)));
        assert.equal(
          totals.reduce((a, b) => a + b, 0),
          n,
        );
        for (let i = 0; i < n; i++) {
          assert.equal(await h.store.taskGet({ queue: 'concurrent', id: `t${i}` }), undefined);
          assert.ok(await h.store.archivedTaskGet({ queue: 'concurrent', id: `t${i}` }));
        }
        // Exactly n copies: deleting everything removes n.
        let deleted = 0;
        for (;;) {
          const r = await h.store.archivedTaskDeleteBefore({ finishedBefore: now, limit: 7 });
          deleted += r.deleted;
          if (r.deleted < 7) break;
        }
        assert.equal(deleted, n);
      }),
    );
  });
}
