// The Swagger UI (served from local assets, no CDN) and the OpenAPI document at v1's and our paths.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { assertJsonContentType, LIMIT, startTestServer } from '../helpers/http.js';

test('GET /swagger/ serves the Swagger UI page, and every asset it references is served locally', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const page = await ts.request({ method: 'GET', url: '/swagger/' });
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.body, /swagger-ui/i);
  assert.doesNotMatch(page.body, /(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}\//i, 'the page loads nothing from another host (CDN)');

  const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
  const scripts = assets.filter((a) => a.endsWith('.js'));
  assert.ok(scripts.length > 0, 'the page references its scripts');
  assert.ok(scripts.some((s) => s.includes('swagger-ui-bundle')), 'the Swagger UI bundle is among them');
  for (const asset of assets) {
    const url = new URL(asset, 'http://localhost/swagger/').pathname;
    const res = await ts.request({ method: 'GET', url });
    assert.equal(res.status, 200, `${asset} → ${url} → ${res.status}`);
    if (asset.endsWith('.js')) {
      assert.match(String(res.headers['content-type']), /javascript/, asset);
      assert.ok(res.body.length > 100, `${asset} has content`);
    }
  }
});

test('the UI loads the spec from this server, and has the online validator off', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const init = await ts.request({ method: 'GET', url: '/swagger/static/swagger-initializer.js' });
  assert.equal(init.status, 200);
  const specUrl = /url:\s*resolveUrl\('([^']+)'\)/.exec(init.body)?.[1];
  assert.ok(specUrl, 'the initializer names the spec URL');
  const spec = await ts.request({ method: 'GET', url: new URL(specUrl, 'http://localhost/swagger/').pathname });
  assert.equal(spec.status, 200);
  const openapi = await ts.request({ method: 'GET', url: '/openapi.json' });
  assert.deepEqual(spec.json, openapi.json);
  assert.match(init.body, /validatorUrl:\s*null/, 'no badge fetched from validator.swagger.io');
});

test('/swagger/index.html (v1\'s path) reaches the UI', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const res = await ts.request({ method: 'GET', url: '/swagger/index.html' });
  let page = res;
  if (res.status >= 300 && res.status < 400) {
    const location = String(res.headers.location);
    assert.ok(location.startsWith('/swagger'), `redirects within the server: ${location}`);
    page = await ts.request({ method: 'GET', url: new URL(location, 'http://localhost/swagger/index.html').pathname });
  }
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.body, /swagger-ui-bundle/);
});

test('/openapi.json and /swagger/doc.json serve the same OpenAPI 3 document with every v1 operation', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const a = await ts.request({ method: 'GET', url: '/openapi.json' });
  const b = await ts.request({ method: 'GET', url: '/swagger/doc.json' });
  for (const res of [a, b]) {
    assert.equal(res.status, 200);
    assertJsonContentType(res);
  }
  assert.deepEqual(a.json, b.json);
  assert.match(a.json.openapi, /^3\./);
  const operations = new Set<string>();
  for (const methods of Object.values(a.json.paths as Record<string, Record<string, { operationId?: string }>>)) {
    for (const op of Object.values(methods)) if (op.operationId) operations.add(op.operationId);
  }
  for (const id of [
    'create-task',
    'get-existing-task',
    'claim-tasks',
    'unclaim-existing-task',
    'report-on-claimed-task',
    'mark-claimed-task-done',
    'mark-claimed-task-failed',
    'create-recurring-task',
    'list-existing-recurring-tasks',
    'get-existing-recurring-task',
    'update-existing-recurring-task',
    'delete-existing-recurring-task',
  ]) {
    assert.ok(operations.has(id), `operation ${id} is documented`);
  }
  // v1's component names, which generated clients use as class names.
  for (const name of ['task.Task', 'task.NewTask', 'task.Claim', 'common.Body', 'recurring.Task', 'recurring.NewTask']) {
    assert.ok(name in a.json.components.schemas, `component ${name}`);
  }
});

test('the Swagger UI carries the project\'s name and mark, not the framework\'s', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const page = await ts.request({ method: 'GET', url: '/swagger/' });
  assert.match(page.body, /<title>Tasques API<\/title>/);
  assert.doesNotMatch(page.body, /<title>Swagger UI<\/title>/);
  const icon = /<link rel="icon" type="image\/svg\+xml" href="([^"]+)"/.exec(page.body)?.[1];
  assert.ok(icon, 'the page links the Tasques icon');
  const mark = readFileSync(new URL('../../dashboard/favicon.svg', import.meta.url));
  const served = await ts.request({ method: 'GET', url: new URL(icon, 'http://localhost/swagger/').pathname });
  assert.equal(served.status, 200);
  assert.equal(served.body, mark.toString('utf8'));
  const init = await ts.request({ method: 'GET', url: '/swagger/static/swagger-initializer.js' });
  assert.ok(init.body.includes(`data:image/svg+xml;base64,${mark.toString('base64')}`), 'the top bar shows the Tasques mark');
  assert.match(init.body, /img\.href = '\/dashboard\/'/, 'the mark links to the dashboard');
});

test('the served document has security schemes (the UI\'s Authorize button) only when auth is configured', LIMIT, async (t) => {
  type Doc = { components?: { securitySchemes?: Record<string, unknown> }; paths: Record<string, Record<string, { security?: unknown }>> };
  const served = async (auth: Record<string, unknown> | undefined) => {
    const ts = await startTestServer(t, auth === undefined ? {} : { auth });
    const ui = (await ts.request({ method: 'GET', url: '/swagger/json' })).json as Doc;
    assert.deepEqual(ui, (await ts.request({ method: 'GET', url: '/openapi.json' })).json);
    return ui;
  };
  const open = await served(undefined);
  assert.equal(open.components?.securitySchemes, undefined, 'no auth: no schemes, no Authorize button');
  for (const [path, methods] of Object.entries(open.paths)) {
    for (const [method, op] of Object.entries(methods)) assert.equal(op.security, undefined, `${method} ${path}`);
  }
  const users = await served({ basic_auth: [{ name: 'a', password: 'b' }] });
  assert.deepEqual(users.components?.securitySchemes, { basicAuth: { type: 'http', scheme: 'basic' } });
  assert.deepEqual(users.paths['/tasques']?.post?.security, [{ basicAuth: [] }], 'required, no anonymous alternative');
  const both = await served({ basic_auth: [{ name: 'a', password: 'b' }], bearer_tokens: [{ name: 't', role: 'read', sha256: 'f'.repeat(64) }] });
  assert.deepEqual(Object.keys(both.components?.securitySchemes ?? {}), ['basicAuth', 'bearerAuth']);
  assert.deepEqual(both.paths['/whoami']?.get?.security, [{ basicAuth: [] }, { bearerAuth: [] }]);
});
