/**
 * Helpers for the HTTP tests: a real server (real SQLite file in a temp dir, real engine, real Fastify
 * app) driven through `app.inject()` or, for long polls, real sockets. Nothing is mocked.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { validateConfig } from '../../src/config/load.js';
import { createServer, type TasquesServer } from '../../src/server/server.js';
import type { Clock } from '../../src/service/clock.js';

/** Options for every HTTP test: a hang fails the test instead of stalling the run. */
export const LIMIT = { timeout: 20_000 };

export const WORKER_HEADER = 'x-tasques-worker-id';
export const INT32_MIN = -2_147_483_648;
export const INT32_MAX = 2_147_483_647;
/** RFC 3339 in UTC with a `Z`, as v1 clients expect (fractional seconds optional). */
export const RFC3339_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

export interface TestServer {
  server: TasquesServer;
  dir: string;
  dbPath: string;
  /** `app.inject()` with JSON parsing of the answer. */
  request(options: InjectOptions): Promise<Answer>;
  /** Closes the server and removes its files (idempotent; also run by t.after). */
  close(): Promise<void>;
}

export interface Answer {
  status: number;
  headers: LightMyRequestResponse['headers'];
  body: string;
  /** The parsed body; undefined when it is not JSON. */
  json: any;
  raw: LightMyRequestResponse;
}

function isPlainObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? merge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export function toAnswer(raw: LightMyRequestResponse): Answer {
  let json: unknown;
  try {
    json = raw.body.length > 0 ? JSON.parse(raw.body) : undefined;
  } catch {
    json = undefined;
  }
  return { status: raw.statusCode, headers: raw.headers, body: raw.body, json, raw };
}

/**
 * Builds a server over a fresh SQLite file with `listen: false` (listen on a real socket with
 * `ts.server.app.listen({ port: 0, host: '127.0.0.1' })`); it is closed after the test.
 * `overrides` are config keys (`tasques.server.*`), deep-merged over quiet logging and the temp store.
 */
export async function startTestServer(
  t: TestContext | undefined,
  overrides: Record<string, unknown> = {},
  options: { clock?: Clock; leadership?: boolean } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tasques-http-'));
  const dbPath = join(dir, 'tasques.db');
  const config = validateConfig(
    merge(merge({ logging: { level: 'silent' } }, overrides), { store: { sqlite: { path: dbPath } } }),
  );
  // Leader-only services (reaper, recurring scheduler, archiver) are off unless asked for: they would
  // write to tasks and recurring tasks behind the tests' backs.
  const server = await createServer(config, {
    listen: false,
    leadership: options.leadership ?? false,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  let closed: Promise<void> | undefined;
  const ts: TestServer = {
    server,
    dir,
    dbPath,
    request: async (opts) => toAnswer(await server.app.inject(opts)),
    close: () => {
      closed ??= server.close().finally(() => rmSync(dir, { recursive: true, force: true }));
      return closed;
    },
  };
  t?.after(() => ts.close());
  return ts;
}

/** Rows in a table of the server's SQLite file, read through a separate read-only connection. */
export function storedRows(ts: TestServer, table: 'tasks' | 'recurring_tasks'): number {
  const db = new Database(ts.dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
  } finally {
    db.close();
  }
}

// ── Calls ──────────────────────────────────────────────────────────────────────────────────────────

export const worker = (id: string) => ({ [WORKER_HEADER]: id });

export async function createTask(ts: TestServer, body: Record<string, unknown>): Promise<any> {
  const res = await ts.request({ method: 'POST', url: '/tasques', payload: body });
  assert.equal(res.status, 201, `create failed: ${res.body}`);
  return res.json;
}

export async function claim(ts: TestServer, workerId: string, body: Record<string, unknown>): Promise<any[]> {
  const res = await ts.request({ method: 'POST', url: '/tasques/claims', headers: worker(workerId), payload: body });
  assert.equal(res.status, 200, `claim failed: ${res.body}`);
  assert.ok(Array.isArray(res.json), `claim answered ${res.body}`);
  return res.json;
}

/** Creates one task and claims it for `workerId`; returns the claimed task. */
export async function createClaimed(ts: TestServer, queue: string, workerId: string, extra: Record<string, unknown> = {}) {
  const created = await createTask(ts, { queue, kind: 'k', ...extra });
  const claimed = await claim(ts, workerId, { queues: [queue], block_for: '1ms', amount: 1 });
  assert.equal(claimed.length, 1);
  assert.equal(claimed[0].id, created.id);
  return claimed[0];
}

// ── Assertions ─────────────────────────────────────────────────────────────────────────────────────

export function assertJsonContentType(res: Answer): void {
  const ct = String(res.headers['content-type'] ?? '');
  assert.match(ct, /^application\/json/, `Content-Type of ${res.status} answer is ${JSON.stringify(ct)}`);
}

/** An error answer: status, JSON content type, `{message, code}` and (optionally) message and code. */
export function assertError(
  res: Answer,
  status: number,
  message?: string | RegExp,
  code?: string,
): { message: string; code: string } {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.body}`);
  assertJsonContentType(res);
  assert.ok(isPlainObject(res.json), `error body is not a JSON object: ${res.body}`);
  assert.equal(typeof res.json.message, 'string', `no message in ${res.body}`);
  assert.ok(res.json.message.length > 0, 'empty error message');
  assert.equal(typeof res.json.code, 'string', `no code in ${res.body}`);
  assert.match(res.json.code, /^TQ_ERR_[A-Z_]+$/, `code ${res.json.code}`);
  if (typeof message === 'string') assert.equal(res.json.message, message);
  else if (message) assert.match(res.json.message, message);
  if (code) assert.equal(res.json.code, code);
  return res.json;
}

export function assertTimestamp(value: unknown, what: string): void {
  assert.equal(typeof value, 'string', `${what} is not a string`);
  assert.match(value as string, RFC3339_Z, `${what} = ${String(value)} is not RFC 3339 with Z`);
  assert.ok(!Number.isNaN(Date.parse(value as string)), `${what} does not parse`);
}

export function assertInt32(value: unknown, what: string): void {
  assert.ok(Number.isInteger(value), `${what} = ${String(value)} is not an integer`);
  assert.ok((value as number) >= INT32_MIN && (value as number) <= INT32_MAX, `${what} = ${String(value)} outside int32`);
}

const TASK_KEYS = [
  'id',
  'queue',
  'retry_times',
  'attempted',
  'kind',
  'state',
  'priority',
  'processing_timeout',
  'run_at',
  'args',
  'context',
  'last_claimed',
  'last_enqueued_at',
  'metadata',
  'recurring_task_id',
];
const TASK_REQUIRED = ['id', 'queue', 'retry_times', 'attempted', 'kind', 'state', 'priority', 'processing_timeout', 'run_at', 'last_enqueued_at', 'metadata'];

function assertMetadata(m: any, what: string): void {
  assert.ok(isPlainObject(m), `${what}.metadata missing`);
  assert.deepEqual(Object.keys(m), ['created_at', 'modified_at', 'version']);
  assertTimestamp(m.created_at, `${what}.metadata.created_at`);
  assertTimestamp(m.modified_at, `${what}.metadata.modified_at`);
  assert.deepEqual(Object.keys(m.version), ['seq_num', 'primary_term']);
  assertInt32(m.version.seq_num, `${what}.metadata.version.seq_num`);
  assertInt32(m.version.primary_term, `${what}.metadata.version.primary_term`);
}

/** The full v1 `task.Task` shape (spec §1.5): keys, order, omissions, types, formats, int32 ranges. */
export function assertTaskShape(task: any): void {
  assert.ok(isPlainObject(task), `not a task: ${JSON.stringify(task)}`);
  for (const key of TASK_REQUIRED) assert.ok(key in task, `task lacks ${key}: ${JSON.stringify(task)}`);
  // Key order is not checked: v1 (Go) wrote struct order; JSON readers do not depend on it, and the
  // serializer here writes required keys first.
  for (const key of Object.keys(task)) assert.ok(TASK_KEYS.includes(key), `unexpected task key ${key}`);
  for (const key of ['id', 'queue', 'kind', 'processing_timeout']) assert.equal(typeof task[key], 'string', key);
  assert.ok(['queued', 'claimed', 'failed', 'done', 'dead'].includes(task.state), `state ${task.state}`);
  assertInt32(task.retry_times, 'retry_times');
  assertInt32(task.attempted, 'attempted');
  assertInt32(task.priority, 'priority');
  assert.match(task.processing_timeout, /^(\d+h)?(\d+m)?(\d+(\.\d+)?(s|ms|µs|ns))$/, 'processing_timeout format');
  assertTimestamp(task.run_at, 'run_at');
  assertTimestamp(task.last_enqueued_at, 'last_enqueued_at');
  for (const key of ['args', 'context']) if (key in task) assert.ok(isPlainObject(task[key]), `${key} not an object`);
  for (const [k, v] of Object.entries(task)) assert.notEqual(v, null, `${k} is null (v1 omits it)`);
  const lc = task.last_claimed;
  if (lc !== undefined) {
    assert.ok(isPlainObject(lc));
    const lcKeys = ['worker_id', 'claimed_at', 'times_out_at', 'last_report', 'result'];
    for (const k of Object.keys(lc)) assert.ok(lcKeys.includes(k), `last_claimed.${k}`);
    assert.equal(typeof lc.worker_id, 'string');
    assertTimestamp(lc.claimed_at, 'last_claimed.claimed_at');
    assertTimestamp(lc.times_out_at, 'last_claimed.times_out_at');
    if (lc.last_report !== undefined) {
      assertTimestamp(lc.last_report.at, 'last_report.at');
      for (const k of Object.keys(lc.last_report)) assert.ok(['at', 'data'].includes(k), `last_report.${k}`);
    }
    if (lc.result !== undefined) {
      assertTimestamp(lc.result.at, 'result.at');
      for (const k of Object.keys(lc.result)) assert.ok(['at', 'failure', 'success'].includes(k), `result.${k}`);
    }
  }
  assertMetadata(task.metadata, 'task');
}

/** The v1 `recurring.Task` shape (spec §1.5). */
export function assertRecurringShape(rt: any): void {
  assert.ok(isPlainObject(rt), `not a recurring task: ${JSON.stringify(rt)}`);
  const allowed = ['id', 'schedule_expression', 'skip_if_outstanding_tasks_exist', 'task_definition', 'loaded_at', 'metadata'];
  for (const k of Object.keys(rt)) assert.ok(allowed.includes(k), `unexpected recurring task key ${k}`);
  for (const k of ['id', 'schedule_expression', 'skip_if_outstanding_tasks_exist', 'task_definition', 'metadata']) {
    assert.ok(k in rt, `recurring task lacks ${k}`);
  }
  assert.equal(typeof rt.id, 'string');
  assert.equal(typeof rt.schedule_expression, 'string');
  assert.equal(typeof rt.skip_if_outstanding_tasks_exist, 'boolean');
  assert.ok(!('is_deleted' in rt), 'is_deleted is not exposed');
  const def = rt.task_definition;
  assert.ok(isPlainObject(def));
  for (const k of ['queue', 'retry_times', 'kind', 'priority', 'processing_timeout']) assert.ok(k in def, `task_definition.${k}`);
  for (const k of Object.keys(def)) {
    assert.ok(['queue', 'retry_times', 'kind', 'priority', 'processing_timeout', 'args', 'context'].includes(k), `task_definition.${k}`);
  }
  assertInt32(def.retry_times, 'task_definition.retry_times');
  assertInt32(def.priority, 'task_definition.priority');
  assert.equal(typeof def.processing_timeout, 'string');
  if ('loaded_at' in rt) assertTimestamp(rt.loaded_at, 'loaded_at');
  assertMetadata(rt.metadata, 'recurring task');
}

/**
 * Resolves once `condition()` holds; rejects after `timeoutMs`. A condition wait, not a timing sleep: it
 * re-checks every millisecond and returns as soon as the state is reached.
 */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
