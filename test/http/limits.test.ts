// Explicit limits on what one request may ask for (issue 12 items 2, 5, 6, 8): each answers a clear 400
// naming the field and stores nothing, and every route takes the longest id and queue name create takes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_DURATION_LENGTH } from '../../src/domain/duration.js';
import { MAX_ID_LENGTH } from '../../src/domain/identifiers.js';
import { MAX_QUEUE_NAME_BYTES } from '../../src/domain/queue-name.js';
import { MAX_CLAIM_QUEUES } from '../../src/http/schemas/tasks.js';
import { assertError, claim, createTask, LIMIT, startTestServer, storedRows, worker } from '../helpers/http.js';

test(`a claim names at most ${MAX_CLAIM_QUEUES} queues: 400 beyond, naming the limit`, LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const queues = (n: number) => Array.from({ length: n }, (_, i) => `q${i}`);
  await createTask(ts, { queue: `q${MAX_CLAIM_QUEUES - 1}`, kind: 'k' });
  const atLimit = await claim(ts, 'w', { queues: queues(MAX_CLAIM_QUEUES), block_for: '1ms' });
  assert.equal(atLimit.length, 1, 'the limit itself is accepted');
  for (const n of [MAX_CLAIM_QUEUES + 1, 100_000]) {
    const res = await ts.request({
      method: 'POST',
      url: '/tasques/claims',
      headers: worker('w'),
      payload: { queues: queues(n), block_for: '10s' },
    });
    assert.match(assertError(res, 400, undefined, 'TQ_ERR_BAD_REQUEST').message, new RegExp(`queues.*${MAX_CLAIM_QUEUES}`));
  }
});

test(`durations are at most ${MAX_DURATION_LENGTH} characters, refused at once and not echoed back whole`, LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const huge = `0.${'1'.repeat(1_000_000)}s`;
  const longest = `${'0'.repeat(MAX_DURATION_LENGTH - 2)}1s`;
  const ok = await createTask(ts, { queue: 'q', kind: 'k', processing_timeout: longest });
  assert.equal(ok.processing_timeout, '1s');
  const started = process.cpuUsage();
  for (const [url, payload, headers] of [
    ['/tasques', { queue: 'q', kind: 'k', processing_timeout: huge }, {}],
    ['/tasques/claims', { queues: ['q'], block_for: huge }, worker('w')],
    ['/recurring_tasques', { id: 'r', schedule_expression: '@hourly', task_definition: { queue: 'q', kind: 'k', processing_timeout: huge } }, {}],
    ['/recurring_tasques', { id: 'r', schedule_expression: `@every ${huge}`, task_definition: { queue: 'q', kind: 'k' } }, {}],
  ] as const) {
    const res = await ts.request({ method: 'POST', url, payload, headers: { ...headers } });
    const e = assertError(res, 400);
    assert.ok(e.message.length < 300, `the message is short: ${e.message.slice(0, 300)}`);
  }
  const window = await ts.request({ method: 'GET', url: `/queues?window=${'1'.repeat(10_000)}s` });
  assertError(window, 400);
  const cpu = process.cpuUsage(started);
  // The million-digit parse alone took 0.5 s of CPU before the cap; the JSON parse of 1 MB is cheap.
  assert.ok(cpu.user + cpu.system < 2_000_000, `CPU ${cpu.user + cpu.system} µs`);
  assert.equal(storedRows(ts, 'recurring_tasks'), 0);
});

test('ids, queue names and kinds with a lone UTF-16 surrogate answer 400; nothing is stored', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const lone = 's\ud800';
  const cases: [string, unknown, RegExp][] = [
    ['/tasques', { queue: 'q', kind: 'k', id: lone }, /id/],
    ['/tasques', { queue: `q${lone}`, kind: 'k' }, /Queue name/],
    ['/tasques', { queue: 'q', kind: lone }, /kind/],
    ['/tasques', { queue: 'q', kind: '\udc00k' }, /kind/],
    ['/tasques/batch', { tasks: [{ queue: 'q', kind: 'k', id: lone }] }, /id/],
    ['/recurring_tasques', { id: lone, schedule_expression: '@hourly', task_definition: { queue: 'q', kind: 'k' } }, /id/],
    ['/recurring_tasques', { id: 'r', schedule_expression: '@hourly', task_definition: { queue: lone, kind: 'k' } }, /Queue name/],
    ['/recurring_tasques', { id: 'r', schedule_expression: '@hourly', task_definition: { queue: 'q', kind: lone } }, /kind/],
  ];
  for (const [url, payload, mentions] of cases) {
    // JSON.stringify escapes a lone surrogate as \ud800, which JSON.parse turns back into one.
    const res = await ts.request({ method: 'POST', url, payload: JSON.stringify(payload), headers: { 'content-type': 'application/json' } });
    assert.match(assertError(res, 400).message, mentions, `${url} ${JSON.stringify(payload)}`);
  }
  const claimRes = await ts.request({
    method: 'POST',
    url: '/tasques/claims',
    headers: { ...worker('w'), 'content-type': 'application/json' },
    payload: JSON.stringify({ queues: [lone] }),
  });
  assertError(claimRes, 400, /Queue name/);
  // A well-formed pair (an astral character) is fine.
  await createTask(ts, { queue: 'q\u{1F600}', kind: '\u{1F600}', id: '\u{1F600}' });
  assert.equal(storedRows(ts, 'tasks'), 1);
  assert.equal(storedRows(ts, 'recurring_tasks'), 0);
});

test('every route with an id or queue in its path takes the longest ones create accepts', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  // Astral characters: the longest id in UTF-16 units (and 4 UTF-8 bytes, 12 URL characters each).
  const id = '\u{1F600}'.repeat(MAX_ID_LENGTH);
  const queue = 'é'.repeat(MAX_QUEUE_NAME_BYTES / 2);
  const recurringId = `r${'\u{1F600}'.repeat(MAX_ID_LENGTH - 1)}`;
  await createTask(ts, { queue, kind: 'k', id });
  const rt = await ts.request({
    method: 'POST',
    url: '/recurring_tasques',
    payload: { id: recurringId, schedule_expression: '@hourly', task_definition: { queue, kind: 'k' } },
  });
  assert.equal(rt.status, 201, rt.body);
  const tooLong = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k', id: `${id}x` } });
  assertError(tooLong, 400, /id/);

  // Every documented route with a path parameter, in an order where each call has something to act on.
  const paths = (ts.server.app.swagger() as { paths: Record<string, Record<string, unknown>> }).paths;
  const calls: [string, string][] = [];
  for (const [path, methods] of Object.entries(paths)) {
    if (!path.includes('{')) continue;
    for (const method of Object.keys(methods)) calls.push([method.toUpperCase(), path]);
  }
  const order = (c: [string, string]) =>
    c[0] === 'DELETE' && c[1].startsWith('/recurring') ? 9 : c[1].includes('claims') ? 1 : c[1].includes('/done/') ? 8 : c[1].includes('/failed/') ? 7 : 0;
  calls.sort((a, b) => order(a) - order(b));
  assert.ok(calls.length >= 14, `only ${calls.length} parameterised routes`);
  // Claimed by w, so that report and done act on a claimed task.
  await claim(ts, 'w', { queues: [queue], block_for: '1ms' });
  for (const [method, path] of calls) {
    const url = path
      .replace('{queue}', encodeURIComponent(queue))
      .replace('{id}', encodeURIComponent(path.startsWith('/recurring') ? recurringId : id));
    const payload = ['PUT', 'POST'].includes(method) ? {} : undefined;
    const res = await ts.request({ method: method as 'GET', url, headers: worker('w'), ...(payload ? { payload } : {}) });
    assert.ok(res.status < 500, `${method} ${path}: ${res.status} ${res.body}`);
    // The handler ran on the task: a 409 (retry of a live task) or the archive's 404 are its answers, not
    // the router's or the validator's.
    if (res.status >= 400) {
      assert.ok(!['TQ_ERR_BAD_REQUEST', 'TQ_ERR_ROUTE_NOT_FOUND'].includes(res.json?.code), `${method} ${path}: ${res.status} ${res.body.slice(0, 200)}`);
    }
    assert.doesNotMatch(res.body, /max param length/i, `${method} ${path}`);
  }
  const gone = await ts.request({ method: 'GET', url: `/recurring_tasques/${encodeURIComponent(recurringId)}` });
  assertError(gone, 404);
});
