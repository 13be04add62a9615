// The leader's FlowPruner keeps flow-control key state bounded: a key's token bucket, once full and idle
// for the pruner's idle time, is deleted; an empty bucket (a binding rate limit) stays (SQLite file).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TaskEngine } from '../../src/engine/task-engine.js';
import { FlowPruner } from '../../src/maintenance/flow-pruner.js';
import { ManualClock } from '../../src/service/clock.js';
import { silentLogger } from '../../src/service/logger.js';
import { SEED_DEFAULTS, WORKER, claimNow, defaultSettings } from '../../src/store-conformance/helpers.js';
import { sqliteFixture } from '../helpers/sqlite.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const MINUTE = 60_000;

describe('flow pruner', () => {
  it('deletes idle full buckets after the idle time, never a bucket that still binds', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const engine = new TaskEngine(fx.store, defaultSettings(), clock);
    const pruner = new FlowPruner(fx.store, clock, silentLogger, { idleMs: 10 * MINUTE });
    await fx.store.queueLimitsSet({ queue: 'q', limits: { perKey: { rate: { count: 1, perMs: MINUTE, burst: 1 } } }, now: T0 });
    for (const key of ['a', 'b']) {
      for (const n of [1, 2]) await engine.createTask({ ...SEED_DEFAULTS, queue: 'q', id: `${key}${n}`, rateKey: key });
    }
    const first = await claimNow(engine, ['q'], 10);
    assert.equal(first.length, 2, 'one token per key');
    for (const task of first) await engine.markDone('q', task.id, WORKER, undefined);

    clock.advance(5 * MINUTE);
    assert.equal(await pruner.runOnce(), 0, 'full, but not idle for 10 minutes yet');
    // Key b takes its token again: its bucket is empty and recent.
    clock.advance(6 * MINUTE);
    assert.deepEqual(
      (await engine.claimTasks({ queues: ['q'], amount: 10, workerId: WORKER, blockForMs: 0 })).map((task) => task.rateKey).sort(),
      ['a', 'b'],
    );
    assert.equal(await pruner.runOnce(), 0, 'both buckets were just taken from');
    clock.advance(11 * MINUTE);
    assert.equal(await pruner.runOnce(), 2, 'both full and idle');
    assert.equal(await pruner.runOnce(), 0);
  });
});
