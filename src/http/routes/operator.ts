/**
 * The operator routes (additive to v1; docs/design/operator-api.md): list tasks, queue statistics,
 * pause/resume, retry a dead task, cancel a waiting one, and the recurring schedule. The dashboard uses
 * nothing else (besides the v1 routes).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { formatGoDuration, msToNs, nsToMs, parseGoDuration } from '../../domain/duration.js';
import type { TaskEngine, TaskListInput } from '../../engine/task-engine.js';
import { MAX_TASK_LIST_LIMIT } from '../../engine/task-engine.js';
import { parseRfc3339 } from '../../domain/time.js';
import { errors } from '../../errors/index.js';
import { TASK_STATES, type QueueState, type QueueStats, type TaskListCursor, type TaskState } from '../../types/index.js';
import { JSON_CONTENT_TYPE, TaskAnswer } from '../answer-json.js';
import { cancellationToJson, listedTaskToJson, taskToJson } from '../mappers.js';
import {
  type CancelJson,
  CancelSchema,
  DEFAULT_STATS_WINDOW,
  DEFAULT_TASK_LIST_LIMIT,
  MAX_STATS_WINDOW_MS,
  ListedTaskSchema,
  type QueueStateJson,
  QueueStateSchema,
  type QueueStatsJson,
  QueueStatsListSchema,
  QueueStatsSchema,
  type ScheduleJson,
  ScheduleSchema,
  type TaskErrorsJson,
  TaskErrorsSchema,
  TaskListQuery,
  type TaskListQueryJson,
  TaskPageSchema,
  WindowQuery,
  type WindowQueryJson,
} from '../schemas/operator.js';
import { errorResponses, QueueName, TaskParams, TaskSchema } from '../schemas/tasks.js';
import { assertQueueName, checkQueueParam } from './tasks.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/** The opaque `next_cursor`: base64url of [createdAt, queue, id]. */
export function encodeCursor(cursor: TaskListCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.queue, cursor.id])).toString('base64url');
}

export function decodeCursor(text: string): TaskListCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    !Number.isSafeInteger(parsed[0]) ||
    typeof parsed[1] !== 'string' ||
    typeof parsed[2] !== 'string'
  ) {
    throw errors.badRequest('cursor: not a cursor this server handed out (pass next_cursor back unchanged)');
  }
  return { createdAt: parsed[0] as number, queue: parsed[1], id: parsed[2] };
}

function parseTime(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseRfc3339(value);
  if (ms === undefined) throw errors.badRequest(`${name}: not an RFC 3339 date-time such as "2026-01-02T15:04:05Z"`);
  return ms;
}

function parseStates(value: string | undefined): TaskState[] | undefined {
  if (value === undefined || value === '') return undefined;
  const states = value.split(',').map((s) => s.trim());
  for (const state of states) {
    if (!(TASK_STATES as readonly string[]).includes(state)) {
      throw errors.badRequest(`state: unknown state "${state}" (expected ${TASK_STATES.join(', ')})`);
    }
  }
  return states as TaskState[];
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) return DEFAULT_TASK_LIST_LIMIT;
  const limit = /^\d{1,7}$/.test(value) ? Number(value) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_TASK_LIST_LIMIT)) {
    throw errors.badRequest(`limit: must be an integer from 1 to ${MAX_TASK_LIST_LIMIT} (got ${JSON.stringify(value)})`);
  }
  return limit;
}

/** The statistics window in ms, from a Go duration up to 24h. */
function parseWindow(value: string | undefined): number {
  const text = value ?? DEFAULT_STATS_WINDOW;
  let ms: number;
  try {
    ms = nsToMs(parseGoDuration(text));
  } catch (e) {
    throw errors.badRequest(`window: ${(e as Error).message}`);
  }
  if (!(ms >= 1 && ms <= MAX_STATS_WINDOW_MS)) throw errors.badRequest('window: must be from 1ms to 24h');
  return ms;
}

export function taskListInputFromQuery(query: TaskListQueryJson): TaskListInput {
  if (query.queue !== undefined) assertQueueName(query.queue);
  return {
    queue: query.queue,
    states: parseStates(query.state),
    kind: query.kind,
    recurringTaskId: query.recurring_task_id,
    createdFrom: parseTime('created_after', query.created_after),
    createdTo: parseTime('created_before', query.created_before),
    prefix: query.prefix === '' ? undefined : query.prefix,
    scheduled: query.scheduled === undefined ? undefined : query.scheduled === 'true',
    limit: parseLimit(query.limit),
    after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
  };
}

export function queueStatsToJson(stats: QueueStats, now: number): QueueStatsJson {
  const oldest = stats.oldestClaimableRunAt;
  return {
    queue: stats.queue,
    paused: stats.paused,
    counts: { ...stats.counts },
    scheduled: stats.scheduled,
    oldest_claimable_run_at: oldest === undefined ? undefined : iso(oldest),
    oldest_claimable_age_seconds: oldest === undefined ? undefined : Math.max(0, now - oldest) / 1000,
    recent: {
      window: formatGoDuration(msToNs(stats.recent.windowMs)),
      created: stats.recent.created,
      done: stats.recent.done,
      dead: stats.recent.dead,
    },
  };
}

const queueStateToJson = (state: QueueState): QueueStateJson => ({
  queue: state.queue,
  paused: state.paused,
  modified_at: iso(state.modifiedAt),
});

const QueueParams = Type.Object({ queue: QueueName() });

export interface OperatorRouteOptions {
  /** Whether users are configured: then a cancellation records the authenticated user, not the body's `by`. */
  authConfigured: boolean;
}

/** Recorded as `by` when nobody says who cancels. */
export const DEFAULT_CANCELLED_BY = 'operator';

/**
 * Who cancels: with auth configured, the authenticated identity (the auth hook has already checked the
 * credentials): `request.identity` where the auth sets one (basic users and bearer tokens alike), else
 * the basic-auth user name; without auth, the request's `by`, else "operator".
 */
function cancelledBy(request: FastifyRequest<{ Body: CancelJson | undefined }>, authConfigured: boolean): string {
  // Read structurally: the roles work declares `identity` on the request.
  const identity = (request as { identity?: { name?: unknown } }).identity;
  if (typeof identity?.name === 'string' && identity.name !== '') return identity.name;
  if (authConfigured) {
    const match = /^Basic\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    if (match) {
      const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
      const name = decoded.slice(0, Math.max(0, decoded.indexOf(':')));
      if (name !== '') return name;
    }
    return DEFAULT_CANCELLED_BY;
  }
  return request.body?.by ?? DEFAULT_CANCELLED_BY;
}

export function operatorRoutes(engine: TaskEngine, options: OperatorRouteOptions = { authConfigured: false }): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: TaskListQueryJson }>(
      '/tasques',
      {
        config: { access: 'read' },
        schema: {
          operationId: 'list-tasks',
          summary: 'List and search tasks',
          description:
            'Live tasks (not archived) matching every given filter, newest first, one page at a time. ' +
            'Pass `next_cursor` back as `cursor` for the next page.',
          tags: ['operator'],
          querystring: TaskListQuery,
          response: { 200: Type.Ref(TaskPageSchema), ...errorResponses(400, 401) },
        },
      },
      async (request, reply) => {
        // Serialized task by task as the engine measures them: the page stays within max_answer_bytes.
        const answer = new TaskAnswer(listedTaskToJson);
        const page = await engine.listTasks(taskListInputFromQuery(request.query), answer.sizeOf);
        const cursor = page.next === undefined ? '' : `,"next_cursor":${JSON.stringify(encodeCursor(page.next))}`;
        return reply.type(JSON_CONTENT_TYPE).send(answer.bytes(page.tasks, '{"tasks":', `${cursor}}`));
      },
    );

    app.get<{ Querystring: WindowQueryJson }>(
      '/queues',
      {
        config: { access: 'read' },
        schema: {
          operationId: 'list-queue-stats',
          summary: 'Statistics of every queue',
          description: 'Every queue that has live tasks or was ever paused, sorted by name.',
          tags: ['operator'],
          querystring: WindowQuery,
          response: { 200: Type.Ref(QueueStatsListSchema), ...errorResponses(400, 401) },
        },
      },
      async (request) => {
        const { at, queues } = await engine.queueStats(undefined, parseWindow(request.query.window));
        return { queues: queues.map((s) => queueStatsToJson(s, at)) };
      },
    );

    app.get<{ Params: { queue: string }; Querystring: WindowQueryJson }>(
      '/queues/:queue',
      {
        config: { access: 'read' },
        preValidation: checkQueueParam,
        schema: {
          operationId: 'get-queue-stats',
          summary: 'Statistics of one queue',
          description: 'Zero counts for a queue without tasks.',
          tags: ['operator'],
          params: QueueParams,
          querystring: WindowQuery,
          response: { 200: Type.Ref(QueueStatsSchema), ...errorResponses(400, 401) },
        },
      },
      async (request) => {
        const queue = request.params.queue;
        const { at, queues } = await engine.queueStats([queue], parseWindow(request.query.window));
        // The store answers every queue it is asked about, with zero counts when it has no tasks.
        const [stats] = queues;
        if (stats === undefined) throw new Error(`the store answered no statistics for queue ${queue}`);
        return queueStatsToJson(stats, at);
      },
    );

    for (const action of ['pause', 'resume'] as const) {
      app.put<{ Params: { queue: string } }>(
        `/queues/:queue/${action}`,
        {
          config: { access: 'operate' },
          preValidation: checkQueueParam,
          schema: {
            operationId: `${action}-queue`,
            summary: action === 'pause' ? 'Pause a queue' : 'Resume a paused queue',
            description:
              action === 'pause'
                ? 'A paused queue hands out no claims (long polls on it wait). Enqueueing, report-in, done and ' +
                  'failed keep working. Idempotent; a queue without tasks can be paused ahead of time.'
                : 'Its tasks are claimable again; long polls on this server wake at once.',
            tags: ['operator'],
            params: QueueParams,
            response: { 200: Type.Ref(QueueStateSchema), ...errorResponses(400, 401) },
          },
        },
        async (request) => queueStateToJson(await engine.setQueuePaused(request.params.queue, action === 'pause')),
      );
    }

    app.put<{ Params: { queue: string; id: string } }>(
      '/tasques/retry/:queue/:id',
      {
        config: { access: 'operate' },
        preValidation: checkQueueParam,
        schema: {
          operationId: 'retry-dead-task',
          summary: 'Retry a dead Task',
          description:
            'The task becomes queued at once with a fresh set of attempts (attempted = 0); last_claimed is kept ' +
            'until the next claim. 409 if the task is not dead.',
          tags: ['operator'],
          params: TaskParams,
          response: { 200: Type.Ref(TaskSchema, { description: 'The queued task' }), ...errorResponses(400, 401, 404, 409) },
        },
      },
      async (request) => taskToJson(await engine.retryTask(request.params.queue, request.params.id)),
    );

    app.put<{ Params: { queue: string; id: string }; Body: CancelJson | undefined }>(
      '/tasques/cancel/:queue/:id',
      {
        config: { access: 'operate' },
        preValidation: checkQueueParam,
        schema: {
          // The operation id predates cancelling claimed tasks; kept so generated clients keep their method.
          operationId: 'cancel-waiting-task',
          summary: 'Cancel a queued, claimed or failed Task',
          description:
            'The task becomes dead at once, with a cancellation record (who, when, why) shown by the operator routes. ' +
            'A claimed task\'s claim ends: its worker\'s next report-in, done or failed gets 400 with code ' +
            'TQ_ERR_TASK_CANCELLED (v1\'s "not claimed" answer). A task that was ever claimed also gets ' +
            'last_claimed.result.failure = {"cancelled": true, "reason": …} for v1 readers. A done or dead task answers 409. ' +
            'The body is optional.',
          tags: ['operator'],
          params: TaskParams,
          body: Type.Union([Type.Ref(CancelSchema), Type.Null()]),
          response: { 200: Type.Ref(ListedTaskSchema, { description: 'The dead task' }), ...errorResponses(400, 401, 404, 409) },
        },
      },
      async (request) => {
        const by = cancelledBy(request, options.authConfigured);
        return listedTaskToJson(await engine.cancelTask(request.params.queue, request.params.id, by, request.body?.reason ?? undefined));
      },
    );

    app.get<{ Params: { queue: string; id: string } }>(
      '/tasques/errors/:queue/:id',
      {
        preValidation: checkQueueParam,
        config: { access: 'read' },
        schema: {
          operationId: 'get-task-errors',
          summary: 'The error history of a Task',
          description:
            'Its last failed attempts (tasks.error_history.keep, default 10), oldest first, each with time, worker id and ' +
            'failure data; claim timeouts included. Archived tasks too (when the live store has none with this id). ' +
            'Also the cancellation, when an operator cancelled it.',
          tags: ['operator'],
          params: TaskParams,
          response: { 200: Type.Ref(TaskErrorsSchema), ...errorResponses(400, 401, 404) },
        },
      },
      async (request): Promise<TaskErrorsJson> => {
        const { task, archived } = await engine.taskErrors(request.params.queue, request.params.id);
        return {
          queue: task.queue,
          id: task.id,
          state: task.state,
          archived,
          errors: (task.errorHistory ?? []).map((r) => ({
            at: iso(r.at),
            attempt: r.attempt,
            worker_id: r.workerId,
            failure: r.failure,
            timed_out: r.timedOut,
          })),
          cancellation: task.cancellation && cancellationToJson(task.cancellation),
        };
      },
    );

    app.get(
      '/schedule',
      {
        config: { access: 'read' },
        schema: {
          operationId: 'get-recurring-schedule',
          summary: 'When each recurring task fires next',
          description: 'Every recurring task (not deleted) with its next fire time and the last tick the leader handled.',
          tags: ['operator'],
          response: { 200: Type.Ref(ScheduleSchema), ...errorResponses(401) },
        },
      },
      async (): Promise<ScheduleJson> => {
        const schedules = await engine.listSchedules();
        return {
          recurring_tasks: schedules.map(({ task, nextRunAt, nextRunTimes, lastTickAt }) => {
            const paused = task.pausedAt !== undefined;
            return {
              id: task.id,
              schedule_expression: task.scheduleExpression,
              skip_if_outstanding_tasks_exist: task.skipIfOutstandingTasksExist,
              queue: task.taskDefinition.queue,
              kind: task.taskDefinition.kind,
              next_run_at: nextRunAt === undefined || paused ? undefined : iso(nextRunAt),
              last_tick_at: lastTickAt === undefined ? undefined : iso(lastTickAt),
              paused,
              paused_at: task.pausedAt === undefined ? undefined : iso(task.pausedAt),
              next_run_times: paused ? [] : nextRunTimes.map(iso),
            };
          }),
        };
      },
    );
  };
}
