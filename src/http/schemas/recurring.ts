/** Recurring-task schemas (spec §1.4–§1.5, §8), with v1's component ids. */
import { type Static, Type } from '@sinclair/typebox';
import { MAX_ID_LENGTH } from '../../domain/identifiers.js';
import { MAX_SCHEDULE_EXPRESSION_LENGTH } from '../../domain/schedule.js';
import { DurationString, INT32_MAX, JsonObjectSchema, Metadata, Nullable, QueueName } from './tasks.js';

const SCHEDULE_DESCRIPTION =
  '5-field cron ("0,5,10 * * * *"), a descriptor (@yearly @monthly @weekly @daily @hourly) or "@every <duration>" ' +
  '("@every 90s"); optional "TZ=Zone " prefix, UTC otherwise.';

export const TaskDefinitionInputSchema = Type.Object(
  {
    queue: QueueName('Queue of the enqueued tasks.'),
    kind: Type.String({ minLength: 1 }),
    retry_times: Nullable(Type.Integer({ minimum: 0, maximum: INT32_MAX, description: 'Default 25.' })),
    priority: Nullable(Type.Integer({ minimum: -INT32_MAX - 1, maximum: INT32_MAX, description: 'Default 0.' })),
    processing_timeout: Nullable(DurationString('Default 30m.')),
    args: Nullable(JsonObjectSchema('Arguments of the enqueued tasks.')),
    context: Nullable(JsonObjectSchema('Context of the enqueued tasks.')),
  },
  { $id: 'recurring.TaskDefinition' },
);

export const TaskDefinitionSchema = Type.Object(
  {
    queue: Type.String(),
    retry_times: Type.Integer(),
    kind: Type.String(),
    priority: Type.Integer(),
    processing_timeout: Type.String({ description: 'Go duration string.' }),
    args: Type.Optional(JsonObjectSchema('Arguments of the enqueued tasks.')),
    context: Type.Optional(JsonObjectSchema('Context of the enqueued tasks.')),
  },
  { $id: 'recurring.TaskDefinitionResponse' },
);

export const NewRecurringTaskSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, description: 'Your id for the recurring task.' }),
    schedule_expression: Type.String({ minLength: 1, maxLength: MAX_SCHEDULE_EXPRESSION_LENGTH, description: SCHEDULE_DESCRIPTION }),
    skip_if_outstanding_tasks_exist: Nullable(
      Type.Boolean({
        description: 'Skip a tick while tasks enqueued by this recurring task are still queued, claimed or failed.',
      }),
    ),
    task_definition: Type.Ref(TaskDefinitionInputSchema),
  },
  { $id: 'recurring.NewTask' },
);

export const RecurringTaskUpdateSchema = Type.Object(
  {
    schedule_expression: Nullable(
      Type.String({ minLength: 1, maxLength: MAX_SCHEDULE_EXPRESSION_LENGTH, description: SCHEDULE_DESCRIPTION }),
    ),
    skip_if_outstanding_tasks_exist: Nullable(Type.Boolean()),
    task_definition: Type.Optional(Type.Ref(TaskDefinitionInputSchema)),
  },
  { $id: 'recurring.TaskUpdate' },
);

export const RecurringTaskSchema = Type.Object(
  {
    id: Type.String(),
    schedule_expression: Type.String(),
    skip_if_outstanding_tasks_exist: Type.Boolean(),
    task_definition: Type.Ref(TaskDefinitionSchema),
    loaded_at: Type.Optional(Type.String({ format: 'date-time', description: 'When the leader last loaded it.' })),
    metadata: Type.Ref(Metadata),
  },
  { $id: 'recurring.Task' },
);

export const RecurringTaskParams = Type.Object({ id: Type.String() });

export type NewRecurringTaskJson = Static<typeof NewRecurringTaskSchema>;
export type RecurringTaskUpdateJson = Static<typeof RecurringTaskUpdateSchema>;
export type RecurringTaskJson = Static<typeof RecurringTaskSchema>;
export type TaskDefinitionInputJson = Static<typeof TaskDefinitionInputSchema>;
