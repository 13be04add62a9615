// The worker sightings flusher over a real SQLite store, stepped with runOnce() on a ManualClock: what
// the engine noted is written once per run, merged with what another server wrote, pruned after a day,
// and given back when the write fails.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WORKER_SIGHTING_TTL_MS, WorkerActivity, WorkerSightingsFlusher } from '../../src/engine/worker-activity.js';
import { ManualClock } from '../../src/service/clock.js';
import { silentLogger } from '../../src/service/logger.js';
import { sqliteFixture } from '../helpers/sqlite.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('worker sightings', () => {
  it('flushes what was noted, merges servers (the later sighting wins), prunes after a day', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const a = new WorkerActivity();
    const b = new WorkerActivity();
    const flushA = new WorkerSightingsFlusher(fx.store, a, clock, silentLogger);
    const flushB = new WorkerSightingsFlusher(fx.store, b, clock, silentLogger);
    a.seen('w1', ['q1'], T0);
    a.seen('w1', ['q2'], T0 + 5);
    b.seen('w1', ['q9'], T0 + 3); // older than a's: loses
    b.seen('w2', ['q1'], T0 + 4);
    assert.deepEqual(await flushA.runOnce(), { flushed: 1, pruned: 0 });
    assert.deepEqual(await flushB.runOnce(), { flushed: 2, pruned: 0 });
    assert.deepEqual(await flushA.runOnce(), { flushed: 0, pruned: 0 }, 'nothing new; pruned at most hourly');
    assert.deepEqual(await fx.store.workerSeenList({ since: 0, limit: 10 }), [
      { workerId: 'w1', lastSeenAt: T0 + 5, queues: ['q1', 'q2'] },
      { workerId: 'w2', lastSeenAt: T0 + 4, queues: ['q1'] },
    ]);

    clock.advance(WORKER_SIGHTING_TTL_MS + 6);
    b.seen('w2', ['q1'], clock.now());
    const run = await flushB.runOnce(); // B's first prune was at T0: the next is due
    assert.deepEqual(run, { flushed: 1, pruned: 1 }, 'w1 (last seen over a day ago) is forgotten');
    assert.deepEqual((await fx.store.workerSeenList({ since: 0, limit: 10 })).map((w) => w.workerId), ['w2']);
  });

  it('a failed write gives the sightings back for the next run', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const activity = new WorkerActivity();
    activity.seen('w1', ['q'], T0);
    await fx.store.close();
    const flusher = new WorkerSightingsFlusher(fx.store, activity, clock, silentLogger);
    await assert.rejects(flusher.runOnce());
    assert.deepEqual(activity.peek(), [{ workerId: 'w1', lastSeenAt: T0, queues: ['q'] }]);
  });
});
