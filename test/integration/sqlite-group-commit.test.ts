// The SQLite store's group commit: the writes of one event-loop turn share one transaction, and nothing is
// acknowledged (no promise settles) before that transaction has committed; a failing statement fails only
// its caller; close() commits what is open; a second connection in the same process is never blocked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isTasquesError } from '../../src/errors/index.js';
import type { NewTaskRecord } from '../../src/types/index.js';
import { sqliteFixture } from '../helpers/sqlite.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const record = (id: string, queue = 'q'): NewTaskRecord => ({
  queue,
  id,
  kind: 'k',
  state: 'queued',
  priority: 0,
  runAt: T0,
  retryTimes: 3,
  attempted: 0,
  processingTimeoutNs: 60e9,
  lastEnqueuedAt: T0,
  createdAt: T0,
  modifiedAt: T0,
});

/** What another process would see: committed rows only. */
function committedIds(path: string): string[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT id FROM tasks ORDER BY id').pluck().all() as string[]).sort();
  } finally {
    db.close();
  }
}

describe('SQLite group commit', () => {
  it('writes of one turn are acknowledged together, only once committed', async (t) => {
    const { store, path } = sqliteFixture(t);
    let settled = 0;
    const writes = ['a', 'b', 'c'].map((id) => store.taskCreate({ task: record(id) }).then((task) => (settled++, task)));
    // Written on this connection, but neither committed (another connection sees nothing) nor acknowledged.
    assert.deepEqual(committedIds(path), []);
    await Promise.resolve();
    assert.equal(settled, 0);
    const tasks = await Promise.all(writes);
    assert.deepEqual(tasks.map((task) => task.id), ['a', 'b', 'c']);
    assert.deepEqual(committedIds(path), ['a', 'b', 'c']);
  });

  it('a read made while a group is open settles after its commit; a lone read does not wait', async (t) => {
    const { store, path } = sqliteFixture(t);
    const write = store.taskCreate({ task: record('a') });
    const read = store.taskGet({ queue: 'q', id: 'a' });
    const [written, seen] = await Promise.all([write, read]);
    assert.equal(seen?.id, 'a', 'the read saw the write of its turn');
    assert.deepEqual(committedIds(path), ['a'], 'and settled only once it was committed');
    assert.equal(written.id, 'a');
    assert.equal((await store.taskGet({ queue: 'q', id: 'a' }))?.id, 'a');
  });

  it('a statement that fails fails only its caller: the rest of the group commits', async (t) => {
    const { store, path } = sqliteFixture(t);
    await store.taskCreate({ task: record('taken') });
    const outcomes = await Promise.allSettled([
      store.taskCreate({ task: record('a') }),
      store.taskCreate({ task: record('taken') }),
      store.taskCreate({ task: record('b') }),
    ]);
    assert.equal(outcomes[0].status, 'fulfilled');
    assert.equal(outcomes[1].status, 'rejected');
    assert.ok(isTasquesError((outcomes[1] as PromiseRejectedResult).reason, 'TASK_ALREADY_EXISTS'));
    assert.equal(outcomes[2].status, 'fulfilled');
    assert.deepEqual(committedIds(path), ['a', 'b', 'taken']);
  });

  it('a group that SQLite rolls back fails every member and leaves no in-memory state ahead of the database', async (t) => {
    const { store, path } = sqliteFixture(t);
    // A write after which SQLite rolls the whole transaction back, as on a full disk or an I/O error.
    store.db.exec(
      `CREATE TRIGGER poison AFTER INSERT ON tasks WHEN new.id = 'poison' BEGIN SELECT RAISE(ROLLBACK, 'forced rollback'); END`,
    );
    const outcomes = await Promise.allSettled([
      store.taskCreate({ task: record('a', 'fresh') }), // the first task of a new queue
      store.taskCreate({ task: record('poison') }),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected']);
    assert.deepEqual(committedIds(path), []);
    // The queue's row was rolled back with its task: the store must write it again with the next task...
    await store.taskCreate({ task: record('b', 'fresh') });
    // ...so that a claim over every queue finds that task.
    const claimed = await store.taskClaim({ queues: [], amount: 10, workerId: 'w', now: T0 });
    assert.deepEqual(claimed.map((task) => task.id), ['b']);
  });

  it('close() commits the open group before closing', async (t) => {
    const { path, peer } = sqliteFixture(t);
    const store = peer();
    const write = store.taskCreate({ task: record('last') });
    await store.close();
    assert.equal((await write).id, 'last');
    assert.deepEqual(committedIds(path), ['last']);
  });

  it('two connections of one process writing in the same turn do not wait on each other', async (t) => {
    const { store, peer } = sqliteFixture(t);
    const other = peer();
    const started = performance.now();
    const created = await Promise.all([
      store.taskCreate({ task: record('a') }),
      other.taskCreate({ task: record('b') }),
      store.taskCreate({ task: record('c') }),
      other.taskClaim({ queues: ['q'], amount: 10, workerId: 'w', now: T0 }),
    ]);
    // busy_timeout is 5 s: a connection stuck behind the other's open group would take that long.
    assert.ok(performance.now() - started < 2_000, 'no busy wait');
    assert.equal(created.length, 4);
    const ids = new Set((await store.taskGetMany({ keys: ['a', 'b', 'c'].map((id) => ({ queue: 'q', id })) })).map((x) => x?.id));
    assert.deepEqual([...ids].sort(), ['a', 'b', 'c']);
  });
});
