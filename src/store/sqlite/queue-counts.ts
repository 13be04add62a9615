/**
 * Live tasks per (queue, state) in `queue_counts`, kept by the store's own writes (no triggers since
 * migration 4), and the queue statistics read from them: statistics never count the whole tasks table (a
 * synchronous driver: a long read would stall every claim).
 */
import type Database from 'better-sqlite3';
import type { QueueStatsListParams } from '../store.js';
import type { QueueStats, TaskState } from '../../types/index.js';
import type { QueueStatements } from './queue-statements.js';
import type { QueueStateRow } from './rows.js';
import type { TaskStatements } from './task-statements.js';

export type QueueCountStatements = Record<
  'add' | 'addKeyedWaiting' | 'liveQueuesAfter' | 'between' | 'of' | 'recentCreated' | 'recentFinished',
  Database.Statement
>;

export function prepareQueueCountStatements(db: Database.Database): QueueCountStatements {
  return {
    add: db.prepare(
      'INSERT INTO queue_counts (queue, state, n) VALUES (?, ?, ?) ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n',
    ),
    addKeyedWaiting: db.prepare(
      'INSERT INTO queue_keyed_waiting (queue, n) VALUES (?, ?) ON CONFLICT (queue) DO UPDATE SET n = n + excluded.n',
    ),
    // Queues with live tasks, by name, a chunk at a time: from the counts, never from the tasks table.
    liveQueuesAfter: db
      .prepare('SELECT DISTINCT queue FROM queue_counts WHERE queue > ? AND n > 0 ORDER BY queue LIMIT ?')
      .pluck(),
    between: db.prepare('SELECT queue, state, n FROM queue_counts WHERE queue > ? AND queue <= ? AND n > 0'),
    of: db.prepare('SELECT queue, state, n FROM queue_counts WHERE queue = ? AND n > 0'),
    // Range counts over covering indexes: cost grows with the tasks of that queue inside the window only.
    recentCreated: db
      .prepare(
        `SELECT COUNT(*) FROM tasks INDEXED BY tasks_queue_created
         WHERE queue = ? AND created_at > ? AND created_at <= ?`,
      )
      .pluck(),
    recentFinished: db
      .prepare(
        `SELECT COUNT(*) FROM tasks INDEXED BY tasks_finished_by_queue
         WHERE queue = ? AND state = ? AND state IN ('done', 'dead') AND result_at > ? AND result_at <= ?`,
      )
      .pluck(),
  };
}

/**
 * Changes to queue_counts made by one write operation, applied as one upsert per (queue, state) at its
 * end, inside its transaction: a claim or a batch of 100 costs two or three small upserts instead of one
 * per row.
 */
export class CountChanges {
  private readonly deltas = new Map<string, { queue: string; state: string; n: number }>();
  /** Waiting keyed tasks per queue (queue_keyed_waiting, flow control). */
  private keyedWaiting: Map<string, number> | undefined;

  /** `keyed`: the task has a concurrency key (it is counted in queue_keyed_waiting while waiting too). */
  add(queue: string, state: string, n: number, keyed = false): void {
    const key = `${queue}\u0000${state}`;
    const entry = this.deltas.get(key);
    if (entry) entry.n += n;
    else this.deltas.set(key, { queue, state, n });
    if (keyed && isWaiting(state)) {
      this.keyedWaiting ??= new Map();
      this.keyedWaiting.set(queue, (this.keyedWaiting.get(queue) ?? 0) + n);
    }
  }

  move(queue: string, from: string, to: string, keyed = false): void {
    if (from === to) return;
    this.add(queue, from, -1, keyed);
    this.add(queue, to, 1, keyed);
  }

  apply(s: QueueCountStatements): void {
    for (const { queue, state, n } of this.deltas.values()) if (n !== 0) s.add.run(queue, state, n);
    if (this.keyedWaiting) for (const [queue, n] of this.keyedWaiting) if (n !== 0) s.addKeyedWaiting.run(queue, n);
  }
}

const isWaiting = (state: string): boolean => state === 'queued' || state === 'failed';

type StatsStatements = { counts: QueueCountStatements; queues: QueueStatements; tasks: TaskStatements };
type CountRow = { queue: string; state: TaskState; n: number };

/** Queues per chunk of an all-queue statistics read: a few ms of work, then the event loop is free again. */
export const QUEUE_STATS_CHUNK = 500;

/**
 * Statistics of the named queues (Store.queueStatsList with `queues`), sorted by name. Call inside a read
 * transaction, so that every figure comes from the same snapshot.
 */
export function readNamedQueueStats(s: StatsStatements, params: QueueStatsListParams, queues: readonly string[]): QueueStats[] {
  const names = [...new Set(queues)].sort(byName);
  const states = new Map<string, boolean>();
  const counts: CountRow[] = [];
  for (const queue of names) {
    const state = s.queues.getState.get(queue) as QueueStateRow | undefined;
    if (state !== undefined) states.set(queue, state.paused === 1);
    counts.push(...(s.counts.of.all(queue) as CountRow[]));
  }
  return statsOf(s, params, names, states, counts);
}

/**
 * One chunk of an all-queue statistics read: the queues after `after` (by name) that have live tasks or a
 * stored state, up to QUEUE_STATS_CHUNK of the former; `next` resumes after the chunk, undefined at the end.
 * Call inside a read transaction (one snapshot per chunk).
 */
export function readQueueStatsChunk(
  s: StatsStatements,
  params: QueueStatsListParams,
  after: string,
): { stats: QueueStats[]; next?: string } {
  const live = s.counts.liveQueuesAfter.all(after, QUEUE_STATS_CHUNK) as string[];
  const last = live[live.length - 1];
  const full = live.length === QUEUE_STATS_CHUNK && last !== undefined;
  const stateRows = (full ? s.queues.statesBetween.all(after, last) : s.queues.statesAfter.all(after)) as QueueStateRow[];
  const states = new Map(stateRows.map((r) => [r.queue, r.paused === 1]));
  const names = [...new Set([...live, ...states.keys()])].sort(byName);
  const counts = last === undefined ? [] : (s.counts.between.all(after, last) as CountRow[]);
  const stats = statsOf(s, params, names, states, counts);
  return full ? { stats, next: last } : { stats };
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function statsOf(
  s: StatsStatements,
  { now, recentWindowMs }: QueueStatsListParams,
  names: readonly string[],
  states: ReadonlyMap<string, boolean>,
  counts: readonly CountRow[],
): QueueStats[] {
  const byQueue = new Map<string, QueueStats>();
  const from = now - recentWindowMs;
  // An empty window, (now, now], counts nothing: the metrics ask for none, and skip three reads per queue.
  const recent = recentWindowMs > 0;
  for (const queue of names) {
    const oldest = s.tasks.nextRunAt.get(queue) as number | null;
    byQueue.set(queue, {
      queue,
      paused: states.get(queue) ?? false,
      counts: { queued: 0, claimed: 0, failed: 0, done: 0, dead: 0 },
      oldestClaimableRunAt: oldest !== null && oldest <= now ? oldest : undefined,
      recent: {
        windowMs: recentWindowMs,
        created: recent ? (s.counts.recentCreated.get(queue, from, now) as number) : 0,
        done: recent ? (s.counts.recentFinished.get(queue, 'done', from, now) as number) : 0,
        dead: recent ? (s.counts.recentFinished.get(queue, 'dead', from, now) as number) : 0,
      },
    });
  }
  for (const row of counts) {
    const stats = byQueue.get(row.queue);
    if (stats) stats.counts[row.state] = row.n;
  }
  return [...byQueue.values()];
}
