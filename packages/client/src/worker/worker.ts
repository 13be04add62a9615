/**
 * The Worker loop: claims tasks in batches with long polls, runs handlers (up to `concurrency` at once),
 * keeps claims alive with report-ins, records results, and shuts down gracefully. It talks to the
 * server only through `tasques/client`.
 *
 * Delivery is at least once: a task can run again after a crash, a lost claim or a lost answer, so
 * handlers should be idempotent (docs/clients.md, "Delivery guarantees").
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import {
  TasquesApiError,
  TasquesClient,
  TasquesClientError,
  TasquesNetworkError,
  isApiError,
  isClaimLost,
  isTransient,
  parseGoDuration,
  type BatchItemResult,
  type JsonObject,
  type Task,
  type TasquesClientOptions,
} from '../client/index.js';

/**
 * Does the work of one task. Resolve to mark the task done (a JSON object is kept as the result; any
 * other value is kept as `{ "result": value }`); throw (or reject) to mark it failed, with the error
 * serialized as the failure data. Watch `context.signal`: it fires when the claim is lost or the worker
 * stops past its grace period, and then nothing the handler returns is recorded.
 */
export type TaskHandler = (task: Task, context: TaskContext) => unknown;

/**
 * Handlers by queue: either one handler for every kind in the queue, or handlers by kind, where `'*'`
 * catches the kinds not listed.
 */
export type HandlerMap = Record<string, TaskHandler | Record<string, TaskHandler>>;

/** What a handler gets besides the task. */
export interface TaskContext {
  /**
   * Fires when the handler should stop: the claim was lost (a report-in was refused with 400/403/404,
   * e.g. the task timed out and another worker has it), an operator cancelled the task (learnt at the
   * next report-in, see `cancelCheckIntervalMs`), or the worker is stopping and its grace period ran
   * out. `signal.reason` is a {@link ClaimLostError} (a {@link TaskCancelledError} for a cancellation)
   * or a {@link WorkerStoppingError}.
   */
  signal: AbortSignal;
  /** This worker's id (the `X-TASQUES-WORKER-ID` it claims with). */
  workerId: string;
  /**
   * Reports in now, with progress data kept as `last_claimed.last_report.data` (the worker also reports
   * in by itself, without data). Rejects with the client's error if the report fails.
   */
  report(data?: JsonObject): Promise<void>;
  /**
   * Gives the task back to its queue when the handler returns, instead of marking it done or failed.
   * The attempt is not counted, and the task can be claimed again at once, by any worker, this one
   * included (use it to hand work back, not to postpone it).
   */
  unclaim(): void;
  /** The client the worker uses, e.g. to enqueue follow-up tasks. */
  client: TasquesClient;
}

/** Options of {@link Worker}. */
export interface WorkerOptions {
  /** A client, or the options to build one (its `workerId` is set to the worker's). */
  client: TasquesClient | TasquesClientOptions;
  /** The worker id. Default: the client's worker id, else `<hostname>-<pid>-<random>`. */
  workerId?: string;
  /** Handlers by queue (and kind). More can be added with {@link Worker.handle} before `start()`. */
  handlers?: HandlerMap;
  /** How many tasks run at once. Default 4. */
  concurrency?: number;
  /** Most tasks asked for in one claim (never more than free slots). Default: `concurrency`. */
  claimAmount?: number;
  /** How long a claim waits for work (long poll), in ms. Default 5000. */
  blockForMs?: number;
  /**
   * How many claims may be in flight at once (each for at most `claimAmount` of the free slots).
   * Default: enough to fill every slot in one round, at most 4: `min(4, ceil(concurrency / claimAmount))`.
   * More claimers help small claim amounts; with batch claims one is enough.
   */
  claimers?: number;
  /**
   * How often to report in on a running task, from its `processing_timeout` in ms. Default a third of it,
   * so that two report-ins can fail before the claim expires.
   */
  reportIntervalMs?: (processingTimeoutMs: number) => number;
  /**
   * Report in at least this often on a running task, in ms, whatever its processing timeout: an
   * operator's cancel is learnt at the next report-in, and the handler's signal fires then. Each
   * report-in is one server write. Default 5000; `Infinity` reports by the processing timeout only.
   */
  cancelCheckIntervalMs?: number;
  /** How long `stop()` (and a signal) lets running tasks finish before unclaiming them, in ms. Default 30000. */
  gracePeriodMs?: number;
  /**
   * Stop gracefully on these signals (true: SIGTERM and SIGINT). A second signal stops at once
   * (unclaiming what still runs). Default false: call {@link Worker.stop} yourself.
   */
  handleSignals?: boolean | NodeJS.Signals[];
  /** Backoff after a failed server call: doubles from `minDelayMs` to `maxDelayMs`, with jitter. Default 100ms–10s. */
  backoff?: { minDelayMs?: number; maxDelayMs?: number };
  /** Turns a handler's error into the failure data. Default {@link serializeError}. */
  serializeError?: (error: unknown) => JsonObject;
  /**
   * Mark tasks that finish close together done with one call (`PUT /tasques/done`, additive to v1):
   * a done is sent at once when no done call is on the wire, and the ones that finish meanwhile go
   * together in the next call. A lone task is never held back. Each task still gets its own answer
   * (events, claim-lost and retries work as with one call per task). Against a server without the
   * batch endpoint (a v1 server) the worker falls back to one call per task by itself. Default true.
   */
  batchDone?: boolean;
}

/** The operations the worker repeats after transient failures. */
export type WorkerOperation = 'claim' | 'report' | 'done' | 'failed' | 'unclaim';

/** Why a task went back to its queue. */
export type UnclaimReason = 'handler' | 'stopping';

/** Events of a {@link Worker}; all are informational, none needs a listener. */
export interface WorkerEvents {
  /** A claim returned tasks. */
  claimed: [tasks: Task[]];
  /** A handler was started. */
  taskStarted: [task: Task];
  /** A report-in succeeded (the server's task, with the new `times_out_at`). */
  reported: [task: Task];
  /** The task was marked done (the server's task) with this result data. */
  taskDone: [task: Task, result: JsonObject | undefined];
  /** The task was marked failed or dead (the server's task); `error` is what the handler threw. */
  taskFailed: [task: Task, error: unknown];
  /** The claim was lost (cancellations included); the handler's outcome is not recorded. */
  claimLost: [task: Task, error: unknown];
  /** An operator cancelled the task while this worker held it (also a `claimLost`). */
  taskCancelled: [task: Task, error: TasquesApiError];
  /** The task was given back to its queue. */
  taskUnclaimed: [task: Task, reason: UnclaimReason];
  /** A server call failed and will be repeated after `delayMs`. */
  retrying: [info: { operation: WorkerOperation; error: unknown; delayMs: number; task?: Task }];
  /** A handler settled after its claim was lost or given up; what it returned was dropped. */
  resultDropped: [task: Task, outcome: 'resolved' | 'rejected'];
  /** `stop()` was called (or a signal came): no more claims. */
  stopping: [];
  /** The worker has stopped: nothing runs, nothing is claimed. */
  stopped: [summary: StopSummary];
}

/** What {@link Worker.stop} did. */
export interface StopSummary {
  /** Tasks that finished (done or failed) during the grace period. */
  finished: number;
  /** Tasks given back to the queue because they did not finish in time (or arrived while stopping). */
  unclaimed: number;
  /** Tasks left claimed because unclaiming them failed; they are retried once their claim times out. */
  abandoned: number;
}

/** The reason of a handler's signal when its claim is lost. */
export class ClaimLostError extends Error {
  constructor(
    readonly task: Task,
    cause: unknown,
  ) {
    super(`lost the claim on task ${task.queue}/${task.id}`, { cause });
    this.name = 'ClaimLostError';
  }
}

/**
 * The reason of a handler's signal when an operator cancelled its task: the server refused a report-in
 * (or done, or failed) with `TQ_ERR_TASK_CANCELLED`. Nothing the handler returns is recorded.
 */
export class TaskCancelledError extends ClaimLostError {
  constructor(task: Task, cause: unknown) {
    super(task, cause);
    this.message = `task ${task.queue}/${task.id} was cancelled`;
    this.name = 'TaskCancelledError';
  }
}

/** True when the server refused a worker call because an operator cancelled the task. */
export function isTaskCancelled(err: unknown): err is TasquesApiError {
  return err instanceof TasquesApiError && err.code === 'TQ_ERR_TASK_CANCELLED';
}

/** The reason of a handler's signal when the worker stops before the handler finished. */
export class WorkerStoppingError extends Error {
  constructor() {
    super('the worker is stopping');
    this.name = 'WorkerStoppingError';
  }
}

/**
 * The default failure data of a handler error: `{ error, name, code?, stack?, cause? }`, where `error`
 * is the message. Stacks are cut to 4000 characters.
 */
export function serializeError(error: unknown, depth = 0): JsonObject {
  if (!(error instanceof Error)) {
    return { error: typeof error === 'string' ? error : safeJson(error) ?? String(error) };
  }
  const out: JsonObject = { error: error.message, name: error.name };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (error.stack) out.stack = error.stack.slice(0, 4000);
  if (error.cause !== undefined && depth < 3) out.cause = serializeError(error.cause, depth + 1);
  return out;
}

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

type Phase = 'running' | 'completing' | 'finished' | 'lost' | 'released';

interface Running {
  task: Task;
  key: string;
  controller: AbortController;
  phase: Phase;
  unclaimRequested: boolean;
  reportTimer: NodeJS.Timeout | undefined;
  reportIntervalMs: number;
  /** Settles when the task's slot is free again. */
  settled: Promise<void>;
}

const DEFAULT_PROCESSING_TIMEOUT_MS = 30 * 60_000;

/** Most tasks in one `PUT /tasques/done` (the server's batch limit). */
const MAX_DONE_BATCH = 1000;

interface PendingDone {
  task: Task;
  data: JsonObject | undefined;
  resolve(task: Task): void;
  reject(error: unknown): void;
}

/**
 * Runs handlers for claimed tasks.
 *
 * @example
 * ```ts
 * const worker = new Worker({
 *   client: { baseUrl: 'http://localhost:8080' },
 *   handlers: { emails: { welcome: async (task) => ({ sent: await send(task.args) }) } },
 *   concurrency: 8,
 *   handleSignals: true,
 * });
 * worker.on('taskFailed', (task, error) => console.warn(task.id, error));
 * await worker.run(); // until SIGTERM / SIGINT, then graceful shutdown
 * ```
 */
export class Worker extends EventEmitter<WorkerEvents> {
  /** The worker id used for every claim. */
  readonly workerId: string;
  /** The client the worker calls the server with. */
  readonly client: TasquesClient;
  private readonly handlers = new Map<string, Map<string, TaskHandler>>();
  private readonly concurrency: number;
  private readonly claimAmount: number;
  private readonly blockForMs: number;
  private readonly claimers: number;
  private readonly reportIntervalFor: (timeoutMs: number) => number;
  private readonly cancelCheckIntervalMs: number;
  private readonly gracePeriodMs: number;
  private readonly signals: NodeJS.Signals[];
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly serialize: (error: unknown) => JsonObject;
  /** Whether dones are sent in batches (false from the start, or once the server turned out to lack it). */
  private batchDone: boolean;
  /** Dones waiting for the done call on the wire to return. */
  private readonly doneQueue: PendingDone[] = [];
  private doneInFlight = false;

  private readonly running = new Map<string, Running>();
  private state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  private loop: Promise<void> | undefined;
  private readonly claimControllers = new Set<AbortController>();
  /** Slots promised to claims in flight. */
  private reserved = 0;
  /** Wake claim loops waiting for a free slot (a slot freed up, or stop). */
  private readonly wakers = new Set<() => void>();
  /** Aborted when stop() is called: cuts backoff waits short. */
  private readonly stopController = new AbortController();
  /** Aborted when the grace period is over: completions stop retrying. */
  private readonly giveUpController = new AbortController();
  private stopPromise: Promise<StopSummary> | undefined;
  private readonly summary: StopSummary = { finished: 0, unclaimed: 0, abandoned: 0 };
  private signalListeners: Array<[NodeJS.Signals, () => void]> = [];
  private stoppedResolve!: () => void;
  /** Resolves when the worker has stopped. */
  readonly stopped: Promise<void>;

  constructor(options: WorkerOptions) {
    super();
    const given = options.client;
    const clientWorkerId = given instanceof TasquesClient ? given.workerId : given.workerId;
    this.workerId =
      options.workerId ?? clientWorkerId ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.client = given instanceof TasquesClient ? given : new TasquesClient({ ...given, workerId: this.workerId });
    this.concurrency = positiveInt(options.concurrency ?? 4, 'concurrency');
    this.claimAmount = positiveInt(options.claimAmount ?? this.concurrency, 'claimAmount');
    this.blockForMs = Math.max(0, options.blockForMs ?? 5_000);
    this.claimers = positiveInt(options.claimers ?? Math.min(4, Math.ceil(this.concurrency / this.claimAmount)), 'claimers');
    this.reportIntervalFor = options.reportIntervalMs ?? ((t) => t / 3);
    this.cancelCheckIntervalMs = options.cancelCheckIntervalMs ?? 5_000;
    if (!(this.cancelCheckIntervalMs > 0)) throw new RangeError(`cancelCheckIntervalMs must be positive, got ${this.cancelCheckIntervalMs}`);
    this.gracePeriodMs = Math.max(0, options.gracePeriodMs ?? 30_000);
    this.signals =
      options.handleSignals === true ? ['SIGTERM', 'SIGINT'] : Array.isArray(options.handleSignals) ? options.handleSignals : [];
    this.minDelayMs = options.backoff?.minDelayMs ?? 100;
    this.maxDelayMs = options.backoff?.maxDelayMs ?? 10_000;
    this.serialize = options.serializeError ?? ((e) => serializeError(e));
    this.batchDone = options.batchDone ?? true;
    for (const [queue, handler] of Object.entries(options.handlers ?? {})) {
      if (typeof handler === 'function') this.handle(queue, '*', handler);
      else for (const [kind, h] of Object.entries(handler)) this.handle(queue, kind, h);
    }
    this.stopped = new Promise((resolve) => {
      this.stoppedResolve = resolve;
    });
  }

  /**
   * Registers the handler of `kind` tasks in `queue` (`'*'`: every kind without a handler of its own).
   * Only before {@link start}.
   */
  handle(queue: string, kind: string, handler: TaskHandler): this {
    if (this.state !== 'idle') throw new Error('handlers can only be added before start()');
    let kinds = this.handlers.get(queue);
    if (!kinds) this.handlers.set(queue, (kinds = new Map()));
    kinds.set(kind, handler);
    return this;
  }

  /** Tasks currently held (running, or having their outcome recorded). */
  get activeCount(): number {
    return this.running.size;
  }

  /** Starts claiming. Returns at once; see {@link run} to wait until the worker stops. */
  start(): this {
    if (this.state !== 'idle') throw new Error(`the worker is ${this.state}; start() is only allowed once`);
    if (this.handlers.size === 0) throw new Error('no handlers: pass `handlers` or call handle() before start()');
    this.state = 'running';
    for (const signal of this.signals) {
      const listener = () => this.onSignal();
      process.on(signal, listener);
      this.signalListeners.push([signal, listener]);
    }
    this.loop = Promise.all(Array.from({ length: this.claimers }, () => this.claimLoop())).then(() => undefined);
    return this;
  }

  /** Starts, and resolves once the worker has stopped (by {@link stop} or a handled signal). */
  async run(): Promise<void> {
    this.start();
    await this.stopped;
  }

  /**
   * Stops gracefully: no more claims (a claim in flight is allowed to finish, and what it brings is
   * unclaimed), running tasks get until the grace period ends to finish, and those that do not are
   * unclaimed (their handlers' signals fire). Resolves when nothing is held any more.
   */
  stop(options: { gracePeriodMs?: number } = {}): Promise<StopSummary> {
    if (this.state === 'idle') {
      this.state = 'stopped';
      this.stoppedResolve();
      return Promise.resolve({ ...this.summary });
    }
    this.stopPromise ??= this.shutdown(Math.max(0, options.gracePeriodMs ?? this.gracePeriodMs));
    return this.stopPromise;
  }

  // ── Claiming ───────────────────────────────────────────────────────────────────────────────────────

  private async claimLoop(): Promise<void> {
    const queues = [...this.handlers.keys()];
    let failures = 0;
    while (this.state === 'running') {
      const free = this.concurrency - this.running.size - this.reserved;
      if (free <= 0) {
        await new Promise<void>((resolve) => this.wakers.add(resolve));
        continue;
      }
      const amount = Math.min(this.claimAmount, free);
      let tasks: Task[];
      const controller = new AbortController();
      this.claimControllers.add(controller);
      this.reserved += amount;
      try {
        tasks = await this.client.claimTasks(
          { queues, amount, block_for: this.blockForMs },
          { workerId: this.workerId, signal: controller.signal },
        );
        failures = 0;
      } catch (error) {
        if (controller.signal.aborted) break; // stop() gave up waiting for it
        tasks = [];
        const delayMs = this.backoffDelay(failures++);
        this.emit('retrying', { operation: 'claim', error, delayMs });
        this.reserved -= amount;
        this.claimControllers.delete(controller);
        await this.sleep(delayMs, this.stopController.signal);
        continue;
      } finally {
        if (this.claimControllers.delete(controller)) this.reserved -= amount;
      }
      if (tasks.length > 0) this.emit('claimed', tasks);
      if (this.state !== 'running') {
        // Claimed while stopping: nobody will run them, give them back at once.
        await Promise.all(tasks.map((task) => this.giveBack(task)));
        break;
      }
      for (const task of tasks) this.begin(task);
    }
  }

  // ── Running one task ───────────────────────────────────────────────────────────────────────────────

  private begin(task: Task): void {
    const key = `${task.queue}\u0000${task.id}`;
    let timeoutMs = DEFAULT_PROCESSING_TIMEOUT_MS;
    try {
      timeoutMs = parseGoDuration(task.processing_timeout);
    } catch {
      // keep the default
    }
    const run: Running = {
      task,
      key,
      controller: new AbortController(),
      phase: 'running',
      unclaimRequested: false,
      reportTimer: undefined,
      reportIntervalMs: Math.max(1, Math.min(this.reportIntervalFor(timeoutMs), this.cancelCheckIntervalMs)),
      settled: Promise.resolve(),
    };
    this.running.set(key, run);
    this.scheduleReport(run, run.reportIntervalMs);
    run.settled = this.execute(run)
      .catch(() => undefined) // execute() records every outcome itself; nothing is left to throw
      .finally(() => {
        this.clearReport(run);
        this.running.delete(key);
        this.wakeClaimers();
      });
  }

  private async execute(run: Running): Promise<void> {
    const { task } = run;
    const handler = this.handlers.get(task.queue)?.get(task.kind) ?? this.handlers.get(task.queue)?.get('*');
    const context: TaskContext = {
      signal: run.controller.signal,
      workerId: this.workerId,
      client: this.client,
      report: async (data) => {
        if (run.phase !== 'running') return;
        await this.reportOnce(run, data);
      },
      unclaim: () => {
        run.unclaimRequested = true;
      },
    };
    this.emit('taskStarted', task);
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
    if (!handler) {
      outcome = {
        ok: false,
        error: new Error(`no handler for kind [${task.kind}] in queue [${task.queue}] on worker [${this.workerId}]`),
      };
    } else {
      try {
        outcome = { ok: true, value: await handler(task, context) };
      } catch (error) {
        outcome = { ok: false, error };
      }
    }
    if (run.phase !== 'running') {
      // The claim was lost or given back while the handler ran: its outcome cannot be recorded.
      this.emit('resultDropped', task, outcome.ok ? 'resolved' : 'rejected');
      return;
    }
    run.phase = 'completing';
    if (run.unclaimRequested) {
      this.clearReport(run);
      await this.giveBackHeld(run, 'handler');
      return;
    }
    if (outcome.ok) {
      const data = toResultData(outcome.value);
      await this.complete(run, 'done', data, undefined);
    } else {
      await this.complete(run, 'failed', this.safeSerialize(outcome.error), outcome.error);
    }
  }

  private safeSerialize(error: unknown): JsonObject {
    try {
      return this.serialize(error);
    } catch (e) {
      return serializeError(e);
    }
  }

  /**
   * Records the outcome, repeating after transient failures until the server takes it, the claim turns
   * out to be lost, or the worker gives up at the end of its grace period (the claim then times out and
   * the task runs again: at least once).
   */
  private async complete(
    run: Running,
    operation: 'done' | 'failed',
    data: JsonObject | undefined,
    error: unknown,
  ): Promise<void> {
    const { task } = run;
    let uncertain = false; // an earlier try may have reached the server
    for (let failures = 0; ; ) {
      try {
        const updated =
          operation === 'done'
            ? await this.markDone(task, data)
            : await this.client.markFailed(task.queue, task.id, data, { workerId: this.workerId });
        run.phase = 'finished';
        this.summary.finished++;
        if (operation === 'done') this.emit('taskDone', updated, data);
        else this.emit('taskFailed', updated, error);
        return;
      } catch (e) {
        if (!(e instanceof TasquesClientError)) {
          // Not the server's doing (e.g. a result that cannot be serialized): record that as the failure.
          if (operation === 'done') {
            await this.complete(run, 'failed', this.safeSerialize(e), e);
          } else {
            await this.complete(run, 'failed', { error: 'the failure data could not be sent', reason: String(e) }, error);
          }
          return;
        }
        if (isClaimLost(e)) {
          // A cancel is the operator's last word: whatever an earlier try did, the task ended cancelled.
          if (uncertain && !isTaskCancelled(e)) {
            const recorded = await this.recordedEarlier(run, operation);
            if (recorded) {
              run.phase = 'finished';
              this.summary.finished++;
              if (operation === 'done') this.emit('taskDone', recorded, data);
              else this.emit('taskFailed', recorded, error);
              return;
            }
          }
          this.loseClaim(run, e);
          return;
        }
        // Only a connection that failed before sending proves the server did not act on the try.
        uncertain ||= !(e instanceof TasquesNetworkError && !e.sent);
        const delayMs = this.backoffDelay(failures++);
        this.emit('retrying', { operation, error: e, delayMs, task });
        const cutShort = await this.sleep(delayMs, this.giveUpController.signal);
        if (cutShort) {
          run.phase = 'released';
          this.summary.abandoned++;
          return;
        }
      }
    }
  }

  /** After an uncertain try: did the server record our outcome after all? */
  private async recordedEarlier(run: Running, operation: 'done' | 'failed'): Promise<Task | undefined> {
    try {
      const current = await this.client.getTask(run.task.queue, run.task.id);
      const claim = current.last_claimed;
      const ours = claim?.worker_id === this.workerId && claim.claimed_at === run.task.last_claimed?.claimed_at;
      if (!ours || !claim?.result) return undefined;
      if (operation === 'done' && current.state === 'done') return current;
      if (operation === 'failed' && (current.state === 'failed' || current.state === 'dead')) return current;
    } catch {
      // Cannot tell; treat the claim as lost (the task may run again: at least once).
    }
    return undefined;
  }

  private loseClaim(run: Running, error: unknown): void {
    if (run.phase === 'lost' || run.phase === 'released' || run.phase === 'finished') return;
    run.phase = 'lost';
    this.clearReport(run);
    const cancelled = isTaskCancelled(error);
    run.controller.abort(cancelled ? new TaskCancelledError(run.task, error) : new ClaimLostError(run.task, error));
    if (cancelled) this.emit('taskCancelled', run.task, error);
    this.emit('claimLost', run.task, error);
  }

  // ── Done calls, coalesced ──────────────────────────────────────────────────────────────────────────

  /**
   * Marks one task done, resolving with the server's task or rejecting with what a single
   * `PUT /tasques/done/{queue}/{id}` would have thrown for it. With `batchDone`, sent at once when no
   * done call is on the wire; otherwise together with the others that finish meanwhile.
   */
  private markDone(task: Task, data: JsonObject | undefined): Promise<Task> {
    if (!this.batchDone) return this.client.markDone(task.queue, task.id, data, { workerId: this.workerId });
    return new Promise((resolve, reject) => {
      this.doneQueue.push({ task, data, resolve, reject });
      if (!this.doneInFlight) void this.flushDones();
    });
  }

  private async flushDones(): Promise<void> {
    this.doneInFlight = true;
    try {
      while (this.doneQueue.length > 0) {
        const batch = this.doneQueue.splice(0, MAX_DONE_BATCH);
        if (batch.length === 1 || !this.batchDone) await Promise.all(batch.map((item) => this.markDoneAlone(item)));
        else await this.markDoneTogether(batch);
      }
    } finally {
      this.doneInFlight = false;
    }
  }

  private async markDoneAlone(item: PendingDone): Promise<void> {
    try {
      item.resolve(await this.client.markDone(item.task.queue, item.task.id, item.data, { workerId: this.workerId }));
    } catch (e) {
      item.reject(e);
    }
  }

  private async markDoneTogether(batch: PendingDone[]): Promise<void> {
    const path = '/tasques/done';
    let results: BatchItemResult[];
    try {
      results = await this.client.markDoneMany(
        batch.map(({ task, data }) => (data === undefined ? { queue: task.queue, id: task.id } : { queue: task.queue, id: task.id, data })),
        { workerId: this.workerId },
      );
    } catch (e) {
      if (isTransient(e)) {
        // Each task retries as it would after this failure of its own call.
        for (const item of batch) item.reject(e);
        return;
      }
      // Refused as a whole (no such route on a v1 server, a body over the server's limit, a result that
      // cannot be serialized, …): an answer about the call, not about any one task. One call per task
      // gives each its own answer.
      if (isApiError(e, 404) || isApiError(e, 405)) this.batchDone = false;
      await Promise.all(batch.map((item) => this.markDoneAlone(item)));
      return;
    }
    batch.forEach((item, i) => {
      const result = results[i];
      if (result?.task) item.resolve(result.task);
      else if (result) {
        const message = result.error?.message ?? `HTTP ${result.status}`;
        item.reject(new TasquesApiError(result.status, message, result.error?.code as TasquesApiError['code'], result.error, 'PUT', path));
      } else {
        item.reject(new TasquesNetworkError(`PUT ${path}: no result for ${item.task.queue}/${item.task.id}`, undefined, true, 'PUT', path, undefined));
      }
    });
  }

  // ── Report-ins ─────────────────────────────────────────────────────────────────────────────────────

  private scheduleReport(run: Running, delayMs: number): void {
    this.clearReport(run);
    run.reportTimer = setTimeout(() => {
      run.reportTimer = undefined;
      void this.autoReport(run);
    }, delayMs);
  }

  private clearReport(run: Running): void {
    if (run.reportTimer) clearTimeout(run.reportTimer);
    run.reportTimer = undefined;
  }

  private async autoReport(run: Running): Promise<void> {
    if (run.phase !== 'running' && run.phase !== 'completing') return;
    try {
      await this.reportOnce(run, undefined);
    } catch (error) {
      if (isClaimLost(error)) return; // reportOnce handled it
      const delayMs = Math.max(1, run.reportIntervalMs / 2);
      this.emit('retrying', { operation: 'report', error, delayMs, task: run.task });
      if (run.phase === 'running' || run.phase === 'completing') this.scheduleReport(run, delayMs);
    }
  }

  private async reportOnce(run: Running, data: JsonObject | undefined): Promise<void> {
    try {
      const updated = await this.client.reportIn(run.task.queue, run.task.id, data, { workerId: this.workerId });
      if (run.phase === 'running' || run.phase === 'completing') this.scheduleReport(run, run.reportIntervalMs);
      this.emit('reported', updated);
    } catch (error) {
      // A completion in progress may have just taken the claim away (done → 400): not a loss.
      if (isClaimLost(error) && run.phase === 'running') this.loseClaim(run, error);
      throw error;
    }
  }

  // ── Giving tasks back ──────────────────────────────────────────────────────────────────────────────

  private async giveBackHeld(run: Running, reason: UnclaimReason): Promise<void> {
    run.phase = 'released';
    this.clearReport(run);
    await this.giveBack(run.task, reason);
  }

  /** Unclaims, with a few quick repeats on transient failures; a failure leaves the task to time out. */
  private async giveBack(task: Task, reason: UnclaimReason = 'stopping'): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.unclaim(task.queue, task.id, { workerId: this.workerId });
        this.summary.unclaimed++;
        this.emit('taskUnclaimed', task, reason);
        return;
      } catch (error) {
        if (isClaimLost(error) || attempt >= 2) {
          if (!isClaimLost(error)) this.summary.abandoned++;
          return;
        }
        const delayMs = this.backoffDelay(attempt);
        this.emit('retrying', { operation: 'unclaim', error, delayMs, task });
        await this.sleep(delayMs, undefined);
      }
    }
  }

  // ── Stopping ───────────────────────────────────────────────────────────────────────────────────────

  private onSignal(): void {
    if (this.state === 'running') void this.stop();
    else if (this.state === 'stopping') this.giveUp(); // a second signal: stop now
  }

  private giveUpTimer: NodeJS.Timeout | undefined;
  private claimAbortTimer: NodeJS.Timeout | undefined;
  /** Tasks whose handlers were still running when the grace period ended; given back once claiming has ended. */
  private released: Running[] = [];

  /** The grace period is over (or a second signal came): abort what still runs. */
  private giveUp(): void {
    if (this.giveUpController.signal.aborted) return;
    this.giveUpController.abort();
    for (const run of this.running.values()) {
      if (run.phase !== 'running') continue;
      run.phase = 'released'; // whatever the handler returns now is dropped
      this.clearReport(run);
      run.controller.abort(new WorkerStoppingError());
      this.released.push(run);
    }
    // A claim in flight is waited for, so that what it brings can be given back (aborting it could
    // strand tasks the server claimed just then), but not beyond its long poll.
    const claims = [...this.claimControllers];
    if (claims.length > 0) {
      this.claimAbortTimer = setTimeout(() => {
        for (const claim of claims) claim.abort(new WorkerStoppingError());
      }, this.blockForMs + 1_000);
    }
  }

  private async shutdown(gracePeriodMs: number): Promise<StopSummary> {
    this.state = 'stopping';
    this.emit('stopping');
    this.stopController.abort();
    this.wakeClaimers();
    this.giveUpTimer = setTimeout(() => this.giveUp(), gracePeriodMs);
    const gaveUp = new Promise<void>((resolve) => {
      if (this.giveUpController.signal.aborted) resolve();
      else this.giveUpController.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const allSettled = async () => {
      await this.loop;
      while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.settled));
    };
    await Promise.race([allSettled(), gaveUp]);
    clearTimeout(this.giveUpTimer);
    if (this.giveUpController.signal.aborted) {
      // Claiming ends first, so that our own long poll cannot take back what we give back now.
      await this.loop;
      clearTimeout(this.claimAbortTimer);
      await Promise.all(this.released.map((run) => this.giveBack(run.task, 'stopping')));
      // Handlers that ignore their signal are not waited for; completions still retrying notice the
      // give-up at their next backoff and count themselves as abandoned.
      for (const run of this.released) this.running.delete(run.key);
    } else {
      this.giveUpController.abort(); // nothing left to give up on; ends any stray waits
    }
    for (const [signal, listener] of this.signalListeners) process.off(signal, listener);
    this.signalListeners = [];
    this.state = 'stopped';
    const summary = { ...this.summary };
    this.emit('stopped', summary);
    this.stoppedResolve();
    return summary;
  }

  // ── Utilities ──────────────────────────────────────────────────────────────────────────────────────

  private wakeClaimers(): void {
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const wake of wakers) wake();
  }

  private backoffDelay(failures: number): number {
    const cap = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** Math.min(failures, 30));
    return cap / 2 + (Math.random() * cap) / 2;
  }

  /** Waits `ms`; resolves true if `signal` cut it short. */
  private sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal?.aborted) {
        resolve(true);
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(false);
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** A handler's return value as done data: objects as they are, anything else as `{ result: value }`. */
function toResultData(value: unknown): JsonObject | undefined {
  if (value === undefined) return undefined;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as JsonObject;
  return { result: value };
}
