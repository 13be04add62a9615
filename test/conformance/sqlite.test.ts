// Runs the store conformance suite against the SQLite driver, each test on its own database file.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exerciseStore } from '../../src/store-conformance/index.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'tasques-conformance-'));
let n = 0;

exerciseStore({
  name: 'sqlite',
  makeStore: async () => new SqliteStore({ path: join(dir, `store-${++n}.db`) }),
  makePeerStore: async (store) => new SqliteStore({ path: (store as SqliteStore).db.name }),
});
