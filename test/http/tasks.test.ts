// The success path of every v1 task endpoint (spec §1.2–§1.5): status codes, the full Task JSON shape,
// defaults, JSON content type, RFC 3339 Z timestamps, Go duration strings and int32 integers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/service/clock.js';
import {
  assertJsonContentType,
  assertTaskShape,
  claim,
  createClaimed,
  createTask,
  LIMIT,
  startTestServer,
  storedRows,
  worker,
} from '../helpers/http.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

test('POST /tasques answers 201 with the full Task and v1 defaults', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  const res = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'run-later', kind: 'sayHello' } });
  assert.equal(res.status, 201);
  assertJsonContentType(res);
  assertTaskShape(res.json);
  const { id, metadata, ...rest } = res.json;
  assert.match(id, /^[0-9a-f]{32}$/, 'a generated id is a UUID without hyphens (32 lower-case hex characters)');
  assert.deepEqual(rest, {
    queue: 'run-later',
    retry_times: 25,
    attempted: 0,
    kind: 'sayHello',
    state: 'queued',
    priority: 0,
    processing_timeout: '30m0s',
    run_at: iso(T0),
    last_enqueued_at: iso(T0),
  });
  assert.equal(metadata.created_at, iso(T0));
  assert.equal(metadata.modified_at, iso(T0));
  assert.equal(storedRows(ts, 'tasks'), 1);
});

test('POST /tasques keeps every given field; durations come back in Go format and times in UTC', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  const cases: [string, string][] = [
    ['1h30m', '1h30m0s'],
    ['300ms', '300ms'],
    ['1.5s', '1.5s'],
    ['90s', '1m30s'],
    ['2h', '2h0m0s'],
  ];
  for (const [i, [given, expected]] of cases.entries()) {
    const task = await createTask(ts, {
      id: `my-id-${i}`,
      queue: 'q',
      kind: 'k',
      retry_times: 3,
      priority: -7,
      processing_timeout: given,
      run_at: '2030-06-01T12:00:00+02:00',
      args: { n: i, nested: { list: [1, 'two', null] } },
      context: { trace: 'abc' },
    });
    assertTaskShape(task);
    assert.equal(task.id, `my-id-${i}`);
    assert.equal(task.processing_timeout, expected, `processing_timeout ${given}`);
    assert.equal(task.retry_times, 3);
    assert.equal(task.priority, -7);
    assert.equal(task.run_at, '2030-06-01T10:00:00.000Z');
    assert.deepEqual(task.args, { n: i, nested: { list: [1, 'two', null] } });
    assert.deepEqual(task.context, { trace: 'abc' });
  }
});

test('POST /tasques treats the Go zero time and JSON nulls as unset (what v1 clients send)', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  const task = await createTask(ts, {
    queue: 'q',
    kind: 'k',
    run_at: '0001-01-01T00:00:00Z',
    id: null,
    retry_times: null,
    priority: null,
    processing_timeout: null,
    args: null,
    context: null,
  });
  assertTaskShape(task);
  assert.equal(task.run_at, iso(T0));
  assert.equal(task.retry_times, 25);
  assert.equal(task.priority, 0);
  assert.equal(task.processing_timeout, '30m0s');
  assert.ok(!('args' in task) && !('context' in task));
  // The Go client's millisecond variant of the zero time too.
  assert.equal((await createTask(ts, { queue: 'q', kind: 'k', run_at: '0001-01-01T00:00:00.000Z' })).run_at, iso(T0));
});

test('integers at the int32 bounds are accepted and returned as JSON integers', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const task = await createTask(ts, { queue: 'q', kind: 'k', retry_times: 2_147_483_647, priority: -2_147_483_648 });
  assertTaskShape(task);
  assert.equal(task.retry_times, 2_147_483_647);
  assert.equal(task.priority, -2_147_483_648);
});

test('GET /tasques/{queue}/{id} answers 200 with the stored task', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const created = await createTask(ts, { queue: 'q', kind: 'k', args: { a: 1 } });
  const res = await ts.request({ method: 'GET', url: `/tasques/q/${created.id}` });
  assert.equal(res.status, 200);
  assertJsonContentType(res);
  assertTaskShape(res.json);
  assert.deepEqual(res.json, created);
});

test('POST /tasques/claims answers 200 with the claimed tasks, and [] when none is claimable', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  const created = await createTask(ts, { queue: 'q', kind: 'k', processing_timeout: '15m' });
  clock.advance(1000);
  const res = await ts.request({
    method: 'POST',
    url: '/tasques/claims',
    headers: worker('worker-1'),
    payload: { queues: ['q'], amount: 5, block_for: '1ms' },
  });
  assert.equal(res.status, 200);
  assertJsonContentType(res);
  assert.ok(Array.isArray(res.json));
  assert.equal(res.json.length, 1);
  const task = res.json[0];
  assertTaskShape(task);
  assert.equal(task.id, created.id);
  assert.equal(task.state, 'claimed');
  assert.equal(task.attempted, 1);
  assert.equal(task.run_at, created.run_at, 'a claim does not move run_at');
  assert.deepEqual(task.last_claimed, {
    worker_id: 'worker-1',
    claimed_at: iso(T0 + 1000),
    times_out_at: iso(T0 + 1000 + 15 * 60_000),
  });
  assert.equal(task.metadata.modified_at, iso(T0 + 1000));
  assert.ok(task.metadata.version.seq_num > created.metadata.version.seq_num, 'the version moves on a write');

  // (block_for 0s: this test's clock only moves when told to, so a wait would never end.)
  const empty = await ts.request({
    method: 'POST',
    url: '/tasques/claims',
    headers: worker('worker-1'),
    payload: { queues: ['q'], block_for: '0s' },
  });
  assert.equal(empty.status, 200);
  assertJsonContentType(empty);
  assert.equal(empty.body, '[]');
});

test('claims: amount 0 answers [] at once, [] queues means every queue, results follow priority', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  await createTask(ts, { queue: 'a', kind: 'k', id: 'low', priority: 1 });
  await createTask(ts, { queue: 'b', kind: 'k', id: 'high', priority: 9 });
  assert.deepEqual(await claim(ts, 'w', { queues: ['a', 'b'], amount: 0 }), []);
  const claimed = await claim(ts, 'w', { queues: [], amount: 10, block_for: '1ms' });
  assert.deepEqual(
    claimed.map((c) => c.id),
    ['high', 'low'],
  );
  for (const task of claimed) assertTaskShape(task);
});

test('claims without amount or block_for use the defaults (1 task), and [] when nothing is claimable', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  await createTask(ts, { queue: 'q', kind: 'k' });
  await createTask(ts, { queue: 'q', kind: 'k' });
  const claimed = await claim(ts, 'w', { queues: ['q'] });
  assert.equal(claimed.length, 1);
  await claim(ts, 'w', { queues: ['q'] });
  assert.deepEqual(await claim(ts, 'w', { queues: ['q'], block_for: '10ms' }), []);
  assert.deepEqual(await claim(ts, 'w', { queues: ['elsewhere'], block_for: '10ms' }), []);
});

test('DELETE /tasques/claims/{queue}/{id} gives the task back: 200, queued, attempted − 1, last_claimed kept', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  const claimed = await createClaimed(ts, 'q', 'w1');
  clock.advance(5000);
  const res = await ts.request({ method: 'DELETE', url: `/tasques/claims/q/${claimed.id}`, headers: worker('w1') });
  assert.equal(res.status, 200);
  assertJsonContentType(res);
  assertTaskShape(res.json);
  assert.equal(res.json.state, 'queued');
  assert.equal(res.json.attempted, 0);
  assert.deepEqual(res.json.last_claimed, claimed.last_claimed);
  assert.equal(res.json.last_enqueued_at, iso(T0 + 5000));
  assert.equal(res.json.run_at, claimed.run_at);
  // And it can be claimed again.
  assert.equal((await claim(ts, 'w2', { queues: ['q'], block_for: '1ms' }))[0]?.id, claimed.id);
});

test('PUT /tasques/reports/{queue}/{id}: 200, last_report stored, times_out_at pushed to now + timeout', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  const claimed = await createClaimed(ts, 'q', 'w1', { processing_timeout: '10m' });
  clock.advance(60_000);
  const res = await ts.request({
    method: 'PUT',
    url: `/tasques/reports/q/${claimed.id}`,
    headers: worker('w1'),
    payload: { data: { progress: 50 } },
  });
  assert.equal(res.status, 200);
  assertJsonContentType(res);
  assertTaskShape(res.json);
  assert.equal(res.json.state, 'claimed');
  assert.deepEqual(res.json.last_claimed.last_report, { at: iso(T0 + 60_000), data: { progress: 50 } });
  assert.equal(res.json.last_claimed.times_out_at, iso(T0 + 60_000 + 10 * 60_000));

  // `{}` is a valid report: no data is kept.
  clock.advance(1000);
  const bare = await ts.request({ method: 'PUT', url: `/tasques/reports/q/${claimed.id}`, headers: worker('w1'), payload: {} });
  assert.equal(bare.status, 200);
  assert.deepEqual(bare.json.last_claimed.last_report, { at: iso(T0 + 61_000) });
});

test('PUT /tasques/done/{queue}/{id}: 200, done, result.success kept, no failure', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  const claimed = await createClaimed(ts, 'q', 'w1');
  clock.advance(2000);
  const res = await ts.request({
    method: 'PUT',
    url: `/tasques/done/q/${claimed.id}`,
    headers: worker('w1'),
    payload: { data: { answer: 42 } },
  });
  assert.equal(res.status, 200);
  assertJsonContentType(res);
  assertTaskShape(res.json);
  assert.equal(res.json.state, 'done');
  assert.deepEqual(res.json.last_claimed.result, { at: iso(T0 + 2000), success: { answer: 42 } });
  // The stored task says the same.
  const got = await ts.request({ method: 'GET', url: `/tasques/q/${claimed.id}` });
  assert.deepEqual(got.json, res.json);
});

test('PUT /tasques/failed/{queue}/{id}: 200, failed with a later run_at while attempts remain, else dead', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  const claimed = await createClaimed(ts, 'q', 'w1', { retry_times: 1 });
  clock.advance(3000);
  const res = await ts.request({
    method: 'PUT',
    url: `/tasques/failed/q/${claimed.id}`,
    headers: worker('w1'),
    payload: { data: { error: 'boom' } },
  });
  assert.equal(res.status, 200);
  assertJsonContentType(res);
  assertTaskShape(res.json);
  assert.equal(res.json.state, 'failed');
  assert.deepEqual(res.json.last_claimed.result, { at: iso(T0 + 3000), failure: { error: 'boom' } });
  assert.ok(Date.parse(res.json.run_at) > T0 + 3000, 'a retry waits for the backoff');
  assert.equal(res.json.last_enqueued_at, iso(T0 + 3000));

  const dead = await createClaimed(ts, 'q2', 'w1', { retry_times: 0 });
  const res2 = await ts.request({ method: 'PUT', url: `/tasques/failed/q2/${dead.id}`, headers: worker('w1'), payload: {} });
  assert.equal(res2.status, 200);
  assert.equal(res2.json.state, 'dead');
  assert.equal(res2.json.run_at, dead.run_at, 'a dead task keeps its run_at');
  assert.deepEqual(res2.json.last_claimed.result, { at: iso(T0 + 3000) });
});

test('the worker-id header is trimmed', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  await createTask(ts, { queue: 'q', kind: 'k' });
  const [task] = await claim(ts, '  w-7 \t', { queues: ['q'], block_for: '1ms' });
  assert.equal(task.last_claimed.worker_id, 'w-7');
  const done = await ts.request({ method: 'PUT', url: `/tasques/done/q/${task.id}`, headers: worker('w-7'), payload: {} });
  assert.equal(done.status, 200);
});

test('GET /recurring_tasques answers 200 [] on a fresh store (the v1 readiness probe)', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const res = await ts.request({ method: 'GET', url: '/recurring_tasques' });
  assert.equal(res.status, 200);
  assertJsonContentType(res);
  assert.equal(res.body, '[]');
});

test('a curl -d style request (form-urlencoded Content-Type) is parsed as JSON, as in v1', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  for (const contentType of ['application/x-www-form-urlencoded', 'text/plain', 'application/octet-stream', undefined]) {
    const res = await ts.request({
      method: 'POST',
      url: '/tasques',
      headers: contentType ? { 'content-type': contentType } : {},
      payload: JSON.stringify({ queue: 'q', kind: 'curl' }),
    });
    assert.equal(res.status, 201, `Content-Type ${contentType}: ${res.body}`);
    assertTaskShape(res.json);
    assert.equal(res.json.kind, 'curl');
  }
  const claimRes = await ts.request({
    method: 'POST',
    url: '/tasques/claims',
    headers: { ...worker('w'), 'content-type': 'application/x-www-form-urlencoded' },
    payload: '{"queues":["q"],"amount":10,"block_for":"1ms"}',
  });
  assert.equal(claimRes.status, 200, claimRes.body);
  assert.equal(claimRes.json.length, 4);
});

test('queues named like route words (claims, reports, done, failed, archived) work on GET /tasques/{queue}/{id}', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  for (const queue of ['claims', 'reports', 'done', 'failed', 'archived']) {
    const task = await createTask(ts, { queue, kind: 'k', id: 'x' });
    const res = await ts.request({ method: 'GET', url: `/tasques/${queue}/x` });
    assert.equal(res.status, 200, `${queue}: ${res.body}`);
    assert.deepEqual(res.json, task);
    const [claimed] = await claim(ts, 'w', { queues: [queue], block_for: '1ms' });
    assert.equal(claimed.queue, queue);
    const done = await ts.request({ method: 'PUT', url: `/tasques/done/${queue}/x`, headers: worker('w'), payload: {} });
    assert.equal(done.status, 200, done.body);
  }
});
