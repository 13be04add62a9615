/**
 * Bulk operations (issue 16): `POST /operations` (with `dry_run: true` first, for the count to confirm),
 * `GET /operations/{id}` (progress), `GET /operations` (recent). The work runs in the background in
 * bounded steps (src/engine/bulk-operations.ts).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { MAX_OPERATION_TASKS } from '../../engine/bulk-operations.js';
import type { TaskEngine } from '../../engine/task-engine.js';
import { errors } from '../../errors/index.js';
import type { Operation, OperationFilter } from '../../types/index.js';
import {
  DEFAULT_OPERATIONS_LIMIT,
  MAX_OPERATIONS_LIMIT,
  type NewOperationJson,
  NewOperationSchema,
  type OperationCountJson,
  OperationCountSchema,
  type OperationFilterJson,
  type OperationJson,
  type OperationListJson,
  OperationListQuery,
  OperationListSchema,
  OperationParams,
  OperationSchema,
} from '../schemas/operations.js';
import { errorResponses } from '../schemas/tasks.js';
import { taskListInputFromQuery } from './operator.js';

const iso = (ms: number): string => new Date(ms).toISOString();

const FILTER_FIELDS = new Set(['queue', 'state', 'kind', 'recurring_task_id', 'created_after', 'created_before', 'prefix']);

/**
 * The wire filter (GET /tasques's names), checked as GET /tasques checks them. An unknown field is a 400
 * here, not dropped: a misspelt filter silently ignored would widen a bulk change to more tasks.
 */
function filterFromJson(json: OperationFilterJson | undefined): OperationFilter {
  for (const key of Object.keys(json ?? {})) {
    if (!FILTER_FIELDS.has(key)) throw errors.badRequest(`filter.${key}: not a filter (${[...FILTER_FIELDS].join(', ')})`);
  }
  const { limit: _l, after: _a, ...filter } = taskListInputFromQuery(json ?? {});
  return filter;
}

function filterToJson(filter: OperationFilter): OperationFilterJson {
  return {
    queue: filter.queue,
    state: filter.states === undefined || filter.states.length === 0 ? undefined : filter.states.join(','),
    kind: filter.kind,
    recurring_task_id: filter.recurringTaskId,
    created_after: filter.createdFrom === undefined ? undefined : iso(filter.createdFrom),
    created_before: filter.createdTo === undefined ? undefined : iso(filter.createdTo),
    prefix: filter.prefix,
  };
}

export function operationToJson(o: Operation): OperationJson {
  return {
    id: o.id,
    kind: o.kind,
    filter: filterToJson(o.filter),
    state: o.state,
    total: o.total,
    processed: o.processed,
    changed: o.changed,
    skipped: o.skipped,
    error: o.error,
    created_at: iso(o.createdAt),
    modified_at: iso(o.modifiedAt),
  };
}

export function operationsRoutes(engine: TaskEngine): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: NewOperationJson }>(
      '/operations',
      {
        config: { access: 'operate' },
        schema: {
          operationId: 'start-bulk-operation',
          summary: 'Retry, cancel or delete every task of a filter, in bounded steps',
          description:
            'With `dry_run: true`, answers 200 with how many tasks it would look at (to confirm), and changes ' +
            'nothing. Otherwise records the operation, answers 202 with it, and works in the background, ' +
            `200 tasks per step with compare-and-set writes (a task changed meanwhile is skipped), at most ` +
            `${MAX_OPERATION_TASKS} tasks. One running operation per queue (one for "all queues"), at most 4 at ` +
            'once: 409 TQ_ERR_OPERATION_BUSY otherwise.',
          tags: ['operator'],
          body: Type.Ref(NewOperationSchema),
          response: {
            200: Type.Ref(OperationCountSchema, { description: 'The dry run: the count' }),
            202: Type.Ref(OperationSchema, { description: 'The started operation' }),
            ...errorResponses(400, 401, 409, 413),
          },
        },
      },
      async (request, reply) => {
        for (const key of Object.keys(request.body)) {
          // A misspelt `filter` ignored would make the operation cover every task.
          if (!['kind', 'filter', 'dry_run'].includes(key)) throw errors.badRequest(`${key}: not a field (kind, filter, dry_run)`);
        }
        const { kind, dry_run: dryRun } = request.body;
        const filter = filterFromJson(request.body.filter);
        if (dryRun === true) {
          const count = await engine.bulk.count(kind, filter);
          const answer: OperationCountJson = { kind, filter: filterToJson(filter), count, max: MAX_OPERATION_TASKS };
          return reply.code(200).send(answer);
        }
        return reply.code(202).send(operationToJson(await engine.bulk.start(kind, filter)));
      },
    );

    app.get<{ Params: { id: string } }>(
      '/operations/:id',
      {
        config: { access: 'read' },
        schema: {
          operationId: 'get-bulk-operation',
          summary: 'A bulk operation and its progress',
          tags: ['operator'],
          params: OperationParams,
          response: { 200: Type.Ref(OperationSchema), ...errorResponses(401, 404) },
        },
      },
      async (request) => {
        const operation = await engine.bulk.get(request.params.id);
        if (!operation) throw errors.operationNotFound(request.params.id);
        return operationToJson(operation);
      },
    );

    app.get<{ Querystring: { limit?: string } }>(
      '/operations',
      {
        config: { access: 'read' },
        schema: {
          operationId: 'list-bulk-operations',
          summary: 'Recent bulk operations, newest first',
          tags: ['operator'],
          querystring: OperationListQuery,
          response: { 200: Type.Ref(OperationListSchema), ...errorResponses(400, 401) },
        },
      },
      async (request): Promise<OperationListJson> => {
        const raw = request.query.limit;
        const limit = raw === undefined ? DEFAULT_OPERATIONS_LIMIT : Number(raw);
        if (raw !== undefined && (!/^\d+$/.test(raw) || !(limit >= 1 && limit <= MAX_OPERATIONS_LIMIT))) {
          throw errors.badRequest(`limit: must be an integer from 1 to ${MAX_OPERATIONS_LIMIT}`);
        }
        return { operations: (await engine.bulk.list(limit)).map(operationToJson) };
      },
    );
  };
}
