// The operator routes (additive to v1; docs/design/operator-api.md): listing with filters and cursor
// paging, queue statistics, pause/resume, retry of a dead task, cancel of a waiting one, the recurring
// schedule, and their errors. A real server over a real SQLite file, through Fastify's inject.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/service/clock.js';
import { assertError, assertJsonContentType, assertTaskShape, claim, createTask, LIMIT, startTestServer, worker } from '../helpers/http.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

async function deadTask(ts: Awaited<ReturnType<typeof startTestServer>>, queue: string, id: string) {
  await createTask(ts, { queue, id, kind: 'boom', retry_times: 0, priority: 100, args: { n: 1 } }); // claimed first
  const [claimed] = await claim(ts, 'w-dead', { queues: [queue], block_for: '0s' });
  assert.equal(claimed.id, id);
  const failed = await ts.request({
    method: 'PUT',
    url: `/tasques/failed/${queue}/${id}`,
    headers: worker('w-dead'),
    payload: { data: { error: 'exploded' } },
  });
  assert.equal(failed.json.state, 'dead');
}

test('GET /tasques lists newest first, filters by every field, and pages with next_cursor', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  for (let i = 0; i < 5; i++) {
    await createTask(ts, { queue: 'mail', id: `mail-${i}`, kind: i % 2 === 0 ? 'send' : 'bounce' });
    await createTask(ts, { queue: 'sms', id: `sms-${i}`, kind: 'send' });
    clock.advance(1000);
  }
  await deadTask(ts, 'mail', 'mail-dead'); // created at T0 + 5s

  const all = await ts.request({ method: 'GET', url: '/tasques' });
  assert.equal(all.status, 200, all.body);
  assertJsonContentType(all);
  assert.equal(all.json.tasks.length, 11);
  all.json.tasks.forEach(assertTaskShape);
  assert.equal(all.json.tasks[0].id, 'mail-dead', 'newest first');
  assert.deepEqual(all.json.tasks.slice(1, 3).map((x: { id: string }) => x.id), ['mail-4', 'sms-4'], 'same instant: by queue');
  assert.equal(all.json.next_cursor, undefined, 'one page holds everything');

  const ids = async (query: string) =>
    (await ts.request({ method: 'GET', url: `/tasques?${query}` })).json.tasks.map((x: { id: string }) => x.id);
  assert.deepEqual(await ids('queue=sms&kind=send&limit=2'), ['sms-4', 'sms-3']);
  assert.deepEqual(await ids('queue=mail&kind=bounce'), ['mail-3', 'mail-1']);
  assert.deepEqual(await ids('state=dead'), ['mail-dead']);
  assert.deepEqual((await ids('state=dead,queued')).length, 11);
  assert.deepEqual(await ids('prefix=sms-1'), ['sms-1']);
  assert.deepEqual(await ids('queue=mail&prefix=bou'), ['mail-3', 'mail-1'], 'prefix matches the kind too');
  assert.deepEqual(
    await ids(`queue=sms&created_after=${iso(T0 + 1000)}&created_before=${iso(T0 + 3000)}`),
    ['sms-2', 'sms-1'],
    'created_after inclusive, created_before exclusive',
  );
  assert.deepEqual(await ids('recurring_task_id=nope'), []);

  // Paging: limit 3 walks all 11 exactly once, in the same order as the single page.
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await ts.request({
      method: 'GET',
      url: `/tasques?limit=3${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
    });
    assert.equal(page.status, 200, page.body);
    seen.push(...page.json.tasks.map((x: { id: string }) => x.id));
    cursor = page.json.next_cursor;
    pages++;
  } while (cursor !== undefined && pages < 10);
  assert.deepEqual(seen, all.json.tasks.map((x: { id: string }) => x.id));
  // Scheduled: a task due later (and the dead one, which is not waiting, is never scheduled).
  await createTask(ts, { queue: 'sms', id: 'sms-later', kind: 'send', run_at: iso(clock.now() + 3_600_000) });
  assert.deepEqual(await ids('scheduled=true'), ['sms-later']);
  assert.equal((await ids('scheduled=false')).length, 11);
  assert.ok(!(await ids('scheduled=false&state=queued')).includes('sms-later'));
  clock.advance(3_600_000);
  assert.deepEqual(await ids('scheduled=true'), [], 'due now: not scheduled any more');
});

test('GET /tasques rejects bad parameters with a 400 naming the parameter', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const cases: [string, RegExp][] = [
    ['limit=0', /^limit: /],
    ['limit=1001', /^limit: /],
    ['limit=ten', /^limit: /],
    ['state=running', /^state: unknown state "running"/],
    ['cursor=not-a-cursor', /^cursor: /],
    ['created_after=yesterday', /^created_after: /],
    ['created_before=2026-13-45T00:00:00Z', /^created_before: /],
    // Read as March 3 by Date.parse; refused like run_at (one strict parser).
    ['created_after=2026-02-31T00:00:00Z', /^created_after: /],
    ['created_before=2026-04-31T00:00:00Z', /^created_before: /],
    ['created_after=2026-01-01T00:00:00', /^created_after: /],
    ['queue=Not%20Valid', /Illegal Queue name/],
    ['scheduled=yes', /scheduled/],
  ];
  for (const [query, message] of cases) {
    const res = await ts.request({ method: 'GET', url: `/tasques?${query}` });
    assert.equal(res.status, 400, `${query} → ${res.status} ${res.body}`);
    assert.match(res.json.message, message, query);
    assert.ok(res.json.code?.startsWith('TQ_ERR_'), query);
  }
});

test('GET /queues counts tasks by state, the oldest claimable age and recent activity', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  await createTask(ts, { queue: 'mail', id: 'a', kind: 'k' });
  clock.advance(10_000);
  await createTask(ts, { queue: 'mail', id: 'b', kind: 'k' });
  await createTask(ts, { queue: 'mail', id: 'later', kind: 'k', run_at: iso(T0 + 3_600_000) });
  await deadTask(ts, 'sms', 'gone');
  await claim(ts, 'w', { queues: ['mail'], block_for: '0s' }); // claims `a`, the oldest
  clock.advance(20_000);

  const res = await ts.request({ method: 'GET', url: '/queues' });
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(res.json, {
    queues: [
      {
        queue: 'mail',
        paused: false,
        counts: { queued: 2, claimed: 1, failed: 0, done: 0, dead: 0 },
        scheduled: 1, // `later`, due in an hour: counted apart from the claimable `b`
        oldest_claimable_run_at: iso(T0 + 10_000),
        oldest_claimable_age_seconds: 20,
        recent: { window: '5m0s', created: 3, done: 0, dead: 0 },
      },
      {
        queue: 'sms',
        paused: false,
        counts: { queued: 0, claimed: 0, failed: 0, done: 0, dead: 1 },
        scheduled: 0,
        recent: { window: '5m0s', created: 1, done: 0, dead: 1 },
      },
    ],
  });

  clock.advance(5 * 60_000);
  const narrow = await ts.request({ method: 'GET', url: '/queues/mail?window=1m' });
  assert.equal(narrow.status, 200, narrow.body);
  assert.deepEqual(narrow.json.recent, { window: '1m0s', created: 0, done: 0, dead: 0 });
  assert.equal(narrow.json.oldest_claimable_age_seconds, 320);

  const empty = await ts.request({ method: 'GET', url: '/queues/nothing-here' });
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.json.counts, { queued: 0, claimed: 0, failed: 0, done: 0, dead: 0 });

  assertError(await ts.request({ method: 'GET', url: '/queues?window=5' }), 400, undefined, 'TQ_ERR_BAD_REQUEST');
  assertError(await ts.request({ method: 'GET', url: '/queues?window=25h' }), 400, 'window: must be from 1ms to 24h');
  assertError(await ts.request({ method: 'GET', url: '/queues/Bad%20Queue' }), 400, undefined, 'TQ_ERR_INVALID_QUEUE_NAME');
});

test('a paused queue hands out no claims, also inside a claim over several queues; resume wakes a long poll', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  await createTask(ts, { queue: 'mail', id: 'm1', kind: 'k' });
  await createTask(ts, { queue: 'sms', id: 's1', kind: 'k' });

  const paused = await ts.request({ method: 'PUT', url: '/queues/mail/pause' });
  assert.equal(paused.status, 200, paused.body);
  assert.equal(paused.json.queue, 'mail');
  assert.equal(paused.json.paused, true);
  assert.equal((await ts.request({ method: 'PUT', url: '/queues/mail/pause' })).json.paused, true, 'idempotent');

  assert.deepEqual(await claim(ts, 'w', { queues: ['mail'], block_for: '0s' }), []);
  const both = await claim(ts, 'w', { queues: ['mail', 'sms'], amount: 10, block_for: '0s' });
  assert.deepEqual(both.map((x) => x.id), ['s1'], 'the other queue is still served');
  assert.deepEqual(await claim(ts, 'w', { queues: [], amount: 10, block_for: '0s' }), [], '[] = every queue, but not paused ones');
  assert.equal((await ts.request({ method: 'GET', url: '/queues/mail' })).json.paused, true);

  // A long poll on the paused queue waits, and gets the task as soon as the queue is resumed.
  const waiting = ts.server.engine.claimTasks({ queues: ['mail'], workerId: 'w2', blockForMs: 15_000 });
  while (ts.server.engine.waitingClaims === 0) await new Promise((resolve) => setImmediate(resolve));
  const resumed = await ts.request({ method: 'PUT', url: '/queues/mail/resume' });
  assert.equal(resumed.json.paused, false);
  const got = await waiting;
  assert.deepEqual(got.map((x) => x.id), ['m1']);
});

test('PUT /tasques/retry queues a dead task again with fresh attempts; other states answer 409', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  await deadTask(ts, 'jobs', 'j1');
  clock.advance(60_000);
  const res = await ts.request({ method: 'PUT', url: '/tasques/retry/jobs/j1' });
  assert.equal(res.status, 200, res.body);
  assertTaskShape(res.json);
  assert.equal(res.json.state, 'queued');
  assert.equal(res.json.attempted, 0);
  assert.equal(res.json.run_at, iso(T0 + 60_000));
  assert.deepEqual(res.json.last_claimed.result.failure, { error: 'exploded' }, 'the last failure stays visible');
  const [again] = await claim(ts, 'w', { queues: ['jobs'], block_for: '0s' });
  assert.equal(again.id, 'j1', 'claimable again');

  assertError(
    await ts.request({ method: 'PUT', url: '/tasques/retry/jobs/j1' }),
    409,
    'Only a dead Task can be retried: [j1] is claimed',
    'TQ_ERR_TASK_NOT_DEAD',
  );
  assertError(await ts.request({ method: 'PUT', url: '/tasques/retry/jobs/nope' }), 404, undefined, 'TQ_ERR_TASK_NOT_FOUND');
});

test('PUT /tasques/cancel makes a waiting task dead with who/when/why and no made-up claim', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  await createTask(ts, { queue: 'jobs', id: 'c1', kind: 'k', run_at: '2027-01-01T00:00:00Z' });
  await createTask(ts, { queue: 'jobs', id: 'c2', kind: 'k' });

  clock.advance(1000);
  const res = await ts.request({ method: 'PUT', url: '/tasques/cancel/jobs/c1', payload: { reason: 'customer left', by: 'alice' } });
  assert.equal(res.status, 200, res.body);
  const { cancellation, ...v1Fields } = res.json;
  assertTaskShape(v1Fields);
  assert.equal(res.json.state, 'dead');
  assert.equal(res.json.last_claimed, undefined, 'a task never claimed gets no claim record');
  assert.deepEqual(cancellation, { at: iso(T0 + 1000), by: 'alice', reason: 'customer left' });

  // The v1 read has no new field; the operator listing shows the cancellation.
  const v1 = await ts.request({ method: 'GET', url: '/tasques/jobs/c1' });
  assertTaskShape(v1.json);
  assert.equal('cancellation' in v1.json, false);
  const listed = await ts.request({ method: 'GET', url: '/tasques?queue=jobs&state=dead' });
  assert.deepEqual(listed.json.tasks.map((task: { id: string; cancellation?: unknown }) => [task.id, task.cancellation]), [
    ['c1', { at: iso(T0 + 1000), by: 'alice', reason: 'customer left' }],
  ]);

  const [held] = await claim(ts, 'w', { queues: ['jobs'], block_for: '0s' });
  assert.equal(held.id, 'c2', 'the cancelled task is never claimed');
  assertError(
    await ts.request({ method: 'PUT', url: '/tasques/cancel/jobs/c1' }),
    409,
    'Only a queued, claimed or failed Task can be cancelled: [c1] is dead',
    'TQ_ERR_TASK_NOT_WAITING',
  );
  assertError(
    await ts.request({ method: 'PUT', url: '/tasques/cancel/jobs/c2', payload: { reason: 5 } }),
    400,
    undefined,
    'TQ_ERR_BAD_REQUEST',
  );
  assertError(
    await ts.request({ method: 'PUT', url: '/tasques/cancel/jobs/c2', payload: { by: 'x'.repeat(201) } }),
    400,
    undefined,
    'TQ_ERR_BAD_REQUEST',
  );

  // A failed task (waiting for its retry) can be cancelled without a body; its real claim record is kept.
  await createTask(ts, { queue: 'jobs', id: 'c3', kind: 'k', retry_times: 3 });
  const [c3] = await claim(ts, 'w3', { queues: ['jobs'], block_for: '0s' });
  await ts.request({ method: 'PUT', url: `/tasques/failed/jobs/${c3.id}`, headers: worker('w3'), payload: {} });
  const cancelled = await ts.request({ method: 'PUT', url: '/tasques/cancel/jobs/c3' });
  assert.equal(cancelled.status, 200, cancelled.body);
  assert.equal(cancelled.json.last_claimed.worker_id, 'w3');
  assert.deepEqual(cancelled.json.last_claimed.result.failure, { cancelled: true });
  assert.equal(cancelled.json.cancellation.by, 'operator', 'nobody named: "operator"');
});

test('PUT /tasques/cancel of a claimed task: its worker is refused with 400 TQ_ERR_TASK_CANCELLED, nothing is recorded after', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  await createTask(ts, { queue: 'jobs', id: 'run', kind: 'k' });
  const [running] = await claim(ts, 'w1', { queues: ['jobs'], block_for: '0s' });
  assert.equal(running.id, 'run');

  clock.advance(2000);
  const res = await ts.request({ method: 'PUT', url: '/tasques/cancel/jobs/run', payload: { reason: 'too slow' } });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.json.state, 'dead');
  assert.equal(res.json.last_claimed.worker_id, 'w1');
  assert.deepEqual(res.json.last_claimed.result, { at: iso(T0 + 2000), failure: { cancelled: true, reason: 'too slow' } });
  assert.deepEqual(res.json.cancellation, { at: iso(T0 + 2000), by: 'operator', reason: 'too slow' });

  // v1's "not claimed" status and message (what v1 workers handle); the code says why.
  const message = 'The Task is not currently Claimed so cannot be reported on: [run]';
  const refusals = [
    await ts.request({ method: 'PUT', url: '/tasques/reports/jobs/run', headers: worker('w1'), payload: { data: { p: 1 } } }),
    await ts.request({ method: 'PUT', url: '/tasques/done/jobs/run', headers: worker('w1'), payload: { data: {} } }),
    await ts.request({ method: 'PUT', url: '/tasques/failed/jobs/run', headers: worker('w1'), payload: { data: {} } }),
    await ts.request({ method: 'DELETE', url: '/tasques/claims/jobs/run', headers: worker('w1') }),
  ];
  for (const refusal of refusals) assertError(refusal, 400, message, 'TQ_ERR_TASK_CANCELLED');
  const done = await ts.request({ method: 'PUT', url: '/tasques/done', headers: worker('w1'), payload: { tasks: [{ queue: 'jobs', id: 'run' }] } });
  assert.equal(done.status, 200, done.body);
  assert.deepEqual(done.json.results, [{ status: 400, error: { message, code: 'TQ_ERR_TASK_CANCELLED' } }]);

  const after = await ts.request({ method: 'GET', url: '/tasques/jobs/run' });
  assert.deepEqual(after.json.metadata.version, res.json.metadata.version, 'no write after the cancel');
  const stats = await ts.request({ method: 'GET', url: '/queues/jobs' });
  assert.deepEqual(stats.json.counts, { queued: 0, claimed: 0, failed: 0, done: 0, dead: 1 });
});

test('PUT /tasques/cancel records the authenticated user when auth is on, whatever the body says', LIMIT, async (t) => {
  const ts = await startTestServer(t, { auth: { basic_auth: [{ name: 'ops-alice', password: 'secret-1' }] } });
  const auth = { authorization: `Basic ${Buffer.from('ops-alice:secret-1').toString('base64')}` };
  const created = await ts.request({ method: 'POST', url: '/tasques', headers: auth, payload: { queue: 'jobs', kind: 'k', id: 'a1' } });
  assert.equal(created.status, 201, created.body);
  const res = await ts.request({ method: 'PUT', url: '/tasques/cancel/jobs/a1', headers: auth, payload: { by: 'mallory' } });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.json.cancellation.by, 'ops-alice');
  assert.equal((await ts.request({ method: 'PUT', url: '/tasques/cancel/jobs/a1', payload: {} })).status, 401);
});

test('GET /tasques/errors answers the last N failures of a task, oldest first; v1 answers stay as they were', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, { tasks: { error_history: { keep: 2 } } }, { clock });
  await createTask(ts, { queue: 'jobs', id: 'e1', kind: 'k', retry_times: 5, processing_timeout: '1m' });
  const failures = [{ error: 'one' }, { error: 'two' }, { error: 'three' }];
  for (const [i, failure] of failures.entries()) {
    const [claimed] = await claim(ts, `w${i}`, { queues: ['jobs'], block_for: '0s' });
    assert.equal(claimed.id, 'e1');
    const failed = await ts.request({ method: 'PUT', url: '/tasques/failed/jobs/e1', headers: worker(`w${i}`), payload: { data: failure } });
    assert.equal(failed.status, 200, failed.body);
    clock.advance(24 * 3600 * 1000);
  }
  const res = await ts.request({ method: 'GET', url: '/tasques/errors/jobs/e1' });
  assert.equal(res.status, 200, res.body);
  assertJsonContentType(res);
  assert.deepEqual(res.json, {
    queue: 'jobs',
    id: 'e1',
    state: 'failed',
    archived: false,
    errors: [
      { at: iso(T0 + 24 * 3600 * 1000), attempt: 2, worker_id: 'w1', failure: { error: 'two' } },
      { at: iso(T0 + 2 * 24 * 3600 * 1000), attempt: 3, worker_id: 'w2', failure: { error: 'three' } },
    ],
  });
  const v1 = await ts.request({ method: 'GET', url: '/tasques/jobs/e1' });
  assertTaskShape(v1.json);

  assertError(await ts.request({ method: 'GET', url: '/tasques/errors/jobs/nope' }), 404, undefined, 'TQ_ERR_TASK_NOT_FOUND');
  assertError(await ts.request({ method: 'GET', url: '/tasques/errors/Bad%20Queue/x' }), 400, undefined, 'TQ_ERR_INVALID_QUEUE_NAME');
});

test('GET /schedule answers each recurring task with its next fire time', LIMIT, async (t) => {
  const clock = new ManualClock(T0 + 30_000);
  const ts = await startTestServer(t, {}, { clock });
  const created = await ts.request({
    method: 'POST',
    url: '/recurring_tasques',
    payload: { id: 'nightly', schedule_expression: '0 3 * * *', task_definition: { queue: 'ops', kind: 'backup' } },
  });
  assert.equal(created.status, 201, created.body);
  await ts.request({
    method: 'POST',
    url: '/recurring_tasques',
    payload: { id: 'often', schedule_expression: '@every 1m', task_definition: { queue: 'ops', kind: 'ping' } },
  });
  const res = await ts.request({ method: 'GET', url: '/schedule' });
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(res.json, {
    recurring_tasks: [
      {
        id: 'nightly',
        schedule_expression: '0 3 * * *',
        skip_if_outstanding_tasks_exist: false,
        queue: 'ops',
        kind: 'backup',
        next_run_at: '2026-03-02T03:00:00.000Z',
        paused: false,
        next_run_times: [2, 3, 4, 5, 6].map((d) => `2026-03-0${d}T03:00:00.000Z`),
      },
      {
        id: 'often',
        schedule_expression: '@every 1m',
        skip_if_outstanding_tasks_exist: false,
        queue: 'ops',
        kind: 'ping',
        next_run_at: iso(T0 + 90_000),
        paused: false,
        next_run_times: [90, 150, 210, 270, 330].map((s) => iso(T0 + s * 1000)),
      },
    ],
  });
});

test('the operator routes are behind basic auth when it is configured', LIMIT, async (t) => {
  const ts = await startTestServer(t, { auth: { basic_auth: [{ name: 'ops', password: 'pw' }] } });
  for (const [method, url] of [
    ['GET', '/tasques'],
    ['GET', '/queues'],
    ['GET', '/queues/q'],
    ['PUT', '/queues/q/pause'],
    ['PUT', '/queues/q/resume'],
    ['PUT', '/tasques/retry/q/x'],
    ['PUT', '/tasques/cancel/q/x'],
    ['GET', '/schedule'],
    ['PUT', '/recurring_tasques/r/pause'],
    ['PUT', '/recurring_tasques/r/resume'],
    ['POST', '/recurring_tasques/r/run'],
  ] as const) {
    const res = await ts.request({ method, url });
    assert.equal(res.status, 401, `${method} ${url}`);
  }
  const authorized = await ts.request({
    method: 'PUT',
    url: '/queues/q/pause',
    headers: { authorization: `Basic ${Buffer.from('ops:pw').toString('base64')}` },
  });
  assert.equal(authorized.status, 200);
  assert.equal(authorized.json.paused, true);
});
