// GET /tasques/archived/{queue}/{id} (additive to v1): after the server's archiver moved a finished task
// out of its queue, the live route answers 404 and the archived route answers the same Task JSON; the id
// can be used again. Errors follow the v1 error shape.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/service/clock.js';
import {
  assertError,
  assertJsonContentType,
  assertTaskShape,
  createTask,
  startTestServer,
  worker,
} from '../helpers/http.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3600_000;

test('an archived task is read from /tasques/archived/{queue}/{id}, in the same JSON it had; its id is free again', async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, { recurring: { tasks_archiver: { archive_older_than: '1h' } } }, { clock, leadership: true });
  const leadership = ts.server.leadership;
  assert.ok(leadership, 'the server wires leadership and its archiver');
  // Stop the server's own loops, so that this test alone decides when the archiver runs.
  await leadership.elector.stop();
  const archiver = leadership.archiver;
  assert.equal(archiver.started, false);

  await createTask(ts, { id: 'order-1', queue: 'orders', kind: 'k', args: { n: 1 } });
  // Claimed through the engine: this test is about archiving, not the claim route.
  const [claimed] = await ts.server.engine.claimTasks({ queues: ['orders'], workerId: 'w1', blockForMs: 0 });
  assert.equal(claimed?.id, 'order-1');
  const done = await ts.request({
    method: 'PUT',
    url: `/tasques/done/orders/${claimed.id}`,
    headers: worker('w1'),
    payload: { data: { shipped: true } },
  });
  assert.equal(done.status, 200, done.body);
  const live = await ts.request({ method: 'GET', url: '/tasques/orders/order-1' });
  assert.equal(live.status, 200);

  assertError(
    await ts.request({ method: 'GET', url: '/tasques/archived/orders/order-1' }),
    404,
    'Could not find [order-1] in queue [orders]',
    'TQ_ERR_TASK_NOT_FOUND',
  );

  clock.advance(HOUR - 1);
  assert.deepEqual(await archiver.runOnce(), { archived: 0, deleted: 0 }, 'not an hour old yet');
  clock.advance(1);
  assert.deepEqual(await archiver.runOnce(), { archived: 1, deleted: 0 });

  assertError(await ts.request({ method: 'GET', url: '/tasques/orders/order-1' }), 404, undefined, 'TQ_ERR_TASK_NOT_FOUND');
  const archived = await ts.request({ method: 'GET', url: '/tasques/archived/orders/order-1' });
  assert.equal(archived.status, 200);
  assertJsonContentType(archived);
  assertTaskShape(archived.json);
  assert.deepEqual(archived.json, live.json);
  assert.equal(archived.json.state, 'done');
  assert.deepEqual(archived.json.last_claimed.result.success, { shipped: true });

  const reused = await createTask(ts, { id: 'order-1', queue: 'orders', kind: 'again' });
  assert.equal(reused.kind, 'again');
  assert.equal((await ts.request({ method: 'GET', url: '/tasques/archived/orders/order-1' })).json.kind, 'k');
});

test('GET /tasques/archived checks the queue name, and is behind basic auth when it is configured', async (t) => {
  const ts = await startTestServer(t, { auth: { basic_auth: [{ name: 'u', password: 'p' }] } });
  const auth = { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` };
  assert.equal((await ts.request({ method: 'GET', url: '/tasques/archived/q/x' })).status, 401);
  assertError(
    await ts.request({ method: 'GET', url: '/tasques/archived/Bad_Queue/x', headers: auth }),
    400,
    /Illegal Queue name/,
    'TQ_ERR_INVALID_QUEUE_NAME',
  );
  assertError(await ts.request({ method: 'GET', url: '/tasques/archived/q/x', headers: auth }), 404);
});

test('the archived-task route is in the OpenAPI document', async (t) => {
  const ts = await startTestServer(t);
  const doc = (await ts.request({ method: 'GET', url: '/openapi.json' })).json;
  const op = doc.paths['/tasques/archived/{queue}/{id}']?.get;
  assert.ok(op, 'path documented');
  assert.equal(op.operationId, 'get-archived-task');
  assert.deepEqual(Object.keys(op.responses).sort(), ['200', '400', '401', '404']);
});
