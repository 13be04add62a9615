// Bad input: each answers a 4xx `{message, code}` that names the problem, and nothing is stored.
// Limits (design §3): body size → 413, `amount` and `block_for` clamped rather than refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/service/clock.js';
import {
  assertError,
  claim,
  createTask,
  LIMIT,
  startTestServer,
  storedRows,
  type TestServer,
  waitUntil,
  worker,
} from '../helpers/http.js';

const JSON_CT = { 'content-type': 'application/json' };

/** Raw bodies that are not a JSON object, with what the message must mention. */
const NOT_AN_OBJECT: [string, RegExp][] = [
  ['{"queue": "q", "kind": ', /JSON/],
  ['{queue: "q"}', /JSON/],
  ["{'queue': 'q'}", /JSON/],
  ['', /^Request body is empty; expected a JSON object$/],
  ['[]', /must be a JSON object \(got an array\)/],
  ['[{"queue":"q","kind":"k"}]', /must be a JSON object \(got an array\)/],
  ['"a string"', /must be a JSON object \(got string\)/],
  ['null', /object/],
  ['42', /object/],
  ['true', /object/],
];

async function assertNothingStored(ts: TestServer) {
  assert.equal(storedRows(ts, 'tasks'), 0, 'a task was stored');
  assert.equal(storedRows(ts, 'recurring_tasks'), 0, 'a recurring task was stored');
}

test('bodies that are not a JSON object answer 400 on every route that takes a body', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const routes: [string, string][] = [
    ['POST', '/tasques'],
    ['POST', '/tasques/claims'],
    ['PUT', '/tasques/reports/q/id'],
    ['PUT', '/tasques/done/q/id'],
    ['PUT', '/tasques/failed/q/id'],
    ['POST', '/recurring_tasques'],
    ['PUT', '/recurring_tasques/r'],
  ];
  for (const [method, url] of routes) {
    for (const [payload, mentions] of NOT_AN_OBJECT) {
      for (const headers of [JSON_CT, { 'content-type': 'application/x-www-form-urlencoded' }]) {
        const res = await ts.request({ method: method as 'PUT', url, payload, headers: { ...headers, ...worker('w') } });
        const e = assertError(res, 400, undefined, 'TQ_ERR_BAD_REQUEST');
        assert.match(e.message, mentions, `${method} ${url} ${JSON.stringify(payload)} (${headers['content-type']}) → ${e.message}`);
      }
    }
    // No body at all.
    const none = await ts.request({ method: method as 'PUT', url, headers: worker('w') });
    assertError(none, 400, /^Request body is empty; expected a JSON object$/, 'TQ_ERR_BAD_REQUEST');
  }
  await assertNothingStored(ts);
});

test('POST /tasques: wrong types and out-of-range values answer 400 naming the field', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const good = { queue: 'q', kind: 'k' };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ kind: 'k' }, /queue/],
    [{ queue: 'q' }, /kind/],
    [{ ...good, queue: 5 }, /queue/],
    [{ ...good, queue: ['q'] }, /queue/],
    [{ ...good, kind: '' }, /kind/],
    [{ ...good, kind: 7 }, /kind/],
    [{ ...good, id: 5 }, /id/],
    [{ ...good, id: '' }, /id/],
    [{ ...good, args: 'x' }, /args/],
    [{ ...good, args: [1, 2] }, /args/],
    [{ ...good, args: 5 }, /args/],
    [{ ...good, context: 'x' }, /context/],
    [{ ...good, context: [] }, /context/],
    [{ ...good, retry_times: -1 }, /retry_times/],
    [{ ...good, retry_times: 1.5 }, /retry_times/],
    [{ ...good, retry_times: '5' }, /retry_times/],
    [{ ...good, retry_times: true }, /retry_times/],
    [{ ...good, retry_times: 2 ** 31 }, /retry_times/],
    [{ ...good, priority: 2 ** 31 }, /priority/],
    [{ ...good, priority: -(2 ** 31) - 1 }, /priority/],
    [{ ...good, priority: 1e300 }, /priority/],
    [{ ...good, priority: 0.5 }, /priority/],
    [{ ...good, priority: '1' }, /priority/],
  ];
  for (const [payload, field] of cases) {
    const res = await ts.request({ method: 'POST', url: '/tasques', payload });
    const e = assertError(res, 400);
    assert.match(e.message, field, `${JSON.stringify(payload)} → ${e.message}`);
  }
  await assertNothingStored(ts);
});

test('durations given as JSON numbers answer 400 (v1 silently used 0); so do bad duration strings', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const badDurations: unknown[] = [5000, 0, 1.5, '5', '5000', 'abc', '1x', '1.5', '', '-', 's', '1h 30m', '1H', true, {}, []];
  for (const value of badDurations) {
    const create = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k', processing_timeout: value } });
    assert.match(assertError(create, 400, undefined, 'TQ_ERR_BAD_REQUEST').message, /processing_timeout/, JSON.stringify(value));
    const claimRes = await ts.request({
      method: 'POST',
      url: '/tasques/claims',
      headers: worker('w'),
      payload: { queues: ['q'], block_for: value },
    });
    assert.match(assertError(claimRes, 400, undefined, 'TQ_ERR_BAD_REQUEST').message, /block_for/, JSON.stringify(value));
  }
  // A processing timeout must be positive (v1 took 0 and negatives, which time out at once).
  for (const value of ['0s', '0', '-5s']) {
    const res = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k', processing_timeout: value } });
    assert.match(assertError(res, 400).message, /processing_timeout/);
  }
  // The messages say what is expected.
  const res = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k', processing_timeout: 5000 } });
  assert.match(res.json.message, /duration string/);
  await assertNothingStored(ts);
});

test('bad run_at values answer 400 naming run_at', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const values: unknown[] = [
    'yesterday',
    '2030-01-01',
    '2030-01-01T00:00:00',
    '2030-02-30T00:00:00Z',
    '2030-01-01T25:00:00Z',
    '2030-01-01T00:60:00Z',
    '2016-12-31T23:59:60Z', // a leap second: valid RFC 3339 syntax, but Go (and Date) cannot represent it
    '2030-01-01T00:00:00+25:00',
    '',
    1767225600000,
    true,
    {},
  ];
  for (const run_at of values) {
    const res = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k', run_at } });
    const e = assertError(res, 400, undefined, 'TQ_ERR_BAD_REQUEST');
    assert.match(e.message, /run_at/, `${JSON.stringify(run_at)} → ${e.message}`);
  }
  await assertNothingStored(ts);
});

test('claim bodies: wrong types and values answer 400 naming the field', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  await createTask(ts, { queue: 'q', kind: 'k' });
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /queues/],
    [{ queues: null }, /queues/],
    [{ queues: 'q' }, /queues/],
    [{ queues: [5] }, /queues/],
    [{ queues: ['q'], amount: -1 }, /amount/],
    [{ queues: ['q'], amount: 1.5 }, /amount/],
    [{ queues: ['q'], amount: '1' }, /amount/],
    [{ queues: ['q'], amount: 2 ** 31 }, /amount/],
    [{ queues: ['q'], amount: 1e300 }, /amount/],
  ];
  for (const [payload, field] of cases) {
    const res = await ts.request({ method: 'POST', url: '/tasques/claims', headers: worker('w'), payload });
    assert.match(assertError(res, 400).message, field, JSON.stringify(payload));
  }
  // Nothing was claimed by any of them.
  const task = (await claim(ts, 'w2', { queues: ['q'], block_for: '1ms' }))[0];
  assert.equal(task?.attempted, 1);
});

test('report/done/failed data must be an object', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  for (const kind of ['reports', 'done', 'failed']) {
    for (const data of ['x', 5, [1], true]) {
      const res = await ts.request({ method: 'PUT', url: `/tasques/${kind}/q/id`, headers: worker('w'), payload: { data } });
      assert.match(assertError(res, 400).message, /data/);
    }
  }
});

test('a body larger than tasks.limits.body_limit_bytes answers 413; one just under it is accepted', LIMIT, async (t) => {
  const ts = await startTestServer(t, { tasks: { limits: { body_limit_bytes: 2048 } } });
  const body = (size: number) => {
    const base = JSON.stringify({ queue: 'q', kind: 'k', args: { pad: '' } });
    return JSON.stringify({ queue: 'q', kind: 'k', args: { pad: 'x'.repeat(size - base.length) } });
  };
  assert.equal(body(2048).length, 2048);
  const ok = await ts.request({ method: 'POST', url: '/tasques', headers: JSON_CT, payload: body(2048) });
  assert.equal(ok.status, 201, ok.body);
  for (const payload of [body(2049), body(100_000)]) {
    for (const headers of [JSON_CT, { 'content-type': 'application/x-www-form-urlencoded' }, { 'content-type': 'text/plain' }]) {
      const res = await ts.request({ method: 'POST', url: '/tasques', headers, payload });
      const e = assertError(res, 413, undefined, 'TQ_ERR_BODY_TOO_LARGE');
      assert.match(e.message, /2048/);
    }
  }
  for (const url of ['/tasques/claims', '/tasques/done/q/id', '/recurring_tasques']) {
    const res = await ts.request({ method: url.includes('done') ? 'PUT' : 'POST', url, headers: { ...JSON_CT, ...worker('w') }, payload: body(5000) });
    assertError(res, 413, undefined, 'TQ_ERR_BODY_TOO_LARGE');
  }
  assert.equal(storedRows(ts, 'tasks'), 1);
});

test('JSON nested deeper than the limit answers 400 (it used to be a 500 from the store)', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const nest = (depth: number) => {
    let v = '1';
    for (let i = 0; i < depth; i++) v = i % 2 ? `{"a":${v}}` : `[${v}]`;
    return v;
  };
  for (const headers of [JSON_CT, { 'content-type': 'text/plain' }]) {
    const res = await ts.request({ method: 'POST', url: '/tasques', headers, payload: `{"queue":"q","kind":"k","args":{"x":${nest(20_000)}}}` });
    assert.match(assertError(res, 400, undefined, 'TQ_ERR_BAD_REQUEST').message, /nested/);
    const report = await ts.request({ method: 'PUT', url: '/tasques/reports/q/x', headers: { ...headers, ...worker('w') }, payload: `{"data":{"x":${nest(20_000)}}}` });
    assertError(report, 400, /nested/);
  }
  assert.equal(storedRows(ts, 'tasks'), 0);
  // Reasonable nesting is fine.
  const ok = await ts.request({ method: 'POST', url: '/tasques', headers: JSON_CT, payload: `{"queue":"q","kind":"k","args":{"x":${nest(100)}}}` });
  assert.equal(ok.status, 201, ok.body);
  const got = await ts.request({ method: 'GET', url: `/tasques/q/${ok.json.id}` });
  assert.deepEqual(got.json.args, ok.json.args);
});

test('an amount beyond max_claim_amount is clamped: the claim answers at most the maximum', LIMIT, async (t) => {
  const ts = await startTestServer(t, { tasks: { limits: { max_claim_amount: 3 } } });
  for (let i = 0; i < 5; i++) await createTask(ts, { queue: 'q', kind: 'k' });
  const first = await claim(ts, 'w', { queues: ['q'], amount: 2_147_483_647, block_for: '1ms' });
  assert.equal(first.length, 3);
  const second = await claim(ts, 'w', { queues: ['q'], amount: 1000, block_for: '1ms' });
  assert.equal(second.length, 2);
  assert.equal(new Set([...first, ...second].map((x) => x.id)).size, 5);
});

test('a huge block_for is clamped to tasks.limits.max_block_for, not refused', LIMIT, async (t) => {
  // The engine measures block_for on the server clock; this one only moves when told to. Re-checks are
  // made every millisecond so that a clock move is noticed at once.
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const ts = await startTestServer(
    t,
    { tasks: { limits: { max_block_for: '60s' }, defaults: { block_for_retry_min_wait: '1ms', block_for_retry_max_retries: 1_000_000 } } },
    { clock },
  );
  const engine = ts.server.engine;
  const claimFor = (blockFor: string) =>
    ts.request({ method: 'POST', url: '/tasques/claims', headers: worker('w'), payload: { queues: ['q'], block_for: blockFor } });

  // Accepted, and still waiting 59 s (server time) later: a task enqueued then is handed over.
  const first = claimFor('100000h');
  await waitUntil(() => engine.waitingClaims === 1, 'the claim to wait');
  clock.advance(59_000);
  const task = await createTask(ts, { queue: 'q', kind: 'k' });
  const firstRes = await first;
  assert.equal(firstRes.status, 200, firstRes.body);
  assert.deepEqual(firstRes.json.map((x: { id: string }) => x.id), [task.id]);

  // And it ends at the 60 s maximum, not after 100000 h.
  const second = claimFor('100000h');
  await waitUntil(() => engine.waitingClaims === 1, 'the claim to wait');
  clock.advance(60_001);
  let timer: NodeJS.Timeout | undefined;
  const secondRes = await Promise.race([
    second,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the claim did not end at max_block_for')), 5_000);
    }),
  ]).finally(() => clearTimeout(timer));
  assert.equal(secondRes.status, 200);
  assert.equal(secondRes.body, '[]');
  assert.equal(engine.waitingClaims, 0);
});

test('unknown JSON fields are ignored, as in v1', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const task = await createTask(ts, { queue: 'q', kind: 'k', state: 'done', attempted: 9, metadata: { x: 1 }, extra: true });
  assert.equal(task.state, 'queued');
  assert.equal(task.attempted, 0);
  assert.ok(!('extra' in task));
});

test('__proto__ and constructor keys in bodies pollute nothing and are kept as plain data', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  for (const headers of [JSON_CT, { 'content-type': 'text/plain' }]) {
    const res = await ts.request({
      method: 'POST',
      url: '/tasques',
      headers,
      payload: '{"queue":"q","kind":"k","__proto__":{"retry_times":3,"polluted":1},"args":{"__proto__":{"polluted":2},"constructor":{"prototype":{"polluted":3}}}}',
    });
    assert.ok(res.status === 201 || res.status === 400, `${res.status} ${res.body}`);
    if (res.status === 201) {
      assert.equal(res.json.retry_times, 25, 'a top-level __proto__ does not supply fields');
      const got = await ts.request({ method: 'GET', url: `/tasques/q/${res.json.id}` });
      assert.deepEqual(got.json.args, res.json.args);
    } else {
      assertError(res, 400);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype was polluted');
  }
  const claimRes = await ts.request({
    method: 'POST',
    url: '/tasques/claims',
    headers: { ...JSON_CT, ...worker('w') },
    payload: '{"__proto__":{"queues":["q"]}}',
  });
  assertError(claimRes, 400, /queues/);
});

test('a sweep of odd values in every body field never gets a 500', LIMIT, async (t) => {
  // Long polls end at once: `block_for` values such as "1h" are clamped to 10 ms.
  const ts = await startTestServer(t, { tasks: { limits: { max_block_for: '10ms' } } });
  const claimed = (await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k', id: 'c' } })).json;
  assert.equal(claimed.id, 'c');
  const odd: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 63), '', ' ', 'x', 'ü\u0000', [], [null], {}, { a: {} }, '0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '1h', '-1h', '9223372036854775807ns', '2562048h'];
  const bodies: [string, string, Record<string, unknown>][] = [
    ['POST', '/tasques', { queue: 'q', kind: 'k', id: 'i', retry_times: 1, priority: 1, processing_timeout: '1s', run_at: '2030-01-01T00:00:00Z', args: {}, context: {} }],
    ['POST', '/tasques/claims', { queues: ['q'], amount: 1, block_for: '1ms' }],
    ['PUT', '/tasques/reports/q/c', { data: {} }],
    ['PUT', '/tasques/done/q/c', { data: {} }],
    ['PUT', '/tasques/failed/q/c', { data: {} }],
    ['POST', '/recurring_tasques', { id: 'r', schedule_expression: '@hourly', skip_if_outstanding_tasks_exist: true, task_definition: { queue: 'q', kind: 'k' } }],
    ['PUT', '/recurring_tasques/r', { schedule_expression: '@daily', skip_if_outstanding_tasks_exist: false, task_definition: { queue: 'q', kind: 'k' } }],
  ];
  const defFields = ['queue', 'kind', 'retry_times', 'priority', 'processing_timeout', 'args', 'context'];
  let requests = 0;
  for (const [method, url, good] of bodies) {
    const variants: Record<string, unknown>[] = [];
    for (const field of Object.keys(good)) for (const value of odd) variants.push({ ...good, [field]: value });
    if ('task_definition' in good) {
      for (const field of defFields) {
        for (const value of odd) variants.push({ ...good, task_definition: { queue: 'q', kind: 'k', [field]: value } });
      }
    }
    for (const payload of variants) {
      const res = await ts.request({ method: method as 'PUT', url, headers: worker('w'), payload });
      requests++;
      assert.ok(res.status < 500, `${method} ${url} ${JSON.stringify(payload)} → ${res.status} ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/json/);
    }
  }
  assert.ok(requests > 300);
});
