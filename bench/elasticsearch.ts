/**
 * Benchmarks of the Elasticsearch/OpenSearch store, with the same harness as the SQLite ones (lib.ts):
 * real `tasques serve` processes over HTTP, keep-alive clients, 127.0.0.1 only, every loop bounded.
 *
 *   npm run build && npm run bench:es                       # everything, on an OpenSearch started here
 *   npm run bench:es -- --raw-engine                        # only the raw-engine ceiling
 *   npm run bench:es -- --compare-root /path/to/other/checkout   # every server run on both builds, alternately
 *   npm run bench:es -- --only throughput,sqlite --tasks 5000
 *   npm run bench:es -- --url http://127.0.0.1:9200 --engine-pid 1234   # an engine already running
 *
 * Sections (--only, comma list; default all):
 * - raw: the raw-engine ceiling (es-raw-engine.ts): create + CAS claim + CAS done per task straight to the
 *   engine, one request each and grouped per event-loop turn into one `_bulk`, at each --raw-concurrency
 *   and at producers + workers (the servers' concurrency);
 * - throughput: one server, v1 calls (one create, one claim of --amounts, one done per task) and the batch
 *   endpoints (POST /tasques/batch of --batch, claims of --batch, one PUT /tasques/done per claim);
 * - servers: v1 calls, amount 1, on each of --servers servers sharing one index prefix (round-robin);
 * - sqlite: the v1 and batch runs again on one SQLite server, same run, same machine;
 * - pickup: one long-polling worker, one task every --interval ms, enqueued on the same server and on
 *   another one (2 servers running);
 * - backlog: claim cost (one claim of amount 1 + done at a time) with 1 000 and 1 000 000 tasks waiting.
 *
 * Every run measures CPU time from /proc: the engine JVM's, the servers' (summed) and this process's,
 * each divided by the tasks done: figures that hold on a shared machine, unlike the rates. The load
 * average is printed with every wall-clock figure. At the end one markdown table sums everything up.
 *
 * Builds: the servers run TASQUES_BENCH_ROOT (default this checkout); --compare-root runs every server
 * scenario also on another build, alternately, on the same engine. Each build sets its own prefix up with
 * its own `tasques setup`, and the backlog is seeded with its own document mapping (its dist/).
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { taskDocId as localTaskDocId, taskToDoc as localTaskToDoc } from '../src/store/elasticsearch/documents.js';
import { type BenchEngine, startBenchEngine } from './es-engine.js';
import { type RawEngineResult, rawEngineRun } from './es-raw-engine.js';
import {
  assertBuilt,
  type BenchServer,
  claimTasks,
  createTask,
  createTasks,
  dropEsPrefix,
  fmtInt,
  fmtMs,
  HttpClient,
  machineLine,
  markDone,
  markDoneMany,
  now,
  numberList,
  parseFlags,
  processCpuMs,
  processRssMb,
  SERVER_ROOT,
  sleep,
  startServer,
  type Summary,
  summarize,
  type TaskJson,
} from './lib.js';

const flags = parseFlags('Usage: npm run bench:es -- [flags]   (tsx bench/elasticsearch.ts)', {
  only: { default: '', help: 'sections, comma list: raw, throughput, servers, sqlite, pickup, backlog (default: all)' },
  'raw-engine': { default: false, help: 'the raw-engine ceiling only (same as --only raw)' },
  url: { default: '', help: 'use this engine instead of starting OpenSearch' },
  'engine-pid': { default: 0, help: 'with --url: the engine JVM pid, for its CPU time' },
  'compare-root': { default: '', help: 'another build (a checkout with bin/ and dist/): every server run on both, alternately' },
  tasks: { default: 3_000, help: 'tasks per v1-call run on Elasticsearch' },
  'batch-tasks': { default: 20_000, help: 'tasks per batch-endpoint run' },
  'sqlite-tasks': { default: 10_000, help: 'tasks per v1-call run on SQLite' },
  producers: { default: 4, help: 'producer loops' },
  workers: { default: 8, help: 'worker loops' },
  amounts: { default: '1,10', help: 'throughput: claim amounts of the v1-call runs' },
  batch: { default: 100, help: 'batch runs: tasks per POST /tasques/batch and amount per claim' },
  servers: { default: '2,3', help: 'servers section: server counts (v1 calls, amount 1)' },
  warmup: { default: 500, help: 'tasks pushed through another queue first on each server set, not measured' },
  'raw-concurrency': { default: '12,64,256', help: 'raw: tasks in flight, comma list (producers + workers is added)' },
  'raw-tasks': { default: 10_000, help: 'raw: tasks per run' },
  'pickup-tasks': { default: 100, help: 'pickup: measured tasks per path' },
  interval: { default: 200, help: 'pickup: ms between enqueues' },
  'block-for': { default: '5s', help: 'pickup: block_for of the waiting claim (the tasques/worker default)' },
  sizes: { default: '1000,1000000', help: 'backlog: tasks waiting, comma list' },
  claims: { default: 300, help: 'backlog: measured claim + done pairs per size' },
  timeout: { default: 300, help: 'seconds per run before giving up' },
});

const ALL_SECTIONS = ['raw', 'throughput', 'servers', 'sqlite', 'pickup', 'backlog'] as const;
type Section = (typeof ALL_SECTIONS)[number];
const sections = new Set<string>(flags['raw-engine'] ? ['raw'] : flags.only ? flags.only.split(',').map((s) => s.trim()) : ALL_SECTIONS);
for (const s of sections) {
  if (!(ALL_SECTIONS as readonly string[]).includes(s)) {
    console.error(`--only: unknown section ${s} (known: ${ALL_SECTIONS.join(', ')})`);
    process.exit(2);
  }
}
const want = (s: Section) => sections.has(s);

interface Build {
  label: string;
  root: string;
}
const builds: Build[] = [{ label: flags['compare-root'] ? 'base' : 'this build', root: SERVER_ROOT }];
if (flags['compare-root']) builds.push({ label: 'compare', root: resolve(flags['compare-root']) });

const load1 = () => loadavg()[0]!.toFixed(1);
const perTask = (ms: number, tasks: number) => (Number.isFinite(ms) && tasks > 0 ? ms / tasks : Number.NaN);
const fmtCpu = (ms: number) => (Number.isFinite(ms) ? (ms >= 1 ? ms.toFixed(2) : ms.toFixed(3)) : '-');
const fmtRatio = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : '-');

// ── index prefixes, set up by each build's own CLI ────────────────────────────────────────────────────

let prefixes = 0;
const newPrefix = () => `bench-${process.pid}-${++prefixes}`;

function esEnv(url: string, prefix: string): Record<string, string> {
  return {
    TASQUES_SERVER_STORE_KIND: 'elasticsearch',
    TASQUES_SERVER_ELASTICSEARCH_ADDRESSES: url,
    TASQUES_SERVER_STORE_ELASTICSEARCH_INDEX_PREFIX: prefix,
  };
}

/** `tasques setup` of that build: its own templates and schema version, whatever they are. */
async function setupPrefix(build: Build, url: string, prefix: string): Promise<void> {
  assertBuilt(build.root);
  const child = spawn(process.execPath, [join(build.root, 'bin', 'tasques.mjs'), 'setup'], {
    env: { ...process.env, TASQUES_SERVER_LOGGING_LEVEL: 'warn', ...esEnv(url, prefix) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`tasques setup (${build.root}) exited with ${code}`);
}

async function startEsServers(build: Build, url: string, prefix: string, n: number): Promise<BenchServer[]> {
  const env = esEnv(url, prefix);
  return Promise.all(Array.from({ length: n }, () => startServer({ env, root: build.root, readyTimeoutMs: 60_000 })));
}

const stopAll = (servers: BenchServer[]) => Promise.all(servers.map((s) => s.stop()));

/** What the engine did on a prefix's indices, from `_stats` (totals over primaries and replicas). */
interface EngineWork {
  refreshes: number;
  searches: number;
  writes: number;
  /** Writes the engine refused, version conflicts (a claim lost to another claimer) among them. */
  failedWrites: number;
  gets: number;
}

async function engineWork(url: string, prefix: string): Promise<EngineWork | undefined> {
  try {
    const res = await fetch(`${url}/${prefix}-*/_stats/refresh,search,indexing,get`);
    if (!res.ok) return undefined;
    const t = ((await res.json()) as { _all: { total: Record<string, Record<string, number>> } })._all.total;
    return {
      refreshes: t.refresh?.total ?? 0,
      searches: t.search?.query_total ?? 0,
      writes: t.indexing?.index_total ?? 0,
      failedWrites: t.indexing?.index_failed ?? 0,
      gets: t.get?.total ?? 0,
    };
  } catch {
    return undefined;
  }
}

const workDelta = (a: EngineWork | undefined, b: EngineWork | undefined): EngineWork | undefined =>
  a && b
    ? {
        refreshes: b.refreshes - a.refreshes,
        searches: b.searches - a.searches,
        writes: b.writes - a.writes,
        failedWrites: b.failedWrites - a.failedWrites,
        gets: b.gets - a.gets,
      }
    : undefined;

/** Per 100 tasks: refreshes, searches, realtime gets, writes, refused writes. */
const fmtWork = (w: EngineWork | undefined, tasks: number) =>
  w && tasks > 0
    ? `per 100 tasks: ${[
        ['refreshes', w.refreshes],
        ['searches', w.searches],
        ['gets', w.gets],
        ['writes', w.writes],
        ['refused writes', w.failedWrites],
      ]
        .map(([name, n]) => `${((Number(n) / tasks) * 100).toFixed(1)} ${name}`)
        .join(', ')}`
    : '';

// ── the load: producers and workers over HTTP ─────────────────────────────────────────────────────────

interface LoadPhase {
  servers: BenchServer[];
  queue: string;
  tasks: number;
  amount: number;
  /** >1: POST /tasques/batch of this many, one PUT /tasques/done per claim. */
  batch: number;
  enginePid: number | undefined;
}

interface PhaseResult {
  done: number;
  wallMs: number;
  enqueueMs: number;
  claims: number;
  empty: number;
  pickup: Summary;
  errors: number;
  duplicates: number;
  engineCpuMs: number;
  serverCpuMs: number;
  clientCpuMs: number;
  timedOut: boolean;
}

async function loadPhase(o: LoadPhase): Promise<PhaseResult> {
  const nServers = o.servers.length;
  const producers = Array.from({ length: flags.producers }, (_, p) => new HttpClient(o.servers[p % nServers]!.url));
  const workers = Array.from({ length: flags.workers }, (_, w) => new HttpClient(o.servers[w % nServers]!.url));
  const ack = new Map<string, number>();
  const claimed = new Set<string>();
  const pickup: number[] = [];
  let done = 0;
  let claims = 0;
  let empty = 0;
  let errors = 0;
  let duplicates = 0;
  let lastCreate = 0;
  let lastDone = 0;
  let stopping = false;
  const serverCpu = () => o.servers.reduce((sum, s) => sum + (processCpuMs(s.child.pid) ?? Number.NaN), 0);
  const engine0 = processCpuMs(o.enginePid) ?? Number.NaN;
  const server0 = serverCpu();
  const client0 = process.cpuUsage();
  const t0 = now();
  const deadline = t0 + flags.timeout * 1000;
  const failed = (e: unknown) => {
    if (++errors <= 5) console.error(`  error: ${(e as Error).message}`);
    if (errors > 100) stopping = true;
  };
  const producer = async (p: number) => {
    const client = producers[p]!;
    const step = Math.max(1, o.batch);
    for (let start = p * step; start < o.tasks && !stopping && now() < deadline; start += flags.producers * step) {
      try {
        if (o.batch > 1) {
          const args = Array.from({ length: Math.min(step, o.tasks - start) }, (_, k) => ({ i: start + k }));
          const res = await createTasks(client, o.queue, args);
          for (const r of res.body.results) if (r.task) ack.set(r.task.id, res.at);
          lastCreate = Math.max(lastCreate, res.at);
        } else {
          const res = await createTask(client, o.queue, { i: start });
          ack.set(res.body.id, res.at);
          lastCreate = Math.max(lastCreate, res.at);
        }
      } catch (e) {
        failed(e);
      }
    }
  };
  const finish = () => {
    stopping = true;
    for (const c of workers) c.close(); // waiting long polls are cut off rather than left to run out
  };
  const worker = async (w: number) => {
    const client = workers[w]!;
    const id = `bench-worker-${w}`;
    while (!stopping && done < o.tasks && now() < deadline) {
      let tasks: TaskJson[];
      try {
        const res = await claimTasks(client, id, [o.queue], o.batch > 1 ? o.batch : o.amount, '1s');
        tasks = res.body;
        claims++;
        if (tasks.length === 0) empty++;
        for (const t of tasks) {
          if (claimed.has(t.id)) duplicates++;
          claimed.add(t.id);
          const a = ack.get(t.id);
          if (a !== undefined) pickup.push(res.at - a);
        }
      } catch (e) {
        if (!stopping) failed(e);
        continue;
      }
      try {
        if (o.batch > 1 && tasks.length > 0) {
          const res = await markDoneMany(client, id, tasks);
          done += tasks.length;
          lastDone = Math.max(lastDone, res.at);
        } else {
          for (const t of tasks) {
            const res = await markDone(client, id, t);
            done++;
            lastDone = Math.max(lastDone, res.at);
          }
        }
      } catch (e) {
        if (!stopping) failed(e);
      }
    }
    if (done >= o.tasks) finish();
  };
  try {
    await Promise.all([...producers.map((_, p) => producer(p)), ...workers.map((_, w) => worker(w))]);
  } finally {
    finish();
    for (const c of producers) c.close();
  }
  const clientCpu = process.cpuUsage(client0);
  return {
    done,
    wallMs: lastDone - t0,
    enqueueMs: lastCreate - t0,
    claims,
    empty,
    pickup: summarize(pickup),
    errors,
    duplicates,
    engineCpuMs: (processCpuMs(o.enginePid) ?? Number.NaN) - engine0,
    serverCpuMs: serverCpu() - server0,
    clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
    timedOut: now() >= deadline,
  };
}

interface LoadRun extends PhaseResult {
  build: string;
  store: 'elasticsearch' | 'sqlite';
  /** 'v1 amount 1', 'batch 100', … */
  mode: string;
  nServers: number;
  tasks: number;
  load: string;
  /** Largest VmHWM (peak RSS) of the servers at the end of the run, MiB. */
  peakRssMb: number;
  rssMb: number;
}

interface LoadScenario {
  store: 'elasticsearch' | 'sqlite';
  nServers: number;
  amount: number;
  batch: number;
  tasks: number;
}

const modeOf = (s: { amount: number; batch: number }) => (s.batch > 1 ? `batch ${s.batch}` : `v1 amount ${s.amount}`);

async function loadRun(build: Build, engine: BenchEngine, s: LoadScenario): Promise<LoadRun> {
  const mode = modeOf(s);
  console.log(`${build.label}: ${s.store}, ${s.nServers} server(s), ${mode}, ${fmtInt(s.tasks)} tasks (load ${load1()})`);
  const prefix = newPrefix();
  let servers: BenchServer[];
  if (s.store === 'elasticsearch') {
    await setupPrefix(build, engine.url, prefix);
    servers = await startEsServers(build, engine.url, prefix, s.nServers);
  } else {
    servers = [await startServer({ root: build.root })];
  }
  try {
    const base = { servers, amount: s.amount, batch: s.batch, enginePid: engine.pid };
    if (flags.warmup > 0) await loadPhase({ ...base, queue: 'bench-warmup', tasks: flags.warmup });
    const work0 = s.store === 'elasticsearch' ? await engineWork(engine.url, prefix) : undefined;
    const r = await loadPhase({ ...base, queue: 'bench', tasks: s.tasks });
    const work = workDelta(work0, s.store === 'elasticsearch' ? await engineWork(engine.url, prefix) : undefined);
    const load = load1();
    const rss = servers.map((srv) => processRssMb(srv.child.pid));
    const run: LoadRun = {
      ...r,
      build: build.label,
      store: s.store,
      mode,
      nServers: s.nServers,
      tasks: s.tasks,
      load,
      peakRssMb: Math.max(...rss.map((m) => m?.peak ?? Number.NaN)),
      rssMb: Math.max(...rss.map((m) => m?.rss ?? Number.NaN)),
    };
    console.log(
      `  ${fmtInt(r.done)} done in ${(r.wallMs / 1000).toFixed(1)} s: ${fmtInt((r.done / r.wallMs) * 1000)}/s, ` +
        `engine ${fmtCpu(perTask(r.engineCpuMs, r.done))} ms/task, servers ${fmtCpu(perTask(r.serverCpuMs, r.done))} ms/task, ` +
        `bench ${fmtCpu(perTask(r.clientCpuMs, r.done))} ms/task, load ${load}` +
        `${r.errors ? `, ${r.errors} errors` : ''}${r.duplicates ? `, ${r.duplicates} DUPLICATES` : ''}${r.timedOut ? ' (TIMED OUT)' : ''}`,
    );
    if (work) console.log(`  engine ${fmtWork(work, r.done)}`);
    return run;
  } finally {
    await stopAll(servers);
    if (s.store === 'elasticsearch') await dropEsPrefix(engine.url, prefix);
  }
}

/**
 * Warms the engine's JIT on the store's searches and writes (the raw section warms only writes), so the
 * first measured scenario, and with it the first build, does not pay for it. Unmeasured.
 */
async function warmEngine(build: Build, engine: BenchEngine): Promise<void> {
  console.log(`${build.label}: warming the engine on the store's calls (${fmtInt(2 * flags.warmup)} tasks, unmeasured; load ${load1()})`);
  const prefix = newPrefix();
  await setupPrefix(build, engine.url, prefix);
  const servers = await startEsServers(build, engine.url, prefix, 1);
  try {
    await loadPhase({ servers, queue: 'engine-warmup', tasks: 2 * flags.warmup, amount: 1, batch: 1, enginePid: engine.pid });
  } finally {
    await stopAll(servers);
    await dropEsPrefix(engine.url, prefix);
  }
}

// ── raw engine ────────────────────────────────────────────────────────────────────────────────────────

interface RawRun extends RawEngineResult {
  load: string;
}

async function rawRuns(engine: BenchEngine): Promise<RawRun[]> {
  const concurrencies = [...new Set([...numberList(flags['raw-concurrency']), flags.producers + flags.workers])].sort((a, b) => a - b);
  const out: RawRun[] = [];
  const prefix = newPrefix();
  await setupPrefix(builds[0]!, engine.url, prefix);
  try {
    // Warm the engine's JIT on this write pattern first, unmeasured.
    await rawEngineRun({ url: engine.url, index: `${prefix}-tasks`, concurrency: 64, tasks: 3_000, grouped: true, enginePid: engine.pid, timeoutMs: 60_000 });
    for (const concurrency of concurrencies) {
      for (const grouped of [false, true]) {
        console.log(`raw engine: ${concurrency} in flight, ${grouped ? 'grouped per turn into one _bulk' : 'one request each'} (load ${load1()})`);
        const index = `${prefix}-raw-${concurrency}-${grouped ? 'bulk' : 'single'}`;
        await cloneTasksIndex(engine.url, `${prefix}-tasks`, index);
        const r = await rawEngineRun({
          url: engine.url, index, concurrency, tasks: flags['raw-tasks'], grouped, enginePid: engine.pid, timeoutMs: flags.timeout * 1000,
        });
        out.push({ ...r, load: load1() });
        console.log(
          `  ${fmtInt(r.done)} tasks in ${(r.wallMs / 1000).toFixed(1)} s: ${fmtInt((r.done / r.wallMs) * 1000)}/s, ` +
            `engine ${fmtCpu(perTask(r.engineCpuMs, r.done))} ms/task, ${fmtInt(r.requests)} requests${r.errors ? `, ${r.errors} errors` : ''}`,
        );
      }
    }
  } finally {
    await dropEsPrefix(engine.url, prefix);
  }
  return out;
}

/** An empty index with the tasks index's settings and mapping (so each raw run starts from empty). */
async function cloneTasksIndex(url: string, from: string, to: string): Promise<void> {
  const got = (await (await fetch(`${url}/${from}`)).json()) as Record<string, { settings: { index: Record<string, unknown> }; mappings: unknown }>;
  const def = got[from]!;
  const { sort, number_of_shards, number_of_replicas, translog, refresh_interval } = def.settings.index as Record<string, unknown>;
  const index = Object.fromEntries(Object.entries({ sort, number_of_shards, number_of_replicas, translog, refresh_interval }).filter(([, v]) => v !== undefined));
  const res = await fetch(`${url}/${to}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ settings: { index }, mappings: def.mappings }),
  });
  if (!res.ok) throw new Error(`create ${to}: HTTP ${res.status} ${await res.text()}`);
}

// ── pick-up latency ───────────────────────────────────────────────────────────────────────────────────

interface PickupRun {
  build: string;
  path: string;
  s: Summary;
  errors: number;
  load: string;
}

async function pickupRuns(build: Build, engine: BenchEngine): Promise<PickupRun[]> {
  const prefix = newPrefix();
  await setupPrefix(build, engine.url, prefix);
  const servers = await startEsServers(build, engine.url, prefix, 2);
  const out: PickupRun[] = [];
  try {
    const paths: [string, BenchServer, BenchServer][] = [
      ['same server', servers[0]!, servers[0]!],
      ['other server', servers[1]!, servers[0]!],
    ];
    for (const [path, claimOn, enqueueOn] of paths) {
      console.log(`${build.label}: pick-up, ${path} (2 running), block_for ${flags['block-for']} (load ${load1()})`);
      const queue = `pickup-${out.length}`;
      const workerClient = new HttpClient(claimOn.url);
      const producerClient = new HttpClient(enqueueOn.url);
      const warm = 20;
      const total = flags['pickup-tasks'] + warm;
      const ackAt = new Map<string, number>();
      const got: [string, number][] = [];
      let errors = 0;
      let stopping = false;
      const deadline = now() + total * flags.interval + 60_000;
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
      const latencies = got.slice(warm).map(([id, at]) => at - (ackAt.get(id) ?? Number.NaN)).filter(Number.isFinite);
      out.push({ build: build.label, path, s: summarize(latencies), errors, load: load1() });
    }
  } finally {
    await stopAll(servers);
    await dropEsPrefix(engine.url, prefix);
  }
  return out;
}

// ── claim cost against the backlog ──────────────────────────────────────────────────────────────────────

type DocFns = { taskDocId: typeof localTaskDocId; taskToDoc: typeof localTaskToDoc };

/** The build's own document mapping (its dist/), so the seeded tasks are what its server would write. */
async function docFnsOf(build: Build): Promise<DocFns> {
  try {
    return (await import(pathToFileURL(join(build.root, 'dist', 'store', 'elasticsearch', 'documents.js')).href)) as DocFns;
  } catch {
    console.log(`  (${build.label}: no dist/store/elasticsearch/documents.js; seeding with this checkout's documents)`);
    return { taskDocId: localTaskDocId, taskToDoc: localTaskToDoc };
  }
}

async function seed(url: string, index: string, count: number, docs: DocFns): Promise<number> {
  const t0 = now();
  const base = Date.now() - count - 60_000;
  const BATCH = 5_000;
  const inflight: Promise<void>[] = [];
  for (let from = 0; from < count; from += BATCH) {
    const lines: string[] = [];
    for (let i = from; i < Math.min(count, from + BATCH); i++) {
      const t = base + i;
      const id = `seed-${String(i).padStart(9, '0')}`;
      const doc = docs.taskToDoc({
        queue: 'backlog', id, kind: 'noop', state: 'queued', priority: 0, runAt: t, retryTimes: 25, attempted: 0,
        processingTimeoutNs: 1_800_000_000_000, args: { i }, lastEnqueuedAt: t, createdAt: t, modifiedAt: t,
      });
      lines.push(JSON.stringify({ create: { _index: index, _id: docs.taskDocId('backlog', id) } }), JSON.stringify(doc));
    }
    inflight.push(
      (async () => {
        const res = await fetch(`${url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: `${lines.join('\n')}\n` });
        const body = (await res.json()) as { errors: boolean };
        if (!res.ok || body.errors) throw new Error(`bulk seeding failed: HTTP ${res.status}`);
      })(),
    );
    if (inflight.length >= 2) await inflight.shift();
    if (from % 200_000 === 0 && from > 0) process.stderr.write(`  seeded ${fmtInt(from)}\n`);
  }
  await Promise.all(inflight);
  await fetch(`${url}/${index}/_refresh`, { method: 'POST' });
  return now() - t0;
}

interface BacklogRun {
  build: string;
  size: number;
  seedMs: number;
  claim: Summary;
  done: Summary;
  empty: number;
  engineCpuMsPerPair: number;
  serverCpuMsPerPair: number;
  load: string;
}

async function backlogRun(build: Build, engine: BenchEngine, size: number): Promise<BacklogRun> {
  const prefix = newPrefix();
  await setupPrefix(build, engine.url, prefix);
  const warm = 100;
  const total = size + flags.claims + warm;
  try {
    const seedMs = await seed(engine.url, `${prefix}-tasks`, total, await docFnsOf(build));
    console.log(`${build.label}: backlog ${fmtInt(size)}: seeded ${fmtInt(total)} tasks with _bulk in ${(seedMs / 1000).toFixed(1)} s (load ${load1()})`);
    const [server] = await startEsServers(build, engine.url, prefix, 1);
    const client = new HttpClient(server!.url);
    const claimMs: number[] = [];
    const doneMs: number[] = [];
    let empty = 0;
    let engine0 = Number.NaN;
    let server0 = Number.NaN;
    try {
      for (let i = 0; i < flags.claims + warm; i++) {
        if (i === warm) {
          engine0 = processCpuMs(engine.pid) ?? Number.NaN;
          server0 = processCpuMs(server!.child.pid) ?? Number.NaN;
        }
        const t0 = now();
        const res = await claimTasks(client, 'backlog-worker', ['backlog'], 1, '0s');
        const task = res.body[0];
        if (!task) {
          empty++;
          continue;
        }
        const d = await markDone(client, 'backlog-worker', task);
        if (i >= warm) {
          claimMs.push(res.at - t0);
          doneMs.push(d.at - res.at);
        }
      }
      const pairs = Math.max(1, claimMs.length);
      return {
        build: build.label, size, seedMs, claim: summarize(claimMs), done: summarize(doneMs), empty,
        engineCpuMsPerPair: ((processCpuMs(engine.pid) ?? Number.NaN) - engine0) / pairs,
        serverCpuMsPerPair: ((processCpuMs(server!.child.pid) ?? Number.NaN) - server0) / pairs,
        load: load1(),
      };
    } finally {
      client.close();
      await server!.stop();
    }
  } finally {
    await dropEsPrefix(engine.url, prefix);
  }
}

/**
 * The engine's own background CPU (ms per second of wall time) with no requests, over 5 s: periodic
 * refreshes, cluster-state and stats jobs. Every engine CPU figure contains it in proportion to the run's
 * length, so a slow run pays more of it per task; the "net of idle" columns take it out.
 */
async function engineIdleCpu(engine: BenchEngine): Promise<number> {
  const cpu0 = processCpuMs(engine.pid);
  const t0 = now();
  await sleep(5_000);
  const cpu1 = processCpuMs(engine.pid);
  return cpu0 === undefined || cpu1 === undefined ? Number.NaN : ((cpu1 - cpu0) * 1000) / (now() - t0);
}

let idleCpu = Number.NaN;

// ── tables ───────────────────────────────────────────────────────────────────────────────────────────

function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[], title: string): void {
  const line = (r: readonly string[]) => `| ${r.join(' | ')} |`;
  console.log(['', `**${title}**`, '', line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n'));
}

function report(raw: RawRun[], loads: LoadRun[], pickups: PickupRun[], backlogs: BacklogRun[]): void {
  const rate = (done: number, wallMs: number) => (done / wallMs) * 1000;
  const inFlight = flags.producers + flags.workers;
  const rawGrouped = raw.find((r) => r.grouped && r.concurrency === inFlight);
  if (raw.length > 0) {
    markdownTable(
      ['writes sent as', 'tasks in flight', 'tasks/s', 'wall s', 'engine CPU ms/task', 'net of idle', 'bench CPU ms/task', 'HTTP requests/task', 'load avg', 'errors'],
      raw.map((r) => [
        r.grouped ? 'grouped per event-loop turn into one `_bulk`' : 'one request each',
        String(r.concurrency),
        fmtInt(rate(r.done, r.wallMs)),
        (r.wallMs / 1000).toFixed(1),
        fmtCpu(perTask(r.engineCpuMs, r.done)),
        fmtCpu(perTask(r.engineCpuMs - idleCpu * (r.wallMs / 1000), r.done)),
        fmtCpu(perTask(r.clientCpuMs, r.done)),
        (r.requests / Math.max(1, r.done)).toFixed(2),
        r.load,
        String(r.errors),
      ]),
      'Raw engine: create + CAS claim + CAS done per task, no server, no search',
    );
  }
  if (loads.length > 0) {
    const sqliteRate = (l: LoadRun) => {
      const s = loads.find((x) => x.store === 'sqlite' && x.mode === l.mode);
      return s ? rate(s.done, s.wallMs) : Number.NaN;
    };
    const oneServerRate = (l: LoadRun) => {
      const one = loads.find((x) => x.store === l.store && x.build === l.build && x.mode === l.mode && x.nServers === 1);
      return one ? rate(one.done, one.wallMs) : Number.NaN;
    };
    markdownTable(
      [
        'build', 'store', 'calls', 'servers', 'tasks', 'tasks/s', 'wall s', 'load avg', 'x raw engine (grouped)', 'x SQLite', 'x 1 server',
        'engine CPU ms/task', 'engine CPU ms/task net of idle', 'server CPU ms/task', 'bench CPU ms/task', 'peak RSS MiB/server', 'pick-up p50 ms', 'claims', 'errors',
      ],
      loads.map((l) => {
        const r = rate(l.done, l.wallMs);
        return [
          l.build, l.store, l.mode, String(l.nServers), fmtInt(l.done), fmtInt(r), (l.wallMs / 1000).toFixed(1), l.load,
          fmtRatio(rawGrouped ? r / rate(rawGrouped.done, rawGrouped.wallMs) : Number.NaN),
          l.store === 'sqlite' ? '1x' : fmtRatio(r / sqliteRate(l)),
          l.nServers === 1 ? '-' : fmtRatio(r / oneServerRate(l)),
          l.store === 'sqlite' ? '-' : fmtCpu(perTask(l.engineCpuMs, l.done)),
          l.store === 'sqlite' ? '-' : fmtCpu(perTask(l.engineCpuMs - idleCpu * (l.wallMs / 1000), l.done)),
          fmtCpu(perTask(l.serverCpuMs, l.done)),
          fmtCpu(perTask(l.clientCpuMs, l.done)),
          Number.isFinite(l.peakRssMb) ? l.peakRssMb.toFixed(0) : '-',
          fmtMs(l.pickup.p50),
          fmtInt(l.claims),
          `${l.errors + l.duplicates}${l.timedOut ? ' (timed out)' : ''}`,
        ];
      }),
      `End to end over HTTP (${flags.producers} producers, ${flags.workers} workers; x raw engine: the grouped raw engine at ${inFlight} in flight, same run)`,
    );
  }
  if (pickups.length > 0) {
    markdownTable(
      ['build', 'pick-up: create 201 → claim received', 'tasks', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'load avg', 'errors'],
      pickups.map((p) => [p.build, `${p.path} (2 running)`, fmtInt(p.s.count), fmtMs(p.s.p50), fmtMs(p.s.p90), fmtMs(p.s.p99), fmtMs(p.s.max), p.load, String(p.errors)]),
      `Pick-up latency of one long-polling worker (block_for ${flags['block-for']}), one task every ${flags.interval} ms`,
    );
  }
  if (backlogs.length > 0) {
    const first = new Map<string, BacklogRun>();
    for (const b of backlogs) if (!first.has(b.build)) first.set(b.build, b);
    markdownTable(
      ['build', 'tasks waiting', 'claim p50 ms', 'claim p90 ms', 'claim p99 ms', 'x first size (p50)', 'done p50 ms', 'engine CPU ms/claim+done', 'server CPU ms/claim+done', 'load avg', 'empty'],
      backlogs.map((b) => [
        b.build, fmtInt(b.size), fmtMs(b.claim.p50), fmtMs(b.claim.p90), fmtMs(b.claim.p99),
        fmtRatio(b.claim.p50 / first.get(b.build)!.claim.p50), fmtMs(b.done.p50),
        fmtCpu(b.engineCpuMsPerPair), fmtCpu(b.serverCpuMsPerPair), b.load, String(b.empty),
      ]),
      `Claim cost (one claim of amount 1 + its done at a time, ${flags.claims} measured) by backlog size`,
    );
  }
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  console.log(`elasticsearch bench: ${machineLine()}`);
  console.log(`builds: ${builds.map((b) => `${b.label} = ${b.root}`).join('; ')}`);
  const engine = await startBenchEngine({ url: flags.url || undefined, pid: flags['engine-pid'] || undefined });
  const raw: RawRun[] = [];
  const loads: LoadRun[] = [];
  const pickups: PickupRun[] = [];
  const backlogs: BacklogRun[] = [];
  try {
    const info = (await (await fetch(engine.url)).json()) as { version: { number: string; distribution?: string } };
    console.log(`engine: ${info.version.distribution ?? 'elasticsearch'} ${info.version.number} at ${engine.url}, pid ${engine.pid ?? 'unknown'}`);
    if (want('raw')) raw.push(...(await rawRuns(engine)));
    const scenarios: LoadScenario[] = [];
    if (want('throughput')) {
      for (const amount of numberList(flags.amounts)) scenarios.push({ store: 'elasticsearch', nServers: 1, amount, batch: 1, tasks: flags.tasks });
      scenarios.push({ store: 'elasticsearch', nServers: 1, amount: flags.batch, batch: flags.batch, tasks: flags['batch-tasks'] });
    }
    if (want('servers')) {
      for (const n of numberList(flags.servers)) scenarios.push({ store: 'elasticsearch', nServers: n, amount: 1, batch: 1, tasks: flags.tasks });
    }
    if (want('sqlite')) {
      for (const amount of numberList(flags.amounts)) scenarios.push({ store: 'sqlite', nServers: 1, amount, batch: 1, tasks: flags['sqlite-tasks'] });
      scenarios.push({ store: 'sqlite', nServers: 1, amount: flags.batch, batch: flags.batch, tasks: flags['batch-tasks'] });
    }
    if (scenarios.some((s) => s.store === 'elasticsearch') && flags.warmup > 0) for (const b of builds) await warmEngine(b, engine);
    // Builds alternate per scenario, so drifting load hits both alike. SQLite runs on the first build only:
    // it is the same-run reference, not what is being compared.
    for (const s of scenarios) for (const b of s.store === 'sqlite' ? builds.slice(0, 1) : builds) loads.push(await loadRun(b, engine, s));
    if (want('pickup')) for (const b of builds) pickups.push(...(await pickupRuns(b, engine)));
    if (want('backlog')) {
      for (const size of numberList(flags.sizes)) for (const b of builds) backlogs.push(await backlogRun(b, engine, size));
    }
    // Measured warm, at the end: right after start the JIT compiler threads are still busy.
    idleCpu = await engineIdleCpu(engine);
  } finally {
    await engine.stop();
    report(raw, loads, pickups, backlogs);
    console.log(`\nengine idle CPU: ${fmtCpu(idleCpu)} ms/s; load average at the end: ${loadavg().map((n) => n.toFixed(2)).join(' ')}`);
  }
  if (loads.some((l) => l.errors > 0 || l.duplicates > 0 || l.timedOut)) process.exitCode = 1;
}

await main();
