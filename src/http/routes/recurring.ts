/** The v1 recurring-task routes (spec §1.2–§1.3, §8). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { parseStorableSchedule, ScheduleParseError } from '../../domain/schedule.js';
import type { TaskDefinitionInput, TaskEngine } from '../../engine/task-engine.js';
import { errors } from '../../errors/index.js';
import { durationNsFromBody, orUndefined, recurringTaskToJson } from '../mappers.js';
import {
  NewRecurringTaskSchema,
  RecurringTaskParams,
  RecurringTaskSchema,
  RecurringTaskUpdateSchema,
  type NewRecurringTaskJson,
  type RecurringTaskUpdateJson,
  type TaskDefinitionInputJson,
} from '../schemas/recurring.js';
import { errorResponses } from '../schemas/tasks.js';
import { assertQueueName, assertWellFormed } from './tasks.js';

/** The expression, if it parses as v1 parses schedules and fires within 5 years of `now`; else a 400. */
function checkSchedule(expression: string, now: number): string {
  try {
    parseStorableSchedule(expression, now);
    return expression;
  } catch (e) {
    if (e instanceof ScheduleParseError) {
      throw errors.badRequest(`schedule_expression: invalid schedule [${expression}]: ${e.message}`);
    }
    throw e;
  }
}

function toDefinition(def: TaskDefinitionInputJson): TaskDefinitionInput {
  assertQueueName(def.queue);
  assertWellFormed('task_definition.kind', def.kind);
  const processingTimeoutNs = durationNsFromBody('task_definition.processing_timeout', def.processing_timeout);
  if (processingTimeoutNs !== undefined && processingTimeoutNs <= 0) {
    throw errors.badRequest('task_definition.processing_timeout: must be positive');
  }
  return {
    queue: def.queue,
    kind: def.kind,
    retryTimes: orUndefined(def.retry_times),
    priority: orUndefined(def.priority),
    processingTimeoutNs,
    args: orUndefined(def.args),
    context: orUndefined(def.context),
  };
}

export function recurringRoutes(engine: TaskEngine): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: NewRecurringTaskJson }>(
      '/recurring_tasques',
      {
        config: { access: 'operate' },
        schema: {
          operationId: 'create-recurring-task',
          summary: 'Add a new Recurring Task',
          tags: ['recurring-tasks'],
          body: Type.Ref(NewRecurringTaskSchema),
          response: { 201: Type.Ref(RecurringTaskSchema, { description: 'The created recurring task' }), ...errorResponses(400, 401, 409, 413) },
        },
      },
      async (request, reply) => {
        const body = request.body;
        assertWellFormed('id', body.id);
        const task = await engine.createRecurringTask({
          id: body.id,
          scheduleExpression: checkSchedule(body.schedule_expression, engine.now()),
          skipIfOutstandingTasksExist: orUndefined(body.skip_if_outstanding_tasks_exist),
          taskDefinition: toDefinition(body.task_definition),
        });
        return reply.code(201).send(recurringTaskToJson(task));
      },
    );

    app.get(
      '/recurring_tasques',
      {
        config: { access: 'read' },
        schema: {
          operationId: 'list-existing-recurring-tasks',
          summary: 'List Recurring Tasks',
          description: 'Every recurring task that is not deleted, sorted by id. [] on a fresh install.',
          tags: ['recurring-tasks'],
          response: { 200: Type.Array(Type.Ref(RecurringTaskSchema), { description: 'The recurring tasks' }), ...errorResponses(401) },
        },
      },
      async () => (await engine.listRecurringTasks()).map(recurringTaskToJson),
    );

    app.get<{ Params: { id: string } }>(
      '/recurring_tasques/:id',
      {
        config: { access: 'read' },
        schema: {
          operationId: 'get-existing-recurring-task',
          summary: 'Get a Recurring Task',
          tags: ['recurring-tasks'],
          params: RecurringTaskParams,
          response: { 200: Type.Ref(RecurringTaskSchema, { description: 'The recurring task' }), ...errorResponses(401, 404) },
        },
      },
      async (request) => recurringTaskToJson(await engine.getRecurringTask(request.params.id)),
    );

    app.put<{ Params: { id: string }; Body: RecurringTaskUpdateJson }>(
      '/recurring_tasques/:id',
      {
        config: { access: 'operate' },
        schema: {
          operationId: 'update-existing-recurring-task',
          summary: 'Update a Recurring Task',
          description:
            'Fields that are present replace the stored ones; a `task_definition` replaces the whole definition.',
          tags: ['recurring-tasks'],
          params: RecurringTaskParams,
          body: Type.Ref(RecurringTaskUpdateSchema),
          response: { 200: Type.Ref(RecurringTaskSchema, { description: 'The recurring task' }), ...errorResponses(400, 401, 404, 409, 413) },
        },
      },
      async (request) => {
        const body = request.body;
        const schedule = orUndefined(body.schedule_expression);
        const definition = orUndefined(body.task_definition);
        const task = await engine.updateRecurringTask(request.params.id, {
          scheduleExpression: schedule === undefined ? undefined : checkSchedule(schedule, engine.now()),
          skipIfOutstandingTasksExist: orUndefined(body.skip_if_outstanding_tasks_exist),
          taskDefinition: definition === undefined ? undefined : toDefinition(definition),
        });
        return recurringTaskToJson(task);
      },
    );

    app.delete<{ Params: { id: string } }>(
      '/recurring_tasques/:id',
      {
        config: { access: 'operate' },
        schema: {
          operationId: 'delete-existing-recurring-task',
          summary: 'Delete a Recurring Task',
          description: 'Soft-deletes it: it stops firing and disappears from the API; its id can be reused.',
          tags: ['recurring-tasks'],
          params: RecurringTaskParams,
          response: { 200: Type.Ref(RecurringTaskSchema, { description: 'The recurring task' }), ...errorResponses(401, 404) },
        },
      },
      async (request) => recurringTaskToJson(await engine.deleteRecurringTask(request.params.id)),
    );
  };
}
