// GET /stats/series (docs/design/queue-series.md): the dashboard's charts from what the server recorded
// (activity flushed by the recorder, depth sampled by the leader's sampler), over a real SQLite file
// through Fastify's inject, on a ManualClock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QueueDepthSampler } from '../../src/maintenance/queue-depth-sampler.js';
import { ManualClock } from '../../src/service/clock.js';
import { silentLogger } from '../../src/service/logger.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { assertError, claim, createTask, LIMIT, startTestServer, worker } from '../helpers/http.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const MINUTE = 60_000;

test('GET /stats/series charts activity per minute over the hour, overall and per queue, with claim waits and depth', LIMIT, async (t) => {
  const clock = new ManualClock(T0 + 10_000);
  const ts = await startTestServer(t, {}, { clock });
  const sampler = new QueueDepthSampler(ts.server.store, clock, silentLogger);
  await createTask(ts, { queue: 'mail', id: 'a', kind: 'k' });
  await createTask(ts, { queue: 'mail', id: 'b', kind: 'k' });
  await createTask(ts, { queue: 'sms', id: 's', kind: 'k', run_at: new Date(T0 + 3_600_000).toISOString() });
  clock.advance(3_000);
  const [claimed] = await claim(ts, 'w', { queues: ['mail'], block_for: '0s' }); // waited 3 s
  const done = await ts.request({ method: 'PUT', url: `/tasques/done/mail/${claimed?.id}`, headers: worker('w'), payload: {} });
  assert.equal(done.status, 200, done.body);
  await sampler.runOnce();
  clock.advance(MINUTE);
  await createTask(ts, { queue: 'sms', id: 's2', kind: 'k' });
  await ts.server.queueActivity.flush();

  const res = await ts.request({ method: 'GET', url: '/stats/series' });
  assert.equal(res.status, 200, res.body);
  const body = res.json;
  assert.equal(body.window, '1h');
  assert.equal(body.interval_seconds, 60);
  assert.equal(body.times.length, 60);
  // The last interval holds now (T0 + 1m13s); the one before it, T0.
  assert.equal(body.times[59], (T0 + MINUTE) / 1000);
  assert.equal(body.times[58], T0 / 1000);
  const last2 = (series: (number | null)[]) => series.slice(58);
  assert.deepEqual(last2(body.overall.created), [3, 1]);
  assert.deepEqual(last2(body.overall.claimed), [1, 0]);
  assert.deepEqual(last2(body.overall.done), [1, 0]);
  assert.deepEqual(last2(body.overall.failed), [0, 0]);
  assert.equal(body.overall.created.slice(0, 58).every((n: number) => n === 0), true);
  // 3 s falls in the 2.5–5 s bucket; one wait: every percentile is read inside it.
  const p50 = body.overall.claim_wait_p50_ms[58];
  assert.ok(p50 > 2_500 && p50 <= 5_000, `p50 ${p50}`);
  assert.equal(body.overall.claim_wait_p50_ms[59], null, 'nothing claimed in that minute');
  // Depth, sampled at T0 + 13 s: mail has b claimable; sms has s scheduled.
  assert.deepEqual(last2(body.overall.claimable), [1, null]);
  assert.deepEqual(last2(body.overall.scheduled), [1, null]);
  assert.deepEqual(last2(body.overall.oldest_age_seconds), [3, null]); // b, due at T0 + 10 s
  assert.equal(body.queues_total, 2);
  assert.deepEqual(body.queues.map((q: { queue: string }) => q.queue), ['mail', 'sms'], 'busiest first');
  assert.deepEqual(last2(body.queues[1].created), [1, 1]);

  const one = await ts.request({ method: 'GET', url: '/stats/series?window=24h&queue=sms' });
  assert.equal(one.status, 200, one.body);
  assert.equal(one.json.interval_seconds, 900);
  assert.equal(one.json.times.length, 96);
  assert.equal(one.json.overall.created.reduce((a: number, b: number) => a + b, 0), 2);
  assert.deepEqual(one.json.queues.map((q: { queue: string }) => q.queue), ['sms']);

  assertError(await ts.request({ method: 'GET', url: '/stats/series?window=7d' }), 400, 'window: must be one of 1h, 24h (got "7d")');
  assertError(await ts.request({ method: 'GET', url: '/stats/series?queue=Bad%20Queue' }), 400, undefined, 'TQ_ERR_INVALID_QUEUE_NAME');
});

test('GET /stats/series is behind the basic auth', LIMIT, async (t) => {
  const ts = await startTestServer(t, { auth: { basic_auth: [{ name: 'u', password: 'p' }] } });
  assert.equal((await ts.request({ method: 'GET', url: '/stats/series' })).status, 401);
  const ok = await ts.request({
    method: 'GET',
    url: '/stats/series',
    headers: { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` },
  });
  assert.equal(ok.status, 200, ok.body);
});

test('a server writes its last counts when it shuts down', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  await createTask(ts, { queue: 'mail', id: 'a', kind: 'k' });
  await ts.server.close(); // no flush was due yet (10 s interval on a clock that does not move)
  const store = new SqliteStore({ path: ts.dbPath });
  try {
    const listed = await store.queueActivityList({ from: T0, to: T0 + MINUTE, bucketMs: MINUTE });
    assert.deepEqual(listed.map((a) => [a.queue, a.created]), [['mail', 1]]);
  } finally {
    await store.close();
  }
});
