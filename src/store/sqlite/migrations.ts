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
];
