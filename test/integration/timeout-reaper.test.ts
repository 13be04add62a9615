// The claim-timeout reaper over a real SQLite store and engine, on a ManualClock (spec §5): timed-out
// claims fail with v1's failure data (FAILED with backoff, or DEAD), report-ins keep tasks alive, a
// worker finishing concurrently wins, and two reapers never fail the same claim twice.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TIMED_OUT_FAILURE } from '../../src/domain/task-lifecycle.js';
import { TaskEngine } from '../../src/engine/task-engine.js';
import { TimeoutReaper } from '../../src/maintenance/timeout-reaper.js';
import { ManualClock } from '../../src/service/clock.js';
import { silentLogger } from '../../src/service/logger.js';
import { defaultSettings } from '../../src/store-conformance/helpers.js';
import type { Store } from '../../src/store/store.js';
import { sqliteFixture } from '../helpers/sqlite.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const SECOND = 1000;
const TIMEOUT_NS = 60 * SECOND * 1e6; // 1m
const W = 'worker-1';
const settings = defaultSettings();

function harness(t: Parameters<typeof sqliteFixture>[0], batchSize = 300) {
  const fx = sqliteFixture(t);
  const clock = new ManualClock(T0);
  const engine = new TaskEngine(fx.store, settings, clock, () => 0.5);
  const reaper = (store: Store = fx.store) =>
    new TimeoutReaper(store, clock, silentLogger, { backoff: settings.backoff, batchSize, random: () => 0.5 });
  const claimed = async (queue: string, n: number, retryTimes = 3) => {
    for (let i = 0; i < n; i++) await engine.createTask({ queue, kind: 'k', retryTimes, processingTimeoutNs: TIMEOUT_NS });
    const tasks = await engine.claimTasks({ queues: [queue], workerId: W, amount: n, blockForMs: 0 });
    assert.equal(tasks.length, n);
    return tasks;
  };
  return { ...fx, clock, engine, reaper, claimed };
}

describe('timeout reaper', () => {
  it('fails claims past their timeout with v1 failure data; a reported-in task and unexpired claims stay claimed', async (t) => {
    const h = harness(t);
    const [a, b, kept] = await h.claimed('q', 3);
    const reaper = h.reaper();
    h.clock.advance(30 * SECOND);
    await h.engine.reportIn('q', kept!.id, W, { progress: 50 });
    h.clock.advance(30 * SECOND - 1);
    assert.deepEqual(await reaper.runOnce(), { reaped: 0, skipped: 0 }, 'nothing is due a millisecond early');
    h.clock.advance(1);
    assert.deepEqual(await reaper.runOnce(), { reaped: 2, skipped: 0 });
    for (const task of [a!, b!]) {
      const stored = await h.engine.getTask('q', task.id);
      assert.equal(stored.state, 'failed');
      assert.equal(stored.attempted, 1);
      assert.deepEqual(stored.lastClaimed?.result?.failure, TIMED_OUT_FAILURE);
      assert.equal(stored.lastClaimed?.result?.at, h.clock.now());
      assert.equal(stored.runAt, h.clock.now() + 30 * SECOND, 'backoff 15s + floor(0.5·30)·1s');
    }
    assert.equal((await h.engine.getTask('q', kept!.id)).state, 'claimed');
    assert.deepEqual(await reaper.runOnce(), { reaped: 0, skipped: 0 }, 'a reaped task is not reaped again');
    // The reported-in task times out a minute after its report.
    h.clock.set(T0 + 30 * SECOND + 60 * SECOND);
    assert.deepEqual(await reaper.runOnce(), { reaped: 1, skipped: 0 });
    // Its old worker is told the task is no longer claimed.
    await assert.rejects(h.engine.markDone('q', kept!.id, W, undefined), { kind: 'TASK_NOT_CLAIMED' });
  });

  it('records each timeout in the error history (timed out, the worker that held the claim), within the configured keep', async (t) => {
    const h = harness(t);
    const [task] = await h.claimed('hist', 1, 5);
    const reaper = new TimeoutReaper(h.store, h.clock, silentLogger, {
      backoff: settings.backoff,
      errorHistory: { keep: 2, maxEntryBytes: 1024 },
      random: () => 0.5,
    });
    for (let attempt = 1; attempt <= 3; attempt++) {
      if (attempt > 1) {
        h.clock.advance(3600 * SECOND); // past the backoff
        const [again] = await h.engine.claimTasks({ queues: ['hist'], workerId: `w-${attempt}`, amount: 1, blockForMs: 0 });
        assert.equal(again?.id, task!.id);
      }
      h.clock.advance(60 * SECOND);
      assert.deepEqual(await reaper.runOnce(), { reaped: 1, skipped: 0 });
    }
    const stored = await h.engine.getTask('hist', task!.id);
    assert.deepEqual(
      stored.errorHistory?.map((r) => [r.attempt, r.workerId, r.timedOut, r.failure, r.at]),
      [
        [2, 'w-2', true, TIMED_OUT_FAILURE, T0 + 3600 * SECOND + 120 * SECOND],
        [3, 'w-3', true, TIMED_OUT_FAILURE, T0 + 2 * 3600 * SECOND + 180 * SECOND],
      ],
    );
  });

  it('on the last attempt the task becomes DEAD; in batches it reaps everything that is due in one run', async (t) => {
    const h = harness(t, 2);
    const tasks = [...(await h.claimed('last', 3, 0)), ...(await h.claimed('other', 2, 5))];
    h.clock.advance(60 * SECOND);
    assert.deepEqual(await h.reaper().runOnce(), { reaped: 5, skipped: 0 });
    const states = await Promise.all(tasks.map(async (x) => (await h.engine.getTask(x.queue, x.id)).state));
    assert.deepEqual(states, ['dead', 'dead', 'dead', 'failed', 'failed']);
  });

  it('two reapers on two connections at once: each timed-out claim is failed exactly once', async (t) => {
    const h = harness(t, 5);
    const tasks = await h.claimed('race', 20, 10);
    h.clock.advance(60 * SECOND);
    const results = await Promise.all([h.reaper().runOnce(), h.reaper(h.peer()).runOnce()]);
    assert.equal(results[0].reaped + results[1].reaped, 20, JSON.stringify(results));
    assert.ok(results[0].skipped + results[1].skipped > 0, `the reapers did not contend: ${JSON.stringify(results)}`);
    for (const task of tasks) {
      const stored = await h.engine.getTask(task.queue, task.id);
      assert.equal(stored.state, 'failed');
      assert.equal(stored.attempted, 1);
      assert.equal(stored.version.seqNum, task.version.seqNum + 1, 'written once after the claim');
    }
  });

  it('the started loop runs at once and signals each run', async (t) => {
    const h = harness(t);
    await h.claimed('loop', 2);
    h.clock.advance(60 * SECOND);
    const reaper = h.reaper();
    const ran = reaper.testSignals.ran.init();
    await reaper.start();
    t.after(() => reaper.stop());
    assert.deepEqual(await ran.waitOrTimeout(), { reaped: 2, skipped: 0 });
    assert.equal(reaper.started, true);
    await reaper.stop();
    assert.equal(reaper.started, false);
  });
});
