// The recurring scheduler over a real SQLite store and engine, stepped with `runOnce()` on a ManualClock
// (spec §8): tasks per tick, catch-up once after downtime, no tick twice across leader changes,
// skip_if_outstanding_tasks_exist, and API changes picked up at the next sync.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recurringTickTaskId } from '../../src/domain/recurring-tick.js';
import { TaskEngine } from '../../src/engine/task-engine.js';
import { RecurringScheduler } from '../../src/maintenance/recurring-scheduler.js';
import { ManualClock } from '../../src/service/clock.js';
import { silentLogger } from '../../src/service/logger.js';
import { defaultSettings } from '../../src/store-conformance/helpers.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { sqliteFixture } from '../helpers/sqlite.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const SYNC = 5 * SECOND;
const W = 'worker-1';

function harness(t: Parameters<typeof sqliteFixture>[0]) {
  const fx = sqliteFixture(t);
  const clock = new ManualClock(T0);
  const settings = defaultSettings();
  const engine = new TaskEngine(fx.store, settings, clock);
  const scheduler = (store: SqliteStore = fx.store) =>
    new RecurringScheduler(store, new TaskEngine(store, settings, clock), clock, silentLogger, { syncIntervalMs: SYNC });
  /** Tasks spawned by a recurring task, oldest first (read straight from the database). */
  const spawned = (recurringId: string) =>
    fx.store.db
      .prepare('SELECT id, created_at AS createdAt FROM tasks WHERE recurring_task_id = ? ORDER BY created_at, id')
      .all(recurringId) as { id: string; createdAt: number }[];
  const every = (id: string, schedule: string, skip = false) =>
    engine.createRecurringTask({
      id,
      scheduleExpression: schedule,
      skipIfOutstandingTasksExist: skip,
      taskDefinition: { queue: 'rq', kind: `kind-${id}`, priority: 3, retryTimes: 2, args: { from: id } },
    });
  return { ...fx, clock, engine, scheduler, spawned, every };
}

describe('recurring scheduler', () => {
  it('enqueues one task per tick from the definition, with the tick-derived id and recurring_task_id', async (t) => {
    const h = harness(t);
    await h.every('minutely', '@every 1m');
    const s = h.scheduler();
    const first = await s.runOnce();
    assert.equal(first.synced, 1);
    assert.deepEqual(first.ticks, []);
    assert.equal((await h.engine.getRecurringTask('minutely')).loadedAt, T0, 'marked loaded');
    assert.equal(first.nextRunAt, T0 + SYNC, 'the next sync comes before the first tick');
    assert.equal(s.schedule.get('minutely'), T0 + MINUTE);

    h.clock.advance(MINUTE);
    const { ticks } = await s.runOnce();
    const taskId = recurringTickTaskId('minutely', T0 + MINUTE);
    assert.deepEqual(ticks, [{ recurringTaskId: 'minutely', tickAt: T0 + MINUTE, taskId, outcome: 'enqueued' }]);
    const task = await h.engine.getTask('rq', taskId);
    assert.equal(task.recurringTaskId, 'minutely');
    assert.equal(task.kind, 'kind-minutely');
    assert.equal(task.priority, 3);
    assert.equal(task.retryTimes, 2);
    assert.deepEqual(task.args, { from: 'minutely' });
    assert.equal(task.runAt, h.clock.now());
    assert.equal(task.state, 'queued');

    h.clock.advance(MINUTE - 1);
    assert.deepEqual((await s.runOnce()).ticks, []);
    h.clock.advance(1);
    assert.deepEqual(
      (await s.runOnce()).ticks.map((x) => x.tickAt),
      [T0 + 2 * MINUTE],
    );
    assert.equal(h.spawned('minutely').length, 2);
  });

  it('fires cron schedules at their times (UTC)', async (t) => {
    const h = harness(t);
    h.clock.set(T0 + 7 * MINUTE);
    await h.every('quarterly', '*/15 * * * *');
    const s = h.scheduler();
    await s.runOnce();
    assert.equal(s.schedule.get('quarterly'), T0 + 15 * MINUTE);
    h.clock.set(T0 + 15 * MINUTE);
    assert.deepEqual((await s.runOnce()).ticks.map((x) => x.tickAt), [T0 + 15 * MINUTE]);
    h.clock.set(T0 + 30 * MINUTE + 10);
    assert.deepEqual((await s.runOnce()).ticks.map((x) => x.tickAt), [T0 + 30 * MINUTE]);
  });

  it('a stored schedule that never fires (or does not parse) idles only its own task, also after a restart', async (t) => {
    const h = harness(t);
    // Written around the API (which refuses them now), as a database from before the check would hold.
    await h.every('never', '0 0 31 4,6,9,11 *');
    await h.every('last-day', '0 0 L * *');
    await h.every('minutely', '@every 1m');
    for (const run of [1, 2]) {
      // run 2 is a new leader term (or a restart): the stored tasks are loaded afresh.
      const s = h.scheduler();
      await s.runOnce();
      assert.equal(s.schedule.get('never'), undefined, `run ${run}: the bad schedule has no next tick`);
      assert.equal(s.schedule.get('last-day'), undefined, `run ${run}: the unparseable schedule has no next tick`);
      h.clock.advance(MINUTE);
      const { ticks } = await s.runOnce();
      assert.deepEqual(ticks.map((x) => [x.recurringTaskId, x.outcome]), [['minutely', 'enqueued']], `run ${run}`);
      await s.stop();
    }
    assert.equal(h.spawned('minutely').length, 2);
    assert.equal(h.spawned('never').length, 0);
  });

  it('after downtime, a missed stretch fires once (for its first missed tick), then the schedule goes on', async (t) => {
    const h = harness(t);
    await h.every('minutely', '@every 1m');
    const s = h.scheduler();
    await s.runOnce();
    h.clock.set(T0 + MINUTE);
    await s.runOnce();
    // Ten minutes without a run (the leader was paused, or every server was down).
    h.clock.set(T0 + 10 * MINUTE + 30 * SECOND);
    const late = await s.runOnce();
    assert.deepEqual(late.ticks.map((x) => [x.tickAt, x.outcome]), [[T0 + 2 * MINUTE, 'enqueued']]);
    assert.equal(s.schedule.get('minutely'), T0 + 11 * MINUTE, 'the missed ticks are skipped');
    h.clock.set(T0 + 11 * MINUTE);
    assert.deepEqual((await s.runOnce()).ticks.map((x) => x.tickAt), [T0 + 11 * MINUTE]);
    assert.equal(h.spawned('minutely').length, 3);

    // The same after a restart: a new scheduler continues from the recorded tick, and fires once.
    h.clock.set(T0 + 60 * MINUTE + 5 * SECOND);
    const restarted = h.scheduler(h.peer());
    const caughtUp = await restarted.runOnce();
    assert.deepEqual(caughtUp.ticks.map((x) => [x.tickAt, x.outcome]), [[T0 + 12 * MINUTE, 'enqueued']]);
    assert.equal(restarted.schedule.get('minutely'), T0 + 61 * MINUTE);
    assert.equal(h.spawned('minutely').length, 4);
  });

  it('across a leader change no tick fires twice and none is lost', async (t) => {
    const h = harness(t);
    await h.every('minutely', '@every 1m');
    const a = h.scheduler();
    await a.runOnce();
    h.clock.set(T0 + MINUTE);
    assert.equal((await a.runOnce()).ticks[0]?.outcome, 'enqueued');

    // b takes over half a minute later: it does not repeat a's tick, and fires the next one on time.
    h.clock.set(T0 + MINUTE + 30 * SECOND);
    const b = h.scheduler(h.peer());
    assert.deepEqual((await b.runOnce()).ticks, []);
    assert.equal(b.schedule.get('minutely'), T0 + 2 * MINUTE);

    // a, deposed but not yet aware of it, and b both handle the tick at 2m: one task.
    h.clock.set(T0 + 2 * MINUTE);
    const outcomes = (await Promise.all([a.runOnce(), b.runOnce()])).flatMap((r) => r.ticks.map((x) => x.outcome));
    assert.deepEqual(outcomes.sort(), ['already-enqueued', 'enqueued']);

    // A leader that enqueued the 3m tick and died before recording it: its successor repeats the tick
    // (the recorded one is 2m) and finds the task already there.
    await h.engine.createTask({
      id: recurringTickTaskId('minutely', T0 + 3 * MINUTE),
      queue: 'rq',
      kind: 'kind-minutely',
      recurringTaskId: 'minutely',
    });
    h.clock.set(T0 + 3 * MINUTE + 2 * SECOND);
    const c = h.scheduler(h.peer());
    const repeated = await c.runOnce();
    assert.deepEqual(repeated.ticks.map((x) => [x.tickAt, x.outcome]), [[T0 + 3 * MINUTE, 'already-enqueued']]);
    assert.deepEqual(await h.store.recurringTaskTickList({ recurringTaskIds: ['minutely'] }), [
      { recurringTaskId: 'minutely', lastTickAt: T0 + 3 * MINUTE },
    ]);

    const ids = h.spawned('minutely').map((x) => x.id);
    assert.deepEqual(
      ids.sort(),
      [1, 2, 3].map((m) => recurringTickTaskId('minutely', T0 + m * MINUTE)).sort(),
      'exactly one task per tick',
    );
  });

  it('skip_if_outstanding_tasks_exist: ticks are skipped (and recorded) while a spawned task is outstanding', async (t) => {
    const h = harness(t);
    await h.every('single', '@every 1m', true);
    const s = h.scheduler();
    await s.runOnce();
    h.clock.set(T0 + MINUTE);
    assert.equal((await s.runOnce()).ticks[0]?.outcome, 'enqueued');
    h.clock.set(T0 + 2 * MINUTE);
    assert.equal((await s.runOnce()).ticks[0]?.outcome, 'skipped-outstanding', 'queued');
    const [claimed] = await h.engine.claimTasks({ queues: ['rq'], workerId: W, blockForMs: 0 });
    assert.ok(claimed);
    h.clock.set(T0 + 3 * MINUTE);
    assert.equal((await s.runOnce()).ticks[0]?.outcome, 'skipped-outstanding', 'claimed');
    assert.deepEqual(await h.store.recurringTaskTickList({ recurringTaskIds: ['single'] }), [
      { recurringTaskId: 'single', lastTickAt: T0 + 3 * MINUTE },
    ]);
    await h.engine.markDone('rq', claimed.id, W, undefined);
    h.clock.set(T0 + 4 * MINUTE);
    assert.equal((await s.runOnce()).ticks[0]?.outcome, 'enqueued', 'nothing outstanding any more');
    assert.equal(h.spawned('single').length, 2);
  });

  it('changes made through the API are picked up at the next sync; a deleted recurring task stops; a re-created one starts afresh', async (t) => {
    const h = harness(t);
    await h.every('changing', '@every 1m');
    const s = h.scheduler();
    await s.runOnce();
    h.clock.set(T0 + 2 * SECOND);
    await h.engine.updateRecurringTask('changing', { scheduleExpression: '@every 10m' });
    await s.runOnce();
    assert.equal(s.schedule.get('changing'), T0 + MINUTE, 'not yet: the sync is due at 5s');
    h.clock.set(T0 + SYNC);
    assert.equal((await s.runOnce()).synced, 1);
    assert.equal(s.schedule.get('changing'), T0 + 2 * SECOND + 10 * MINUTE, 'the new schedule, from when it was written');
    assert.ok((await h.engine.getRecurringTask('changing')).loadedAt !== undefined);

    h.clock.set(T0 + 6 * MINUTE);
    await h.engine.deleteRecurringTask('changing');
    h.clock.set(T0 + 6 * MINUTE + SYNC);
    assert.equal((await s.runOnce()).synced, 1);
    assert.equal(s.schedule.has('changing'), false);
    h.clock.set(T0 + 60 * MINUTE);
    assert.deepEqual((await s.runOnce()).ticks, []);
    assert.equal(h.spawned('changing').length, 0);

    // Re-created under the same id: its schedule starts when it was created, not from the old ticks.
    await h.every('changing', '@every 1m');
    h.clock.set(T0 + 60 * MINUTE + SYNC);
    await s.runOnce();
    assert.equal(s.schedule.get('changing'), T0 + 61 * MINUTE);
  });

  it('the started loop loads, fires due ticks and signals them; stop() forgets the schedule', async (t) => {
    const h = harness(t);
    await h.every('minutely', '@every 1m');
    h.clock.set(T0 + MINUTE + 1);
    const s = h.scheduler();
    const ticked = s.testSignals.ticked.init();
    await s.start();
    t.after(() => s.stop());
    const tick = await ticked.waitOrTimeout();
    assert.deepEqual([tick.tickAt, tick.outcome], [T0 + MINUTE, 'enqueued']);
    assert.equal(s.schedule.size, 1);
    await s.stop();
    assert.equal(s.schedule.size, 0);
    assert.equal(h.spawned('minutely').length, 1);
  });

  it('a paused recurring task skips its ticks (recorded, no task); resumed, it fires from the next tick on, no catch-up', async (t) => {
    const h = harness(t);
    await h.every('minutely', '@every 1m');
    const s = h.scheduler();
    await s.runOnce();
    h.clock.advance(30 * SECOND);
    await h.engine.setRecurringTaskPaused('minutely', true);
    h.clock.advance(3 * MINUTE); // the pause was synced before a tick: the missed stretch is one skipped tick
    const paused = await s.runOnce();
    assert.deepEqual(paused.ticks.map((x) => [x.tickAt, x.outcome]), [[T0 + 90 * SECOND, 'skipped-paused']]);
    h.clock.advance(MINUTE);
    assert.deepEqual((await s.runOnce()).ticks.map((x) => x.outcome), ['skipped-paused']);
    assert.equal(h.spawned('minutely').length, 0);

    const resumedAt = h.clock.now() + 10 * SECOND;
    h.clock.set(resumedAt);
    await h.engine.setRecurringTaskPaused('minutely', false);
    h.clock.advance(SYNC);
    assert.deepEqual((await s.runOnce()).ticks, [], 'nothing missed while paused fires on resume');
    h.clock.set(resumedAt + MINUTE);
    assert.deepEqual((await s.runOnce()).ticks.map((x) => [x.tickAt, x.outcome]), [[resumedAt + MINUTE, 'enqueued']]);
    assert.equal(h.spawned('minutely').length, 1);
  });
});

