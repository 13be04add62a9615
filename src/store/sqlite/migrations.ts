/**
 * SQLite schema migrations: append-only, applied in order, recorded in the `tasques_migrations` ledger.
 * Never edit a released migration; add the next one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE tasks (
        queue TEXT NOT NULL,
        id TEXT NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'failed', 'done', 'dead')),
        priority INTEGER NOT NULL,
        run_at INTEGER NOT NULL,               -- epoch ms
        retry_times INTEGER NOT NULL,
        attempted INTEGER NOT NULL,
        processing_timeout_ns INTEGER NOT NULL,
        args TEXT,                             -- JSON object
        context TEXT,                          -- JSON object
        claimed_worker_id TEXT,                -- last_claimed.*: NULL when never claimed
        claimed_at INTEGER,
        times_out_at INTEGER,
        report_at INTEGER,
        report_data TEXT,
        result_at INTEGER,
        result_success TEXT,
        result_failure TEXT,
        last_enqueued_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        modified_at INTEGER NOT NULL,
        version INTEGER NOT NULL,
        recurring_task_id TEXT,
        UNIQUE (queue, id)
      );
      -- The claim path: per queue, waiting tasks in claim order. Partial, so done tasks cost nothing.
      CREATE INDEX tasks_claim_order ON tasks (queue, priority DESC, run_at) WHERE state IN ('queued', 'failed');
      -- When does the next waiting task come due (long-poll timers).
      CREATE INDEX tasks_next_run ON tasks (queue, run_at) WHERE state IN ('queued', 'failed');

      -- Every queue that ever had a task: claims on "all queues" walk this list.
      CREATE TABLE queues (name TEXT PRIMARY KEY) WITHOUT ROWID;

      CREATE TABLE recurring_tasks (
        id TEXT PRIMARY KEY,
        schedule_expression TEXT NOT NULL,
        skip_if_outstanding_tasks_exist INTEGER NOT NULL,
        task_definition TEXT NOT NULL,         -- JSON: queue, kind, retryTimes, priority, processingTimeoutNs, args, context
        is_deleted INTEGER NOT NULL,
        loaded_at INTEGER,
        created_at INTEGER NOT NULL,
        modified_at INTEGER NOT NULL,
        version INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'leadership_and_maintenance',
    sql: `
      -- The leader lease: one row at most. A term is (leader_id, elected_at).
      CREATE TABLE leader_lease (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        leader_id TEXT NOT NULL,
        elected_at INTEGER NOT NULL,           -- epoch ms
        expires_at INTEGER NOT NULL
      );

      -- The claim-timeout reaper: claimed tasks by deadline.
      CREATE INDEX tasks_claim_deadline ON tasks (times_out_at) WHERE state = 'claimed';
      -- The archiver: finished tasks by finish time.
      CREATE INDEX tasks_finished ON tasks (result_at) WHERE state IN ('done', 'dead');
      -- skip_if_outstanding_tasks_exist: outstanding tasks of a recurring task.
      CREATE INDEX tasks_recurring_outstanding ON tasks (queue, recurring_task_id)
        WHERE recurring_task_id IS NOT NULL AND state IN ('queued', 'claimed', 'failed');

      -- Tasks moved out of tasks by the archiver, unchanged. (queue, id) is not unique here: an id is
      -- free again once archived, so the same key can be archived twice.
      CREATE TABLE archived_tasks (
        queue TEXT NOT NULL,
        id TEXT NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        priority INTEGER NOT NULL,
        run_at INTEGER NOT NULL,
        retry_times INTEGER NOT NULL,
        attempted INTEGER NOT NULL,
        processing_timeout_ns INTEGER NOT NULL,
        args TEXT,
        context TEXT,
        claimed_worker_id TEXT,
        claimed_at INTEGER,
        times_out_at INTEGER,
        report_at INTEGER,
        report_data TEXT,
        result_at INTEGER,
        result_success TEXT,
        result_failure TEXT,
        last_enqueued_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        modified_at INTEGER NOT NULL,
        version INTEGER NOT NULL,
        recurring_task_id TEXT,
        archived_at INTEGER NOT NULL
      );
      CREATE INDEX archived_tasks_key ON archived_tasks (queue, id, archived_at);
      CREATE INDEX archived_tasks_finished ON archived_tasks (result_at);

      -- The leader's sync: recurring tasks it has not taken into account yet.
      CREATE INDEX recurring_tasks_not_loaded ON recurring_tasks (id) WHERE loaded_at IS NULL;

      -- The last schedule tick handled per recurring task (catch-up after downtime, leader changes).
      CREATE TABLE recurring_task_ticks (
        recurring_task_id TEXT PRIMARY KEY,
        last_tick_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
];
