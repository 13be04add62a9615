/**
 * Batch routes (additive to v1): enqueue many tasks, or mark many claimed tasks done, in one request.
 * One HTTP round trip instead of one per task is what bounds throughput on a small machine.
 *
 * The whole body is validated first (schema, queue names, durations): a malformed item answers 400
 * naming it, and nothing is written. Then the items are applied with one store write for the lot (one
 * SQLite transaction, one Elasticsearch _bulk), each answered with its own status, as the single-task
 * route would have (201 created / 409 id taken; 200 done / 400 / 403 / 404).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { NewTaskInput, TaskEngine, TaskWriteResult } from '../../engine/task-engine.js';
import { isTasquesError, TasquesError } from '../../errors/index.js';
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

/** Item results on the wire: the task with the success status, or the error a single-task route would answer. */
function itemResults(results: readonly TaskWriteResult[], successStatus: number): { results: BatchItemResultJson[] } {
  return {
    results: results.map((r): BatchItemResultJson =>
      r.task
        ? { status: successStatus, task: taskToJson(r.task) }
        : { status: r.error.status, error: { message: r.error.message, code: r.error.code } },
    ),
  };
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
        config: { access: 'produce' },
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
        return itemResults(await engine.createTasks(inputs), 201);
      },
    );

    app.put<{ Body: DoneBatchJson }>(
      '/tasques/done',
      {
        config: { access: 'work' },
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
        const done = await engine.markDoneMany(
          items.map((item) => ({ queue: item.queue, id: item.id, data: orUndefined(item.data) })),
          workerId,
        );
        return itemResults(done, 200);
      },
    );
  };
}
