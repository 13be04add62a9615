/**
 * Statements of queues: the list of queues ever seen (`queues`: written with a queue's first task, read by
 * no query of this version, kept for servers of earlier versions sharing the file, whose all-queue claims
 * walk it) and the operator-set states (`queue_states`).
 */
import type Database from 'better-sqlite3';

export type QueueStatements = Record<
  'insert' | 'paused' | 'setPaused' | 'getState' | 'listStates' | 'statesBetween' | 'statesAfter',
  Database.Statement
>;

export function prepareQueueStatements(db: Database.Database): QueueStatements {
  return {
    insert: db.prepare('INSERT OR IGNORE INTO queues (name) VALUES (?)'),
    // Read inside the claim transaction (under the write lock), so a pause committed by any connection
    // before the claim began is seen. A handful of rows at most.
    paused: db.prepare('SELECT queue FROM queue_states WHERE paused = 1').pluck(),
    // A repeat of the current state changes nothing: modified_at is when `paused` last changed.
    setPaused: db.prepare(
      `INSERT INTO queue_states (queue, paused, modified_at) VALUES (@queue, @paused, @now)
       ON CONFLICT (queue) DO UPDATE SET paused = excluded.paused, modified_at = excluded.modified_at
       WHERE queue_states.paused <> excluded.paused`,
    ),
    getState: db.prepare('SELECT queue, paused, modified_at FROM queue_states WHERE queue = ?'),
    listStates: db.prepare('SELECT queue, paused, modified_at FROM queue_states ORDER BY queue'),
    statesBetween: db.prepare('SELECT queue, paused, modified_at FROM queue_states WHERE queue > ? AND queue <= ? ORDER BY queue'),
    statesAfter: db.prepare('SELECT queue, paused, modified_at FROM queue_states WHERE queue > ? ORDER BY queue'),
  };
}
