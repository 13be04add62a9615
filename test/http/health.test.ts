// GET /healthz and GET /readyz (docs/design/operator-api.md, Health and metrics), request ids, and the
// JSON log lines of a request: liveness never touches the store, readiness fails with a JSON body when
// the store cannot answer or shutdown began, both stay outside the basic auth and out of openapi.json.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertJsonContentType, LIMIT, startTestServer, waitUntil } from '../helpers/http.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('health probes', () => {
  it('GET /healthz answers 200 {"status":"ok"} without touching the store, even a closed one', LIMIT, async (t) => {
    const ts = await startTestServer(t);
    const res = await ts.request({ method: 'GET', url: '/healthz' });
    assert.equal(res.status, 200);
    assertJsonContentType(res);
    assert.deepEqual(res.json, { status: 'ok' });
    await ts.server.store.close();
    const after = await ts.request({ method: 'GET', url: '/healthz' });
    assert.equal(after.status, 200);
    assert.deepEqual(after.json, { status: 'ok' });
  });

  it('GET /readyz answers 200 while the store answers, and 503 naming the problem once it is closed', LIMIT, async (t) => {
    const ts = await startTestServer(t);
    const ready = await ts.request({ method: 'GET', url: '/readyz' });
    assert.equal(ready.status, 200);
    assertJsonContentType(ready);
    assert.deepEqual(ready.json, { status: 'ok' });

    await ts.server.store.close();
    const res = await ts.request({ method: 'GET', url: '/readyz' });
    assert.equal(res.status, 503);
    assertJsonContentType(res);
    assert.equal(res.json.status, 'unavailable');
    assert.match(res.json.problem, /^store unreachable/);
    assert.ok(!/database|sqlite|not open/i.test(res.body), `no store internals in the unauthenticated answer: ${res.body}`);
  });

  it('GET /readyz answers 503 "shutting down" once shutdown began', LIMIT, async (t) => {
    const ts = await startTestServer(t);
    ts.server.health.markShuttingDown();
    const res = await ts.request({ method: 'GET', url: '/readyz' });
    assert.equal(res.status, 503);
    assert.deepEqual(res.json, { status: 'unavailable', problem: 'shutting down' });
  });

  it('the probes are outside the basic auth and not in openapi.json', LIMIT, async (t) => {
    const ts = await startTestServer(t, { auth: { basic_auth: [{ name: 'alice', password: 's3cret' }] } });
    assert.equal((await ts.request({ method: 'GET', url: '/tasques/q/x' })).status, 401, 'auth is on');
    for (const url of ['/healthz', '/readyz', '/metrics']) {
      assert.equal((await ts.request({ method: 'GET', url })).status, 200, url);
    }
    const doc = await ts.request({ method: 'GET', url: '/openapi.json' });
    for (const path of ['/healthz', '/readyz', '/metrics']) assert.ok(!(path in doc.json.paths), `${path} in openapi.json`);
  });
});

describe('request ids', () => {
  it('an incoming X-Request-Id is kept and echoed; a missing or unusable one is replaced by a UUID', LIMIT, async (t) => {
    const ts = await startTestServer(t);
    const given = await ts.request({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'lb-7f3a:42' } });
    assert.equal(given.headers['x-request-id'], 'lb-7f3a:42');
    const none = await ts.request({ method: 'GET', url: '/tasques/q/missing' });
    assert.equal(none.status, 404);
    assert.match(String(none.headers['x-request-id']), UUID, 'errors carry one too');
    for (const bad of ['has space', 'x'.repeat(201), '']) {
      const res = await ts.request({ method: 'GET', url: '/healthz', headers: { 'x-request-id': bad } });
      assert.match(String(res.headers['x-request-id']), UUID, JSON.stringify(bad));
    }
    const a = await ts.request({ method: 'GET', url: '/healthz' });
    const b = await ts.request({ method: 'GET', url: '/healthz' });
    assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
  });

  it('every log line of a request is JSON with its request_id, and no credentials or headers', LIMIT, async (t) => {
    const password = 'pa55-in-the-header';
    const dir = mkdtempSync(join(tmpdir(), 'tasques-log-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const logFile = join(dir, 'server.log');
    const logged = await startTestServer(t, {
      logging: { level: 'info', json: true, file: logFile },
      auth: { basic_auth: [{ name: 'alice', password }] },
    });
    const authorization = `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`;
    // A store failure makes the request log an error line.
    await logged.server.store.close();
    const res = await logged.request({
      method: 'POST',
      url: '/tasques',
      headers: { authorization, 'x-request-id': 'req-under-test', cookie: 'session=secret-cookie' },
      payload: { queue: 'q', kind: 'k' },
    });
    assert.equal(res.status, 500);
    assert.equal(res.headers['x-request-id'], 'req-under-test');
    await waitUntil(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('req-under-test'), 'the log line');
    const text = readFileSync(logFile, 'utf8');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ofRequest = lines.filter((l) => l.request_id === 'req-under-test');
    assert.ok(ofRequest.length >= 1, text);
    assert.ok(ofRequest.some((l) => l.level === 50 && l.msg === 'request failed'), text);
    for (const secret of [password, Buffer.from(`alice:${password}`).toString('base64'), 'secret-cookie']) {
      assert.ok(!text.includes(secret), `${secret} in the log`);
    }
  });
});
