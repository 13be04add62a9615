// Roles and bearer tokens (issue 16 item 8, docs/auth.md): every route of the built app declares its
// access class or is one of the few open routes; every protected route answers each role, through basic
// auth and through a bearer token, with 403 exactly when the role does not allow it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACCESS_CLASSES, bearerTokenSha256, ROLE_ACCESS, ROLES, type Role, roleAllows } from '../../src/domain/access.js';
import { routeAccessTable } from '../../src/http/plugins/auth.js';
import { assertError, assertJsonContentType, LIMIT, startTestServer, storedRows, type TestServer, worker } from '../helpers/http.js';

interface Identity {
  name: string;
  role: Role;
  scheme: 'basic' | 'bearer';
  headers: Record<string, string>;
}

const basicHeader = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A user and a token per role; `u-all` has no role configured (v1's shape: it may do everything). */
function identities() {
  const users = ROLES.map((role) =>
    role === 'all' ? { name: 'u-all', password: 'pw-all:with:colons' } : { name: `u-${role}`, password: `pw-${role}`, role },
  );
  const tokens = ROLES.map((role) => ({ name: `t-${role}`, role, token: `tq_test-${role}-R4nd0m` }));
  const all: Identity[] = [
    ...users.map((u) => ({
      name: u.name,
      role: (u.role ?? 'all') as Role,
      scheme: 'basic' as const,
      headers: { authorization: basicHeader(u.name, u.password) },
    })),
    ...tokens.map((t) => ({ name: t.name, role: t.role, scheme: 'bearer' as const, headers: { authorization: `Bearer ${t.token}` } })),
  ];
  const config = {
    auth: {
      basic_auth: users,
      bearer_tokens: tokens.map((t) => ({ name: t.name, role: t.role, sha256: bearerTokenSha256(t.token) })),
    },
    metrics: { require_auth: true },
  };
  return { users, tokens, all, config };
}

/** Routes that stay open whatever the auth: probes, the dashboard's files, the API description. */
const isOpenRoute = (url: string) =>
  ['/healthz', '/readyz', '/', '/dashboard', '/dashboard/*', '/openapi.json', '/swagger'].includes(url) || url.startsWith('/swagger/');

const fill = (url: string, name: string) => url.replace(':queue', 'q').replace(':id', `x-${name}`).replace('*', 'x');

/** A body that the route's handler accepts, where it matters (the writes); `{}` elsewhere. */
function payloadFor(method: string, url: string, name: string): object | undefined {
  if (method === 'GET' || method === 'HEAD' || method === 'DELETE') return undefined;
  if (method === 'POST' && url === '/tasques') return { queue: 'q', kind: 'k', id: `made-by-${name}` };
  if (method === 'POST' && url === '/tasques/batch') return { tasks: [{ queue: 'q', kind: 'k', id: `batch-by-${name}` }] };
  if (method === 'POST' && url === '/tasques/claims') return { queues: ['nothing-here'], block_for: '1ms' };
  if (method === 'POST' && url === '/recurring_tasques') {
    return { id: `r-by-${name}`, schedule_expression: '@hourly', task_definition: { queue: 'q', kind: 'k' } };
  }
  return {};
}

function protectedRoutes(ts: TestServer) {
  return routeAccessTable(ts.server.app).filter((r) => r.protected);
}

test('every route declares an access class, or is one of the open routes (probes, dashboard files, API docs)', LIMIT, async (t) => {
  const { config } = identities();
  const ts = await startTestServer(t, config);
  const table = routeAccessTable(ts.server.app);
  assert.ok(table.length >= 30, `only ${table.length} routes seen`);
  const missing = table.filter((r) => r.protected && r.access === undefined).map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(missing, [], 'protected routes without config.access (src/domain/access.ts lists the classes)');
  const unexpectedOpen = table.filter((r) => !r.protected && !isOpenRoute(r.url)).map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(unexpectedOpen, [], 'open routes outside the known list: give them config.access');
  for (const r of table) assert.ok(r.access === undefined || ACCESS_CLASSES.includes(r.access), `${r.method} ${r.url}: ${r.access}`);
  const routes = new Set(table.map((r) => `${r.method} ${r.url} ${r.access ?? ''}`));
  for (const expected of [
    'POST /tasques produce',
    'GET /tasques/:queue/:id read',
    'POST /tasques/claims work',
    'PUT /tasques/done/:queue/:id work',
    'DELETE /tasques/claims/:queue/:id work',
    'POST /recurring_tasques operate',
    'GET /metrics read',
    'GET /whoami any',
  ]) {
    assert.ok(routes.has(expected), `${expected} is in the table`);
  }
});

test('/metrics is open without metrics.require_auth, and needs read access with it', LIMIT, async (t) => {
  const { config, all } = identities();
  const open = await startTestServer(t, { auth: config.auth });
  assert.equal((await open.request({ method: 'GET', url: '/metrics' })).status, 200);
  assert.ok(routeAccessTable(open.server.app).some((r) => r.url === '/metrics' && !r.protected));
  const closed = await startTestServer(t, config);
  assertError(await closed.request({ method: 'GET', url: '/metrics' }), 401, undefined, 'TQ_ERR_UNAUTHORIZED');
  for (const identity of all) {
    const res = await closed.request({ method: 'GET', url: '/metrics', headers: identity.headers });
    assert.equal(res.status, roleAllows(identity.role, 'read') ? 200 : 403, `${identity.name}: ${res.status}`);
  }
});

test('every protected route × every role × (basic, bearer): 403 exactly when the role does not allow it', LIMIT, async (t) => {
  const { config, all } = identities();
  const ts = await startTestServer(t, config);
  const routes = protectedRoutes(ts);
  let allowed = 0;
  let forbidden = 0;
  for (const route of routes) {
    for (const identity of all) {
      const payload = payloadFor(route.method, route.url, identity.name);
      const res = await ts.request({
        method: route.method as 'GET',
        url: fill(route.url, identity.name),
        headers: { ...identity.headers, ...worker('w') },
        ...(payload === undefined ? {} : { payload }),
      });
      const what = `${identity.name} (${identity.scheme}, role ${identity.role}): ${route.method} ${route.url} [${route.access}] → ${res.status} ${res.body.slice(0, 200)}`;
      assert.ok(res.status < 500, what);
      if (roleAllows(identity.role, route.access)) {
        allowed++;
        assert.notEqual(res.status, 401, what);
        assert.notEqual(res.json?.code, 'TQ_ERR_FORBIDDEN', what);
      } else {
        forbidden++;
        if (route.method !== 'HEAD') {
          const body = assertError(res, 403, undefined, 'TQ_ERR_FORBIDDEN');
          assert.ok(body.message.includes(`${route.access} access`) && body.message.includes(identity.role), what);
        } else {
          assert.equal(res.status, 403, what);
        }
      }
    }
  }
  assert.ok(allowed > 50 && forbidden > 50, `${allowed} allowed, ${forbidden} forbidden calls`);
  // What was allowed happened, and nothing forbidden did: one task and one batch task per identity that
  // may produce, one recurring task per identity that may operate.
  const mayProduce = all.filter((i) => roleAllows(i.role, 'produce')).length;
  const mayOperate = all.filter((i) => roleAllows(i.role, 'operate')).length;
  assert.equal(storedRows(ts, 'tasks'), 2 * mayProduce);
  assert.equal(storedRows(ts, 'recurring_tasks'), mayOperate);
  for (const identity of all) {
    const made = await ts.request({ method: 'GET', url: `/tasques/q/made-by-${identity.name}`, headers: all.find((i) => i.role === 'all')?.headers });
    assert.equal(made.status, roleAllows(identity.role, 'produce') ? 200 : 404, `task made by ${identity.name}`);
  }
});

test('without valid credentials every protected route answers 401 (a token hash is not a token)', LIMIT, async (t) => {
  const { config, tokens, users } = identities();
  const ts = await startTestServer(t, config);
  const token = tokens[0]?.token as string;
  const user = users[0] as { name: string; password: string };
  const wrong: Record<string, string>[] = [
    {},
    { authorization: 'Bearer' },
    { authorization: 'Bearer tq_unknown' },
    { authorization: `Bearer ${bearerTokenSha256(token)}` },
    { authorization: `Bearer ${token}x` },
    { authorization: `Bearer ${token.slice(0, -1)}` },
    { authorization: `Bearer ${token} extra` },
    { authorization: `Token ${token}` },
    { authorization: token },
    { authorization: basicHeader(user.name, token) },
    { authorization: `Bearer ${Buffer.from(`${user.name}:${user.password}`).toString('base64')}` },
    { authorization: basicHeader(user.name, `${user.password}x`) },
  ];
  for (const route of protectedRoutes(ts).filter((r) => r.method !== 'HEAD')) {
    for (const headers of wrong) {
      const payload = payloadFor(route.method, route.url, 'nobody');
      const res = await ts.request({
        method: route.method as 'GET',
        url: fill(route.url, 'nobody'),
        headers: { ...headers, ...worker('w') },
        ...(payload === undefined ? {} : { payload }),
      });
      assertError(res, 401, 'Unauthorized: valid basic-auth credentials or a valid bearer token are required', 'TQ_ERR_UNAUTHORIZED');
      assert.equal(res.headers['www-authenticate'], 'Basic realm="Authorization Required"', 'v1\'s challenge while users exist');
    }
  }
  assert.equal(storedRows(ts, 'tasks'), 0);
  assert.equal(storedRows(ts, 'recurring_tasks'), 0);
  // The scheme name is case-insensitive (RFC 9110); the token is not.
  const lower = await ts.request({ method: 'GET', url: '/whoami', headers: { authorization: `bearer ${token}` } });
  assert.equal(lower.status, 200);
  const upper = await ts.request({ method: 'GET', url: '/whoami', headers: { authorization: `Bearer ${token.toUpperCase()}` } });
  assert.equal(upper.status, 401);
});

test('with bearer tokens only, basic credentials are refused and the challenge is Bearer', LIMIT, async (t) => {
  const ts = await startTestServer(t, {
    auth: { bearer_tokens: [{ name: 'svc', role: 'producer', sha256: bearerTokenSha256('tq_only').toUpperCase() }] },
  });
  const res = await ts.request({ method: 'GET', url: '/recurring_tasques', headers: { authorization: basicHeader('svc', 'tq_only') } });
  assertError(res, 401, 'Unauthorized: a valid bearer token is required', 'TQ_ERR_UNAUTHORIZED');
  assert.equal(res.headers['www-authenticate'], 'Bearer realm="tasques"');
  const ok = await ts.request({ method: 'POST', url: '/tasques', headers: { authorization: 'Bearer tq_only' }, payload: { queue: 'q', kind: 'k' } });
  assert.equal(ok.status, 201, 'an upper-case sha256 in the config works too');
  const denied = await ts.request({ method: 'PUT', url: '/queues/q/pause', headers: { authorization: 'Bearer tq_only' } });
  assertError(denied, 403, undefined, 'TQ_ERR_FORBIDDEN');
});

test('an unknown path or method under a protected prefix: 401 without credentials, then the router\'s 404/405 for any role', LIMIT, async (t) => {
  const { config, all } = identities();
  const ts = await startTestServer(t, config);
  assertError(await ts.request({ method: 'GET', url: '/tasques/no/such/route' }), 401);
  const worker = all.find((i) => i.role === 'worker') as Identity;
  assertError(await ts.request({ method: 'GET', url: '/tasques/no/such/route', headers: worker.headers }), 404, undefined, 'TQ_ERR_ROUTE_NOT_FOUND');
  const reader = all.find((i) => i.role === 'read') as Identity;
  assertError(await ts.request({ method: 'PATCH', url: '/queues/q/pause', headers: reader.headers }), 405, undefined, 'TQ_ERR_METHOD_NOT_ALLOWED');
});

test('GET /whoami names the identity, its scheme, role and access; any role may call it', LIMIT, async (t) => {
  const { config, all } = identities();
  const ts = await startTestServer(t, config);
  for (const identity of all) {
    const res = await ts.request({ method: 'GET', url: '/whoami', headers: identity.headers });
    assert.equal(res.status, 200, `${identity.name}: ${res.body}`);
    assertJsonContentType(res);
    assert.deepEqual(res.json, { name: identity.name, scheme: identity.scheme, role: identity.role, access: [...ROLE_ACCESS[identity.role]] });
  }
  assertError(await ts.request({ method: 'GET', url: '/whoami' }), 401);
  const open = await startTestServer(t);
  const anonymous = await open.request({ method: 'GET', url: '/whoami' });
  assert.equal(anonymous.status, 200);
  assert.deepEqual(anonymous.json, { name: null, scheme: null, role: 'all', access: [...ACCESS_CLASSES] });
});

test('roles: a worker only works, a producer produces and reads, an operator operates and reads', () => {
  assert.deepEqual(ROLE_ACCESS.read, ['read', 'any']);
  assert.deepEqual(ROLE_ACCESS.worker, ['work', 'any']);
  assert.deepEqual(ROLE_ACCESS.producer, ['produce', 'read', 'any']);
  assert.deepEqual(ROLE_ACCESS.operator, ['operate', 'read', 'any']);
  assert.deepEqual(ROLE_ACCESS.all, ACCESS_CLASSES);
  // A protected route that forgot its class is open to `all` only (fails closed).
  for (const role of ROLES) assert.equal(roleAllows(role, undefined), role === 'all', role);
});
