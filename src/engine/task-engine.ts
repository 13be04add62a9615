/**
 * The task-lifecycle engine: v1's operations (create, get, claim with long poll, report-in, done, failed,
 * unclaim, recurring-task CRUD) over any Store. It fills defaults, applies the state machine of
 * src/domain/task-lifecycle.ts, retries compare-and-set conflicts, and wakes waiting claims.
 * It knows nothing of HTTP.
 */
import { withinBudget } from '../domain/answer-budget.js';
import type { BackoffPolicy } from '../domain/backoff.js';
import type { ErrorHistoryPolicy } from '../domain/task-lifecycle.js';
import { generateTaskId } from '../domain/ids.js';
import { tickChainAnchor, upcomingTick } from '../domain/recurring-tick.js';
import { parseSchedule } from '../domain/schedule.js';
import { intoCancelled, intoDone, intoFailed, intoReported, intoRetried, intoUnclaimed } from '../domain/task-lifecycle.js';
import { errors, isTasquesError } from '../errors/index.js';
import type { Clock } from '../service/clock.js';
import type {
  Store,
  TaskListPage,
  TaskListParams,
  TaskUpdateParams,
  TaskWriteResult,
  WorkerClaimList,
} from '../store/store.js';
import type {
  JsonObject,
  NewTaskRecord,
  OperationKind,
  QueueFlowStatus,
  QueueLimits,
  QueueLimitsRecord,
  QueueState,
  QueueStats,
  RecurringTask,
  Task,
  TaskDefinition,
  WorkerSighting,
} from '../types/index.js';
import { BulkOperations, type BulkStepResult } from './bulk-operations.js';
import { WorkerActivity } from './worker-activity.js';
import { ClaimWaiters } from './claim-waiters.js';
import { type QueueSeriesView, readQueueSeries, type SeriesWindow } from './queue-series.js';
export { SERIES_WINDOWS, type QueueSeriesView, type SeriesFigures, type SeriesWindow } from './queue-series.js';
import { WrittenTasks } from './written-tasks.js';

export interface EngineSettings {
  /** `amount` of a claim that gives none. */
  defaultClaimAmount: number;
  /** `block_for` of a claim that gives none. */
  defaultBlockForMs: number;
  defaultProcessingTimeoutNs: number;
  defaultRetryTimes: number;
  /** Claims larger than this are clamped. */
  maxClaimAmount: number;
  /** Long polls longer than this are clamped. */
  maxBlockForMs: number;
  /** Claim answers and listing pages stop at about this many bytes (docs/limits.md); at least one task. */
  maxAnswerBytes: number;
  /** A waiting claim re-checks the store at max(this, blockFor / pollDivisor), for work from other processes. */
  pollMinIntervalMs: number;
  pollDivisor: number;
  /** Compare-and-set retries of single-task operations before answering 409. */
  versionConflictRetries: number;
  backoff: BackoffPolicy;
  /** How many failed attempts a task keeps in its error history, and how large each may be. */
  errorHistory: ErrorHistoryPolicy;
}

export interface NewTaskInput {
  queue: string;
  kind: string;
  id?: string | undefined;
  retryTimes?: number | undefined;
  priority?: number | undefined;
  processingTimeoutNs?: number | undefined;
  /** Epoch ms; undefined (or v1's zero time) means now. */
  runAt?: number | undefined;
  args?: JsonObject | undefined;
  context?: JsonObject | undefined;
  recurringTaskId?: string | undefined;
  /** Flow control (docs/flow-control.md): the key of the per-key concurrency limit and of fair share. */
  concurrencyKey?: string | undefined;
  /** Flow control: the key of the per-key rate limit. */
  rateKey?: string | undefined;
}

/** The task a recurring task enqueues, from its definition: what a tick and "run now" both create. */
export function recurringTaskInput(recurring: RecurringTask, id?: string): NewTaskInput {
  const def = recurring.taskDefinition;
  return {
    id,
    queue: def.queue,
    kind: def.kind,
    retryTimes: def.retryTimes,
    priority: def.priority,
    processingTimeoutNs: def.processingTimeoutNs,
    args: def.args,
    context: def.context,
    recurringTaskId: recurring.id,
  };
}

export interface ClaimInput {
  queues: string[];
  workerId: string;
  amount?: number | undefined;
  blockForMs?: number | undefined;
  /** Aborts the wait, e.g. when the HTTP client goes away. */
  signal?: AbortSignal | undefined;
  /** How the answer measures a task; with it, the claim hands out no more than `maxAnswerBytes`. */
  sizeOf?: TaskAnswerSize | undefined;
}

/**
 * A task's size in an answer, in bytes (e.g. its serialized JSON). May throw when the task cannot be
 * answered at all: a claim then gives back every task it claimed, and fails.
 */
export type TaskAnswerSize = (task: Task) => number;

export interface TaskDefinitionInput {
  queue: string;
  kind: string;
  retryTimes?: number | undefined;
  priority?: number | undefined;
  processingTimeoutNs?: number | undefined;
  args?: JsonObject | undefined;
  context?: JsonObject | undefined;
}

export interface NewRecurringTaskInput {
  id: string;
  scheduleExpression: string;
  skipIfOutstandingTasksExist?: boolean | undefined;
  taskDefinition: TaskDefinitionInput;
}

export interface RecurringTaskPatch {
  scheduleExpression?: string | undefined;
  skipIfOutstandingTasksExist?: boolean | undefined;
  /** Replaces the whole definition; omitted fields get the defaults again (v1). */
  taskDefinition?: TaskDefinitionInput | undefined;
}

/** A listing request: the store's filters; the engine clamps the page size. */
/** A listing's filters and page; `scheduled` is relative to the engine's clock. */
export type TaskListInput = Omit<TaskListParams, 'scheduled'> & { scheduled?: boolean | undefined };

/** Claimed tasks grouped at most by `listWorkers` (a safety bound: claims are bounded by workers' concurrency). */
export const MAX_CLAIMED_TASKS_GROUPED = 10_000;

/** Most tasks per listing page. */
export const MAX_TASK_LIST_LIMIT = 1000;

/** A recurring task with when it fires next (as far as this server can tell) and when it last fired. */
export interface RecurringTaskSchedule {
  task: RecurringTask;
  /** Undefined if the schedule never fires again or does not parse (a paused one still has it). */
  nextRunAt?: number | undefined;
  /** The next fire times from `nextRunAt` on, at most NEXT_FIRE_TIMES of them (fewer if it stops firing). */
  nextRunTimes: number[];
  lastTickAt?: number | undefined;
}

/** How many upcoming fire times `listSchedules` gives per recurring task. */
export const NEXT_FIRE_TIMES = 5;

/** Why a task changed, when it was not a call of the engine's own API. */
export type TaskChangeCause = 'timed_out';

/**
 * Observer of task state changes, for metrics (src/observability/metrics.ts); the engine does not know
 * what listens. Called after each successful write; implementations must be cheap and must not throw.
 */
export interface EngineEvents {
  /** A task was created (`before` undefined) or written from `before` to `after`. */
  taskChanged(after: Task, before: Task | undefined, cause?: TaskChangeCause): void;
  /** One claim call answered with `tasks` (none: block_for ran out) after `waitedMs` (engine clock). */
  claimed(tasks: readonly Task[], waitedMs: number): void;
  /** A store claim passed over `n` claimable tasks of `queue` that a flow-control limit held back. */
  throttled?(queue: string, n: number): void;
}

const NO_EVENTS: EngineEvents = { taskChanged: () => {}, claimed: () => {} };

/** One item's outcome in createTasks / markDoneMany: the task, or the error the single-task call would throw. */
export type { TaskWriteResult } from '../store/store.js';

/** One task of markDoneMany. */
export interface DoneItemInput {
  queue: string;
  id: string;
  data?: JsonObject | undefined;
}

/** Go's zero time.Time, which the v1 Go client always sends as `run_at`: it means "now". */
export const GO_ZERO_TIME_MS = Date.parse('0001-01-01T00:00:00Z');

export class TaskEngine {
  private readonly waiters = new ClaimWaiters();
  /** Bulk operations (retry dead, cancel waiting, delete finished) in bounded, resumable steps. */
  readonly bulk: BulkOperations;
  /** Which workers called lately, for the workers view (flushed to the store by the server). */
  readonly workerActivity = new WorkerActivity();
  /** Claimed tasks as this engine wrote them: their worker's next write needs no read first. */
  private readonly written = new WrittenTasks();
  /**
   * Queues whose last claim here passed over tasks a flow-control limit held back: a task of theirs that
   * finishes may free a slot, so it wakes one waiting claim (elsewhere a done wakes nobody: it makes
   * nothing claimable). Bounded by the queues; a claim of the queue that is not held back removes it.
   */
  private readonly heldBack = new Set<string>();
  private stopping = false;

  constructor(
    private readonly store: Store,
    private readonly settings: EngineSettings,
    private readonly clock: Clock,
    private readonly random: () => number = Math.random,
    private readonly events: EngineEvents = NO_EVENTS,
  ) {
    this.bulk = new BulkOperations(store, (kind, tasks, operationId) => this.applyBulk(kind, tasks, operationId), clock);
  }

  /** Number of claims currently long-polling (for tests and metrics). */
  get waitingClaims(): number {
    return this.waiters.size;
  }

  async createTask(input: NewTaskInput): Promise<Task> {
    const task = await this.store.taskCreate({ task: this.newTaskRecord(input, this.clock.now()) });
    this.events.taskChanged(task, undefined);
    this.waiters.notify(task.queue);
    return task;
  }

  /** A new task's record: the input with the defaults filled in. */
  private newTaskRecord(input: NewTaskInput, now: number): NewTaskRecord {
    const runAt = input.runAt === undefined || input.runAt <= GO_ZERO_TIME_MS ? now : input.runAt;
    return {
      queue: input.queue,
      id: input.id ?? generateTaskId(now),
      kind: input.kind,
      state: 'queued',
      priority: input.priority ?? 0,
      runAt,
      retryTimes: input.retryTimes ?? this.settings.defaultRetryTimes,
      attempted: 0,
      processingTimeoutNs: input.processingTimeoutNs ?? this.settings.defaultProcessingTimeoutNs,
      args: input.args,
      context: input.context,
      lastEnqueuedAt: now,
      createdAt: now,
      modifiedAt: now,
      recurringTaskId: input.recurringTaskId,
      concurrencyKey: input.concurrencyKey,
      rateKey: input.rateKey,
    };
  }

  async getTask(queue: string, id: string): Promise<Task> {
    const task = await this.store.taskGet({ queue, id });
    if (!task) throw errors.taskNotFound(queue, id);
    return task;
  }

  /** A task the archiver moved out of the live store (the latest, if the id was archived more than once). */
  async getArchivedTask(queue: string, id: string): Promise<Task> {
    const task = await this.store.archivedTaskGet({ queue, id });
    if (!task) throw errors.taskNotFound(queue, id);
    return task;
  }

  /**
   * Claims up to `amount` tasks. If none is claimable now, waits up to `blockForMs` and returns as soon
   * as at least one is claimed (v1 waited for the full amount; returning early keeps pick-up latency low
   * and does not eat into the claimed tasks' processing timeouts). Returns [] when time runs out.
   */
  async claimTasks(input: ClaimInput): Promise<Task[]> {
    const startedAt = this.clock.now();
    this.workerActivity.seen(input.workerId, input.queues, startedAt);
    let claimed = await this.claimOrWait(input);
    if (input.sizeOf !== undefined && claimed.length > 0) claimed = await this.answerable(claimed, input.workerId, input.sizeOf);
    this.events.claimed(claimed, this.clock.now() - startedAt);
    return claimed;
  }

  /** Bytes a claim answer or a listing page may hold (docs/limits.md); the HTTP layer measures with `sizeOf`. */
  get maxAnswerBytes(): number {
    return this.settings.maxAnswerBytes;
  }

  /**
   * The claimed tasks that fit in the answer; the others are given back at once (queued again, the
   * attempt not counted) rather than left claimed until their timeout. All are given back if one cannot
   * be measured (it could not be answered either).
   */
  private async answerable(claimed: Task[], workerId: string, sizeOf: TaskAnswerSize): Promise<Task[]> {
    let kept: Task[];
    try {
      kept = withinBudget(claimed, claimed.length, this.settings.maxAnswerBytes, sizeOf);
    } catch (e) {
      await this.releaseClaims(claimed, workerId);
      throw e;
    }
    if (kept.length < claimed.length) await this.releaseClaims(claimed.slice(kept.length), workerId);
    return kept;
  }

  private async claimOrWait(input: ClaimInput): Promise<Task[]> {
    const amount = Math.min(input.amount ?? this.settings.defaultClaimAmount, this.settings.maxClaimAmount);
    const blockForMs = Math.min(input.blockForMs ?? this.settings.defaultBlockForMs, this.settings.maxBlockForMs);
    if (amount <= 0 || this.stopping) return [];
    const deadline = this.clock.now() + Math.max(0, blockForMs);
    const pollMs = Math.max(this.settings.pollMinIntervalMs, blockForMs / this.settings.pollDivisor);
    const waiter = this.waiters.register(input.queues);
    try {
      for (;;) {
        const now = this.clock.now();
        const throttled = new Map<string, number>();
        const claimed = await this.store.taskClaim({
          queues: input.queues,
          amount,
          workerId: input.workerId,
          now,
          maxBytes: this.settings.maxAnswerBytes,
          throttled,
        });
        this.noteHeldBack(input.queues, throttled);
        if (input.signal?.aborted && claimed.length > 0) {
          // Nobody will receive these: give them back rather than leave them to the timeout reaper.
          await this.releaseClaims(claimed, input.workerId);
          return [];
        }
        if (claimed.length > 0) {
          for (const task of claimed) this.written.remember(task);
          return claimed;
        }
        const left = deadline - this.clock.now();
        if (left <= 0 || this.stopping || input.signal?.aborted) return [];
        const nextRunAt = await this.store.taskNextRunAt({ queues: input.queues });
        // A task that was already due when we claimed, yet not handed out, sits in a paused queue (or went
        // to a concurrent claimer): waking for it would spin. Resume and new work notify; polls cover the rest.
        const untilDue =
          nextRunAt === undefined || nextRunAt <= now ? Number.POSITIVE_INFINITY : Math.max(1, nextRunAt - this.clock.now());
        await waiter.wait(Math.min(left, pollMs, untilDue), input.signal);
      }
    } finally {
      waiter.dispose();
    }
  }

  /** Records which queues a claim found held back by a limit (metrics, and wake-ups on done/failed). */
  private noteHeldBack(queues: readonly string[], throttled: ReadonlyMap<string, number>): void {
    if (this.heldBack.size > 0) for (const queue of queues) if (!throttled.has(queue)) this.heldBack.delete(queue);
    for (const [queue, n] of throttled) {
      if (n <= 0) continue;
      this.heldBack.add(queue);
      this.events.throttled?.(queue, n);
    }
  }

  /**
   * A claim of `queue` was ended outside this engine (the leader's timeout reaper): as for a done here,
   * a long poll held back by a limit of that queue tries again at once instead of at its next poll.
   */
  claimEnded(queue: string): void {
    this.slotFreed(queue);
  }

  /** A claimed task of a queue held back by a limit finished: its slot may let a waiting claim through. */
  private slotFreed(queue: string): void {
    if (this.heldBack.has(queue)) this.waiters.notify(queue);
  }

  async reportIn(queue: string, id: string, workerId: string, data: JsonObject | undefined): Promise<Task> {
    this.workerActivity.seen(workerId, [queue], this.clock.now());
    return this.mutateTask(queue, id, (task, now) => intoReported(task, workerId, now, data));
  }

  async markDone(queue: string, id: string, workerId: string, data: JsonObject | undefined): Promise<Task> {
    this.workerActivity.seen(workerId, [queue], this.clock.now());
    const task = await this.mutateTask(queue, id, (t, now) => intoDone(t, workerId, now, data));
    this.slotFreed(queue);
    return task;
  }

  async markFailed(queue: string, id: string, workerId: string, data: JsonObject | undefined): Promise<Task> {
    this.workerActivity.seen(workerId, [queue], this.clock.now());
    const task = await this.mutateTask(queue, id, (t, now) =>
      intoFailed(t, workerId, now, data, this.settings.backoff, this.random, { errorHistory: this.settings.errorHistory }),
    );
    this.slotFreed(queue);
    return task;
  }

  async unclaim(queue: string, id: string, workerId: string): Promise<Task> {
    this.workerActivity.seen(workerId, [queue], this.clock.now());
    const task = await this.mutateTask(queue, id, (t, now) => intoUnclaimed(t, workerId, now));
    this.waiters.notify(queue);
    return task;
  }

  // ── Operator API (docs/design/operator-api.md) ────────────────────────────────────────────────────

  /**
   * A page of tasks. With `sizeOf`, the page holds no more than `maxAnswerBytes` (at least one task): a
   * page ended early has `next` after its last task, so the next page resumes exactly there.
   */
  async listTasks(input: TaskListInput, sizeOf?: TaskAnswerSize): Promise<TaskListPage> {
    const maxBytes = this.settings.maxAnswerBytes;
    const page = await this.store.taskList({
      ...input,
      scheduled: input.scheduled === undefined ? undefined : { now: this.clock.now(), scheduled: input.scheduled },
      limit: Math.min(Math.max(1, input.limit), MAX_TASK_LIST_LIMIT),
      maxBytes,
    });
    if (sizeOf === undefined) return page;
    const tasks = withinBudget(page.tasks, page.tasks.length, maxBytes, sizeOf);
    const last = tasks[tasks.length - 1];
    if (tasks.length === page.tasks.length || last === undefined) return page;
    return { tasks, next: { createdAt: last.createdAt, queue: last.queue, id: last.id } };
  }

  /**
   * Statistics of the given queues (every known queue if undefined), with `recent` over `windowMs`, and
   * the instant they describe (ages are relative to it).
   */
  async queueStats(queues: string[] | undefined, windowMs: number): Promise<{ at: number; queues: QueueStats[] }> {
    const at = this.clock.now();
    return { at, queues: await this.store.queueStatsList({ now: at, recentWindowMs: windowMs, queues }) };
  }

  /** The dashboard's charts: activity and depth per interval over the window, overall and per queue. */
  queueSeries(window: SeriesWindow, queue: string | undefined): Promise<QueueSeriesView> {
    return readQueueSeries(this.store, this.clock.now(), window, queue);
  }

  /** A paused queue hands out no claims; resuming wakes this server's long polls on it at once. */
  async setQueuePaused(queue: string, paused: boolean): Promise<QueueState> {
    const state = await this.store.queueSetPaused({ queue, paused, now: this.clock.now() });
    if (!paused) this.waiters.notify(queue, Number.POSITIVE_INFINITY);
    return state;
  }

  // ── Flow control (docs/flow-control.md) ─────────────────────────────────────────────────────────

  /** The queue's limits, undefined when it has none. */
  async queueLimits(queue: string): Promise<QueueLimitsRecord | undefined> {
    const [record] = await this.store.queueLimitsList({ queues: [queue] });
    return record;
  }

  /** Every queue's limits, sorted by queue. */
  listQueueLimits(): Promise<QueueLimitsRecord[]> {
    return this.store.queueLimitsList({});
  }

  /**
   * Sets (or with undefined removes) a queue's limits; every claim from now on, on any server, honours
   * them. Long polls on this server try again at once: higher limits may free tasks for them.
   */
  async setQueueLimits(queue: string, limits: QueueLimits | undefined): Promise<QueueLimitsRecord | undefined> {
    const record = await this.store.queueLimitsSet({ queue, limits, now: this.clock.now() });
    this.waiters.notify(queue, Number.POSITIVE_INFINITY);
    return record;
  }

  /** How the queue's limits stand now, with at most `keys` throttled keys. */
  queueFlow(queue: string, keys: number): Promise<QueueFlowStatus> {
    return this.store.queueFlowStatus({ queue, now: this.clock.now(), limit: keys });
  }

  /** A DEAD task becomes QUEUED with a fresh set of attempts. */
  async retryTask(queue: string, id: string): Promise<Task> {
    const task = await this.mutateTask(queue, id, (t, now) => intoRetried(t, now));
    this.waiters.notify(queue);
    return task;
  }

  /**
   * A QUEUED, CLAIMED or FAILED task becomes DEAD at once, with who cancelled it, when and why. A claim
   * ends with it: its worker's next report-in, done or failed is refused with TASK_CANCELLED.
   */
  async cancelTask(queue: string, id: string, by: string, reason: string | undefined): Promise<Task> {
    const task = await this.mutateTask(queue, id, (t, now) => intoCancelled(t, now, { by, reason }));
    this.slotFreed(queue); // a cancelled claimed task gives its flow-control slot back, as done and failed do
    return task;
  }

  /**
   * The task whose error history and cancellation an operator asks for: the live one, else the latest
   * archived one with this id (`archived: true`).
   */
  async taskErrors(queue: string, id: string): Promise<{ task: Task; archived: boolean }> {
    const live = await this.store.taskGet({ queue, id });
    if (live) return { task: live, archived: false };
    const archived = await this.store.archivedTaskGet({ queue, id });
    if (!archived) throw errors.taskNotFound(queue, id);
    return { task: archived, archived: true };
  }

  /** Every recurring task with its next and last fire times, sorted by id. */
  async listSchedules(): Promise<RecurringTaskSchedule[]> {
    const tasks = await this.store.recurringTaskList();
    const ticks = await this.store.recurringTaskTickList({ recurringTaskIds: tasks.map((t) => t.id) });
    const lastTicks = new Map(ticks.map((t) => [t.recurringTaskId, t.lastTickAt]));
    const now = this.clock.now();
    return tasks.map((task) => {
      const lastTickAt = lastTicks.get(task.id);
      const nextRunTimes: number[] = [];
      try {
        const schedule = parseSchedule(task.scheduleExpression);
        let next = upcomingTick(schedule, tickChainAnchor(task.modifiedAt, lastTickAt), now);
        while (next !== undefined && nextRunTimes.length < NEXT_FIRE_TIMES) {
          nextRunTimes.push(next);
          next = schedule.nextAfter(next);
        }
      } catch {
        // stored before validation existed, or a zone this runtime lacks: it never fires
      }
      return { task, nextRunAt: nextRunTimes[0], nextRunTimes, lastTickAt };
    });
  }

  /**
   * Who holds claims now (the busiest `limit` workers) and who was seen since `since` (the store's
   * sightings merged with this server's not yet flushed ones; most recent first, at most `limit`).
   */
  async listWorkers(limit: number, since: number): Promise<{ holding: WorkerClaimList; recent: WorkerSighting[] }> {
    const [holding, stored] = await Promise.all([
      this.store.workerClaimList({ limit, maxTasks: MAX_CLAIMED_TASKS_GROUPED }),
      this.store.workerSeenList({ since, limit }),
    ]);
    const byId = new Map(stored.map((w) => [w.workerId, w]));
    for (const w of this.workerActivity.peek()) {
      const known = byId.get(w.workerId);
      if (w.lastSeenAt >= since && (known === undefined || w.lastSeenAt > known.lastSeenAt)) byId.set(w.workerId, w);
    }
    const recent = [...byId.values()]
      .sort((a, b) => b.lastSeenAt - a.lastSeenAt || (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0))
      .slice(0, limit);
    return { holding, recent };
  }

  /**
   * One step of a bulk operation (bulk-operations.ts): the kind's transition for each listed task,
   * written with compare-and-set on the listed version. A task no longer in a state the kind acts on,
   * or written meanwhile, is skipped.
   */
  private async applyBulk(kind: OperationKind, tasks: Task[], operationId: string): Promise<BulkStepResult> {
    const now = this.clock.now();
    let skipped = 0;
    if (kind === 'delete_finished') {
      const finished = tasks.filter((t) => t.state === 'done' || t.state === 'dead');
      const results = await this.store.taskDeleteMany({
        deletes: finished.map((t) => ({ queue: t.queue, id: t.id, expectedVersion: t.version })),
      });
      const deleted = results.filter((r) => r.deleted).length;
      finished.forEach((t, i) => {
        if (results[i]?.deleted) this.written.take(t.queue, t.id);
      });
      return { changed: deleted, skipped: tasks.length - deleted };
    }
    const befores: Task[] = [];
    const updates: TaskUpdateParams[] = [];
    for (const t of tasks) {
      try {
        // "Cancel all waiting" leaves running tasks alone (cancelling one is its own operator action).
        if (kind === 'cancel_waiting' && t.state !== 'queued' && t.state !== 'failed') {
          skipped++;
          continue;
        }
        const next =
          kind === 'retry_dead'
            ? intoRetried(t, now)
            : intoCancelled(t, now, { by: `operation ${operationId}`, reason: `bulk operation ${operationId}` });
        befores.push(t);
        updates.push({ task: next, expectedVersion: t.version });
      } catch {
        skipped++; // changed since it was listed: no longer in a state this kind acts on
      }
    }
    const results = updates.length > 0 ? await this.store.taskUpdateMany({ updates }) : [];
    let changed = 0;
    const queues = new Set<string>();
    results.forEach((r, i) => {
      if (r.task === undefined) {
        skipped++;
        return;
      }
      changed++;
      this.written.take(r.task.queue, r.task.id);
      this.events.taskChanged(r.task, befores[i]);
      queues.add(r.task.queue);
    });
    if (kind === 'retry_dead') for (const q of queues) this.waiters.notify(q);
    return { changed, skipped };
  }

  /** Stops handing out work: waiting claims return what they have (nothing) at once. */
  shutdown(): void {
    this.stopping = true;
    this.waiters.notifyAll();
  }

  /**
   * Get, apply a transition, compare-and-set; retried on a concurrent write up to the configured count.
   * The first try uses the version this engine wrote last, if it knows it (no read); a conflict there
   * counts as a try, and anything the transition refuses on it is asked again of the store.
   */
  private async mutateTask(queue: string, id: string, transition: (task: Task, now: number) => Task): Promise<Task> {
    let known = this.written.take(queue, id);
    for (let attempt = 0; ; attempt++) {
      const current = known ?? (await this.store.taskGet({ queue, id }));
      const fromCache = known !== undefined;
      known = undefined;
      if (!current) throw errors.taskNotFound(queue, id);
      let next: Task;
      try {
        next = transition(current, this.clock.now());
      } catch (e) {
        // The cached copy may be stale: only the stored task's refusal counts.
        if (fromCache && isTasquesError(e)) {
          attempt--;
          continue;
        }
        throw e;
      }
      try {
        const written = await this.store.taskUpdate({ task: next, expectedVersion: current.version });
        this.written.remember(written);
        this.events.taskChanged(written, current);
        return written;
      } catch (e) {
        if (fromCache && isTasquesError(e, 'TASK_NOT_FOUND')) continue; // read again: the answer comes from the store
        // A conflict on the cached version is always followed by one read, whatever the retry count.
        if (isTasquesError(e, 'TASK_VERSION_CONFLICT') && (fromCache || attempt < this.settings.versionConflictRetries)) continue;
        throw e;
      }
    }
  }

  /** Unclaims tasks that were claimed for a caller who can no longer receive them. Never throws. */
  async releaseClaims(tasks: Task[], workerId: string): Promise<void> {
    for (const task of tasks) {
      try {
        await this.unclaim(task.queue, task.id, workerId);
      } catch {
        // Someone else moved it on; the timeout reaper is the safety net for anything left.
      }
    }
  }

  // ── Many tasks per call (batch endpoints): one store write for the lot ────────────────────────────────

  /**
   * Creates many tasks with one store write. `results[i]` answers `inputs[i]` as createTask would: the
   * created task, or the error it would have thrown (TASK_ALREADY_EXISTS).
   */
  async createTasks(inputs: NewTaskInput[]): Promise<TaskWriteResult[]> {
    const now = this.clock.now();
    const results = await this.store.taskCreateMany({ tasks: inputs.map((input) => this.newTaskRecord(input, now)) });
    const created = new Map<string, number>();
    for (const { task } of results) {
      if (!task) continue;
      this.events.taskChanged(task, undefined);
      created.set(task.queue, (created.get(task.queue) ?? 0) + 1);
    }
    for (const [queue, count] of created) this.waiters.notify(queue, count);
    return results;
  }

  /**
   * Marks many claimed tasks done: one read and one compare-and-set write for the lot. `results[i]`
   * answers `items[i]` as markDone would, items taking effect in order: a task named twice is done by
   * the first and TASK_NOT_CLAIMED for the second. Items that meet a concurrent write (and repeats) go
   * the single-task way afterwards, in order, with its retries.
   */
  async markDoneMany(items: DoneItemInput[], workerId: string): Promise<TaskWriteResult[]> {
    const now = this.clock.now();
    this.workerActivity.seen(workerId, new Set(items.map((i) => i.queue)), now);
    const current = await this.store.taskGetMany({ keys: items.map(({ queue, id }) => ({ queue, id })) });
    const results: (TaskWriteResult | undefined)[] = new Array(items.length);
    const writes: { index: number; update: TaskUpdateParams }[] = [];
    const seen = new Set<string>();
    items.forEach((item, i) => {
      const key = `${item.queue}\u0000${item.id}`;
      if (seen.has(key)) return; // a repeat: left for the single-task pass, after the first took effect
      seen.add(key);
      const task = current[i];
      if (!task) {
        results[i] = { error: errors.taskNotFound(item.queue, item.id) };
        return;
      }
      try {
        writes.push({ index: i, update: { task: intoDone(task, workerId, now, item.data), expectedVersion: task.version } });
      } catch (e) {
        if (!isTasquesError(e)) throw e;
        results[i] = { error: e };
      }
    });
    if (writes.length > 0) {
      const written = await this.store.taskUpdateMany({ updates: writes.map((w) => w.update) });
      written.forEach((result, k) => {
        const { index } = writes[k]!;
        results[index] = result;
        if (result.task) {
          this.written.remember(result.task);
          this.events.taskChanged(result.task, current[index]);
          this.slotFreed(result.task.queue);
        }
      });
    }
    for (let i = 0; i < items.length; i++) {
      const result = results[i];
      if (result !== undefined && !isTasquesError(result.error, 'TASK_VERSION_CONFLICT')) continue;
      const item = items[i]!;
      try {
        results[i] = { task: await this.markDone(item.queue, item.id, workerId, item.data) };
      } catch (e) {
        if (!isTasquesError(e)) throw e;
        results[i] = { error: e };
      }
    }
    return results as TaskWriteResult[];
  }

  /** The engine's clock, for rules checked against the current time before a write. */
  now(): number {
    return this.clock.now();
  }

  // ── Recurring tasks ────────────────────────────────────────────────────────────────────────────────

  async createRecurringTask(input: NewRecurringTaskInput): Promise<RecurringTask> {
    const now = this.clock.now();
    return this.store.recurringTaskCreate({
      task: {
        id: input.id,
        scheduleExpression: input.scheduleExpression,
        skipIfOutstandingTasksExist: input.skipIfOutstandingTasksExist ?? false,
        taskDefinition: this.withDefinitionDefaults(input.taskDefinition),
        isDeleted: false,
        createdAt: now,
        modifiedAt: now,
      },
    });
  }

  async getRecurringTask(id: string): Promise<RecurringTask> {
    const task = await this.store.recurringTaskGet({ id });
    if (!task) throw errors.recurringTaskNotFound(id);
    return task;
  }

  async listRecurringTasks(): Promise<RecurringTask[]> {
    return this.store.recurringTaskList();
  }

  async updateRecurringTask(id: string, patch: RecurringTaskPatch): Promise<RecurringTask> {
    return this.mutateRecurringTask(id, (current) => ({
      ...current,
      scheduleExpression: patch.scheduleExpression ?? current.scheduleExpression,
      skipIfOutstandingTasksExist: patch.skipIfOutstandingTasksExist ?? current.skipIfOutstandingTasksExist,
      taskDefinition: patch.taskDefinition ? this.withDefinitionDefaults(patch.taskDefinition) : current.taskDefinition,
    }));
  }

  /** Soft delete (v1): the record stays, hidden, so the leader can see that it must unschedule it. */
  async deleteRecurringTask(id: string): Promise<RecurringTask> {
    return this.mutateRecurringTask(id, (current) => ({ ...current, isDeleted: true }));
  }

  /**
   * Pauses (the scheduler skips its ticks) or resumes a recurring task. Idempotent: setting the state it
   * has changes nothing. Takes effect on the leader at its next sync (`sync_run_interval`). Resuming
   * fires no tick missed while paused: the chain restarts from the resume (its `modifiedAt`).
   */
  async setRecurringTaskPaused(id: string, paused: boolean): Promise<RecurringTask> {
    const current = await this.getRecurringTask(id);
    if ((current.pausedAt !== undefined) === paused) return current;
    return this.mutateRecurringTask(id, (t) => ({ ...t, pausedAt: paused ? this.clock.now() : undefined }));
  }

  /**
   * Enqueues one task from a recurring task's definition now, as a tick would (same fields, counted as
   * its task by skip_if_outstanding_tasks_exist), with a generated id. Paused or not. With
   * skip_if_outstanding_tasks_exist, refuses (RECURRING_TASK_OUTSTANDING) while one of its tasks is
   * outstanding. The schedule is not moved: the next tick fires as planned.
   */
  async runRecurringTaskNow(id: string): Promise<Task> {
    const recurring = await this.getRecurringTask(id);
    const def = recurring.taskDefinition;
    if (recurring.skipIfOutstandingTasksExist) {
      const outstanding = await this.store.taskCountOutstanding({ queue: def.queue, recurringTaskId: id });
      if (outstanding > 0) throw errors.recurringTaskOutstanding(id, outstanding);
    }
    return this.createTask(recurringTaskInput(recurring));
  }

  private async mutateRecurringTask(
    id: string,
    change: (current: RecurringTask) => RecurringTask,
  ): Promise<RecurringTask> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.store.recurringTaskGet({ id });
      if (!current) throw errors.recurringTaskNotFound(id);
      // Every write clears `loadedAt`: the leader reloads what changed (v1's dirty flag, spec §8.3).
      const next = { ...change(current), loadedAt: undefined, modifiedAt: this.clock.now() };
      try {
        return await this.store.recurringTaskUpdate({ task: next, expectedVersion: current.version });
      } catch (e) {
        if (isTasquesError(e, 'RECURRING_TASK_VERSION_CONFLICT') && attempt < this.settings.versionConflictRetries) {
          continue;
        }
        throw e;
      }
    }
  }

  private withDefinitionDefaults(def: TaskDefinitionInput): TaskDefinition {
    return {
      queue: def.queue,
      kind: def.kind,
      retryTimes: def.retryTimes ?? this.settings.defaultRetryTimes,
      priority: def.priority ?? 0,
      processingTimeoutNs: def.processingTimeoutNs ?? this.settings.defaultProcessingTimeoutNs,
      args: def.args,
      context: def.context,
    };
  }
}
