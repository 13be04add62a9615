// Bulk operations (issue 16): POST /operations (dry run, then the real thing), GET /operations/{id},
// GET /operations, their bounds and errors. A real server over a real SQLite file, through inject; the
// background steps are awaited with engine.bulk.idle(), never with time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/service/clock.js';
import { assertError, claim, LIMIT, startTestServer, worker } from '../helpers/http.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');

async function seed(ts: Awaited<ReturnType<typeof startTestServer>>, queue: string, n: number, kind = 'job') {
  const results = await ts.server.engine.createTasks(Array.from({ length: n }, (_, i) => ({ queue, kind, id: `${queue}-${i}` })));
  assert.ok(results.every((r) => r.task));
}

test('cancel all waiting, then retry all dead, then delete the finished: counts, progress over several steps', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  await seed(ts, 'big', 450); // more than two steps of 200
  await seed(ts, 'other', 5);

  const dry = await ts.request({ method: 'POST', url: '/operations', payload: { kind: 'cancel_waiting', filter: { queue: 'big' }, dry_run: true } });
  assert.equal(dry.status, 200, dry.body);
  assert.deepEqual(dry.json, { kind: 'cancel_waiting', filter: { queue: 'big' }, count: 450, max: 100000 });
  assert.equal((await ts.request({ method: 'GET', url: '/operations' })).json.operations.length, 0, 'a dry run records nothing');

  const started = await ts.request({ method: 'POST', url: '/operations', payload: { kind: 'cancel_waiting', filter: { queue: 'big' } } });
  assert.equal(started.status, 202, started.body);
  assert.equal(started.json.kind, 'cancel_waiting');
  assert.equal(started.json.total, 450);
  assert.deepEqual(started.json.filter, { queue: 'big', state: 'queued,failed' });
  await ts.server.engine.bulk.idle();
  const cancelled = await ts.request({ method: 'GET', url: `/operations/${started.json.id}` });
  assert.equal(cancelled.status, 200);
  assert.deepEqual(
    { state: cancelled.json.state, total: cancelled.json.total, processed: cancelled.json.processed, changed: cancelled.json.changed, skipped: cancelled.json.skipped },
    { state: 'done', total: 450, processed: 450, changed: 450, skipped: 0 },
  );
  const stats = async (queue: string) => (await ts.request({ method: 'GET', url: `/queues/${queue}` })).json.counts;
  assert.equal((await stats('big')).dead, 450);
  assert.equal((await stats('other')).queued, 5, 'other queues untouched');
  // Cancelled before any claim: no made-up claim in the v1 answer; the cancellation names the operation.
  const one = (await ts.request({ method: 'GET', url: '/tasques/big/big-7' })).json;
  assert.equal(one.last_claimed, undefined);
  const errors = (await ts.request({ method: 'GET', url: '/tasques/errors/big/big-7' })).json;
  assert.equal(errors.cancellation.by, `operation ${started.json.id}`);

  clock.advance(1000);
  const retried = await ts.request({ method: 'POST', url: '/operations', payload: { kind: 'retry_dead', filter: { queue: 'big', prefix: 'big-1' } } });
  assert.equal(retried.status, 202, retried.body);
  await ts.server.engine.bulk.idle();
  const retriedDone = (await ts.request({ method: 'GET', url: `/operations/${retried.json.id}` })).json;
  // big-1, big-10..19, big-100..199: 1 + 10 + 100
  assert.equal(retriedDone.changed, 111);
  assert.equal((await stats('big')).queued, 111);

  // Finish two of them, then delete every finished task of the queue.
  const claimed = await claim(ts, 'w', { queues: ['big'], amount: 2, block_for: '0s' });
  for (const c of claimed) {
    const done = await ts.request({ method: 'PUT', url: `/tasques/done/big/${c.id}`, headers: worker('w'), payload: {} });
    assert.equal(done.status, 200);
  }
  clock.advance(1000);
  const countDelete = await ts.request({ method: 'POST', url: '/operations', payload: { kind: 'delete_finished', filter: { queue: 'big' }, dry_run: true } });
  assert.equal(countDelete.json.count, 450 - 111 + 2);
  const deleted = await ts.request({ method: 'POST', url: '/operations', payload: { kind: 'delete_finished', filter: { queue: 'big' } } });
  await ts.server.engine.bulk.idle();
  assert.equal((await ts.request({ method: 'GET', url: `/operations/${deleted.json.id}` })).json.changed, 341);
  assert.deepEqual(await stats('big'), { queued: 109, claimed: 0, failed: 0, done: 0, dead: 0 });
  assert.equal((await ts.request({ method: 'GET', url: `/tasques/big/${claimed[0].id}` })).status, 404);

  const listed = await ts.request({ method: 'GET', url: '/operations?limit=2' });
  assert.deepEqual(listed.json.operations.map((o: { id: string }) => o.id), [deleted.json.id, retried.json.id], 'newest first');
});

test('one running operation per queue, at most 4 at once: 409 TQ_ERR_OPERATION_BUSY', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  // Records of operations another (live) server is running.
  const running = (id: string, queue: string | undefined) =>
    ts.server.store.operationCreate({
      operation: {
        id, kind: 'retry_dead', filter: { queue, states: ['dead'] }, state: 'running', total: 1, processed: 0, changed: 0, skipped: 0,
        ownerId: 'elsewhere', heartbeatAt: T0, createdAt: T0, modifiedAt: T0,
      },
    });
  await running('op-a', 'a');
  const busy = await ts.request({ method: 'POST', url: '/operations', payload: { kind: 'delete_finished', filter: { queue: 'a' } } });
  assert.match(assertError(busy, 409, undefined, 'TQ_ERR_OPERATION_BUSY').message, /op-a/);
  const elsewhere = await ts.request({ method: 'POST', url: '/operations', payload: { kind: 'delete_finished', filter: { queue: 'b' } } });
  assert.equal(elsewhere.status, 202, 'another queue may go ahead');
  await ts.server.engine.bulk.idle();
  await running('op-all', undefined);
  await running('op-c', 'c');
  await running('op-d', 'd');
  const all = await ts.request({ method: 'POST', url: '/operations', payload: { kind: 'cancel_waiting' } });
  assertError(all, 409, undefined, 'TQ_ERR_OPERATION_BUSY');
  await running('op-e', 'e');
  const capped = await ts.request({ method: 'POST', url: '/operations', payload: { kind: 'cancel_waiting', filter: { queue: 'f' } } });
  assert.match(assertError(capped, 409, undefined, 'TQ_ERR_OPERATION_BUSY').message, /at most 4/);
  // A dry run is never busy.
  const dry = await ts.request({ method: 'POST', url: '/operations', payload: { kind: 'cancel_waiting', filter: { queue: 'f' }, dry_run: true } });
  assert.equal(dry.status, 200);
});

test('bad operations answer 400 naming the field; unknown ids 404', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  for (const payload of [
    { kind: 'explode' },
    {},
    { kind: 'retry_dead', filter: { queue: 'Bad Queue' } },
    { kind: 'retry_dead', filter: { state: 'done' } },
    { kind: 'retry_dead', filter: { state: 'sleeping' } },
    { kind: 'retry_dead', filter: { created_after: 'yesterday' } },
    { kind: 'retry_dead', filter: { colour: 'red' } },
    { kind: 'retry_dead', filters: { queue: 'q' } },
    { kind: 'retry_dead', dry_run: 'yes' },
  ]) {
    const res = await ts.request({ method: 'POST', url: '/operations', payload });
    assert.equal(res.status, 400, `${JSON.stringify(payload)}: ${res.body}`);
    assert.match(res.json.code, /^TQ_ERR_(BAD_REQUEST|INVALID_QUEUE_NAME)$/);
  }
  const done = await ts.request({ method: 'POST', url: '/operations', payload: { kind: 'retry_dead', filter: { state: 'done' } } });
  assert.match(done.json.message, /filter\.state/);
  assertError(await ts.request({ method: 'GET', url: '/operations/nope' }), 404, undefined, 'TQ_ERR_OPERATION_NOT_FOUND');
  assertError(await ts.request({ method: 'GET', url: '/operations?limit=0' }), 400, undefined, 'TQ_ERR_BAD_REQUEST');
});

test('the operation routes are behind basic auth when it is configured', LIMIT, async (t) => {
  const ts = await startTestServer(t, { auth: { basic_auth: [{ name: 'ops', password: 'pw' }] } });
  for (const [method, url] of [['POST', '/operations'], ['GET', '/operations'], ['GET', '/operations/x']] as const) {
    assert.equal((await ts.request({ method, url, payload: { kind: 'retry_dead' } })).status, 401, `${method} ${url}`);
  }
});

test('an operation whose record cannot be saved is reported to onError, not left as a rejection that ends the process', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  await seed(ts, 'q', 3);
  const store = ts.server.store;
  const reported: string[] = [];
  ts.server.engine.bulk.onError = (err, operationId) => reported.push(`${operationId}: ${(err as Error).message}`);
  // Fault injection on the real store: every save of the record fails (a full disk, a lost cluster). An own
  // property shadows the driver's method; deleting it restores the method.
  const faulty = store as unknown as Record<string, unknown>;
  faulty.operationUpdate = () => Promise.reject(new Error('the store is gone'));
  t.after(() => {
    delete faulty.operationUpdate;
  });
  const started = await ts.request({ method: 'POST', url: '/operations', payload: { kind: 'cancel_waiting', filter: { queue: 'q' } } });
  assert.equal(started.status, 202, started.body);
  await ts.server.engine.bulk.idle();
  assert.deepEqual(reported, [`${started.json.id}: the store is gone`]);
  // The record stays running (for the leader's takeover); the server still answers.
  delete faulty.operationUpdate;
  const record = await ts.request({ method: 'GET', url: `/operations/${started.json.id}` });
  assert.equal(record.json.state, 'running');
});
