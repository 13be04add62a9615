/**
 * Migration 6 (flow control) on a file written by the previous schema: existing tasks keep their order
 * and counts, have no keys, and the flow-control tables start empty (every queue unlimited).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

test('a schema-5 file migrates to 6: old tasks claimable in order, unkeyed, with exact counts; limits work after', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tasques-migrate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'old.db');
  const old = new Database(path);
  old.exec('CREATE TABLE tasques_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  for (const m of MIGRATIONS.filter((m) => m.version <= 5)) {
    old.exec(m.sql);
    old.prepare('INSERT INTO tasques_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, 0);
  }
  const insert = old.prepare(
    `INSERT INTO tasks (queue, id, kind, state, priority, run_at, retry_times, attempted, processing_timeout_ns,
       last_enqueued_at, created_at, modified_at, version) VALUES ('q', ?, 'k', 'queued', ?, 1000, 3, 0, 60000000000, 1000, 1000, 1000, 1)`,
  );
  insert.run('low', 1);
  insert.run('high', 9);
  old.prepare(`INSERT INTO queue_counts (queue, state, n) VALUES ('q', 'queued', 2)`).run();
  old.close();

  const store = new SqliteStore({ path });
  t.after(() => store.close());
  assert.deepEqual(store.appliedMigrations(), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(await store.queueLimitsList({}), []);
  const before = await store.taskGet({ queue: 'q', id: 'low' });
  assert.equal(before?.concurrencyKey, undefined);
  const claimed = await store.taskClaim({ queues: ['q'], amount: 1, workerId: 'w', now: 2000 });
  assert.deepEqual(claimed.map((task) => task.id), ['high']);
  await store.queueLimitsSet({ queue: 'q', limits: { queue: { concurrency: 1 } }, now: 2000 });
  assert.deepEqual(await store.taskClaim({ queues: ['q'], amount: 1, workerId: 'w', now: 2000 }), [], 'one claimed already');
  const [stats] = await store.queueStatsList({ queues: ['q'], now: 2000, recentWindowMs: 0 });
  assert.deepEqual(stats?.counts, { queued: 1, claimed: 1, failed: 0, done: 0, dead: 0 });
});
