/**
 * The store contract: everything the engine needs from persistence, and nothing else. Internal and
 * unstable; a driver proves it honours the contract by passing the conformance suite
 * (src/store-conformance), which runs unchanged against every driver.
 *
 * Conventions: methods are named entity-then-verb and sorted alphabetically; each takes one params object;
 * the caller passes `now` (the store never reads a clock), so tests control time.
 * Stores hold no domain rules beyond atomicity: the engine decides the next state of a task
 * (src/domain/task-lifecycle.ts) and the store writes it with compare-and-set on `version`.
 */
import type {
  LeaderLease,
  NewOperationRecord,
  NewRecurringTaskRecord,
  Operation,
  NewTaskRecord,
  QueueActivity,
  QueueDepth,
  RecordVersion,
  RecurringTask,
  QueueFlowStatus,
  QueueLimits,
  QueueLimitsRecord,
  QueueState,
  QueueStats,
  RecurringTaskTick,
  Task,
  TaskListCursor,
  TaskState,
  WorkerClaims,
  WorkerSighting,
} from '../types/index.js';
import type { TasquesError } from '../errors/index.js';

export interface StoreCapabilities {
  /** The driver's name, as in the `store.kind` configuration key. */
  readonly kind: string;
}

export interface ArchivedTaskDeleteBeforeParams {
  /** Deletes archived tasks that finished (`lastClaimed.result.at`) at or before this instant. */
  finishedBefore: number;
  /** At most this many per call. */
  limit: number;
}

export interface ArchivedTaskDeleteBeforeResult {
  deleted: number;
}

export interface ArchivedTaskGetParams {
  queue: string;
  id: string;
}

export interface LeaderAttemptElectParams {
  leaderId: string;
  now: number;
  /** Lease duration: the new term expires at `now + ttlMs`. */
  ttlMs: number;
}

export interface LeaderAttemptReelectParams {
  /** The term to renew: (leaderId, electedAt) as returned by the election. */
  leaderId: string;
  electedAt: number;
  now: number;
  ttlMs: number;
}

export interface LeaderGetParams {
  now: number;
}

export interface LeaderResignParams {
  leaderId: string;
  electedAt: number;
}

export interface QueueActivityListParams {
  /** Intervals starting at or after `from` and before `to` (epoch ms). */
  from: number;
  to: number;
  /** The answer's interval: stored minutes are summed into intervals of this length (a multiple of a minute, aligned on the epoch). */
  bucketMs: number;
  /** Only these queues; undefined means every queue with records in the range. */
  queues?: string[] | undefined;
}

export interface QueueActivityWriteParams {
  /** The writing server: each server's figures are stored apart and added up when listed. */
  serverId: string;
  /** Its running totals per (queue, minute): `at` is the minute's start. */
  records: QueueActivity[];
}

export interface QueueDepthListParams {
  /** Samples taken at or after `from` and before `to` (epoch ms). */
  from: number;
  to: number;
  /** The answer's interval (aligned on the epoch): the samples of an interval give its largest figures. */
  bucketMs: number;
  /** Only these queues; undefined means every queue with samples in the range. */
  queues?: string[] | undefined;
}

export interface QueueDepthWriteParams {
  /** One sample per queue; `at` is the start of the minute it was taken in. */
  samples: QueueDepth[];
}

export interface OperationCreateParams {
  operation: NewOperationRecord;
}

export interface OperationGetParams {
  id: string;
}

export interface OperationListParams {
  /** At most this many, newest first. */
  limit: number;
}

export interface OperationPruneParams {
  /** Finished (done or failed) operations last modified before this are deleted... */
  finishedBefore: number;
  /** ...and so are finished ones beyond the newest `keepFinished` (by createdAt, then id). */
  keepFinished: number;
  /** At most this many are deleted per call (the oldest first). */
  limit: number;
}

export interface OperationUpdateParams {
  /** The whole new record. */
  operation: NewOperationRecord;
  expectedVersion: RecordVersion;
}

export interface QueueFlowStatusParams {
  queue: string;
  now: number;
  /** At most this many throttled keys are listed. */
  limit: number;
}

export interface QueueLimitsListParams {
  /** Only these queues; undefined means every queue with stored limits. */
  queues?: string[] | undefined;
}

export interface QueueLimitsSetParams {
  queue: string;
  /** The new limits, replacing the stored ones; undefined removes them (the queue is unlimited again). */
  limits: QueueLimits | undefined;
  now: number;
}

export interface QueueFlowPruneParams {
  now: number;
  /** Buckets last taken at or after this instant are kept (idle for a while first). */
  idleBefore: number;
  /** At most this many are deleted per call. */
  limit: number;
}

export interface QueueSeriesDeleteBeforeParams {
  /** Deletes activity records and depth samples whose `at` is before this instant. */
  before: number;
}

export interface QueueSetPausedParams {
  queue: string;
  paused: boolean;
  now: number;
}

export interface QueueStatsListParams {
  now: number;
  /** `recent` counts cover `(now - recentWindowMs, now]`. */
  recentWindowMs: number;
  /**
   * Only these queues: each named queue once (duplicates ignored), with zero counts if it has no live
   * task and no stored state; an empty array gives an empty list. Undefined means every queue that has
   * live tasks or a stored queue state (a queue whose tasks were all archived is then not listed).
   */
  queues?: string[] | undefined;
}

export interface RecurringTaskCreateParams {
  task: NewRecurringTaskRecord;
}

export interface RecurringTaskGetParams {
  id: string;
  /** Also return a soft-deleted recurring task. */
  includeDeleted?: boolean;
}

export interface RecurringTaskTickListParams {
  recurringTaskIds: string[];
}

export interface RecurringTaskTickRecordParams {
  recurringTaskId: string;
  tickAt: number;
}

export interface RecurringTaskUpdateParams {
  /** The whole new record (soft delete is an update with `isDeleted: true`). */
  task: NewRecurringTaskRecord;
  expectedVersion: RecordVersion;
}

export interface TaskArchiveParams {
  /** Archives DONE and DEAD tasks that finished (`lastClaimed.result.at`) at or before this instant. */
  finishedBefore: number;
  /** At most this many per call, oldest finish first. */
  limit: number;
  /** When the archiving happens (recorded with the archived copy). */
  now: number;
}

export interface TaskArchiveResult {
  archived: number;
}

export interface TaskClaimParams {
  /** Queues to claim from; empty means every queue. */
  queues: string[];
  amount: number;
  workerId: string;
  now: number;
  /**
   * Answer budget, a hint: a driver may stop claiming once the tasks it would hand out reach this many
   * bytes of stored JSON (args and context), so that it never loads far more than the caller can answer.
   * At least one task is always claimed when one is claimable, however large; the claimed tasks stay a
   * prefix of the claim order. A driver may ignore it: the engine bounds the answer itself.
   */
  maxBytes?: number | undefined;
  /**
   * Filled in by the driver, when given: per queue, how many claimable tasks this claim passed over
   * because a flow-control limit (the queue's or a key's) held them back. For metrics; never a key.
   */
  throttled?: Map<string, number> | undefined;
}

export interface TaskCountOutstandingParams {
  queue: string;
  recurringTaskId: string;
}

/** The filters of `taskList` (all optional, ANDed), and how far to count. */
export interface TaskCountParams extends Omit<TaskListParams, 'limit' | 'after' | 'maxBytes'> {
  /** Counting stops here: the answer is min(matching tasks, max). */
  max: number;
}

export interface TaskCreateParams {
  task: NewTaskRecord;
}

export interface TaskGetParams {
  queue: string;
  id: string;
}

/** Filters of `taskList`; all optional and ANDed together. */
export interface TaskListParams {
  queue?: string | undefined;
  /** Any of these states; undefined or empty means every state. */
  states?: TaskState[] | undefined;
  kind?: string | undefined;
  recurringTaskId?: string | undefined;
  /** createdAt >= createdFrom (inclusive). */
  createdFrom?: number | undefined;
  /** createdAt < createdTo (exclusive). */
  createdTo?: number | undefined;
  /** The task id or the kind starts with this (case-sensitive, literal: no wildcard characters). */
  prefix?: string | undefined;
  /**
   * Only tasks that are (`scheduled: true`) or are not (false) scheduled at `now`: scheduled means
   * waiting (queued or failed) with a `runAt` after `now`, i.e. not claimable yet.
   */
  scheduled?: { now: number; scheduled: boolean } | undefined;
  /** Page size, 1..1000. */
  limit: number;
  /**
   * Continue strictly after this position (the `next` of the previous page), by keyset: the position
   * need not be a task that still exists (any { createdAt, queue, id } works).
   */
  after?: TaskListCursor | undefined;
  /**
   * Page budget, a hint: a driver may end the page early once its tasks reach this many bytes of stored
   * JSON (args, context, report and result data), with `next` set after the last task of the page. At
   * least one task per page. A driver may ignore it: the engine bounds the answer itself.
   */
  maxBytes?: number | undefined;
}

export interface TaskListPage {
  /**
   * Newest first: createdAt descending, then queue ascending, then id ascending (queue and id compare
   * by code point, i.e. binary UTF-8 order: 'Z' < 'a').
   */
  tasks: Task[];
  /**
   * Set whenever the page is full (`tasks.length === limit`) or was ended early by `maxBytes`: the
   * position ({ createdAt, queue, id }) of its last task. A full last page therefore still has a `next`,
   * and the call after it returns an empty page without one. Undefined otherwise: the listing is exhausted.
   */
  next?: TaskListCursor | undefined;
}

export interface TaskListTimedOutParams {
  now: number;
  limit: number;
}

export interface TaskNextRunAtParams {
  /** Queues to look at; empty means every queue. */
  queues: string[];
}

export interface TaskDeleteManyParams {
  /** Tasks to delete, each only if its version is still `expectedVersion`. */
  deletes: { queue: string; id: string; expectedVersion: RecordVersion }[];
}

/** One item of `taskDeleteMany`: deleted, or TASK_NOT_FOUND / TASK_VERSION_CONFLICT. */
export type TaskDeleteResult = { deleted: true; error?: undefined } | { deleted: false; error: TasquesError };

export interface TaskUpdateParams {
  /** The whole new task; (queue, id) name the record to replace. */
  task: Task;
  expectedVersion: RecordVersion;
}

// ── Many-task operations (batch endpoints): one store round trip for many tasks ──────────────────────

export interface TaskCreateManyParams {
  /** The new tasks, in order. */
  tasks: NewTaskRecord[];
}

export interface TaskGetManyParams {
  /** The tasks to read, by (queue, id); the same key may appear more than once. */
  keys: TaskGetParams[];
}

export interface TaskUpdateManyParams {
  /** The compare-and-set writes, in order. */
  updates: TaskUpdateParams[];
}

export interface WorkerClaimListParams {
  /** At most this many workers, those holding the most tasks first. */
  limit: number;
  /**
   * A driver may group no more than this many CLAIMED tasks (then `complete` is false): claimed tasks
   * are bounded by the workers' concurrency, so this is a safety bound, not the usual case.
   */
  maxTasks: number;
}

export interface WorkerClaimList {
  /** Sorted by `claimed` descending, then `workerId`. */
  workers: WorkerClaims[];
  /** Distinct workers holding claims (also those beyond `limit`). */
  workerCount: number;
  /** False when not every claimed task was grouped (`maxTasks`). */
  complete: boolean;
}

export interface WorkerSeenListParams {
  /** Workers last seen at or after this instant. */
  since: number;
  /** At most this many, most recently seen first. */
  limit: number;
}

export interface WorkerSeenPruneParams {
  /** Forgets workers last seen before this instant. */
  before: number;
}

export interface WorkerSeenRecordParams {
  /** Sightings to merge in: per worker, the later `lastSeenAt` wins (with its queues). */
  sightings: WorkerSighting[];
}

/**
 * One item of a many-task write (`taskCreateMany`, `taskUpdateMany`): the task as stored, or the error
 * the single-task method would have thrown for it.
 */
export type TaskWriteResult = { task: Task; error?: undefined } | { task?: undefined; error: TasquesError };

export interface Store {
  readonly capabilities: StoreCapabilities;

  /**
   * Deletes up to `limit` archived tasks that finished at or before `finishedBefore`, oldest first
   * (archive retention). Returns how many were deleted; fewer than `limit` means none are left.
   * A driver whose archive is split into time-ordered segments (Elasticsearch: rolled-over indices) may
   * also drop whole segments that hold nothing newer than the cutoff, and count them: then it can
   * report more than `limit`.
   */
  archivedTaskDeleteBefore(params: ArchivedTaskDeleteBeforeParams): Promise<ArchivedTaskDeleteBeforeResult>;

  /**
   * The archived task (queue, id), exactly as it was when it left the live store; undefined if none.
   * An id can be archived more than once (it is free again after archiving): the latest archived wins.
   */
  archivedTaskGet(params: ArchivedTaskGetParams): Promise<Task | undefined>;

  /** Releases connections and file handles. The store is unusable afterwards. */
  close(): Promise<void>;

  /**
   * Takes the leader lease for a new term (leaderId, electedAt = now, expiresAt = now + ttlMs) if there
   * is no lease, the lease has expired (`expiresAt <= now`), or it is held by the same leaderId. Returns
   * the new term, or undefined when another leader holds a live lease. Atomic across every process and
   * connection sharing the data: of concurrent callers, at most one gets a term.
   */
  leaderAttemptElect(params: LeaderAttemptElectParams): Promise<LeaderLease | undefined>;

  /**
   * Extends the term (leaderId, electedAt) to `now + ttlMs`. Returns the renewed lease, or undefined if
   * the stored lease is not that term any more (someone else was elected, or it resigned). Succeeds even
   * after `expiresAt` if nobody took over meanwhile: any election in between would have changed the term.
   */
  leaderAttemptReelect(params: LeaderAttemptReelectParams): Promise<LeaderLease | undefined>;

  /** The lease in force at `now`, or undefined if there is none or it has expired. */
  leaderGet(params: LeaderGetParams): Promise<LeaderLease | undefined>;

  /**
   * Gives the lease up so another process can be elected at once (graceful shutdown). Only the named
   * term is removed; returns false if the stored lease is not that term.
   */
  leaderResign(params: LeaderResignParams): Promise<boolean>;

  /** Stores a new bulk operation. Throws OPERATION_ALREADY_EXISTS if its id is taken. */
  operationCreate(params: OperationCreateParams): Promise<Operation>;

  /** The bulk operation, or undefined. */
  operationGet(params: OperationGetParams): Promise<Operation | undefined>;

  /** The most recent bulk operations, newest first (`createdAt` descending, then id). */
  operationList(params: OperationListParams): Promise<Operation[]>;

  /**
   * Replaces a bulk operation if its version is still `expectedVersion` (its owner's progress, or a
   * takeover). Throws OPERATION_VERSION_CONFLICT otherwise, including when it does not exist.
   */
  operationUpdate(params: OperationUpdateParams): Promise<Operation>;

  /**
   * Deletes finished bulk operation records (retention, by the leader): those older than `finishedBefore`
   * and those beyond the newest `keepFinished`, at most `limit`. Running ones are never deleted. Returns
   * how many were deleted.
   */
  operationPrune(params: OperationPruneParams): Promise<number>;

  /**
   * Pauses or resumes a queue and returns its stored state. A queue need not have tasks to be paused.
   * Idempotent: setting the state a queue already has changes nothing (its `modifiedAt` stays when
   * `paused` was last changed) and returns the stored state. Resuming a queue never paused stores a
   * state (`paused: false`) too. Once this resolves, no `taskClaim` that starts afterwards (through any
   * store instance on the same data) hands out tasks of a paused queue; resuming makes them claimable
   * again. Nothing else is affected: creates, report-ins, done and failed keep working on a paused queue.
   */
  queueSetPaused(params: QueueSetPausedParams): Promise<QueueState>;

  /**
   * Activity summed over every server's records, per queue and interval (`bucketMs`), sorted by queue then
   * `at`; intervals without records are absent. Read-your-writes. The number of queues is bounded by the
   * writers (the server folds queues past a cap into one, docs/design/queue-series.md).
   */
  queueActivityList(params: QueueActivityListParams): Promise<QueueActivity[]>;

  /**
   * Stores a server's figures per (queue, minute), replacing what that server stored for the same
   * (queue, minute) before: a server writes running totals, so writing a record again is harmless.
   */
  queueActivityWrite(params: QueueActivityWriteParams): Promise<void>;

  /**
   * Depth samples per queue and interval, sorted by queue then `at`: each figure is the largest of the
   * interval's samples (its peak); intervals without samples are absent.
   */
  queueDepthList(params: QueueDepthListParams): Promise<QueueDepth[]>;

  /** Stores depth samples, replacing a sample of the same (queue, at): two leaders overlapping write one. */
  queueDepthWrite(params: QueueDepthWriteParams): Promise<void>;

  /**
   * How the limits of `queue` stand at `now`: claimed count, tokens left, and the keys held back by a
   * limit. Cost grows with the queue's claimable tasks and keys that have them, never with idle keys.
   */
  queueFlowStatus(params: QueueFlowStatusParams): Promise<QueueFlowStatus>;

  /** The stored flow-control limits, sorted by queue. */
  queueLimitsList(params: QueueLimitsListParams): Promise<QueueLimitsRecord[]>;

  /**
   * Stores (or, with `limits: undefined`, removes) a queue's flow-control limits. Once this resolves,
   * every `taskClaim` that starts afterwards, through any store instance on the same data, honours them.
   * Returns what is stored (undefined after a removal).
   */
  queueLimitsSet(params: QueueLimitsSetParams): Promise<QueueLimitsRecord | undefined>;

  /**
   * Deletes per-queue and per-key flow-control state that says no more than its absence (by the leader,
   * flow-pruner.ts): token buckets full at `now` and last taken before `idleBefore` (any, once their
   * queue or key has no rate limit), and (Elasticsearch) hold documents holding no task. At most `limit`;
   * returns how many were deleted. Never loosens a limit: a missing bucket is a full one.
   */
  queueFlowPrune(params: QueueFlowPruneParams): Promise<number>;

  /**
   * Retention of the queue series: deletes activity records and depth samples older than `before`.
   * Returns how many records were deleted (a driver may count what it can: Elasticsearch counts documents).
   */
  queueSeriesDeleteBefore(params: QueueSeriesDeleteBeforeParams): Promise<{ deleted: number }>;

  /** Every queue with a stored state (ever paused or resumed through `queueSetPaused`), sorted by name. */
  queueStateList(): Promise<QueueState[]>;

  /**
   * Statistics per queue, sorted by name: live tasks (not archived) counted by state, how many of the
   * queued and failed ones are not due yet (`scheduled`: runAt > now), the earliest
   * `runAt` among claimable tasks (queued or failed, `runAt <= now`), and recent activity. Queues with a
   * stored state but no tasks are included with zero counts; every state key is present in `counts`.
   * `recent` counts tasks created (createdAt) and tasks now DONE or DEAD that finished
   * (`lastClaimed.result.at`) within `(now - recentWindowMs, now]`. Read-your-writes, as every method.
   */
  queueStatsList(params: QueueStatsListParams): Promise<QueueStats[]>;

  /** Brings the schema up to date. Idempotent; safe to call from several processes at once. */
  migrate(): Promise<void>;

  /**
   * Creates a recurring task. Throws RECURRING_TASK_ALREADY_EXISTS if a non-deleted one has the id; a
   * soft-deleted one with the id is replaced (v1 §8.4).
   */
  recurringTaskCreate(params: RecurringTaskCreateParams): Promise<RecurringTask>;

  /** The recurring task, or undefined if missing (or soft-deleted, unless includeDeleted). */
  recurringTaskGet(params: RecurringTaskGetParams): Promise<RecurringTask | undefined>;

  /** Every non-deleted recurring task, sorted by id. */
  recurringTaskList(): Promise<RecurringTask[]>;

  /**
   * Every recurring task without `loadedAt`, soft-deleted ones included, sorted by id: what the leader
   * has not yet taken into account since it was last written (v1's dirty flag, spec §8.3).
   */
  recurringTaskListNotLoaded(): Promise<RecurringTask[]>;

  /** The tick bookkeeping of the given recurring tasks; ids never ticked are absent. Any order. */
  recurringTaskTickList(params: RecurringTaskTickListParams): Promise<RecurringTaskTick[]>;

  /**
   * Records that the tick at `tickAt` was handled. Keeps the later of the stored and the given tick,
   * so a late writer (a deposed leader) cannot move it back. Returns what is stored afterwards.
   */
  recurringTaskTickRecord(params: RecurringTaskTickRecordParams): Promise<RecurringTaskTick>;

  /**
   * Replaces a recurring task if its version is still `expectedVersion`. Throws
   * RECURRING_TASK_VERSION_CONFLICT otherwise, including when it does not exist.
   */
  recurringTaskUpdate(params: RecurringTaskUpdateParams): Promise<RecurringTask>;

  /**
   * Atomically claims up to `amount` claimable tasks (state queued or failed, `runAt <= now`, attempts
   * left), in order of priority descending then `runAt` ascending, across the given queues (a set: a
   * queue named twice counts once; ties beyond that order are broken as the driver likes). Each claimed
   * task goes through `intoClaimed`. No task is ever handed to two concurrent callers, nor twice to one.
   * Under contention a driver may return fewer than `amount` while candidates remain; callers claim again.
   * Tasks of a paused queue (`queueSetPaused`) are never claimed, whether the queue is named, one of
   * several, or implied by `queues: []`. Returns the claimed tasks in that order.
   *
   * Every method sees the writes that completed before it was called (read-your-writes), also through
   * another store instance on the same data; versions of a record only move forward. For claims (and
   * `taskNextRunAt`) a driver may narrow that, as the Elasticsearch driver does
   * (docs/design/elasticsearch-claims.md): writes through the same store instance are always seen, and so
   * are every instance's writes by a claim that returns fewer than `amount`; a claim that fills its amount
   * may pass over another instance's writes of the last moments (a driver-stated bound) and so take tasks
   * that are not the very best in claim order. SQLite has no such window.
   *
   * Flow control (docs/flow-control.md; `queueLimitsSet`): a claim never hands out a task that would put
   * its queue, or its `concurrencyKey`, above a concurrency limit (tasks CLAIMED count; a task that leaves
   * CLAIMED, by any write, gives its slot back), nor one for which its queue's or its `rateKey`'s token
   * bucket has no token; it skips such tasks and goes on to tasks it may hand out. This holds across
   * every store instance on the same data: concurrent claims never over-grant. Fairness: within a queue,
   * claimable tasks are grouped by `concurrencyKey` (tasks without one form one more group); a claim takes
   * one task from each group in turn, groups in ascending key order (the unkeyed group first), starting
   * after the group this store instance served last in that queue, and wrapping around; within a group
   * the claim order above. Across queues, the queues' sequences are merged by that claim order of their
   * heads. A queue whose tasks carry no keys therefore keeps exactly the order above.
   */
  taskClaim(params: TaskClaimParams): Promise<Task[]>;

  /**
   * Moves up to `limit` DONE and DEAD tasks that finished at or before `finishedBefore` out of the live
   * store into the archive, oldest finish first. Each move is atomic per task: afterwards `taskGet` does
   * not find it, `archivedTaskGet` returns it unchanged, and its id is free in its queue again. A task is
   * archived at most once, also when several callers archive concurrently. Fewer than `limit` archived
   * means none are left.
   */
  taskArchive(params: TaskArchiveParams): Promise<TaskArchiveResult>;

  /**
   * How many tasks of `queue` spawned by the recurring task are outstanding (queued, claimed or failed),
   * as seen right now: a task created before the call is counted (skip_if_outstanding_tasks_exist).
   */
  taskCountOutstanding(params: TaskCountOutstandingParams): Promise<number>;

  /**
   * How many live tasks match the filters (those of `taskList`), counting no further than `max`.
   * Read-your-writes, as every method.
   */
  taskCount(params: TaskCountParams): Promise<number>;

  /** Inserts a new task. Throws TASK_ALREADY_EXISTS if (queue, id) exists. */
  taskCreate(params: TaskCreateParams): Promise<Task>;

  /**
   * Inserts many tasks, as one write where the driver can (SQLite: one transaction; Elasticsearch: one
   * _bulk). `results[i]` answers `tasks[i]` as `taskCreate` would: the stored task, or TASK_ALREADY_EXISTS
   * when (queue, id) exists, also when an earlier item of the same call took it. Items are independent:
   * one that fails does not keep the others from being created. A failure of the store itself rejects
   * the whole call (some items may have been written, as a single create with an unknown outcome).
   */
  taskCreateMany(params: TaskCreateManyParams): Promise<TaskWriteResult[]>;

  /**
   * Deletes live tasks, each with compare-and-set on its version (a task written meanwhile is kept):
   * `results[i]` answers `deletes[i]`. Applied in order, each on its own. Deleted tasks are gone, not
   * archived; their ids are free again. Queue counts follow.
   */
  taskDeleteMany(params: TaskDeleteManyParams): Promise<TaskDeleteResult[]>;

  /** The task, or undefined. */
  taskGet(params: TaskGetParams): Promise<Task | undefined>;

  /** `result[i]` is the task `keys[i]` names, or undefined: `taskGet` for many keys at once. */
  taskGetMany(params: TaskGetManyParams): Promise<(Task | undefined)[]>;

  /**
   * Live tasks (not archived) matching the filters, newest first, one page at a time. Paging with `next`
   * neither skips nor repeats a task that is unchanged meanwhile. Read-your-writes, as every method.
   */
  taskList(params: TaskListParams): Promise<TaskListPage>;

  /**
   * Up to `limit` CLAIMED tasks whose claim has timed out (`lastClaimed.timesOutAt <= now`), earliest
   * deadline first. Read-only: the reaper decides what becomes of them and writes with `taskUpdate`.
   */
  taskListTimedOut(params: TaskListTimedOutParams): Promise<Task[]>;

  /**
   * The earliest `runAt` among tasks waiting in the given queues (queued or failed), or undefined if none.
   * Long polls use it to wake when a scheduled or backed-off task comes due. Tasks of paused queues may
   * be left out or not: the engine ignores an answer that was already due when its claim found nothing.
   */
  taskNextRunAt(params: TaskNextRunAtParams): Promise<number | undefined>;

  /**
   * Replaces a task if its version is still `expectedVersion`. Throws TASK_NOT_FOUND if it is gone and
   * TASK_VERSION_CONFLICT if someone else wrote it first.
   */
  taskUpdate(params: TaskUpdateParams): Promise<Task>;

  /**
   * Many compare-and-set writes, as one write where the driver can (SQLite: one transaction;
   * Elasticsearch: one _bulk with if_seq_no). `results[i]` answers `updates[i]` as `taskUpdate` would:
   * the stored task, or TASK_NOT_FOUND / TASK_VERSION_CONFLICT. Applied in order, each on its own: two
   * updates of one task with the same expected version give one success and one conflict. A failure of
   * the store itself rejects the whole call (some items may have been written).
   */
  taskUpdateMany(params: TaskUpdateManyParams): Promise<TaskWriteResult[]>;

  /**
   * Who holds claims now: the CLAIMED tasks grouped by `lastClaimed.workerId`. Cost grows with the
   * claimed tasks (bounded by `maxTasks`), never with the waiting or finished ones.
   */
  workerClaimList(params: WorkerClaimListParams): Promise<WorkerClaimList>;

  /** Workers seen at or after `since`, most recently seen first (then by id). */
  workerSeenList(params: WorkerSeenListParams): Promise<WorkerSighting[]>;

  /** Forgets workers last seen before `before`; returns how many. Idempotent, safe to run concurrently. */
  workerSeenPrune(params: WorkerSeenPruneParams): Promise<number>;

  /**
   * Merges sightings in: per worker, the record with the later `lastSeenAt` wins (an older sighting
   * never moves it back). Safe from several servers at once.
   */
  workerSeenRecord(params: WorkerSeenRecordParams): Promise<void>;
}

/** Creates a fresh, migrated, empty store. The conformance suite calls it once per test. */
export type StoreFactory = () => Promise<Store>;
