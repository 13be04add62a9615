/**
 * Real SQLite stores for integration tests: each test gets its own database file in a temporary
 * directory, removed after the test; `peer()` opens another connection on the same file, as a second
 * server process would. Everything opened is closed by the test's `after` hook.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

export interface SqliteFixture {
  /** The database file. */
  path: string;
  /** The first connection. */
  store: SqliteStore;
  /** Another connection to the same file. */
  peer(): SqliteStore;
}

export function sqliteFixture(t: TestContext): SqliteFixture {
  const dir = mkdtempSync(join(tmpdir(), 'tasques-it-'));
  const path = join(dir, 'tasques.db');
  const opened: SqliteStore[] = [];
  const open = () => {
    const store = new SqliteStore({ path });
    opened.push(store);
    return store;
  };
  const store = open();
  t.after(async () => {
    for (const s of opened.reverse()) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, store, peer: open };
}
