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

export type QueueCountStatements = Record<'add' | 'liveQueues' | 'all' | 'recentCreated' | 'recentFinished', Database.Statement>;

export function prepareQueueCountStatements(db: Database.Database): QueueCountStatements {
  return {
    add: db.prepare(
      'INSERT INTO queue_counts (queue, state, n) VALUES (?, ?, ?) ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n',
    ),
    // Queues with live tasks: from the counts, never from the tasks table.
    liveQueues: db.prepare('SELECT queue FROM queue_counts GROUP BY queue HAVING SUM(n) > 0').pluck(),
    all: db.prepare('SELECT queue, state, n FROM queue_counts WHERE n > 0'),
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

  add(queue: string, state: string, n: number): void {
    const key = `${queue}\u0000${state}`;
    const entry = this.deltas.get(key);
    if (entry) entry.n += n;
    else this.deltas.set(key, { queue, state, n });
  }

  move(queue: string, from: string, to: string): void {
    if (from === to) return;
    this.add(queue, from, -1);
    this.add(queue, to, 1);
  }

  apply(s: QueueCountStatements): void {
    for (const { queue, state, n } of this.deltas.values()) if (n !== 0) s.add.run(queue, state, n);
  }
}

/** Store.queueStatsList; call inside a read transaction, so every figure comes from the same snapshot. */
export function readQueueStats(
  s: { counts: QueueCountStatements; queues: QueueStatements; tasks: TaskStatements },
  { now, recentWindowMs, queues }: QueueStatsListParams,
): QueueStats[] {
  const states = new Map((s.queues.listStates.all() as QueueStateRow[]).map((r) => [r.queue, r.paused === 1]));
  const names =
    queues !== undefined
      ? [...new Set(queues)]
      : [...new Set([...(s.counts.liveQueues.all() as string[]), ...states.keys()])];
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const byQueue = new Map<string, QueueStats>();
  const from = now - recentWindowMs;
  for (const queue of names) {
    const oldest = s.tasks.nextRunAt.get(queue) as number | null;
    byQueue.set(queue, {
      queue,
      paused: states.get(queue) ?? false,
      counts: { queued: 0, claimed: 0, failed: 0, done: 0, dead: 0 },
      oldestClaimableRunAt: oldest !== null && oldest <= now ? oldest : undefined,
      recent: {
        windowMs: recentWindowMs,
        created: s.counts.recentCreated.get(queue, from, now) as number,
        done: s.counts.recentFinished.get(queue, 'done', from, now) as number,
        dead: s.counts.recentFinished.get(queue, 'dead', from, now) as number,
      },
    });
  }
  for (const row of s.counts.all.all() as { queue: string; state: TaskState; n: number }[]) {
    const stats = byQueue.get(row.queue);
    if (stats) stats.counts[row.state] = row.n;
  }
  return [...byQueue.values()];
}
