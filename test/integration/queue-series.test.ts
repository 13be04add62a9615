// The queue series over a real SQLite store and engine, on a ManualClock: the activity recorder counts
// what the engine does per queue and minute and flushes running totals (two servers add up); the depth
// sampler stores one sample per queue per minute and deletes what is past retention.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLAIM_WAIT_BOUNDS_MS, claimWaitBucket, claimWaitQuantile, emptyClaimWait, OTHER_QUEUES } from '../../src/domain/queue-series.js';
import { TaskEngine } from '../../src/engine/task-engine.js';
import { QueueDepthSampler } from '../../src/maintenance/queue-depth-sampler.js';
import { QueueActivityRecorder } from '../../src/observability/queue-activity.js';
import { ManualClock } from '../../src/service/clock.js';
import { silentLogger } from '../../src/service/logger.js';
import { defaultSettings } from '../../src/store-conformance/helpers.js';
import type { Store } from '../../src/store/store.js';
import { sqliteFixture } from '../helpers/sqlite.js';

const T0 = Date.parse('2026-01-01T10:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const W = 'worker-1';

function server(store: Store, clock: ManualClock, serverId: string, maxQueues?: number) {
  const recorder = new QueueActivityRecorder({ store, clock, logger: silentLogger, serverId, maxQueues });
  const engine = new TaskEngine(store, defaultSettings(), clock, () => 0.5, recorder);
  return { recorder, engine };
}

describe('queue activity recorder', () => {
  it('counts created, claimed, done, failed and dead per queue and minute, with claim waits, across two servers', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const a = server(fx.store, clock, 'a');
    const b = server(fx.peer(), clock, 'b');
    await a.engine.createTask({ queue: 'q', id: '1', kind: 'k' });
    await a.engine.createTask({ queue: 'q', id: '2', kind: 'k', retryTimes: 0 });
    await b.engine.createTask({ queue: 'q', id: '3', kind: 'k' });
    clock.advance(2_000); // the claims wait 2 s
    const claimed = await b.engine.claimTasks({ queues: ['q'], workerId: W, amount: 3, blockForMs: 0 });
    assert.equal(claimed.length, 3);
    await b.engine.markDone('q', '1', W, undefined);
    await b.engine.markFailed('q', '2', W, undefined); // no retries: dead
    await b.engine.markFailed('q', '3', W, undefined); // retries left: failed
    clock.advance(MINUTE); // the next minute
    await a.engine.createTask({ queue: 'q', id: '4', kind: 'k' });
    assert.equal(await a.recorder.flush(), 2); // (q, minute 0) and (q, minute 1)
    assert.equal(await b.recorder.flush(), 1);
    const listed = await fx.store.queueActivityList({ from: T0, to: T0 + 2 * MINUTE, bucketMs: MINUTE });
    const twoSeconds = emptyClaimWait();
    twoSeconds[claimWaitBucket(2_000)] = 3;
    assert.deepEqual(listed, [
      { queue: 'q', at: T0, created: 3, claimed: 3, done: 1, failed: 1, dead: 1, claimWait: twoSeconds },
      { queue: 'q', at: T0 + MINUTE, created: 1, claimed: 0, done: 0, failed: 0, dead: 0, claimWait: emptyClaimWait() },
    ]);
    // A flush with nothing new writes nothing; finished minutes were forgotten, later counts still add up.
    assert.equal(await a.recorder.flush(), 0);
    await a.engine.createTask({ queue: 'q', id: '5', kind: 'k' });
    assert.equal(await a.recorder.flush(), 1);
    const [, second] = await fx.store.queueActivityList({ from: T0, to: T0 + 2 * MINUTE, bucketMs: MINUTE });
    assert.equal(second?.created, 2);
  });

  it('keeps what a failed flush did not write for the next flush', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    let failNext = true;
    const flaky: Pick<Store, 'queueActivityWrite'> = {
      queueActivityWrite: (params) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('store down'));
        }
        return fx.store.queueActivityWrite(params);
      },
    };
    const recorder = new QueueActivityRecorder({ store: flaky, clock, logger: silentLogger, serverId: 'a' });
    const engine = new TaskEngine(fx.store, defaultSettings(), clock, () => 0.5, recorder);
    await engine.createTask({ queue: 'q', id: '1', kind: 'k' });
    await assert.rejects(recorder.flush(), /store down/);
    clock.advance(MINUTE);
    assert.equal(await recorder.flush(), 1);
    const listed = await fx.store.queueActivityList({ from: T0, to: T0 + 2 * MINUTE, bucketMs: MINUTE });
    assert.deepEqual(listed.map((r) => [r.at, r.created]), [[T0, 1]]);
  });

  it('counts the queues past its cap under one name', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const s = server(fx.store, clock, 'a', 2);
    for (const queue of ['a', 'b', 'c', 'd']) await s.engine.createTask({ queue, kind: 'k' });
    await s.recorder.flush();
    const listed = await fx.store.queueActivityList({ from: T0, to: T0 + MINUTE, bucketMs: MINUTE });
    assert.deepEqual(listed.map((r) => [r.queue, r.created]), [[OTHER_QUEUES, 2], ['a', 1], ['b', 1]]);
  });
});

describe('claim-wait percentiles', () => {
  it('interpolates within the bucket of the rank, and reads waits past the last bound as that bound', () => {
    const h = emptyClaimWait();
    h[0] = 50; // ≤ 10 ms
    h[1] = 50; // 10..50 ms
    assert.equal(claimWaitQuantile(h, 0.5), 10);
    assert.equal(claimWaitQuantile(h, 0.75), 30);
    assert.equal(claimWaitQuantile(emptyClaimWait(), 0.5), undefined);
    const long = emptyClaimWait();
    long[CLAIM_WAIT_BOUNDS_MS.length] = 1;
    assert.equal(claimWaitQuantile(long, 0.99), CLAIM_WAIT_BOUNDS_MS[CLAIM_WAIT_BOUNDS_MS.length - 1]);
  });
});

describe('queue depth sampler', () => {
  it('stores claimable, scheduled, claimed and the oldest age per queue each minute, and deletes what is past retention', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0 - 26 * HOUR);
    const engine = new TaskEngine(fx.store, defaultSettings(), clock);
    const sampler = new QueueDepthSampler(fx.store, clock, silentLogger);
    await engine.createTask({ queue: 'q', id: 'old', kind: 'k' });
    await sampler.runOnce(); // a sample 26 h before T0: past retention at T0
    await engine.createTask({ queue: 'q', id: 'later', kind: 'k', runAt: T0 + HOUR });
    clock.set(T0 + 30_000);
    await engine.createTask({ queue: 'q', id: 'busy', kind: 'k' });
    await engine.claimTasks({ queues: ['q'], workerId: W, amount: 1, blockForMs: 0 }); // claims 'old'
    await engine.createTask({ queue: 'q', id: 'due', kind: 'k', runAt: T0 });
    const result = await sampler.runOnce();
    assert.deepEqual(result, { sampled: 1, deleted: 1 });
    const samples = await fx.store.queueDepthList({ from: T0 - 30 * HOUR, to: T0 + HOUR, bucketMs: MINUTE });
    // busy (created at T0 + 30 s) and due (run_at T0) are claimable; the oldest has waited 30 s.
    assert.deepEqual(samples, [{ queue: 'q', at: T0, claimable: 2, scheduled: 1, claimed: 1, oldestAgeMs: 30_000 }]);
  });
});
