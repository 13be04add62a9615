// The leader's OperationResumer also keeps the bulk operation records bounded: finished ones older than
// their retention, or beyond the newest MAX_FINISHED, are deleted; running ones never (SQLite file).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FINISHED_RETENTION_MS, MAX_FINISHED } from '../../src/engine/bulk-operations.js';
import { TaskEngine } from '../../src/engine/task-engine.js';
import { OperationResumer } from '../../src/maintenance/operation-resumer.js';
import { ManualClock } from '../../src/service/clock.js';
import { silentLogger } from '../../src/service/logger.js';
import { defaultSettings } from '../../src/store-conformance/helpers.js';
import type { NewOperationRecord } from '../../src/types/index.js';
import { sqliteFixture } from '../helpers/sqlite.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const record = (id: string, at: number, state: NewOperationRecord['state']): NewOperationRecord => ({
  id,
  kind: 'delete_finished',
  filter: { queue: 'q', states: ['done', 'dead'] },
  state,
  total: 1,
  processed: state === 'running' ? 0 : 1,
  changed: 0,
  skipped: 0,
  ownerId: 'server-elsewhere',
  heartbeatAt: at,
  createdAt: at,
  modifiedAt: at,
});

describe('operation resumer', () => {
  it('prunes finished operation records past their retention and beyond the newest kept, never running ones', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const engine = new TaskEngine(fx.store, defaultSettings(), clock);
    const resumer = new OperationResumer(engine, silentLogger);
    await fx.store.operationCreate({ operation: record('week-old', T0, 'done') });
    // A running one whose owner is alive (its heartbeat is recent): neither taken over nor pruned.
    clock.advance(FINISHED_RETENTION_MS + 1);
    await fx.store.operationCreate({ operation: record('running', clock.now(), 'running') });
    for (let i = 0; i < MAX_FINISHED + 3; i++) {
      await fx.store.operationCreate({ operation: record(`recent-${String(i).padStart(4, '0')}`, clock.now() + i, 'failed') });
    }

    assert.deepEqual(await resumer.runOnce(), []);
    const left = await fx.store.operationList({ limit: 2000 });
    assert.equal(left.length, MAX_FINISHED + 1, 'the newest MAX_FINISHED finished ones and the running one');
    const ids = new Set(left.map((o) => o.id));
    assert.ok(ids.has('running'));
    assert.ok(!ids.has('week-old'), 'past its retention');
    for (const gone of ['recent-0000', 'recent-0001', 'recent-0002']) assert.ok(!ids.has(gone), `${gone}: beyond the newest kept`);
    assert.ok(ids.has('recent-0003'));
  });
});
