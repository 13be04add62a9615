/**
 * A typed HTTP client for every Tasques v1 endpoint, over Node's global `fetch` (keep-alive connections
 * are pooled by its dispatcher). Retries only where repeating a request cannot do harm; see
 * {@link RetryOptions} and docs/clients.md.
 */
import { formatGoDuration, parseGoDuration } from './duration.js';
import { TasquesApiError, TasquesNetworkError, TasquesTimeoutError, isApiError } from './errors.js';
import type {
  BatchItemResult,
  Claim,
  DoneItem,
  ErrorBody,
  JsonObject,
  NewRecurringTask,
  NewTask,
  ListedTask,
  QueueFlow,
  QueueLimits,
  QueueLimitsRecord,
  QueueState,
  QueueStats,
  RecurringTask,
  RecurringTaskSchedule,
  WhoAmI,
  RecurringTaskState,
  Workers,
  NewOperation,
  Operation,
  OperationCount,
  OperationFilter,
  OperationKind,
  OperationList,
  RecurringTaskUpdate,
  Series,
  Task,
  TaskErrors,
  TaskListFilter,
  TaskPage,
} from './types.js';

/** The header that names the worker on worker operations. */
export const WORKER_ID_HEADER = 'X-TASQUES-WORKER-ID';

/** Longest `block_for` a server allows by default; assumed when a claim does not say. */
const DEFAULT_SERVER_MAX_BLOCK_FOR_MS = 60_000;

/**
 * When the client repeats a failed request by itself. Whatever the settings, a request is only repeated
 * when that is safe:
 * - reads (`GET`), `PUT /recurring_tasques/{id}` and report-ins: after any network error, timeout,
 *   429 or 5xx answer;
 * - `createTask` and `createRecurringTask`: the same, because the task's id makes the create idempotent
 *   (the client picks the id when you do not, see {@link TasquesClientOptions.generateIds}); a 409 on a
 *   repeat means the first try got through, and the existing record is returned;
 * - claims, done, failed, unclaim and deleting a recurring task: only when the connection failed before
 *   anything was sent (connection refused, DNS failure, connect timeout). Repeating a claim that the
 *   server processed would claim more tasks and leave the first ones stranded until they time out.
 */
export interface RetryOptions {
  /** Repeats after the first try. Default 2; 0 disables retries. */
  retries?: number;
  /** First backoff, doubled each time, with full jitter. Default 100ms. */
  minDelayMs?: number;
  /** Cap of the backoff. Default 2000ms. */
  maxDelayMs?: number;
}

/** Options of {@link TasquesClient}. */
export interface TasquesClientOptions {
  /** Where the server is, e.g. `http://localhost:8080`. A path prefix is kept (`http://host/tasques-api`). */
  baseUrl: string | URL;
  /** Sent as `X-TASQUES-WORKER-ID` on worker operations unless a call gives its own. */
  workerId?: string;
  /** HTTP basic auth (the server's `auth.basic_auth` users). */
  auth?: { username: string; password: string };
  /** A bearer token (the server's `auth.bearer_tokens`), sent as `Authorization: Bearer …`; not with `auth`. */
  bearerToken?: string;
  /** Extra headers on every request (e.g. a bearer token for a proxy in front of the server). */
  headers?: Record<string, string>;
  /**
   * How long the server may take to answer, in milliseconds. A claim gets this on top of its
   * `block_for`. Default 15000.
   */
  timeoutMs?: number;
  /** See {@link RetryOptions}. */
  retry?: RetryOptions;
  /**
   * Pick a task id on the client when `createTask` is given none (32 lower-case hex characters, the
   * server's own format), so that a create can be repeated safely after a lost answer. Default true.
   */
  generateIds?: boolean;
  /** The fetch to use. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** Options of a single call. */
export interface CallOptions {
  /** Aborts the call; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Overrides {@link TasquesClientOptions.timeoutMs}. */
  timeoutMs?: number;
}

/** Options of a worker operation (claim, report-in, done, failed, unclaim). */
export interface WorkerCallOptions extends CallOptions {
  /** Overrides {@link TasquesClientOptions.workerId}. */
  workerId?: string;
}

/** Options of {@link TasquesClient.createTask}. */
export interface CreateTaskOptions extends CallOptions {
  /**
   * What to do when a task with this id already exists in the queue (409): `'error'` (default) throws
   * the 409 {@link TasquesApiError}; `'return-existing'` fetches and returns the existing task, which
   * makes enqueueing with your own ids idempotent.
   */
  onConflict?: 'error' | 'return-existing';
}

/** The body of a claim, where `block_for` may also be given in milliseconds. */
export type ClaimRequest = Omit<Claim, 'block_for'> & { block_for?: string | number };

type Safety = 'idempotent' | 'unsafe';

interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  workerId?: string | undefined;
  safety: Safety;
  options: CallOptions | undefined;
  /** Extra time allowed for the answer (a claim's block_for). */
  extraTimeMs?: number;
  /** Called before each repeat with the error of the try before; for the creates' 409 handling. */
  onRetry?: (error: unknown) => void;
}

/** Low-level error codes that mean the request never left this machine. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * A client for the Tasques v1 HTTP API. One instance per server is enough: it is stateless apart from
 * its options, and connections are pooled (keep-alive) by the fetch dispatcher.
 *
 * Every method resolves with the server's answer (typed from the server's own schemas) or rejects with
 * a {@link TasquesApiError} (status, message, code), {@link TasquesNetworkError} or
 * {@link TasquesTimeoutError}.
 *
 * @example
 * ```ts
 * const client = new TasquesClient({ baseUrl: 'http://localhost:8080', workerId: 'worker-1' });
 * await client.createTask({ queue: 'emails', kind: 'welcome', args: { to: 'a@example.com' } });
 * const [task] = await client.claimTasks({ queues: ['emails'], amount: 1, block_for: '5s' });
 * if (task) await client.markDone(task.queue, task.id, { sent: true });
 * ```
 */
export class TasquesClient {
  /** The server's base URL, without a trailing slash. */
  readonly baseUrl: string;
  /** The default worker id, if one was given. */
  readonly workerId: string | undefined;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly generateIds: boolean;
  private readonly fetchImpl: typeof fetch;

  constructor(options: TasquesClientOptions) {
    this.baseUrl = String(options.baseUrl).replace(/\/+$/, '');
    if (!/^https?:\/\//.test(this.baseUrl)) throw new TypeError(`baseUrl must be an http(s) URL, got ${this.baseUrl}`);
    this.workerId = options.workerId;
    this.headers = { accept: 'application/json', ...options.headers };
    if (options.auth && options.bearerToken !== undefined) throw new TypeError('give either auth or bearerToken, not both');
    if (options.auth) {
      const token = Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64');
      this.headers.authorization = `Basic ${token}`;
    }
    if (options.bearerToken !== undefined) this.headers.authorization = `Bearer ${options.bearerToken}`;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.retries = Math.max(0, options.retry?.retries ?? 2);
    this.minDelayMs = options.retry?.minDelayMs ?? 100;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 2_000;
    this.generateIds = options.generateIds ?? true;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  // ── Tasks ──────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Enqueues a task (`POST /tasques`, 201). Without an `id` the client picks one (unless
   * `generateIds: false`), so the call is repeated safely when an answer is lost.
   * @throws TasquesApiError 400 for an invalid task; 409 when the id is taken in the queue (unless
   *   `onConflict: 'return-existing'`).
   */
  async createTask(task: NewTask, options?: CreateTaskOptions): Promise<Task> {
    const body: NewTask = task.id == null && this.generateIds ? { ...task, id: newTaskId() } : task;
    const idempotent = body.id != null;
    let repeated = false;
    try {
      return await this.request<Task>({
        method: 'POST',
        path: '/tasques',
        body,
        safety: idempotent ? 'idempotent' : 'unsafe',
        options,
        onRetry: (e) => {
          if (mayHaveReachedServer(e)) repeated = true;
        },
      });
    } catch (e) {
      // On a repeat, 409 means that an earlier try created it (or it was there already): either way it exists.
      if (isApiError(e, 409) && body.id != null && (repeated || options?.onConflict === 'return-existing')) {
        return this.getTask(body.queue, body.id, options);
      }
      throw e;
    }
  }

  /**
   * Enqueues up to 1000 tasks in one call (`POST /tasques/batch`, additive to v1). `results[i]` answers
   * `tasks[i]`: status 201 with the task, or 409 with the error when its id is taken. Tasks without an
   * `id` get one from the client (unless `generateIds: false`), so a repeat after a lost answer gives 409
   * items instead of duplicates.
   * @throws TasquesApiError 400 when any item is invalid (nothing is stored then).
   */
  async createTasks(tasks: NewTask[], options?: CallOptions): Promise<BatchItemResult[]> {
    const body = {
      tasks: tasks.map((task) => (task.id == null && this.generateIds ? { ...task, id: newTaskId() } : task)),
    };
    const idempotent = body.tasks.every((task) => task.id != null);
    const answer = await this.request<{ results: BatchItemResult[] }>({
      method: 'POST',
      path: '/tasques/batch',
      body,
      safety: idempotent ? 'idempotent' : 'unsafe',
      options,
    });
    return answer.results;
  }

  /**
   * Marks up to 1000 claimed tasks done in one call (`PUT /tasques/done`, additive to v1). `results[i]`
   * answers `tasks[i]` as {@link markDone} would: 200 with the task, or 400 / 403 / 404 with the error.
   */
  async markDoneMany(tasks: DoneItem[], options?: WorkerCallOptions): Promise<BatchItemResult[]> {
    const answer = await this.request<{ results: BatchItemResult[] }>({
      method: 'PUT',
      path: '/tasques/done',
      body: { tasks },
      workerId: this.workerIdFor(options),
      safety: 'unsafe',
      options,
    });
    return answer.results;
  }

  /**
   * Reads a task (`GET /tasques/{queue}/{id}`).
   * @throws TasquesApiError 404 when there is no such task (or it was archived).
   */
  async getTask(queue: string, id: string, options?: CallOptions): Promise<Task> {
    return this.request<Task>({ method: 'GET', path: `/tasques/${seg(queue)}/${seg(id)}`, safety: 'idempotent', options });
  }

  /**
   * Claims up to `amount` tasks from `queues` (`POST /tasques/claims`), waiting up to `block_for` for
   * some to become claimable; resolves with `[]` when none did. `block_for` is a Go duration string or a
   * number of milliseconds. The request's timeout is `block_for` plus the client's timeout.
   *
   * Never repeated after the request may have reached the server: a repeat could claim more tasks while
   * the first answer's tasks stay claimed by this worker until they time out.
   */
  async claimTasks(claim: ClaimRequest, options?: WorkerCallOptions): Promise<Task[]> {
    const blockFor = claim.block_for;
    const body: Claim = {
      ...claim,
      block_for: typeof blockFor === 'number' ? formatGoDuration(blockFor) : blockFor,
    };
    let blockForMs = DEFAULT_SERVER_MAX_BLOCK_FOR_MS;
    if (body.block_for != null) {
      try {
        blockForMs = Math.max(0, parseGoDuration(body.block_for));
      } catch {
        // Let the server answer 400 for it.
      }
    }
    return this.request<Task[]>({
      method: 'POST',
      path: '/tasques/claims',
      body,
      workerId: this.workerIdFor(options),
      safety: 'unsafe',
      options,
      extraTimeMs: blockForMs,
    });
  }

  /**
   * Reports in on a claimed task (`PUT /tasques/reports/{queue}/{id}`): keeps `data` as the last report
   * and pushes the claim's timeout to now + `processing_timeout`.
   * @throws TasquesApiError 400 (not claimed any more), 403 (claimed by another worker), 404 (no such
   *   task): see {@link isClaimLost}.
   */
  async reportIn(queue: string, id: string, data?: JsonObject, options?: WorkerCallOptions): Promise<Task> {
    return this.request<Task>({
      method: 'PUT',
      path: `/tasques/reports/${seg(queue)}/${seg(id)}`,
      body: data === undefined ? {} : { data },
      workerId: this.workerIdFor(options),
      // Reporting twice is harmless: the second report replaces the first.
      safety: 'idempotent',
      options,
    });
  }

  /**
   * Marks a claimed task done (`PUT /tasques/done/{queue}/{id}`); `data` is kept as
   * `last_claimed.result.success`.
   * @throws TasquesApiError 400 / 403 / 404 as {@link reportIn}.
   */
  async markDone(queue: string, id: string, data?: JsonObject, options?: WorkerCallOptions): Promise<Task> {
    return this.request<Task>({
      method: 'PUT',
      path: `/tasques/done/${seg(queue)}/${seg(id)}`,
      body: data === undefined ? {} : { data },
      workerId: this.workerIdFor(options),
      safety: 'unsafe',
      options,
    });
  }

  /**
   * Marks a claimed task failed (`PUT /tasques/failed/{queue}/{id}`); `data` is kept as
   * `last_claimed.result.failure`. The task is retried after a backoff, or becomes `dead` when it has no
   * attempts left.
   * @throws TasquesApiError 400 / 403 / 404 as {@link reportIn}.
   */
  async markFailed(queue: string, id: string, data?: JsonObject, options?: WorkerCallOptions): Promise<Task> {
    return this.request<Task>({
      method: 'PUT',
      path: `/tasques/failed/${seg(queue)}/${seg(id)}`,
      body: data === undefined ? {} : { data },
      workerId: this.workerIdFor(options),
      safety: 'unsafe',
      options,
    });
  }

  /**
   * Gives a claimed task back to its queue without counting the attempt (`DELETE
   * /tasques/claims/{queue}/{id}`).
   * @throws TasquesApiError 400 / 403 / 404 as {@link reportIn}.
   */
  async unclaim(queue: string, id: string, options?: WorkerCallOptions): Promise<Task> {
    return this.request<Task>({
      method: 'DELETE',
      path: `/tasques/claims/${seg(queue)}/${seg(id)}`,
      workerId: this.workerIdFor(options),
      safety: 'unsafe',
      options,
    });
  }

  // ── Recurring tasks ────────────────────────────────────────────────────────────────────────────────

  /**
   * Creates a recurring task (`POST /recurring_tasques`, 201).
   * @throws TasquesApiError 400 for an invalid schedule or definition; 409 when the id is taken (unless
   *   `onConflict: 'return-existing'`).
   */
  async createRecurringTask(task: NewRecurringTask, options?: CreateTaskOptions): Promise<RecurringTask> {
    let repeated = false;
    try {
      return await this.request<RecurringTask>({
        method: 'POST',
        path: '/recurring_tasques',
        body: task,
        safety: 'idempotent',
        options,
        onRetry: (e) => {
          if (mayHaveReachedServer(e)) repeated = true;
        },
      });
    } catch (e) {
      if (isApiError(e, 409) && (repeated || options?.onConflict === 'return-existing')) {
        return this.getRecurringTask(task.id, options);
      }
      throw e;
    }
  }

  /** Every recurring task that is not deleted, sorted by id (`GET /recurring_tasques`). */
  async listRecurringTasks(options?: CallOptions): Promise<RecurringTask[]> {
    return this.request<RecurringTask[]>({ method: 'GET', path: '/recurring_tasques', safety: 'idempotent', options });
  }

  /**
   * Reads a recurring task (`GET /recurring_tasques/{id}`).
   * @throws TasquesApiError 404 when missing or deleted.
   */
  async getRecurringTask(id: string, options?: CallOptions): Promise<RecurringTask> {
    return this.request<RecurringTask>({
      method: 'GET',
      path: `/recurring_tasques/${seg(id)}`,
      safety: 'idempotent',
      options,
    });
  }

  /**
   * Updates a recurring task (`PUT /recurring_tasques/{id}`). Fields that are present replace the stored
   * ones; a `task_definition` replaces the whole definition (omitted fields get the defaults again).
   * @throws TasquesApiError 400, 404, 409.
   */
  async updateRecurringTask(id: string, update: RecurringTaskUpdate, options?: CallOptions): Promise<RecurringTask> {
    return this.request<RecurringTask>({
      method: 'PUT',
      path: `/recurring_tasques/${seg(id)}`,
      body: update,
      safety: 'idempotent',
      options,
    });
  }

  /**
   * Deletes a recurring task (`DELETE /recurring_tasques/{id}`); it stops enqueueing. Tasks it already
   * enqueued are not affected. Resolves with the deleted recurring task.
   * @throws TasquesApiError 404 when missing or already deleted.
   */
  async deleteRecurringTask(id: string, options?: CallOptions): Promise<RecurringTask> {
    return this.request<RecurringTask>({
      method: 'DELETE',
      path: `/recurring_tasques/${seg(id)}`,
      safety: 'unsafe',
      options,
    });
  }

  // ── Operator API (additive to v1) ─────────────────────────────────────────────────────────────────

  /**
   * One page of tasks matching `filter`, newest first (`GET /tasques`). Pass the page's `next_cursor` as
   * `cursor` for the next one; {@link listAllTasks} walks every page.
   */
  async listTasks(filter: TaskListFilter = {}, options?: CallOptions): Promise<TaskPage> {
    const query = new URLSearchParams();
    const time = (v: Date | string) => (typeof v === 'string' ? v : v.toISOString());
    if (filter.queue !== undefined) query.set('queue', filter.queue);
    if (filter.state !== undefined) query.set('state', ([] as string[]).concat(filter.state).join(','));
    if (filter.kind !== undefined) query.set('kind', filter.kind);
    if (filter.recurringTaskId !== undefined) query.set('recurring_task_id', filter.recurringTaskId);
    if (filter.createdAfter !== undefined) query.set('created_after', time(filter.createdAfter));
    if (filter.createdBefore !== undefined) query.set('created_before', time(filter.createdBefore));
    if (filter.prefix !== undefined) query.set('prefix', filter.prefix);
    if (filter.scheduled !== undefined) query.set('scheduled', String(filter.scheduled));
    if (filter.limit !== undefined) query.set('limit', String(filter.limit));
    if (filter.cursor !== undefined) query.set('cursor', filter.cursor);
    const qs = query.toString();
    return this.request<TaskPage>({ method: 'GET', path: `/tasques${qs ? `?${qs}` : ''}`, safety: 'idempotent', options });
  }

  /** Every task matching `filter`, page by page (`limit` is the page size). */
  async *listAllTasks(filter: Omit<TaskListFilter, 'cursor'> = {}, options?: CallOptions): AsyncGenerator<Task> {
    let cursor: string | undefined;
    do {
      const page = await this.listTasks({ ...filter, cursor }, options);
      yield* page.tasks;
      cursor = page.next_cursor;
    } while (cursor !== undefined);
  }

  /** Statistics of every queue (`GET /queues`); `window` is a Go duration for the `recent` counts (default 5m). */
  async listQueueStats(window?: string, options?: CallOptions): Promise<QueueStats[]> {
    const qs = window === undefined ? '' : `?window=${encodeURIComponent(window)}`;
    const answer = await this.request<{ queues: QueueStats[] }>({ method: 'GET', path: `/queues${qs}`, safety: 'idempotent', options });
    return answer.queues;
  }

  /** Statistics of one queue (`GET /queues/{queue}`); zero counts for a queue without tasks. */
  async getQueueStats(queue: string, window?: string, options?: CallOptions): Promise<QueueStats> {
    const qs = window === undefined ? '' : `?window=${encodeURIComponent(window)}`;
    return this.request<QueueStats>({ method: 'GET', path: `/queues/${seg(queue)}${qs}`, safety: 'idempotent', options });
  }

  /**
   * Activity and depth over time, for charts (`GET /stats/series`): `window` `1h` (1-minute intervals,
   * the default) or `24h` (15-minute intervals); `queue` narrows it to one queue.
   */
  async getSeries(params: { window?: '1h' | '24h'; queue?: string } = {}, options?: CallOptions): Promise<Series> {
    const query = new URLSearchParams();
    if (params.window !== undefined) query.set('window', params.window);
    if (params.queue !== undefined) query.set('queue', params.queue);
    const qs = query.size > 0 ? `?${query.toString()}` : '';
    return this.request<Series>({ method: 'GET', path: `/stats/series${qs}`, safety: 'idempotent', options });
  }

  /** Pauses a queue: it hands out no claims until resumed (`PUT /queues/{queue}/pause`). Idempotent. */
  async pauseQueue(queue: string, options?: CallOptions): Promise<QueueState> {
    return this.request<QueueState>({ method: 'PUT', path: `/queues/${seg(queue)}/pause`, safety: 'idempotent', options });
  }

  /** Resumes a paused queue (`PUT /queues/{queue}/resume`). Idempotent. */
  async resumeQueue(queue: string, options?: CallOptions): Promise<QueueState> {
    return this.request<QueueState>({ method: 'PUT', path: `/queues/${seg(queue)}/resume`, safety: 'idempotent', options });
  }

  /** A queue's flow-control limits (`GET /queues/{queue}/limits`); `limits` is `{}` when it has none. */
  async getQueueLimits(queue: string, options?: CallOptions): Promise<QueueLimitsRecord> {
    return this.request<QueueLimitsRecord>({ method: 'GET', path: `/queues/${seg(queue)}/limits`, safety: 'idempotent', options });
  }

  /**
   * Sets a queue's flow-control limits, replacing the old ones whole (`PUT /queues/{queue}/limits`;
   * docs/flow-control.md). Idempotent. `{}` removes them.
   * @throws TasquesApiError 400 naming the field of a bad limit.
   */
  async setQueueLimits(queue: string, limits: QueueLimits, options?: CallOptions): Promise<QueueLimitsRecord> {
    return this.request<QueueLimitsRecord>({
      method: 'PUT',
      path: `/queues/${seg(queue)}/limits`,
      body: limits,
      safety: 'idempotent',
      options,
    });
  }

  /** Removes a queue's flow-control limits (`DELETE /queues/{queue}/limits`). Idempotent. */
  async deleteQueueLimits(queue: string, options?: CallOptions): Promise<QueueLimitsRecord> {
    return this.request<QueueLimitsRecord>({ method: 'DELETE', path: `/queues/${seg(queue)}/limits`, safety: 'idempotent', options });
  }

  /**
   * How a queue's limits stand (`GET /queues/{queue}/flow`): claimed now, tokens left, the throttled keys
   * (at most `keys`, default 20) and the tasks waiting on a limit.
   */
  async getQueueFlow(queue: string, keys?: number, options?: CallOptions): Promise<QueueFlow> {
    const qs = keys === undefined ? '' : `?keys=${keys}`;
    return this.request<QueueFlow>({ method: 'GET', path: `/queues/${seg(queue)}/flow${qs}`, safety: 'idempotent', options });
  }

  /**
   * Queues a DEAD task again with a fresh set of attempts (`PUT /tasques/retry/{queue}/{id}`).
   * @throws TasquesApiError 404; 409 when the task is not dead.
   */
  async retryTask(queue: string, id: string, options?: CallOptions): Promise<Task> {
    return this.request<Task>({ method: 'PUT', path: `/tasques/retry/${seg(queue)}/${seg(id)}`, safety: 'unsafe', options });
  }

  /**
   * Cancels a QUEUED, CLAIMED or FAILED task: it becomes DEAD at once with a `cancellation` record (who,
   * when, why) (`PUT /tasques/cancel/{queue}/{id}`). A claimed task's worker learns at its next report-in
   * (refused with `TQ_ERR_TASK_CANCELLED`). `by` is recorded when the server has no auth configured.
   * @throws TasquesApiError 404; 409 when the task is done or dead.
   */
  async cancelTask(
    queue: string,
    id: string,
    reason?: string | { reason?: string; by?: string },
    options?: CallOptions,
  ): Promise<ListedTask> {
    const fields = typeof reason === 'string' ? { reason } : (reason ?? {});
    const body: { reason?: string; by?: string } = {};
    if (fields.reason !== undefined) body.reason = fields.reason;
    if (fields.by !== undefined) body.by = fields.by;
    return this.request<ListedTask>({
      method: 'PUT',
      path: `/tasques/cancel/${seg(queue)}/${seg(id)}`,
      body,
      safety: 'unsafe',
      options,
    });
  }

  /**
   * A task's error history: its last failed attempts, oldest first, and its cancellation if any
   * (`GET /tasques/errors/{queue}/{id}`). Archived tasks too.
   * @throws TasquesApiError 404
   */
  async getTaskErrors(queue: string, id: string, options?: CallOptions): Promise<TaskErrors> {
    return this.request<TaskErrors>({ method: 'GET', path: `/tasques/errors/${seg(queue)}/${seg(id)}`, safety: 'idempotent', options });
  }

  /** Every recurring task with its next fire time and last tick (`GET /schedule`). */
  async getSchedule(options?: CallOptions): Promise<RecurringTaskSchedule[]> {
    const answer = await this.request<{ recurring_tasks: RecurringTaskSchedule[] }>({
      method: 'GET',
      path: '/schedule',
      safety: 'idempotent',
      options,
    });
    return answer.recurring_tasks;
  }

  /** Who this client authenticates as, and what its role allows (`GET /whoami`). */
  async whoami(options?: CallOptions): Promise<WhoAmI> {
    return this.request<WhoAmI>({ method: 'GET', path: '/whoami', safety: 'idempotent', options });
  }

  /**
   * Who holds claims now and who was seen within `window` (a Go duration, default 1h, at most 24h)
   * (`GET /workers`); `limit` bounds each list (default 100, at most 1000).
   */
  async listWorkers(params: { limit?: number; window?: string } = {}, options?: CallOptions): Promise<Workers> {
    const query = new URLSearchParams();
    if (params.limit !== undefined) query.set('limit', String(params.limit));
    if (params.window !== undefined) query.set('window', params.window);
    const qs = query.toString();
    return this.request<Workers>({ method: 'GET', path: `/workers${qs ? `?${qs}` : ''}`, safety: 'idempotent', options });
  }

  /**
   * How many tasks a bulk operation would look at (`POST /operations` with `dry_run: true`): ask first,
   * confirm, then {@link startOperation}.
   */
  async countOperation(kind: OperationKind, filter: OperationFilter = {}, options?: CallOptions): Promise<OperationCount> {
    const body: NewOperation = { kind, filter, dry_run: true };
    return this.request<OperationCount>({ method: 'POST', path: '/operations', body, safety: 'idempotent', options });
  }

  /**
   * Starts a bulk operation (`POST /operations`): retry every DEAD task of `filter`, cancel every waiting
   * one, or delete every finished one; it runs in the background, see {@link getOperation}.
   * @throws TasquesApiError 400 for a bad filter; 409 `TQ_ERR_OPERATION_BUSY` while one runs on the queue.
   */
  async startOperation(kind: OperationKind, filter: OperationFilter = {}, options?: CallOptions): Promise<Operation> {
    const body: NewOperation = { kind, filter };
    return this.request<Operation>({ method: 'POST', path: '/operations', body, safety: 'unsafe', options });
  }

  /** A bulk operation and its progress (`GET /operations/{id}`). @throws TasquesApiError 404. */
  async getOperation(id: string, options?: CallOptions): Promise<Operation> {
    return this.request<Operation>({ method: 'GET', path: `/operations/${seg(id)}`, safety: 'idempotent', options });
  }

  /** Recent bulk operations, newest first (`GET /operations`); `limit` 1 to 100, default 20. */
  async listOperations(limit?: number, options?: CallOptions): Promise<Operation[]> {
    const qs = limit === undefined ? '' : `?limit=${limit}`;
    const answer = await this.request<OperationList>({ method: 'GET', path: `/operations${qs}`, safety: 'idempotent', options });
    return answer.operations;
  }

  /**
   * Pauses a recurring task: its ticks are skipped until resumed (`PUT /recurring_tasques/{id}/pause`).
   * Idempotent. @throws TasquesApiError 404.
   */
  async pauseRecurringTask(id: string, options?: CallOptions): Promise<RecurringTaskState> {
    return this.request<RecurringTaskState>({ method: 'PUT', path: `/recurring_tasques/${seg(id)}/pause`, safety: 'idempotent', options });
  }

  /** Resumes a paused recurring task (`PUT /recurring_tasques/{id}/resume`). Idempotent. @throws TasquesApiError 404. */
  async resumeRecurringTask(id: string, options?: CallOptions): Promise<RecurringTaskState> {
    return this.request<RecurringTaskState>({ method: 'PUT', path: `/recurring_tasques/${seg(id)}/resume`, safety: 'idempotent', options });
  }

  /**
   * Enqueues one task of a recurring task now (`POST /recurring_tasques/{id}/run`); the schedule goes on.
   * @throws TasquesApiError 404; 409 `TQ_ERR_RECURRING_TASK_OUTSTANDING` when it skips while tasks are outstanding.
   */
  async runRecurringTaskNow(id: string, options?: CallOptions): Promise<Task> {
    return this.request<Task>({ method: 'POST', path: `/recurring_tasques/${seg(id)}/run`, safety: 'unsafe', options });
  }

  // ── Plumbing ───────────────────────────────────────────────────────────────────────────────────────

  private workerIdFor(options: WorkerCallOptions | undefined): string {
    const id = options?.workerId ?? this.workerId;
    if (!id || id.trim() === '') {
      throw new TypeError('a worker id is needed: pass workerId to the TasquesClient or to the call');
    }
    return id;
  }

  private async request<T>(spec: RequestSpec): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.send<T>(spec);
      } catch (e) {
        if (attempt >= this.retries || !retryable(e, spec.safety) || spec.options?.signal?.aborted) throw e;
        spec.onRetry?.(e);
        const cap = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** attempt);
        await delay(Math.random() * cap, spec.options?.signal);
      }
    }
  }

  private async send<T>(spec: RequestSpec): Promise<T> {
    const { method, path } = spec;
    const timeoutMs = (spec.options?.timeoutMs ?? this.timeoutMs) + (spec.extraTimeMs ?? 0);
    const timeout = AbortSignal.timeout(timeoutMs);
    const callerSignal = spec.options?.signal;
    const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;
    const headers: Record<string, string> = { ...this.headers };
    if (spec.workerId !== undefined) headers[WORKER_ID_HEADER] = spec.workerId;
    let payload: string | undefined;
    if (spec.body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(spec.body);
    }

    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, { method, headers, body: payload, signal });
      text = await response.text();
    } catch (e) {
      if (callerSignal?.aborted) throw callerSignal.reason;
      if (timeout.aborted) throw new TasquesTimeoutError(timeoutMs, method, path);
      const errno = errnoOf(e);
      const sent = errno === undefined || !NOT_SENT_CODES.has(errno);
      throw new TasquesNetworkError(
        `${method} ${path}: ${describe(e)}${errno ? ` (${errno})` : ''}`,
        errno,
        sent,
        method,
        path,
        e,
      );
    }

    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        if (response.ok) {
          throw new TasquesNetworkError(`${method} ${path}: the answer is not JSON`, undefined, true, method, path, e);
        }
        parsed = text;
      }
    }
    if (response.ok) return parsed as T;
    const errorBody = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Partial<ErrorBody>;
    const message =
      typeof errorBody.message === 'string'
        ? errorBody.message
        : `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
    throw new TasquesApiError(response.status, message, errorBody.code as TasquesApiError['code'], parsed, method, path);
  }
}

function mayHaveReachedServer(e: unknown): boolean {
  return !(e instanceof TasquesNetworkError && !e.sent);
}

function retryable(e: unknown, safety: Safety): boolean {
  if (e instanceof TasquesNetworkError && !e.sent) return true; // nothing reached the server
  if (safety === 'unsafe') return false;
  if (e instanceof TasquesNetworkError || e instanceof TasquesTimeoutError) return true;
  return e instanceof TasquesApiError && (e.status >= 500 || e.status === 429);
}

/** The undici/libuv error code inside a fetch failure, e.g. ECONNREFUSED. */
function errnoOf(e: unknown): string | undefined {
  for (let err: unknown = e, depth = 0; err && depth < 5; err = (err as { cause?: unknown }).cause, depth++) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    // An AggregateError (happy eyeballs tried several addresses) carries the codes in `errors`.
    const inner = (err as { errors?: unknown[] }).errors;
    if (Array.isArray(inner)) {
      const codes = inner.map((x) => (x as { code?: unknown }).code).filter((c): c is string => typeof c === 'string');
      if (codes.length > 0) return codes.every((c) => NOT_SENT_CODES.has(c)) ? codes[0] : codes.find((c) => !NOT_SENT_CODES.has(c));
    }
  }
  return undefined;
}

function describe(e: unknown): string {
  const cause = (e as { cause?: { message?: unknown } }).cause;
  if (cause && typeof cause.message === 'string' && cause.message !== '') return cause.message;
  return e instanceof Error ? e.message : String(e);
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

/**
 * A fresh task id in the server's format: 32 lower-case hex characters, a UUIDv7 without hyphens (the
 * creation time first, so that ids of tasks created together sit together in the server's index).
 */
export function newTaskId(): string {
  const random = globalThis.crypto.randomUUID();
  const time = Date.now().toString(16).padStart(12, '0').slice(-12);
  return `${time}7${random.slice(15, 18)}${random.slice(19, 23)}${random.slice(24)}`;
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

