// The archiver over a real SQLite store and engine, on a ManualClock (spec §7, §9.2): finished tasks move
// to the archive after archive_older_than, which frees their ids; archived tasks are deleted after the
// retention; nothing else is touched.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TaskEngine } from '../../src/engine/task-engine.js';
import { Archiver } from '../../src/maintenance/archiver.js';
import { ManualClock } from '../../src/service/clock.js';
import { assertSameRecord, defaultSettings } from '../../src/store-conformance/helpers.js';
import { silentLogger } from '../../src/service/logger.js';
import { sqliteFixture } from '../helpers/sqlite.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3600_000;
const W = 'worker-1';

function harness(t: Parameters<typeof sqliteFixture>[0]) {
  const fx = sqliteFixture(t);
  const clock = new ManualClock(T0);
  const engine = new TaskEngine(fx.store, defaultSettings(), clock);
  const archiver = new Archiver(fx.store, clock, silentLogger, {
    archiveOlderThanMs: 24 * HOUR,
    deleteArchivedOlderThanMs: 72 * HOUR,
    batchSize: 2,
  });
  const finish = async (queue: string, id: string, how: 'done' | 'dead') => {
    await engine.createTask({ queue, id, kind: 'k', retryTimes: 0 });
    const [claimed] = await engine.claimTasks({ queues: [queue], workerId: W, blockForMs: 0 });
    assert.equal(claimed?.id, id);
    return how === 'done' ? engine.markDone(queue, id, W, { ok: id }) : engine.markFailed(queue, id, W, { err: id });
  };
  return { ...fx, clock, engine, archiver, finish };
}

describe('archiver', () => {
  it('archives done and dead tasks once they finished archive_older_than ago, in batches, and frees their ids', async (t) => {
    const h = harness(t);
    const finished = [
      await h.finish('q', 'a', 'done'),
      await h.finish('q', 'b', 'dead'),
      await h.finish('q', 'c', 'done'),
    ];
    const waiting = await h.engine.createTask({ queue: 'q', id: 'waiting', kind: 'k' });
    h.clock.advance(24 * HOUR - 1);
    assert.deepEqual(await h.archiver.runOnce(), { archived: 0, deleted: 0 });
    h.clock.advance(1);
    assert.deepEqual(await h.archiver.runOnce(), { archived: 3, deleted: 0 }, 'batch size 2: two calls in one run');
    for (const task of finished) {
      await assert.rejects(h.engine.getTask('q', task.id), { kind: 'TASK_NOT_FOUND' });
      assertSameRecord(await h.engine.getArchivedTask('q', task.id), task);
    }
    assert.equal((await h.engine.getTask('q', waiting.id)).state, 'queued');
    // The id is free: a new task with it is accepted.
    const again = await h.engine.createTask({ queue: 'q', id: 'a', kind: 'second-life' });
    assert.equal(again.kind, 'second-life');
  });

  it('deletes archived tasks that finished longer ago than the retention; 0 keeps them', async (t) => {
    const h = harness(t);
    await h.finish('q', 'old', 'done');
    h.clock.advance(24 * HOUR);
    await h.finish('q', 'newer', 'dead');
    h.clock.advance(24 * HOUR);
    assert.deepEqual(await h.archiver.runOnce(), { archived: 2, deleted: 0 });
    h.clock.set(T0 + 72 * HOUR);
    assert.deepEqual(await h.archiver.runOnce(), { archived: 0, deleted: 1 });
    await assert.rejects(h.engine.getArchivedTask('q', 'old'), { kind: 'TASK_NOT_FOUND' });
    assert.equal((await h.engine.getArchivedTask('q', 'newer')).state, 'dead');

    const keepForever = new Archiver(h.store, h.clock, silentLogger, {
      archiveOlderThanMs: 24 * HOUR,
      deleteArchivedOlderThanMs: 0,
    });
    h.clock.advance(1000 * HOUR);
    assert.deepEqual(await keepForever.runOnce(), { archived: 0, deleted: 0 });
    assert.equal((await h.engine.getArchivedTask('q', 'newer')).state, 'dead');
  });

  it('the started loop runs at once and signals each run', async (t) => {
    const h = harness(t);
    await h.finish('q', 'x', 'done');
    h.clock.advance(25 * HOUR);
    const ran = h.archiver.testSignals.ran.init();
    await h.archiver.start();
    t.after(() => h.archiver.stop());
    assert.deepEqual(await ran.waitOrTimeout(), { archived: 1, deleted: 0 });
    await h.archiver.stop();
  });
});
