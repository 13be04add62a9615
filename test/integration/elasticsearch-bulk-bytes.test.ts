/**
 * The bulk writer bounds each `_bulk` body in bytes, against the real engine: a recording proxy on
 * 127.0.0.1 sits between EsHttp and the node, so the test sees every body the writer sent, and the
 * engine itself answers (and indexes) them.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { BulkWriter } from '../../src/store/elasticsearch/bulk-writer.js';
import { EsHttp } from '../../src/store/elasticsearch/http.js';
import { esSkip, esTestUrl, uniquePrefix } from '../helpers/elasticsearch.js';

const KIB = 1024;

/** Forwards every request to `target` and records the byte size of each `_bulk` body. */
async function recordingProxy(target: string): Promise<{ url: string; bulkBodyBytes: number[]; server: Server }> {
  const upstream = new URL(target);
  const bulkBodyBytes: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if ((req.url ?? '').startsWith('/_bulk')) bulkBodyBytes.push(body.length);
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bulkBodyBytes, server };
}

describe('BulkWriter splits bulks by bytes', { skip: esSkip() }, () => {
  const servers: Server[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  it('sends no body over maxBulkBytes (one oversized operation alone), and every caller gets its items', async () => {
    const engineUrl = esTestUrl()!;
    const proxy = await recordingProxy(engineUrl);
    servers.push(proxy.server);
    const http = new EsHttp({ addresses: [proxy.url] });
    const engine = new EsHttp({ addresses: [engineUrl] });
    const index = uniquePrefix('bulkbytes');
    cleanups.push(async () => {
      await engine.request({ method: 'DELETE', path: `/${index}` });
      await engine.close();
      await http.close();
    });
    const maxBulkBytes = 256 * KIB;
    const writer = new BulkWriter(http, { maxBulkBytes });

    const doc = (id: string, size: number) => ({ action: { index: { _index: index, _id: id } }, doc: { pad: 'x'.repeat(size) } });
    // One turn: 3 callers of 5 × 60 KiB each (900 KiB together), one 400 KiB document, two small ones.
    const writes = [
      writer.write([0, 1, 2, 3, 4].map((i) => doc(`a${i}`, 60 * KIB))),
      writer.write([0, 1, 2, 3, 4].map((i) => doc(`b${i}`, 60 * KIB))),
      writer.write([doc('big', 400 * KIB)]),
      writer.write([0, 1, 2, 3, 4].map((i) => doc(`c${i}`, 60 * KIB))),
      writer.write([doc('s0', 10), doc('s1', 10)]),
    ];
    const answers = await Promise.all(writes);

    assert.deepEqual(
      answers.map((items) => items.map((item) => item._id)),
      [
        ['a0', 'a1', 'a2', 'a3', 'a4'],
        ['b0', 'b1', 'b2', 'b3', 'b4'],
        ['big'],
        ['c0', 'c1', 'c2', 'c3', 'c4'],
        ['s0', 's1'],
      ],
    );
    for (const items of answers) for (const item of items) assert.equal(item.status, 201, JSON.stringify(item.error));
    assert.ok(proxy.bulkBodyBytes.length >= 5, `expected the ~1.3 MiB to go out in several bulks: ${proxy.bulkBodyBytes}`);
    const oversized = proxy.bulkBodyBytes.filter((bytes) => bytes > maxBulkBytes);
    assert.equal(oversized.length, 1, `only the 400 KiB document alone may exceed the cap: ${proxy.bulkBodyBytes}`);
    assert.ok(oversized[0]! < 401 * KIB);

    await engine.request({ method: 'POST', path: `/${index}/_refresh` });
    const refreshed = await engine.expect<{ count: number }>({ method: 'GET', path: `/${index}/_count` });
    assert.equal(refreshed.body.count, 18);
  });
});
