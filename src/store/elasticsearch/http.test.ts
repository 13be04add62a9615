// EsHttp over real sockets on 127.0.0.1: what it sends, and which failures it retries. The engine itself is
// played by a small node:http server, so that silence, refusals and odd answers can be produced on purpose.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { ElasticsearchError, EsHttp } from './http.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const servers: Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

async function engine(answer: (seen: Seen, res: ServerResponse) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      answer(s, res);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('EsHttp transport', () => {
  it('sends JSON and ndjson bodies, the query string and the path prefix of the address; parses the answer', async () => {
    const es = await engine((_, res) => json(res, 200, { ok: true }));
    const http = new EsHttp({ addresses: [`${es.url}/behind/proxy/`], username: 'u', password: 'p' });
    const a = await http.request({ method: 'POST', path: '/idx/_search', query: { size: 3, skip: undefined }, body: { q: 1 } });
    const b = await http.request({ method: 'POST', path: '/_bulk', body: [{ index: {} }, { x: 1 }], ndjson: true });
    await http.close();
    assert.deepEqual([a, b], [{ status: 200, body: { ok: true } }, { status: 200, body: { ok: true } }]);
    assert.equal(es.seen[0]!.url, '/behind/proxy/idx/_search?size=3');
    assert.equal(es.seen[0]!.headers['content-type'], 'application/json');
    assert.equal(es.seen[0]!.headers['accept-encoding'], 'identity');
    assert.equal(es.seen[0]!.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
    assert.equal(es.seen[0]!.body, '{"q":1}');
    assert.equal(es.seen[1]!.headers['content-type'], 'application/x-ndjson');
    assert.equal(es.seen[1]!.body, '{"index":{}}\n{"x":1}\n');
  });

  it('answers HEAD with an empty body and keeps an error answer that is not JSON readable', async () => {
    const es = await engine((seen, res) => {
      if (seen.method === 'HEAD') json(res, 404, { should: 'not be read' });
      else {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end('not json');
      }
    });
    const http = new EsHttp({ addresses: [es.url] });
    assert.deepEqual(await http.request({ method: 'HEAD', path: '/idx' }), { status: 404, body: undefined });
    assert.deepEqual(await http.request({ method: 'POST', path: '/idx/_doc', body: {} }), { status: 400, body: { raw: 'not json' } });
    await assert.rejects(http.expect({ method: 'POST', path: '/idx/_doc', body: {} }), (err: ElasticsearchError) => err.status === 400);
    await http.close();
  });

  it('skips a node that refuses connections, for writes too (they never reached an engine)', async () => {
    const es = await engine((_, res) => json(res, 201, { result: 'created' }));
    const http = new EsHttp({ addresses: [await closedPort(), es.url], maxRetries: 2 });
    const res = await http.request({ method: 'PUT', path: '/idx/_doc/1', body: { a: 1 } });
    await http.close();
    assert.equal(res.status, 201);
    assert.equal(es.seen.length, 1);
  });

  it('gives up on a silent engine after the timeout: a write is not retried and is reported as ambiguous, a read is retried', async () => {
    const es = await engine(() => undefined); // never answers
    const http = new EsHttp({ addresses: [es.url], requestTimeoutMs: 150, maxRetries: 1 });
    await assert.rejects(http.request({ method: 'POST', path: '/_bulk', body: [{}], ndjson: true }), (err: ElasticsearchError) => {
      assert.equal(err.status, 0);
      assert.equal(err.type, 'timeout');
      assert.equal(err.ambiguous, true);
      assert.match(err.message, /no answer within 150 ms/);
      return true;
    });
    assert.equal(es.seen.length, 1, 'the write was sent once');
    await assert.rejects(http.request({ method: 'GET', path: '/idx/_doc/1' }), /no answer within 150 ms/);
    assert.equal(es.seen.length, 3, 'the read was sent twice (one retry)');
    await http.close();
  });

  it('retries a 429 whatever the method, and a 503 only for reads', async () => {
    let calls = 0;
    const es = await engine((seen, res) => {
      calls++;
      if (seen.url.startsWith('/busy') && calls % 2 === 1) json(res, 429, { error: { type: 'es_rejected_execution_exception' } });
      else if (seen.url.startsWith('/down')) json(res, 503, { error: { type: 'unavailable' } });
      else json(res, 200, { ok: calls });
    });
    const http = new EsHttp({ addresses: [es.url], maxRetries: 3 });
    assert.equal((await http.request({ method: 'POST', path: '/busy/_bulk', body: [{}], ndjson: true })).status, 200);
    assert.equal(es.seen.length, 2);
    assert.equal((await http.request({ method: 'POST', path: '/down/_doc', body: {} })).status, 503);
    assert.equal(es.seen.length, 3, 'a write answered 503 is not retried');
    assert.equal((await http.request({ method: 'GET', path: '/down/_doc/1' })).status, 503);
    assert.equal(es.seen.length, 7, 'a read answered 503 is tried 1 + 3 times');
    await http.close();
  });
});
