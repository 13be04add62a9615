/**
 * Operator controls of recurring tasks (issue 16): pause, resume, run now. Deleting stays the v1
 * `DELETE /recurring_tasques/{id}`; the next fire times are in `GET /schedule`.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TaskEngine } from '../../engine/task-engine.js';
import type { RecurringTask } from '../../types/index.js';
import { taskToJson } from '../mappers.js';
import { RecurringTaskParams } from '../schemas/recurring.js';
import { type RecurringTaskStateJson, RecurringTaskStateSchema } from '../schemas/recurring-control.js';
import { errorResponses, TaskSchema } from '../schemas/tasks.js';

const iso = (ms: number): string => new Date(ms).toISOString();

function stateToJson(task: RecurringTask): RecurringTaskStateJson {
  return {
    id: task.id,
    paused: task.pausedAt !== undefined,
    paused_at: task.pausedAt === undefined ? undefined : iso(task.pausedAt),
    modified_at: iso(task.modifiedAt),
  };
}

export function recurringControlRoutes(engine: TaskEngine): FastifyPluginAsync {
  return async (app) => {
    for (const [action, paused] of [
      ['pause', true],
      ['resume', false],
    ] as const) {
      app.put<{ Params: { id: string } }>(
        `/recurring_tasques/:id/${action}`,
        {
          config: { access: 'operate' },
          schema: {
            operationId: `${action}-recurring-task`,
            summary: paused ? 'Pause a Recurring Task' : 'Resume a Recurring Task',
            description: paused
              ? 'It stops firing: its ticks are skipped (recorded as handled) until it is resumed. Idempotent. ' +
                'The leader sees it at its next sync (recurring.sync_run_interval).'
              : 'It fires again from its next tick after now; ticks missed while paused do not fire. Idempotent.',
            tags: ['operator'],
            params: RecurringTaskParams,
            response: { 200: Type.Ref(RecurringTaskStateSchema), ...errorResponses(401, 404, 409) },
          },
        },
        async (request) => stateToJson(await engine.setRecurringTaskPaused(request.params.id, paused)),
      );
    }

    app.post<{ Params: { id: string } }>(
      '/recurring_tasques/:id/run',
      {
        config: { access: 'operate' },
        schema: {
          operationId: 'run-recurring-task-now',
          summary: 'Enqueue a task of a Recurring Task now',
          description:
            'One task from its definition, as a tick would enqueue it (with a generated id and its ' +
            'recurring_task_id), paused or not; the schedule goes on unchanged. With ' +
            'skip_if_outstanding_tasks_exist, 409 TQ_ERR_RECURRING_TASK_OUTSTANDING while one of its tasks ' +
            'is queued, claimed or failed.',
          tags: ['operator'],
          params: RecurringTaskParams,
          response: { 201: Type.Ref(TaskSchema, { description: 'The enqueued task' }), ...errorResponses(401, 404, 409) },
        },
      },
      async (request, reply) => reply.code(201).send(taskToJson(await engine.runRecurringTaskNow(request.params.id))),
    );
  };
}
