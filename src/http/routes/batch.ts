/**
 * Batch routes (additive to v1): enqueue many tasks, or mark many claimed tasks done, in one request.
 * One HTTP round trip instead of one per task is what bounds throughput on a small machine.
 *
 * The whole body is validated first (schema, queue names, durations): a malformed item answers 400
 * naming it, and nothing is written. Then every item is applied on its own and answered with its own
 * status, as the single-task route would have (201 created / 409 id taken; 200 done / 400 / 403 / 404).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { NewTaskInput, TaskEngine } from '../../engine/task-engine.js';
import { isTasquesError, TasquesError } from '../../errors/index.js';
import type { Task } from '../../types/index.js';
import { orUndefined, taskToJson } from '../mappers.js';
import {
  type BatchItemResultJson,
  BatchResultSchema,
  DoneBatchSchema,
  type DoneBatchJson,
  MAX_BATCH_SIZE,
  NewTaskBatchSchema,
  type NewTaskBatchJson,
} from '../schemas/batch.js';
import { errorResponses, WorkerIdHeader } from '../schemas/tasks.js';
import { assertQueueName, newTaskInputFromBody, workerIdOf } from './tasks.js';

/** Runs `apply` on each item in order, turning the errors a single-task route answers into item results. */
async function eachItem<T>(
  items: readonly T[],
  successStatus: number,
  apply: (item: T) => Promise<Task>,
): Promise<{ results: BatchItemResultJson[] }> {
  const results: BatchItemResultJson[] = [];
  for (const item of items) {
    try {
      results.push({ status: successStatus, task: taskToJson(await apply(item)) });
    } catch (e) {
      if (!isTasquesError(e)) throw e;
      results.push({ status: e.status, error: { message: e.message, code: e.code } });
    }
  }
  return { results };
}

/** Prefixes a validation error with the item it is about, e.g. `tasks[3]: Illegal Queue name: …`. */
function checkItem<T>(index: number, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (isTasquesError(e) && e.status === 400) throw new TasquesError(e.kind, `tasks[${index}]: ${e.message}`);
    throw e;
  }
}

export function batchRoutes(engine: TaskEngine): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: NewTaskBatchJson }>(
      '/tasques/batch',
      {
        schema: {
          operationId: 'create-tasks',
          summary: 'Add many Tasks',
          description:
            `Enqueues up to ${MAX_BATCH_SIZE} tasks in one call. A malformed item answers 400 and nothing is stored; ` +
            'otherwise `results[i]` answers `tasks[i]`: status 201 with the task, or 409 with the error when its id is taken.',
          tags: ['batch'],
          body: Type.Ref(NewTaskBatchSchema),
          response: { 200: Type.Ref(BatchResultSchema, { description: 'One result per task, in order' }), ...errorResponses(400, 401, 413) },
        },
      },
      async (request) => {
        const inputs: NewTaskInput[] = request.body.tasks.map((body, index) =>
          checkItem(index, () => newTaskInputFromBody(body)),
        );
        return eachItem(inputs, 201, (input) => engine.createTask(input));
      },
    );

    app.put<{ Body: DoneBatchJson }>(
      '/tasques/done',
      {
        schema: {
          operationId: 'mark-claimed-tasks-done',
          summary: 'Mark many claimed Tasks as done',
          description:
            `Marks up to ${MAX_BATCH_SIZE} tasks claimed by this worker as done. \`results[i]\` answers \`tasks[i]\` as ` +
            'PUT /tasques/done/{queue}/{id} would: 200 with the task, or 400 (not claimed), 403 (another worker) or 404.',
          tags: ['batch'],
          headers: WorkerIdHeader,
          body: Type.Ref(DoneBatchSchema),
          response: { 200: Type.Ref(BatchResultSchema, { description: 'One result per task, in order' }), ...errorResponses(400, 401, 413) },
        },
      },
      async (request) => {
        const workerId = workerIdOf(request);
        const items = request.body.tasks;
        items.forEach((item, index) => checkItem(index, () => assertQueueName(item.queue)));
        return eachItem(items, 200, (item) => engine.markDone(item.queue, item.id, workerId, orUndefined(item.data)));
      },
    );
  };
}
