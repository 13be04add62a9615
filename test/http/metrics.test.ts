// GET /metrics (README, section Observability): the Prometheus text format, counters that move with real
// create / claim / done / failed / unclaim calls and the timeout reaper, histograms with buckets labelled by
// route template, store call timings, leadership, long polls, the per-queue gauges read from the store
// (and their cache), and the switches metrics.enabled and metrics.require_auth.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { types } from 'node:util';
import { ManualClock } from '../../src/service/clock.js';
import {
  type Answer,
  claim,
  createTask,
  LIMIT,
  startTestServer,
  type TestServer,
  waitUntil,
  worker,
} from '../helpers/http.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a text-format exposition; also checks that every line is well formed. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `malformed exposition line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[3]) });
  }
  return samples;
}

async function scrape(ts: TestServer, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await ts.request({ method: 'GET', url: '/metrics', headers });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(res.body);
}

/** The value of one series; undefined when absent. `labels` must match exactly (all of them). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}

async function ok(res: Promise<Answer>, status = 200): Promise<Answer> {
  const r = await res;
  assert.equal(r.status, status, r.body);
  return r;
}

describe('GET /metrics', () => {
  it('counts tasks created, claimed, done, failed, dead and unclaimed by queue, at the point of change', LIMIT, async (t) => {
    const ts = await startTestServer(t);
    const before = await scrape(ts);
    assert.equal(value(before, 'tasques_tasks_created_total', { queue: 'mail' }), undefined, 'no series before the first task');

    for (let i = 0; i < 4; i++) await createTask(ts, { queue: 'mail', kind: 'k', retry_times: 1 });
    await createTask(ts, { queue: 'other', kind: 'k', retry_times: 0 });
    const claimed = await claim(ts, 'w', { queues: ['mail', 'other'], amount: 5, block_for: '0s' });
    assert.equal(claimed.length, 5);
    const mail = claimed.filter((c) => c.queue === 'mail');
    const other = claimed.find((c) => c.queue === 'other');
    await ok(ts.request({ method: 'PUT', url: `/tasques/done/mail/${mail[0].id}`, headers: worker('w'), payload: {} }));
    await ok(ts.request({ method: 'PUT', url: `/tasques/done/mail/${mail[1].id}`, headers: worker('w'), payload: {} }));
    await ok(ts.request({ method: 'PUT', url: `/tasques/failed/mail/${mail[2].id}`, headers: worker('w'), payload: {} }));
    await ok(ts.request({ method: 'DELETE', url: `/tasques/claims/mail/${mail[3].id}`, headers: worker('w') }));
    // retry_times 0: the only attempt failed, so the task is dead.
    await ok(ts.request({ method: 'PUT', url: `/tasques/failed/other/${other.id}`, headers: worker('w'), payload: {} }));
    // A report-in changes no state: nothing is counted for it.
    const [again] = await claim(ts, 'w', { queues: ['mail'], amount: 1, block_for: '0s' });
    await ok(ts.request({ method: 'PUT', url: `/tasques/reports/mail/${again.id}`, headers: worker('w'), payload: {} }));

    const m = await scrape(ts);
    assert.equal(value(m, 'tasques_tasks_created_total', { queue: 'mail' }), 4);
    assert.equal(value(m, 'tasques_tasks_created_total', { queue: 'other' }), 1);
    assert.equal(value(m, 'tasques_tasks_claimed_total', { queue: 'mail' }), 5);
    assert.equal(value(m, 'tasques_tasks_claimed_total', { queue: 'other' }), 1);
    assert.equal(value(m, 'tasques_tasks_done_total', { queue: 'mail' }), 2);
    assert.equal(value(m, 'tasques_tasks_failed_total', { queue: 'mail' }), 1);
    assert.equal(value(m, 'tasques_tasks_dead_total', { queue: 'mail' }), undefined);
    assert.equal(value(m, 'tasques_tasks_dead_total', { queue: 'other' }), 1);
    assert.equal(value(m, 'tasques_tasks_failed_total', { queue: 'other' }), undefined, 'a failure without attempts left is dead, not failed');
    assert.equal(value(m, 'tasques_tasks_unclaimed_total', { queue: 'mail' }), 1);
    assert.equal(value(m, 'tasques_tasks_timed_out_total', { queue: 'mail' }), undefined);
    assert.equal(value(m, 'tasques_tasks_cancelled_total', { queue: 'mail' }), undefined);

    // A cancel of the claimed task: dead once, cancelled once; the refused done after it counts nothing.
    await ok(ts.request({ method: 'PUT', url: `/tasques/cancel/mail/${again.id}`, payload: {} }));
    await ok(ts.request({ method: 'PUT', url: `/tasques/done/mail/${again.id}`, headers: worker('w'), payload: {} }), 400);
    const c = await scrape(ts);
    assert.equal(value(c, 'tasques_tasks_cancelled_total', { queue: 'mail' }), 1);
    assert.equal(value(c, 'tasques_tasks_dead_total', { queue: 'mail' }), 1);
    assert.equal(value(c, 'tasques_tasks_done_total', { queue: 'mail' }), 2);
  });

  it('batch creates count too, and a refused create counts nothing', LIMIT, async (t) => {
    const ts = await startTestServer(t);
    await ok(
      ts.request({ method: 'POST', url: '/tasques/batch', payload: { tasks: [{ queue: 'b', kind: 'k' }, { queue: 'b', kind: 'k' }] } }),
    );
    await createTask(ts, { queue: 'b', kind: 'k', id: 'same' });
    const dup = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'b', kind: 'k', id: 'same' } });
    assert.equal(dup.status, 409);
    const m = await scrape(ts);
    assert.equal(value(m, 'tasques_tasks_created_total', { queue: 'b' }), 3);
    assert.equal(
      value(m, 'tasques_store_call_errors_total', { method: 'taskCreate', code: 'TQ_ERR_TASK_ALREADY_EXISTS' }),
      1,
      'the store call that refused the duplicate is counted as an error, by code',
    );
  });

  it('histograms: HTTP requests by method, route template and status code; store calls by method; claim waits', LIMIT, async (t) => {
    const ts = await startTestServer(t);
    const task = await createTask(ts, { queue: 'h', kind: 'k' });
    await ok(ts.request({ method: 'GET', url: `/tasques/h/${task.id}` }));
    await ok(ts.request({ method: 'GET', url: '/tasques/h/does-not-exist' }), 404);
    await ok(ts.request({ method: 'GET', url: '/no/such/route/8f2c' }), 404);
    await claim(ts, 'w', { queues: ['h'], block_for: '0s' });
    await claim(ts, 'w', { queues: ['h'], block_for: '0s' }); // empty
    const res = await ts.request({ method: 'GET', url: '/metrics' });
    const m = parseExposition(res.body);

    const route = '/tasques/:queue/:id';
    const http = (le: string, status: string) =>
      value(m, 'tasques_http_request_duration_seconds_bucket', { method: 'GET', route, status_code: status, le });
    assert.equal(http('+Inf', '200'), 1);
    assert.equal(http('+Inf', '404'), 1);
    assert.equal(value(m, 'tasques_http_request_duration_seconds_count', { method: 'GET', route, status_code: '200' }), 1);
    const sum = value(m, 'tasques_http_request_duration_seconds_sum', { method: 'GET', route, status_code: '200' });
    assert.ok(sum !== undefined && sum > 0, `duration sum ${sum}`);
    const buckets = m.filter((s) => s.name === 'tasques_http_request_duration_seconds_bucket' && s.labels.route === route && s.labels.status_code === '200');
    assert.ok(buckets.length >= 10, `${buckets.length} buckets`);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'buckets are cumulative');
    assert.equal(value(m, 'tasques_http_request_duration_seconds_count', { method: 'POST', route: '/tasques', status_code: '201' }), 1);
    assert.equal(value(m, 'tasques_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' }), 1);
    assert.ok(!res.body.includes(task.id), 'no raw URL (task id) in any label');
    assert.ok(!res.body.includes('8f2c'), 'an unknown URL is not a label value');

    assert.equal(value(m, 'tasques_store_call_duration_seconds_count', { method: 'taskCreate' }), 1);
    assert.equal(value(m, 'tasques_store_call_duration_seconds_bucket', { method: 'taskCreate', le: '+Inf' }), 1);
    assert.equal(value(m, 'tasques_store_call_duration_seconds_count', { method: 'taskGet' }), 2);
    assert.ok((value(m, 'tasques_store_call_duration_seconds_count', { method: 'taskClaim' }) ?? 0) >= 2);
    assert.equal(value(m, 'tasques_store_call_duration_seconds_count', { method: 'migrate' }), 1);

    assert.equal(value(m, 'tasques_claim_wait_seconds_count', { outcome: 'tasks' }), 1);
    assert.equal(value(m, 'tasques_claim_wait_seconds_count', { outcome: 'empty' }), 1);
    assert.equal(value(m, 'tasques_claim_wait_seconds_bucket', { outcome: 'empty', le: '+Inf' }), 1);
  });

  it('the claim wait covers the long poll: a claim that waited for a task is observed when it is answered', LIMIT, async (t) => {
    const ts = await startTestServer(t);
    await ts.server.app.listen({ port: 0, host: '127.0.0.1' });
    const address = ts.server.app.server.address() as { port: number };
    const polling = fetch(`http://127.0.0.1:${address.port}/tasques/claims`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...worker('w') },
      body: JSON.stringify({ queues: ['lp'], block_for: '10s' }),
    });
    await waitUntil(() => ts.server.engine.waitingClaims === 1, 'the claim to wait');
    const during = await scrape(ts);
    assert.equal(value(during, 'tasques_claims_waiting'), 1);
    await createTask(ts, { queue: 'lp', kind: 'k' });
    const res = await polling;
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as unknown[]).length, 1);
    const after = await scrape(ts);
    assert.equal(value(after, 'tasques_claims_waiting'), 0);
    assert.equal(value(after, 'tasques_claim_wait_seconds_count', { outcome: 'tasks' }), 1);
    assert.equal(value(after, 'tasques_tasks_claimed_total', { queue: 'lp' }), 1);
  });

  it('per-queue gauges come from the store: tasks by state, oldest claimable age, paused; cached for queue_stats_max_age', LIMIT, async (t) => {
    const clock = new ManualClock(T0);
    const ts = await startTestServer(t, { metrics: { queue_stats_max_age: '5s' } }, { clock });
    await createTask(ts, { queue: 'g', kind: 'k' });
    await createTask(ts, { queue: 'g', kind: 'k' });
    await createTask(ts, { queue: 'g', kind: 'k', run_at: new Date(T0 + 3_600_000).toISOString() });
    await claim(ts, 'w', { queues: ['g'], amount: 1, block_for: '0s' });
    await ts.server.store.queueSetPaused({ queue: 'idle', paused: true, now: clock.now() });
    clock.advance(30_000);

    const m = await scrape(ts);
    assert.equal(value(m, 'tasques_tasks', { queue: 'g', state: 'queued' }), 2);
    assert.equal(value(m, 'tasques_tasks', { queue: 'g', state: 'claimed' }), 1);
    assert.equal(value(m, 'tasques_tasks', { queue: 'g', state: 'done' }), 0);
    assert.equal(value(m, 'tasques_tasks_scheduled', { queue: 'g' }), 1, 'the task due in an hour, counted apart');
    assert.equal(value(m, 'tasques_tasks_scheduled', { queue: 'idle' }), 0);
    assert.equal(value(m, 'tasques_queue_oldest_claimable_age_seconds', { queue: 'g' }), 30);
    assert.equal(value(m, 'tasques_queue_paused', { queue: 'g' }), 0);
    assert.equal(value(m, 'tasques_queue_paused', { queue: 'idle' }), 1);
    assert.equal(value(m, 'tasques_tasks', { queue: 'idle', state: 'queued' }), 0);
    assert.equal(value(m, 'tasques_queue_oldest_claimable_age_seconds', { queue: 'idle' }), 0, 'nothing claimable');
    assert.equal(value(m, 'tasques_queue_stats_errors_total'), 0);

    // Within the cache age the store is not asked again: a new task is not seen yet, but the age moves on.
    await createTask(ts, { queue: 'g', kind: 'k' });
    clock.advance(4_999);
    const statsCalls = (s: Sample[]) => value(s, 'tasques_store_call_duration_seconds_count', { method: 'queueStatsList' }) ?? 0;
    const cached = await scrape(ts);
    assert.equal(value(cached, 'tasques_tasks', { queue: 'g', state: 'queued' }), 2);
    assert.equal(value(cached, 'tasques_queue_oldest_claimable_age_seconds', { queue: 'g' }), 34.999);
    assert.equal(statsCalls(cached), 1, 'one store read for two scrapes');
    clock.advance(1);
    const fresh = await scrape(ts);
    assert.equal(value(fresh, 'tasques_tasks', { queue: 'g', state: 'queued' }), 3);
    assert.equal(statsCalls(fresh), 2);
  });

  it('concurrent scrapes share one store read', LIMIT, async (t) => {
    const ts = await startTestServer(t, {}, { clock: new ManualClock(T0) });
    await createTask(ts, { queue: 'c', kind: 'k' });
    const all = await Promise.all([scrape(ts), scrape(ts), scrape(ts)]);
    for (const m of all) assert.equal(value(m, 'tasques_tasks', { queue: 'c', state: 'queued' }), 1);
    const last = await scrape(ts);
    assert.equal(value(last, 'tasques_store_call_duration_seconds_count', { method: 'queueStatsList' }), 1);
  });

  it('a store that fails leaves out the per-queue gauges and counts the failure; the rest is still served', LIMIT, async (t) => {
    const ts = await startTestServer(t);
    await createTask(ts, { queue: 'x', kind: 'k' });
    await ts.server.store.close();
    const m = await scrape(ts);
    assert.equal(value(m, 'tasques_queue_stats_errors_total'), 1);
    assert.equal(m.filter((s) => s.name === 'tasques_tasks').length, 0);
    assert.equal(value(m, 'tasques_tasks_created_total', { queue: 'x' }), 1);
    assert.ok((value(m, 'tasques_store_call_errors_total', { method: 'queueStatsList', code: 'other' }) ?? 0) >= 1);
  });

  it('leadership: is_leader, elections, and the claims the timeout reaper fails', LIMIT, async (t) => {
    const clock = new ManualClock(T0);
    const ts = await startTestServer(t, {}, { clock, leadership: true });
    const { elector, timeoutReaper } = ts.server.leadership!;
    const stepped = elector.testSignals.stepped.init();
    await waitUntil(() => elector.isLeader, 'this server to lead');
    await stepped.waitOrTimeout(); // a step after the election: its listeners have run
    const m = await scrape(ts);
    assert.equal(value(m, 'tasques_is_leader'), 1);
    assert.equal(value(m, 'tasques_leader_elections_total'), 1);

    await createTask(ts, { queue: 'slow', kind: 'k', processing_timeout: '1m', retry_times: 1 });
    await createTask(ts, { queue: 'slow', kind: 'k', processing_timeout: '1m', retry_times: 0 });
    await claim(ts, 'w', { queues: ['slow'], amount: 2, block_for: '0s' });
    clock.advance(61_000);
    const ran = await timeoutReaper.runOnce();
    const after = await scrape(ts);
    // The reaper's own loop may have run in between: count what both runs reaped.
    assert.equal(value(after, 'tasques_tasks_timed_out_total', { queue: 'slow' }), 2, JSON.stringify(ran));
    assert.equal(value(after, 'tasques_tasks_failed_total', { queue: 'slow' }), 1);
    assert.equal(value(after, 'tasques_tasks_dead_total', { queue: 'slow' }), 1);
  });

  it('without leadership is_leader is 0; build info and the process metrics are there', LIMIT, async (t) => {
    const ts = await startTestServer(t);
    const res = await ts.request({ method: 'GET', url: '/metrics' });
    const m = parseExposition(res.body);
    assert.equal(value(m, 'tasques_is_leader'), 0);
    assert.equal(value(m, 'tasques_leader_elections_total'), 0);
    assert.equal(value(m, 'tasques_build_info', { version: '0.1.0' }), 1);
    assert.ok(value(m, 'process_cpu_user_seconds_total') !== undefined);
    assert.ok(value(m, 'process_resident_memory_bytes') !== undefined);
    assert.match(res.body, /^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
    assert.match(res.body, /^# TYPE tasques_tasks_created_total counter$/m);
    assert.match(res.body, /^# TYPE tasques_http_request_duration_seconds histogram$/m);
    assert.match(res.body, /^# HELP tasques_tasks /m);
  });

  it('is outside the basic auth by default, and behind it with metrics.require_auth', LIMIT, async (t) => {
    const users = [{ name: 'alice', password: 's3cret' }];
    const auth = { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` };
    const open = await startTestServer(t, { auth: { basic_auth: users } });
    assert.equal((await open.request({ method: 'GET', url: '/metrics' })).status, 200);
    const closed = await startTestServer(t, { auth: { basic_auth: users }, metrics: { require_auth: true } });
    const denied = await closed.request({ method: 'GET', url: '/metrics' });
    assert.equal(denied.status, 401);
    assert.equal(denied.json.code, 'TQ_ERR_UNAUTHORIZED');
    assert.ok(!denied.body.includes('tasques_'), 'no metrics without credentials');
    const wrong = { authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` };
    assert.equal((await closed.request({ method: 'GET', url: '/metrics', headers: wrong })).status, 401);
    await scrape(closed, auth);
    // The probes stay open.
    assert.equal((await closed.request({ method: 'GET', url: '/healthz' })).status, 200);
    assert.equal((await closed.request({ method: 'GET', url: '/readyz' })).status, 200);
  });

  it('metrics.max_queue_series bounds the per-queue series: later queues are summed into queue="_other"', LIMIT, async (t) => {
    const ts = await startTestServer(t, { metrics: { max_queue_series: 2 } });
    // Five queues; the first two this server sees keep their own series.
    for (const queue of ['qa', 'qb', 'qc', 'qd', 'qe']) {
      await createTask(ts, { queue, kind: 'k' });
      await createTask(ts, { queue, kind: 'k' });
    }
    await ts.request({ method: 'PUT', url: '/queues/qe/pause' });
    const samples = await scrape(ts);
    const queuesOf = (name: string) => new Set(samples.filter((x) => x.name === name).map((x) => x.labels.queue));
    for (const name of ['tasques_tasks', 'tasques_tasks_created_total', 'tasques_queue_paused', 'tasques_queue_oldest_claimable_age_seconds']) {
      assert.deepEqual([...queuesOf(name)].sort(), ['_other', 'qa', 'qb'], name);
    }
    assert.equal(value(samples, 'tasques_tasks', { queue: 'qa', state: 'queued' }), 2);
    assert.equal(value(samples, 'tasques_tasks', { queue: '_other', state: 'queued' }), 6, 'qc, qd and qe summed');
    assert.equal(value(samples, 'tasques_tasks_created_total', { queue: '_other' }), 6);
    assert.equal(value(samples, 'tasques_queue_paused', { queue: '_other' }), 1, 'how many of them are paused');
    assert.equal(value(samples, 'tasques_queue_paused', { queue: 'qa' }), 0);
  });

  it('metrics.enabled false: no /metrics route, and the store is not wrapped', LIMIT, async (t) => {
    const ts = await startTestServer(t, { metrics: { enabled: false } });
    assert.equal(ts.server.metrics, undefined);
    assert.equal((await ts.request({ method: 'GET', url: '/metrics' })).status, 404);
    assert.ok(!types.isProxy(ts.server.store), 'the store is used as is');
    await createTask(ts, { queue: 'q', kind: 'k' });
  });
});
