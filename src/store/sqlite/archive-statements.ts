/** Statements of the archive: moving finished tasks out of `tasks`, reading and expiring archived ones. */
import type Database from 'better-sqlite3';
import { TASK_COLUMNS } from './rows.js';

export type ArchiveStatements = Record<
  'archivableGroups' | 'archivableIn' | 'copy' | 'deleteLive' | 'get' | 'deleteBefore',
  Database.Statement
>;

export function prepareArchiveStatements(db: Database.Database): ArchiveStatements {
  const columns = TASK_COLUMNS.join(', ');
  const rowids = 'SELECT value FROM json_each(?)';
  return {
    // The oldest finished tasks are the oldest of some (queue, final state): taskArchive takes the `limit`
    // oldest of each non-empty one through tasks_finished_by_queue and merges them.
    archivableGroups: db.prepare(`SELECT queue, state FROM queue_counts WHERE state IN ('done', 'dead') AND n > 0`),
    archivableIn: db.prepare(
      // The literal IN term lets SQLite use the partial index (it does not derive it from `state = ?`).
      `SELECT rowid AS row_id, result_at FROM tasks INDEXED BY tasks_finished_by_queue
       WHERE queue = ? AND state = ? AND state IN ('done', 'dead') AND result_at <= ?
       ORDER BY result_at LIMIT ?`,
    ),
    copy: db.prepare(
      `INSERT INTO archived_tasks (${columns}, archived_at) SELECT ${columns}, ? FROM tasks WHERE rowid IN (${rowids})`,
    ),
    deleteLive: db.prepare(`DELETE FROM tasks WHERE rowid IN (${rowids})`),
    get: db.prepare('SELECT * FROM archived_tasks WHERE queue = ? AND id = ? ORDER BY archived_at DESC, rowid DESC LIMIT 1'),
    deleteBefore: db.prepare(
      `DELETE FROM archived_tasks WHERE rowid IN
         (SELECT rowid FROM archived_tasks WHERE result_at <= ? ORDER BY result_at LIMIT ?)`,
    ),
  };
}
