// The SQLite store keeps live-task counts per (queue, state) in queue_counts with its own writes (no
// triggers). Invariant: after any mix of writes, through every write path (create, batch create, claim,
// report, done, batch done, failed to FAILED and DEAD, unclaim, reap, retry, cancel, archive, a
// conflicting update), the table equals a real count of the tasks table.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { defaultSettings } from '../../src/store-conformance/helpers.js';
import { TaskEngine } from '../../src/engine/task-engine.js';
import { isTasquesError } from '../../src/errors/index.js';
import { ManualClock } from '../../src/service/clock.js';
import { sqliteFixture } from '../helpers/sqlite.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function countsOf(path: string): { kept: Record<string, number>; actual: Record<string, number> } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const kept: Record<string, number> = {};
    for (const r of db.prepare('SELECT queue, state, n FROM queue_counts WHERE n != 0').all() as { queue: string; state: string; n: number }[]) {
      kept[`${r.queue}/${r.state}`] = r.n;
    }
    const actual: Record<string, number> = {};
    for (const r of db.prepare('SELECT queue, state, COUNT(*) AS n FROM tasks GROUP BY queue, state').all() as { queue: string; state: string; n: number }[]) {
      actual[`${r.queue}/${r.state}`] = r.n;
    }
    return { kept, actual };
  } finally {
    db.close();
  }
}

describe('SQLite queue_counts', () => {
  it('match a real count after every kind of write', async (t) => {
    const { store, path } = sqliteFixture(t);
    await store.migrate();
    const clock = new ManualClock(T0);
    const engine = new TaskEngine(store, defaultSettings(), clock, () => 0.5);
    t.after(() => engine.shutdown());
    const check = (when: string) => {
      const { kept, actual } = countsOf(path);
      assert.deepEqual(kept, actual, when);
    };

    for (let i = 0; i < 6; i++) await engine.createTask({ queue: i % 2 ? 'a' : 'b', kind: 'k', id: `t${i}`, retryTimes: 1 });
    await engine.createTasks([
      { queue: 'a', kind: 'k', id: 'm1' },
      { queue: 'c', kind: 'k', id: 'm2', retryTimes: 0 },
      { queue: 'a', kind: 'k', id: 't1' }, // taken: counts nothing
    ]);
    await assert.rejects(engine.createTask({ queue: 'a', kind: 'k', id: 't1' }), (e) => isTasquesError(e, 'TASK_ALREADY_EXISTS'));
    check('after creates');

    const claimed = await engine.claimTasks({ queues: [], workerId: 'w', amount: 6, blockForMs: 0 });
    assert.equal(claimed.length, 6);
    check('after a claim over every queue');

    const [first, second, third, fourth, fifth, sixth] = claimed as [typeof claimed[0], typeof claimed[0], typeof claimed[0], typeof claimed[0], typeof claimed[0], typeof claimed[0]];
    await engine.reportIn(first.queue, first.id, 'w', { p: 1 });
    await engine.markDone(first.queue, first.id, 'w', undefined);
    await engine.markDoneMany(
      [second, third].map((task) => ({ queue: task.queue, id: task.id, data: undefined })),
      'w',
    );
    await engine.markFailed(fourth.queue, fourth.id, 'w', { why: 'x' }); // FAILED or DEAD, by its retries
    await engine.unclaim(fifth.queue, fifth.id, 'w');
    check('after report, done, batch done, failed, unclaim');

    // A stale compare-and-set write changes nothing, counts included.
    const current = await store.taskGet({ queue: sixth.queue, id: sixth.id });
    assert.ok(current);
    await store.taskUpdate({ task: { ...current, state: 'done' }, expectedVersion: current.version });
    await assert.rejects(
      store.taskUpdate({ task: { ...current, state: 'dead' }, expectedVersion: current.version }),
      (e) => isTasquesError(e, 'TASK_VERSION_CONFLICT'),
    );
    check('after a conflicting update');

    // Claim timeouts reaped, dead tasks retried and cancelled, finished tasks archived.
    const more = await engine.claimTasks({ queues: [], workerId: 'w2', amount: 10, blockForMs: 0 });
    assert.ok(more.length > 0);
    clock.advance(3_600_000);
    for (const task of await store.taskListTimedOut({ now: clock.now(), limit: 100 })) {
      await engine.markFailed(task.queue, task.id, task.lastClaimed!.workerId, { timed_out: true });
    }
    check('after timeouts');
    const page = await store.taskList({ states: ['dead'], limit: 100 });
    assert.ok(page.tasks.length > 0, 'some tasks died');
    await engine.retryTask(page.tasks[0]!.queue, page.tasks[0]!.id);
    const waiting = await store.taskList({ states: ['queued', 'failed'], limit: 100 });
    if (waiting.tasks[0]) await engine.cancelTask(waiting.tasks[0].queue, waiting.tasks[0].id, 'operator', 'test');
    check('after retry and cancel');

    clock.advance(3_600_000);
    const archived = await store.taskArchive({ finishedBefore: clock.now(), limit: 100, now: clock.now() });
    assert.ok(archived.archived > 0);
    check('after archiving');

    const stats = await store.queueStatsList({ now: clock.now(), recentWindowMs: 60_000 });
    const total = stats.reduce((sum, q) => sum + Object.values(q.counts).reduce((a, b) => a + b, 0), 0);
    const { actual } = countsOf(path);
    assert.equal(total, Object.values(actual).reduce((a, b) => a + b, 0), 'the statistics read the same counts');
  });
});
