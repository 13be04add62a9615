// Explicit limits on what one request may ask for (issue 12 items 2, 5, 6, 8): each answers a clear 400
// naming the field and stores nothing, and every route takes the longest id and queue name create takes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_DURATION_LENGTH } from '../../src/domain/duration.js';
import { MAX_CLAIM_QUEUES } from '../../src/http/schemas/tasks.js';
import { assertError, claim, createTask, LIMIT, startTestServer, storedRows, worker } from '../helpers/http.js';
import { walkEveryParamRouteWithLongestValues } from '../helpers/route-walk.js';

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
  await walkEveryParamRouteWithLongestValues(await startTestServer(t));
});
