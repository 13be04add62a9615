/**
 * tasques/worker against a real server. No sleeps: tests wait on the Worker's events, on gates the
 * handlers block on, and on small processing timeouts (which set how often the Worker reports in).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TasquesApiError, TasquesClient, type Task } from '../../src/client/index.js';
import { ClaimLostError, TaskCancelledError, Worker, WorkerStoppingError, type WorkerOptions } from '../../src/worker/index.js';
import { gate, startFaultProxy, startTestServer, waitForEvent, waitForEvents, type TestServer } from '../helpers/sdk.js';

let server: TestServer;
let client: TasquesClient;
let queueSeq = 0;
const newQueue = () => `worker-q${++queueSeq}`;
const workers: Worker[] = [];

before(async () => {
  server = await startTestServer();
  client = new TasquesClient({ baseUrl: server.url });
});
after(async () => {
  await Promise.all(workers.map((w) => w.stop({ gracePeriodMs: 0 })));
  await server.dispose();
});

function makeWorker(options: Partial<WorkerOptions> & Pick<WorkerOptions, 'handlers'>): Worker {
  const worker = new Worker({
    client: { baseUrl: server.url },
    blockForMs: 500,
    backoff: { minDelayMs: 5, maxDelayMs: 20 },
    ...options,
  });
  workers.push(worker);
  return worker;
}

async function states(queue: string, ids: string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await client.getTask(queue, id)).state));
}

describe('Worker', () => {
  it('runs handlers by queue and kind, and marks tasks done with their results', async () => {
    const emails = newQueue();
    const reports = newQueue();
    const worker = makeWorker({
      handlers: {
        [emails]: {
          welcome: async (task) => ({ sentTo: task.args?.to }),
          '*': async (task) => `other:${task.kind}`,
        },
        [reports]: async () => undefined,
      },
      concurrency: 4,
    });
    const a = await client.createTask({ queue: emails, kind: 'welcome', args: { to: 'a@example.com' } });
    const b = await client.createTask({ queue: emails, kind: 'digest' });
    const c = await client.createTask({ queue: reports, kind: 'monthly' });
    const done = waitForEvents(worker, 'taskDone', 3);
    worker.start();
    await done;
    const [ta, tb, tc] = await Promise.all([a, b, c].map((t) => client.getTask(t.queue, t.id)));
    assert.deepEqual(ta?.last_claimed?.result?.success, { sentTo: 'a@example.com' });
    assert.deepEqual(tb?.last_claimed?.result?.success, { result: 'other:digest' });
    assert.equal(tc?.state, 'done');
    assert.equal(tc?.last_claimed?.result?.success, undefined);
    assert.equal(ta?.last_claimed?.worker_id, worker.workerId);
    await worker.stop();
  });

  it('runs at most `concurrency` tasks at once and claims only for free slots', async () => {
    const queue = newQueue();
    const release = gate();
    let running = 0;
    let maxRunning = 0;
    const worker = makeWorker({
      handlers: {
        [queue]: async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await release.promise;
          running--;
        },
      },
      concurrency: 3,
    });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await client.createTask({ queue, kind: 'k' })).id);
    const started = waitForEvents(worker, 'taskStarted', 3);
    worker.start();
    await started;
    const counts = (await states(queue, ids)).reduce<Record<string, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});
    assert.deepEqual(counts, { claimed: 3, queued: 7 });
    assert.equal(worker.activeCount, 3);
    const allDone = waitForEvents(worker, 'taskDone', 10);
    release.open();
    await allDone;
    assert.equal(maxRunning, 3);
    assert.deepEqual(new Set(await states(queue, ids)), new Set(['done']));
    await worker.stop();
  });

  it('marks a task failed with the serialized error, and dead when no attempts are left', async () => {
    const queue = newQueue();
    const worker = makeWorker({
      handlers: {
        [queue]: async () => {
          throw Object.assign(new Error('boom', { cause: new Error('root cause') }), { code: 'E_BOOM' });
        },
      },
    });
    const retried = await client.createTask({ queue, kind: 'k', retry_times: 2 });
    const last = await client.createTask({ queue, kind: 'k', retry_times: 0 });
    const failed = waitForEvents(worker, 'taskFailed', 2);
    worker.start();
    await failed;
    await worker.stop();
    const r = await client.getTask(queue, retried.id);
    assert.equal(r.state, 'failed');
    const failure = r.last_claimed?.result?.failure as Record<string, unknown>;
    assert.equal(failure.error, 'boom');
    assert.equal(failure.name, 'Error');
    assert.equal(failure.code, 'E_BOOM');
    assert.match(String(failure.stack), /boom/);
    assert.deepEqual((failure.cause as Record<string, unknown>).error, 'root cause');
    assert.equal((await client.getTask(queue, last.id)).state, 'dead');
  });

  it('fails a task of a kind it has no handler for', async () => {
    const queue = newQueue();
    const worker = makeWorker({ handlers: { [queue]: { known: async () => 'ok' } } });
    const task = await client.createTask({ queue, kind: 'unknown', retry_times: 0 });
    const failed = waitForEvent(worker, 'taskFailed');
    worker.start();
    await failed;
    await worker.stop();
    const t = await client.getTask(queue, task.id);
    assert.equal(t.state, 'dead');
    assert.match(String(t.last_claimed?.result?.failure?.error), /no handler for kind \[unknown\]/);
  });

  it('reports in by itself well before the processing timeout, keeping a long task claimed', async () => {
    const queue = newQueue();
    const task = await client.createTask({ queue, kind: 'k', processing_timeout: '300ms' });
    let claimedTimesOutAt = 0;
    const worker = makeWorker({
      handlers: {
        [queue]: async (t, ctx) => {
          claimedTimesOutAt = Date.parse(t.last_claimed!.times_out_at);
          // Run for three report-in intervals (~300ms, the whole processing timeout).
          await waitForEvents(worker, 'reported', 3, (r: Task) => r.id === t.id);
          assert.equal(ctx.signal.aborted, false);
          return { ok: true };
        },
      },
    });
    const done = waitForEvent<[Task]>(worker, 'taskDone');
    const reports: Task[] = [];
    worker.on('reported', (t) => reports.push(t));
    worker.start();
    const [finished] = await done;
    assert.equal(finished.id, task.id);
    assert.equal(finished.state, 'done');
    assert.ok(reports.length >= 3);
    const lastTimesOutAt = Date.parse(reports.at(-1)!.last_claimed!.times_out_at);
    assert.ok(lastTimesOutAt > claimedTimesOutAt, 'report-ins pushed the claim timeout forward');
    assert.ok(reports.every((r) => r.state === 'claimed' && r.last_claimed?.worker_id === worker.workerId));
    await worker.stop();
  });

  it('lets a handler report progress and give its task back without counting the attempt', async () => {
    const queue = newQueue();
    const task = await client.createTask({ queue, kind: 'k' });
    let runs = 0;
    const worker = makeWorker({
      handlers: {
        [queue]: async (_t, ctx) => {
          runs++;
          await ctx.report({ run: runs });
          if (runs === 1) ctx.unclaim(); // give it back; this worker claims it again
          return { run: runs };
        },
      },
    });
    const unclaimed = waitForEvent<[Task, string]>(worker, 'taskUnclaimed');
    const done = waitForEvent<[Task]>(worker, 'taskDone');
    worker.start();
    const [given, reason] = await unclaimed;
    assert.equal(given.id, task.id);
    assert.equal(reason, 'handler');
    const [finished] = await done;
    await worker.stop();
    assert.equal(runs, 2);
    assert.equal(finished.attempted, 1, 'the given-back attempt was not counted');
    assert.deepEqual(finished.last_claimed?.last_report?.data, { run: 2 });
    assert.deepEqual(finished.last_claimed?.result?.success, { run: 2 });
  });

  it('aborts the handler when a report-in finds the claim taken by another worker (403)', async () => {
    const queue = newQueue();
    const task = await client.createTask({ queue, kind: 'k', processing_timeout: '300ms' });
    const started = gate<Task>();
    const worker = makeWorker({
      handlers: {
        [queue]: async (t, ctx) => {
          started.open(t);
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          assert.ok(ctx.signal.reason instanceof ClaimLostError);
          return { should: 'not be recorded' };
        },
      },
      concurrency: 1, // so that this worker is not polling when the task goes back to the queue
    });
    const lost = waitForEvent(worker, 'claimLost');
    const dropped = waitForEvent(worker, 'resultDropped');
    worker.start();
    await started.promise;
    // Someone acting as this worker gives the task back, and another worker claims it.
    await client.unclaim(queue, task.id, { workerId: worker.workerId });
    const [stolen] = await client.claimTasks({ queues: [queue], block_for: '1s' }, { workerId: 'thief' });
    assert.equal(stolen?.id, task.id);
    const [, error] = await lost;
    assert.equal((error as { status?: number }).status, 403);
    await dropped;
    await worker.stop();
    const after = await client.getTask(queue, task.id);
    assert.equal(after.state, 'claimed');
    assert.equal(after.last_claimed?.worker_id, 'thief');
    assert.equal(after.last_claimed?.result, undefined);
  });

  it('aborts the handler when a report-in finds the task no longer claimed (400)', async () => {
    const queue = newQueue();
    const task = await client.createTask({ queue, kind: 'k', processing_timeout: '300ms', retry_times: 5 });
    const started = gate();
    let reason: unknown;
    const worker = makeWorker({
      handlers: {
        [queue]: async (_t, ctx) => {
          started.open();
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          reason = ctx.signal.reason;
        },
      },
    });
    const lost = waitForEvent(worker, 'claimLost');
    worker.start();
    await started.promise;
    await client.markFailed(queue, task.id, { by: 'operator' }, { workerId: worker.workerId });
    const [, error] = await lost;
    assert.equal((error as { status?: number }).status, 400);
    await worker.stop();
    assert.ok(reason instanceof ClaimLostError);
    const after = await client.getTask(queue, task.id);
    assert.equal(after.state, 'failed');
    assert.deepEqual(after.last_claimed?.result?.failure, { by: 'operator' });
  });

  it('aborts the handler with TaskCancelledError at its next report-in after an operator cancels the task', async () => {
    const queue = newQueue();
    // A long processing timeout: only cancelCheckIntervalMs makes the worker report in soon.
    const task = await client.createTask({ queue, kind: 'k', processing_timeout: '1h' });
    const started = gate();
    let reason: unknown;
    const worker = makeWorker({
      handlers: {
        [queue]: async (_t, ctx) => {
          started.open();
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          reason = ctx.signal.reason;
          return { should: 'not be recorded' };
        },
      },
      cancelCheckIntervalMs: 50,
    });
    const cancelledEvent = waitForEvent<[Task, TasquesApiError]>(worker, 'taskCancelled');
    const lost = waitForEvent(worker, 'claimLost');
    const dropped = waitForEvent(worker, 'resultDropped');
    worker.start();
    await started.promise;
    const cancelled = await client.cancelTask(queue, task.id, { reason: 'not needed', by: 'test' });
    assert.deepEqual([cancelled.state, cancelled.cancellation?.by, cancelled.cancellation?.reason], ['dead', 'test', 'not needed']);
    const [cancelledTask, error] = await cancelledEvent;
    assert.equal(cancelledTask.id, task.id);
    assert.equal(error.code, 'TQ_ERR_TASK_CANCELLED');
    assert.equal(error.status, 400);
    await lost;
    await dropped;
    assert.ok(reason instanceof TaskCancelledError);
    assert.ok(reason instanceof ClaimLostError, 'code that handles lost claims handles cancellations too');
    await worker.stop();
    const after = await client.getTask(queue, task.id);
    assert.equal(after.state, 'dead');
    assert.deepEqual(after.last_claimed?.result?.failure, { cancelled: true, reason: 'not needed' });
  });

  it('a handler that ignores its signal still has its result refused after a cancel', async () => {
    const queue = newQueue();
    const task = await client.createTask({ queue, kind: 'k', processing_timeout: '1h' });
    const started = gate();
    const release = gate();
    const worker = makeWorker({
      handlers: {
        [queue]: async () => {
          started.open();
          await release.promise; // never looks at ctx.signal
          return { late: true };
        },
      },
      cancelCheckIntervalMs: 3_600_000, // no report-in before the result: the done call is refused
    });
    const cancelledEvent = waitForEvent<[Task, TasquesApiError]>(worker, 'taskCancelled');
    worker.start();
    await started.promise;
    await client.cancelTask(queue, task.id);
    release.open();
    const [, error] = await cancelledEvent;
    assert.equal(error.code, 'TQ_ERR_TASK_CANCELLED');
    await worker.stop();
    const after = await client.getTask(queue, task.id);
    assert.equal(after.state, 'dead');
    assert.equal(after.last_claimed?.result?.success, undefined, 'the late result was not recorded');
    const errors = await client.getTaskErrors(queue, task.id);
    assert.deepEqual(errors.errors, []);
    assert.equal(errors.cancellation?.by, 'operator');
  });

  it('stops gracefully: no new claims, running tasks finish within the grace period', async () => {
    const queue = newQueue();
    const release = gate();
    const worker = makeWorker({
      handlers: {
        [queue]: async () => {
          await release.promise;
          return { finished: true };
        },
      },
      concurrency: 1,
    });
    const first = await client.createTask({ queue, kind: 'k' });
    const started = waitForEvent(worker, 'taskStarted');
    worker.start();
    await started;
    const stopping = waitForEvent(worker, 'stopping');
    const stop = worker.stop({ gracePeriodMs: 10_000 });
    await stopping;
    const late = await client.createTask({ queue, kind: 'k' });
    release.open();
    const summary = await stop;
    assert.deepEqual(summary, { finished: 1, unclaimed: 0, abandoned: 0 });
    assert.equal((await client.getTask(queue, first.id)).state, 'done');
    assert.equal((await client.getTask(queue, late.id)).state, 'queued');
  });

  it('unclaims what does not finish within the grace period, and aborts its handler', async () => {
    const queue = newQueue();
    const task = await client.createTask({ queue, kind: 'k' });
    let reason: unknown;
    const worker = makeWorker({
      handlers: {
        [queue]: async (_t, ctx) => {
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          reason = ctx.signal.reason;
          return 'too late';
        },
      },
    });
    const started = waitForEvent(worker, 'taskStarted');
    worker.start();
    await started;
    const summary = await worker.stop({ gracePeriodMs: 50 });
    assert.deepEqual(summary, { finished: 0, unclaimed: 1, abandoned: 0 });
    assert.ok(reason instanceof WorkerStoppingError);
    const after = await client.getTask(queue, task.id);
    assert.equal(after.state, 'queued');
    assert.equal(after.attempted, 0);
  });

  it('backs off and recovers when claims fail, without losing tasks', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      const queue = newQueue();
      let claimFailures = 0;
      proxy.decide = (method, path) => {
        if (path === '/tasques/claims' && claimFailures < 3) {
          claimFailures++;
          return claimFailures === 2 ? 'drop-request' : { status: 503, message: 'overloaded' };
        }
        return 'pass';
      };
      const ids = await Promise.all([1, 2, 3].map(async () => (await client.createTask({ queue, kind: 'k' })).id));
      const worker = makeWorker({ client: { baseUrl: proxy.url }, handlers: { [queue]: async () => ({ ok: 1 }) } });
      const retries: number[] = [];
      worker.on('retrying', (info) => {
        if (info.operation === 'claim') retries.push(info.delayMs);
      });
      const done = waitForEvents(worker, 'taskDone', 3);
      worker.start();
      await done;
      await worker.stop();
      assert.equal(retries.length, 3);
      assert.deepEqual(await states(queue, ids), ['done', 'done', 'done']);
    } finally {
      await proxy.close();
    }
  });

  it('repeats done after a lost answer, and recognises that the first try was recorded', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      const queue = newQueue();
      let dropped = 0;
      let failedOnce = false;
      proxy.decide = (method, path) => {
        if (method === 'PUT' && path.startsWith('/tasques/done/')) {
          if (path.endsWith('/first') && dropped++ === 0) return 'drop-response'; // recorded, answer lost
          if (path.endsWith('/second') && !failedOnce) {
            failedOnce = true;
            return { status: 500, message: 'store hiccup' }; // not recorded
          }
        }
        return 'pass';
      };
      await client.createTask({ queue, id: 'first', kind: 'k' });
      await client.createTask({ queue, id: 'second', kind: 'k' });
      const worker = makeWorker({ client: { baseUrl: proxy.url }, handlers: { [queue]: async (t) => ({ id: t.id }) } });
      const retried: string[] = [];
      worker.on('retrying', (info) => retried.push(`${info.operation}:${info.task?.id}`));
      const lost: string[] = [];
      worker.on('claimLost', (t) => lost.push(t.id));
      const done = waitForEvents(worker, 'taskDone', 2);
      worker.start();
      await done;
      await worker.stop();
      assert.deepEqual(retried.sort(), ['done:first', 'done:second']);
      assert.deepEqual(lost, []);
      for (const id of ['first', 'second']) {
        const t = await client.getTask(queue, id);
        assert.equal(t.state, 'done');
        assert.deepEqual(t.last_claimed?.result?.success, { id });
      }
    } finally {
      await proxy.close();
    }
  });

  it('a failed repeat refused as cancelled counts as cancelled, though its first try was recorded before the cancel', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      const queue = newQueue();
      let dropped = false;
      proxy.decide = (method, path) => {
        if (method === 'PUT' && path.startsWith('/tasques/failed/') && !dropped) {
          dropped = true;
          return 'drop-response'; // recorded (the task is FAILED, waiting), answer lost
        }
        return 'pass';
      };
      const task = await client.createTask({ queue, kind: 'k', retry_times: 3 });
      // The repeat waits 1–2 s: room for the operator's cancel, made when the worker says it will repeat.
      const worker = makeWorker({
        client: { baseUrl: proxy.url },
        handlers: { [queue]: async () => Promise.reject(new Error('boom')) },
        backoff: { minDelayMs: 2000, maxDelayMs: 2000 },
      });
      const failed: string[] = [];
      worker.on('taskFailed', (t) => failed.push(t.id));
      const cancelledEvent = waitForEvent<[Task, TasquesApiError]>(worker, 'taskCancelled');
      worker.once('retrying', () => void client.cancelTask(queue, task.id, 'stop retrying'));
      worker.start();
      const [, error] = await cancelledEvent;
      assert.equal(error.code, 'TQ_ERR_TASK_CANCELLED');
      await worker.stop();
      assert.deepEqual(failed, [], 'not reported as a recorded failure');
      const errors = await client.getTaskErrors(queue, task.id);
      assert.equal(errors.state, 'dead');
      assert.equal(errors.cancellation?.reason, 'stop retrying');
      assert.equal(errors.errors.length, 1, 'the first try was recorded before the cancel');
    } finally {
      await proxy.close();
    }
  });

  it('unclaims tasks that a claim brings in while the worker is stopping', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      const queue = newQueue();
      const worker = makeWorker({
        client: { baseUrl: proxy.url },
        handlers: { [queue]: async () => assert.fail('must not run') },
        blockForMs: 5_000,
      });
      // Hold the claim's answer at the proxy... by holding the long poll open: nothing is queued yet.
      const polling = new Promise<void>((resolve) => {
        proxy.decide = (method, path) => {
          if (path === '/tasques/claims') setImmediate(resolve);
          return 'pass';
        };
      });
      worker.start();
      await polling;
      while (server.engine.waitingClaims === 0) await new Promise((r) => setImmediate(r));
      const stop = worker.stop({ gracePeriodMs: 10_000 });
      const task = await client.createTask({ queue, kind: 'k' }); // the waiting claim takes it
      const summary = await stop;
      assert.deepEqual(summary, { finished: 0, unclaimed: 1, abandoned: 0 });
      const after = await client.getTask(queue, task.id);
      assert.equal(after.state, 'queued');
      assert.equal(after.attempted, 0);
    } finally {
      await proxy.close();
    }
  });
});
