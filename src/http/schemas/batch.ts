/** Schemas of the batch routes (additive to v1). */
import { type Static, Type } from '@sinclair/typebox';
import { ErrorBody, JsonObjectSchema, NewTaskSchema, Nullable, TaskSchema } from './tasks.js';

/** Most items in one batch request. The body limit (1 MiB by default) may bind first for large tasks. */
export const MAX_BATCH_SIZE = 1000;

export const NewTaskBatchSchema = Type.Object(
  {
    tasks: Type.Array(Type.Ref(NewTaskSchema), {
      minItems: 1,
      maxItems: MAX_BATCH_SIZE,
      description: `The tasks to enqueue, 1 to ${MAX_BATCH_SIZE}.`,
    }),
  },
  { $id: 'task.NewTaskBatch' },
);

export const DoneItemSchema = Type.Object(
  {
    queue: Type.String(),
    id: Type.String(),
    data: Nullable(JsonObjectSchema('Result, kept as last_claimed.result.success.')),
  },
  { $id: 'task.DoneItem' },
);

export const DoneBatchSchema = Type.Object(
  {
    tasks: Type.Array(Type.Ref(DoneItemSchema), {
      minItems: 1,
      maxItems: MAX_BATCH_SIZE,
      description: `The claimed tasks to mark done, 1 to ${MAX_BATCH_SIZE}.`,
    }),
  },
  { $id: 'task.DoneBatch' },
);

export const BatchItemResultSchema = Type.Object(
  {
    status: Type.Integer({ description: 'The status the single-task route would have answered for this item.' }),
    task: Type.Optional(Type.Ref(TaskSchema)),
    error: Type.Optional(Type.Ref(ErrorBody)),
  },
  { $id: 'task.BatchItemResult' },
);

export const BatchResultSchema = Type.Object(
  { results: Type.Array(Type.Ref(BatchItemResultSchema), { description: 'results[i] answers tasks[i].' }) },
  { $id: 'task.BatchResult' },
);

export type NewTaskBatchJson = Static<typeof NewTaskBatchSchema>;
export type DoneBatchJson = Static<typeof DoneBatchSchema>;
export type BatchItemResultJson = Static<typeof BatchItemResultSchema>;
export type BatchResultJson = Static<typeof BatchResultSchema>;
