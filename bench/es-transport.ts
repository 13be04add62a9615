/**
 * What the Elasticsearch store's HTTP transport costs this process per call: EsHttp (undici `request` on a
 * pooled agent) beside the same calls through undici's `fetch` with the headers and timeout signal the store
 * sent before, rounds alternating, on one engine node.
 *
 *   npx tsx bench/es-transport.ts [--url http://127.0.0.1:9200] [--calls 4000] [--concurrency 16] [--rounds 3]
 *
 * Without --url it starts an embedded OpenSearch node (bench/es-engine.ts). Prints this process's CPU
 * µs per call (user + system, process.cpuUsage) and calls/s, for a realtime GET and a small search.
 */
import { parseArgs } from 'node:util';
import { Agent, fetch } from 'undici';
import { EsHttp } from '../src/store/elasticsearch/http.js';
import { startBenchEngine } from './es-engine.js';
import { machineLine } from './lib.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    calls: { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
  },
});
const calls = Number(values.calls);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);

const engine = await startBenchEngine({ url: values.url });
const url = engine.url;

const INDEX = 'bench-transport';
const http = new EsHttp({ addresses: [url] });
await http.request({ method: 'DELETE', path: `/${INDEX}` });
await http.expect({ method: 'PUT', path: `/${INDEX}`, body: { settings: { number_of_shards: 1, number_of_replicas: 0 } } });
for (let i = 0; i < 50; i++) {
  await http.expect({ method: 'PUT', path: `/${INDEX}/_doc/${i}`, body: { queue: 'q', n: i, args: { text: 'x'.repeat(200) } } });
}
await http.expect({ method: 'POST', path: `/${INDEX}/_refresh` });

type Call = 'get' | 'search';
const bodies: Record<Call, { method: 'GET' | 'POST'; path: string; body?: unknown }> = {
  get: { method: 'GET', path: `/${INDEX}/_doc/7` },
  search: { method: 'POST', path: `/${INDEX}/_search`, body: { size: 3, query: { term: { queue: 'q' } } } },
};

// The transport the store used before: undici fetch, same headers, a timeout signal per call.
const agent = new Agent();
async function viaFetch(call: Call): Promise<void> {
  const { method, path, body } = bodies[call];
  const headers: Record<string, string> = { accept: 'application/json', 'accept-encoding': 'identity' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
    dispatcher: agent,
  });
  JSON.parse(await res.text());
}
async function viaEsHttp(call: Call): Promise<void> {
  const { method, path, body } = bodies[call];
  await http.request({ method, path, body });
}

async function measure(send: (call: Call) => Promise<void>, call: Call): Promise<{ cpuUs: number; perSecond: number }> {
  let next = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < calls) {
        next++;
        await send(call);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / calls, perSecond: calls / seconds };
}

console.log(machineLine());
console.log(`${calls} calls per figure, ${concurrency} in flight, ${rounds} rounds alternating (median shown)`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const call of ['get', 'search'] as const) {
  const results = { fetch: [] as { cpuUs: number; perSecond: number }[], request: [] as { cpuUs: number; perSecond: number }[] };
  await measure(viaFetch, call); // warm both paths up
  await measure(viaEsHttp, call);
  for (let r = 0; r < rounds; r++) {
    results.fetch.push(await measure(viaFetch, call));
    results.request.push(await measure(viaEsHttp, call));
  }
  for (const [name, rs] of Object.entries(results)) {
    const cpu = median(rs.map((x) => x.cpuUs));
    const rate = median(rs.map((x) => x.perSecond));
    console.log(`${call.padEnd(7)} ${name.padEnd(8)} ${cpu.toFixed(0).padStart(5)} µs CPU/call  ${rate.toFixed(0).padStart(6)} calls/s`);
  }
}
await http.request({ method: 'DELETE', path: `/${INDEX}` });
await http.close();
await agent.close();
await engine.stop();
