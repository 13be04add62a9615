/**
 * Schemas of the operator routes (additive to v1; docs/design/operator-api.md): task listing, queue
 * statistics and pausing, retry and cancel, the recurring schedule. No v1 response gains a field.
 *
 * Querystring values stay strings in the schema (JSON bodies are validated without type coercion, and
 * Fastify shares one validator for both); the route parses them and names the parameter on error.
 */
import { type Static, Type } from '@sinclair/typebox';
import { JsonObjectSchema, QueueName, TaskSchema, TaskState } from './tasks.js';

export const DEFAULT_TASK_LIST_LIMIT = 50;
export const DEFAULT_STATS_WINDOW = '5m';
/** The longest `window` of queue statistics. */
export const MAX_STATS_WINDOW_MS = 24 * 3600 * 1000;

const DateTime = (description: string) => Type.String({ format: 'date-time', description });

export const TaskListQuery = Type.Object({
  queue: Type.Optional(QueueName('Only this queue.')),
  state: Type.Optional(
    Type.String({ description: 'One state or several, comma-separated (queued, claimed, failed, done, dead).' }),
  ),
  kind: Type.Optional(Type.String({ description: 'Only tasks of this kind.' })),
  recurring_task_id: Type.Optional(Type.String({ description: 'Only tasks enqueued by this recurring task.' })),
  created_after: Type.Optional(Type.String({ description: 'RFC 3339; created at or after (inclusive).' })),
  created_before: Type.Optional(Type.String({ description: 'RFC 3339; created before (exclusive).' })),
  prefix: Type.Optional(Type.String({ description: 'The task id or its kind starts with this.' })),
  scheduled: Type.Optional(
    Type.Union([Type.Literal('true'), Type.Literal('false')], {
      description:
        'true: only scheduled tasks (queued or failed, with run_at in the future: not claimable yet); false: only the others.',
    }),
  ),
  limit: Type.Optional(Type.String({ description: `Page size, 1 to 1000. Default ${DEFAULT_TASK_LIST_LIMIT}.` })),
  cursor: Type.Optional(Type.String({ description: 'The next_cursor of the previous page.' })),
});
export type TaskListQueryJson = Static<typeof TaskListQuery>;

export const CancellationSchema = Type.Object(
  {
    at: DateTime('When the task was cancelled.'),
    by: Type.String({
      description: 'Who cancelled it: the authenticated user when auth is configured, else the `by` of the request, else "operator".',
    }),
    reason: Type.Optional(Type.String({ description: 'Why, as given to the cancel route.' })),
  },
  { $id: 'operator.Cancellation' },
);
export type CancellationJson = Static<typeof CancellationSchema>;

/**
 * A task as operator routes answer it: every field of `task.Task`, plus what v1 answers leave out
 * (v1 answers never gain a field: some generated clients reject unknown ones).
 */
export const ListedTaskSchema = Type.Object(
  {
    ...TaskSchema.properties,
    concurrency_key: Type.Optional(Type.String({ description: 'Flow control: its concurrency key, when it has one.' })),
    rate_key: Type.Optional(Type.String({ description: 'Flow control: its rate key, when it has one.' })),
    cancellation: Type.Optional(
      Type.Ref(CancellationSchema, {
        description: 'Set when an operator cancelled the task (it is then dead): shown instead of a failure.',
      }),
    ),
  },
  { $id: 'operator.ListedTask' },
);
export type ListedTaskJson = Static<typeof ListedTaskSchema>;

export const TaskPageSchema = Type.Object(
  {
    tasks: Type.Array(Type.Ref(ListedTaskSchema), { description: 'Newest first (created_at descending, then queue, then id).' }),
    next_cursor: Type.Optional(
      Type.String({
        description:
          'Present when the page is full, or was ended early by the answer budget (tasks.limits.max_answer_bytes): pass it as `cursor` for the next page.',
      }),
    ),
  },
  { $id: 'operator.TaskPage' },
);

export const FailedAttemptSchema = Type.Object(
  {
    at: DateTime('When the attempt failed (the failed call, or the reaper finding the claim timed out).'),
    attempt: Type.Integer({ minimum: 0, description: 'Which attempt: 1 for the first claim (unclaims do not count).' }),
    worker_id: Type.String({ description: 'The worker that held the claim.' }),
    failure: Type.Optional(
      JsonObjectSchema(
        'The failure data. Larger than tasks.error_history.max_entry_bytes: {"truncated": true, "bytes": <size>, "preview": "<start of its JSON>"}.',
      ),
    ),
    timed_out: Type.Optional(Type.Boolean({ description: 'True when the claim timed out without an answer from the worker.' })),
  },
  { $id: 'operator.FailedAttempt' },
);

export const TaskErrorsSchema = Type.Object(
  {
    queue: Type.String(),
    id: Type.String(),
    state: TaskState,
    archived: Type.Boolean({ description: 'True when the task was found in the archive (not among the live tasks).' }),
    errors: Type.Array(Type.Ref(FailedAttemptSchema), {
      description: 'The last failed attempts, oldest first, at most tasks.error_history.keep of them.',
    }),
    cancellation: Type.Optional(Type.Ref(CancellationSchema)),
  },
  { $id: 'operator.TaskErrors' },
);
export type TaskErrorsJson = Static<typeof TaskErrorsSchema>;

export const WindowQuery = Type.Object({
  window: Type.Optional(
    Type.String({ description: `Go duration of the \`recent\` counts, up to 24h. Default ${DEFAULT_STATS_WINDOW}.` }),
  ),
});
export type WindowQueryJson = Static<typeof WindowQuery>;

const Count = Type.Integer({ minimum: 0 });

export const QueueStatsSchema = Type.Object(
  {
    queue: Type.String(),
    paused: Type.Boolean({ description: 'A paused queue hands out no claims.' }),
    counts: Type.Object(
      { queued: Count, claimed: Count, failed: Count, done: Count, dead: Count },
      { description: 'Live (not archived) tasks by state.' },
    ),
    scheduled: Type.Integer({
      minimum: 0,
      description:
        'Of the queued and failed tasks, those not due yet (run_at in the future: scheduled, or waiting for a retry). The claimable ones are the rest.',
    }),
    oldest_claimable_run_at: Type.Optional(
      DateTime('run_at of the longest-waiting claimable task (queued or failed, due). Absent when none.'),
    ),
    oldest_claimable_age_seconds: Type.Optional(
      Type.Number({ description: 'How long that task has been due: the number to alert on.' }),
    ),
    recent: Type.Object(
      {
        window: Type.String({ description: 'Go duration the counts cover, up to now.' }),
        created: Count,
        done: Count,
        dead: Count,
      },
      { description: 'Tasks created, and tasks that finished DONE or DEAD, within the window.' },
    ),
  },
  { $id: 'operator.QueueStats' },
);
export type QueueStatsJson = Static<typeof QueueStatsSchema>;

export const QueueStatsListSchema = Type.Object(
  { queues: Type.Array(Type.Ref(QueueStatsSchema), { description: 'Sorted by queue name.' }) },
  { $id: 'operator.QueueStatsList' },
);

export const QueueStateSchema = Type.Object(
  {
    queue: Type.String(),
    paused: Type.Boolean(),
    modified_at: DateTime('When `paused` last changed.'),
  },
  { $id: 'operator.QueueState' },
);
export type QueueStateJson = Static<typeof QueueStateSchema>;

export const CancelSchema = Type.Object(
  {
    reason: Type.Optional(
      Type.String({ maxLength: 1000, description: 'Why: recorded in the cancellation (and in last_claimed.result.failure.reason).' }),
    ),
    by: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'Who cancels, recorded when auth is not configured (default "operator"). With auth, the authenticated user is recorded instead.',
      }),
    ),
  },
  { $id: 'operator.Cancel' },
);
export type CancelJson = Static<typeof CancelSchema>;

export const RecurringTaskScheduleSchema = Type.Object(
  {
    id: Type.String(),
    schedule_expression: Type.String(),
    skip_if_outstanding_tasks_exist: Type.Boolean(),
    queue: Type.String(),
    kind: Type.String(),
    next_run_at: Type.Optional(
      DateTime('When it fires next (now if a tick is due). Absent if the schedule never fires again or it is paused.'),
    ),
    last_tick_at: Type.Optional(DateTime('The last tick the leader handled (enqueued or skipped).')),
    paused: Type.Optional(Type.Boolean({ description: 'Paused by an operator: it does not fire. Absent: false.' })),
    paused_at: Type.Optional(DateTime('When it was paused.')),
    next_run_times: Type.Optional(
      Type.Array(DateTime('A fire time.'), {
        maxItems: 5,
        description: 'The next five fire times from next_run_at on (fewer if it stops firing; empty when paused).',
      }),
    ),
  },
  { $id: 'operator.RecurringTaskSchedule' },
);

export const ScheduleSchema = Type.Object(
  { recurring_tasks: Type.Array(Type.Ref(RecurringTaskScheduleSchema), { description: 'Sorted by id.' }) },
  { $id: 'operator.Schedule' },
);
export type ScheduleJson = Static<typeof ScheduleSchema>;

export type TaskPageJson = Static<typeof TaskPageSchema>;
