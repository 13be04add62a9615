/**
 * A drain over real servers: `tasques serve` processes (store.kind elasticsearch) on one index prefix,
 * producers creating tasks over HTTP and workers claiming and marking them done, until every task is done
 * or a deadline passes. Used by the short correctness test in `npm test` (test/e2e/elasticsearch-claims)
 * and by the long drains of the soak tier (test/soak/).
 *
 * It records, for every task, the holds the workers received (server times `claimed_at` … the done, or
 * `times_out_at` for a claim that was reaped) so that a test can check that no two workers ever held a
 * task at once and that every task was done exactly once. A `disrupt` hook runs once, when half the tasks
 * are done (kill a server, kill an engine node). Clients retry what a dead server or engine node can
 * leave unanswered; creates are retried with the same id (a 409 after a lost answer means it was made).
 * Waits are the workers' own loops, each bounded by a deadline; nothing sleeps.
 */
import assert from 'node:assert/strict';
import { ElasticsearchStore } from '../../src/store/elasticsearch/elasticsearch-store.js';
import { runCli, type ServerProcess, startServer } from './cli.js';
import { uniquePrefix } from './elasticsearch.js';

export interface ApiTask {
  id: string;
  state: string;
  attempted: number;
  last_claimed?: { worker_id: string; claimed_at: string; times_out_at: string; result?: { at: string } };
}

export interface Hold {
  worker: string;
  claimedAt: number;
  timesOutAt: number;
  /** Server time of the worker's successful done; undefined if its done was refused (claim reaped). */
  doneAt?: number;
}

export interface DrainOptions {
  /** Engine node URLs: the servers get all of them; the first that answers is used for checks. */
  engineUrls: string[];
  tasks: number;
  servers: number;
  workers: number;
  producers: number;
  /** Tag in the index prefix. */
  tag: string;
  /** Runs once when half the tasks are done; gets the servers and the prefix. */
  disrupt?: (ctx: { servers: ServerProcess[]; prefix: string }) => Promise<void> | void;
  /**
   * Whether a 5xx answer is retried like a lost one (an engine node dying under a request gives the
   * server an error it reports as 5xx). Off by default: with a healthy engine a 5xx is a bug.
   */
  retryServerErrors?: boolean;
  /** Processing timeout of the tasks (how soon a claim lost with its server is reaped). Default 5m. */
  processingTimeout?: string;
  /** Whole drain, ms. */
  deadlineMs: number;
}

export interface DrainResult {
  tasks: number;
  elapsedMs: number;
  holds: Map<string, Hold[]>;
  dones: Map<string, number>;
  claimRequests: number;
  refusedDones: number;
  /** 5xx answers retried (retryServerErrors). */
  serverErrors: number;
  /** First attempts refused for their own write: a create answered 409, a done 400/403 (see producer, markDone). */
  ownConflicts: number;
  /** How many tasks were done when `disrupt` ran. */
  disruptedAt?: number | undefined;
  /** Task counts by state (and `attempted=N`) in the engine at the end. */
  states: Record<string, number>;
}

const QUEUE = 'drain';

function serverEnv(urls: string[], prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TASQUES_SERVER_STORE_KIND: 'elasticsearch',
    TASQUES_SERVER_ELASTICSEARCH_ADDRESSES: urls.join(','),
    TASQUES_SERVER_STORE_ELASTICSEARCH_INDEX_PREFIX: prefix,
    ...extra,
  };
}

const isNetworkError = (e: unknown) => {
  const code = (e as { code?: string }).code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up|timed out/.test(String((e as Error).message));
};

/** A 5xx answer, thrown so that the retry paths treat it like a lost answer. */
class ServerError extends Error {}

/** The first engine node that answers (some may have been killed). */
async function liveEngine(urls: string[]): Promise<string> {
  for (const url of urls) {
    try {
      const res = await fetch(`${url}/_cluster/health`);
      if (res.ok) return url;
    } catch {
      // try the next one
    }
  }
  throw new Error(`no engine node answers: ${urls.join(', ')}`);
}

export async function esJson(url: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `${method} ${path}: HTTP ${res.status} ${await res.clone().text()}`);
  return res.json();
}

/** Counts of the prefix's tasks by state, straight from the engine. */
async function statesInEngine(url: string, prefix: string): Promise<Record<string, number>> {
  await esJson(url, 'POST', `/${prefix}-tasks/_refresh`);
  const res = await esJson(url, 'POST', `/${prefix}-tasks/_search`, {
    size: 0,
    aggs: { states: { terms: { field: 'state', size: 10 } }, attempted: { terms: { field: 'attempted', size: 50 } } },
  });
  const out: Record<string, number> = {};
  for (const b of res.aggregations.states.buckets as { key: string; doc_count: number }[]) out[b.key] = b.doc_count;
  for (const b of res.aggregations.attempted.buckets as { key: number; doc_count: number }[]) out[`attempted=${b.key}`] = b.doc_count;
  return out;
}

export async function drain(options: DrainOptions): Promise<DrainResult> {
  const { tasks: TASKS, engineUrls } = options;
  const prefix = uniquePrefix(options.tag);
  const fast = {
    // Short leader and reaper intervals, and no backoff, so that reaped claims come back quickly.
    TASQUES_SERVER_RECURRING_LEADER_LOCK_RUN_INTERVAL: '500ms',
    TASQUES_SERVER_RECURRING_LEADER_LOCK_LEADER_LOCK_LEASE: '2s',
    TASQUES_SERVER_RECURRING_TIMED_OUT_TASKS_REAPER_RUN_INTERVAL: '500ms',
    TASQUES_SERVER_TASKS_BACKOFF_BASE: '0s',
    TASQUES_SERVER_TASKS_BACKOFF_JITTER: '0s',
  };
  const setup = await runCli(['setup'], { env: serverEnv(engineUrls, prefix), timeoutMs: 60_000 });
  assert.equal(setup.code, 0, `tasques setup failed: ${setup.stderr}`);
  const servers: ServerProcess[] = await Promise.all(
    Array.from({ length: options.servers }, () => startServer({ env: serverEnv(engineUrls, prefix, fast), timeoutMs: 30_000 })),
  );
  const alive = () => servers.filter((s) => !s.exitInfo);
  const pick = (preferred: number) => {
    const s = servers[preferred % servers.length]!;
    if (!s.exitInfo) return s;
    const others = alive();
    assert.ok(others.length > 0, 'every server is gone');
    return others[preferred % others.length]!;
  };
  let serverErrors = 0;
  let ownConflicts = 0;
  /** A request to a server; with retryServerErrors a 5xx is thrown, for the caller's retry. */
  const send = async (server: ServerProcess, method: string, path: string, opts: Parameters<ServerProcess['request']>[2] = {}) => {
    const res = await server.request(method, path, opts);
    if (options.retryServerErrors && res.status >= 500) {
      serverErrors++;
      throw new ServerError(`${method} ${path}: ${res.status} ${res.text}`);
    }
    return res;
  };
  const retriable = (e: unknown) => isNetworkError(e) || e instanceof ServerError;

  const started = performance.now();
  const deadline = started + options.deadlineMs;
  const holds = new Map<string, Hold[]>();
  const dones = new Map<string, number>();
  let doneCount = 0;
  let claimRequests = 0;
  let refusedDones = 0;
  let nextToCreate = 0;
  let disruptedAt: number | undefined;
  let disruption: Promise<void> | undefined;
  let failure: Error | undefined;
  const fail = (e: unknown) => {
    failure ??= e instanceof Error ? e : new Error(String(e));
  };
  const running = () => failure === undefined && doneCount < TASKS && performance.now() < deadline;
  const MAX_ATTEMPTS = 30;

  const producer = async (p: number) => {
    while (running()) {
      const i = nextToCreate++;
      if (i >= TASKS) return;
      const body = { queue: QUEUE, kind: 'noop', id: `t-${i}`, processing_timeout: options.processingTimeout ?? '5m', args: { i } };
      for (let attempt = 0; ; attempt++) {
        const server = pick(p + attempt);
        try {
          const res = await send(server, 'POST', '/tasques', { body });
          if (res.status === 409 && attempt === 0 && options.retryServerErrors) {
            // The engine itself may retry a write whose primary died mid-way, on the promoted replica that
            // already has it: the create's first answer is then 409 for its own document. Check it is ours.
            const got = await send(pick(p + 1), 'GET', `/tasques/${QUEUE}/t-${i}`);
            assert.equal(got.json<{ args?: { i?: number } }>().args?.i, i, `t-${i} exists with other args: ${got.text}`);
            ownConflicts++;
            break;
          }
          // 409: an earlier attempt reached the store although its answer was lost.
          assert.ok(res.status === 201 || (res.status === 409 && attempt > 0), `create t-${i}: ${res.status} ${res.text}`);
          break;
        } catch (e) {
          if (!retriable(e) || attempt > MAX_ATTEMPTS) throw e;
        }
      }
    }
  };

  /** Marks a task done; on a lost answer, reads it back to learn whether the done was applied. */
  const markDone = async (w: number, worker: string, task: ApiTask): Promise<number | undefined> => {
    for (let attempt = 0; ; attempt++) {
      const server = pick(w + attempt);
      try {
        const res = await send(server, 'PUT', `/tasques/done/${QUEUE}/${task.id}`, {
          headers: { 'X-TASQUES-WORKER-ID': worker },
          body: { success: { by: worker } },
        });
        if (res.status === 200) return Date.parse(res.json<ApiTask>().last_claimed!.result!.at);
        // Refused: not (or no longer) this worker's claim. It may have been our own done all the same: after
        // a lost answer, or when the engine retried the write on a promoted replica that already had it.
        assert.ok(res.status === 400 || res.status === 403, `done ${task.id}: ${res.status} ${res.text}`);
        const got = await send(pick(w + attempt + 1), 'GET', `/tasques/${QUEUE}/${task.id}`);
        const stored = got.json<ApiTask>();
        if (stored.state === 'done' && stored.last_claimed?.worker_id === worker &&
            stored.last_claimed.claimed_at === task.last_claimed!.claimed_at) {
          if (attempt === 0) ownConflicts++;
          return Date.parse(stored.last_claimed.result!.at);
        }
        return undefined;
      } catch (e) {
        if (!retriable(e) || attempt > MAX_ATTEMPTS) throw e;
      }
    }
  };

  const workerLoop = async (w: number) => {
    const worker = `w-${w}`;
    while (running()) {
      const server = pick(w);
      let tasks: ApiTask[];
      try {
        claimRequests++;
        const res = await send(server, 'POST', '/tasques/claims', {
          headers: { 'X-TASQUES-WORKER-ID': worker },
          body: { queues: [QUEUE], amount: 1 + (w % 4), block_for: '1s' },
        });
        assert.equal(res.status, 200, `claim: ${res.status} ${res.text}`);
        tasks = res.json<ApiTask[]>();
      } catch (e) {
        if (retriable(e)) continue; // the server (or its engine node) died under the request: ask again
        throw e;
      }
      for (const task of tasks) {
        assert.equal(task.state, 'claimed');
        assert.equal(task.last_claimed?.worker_id, worker);
        const hold: Hold = {
          worker,
          claimedAt: Date.parse(task.last_claimed!.claimed_at),
          timesOutAt: Date.parse(task.last_claimed!.times_out_at),
        };
        const list = holds.get(task.id) ?? [];
        list.push(hold);
        holds.set(task.id, list);
        const doneAt = await markDone(w, worker, task);
        if (doneAt === undefined) {
          refusedDones++;
          continue;
        }
        hold.doneAt = doneAt;
        dones.set(task.id, (dones.get(task.id) ?? 0) + 1);
        doneCount++;
        if (options.disrupt && disruptedAt === undefined && doneCount >= TASKS / 2) {
          disruptedAt = doneCount;
          disruption = Promise.resolve(options.disrupt({ servers, prefix })).catch(fail);
        }
      }
    }
  };

  try {
    await Promise.all([
      ...Array.from({ length: options.producers }, (_, p) => producer(p).catch(fail)),
      ...Array.from({ length: options.workers }, (_, w) => workerLoop(w).catch(fail)),
    ]);
    await disruption;
  } finally {
    await Promise.all(servers.map((s) => s.kill()));
  }
  if (failure) throw failure;
  const elapsedMs = performance.now() - started;
  assert.equal(doneCount, TASKS, `only ${doneCount} of ${TASKS} tasks done within ${options.deadlineMs} ms`);

  const url = await liveEngine(engineUrls);
  const states = await statesInEngine(url, prefix);
  await new ElasticsearchStore({ http: { addresses: [url] }, indexPrefix: prefix, autoSetup: false }).drop();
  return { tasks: TASKS, elapsedMs, holds, dones, claimRequests, refusedDones, serverErrors, ownConflicts, disruptedAt, states };
}

/** Every task DONE in the engine, done exactly once by a worker, and no two holds of a task overlap. */
export function assertExactlyOnce(result: DrainResult): void {
  assert.equal(result.states.done, result.tasks, `every task is DONE in the engine: ${JSON.stringify(result.states)}`);
  const otherStates = Object.keys(result.states).filter((k) => k !== 'done' && !k.startsWith('attempted='));
  assert.deepEqual(otherStates, [], `no task in another state: ${JSON.stringify(result.states)}`);
  const twice = [...result.dones].filter(([, n]) => n !== 1);
  assert.deepEqual(twice, [], 'tasks marked done more than once');
  const missing = Array.from({ length: result.tasks }, (_, i) => `t-${i}`).filter((id) => !result.dones.has(id));
  assert.deepEqual(missing.slice(0, 20), [], `${missing.length} tasks never done`);
  const overlaps: string[] = [];
  for (const [id, list] of result.holds) {
    const sorted = [...list].sort((a, b) => a.claimedAt - b.claimedAt);
    for (let k = 1; k < sorted.length; k++) {
      const prev = sorted[k - 1]!;
      const end = prev.doneAt ?? prev.timesOutAt;
      if (sorted[k]!.claimedAt < end || prev.doneAt !== undefined) {
        overlaps.push(`${id}: ${prev.worker} held it until ${end}, ${sorted[k]!.worker} claimed it at ${sorted[k]!.claimedAt}`);
      }
    }
  }
  assert.deepEqual(overlaps.slice(0, 20), [], `${overlaps.length} tasks held by two workers at once`);
}

/** Every task claimed exactly once (an undisturbed drain). */
export function assertClaimedOnce(result: DrainResult): void {
  const claimedTwice = [...result.holds].filter(([, list]) => list.length !== 1).map(([id]) => id);
  assert.deepEqual(claimedTwice.slice(0, 20), [], `${claimedTwice.length} tasks claimed more than once`);
  assert.equal(result.refusedDones, 0);
}

/** One line of figures for a soak run's log. */
export function describeDrain(label: string, result: DrainResult, shape: string): string {
  const s = result.elapsedMs / 1000;
  return (
    `# ${label}: ${result.tasks} tasks, ${shape}: ${s.toFixed(1)} s (${Math.round(result.tasks / s)} tasks/s), ` +
    `${result.claimRequests} claim requests, ${result.refusedDones} refused dones, ${result.serverErrors} 5xx retried, ` +
    `${result.ownConflicts} first attempts refused for their own write; ` +
    `engine: ${JSON.stringify(result.states)}\n`
  );
}
