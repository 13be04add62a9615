/**
 * Helpers for end-to-end tests that run the real `tasques` CLI (`node bin/tasques.mjs`, which runs the
 * compiled dist/ that `npm test` builds first) as a child process, and talk to it over real HTTP.
 *
 * - `startServer()` spawns `tasques serve` in a temporary working directory with an ephemeral port and a
 *   SQLite file in that directory, and resolves once the "tasques listening on <url>" log line is on
 *   stderr. `killAllServers()` (use it in an `after` hook) SIGKILLs whatever is still running.
 * - `runCli()` runs a one-shot command (`show config`, `--help`, …) and collects its output.
 * - `request()` is a small HTTP client over node:http with a keep-alive agent per server.
 *
 * Nothing here sleeps: waits are on log lines, process exit events and socket events, each with a
 * deadline so that a broken server fails the test instead of hanging it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI_PATH = join(REPO_ROOT, 'bin', 'tasques.mjs');

if (!existsSync(join(REPO_ROOT, 'dist', 'cli', 'main.js'))) {
  throw new Error('dist/ is missing: run the e2e tests through `npm test` (it builds dist/ first)');
}

const tempDirs: string[] = [];

/** A fresh temporary directory, removed when the test process exits. */
export function makeTempDir(prefix = 'tasques-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/**
 * The environment for a child: the test process's own, minus any TASQUES_SERVER_* (so that the
 * developer's shell cannot change what is tested) and the test runner's markers, plus `extra`.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('TASQUES_SERVER_') || k === 'NODE_TEST_CONTEXT' || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// ── one-shot commands ──────────────────────────────────────────────────────────────────────────────

export interface CliResult extends ExitInfo {
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed (empty when unset). */
  stdin?: string;
}

/** Runs `node bin/tasques.mjs ...args` to completion. */
export function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const cwd = options.cwd ?? makeTempDir('tasques-cli-');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      cwd,
      env: childEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end(options.stdin ?? ''); // an empty stdin, as /dev/null, unless input is given
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tasques ${args.join(' ')} did not exit within ${options.timeoutMs ?? 15_000}ms\n${stderr}`));
    }, options.timeoutMs ?? 15_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// ── the server process ─────────────────────────────────────────────────────────────────────────────

/** A parsed JSON log line (pino: level, time, msg, …). */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

const live = new Set<ServerProcess>();

export class ServerProcess {
  readonly child: ChildProcess;
  /** Every stderr line, raw. */
  readonly lines: string[] = [];
  /** Every stderr line that parsed as a JSON object. */
  readonly logs: LogLine[] = [];
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  url = '';
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private partial = '';
  private readonly watchers = new Set<() => void>();

  constructor(
    readonly dir: string,
    readonly dbPath: string,
    args: string[],
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, [CLI_PATH, ...args], {
      cwd: dir,
      env: childEnv(env),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    live.add(this);
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.onStderr(chunk));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        this.agent.destroy();
        resolve(this.exitInfo);
        this.poke();
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get stderr(): string {
    return this.lines.join('\n') + this.partial;
  }

  private onStderr(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      this.lines.push(line);
      try {
        const parsed = JSON.parse(line) as unknown;
        if (parsed !== null && typeof parsed === 'object') this.logs.push(parsed as LogLine);
      } catch {
        // not a JSON log line (e.g. a stack trace)
      }
    }
    this.poke();
  }

  private poke(): void {
    for (const w of [...this.watchers]) w();
  }

  /** Resolves with the first log line (already seen or future) matching `match`; rejects on exit or timeout. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs = 10_000, what = 'log line'): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.logs.find(match);
        if (found) {
          finish();
          resolve(found);
        } else if (this.exitInfo) {
          finish();
          reject(new Error(`tasques exited (${JSON.stringify(this.exitInfo)}) before ${what}; stderr:\n${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no ${what} within ${timeoutMs}ms; stderr:\n${this.stderr}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.watchers.delete(check);
      };
      this.watchers.add(check);
      check();
    });
  }

  /** Resolves with the exit status; rejects if the process is still running after `timeoutMs`. */
  async waitForExit(timeoutMs = 10_000): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`tasques (pid ${this.pid}) did not exit within ${timeoutMs}ms; stderr:\n${this.stderr}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.exitInfo) this.child.kill(signal);
  }

  /** SIGKILL and wait for the exit event. */
  async kill(): Promise<ExitInfo> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** An HTTP request to this server. */
  request(method: string, path: string, options: Omit<RequestOptions, 'method' | 'agent'> = {}): Promise<HttpResponse> {
    return request(this.url + path, { ...options, method, agent: this.agent });
  }
}

export interface StartServerOptions {
  /** Working directory (default: a new temp dir). Restart on the same data by passing the same dir. */
  dir?: string;
  /** SQLite file (default: <dir>/tasques.db). */
  dbPath?: string;
  /** Extra environment (TASQUES_SERVER_* overrides). */
  env?: Record<string, string>;
  /** Extra CLI arguments after `serve`. */
  args?: string[];
  timeoutMs?: number;
}

/** Starts `tasques serve` on 127.0.0.1 with an ephemeral port; resolves when it logs that it listens. */
export async function startServer(options: StartServerOptions = {}): Promise<ServerProcess> {
  const dir = options.dir ?? makeTempDir();
  const dbPath = options.dbPath ?? join(dir, 'tasques.db');
  const server = new ServerProcess(dir, dbPath, ['serve', ...(options.args ?? [])], {
    TASQUES_SERVER_BIND_ADDRESS: '127.0.0.1:0',
    TASQUES_SERVER_STORE_SQLITE_PATH: dbPath,
    ...options.env,
  });
  const line = await server.waitForLog(
    (l) => typeof l.msg === 'string' && l.msg.startsWith('tasques listening on '),
    options.timeoutMs ?? 15_000,
    '"tasques listening on <url>" line',
  );
  const match = /^tasques listening on (http:\/\/\S+)$/.exec(line.msg as string);
  if (!match) throw new Error(`cannot parse the URL out of ${JSON.stringify(line.msg)}`);
  server.url = match[1] as string;
  return server;
}

/** SIGKILLs every server still running; for `after`/`afterEach` hooks. */
export async function killAllServers(): Promise<void> {
  await Promise.all([...live].map((s) => s.kill()));
}

process.on('exit', () => {
  for (const s of live) s.child.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

// ── HTTP ───────────────────────────────────────────────────────────────────────────────────────────

export interface RequestOptions {
  method?: string;
  /** Sent as JSON unless it is a string (sent as is). */
  body?: unknown;
  headers?: Record<string, string>;
  agent?: http.Agent | false;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON (undefined if the body is empty); throws if it is not JSON. */
  json<T = any>(): T;
}

export function request(url: string, options: RequestOptions = {}): Promise<HttpResponse> {
  const body =
    options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: options.method ?? 'GET',
        agent: options.agent ?? false,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
          ...options.headers,
        },
        timeout: options.timeoutMs ?? 15_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json: () => (text === '' ? undefined : JSON.parse(text)),
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${url} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Resolves true if a TCP connection to the URL's host:port is refused, false if it is accepted. */
export function connectionRefused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      // A reset during connect means the listener closed with this connection still in its backlog:
      // the server did not accept it, which is what "refused" asks.
      if (e.code === 'ECONNREFUSED' || (e.code === 'ECONNRESET' && e.syscall === 'connect')) resolve(true);
      else reject(e);
    });
  });
}

export interface PendingRequest {
  /** Resolves once the server answered `100 Continue`, i.e. it has read the headers and routed the request. */
  continued: Promise<void>;
  /** Sends part of the body. */
  write(chunk: string): void;
  /** Sends the rest of the body and ends the request. */
  end(chunk?: string): void;
  /** The response, with the time (performance.now()) it ended. */
  response: Promise<HttpResponse & { receivedAt: number }>;
}

/**
 * Starts a request with `Expect: 100-continue` and a JSON body of `contentLength` bytes that the caller
 * sends later, so that a test can hold a request in flight (headers routed by the server, body pending)
 * for as long as it likes. Uses its own connection.
 */
export function startRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  contentLength: number,
): PendingRequest {
  let resolveContinued!: () => void;
  let rejectContinued!: (e: Error) => void;
  const continued = new Promise<void>((resolve, reject) => {
    resolveContinued = resolve;
    rejectContinued = reject;
  });
  const req = http.request(url, {
    method,
    agent: false,
    headers: {
      'content-type': 'application/json',
      'content-length': contentLength,
      expect: '100-continue',
      ...headers,
    },
  });
  req.on('continue', () => resolveContinued());
  const response = new Promise<HttpResponse & { receivedAt: number }>((resolve, reject) => {
    req.on('error', (e) => {
      rejectContinued(e);
      reject(e);
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json: () => (text === '' ? undefined : JSON.parse(text)),
          receivedAt: performance.now(),
        }),
      );
    });
  });
  // Keep an unobserved rejection of `continued` from crashing the test process.
  continued.catch(() => undefined);
  return {
    continued,
    write: (chunk) => void req.write(chunk),
    end: (chunk) => void req.end(chunk),
    response,
  };
}
