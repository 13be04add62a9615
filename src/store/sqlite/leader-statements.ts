/** Statements of the leader lease: one row at most; a term is (leader_id, elected_at). */
import type Database from 'better-sqlite3';

export type LeaderStatements = Record<'elect' | 'reelect' | 'resign' | 'get', Database.Statement>;

export function prepareLeaderStatements(db: Database.Database): LeaderStatements {
  return {
    // One statement, so the check and the write are atomic under SQLite's write lock.
    elect: db.prepare(
      `INSERT INTO leader_lease (id, leader_id, elected_at, expires_at) VALUES (1, @leader_id, @now, @expires_at)
       ON CONFLICT (id) DO UPDATE SET leader_id = excluded.leader_id, elected_at = excluded.elected_at,
         expires_at = excluded.expires_at
       WHERE leader_lease.expires_at <= @now OR leader_lease.leader_id = @leader_id`,
    ),
    reelect: db.prepare(
      'UPDATE leader_lease SET expires_at = @expires_at WHERE id = 1 AND leader_id = @leader_id AND elected_at = @elected_at',
    ),
    resign: db.prepare('DELETE FROM leader_lease WHERE id = 1 AND leader_id = ? AND elected_at = ?'),
    get: db.prepare('SELECT leader_id, elected_at, expires_at FROM leader_lease WHERE id = 1'),
  };
}
