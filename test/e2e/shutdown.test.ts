/**
 * Graceful shutdown of the real server process on SIGTERM and SIGINT: waiting long polls are answered
 * `200 []` at once, requests already in flight complete, new connections are refused, and the process
 * logs "stopped" and exits with code 0.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  connectionRefused,
  killAllServers,
  type PendingRequest,
  type ServerProcess,
  startRequest,
  startServer,
} from '../helpers/cli.js';

after(killAllServers);

const WORKER = { 'X-TASQUES-WORKER-ID': 'shutdown-worker' };

/** Polls (no sleeping: each attempt waits for the previous socket outcome) until connects are refused. */
async function waitUntilRefused(server: ServerProcess, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let attempts = 0;
  while (performance.now() < deadline) {
    attempts++;
    if (await connectionRefused(server.url)) return attempts;
  }
  throw new Error(`connections to ${server.url} were still accepted ${timeoutMs}ms after the signal`);
}

/** A request routed by the server (it answered 100 Continue) whose body is sent later. */
async function held(server: ServerProcess, method: string, path: string, headers: Record<string, string>, body: string) {
  const req = startRequest(server.url + path, method, headers, Buffer.byteLength(body));
  await req.continued;
  return req;
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  describe(`graceful shutdown on ${signal}`, () => {
    it('answers long polls with [] at once, completes in-flight requests, refuses new connections, exits 0', async () => {
      // A long shutdown timeout, and a poll re-check interval as long as the poll (block_for / 1): only the
      // shutdown waking the polls up (not the forced close, nor their periodic re-check) answers them in time.
      const server = await startServer({
        env: {
          TASQUES_SERVER_SHUTDOWN_TIMEOUT: '60s',
          TASQUES_SERVER_TASKS_DEFAULTS_BLOCK_FOR_RETRY_MAX_RETRIES: '1',
        },
      });

      // Two long polls, each fully sent.
      const polls: PendingRequest[] = [];
      for (const queue of ['poll-a', 'poll-b']) {
        const body = JSON.stringify({ queues: [queue], amount: 2, block_for: '30s' });
        const poll = await held(server, 'POST', '/tasques/claims', WORKER, body);
        poll.end(body);
        polls.push(poll);
      }
      // Two creates in flight: routed, body half sent.
      const creates: Array<{ req: PendingRequest; rest: string; kind: string }> = [];
      for (const kind of ['in-flight-1', 'in-flight-2']) {
        const body = JSON.stringify({ queue: 'shutdown', kind, args: { signal } });
        const req = await held(server, 'POST', '/tasques', {}, body);
        const half = Math.floor(body.length / 2);
        req.write(body.slice(0, half));
        creates.push({ req, rest: body.slice(half), kind });
      }
      // One more round trip, so the poll bodies have been read before the signal.
      const ready = await server.request('GET', '/recurring_tasques');
      assert.equal(ready.status, 200);

      const signalledAt = performance.now();
      server.signal(signal);
      const shuttingDown = await server.waitForLog((l) => l.msg === 'shutting down');
      assert.equal(shuttingDown.signal, signal);

      // The long polls are answered 200 [] promptly: well before their 30s block_for and the 60s shutdown timeout
      // (the bound is loose only so that a loaded CI machine does not make it flaky).
      for (const poll of polls) {
        const res = await poll.response;
        assert.equal(res.status, 200, res.text);
        assert.match(String(res.headers['content-type']), /^application\/json/);
        assert.deepEqual(res.json(), []);
        const waited = res.receivedAt - signalledAt;
        assert.ok(waited < 10_000, `a long poll was answered ${Math.round(waited)}ms after ${signal}`);
      }

      // New connections are refused while the in-flight requests are still open…
      await waitUntilRefused(server, 10_000);
      assert.equal(server.exitInfo, undefined, 'the process must wait for the in-flight requests');
      assert.equal(server.logs.some((l) => l.msg === 'stopped'), false);

      // …which complete normally once their bodies arrive.
      for (const { req, rest } of creates) req.end(rest);
      const createdIds: string[] = [];
      for (const { req, kind } of creates) {
        const res = await req.response;
        assert.equal(res.status, 201, res.text);
        const task = res.json();
        assert.equal(task.kind, kind);
        assert.equal(task.state, 'queued');
        assert.deepEqual(task.args, { signal });
        createdIds.push(task.id);
      }

      assert.deepEqual(await server.waitForExit(10_000), { code: 0, signal: null });
      const stoppedIndex = server.logs.findIndex((l) => l.msg === 'stopped');
      assert.ok(stoppedIndex > server.logs.indexOf(shuttingDown), `no "stopped" line after "shutting down":\n${server.stderr}`);
      assert.equal(await connectionRefused(server.url), true);

      // What the in-flight requests wrote was committed before the store closed.
      const again = await startServer({ dir: server.dir, dbPath: server.dbPath });
      for (const id of createdIds) {
        const res = await again.request('GET', `/tasques/shutdown/${id}`);
        assert.equal(res.status, 200, res.text);
      }
      again.signal(signal);
      assert.deepEqual(await again.waitForExit(), { code: 0, signal: null });
    });
  });
}

describe('shutdown with nothing in flight', () => {
  it('exits 0 promptly on SIGTERM when idle, with keep-alive connections open', async () => {
    const server = await startServer();
    // Leave an idle keep-alive connection open: it must not hold the process.
    const res = await server.request('GET', '/recurring_tasques');
    assert.equal(res.status, 200);
    assert.equal(res.headers.connection, 'keep-alive');
    server.signal('SIGTERM');
    assert.deepEqual(await server.waitForExit(10_000), { code: 0, signal: null });
    assert.ok(server.logs.some((l) => l.msg === 'stopped'));
  });

  it('exits non-zero at once on a second signal', async () => {
    // A held request keeps the graceful shutdown waiting; the second signal cuts it short.
    const server = await startServer({ env: { TASQUES_SERVER_SHUTDOWN_TIMEOUT: '60s' } });
    const body = JSON.stringify({ queue: 'second-signal', kind: 'k' });
    const req = await held(server, 'POST', '/tasques', {}, body);
    req.response.catch(() => undefined); // the process dies with it open
    server.signal('SIGTERM');
    await server.waitForLog((l) => l.msg === 'shutting down');
    server.signal('SIGTERM');
    const exit = await server.waitForExit(10_000);
    assert.equal(exit.code, 1);
    assert.ok(server.logs.some((l) => l.msg === 'second signal: exiting now'));
  });
});
