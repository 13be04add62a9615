/**
 * Schemas of the bulk operations (issue 16; docs/design/operator-api.md "Bulk operations"): retry every
 * DEAD task of a filter, cancel every waiting one, delete every finished one, in bounded steps.
 */
import { type Static, Type } from '@sinclair/typebox';

export const DEFAULT_OPERATIONS_LIMIT = 20;
export const MAX_OPERATIONS_LIMIT = 100;

const DateTime = (description: string) => Type.String({ format: 'date-time', description });

export const OperationKindSchema = Type.Union(
  [Type.Literal('retry_dead'), Type.Literal('cancel_waiting'), Type.Literal('delete_finished')],
  { description: 'retry_dead: DEAD tasks are queued again; cancel_waiting: QUEUED and FAILED ones become DEAD; delete_finished: DONE and DEAD ones are deleted (not archived).' },
);

export const OperationFilterSchema = Type.Object(
  {
    queue: Type.Optional(Type.String({ description: 'Only this queue.' })),
    state: Type.Optional(
      Type.String({ description: 'One state or several, comma-separated; narrowed to the states the kind acts on.' }),
    ),
    kind: Type.Optional(Type.String({ description: 'Only tasks of this kind.' })),
    recurring_task_id: Type.Optional(Type.String({ description: 'Only tasks enqueued by this recurring task.' })),
    created_after: Type.Optional(Type.String({ description: 'RFC 3339; created at or after (inclusive).' })),
    created_before: Type.Optional(Type.String({ description: 'RFC 3339; created before (exclusive).' })),
    prefix: Type.Optional(Type.String({ description: 'The task id or its kind starts with this.' })),
  },
  {
    $id: 'operator.OperationFilter',
    description: 'The filters of GET /tasques. Any other field is a 400 (not ignored: a filter that is not applied would widen the operation).',
  },
);
export type OperationFilterJson = Static<typeof OperationFilterSchema>;

export const NewOperationSchema = Type.Object(
  {
    kind: OperationKindSchema,
    filter: Type.Optional(Type.Ref(OperationFilterSchema)),
    dry_run: Type.Optional(
      Type.Boolean({ description: 'Only count the tasks it would look at (to confirm); nothing is changed or recorded.' }),
    ),
  },
  { $id: 'operator.NewOperation' },
);
export type NewOperationJson = Static<typeof NewOperationSchema>;

export const OperationCountSchema = Type.Object(
  {
    kind: OperationKindSchema,
    filter: Type.Ref(OperationFilterSchema),
    count: Type.Integer({ description: 'Tasks it would look at now (at most `max`).' }),
    max: Type.Integer({ description: 'Most tasks one operation looks at.' }),
  },
  { $id: 'operator.OperationCount' },
);
export type OperationCountJson = Static<typeof OperationCountSchema>;

export const OperationSchema = Type.Object(
  {
    id: Type.String(),
    kind: OperationKindSchema,
    filter: Type.Ref(OperationFilterSchema),
    state: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
    total: Type.Integer({ description: 'Tasks the filter selected when it started (at most the per-operation maximum).' }),
    processed: Type.Integer({ description: 'Tasks looked at so far.' }),
    changed: Type.Integer({ description: 'Of those, retried, cancelled or deleted.' }),
    skipped: Type.Integer({ description: 'Of those, left alone: changed meanwhile by someone else.' }),
    error: Type.Optional(Type.String({ description: 'Why it failed.' })),
    created_at: DateTime('When it started.'),
    modified_at: DateTime('Its last progress.'),
  },
  { $id: 'operator.Operation' },
);
export type OperationJson = Static<typeof OperationSchema>;

export const OperationListSchema = Type.Object(
  { operations: Type.Array(Type.Ref(OperationSchema), { description: 'Newest first.' }) },
  { $id: 'operator.OperationList' },
);
export type OperationListJson = Static<typeof OperationListSchema>;

export const OperationParams = Type.Object({ id: Type.String() });
export const OperationListQuery = Type.Object({
  limit: Type.Optional(Type.String({ description: `How many, 1 to ${MAX_OPERATIONS_LIMIT}. Default ${DEFAULT_OPERATIONS_LIMIT}.` })),
});
