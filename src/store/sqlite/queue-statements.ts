/** Statements of queues: the list of queues ever seen (`queues`) and the operator-set states (`queue_states`). */
import type Database from 'better-sqlite3';

export type QueueStatements = Record<'insert' | 'all' | 'paused' | 'setPaused' | 'getState' | 'listStates', Database.Statement>;

export function prepareQueueStatements(db: Database.Database): QueueStatements {
  return {
    insert: db.prepare('INSERT OR IGNORE INTO queues (name) VALUES (?)'),
    all: db.prepare('SELECT name FROM queues ORDER BY name').pluck(),
    // Read inside the claim transaction (under the write lock), so a pause committed by any connection
    // before the claim began is seen. A handful of rows at most; the candidate query is unchanged.
    paused: db.prepare('SELECT queue FROM queue_states WHERE paused = 1').pluck(),
    // A repeat of the current state changes nothing: modified_at is when `paused` last changed.
    setPaused: db.prepare(
      `INSERT INTO queue_states (queue, paused, modified_at) VALUES (@queue, @paused, @now)
       ON CONFLICT (queue) DO UPDATE SET paused = excluded.paused, modified_at = excluded.modified_at
       WHERE queue_states.paused <> excluded.paused`,
    ),
    getState: db.prepare('SELECT queue, paused, modified_at FROM queue_states WHERE queue = ?'),
    listStates: db.prepare('SELECT queue, paused, modified_at FROM queue_states ORDER BY queue'),
  };
}
