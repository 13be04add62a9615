// Every error of spec §1.1–§1.3, with its `{message, code}` body, and v1's order of checks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertError,
  claim,
  createClaimed,
  createTask,
  LIMIT,
  startTestServer,
  storedRows,
  worker,
} from '../helpers/http.js';

const NO_WORKER = 'Worker Id header [X-TASQUES-WORKER-ID] not sent';
const ILLEGAL = /^Illegal Queue name: \[\[.+\]\]$/;

test('unknown paths answer 404 "No such route."', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  for (const [method, url] of [
    ['GET', '/nope'],
    ['GET', '/tasques/a/b/c'],
    ['GET', '/recurring_tasques/a/b'],
    ['GET', '/TASQUES/q/id'],
    ['POST', '/tasques%2Fclaims'],
  ]) {
    const res = await ts.request({ method: method as 'GET', url, payload: method === 'GET' ? undefined : {} });
    assertError(res, 404, 'No such route.', 'TQ_ERR_ROUTE_NOT_FOUND');
  }
});

test('a known path with a wrong method answers 405 with an Allow header listing the methods it takes', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const cases: [string, string, string][] = [
    ['PUT', '/tasques', 'GET, HEAD, POST'],
    ['PATCH', '/tasques', 'GET, HEAD, POST'],
    ['DELETE', '/tasques', 'GET, HEAD, POST'],
    ['GET', '/tasques/claims', 'POST'],
    ['PUT', '/tasques/claims', 'POST'],
    ['POST', '/tasques/q/id', 'GET, HEAD'],
    ['PATCH', '/tasques/q/id', 'GET, HEAD'],
    ['GET', '/tasques/done/q/id', 'PUT'],
    ['POST', '/tasques/done/q/id', 'PUT'],
    ['POST', '/tasques/reports/q/id', 'PUT'],
    ['DELETE', '/tasques/failed/q/id', 'PUT'],
    ['DELETE', '/recurring_tasques', 'GET, HEAD, POST'],
    ['PUT', '/recurring_tasques', 'GET, HEAD, POST'],
    ['POST', '/recurring_tasques/r1', 'DELETE, GET, HEAD, PUT'],
    ['PATCH', '/recurring_tasques/r1', 'DELETE, GET, HEAD, PUT'],
    ['POST', '/healthz', 'GET, HEAD'],
    ['GET', '/queues/q/pause', 'PUT'],
  ];
  for (const [method, url, allow] of cases) {
    const res = await ts.request({ method: method as 'GET', url, payload: method === 'GET' ? undefined : {} });
    assertError(res, 405, new RegExp(`^Method ${method} is not allowed here`), 'TQ_ERR_METHOD_NOT_ALLOWED');
    assert.equal(res.headers.allow, allow, `${method} ${url}`);
  }
});

test('worker routes without X-TASQUES-WORKER-ID (missing, empty or blank) answer 400 with v1\'s message', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const claimed = await createClaimed(ts, 'q', 'w1');
  const routes: [string, string, unknown][] = [
    ['POST', '/tasques/claims', { queues: ['q'], block_for: '1ms' }],
    ['DELETE', `/tasques/claims/q/${claimed.id}`, undefined],
    ['PUT', `/tasques/reports/q/${claimed.id}`, {}],
    ['PUT', `/tasques/done/q/${claimed.id}`, {}],
    ['PUT', `/tasques/failed/q/${claimed.id}`, {}],
  ];
  for (const [method, url, payload] of routes) {
    for (const headers of [{}, worker(''), worker('   '), worker('\t')]) {
      const res = await ts.request({ method: method as 'PUT', url, payload: payload as object, headers });
      assertError(res, 400, NO_WORKER, 'TQ_ERR_WORKER_ID_MISSING');
    }
  }
  const after = await ts.request({ method: 'GET', url: `/tasques/q/${claimed.id}` });
  assert.deepEqual(after.json, claimed, 'nothing changed');
});

test('claim checks the worker header before the body', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const bodies: (string | undefined)[] = ['{not json', '[]', '{"queues":"q"}', '{"queues":["Q"]}', '', undefined];
  for (const payload of bodies) {
    const res = await ts.request({
      method: 'POST',
      url: '/tasques/claims',
      headers: { 'content-type': 'application/json' },
      ...(payload === undefined ? {} : { payload }),
    });
    assertError(res, 400, NO_WORKER);
  }
  // With the header, the body errors show.
  const res = await ts.request({
    method: 'POST',
    url: '/tasques/claims',
    headers: { ...worker('w'), 'content-type': 'application/json' },
    payload: '{not json',
  });
  assertError(res, 400, /JSON/);
});

test('report, done and failed check the queue, then the body, then the header', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  for (const kind of ['reports', 'done', 'failed']) {
    // Bad queue + bad body + no header → the queue.
    const badAll = await ts.request({
      method: 'PUT',
      url: `/tasques/${kind}/+q/id`,
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
    });
    assertError(badAll, 400, 'Illegal Queue name: [[Queue name cannot start with [+]]]', 'TQ_ERR_INVALID_QUEUE_NAME');
    // Bad queue + schema-invalid body → the queue.
    const badQueueAndShape = await ts.request({ method: 'PUT', url: `/tasques/${kind}/Q/id`, payload: { data: 5 } });
    assertError(badQueueAndShape, 400, ILLEGAL, 'TQ_ERR_INVALID_QUEUE_NAME');
    // Good queue + bad body + no header → the body.
    const badBody = await ts.request({
      method: 'PUT',
      url: `/tasques/${kind}/q/id`,
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
    });
    const e = assertError(badBody, 400, /JSON/, 'TQ_ERR_BAD_REQUEST');
    assert.notEqual(e.message, NO_WORKER);
    const badShape = await ts.request({ method: 'PUT', url: `/tasques/${kind}/q/id`, payload: { data: 5 } });
    assertError(badShape, 400, /data/, 'TQ_ERR_BAD_REQUEST');
    // An empty body is an error (v1: "EOF"), before the header.
    const empty = await ts.request({ method: 'PUT', url: `/tasques/${kind}/q/id`, headers: { 'content-type': 'application/json' }, payload: '' });
    assertError(empty, 400, /body/i, 'TQ_ERR_BAD_REQUEST');
    const none = await ts.request({ method: 'PUT', url: `/tasques/${kind}/q/id` });
    assertError(none, 400, /body/i, 'TQ_ERR_BAD_REQUEST');
    // Good queue + good body + no header → the header.
    const noHeader = await ts.request({ method: 'PUT', url: `/tasques/${kind}/q/id`, payload: {} });
    assertError(noHeader, 400, NO_WORKER);
    // All good but no such task → 404.
    const missing = await ts.request({ method: 'PUT', url: `/tasques/${kind}/q/id`, headers: worker('w'), payload: {} });
    assertError(missing, 404, 'Could not find [id] in queue [q]', 'TQ_ERR_TASK_NOT_FOUND');
  }
});

test('unclaim checks the queue, then the header', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  assertError(await ts.request({ method: 'DELETE', url: '/tasques/claims/+q/id' }), 400, ILLEGAL, 'TQ_ERR_INVALID_QUEUE_NAME');
  assertError(await ts.request({ method: 'DELETE', url: '/tasques/claims/q/id' }), 400, NO_WORKER);
  assertError(
    await ts.request({ method: 'DELETE', url: '/tasques/claims/q/id', headers: worker('w') }),
    404,
    'Could not find [id] in queue [q]',
  );
});

/** Every rule of spec §2.6, with the reason our message gives for it. */
const BAD_QUEUES: [string, RegExp][] = [
  ['', /cannot be empty/],
  ['a\\b', /\[\\\]/],
  ['a/b', /\[\/\]/],
  ['a*b', /\[\*\]/],
  ['a?b', /\[\?\]/],
  ['a"b', /\["\]/],
  ['a<b', /\[<\]/],
  ['a>b', /\[>\]/],
  ['a|b', /\[\|\]/],
  ['a b', /\[ \]/],
  ['a,b', /\[,\]/],
  ['a#b', /\[#\]/],
  ['a:b', /\[:\]/],
  ['_q', /start with \[_\]/],
  ['-q', /start with \[-\]/],
  ['+q', /start with \[\+\]/],
  ['.', /cannot be \[\.\]/],
  ['..', /cannot be \[\.\.\]/],
  ['Queue', /lower case/],
];

test('invalid queue names in request bodies answer 400 "Illegal Queue name: [[...]]" and store nothing', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  for (const [name, reason] of BAD_QUEUES) {
    const what = JSON.stringify(name);
    const create = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: name, kind: 'k' } });
    const e = assertError(create, 400, ILLEGAL, 'TQ_ERR_INVALID_QUEUE_NAME');
    assert.match(e.message, reason, `create ${what}: ${e.message}`);

    const claimRes = await ts.request({
      method: 'POST',
      url: '/tasques/claims',
      headers: worker('w'),
      payload: { queues: ['fine', name], block_for: '1ms' },
    });
    assert.match(assertError(claimRes, 400, ILLEGAL, 'TQ_ERR_INVALID_QUEUE_NAME').message, reason, `claim ${what}`);

    const recurring = await ts.request({
      method: 'POST',
      url: '/recurring_tasques',
      payload: { id: 'r', schedule_expression: '@hourly', task_definition: { queue: name, kind: 'k' } },
    });
    assert.match(assertError(recurring, 400, ILLEGAL, 'TQ_ERR_INVALID_QUEUE_NAME').message, reason, `recurring ${what}`);
  }
  // All violations are collected in one message.
  const many = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: '_A b', kind: 'k' } });
  const e = assertError(many, 400, ILLEGAL);
  for (const r of [/\[ \]/, /start with \[_\]/, /lower case/]) assert.match(e.message, r);
  assert.equal(storedRows(ts, 'tasks'), 0);
  assert.equal(storedRows(ts, 'recurring_tasks'), 0);
});

test('valid queue names: underscores and dots inside, digits, hyphens, non-ASCII lower case', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  for (const name of ['my-little-queue', 'messages_and_ciphers', 'a.b', '.hidden', 'q1', 'ünïcode', 'a+b', 'a-']) {
    const task = await createTask(ts, { queue: name, kind: 'k' });
    const res = await ts.request({ method: 'GET', url: `/tasques/${encodeURIComponent(name)}/${task.id}` });
    assert.equal(res.status, 200, `${name}: ${res.body}`);
  }
});

test('invalid queue names in paths answer 400 on every route that takes one', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  // Path-encoded forms of the rules (`.` and `..` are path segments, which URL normalisation removes).
  const BAD_SEGMENTS: [string, RegExp][] = [
    ['', /cannot be empty/],
    ['%5C', /\[\\\]/],
    ['a%2Fb', /\[\/\]/],
    ['%2A', /\[\*\]/],
    ['%3F', /\[\?\]/],
    ['%22', /\["\]/],
    ['%3C', /\[<\]/],
    ['%3E', /\[>\]/],
    ['%7C', /\[\|\]/],
    ['a%20b', /\[ \]/],
    ['a,b', /\[,\]/],
    ['a%23b', /\[#\]/],
    ['a:b', /\[:\]/],
    ['_q', /start with \[_\]/],
    ['-q', /start with \[-\]/],
    ['%2Bq', /start with \[\+\]/],
    ['Q', /lower case/],
  ];
  for (const [segment, reason] of BAD_SEGMENTS) {
    const routes: [string, string][] = [
      ['GET', `/tasques/${segment}/id`],
      ['DELETE', `/tasques/claims/${segment}/id`],
      ['PUT', `/tasques/reports/${segment}/id`],
      ['PUT', `/tasques/done/${segment}/id`],
      ['PUT', `/tasques/failed/${segment}/id`],
    ];
    for (const [method, url] of routes) {
      const res = await ts.request({
        method: method as 'PUT',
        url,
        headers: worker('w'),
        ...(method === 'PUT' ? { payload: {} } : {}),
      });
      const e = assertError(res, 400, ILLEGAL, 'TQ_ERR_INVALID_QUEUE_NAME');
      assert.match(e.message, reason, `${method} ${url}: ${e.message}`);
    }
  }
});

test('a missing task answers 404 on get, unclaim, report, done and failed', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  await createTask(ts, { queue: 'q', kind: 'k', id: 'exists' });
  const msg = 'Could not find [nope] in queue [q]';
  assertError(await ts.request({ method: 'GET', url: '/tasques/q/nope' }), 404, msg, 'TQ_ERR_TASK_NOT_FOUND');
  // The id exists, but in another queue.
  assertError(
    await ts.request({ method: 'GET', url: '/tasques/other/exists' }),
    404,
    'Could not find [exists] in queue [other]',
  );
  assertError(await ts.request({ method: 'DELETE', url: '/tasques/claims/q/nope', headers: worker('w') }), 404, msg);
  for (const kind of ['reports', 'done', 'failed']) {
    assertError(await ts.request({ method: 'PUT', url: `/tasques/${kind}/q/nope`, headers: worker('w'), payload: {} }), 404, msg);
  }
});

test('a task that is not claimed answers 400 to unclaim, report, done and failed', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const queued = await createTask(ts, { queue: 'q', kind: 'k' });
  const msg = `The Task is not currently Claimed so cannot be reported on: [${queued.id}]`;
  assertError(
    await ts.request({ method: 'DELETE', url: `/tasques/claims/q/${queued.id}`, headers: worker('w') }),
    400,
    msg,
    'TQ_ERR_TASK_NOT_CLAIMED',
  );
  for (const kind of ['reports', 'done', 'failed']) {
    const res = await ts.request({ method: 'PUT', url: `/tasques/${kind}/q/${queued.id}`, headers: worker('w'), payload: {} });
    assertError(res, 400, msg, 'TQ_ERR_TASK_NOT_CLAIMED');
  }
  // Done twice: the second is not claimed any more (state is checked before the owner).
  const claimed = await createClaimed(ts, 'q2', 'w1');
  assert.equal((await ts.request({ method: 'PUT', url: `/tasques/done/q2/${claimed.id}`, headers: worker('w1'), payload: {} })).status, 200);
  for (const who of ['w1', 'someone-else']) {
    const again = await ts.request({ method: 'PUT', url: `/tasques/done/q2/${claimed.id}`, headers: worker(who), payload: {} });
    assertError(again, 400, `The Task is not currently Claimed so cannot be reported on: [${claimed.id}]`);
  }
});

test('another worker\'s task answers 403 naming the requesting worker, and is left unchanged', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const claimed = await createClaimed(ts, 'q', 'owner');
  const msg = 'The Task was not owned by the worker [intruder]';
  assertError(
    await ts.request({ method: 'DELETE', url: `/tasques/claims/q/${claimed.id}`, headers: worker('intruder') }),
    403,
    msg,
    'TQ_ERR_TASK_NOT_OWNED_BY_WORKER',
  );
  for (const kind of ['reports', 'done', 'failed']) {
    const res = await ts.request({ method: 'PUT', url: `/tasques/${kind}/q/${claimed.id}`, headers: worker('intruder'), payload: { data: { x: 1 } } });
    assertError(res, 403, msg, 'TQ_ERR_TASK_NOT_OWNED_BY_WORKER');
  }
  const after = await ts.request({ method: 'GET', url: `/tasques/q/${claimed.id}` });
  assert.deepEqual(after.json, claimed);
});

test('an id already used in the queue answers 409 (with v1\'s trailing space); other queues are independent', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const first = await createTask(ts, { queue: 'q', kind: 'k', id: 'dup', args: { v: 1 } });
  const res = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'other', id: 'dup', args: { v: 2 } } });
  assertError(res, 409, 'Task with Id [dup] already exists ', 'TQ_ERR_TASK_ALREADY_EXISTS');
  const stored = await ts.request({ method: 'GET', url: '/tasques/q/dup' });
  assert.deepEqual(stored.json, first, 'the first task is untouched');
  // Claimed or done, the id is still taken.
  await claim(ts, 'w', { queues: ['q'], block_for: '1ms' });
  assertError(await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k', id: 'dup' } }), 409);
  await createTask(ts, { queue: 'other', kind: 'k', id: 'dup' });
  assert.equal(storedRows(ts, 'tasks'), 2);
});

test('recurring tasks: 409 on a live duplicate id, 404 on missing or deleted ids', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const body = { id: 'r1', schedule_expression: '@hourly', task_definition: { queue: 'q', kind: 'k' } };
  assert.equal((await ts.request({ method: 'POST', url: '/recurring_tasques', payload: body })).status, 201);
  assertError(
    await ts.request({ method: 'POST', url: '/recurring_tasques', payload: { ...body, schedule_expression: '@daily' } }),
    409,
    'Id already exists [r1]',
    'TQ_ERR_RECURRING_TASK_ALREADY_EXISTS',
  );
  assert.equal((await ts.request({ method: 'GET', url: '/recurring_tasques/r1' })).json.schedule_expression, '@hourly');
  for (const id of ['nope', 'r1-deleted']) {
    if (id === 'r1-deleted') {
      await ts.request({ method: 'POST', url: '/recurring_tasques', payload: { ...body, id } });
      assert.equal((await ts.request({ method: 'DELETE', url: `/recurring_tasques/${id}` })).status, 200);
    }
    const msg = `Could not find [${id}]`;
    const code = 'TQ_ERR_RECURRING_TASK_NOT_FOUND';
    assertError(await ts.request({ method: 'GET', url: `/recurring_tasques/${id}` }), 404, msg, code);
    assertError(await ts.request({ method: 'PUT', url: `/recurring_tasques/${id}`, payload: { schedule_expression: '@daily' } }), 404, msg, code);
    assertError(await ts.request({ method: 'DELETE', url: `/recurring_tasques/${id}` }), 404, msg, code);
  }
});

test('an invalid schedule answers 400 on create and on update, and changes nothing', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  for (const schedule of ['lolz', '* * * * * *', '61 * * * *', '@every', '@every 0s', '@every x', '@reboot', '', '   ']) {
    const res = await ts.request({
      method: 'POST',
      url: '/recurring_tasques',
      payload: { id: 'r', schedule_expression: schedule, task_definition: { queue: 'q', kind: 'k' } },
    });
    const e = assertError(res, 400, undefined, 'TQ_ERR_BAD_REQUEST');
    assert.match(e.message, /schedule_expression/, `${JSON.stringify(schedule)}: ${e.message}`);
  }
  assert.equal(storedRows(ts, 'recurring_tasks'), 0);
  const created = await ts.request({
    method: 'POST',
    url: '/recurring_tasques',
    payload: { id: 'r', schedule_expression: '@hourly', task_definition: { queue: 'q', kind: 'k' } },
  });
  const update = await ts.request({ method: 'PUT', url: '/recurring_tasques/r', payload: { schedule_expression: 'lolz' } });
  const e = assertError(update, 400, /schedule_expression/, 'TQ_ERR_BAD_REQUEST');
  assert.match(e.message, /lolz/);
  const after = await ts.request({ method: 'GET', url: '/recurring_tasques/r' });
  assert.deepEqual(after.json, created.json);
});

test('malformed percent-encoding in paths answers 400 with {message, code}, not Fastify\'s own body', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const probes = [
    { method: 'GET', url: '/tasques/%FF/x' },
    { method: 'GET', url: '/tasques/q/%FF' },
    { method: 'GET', url: '/recurring_tasques/%E0%A4%A' },
    { method: 'PUT', url: '/tasques/done/q/%FF' },
  ] as const;
  for (const probe of probes) {
    const res = await ts.request({ ...probe, headers: worker('w'), payload: {} } as never);
    assertError(res, 400, /url/i, 'TQ_ERR_BAD_REQUEST');
    assert.deepEqual(Object.keys(res.json).sort(), ['code', 'message']);
  }
});

test('a method without routes (QUERY, with a body and no Content-Type) on a known path answers 405, on an unknown one 404', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const known = await ts.request({ method: 'QUERY' as 'GET', url: '/tasques/q/id', body: 'x', headers: { 'content-type': '' } });
  assertError(known, 405, /^Method QUERY is not allowed here/, 'TQ_ERR_METHOD_NOT_ALLOWED');
  assert.equal(known.headers.allow, 'GET, HEAD');
  const unknown = await ts.request({ method: 'QUERY' as 'GET', url: '/nope', body: 'x', headers: { 'content-type': '' } });
  assertError(unknown, 404, 'No such route.', 'TQ_ERR_ROUTE_NOT_FOUND');
});
