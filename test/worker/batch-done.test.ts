/**
 * The Worker's coalesced done calls (`batchDone`, on by default): tasks that finish while a done call is
 * on the wire are marked done together with one `PUT /tasques/done`; a lone task goes at once with its
 * own call; each task keeps its own outcome (events, claim lost, retries); a server without the batch
 * endpoint gets one call per task. Requests are observed through the fault proxy; no sleeps.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TasquesClient, type Task } from '../../src/client/index.js';
import { Worker, type WorkerOptions } from '../../src/worker/index.js';
import { type FaultProxy, gate, startFaultProxy, startTestServer, waitForEvent, waitForEvents, type TestServer } from '../helpers/sdk.js';

let server: TestServer;
let client: TasquesClient;
let queueSeq = 0;
const newQueue = () => `batch-done-q${++queueSeq}`;
const workers: Worker[] = [];
const proxies: FaultProxy[] = [];

before(async () => {
  server = await startTestServer();
  client = new TasquesClient({ baseUrl: server.url });
});
after(async () => {
  await Promise.all(workers.map((w) => w.stop({ gracePeriodMs: 0 })));
  await Promise.all(proxies.map((p) => p.close()));
  await server.dispose();
});

async function proxied(): Promise<FaultProxy> {
  const proxy = await startFaultProxy(server.url);
  proxies.push(proxy);
  return proxy;
}

function makeWorker(proxy: FaultProxy, options: Partial<WorkerOptions> & Pick<WorkerOptions, 'handlers'>): Worker {
  const worker = new Worker({
    client: { baseUrl: proxy.url },
    blockForMs: 500,
    backoff: { minDelayMs: 5, maxDelayMs: 20 },
    ...options,
  });
  workers.push(worker);
  return worker;
}

const doneCalls = (proxy: FaultProxy) => proxy.requests.filter((r) => r.method === 'PUT' && r.path.startsWith('/tasques/done'));
const batchCalls = (proxy: FaultProxy) => doneCalls(proxy).filter((r) => r.path === '/tasques/done');

/** Creates `n` tasks in `queue` that are claimed in creation order (descending priority). */
async function seed(queue: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await client.createTask({ queue, id: `t${i}`, kind: 'k', priority: 100 - i })).id);
  return ids;
}

describe('Worker: coalesced done calls', () => {
  it('marks tasks that finish together done with few calls, each with its own result and event', async () => {
    const proxy = await proxied();
    const queue = newQueue();
    const ids = await seed(queue, 12);
    const release = gate();
    const worker = makeWorker(proxy, {
      handlers: {
        [queue]: async (task) => {
          await release.promise;
          return { id: task.id };
        },
      },
      concurrency: 12,
    });
    const started = waitForEvents(worker, 'taskStarted', 12);
    const done: Task[] = [];
    worker.on('taskDone', (task) => done.push(task));
    const allDone = waitForEvents(worker, 'taskDone', 12);
    worker.start();
    await started;
    release.open();
    await allDone;
    await worker.stop();
    // The first done goes at once on its own; the eleven that finished meanwhile go together.
    assert.equal(doneCalls(proxy).length, 2, JSON.stringify(doneCalls(proxy)));
    assert.equal(batchCalls(proxy).length, 1);
    assert.deepEqual(done.map((t) => t.id).sort(), [...ids].sort());
    for (const task of done) {
      assert.equal(task.state, 'done', 'the event carries the server task');
      assert.deepEqual(task.last_claimed?.result?.success, { id: task.id });
    }
    for (const id of ids) assert.deepEqual((await client.getTask(queue, id)).last_claimed?.result?.success, { id });
  });

  it('sends a lone task at once with the single-task call', async () => {
    const proxy = await proxied();
    const queue = newQueue();
    const task = await client.createTask({ queue, kind: 'k' });
    const worker = makeWorker(proxy, { handlers: { [queue]: async () => ({ ok: true }) } });
    const done = waitForEvent<[Task]>(worker, 'taskDone');
    worker.start();
    const [finished] = await done;
    await worker.stop();
    assert.equal(finished.id, task.id);
    assert.deepEqual(
      doneCalls(proxy).map((r) => r.path),
      [`/tasques/done/${queue}/${task.id}`],
    );
  });

  it('a task whose claim was lost meanwhile gets claimLost from its batch item; the others are done', async () => {
    const proxy = await proxied();
    const queue = newQueue();
    const ids = await seed(queue, 5);
    const release = gate();
    const worker = makeWorker(proxy, {
      handlers: {
        [queue]: async (task) => {
          await release.promise;
          return { id: task.id };
        },
      },
      concurrency: 5,
    });
    const started = waitForEvents(worker, 'taskStarted', 5);
    const lost = waitForEvent<[Task, unknown]>(worker, 'claimLost');
    const done = waitForEvents(worker, 'taskDone', 4);
    worker.start();
    await started;
    // t2 (claimed third, so it finishes after the first done went out alone) fails behind the worker's back.
    await client.markFailed(queue, 't2', { by: 'operator' }, { workerId: worker.workerId });
    release.open();
    const [lostTask, error] = await lost;
    await done;
    await worker.stop();
    assert.equal(lostTask.id, 't2');
    assert.equal((error as { status?: number }).status, 400);
    assert.equal(batchCalls(proxy).length, 1, 't2 was in the batch');
    assert.deepEqual(
      await Promise.all(ids.map(async (id) => (await client.getTask(queue, id)).state)),
      ['done', 'done', 'failed', 'done', 'done'],
    );
  });

  it('retries a batch that failed in transit, each task on its own schedule, until all are done', async () => {
    const proxy = await proxied();
    const queue = newQueue();
    const ids = await seed(queue, 6);
    let failed = 0;
    proxy.decide = (method, path) => (method === 'PUT' && path === '/tasques/done' && failed++ === 0 ? { status: 503, message: 'busy' } : 'pass');
    const release = gate();
    const worker = makeWorker(proxy, {
      handlers: {
        [queue]: async () => {
          await release.promise;
        },
      },
      concurrency: 6,
    });
    const retried: string[] = [];
    worker.on('retrying', (info) => retried.push(`${info.operation}:${info.task?.id}`));
    const started = waitForEvents(worker, 'taskStarted', 6);
    const done = waitForEvents(worker, 'taskDone', 6);
    worker.start();
    await started;
    release.open();
    await done;
    await worker.stop();
    assert.deepEqual(retried.sort(), ['done:t1', 'done:t2', 'done:t3', 'done:t4', 'done:t5']);
    for (const id of ids) assert.equal((await client.getTask(queue, id)).state, 'done');
  });

  it('falls back to one call per task, for good, when the server has no batch endpoint (404)', async () => {
    const proxy = await proxied();
    proxy.decide = (method, path) => (method === 'PUT' && path === '/tasques/done' ? { status: 404, message: '404 page not found' } : 'pass');
    const queue = newQueue();
    const ids = await seed(queue, 8);
    const release = gate();
    const worker = makeWorker(proxy, {
      handlers: {
        [queue]: async () => {
          await release.promise;
        },
      },
      concurrency: 4,
    });
    const lost: string[] = [];
    worker.on('claimLost', (t) => lost.push(t.id));
    const started = waitForEvents(worker, 'taskStarted', 4);
    const done = waitForEvents(worker, 'taskDone', 8);
    worker.start();
    await started;
    release.open();
    await done;
    await worker.stop();
    assert.deepEqual(lost, []);
    assert.equal(batchCalls(proxy).length, 1, 'tried once, then never again');
    assert.equal(doneCalls(proxy).length - batchCalls(proxy).length, 8, 'every task got its single call');
    for (const id of ids) assert.equal((await client.getTask(queue, id)).state, 'done');
  });

  it('a result that cannot be sent fails only its own task, as with one call per task', async () => {
    const proxy = await proxied();
    const queue = newQueue();
    const ids = await seed(queue, 4);
    const release = gate();
    const worker = makeWorker(proxy, {
      handlers: {
        [queue]: async (task) => {
          await release.promise;
          return task.id === 't2' ? { big: 10n } : { id: task.id }; // a BigInt does not serialize to JSON
        },
      },
      concurrency: 4,
    });
    const started = waitForEvents(worker, 'taskStarted', 4);
    const failed = waitForEvent<[Task, unknown]>(worker, 'taskFailed');
    const done = waitForEvents(worker, 'taskDone', 3);
    worker.start();
    await started;
    release.open();
    const [failedTask, error] = await failed;
    await done;
    await worker.stop();
    assert.equal(failedTask.id, 't2');
    assert.ok(error instanceof TypeError);
    assert.deepEqual(
      await Promise.all(ids.map(async (id) => (await client.getTask(queue, id)).state)),
      ['done', 'done', 'failed', 'done'],
    );
  });

  it('batchDone: false keeps one call per task', async () => {
    const proxy = await proxied();
    const queue = newQueue();
    await seed(queue, 4);
    const release = gate();
    const worker = makeWorker(proxy, {
      handlers: {
        [queue]: async () => {
          await release.promise;
        },
      },
      concurrency: 4,
      batchDone: false,
    });
    const started = waitForEvents(worker, 'taskStarted', 4);
    const done = waitForEvents(worker, 'taskDone', 4);
    worker.start();
    await started;
    release.open();
    await done;
    await worker.stop();
    assert.equal(batchCalls(proxy).length, 0);
    assert.equal(doneCalls(proxy).length, 4);
  });
});
