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
import type { NewRecurringTaskRecord, NewTaskRecord, RecordVersion, RecurringTask, Task } from '../types/index.js';

export interface StoreCapabilities {
  /** The driver's name, as in the `store.kind` configuration key. */
  readonly kind: string;
}

export interface RecurringTaskCreateParams {
  task: NewRecurringTaskRecord;
}

export interface RecurringTaskGetParams {
  id: string;
  /** Also return a soft-deleted recurring task. */
  includeDeleted?: boolean;
}

export interface RecurringTaskUpdateParams {
  /** The whole new record (soft delete is an update with `isDeleted: true`). */
  task: NewRecurringTaskRecord;
  expectedVersion: RecordVersion;
}

export interface TaskClaimParams {
  /** Queues to claim from; empty means every queue. */
  queues: string[];
  amount: number;
  workerId: string;
  now: number;
}

export interface TaskCreateParams {
  task: NewTaskRecord;
}

export interface TaskGetParams {
  queue: string;
  id: string;
}

export interface TaskNextRunAtParams {
  /** Queues to look at; empty means every queue. */
  queues: string[];
}

export interface TaskUpdateParams {
  /** The whole new task; (queue, id) name the record to replace. */
  task: Task;
  expectedVersion: RecordVersion;
}

export interface Store {
  readonly capabilities: StoreCapabilities;

  /** Releases connections and file handles. The store is unusable afterwards. */
  close(): Promise<void>;

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
   * Replaces a recurring task if its version is still `expectedVersion`. Throws
   * RECURRING_TASK_VERSION_CONFLICT otherwise, including when it does not exist.
   */
  recurringTaskUpdate(params: RecurringTaskUpdateParams): Promise<RecurringTask>;

  /**
   * Atomically claims up to `amount` claimable tasks (state queued or failed, `runAt <= now`, attempts
   * left), in order of priority descending then `runAt` ascending, across the given queues. Each claimed
   * task goes through `intoClaimed`. No task is ever handed to two concurrent callers.
   * Returns the claimed tasks in that order.
   */
  taskClaim(params: TaskClaimParams): Promise<Task[]>;

  /** Inserts a new task. Throws TASK_ALREADY_EXISTS if (queue, id) exists. */
  taskCreate(params: TaskCreateParams): Promise<Task>;

  /** The task, or undefined. */
  taskGet(params: TaskGetParams): Promise<Task | undefined>;

  /**
   * The earliest `runAt` among tasks waiting in the given queues (queued or failed), or undefined if none.
   * Long polls use it to wake when a scheduled or backed-off task comes due.
   */
  taskNextRunAt(params: TaskNextRunAtParams): Promise<number | undefined>;

  /**
   * Replaces a task if its version is still `expectedVersion`. Throws TASK_NOT_FOUND if it is gone and
   * TASK_VERSION_CONFLICT if someone else wrote it first.
   */
  taskUpdate(params: TaskUpdateParams): Promise<Task>;
}

/** Creates a fresh, migrated, empty store. The conformance suite calls it once per test. */
export type StoreFactory = () => Promise<Store>;
