/**
 * Reading archived tasks (additive to v1, which had no way to): `GET /tasques/archived/{queue}/{id}`
 * answers the task as it was when the archiver moved it out of the live store, in the same Task JSON
 * as `GET /tasques/{queue}/{id}`, or 404.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TaskEngine } from '../../engine/task-engine.js';
import { taskToJson } from '../mappers.js';
import { errorResponses, TaskParams, TaskSchema } from '../schemas/tasks.js';
import { checkQueueParam } from './tasks.js';

export function archivedRoutes(engine: TaskEngine): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { queue: string; id: string } }>(
      '/tasques/archived/:queue/:id',
      {
        config: { access: 'read' },
        preValidation: checkQueueParam,
        schema: {
          operationId: 'get-archived-task',
          summary: 'Get an archived Task',
          description:
            'A done or dead task after the archiver moved it out of its queue (recurring.tasks_archiver.archive_older_than ' +
            'after it finished), until archived tasks are deleted (delete_archived_older_than). Its id can be reused ' +
            'in the queue meanwhile; if it was archived more than once, the latest archived task is answered.',
          tags: ['tasks'],
          params: TaskParams,
          response: {
            200: Type.Ref(TaskSchema, { description: 'The archived task' }),
            ...errorResponses(400, 401, 404),
          },
        },
      },
      async (request) => taskToJson(await engine.getArchivedTask(request.params.queue, request.params.id)),
    );
  };
}
