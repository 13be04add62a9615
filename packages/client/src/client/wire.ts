/**
 * The wire types of the Tasques v1 API, as plain TypeScript: this package stands alone (no TypeBox, no
 * server code), so its declarations check with `skipLibCheck: false` in any project. They are a copy of
 * what the server's TypeBox schemas (src/http/schemas in the tasques package, the source of openapi.json)
 * describe; the server's test/client/wire-drift.test.ts fails when the two differ in any field.
 * Component names in brackets are v1's swagger names.
 */

/** A free-form JSON object: task `args` and `context`, report data, results. */
export type JsonObject = { [key: string]: unknown };

/** `queued` → `claimed` → `done` | `failed` (will be retried) | `dead` (no attempts left). */
export type TaskState = 'queued' | 'claimed' | 'failed' | 'done' | 'dead';

/** The stable error codes (`TQ_ERR_…`) a Tasques server sends in error bodies, additive to v1. */
export type ErrorCode =
  | 'TQ_ERR_BAD_REQUEST'
  | 'TQ_ERR_BODY_TOO_LARGE'
  | 'TQ_ERR_INTERNAL'
  | 'TQ_ERR_INVALID_QUEUE_NAME'
  | 'TQ_ERR_METHOD_NOT_ALLOWED'
  | 'TQ_ERR_RECURRING_TASK_ALREADY_EXISTS'
  | 'TQ_ERR_RECURRING_TASK_NOT_FOUND'
  | 'TQ_ERR_RECURRING_TASK_VERSION_CONFLICT'
  | 'TQ_ERR_ROUTE_NOT_FOUND'
  | 'TQ_ERR_SHUTTING_DOWN'
  | 'TQ_ERR_TASK_ALREADY_EXISTS'
  | 'TQ_ERR_TASK_NOT_CLAIMED'
  | 'TQ_ERR_TASK_NOT_DEAD'
  | 'TQ_ERR_TASK_NOT_FOUND'
  | 'TQ_ERR_TASK_NOT_OWNED_BY_WORKER'
  | 'TQ_ERR_TASK_NOT_WAITING'
  | 'TQ_ERR_TASK_REPORT_FROM_THE_PAST'
  | 'TQ_ERR_TASK_VERSION_CONFLICT'
  | 'TQ_ERR_UNAUTHORIZED'
  | 'TQ_ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'TQ_ERR_WORKER_ID_MISSING';

/** Every error body: `{"message": …, "code": …}` [common.Body]. */
export interface ErrorBody {
  /** What went wrong. */
  message: string;
  /** Stable error code (TQ_ERR_…), additive to v1. */
  code?: string;
}

/** The optimistic-concurrency version of a record [common.Version]. */
export interface Version {
  /** Increases on every write of the record. */
  seq_num: number;
  primary_term: number;
}

/** Record metadata [common.Metadata]. RFC 3339 times. */
export interface Metadata {
  created_at: string;
  modified_at: string;
  version: Version;
}

/** A worker's latest report on its claim [task.Report]. */
export interface TaskReport {
  /** When the report was made. */
  at: string;
  data?: JsonObject;
}

/** How the latest attempt ended [task.Result]: `failure` or `success` is set. */
export interface TaskResult {
  /** When the attempt finished. */
  at: string;
  failure?: JsonObject;
  success?: JsonObject;
}

/** The latest claim of a task [task.LastClaimed]. */
export interface LastClaimed {
  worker_id: string;
  claimed_at: string;
  /** When the claim expires unless the worker reports in. */
  times_out_at: string;
  last_report?: TaskReport;
  result?: TaskResult;
}

/** A task as the server returns it [task.Task]. Times are RFC 3339 strings. */
export interface Task {
  id: string;
  queue: string;
  /** Retries allowed after the first attempt. */
  retry_times: number;
  /** Claims so far, minus unclaims. */
  attempted: number;
  kind: string;
  state: TaskState;
  /** Higher is claimed first. */
  priority: number;
  /** Go duration string, e.g. "30m0s". */
  processing_timeout: string;
  /** Earliest time the task can be claimed. */
  run_at: string;
  args?: JsonObject;
  context?: JsonObject;
  last_claimed?: LastClaimed;
  /** When the task was last made claimable. */
  last_enqueued_at: string;
  metadata: Metadata;
  /** The recurring task that enqueued this task. */
  recurring_task_id?: string;
}

/** The body of `POST /tasques` [task.NewTask]. Only `queue` and `kind` are required. */
export interface NewTask {
  /** Idempotency key, unique per queue (409 if taken), 1 to 512 characters. Generated when absent. */
  id?: string;
  /** Queue name: lower case, no spaces or \/*?"<>|,#: and not starting with _-+. */
  queue: string;
  /** What the task is, for the worker to dispatch on. */
  kind: string;
  /** Retries after the first attempt. Default 25. */
  retry_times?: number;
  /** Higher is claimed first. Default 0. */
  priority?: number;
  /** How long a claim lasts without a report-in, as a Go duration ("30m"). Default 30m. */
  processing_timeout?: string;
  /** Earliest time to claim it (RFC 3339). Default now. */
  run_at?: string;
  args?: JsonObject;
  context?: JsonObject;
  /** Flow control: the key of the per-key concurrency limit and of fair share, e.g. a customer id. */
  concurrency_key?: string;
  /** Flow control: the key of the per-key rate limit. */
  rate_key?: string;
}

/** The body of `POST /tasques/claims` [task.Claim]. */
export interface Claim {
  /** Queues to claim from; [] means every queue. */
  queues: string[];
  /** How many tasks at most. Default 1; clamped to the server limit. */
  amount?: number;
  /** How long to wait for claimable tasks, as a Go duration. Default 3s; clamped to the server limit. */
  block_for?: string;
}

/** The body of `PUT /tasques/reports/…` [task.NewReport]. */
export interface NewReport {
  /** Progress data, kept as last_claimed.last_report.data. */
  data?: JsonObject;
}

/** The body of `PUT /tasques/done/…` [task.Success]. */
export interface Success {
  /** Result, kept as last_claimed.result.success. */
  data?: JsonObject;
}

/** The body of `PUT /tasques/failed/…` [task.Failure]. */
export interface Failure {
  /** Failure details, kept as last_claimed.result.failure. */
  data?: JsonObject;
}

/** What a recurring task enqueues, as sent [recurring.TaskDefinition]. */
export interface TaskDefinitionInput {
  /** Queue of the enqueued tasks. */
  queue: string;
  kind: string;
  /** Default 25. */
  retry_times?: number;
  /** Default 0. */
  priority?: number;
  /** Go duration. Default 30m. */
  processing_timeout?: string;
  args?: JsonObject;
  context?: JsonObject;
}

/** What a recurring task enqueues, with the server's defaults filled in [recurring.TaskDefinitionResponse]. */
export interface TaskDefinition {
  queue: string;
  retry_times: number;
  kind: string;
  priority: number;
  /** Go duration string. */
  processing_timeout: string;
  args?: JsonObject;
  context?: JsonObject;
}

/** The body of `POST /recurring_tasques` [recurring.NewTask]. */
export interface NewRecurringTask {
  /** Your id for the recurring task, 1 to 512 characters. */
  id: string;
  /**
   * 5-field cron ("0,5,10 * * * *"), a descriptor (@yearly @monthly @weekly @daily @hourly) or
   * "@every <duration>" ("@every 90s"); optional "TZ=Zone " prefix, UTC otherwise.
   */
  schedule_expression: string;
  /** Skip a tick while tasks enqueued by this recurring task are still queued, claimed or failed. */
  skip_if_outstanding_tasks_exist?: boolean;
  task_definition: TaskDefinitionInput;
}

/** The body of `PUT /recurring_tasques/{id}` [recurring.TaskUpdate]: present fields replace stored ones. */
export interface RecurringTaskUpdate {
  schedule_expression?: string;
  skip_if_outstanding_tasks_exist?: boolean;
  task_definition?: TaskDefinitionInput;
}

/** A recurring task as the server returns it [recurring.Task]. */
export interface RecurringTask {
  id: string;
  schedule_expression: string;
  skip_if_outstanding_tasks_exist: boolean;
  task_definition: TaskDefinition;
  /** When the leader last loaded it. */
  loaded_at?: string;
  metadata: Metadata;
}

/** The result of one item of a batch call [task.BatchItemResult]: the status the single-task call would have answered, with the task or the error. */
export interface BatchItemResult {
  status: number;
  task?: Task;
  error?: ErrorBody;
}

/** One task to mark done in a batch [task.DoneItem]. */
export interface DoneItem {
  queue: string;
  id: string;
  /** Result, kept as last_claimed.result.success. */
  data?: JsonObject;
}

/** A task of the operator listing [operator.ListedTask]: the v1 task and its flow-control keys. */
export interface ListedTask extends Task {
  concurrency_key?: string;
  rate_key?: string;
}

/** One page of the task list [operator.TaskPage]. */
export interface TaskPage {
  /** Newest first (created_at descending, then queue, then id). */
  tasks: ListedTask[];
  /** Present when the page is full: pass it as `cursor` for the next page. */
  next_cursor?: string;
}

/** Live (not archived) tasks of a queue by state. */
export interface QueueCounts {
  queued: number;
  claimed: number;
  failed: number;
  done: number;
  dead: number;
}

/** One queue's statistics [operator.QueueStats]. */
export interface QueueStats {
  queue: string;
  /** A paused queue hands out no claims. */
  paused: boolean;
  counts: QueueCounts;
  /** run_at of the longest-waiting claimable task (queued or failed, due). Absent when none. */
  oldest_claimable_run_at?: string;
  /** How long that task has been due: the number to alert on. */
  oldest_claimable_age_seconds?: number;
  /** Tasks created, and tasks that finished DONE or DEAD, within the window. */
  recent: {
    /** Go duration the counts cover, up to now. */
    window: string;
    created: number;
    done: number;
    dead: number;
  };
}

/** Whether a queue is paused [operator.QueueState]. */
export interface QueueState {
  queue: string;
  paused: boolean;
  /** When `paused` last changed. */
  modified_at: string;
}

/** A token bucket [flow.RateLimit]: `count` tokens per `per` (a Go duration), holding at most `burst`. */
export interface RateLimit {
  /** Tokens added per `per`: the sustained rate. */
  count: number;
  /** The interval `count` tokens are added over (pro rata), from 1ms to 24h. */
  per: string;
  /** Most tokens the bucket holds. Default `count`. */
  burst?: number;
}

/** One flow-control limit [flow.FlowLimit]; absent parts are unlimited. */
export interface FlowLimit {
  /** Most tasks claimed at once (0 holds every task back). */
  concurrency?: number;
  rate?: RateLimit;
}

/** A queue's flow-control limits [flow.QueueLimits] (docs/flow-control.md). */
export interface QueueLimits {
  /** The queue as a whole, across every server. */
  queue?: FlowLimit;
  /** Every key alike: `concurrency` per concurrency_key, `rate` per rate_key. */
  per_key?: FlowLimit;
  /** Overrides of `per_key` for named keys, at most 1000. */
  keys?: { [key: string]: FlowLimit };
}

/** A queue's stored limits [flow.QueueLimitsRecord]; `limits` is `{}` for none. */
export interface QueueLimitsRecord {
  queue: string;
  limits: QueueLimits;
  /** When the limits were last set. Absent when the queue has none. */
  modified_at?: string;
}

/** A key held back by a limit [flow.ThrottledKey]. */
export interface ThrottledKey {
  key: string;
  /** Its tasks claimed now, by concurrency key. */
  claimed: number;
  /** Its claimable tasks held back. */
  waiting: number;
  reason: 'concurrency' | 'rate';
}

/** How a queue's limits stand [flow.QueueFlow]. */
export interface QueueFlow {
  queue: string;
  limits: QueueLimits;
  /** Tasks of the queue claimed now. */
  claimed: number;
  /** Tokens left in the queue's bucket, when it has a rate. */
  tokens?: number;
  /** Most waiting first. */
  throttled_keys: ThrottledKey[];
  /** Claimable tasks held back by a limit (the queue's or their key's). */
  waiting_on_limit: number;
}

/** A recurring task with its next fire time [operator.RecurringTaskSchedule]. */
export interface RecurringTaskSchedule {
  id: string;
  schedule_expression: string;
  skip_if_outstanding_tasks_exist: boolean;
  queue: string;
  kind: string;
  /** When it fires next (now if a tick is due). Absent if the schedule never fires again. */
  next_run_at?: string;
  /** The last tick the leader handled (enqueued or skipped). */
  last_tick_at?: string;
}
