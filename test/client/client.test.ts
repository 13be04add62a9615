/**
 * tasques/client against a real server (and, for failure cases, a real fault-injecting proxy or a TCP
 * server that never answers).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  TasquesApiError,
  TasquesClient,
  TasquesNetworkError,
  TasquesTimeoutError,
  isClaimLost,
  isTransient,
  type Task,
} from '../../src/client/index.js';
import { freePort, startFaultProxy, startTestServer, type TestServer } from '../helpers/sdk.js';

let server: TestServer;
let client: TasquesClient;
let queueSeq = 0;
const newQueue = () => `client-q${++queueSeq}`;

before(async () => {
  server = await startTestServer();
  client = new TasquesClient({ baseUrl: server.url, workerId: 'client-test-worker' });
});
after(async () => {
  await server.dispose();
});

/** The server's view of a task, read without the client under test. */
async function rawGet(queue: string, id: string): Promise<Task> {
  const res = await fetch(`${server.url}/tasques/${queue}/${id}`);
  assert.equal(res.status, 200);
  return (await res.json()) as Task;
}

describe('tasks', () => {
  it('creates a task with a client-chosen id in the server format, and reads it back', async () => {
    const queue = newQueue();
    const created = await client.createTask({ queue, kind: 'k', args: { n: 1 }, priority: 3 });
    assert.match(created.id, /^[0-9a-f]{32}$/);
    assert.equal(created.state, 'queued');
    assert.equal(created.priority, 3);
    assert.deepEqual(created.args, { n: 1 });
    const read = await client.getTask(queue, created.id);
    assert.deepEqual(read, created);
    assert.deepEqual(await rawGet(queue, created.id), created);
  });

  it('creates many tasks in one call and marks many done in one call, with a result per item', async () => {
    const queue = newQueue();
    const results = await client.createTasks([
      { queue, kind: 'k', args: { n: 1 } },
      { queue, kind: 'k', id: 'dup' },
      { queue, kind: 'k', id: 'dup' },
    ]);
    assert.deepEqual(results.map((r) => r.status), [201, 201, 409]);
    assert.match(results[0]?.task?.id ?? '', /^[0-9a-f]{32}$/, 'the client picks ids, so a repeat cannot duplicate');
    assert.equal(results[2]?.error?.code, 'TQ_ERR_TASK_ALREADY_EXISTS');
    const claimed = await client.claimTasks({ queues: [queue], amount: 10, block_for: '1s' });
    assert.equal(claimed.length, 2);
    const done = await client.markDoneMany([
      ...claimed.map((t) => ({ queue, id: t.id, data: { ok: true } })),
      { queue, id: 'missing' },
    ]);
    assert.deepEqual(done.map((r) => r.status), [200, 200, 404]);
    for (const t of claimed) assert.equal((await rawGet(queue, t.id)).state, 'done');
  });

  it('lets the server pick the id when generateIds is false', async () => {
    const plain = new TasquesClient({ baseUrl: server.url, generateIds: false });
    const queue = newQueue();
    const created = await plain.createTask({ queue, kind: 'k' });
    assert.match(created.id, /^[0-9a-f]{32}$/);
    assert.equal((await rawGet(queue, created.id)).id, created.id);
  });

  it('answers a taken id with a typed 409, or the existing task with onConflict: return-existing', async () => {
    const queue = newQueue();
    const first = await client.createTask({ queue, id: 'order-1', kind: 'k', args: { v: 1 } });
    const err = await client.createTask({ queue, id: 'order-1', kind: 'k', args: { v: 2 } }).then(
      () => assert.fail('expected a 409'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TasquesApiError);
    assert.equal(err.status, 409);
    assert.equal(err.code, 'TQ_ERR_TASK_ALREADY_EXISTS');
    assert.equal(err.message, 'Task with Id [order-1] already exists ');
    assert.equal(err.method, 'POST');
    assert.equal(err.path, '/tasques');
    assert.equal(isTransient(err), false);
    const existing = await client.createTask(
      { queue, id: 'order-1', kind: 'k', args: { v: 3 } },
      { onConflict: 'return-existing' },
    );
    assert.deepEqual(existing, first);
  });

  it('reports validation errors with status, message and code', async () => {
    const err = await client.createTask({ queue: '_Bad', kind: 'k' }).catch((e: unknown) => e);
    assert.ok(err instanceof TasquesApiError);
    assert.equal(err.status, 400);
    assert.equal(err.code, 'TQ_ERR_INVALID_QUEUE_NAME');
    assert.match(err.message, /^Illegal Queue name/);
    const notFound = await client.getTask(newQueue(), 'nope').catch((e: unknown) => e);
    assert.ok(notFound instanceof TasquesApiError);
    assert.equal(notFound.status, 404);
    assert.equal(notFound.code, 'TQ_ERR_TASK_NOT_FOUND');
  });

  it('claims, reports in, and marks done, with the worker id header', async () => {
    const queue = newQueue();
    const created = await client.createTask({ queue, kind: 'k', processing_timeout: '1m' });
    const claimed = await client.claimTasks({ queues: [queue], amount: 5, block_for: 1000 });
    assert.equal(claimed.length, 1);
    const [task] = claimed as [Task];
    assert.equal(task.id, created.id);
    assert.equal(task.state, 'claimed');
    assert.equal(task.attempted, 1);
    assert.equal(task.last_claimed?.worker_id, 'client-test-worker');

    const reported = await client.reportIn(queue, task.id, { progress: 0.5 });
    assert.deepEqual(reported.last_claimed?.last_report?.data, { progress: 0.5 });
    assert.ok(Date.parse(reported.last_claimed!.times_out_at) >= Date.parse(task.last_claimed!.times_out_at));

    const done = await client.markDone(queue, task.id, { answer: 42 });
    assert.equal(done.state, 'done');
    assert.deepEqual(done.last_claimed?.result?.success, { answer: 42 });
    assert.equal((await rawGet(queue, task.id)).state, 'done');
  });

  it('marks failed and unclaims', async () => {
    const queue = newQueue();
    const a = await client.createTask({ queue, kind: 'k', retry_times: 3, priority: 1 });
    const b = await client.createTask({ queue, kind: 'k' });
    const claimed = await client.claimTasks({ queues: [queue], amount: 2, block_for: '1s' });
    assert.deepEqual(claimed.map((t) => t.id).sort(), [a.id, b.id].sort());
    const failed = await client.markFailed(queue, a.id, { error: 'boom' });
    assert.equal(failed.state, 'failed');
    assert.deepEqual(failed.last_claimed?.result?.failure, { error: 'boom' });
    const unclaimed = await client.unclaim(queue, b.id);
    assert.equal(unclaimed.state, 'queued');
    assert.equal(unclaimed.attempted, 0);
  });

  it('surfaces a lost claim as 400 / 403 / 404 (isClaimLost)', async () => {
    const queue = newQueue();
    const created = await client.createTask({ queue, kind: 'k' });
    await client.claimTasks({ queues: [queue], amount: 1, block_for: '1s' });
    const other = await client.reportIn(queue, created.id, undefined, { workerId: 'someone-else' }).catch((e: unknown) => e);
    assert.ok(isClaimLost(other));
    assert.equal((other as TasquesApiError).status, 403);
    assert.equal((other as TasquesApiError).code, 'TQ_ERR_TASK_NOT_OWNED_BY_WORKER');
    await client.markDone(queue, created.id);
    const again = await client.markDone(queue, created.id).catch((e: unknown) => e);
    assert.ok(isClaimLost(again));
    assert.equal((again as TasquesApiError).status, 400);
    assert.equal((again as TasquesApiError).code, 'TQ_ERR_TASK_NOT_CLAIMED');
    const missing = await client.unclaim(queue, 'missing').catch((e: unknown) => e);
    assert.ok(isClaimLost(missing));
    assert.equal((missing as TasquesApiError).status, 404);
  });

  it('refuses a worker operation without a worker id before sending anything', async () => {
    const anonymous = new TasquesClient({ baseUrl: server.url });
    await assert.rejects(anonymous.claimTasks({ queues: ['x'] }), TypeError);
    await assert.rejects(anonymous.markDone('x', 'y'), /worker id/);
  });

  it('long-polls: a claim waits for a task enqueued later', async () => {
    const queue = newQueue();
    const claim = client.claimTasks({ queues: [queue], amount: 1, block_for: '10s' });
    // Enqueue once the claim is waiting on the server (no sleeping: watch the engine's waiter count).
    while (server.engine.waitingClaims === 0) await new Promise((r) => setImmediate(r));
    const created = await client.createTask({ queue, kind: 'k' });
    const [task] = await claim;
    assert.equal(task?.id, created.id);
  });

  it('gives a claim block_for on top of its timeout', async () => {
    // block_for well past the timeout (so a client that did not add it times out), and 400 ms of slack
    // for the answer on a loaded machine (100 ms timed out once in CI with four engines running).
    const short = new TasquesClient({ baseUrl: server.url, workerId: 'w', timeoutMs: 400 });
    const started = Date.now();
    const tasks = await short.claimTasks({ queues: [newQueue()], block_for: '1s' });
    assert.deepEqual(tasks, []);
    assert.ok(Date.now() - started >= 950, 'the claim waited for block_for');
  });

  it('rejects with the caller’s reason when the caller aborts', async () => {
    const controller = new AbortController();
    const claim = client.claimTasks({ queues: [newQueue()], block_for: '30s' }, { signal: controller.signal });
    while (server.engine.waitingClaims === 0) await new Promise((r) => setImmediate(r));
    controller.abort(new Error('caller gave up'));
    await assert.rejects(claim, /caller gave up/);
  });

  it('reuses one keep-alive connection for sequential calls', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      const viaProxy = new TasquesClient({ baseUrl: proxy.url, workerId: 'w' });
      const queue = newQueue();
      for (let i = 0; i < 20; i++) await viaProxy.createTask({ queue, kind: 'k' });
      assert.equal(proxy.requests.length, 20);
      // undici's pool may open a second connection when a request starts in the same tick as the
      // previous answer ends; without keep-alive there would be 20.
      assert.ok(proxy.connections <= 2, `${proxy.connections} connections`);
    } finally {
      await proxy.close();
    }
  });
});

describe('retries', () => {
  const fast = { retries: 2, minDelayMs: 1, maxDelayMs: 5 };

  it('repeats a create whose answer was lost; the 409 then returns the task the first try created', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      proxy.decide = (method, _path, i) => (method === 'POST' && i === 0 ? 'drop-response' : 'pass');
      const viaProxy = new TasquesClient({ baseUrl: proxy.url, retry: fast });
      const queue = newQueue();
      const task = await viaProxy.createTask({ queue, kind: 'k', args: { once: true } });
      assert.deepEqual(
        proxy.requests.map((r) => `${r.method} ${r.action}`),
        ['POST drop-response', 'POST pass', 'GET pass'],
      );
      assert.deepEqual(await rawGet(queue, task.id), task);
      assert.deepEqual(task.args, { once: true });
    } finally {
      await proxy.close();
    }
  });

  it('does not repeat a claim that may have reached the server', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      proxy.decide = () => 'drop-response';
      const viaProxy = new TasquesClient({ baseUrl: proxy.url, workerId: 'w-dropped', retry: fast });
      const queue = newQueue();
      const created = await client.createTask({ queue, kind: 'k' });
      const err = await viaProxy.claimTasks({ queues: [queue], block_for: '1s' }).catch((e: unknown) => e);
      assert.ok(err instanceof TasquesNetworkError);
      assert.equal(err.sent, true);
      assert.equal(proxy.requests.length, 1, 'one claim only');
      // The server did claim it: that is why a repeat would have stranded it.
      assert.equal((await rawGet(queue, created.id)).last_claimed?.worker_id, 'w-dropped');
    } finally {
      await proxy.close();
    }
  });

  it('does not repeat done, failed or unclaim after a lost answer', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      proxy.decide = () => 'drop-response';
      const viaProxy = new TasquesClient({ baseUrl: proxy.url, workerId: 'client-test-worker', retry: fast });
      const queue = newQueue();
      const created = await client.createTask({ queue, kind: 'k' });
      await client.claimTasks({ queues: [queue], block_for: '1s' });
      await assert.rejects(viaProxy.markDone(queue, created.id), TasquesNetworkError);
      assert.equal(proxy.requests.length, 1);
      assert.equal((await rawGet(queue, created.id)).state, 'done');
      await assert.rejects(viaProxy.markFailed(queue, created.id), TasquesNetworkError);
      await assert.rejects(viaProxy.unclaim(queue, created.id), TasquesNetworkError);
      assert.equal(proxy.requests.length, 3);
    } finally {
      await proxy.close();
    }
  });

  it('repeats reads and report-ins after 5xx answers', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      const queue = newQueue();
      const created = await client.createTask({ queue, kind: 'k' });
      await client.claimTasks({ queues: [queue], block_for: '1s' });
      proxy.decide = (_m, _p, i) => (i % 2 === 0 ? { status: 503, message: 'try later' } : 'pass');
      const viaProxy = new TasquesClient({ baseUrl: proxy.url, workerId: 'client-test-worker', retry: fast });
      assert.equal((await viaProxy.getTask(queue, created.id)).id, created.id);
      assert.ok((await viaProxy.reportIn(queue, created.id, { p: 1 })).last_claimed?.last_report);
      assert.deepEqual(
        proxy.requests.map((r) => `${r.method} ${typeof r.action === 'object' ? r.action.status : r.action}`),
        ['GET 503', 'GET pass', 'PUT 503', 'PUT pass'],
      );
      // ...but not a claim: 5xx from a proxy may hide a claim the server made.
      proxy.requests.length = 0;
      const err = await viaProxy.claimTasks({ queues: [queue], block_for: 0 }).catch((e: unknown) => e);
      assert.ok(err instanceof TasquesApiError);
      assert.equal(err.status, 503);
      assert.equal(err.message, 'try later');
      assert.equal(isTransient(err), true);
      assert.equal(proxy.requests.length, 1);
    } finally {
      await proxy.close();
    }
  });

  it('gives up after the configured number of repeats', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      proxy.decide = () => ({ status: 500, message: 'down' });
      const viaProxy = new TasquesClient({ baseUrl: proxy.url, retry: { retries: 3, minDelayMs: 1, maxDelayMs: 2 } });
      const err = await viaProxy.listRecurringTasks().catch((e: unknown) => e);
      assert.ok(err instanceof TasquesApiError);
      assert.equal(err.status, 500);
      assert.equal(proxy.requests.length, 4);
    } finally {
      await proxy.close();
    }
  });

  it('repeats a claim whose connection was refused (nothing was sent)', async () => {
    const port = await freePort();
    let proxy: Awaited<ReturnType<typeof startFaultProxy>> | undefined;
    let calls = 0;
    const queue = newQueue();
    const created = await client.createTask({ queue, kind: 'k' });
    const refusing = new TasquesClient({
      baseUrl: `http://127.0.0.1:${port}`,
      workerId: 'w-refused',
      retry: fast,
      // The real fetch; after the first refusal a proxy starts listening on that port.
      fetch: async (input, init) => {
        calls++;
        try {
          return await fetch(input, init);
        } catch (e) {
          proxy ??= await startFaultProxy(server.url, port);
          throw e;
        }
      },
    });
    try {
      const [task] = await refusing.claimTasks({ queues: [queue], block_for: '1s' });
      assert.equal(task?.id, created.id);
      assert.equal(calls, 2);
      assert.equal(proxy?.requests.length, 1);
    } finally {
      await proxy?.close();
    }
  });

  it('reports a refused connection as a network error that was not sent', async () => {
    const port = await freePort();
    const refusing = new TasquesClient({ baseUrl: `http://127.0.0.1:${port}`, workerId: 'w', retry: { retries: 0 } });
    const err = await refusing.claimTasks({ queues: ['q'] }).catch((e: unknown) => e);
    assert.ok(err instanceof TasquesNetworkError);
    assert.equal(err.errno, 'ECONNREFUSED');
    assert.equal(err.sent, false);
    assert.equal(isTransient(err), true);
  });

  it('times out when the server does not answer, and repeats only safe calls', async () => {
    let requests = 0;
    const blackHole = net.createServer((socket) => {
      // Read, never answer; count request lines.
      socket.on('data', (chunk: Buffer) => {
        requests += chunk.toString('latin1').match(/^(GET|POST|PUT|DELETE) \//gm)?.length ?? 0;
      });
    });
    blackHole.listen(0, '127.0.0.1');
    await once(blackHole, 'listening');
    const { port } = blackHole.address() as net.AddressInfo;
    const silent = new TasquesClient({ baseUrl: `http://127.0.0.1:${port}`, workerId: 'w', timeoutMs: 150, retry: fast });
    try {
      const get = await silent.getTask('q', 'id').catch((e: unknown) => e);
      assert.ok(get instanceof TasquesTimeoutError);
      assert.equal(get.timeoutMs, 150);
      assert.equal(requests, 3, 'GET tried three times');
      requests = 0;
      const claim = await silent.claimTasks({ queues: ['q'], block_for: '100ms' }).catch((e: unknown) => e);
      assert.ok(claim instanceof TasquesTimeoutError);
      assert.equal(claim.timeoutMs, 250, 'block_for + timeout');
      assert.equal(requests, 1, 'claim tried once');
    } finally {
      blackHole.close();
    }
  });
});

describe('recurring tasks', () => {
  it('creates, lists, reads, updates and deletes', async () => {
    const created = await client.createRecurringTask({
      id: 'client-every-hour',
      schedule_expression: '@every 1h',
      task_definition: { queue: 'recurring-q', kind: 'tick', args: { a: 1 } },
    });
    assert.equal(created.id, 'client-every-hour');
    assert.equal(created.task_definition.retry_times, 25);
    assert.equal(created.skip_if_outstanding_tasks_exist, false);
    const dup = await client
      .createRecurringTask({ id: 'client-every-hour', schedule_expression: '@hourly', task_definition: { queue: 'q', kind: 'k' } })
      .catch((e: unknown) => e);
    assert.ok(dup instanceof TasquesApiError);
    assert.equal(dup.status, 409);
    assert.equal(dup.code, 'TQ_ERR_RECURRING_TASK_ALREADY_EXISTS');

    assert.ok((await client.listRecurringTasks()).some((r) => r.id === 'client-every-hour'));
    assert.deepEqual((await client.getRecurringTask('client-every-hour')).task_definition.args, { a: 1 });
    const updated = await client.updateRecurringTask('client-every-hour', { schedule_expression: '@every 2h' });
    assert.equal(updated.schedule_expression, '@every 2h');
    assert.deepEqual(updated.task_definition.args, { a: 1 });
    const bad = await client.updateRecurringTask('client-every-hour', { schedule_expression: 'lolz' }).catch((e: unknown) => e);
    assert.ok(bad instanceof TasquesApiError);
    assert.equal(bad.status, 400);

    const deleted = await client.deleteRecurringTask('client-every-hour');
    assert.equal(deleted.id, 'client-every-hour');
    const gone = await client.getRecurringTask('client-every-hour').catch((e: unknown) => e);
    assert.ok(gone instanceof TasquesApiError);
    assert.equal(gone.status, 404);
    assert.equal(gone.code, 'TQ_ERR_RECURRING_TASK_NOT_FOUND');
  });
});

describe('basic auth', () => {
  it('sends the credentials; without them the server answers a typed 401', async () => {
    const guarded = await startTestServer({ auth: { basic_auth: [{ name: 'ops', password: 's3cret' }] } });
    try {
      const without = await new TasquesClient({ baseUrl: guarded.url }).listRecurringTasks().catch((e: unknown) => e);
      assert.ok(without instanceof TasquesApiError);
      assert.equal(without.status, 401);
      const withAuth = new TasquesClient({ baseUrl: guarded.url, auth: { username: 'ops', password: 's3cret' } });
      assert.deepEqual(await withAuth.listRecurringTasks(), []);
    } finally {
      await guarded.dispose();
    }
  });

  it('sends a bearer token; a role that may not use the route gets a typed 403', async () => {
    const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
    const guarded = await startTestServer({
      auth: { bearer_tokens: [{ name: 'svc', role: 'producer', sha256: sha256('tq_client-test') }] },
    });
    try {
      const client = new TasquesClient({ baseUrl: guarded.url, bearerToken: 'tq_client-test' });
      assert.deepEqual(await client.whoami(), { name: 'svc', scheme: 'bearer', role: 'producer', access: ['produce', 'read', 'any'] });
      const created = await client.createTask({ queue: 'q', kind: 'k' });
      assert.equal((await client.getTask('q', created.id)).id, created.id);
      const denied = await client.pauseQueue('q').catch((e: unknown) => e);
      assert.ok(denied instanceof TasquesApiError);
      assert.equal(denied.status, 403);
      assert.equal(denied.code, 'TQ_ERR_FORBIDDEN');
      assert.throws(() => new TasquesClient({ baseUrl: guarded.url, bearerToken: 'x', auth: { username: 'a', password: 'b' } }), TypeError);
    } finally {
      await guarded.dispose();
    }
  });
});
