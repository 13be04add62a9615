/**
 * The v1 wire contract as JSON schemas (spec §1.4–§1.5). These schemas validate requests, serialize
 * responses, produce openapi.json and give the TypeScript client its types: one source for all four.
 * Component ids keep v1's swagger names (`task.Task`, `common.Body`, …) so generated clients keep their
 * class names.
 */
import { type Static, Type, type TSchema } from '@sinclair/typebox';
import { MAX_DURATION_LENGTH } from '../../domain/duration.js';
import { MAX_ID_LENGTH } from '../../domain/identifiers.js';
import { MAX_QUEUE_NAME_BYTES, QUEUE_NAME_PATTERN } from '../../domain/queue-name.js';
import { TASK_STATES, type JsonObject, type TaskState as TaskStateValue } from '../../types/index.js';

export const INT32_MAX = 2_147_483_647;

/**
 * Most queues one claim may name (400 beyond). Each poll of a long poll works on the whole list, so the
 * list is bounded like `amount` and `block_for`; `[]` claims from every queue.
 */
export const MAX_CLAIM_QUEUES = 1000;

/** A free-form JSON object (args, context, report data, results). */
export const JsonObjectSchema = (description: string) =>
  Type.Unsafe<JsonObject>({ type: 'object', additionalProperties: true, description });

/** Optional request fields also accept JSON null, which v1 (Go) reads as absent. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Optional(Type.Unsafe<Static<T>>({ ...schema, nullable: true }));

/** The shape of a Go duration, for readers of the OpenAPI document; the `go-duration` format decides. */
const GO_DURATION_PATTERN = '^[-+]?(0|([0-9]*(\\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+)$';

/**
 * A queue name. The pattern and length state v1's rules for readers of the OpenAPI document; the routes
 * check the full rules (queueNameViolations) and answer v1's message, also when this schema refuses.
 */
export const QueueName = (description?: string) =>
  Type.String({
    pattern: QUEUE_NAME_PATTERN,
    maxLength: MAX_QUEUE_NAME_BYTES,
    description: `${description ? `${description} ` : ''}Lower case, no spaces or \\/*?"<>|,#: and not starting with _-+; at most ${MAX_QUEUE_NAME_BYTES} UTF-8 bytes.`,
  });

export const DurationString = (description: string) =>
  Type.String({ format: 'go-duration', pattern: GO_DURATION_PATTERN, maxLength: MAX_DURATION_LENGTH, description: `${description} A Go duration string, e.g. "300ms", "5s", "1h30m".` });

const DateTime = (description: string) => Type.String({ format: 'date-time', description });

export const ErrorBody = Type.Object(
  {
    message: Type.String({ description: 'What went wrong.' }),
    code: Type.Optional(Type.String({ description: 'Stable error code (TQ_ERR_…), additive to v1.' })),
  },
  { $id: 'common.Body' },
);

/** Response schemas for the given error statuses, all `common.Body`. */
export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [status, Type.Ref(ErrorBody, { description: ERROR_DESCRIPTIONS[status] ?? 'Error' })]),
  );

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad request: invalid body, queue name or missing X-TASQUES-WORKER-ID; or the task is not claimed',
  401: 'Authentication required (when basic auth is configured)',
  403: 'The task is claimed by another worker',
  404: 'Not found',
  409: 'Conflict: the id is already used, or a concurrent write won',
  413: 'Request body too large',
};

/**
 * One string enum (not a union of literals, which OpenAPI renders as anyOf of one-value enums and
 * generators turn into five unrelated types).
 */
export const TaskState = Type.Unsafe<TaskStateValue>({
  type: 'string',
  enum: [...TASK_STATES],
  description: 'queued → claimed → done | failed (will be retried) | dead (no attempts left)',
});

export const Version = Type.Object(
  {
    seq_num: Type.Integer({ description: 'Increases on every write of the record.' }),
    primary_term: Type.Integer(),
  },
  { $id: 'common.Version' },
);

export const Metadata = Type.Object(
  {
    created_at: DateTime('When the record was created.'),
    modified_at: DateTime('When the record was last written.'),
    version: Type.Ref(Version),
  },
  { $id: 'common.Metadata' },
);

export const TaskReportSchema = Type.Object(
  { at: DateTime('When the report was made.'), data: Type.Optional(JsonObjectSchema('Report data.')) },
  { $id: 'task.Report' },
);

export const TaskResultSchema = Type.Object(
  {
    at: DateTime('When the attempt finished.'),
    failure: Type.Optional(JsonObjectSchema('Set when the attempt failed.')),
    success: Type.Optional(JsonObjectSchema('Set when the attempt succeeded.')),
  },
  { $id: 'task.Result' },
);

export const LastClaimedSchema = Type.Object(
  {
    worker_id: Type.String(),
    claimed_at: DateTime('When the claim was made.'),
    times_out_at: DateTime('When the claim expires unless the worker reports in.'),
    last_report: Type.Optional(Type.Ref(TaskReportSchema)),
    result: Type.Optional(Type.Ref(TaskResultSchema)),
  },
  { $id: 'task.LastClaimed' },
);

export const TaskSchema = Type.Object(
  {
    id: Type.String(),
    queue: Type.String(),
    retry_times: Type.Integer({ description: 'Retries allowed after the first attempt.' }),
    attempted: Type.Integer({ description: 'Claims so far, minus unclaims.' }),
    kind: Type.String(),
    state: TaskState,
    priority: Type.Integer({ description: 'Higher is claimed first.' }),
    processing_timeout: Type.String({ description: 'Go duration string, e.g. "30m0s".' }),
    run_at: DateTime('Earliest time the task can be claimed.'),
    args: Type.Optional(JsonObjectSchema('Arguments for the worker.')),
    context: Type.Optional(JsonObjectSchema('Context for the worker.')),
    last_claimed: Type.Optional(Type.Ref(LastClaimedSchema)),
    last_enqueued_at: DateTime('When the task was last made claimable.'),
    metadata: Type.Ref(Metadata),
    recurring_task_id: Type.Optional(Type.String({ description: 'The recurring task that enqueued this task.' })),
  },
  { $id: 'task.Task' },
);

export const NewTaskSchema = Type.Object(
  {
    id: Nullable(
      Type.String({
        minLength: 1,
        maxLength: MAX_ID_LENGTH,
        description: 'Optional idempotency key, unique per queue (409 if taken). Generated when absent.',
      }),
    ),
    queue: QueueName('Queue name.'),
    kind: Type.String({ minLength: 1, description: 'What the task is, for the worker to dispatch on.' }),
    retry_times: Nullable(
      Type.Integer({ minimum: 0, maximum: INT32_MAX, description: 'Retries after the first attempt. Default 25.' }),
    ),
    priority: Nullable(
      Type.Integer({ minimum: -INT32_MAX - 1, maximum: INT32_MAX, description: 'Higher is claimed first. Default 0.' }),
    ),
    processing_timeout: Nullable(DurationString('How long a claim lasts without a report-in. Default 30m.')),
    run_at: Nullable(DateTime('Earliest time to claim it (RFC 3339). Default now; 0001-01-01T00:00:00Z means now.')),
    args: Nullable(JsonObjectSchema('Arguments for the worker.')),
    context: Nullable(JsonObjectSchema('Context for the worker.')),
    concurrency_key: Nullable(
      Type.String({
        minLength: 1,
        maxLength: MAX_ID_LENGTH,
        description:
          'Flow control (additive to v1): the key whose per-key concurrency limit this task counts against, and ' +
          'its fair-share group (claims serve the keys of a queue in turn), e.g. a customer id. Not in v1 answers.',
      }),
    ),
    rate_key: Nullable(
      Type.String({
        minLength: 1,
        maxLength: MAX_ID_LENGTH,
        description: 'Flow control (additive to v1): the key whose per-key rate limit this task counts against. Not in v1 answers.',
      }),
    ),
  },
  { $id: 'task.NewTask' },
);

export const ClaimSchema = Type.Object(
  {
    queues: Type.Array(QueueName(), {
      maxItems: MAX_CLAIM_QUEUES,
      description: `Queues to claim from, at most ${MAX_CLAIM_QUEUES}; [] means every queue.`,
    }),
    amount: Nullable(
      Type.Integer({
        minimum: 0,
        maximum: INT32_MAX,
        description: 'How many tasks at most. Default 1; clamped to the server limit (1000 by default).',
      }),
    ),
    block_for: Nullable(
      DurationString(
        'How long to wait for claimable tasks. Default 3s; clamped to the server limit (60s by default). ' +
          'Returns as soon as at least one task is claimed.',
      ),
    ),
  },
  { $id: 'task.Claim' },
);

const DataBody = (id: string, description: string) =>
  Type.Object({ data: Nullable(JsonObjectSchema(description)) }, { $id: id });

export const NewReportSchema = DataBody('task.NewReport', 'Progress data, kept as last_claimed.last_report.data.');
export const SuccessSchema = DataBody('task.Success', 'Result, kept as last_claimed.result.success.');
export const FailureSchema = DataBody('task.Failure', 'Failure details, kept as last_claimed.result.failure.');

export const TaskParams = Type.Object({ queue: QueueName(), id: Type.String({ minLength: 1 }) });

export const WorkerIdHeader = Type.Object({
  'x-tasques-worker-id': Type.String({
    minLength: 1,
    pattern: '\\S',
    description: 'The id of the worker making the call (X-TASQUES-WORKER-ID); not blank.',
  }),
});

export type TaskJson = Static<typeof TaskSchema>;
export type NewTaskJson = Static<typeof NewTaskSchema>;
export type ClaimJson = Static<typeof ClaimSchema>;
export type DataBodyJson = Static<typeof NewReportSchema>;
export type ErrorBodyJson = Static<typeof ErrorBody>;
