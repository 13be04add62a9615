/**
 * Domain types shared by the server, the store drivers, the conformance suite and (later) the SDK.
 * This module imports nothing: it is the bottom of the dependency graph.
 *
 * Glossary
 * - Task: one unit of work in a queue. Identified by (queue, id); the id is a per-queue idempotency key.
 * - Claim: a Worker's exclusive, time-limited hold on a task (state CLAIMED, `lastClaimed` set).
 * - Report-in: a Worker's heartbeat on a claimed task; it pushes `timesOutAt` forward.
 * - Attempt: one claim. `attempted` counts claims minus unclaims; a task allows `retryTimes + 1` attempts.
 * - Recurring task: a schedule plus a task definition; the leader enqueues a task on every tick.
 *
 * Times are epoch milliseconds (UTC); durations are nanoseconds, as Go's time.Duration on the v1 wire.
 */

/** Free-form JSON object carried by tasks (args, context, report data, results). */
export type JsonObject = { [key: string]: unknown };

/**
 * The five task states of v1. DONE is final; DEAD is final for workers, but an operator can retry a dead
 * task (`PUT /tasques/retry/…`), which queues it again. Both are archived in time.
 */
export type TaskState = 'queued' | 'claimed' | 'failed' | 'done' | 'dead';

export const TASK_STATES: readonly TaskState[] = ['queued', 'claimed', 'failed', 'done', 'dead'];

/** Optimistic-concurrency version of a stored record. Both numbers stay within the int32 range. */
export interface RecordVersion {
  seqNum: number;
  primaryTerm: number;
}

export interface TaskReport {
  at: number;
  data?: JsonObject | undefined;
}

export interface TaskResult {
  at: number;
  failure?: JsonObject | undefined;
  success?: JsonObject | undefined;
}

/** The latest claim of a task. Replaced on every claim; kept (not cleared) by unclaim, as in v1. */
export interface LastClaimed {
  workerId: string;
  claimedAt: number;
  timesOutAt: number;
  lastReport?: TaskReport | undefined;
  result?: TaskResult | undefined;
}

/** Who ended a task by cancelling it, when, and why (the operator cancel route). */
export interface TaskCancellation {
  at: number;
  /** The authenticated user or token name, else who the request said it was, else "operator". */
  by: string;
  reason?: string | undefined;
}

/**
 * One failed attempt of a task, as kept in its error history (`Task.errorHistory`): a failure reported
 * by the worker, or a claim that timed out (the reaper's failure, no worker answer).
 */
export interface TaskFailureRecord {
  at: number;
  /** The attempt that failed (`attempted` at the time: 1 for the first). */
  attempt: number;
  workerId: string;
  /** The failure data; cut to a marker object `{ truncated: true, bytes, preview }` when it was too large. */
  failure?: JsonObject | undefined;
  /** The claim timed out without an answer from the worker. */
  timedOut?: boolean | undefined;
}

export interface Task {
  queue: string;
  id: string;
  kind: string;
  state: TaskState;
  priority: number;
  /** Earliest time the task may be claimed. */
  runAt: number;
  /** Retries allowed after the first attempt: a task has `retryTimes + 1` attempts in all. */
  retryTimes: number;
  attempted: number;
  processingTimeoutNs: number;
  args?: JsonObject | undefined;
  context?: JsonObject | undefined;
  lastClaimed?: LastClaimed | undefined;
  lastEnqueuedAt: number;
  createdAt: number;
  modifiedAt: number;
  version: RecordVersion;
  recurringTaskId?: string | undefined;
  /**
   * Flow control (docs/flow-control.md): the key whose per-key concurrency limit this task counts against,
   * and the key of fair share (claims serve the keys of a queue in turn). Tasks without one share the
   * unkeyed group. Set at create, never changed; not part of v1 answers.
   */
  concurrencyKey?: string | undefined;
  /** Flow control: the key whose per-key rate limit this task counts against. Set at create. */
  rateKey?: string | undefined;
  /**
   * Set when an operator cancelled the task (it is then DEAD); cleared by a retry. Not part of v1
   * answers (operator routes show it).
   */
  cancellation?: TaskCancellation | undefined;
  /**
   * The last failed attempts, oldest first, at most `tasks.error_history.keep` of them. Kept through
   * retries and archiving; not part of v1 answers (`GET /tasques/errors/{queue}/{id}`).
   */
  errorHistory?: TaskFailureRecord[] | undefined;
}

/** What the engine hands a store to insert: a Task without its version. */
export type NewTaskRecord = Omit<Task, 'version'>;

export interface TaskDefinition {
  queue: string;
  kind: string;
  retryTimes: number;
  priority: number;
  processingTimeoutNs: number;
  args?: JsonObject | undefined;
  context?: JsonObject | undefined;
}

export interface RecurringTask {
  id: string;
  scheduleExpression: string;
  skipIfOutstandingTasksExist: boolean;
  taskDefinition: TaskDefinition;
  isDeleted: boolean;
  /** Set by the leader once it has taken the current definition into account (v1's dirty flag). */
  loadedAt?: number | undefined;
  /**
   * When an operator paused it (undefined: not paused). A paused recurring task does not fire; its ticks
   * are handled as skipped. Operator data: never part of a v1 answer.
   */
  pausedAt?: number | undefined;
  createdAt: number;
  modifiedAt: number;
  version: RecordVersion;
}

export type NewRecurringTaskRecord = Omit<RecurringTask, 'version'>;

/**
 * The leader lease: at most one server process holds it at a time, and only the holder runs the
 * leader-only services (claim-timeout reaper, recurring scheduler, archiver). A term is identified by
 * (leaderId, electedAt): renewing and resigning only succeed for the term they name.
 */
export interface LeaderLease {
  /** Random per server process. */
  leaderId: string;
  /** When this term began. */
  electedAt: number;
  /** The lease is void from this instant on, unless renewed before. */
  expiresAt: number;
}

/** The latest schedule tick the leader handled for a recurring task (enqueued, found already enqueued, or skipped). */
export interface RecurringTaskTick {
  recurringTaskId: string;
  lastTickAt: number;
}

/** Where a task listing page ended: the next page starts after this task (see Store.taskList). */
export interface TaskListCursor {
  createdAt: number;
  queue: string;
  id: string;
}

/** The operator-set state of a queue. Queues without one are not paused. */
export interface QueueState {
  queue: string;
  paused: boolean;
  /** When `paused` was last changed. */
  modifiedAt: number;
}

/**
 * A token bucket: `count` tokens are added every `perMs` milliseconds (continuously, pro rata), up to
 * `burst` tokens; a claimed task takes one token. A full bucket of `burst` tokens is the starting state.
 */
export interface RateLimit {
  count: number;
  perMs: number;
  burst: number;
}

/** One limit: the most tasks claimed at once, and/or a rate of claims. Both optional (absent: unlimited). */
export interface FlowLimit {
  concurrency?: number | undefined;
  rate?: RateLimit | undefined;
}

/**
 * The flow-control limits of one queue (docs/flow-control.md). `queue` bounds the queue as a whole,
 * across every server. `perKey` bounds every key alike: its `concurrency` applies per `concurrencyKey`,
 * its `rate` per `rateKey`. `keys` overrides `perKey` for named keys (the override replaces the whole
 * per-key limit of that key). Tasks without a key count only against the queue limit.
 */
export interface QueueLimits {
  queue?: FlowLimit | undefined;
  perKey?: FlowLimit | undefined;
  keys?: Record<string, FlowLimit> | undefined;
}

/** The stored limits of a queue. */
export interface QueueLimitsRecord {
  queue: string;
  limits: QueueLimits;
  modifiedAt: number;
}

/** How a queue's limits stand right now (Store.queueFlowStatus), for operators. */
export interface QueueFlowStatus {
  queue: string;
  /** Tasks of the queue claimed right now. */
  claimed: number;
  /** Tokens left in the queue's bucket, when it has a rate limit. */
  tokens?: number | undefined;
  /**
   * The keys with claimable tasks that are held back by a limit right now (at their concurrency limit or
   * out of tokens), most waiting first (then by key), at most `limit` of them. `claimed` counts the
   * key's claimed tasks by concurrency key (what its concurrency limit counts; 0 for a key used only as
   * a rate key); `waiting` its claimable tasks (by concurrency key for 'concurrency', by rate key for
   * 'rate'). A key held back by both is listed once, as 'concurrency'.
   */
  throttledKeys: { key: string; claimed: number; waiting: number; reason: 'concurrency' | 'rate' }[];
  /** Claimable tasks (queued or failed, due) that wait on a limit (the queue's or their key's). */
  waitingOnLimit: number;
}

/** One queue's statistics (Store.queueStatsList). */
export interface QueueStats {
  queue: string;
  paused: boolean;
  /** Live tasks by state; every state is present (0 when none). */
  counts: Record<TaskState, number>;
  /**
   * Of `counts.queued + counts.failed`, the tasks not yet due (runAt > now): scheduled for later, or
   * failed and waiting for their retry. The claimable ones are the rest.
   */
  scheduled: number;
  /** Earliest runAt among claimable tasks (queued or failed, runAt <= now); its age is how long work has waited. */
  oldestClaimableRunAt?: number | undefined;
  /** Activity within the window: tasks created (createdAt), finished DONE and DEAD (lastClaimed.result.at). */
  recent: { windowMs: number; created: number; done: number; dead: number };
}

/**
 * One queue's activity over one interval (Store.queueActivityWrite / queueActivityList): what happened to
 * its tasks, as counted by the servers that did it. `at` is the interval's start (epoch ms).
 */
export interface QueueActivity {
  queue: string;
  at: number;
  /** Tasks created. */
  created: number;
  /** Tasks handed out by claims. */
  claimed: number;
  /** Tasks that became DONE. */
  done: number;
  /** Tasks that became FAILED (attempts left, timed-out claims included). */
  failed: number;
  /** Tasks that became DEAD. */
  dead: number;
  /**
   * Claim waits (enqueued or due → claimed) of the tasks claimed, as a histogram: `claimWait[i]` counts
   * waits up to CLAIM_WAIT_BOUNDS_MS[i] (and above the bound before it); the last entry counts longer
   * waits. Fixed bounds, so histograms of several servers add up.
   */
  claimWait: number[];
}

/** One queue's depth at one instant (Store.queueDepthWrite / queueDepthList). `at` is epoch ms. */
export interface QueueDepth {
  queue: string;
  at: number;
  /** Queued or failed tasks that are due (run_at <= at). */
  claimable: number;
  /** Queued or failed tasks whose run_at is still to come (scheduled, or waiting for a retry). */
  scheduled: number;
  claimed: number;
  /** How long the oldest claimable task had waited past its run_at; 0 when none. */
  oldestAgeMs: number;
}

// ── Operator data of issue 16: workers and bulk operations ────────────────────────────────────────────

/** The CLAIMED tasks one worker holds now, grouped (who is working right now). */
export interface WorkerClaims {
  /** The X-TASQUES-WORKER-ID of the claims. */
  workerId: string;
  /** The queues of those tasks, sorted. */
  queues: string[];
  /** How many tasks it holds. */
  claimed: number;
  /** The earliest `lastClaimed.claimedAt` among them: working since. */
  oldestClaimedAt: number;
  /** The latest report-in among them; undefined if none reported. */
  lastReportAt?: number | undefined;
}

/** A worker seen recently: when it last claimed, reported, or finished a task, and on which queues. */
export interface WorkerSighting {
  workerId: string;
  lastSeenAt: number;
  /** The queues it was seen on at `lastSeenAt` (sorted). */
  queues: string[];
}

/**
 * What a bulk operation does to each task its filter selects: retry DEAD ones, cancel waiting (QUEUED
 * or FAILED) ones, delete finished (DONE or DEAD) ones.
 */
export type OperationKind = 'retry_dead' | 'cancel_waiting' | 'delete_finished';

export const OPERATION_KINDS: readonly OperationKind[] = ['retry_dead', 'cancel_waiting', 'delete_finished'];

/** `running` until every selected task was handled, then `done`; `failed` if a step failed for good. */
export type OperationState = 'running' | 'done' | 'failed';

/** The task filter of a bulk operation: the `GET /tasques` filters (states are narrowed to the kind's). */
export interface OperationFilter {
  queue?: string | undefined;
  states?: TaskState[] | undefined;
  kind?: string | undefined;
  recurringTaskId?: string | undefined;
  createdFrom?: number | undefined;
  createdTo?: number | undefined;
  prefix?: string | undefined;
}

/** A bulk operation: processed in bounded steps, resumable from its cursor by another server. */
export interface Operation {
  id: string;
  kind: OperationKind;
  filter: OperationFilter;
  state: OperationState;
  /** Tasks the filter selected when it started (at most the operation's cap). */
  total: number;
  /** Tasks looked at so far. */
  processed: number;
  /** Of those, changed (retried, cancelled, deleted). */
  changed: number;
  /** Of those, skipped: changed meanwhile by someone else, or no longer in a state the kind acts on. */
  skipped: number;
  /** Where the next step starts (listing order); undefined before the first step. */
  cursor?: TaskListCursor | undefined;
  /** The server process running it (its leader id); another takes over when `heartbeatAt` gets old. */
  ownerId: string;
  /** When its owner last made progress. */
  heartbeatAt: number;
  /** Why it failed. */
  error?: string | undefined;
  createdAt: number;
  modifiedAt: number;
  version: RecordVersion;
}

export type NewOperationRecord = Omit<Operation, 'version'>;
