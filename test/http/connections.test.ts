// Connection limits of the real listening server (issue 12 item 7): a request that is not fully received
// within http.request_timeout (or its headers within http.headers_timeout) gets 408 and its connection
// closed; long polls are not cut by it; connections beyond http.max_connections are closed at once.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { LIMIT, startTestServer, type TestServer } from '../helpers/http.js';

async function listen(ts: TestServer): Promise<number> {
  await ts.server.app.listen({ port: 0, host: '127.0.0.1' });
  const address = ts.server.app.server.address();
  assert.ok(address && typeof address === 'object');
  return address.port;
}

/** Opens a socket, writes `text`, and resolves with what the server wrote until it closed the connection. */
function sendAndReadUntilClosed(port: number, text: string): Promise<{ data: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write(text));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ data, ms: performance.now() - started }));
  });
}

test('an incomplete body gets 408 after http.request_timeout and the connection closes; a long poll outlasts it', LIMIT, async (t) => {
  const ts = await startTestServer(t, { http: { request_timeout: '400ms', headers_timeout: '200ms' } });
  const port = await listen(ts);
  const partialBody = 'POST /tasques HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"queue":';
  const slowBody = await sendAndReadUntilClosed(port, partialBody);
  assert.match(slowBody.data, /^HTTP\/1\.1 408 /, slowBody.data);
  assert.ok(slowBody.ms < 5_000, `closed after ${slowBody.ms} ms`);

  const partialHeaders = await sendAndReadUntilClosed(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
  assert.match(partialHeaders.data, /^HTTP\/1\.1 408 |^$/, partialHeaders.data);
  assert.ok(partialHeaders.ms < 5_000, `closed after ${partialHeaders.ms} ms`);

  // block_for is longer than the request timeout: the request was received, so the poll runs its course.
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/tasques/claims`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tasques-worker-id': 'w' },
    body: JSON.stringify({ queues: ['q'], block_for: '1200ms' }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), []);
  assert.ok(performance.now() - started >= 1_000, 'the poll waited its block_for');
});

test('connections beyond http.max_connections are closed at once; the ones within are served', LIMIT, async (t) => {
  const ts = await startTestServer(t, { http: { max_connections: 2 } });
  const port = await listen(ts);
  const open: net.Socket[] = [];
  t.after(() => {
    for (const s of open) s.destroy();
  });
  // Two connections, each with an answered keep-alive request: both are open and counted.
  for (let i = 0; i < 2; i++) {
    const socket = net.connect({ port, host: '127.0.0.1' });
    open.push(socket);
    const answered = new Promise<string>((resolve) => socket.once('data', (d) => resolve(String(d))));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(await answered, /^HTTP\/1\.1 200 /);
  }
  const third = await sendAndReadUntilClosed(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(third.data, '', 'the third connection got no answer');
  open[0]?.destroy();
  await new Promise<void>((resolve) => open[0]?.once('close', () => resolve()));
  // A connection slot is free again (the server sees the close asynchronously: retry a few times).
  let answer = '';
  for (let attempt = 0; attempt < 50 && answer === ''; attempt++) {
    answer = (await sendAndReadUntilClosed(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).data;
  }
  assert.match(answer, /^HTTP\/1\.1 200 /);
});
