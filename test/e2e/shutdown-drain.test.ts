/**
 * The drain delay of a graceful shutdown (issue 12 item 13), through the real server process: after
 * SIGTERM, /readyz answers 503 while every other route is served as before (each answer closing its
 * connection, so clients reconnect through their load balancer), then the server stops and exits 0.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { connectionRefused, killAllServers, request, startServer } from '../helpers/cli.js';

after(killAllServers);

it('on SIGTERM, /readyz answers 503 for shutdown_drain_delay while the other routes are served, then it stops', async () => {
  const server = await startServer({ env: { TASQUES_SERVER_SHUTDOWN_DRAIN_DELAY: '3s', TASQUES_SERVER_LOGGING_LEVEL: 'info' } });
  assert.equal((await request(`${server.url}/readyz`)).status, 200);
  const signalledAt = performance.now();
  server.signal('SIGTERM');
  await server.waitForLog((l) => l.msg === 'draining: not ready, still serving', 5_000, 'the drain log line');

  const ready = await request(`${server.url}/readyz`);
  assert.equal(ready.status, 503, ready.text);
  const created = await request(`${server.url}/tasques`, { method: 'POST', body: { queue: 'q', kind: 'k' } });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.headers.connection, 'close', 'answers close their connection during the drain');
  const got = await request(`${server.url}/tasques/q/${created.json().id}`);
  assert.equal(got.status, 200);
  assert.equal(await connectionRefused(server.url), false, 'still accepting connections');

  assert.deepEqual(await server.waitForExit(15_000), { code: 0, signal: null });
  assert.ok(performance.now() - signalledAt >= 2_900, 'it served for the whole drain delay');
  assert.equal(await connectionRefused(server.url), true);
});
