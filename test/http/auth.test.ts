// v1's optional basic auth (spec §1.1): with `auth.basic_auth` users, every /tasques* and
// /recurring_tasques* route needs credentials; the Swagger UI and the OpenAPI document stay open.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertError, assertJsonContentType, LIMIT, startTestServer, storedRows, worker } from '../helpers/http.js';

const USERS = [
  { name: 'alice', password: 's3cret' },
  { name: 'bob', password: 'hunter2:with:colons' },
];
const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

/** One request per v1 route, with valid bodies and worker header. */
const ROUTES: { method: string; url: string; payload?: object }[] = [
  { method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k', id: 't1' } },
  { method: 'GET', url: '/tasques/q/t1' },
  { method: 'POST', url: '/tasques/claims', payload: { queues: ['q'], block_for: '1ms' } },
  { method: 'PUT', url: '/tasques/reports/q/t1', payload: {} },
  { method: 'DELETE', url: '/tasques/claims/q/t1' },
  { method: 'POST', url: '/tasques/claims', payload: { queues: ['q'], block_for: '1ms' } },
  { method: 'PUT', url: '/tasques/failed/q/t1', payload: {} },
  { method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k', id: 't2' } },
  { method: 'POST', url: '/tasques/claims', payload: { queues: ['q'], block_for: '1ms' } },
  { method: 'PUT', url: '/tasques/done/q/t2', payload: {} },
  { method: 'POST', url: '/recurring_tasques', payload: { id: 'r', schedule_expression: '@hourly', task_definition: { queue: 'q', kind: 'k' } } },
  { method: 'GET', url: '/recurring_tasques' },
  { method: 'GET', url: '/recurring_tasques/r' },
  { method: 'PUT', url: '/recurring_tasques/r', payload: { schedule_expression: '@daily' } },
  { method: 'DELETE', url: '/recurring_tasques/r' },
];

function assert401(res: Awaited<ReturnType<Awaited<ReturnType<typeof startTestServer>>['request']>>, what: string) {
  assert.equal(res.status, 401, `${what} → ${res.status} ${res.body}`);
  assert.equal(res.headers['www-authenticate'], 'Basic realm="Authorization Required"', what);
  assertJsonContentType(res);
  assertError(res, 401, undefined, 'TQ_ERR_UNAUTHORIZED');
}

test('with basic-auth users, every v1 route answers 401 without valid credentials and changes nothing', LIMIT, async (t) => {
  const ts = await startTestServer(t, { auth: { basic_auth: USERS } });
  const wrong = [
    {},
    basic('alice', 'wrong'),
    basic('mallory', 's3cret'),
    basic('alice', ''),
    basic('', ''),
    basic('alice', 's3cret ') /* one character more */,
    { authorization: 'Basic' },
    { authorization: 'Basic !!!' },
    { authorization: `Bearer ${Buffer.from('alice:s3cret').toString('base64')}` },
    { authorization: Buffer.from('alice:s3cret').toString('base64') },
  ];
  for (const route of ROUTES) {
    for (const headers of wrong) {
      const res = await ts.request({
        method: route.method as 'GET',
        url: route.url,
        headers: { ...headers, ...worker('w') },
        ...(route.payload ? { payload: route.payload } : {}),
      });
      assert401(res, `${route.method} ${route.url} with ${JSON.stringify(headers)}`);
    }
  }
  assert.equal(storedRows(ts, 'tasks'), 0);
  assert.equal(storedRows(ts, 'recurring_tasks'), 0);
});

test('with valid credentials every v1 route works, for each configured user', LIMIT, async (t) => {
  const ts = await startTestServer(t, { auth: { basic_auth: USERS } });
  for (const [i, user] of USERS.entries()) {
    for (const route of ROUTES) {
      const payload = route.payload && JSON.parse(JSON.stringify(route.payload).replaceAll('"t1"', `"t1-${i}"`).replaceAll('"t2"', `"t2-${i}"`));
      const url = route.url.replaceAll('/t1', `/t1-${i}`).replaceAll('/t2', `/t2-${i}`);
      const res = await ts.request({
        method: route.method as 'GET',
        url,
        headers: { ...basic(user.name, user.password), ...worker('w') },
        ...(payload ? { payload } : {}),
      });
      assert.ok(res.status === 200 || res.status === 201, `${user.name}: ${route.method} ${url} → ${res.status} ${res.body}`);
      assertJsonContentType(res);
    }
  }
  assert.equal(storedRows(ts, 'tasks'), 4);
});

test('auth cannot be sidestepped with a percent-encoded or odd path', LIMIT, async (t) => {
  const ts = await startTestServer(t, { auth: { basic_auth: USERS } });
  const auth = basic('alice', 's3cret');
  assert.equal((await ts.request({ method: 'POST', url: '/tasques', headers: auth, payload: { queue: 'q', kind: 'k', id: 'x' } })).status, 201);
  for (const url of [
    '/%74asques/q/x',
    '/tasque%73/q/x',
    '/%74%61%73%71%75%65%73/q/x',
    '/tasques/q/x?',
    '/tasques/q/x?a=b',
    '/%72ecurring_tasques',
    '/recurring_tasque%73/',
    '/recurring_tasques?x=1',
  ]) {
    const res = await ts.request({ method: 'GET', url });
    assert401(res, url);
  }
  for (const url of ['/%74asques/claims', '/tasques%2Fclaims']) {
    const res = await ts.request({ method: 'POST', url, headers: worker('w'), payload: { queues: ['q'], block_for: '1ms' } });
    assert.ok(res.status === 401 || res.status === 404, `${url} → ${res.status}`);
    assertJsonContentType(res);
  }
  const still = await ts.request({ method: 'GET', url: '/tasques/q/x', headers: auth });
  assert.equal(still.json.state, 'queued', 'no claim got through');
});

test('the Swagger UI and the OpenAPI document stay open with auth on', LIMIT, async (t) => {
  const ts = await startTestServer(t, { auth: { basic_auth: USERS } });
  for (const url of ['/openapi.json', '/swagger/doc.json', '/swagger/', '/swagger/json']) {
    const res = await ts.request({ method: 'GET', url });
    assert.equal(res.status, 200, `${url} → ${res.status}`);
  }
  const index = await ts.request({ method: 'GET', url: '/swagger/index.html' });
  assert.ok(index.status < 400, `/swagger/index.html → ${index.status}`);
});

test('without users configured no credentials are needed', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const res = await ts.request({ method: 'GET', url: '/recurring_tasques' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['www-authenticate'], undefined);
});
