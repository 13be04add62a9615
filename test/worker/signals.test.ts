/**
 * SIGTERM handling, in a real worker process: stop claiming, let running tasks finish within the grace
 * period, unclaim the rest, and exit on its own (nothing left running).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TasquesClient } from '../../src/client/index.js';
import { startTestServer, type TestServer } from '../helpers/sdk.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.dispose();
});

it('on SIGTERM a worker finishes what it can within the grace period, unclaims the rest and exits', async () => {
  const client = new TasquesClient({ baseUrl: server.url });
  const queue = 'signals';
  const quick = await client.createTask({ queue, kind: 'quick' });
  const stuck = await client.createTask({ queue, kind: 'stuck' });
  const env = { ...process.env, TASQUES_URL: server.url, QUEUE: queue, GRACE_MS: '300' };
  delete (env as NodeJS.ProcessEnv).NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('fixtures/signal-worker.ts', import.meta.url))], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const events: Array<Record<string, unknown>> = [];
  let started = 0;
  const deadline = setTimeout(() => child.kill('SIGKILL'), 30_000);
  for await (const line of createInterface({ input: child.stdout })) {
    const event = JSON.parse(line) as Record<string, unknown>;
    events.push(event);
    if (event.event === 'started' && ++started === 2) child.kill('SIGTERM');
  }
  const exit = await exited;
  clearTimeout(deadline);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.deepEqual(
    events.map((e) => e.event),
    ['started', 'started', 'stopping', 'stopped', 'exiting'],
  );
  assert.deepEqual(events[3]?.summary, { finished: 1, unclaimed: 1, abandoned: 0 });
  const q = await client.getTask(queue, quick.id);
  assert.equal(q.state, 'done');
  assert.deepEqual(q.last_claimed?.result?.success, { finished: 'during the grace period' });
  const s = await client.getTask(queue, stuck.id);
  assert.equal(s.state, 'queued');
  assert.equal(s.attempted, 0);
});
