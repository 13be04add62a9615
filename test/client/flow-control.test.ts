/**
 * The client's flow-control methods against a real server over real sockets: keys on createTask, limits
 * set, read and removed, the flow status, and a 400 for a bad limit.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TasquesApiError, TasquesClient } from '../../src/client/index.js';
import { startTestServer, type TestServer } from '../helpers/sdk.js';

let server: TestServer;
let client: TasquesClient;

before(async () => {
  server = await startTestServer();
  client = new TasquesClient({ baseUrl: server.url, workerId: 'flow-test' });
});
after(async () => {
  await server.dispose();
});

test('setQueueLimits, getQueueLimits, getQueueFlow and deleteQueueLimits', async () => {
  assert.deepEqual(await client.getQueueLimits('flow-q'), { queue: 'flow-q', limits: {} });
  const set = await client.setQueueLimits('flow-q', { per_key: { concurrency: 1 }, queue: { rate: { count: 100, per: '1s', burst: 200 } } });
  assert.deepEqual(set.limits, { per_key: { concurrency: 1 }, queue: { rate: { count: 100, per: '1s', burst: 200 } } });
  assert.deepEqual(await client.getQueueLimits('flow-q'), set);

  for (let i = 0; i < 3; i++) await client.createTask({ queue: 'flow-q', kind: 'k', id: `t${i}`, concurrency_key: 'acme' });
  const claimed = await client.claimTasks({ queues: ['flow-q'], amount: 3, block_for: '0s' });
  assert.equal(claimed.length, 1, 'one at a time for acme');
  const page = await client.listTasks({ queue: 'flow-q' });
  assert.ok(page.tasks.every((t) => t.concurrency_key === 'acme'));

  const flow = await client.getQueueFlow('flow-q', 5);
  assert.equal(flow.claimed, 1);
  assert.deepEqual(flow.throttled_keys, [{ key: 'acme', claimed: 1, waiting: 2, reason: 'concurrency' }]);
  assert.equal(flow.waiting_on_limit, 2);

  await assert.rejects(
    client.setQueueLimits('flow-q', { queue: { concurrency: -1 } }),
    (e: unknown) => e instanceof TasquesApiError && e.status === 400 && /concurrency/.test(e.message),
  );
  assert.deepEqual((await client.deleteQueueLimits('flow-q')).limits, {});
  assert.equal((await client.claimTasks({ queues: ['flow-q'], amount: 3, block_for: '0s' })).length, 2);
});
