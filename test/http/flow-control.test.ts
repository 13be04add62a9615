// Flow control over HTTP (issue 15; docs/flow-control.md): keys on create (single and batch), kept on the
// task and shown by the operator listing but never in v1 answers; the limits routes (GET/PUT/DELETE
// /queues/{queue}/limits), the flow status (GET /queues/{queue}/flow), claims that honour the limits,
// and clear 400s for bad limits. A real server over a real SQLite file, through Fastify's inject.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/service/clock.js';
import type { AddressInfo } from 'node:net';
import { assertError, claim, createTask, LIMIT, startTestServer, waitUntil } from '../helpers/http.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');

test('concurrency_key and rate_key: kept, listed by the operator API, absent from v1 answers', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const created = await ts.request({
    method: 'POST',
    url: '/tasques',
    payload: { queue: 'q', id: 'one', kind: 'k', concurrency_key: 'acme', rate_key: 'mail' },
  });
  assert.equal(created.status, 201, created.body);
  assert.equal(created.json.concurrency_key, undefined, 'a v1 answer gains no field');
  assert.equal(created.json.rate_key, undefined);
  const batch = await ts.request({
    method: 'POST',
    url: '/tasques/batch',
    payload: { tasks: [{ queue: 'q', id: 'two', kind: 'k', concurrency_key: 'globex' }] },
  });
  assert.equal(batch.status, 200, batch.body);
  const got = await ts.request({ method: 'GET', url: '/tasques/q/one' });
  assert.equal(got.json.concurrency_key, undefined);
  const listed = await ts.request({ method: 'GET', url: '/tasques?queue=q' });
  const byId = new Map(listed.json.tasks.map((task: { id: string }) => [task.id, task]));
  assert.deepEqual(
    { ck: (byId.get('one') as any).concurrency_key, rk: (byId.get('one') as any).rate_key },
    { ck: 'acme', rk: 'mail' },
  );
  assert.equal((byId.get('two') as any).concurrency_key, 'globex');
  assert.equal('rate_key' in (byId.get('two') as object), false);
  const [claimed] = await claim(ts, 'w1', { queues: ['q'], amount: 1, block_for: '0s' });
  assert.equal(claimed.concurrency_key, undefined, 'claim answers are v1 answers');

  for (const bad of [{ concurrency_key: '' }, { rate_key: 'x'.repeat(513) }, { concurrency_key: 7 }]) {
    const answer = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k', ...bad } });
    assertError(answer, 400);
  }
});

test('PUT, GET and DELETE /queues/{queue}/limits; claims honour them; GET /queues/{queue}/flow', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  const none = await ts.request({ method: 'GET', url: '/queues/mail/limits' });
  assert.equal(none.status, 200, none.body);
  assert.deepEqual(none.json, { queue: 'mail', limits: {} });

  const body = {
    queue: { concurrency: 10, rate: { count: 5, per: '1s' } },
    per_key: { concurrency: 1 },
    keys: { acme: { concurrency: 2 } },
  };
  const put = await ts.request({ method: 'PUT', url: '/queues/mail/limits', payload: body });
  assert.equal(put.status, 200, put.body);
  const expected = {
    queue: { concurrency: 10, rate: { count: 5, per: '1s', burst: 5 } },
    per_key: { concurrency: 1 },
    keys: { acme: { concurrency: 2 } },
  };
  assert.deepEqual(put.json, { queue: 'mail', limits: expected, modified_at: new Date(T0).toISOString() });
  assert.deepEqual((await ts.request({ method: 'GET', url: '/queues/mail/limits' })).json, put.json);

  for (let i = 0; i < 3; i++) await createTask(ts, { queue: 'mail', id: `acme-${i}`, kind: 'send', concurrency_key: 'acme' });
  for (let i = 0; i < 3; i++) await createTask(ts, { queue: 'mail', id: `other-${i}`, kind: 'send', concurrency_key: 'other' });
  const claimed = await claim(ts, 'w1', { queues: ['mail'], amount: 10, block_for: '0s' });
  const perKey: Record<string, number> = {};
  for (const task of claimed) perKey[task.id.split('-')[0]!] = (perKey[task.id.split('-')[0]!] ?? 0) + 1;
  assert.deepEqual(perKey, { acme: 2, other: 1 });

  const flow = await ts.request({ method: 'GET', url: '/queues/mail/flow' });
  assert.equal(flow.status, 200, flow.body);
  assert.deepEqual(flow.json, {
    queue: 'mail',
    limits: expected,
    claimed: 3,
    tokens: 2,
    throttled_keys: [
      { key: 'other', claimed: 1, waiting: 2, reason: 'concurrency' },
      { key: 'acme', claimed: 2, waiting: 1, reason: 'concurrency' },
    ],
    waiting_on_limit: 3,
  });
  const one = await ts.request({ method: 'GET', url: '/queues/mail/flow?keys=1' });
  assert.deepEqual(one.json.throttled_keys.map((k: { key: string }) => k.key), ['other']);
  assertError(await ts.request({ method: 'GET', url: '/queues/mail/flow?keys=-1' }), 400);

  const deleted = await ts.request({ method: 'DELETE', url: '/queues/mail/limits' });
  assert.equal(deleted.status, 200, deleted.body);
  assert.deepEqual(deleted.json, { queue: 'mail', limits: {} });
  assert.equal((await claim(ts, 'w1', { queues: ['mail'], amount: 10, block_for: '0s' })).length, 3, 'unlimited again');
  // `{}` is "no limits" too.
  const empty = await ts.request({ method: 'PUT', url: '/queues/mail/limits', payload: {} });
  assert.deepEqual(empty.json, { queue: 'mail', limits: {} });
});

test('bad limits answer 400 with a message naming the field, and store nothing', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const tooManyKeys = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, { concurrency: 1 }]));
  const bad: [unknown, RegExp][] = [
    [{ queue: { concurrency: -1 } }, /concurrency/],
    [{ queue: { concurrency: 1.5 } }, /concurrency/],
    [{ queue: { concurency: 1 } }, /^body\/queue\/concurency: unknown field$/],
    [{ queue: { rate: { count: 0, per: '1s' } } }, /count/],
    [{ queue: { rate: { count: 1, per: 'soon' } } }, /per/],
    [{ queue: { rate: { count: 1, per: '0s' } } }, /per/],
    [{ queue: { rate: { count: 1, per: '25h' } } }, /per/],
    [{ queue: { rate: { count: 1 } } }, /per/],
    [{ per_key: { concurrency: 2_000_000 } }, /concurrency/],
    [{ keys: tooManyKeys }, /keys|properties/],
    [{ keys: { ['x'.repeat(513)]: { concurrency: 1 } } }, /key/],
    [{ keys: { a: 5 } }, /keys/],
    [[], /body|object/i],
  ];
  for (const [payload, message] of bad) {
    const answer = await ts.request({ method: 'PUT', url: '/queues/q/limits', payload: payload as object });
    assertError(answer, 400);
    assert.match(answer.json.message, message, `${JSON.stringify(payload).slice(0, 80)}: ${answer.json.message}`);
  }
  assert.deepEqual((await ts.request({ method: 'GET', url: '/queues/q/limits' })).json, { queue: 'q', limits: {} });
  assertError(await ts.request({ method: 'PUT', url: '/queues/Bad Name/limits', payload: {} }), 400);
  // A key named like an Object.prototype member is just a key.
  const proto = await ts.request({ method: 'PUT', url: '/queues/q/limits', payload: { keys: { constructor: { concurrency: 1 } } } });
  assert.equal(proto.status, 200, proto.body);
  assert.deepEqual(proto.json.limits, { keys: { constructor: { concurrency: 1 } } });
});

test('metrics: tasques_tasks_throttled_total counts what limits held back, per queue, never per key', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const put = await ts.request({ method: 'PUT', url: '/queues/mail/limits', payload: { per_key: { concurrency: 1 } } });
  assert.equal(put.status, 200, put.body);
  for (let i = 0; i < 3; i++) await createTask(ts, { queue: 'mail', kind: 'send', concurrency_key: 'acme' });
  await createTask(ts, { queue: 'free', kind: 'k' });
  assert.equal((await claim(ts, 'w', { queues: ['mail', 'free'], amount: 10, block_for: '0s' })).length, 2);
  const scrape = await ts.request({ method: 'GET', url: '/metrics' });
  const lines = scrape.body.split('\n').filter((line) => line.startsWith('tasques_tasks_throttled_total'));
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /^tasques_tasks_throttled_total\{queue="mail"\} [1-9]\d*$/);
  assert.doesNotMatch(scrape.body, /acme/, 'a key is never a label');
});

test('tasks.queue_limits: every server sets them as it starts; bad ones stop the start with the key named', LIMIT, async (t) => {
  const ts = await startTestServer(t, {
    tasks: { queue_limits: { mail: { queue: { rate: { count: 5, per: '1s' } }, keys: { acme: { concurrency: 10 } } }, none: {} } },
  });
  const mail = await ts.request({ method: 'GET', url: '/queues/mail/limits' });
  assert.deepEqual(mail.json.limits, { queue: { rate: { count: 5, per: '1s', burst: 5 } }, keys: { acme: { concurrency: 10 } } });
  assert.deepEqual((await ts.request({ method: 'GET', url: '/queues/none/limits' })).json, { queue: 'none', limits: {} });

  const bad: [unknown, RegExp][] = [
    [{ 'Bad Queue': {} }, /queue_limits\.Bad Queue: not a valid queue name/],
    [{ q: { queue: { rate: { count: 1, per: '48h' } } } }, /queue_limits\.q\.queue\.rate\.per: must be from 1ms to 24h/],
    [{ q: { queue: { concurency: 1 } } }, /queue_limits/],
    [{ q: { per_key: { concurrency: -1 } } }, /queue_limits/],
  ];
  for (const [queueLimits, message] of bad) {
    assert.throws(() => validateConfig({ tasks: { queue_limits: queueLimits } }), message);
  }
});

for (const release of ['done', 'cancelled'] as const) {
  test(`a claim waiting on a key at its limit is woken when a task of that queue is ${release}, not by polling`, LIMIT, async (t) => {
    // Polls every 10 s: an answer within 2 s of the release, with block_for 30 s, came from the wake-up.
    const ts = await startTestServer(t, { tasks: { defaults: { block_for_retry_min_wait: '10s' } } });
    await ts.server.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = ts.server.app.server.address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;
    await ts.request({ method: 'PUT', url: '/queues/q/limits', payload: { per_key: { concurrency: 1 } } });
    await createTask(ts, { queue: 'q', id: 'first', kind: 'k', concurrency_key: 'acme' });
    await createTask(ts, { queue: 'q', id: 'second', kind: 'k', concurrency_key: 'acme' });
    const [first] = await claim(ts, 'w1', { queues: ['q'], amount: 1, block_for: '0s' });
    assert.equal(first.id, 'first');

    const pending = fetch(`${base}/tasques/claims`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tasques-worker-id': 'w2' },
      body: JSON.stringify({ queues: ['q'], amount: 1, block_for: '30s' }),
    });
    await waitUntil(() => ts.server.engine.waitingClaims === 1, 'the claim to wait');
    const started = performance.now();
    const freed =
      release === 'done'
        ? await ts.request({ method: 'PUT', url: '/tasques/done/q/first', headers: { 'x-tasques-worker-id': 'w1' }, payload: {} })
        : await ts.request({ method: 'PUT', url: '/tasques/cancel/q/first', payload: { reason: 'test' } });
    assert.equal(freed.status, 200, freed.body);
    const answer = (await (await pending).json()) as { id: string }[];
    assert.deepEqual(answer.map((task) => task.id), ['second']);
    assert.ok(performance.now() - started < 2_000, `woken by the ${release} task, not by a poll`);
  });
}
