/**
 * The embedded SQLite store (the default): one file in WAL mode, driven synchronously by better-sqlite3.
 *
 * Atomicity: within one process every statement runs on the event loop thread, so a claim transaction
 * cannot interleave with another; across processes sharing the file, write transactions take SQLite's
 * write lock up front (`BEGIN IMMEDIATE`), so two servers never claim the same task.
 * Durability: a write is acknowledged only after its transaction commits to the WAL, so it survives a
 * crash of the process (synchronous=NORMAL) or of the machine (synchronous=FULL).
 *
 * This class wires the parts: row mapping (rows.ts), statements per entity (*-statements.ts), the per-queue
 * counts (queue-counts.ts), task listing (task-listing.ts), flow control (flow-control.ts: limits, token
 * buckets, fair-share claims) and the group commit (group-commit.ts), which every method goes through,
 * naming itself.
 */
import type {
  LeaderLease,
  NewOperationRecord,
  Operation,
  QueueActivity,
  QueueDepth,
  QueueFlowStatus,
  QueueLimitsRecord,
  QueueState,
  QueueStats,
  RecurringTask,
  RecurringTaskTick,
  Task,
  WorkerSighting,
} from '../../types/index.js';
import type {
  ArchivedTaskDeleteBeforeParams,
  ArchivedTaskDeleteBeforeResult,
  ArchivedTaskGetParams,
  LeaderAttemptElectParams,
  LeaderAttemptReelectParams,
  LeaderGetParams,
  LeaderResignParams,
  OperationCreateParams,
  OperationGetParams,
  OperationListParams,
  OperationPruneParams,
  OperationUpdateParams,
  QueueActivityListParams,
  QueueActivityWriteParams,
  QueueDepthListParams,
  QueueDepthWriteParams,
  QueueFlowPruneParams,
  QueueFlowStatusParams,
  QueueLimitsListParams,
  QueueLimitsSetParams,
  QueueSeriesDeleteBeforeParams,
  QueueSetPausedParams,
  QueueStatsListParams,
  RecurringTaskCreateParams,
  RecurringTaskGetParams,
  RecurringTaskTickListParams,
  RecurringTaskTickRecordParams,
  RecurringTaskUpdateParams,
  Store,
  StoreCapabilities,
  TaskArchiveParams,
  TaskArchiveResult,
  TaskClaimParams,
  TaskCountOutstandingParams,
  TaskCountParams,
  TaskCreateManyParams,
  TaskCreateParams,
  TaskDeleteManyParams,
  TaskDeleteResult,
  TaskGetManyParams,
  TaskGetParams,
  TaskListPage,
  TaskListParams,
  TaskListTimedOutParams,
  TaskNextRunAtParams,
  TaskUpdateManyParams,
  TaskUpdateParams,
  TaskWriteResult,
  WorkerClaimList,
  WorkerClaimListParams,
  WorkerSeenListParams,
  WorkerSeenPruneParams,
  WorkerSeenRecordParams,
} from '../store.js';
import {
  listActivity,
  listDepth,
  prepareQueueSeriesStatements,
  writeActivity,
  writeDepth,
  type QueueSeriesStatements,
} from './queue-series.js';
import { groupWorkerClaims } from '../worker-claims.js';
import Database from 'better-sqlite3';
import { withinBudget } from '../../domain/answer-budget.js';
import { errors } from '../../errors/index.js';
import { prepareArchiveStatements, type ArchiveStatements } from './archive-statements.js';
import { FlowControl, type CandidateRow, type FlowPlan } from './flow-control.js';
import { GroupCommit } from './group-commit.js';
import { prepareLeaderStatements, type LeaderStatements } from './leader-statements.js';
import { MIGRATIONS } from './migrations.js';
import {
  CountChanges,
  prepareQueueCountStatements,
  readNamedQueueStats,
  readQueueStatsChunk,
  type QueueCountStatements,
} from './queue-counts.js';
import { prepareQueueStatements, type QueueStatements } from './queue-statements.js';
import {
  type ClaimedGroupRow,
  type OperationRow,
  type OperatorStatements,
  prepareOperatorStatements,
  type WorkerSightingRow,
} from './operator-statements.js';
import { prepareRecurringStatements, type RecurringStatements } from './recurring-statements.js';
import {
  claimAnswerBytesOfRow,
  insertValues,
  PRIMARY_TERM,
  recurringToRow,
  rowToLease,
  rowToQueueState,
  rowToRecurring,
  rowToTask,
  taskToRow,
  type LeaderRow,
  type QueueStateRow,
  type RecurringRow,
  type TaskRow,
} from './rows.js';
import {
  claimTasks,
  earliestWaitingRunAt,
  markClaimed,
  mergeByHeads,
  prepareTaskStatements,
  readPlainCandidates,
  writeTask,
  type TaskStatements,
} from './task-statements.js';
import { TaskListing } from './task-listing.js';

export interface SqliteStoreOptions {
  /** Database file; ':memory:' works for throwaway stores. */
  path: string;
  /** `normal` survives process crashes; `full` also power loss. */
  synchronous?: 'normal' | 'full';
  busyTimeoutMs?: number;
}

export class SchemaTooNewError extends Error {}

const isUniqueViolation = (e: unknown): boolean => (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';

export class SqliteStore implements Store {
  readonly capabilities: StoreCapabilities = { kind: 'sqlite' };
  readonly db: Database.Database;
  /** Queues whose row in `queues` is committed: their creates skip the insert. Only what committed is added. */
  private readonly knownQueues = new Set<string>();
  private readonly group: GroupCommit;
  private readonly tasks: TaskStatements;
  private readonly queues: QueueStatements;
  private readonly counts: QueueCountStatements;
  private readonly recurring: RecurringStatements;
  private readonly leader: LeaderStatements;
  private readonly archive: ArchiveStatements;
  private readonly listing: TaskListing;
  private readonly flow: FlowControl;
  private readonly series: QueueSeriesStatements;
  private readonly operator: OperatorStatements;
  // Many-row writes as better-sqlite3 transactions: their own when alone, a savepoint inside a group, so a
  // failure half-way undoes the whole call and nothing else.
  private readonly claimTx: Database.Transaction<(params: TaskClaimParams) => Task[]>;
  private readonly createManyTx: Database.Transaction<(tasks: TaskCreateManyParams['tasks']) => TaskWriteResult[]>;
  private readonly updateManyTx: Database.Transaction<(updates: TaskUpdateManyParams['updates']) => TaskWriteResult[]>;
  private readonly deleteManyTx: Database.Transaction<(deletes: TaskDeleteManyParams['deletes']) => TaskDeleteResult[]>;

  constructor(options: SqliteStoreOptions) {
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma(`busy_timeout = ${Math.round(options.busyTimeoutMs ?? 5000)}`);
    // Statement journals (a statement inside a transaction that may need undoing on its own) in memory,
    // not in temp files: nothing in them needs to outlive the transaction, and the files made every such
    // write 2–3× dearer (a create in a batch or a group commit: 25 µs against 13 µs).
    this.db.pragma('temp_store = MEMORY');
    this.migrateNow();
    this.group = new GroupCommit(this.db);
    this.tasks = prepareTaskStatements(this.db);
    this.queues = prepareQueueStatements(this.db);
    this.counts = prepareQueueCountStatements(this.db);
    this.recurring = prepareRecurringStatements(this.db);
    this.leader = prepareLeaderStatements(this.db);
    this.archive = prepareArchiveStatements(this.db);
    this.listing = new TaskListing(this.db);
    this.flow = new FlowControl(this.db);
    this.series = prepareQueueSeriesStatements(this.db);
    this.operator = prepareOperatorStatements(this.db);
    this.claimTx = this.db.transaction((params: TaskClaimParams) => this.claimNow(params));
    this.createManyTx = this.db.transaction((tasks: TaskCreateManyParams['tasks']) => this.createManyNow(tasks));
    this.updateManyTx = this.db.transaction((updates: TaskUpdateManyParams['updates']) => this.updateManyNow(updates));
    this.deleteManyTx = this.db.transaction((deletes: TaskDeleteManyParams['deletes']) => this.deleteManyNow(deletes));
  }

  close(): Promise<void> {
    return this.group.run('close', () => {
      if (this.db.open) this.db.close();
    });
  }

  migrate(): Promise<void> {
    return this.group.run('migrate', () => this.migrateNow());
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

  /** Runs `fn` in the open transaction (a group commit's), or in one of its own: writes and their counts commit together. */
  private inTransaction<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn).immediate();
  }

  /**
   * Inserts the `queues` rows of queues not known yet, in the caller's transaction: the queue row commits
   * with its first task (never a task in an unlisted queue). Known only once committed: a rolled-back
   * queue row is inserted again next time.
   */
  private ensureQueues(queues: Iterable<string>): void {
    for (const queue of queues) {
      if (this.knownQueues.has(queue)) continue;
      this.queues.insert.run(queue);
      this.group.afterCommit(() => this.knownQueues.add(queue));
    }
  }

  // ── Archive ───────────────────────────────────────────────────────────────────────────────────────

  archivedTaskDeleteBefore({ finishedBefore, limit }: ArchivedTaskDeleteBeforeParams): Promise<ArchivedTaskDeleteBeforeResult> {
    return this.group.run('archivedTaskDeleteBefore', () => {
      if (limit <= 0) return { deleted: 0 };
      return { deleted: this.archive.deleteBefore.run(finishedBefore, limit).changes };
    });
  }

  archivedTaskGet({ queue, id }: ArchivedTaskGetParams): Promise<Task | undefined> {
    return this.group.run('archivedTaskGet', () => {
      const row = this.archive.get.get(queue, id) as TaskRow | undefined;
      return row ? rowToTask(row) : undefined;
    });
  }

  taskArchive({ finishedBefore, limit, now }: TaskArchiveParams): Promise<TaskArchiveResult> {
    return this.group.run('taskArchive', () => {
      if (limit <= 0) return { archived: 0 };
      // Copy then delete the same rows, under one write lock: no reader sees a task in both or neither.
      const move = this.db.transaction(() => {
        let oldest: { row_id: number; result_at: number; queue: string; state: string }[] = [];
        for (const { queue, state } of this.archive.archivableGroups.all() as { queue: string; state: string }[]) {
          const rows = this.archive.archivableIn.all(queue, state, finishedBefore, limit) as { row_id: number; result_at: number }[];
          oldest.push(...rows.map((r) => ({ ...r, queue, state })));
        }
        oldest = oldest.sort((a, b) => a.result_at - b.result_at || a.row_id - b.row_id).slice(0, limit);
        const rows = JSON.stringify(oldest.map((r) => r.row_id));
        const copied = this.archive.copy.run(now, rows).changes;
        const deleted = this.archive.deleteLive.run(rows).changes;
        if (copied !== deleted || deleted !== oldest.length) {
          throw new Error(`archive selected ${oldest.length} tasks, copied ${copied} and deleted ${deleted}`);
        }
        const counts = new CountChanges();
        for (const r of oldest) counts.add(r.queue, r.state, -1);
        counts.apply(this.counts);
        return deleted;
      });
      return { archived: move.immediate() };
    });
  }

  // ── Leader lease ──────────────────────────────────────────────────────────────────────────────────

  leaderAttemptElect({ leaderId, now, ttlMs }: LeaderAttemptElectParams): Promise<LeaderLease | undefined> {
    return this.group.run('leaderAttemptElect', () => {
      const lease = { leader_id: leaderId, elected_at: now, expires_at: now + ttlMs };
      return this.leader.elect.run({ ...lease, now }).changes === 1 ? rowToLease(lease) : undefined;
    });
  }

  leaderAttemptReelect({ leaderId, electedAt, now, ttlMs }: LeaderAttemptReelectParams): Promise<LeaderLease | undefined> {
    return this.group.run('leaderAttemptReelect', () => {
      const lease = { leader_id: leaderId, elected_at: electedAt, expires_at: now + ttlMs };
      return this.leader.reelect.run(lease).changes === 1 ? rowToLease(lease) : undefined;
    });
  }

  leaderGet({ now }: LeaderGetParams): Promise<LeaderLease | undefined> {
    return this.group.run('leaderGet', () => {
      const row = this.leader.get.get() as LeaderRow | undefined;
      return row && row.expires_at > now ? rowToLease(row) : undefined;
    });
  }

  leaderResign({ leaderId, electedAt }: LeaderResignParams): Promise<boolean> {
    return this.group.run('leaderResign', () => this.leader.resign.run(leaderId, electedAt).changes === 1);
  }

  // ── Queues: states and statistics ─────────────────────────────────────────────────────────────────

  queueActivityList(params: QueueActivityListParams): Promise<QueueActivity[]> {
    return this.group.run('queueActivityList', () => listActivity(this.series, params));
  }

  queueActivityWrite(params: QueueActivityWriteParams): Promise<void> {
    return this.group.run('queueActivityWrite', () => this.inTransaction(() => writeActivity(this.series, params)));
  }

  queueDepthList(params: QueueDepthListParams): Promise<QueueDepth[]> {
    return this.group.run('queueDepthList', () => listDepth(this.series, params));
  }

  queueDepthWrite(params: QueueDepthWriteParams): Promise<void> {
    return this.group.run('queueDepthWrite', () => this.inTransaction(() => writeDepth(this.series, params)));
  }

  queueSeriesDeleteBefore({ before }: QueueSeriesDeleteBeforeParams): Promise<{ deleted: number }> {
    return this.group.run('queueSeriesDeleteBefore', () =>
      this.inTransaction(() => ({
        deleted: this.series.activityDelete.run(before).changes + this.series.depthDelete.run(before).changes,
      })),
    );
  }

  // ── Flow control (flow-control.ts) ──────────────────────────────────────────────────────────────

  queueFlowStatus({ queue, now, limit }: QueueFlowStatusParams): Promise<QueueFlowStatus> {
    // One read transaction: the counts, the buckets and the tasks of one snapshot.
    return this.group.run('queueFlowStatus', () => this.db.transaction(() => this.flow.status(queue, now, limit))());
  }

  queueLimitsList({ queues }: QueueLimitsListParams): Promise<QueueLimitsRecord[]> {
    return this.group.run('queueLimitsList', () => this.flow.list(queues));
  }

  queueLimitsSet({ queue, limits, now }: QueueLimitsSetParams): Promise<QueueLimitsRecord | undefined> {
    return this.group.run('queueLimitsSet', () => this.inTransaction(() => this.flow.set(queue, limits, now)));
  }

  queueFlowPrune({ now, idleBefore, limit }: QueueFlowPruneParams): Promise<number> {
    return this.group.run('queueFlowPrune', () => (limit >= 1 ? this.inTransaction(() => this.flow.prune(now, idleBefore, limit)) : 0));
  }

  queueSetPaused({ queue, paused, now }: QueueSetPausedParams): Promise<QueueState> {
    return this.group.run('queueSetPaused', () => {
      const set = this.db.transaction(() => {
        this.queues.setPaused.run({ queue, paused: paused ? 1 : 0, now });
        return this.queues.getState.get(queue) as QueueStateRow;
      });
      return rowToQueueState(set.immediate());
    });
  }

  queueStateList(): Promise<QueueState[]> {
    return this.group.run('queueStateList', () => (this.queues.listStates.all() as QueueStateRow[]).map(rowToQueueState));
  }

  async queueStatsList(params: QueueStatsListParams): Promise<QueueStats[]> {
    const statements = { counts: this.counts, queues: this.queues, tasks: this.tasks };
    // Named queues: one read transaction, every figure from the same snapshot.
    const { queues } = params;
    if (queues !== undefined) {
      return this.group.run('queueStatsList', () => this.db.transaction(() => readNamedQueueStats(statements, params, queues))());
    }
    // Every queue: a chunk of queues per turn of the event loop, each chunk one snapshot, so that tens of
    // thousands of queues (a metrics scrape, GET /queues) never block other requests for long.
    const all: QueueStats[] = [];
    let after = '';
    for (let chunks = 0; chunks < 1_000_000; chunks++) {
      const from = after;
      const chunk = await this.group.run('queueStatsList', () =>
        this.db.transaction(() => readQueueStatsChunk(statements, params, from))(),
      );
      all.push(...chunk.stats);
      if (chunk.next === undefined) break;
      after = chunk.next;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return all;
  }

  // ── Recurring tasks ───────────────────────────────────────────────────────────────────────────────

  recurringTaskCreate({ task }: RecurringTaskCreateParams): Promise<RecurringTask> {
    return this.group.run('recurringTaskCreate', () => {
      const create = this.db.transaction(() => {
        const existing = this.recurring.get.get(task.id) as RecurringRow | undefined;
        if (existing && existing.is_deleted === 0) throw errors.recurringTaskAlreadyExists(task.id);
        const row = recurringToRow(task, (existing?.version ?? 0) + 1);
        this.recurring.upsert.run(row);
        return rowToRecurring(row);
      });
      return create.immediate();
    });
  }

  recurringTaskGet({ id, includeDeleted = false }: RecurringTaskGetParams): Promise<RecurringTask | undefined> {
    return this.group.run('recurringTaskGet', () => {
      const row = this.recurring.get.get(id) as RecurringRow | undefined;
      if (!row || (row.is_deleted === 1 && !includeDeleted)) return undefined;
      return rowToRecurring(row);
    });
  }

  recurringTaskList(): Promise<RecurringTask[]> {
    return this.group.run('recurringTaskList', () => (this.recurring.list.all() as RecurringRow[]).map(rowToRecurring));
  }

  recurringTaskListNotLoaded(): Promise<RecurringTask[]> {
    return this.group.run('recurringTaskListNotLoaded', () =>
      (this.recurring.listNotLoaded.all() as RecurringRow[]).map(rowToRecurring),
    );
  }

  recurringTaskTickList({ recurringTaskIds }: RecurringTaskTickListParams): Promise<RecurringTaskTick[]> {
    return this.group.run('recurringTaskTickList', () => {
      if (recurringTaskIds.length === 0) return [];
      const rows = this.recurring.tickList.all(JSON.stringify(recurringTaskIds)) as {
        recurring_task_id: string;
        last_tick_at: number;
      }[];
      return rows.map((r) => ({ recurringTaskId: r.recurring_task_id, lastTickAt: r.last_tick_at }));
    });
  }

  recurringTaskTickRecord({ recurringTaskId, tickAt }: RecurringTaskTickRecordParams): Promise<RecurringTaskTick> {
    return this.group.run('recurringTaskTickRecord', () => {
      const lastTickAt = this.recurring.tickRecord.get({ id: recurringTaskId, tick_at: tickAt }) as number;
      return { recurringTaskId, lastTickAt };
    });
  }

  recurringTaskUpdate({ task, expectedVersion }: RecurringTaskUpdateParams): Promise<RecurringTask> {
    return this.group.run('recurringTaskUpdate', () => {
      const row = recurringToRow(task, expectedVersion.seqNum + 1);
      const result = this.recurring.update.run({ ...row, expected_version: expectedVersion.seqNum });
      if (result.changes === 0) throw errors.recurringTaskVersionConflict(task.id);
      return rowToRecurring(row);
    });
  }

  // ── Tasks ─────────────────────────────────────────────────────────────────────────────────────────

  taskClaim(params: TaskClaimParams): Promise<Task[]> {
    return this.group.run('taskClaim', () => (params.amount > 0 ? this.claimTx.immediate(params) : []));
  }

  private claimNow({ queues, ...claim }: TaskClaimParams): Task[] {
    // Deduplicated: a queue named twice must not yield (and claim) its candidates twice. Every queue: one
    // walk across queues, with paused ones left out by the query.
    let queueList: string[] | 'all' = 'all';
    if (queues.length > 0) {
      queueList = [...new Set(queues)];
      const paused = this.queues.paused.all() as string[];
      if (paused.length > 0) {
        const skip = new Set(paused);
        queueList = queueList.filter((queue) => !skip.has(queue));
      }
    }
    const counts = new CountChanges();
    const claimed = this.flow.inUse()
      ? this.claimWithFlow(queueList, claim, counts)
      : claimTasks(this.tasks, queueList, claim, counts);
    counts.apply(this.counts);
    return claimed;
  }

  /**
   * A claim when some queue has limits or keyed tasks: the flow queues' plans (fair share, within limits)
   * and the other queues' candidates (claim order), merged by the claim order of their heads.
   */
  private claimWithFlow(queues: readonly string[] | 'all', claim: Omit<TaskClaimParams, 'queues'>, counts: CountChanges): Task[] {
    let flowQueues: string[];
    let plain: readonly string[] | 'all';
    let except: string | undefined;
    if (queues === 'all') {
      const paused = new Set(this.queues.paused.all() as string[]);
      flowQueues = this.flow.flowQueues().filter((queue) => !paused.has(queue));
      plain = 'all';
      except = JSON.stringify(flowQueues);
    } else {
      flowQueues = queues.filter((queue) => this.flow.isFlowQueue(queue));
      const flowSet = new Set(flowQueues);
      plain = queues.filter((queue) => !flowSet.has(queue));
    }
    const plans: FlowPlan[] = flowQueues.map((queue) => this.flow.plan(queue, claim.amount, claim.now, claim.throttled));
    const sequences: CandidateRow[][] = plans.map((plan) => plan.rows);
    if (plain === 'all' || plain.length > 0) sequences.unshift(readPlainCandidates(this.tasks, plain, claim, except));
    const maxBytes = claim.maxBytes ?? Number.POSITIVE_INFINITY;
    const taken = withinBudget(mergeByHeads(sequences, claim.amount), claim.amount, maxBytes, claimAnswerBytesOfRow);
    const byQueue = new Map<string, CandidateRow[]>();
    for (const row of taken) {
      const rows = byQueue.get(row.queue);
      if (rows) rows.push(row);
      else byQueue.set(row.queue, [row]);
    }
    for (const plan of plans) this.flow.commit(plan, byQueue.get(plan.queue) ?? []);
    return markClaimed(this.tasks, taken, claim, counts);
  }

  taskCountOutstanding({ queue, recurringTaskId }: TaskCountOutstandingParams): Promise<number> {
    return this.group.run('taskCountOutstanding', () => this.tasks.countOutstanding.get(queue, recurringTaskId) as number);
  }

  taskCreate({ task }: TaskCreateParams): Promise<Task> {
    return this.group.run('taskCreate', () => {
      const row = taskToRow(task, 1);
      this.inTransaction(() => {
        this.ensureQueues([task.queue]);
        try {
          this.tasks.insert.run(insertValues(row));
        } catch (e) {
          if (isUniqueViolation(e)) throw errors.taskAlreadyExists(task.id);
          throw e;
        }
        this.counts.add.run(task.queue, task.state, 1);
        if (task.concurrencyKey !== undefined && (task.state === 'queued' || task.state === 'failed')) {
          this.counts.addKeyedWaiting.run(task.queue, 1);
        }
      });
      return { ...task, version: { seqNum: 1, primaryTerm: PRIMARY_TERM } };
    });
  }

  taskCreateMany({ tasks }: TaskCreateManyParams): Promise<TaskWriteResult[]> {
    return this.group.run('taskCreateMany', () => (tasks.length > 0 ? this.createManyTx.immediate(tasks) : []));
  }

  private createManyNow(tasks: TaskCreateManyParams['tasks']): TaskWriteResult[] {
    this.ensureQueues(new Set(tasks.map((task) => task.queue)));
    const counts = new CountChanges();
    const results = tasks.map((task): TaskWriteResult => {
      try {
        this.tasks.insert.run(insertValues(taskToRow(task, 1)));
      } catch (e) {
        // A failed INSERT undoes only itself: the transaction and the other items go on.
        if (isUniqueViolation(e)) return { error: errors.taskAlreadyExists(task.id) };
        throw e;
      }
      counts.add(task.queue, task.state, 1, task.concurrencyKey !== undefined);
      return { task: { ...task, version: { seqNum: 1, primaryTerm: PRIMARY_TERM } } };
    });
    counts.apply(this.counts);
    return results;
  }

  taskGet({ queue, id }: TaskGetParams): Promise<Task | undefined> {
    return this.group.run('taskGet', () => {
      const row = this.tasks.get.get(queue, id) as TaskRow | undefined;
      return row ? rowToTask(row) : undefined;
    });
  }

  taskGetMany({ keys }: TaskGetManyParams): Promise<(Task | undefined)[]> {
    return this.group.run('taskGetMany', () =>
      keys.map(({ queue, id }) => {
        const row = this.tasks.get.get(queue, id) as TaskRow | undefined;
        return row ? rowToTask(row) : undefined;
      }),
    );
  }

  taskList(params: TaskListParams): Promise<TaskListPage> {
    return this.group.run('taskList', () => this.listing.list(params));
  }

  taskListTimedOut({ now, limit }: TaskListTimedOutParams): Promise<Task[]> {
    return this.group.run('taskListTimedOut', () => {
      if (limit <= 0) return [];
      return (this.tasks.listTimedOut.all(now, limit) as TaskRow[]).map(rowToTask);
    });
  }

  taskNextRunAt({ queues }: TaskNextRunAtParams): Promise<number | undefined> {
    return this.group.run('taskNextRunAt', () => {
      if (queues.length === 0) return earliestWaitingRunAt(this.tasks);
      let earliest: number | undefined;
      for (const queue of queues) {
        const at = this.tasks.nextRunAt.get(queue) as number | null;
        if (at !== null && (earliest === undefined || at < earliest)) earliest = at;
      }
      return earliest;
    });
  }

  taskUpdate({ task, expectedVersion }: TaskUpdateParams): Promise<Task> {
    return this.group.run('taskUpdate', () => {
      const row = taskToRow(task, expectedVersion.seqNum + 1);
      const result = this.inTransaction(() => {
        const counts = new CountChanges();
        const written = writeTask(this.tasks, row, expectedVersion.seqNum, counts);
        counts.apply(this.counts);
        return written;
      });
      if (result.changes === 0) {
        if (!this.tasks.exists.get(task.queue, task.id)) throw errors.taskNotFound(task.queue, task.id);
        throw errors.taskVersionConflict(task.id);
      }
      return { ...task, version: { seqNum: row.version, primaryTerm: PRIMARY_TERM } };
    });
  }

  taskUpdateMany({ updates }: TaskUpdateManyParams): Promise<TaskWriteResult[]> {
    return this.group.run('taskUpdateMany', () => (updates.length > 0 ? this.updateManyTx.immediate(updates) : []));
  }

  private updateManyNow(updates: TaskUpdateManyParams['updates']): TaskWriteResult[] {
    const counts = new CountChanges();
    const results = updates.map(({ task, expectedVersion }): TaskWriteResult => {
      const row = taskToRow(task, expectedVersion.seqNum + 1);
      if (writeTask(this.tasks, row, expectedVersion.seqNum, counts).changes === 0) {
        if (!this.tasks.exists.get(task.queue, task.id)) return { error: errors.taskNotFound(task.queue, task.id) };
        return { error: errors.taskVersionConflict(task.id) };
      }
      return { task: { ...task, version: { seqNum: row.version, primaryTerm: PRIMARY_TERM } } };
    });
    counts.apply(this.counts);
    return results;
  }

  // ── Operator data (issue 16): bulk operations, deletes, counts, workers ─────────────────────────────

  operationCreate({ operation }: OperationCreateParams): Promise<Operation> {
    return this.group.run('operationCreate', () => {
      const { id, createdAt } = operation;
      const inserted = this.operator.operationInsert.run({ id, created_at: createdAt, record: JSON.stringify(operation) });
      if (inserted.changes === 0) throw errors.operationAlreadyExists(id);
      return { ...operation, version: { seqNum: 1, primaryTerm: PRIMARY_TERM } };
    });
  }

  operationGet({ id }: OperationGetParams): Promise<Operation | undefined> {
    return this.group.run('operationGet', () => {
      const row = this.operator.operationGet.get(id) as OperationRow | undefined;
      return row === undefined ? undefined : rowToOperation(row);
    });
  }

  operationList({ limit }: OperationListParams): Promise<Operation[]> {
    return this.group.run('operationList', () =>
      limit >= 1 ? (this.operator.operationList.all(limit) as OperationRow[]).map(rowToOperation) : [],
    );
  }

  operationUpdate({ operation, expectedVersion }: OperationUpdateParams): Promise<Operation> {
    return this.group.run('operationUpdate', () => {
      const updated = this.operator.operationUpdate.run({
        id: operation.id,
        created_at: operation.createdAt,
        record: JSON.stringify(operation),
        expected_version: expectedVersion.seqNum,
      });
      if (updated.changes === 0) throw errors.operationVersionConflict(operation.id);
      return { ...operation, version: { seqNum: expectedVersion.seqNum + 1, primaryTerm: PRIMARY_TERM } };
    });
  }

  operationPrune({ finishedBefore, keepFinished, limit }: OperationPruneParams): Promise<number> {
    return this.group.run('operationPrune', () =>
      limit >= 1 ? this.operator.operationPrune.run({ before: finishedBefore, keep: Math.max(0, keepFinished), limit }).changes : 0,
    );
  }

  taskCount(params: TaskCountParams): Promise<number> {
    return this.group.run('taskCount', () => this.listing.count(params));
  }

  taskDeleteMany({ deletes }: TaskDeleteManyParams): Promise<TaskDeleteResult[]> {
    return this.group.run('taskDeleteMany', () => (deletes.length > 0 ? this.deleteManyTx.immediate(deletes) : []));
  }

  private deleteManyNow(deletes: TaskDeleteManyParams['deletes']): TaskDeleteResult[] {
    const counts = new CountChanges();
    const results = deletes.map(({ queue, id, expectedVersion }): TaskDeleteResult => {
      const state = this.operator.deleteTask.pluck().get(queue, id, expectedVersion.seqNum) as string | undefined;
      if (state !== undefined) {
        counts.add(queue, state, -1);
        return { deleted: true };
      }
      if (!this.tasks.exists.get(queue, id)) return { deleted: false, error: errors.taskNotFound(queue, id) };
      return { deleted: false, error: errors.taskVersionConflict(id) };
    });
    counts.apply(this.counts);
    return results;
  }

  workerClaimList({ limit, maxTasks }: WorkerClaimListParams): Promise<WorkerClaimList> {
    return this.group.run('workerClaimList', () =>
      this.db.transaction(() => {
        const scanned = Math.max(0, maxTasks);
        const complete = (this.operator.claimedCount.get(scanned + 1) as number) <= scanned;
        const groups = this.operator.claimedGroups.all(scanned) as ClaimedGroupRow[];
        return groupWorkerClaims(
          groups.map((g) => ({ workerId: g.worker_id, queue: g.queue, claimed: g.n, oldestClaimedAt: g.oldest, lastReportAt: g.last_report ?? undefined })),
          limit,
          complete,
        );
      })(),
    );
  }

  workerSeenList({ since, limit }: WorkerSeenListParams): Promise<WorkerSighting[]> {
    return this.group.run('workerSeenList', () =>
      limit >= 1
        ? (this.operator.workerSeenList.all(since, limit) as WorkerSightingRow[]).map((r) => ({
            workerId: r.worker_id,
            lastSeenAt: r.last_seen_at,
            queues: JSON.parse(r.queues) as string[],
          }))
        : [],
    );
  }

  workerSeenPrune({ before }: WorkerSeenPruneParams): Promise<number> {
    return this.group.run('workerSeenPrune', () => this.operator.workerSeenPrune.run(before).changes);
  }

  workerSeenRecord({ sightings }: WorkerSeenRecordParams): Promise<void> {
    return this.group.run('workerSeenRecord', () => {
      if (sightings.length === 0) return;
      this.db.transaction(() => {
        for (const w of sightings) {
          this.operator.workerSeenUpsert.run({ worker_id: w.workerId, last_seen_at: w.lastSeenAt, queues: JSON.stringify(w.queues) });
        }
      }).immediate();
    });
  }
}

function rowToOperation(row: OperationRow): Operation {
  return { ...(JSON.parse(row.record) as NewOperationRecord), version: { seqNum: row.version, primaryTerm: PRIMARY_TERM } };
}
