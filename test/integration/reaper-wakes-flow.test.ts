// A claim ended by the leader's timeout reaper frees a concurrency slot: the reaper's server wakes its long
// polls held back by that limit at once (TaskEngine.claimEnded), not at their next poll (SQLite file).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TaskEngine } from '../../src/engine/task-engine.js';
import { TimeoutReaper } from '../../src/maintenance/timeout-reaper.js';
import { ManualClock } from '../../src/service/clock.js';
import { silentLogger } from '../../src/service/logger.js';
import { SEED_DEFAULTS, WORKER, claimNow, defaultSettings } from '../../src/store-conformance/helpers.js';
import { waitUntil } from '../helpers/http.js';
import { sqliteFixture } from '../helpers/sqlite.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

describe('timeout reaper and flow control', () => {
  // The long poll's own next poll is an hour away (pollMinIntervalMs): only the wake-up ends it in time.
  it('wakes a long poll held back by the slot a reaped claim held', { timeout: 30_000 }, async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const settings = { ...defaultSettings(), pollMinIntervalMs: HOUR };
    let heldBack = 0;
    const events = { taskChanged: () => {}, claimed: () => {}, throttled: () => void heldBack++ };
    const engine = new TaskEngine(fx.store, settings, clock, Math.random, events);
    const reaper = new TimeoutReaper(fx.store, clock, silentLogger, {
      backoff: settings.backoff,
      onClaimEnded: (queue) => engine.claimEnded(queue),
    });
    await fx.store.queueLimitsSet({ queue: 'q', limits: { queue: { concurrency: 1 } }, now: T0 });
    await engine.createTask({ ...SEED_DEFAULTS, queue: 'q', id: 'stuck', processingTimeoutNs: 1e9 });
    await engine.createTask({ ...SEED_DEFAULTS, queue: 'q', id: 'next' });
    assert.deepEqual((await claimNow(engine, ['q'], 1)).map((task) => task.id), ['stuck']);

    heldBack = 0;
    const waiting = engine.claimTasks({ queues: ['q'], amount: 1, workerId: WORKER, blockForMs: HOUR });
    await waitUntil(() => heldBack > 0, 'the long poll to be held back by the limit');
    clock.advance(2_000);
    assert.equal((await reaper.runOnce()).reaped, 1);
    assert.deepEqual((await waiting).map((task) => task.id), ['next']);
  });
});
