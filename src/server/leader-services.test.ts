/**
 * The `recurring.*` settings (v1's keys for leader election and the leader-only jobs): defaults,
 * environment overrides, the checks that tie them together, and how createLeaderServices wires them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, validateConfig } from '../config/load.js';
import { engineSettings } from './engine-settings.js';
import { TaskEngine } from '../engine/task-engine.js';
import { ManualClock } from '../service/clock.js';
import { silentLogger } from '../service/logger.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { createLeaderServices } from './leader-services.js';

describe('recurring.* settings', () => {
  it('default to v1\'s values (plus a 30-day archive retention)', () => {
    assert.deepEqual(validateConfig({}).recurring, {
      leader_lock: { run_interval: '1s', leader_lock_lease: '5s' },
      timed_out_tasks_reaper: { run_interval: '15s', scroll_size: 300 },
      tasks_archiver: { run_interval: '1m', archive_older_than: '24h', delete_archived_older_than: '720h', scroll_size: 300 },
      recurring_tasks: { sync_run_interval: '5s' },
    });
  });

  it('are read from TASQUES_SERVER_RECURRING_* variables', () => {
    const { config } = loadConfig({
      cwd: '/nonexistent',
      env: {
        TASQUES_SERVER_RECURRING_LEADER_LOCK_RUN_INTERVAL: '200ms',
        TASQUES_SERVER_RECURRING_LEADER_LOCK_LEADER_LOCK_LEASE: '1s',
        TASQUES_SERVER_RECURRING_TIMED_OUT_TASKS_REAPER_RUN_INTERVAL: '2s',
        TASQUES_SERVER_RECURRING_TASKS_ARCHIVER_ARCHIVE_OLDER_THAN: '1h',
        TASQUES_SERVER_RECURRING_TASKS_ARCHIVER_DELETE_ARCHIVED_OLDER_THAN: '0s',
        TASQUES_SERVER_RECURRING_RECURRING_TASKS_SYNC_RUN_INTERVAL: '300ms',
      },
    });
    assert.equal(config.recurring.leader_lock.run_interval, '200ms');
    assert.equal(config.recurring.leader_lock.leader_lock_lease, '1s');
    assert.equal(config.recurring.timed_out_tasks_reaper.run_interval, '2s');
    assert.equal(config.recurring.tasks_archiver.archive_older_than, '1h');
    assert.equal(config.recurring.tasks_archiver.delete_archived_older_than, '0s');
    assert.equal(config.recurring.recurring_tasks.sync_run_interval, '300ms');
  });

  for (const [what, input, message] of [
    [
      'a lease not longer than the election interval',
      { leader_lock: { run_interval: '5s', leader_lock_lease: '5s' } },
      'tasques.server.recurring.leader_lock.leader_lock_lease: must be longer than recurring.leader_lock.run_interval',
    ],
    [
      'a zero interval',
      { timed_out_tasks_reaper: { run_interval: '0s' } },
      'tasques.server.recurring.timed_out_tasks_reaper.run_interval: must be positive',
    ],
    [
      'a retention shorter than archive_older_than',
      { tasks_archiver: { archive_older_than: '48h', delete_archived_older_than: '24h' } },
      'tasques.server.recurring.tasks_archiver.delete_archived_older_than: must be 0s (keep forever) or longer than archive_older_than',
    ],
    [
      'a negative archive age',
      { tasks_archiver: { archive_older_than: '-1h' } },
      'tasques.server.recurring.tasks_archiver: durations must not be negative',
    ],
    ['a bad duration', { recurring_tasks: { sync_run_interval: 'soon' } }, 'tasques.server.recurring.recurring_tasks.sync_run_interval'],
  ] as const) {
    it(`refuses ${what}, naming the key`, () => {
      assert.throws(
        () => validateConfig({ recurring: input }),
        (e: unknown) => e instanceof ConfigError && e.message.includes(message),
      );
    });
  }
});

describe('createLeaderServices', () => {
  it('builds an elector with the configured interval and lease, and a maintainer of the six leader services', async () => {
    const config = validateConfig({ recurring: { leader_lock: { run_interval: '250ms', leader_lock_lease: '2s' } } });
    const store = new SqliteStore({ path: ':memory:' });
    try {
      const clock = new ManualClock();
      const settings = engineSettings(config);
      const leadership = createLeaderServices(config, {
        store,
        engine: new TaskEngine(store, settings, clock),
        settings,
        clock,
        logger: silentLogger,
      });
      assert.equal(leadership.elector.intervalMs, 250);
      assert.equal(leadership.elector.ttlMs, 2000);
      assert.deepEqual(
        leadership.maintainer.services.map((s) => s.name),
        ['timeout-reaper', 'recurring-scheduler', 'tasks-archiver', 'queue-depth-sampler', 'operation-resumer', 'flow-pruner'],
      );
      // Gaining leadership starts them; stopping the elector stops them and resigns.
      await leadership.elector.runOnce();
      assert.deepEqual(leadership.maintainer.services.map((s) => s.started), [true, true, true, true, true, true]);
      await leadership.elector.start();
      await leadership.elector.stop();
      assert.deepEqual(leadership.maintainer.services.map((s) => s.started), [false, false, false, false, false, false]);
      assert.equal(await store.leaderGet({ now: clock.now() }), undefined);
    } finally {
      await store.close();
    }
  });
});
