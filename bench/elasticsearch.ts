/**
 * Benchmarks of the Elasticsearch/OpenSearch store, with the same harness as the SQLite ones (lib.ts):
 * real `tasques serve` processes over HTTP, keep-alive clients, 127.0.0.1 only, every loop bounded.
 *
 *   npm run build && npx tsx bench/elasticsearch.ts                      # all three, OpenSearch started here
 *   npx tsx bench/elasticsearch.ts --only throughput --servers 1,3 --tasks 20000
 *   npx tsx bench/elasticsearch.ts --only pickup --servers 3
 *   npx tsx bench/elasticsearch.ts --only backlog --sizes 1000,1000000
 *   npx tsx bench/elasticsearch.ts --url http://127.0.0.1:9200          # an engine that is already running
 *
 * - throughput: P producers create tasks one by one and W workers claim (block_for 1s) and mark done,
 *   spread round-robin over N servers sharing one index prefix; processed/s end to end, and pick-up
 *   latency (create 201 → claim received) under that load.
 * - pickup: one worker long-polls (block_for 30s, --block-for) while a producer enqueues a task every --interval ms,
 *   on the same server and, with 2+ servers, on another one (the cross-server path: the waiting claim's
 *   periodic re-check, block_for_retry_min_wait).
 * - backlog: claim cost (one claim + done at a time, amount 1, block_for 0s) with SIZE tasks waiting;
 *   the tasks are seeded straight into the index with _bulk.
 *
 * Without --url it starts one OpenSearch node (scripts/test-engine.mjs) with the full JIT and a 1 GiB heap,
 * and stops it at the end.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { taskDocId, taskToDoc } from '../src/store/elasticsearch/documents.js';
import { ElasticsearchStore } from '../src/store/elasticsearch/elasticsearch-store.js';
import {
  type BenchServer,
  claimTasks,
  createTask,
  fmtInt,
  fmtMs,
  HttpClient,
  machineLine,
  markDone,
  now,
  numberList,
  parseFlags,
  printTable,
  ROOT,
  sleep,
  startServer,
  type Summary,
  summarize,
} from './lib.js';

const flags = parseFlags('Usage: npx tsx bench/elasticsearch.ts [flags]', {
  only: { default: '', help: 'throughput, pickup or backlog (default: all three)' },
  url: { default: '', help: 'use this engine instead of starting OpenSearch' },
  servers: { default: '1,3', help: 'server counts for throughput and pickup, comma list' },
  tasks: { default: 20_000, help: 'throughput: tasks per run' },
  producers: { default: 4, help: 'throughput: producer loops' },
  workers: { default: 8, help: 'throughput: worker loops' },
  amount: { default: 1, help: 'throughput: amount per claim' },
  'pickup-tasks': { default: 200, help: 'pickup: measured tasks per path' },
  interval: { default: 200, help: 'pickup: ms between enqueues (the one worker must keep up: claim + done per task)' },
  'block-for': {
    default: '30s',
    help: 'pickup: block_for of the waiting claim; a claim on another server re-checks every max(100ms, block_for/20)',
  },
  sizes: { default: '1000,1000000', help: 'backlog: tasks waiting, comma list' },
  claims: { default: 500, help: 'backlog: measured claim + done pairs per size' },
  timeout: { default: 600, help: 'seconds per run before giving up' },
});

interface Engine {
  url: string;
  stop(): Promise<unknown>;
}

async function engine(): Promise<Engine> {
  if (flags.url) return { url: flags.url, stop: async () => undefined };
  const { startEngine } = (await import(pathToFileURL(join(ROOT, 'scripts', 'test-engine.mjs')).href)) as {
    startEngine(o: { engine: string; javaOpts?: string[] }): Promise<Engine>;
  };
  return startEngine({ engine: 'opensearch', javaOpts: ['-XX:TieredStopAtLevel=4', '-Xms1g', '-Xmx1g'] });
}

let prefixes = 0;

/** A fresh prefix, set up; returns the admin store (to drop it afterwards). */
async function freshPrefix(url: string): Promise<ElasticsearchStore> {
  const store = new ElasticsearchStore({
    http: { addresses: [url] },
    indexPrefix: `bench-${process.pid}-${++prefixes}`,
    autoSetup: true,
  });
  await store.setup();
  return store;
}

async function startServers(url: string, prefix: string, n: number): Promise<BenchServer[]> {
  const env = {
    TASQUES_SERVER_STORE_KIND: 'elasticsearch',
    TASQUES_SERVER_ELASTICSEARCH_ADDRESSES: url,
    TASQUES_SERVER_STORE_ELASTICSEARCH_INDEX_PREFIX: prefix,
  };
  return Promise.all(Array.from({ length: n }, () => startServer({ env, readyTimeoutMs: 60_000 })));
}

const stopAll = (servers: BenchServer[]) => Promise.all(servers.map((s) => s.stop()));

// ── throughput ─────────────────────────────────────────────────────────────────────────────────────────

interface ThroughputResult {
  servers: number;
  processedPerS: number;
  enqueuePerS: number;
  claims: number;
  empty: number;
  pickup: Summary;
  errors: number;
  done: number;
}

async function throughput(url: string, nServers: number): Promise<ThroughputResult> {
  const admin = await freshPrefix(url);
  const servers = await startServers(url, admin.names.prefix, nServers);
  const queue = 'bench';
  const producers = Array.from({ length: flags.producers }, (_, p) => new HttpClient(servers[p % nServers]!.url));
  const workers = Array.from({ length: flags.workers }, (_, w) => new HttpClient(servers[w % nServers]!.url));
  const ack = new Map<string, number>();
  const pickup: number[] = [];
  let done = 0;
  let claims = 0;
  let empty = 0;
  let errors = 0;
  let lastCreate = 0;
  let lastDone = 0;
  let stopping = false;
  const t0 = now();
  const deadline = t0 + flags.timeout * 1000;
  const failed = (e: unknown) => {
    if (++errors <= 5) console.error(`  error: ${(e as Error).message}`);
    if (errors > 100) stopping = true;
  };
  const producer = async (p: number) => {
    for (let i = p; i < flags.tasks && !stopping && now() < deadline; i += flags.producers) {
      try {
        const res = await createTask(producers[p]!, queue, { i });
        ack.set(res.body.id, res.at);
        lastCreate = Math.max(lastCreate, res.at);
      } catch (e) {
        failed(e);
      }
    }
  };
  const worker = async (w: number) => {
    const id = `bench-worker-${w}`;
    while (!stopping && done < flags.tasks && now() < deadline) {
      let tasks;
      try {
        const res = await claimTasks(workers[w]!, id, [queue], flags.amount, '1s');
        tasks = res.body;
        claims++;
        if (tasks.length === 0) empty++;
        for (const t of tasks) {
          const a = ack.get(t.id);
          if (a !== undefined) pickup.push(res.at - a);
        }
      } catch (e) {
        if (!stopping) failed(e);
        continue;
      }
      for (const t of tasks) {
        try {
          const res = await markDone(workers[w]!, id, t);
          done++;
          lastDone = Math.max(lastDone, res.at);
        } catch (e) {
          if (!stopping) failed(e);
        }
      }
    }
    stopping = true;
    for (const c of workers) c.close();
  };
  try {
    await Promise.all([...producers.map((_, p) => producer(p)), ...workers.map((_, w) => worker(w))]);
  } finally {
    for (const c of [...producers, ...workers]) c.close();
    await stopAll(servers);
    await admin.drop();
  }
  return {
    servers: nServers,
    processedPerS: done / ((lastDone - t0) / 1000),
    enqueuePerS: flags.tasks / ((lastCreate - t0) / 1000),
    claims,
    empty,
    pickup: summarize(pickup),
    errors,
    done,
  };
}

// ── pick-up latency ───────────────────────────────────────────────────────────────────────────────────

async function pickupRun(url: string, nServers: number): Promise<{ label: string; s: Summary; errors: number }[]> {
  const admin = await freshPrefix(url);
  const servers = await startServers(url, admin.names.prefix, nServers);
  const out: { label: string; s: Summary; errors: number }[] = [];
  try {
    const paths: [string, BenchServer, BenchServer][] = [[`same server (${nServers} running)`, servers[0]!, servers[0]!]];
    if (nServers > 1) paths.push([`other server (${nServers} running)`, servers[1]!, servers[0]!]);
    for (const [label, claimOn, enqueueOn] of paths) {
      const queue = `pickup-${out.length}`;
      const workerClient = new HttpClient(claimOn.url);
      const producerClient = new HttpClient(enqueueOn.url);
      const total = flags['pickup-tasks'] + 50;
      const ackAt = new Map<string, number>();
      const got: [string, number][] = [];
      let errors = 0;
      let stopping = false;
      const deadline = now() + total * flags.interval + 120_000;
      const worker = (async () => {
        while (!stopping && got.length < total && now() < deadline) {
          try {
            const res = await claimTasks(workerClient, 'pickup-worker', [queue], 1, flags['block-for']);
            for (const t of res.body) {
              got.push([t.id, res.at]);
              await markDone(workerClient, 'pickup-worker', t);
            }
          } catch (e) {
            if (!stopping && ++errors <= 5) console.error(`  error: ${(e as Error).message}`);
          }
        }
      })();
      await sleep(200); // the worker's first long poll reaches the server before the first task
      const t0 = now();
      for (let i = 0; i < total && now() < deadline; i++) {
        const wait = t0 + i * flags.interval - now();
        if (wait > 0) await sleep(wait);
        try {
          const res = await createTask(producerClient, queue, { i });
          ackAt.set(res.body.id, res.at);
        } catch (e) {
          if (++errors <= 5) console.error(`  error: ${(e as Error).message}`);
        }
      }
      while (got.length < total && now() < deadline) await sleep(10);
      stopping = true;
      workerClient.close();
      producerClient.close();
      await worker;
      const latencies = got.slice(50).map(([id, at]) => at - (ackAt.get(id) ?? Number.NaN)).filter(Number.isFinite);
      out.push({ label, s: summarize(latencies), errors });
    }
  } finally {
    await stopAll(servers);
    await admin.drop();
  }
  return out;
}

// ── claim cost against the backlog ──────────────────────────────────────────────────────────────────────

async function seed(url: string, index: string, count: number): Promise<number> {
  const t0 = now();
  const base = Date.now() - count - 60_000;
  const BATCH = 5_000;
  const inflight: Promise<void>[] = [];
  for (let from = 0; from < count; from += BATCH) {
    const lines: string[] = [];
    for (let i = from; i < Math.min(count, from + BATCH); i++) {
      const t = base + i;
      const id = `seed-${String(i).padStart(9, '0')}`;
      const doc = taskToDoc({
        queue: 'backlog', id, kind: 'noop', state: 'queued', priority: 0, runAt: t, retryTimes: 25, attempted: 0,
        processingTimeoutNs: 1_800_000_000_000, args: { i }, lastEnqueuedAt: t, createdAt: t, modifiedAt: t,
      });
      lines.push(JSON.stringify({ create: { _index: index, _id: taskDocId('backlog', id) } }), JSON.stringify(doc));
    }
    inflight.push(
      (async () => {
        const res = await fetch(`${url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: `${lines.join('\n')}\n` });
        const body = (await res.json()) as { errors: boolean };
        if (!res.ok || body.errors) throw new Error(`bulk seeding failed: HTTP ${res.status}`);
      })(),
    );
    if (inflight.length >= 2) await inflight.shift();
    if (from % 100_000 === 0 && from > 0) process.stderr.write(`  seeded ${fmtInt(from)}\n`);
  }
  await Promise.all(inflight);
  await fetch(`${url}/${index}/_refresh`, { method: 'POST' });
  return now() - t0;
}

async function backlog(url: string, size: number) {
  const admin = await freshPrefix(url);
  const total = size + flags.claims + 100;
  const seedMs = await seed(url, admin.names.tasks, total);
  console.log(`  size ${fmtInt(size)}: seeded ${fmtInt(total)} tasks with _bulk in ${(seedMs / 1000).toFixed(1)} s`);
  const [server] = await startServers(url, admin.names.prefix, 1);
  const client = new HttpClient(server!.url);
  const claimMs: number[] = [];
  const doneMs: number[] = [];
  let empty = 0;
  try {
    for (let i = 0; i < flags.claims + 100; i++) {
      const t0 = now();
      const res = await claimTasks(client, 'backlog-worker', ['backlog'], 1, '0s');
      const task = res.body[0];
      if (!task) {
        empty++;
        continue;
      }
      const d = await markDone(client, 'backlog-worker', task);
      if (i >= 100) {
        claimMs.push(res.at - t0);
        doneMs.push(d.at - res.at);
      }
    }
  } finally {
    client.close();
    await server!.stop();
    await admin.drop();
  }
  return { size, seedMs, claim: summarize(claimMs), done: summarize(doneMs), empty };
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  console.log(`elasticsearch bench: ${machineLine()}`);
  const e = await engine();
  const info = (await (await fetch(e.url)).json()) as { version: { number: string; distribution?: string } };
  console.log(`engine: ${info.version.distribution ?? 'elasticsearch'} ${info.version.number} at ${e.url}`);
  const only = flags.only;
  try {
    if (!only || only === 'throughput') {
      const rows = [];
      for (const n of numberList(flags.servers)) {
        console.log(`throughput: ${fmtInt(flags.tasks)} tasks, ${n} server(s), ${flags.producers} producers, ${flags.workers} workers, amount ${flags.amount}`);
        const r = await throughput(e.url, n);
        rows.push([
          String(r.servers), r.processedPerS.toFixed(0), r.enqueuePerS.toFixed(0), fmtInt(r.done), fmtInt(r.claims), fmtInt(r.empty),
          fmtMs(r.pickup.p50), fmtMs(r.pickup.p99), String(r.errors),
        ]);
      }
      printTable(
        ['servers', 'processed/s', 'enqueue/s', 'done', 'claims', 'empty', 'pick-up p50 ms', 'pick-up p99 ms', 'errors'],
        rows,
        `End-to-end throughput (${flags.producers} producers, ${flags.workers} workers, amount ${flags.amount})`,
      );
    }
    if (!only || only === 'pickup') {
      const rows = [];
      for (const n of numberList(flags.servers)) {
        for (const r of await pickupRun(e.url, n)) {
          rows.push([r.label, fmtInt(r.s.count), fmtMs(r.s.p50), fmtMs(r.s.p90), fmtMs(r.s.p99), fmtMs(r.s.max), String(r.errors)]);
        }
      }
      printTable(['pick-up: create 201 → claim received', 'tasks', 'p50', 'p90', 'p99', 'max', 'errors'], rows,
        `Pick-up latency of a long-polling worker, one task every ${flags.interval} ms`);
    }
    if (!only || only === 'backlog') {
      const results = [];
      for (const size of numberList(flags.sizes)) results.push(await backlog(e.url, size));
      printTable(
        ['', ...results.map((r) => `${fmtInt(r.size)} waiting`)],
        [
          ['claim p50 (ms)', ...results.map((r) => fmtMs(r.claim.p50))],
          ['claim p90 (ms)', ...results.map((r) => fmtMs(r.claim.p90))],
          ['claim p99 (ms)', ...results.map((r) => fmtMs(r.claim.p99))],
          ['done p50 (ms)', ...results.map((r) => fmtMs(r.done.p50))],
          ['claims measured', ...results.map((r) => fmtInt(r.claim.count))],
          ['empty claims', ...results.map((r) => fmtInt(r.empty))],
          ['seed time (s)', ...results.map((r) => (r.seedMs / 1000).toFixed(1))],
        ],
        'Claim cost (one claim + done at a time) by backlog size',
      );
    }
  } finally {
    await e.stop();
  }
}

await main();
