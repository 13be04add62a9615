/**
 * Tasques against its peers: the same no-op workload on BullMQ 5 (Redis), pg-boss 10 (PostgreSQL),
 * graphile-worker 0.17 (PostgreSQL) and Tasques (SQLite store, over HTTP).
 *
 *   npm run bench:peers -- --tasks 5000 --runs 3
 *
 * Sets itself up: installs the peers into bench/peers/node_modules (`npm install --prefix bench/peers`)
 * and Debian's redis-server / postgresql (apt-get) when they are missing, starts Redis and PostgreSQL on
 * 127.0.0.1 on free ports from temporary data directories as its own child processes, and stops them
 * (and every Tasques server it started) at the end, on failure and on SIGINT/SIGTERM.
 *
 * Per system and run: a producer enqueues N small tasks (batched where the system has a batch insert)
 * while workers process them with a no-op handler; then an idle pick-up phase enqueues single tasks at
 * a fixed interval to waiting workers. See bench/peers/README.md for what every figure means.
 *
 * Every loop is bounded in count and in time; only loopback addresses are used.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  claimTasks,
  createTask,
  fmtInt,
  fmtMs,
  freePort,
  createTasks,
  HttpClient,
  machineLine,
  markDone,
  markDoneMany,
  now,
  parseFlags,
  printProfileTop,
  printTable,
  ROOT,
  sleep,
  startServer,
  summarize,
  type BenchServer,
} from '../lib.js';

const PEERS_DIR = fileURLToPath(new URL('.', import.meta.url));
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const ALL_SYSTEMS = ['tasques', 'tasques-batch', 'bullmq', 'pg-boss', 'graphile-worker'] as const;
type SystemName = (typeof ALL_SYSTEMS)[number];

const flags = parseFlags('Usage: npm run bench:peers -- [flags]   (tsx bench/peers/run.ts)', {
  tasks: { default: 5_000, help: 'tasks per throughput run' },
  runs: { default: 3, help: 'runs per system (medians are reported)' },
  systems: { default: ALL_SYSTEMS.join(','), help: 'systems to run (comma list)' },
  batch: { default: 500, help: 'enqueue batch size for systems with a batch insert (BullMQ, pg-boss, graphile-worker)' },
  warmup: { default: 500, help: 'tasks pushed through once per system before the runs, not measured' },
  pickup: { default: 200, help: 'tasks of the idle pick-up phase per run (0 = skip)' },
  interval: { default: 10, help: 'ms between tasks of the idle pick-up phase' },
  'tasques-producers': { default: 4, help: 'Tasques: concurrent producer connections (v1 has no batch create)' },
  'tasques-workers': { default: 8, help: 'Tasques: worker connections' },
  'tasques-amount': { default: 100, help: 'Tasques: claim amount' },
  'tasques-db-dir': { default: '', help: 'Tasques: directory for the server tmp dir and SQLite file (default OS tmp dir; try /dev/shm)' },
  'tasques-fresh-server': { default: false, help: 'Tasques: a fresh server (and database) for every run, warmed up each time; default one server per system for all its runs, warmed up once, like the peers\' processes' },
  'bullmq-concurrency': { default: 100, help: 'BullMQ: Worker concurrency (one Worker)' },
  'pgboss-workers': { default: 8, help: 'pg-boss: work() loops' },
  'pgboss-batch': { default: 100, help: 'pg-boss: work() batchSize' },
  'gw-concurrency': { default: 10, help: 'graphile-worker: concurrentJobs' },
  'gw-local-queue': { default: 100, help: 'graphile-worker: localQueue.size (0 = off)' },
  timeout: { default: 180, help: 'seconds before one run gives up' },
  'no-install': { default: false, help: 'do not install anything (fail if missing)' },
  'cpu-prof': { default: false, help: 'profile the Tasques server child (node --cpu-prof), print its top functions, keep the profile' },
  out: { default: '', help: 'results file stem (default bench/results/peers-<date>)' },
});

// ── Child processes and cleanup ───────────────────────────────────────────────────────────────────────

const children = new Set<ChildProcess>();
const tmpDirs = new Set<string>();
const servers = new Set<BenchServer>();

function killAllSync(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
}
process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`\nbench:peers: ${sig}, stopping children`);
    for (const s of servers) s.child.kill('SIGKILL');
    killAllSync();
    process.exit(130);
  });
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return Promise.race([
    new Promise<boolean>((resolve) => child.once('exit', () => resolve(true))),
    sleep(ms).then(() => false),
  ]);
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill(signal);
    if (!(await waitExit(child, 15_000))) {
      child.kill('SIGKILL');
      await waitExit(child, 5_000);
    }
  }
  children.delete(child);
}

function run(cmd: string, args: string[], opts: { uid?: number; gid?: number; timeoutMs?: number; cwd?: string } = {}): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit', timeout: opts.timeoutMs ?? 600_000, uid: opts.uid, gid: opts.gid, cwd: opts.cwd });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal ?? r.error?.message}`);
}

function which(bin: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

// ── Setup: packages and servers ───────────────────────────────────────────────────────────────────────

let aptUpdated = false;
function aptInstall(pkgs: string[]): void {
  if (flags['no-install']) throw new Error(`missing ${pkgs.join(', ')} (--no-install)`);
  if (!aptUpdated) {
    run('apt-get', ['update', '-qq']);
    aptUpdated = true;
  }
  spawnSync('sh', ['-c', `DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkgs.join(' ')}`], { stdio: 'inherit', timeout: 600_000 });
}

function pgBinDir(): string | undefined {
  for (const v of ['17', '16', '15', '14', '13']) {
    const d = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(join(d, 'postgres')) && existsSync(join(d, 'initdb'))) return d;
  }
  return undefined;
}

function ensureNodePeers(): void {
  const needed = ['bullmq', 'ioredis', 'pg-boss', 'graphile-worker', 'pg'];
  const missing = needed.filter((p) => !existsSync(join(PEERS_DIR, 'node_modules', p, 'package.json')));
  if (missing.length === 0) return;
  if (flags['no-install']) throw new Error(`missing ${missing.join(', ')} in bench/peers (--no-install)`);
  console.log(`installing ${missing.join(', ')} into bench/peers …`);
  run('npm', ['install', '--prefix', PEERS_DIR, '--no-audit', '--no-fund'], { cwd: ROOT });
}

const req = createRequire(join(PEERS_DIR, 'package.json'));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function peer(name: string): Promise<any> {
  const resolved = req.resolve(name);
  return import(pathToFileURL(resolved).href);
}

interface Redis {
  port: number;
  stop(): Promise<void>;
}
async function startRedis(): Promise<Redis> {
  if (!which('redis-server')) aptInstall(['redis-server']);
  const bin = which('redis-server');
  if (!bin) throw new Error('redis-server not found after install');
  const dir = mkdtempSync(join(tmpdir(), 'peers-redis-'));
  tmpDirs.add(dir);
  const port = await freePort();
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  const deadline = now() + 15_000;
  for (;;) {
    const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], { encoding: 'utf8' });
    if (r.stdout?.trim() === 'PONG') break;
    if (now() > deadline || child.exitCode !== null) throw new Error('redis did not start');
    await sleep(100);
  }
  return {
    port,
    stop: async () => {
      await stopChild(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
      tmpDirs.delete(dir);
    },
  };
}

interface Postgres {
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}
async function startPostgres(): Promise<Postgres> {
  if (!pgBinDir()) aptInstall(['postgresql']);
  const binDir = pgBinDir();
  if (!binDir) throw new Error('postgresql binaries not found after install');
  const idOut = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gidOut = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (idOut.status !== 0) throw new Error('no "postgres" system user (PostgreSQL refuses to run as root)');
  const uid = Number(idOut.stdout.trim());
  const gid = Number(gidOut.stdout.trim());
  const dir = mkdtempSync(join(tmpdir(), 'peers-pg-'));
  tmpDirs.add(dir);
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  run(join(binDir, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'], { uid, gid, cwd: dir, timeoutMs: 120_000 });
  const port = await freePort();
  const child = spawn(
    join(binDir, 'postgres'),
    ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=100', '-c', 'shared_buffers=128MB'],
    { uid, gid, cwd: dir, stdio: ['ignore', 'ignore', 'ignore'] },
  );
  children.add(child);
  const deadline = now() + 30_000;
  for (;;) {
    const r = spawnSync(join(binDir, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)], { encoding: 'utf8' });
    if (r.status === 0) break;
    if (now() > deadline || child.exitCode !== null) throw new Error('postgres did not start');
    await sleep(200);
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    pid: child.pid,
    stop: async () => {
      await stopChild(child, 'SIGINT'); // fast shutdown
      rmSync(dir, { recursive: true, force: true });
      tmpDirs.delete(dir);
    },
  };
}

// ── The workload ──────────────────────────────────────────────────────────────────────────────────────

/** What a system adapter does; every index i in 0..n-1 is one task carrying {i}. */
interface Adapter {
  /** Start the workers on `queue`; onStart(i) at handler entry (or claim received), onDone(i) when completion is acknowledged. */
  startWorkers(queue: string, onStart: (i: number) => void, onDone: (i: number) => void): Promise<void>;
  /** Enqueue tasks [from, to) as one call (batch) or, for systems without batches, as the adapter sees fit. */
  enqueue(queue: string, indexes: number[]): Promise<void>;
  /** How the producer is shaped: batch size and concurrency. */
  producer: { batch: number; concurrency: number };
  /** Stop the workers of `queue`. */
  stopWorkers(): Promise<void>;
  /** Optional: wait until the store confirms that all of queue's tasks are complete; returns now() then. */
  confirmComplete?(queue: string, n: number, deadline: number): Promise<number>;
  close(): Promise<void>;
  settings: string;
  /** Optional per-phase detail (e.g. Tasques' tasks per claim), read after the throughput phase. */
  detail?: () => string;
}

interface RunFigures {
  tasks: number;
  done: number;
  enqueuePerS: number;
  processedPerS: number;
  loadP50: number;
  loadP99: number;
  idleP50: number;
  idleP99: number;
  benchCpuPct: number;
  timedOut: boolean;
  detail: string;
}

async function throughputPhase(a: Adapter, queue: string, n: number, timeoutMs: number): Promise<Omit<RunFigures, 'idleP50' | 'idleP99'>> {
  const ackAt = new Float64Array(n).fill(Number.NaN);
  const startAt = new Float64Array(n).fill(Number.NaN);
  let started = 0;
  let done = 0;
  let lastDone = 0;
  let resolveAll!: () => void;
  const allDone = new Promise<void>((r) => (resolveAll = r));
  await a.startWorkers(
    queue,
    (i) => {
      if (Number.isNaN(startAt[i] as number)) {
        startAt[i] = now();
        started++;
      }
    },
    (i) => {
      if (i >= 0 && i < n) {
        done++;
        lastDone = now();
        if (done >= n) resolveAll();
      }
    },
  );
  const deadline = now() + timeoutMs;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  let lastAck = 0;
  let next = 0;
  const producer = async () => {
    while (next < n && now() < deadline) {
      const from = next;
      const to = Math.min(n, from + a.producer.batch);
      next = to;
      const idx = Array.from({ length: to - from }, (_, k) => from + k);
      await a.enqueue(queue, idx);
      const at = now();
      for (const i of idx) ackAt[i] = at;
      if (at > lastAck) lastAck = at;
    }
  };
  await Promise.all(Array.from({ length: a.producer.concurrency }, () => producer()));
  await Promise.race([allDone, sleep(Math.max(0, deadline - now()))]);
  let end = lastDone;
  if (a.confirmComplete && done >= n) end = await a.confirmComplete(queue, n, deadline);
  const cpu = process.cpuUsage(cpu0);
  await a.stopWorkers();
  const load: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = (startAt[i] as number) - (ackAt[i] as number);
    if (Number.isFinite(d)) load.push(d);
  }
  const s = summarize(load);
  return {
    tasks: n,
    done,
    enqueuePerS: (n / (lastAck - t0)) * 1000,
    processedPerS: (done / (end - t0)) * 1000,
    loadP50: s.p50,
    loadP99: s.p99,
    benchCpuPct: (100 * (cpu.user + cpu.system)) / 1000 / (end - t0),
    timedOut: done < n || started < n,
    detail: a.detail?.() ?? '',
  };
}

/** Idle pick-up: workers waiting, one task every `interval` ms, enqueue acknowledged → handler entry. */
async function idlePhase(a: Adapter, queue: string, n: number, interval: number, timeoutMs: number): Promise<{ p50: number; p99: number }> {
  if (n <= 0) return { p50: Number.NaN, p99: Number.NaN };
  const ackAt = new Float64Array(n).fill(Number.NaN);
  const startAt = new Float64Array(n).fill(Number.NaN);
  let done = 0;
  await a.startWorkers(
    queue,
    (i) => {
      if (i >= 0 && i < n) startAt[i] = now();
    },
    () => {
      done++;
    },
  );
  await sleep(300); // let the workers reach their waiting state
  const deadline = now() + timeoutMs;
  const t0 = now();
  for (let i = 0; i < n && now() < deadline; i++) {
    const due = t0 + i * interval;
    if (due > now()) await sleep(due - now());
    await a.enqueue(queue, [i]);
    ackAt[i] = now();
  }
  const until = Math.min(deadline, now() + 5_000);
  for (let k = 0; k < 1000 && done < n && now() < until; k++) await sleep(10);
  await a.stopWorkers();
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = (startAt[i] as number) - (ackAt[i] as number);
    if (Number.isFinite(d)) lat.push(d);
  }
  const s = summarize(lat);
  return { p50: s.p50, p99: s.p99 };
}

// ── Adapters ──────────────────────────────────────────────────────────────────────────────────────────

/** Tasques over HTTP: v1 calls (one create and one done per task), or with `batch` the additive batch
 * endpoints (POST /tasques/batch with the producer's batch, one PUT /tasques/done per claim). */
async function tasquesAdapter(server: BenchServer, batch = false): Promise<Adapter> {
  const producers = flags['tasques-producers'];
  const workersN = flags['tasques-workers'];
  const amount = flags['tasques-amount'];
  const producerClients = Array.from({ length: producers }, () => new HttpClient(server.url));
  let pc = 0;
  let stopping = false;
  let workerClients: HttpClient[] = [];
  let loops: Promise<void>[] = [];
  let claims = 0;
  let emptyClaims = 0;
  let claimed = 0;
  return {
    detail: () => `${fmtInt(claims)} claims (${fmtInt(emptyClaims)} empty), ${(claimed / Math.max(1, claims - emptyClaims)).toFixed(2)} tasks per non-empty claim`,
    settings: batch
      ? `batch HTTP: POST /tasques/batch of ${flags.batch} from ${producers} producer connections, ${workersN} workers, claim amount ${amount}, block_for 1s, one PUT /tasques/done per claim`
      : `v1 HTTP, ${producers} producer connections (one POST per task), ${workersN} workers, claim amount ${amount}, block_for 1s, one done per task`,
    producer: { batch: batch ? flags.batch : 1, concurrency: producers },
    async enqueue(queue, indexes) {
      const client = producerClients[pc++ % producers] as HttpClient;
      if (batch) {
        await createTasks(client, queue, indexes.map((i) => ({ i })));
        return;
      }
      for (const i of indexes) await createTask(client, queue, { i });
    },
    async startWorkers(queue, onStart, onDone) {
      stopping = false;
      claims = 0;
      emptyClaims = 0;
      claimed = 0;
      workerClients = Array.from({ length: workersN }, () => new HttpClient(server.url));
      loops = workerClients.map(async (client, w) => {
        const workerId = `peers-worker-${w}`;
        for (let k = 0; k < 10_000_000 && !stopping; k++) {
          let tasks;
          try {
            tasks = (await claimTasks(client, workerId, [queue], amount, '1s')).body;
            claims++;
            if (tasks.length === 0) emptyClaims++;
            claimed += tasks.length;
          } catch (e) {
            if (!stopping) console.error(`  tasques claim: ${(e as Error).message}`);
            if (!stopping) await sleep(50);
            continue;
          }
          for (const t of tasks) {
            const i = Number((t as unknown as { args?: { i?: number } }).args?.i ?? -1);
            onStart(i);
          }
          if (batch && tasks.length > 0 && !stopping) {
            try {
              await markDoneMany(client, workerId, tasks);
              for (const t of tasks) onDone(Number((t as unknown as { args?: { i?: number } }).args?.i ?? -1));
            } catch (e) {
              if (!stopping) console.error(`  tasques done: ${(e as Error).message}`);
            }
            continue;
          }
          for (const t of tasks) {
            if (stopping) break;
            const i = Number((t as unknown as { args?: { i?: number } }).args?.i ?? -1);
            try {
              await markDone(client, workerId, t);
              onDone(i);
            } catch (e) {
              if (!stopping) console.error(`  tasques done: ${(e as Error).message}`);
            }
          }
        }
      });
    },
    async stopWorkers() {
      stopping = true;
      for (const c of workerClients) c.close();
      await Promise.race([Promise.allSettled(loops), sleep(5_000)]);
    },
    async close() {
      for (const c of producerClients) c.close();
    },
  };
}

async function bullmqAdapter(redisPort: number): Promise<Adapter> {
  const { Queue, Worker } = await peer('bullmq');
  const connection = { host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: null };
  const concurrency = flags['bullmq-concurrency'];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const queues = new Map<string, any>();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let worker: any;
  const q = (name: string) => {
    let x = queues.get(name);
    if (!x) {
      x = new Queue(name, { connection, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
      queues.set(name, x);
    }
    return x;
  };
  return {
    settings: `Queue.addBulk (batch ${flags.batch}), one Worker, concurrency ${concurrency}, removeOnComplete; Redis without persistence`,
    producer: { batch: flags.batch, concurrency: 1 },
    async enqueue(queue, indexes) {
      await q(queue).addBulk(indexes.map((i) => ({ name: 'noop', data: { i } })));
    },
    async startWorkers(queue, onStart, onDone) {
      worker = new Worker(
        queue,
        async (job: { data: { i: number } }) => {
          onStart(job.data.i);
        },
        { connection, concurrency, removeOnComplete: { count: 0 }, removeOnFail: { count: 0 } },
      );
      worker.on('completed', (job: { data: { i: number } }) => onDone(job.data.i));
      worker.on('error', (e: Error) => console.error(`  bullmq: ${e.message}`));
      await worker.waitUntilReady();
    },
    async stopWorkers() {
      await Promise.race([worker?.close(), sleep(10_000)]);
    },
    async close() {
      for (const x of queues.values()) await x.close();
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function countRows(pool: any, sql: string, params: unknown[]): Promise<number> {
  const r = await pool.query(sql, params);
  return Number(r.rows[0]?.n ?? 0);
}

async function pgBossAdapter(pgUrl: string): Promise<Adapter> {
  const mod = await peer('pg-boss');
  const PgBoss = mod.default ?? mod;
  const pg = await peer('pg');
  const pool = new (pg.default ?? pg).Pool({ connectionString: pgUrl, max: 2 });
  const boss = new PgBoss({ connectionString: pgUrl, schedule: false, supervise: false, max: 10 });
  boss.on('error', (e: Error) => console.error(`  pg-boss: ${e.message}`));
  await boss.start();
  const workersN = flags['pgboss-workers'];
  const batchSize = flags['pgboss-batch'];
  const created = new Set<string>();
  let workerIds: string[] = [];
  let currentQueue = '';
  const ensure = async (name: string) => {
    if (!created.has(name)) {
      await boss.createQueue(name);
      created.add(name);
    }
  };
  return {
    settings: `insert (batch ${flags.batch}), ${workersN} work() loops, batchSize ${batchSize}, pollingIntervalSeconds 0.5 (the minimum)`,
    producer: { batch: flags.batch, concurrency: 1 },
    async enqueue(queue, indexes) {
      await ensure(queue);
      await boss.insert(indexes.map((i) => ({ name: queue, data: { i } })));
    },
    async startWorkers(queue, onStart, onDone) {
      await ensure(queue);
      currentQueue = queue;
      workerIds = [];
      for (let w = 0; w < workersN; w++) {
        const id = await boss.work(queue, { batchSize, pollingIntervalSeconds: 0.5 }, async (jobs: { data: { i: number } }[]) => {
          for (const j of jobs) onStart(j.data.i);
          // pg-boss completes the batch after the handler resolves; counted by confirmComplete.
          queueMicrotask(() => {
            for (const j of jobs) onDone(j.data.i);
          });
        });
        workerIds.push(id);
      }
    },
    async confirmComplete(queue, n, deadline) {
      for (let k = 0; k < 100_000 && now() < deadline; k++) {
        const c = await countRows(pool, `select count(*)::int as n from pgboss.job where name = $1 and state = 'completed'`, [queue]);
        if (c >= n) return now();
        await sleep(5);
      }
      return now();
    },
    async stopWorkers() {
      await Promise.race([boss.offWork(currentQueue), sleep(10_000)]);
    },
    async close() {
      await Promise.race([boss.stop({ graceful: false, wait: true, timeout: 5_000 }), sleep(10_000)]);
      await pool.end();
    },
  };
}

async function graphileAdapter(pgUrl: string): Promise<Adapter> {
  const gw = await peer('graphile-worker');
  const pg = await peer('pg');
  const pool = new (pg.default ?? pg).Pool({ connectionString: pgUrl, max: 2 });
  const utils = await gw.makeWorkerUtils({ connectionString: pgUrl });
  await utils.migrate();
  const concurrency = flags['gw-concurrency'];
  const lq = flags['gw-local-queue'];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let runner: any;
  let handlers: { onStart: (i: number) => void; onDone: (i: number) => void } = { onStart: () => {}, onDone: () => {} };
  return {
    settings: `addJobs (batch ${flags.batch}), concurrentJobs ${concurrency}${lq > 0 ? `, localQueue.size ${lq}` : ''}, completeJobBatchDelay 0, LISTEN/NOTIFY`,
    producer: { batch: flags.batch, concurrency: 1 },
    async enqueue(queue, indexes) {
      await utils.addJobs(indexes.map((i) => ({ identifier: 'noop', payload: { i, q: queue } })));
    },
    async startWorkers(_queue, onStart, onDone) {
      handlers = { onStart, onDone };
      runner = await gw.run({
        noHandleSignals: true,
        logger: new gw.Logger(() => () => {}),
        preset: {
          worker: {
            connectionString: pgUrl,
            concurrentJobs: concurrency,
            maxPoolSize: Math.max(10, concurrency + 2),
            pollInterval: 2000,
            ...(lq > 0 ? { localQueue: { size: lq } } : {}),
            completeJobBatchDelay: 0,
          },
        },
        taskList: {
          noop: async (payload: { i: number }) => {
            handlers.onStart(payload.i);
          },
        },
      });
      runner.events.on('job:complete', ({ job }: { job: { payload: { i: number } } }) => handlers.onDone(job.payload.i));
    },
    async confirmComplete(_queue, _n, deadline) {
      for (let k = 0; k < 100_000 && now() < deadline; k++) {
        const c = await countRows(pool, `select count(*)::int as n from graphile_worker._private_jobs`, []);
        if (c === 0) return now();
        await sleep(5);
      }
      return now();
    },
    async stopWorkers() {
      await Promise.race([runner?.stop(), sleep(10_000)]);
    },
    async close() {
      await utils.release();
      await pool.end();
    },
  };
}

// ── Main ──────────────────────────────────────────────────────────────────────────────────────────────

const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface SystemResult {
  system: SystemName;
  settings: string;
  runs: RunFigures[];
  median: { enqueuePerS: number; processedPerS: number; loadP50: number; loadP99: number; idleP50: number; idleP99: number };
  error?: string;
}

async function runSystem(system: SystemName, ctx: { redis?: Redis; pg?: Postgres }): Promise<SystemResult> {
  const runs: RunFigures[] = [];
  let settings = '';
  const timeoutMs = flags.timeout * 1000;
  const isTasques = system === 'tasques' || system === 'tasques-batch';
  // One server for all runs (as the peers keep one process, Redis and PostgreSQL), unless asked otherwise.
  const fresh = flags['tasques-fresh-server'];
  let shared: BenchServer | undefined;
  const stopServer = async (server: BenchServer) => {
    const profile = await server.stop();
    servers.delete(server);
    if (profile) {
      console.log(`\n== Tasques server CPU profile, last run (includes warm-up and idle phase) ==`);
      printProfileTop(profile, 25);
    }
  };
  for (let r = 0; r < flags.runs; r++) {
    let server: BenchServer | undefined;
    let a: Adapter | undefined;
    try {
      if (isTasques) {
        if (fresh || shared === undefined) {
          server = await startServer({ cpuProf: flags['cpu-prof'] && (fresh ? r === flags.runs - 1 : true), tmpRoot: flags['tasques-db-dir'] || undefined });
          servers.add(server);
          if (!fresh) shared = server;
        }
        a = await tasquesAdapter((server ?? shared)!, system === 'tasques-batch');
      } else if (system === 'bullmq') a = await bullmqAdapter(ctx.redis!.port);
      else if (system === 'pg-boss') a = await pgBossAdapter(ctx.pg!.url);
      else a = await graphileAdapter(ctx.pg!.url);
      settings = a.settings;
      const tag = `${system.replace(/[^a-z]/g, '')}-r${r}-${Date.now()}`;
      // Warm-up: once per process (every run when each Tasques run gets a fresh server).
      if (flags.warmup > 0 && (r === 0 || (isTasques && fresh))) await throughputPhase(a, `warm-${tag}`, flags.warmup, timeoutMs);
      const t = await throughputPhase(a, `tp-${tag}`, flags.tasks, timeoutMs);
      const idle = await idlePhase(a, `idle-${tag}`, flags.pickup, flags.interval, timeoutMs);
      const fig: RunFigures = { ...t, idleP50: idle.p50, idleP99: idle.p99 };
      runs.push(fig);
      console.log(
        `  ${system} run ${r + 1}: ${fmtInt(fig.done)}/${fmtInt(fig.tasks)}, enqueue ${fmtInt(fig.enqueuePerS)}/s, processed ${fmtInt(fig.processedPerS)}/s, ` +
          `pick-up under load p50 ${fmtMs(fig.loadP50)} p99 ${fmtMs(fig.loadP99)} ms, idle p50 ${fmtMs(fig.idleP50)} p99 ${fmtMs(fig.idleP99)} ms` +
          `${fig.timedOut ? ' (TIMED OUT)' : ''}${fig.detail ? `; ${fig.detail}` : ''}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
      );
    } catch (e) {
      console.error(`  ${system} run ${r + 1} failed: ${(e as Error).stack ?? e}`);
      if (shared) await stopServer(shared);
      return { system, settings, runs, median: medians(runs), error: (e as Error).message };
    } finally {
      await a?.close().catch(() => {});
      if (server && fresh) await stopServer(server);
    }
  }
  if (shared) await stopServer(shared);
  return { system, settings, runs, median: medians(runs) };
}

function medians(runs: RunFigures[]): SystemResult['median'] {
  return {
    enqueuePerS: median(runs.map((r) => r.enqueuePerS)),
    processedPerS: median(runs.map((r) => r.processedPerS)),
    loadP50: median(runs.map((r) => r.loadP50)),
    loadP99: median(runs.map((r) => r.loadP99)),
    idleP50: median(runs.map((r) => r.idleP50)),
    idleP99: median(runs.map((r) => r.idleP99)),
  };
}

async function main(): Promise<void> {
  const systems = flags.systems.split(',').map((s) => s.trim()).filter(Boolean) as SystemName[];
  for (const s of systems) if (!ALL_SYSTEMS.includes(s)) throw new Error(`unknown system ${s}; known: ${ALL_SYSTEMS.join(', ')}`);
  const command = `npm run bench:peers -- ${process.argv.slice(2).join(' ')}`.trim();
  const startLoad = machineLine();
  console.log(`bench:peers: ${fmtInt(flags.tasks)} tasks × ${flags.runs} runs per system; systems ${systems.join(', ')}`);
  console.log(startLoad);

  if (systems.some((s) => !s.startsWith('tasques'))) ensureNodePeers();
  const ctx: { redis?: Redis; pg?: Postgres } = {};
  const results: SystemResult[] = [];
  try {
    if (systems.includes('bullmq')) ctx.redis = await startRedis();
    if (systems.includes('pg-boss') || systems.includes('graphile-worker')) ctx.pg = await startPostgres();
    for (const s of systems) {
      console.log(`\n${s}:`);
      results.push(await runSystem(s, ctx));
    }
  } finally {
    await ctx.redis?.stop().catch(() => {});
    await ctx.pg?.stop().catch(() => {});
  }
  const endLoad = machineLine();

  const tq = results.find((r) => r.system === 'tasques');
  const ratio = (x: number, y: number) => (Number.isFinite(x) && Number.isFinite(y) && y > 0 ? `${(x / y).toFixed(2)}×` : '-');
  const headers = ['system', 'enqueue/s', 'processed/s', 'load p50 ms', 'load p99 ms', 'idle p50 ms', 'idle p99 ms', 'runs', 'Tasques ÷ it (processed)', 'Tasques ÷ it (enqueue)'];
  const rows = results.map((r) => [
    r.system,
    fmtInt(r.median.enqueuePerS),
    fmtInt(r.median.processedPerS),
    fmtMs(r.median.loadP50),
    fmtMs(r.median.loadP99),
    fmtMs(r.median.idleP50),
    fmtMs(r.median.idleP99),
    `${r.runs.length}/${flags.runs}${r.error ? ' ERR' : ''}`,
    tq && r !== tq ? ratio(tq.median.processedPerS, r.median.processedPerS) : '',
    tq && r !== tq ? ratio(tq.median.enqueuePerS, r.median.enqueuePerS) : '',
  ]);
  console.log(`\n${command}`);
  console.log(`start: ${startLoad}\nend:   ${endLoad}`);
  printTable(headers, rows, `Medians of ${flags.runs} runs, ${fmtInt(flags.tasks)} no-op tasks each`);
  for (const r of results) console.log(`  ${r.system}: ${r.settings}${r.error ? `  [error: ${r.error}]` : ''}`);

  mkdirSync(RESULTS_DIR, { recursive: true });
  const date = new Date().toISOString().replace(/:/g, '-').slice(0, 16);
  const stem = flags.out || join(RESULTS_DIR, `peers-${date}`);
  const json = { command, date: new Date().toISOString(), machineStart: startLoad, machineEnd: endLoad, flags, results };
  writeFileSync(`${stem}.json`, `${JSON.stringify(json, null, 2)}\n`);
  const md = [
    `# bench:peers — ${new Date().toISOString()}`,
    '',
    '```sh',
    command,
    '```',
    '',
    `- start: ${startLoad}`,
    `- end: ${endLoad}`,
    '',
    `Medians of ${flags.runs} runs, ${fmtInt(flags.tasks)} no-op tasks each (see bench/peers/README.md).`,
    '',
    `| ${headers.join(' | ')} |`,
    `| ${headers.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    ...results.map((r) => `- **${r.system}**: ${r.settings}${r.error ? ` — error: ${r.error}` : ''}`),
    '',
    '## Every run',
    '',
    '| system | run | done | enqueue/s | processed/s | load p50 | load p99 | idle p50 | idle p99 | bench CPU | detail |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...results.flatMap((r) =>
      r.runs.map(
        (f, k) =>
          `| ${r.system} | ${k + 1} | ${f.done}${f.timedOut ? ' (timed out)' : ''} | ${fmtInt(f.enqueuePerS)} | ${fmtInt(f.processedPerS)} | ${fmtMs(f.loadP50)} | ${fmtMs(f.loadP99)} | ${fmtMs(f.idleP50)} | ${fmtMs(f.idleP99)} | ${f.benchCpuPct.toFixed(0)}% | ${f.detail} |`,
      ),
    ),
    '',
  ].join('\n');
  writeFileSync(`${stem}.md`, md);
  console.log(`\nwrote ${stem}.json and ${stem}.md`);
  if (results.some((r) => r.error || r.runs.some((f) => f.timedOut))) process.exitCode = 1;
}

try {
  await main();
} catch (e) {
  console.error(`bench:peers failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  for (const s of servers) await s.stop().catch(() => {});
  killAllSync();
}
// Peer clients (ioredis, pg pools) can hold the loop open; everything is stopped, so leave.
setTimeout(() => process.exit(), 500).unref();
