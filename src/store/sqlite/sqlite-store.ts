/**
 * The embedded SQLite store (the default): one file in WAL mode, driven synchronously by better-sqlite3.
 *
 * Atomicity: within one process every statement runs on the event loop thread, so a claim transaction
 * cannot interleave with another; across processes sharing the file, write transactions take SQLite's
 * write lock up front (`BEGIN IMMEDIATE`), so two servers never claim the same task.
 * Durability: a write is acknowledged only after its transaction commits to the WAL, so it survives a
 * crash of the process (synchronous=NORMAL) or of the machine (synchronous=FULL).
 */
import Database from 'better-sqlite3';
import { intoClaimed, remainingAttempts } from '../../domain/task-lifecycle.js';
import { errors } from '../../errors/index.js';
import type {
  JsonObject,
  LeaderLease,
  NewRecurringTaskRecord,
  QueueState,
  QueueStats,
  RecurringTask,
  RecurringTaskTick,
  Task,
  TaskDefinition,
  TaskState,
} from '../../types/index.js';
import type {
  ArchivedTaskDeleteBeforeParams,
  ArchivedTaskDeleteBeforeResult,
  ArchivedTaskGetParams,
  LeaderAttemptElectParams,
  LeaderAttemptReelectParams,
  LeaderGetParams,
  LeaderResignParams,
  QueueSetPausedParams,
  QueueStatsListParams,
  RecurringTaskTickListParams,
  RecurringTaskTickRecordParams,
  TaskArchiveParams,
  TaskArchiveResult,
  TaskCountOutstandingParams,
  TaskListTimedOutParams,
  RecurringTaskCreateParams,
  RecurringTaskGetParams,
  RecurringTaskUpdateParams,
  Store,
  StoreCapabilities,
  TaskClaimParams,
  TaskCreateParams,
  TaskGetParams,
  TaskListPage,
  TaskListParams,
  TaskNextRunAtParams,
  TaskUpdateParams,
} from '../store.js';
import type { TaskCreateManyParams, TaskGetManyParams, TaskUpdateManyParams, TaskWriteResult } from '../store.js';
import { MIGRATIONS } from './migrations.js';

export interface SqliteStoreOptions {
  /** Database file; ':memory:' works for throwaway stores. */
  path: string;
  /** `normal` survives process crashes; `full` also power loss. */
  synchronous?: 'normal' | 'full';
  busyTimeoutMs?: number;
}

export class SchemaTooNewError extends Error {}

/** The persisted row of a task. Column names are the schema's (migrations.ts). */
interface TaskRow {
  queue: string;
  id: string;
  kind: string;
  state: Task['state'];
  priority: number;
  run_at: number;
  retry_times: number;
  attempted: number;
  processing_timeout_ns: number;
  args: string | null;
  context: string | null;
  claimed_worker_id: string | null;
  claimed_at: number | null;
  times_out_at: number | null;
  report_at: number | null;
  report_data: string | null;
  result_at: number | null;
  result_success: string | null;
  result_failure: string | null;
  last_enqueued_at: number;
  created_at: number;
  modified_at: number;
  version: number;
  recurring_task_id: string | null;
}

interface RecurringRow {
  id: string;
  schedule_expression: string;
  skip_if_outstanding_tasks_exist: number;
  task_definition: string;
  is_deleted: number;
  loaded_at: number | null;
  created_at: number;
  modified_at: number;
  version: number;
}

const TASK_COLUMNS = [
  'queue', 'id', 'kind', 'state', 'priority', 'run_at', 'retry_times', 'attempted', 'processing_timeout_ns',
  'args', 'context', 'claimed_worker_id', 'claimed_at', 'times_out_at', 'report_at', 'report_data', 'result_at',
  'result_success', 'result_failure', 'last_enqueued_at', 'created_at', 'modified_at', 'version', 'recurring_task_id',
] as const;

/** Set at create and never changed by the engine: keys of the listing indexes (migration 3). */
const IMMUTABLE_TASK_COLUMNS = ['queue', 'id', 'kind', 'created_at', 'recurring_task_id'] as const;

const PRIMARY_TERM = 1;

const json = (value: JsonObject | undefined): string | null => (value === undefined ? null : JSON.stringify(value));
const parseJson = (text: string | null): JsonObject | undefined =>
  text === null ? undefined : (JSON.parse(text) as JsonObject);

function taskToRow(task: Omit<Task, 'version'>, version: number): TaskRow {
  const lc = task.lastClaimed;
  return {
    queue: task.queue,
    id: task.id,
    kind: task.kind,
    state: task.state,
    priority: task.priority,
    run_at: task.runAt,
    retry_times: task.retryTimes,
    attempted: task.attempted,
    processing_timeout_ns: task.processingTimeoutNs,
    args: json(task.args),
    context: json(task.context),
    claimed_worker_id: lc?.workerId ?? null,
    claimed_at: lc?.claimedAt ?? null,
    times_out_at: lc?.timesOutAt ?? null,
    report_at: lc?.lastReport?.at ?? null,
    report_data: json(lc?.lastReport?.data),
    result_at: lc?.result?.at ?? null,
    result_success: json(lc?.result?.success),
    result_failure: json(lc?.result?.failure),
    last_enqueued_at: task.lastEnqueuedAt,
    created_at: task.createdAt,
    modified_at: task.modifiedAt,
    version,
    recurring_task_id: task.recurringTaskId ?? null,
  };
}

/**
 * The row's values as positional parameters, in TASK_COLUMNS order (binding 24 named parameters costs
 * about 2 µs more per statement than positional ones).
 */
function insertValues(r: TaskRow): unknown[] {
  return [
    r.queue, r.id, r.kind, r.state, r.priority, r.run_at, r.retry_times, r.attempted, r.processing_timeout_ns, r.args,
    r.context, r.claimed_worker_id, r.claimed_at, r.times_out_at, r.report_at, r.report_data, r.result_at,
    r.result_success, r.result_failure, r.last_enqueued_at, r.created_at, r.modified_at, r.version, r.recurring_task_id,
  ];
}

/** The parameters of `updateTask`: every column but the key, in TASK_COLUMNS order, then queue, id, expected version. */
function updateValues(r: TaskRow, expectedVersion: number): unknown[] {
  return [
    r.kind, r.state, r.priority, r.run_at, r.retry_times, r.attempted, r.processing_timeout_ns, r.args, r.context,
    r.claimed_worker_id, r.claimed_at, r.times_out_at, r.report_at, r.report_data, r.result_at, r.result_success,
    r.result_failure, r.last_enqueued_at, r.created_at, r.modified_at, r.version, r.recurring_task_id,
    r.queue, r.id, expectedVersion,
  ];
}

/**
 * The parameters of `updateTaskMutable`: the columns that change after create, in TASK_COLUMNS order, then
 * the key, the expected version and the columns that never change (matched in WHERE).
 */
function mutableUpdateValues(r: TaskRow, expectedVersion: number): unknown[] {
  return [
    r.state, r.priority, r.run_at, r.retry_times, r.attempted, r.processing_timeout_ns, r.args, r.context,
    r.claimed_worker_id, r.claimed_at, r.times_out_at, r.report_at, r.report_data, r.result_at, r.result_success,
    r.result_failure, r.last_enqueued_at, r.modified_at, r.version,
    r.queue, r.id, expectedVersion, r.kind, r.created_at, r.recurring_task_id,
  ];
}

function rowToTask(row: TaskRow): Task {
  const task: Task = {
    queue: row.queue,
    id: row.id,
    kind: row.kind,
    state: row.state,
    priority: row.priority,
    runAt: row.run_at,
    retryTimes: row.retry_times,
    attempted: row.attempted,
    processingTimeoutNs: row.processing_timeout_ns,
    args: parseJson(row.args),
    context: parseJson(row.context),
    lastEnqueuedAt: row.last_enqueued_at,
    createdAt: row.created_at,
    modifiedAt: row.modified_at,
    version: { seqNum: row.version, primaryTerm: PRIMARY_TERM },
    recurringTaskId: row.recurring_task_id ?? undefined,
  };
  if (row.claimed_worker_id !== null) {
    task.lastClaimed = {
      workerId: row.claimed_worker_id,
      claimedAt: row.claimed_at as number,
      timesOutAt: row.times_out_at as number,
      lastReport: row.report_at === null ? undefined : { at: row.report_at, data: parseJson(row.report_data) },
      result:
        row.result_at === null
          ? undefined
          : { at: row.result_at, success: parseJson(row.result_success), failure: parseJson(row.result_failure) },
    };
  }
  return task;
}

function recurringToRow(task: NewRecurringTaskRecord, version: number): RecurringRow {
  return {
    id: task.id,
    schedule_expression: task.scheduleExpression,
    skip_if_outstanding_tasks_exist: task.skipIfOutstandingTasksExist ? 1 : 0,
    task_definition: JSON.stringify(task.taskDefinition),
    is_deleted: task.isDeleted ? 1 : 0,
    loaded_at: task.loadedAt ?? null,
    created_at: task.createdAt,
    modified_at: task.modifiedAt,
    version,
  };
}

function rowToRecurring(row: RecurringRow): RecurringTask {
  return {
    id: row.id,
    scheduleExpression: row.schedule_expression,
    skipIfOutstandingTasksExist: row.skip_if_outstanding_tasks_exist === 1,
    taskDefinition: JSON.parse(row.task_definition) as TaskDefinition,
    isDeleted: row.is_deleted === 1,
    loadedAt: row.loaded_at ?? undefined,
    createdAt: row.created_at,
    modifiedAt: row.modified_at,
    version: { seqNum: row.version, primaryTerm: PRIMARY_TERM },
  };
}

/** Claim order: priority desc, then run_at asc, then attempts left desc (v1 §3.2). */
function compareClaimOrder(a: TaskRow, b: TaskRow): number {
  return (
    b.priority - a.priority ||
    a.run_at - b.run_at ||
    remainingAttempts({ retryTimes: b.retry_times, attempted: b.attempted }) -
      remainingAttempts({ retryTimes: a.retry_times, attempted: a.attempted })
  );
}

interface LeaderRow {
  leader_id: string;
  elected_at: number;
  expires_at: number;
}

const rowToLease = (row: LeaderRow): LeaderLease => ({
  leaderId: row.leader_id,
  electedAt: row.elected_at,
  expiresAt: row.expires_at,
});

/** Statements of the leader lease, the maintenance jobs and the archive (migration 2). */
function prepareMaintenanceStatements(db: Database.Database) {
  const columns = TASK_COLUMNS.join(', ');
  const rowids = 'SELECT value FROM json_each(?)';
  return {
    // One statement, so the check and the write are atomic under SQLite's write lock.
    leaderElect: db.prepare(
      `INSERT INTO leader_lease (id, leader_id, elected_at, expires_at) VALUES (1, @leader_id, @now, @expires_at)
       ON CONFLICT (id) DO UPDATE SET leader_id = excluded.leader_id, elected_at = excluded.elected_at,
         expires_at = excluded.expires_at
       WHERE leader_lease.expires_at <= @now OR leader_lease.leader_id = @leader_id`,
    ),
    leaderReelect: db.prepare(
      'UPDATE leader_lease SET expires_at = @expires_at WHERE id = 1 AND leader_id = @leader_id AND elected_at = @elected_at',
    ),
    leaderResign: db.prepare('DELETE FROM leader_lease WHERE id = 1 AND leader_id = ? AND elected_at = ?'),
    leaderGet: db.prepare('SELECT leader_id, elected_at, expires_at FROM leader_lease WHERE id = 1'),
    listTimedOut: db.prepare(
      `SELECT * FROM tasks WHERE state = 'claimed' AND times_out_at <= ? ORDER BY times_out_at LIMIT ?`,
    ),
    countOutstanding: db
      .prepare(
        `SELECT COUNT(*) FROM tasks WHERE queue = ? AND recurring_task_id = ?
           AND state IN ('queued', 'claimed', 'failed')`,
      )
      .pluck(),
    // The oldest finished tasks are the oldest of some (queue, final state): taskArchive takes the `limit`
    // oldest of each non-empty one through tasks_finished_by_queue and merges them.
    archivableGroups: db.prepare(
      `SELECT queue, state FROM queue_counts WHERE state IN ('done', 'dead') AND n > 0`,
    ),
    archivableIn: db.prepare(
      // The literal IN term lets SQLite use the partial index (it does not derive it from `state = ?`).
      `SELECT rowid AS row_id, result_at FROM tasks INDEXED BY tasks_finished_by_queue
       WHERE queue = ? AND state = ? AND state IN ('done', 'dead') AND result_at <= ?
       ORDER BY result_at LIMIT ?`,
    ),
    archiveCopy: db.prepare(
      `INSERT INTO archived_tasks (${columns}, archived_at) SELECT ${columns}, ? FROM tasks WHERE rowid IN (${rowids})`,
    ),
    archiveDelete: db.prepare(`DELETE FROM tasks WHERE rowid IN (${rowids})`),
    archivedGet: db.prepare(
      'SELECT * FROM archived_tasks WHERE queue = ? AND id = ? ORDER BY archived_at DESC, rowid DESC LIMIT 1',
    ),
    archivedDelete: db.prepare(
      `DELETE FROM archived_tasks WHERE rowid IN
         (SELECT rowid FROM archived_tasks WHERE result_at <= ? ORDER BY result_at LIMIT ?)`,
    ),
    listNotLoaded: db.prepare('SELECT * FROM recurring_tasks WHERE loaded_at IS NULL ORDER BY id'),
    tickList: db.prepare(
      `SELECT recurring_task_id, last_tick_at FROM recurring_task_ticks
       WHERE recurring_task_id IN (SELECT value FROM json_each(?))`,
    ),
    tickRecord: db.prepare(
      `INSERT INTO recurring_task_ticks (recurring_task_id, last_tick_at) VALUES (@id, @tick_at)
       ON CONFLICT (recurring_task_id) DO UPDATE SET last_tick_at = max(last_tick_at, excluded.last_tick_at)
       RETURNING last_tick_at`,
    ),
  };
}

interface QueueStateRow {
  queue: string;
  paused: number;
  modified_at: number;
}

const rowToQueueState = (row: QueueStateRow): QueueState => ({
  queue: row.queue,
  paused: row.paused === 1,
  modifiedAt: row.modified_at,
});

/** Statements of queue states and statistics (migration 3). Task listings are built per filter set. */
function prepareOperatorStatements(db: Database.Database) {
  return {
    // A repeat of the current state changes nothing: modified_at is when `paused` last changed.
    setPaused: db.prepare(
      `INSERT INTO queue_states (queue, paused, modified_at) VALUES (@queue, @paused, @now)
       ON CONFLICT (queue) DO UPDATE SET paused = excluded.paused, modified_at = excluded.modified_at
       WHERE queue_states.paused <> excluded.paused`,
    ),
    getState: db.prepare('SELECT queue, paused, modified_at FROM queue_states WHERE queue = ?'),
    listStates: db.prepare('SELECT queue, paused, modified_at FROM queue_states ORDER BY queue'),
    // Queues with live tasks: from the trigger-kept counts, never from the tasks table.
    liveQueues: db.prepare('SELECT queue FROM queue_counts GROUP BY queue HAVING SUM(n) > 0').pluck(),
    counts: db.prepare('SELECT queue, state, n FROM queue_counts WHERE n > 0'),
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
 * The index a task listing walks, newest first, and the literal WHERE terms that let SQLite use a
 * partial index (it only does when the index's own condition appears in the query). Chosen by rule, not
 * by the planner (there are no statistics): the filter most likely to be selective wins.
 */
function listingIndex(params: TaskListParams, states: TaskState[] | undefined): { index: string; terms: string[] } {
  if (params.recurringTaskId !== undefined) return { index: 'tasks_recurring_created', terms: [] };
  if (states?.every((s) => s === 'failed' || s === 'dead')) {
    return { index: 'tasks_failed_dead_created', terms: ["state IN ('failed', 'dead')"] };
  }
  // In-flight tasks are few (bounded by workers × claim amount): gather them all and sort.
  if (states?.every((s) => s === 'claimed')) return { index: 'tasks_claim_deadline', terms: ["state = 'claimed'"] };
  if (params.queue !== undefined) return { index: 'tasks_queue_created', terms: [] };
  return { index: 'tasks_created', terms: [] };
}

export class SqliteStore implements Store {
  readonly capabilities: StoreCapabilities = { kind: 'sqlite' };
  readonly db: Database.Database;
  private readonly knownQueues = new Set<string>();
  private readonly stmt;
  private readonly claimTx: Database.Transaction<(queues: string[], amount: number, workerId: string, now: number) => Task[]>;

  constructor(options: SqliteStoreOptions) {
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma(`busy_timeout = ${Math.round(options.busyTimeoutMs ?? 5000)}`);
    // Statement journals (a statement that fires triggers, inside a transaction) in memory, not in temp
    // files: nothing in them needs to outlive the transaction, and the files made every such write 2–3×
    // dearer (a create in a batch or a group commit: 25 µs against 13 µs).
    this.db.pragma('temp_store = MEMORY');
    this.migrateNow();
    const placeholders = TASK_COLUMNS.map(() => '?').join(', ');
    const assignments = TASK_COLUMNS.filter((c) => c !== 'queue' && c !== 'id')
      .map((c) => `${c} = ?`)
      .join(', ');
    // SQLite rewrites an index entry whenever a column of the index is in the SET list, changed or not; so
    // the usual update leaves out the columns that never change after create (and only key the listing
    // indexes), and matches them in WHERE instead.
    const mutableAssignments = TASK_COLUMNS.filter((c) => !(IMMUTABLE_TASK_COLUMNS as readonly string[]).includes(c))
      .map((c) => `${c} = ?`)
      .join(', ');
    const db = this.db;
    this.stmt = {
      insertTask: db.prepare(`INSERT INTO tasks (${TASK_COLUMNS.join(', ')}) VALUES (${placeholders})`),
      insertQueue: db.prepare('INSERT OR IGNORE INTO queues (name) VALUES (?)'),
      getTask: db.prepare('SELECT * FROM tasks WHERE queue = ? AND id = ?'),
      updateTask: db.prepare(
        `UPDATE tasks SET ${assignments} WHERE queue = ? AND id = ? AND version = ?`,
      ),
      updateTaskMutable: db.prepare(
        `UPDATE tasks SET ${mutableAssignments}
         WHERE queue = ? AND id = ? AND version = ? AND kind = ? AND created_at = ? AND recurring_task_id IS ?`,
      ),
      taskExists: db.prepare('SELECT 1 FROM tasks WHERE queue = ? AND id = ?').pluck(),
      // The state a compare-and-set update replaces (for queue_counts): the row the update will match.
      stateAtVersion: db.prepare('SELECT state FROM tasks WHERE queue = ? AND id = ? AND version = ?').pluck(),
      addCount: db.prepare(
        'INSERT INTO queue_counts (queue, state, n) VALUES (?, ?, ?) ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n',
      ),
      claimCandidates: db.prepare(
        // INDEXED BY: without statistics SQLite prefers tasks_next_run for the run_at range and then sorts
        // the whole backlog; walking tasks_claim_order in order stops after `amount` rows (flat claim cost).
        `SELECT rowid AS row_id, * FROM tasks INDEXED BY tasks_claim_order
         WHERE queue = ? AND state IN ('queued', 'failed') AND run_at <= ? AND attempted <= retry_times
         ORDER BY priority DESC, run_at ASC LIMIT ?`,
      ),
      markClaimed: db.prepare(
        `UPDATE tasks SET state = 'claimed', attempted = ?, claimed_worker_id = ?,
           claimed_at = ?, times_out_at = ?, report_at = NULL, report_data = NULL,
           result_at = NULL, result_success = NULL, result_failure = NULL, modified_at = ?,
           version = version + 1
         WHERE rowid = ?`,
      ),
      nextRunAt: db
        .prepare(`SELECT MIN(run_at) FROM tasks WHERE queue = ? AND state IN ('queued', 'failed')`)
        .pluck(),
      allQueues: db.prepare('SELECT name FROM queues ORDER BY name').pluck(),
      // Read inside the claim transaction (under the write lock), so a pause committed by any connection
      // before the claim began is seen. A handful of rows at most; the candidate query is unchanged.
      pausedQueues: db.prepare('SELECT queue FROM queue_states WHERE paused = 1').pluck(),
      getRecurring: db.prepare('SELECT * FROM recurring_tasks WHERE id = ?'),
      listRecurring: db.prepare('SELECT * FROM recurring_tasks WHERE is_deleted = 0 ORDER BY id'),
      upsertRecurring: db.prepare(
        `INSERT INTO recurring_tasks (id, schedule_expression, skip_if_outstanding_tasks_exist, task_definition,
           is_deleted, loaded_at, created_at, modified_at, version)
         VALUES (@id, @schedule_expression, @skip_if_outstanding_tasks_exist, @task_definition, @is_deleted,
           @loaded_at, @created_at, @modified_at, @version)
         ON CONFLICT (id) DO UPDATE SET schedule_expression = excluded.schedule_expression,
           skip_if_outstanding_tasks_exist = excluded.skip_if_outstanding_tasks_exist,
           task_definition = excluded.task_definition, is_deleted = excluded.is_deleted,
           loaded_at = excluded.loaded_at, created_at = excluded.created_at, modified_at = excluded.modified_at,
           version = excluded.version`,
      ),
      updateRecurring: db.prepare(
        `UPDATE recurring_tasks SET schedule_expression = @schedule_expression,
           skip_if_outstanding_tasks_exist = @skip_if_outstanding_tasks_exist, task_definition = @task_definition,
           is_deleted = @is_deleted, loaded_at = @loaded_at, created_at = @created_at,
           modified_at = @modified_at, version = version + 1
         WHERE id = @id AND version = @expected_version`,
      ),
    };
    this.claimTx = this.db.transaction((queues: string[], amount: number, workerId: string, now: number) =>
      this.claimNow(queues, amount, workerId, now),
    );
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async migrate(): Promise<void> {
    this.migrateNow();
  }

  /** Applies pending migrations under the write lock; a concurrent migrator simply finds nothing to do. */
  private migrateNow(): void {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS tasques_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    const apply = this.db.transaction(() => {
      const current = (this.db.prepare('SELECT MAX(version) FROM tasques_migrations').pluck().get() as number | null) ?? 0;
      const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
      if (current > latest) {
        throw new SchemaTooNewError(
          `the database schema is at version ${current}, newer than this server knows (${latest}); upgrade the server`,
        );
      }
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        this.db.exec(m.sql);
        this.db
          .prepare('INSERT INTO tasques_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(m.version, m.name, Date.now());
      }
    });
    apply.immediate();
  }

  /** The versions recorded in the migration ledger (for tests and `readyz`). */
  appliedMigrations(): number[] {
    return this.db.prepare('SELECT version FROM tasques_migrations ORDER BY version').pluck().all() as number[];
  }

  async recurringTaskCreate({ task }: RecurringTaskCreateParams): Promise<RecurringTask> {
    const create = this.db.transaction(() => {
      const existing = this.stmt.getRecurring.get(task.id) as RecurringRow | undefined;
      if (existing && existing.is_deleted === 0) throw errors.recurringTaskAlreadyExists(task.id);
      const row = recurringToRow(task, (existing?.version ?? 0) + 1);
      this.stmt.upsertRecurring.run(row);
      return rowToRecurring(row);
    });
    return create.immediate();
  }

  async recurringTaskGet({ id, includeDeleted = false }: RecurringTaskGetParams): Promise<RecurringTask | undefined> {
    const row = this.stmt.getRecurring.get(id) as RecurringRow | undefined;
    if (!row || (row.is_deleted === 1 && !includeDeleted)) return undefined;
    return rowToRecurring(row);
  }

  async recurringTaskList(): Promise<RecurringTask[]> {
    return (this.stmt.listRecurring.all() as RecurringRow[]).map(rowToRecurring);
  }

  async recurringTaskUpdate({ task, expectedVersion }: RecurringTaskUpdateParams): Promise<RecurringTask> {
    const row = recurringToRow(task, expectedVersion.seqNum + 1);
    const result = this.stmt.updateRecurring.run({ ...row, expected_version: expectedVersion.seqNum });
    if (result.changes === 0) throw errors.recurringTaskVersionConflict(task.id);
    return rowToRecurring(row);
  }

  async taskClaim({ queues, amount, workerId, now }: TaskClaimParams): Promise<Task[]> {
    if (amount <= 0) return [];
    return this.claimTx.immediate(queues, amount, workerId, now);
  }

  /** Picks the best `amount` candidates: per queue through the claim-order index, then merged. */
  private claimNow(queues: string[], amount: number, workerId: string, now: number): Task[] {
    // Deduplicated: a queue named twice must not yield (and claim) its candidates twice.
    let queueList = queues.length > 0 ? [...new Set(queues)] : (this.stmt.allQueues.all() as string[]);
    const paused = this.stmt.pausedQueues.all() as string[];
    if (paused.length > 0) {
      const skip = new Set(paused);
      queueList = queueList.filter((queue) => !skip.has(queue));
    }
    let candidates: (TaskRow & { row_id: number })[] = [];
    for (const queue of queueList) {
      candidates.push(...(this.stmt.claimCandidates.all(queue, now, amount) as (TaskRow & { row_id: number })[]));
    }
    if (queueList.length > 1) candidates = candidates.sort(compareClaimOrder).slice(0, amount);
    const counts = new CountChanges();
    const claimed = candidates.map((row) => {
      const task = intoClaimed(rowToTask(row), { workerId, now });
      const lc = task.lastClaimed!;
      this.stmt.markClaimed.run(task.attempted, lc.workerId, lc.claimedAt, lc.timesOutAt, task.modifiedAt, row.row_id);
      counts.move(row.queue, row.state, 'claimed');
      return { ...task, version: { seqNum: row.version + 1, primaryTerm: PRIMARY_TERM } };
    });
    counts.apply(this.stmt.addCount);
    return claimed;
  }

  async taskCreate({ task }: TaskCreateParams): Promise<Task> {
    const row = taskToRow(task, 1);
    // The queue row first: a crash in between leaves an empty queue listed, never a task in an unlisted one.
    if (!this.knownQueues.has(task.queue)) {
      this.stmt.insertQueue.run(task.queue);
      this.knownQueues.add(task.queue);
    }
    this.inTransaction(() => {
      try {
        this.stmt.insertTask.run(insertValues(row));
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw errors.taskAlreadyExists(task.id);
        throw e;
      }
      this.stmt.addCount.run(task.queue, task.state, 1);
    });
    return { ...task, version: { seqNum: 1, primaryTerm: PRIMARY_TERM } };
  }

  /** Runs `fn` in the open transaction (a group commit's), or in one of its own: writes and their counts commit together. */
  private inTransaction<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn).immediate();
  }

  async taskGet({ queue, id }: TaskGetParams): Promise<Task | undefined> {
    const row = this.stmt.getTask.get(queue, id) as TaskRow | undefined;
    return row ? rowToTask(row) : undefined;
  }

  async taskNextRunAt({ queues }: TaskNextRunAtParams): Promise<number | undefined> {
    const queueList = queues.length > 0 ? queues : (this.stmt.allQueues.all() as string[]);
    let earliest: number | undefined;
    for (const queue of queueList) {
      const at = this.stmt.nextRunAt.get(queue) as number | null;
      if (at !== null && (earliest === undefined || at < earliest)) earliest = at;
    }
    return earliest;
  }

  async taskUpdate({ task, expectedVersion }: TaskUpdateParams): Promise<Task> {
    const row = taskToRow(task, expectedVersion.seqNum + 1);
    const result = this.inTransaction(() => {
      const counts = new CountChanges();
      const written = this.writeTask(row, expectedVersion.seqNum, counts);
      counts.apply(this.stmt.addCount);
      return written;
    });
    if (result.changes === 0) {
      if (!this.stmt.taskExists.get(task.queue, task.id)) throw errors.taskNotFound(task.queue, task.id);
      throw errors.taskVersionConflict(task.id);
    }
    return { ...task, version: { seqNum: row.version, primaryTerm: PRIMARY_TERM } };
  }

  /**
   * The compare-and-set write of a task row. The narrow update first; the full replacement only when it
   * did not match: a conflict, a missing task, or a caller that changed a field that normally never changes.
   */
  private writeTask(row: TaskRow, expectedVersion: number, counts: CountChanges): { changes: number } {
    const before = this.stmt.stateAtVersion.get(row.queue, row.id, expectedVersion) as string | undefined;
    if (before === undefined) return { changes: 0 }; // gone, or written meanwhile: the update would match nothing
    let result = this.stmt.updateTaskMutable.run(mutableUpdateValues(row, expectedVersion));
    if (result.changes === 0) result = this.stmt.updateTask.run(updateValues(row, expectedVersion));
    if (result.changes > 0) counts.move(row.queue, before, row.state);
    return result;
  }
  // ── Leader lease, maintenance jobs and archive (migration 2) ─────────────────────────────────────────

  private maintenanceStatements: ReturnType<typeof prepareMaintenanceStatements> | undefined;

  private get mstmt(): ReturnType<typeof prepareMaintenanceStatements> {
    this.maintenanceStatements ??= prepareMaintenanceStatements(this.db);
    return this.maintenanceStatements;
  }

  async archivedTaskDeleteBefore({
    finishedBefore,
    limit,
  }: ArchivedTaskDeleteBeforeParams): Promise<ArchivedTaskDeleteBeforeResult> {
    if (limit <= 0) return { deleted: 0 };
    return { deleted: this.mstmt.archivedDelete.run(finishedBefore, limit).changes };
  }

  async archivedTaskGet({ queue, id }: ArchivedTaskGetParams): Promise<Task | undefined> {
    const row = this.mstmt.archivedGet.get(queue, id) as TaskRow | undefined;
    return row ? rowToTask(row) : undefined;
  }

  async leaderAttemptElect({ leaderId, now, ttlMs }: LeaderAttemptElectParams): Promise<LeaderLease | undefined> {
    const lease = { leader_id: leaderId, elected_at: now, expires_at: now + ttlMs };
    const result = this.mstmt.leaderElect.run({ ...lease, now });
    return result.changes === 1 ? rowToLease(lease) : undefined;
  }

  async leaderAttemptReelect({
    leaderId,
    electedAt,
    now,
    ttlMs,
  }: LeaderAttemptReelectParams): Promise<LeaderLease | undefined> {
    const lease = { leader_id: leaderId, elected_at: electedAt, expires_at: now + ttlMs };
    const result = this.mstmt.leaderReelect.run(lease);
    return result.changes === 1 ? rowToLease(lease) : undefined;
  }

  async leaderGet({ now }: LeaderGetParams): Promise<LeaderLease | undefined> {
    const row = this.mstmt.leaderGet.get() as LeaderRow | undefined;
    return row && row.expires_at > now ? rowToLease(row) : undefined;
  }

  async leaderResign({ leaderId, electedAt }: LeaderResignParams): Promise<boolean> {
    return this.mstmt.leaderResign.run(leaderId, electedAt).changes === 1;
  }

  async recurringTaskListNotLoaded(): Promise<RecurringTask[]> {
    return (this.mstmt.listNotLoaded.all() as RecurringRow[]).map(rowToRecurring);
  }

  async recurringTaskTickList({ recurringTaskIds }: RecurringTaskTickListParams): Promise<RecurringTaskTick[]> {
    if (recurringTaskIds.length === 0) return [];
    const rows = this.mstmt.tickList.all(JSON.stringify(recurringTaskIds)) as {
      recurring_task_id: string;
      last_tick_at: number;
    }[];
    return rows.map((r) => ({ recurringTaskId: r.recurring_task_id, lastTickAt: r.last_tick_at }));
  }

  async recurringTaskTickRecord({ recurringTaskId, tickAt }: RecurringTaskTickRecordParams): Promise<RecurringTaskTick> {
    const lastTickAt = this.mstmt.tickRecord.pluck().get({ id: recurringTaskId, tick_at: tickAt }) as number;
    return { recurringTaskId, lastTickAt };
  }

  async taskArchive({ finishedBefore, limit, now }: TaskArchiveParams): Promise<TaskArchiveResult> {
    if (limit <= 0) return { archived: 0 };
    // Copy then delete the same rows, under one write lock: no reader sees a task in both or neither.
    const move = this.db.transaction(() => {
      let oldest: { row_id: number; result_at: number; queue: string; state: string }[] = [];
      for (const { queue, state } of this.mstmt.archivableGroups.all() as { queue: string; state: string }[]) {
        const rows = this.mstmt.archivableIn.all(queue, state, finishedBefore, limit) as { row_id: number; result_at: number }[];
        oldest.push(...rows.map((r) => ({ ...r, queue, state })));
      }
      oldest = oldest.sort((a, b) => a.result_at - b.result_at || a.row_id - b.row_id).slice(0, limit);
      const rows = JSON.stringify(oldest.map((r) => r.row_id));
      const copied = this.mstmt.archiveCopy.run(now, rows).changes;
      const deleted = this.mstmt.archiveDelete.run(rows).changes;
      if (copied !== deleted || deleted !== oldest.length) {
        throw new Error(`archive selected ${oldest.length} tasks, copied ${copied} and deleted ${deleted}`);
      }
      const counts = new CountChanges();
      for (const r of oldest) counts.add(r.queue, r.state, -1);
      counts.apply(this.stmt.addCount);
      return deleted;
    });
    return { archived: move.immediate() };
  }

  async taskCountOutstanding({ queue, recurringTaskId }: TaskCountOutstandingParams): Promise<number> {
    return this.mstmt.countOutstanding.get(queue, recurringTaskId) as number;
  }

  async taskListTimedOut({ now, limit }: TaskListTimedOutParams): Promise<Task[]> {
    if (limit <= 0) return [];
    return (this.mstmt.listTimedOut.all(now, limit) as TaskRow[]).map(rowToTask);
  }

  // ── Many-task operations (batch endpoints): one transaction, one commit for the lot ───────────────────

  private createManyTx: Database.Transaction<(tasks: TaskCreateManyParams['tasks']) => TaskWriteResult[]> | undefined;
  private updateManyTx: Database.Transaction<(updates: TaskUpdateManyParams['updates']) => TaskWriteResult[]> | undefined;

  async taskCreateMany({ tasks }: TaskCreateManyParams): Promise<TaskWriteResult[]> {
    if (tasks.length === 0) return [];
    this.createManyTx ??= this.db.transaction((items: TaskCreateManyParams['tasks']) => {
      // The queue rows first, as in taskCreate; in the same transaction, so they commit together.
      for (const queue of new Set(items.map((task) => task.queue))) {
        if (!this.knownQueues.has(queue)) this.stmt.insertQueue.run(queue);
      }
      const counts = new CountChanges();
      const results = items.map((task): TaskWriteResult => {
        try {
          this.stmt.insertTask.run(insertValues(taskToRow(task, 1)));
        } catch (e) {
          // A failed INSERT undoes only itself: the transaction and the other items go on.
          if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return { error: errors.taskAlreadyExists(task.id) };
          throw e;
        }
        counts.add(task.queue, task.state, 1);
        return { task: { ...task, version: { seqNum: 1, primaryTerm: PRIMARY_TERM } } };
      });
      counts.apply(this.stmt.addCount);
      return results;
    });
    const results = this.createManyTx.immediate(tasks);
    // Only once committed: a rolled-back queue row must be inserted again next time.
    for (const task of tasks) this.knownQueues.add(task.queue);
    return results;
  }

  async taskGetMany({ keys }: TaskGetManyParams): Promise<(Task | undefined)[]> {
    return keys.map(({ queue, id }) => {
      const row = this.stmt.getTask.get(queue, id) as TaskRow | undefined;
      return row ? rowToTask(row) : undefined;
    });
  }

  async taskUpdateMany({ updates }: TaskUpdateManyParams): Promise<TaskWriteResult[]> {
    if (updates.length === 0) return [];
    this.updateManyTx ??= this.db.transaction((items: TaskUpdateManyParams['updates']) => {
      const counts = new CountChanges();
      const results = items.map(({ task, expectedVersion }): TaskWriteResult => {
        const row = taskToRow(task, expectedVersion.seqNum + 1);
        const result = this.writeTask(row, expectedVersion.seqNum, counts);
        if (result.changes === 0) {
          if (!this.stmt.taskExists.get(task.queue, task.id)) return { error: errors.taskNotFound(task.queue, task.id) };
          return { error: errors.taskVersionConflict(task.id) };
        }
        return { task: { ...task, version: { seqNum: row.version, primaryTerm: PRIMARY_TERM } } };
      });
      counts.apply(this.stmt.addCount);
      return results;
    });
    return this.updateManyTx.immediate(updates);
  }

  // ── Operator API: queue states, statistics, task listing (migration 3) ───────────────────────────────

  private operatorStatements: ReturnType<typeof prepareOperatorStatements> | undefined;
  /** Listing statements by SQL text: one per combination of filters present (a bounded set). */
  private readonly listStatements = new Map<string, Database.Statement>();

  private get ostmt(): ReturnType<typeof prepareOperatorStatements> {
    this.operatorStatements ??= prepareOperatorStatements(this.db);
    return this.operatorStatements;
  }

  async queueSetPaused({ queue, paused, now }: QueueSetPausedParams): Promise<QueueState> {
    const set = this.db.transaction(() => {
      this.ostmt.setPaused.run({ queue, paused: paused ? 1 : 0, now });
      return this.ostmt.getState.get(queue) as QueueStateRow;
    });
    return rowToQueueState(set.immediate());
  }

  async queueStateList(): Promise<QueueState[]> {
    return (this.ostmt.listStates.all() as QueueStateRow[]).map(rowToQueueState);
  }

  async queueStatsList({ now, recentWindowMs, queues }: QueueStatsListParams): Promise<QueueStats[]> {
    // One read transaction: every figure comes from the same snapshot.
    const read = this.db.transaction((): QueueStats[] => {
      const states = new Map((this.ostmt.listStates.all() as QueueStateRow[]).map((r) => [r.queue, r.paused === 1]));
      const names =
        queues !== undefined
          ? [...new Set(queues)]
          : [...new Set([...(this.ostmt.liveQueues.all() as string[]), ...states.keys()])];
      names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const byQueue = new Map<string, QueueStats>();
      const from = now - recentWindowMs;
      for (const queue of names) {
        const oldest = this.stmt.nextRunAt.get(queue) as number | null;
        byQueue.set(queue, {
          queue,
          paused: states.get(queue) ?? false,
          counts: { queued: 0, claimed: 0, failed: 0, done: 0, dead: 0 },
          oldestClaimableRunAt: oldest !== null && oldest <= now ? oldest : undefined,
          recent: {
            windowMs: recentWindowMs,
            created: this.ostmt.recentCreated.get(queue, from, now) as number,
            done: this.ostmt.recentFinished.get(queue, 'done', from, now) as number,
            dead: this.ostmt.recentFinished.get(queue, 'dead', from, now) as number,
          },
        });
      }
      for (const row of this.ostmt.counts.all() as { queue: string; state: TaskState; n: number }[]) {
        const stats = byQueue.get(row.queue);
        if (stats) stats.counts[row.state] = row.n;
      }
      return [...byQueue.values()];
    });
    return read();
  }

  async taskList(params: TaskListParams): Promise<TaskListPage> {
    const { limit, after } = params;
    if (!(limit >= 1)) return { tasks: [] };
    const states = params.states !== undefined && params.states.length > 0 ? [...new Set(params.states)] : undefined;
    const { index, terms } = listingIndex(params, states);
    const where = [...terms];
    const args: (string | number)[] = [];
    if (params.queue !== undefined) {
      where.push('queue = ?');
      args.push(params.queue);
    }
    if (states !== undefined) {
      where.push(`state IN (${states.map(() => '?').join(', ')})`);
      args.push(...states);
    }
    if (params.kind !== undefined) {
      where.push('kind = ?');
      args.push(params.kind);
    }
    if (params.recurringTaskId !== undefined) {
      where.push('recurring_task_id = ?');
      args.push(params.recurringTaskId);
    }
    if (params.createdFrom !== undefined) {
      where.push('created_at >= ?');
      args.push(params.createdFrom);
    }
    if (params.createdTo !== undefined) {
      where.push('created_at < ?');
      args.push(params.createdTo);
    }
    if (params.prefix !== undefined) {
      // substr, not LIKE or GLOB: those have wildcards, and LIKE ignores ASCII case.
      where.push('(substr(id, 1, length(?)) = ? OR substr(kind, 1, length(?)) = ?)');
      args.push(params.prefix, params.prefix, params.prefix, params.prefix);
    }
    if (after !== undefined) {
      // Keyset: strictly after (createdAt, queue, id) in (created_at DESC, queue ASC, id ASC) order. The
      // leading `created_at <= ?` bounds the index range; the rest drops the cursor's instant up to it.
      where.push('created_at <= ? AND (created_at < ? OR queue > ? OR (queue = ? AND id > ?))');
      args.push(after.createdAt, after.createdAt, after.queue, after.queue, after.id);
    }
    const sql =
      `SELECT * FROM tasks INDEXED BY ${index}` +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY created_at DESC, queue, id LIMIT ?';
    let statement = this.listStatements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.listStatements.set(sql, statement);
    }
    const tasks = (statement.all(...args, limit) as TaskRow[]).map(rowToTask);
    const last = tasks[tasks.length - 1];
    // Full page: there may be more (the caller's next call finds out); see TaskListPage.next.
    return tasks.length === limit && last !== undefined
      ? { tasks, next: { createdAt: last.createdAt, queue: last.queue, id: last.id } }
      : { tasks };
  }
}

/**
 * Changes to queue_counts (live tasks per queue and state) made by one write operation, applied as one
 * upsert per (queue, state) at its end, inside its transaction: a claim or a batch of 100 costs two or
 * three small upserts instead of a trigger firing per row.
 */
class CountChanges {
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

  apply(addCount: Database.Statement): void {
    for (const { queue, state, n } of this.deltas.values()) if (n !== 0) addCount.run(queue, state, n);
  }
}

// ── Group commit ────────────────────────────────────────────────────────────────────────────────────────
//
// A commit costs more than the writes it commits (WAL frames, file locks: ~25 µs against ~6 µs for an
// insert). So the hot writes made in one turn of the event loop (the requests whose bytes arrived
// together) share one transaction: the first of them opens it (BEGIN IMMEDIATE, the write lock, as each
// of them took before), the others join it, and a setImmediate callback commits it once the turn's I/O
// callbacks have run. Nothing is acknowledged before its commit: every method called while a group is
// open, read or write, settles only after that commit (a read may have seen the group's writes), and
// fails if the group fails. Durability is unchanged: what the caller was told is in the WAL.
//
// It is applied below to every async method of the class, so a method added later is covered too: an
// async method that is not in GROUP_OPENERS joins an open group (and settles after its commit) but does
// not open one. A call on another instance of this process (a second connection to the same file, as
// in tests) first commits the open group of the others, which would otherwise hold the write lock while
// the event loop is blocked in SQLite's busy wait. Statement errors that SQLite answers by undoing one statement (a UNIQUE violation) stay
// with their caller; an error that made SQLite roll the whole transaction back fails the group.

/** The methods that open a group when none is open: the per-request writes of the task lifecycle. */
const GROUP_OPENERS: ReadonlySet<string> = new Set([
  'taskClaim',
  'taskCreate',
  'taskCreateMany',
  'taskUpdate',
  'taskUpdateMany',
]);

interface CommitGroup {
  /** Settles each member once the group has committed (error undefined) or failed. */
  members: ((error: unknown) => void)[];
  /** Set when SQLite rolled the transaction back under the group: nothing of it was written. */
  error: unknown;
  settled: boolean;
}

/** The open group of each store instance of this process (usually one instance, and at most one group). */
const groups = new Map<SqliteStore, CommitGroup>();
const groupStatements = new WeakMap<SqliteStore, { begin: Database.Statement; commit: Database.Statement; rollback: Database.Statement }>();

function statementsOf(store: SqliteStore) {
  let s = groupStatements.get(store);
  if (!s) {
    s = {
      begin: store.db.prepare('BEGIN IMMEDIATE'),
      commit: store.db.prepare('COMMIT'),
      rollback: store.db.prepare('ROLLBACK'),
    };
    groupStatements.set(store, s);
  }
  return s;
}

function commitGroup(store: SqliteStore, group: CommitGroup): void {
  if (group.settled) return;
  group.settled = true;
  if (groups.get(store) === group) groups.delete(store);
  let error = group.error;
  if (error === undefined) {
    try {
      statementsOf(store).commit.run();
    } catch (e) {
      error = e;
      try {
        if (store.db.inTransaction) statementsOf(store).rollback.run();
      } catch {
        // Nothing more to undo.
      }
    }
  }
  for (const settle of group.members) settle(error);
}

function grouped(store: SqliteStore, opens: boolean, call: () => Promise<unknown>): Promise<unknown> {
  // Another instance of this process (a second connection to the file) holding the write lock until its
  // setImmediate would make this one wait out busy_timeout on the blocked event loop: commit it now.
  if (groups.size > (groups.has(store) ? 1 : 0)) {
    for (const [other, open] of groups) if (other !== store) commitGroup(other, open);
  }
  let group = groups.get(store);
  if (group === undefined && opens && store.db.open && !store.db.inTransaction) {
    try {
      statementsOf(store).begin.run();
    } catch (e) {
      return Promise.reject(e); // e.g. SQLITE_BUSY: another process held the write lock past busy_timeout
    }
    const opened: CommitGroup = { members: [], error: undefined, settled: false };
    groups.set(store, opened);
    setImmediate(() => commitGroup(store, opened));
    group = opened;
  }
  const result = call();
  if (group === undefined) return result;
  const joined = group;
  if (!store.db.inTransaction && !joined.settled) {
    // SQLite rolled the whole transaction back (e.g. disk full): the group's writes are gone.
    joined.error = new Error('the SQLite transaction of this write was rolled back');
    result.catch((e: unknown) => {
      joined.error = e;
    });
    groups.delete(store);
  }
  result.catch(() => undefined); // settled through the group below
  return new Promise((resolve, reject) => {
    joined.members.push((error) => {
      if (error === undefined) result.then(resolve, reject);
      else result.then(() => reject(error), reject);
    });
  });
}

{
  const proto = SqliteStore.prototype as unknown as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const method = Object.getOwnPropertyDescriptor(proto, name)?.value; // not through getters
    if (typeof method !== 'function' || method.constructor.name !== 'AsyncFunction') continue;
    const opens = GROUP_OPENERS.has(name);
    if (name === 'close') {
      // Commit what is open before the handle goes away.
      proto[name] = function close(this: SqliteStore, ...args: unknown[]) {
        const open = groups.get(this);
        if (open) commitGroup(this, open);
        return (method as (...a: unknown[]) => Promise<unknown>).apply(this, args);
      };
      continue;
    }
    proto[name] = {
      [name](this: SqliteStore, ...args: unknown[]) {
        return grouped(this, opens, () => (method as (...a: unknown[]) => Promise<unknown>).apply(this, args));
      },
    }[name];
  }
}
