/**
 * The v1 task routes (spec §1.2–§1.3), with v1's order of checks: the claim route checks the worker-id
 * header before the body; the other worker routes check the queue, then the body, then the header.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { hasLoneSurrogate } from '../../domain/identifiers.js';
import { queueNameViolations } from '../../domain/queue-name.js';
import { parseRfc3339 } from '../../domain/time.js';
import type { NewTaskInput, TaskEngine } from '../../engine/task-engine.js';
import { errors } from '../../errors/index.js';
import { JSON_CONTENT_TYPE, TaskAnswer } from '../answer-json.js';
import { durationNsFromBody, orUndefined, taskToJson } from '../mappers.js';
import {
  ClaimSchema,
  errorResponses,
  FailureSchema,
  NewReportSchema,
  NewTaskSchema,
  SuccessSchema,
  TaskParams,
  TaskSchema,
  WorkerIdHeader,
} from '../schemas/tasks.js';
import type { ClaimJson, DataBodyJson, NewTaskJson } from '../schemas/tasks.js';

export const WORKER_ID_HEADER = 'x-tasques-worker-id';

export function assertQueueName(name: string): void {
  const reasons = queueNameViolations(name);
  if (reasons.length > 0) throw errors.invalidQueueName(reasons);
}

/** 400 for an id or kind that is not well-formed Unicode (a lone surrogate): it could not be stored as sent. */
export function assertWellFormed(field: string, value: string | null | undefined): void {
  if (value !== null && value !== undefined && hasLoneSurrogate(value)) {
    throw errors.badRequest(`${field}: must not contain a lone UTF-16 surrogate`);
  }
}

export function workerIdOf(request: FastifyRequest): string {
  const raw = request.headers[WORKER_ID_HEADER];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (!value) throw errors.workerIdMissing();
  return value;
}

/** onRequest hook: the queue in the path is checked before the body is read (v1's order). */
export async function checkQueueParam(request: FastifyRequest): Promise<void> {
  assertQueueName((request.params as { queue: string }).queue);
}

/** Checks a `task.NewTask` body beyond its schema (queue name, durations, time) and maps it to the engine's input. */
export function newTaskInputFromBody(body: NewTaskJson): NewTaskInput {
  assertQueueName(body.queue);
  assertWellFormed('id', body.id);
  assertWellFormed('kind', body.kind);
  assertWellFormed('concurrency_key', body.concurrency_key);
  assertWellFormed('rate_key', body.rate_key);
  const processingTimeoutNs = durationNsFromBody('processing_timeout', body.processing_timeout);
  if (processingTimeoutNs !== undefined && processingTimeoutNs <= 0) {
    throw errors.badRequest('processing_timeout: must be positive');
  }
  const runAt = orUndefined(body.run_at);
  const runAtMs = runAt === undefined ? undefined : parseRfc3339(runAt);
  // The schema's date-time format lets through what Go refuses, e.g. a leap second.
  if (runAt !== undefined && runAtMs === undefined) {
    throw errors.badRequest(`run_at: not a valid RFC 3339 date-time (got ${JSON.stringify(runAt)})`);
  }
  return {
    queue: body.queue,
    kind: body.kind,
    id: orUndefined(body.id),
    retryTimes: orUndefined(body.retry_times),
    priority: orUndefined(body.priority),
    processingTimeoutNs,
    runAt: runAtMs,
    args: orUndefined(body.args),
    context: orUndefined(body.context),
    concurrencyKey: orUndefined(body.concurrency_key),
    rateKey: orUndefined(body.rate_key),
  };
}

export function tasksRoutes(engine: TaskEngine): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: NewTaskJson }>(
      '/tasques',
      {
        config: { access: 'produce' },
        schema: {
          operationId: 'create-task',
          summary: 'Add a new Task',
          description: 'Creates a queued task. An `id` already used in the queue answers 409.',
          tags: ['tasks'],
          body: Type.Ref(NewTaskSchema),
          response: { 201: Type.Ref(TaskSchema, { description: 'The created task' }), ...errorResponses(400, 401, 409, 413) },
        },
      },
      async (request, reply) => {
        const task = await engine.createTask(newTaskInputFromBody(request.body));
        return reply.code(201).send(taskToJson(task));
      },
    );

    app.get<{ Params: { queue: string; id: string } }>(
      '/tasques/:queue/:id',
      {
        config: { access: 'read' },
        onRequest: checkQueueParam,
        schema: {
          operationId: 'get-existing-task',
          summary: 'Get a Task',
          tags: ['tasks'],
          params: TaskParams,
          response: { 200: Type.Ref(TaskSchema, { description: 'The task' }), ...errorResponses(400, 401, 404) },
        },
      },
      async (request) => taskToJson(await engine.getTask(request.params.queue, request.params.id)),
    );

    app.post<{ Body: ClaimJson }>(
      '/tasques/claims',
      {
        config: { access: 'work' },
        // v1 checks the worker id before it reads the body: onRequest runs before body parsing.
        onRequest: async (request) => {
          workerIdOf(request);
        },
        schema: {
          operationId: 'claim-tasks',
          summary: 'Claims a number of Tasks',
          description:
            'Claims up to `amount` tasks from `queues`, waiting up to `block_for` for some to become claimable. ' +
            'Answers [] when none could be claimed in time. Fewer than `amount` once the answer reaches ' +
            '`tasks.limits.max_answer_bytes` (at least one task); the others stay claimable.',
          tags: ['tasks'],
          headers: WorkerIdHeader,
          body: Type.Ref(ClaimSchema),
          response: { 200: Type.Array(Type.Ref(TaskSchema), { description: 'The claimed tasks; [] if none' }), ...errorResponses(400, 401, 413) },
        },
      },
      async (request, reply) => {
        const workerId = workerIdOf(request);
        const body = request.body;
        for (const queue of body.queues) assertQueueName(queue);
        const blockForNs = durationNsFromBody('block_for', body.block_for);
        // Stop waiting (and give back any claim) if the client goes away mid-poll.
        const abort = new AbortController();
        const onClose = () => abort.abort();
        request.raw.socket.once('close', onClose);
        // Serialized task by task as the engine measures them: the answer stays within max_answer_bytes.
        const answer = new TaskAnswer();
        let tasks: Awaited<ReturnType<typeof engine.claimTasks>>;
        try {
          tasks = await engine.claimTasks({
            queues: [...new Set(body.queues)],
            workerId,
            amount: orUndefined(body.amount),
            blockForMs: blockForNs === undefined ? undefined : blockForNs / 1e6,
            signal: abort.signal,
            sizeOf: answer.sizeOf,
          });
        } finally {
          request.raw.socket.off('close', onClose);
        }
        if (tasks.length > 0) {
          // If the connection drops before the response is fully written, nobody received these claims:
          // give them back now instead of leaving them to the claim-timeout reaper.
          let delivered = false;
          reply.raw.once('finish', () => {
            delivered = true;
          });
          reply.raw.once('close', () => {
            if (!delivered) void engine.releaseClaims(tasks, workerId);
          });
        }
        return reply.type(JSON_CONTENT_TYPE).send(answer.bytes(tasks));
      },
    );

    app.delete<{ Params: { queue: string; id: string } }>(
      '/tasques/claims/:queue/:id',
      {
        config: { access: 'work' },
        onRequest: checkQueueParam,
        schema: {
          operationId: 'unclaim-existing-task',
          summary: 'Unclaims a claimed Task',
          description: 'Gives the task back to its queue without counting the attempt.',
          tags: ['tasks'],
          headers: WorkerIdHeader,
          params: TaskParams,
          response: { 200: Type.Ref(TaskSchema, { description: 'The task' }), ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request) => {
        const { queue, id } = request.params;
        return taskToJson(await engine.unclaim(queue, id, workerIdOf(request)));
      },
    );

    const workerRoutes = [
      {
        path: '/tasques/reports/:queue/:id',
        operationId: 'report-on-claimed-task',
        summary: 'Reports on a claimed Task',
        description: 'Stores the report and pushes the claim timeout to now + processing_timeout.',
        body: NewReportSchema,
        run: (queue: string, id: string, worker: string, body: DataBodyJson) =>
          engine.reportIn(queue, id, worker, orUndefined(body.data)),
      },
      {
        path: '/tasques/done/:queue/:id',
        operationId: 'mark-claimed-task-done',
        summary: 'Marks a claimed Task as done',
        description: 'The task becomes done; `data` is kept as the result.',
        body: SuccessSchema,
        run: (queue: string, id: string, worker: string, body: DataBodyJson) =>
          engine.markDone(queue, id, worker, orUndefined(body.data)),
      },
      {
        path: '/tasques/failed/:queue/:id',
        operationId: 'mark-claimed-task-failed',
        summary: 'Marks a claimed Task as failed',
        description: 'The task is retried after a backoff, or becomes dead when it has no attempts left.',
        body: FailureSchema,
        run: (queue: string, id: string, worker: string, body: DataBodyJson) =>
          engine.markFailed(queue, id, worker, orUndefined(body.data)),
      },
    ];
    for (const route of workerRoutes) {
      app.put<{ Params: { queue: string; id: string }; Body: DataBodyJson }>(
        route.path,
        {
          config: { access: 'work' },
          onRequest: checkQueueParam,
          schema: {
            operationId: route.operationId,
            summary: route.summary,
            description: route.description,
            tags: ['tasks'],
            headers: WorkerIdHeader,
            params: TaskParams,
            body: Type.Ref(route.body),
            response: { 200: Type.Ref(TaskSchema, { description: 'The task' }), ...errorResponses(400, 401, 403, 404, 409, 413) },
          },
        },
        async (request) => {
          const { queue, id } = request.params;
          return taskToJson(await route.run(queue, id, workerIdOf(request), request.body));
        },
      );
    }
  };
}
