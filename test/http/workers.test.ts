// GET /workers (issue 16): who holds claims now (from the CLAIMED tasks) and who was seen lately. A real
// server over a real SQLite file, through Fastify's inject, on a manual clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/service/clock.js';
import { assertError, claim, createTask, LIMIT, startTestServer, worker } from '../helpers/http.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

test('GET /workers lists the workers holding claims, busiest first, and the ones seen within the window', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  const empty = await ts.request({ method: 'GET', url: '/workers' });
  assert.equal(empty.status, 200, empty.body);
  assert.deepEqual(empty.json, { holding: [], holding_count: 0, holding_complete: true, recent: [] });

  for (let i = 0; i < 3; i++) await createTask(ts, { queue: 'mail', id: `m${i}`, kind: 'send' });
  await createTask(ts, { queue: 'sms', id: 's0', kind: 'send' });
  await claim(ts, 'w-busy', { queues: ['mail'], amount: 2, block_for: '0s' });
  clock.advance(1000);
  await claim(ts, 'w-busy', { queues: ['sms'], block_for: '0s' });
  await claim(ts, 'w-idle', { queues: ['empty'], block_for: '0s' }); // nothing to claim: seen, not holding
  clock.advance(1000);
  const report = await ts.request({ method: 'PUT', url: '/tasques/reports/sms/s0', headers: worker('w-busy'), payload: { data: { p: 1 } } });
  assert.equal(report.status, 200, report.body);
  const [last] = await claim(ts, 'w-two', { queues: ['mail'], block_for: '0s' });
  assert.ok(last);

  const res = await ts.request({ method: 'GET', url: '/workers' });
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(res.json.holding, [
    { worker_id: 'w-busy', queues: ['mail', 'sms'], claimed: 3, claimed_since: iso(T0), last_report_at: iso(T0 + 2000) },
    { worker_id: 'w-two', queues: ['mail'], claimed: 1, claimed_since: iso(T0 + 2000) },
  ]);
  assert.equal(res.json.holding_count, 2);
  assert.equal(res.json.holding_complete, true);
  assert.deepEqual(res.json.recent, [
    { worker_id: 'w-busy', last_seen_at: iso(T0 + 2000), queues: ['mail', 'sms'] },
    { worker_id: 'w-two', last_seen_at: iso(T0 + 2000), queues: ['mail'] },
    { worker_id: 'w-idle', last_seen_at: iso(T0 + 1000), queues: ['empty'] },
  ]);

  const limited = await ts.request({ method: 'GET', url: '/workers?limit=1&window=1500ms' });
  assert.deepEqual(limited.json.holding.map((w: { worker_id: string }) => w.worker_id), ['w-busy']);
  assert.equal(limited.json.holding_count, 2);
  assert.deepEqual(limited.json.recent.map((w: { worker_id: string }) => w.worker_id), ['w-busy'], 'w-idle is outside 1.5 s');

  const done = await ts.request({ method: 'PUT', url: `/tasques/done/mail/${last.id}`, headers: worker('w-two'), payload: {} });
  assert.equal(done.status, 200, done.body);
  const after = await ts.request({ method: 'GET', url: '/workers' });
  assert.deepEqual(after.json.holding.map((w: { worker_id: string }) => w.worker_id), ['w-busy'], 'w-two holds nothing now');
  assert.ok(after.json.recent.some((w: { worker_id: string }) => w.worker_id === 'w-two'), 'but was seen');
});

test('GET /workers rejects a bad limit or window with a 400 naming it', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  for (const [query, name] of [
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=x', 'limit'],
    ['window=25h', 'window'],
    ['window=soon', 'window'],
  ] as const) {
    const res = await ts.request({ method: 'GET', url: `/workers?${query}` });
    const body = assertError(res, 400, undefined, 'TQ_ERR_BAD_REQUEST');
    assert.match(body.message, new RegExp(`^${name}:`), query);
  }
});

test('GET /workers is behind basic auth when it is configured', LIMIT, async (t) => {
  const ts = await startTestServer(t, { auth: { basic_auth: [{ name: 'ops', password: 'pw' }] } });
  assert.equal((await ts.request({ method: 'GET', url: '/workers' })).status, 401);
});
