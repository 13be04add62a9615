/**
 * The client's operator methods against a real server over real sockets: listing (one page and every
 * page), queue statistics, pause/resume, retry, cancel, the schedule, recurring controls, workers and bulk
 * operations.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TasquesApiError, TasquesClient } from '../../src/client/index.js';
import { startTestServer, type TestServer } from '../helpers/sdk.js';

let server: TestServer;
let client: TasquesClient;

before(async () => {
  server = await startTestServer();
  client = new TasquesClient({ baseUrl: server.url, workerId: 'ops-test' });
});
after(async () => {
  await server.dispose();
});

test('listTasks filters and listAllTasks walks every page', async () => {
  for (let i = 0; i < 7; i++) await client.createTask({ queue: 'list-q', kind: i < 3 ? 'alpha' : 'beta', id: `t${i}` });
  const alpha = await client.listTasks({ queue: 'list-q', kind: 'alpha' });
  assert.deepEqual(alpha.tasks.map((t) => t.id).sort(), ['t0', 't1', 't2']);
  assert.equal(alpha.next_cursor, undefined);

  const firstPage = await client.listTasks({ queue: 'list-q', limit: 3 });
  assert.equal(firstPage.tasks.length, 3);
  assert.ok(firstPage.next_cursor, 'a full page has a cursor');

  const all: string[] = [];
  for await (const task of client.listAllTasks({ queue: 'list-q', state: ['queued'], limit: 2 })) all.push(task.id);
  assert.deepEqual(all.sort(), ['t0', 't1', 't2', 't3', 't4', 't5', 't6']);

  await assert.rejects(client.listTasks({ limit: 0 }), (e: unknown) => e instanceof TasquesApiError && e.status === 400);
});

test('pauseQueue stops claims, resumeQueue restores them, and the stats say so', async () => {
  await client.createTask({ queue: 'pause-q', kind: 'k', id: 'p1' });
  assert.equal((await client.pauseQueue('pause-q')).paused, true);
  assert.deepEqual(await client.claimTasks({ queues: ['pause-q'], block_for: 0 }), []);
  const stats = await client.getQueueStats('pause-q');
  assert.equal(stats.paused, true);
  assert.equal(stats.counts.queued, 1);
  assert.ok((await client.listQueueStats('1m')).some((q) => q.queue === 'pause-q' && q.paused));

  assert.equal((await client.resumeQueue('pause-q')).paused, false);
  const claimed = await client.claimTasks({ queues: ['pause-q'], block_for: 0 });
  assert.deepEqual(claimed.map((t) => t.id), ['p1']);
});

test('retryTask revives a dead task; cancelTask kills a queued one with its reason', async () => {
  await client.createTask({ queue: 'ops-q', kind: 'k', id: 'd1', retry_times: 0 });
  const [claimed] = await client.claimTasks({ queues: ['ops-q'], block_for: 0 });
  assert.equal((await client.markFailed('ops-q', claimed!.id, { why: 'x' })).state, 'dead');
  const retried = await client.retryTask('ops-q', 'd1');
  assert.equal(retried.state, 'queued');
  assert.equal(retried.attempted, 0);

  const cancelled = await client.cancelTask('ops-q', 'd1', 'no longer needed');
  assert.equal(cancelled.state, 'dead');
  assert.deepEqual(cancelled.last_claimed?.result?.failure, { cancelled: true, reason: 'no longer needed' });
  await assert.rejects(client.cancelTask('ops-q', 'd1'), (e: unknown) => e instanceof TasquesApiError && e.status === 409);
});

test('getSchedule lists recurring tasks with a next fire time in the future', async () => {
  await client.createRecurringTask({
    id: 'sched-1',
    schedule_expression: '@every 1h',
    task_definition: { queue: 'sched-q', kind: 'tick' },
  });
  const schedule = await client.getSchedule();
  const entry = schedule.find((s) => s.id === 'sched-1');
  assert.ok(entry?.next_run_at);
  assert.ok(Date.parse(entry.next_run_at) > Date.now());
  assert.equal(entry.queue, 'sched-q');
});

test('recurring controls: pauseRecurringTask, resumeRecurringTask, runRecurringTaskNow; the schedule shows five fire times', async () => {
  await client.createRecurringTask({ id: 'ctl-1', schedule_expression: '@every 1h', task_definition: { queue: 'ctl-q', kind: 'tick' } });
  const paused = await client.pauseRecurringTask('ctl-1');
  assert.equal(paused.paused, true);
  assert.equal((await client.getSchedule()).find((s) => s.id === 'ctl-1')?.paused, true);
  const resumed = await client.resumeRecurringTask('ctl-1');
  assert.equal(resumed.paused, false);
  assert.equal((await client.getSchedule()).find((s) => s.id === 'ctl-1')?.next_run_times?.length, 5);
  const task = await client.runRecurringTaskNow('ctl-1');
  assert.equal(task.queue, 'ctl-q');
  assert.equal(task.recurring_task_id, 'ctl-1');
  await assert.rejects(client.pauseRecurringTask('nope'), (e: unknown) => e instanceof TasquesApiError && e.status === 404);
});

test('listWorkers shows the worker holding a claim', async () => {
  await client.createTask({ queue: 'wk-q', kind: 'k', id: 'wk1' });
  const claimer = new TasquesClient({ baseUrl: server.url, workerId: 'client-worker' });
  await claimer.claimTasks({ queues: ['wk-q'], block_for: 0 });
  const workers = await client.listWorkers({ window: '1h' });
  assert.ok(workers.holding.some((w) => w.worker_id === 'client-worker' && w.queues.includes('wk-q')));
  assert.ok(workers.recent.some((w) => w.worker_id === 'client-worker'));
});

test('bulk operations: countOperation, startOperation, getOperation, listOperations', async () => {
  for (let i = 0; i < 3; i++) await client.createTask({ queue: 'bulk-q', kind: 'k', id: `b${i}` });
  const count = await client.countOperation('cancel_waiting', { queue: 'bulk-q' });
  assert.equal(count.count, 3);
  const started = await client.startOperation('cancel_waiting', { queue: 'bulk-q' });
  assert.equal(started.total, 3);
  await server.engine.bulk.idle(); // the steps run in the background of the (in-process) server
  const op = await client.getOperation(started.id);
  assert.equal(op.state, 'done');
  assert.equal(op.changed, 3);
  assert.ok((await client.listOperations(5)).some((o) => o.id === started.id));
  await assert.rejects(client.startOperation('retry_dead', { state: 'done' }), (e: unknown) => e instanceof TasquesApiError && e.status === 400);
});
