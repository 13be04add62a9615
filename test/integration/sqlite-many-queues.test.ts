// Costs that must not grow with the number of queues ever seen (issue 12, item 3): an all-queue claim and
// a long poll's wake-up time walk the waiting tasks across queues, never the list of every queue seen;
// an all-queue statistics read (metrics scrapes, GET /queues) gives the event loop turns between chunks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewTaskRecord } from '../../src/types/index.js';
import { sqliteFixture } from '../helpers/sqlite.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const record = (queue: string, id: string, extra: Partial<NewTaskRecord> = {}): NewTaskRecord => ({
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
  ...extra,
});

describe('SQLite with many queues', () => {
  it('an all-queue claim and taskNextRunAt do not read the list of queues ever seen', async (t) => {
    const { store } = sqliteFixture(t);
    await store.taskCreateMany({
      tasks: [record('a', 'a1', { priority: 1 }), record('b', 'b1', { priority: 5 }), record('c', 'later', { runAt: T0 + 60_000 })],
    });
    // The list of every queue ever seen grows without bound (and could be walked once per claim): here it
    // is emptied behind the store's back, and nothing that serves every queue may depend on it.
    store.db.exec('DELETE FROM queues');
    assert.equal(await store.taskNextRunAt({ queues: [] }), T0);
    const claimed = await store.taskClaim({ queues: [], amount: 10, workerId: 'w', now: T0 });
    assert.deepEqual(claimed.map((task) => task.id), ['b1', 'a1'], 'in claim order across queues');
    assert.equal(await store.taskNextRunAt({ queues: [] }), T0 + 60_000);
  });

  it('an all-queue claim walks the priority levels: tasks not yet due above do not hide due ones below', async (t) => {
    const { store } = sqliteFixture(t);
    await store.taskCreateMany({
      tasks: [
        ...[1, 2, 3].map((i) => record(`future${i}`, `f${i}`, { priority: 9, runAt: T0 + i * 60_000 })),
        record('low', 'due-late', { priority: 1, runAt: T0 - 1 }),
        record('low2', 'due-early', { priority: 1, runAt: T0 - 2 }),
        record('mid', 'due-mid', { priority: 5, runAt: T0 }),
      ],
    });
    await store.queueSetPaused({ queue: 'low2', paused: true, now: T0 });
    const claimed = await store.taskClaim({ queues: [], amount: 10, workerId: 'w', now: T0 });
    assert.deepEqual(claimed.map((task) => task.id), ['due-mid', 'due-late'], 'due ones in claim order, paused queue left out');
    assert.equal(await store.taskNextRunAt({ queues: [] }), T0 - 2, 'the paused queue may count for the wake-up time');
  });

  it('an all-queue statistics read of 1 200 queues lets the event loop turn between chunks, and misses none', async (t) => {
    const { store } = sqliteFixture(t);
    const tasks: NewTaskRecord[] = [];
    for (let i = 0; i < 1_200; i++) tasks.push(record(`q${String(i).padStart(4, '0')}`, `t${i}`));
    await store.taskCreateMany({ tasks });
    // States on both sides of chunk boundaries, and one for a queue without tasks.
    for (const queue of ['q0000', 'q0499', 'q0500', 'q0501', 'q1199', 'zz-empty']) {
      await store.queueSetPaused({ queue, paused: true, now: T0 });
    }
    let turns = 0;
    let reading = true;
    const tick = () => {
      turns++;
      if (reading) setImmediate(tick);
    };
    setImmediate(tick);
    const stats = await store.queueStatsList({ now: T0, recentWindowMs: 0 });
    reading = false;
    assert.ok(turns >= 2, `the event loop turned ${turns} times during the read`);
    assert.equal(stats.length, 1_201);
    assert.deepEqual(stats.map((s) => s.queue), [...tasks.map((task) => task.queue), 'zz-empty']);
    assert.ok(stats.slice(0, 1_200).every((s) => s.counts.queued === 1));
    assert.deepEqual(stats.filter((s) => s.paused).map((s) => s.queue), ['q0000', 'q0499', 'q0500', 'q0501', 'q1199', 'zz-empty']);
  });
});
