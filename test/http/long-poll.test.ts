// Long-polling claims over real sockets: an enqueue wakes a waiting claim on the same queue (and only
// there), shutdown answers waiting polls with [], and a client that goes away leaves no task claimed.
// The store re-check interval is set to 10 s, so a claim that answers within 2 s of an enqueue while
// block_for is 30 s was woken by the enqueue, not by polling.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { LIMIT, startTestServer, type TestServer, waitUntil, WORKER_HEADER } from '../helpers/http.js';

const WAKE_LIMIT_MS = 2_000;
const SLOW_POLLING = { tasks: { defaults: { block_for_retry_min_wait: '10s' } } };

async function listen(ts: TestServer): Promise<string> {
  await ts.server.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = ts.server.app.server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  return { status: res.status, contentType: res.headers.get('content-type'), json: (await res.json()) as any };
}

const enqueue = async (base: string, queue: string, id: string) => {
  const res = await post(base, '/tasques', { queue, kind: 'k', id });
  assert.equal(res.status, 201);
  return res.json;
};

const longClaim = (base: string, queues: string[], signal?: AbortSignal) =>
  post(base, '/tasques/claims', { queues, block_for: '30s', amount: 1 }, { [WORKER_HEADER]: 'poller' }, signal);

async function getTask(base: string, queue: string, id: string) {
  const res = await fetch(`${base}/tasques/${queue}/${id}`);
  assert.equal(res.status, 200);
  return (await res.json()) as any;
}

test('a waiting claim is woken by an enqueue on its queue and answers at once', LIMIT, async (t) => {
  const ts = await startTestServer(t, SLOW_POLLING);
  const base = await listen(ts);
  const engine = ts.server.engine;

  const pending = longClaim(base, ['a']);
  await waitUntil(() => engine.waitingClaims === 1, 'the claim to wait');
  const started = performance.now();
  const task = await enqueue(base, 'a', 'task-a');
  const res = await pending;
  const elapsed = performance.now() - started;

  assert.equal(res.status, 200);
  assert.match(String(res.contentType), /^application\/json/);
  assert.deepEqual(res.json.map((x: { id: string }) => x.id), [task.id]);
  assert.equal(res.json[0].state, 'claimed');
  assert.equal(res.json[0].last_claimed.worker_id, 'poller');
  assert.ok(elapsed < WAKE_LIMIT_MS, `answered ${elapsed.toFixed(0)} ms after the enqueue (block_for 30 s, polling every 10 s)`);
  assert.equal(engine.waitingClaims, 0);
});

test('several waiting claims: each enqueue wakes one, each task goes to exactly one claim', LIMIT, async (t) => {
  const ts = await startTestServer(t, SLOW_POLLING);
  const base = await listen(ts);
  const engine = ts.server.engine;
  const pendings = [longClaim(base, ['a']), longClaim(base, ['a']), longClaim(base, ['a', 'other'])];
  await waitUntil(() => engine.waitingClaims === 3, 'three claims to wait');
  const started = performance.now();
  for (const id of ['t1', 't2', 't3']) await enqueue(base, 'a', id);
  const results = await Promise.all(pendings);
  const elapsed = performance.now() - started;
  const ids = results.flatMap((r) => r.json.map((x: { id: string }) => x.id)).sort();
  assert.deepEqual(ids, ['t1', 't2', 't3']);
  assert.ok(elapsed < WAKE_LIMIT_MS, `all answered within ${elapsed.toFixed(0)} ms`);
  assert.equal(engine.waitingClaims, 0);
});

test('a claim waiting on queue A is not answered (nor woken in place of B\'s) by an enqueue on queue B', LIMIT, async (t) => {
  const ts = await startTestServer(t, SLOW_POLLING);
  const base = await listen(ts);
  const engine = ts.server.engine;

  let settledA = false;
  const pendingA = longClaim(base, ['a']).finally(() => {
    settledA = true;
  });
  await waitUntil(() => engine.waitingClaims === 1, 'the claim on A to wait');
  // Registered after A's: an enqueue on B must wake this one, not spend its wake-up on A's.
  const pendingB = longClaim(base, ['b']);
  await waitUntil(() => engine.waitingClaims === 2, 'the claim on B to wait');

  const startedB = performance.now();
  await enqueue(base, 'b', 'task-b');
  const resB = await pendingB;
  assert.ok(performance.now() - startedB < WAKE_LIMIT_MS, 'the claim on B was woken');
  assert.deepEqual(resB.json.map((x: { id: string }) => x.id), ['task-b']);

  await enqueue(base, 'b', 'task-b2');
  // A few full round trips through the server, so that a wrong answer on A would have been sent.
  for (let i = 0; i < 3; i++) assert.equal((await getTask(base, 'b', 'task-b2')).state, 'queued');
  assert.equal(settledA, false, 'the claim on A answered after an enqueue on B');
  assert.equal(engine.waitingClaims, 1);

  const started = performance.now();
  await enqueue(base, 'a', 'task-a');
  const res = await pendingA;
  assert.ok(performance.now() - started < WAKE_LIMIT_MS);
  assert.deepEqual(res.json.map((x: { id: string }) => x.id), ['task-a']);
  assert.equal((await getTask(base, 'b', 'task-b2')).state, 'queued', 'B\'s task was not taken');
  assert.equal(engine.waitingClaims, 0);
});

test('an unclaim wakes a claim waiting on that queue', LIMIT, async (t) => {
  const ts = await startTestServer(t, SLOW_POLLING);
  const base = await listen(ts);
  const engine = ts.server.engine;
  await enqueue(base, 'a', 'x');
  const first = await post(base, '/tasques/claims', { queues: ['a'], block_for: '1ms' }, { [WORKER_HEADER]: 'w1' });
  assert.equal(first.json.length, 1);

  const pending = longClaim(base, ['a']);
  await waitUntil(() => engine.waitingClaims === 1, 'the claim to wait');
  const started = performance.now();
  const unclaim = await fetch(`${base}/tasques/claims/a/x`, { method: 'DELETE', headers: { [WORKER_HEADER]: 'w1' } });
  assert.equal(unclaim.status, 200);
  const res = await pending;
  assert.ok(performance.now() - started < WAKE_LIMIT_MS);
  assert.equal(res.json[0]?.id, 'x');
  assert.equal(res.json[0]?.last_claimed.worker_id, 'poller');
});

test('closing the server answers waiting polls with [] at once', LIMIT, async (t) => {
  const ts = await startTestServer(t, SLOW_POLLING);
  const base = await listen(ts);
  const engine = ts.server.engine;
  const pendings = [longClaim(base, ['a']), longClaim(base, ['b']), longClaim(base, [])];
  await waitUntil(() => engine.waitingClaims === 3, 'three claims to wait');
  const started = performance.now();
  await ts.close();
  const results = await Promise.all(pendings);
  const elapsed = performance.now() - started;
  for (const res of results) {
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, []);
  }
  assert.ok(elapsed < WAKE_LIMIT_MS, `answered ${elapsed.toFixed(0)} ms after close (block_for 30 s)`);
  assert.equal(engine.waitingClaims, 0);
});

test('a client that disconnects mid-poll stops the wait; a task enqueued afterwards stays queued and claimable', LIMIT, async (t) => {
  const ts = await startTestServer(t, SLOW_POLLING);
  const base = await listen(ts);
  const engine = ts.server.engine;

  const abort = new AbortController();
  const pending = longClaim(base, ['a'], abort.signal);
  await waitUntil(() => engine.waitingClaims === 1, 'the claim to wait');
  abort.abort();
  await assert.rejects(pending, { name: 'AbortError' });
  // The server notices the closed connection well before block_for (30 s) would end the wait.
  await waitUntil(() => engine.waitingClaims === 0, 'the server to drop the abandoned claim', 5_000);

  await enqueue(base, 'a', 'after-abort');
  const task = await getTask(base, 'a', 'after-abort');
  assert.equal(task.state, 'queued');
  assert.equal(task.attempted, 0);
  assert.ok(!('last_claimed' in task), 'nobody claimed it');

  const next = await post(base, '/tasques/claims', { queues: ['a'], block_for: '1s' }, { [WORKER_HEADER]: 'next' });
  assert.deepEqual(next.json.map((x: { id: string }) => x.id), ['after-abort']);
  assert.equal(next.json[0].last_claimed.worker_id, 'next');
});
