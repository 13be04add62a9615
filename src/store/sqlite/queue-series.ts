/**
 * The queue series (docs/design/queue-series.md) on SQLite: per-server activity per (queue, minute) in
 * `queue_activity`, the leader's depth samples in `queue_depth` (migration 6). Small tables: a server writes
 * one row per active queue per flush, the leader one row per queue per minute, and retention keeps ~a day.
 */
import type Database from 'better-sqlite3';
import { CLAIM_WAIT_BUCKETS } from '../../domain/queue-series.js';
import type { QueueActivity, QueueDepth } from '../../types/index.js';
import type {
  QueueActivityListParams,
  QueueActivityWriteParams,
  QueueDepthListParams,
  QueueDepthWriteParams,
} from '../store.js';

const WAIT_COLUMNS = Array.from({ length: CLAIM_WAIT_BUCKETS }, (_, i) => `wait_${i}`);

export type QueueSeriesStatements = Record<
  'activityWrite' | 'activityList' | 'activityListOf' | 'depthWrite' | 'depthList' | 'depthListOf' | 'activityDelete' | 'depthDelete',
  Database.Statement
>;

// Intervals aligned on the epoch: at - at % bucket (`at` is never negative here).
const ACTIVITY_SELECT = `SELECT queue, at - (at % @bucket) AS bucket_at,
  SUM(created) AS created, SUM(claimed) AS claimed, SUM(done) AS done, SUM(failed) AS failed, SUM(dead) AS dead,
  ${WAIT_COLUMNS.map((c) => `SUM(${c}) AS ${c}`).join(', ')}
  FROM queue_activity WHERE at >= @from AND at < @to`;
const DEPTH_SELECT = `SELECT queue, at - (at % @bucket) AS bucket_at, MAX(claimable) AS claimable,
  MAX(scheduled) AS scheduled, MAX(claimed) AS claimed, MAX(oldest_age_ms) AS oldest_age_ms
  FROM queue_depth WHERE at >= @from AND at < @to`;
const GROUPED = 'GROUP BY queue, bucket_at ORDER BY queue, bucket_at';
// A JSON array of queue names: one statement whatever their number.
const OF_QUEUES = 'AND queue IN (SELECT value FROM json_each(@queues))';

export function prepareQueueSeriesStatements(db: Database.Database): QueueSeriesStatements {
  return {
    activityWrite: db.prepare(
      `INSERT OR REPLACE INTO queue_activity (server_id, queue, at, created, claimed, done, failed, dead, ${WAIT_COLUMNS.join(', ')})
       VALUES (@server_id, @queue, @at, @created, @claimed, @done, @failed, @dead, ${WAIT_COLUMNS.map((c) => `@${c}`).join(', ')})`,
    ),
    activityList: db.prepare(`${ACTIVITY_SELECT} ${GROUPED}`),
    activityListOf: db.prepare(`${ACTIVITY_SELECT} ${OF_QUEUES} ${GROUPED}`),
    depthWrite: db.prepare(
      `INSERT OR REPLACE INTO queue_depth (queue, at, claimable, scheduled, claimed, oldest_age_ms)
       VALUES (@queue, @at, @claimable, @scheduled, @claimed, @oldest_age_ms)`,
    ),
    depthList: db.prepare(`${DEPTH_SELECT} ${GROUPED}`),
    depthListOf: db.prepare(`${DEPTH_SELECT} ${OF_QUEUES} ${GROUPED}`),
    activityDelete: db.prepare('DELETE FROM queue_activity WHERE at < ?'),
    depthDelete: db.prepare('DELETE FROM queue_depth WHERE at < ?'),
  };
}

type ActivityRow = { queue: string; bucket_at: number; created: number; claimed: number; done: number; failed: number; dead: number } & Record<
  string,
  number
>;
type DepthRow = { queue: string; bucket_at: number; claimable: number; scheduled: number; claimed: number; oldest_age_ms: number };

export function writeActivity(s: QueueSeriesStatements, { serverId, records }: QueueActivityWriteParams): void {
  for (const r of records) {
    const row: Record<string, string | number> = {
      server_id: serverId,
      queue: r.queue,
      at: r.at,
      created: r.created,
      claimed: r.claimed,
      done: r.done,
      failed: r.failed,
      dead: r.dead,
    };
    WAIT_COLUMNS.forEach((c, i) => (row[c] = r.claimWait[i] ?? 0));
    s.activityWrite.run(row);
  }
}

export function listActivity(s: QueueSeriesStatements, { from, to, bucketMs, queues }: QueueActivityListParams): QueueActivity[] {
  if (queues !== undefined && queues.length === 0) return [];
  const range = { from, to, bucket: bucketMs };
  const rows = (
    queues === undefined ? s.activityList.all(range) : s.activityListOf.all({ ...range, queues: JSON.stringify(queues) })
  ) as ActivityRow[];
  return rows.map((r) => ({
    queue: r.queue,
    at: r.bucket_at,
    created: r.created,
    claimed: r.claimed,
    done: r.done,
    failed: r.failed,
    dead: r.dead,
    claimWait: WAIT_COLUMNS.map((c) => r[c] ?? 0),
  }));
}

export function writeDepth(s: QueueSeriesStatements, { samples }: QueueDepthWriteParams): void {
  for (const d of samples) {
    s.depthWrite.run({
      queue: d.queue,
      at: d.at,
      claimable: d.claimable,
      scheduled: d.scheduled,
      claimed: d.claimed,
      oldest_age_ms: Math.round(d.oldestAgeMs),
    });
  }
}

export function listDepth(s: QueueSeriesStatements, { from, to, bucketMs, queues }: QueueDepthListParams): QueueDepth[] {
  if (queues !== undefined && queues.length === 0) return [];
  const range = { from, to, bucket: bucketMs };
  const rows = (queues === undefined ? s.depthList.all(range) : s.depthListOf.all({ ...range, queues: JSON.stringify(queues) })) as DepthRow[];
  return rows.map((r) => ({
    queue: r.queue,
    at: r.bucket_at,
    claimable: r.claimable,
    scheduled: r.scheduled,
    claimed: r.claimed,
    oldestAgeMs: r.oldest_age_ms,
  }));
}
