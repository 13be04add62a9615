// The maintainer ties the leader-only services to leadership: two "servers" (electors, maintainers and
// real services, each on its own connection to one SQLite file) — only the leader's services run, and
// they move to the other server when leadership does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TaskEngine } from '../../src/engine/task-engine.js';
import { Elector } from '../../src/leadership/elector.js';
import { Archiver } from '../../src/maintenance/archiver.js';
import { Maintainer } from '../../src/maintenance/maintainer.js';
import { RecurringScheduler } from '../../src/maintenance/recurring-scheduler.js';
import { TimeoutReaper } from '../../src/maintenance/timeout-reaper.js';
import { ManualClock } from '../../src/service/clock.js';
import { silentLogger } from '../../src/service/logger.js';
import { defaultSettings } from '../../src/store-conformance/helpers.js';
import type { Store } from '../../src/store/store.js';
import { sqliteFixture } from '../helpers/sqlite.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const TTL = 5000;

function node(store: Store, clock: ManualClock, name: string) {
  const settings = defaultSettings();
  const engine = new TaskEngine(store, settings, clock);
  const reaper = new TimeoutReaper(store, clock, silentLogger, { backoff: settings.backoff, intervalMs: 60_000 });
  const scheduler = new RecurringScheduler(store, engine, clock, silentLogger, { syncIntervalMs: 60_000 });
  const archiver = new Archiver(store, clock, silentLogger, { intervalMs: 60_000 });
  const maintainer = new Maintainer([reaper, scheduler, archiver], silentLogger);
  const elector = new Elector(store, clock, silentLogger, { leaderId: name, intervalMs: 1000, ttlMs: TTL });
  maintainer.followLeadership(elector);
  reaper.testSignals.ran.init();
  const running = () => [reaper, scheduler, archiver].map((s) => s.started);
  return { elector, maintainer, reaper, running };
}

describe('maintainer', () => {
  it('runs the leader services only on the leader, and moves them with leadership', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const a = node(fx.store, clock, 'a');
    const b = node(fx.peer(), clock, 'b');
    t.after(async () => {
      await a.maintainer.stop();
      await b.maintainer.stop();
    });
    assert.deepEqual(a.running(), [false, false, false]);

    await a.elector.runOnce();
    await b.elector.runOnce();
    assert.deepEqual(a.running(), [true, true, true]);
    assert.deepEqual(b.running(), [false, false, false]);
    assert.equal(a.maintainer.started, true);
    await a.reaper.testSignals.ran.waitOrTimeout(); // the reaper really runs

    // a stops renewing; b is elected after the lease; a learns it at its next step.
    clock.advance(TTL);
    await b.elector.runOnce();
    assert.deepEqual(b.running(), [true, true, true]);
    await b.reaper.testSignals.ran.waitOrTimeout();
    await a.elector.runOnce();
    assert.deepEqual(a.running(), [false, false, false]);
    assert.equal(a.maintainer.started, false);
  });

  it('a stopping leader stops its services and hands over at once', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const a = node(fx.store, clock, 'a');
    const b = node(fx.peer(), clock, 'b');
    t.after(async () => {
      await a.elector.stop();
      await b.maintainer.stop();
    });
    const gained = a.elector.testSignals.gained.init();
    await a.elector.start();
    await gained.waitOrTimeout();
    assert.deepEqual(a.running(), [true, true, true]);
    await a.elector.stop();
    assert.deepEqual(a.running(), [false, false, false]);
    await b.elector.runOnce();
    assert.deepEqual(b.running(), [true, true, true]);
  });
});
