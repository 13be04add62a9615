/**
 * Shared pieces of the benchmarks in bench/: a real server in a child process (the built CLI,
 * `node bin/tasques.mjs serve`), a keep-alive HTTP client on node:http (no extra dependencies),
 * percentiles, a table printer, flag parsing and a CPU-profile summariser.
 *
 * Benchmarks are run by hand and print their figures; they are never timed tests. Every loop in them
 * is bounded in count and in time, and they only ever talk to 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
// TASQUES_BENCH_ROOT runs another build (a folder with bin/ and dist/, e.g. a copy of an earlier build)
// for back-to-back comparisons.
export const SERVER_ROOT = process.env.TASQUES_BENCH_ROOT || ROOT;
const cliOf = (root: string) => join(root, 'bin', 'tasques.mjs');
const distEntryOf = (root: string) => join(root, 'dist', 'cli', 'main.js');

/** Monotonic milliseconds (sub-ms resolution), comparable within this process. */
export const now = (): number => performance.now();

/** One line describing the machine, printed with every result: figures depend on it. */
export function machineLine(): string {
  const la = loadavg().map((n) => n.toFixed(2)).join(' ');
  return `node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${la}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

// ── Server child process ──────────────────────────────────────────────────────────────────────────────

export interface StartServerOptions {
  /** SQLite file; default <fresh tmp dir>/bench.db. */
  dbPath?: string;
  /** Extra TASQUES_SERVER_* variables (they override the defaults below). */
  env?: Record<string, string>;
  /** Write a V8 CPU profile of the server (node --cpu-prof) into the tmp dir; read it after stop(). */
  cpuProf?: boolean;
  /** Give up waiting for readiness after this long. */
  readyTimeoutMs?: number;
  /** Keep the tmp dir (database, profile) after stop(). */
  keep?: boolean;
  /** Where to make the tmp dir (default the OS tmp dir), e.g. /dev/shm to take the disk out of the figures. */
  tmpRoot?: string;
  /** Start bench/null-server.mjs (plain node:http, no storage: the ceiling of the call pattern) instead. */
  nullServer?: boolean;
  /** The build to run (a folder with bin/ and dist/); default TASQUES_BENCH_ROOT or this checkout. */
  root?: string;
}

export interface BenchServer {
  url: string;
  port: number;
  dbPath: string;
  /** The tmp dir holding the database and, with cpuProf, the profile. */
  dir: string;
  child: ChildProcess;
  /** SIGTERM, wait (bounded) for a graceful exit, SIGKILL if it hangs. Returns the .cpuprofile path, if any. */
  stop(): Promise<string | undefined>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function assertBuilt(root: string = SERVER_ROOT): void {
  const entry = distEntryOf(root);
  if (!existsSync(entry)) {
    throw new Error(`dist/ is missing (${entry}); run \`npm run build\` first`);
  }
}

/**
 * Node flags of the server process: those `npm start` and the image use (README, "Memory"), unless
 * TASQUES_BENCH_SERVER_NODE_FLAGS says otherwise (space-separated; empty for Node's defaults).
 */
const SERVER_NODE_FLAGS = (process.env.TASQUES_BENCH_SERVER_NODE_FLAGS ?? '--max-semi-space-size=16').split(' ').filter((f) => f !== '');

export async function startServer(options: StartServerOptions = {}): Promise<BenchServer> {
  const root = options.root ?? SERVER_ROOT;
  if (!options.nullServer) assertBuilt(root);
  const dir = mkdtempSync(join(options.tmpRoot ?? tmpdir(), 'tasques-bench-'));
  const dbPath = options.dbPath ?? join(dir, 'bench.db');
  const port = await freePort();
  const nodeArgs = [...SERVER_NODE_FLAGS, ...(options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [])];
  const entry = options.nullServer ? join(ROOT, 'bench', 'null-server.mjs') : cliOf(root);
  const child = spawn(process.execPath, [...nodeArgs, entry, 'serve'], {
    cwd: dir,
    env: {
      ...process.env,
      TASQUES_SERVER_BIND_ADDRESS: `127.0.0.1:${port}`,
      TASQUES_SERVER_STORE_SQLITE_PATH: dbPath,
      TASQUES_SERVER_LOGGING_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  const url = `http://127.0.0.1:${port}`;

  const stop = async (): Promise<string | undefined> => {
    if (!exited) {
      child.kill('SIGTERM');
      const hung = await Promise.race([exitPromise.then(() => false), sleep(15_000).then(() => true)]);
      if (hung) {
        process.stderr.write('bench: server did not stop within 15s; SIGKILL\n');
        child.kill('SIGKILL');
        await Promise.race([exitPromise, sleep(5_000)]);
      }
    }
    let profile: string | undefined;
    if (options.cpuProf) {
      const name = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      profile = name === undefined ? undefined : join(dir, name);
    }
    if (!options.keep && !options.cpuProf) rmSync(dir, { recursive: true, force: true });
    return profile;
  };

  // Ready when it answers HTTP at all: a GET of a task that does not exist is a cheap 404.
  const deadline = now() + (options.readyTimeoutMs ?? 20_000);
  const probe = new HttpClient(url, 1);
  try {
    for (;;) {
      if (exited) throw new Error(`server exited during start-up (code ${exited.code}, signal ${exited.signal})`);
      try {
        const res = await probe.request('GET', '/tasques/bench-ready/none', undefined, {}, 1_000);
        if (res.status > 0) break;
      } catch {
        // not listening yet
      }
      if (now() > deadline) {
        await stop();
        throw new Error('server did not become ready in time');
      }
      await sleep(50);
    }
  } finally {
    probe.close();
  }
  return { url, port, dbPath, dir, child, stop };
}

/**
 * CPU time (user + system, ms) a process has used so far, from /proc (Linux); undefined elsewhere.
 * Sampled around a phase it tells whether the server's single event loop was the bound (≈ 100 %).
 */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state(0) … utime(11) stime(12), in clock ticks (USER_HZ, 100 on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * Resident memory of a process from /proc/<pid>/status (Linux), in MiB: `rss` now and `peak` (VmHWM, the
 * high-water mark since it started); undefined elsewhere or once it has exited.
 */
export function processRssMb(pid: number | undefined): { rss: number; peak: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

// ── HTTP client ───────────────────────────────────────────────────────────────────────────────────────

export interface HttpResult<T> {
  status: number;
  body: T;
  /** now() when the whole response had arrived. */
  at: number;
}

/** A keep-alive client; give each simulated producer or worker its own (one connection each). */
export class HttpClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string, maxSockets = 1) {
    const u = new URL(baseUrl);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    timeoutMs = 65_000,
  ): Promise<HttpResult<T>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.host,
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: {
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const at = now();
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = undefined;
            if (text.length > 0) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = text;
              }
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T, at });
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Closes every connection, aborting requests in flight. */
  close(): void {
    this.agent.destroy();
  }
}

/** The parts of a v1 task the benchmarks read. */
export interface TaskJson {
  id: string;
  queue: string;
  state: string;
  metadata: { created_at: string };
  last_claimed?: { claimed_at: string; worker_id: string };
}

/** Sends GET /healthz every 10 ms until stopped; answers the longest round trip seen (ms). */
export function healthProbe(url: string): { stop(): Promise<number> } {
  const client = new HttpClient(url, 1);
  let running = true;
  let longest = 0;
  const loop = (async () => {
    for (let i = 0; running && i < 100_000; i++) {
      const started = now();
      try {
        await client.request('GET', '/healthz', undefined, {}, 120_000);
      } catch {
        // counted by its duration
      }
      longest = Math.max(longest, now() - started);
      await sleep(10);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      client.close();
      return longest;
    },
  };
}

export const WORKER_HEADER = 'x-tasques-worker-id';

export async function createTask(
  client: HttpClient,
  queue: string,
  args: Record<string, unknown> = {},
): Promise<HttpResult<TaskJson>> {
  const res = await client.request<TaskJson>('POST', '/tasques', { queue, kind: 'noop', args });
  if (res.status !== 201) throw new Error(`create: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

export async function claimTasks(
  client: HttpClient,
  workerId: string,
  queues: string[],
  amount: number,
  blockFor: string,
  timeoutMs = 65_000,
): Promise<HttpResult<TaskJson[]>> {
  const res = await client.request<TaskJson[]>(
    'POST',
    '/tasques/claims',
    { queues, amount, block_for: blockFor },
    { [WORKER_HEADER]: workerId },
    timeoutMs,
  );
  if (res.status !== 200 || !Array.isArray(res.body)) {
    throw new Error(`claim: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res;
}

export async function markDone(
  client: HttpClient,
  workerId: string,
  task: { queue: string; id: string },
): Promise<HttpResult<TaskJson>> {
  const path = `/tasques/done/${encodeURIComponent(task.queue)}/${encodeURIComponent(task.id)}`;
  const res = await client.request<TaskJson>('PUT', path, {}, { [WORKER_HEADER]: workerId });
  if (res.status !== 200) throw new Error(`done: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

/** `POST /tasques/batch`: enqueues `argsList.length` tasks in one call; every item must answer 201. */
export async function createTasks(
  client: HttpClient,
  queue: string,
  argsList: Record<string, unknown>[],
): Promise<HttpResult<{ results: { status: number; task?: TaskJson }[] }>> {
  const res = await client.request<{ results: { status: number; task?: TaskJson }[] }>('POST', '/tasques/batch', {
    tasks: argsList.map((args) => ({ queue, kind: 'noop', args })),
  });
  if (res.status !== 200 || res.body.results.some((r) => r.status !== 201)) {
    throw new Error(`batch create: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  }
  return res;
}

/** `PUT /tasques/done`: marks every given task done in one call; every item must answer 200. */
export async function markDoneMany(
  client: HttpClient,
  workerId: string,
  tasks: { queue: string; id: string }[],
): Promise<HttpResult<{ results: { status: number }[] }>> {
  const res = await client.request<{ results: { status: number }[] }>(
    'PUT',
    '/tasques/done',
    { tasks: tasks.map((t) => ({ queue: t.queue, id: t.id })) },
    { [WORKER_HEADER]: workerId },
  );
  if (res.status !== 200 || res.body.results.some((r) => r.status !== 200)) {
    throw new Error(`batch done: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  }
  return res;
}

// ── Statistics ────────────────────────────────────────────────────────────────────────────────────────

export interface Summary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array; p in 0..100. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** Milliseconds with a precision that suits their size. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const abs = Math.abs(ms);
  if (abs >= 100) return ms.toFixed(0);
  if (abs >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return '-';
  return Math.round(n).toLocaleString('en-US');
}

// ── Table printer ─────────────────────────────────────────────────────────────────────────────────────

/** Prints a plain-text table; the first column is left-aligned, the others right-aligned. */
export function printTable(headers: readonly string[], rows: readonly (readonly (string | number)[])[], title?: string): void {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? String(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const out: string[] = [];
  if (title) out.push('', title);
  out.push(line(headers), widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells) out.push(line(r));
  console.log(out.join('\n'));
}

// ── Flags ─────────────────────────────────────────────────────────────────────────────────────────────

export type FlagSpec = Record<string, { default: string | number | boolean; help: string }>;
export type Flags<S extends FlagSpec> = { [K in keyof S]: S[K]['default'] extends boolean ? boolean : S[K]['default'] extends number ? number : string };

/** `--name value` / `--name=value` flags from process.argv, typed by their defaults; --help prints them. */
export function parseFlags<S extends FlagSpec>(usage: string, spec: S): Flags<S> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [name, s] of Object.entries(spec)) options[name] = { type: typeof s.default === 'boolean' ? 'boolean' : 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: process.argv.slice(2), options, allowPositionals: false }).values as typeof values;
  } catch (e) {
    console.error(`${(e as Error).message}\n`);
    printUsage(usage, spec);
    process.exit(2);
  }
  if (values.help) {
    printUsage(usage, spec);
    process.exit(0);
  }
  const out: Record<string, string | number | boolean> = {};
  for (const [name, s] of Object.entries(spec)) {
    const raw = values[name];
    if (raw === undefined) out[name] = s.default;
    else if (typeof s.default === 'number') {
      const n = Number(String(raw).replace(/_/g, ''));
      if (!Number.isFinite(n)) {
        console.error(`--${name}: not a number: ${String(raw)}`);
        process.exit(2);
      }
      out[name] = n;
    } else out[name] = raw;
  }
  return out as Flags<S>;
}

function printUsage(usage: string, spec: FlagSpec): void {
  const lines = Object.entries(spec).map(
    ([name, s]) => `  --${name.padEnd(12)} ${s.help}${s.default === '' ? '' : ` (default ${String(s.default)})`}`,
  );
  console.log(`${usage}\n\nFlags:\n${lines.join('\n')}`);
}

/** "1,100" → [1, 100]. */
export function numberList(text: string): number[] {
  return text
    .split(',')
    .map((s) => Number(s.trim().replace(/_/g, '')))
    .filter((n) => Number.isFinite(n) && n > 0);
}

// ── CPU profiles ──────────────────────────────────────────────────────────────────────────────────────

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Prints the functions (and the files) with the most self time in a V8 .cpuprofile. */
export function printProfileTop(path: string, top = 20): void {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    const dt = profile.timeDeltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    total += dt;
  }
  const shortUrl = (url: string) => {
    if (!url) return '';
    const nm = url.lastIndexOf('node_modules/');
    if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
    const root = url.indexOf(ROOT.replace(/\/$/, ''));
    return root >= 0 ? url.slice(root + ROOT.length) : url.replace(/^file:\/\//, '');
  };
  const fnTotals = new Map<string, number>();
  const fileTotals = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = shortUrl(url);
    const key = `${functionName || '(anonymous)'}  ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
    fnTotals.set(key, (fnTotals.get(key) ?? 0) + us);
    const module = url.includes('node_modules/')
      ? `node_modules/${file.startsWith('@') ? file.split('/').slice(0, 2).join('/') : file.split('/')[0]}`
      : file || `(${functionName || 'native'})`;
    fileTotals.set(module, (fileTotals.get(module) ?? 0) + us);
  }
  const rows = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => [k, fmtMs(us / 1000), `${((100 * us) / total).toFixed(1)}%`]);
  console.log(`\nCPU profile ${path} (${fmtMs(total / 1000)} ms sampled; ${statSync(path).size} bytes)`);
  printTable(['function (self time)', 'ms', 'share'], rows(fnTotals), `Top ${top} functions by self time`);
  printTable(['file / package (self time)', 'ms', 'share'], rows(fileTotals), `Top ${top} files and packages by self time`);
}

/** Removes an Elasticsearch/OpenSearch index prefix's indices and index templates (plain REST, no store code). */
export async function dropEsPrefix(url: string, prefix: string): Promise<void> {
  const indices = (await (await fetch(`${url}/_cat/indices/${prefix}-*?format=json&h=index`)).json()) as { index: string }[];
  for (const { index } of indices) await (await fetch(`${url}/${index}`, { method: 'DELETE' })).text();
  const templates = await fetch(`${url}/_index_template/${prefix}-*`);
  if (templates.ok) {
    const body = (await templates.json()) as { index_templates?: { name: string }[] };
    for (const { name } of body.index_templates ?? []) await (await fetch(`${url}/_index_template/${name}`, { method: 'DELETE' })).text();
  }
}
