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
  {
    version: 3,
    name: 'operator_api',
    sql: `
      -- Operator-set queue states (pause/resume). Tiny: claims read the paused ones on every claim.
      CREATE TABLE queue_states (
        queue TEXT PRIMARY KEY,
        paused INTEGER NOT NULL,
        modified_at INTEGER NOT NULL           -- epoch ms: when paused last changed
      ) WITHOUT ROWID;

      -- Live tasks per (queue, state), kept by triggers (by the store's writes since migration 4) so queue statistics never count the whole table
      -- (a synchronous driver: a long read would stall every claim). A transition costs one small upsert
      -- and one small update, on rows that stay in cache. Rows at 0 are kept.
      CREATE TABLE queue_counts (
        queue TEXT NOT NULL,
        state TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (queue, state)
      ) WITHOUT ROWID;
      INSERT INTO queue_counts (queue, state, n) SELECT queue, state, COUNT(*) FROM tasks GROUP BY queue, state;
      CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks BEGIN
        INSERT INTO queue_counts (queue, state, n) VALUES (new.queue, new.state, 1)
          ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks BEGIN
        UPDATE queue_counts SET n = n - 1 WHERE queue = old.queue AND state = old.state;
      END;
      CREATE TRIGGER tasks_count_update AFTER UPDATE OF queue, state ON tasks
        WHEN old.state IS NOT new.state OR old.queue IS NOT new.queue BEGIN
        UPDATE queue_counts SET n = n - 1 WHERE queue = old.queue AND state = old.state;
        INSERT INTO queue_counts (queue, state, n) VALUES (new.queue, new.state, 1)
          ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
      END;

      -- Task listing, newest first (created_at DESC, queue, id). Keys that never change after the insert,
      -- so claims and updates do not touch these two: they cost on create and archive only.
      CREATE INDEX tasks_created ON tasks (created_at DESC, queue, id);
      CREATE INDEX tasks_queue_created ON tasks (queue, created_at DESC, id);
      -- Listing failed/dead tasks (the ones operators look for, usually few among many done). Touched only
      -- by transitions into or out of failed/dead, never by create → claim → done.
      CREATE INDEX tasks_failed_dead_created ON tasks (created_at DESC, queue, id) WHERE state IN ('failed', 'dead');
      -- Listing the tasks of a recurring task: only recurring tasks' rows are in it.
      CREATE INDEX tasks_recurring_created ON tasks (recurring_task_id, created_at DESC, queue, id)
        WHERE recurring_task_id IS NOT NULL;

      -- Finished tasks by finish time per queue and final state, replacing the global tasks_finished: the
      -- statistics' recent done/dead counts become a range count per (queue, state) instead of a walk over
      -- every queue's window, and the archiver merges the oldest of each (queue, state). Same rows (written
      -- once, on done or death) as the index it replaces, so no extra cost on the hot path.
      DROP INDEX tasks_finished;
      CREATE INDEX tasks_finished_by_queue ON tasks (queue, state, result_at) WHERE state IN ('done', 'dead');
    `,
  },
  {
    version: 4,
    name: 'queue_counts_by_the_store',
    sql: `
      -- queue_counts is kept by the store's own writes from now on (one upsert per (queue, state) a write
      -- operation changed, aggregated over a batch or a claim), not by a trigger firing per row: the triggers
      -- were ~15 % of a batch's server CPU. The counts they kept so far are exact, so they stay.
      DROP TRIGGER IF EXISTS tasks_count_insert;
      DROP TRIGGER IF EXISTS tasks_count_delete;
      DROP TRIGGER IF EXISTS tasks_count_update;
    `,
  },
  {
    version: 5,
    name: 'claim_order_across_queues',
    sql: `
      -- Claims over every queue (queues: []) walk the waiting tasks of all queues in claim order and stop
      -- after \`amount\`: their cost follows the claimable tasks, not the number of queues ever seen (which
      -- a per-queue walk over the queues table paid, e.g. 2.5 s per claim with 50 000 queues). Also gives
      -- the earliest run_at per priority for long polls over every queue.
      CREATE INDEX tasks_claim_order_all ON tasks (priority DESC, run_at) WHERE state IN ('queued', 'failed');
    `,
  },
  {
    version: 6,
    name: 'flow_control',
    sql: `
      -- Flow control (docs/flow-control.md, docs/design/sqlite-flow-control.md). Task keys, set at create.
      ALTER TABLE tasks ADD COLUMN concurrency_key TEXT;
      ALTER TABLE tasks ADD COLUMN rate_key TEXT;
      ALTER TABLE archived_tasks ADD COLUMN concurrency_key TEXT;
      ALTER TABLE archived_tasks ADD COLUMN rate_key TEXT;
      -- The fair-share groups: per queue, the waiting tasks of each concurrency key in claim order. Partial
      -- on keyed tasks, so tasks without a key (the usual case) cost nothing more to write.
      CREATE INDEX tasks_flow_waiting ON tasks (queue, concurrency_key, priority DESC, run_at)
        WHERE state IN ('queued', 'failed') AND concurrency_key IS NOT NULL;
      -- Claimed tasks per concurrency key (the per-key concurrency limit): a count costs the key's claimed
      -- tasks, at most its limit.
      CREATE INDEX tasks_flow_claimed ON tasks (queue, concurrency_key)
        WHERE state = 'claimed' AND concurrency_key IS NOT NULL;
      -- Waiting (queued or failed) keyed tasks per queue, kept by the store's writes like queue_counts:
      -- whether a queue needs the fair-share claim, and whether it has tasks without a key besides.
      CREATE TABLE queue_keyed_waiting (queue TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
      -- Operator-set limits per queue (QueueLimits as JSON). Every write gets a new id (AUTOINCREMENT never
      -- reuses one): claims read the id alone and parse the JSON, which may hold 1 000 key overrides, only
      -- when it changed.
      CREATE TABLE queue_limits (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        queue TEXT NOT NULL UNIQUE,
        limits TEXT NOT NULL,
        modified_at INTEGER NOT NULL
      );
      -- Token buckets: the queue's (key '') and each rate key's (kind 'key'). No row: a full bucket.
      CREATE TABLE flow_buckets (
        queue TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('queue', 'key')),
        key TEXT NOT NULL,
        tokens REAL NOT NULL,
        updated_at INTEGER NOT NULL,           -- epoch ms: the tokens were counted at this instant
        PRIMARY KEY (queue, kind, key)
      ) WITHOUT ROWID;
    `,
  },
];
