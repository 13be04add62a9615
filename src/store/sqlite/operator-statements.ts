/**
 * Statements of the operator data of issue 16: who holds claims (grouped from the CLAIMED tasks, over the
 * partial index of claim deadlines: cost follows the claimed tasks only), recently seen workers, bulk
 * operation records, and the compare-and-set delete of bulk deletes.
 */
import type Database from 'better-sqlite3';

export type OperatorStatements = Record<
  | 'claimedCount'
  | 'claimedGroups'
  | 'deleteTask'
  | 'operationGet'
  | 'operationInsert'
  | 'operationList'
  | 'operationPrune'
  | 'operationUpdate'
  | 'workerSeenList'
  | 'workerSeenPrune'
  | 'workerSeenUpsert',
  Database.Statement
>;

export interface ClaimedGroupRow {
  worker_id: string;
  queue: string;
  n: number;
  oldest: number;
  last_report: number | null;
}

export interface WorkerSightingRow {
  worker_id: string;
  last_seen_at: number;
  queues: string;
}

export interface OperationRow {
  id: string;
  record: string;
  version: number;
}

export function prepareOperatorStatements(db: Database.Database): OperatorStatements {
  // `state = 'claimed'` literally, so that SQLite takes the partial index tasks_claim_deadline.
  const claimed = `SELECT claimed_worker_id, queue, claimed_at, report_at FROM tasks INDEXED BY tasks_claim_deadline
    WHERE state = 'claimed' LIMIT ?`;
  return {
    claimedCount: db.prepare(`SELECT COUNT(*) FROM (${claimed})`).pluck(),
    claimedGroups: db.prepare(
      `SELECT claimed_worker_id AS worker_id, queue, COUNT(*) AS n, MIN(claimed_at) AS oldest, MAX(report_at) AS last_report
       FROM (${claimed}) GROUP BY claimed_worker_id, queue`,
    ),
    deleteTask: db.prepare('DELETE FROM tasks WHERE queue = ? AND id = ? AND version = ? RETURNING state'),
    operationGet: db.prepare('SELECT id, record, version FROM operations WHERE id = ?'),
    operationInsert: db.prepare(
      'INSERT INTO operations (id, created_at, record, version) VALUES (@id, @created_at, @record, 1) ON CONFLICT (id) DO NOTHING',
    ),
    operationList: db.prepare('SELECT id, record, version FROM operations ORDER BY created_at DESC, id LIMIT ?'),
    // Finished: the record's state; older than the cut-off, or past the newest `keep` finished ones.
    operationPrune: db.prepare(
      `DELETE FROM operations WHERE id IN (
         SELECT id FROM (
           SELECT id, created_at, record ->> '$.modifiedAt' AS modified_at,
                  ROW_NUMBER() OVER (ORDER BY created_at DESC, id) AS newest
           FROM operations WHERE record ->> '$.state' <> 'running')
         WHERE modified_at < @before OR newest > @keep
         ORDER BY created_at, id LIMIT @limit)`,
    ),
    operationUpdate: db.prepare(
      'UPDATE operations SET record = @record, created_at = @created_at, version = version + 1 WHERE id = @id AND version = @expected_version',
    ),
    workerSeenList: db.prepare(
      'SELECT worker_id, last_seen_at, queues FROM worker_sightings WHERE last_seen_at >= ? ORDER BY last_seen_at DESC, worker_id LIMIT ?',
    ),
    workerSeenPrune: db.prepare('DELETE FROM worker_sightings WHERE last_seen_at < ?'),
    workerSeenUpsert: db.prepare(
      `INSERT INTO worker_sightings (worker_id, last_seen_at, queues) VALUES (@worker_id, @last_seen_at, @queues)
       ON CONFLICT (worker_id) DO UPDATE SET last_seen_at = excluded.last_seen_at, queues = excluded.queues
       WHERE excluded.last_seen_at > worker_sightings.last_seen_at`,
    ),
  };
}
