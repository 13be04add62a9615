/**
 * Shared fixtures of the store conformance suite. Everything here depends only on the Store contract,
 * the engine, the domain types and the error registry, never on a particular driver.
 *
 * - `setup(options)` gives each test a fresh store (from the driver's factory), a TaskEngine on a
 *   ManualClock with a fixed `random`, and a cleanup that closes the store and any peer stores.
 * - `seedTasks(engine, n, overrides)` enqueues n tasks the way v1's integration tests seed them.
 * - Assertion helpers: `expectError`, `plain` (compares records regardless of how a driver represents
 *   an absent optional field), version checks.
 *
 * Time only moves through the ManualClock; claims go through the engine with `blockForMs: 0`, so no test
 * ever waits on a timer.
 */
import assert from 'node:assert/strict';
import { type EngineSettings, type NewTaskInput, TaskEngine } from '../engine/task-engine.js';
import { type ErrorKind, TasquesError } from '../errors/index.js';
import { ManualClock } from '../service/clock.js';
import type { Store } from '../store/store.js';
import type { NewTaskRecord, RecordVersion, Task } from '../types/index.js';
import type { ConformanceOptions } from './index.js';

/** The instant every test starts at (the ManualClock's default). */
export const T0 = Date.parse('2026-01-01T00:00:00Z');

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
/** Nanoseconds per millisecond: task durations are in ns, times in ms. */
export const NS_PER_MS = 1_000_000;

/** The default `random` of the test engine: with the default backoff, jitter = 15 s × (r + 1). */
export const FIXED_RANDOM = 0.5;

/** v1 integration-test seeding (spec §14.2): priority 10, processing timeout 15m, retry_times 10. */
export const SEED_DEFAULTS = {
  kind: 'conformance-seeded',
  priority: 10,
  processingTimeoutNs: 15 * MINUTE * NS_PER_MS,
  retryTimes: 10,
} as const;

export const WORKER = 'worker-1';
export const OTHER_WORKER = 'worker-2';

export interface SetupOverrides {
  /** Fields replacing the defaults of `defaultSettings()` (the server's). */
  settings?: Partial<EngineSettings>;
  /** The engine's random source (backoff jitter). Defaults to a constant FIXED_RANDOM. */
  random?: () => number;
  /** Where the ManualClock starts. Defaults to T0. */
  start?: number;
  /** Wraps the store the engine uses (e.g. to put a concurrent writer between its read and its write). */
  wrapStore?: (store: Store) => Store;
}

export interface Harness {
  /** A fresh, migrated, empty store (the driver's). */
  store: Store;
  engine: TaskEngine;
  clock: ManualClock;
  settings: EngineSettings;
  /** Another store on the same data, or undefined if the driver offers none. Closed by cleanup. */
  peer(): Promise<Store | undefined>;
  /** Another engine (same settings and clock) over the given store, e.g. a peer. */
  engineOn(store: Store): TaskEngine;
  cleanup(): Promise<void>;
}

/**
 * The server's default engine settings (the `tasks.*` defaults of the config schema), written out here
 * because the suite, which third-party drivers run, stands on the Store contract and the engine alone.
 * src/server/engine-settings.test.ts fails if they drift from the config's.
 */
export const SERVER_DEFAULT_SETTINGS: Readonly<EngineSettings> = Object.freeze({
  defaultClaimAmount: 1,
  defaultBlockForMs: 3 * SECOND,
  defaultProcessingTimeoutNs: 30 * MINUTE * NS_PER_MS,
  defaultRetryTimes: 25,
  maxClaimAmount: 1000,
  maxBlockForMs: 60 * SECOND,
  pollMinIntervalMs: 100,
  pollDivisor: 20,
  versionConflictRetries: 500,
  maxAnswerBytes: 16 * 1024 * 1024,
  backoff: Object.freeze({ baseSeconds: 15, jitterSeconds: 30, maxSeconds: 168 * 3600 }),
  errorHistory: Object.freeze({ keep: 10, maxEntryBytes: 8192 }),
});

/** The server's default engine settings, with the long-poll default set to 0 so nothing ever waits. */
export function defaultSettings(overrides: Partial<EngineSettings> = {}): EngineSettings {
  return {
    ...SERVER_DEFAULT_SETTINGS,
    backoff: { ...SERVER_DEFAULT_SETTINGS.backoff },
    errorHistory: { ...SERVER_DEFAULT_SETTINGS.errorHistory },
    defaultBlockForMs: 0,
    ...overrides,
  };
}

export async function setup(options: ConformanceOptions, overrides: SetupOverrides = {}): Promise<Harness> {
  const store = await options.makeStore();
  const clock = new ManualClock(overrides.start ?? T0);
  const settings = defaultSettings(overrides.settings);
  const random = overrides.random ?? (() => FIXED_RANDOM);
  const engineStore = overrides.wrapStore ? overrides.wrapStore(store) : store;
  const engine = new TaskEngine(engineStore, settings, clock, random);
  const peers: Store[] = [];
  return {
    store,
    engine,
    clock,
    settings,
    async peer() {
      if (!options.makePeerStore) return undefined;
      const peer = await options.makePeerStore(store);
      peers.push(peer);
      return peer;
    },
    engineOn: (other) => new TaskEngine(other, settings, clock, random),
    async cleanup() {
      engine.shutdown();
      for (const peer of peers.reverse()) await peer.close();
      await store.close();
    },
  };
}

/**
 * Wraps a test body: a fresh harness per test, always cleaned up.
 *   it('does x', withHarness(options, async ({ engine }) => { ... }));
 */
export function withHarness(
  options: ConformanceOptions,
  body: (h: Harness) => Promise<void>,
  overrides: SetupOverrides = {},
): () => Promise<void> {
  return async () => {
    const h = await setup(options, overrides);
    try {
      await body(h);
    } finally {
      await h.cleanup();
    }
  };
}

/** Enqueues `n` tasks one after the other (in creation order), with v1's seeding defaults. */
export async function seedTasks(
  engine: TaskEngine,
  n: number,
  overrides: Partial<NewTaskInput> & { queue: string },
): Promise<Task[]> {
  const tasks: Task[] = [];
  for (let i = 0; i < n; i++) {
    const id = overrides.id === undefined ? undefined : `${overrides.id}-${i}`;
    tasks.push(await engine.createTask({ ...SEED_DEFAULTS, ...overrides, id }));
  }
  return tasks;
}

/** One claim through the engine that never waits. */
export function claimNow(
  engine: TaskEngine,
  queues: string[],
  amount: number,
  workerId: string = WORKER,
): Promise<Task[]> {
  return engine.claimTasks({ queues, amount, workerId, blockForMs: 0 });
}

/** Creates one task and claims it (it must be the only claimable task of its queue). */
export async function createAndClaim(
  engine: TaskEngine,
  input: Partial<NewTaskInput> & { queue: string },
  workerId: string = WORKER,
): Promise<Task> {
  const created = await engine.createTask({ ...SEED_DEFAULTS, ...input });
  const claimed = await claimNow(engine, [created.queue], 1, workerId);
  assert.equal(claimed.length, 1, 'the freshly created task should be claimable');
  assert.equal(claimed[0]!.id, created.id);
  return claimed[0]!;
}

/** Rejects with the registry error `kind`, whose HTTP status is `status`. */
export async function expectError(promise: Promise<unknown>, kind: ErrorKind, status: number): Promise<TasquesError> {
  let caught: unknown;
  try {
    await promise;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected ${kind} (${status}), but the call succeeded`);
  assert.ok(
    caught instanceof TasquesError,
    `expected a TasquesError ${kind}, got ${String((caught as Error)?.stack ?? caught)}`,
  );
  assert.equal(caught.kind, kind, `expected ${kind}, got ${caught.kind}: ${caught.message}`);
  assert.equal(caught.status, status);
  assert.ok(caught.message.length > 0);
  return caught;
}

/**
 * A deep copy without `undefined`-valued keys. The types allow an absent optional field to be either
 * missing or `undefined`; drivers may use either, so records are compared through this.
 */
export function plain<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => plain(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined) out[k] = plain(v);
    }
    return out as T;
  }
  return value;
}

/** Deep-equal, ignoring how absent optional fields are represented. */
export function assertSameRecord<T>(actual: T, expected: T, message?: string): void {
  assert.deepEqual(plain(actual), plain(expected), message);
}

const INT32_MAX = 2_147_483_647;

/** Versions are int32 pairs (they go on the wire as `seq_num`/`primary_term`), like ES's. */
export function assertSaneVersion(version: RecordVersion): void {
  assert.ok(Number.isInteger(version.seqNum), `seqNum ${version.seqNum} is not an integer`);
  assert.ok(Number.isInteger(version.primaryTerm), `primaryTerm ${version.primaryTerm} is not an integer`);
  assert.ok(version.seqNum >= 0 && version.seqNum <= INT32_MAX, `seqNum ${version.seqNum} out of int32 range`);
  assert.ok(
    version.primaryTerm >= 1 && version.primaryTerm <= INT32_MAX,
    `primaryTerm ${version.primaryTerm} out of range [1, int32]`,
  );
}

/** A write moves a record's version strictly forward: (primaryTerm, seqNum) lexicographically. */
export function assertNewerVersion(after: RecordVersion, before: RecordVersion): void {
  assertSaneVersion(after);
  const newer =
    after.primaryTerm > before.primaryTerm ||
    (after.primaryTerm === before.primaryTerm && after.seqNum > before.seqNum);
  assert.ok(newer, `version ${JSON.stringify(after)} is not newer than ${JSON.stringify(before)}`);
}

/** The backoff the design prescribes (§3): 15 + r^4 + floor(random·30)·(r+1) seconds, in ms. */
export function expectedBackoffMs(attempted: number, settings: EngineSettings, random: number): number {
  const r = Math.max(0, attempted - 1);
  const { baseSeconds, jitterSeconds, maxSeconds } = settings.backoff;
  return Math.min(baseSeconds + r ** 4 + Math.floor(random * jitterSeconds) * (r + 1), maxSeconds) * SECOND;
}

/** Sorted ids, for comparing sets of tasks. */
export function ids(tasks: readonly Pick<Task, 'id'>[]): string[] {
  return tasks.map((t) => t.id).sort();
}

/**
 * A raw task record for driving the store directly (`store.taskCreate`): queued, due and last enqueued
 * at `createdAt` (default T0), with the seeding defaults; any field can be overridden. For a finished
 * task pass `state` and a `lastClaimed` with a `result` (see `finishedAt`).
 */
export function taskRecord(fields: Partial<NewTaskRecord> & { queue: string; id: string }): NewTaskRecord {
  const createdAt = fields.createdAt ?? T0;
  return {
    kind: SEED_DEFAULTS.kind,
    state: 'queued',
    priority: SEED_DEFAULTS.priority,
    runAt: createdAt,
    retryTimes: SEED_DEFAULTS.retryTimes,
    attempted: 0,
    processingTimeoutNs: SEED_DEFAULTS.processingTimeoutNs,
    lastEnqueuedAt: createdAt,
    createdAt,
    modifiedAt: createdAt,
    ...fields,
  };
}

/** The `lastClaimed` of a task claimed at `at - 1s` that finished (done or dead) at `at`. */
export function finishedAt(at: number, workerId: string = WORKER): NonNullable<Task['lastClaimed']> {
  return { workerId, claimedAt: at - SECOND, timesOutAt: at - SECOND + 15 * MINUTE, result: { at } };
}
