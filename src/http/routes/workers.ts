/** `GET /workers` (issue 16): who holds claims now, and who was seen lately. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { nsToMs, parseGoDuration } from '../../domain/duration.js';
import type { TaskEngine } from '../../engine/task-engine.js';
import { errors } from '../../errors/index.js';
import { errorResponses } from '../schemas/tasks.js';
import {
  DEFAULT_WORKERS_LIMIT,
  DEFAULT_WORKERS_WINDOW,
  MAX_WORKERS_LIMIT,
  type WorkersJson,
  WorkersQuery,
  type WorkersQueryJson,
  WorkersSchema,
} from '../schemas/workers.js';

const iso = (ms: number): string => new Date(ms).toISOString();
const MAX_WINDOW_MS = 24 * 3600_000;

function parseLimit(value: string | undefined): number {
  if (value === undefined) return DEFAULT_WORKERS_LIMIT;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !(n >= 1 && n <= MAX_WORKERS_LIMIT)) {
    throw errors.badRequest(`limit: must be an integer from 1 to ${MAX_WORKERS_LIMIT}`);
  }
  return n;
}

function parseWindow(value: string | undefined): number {
  let ms: number;
  try {
    ms = nsToMs(parseGoDuration(value ?? DEFAULT_WORKERS_WINDOW));
  } catch (e) {
    throw errors.badRequest(`window: ${(e as Error).message}`);
  }
  if (!(ms >= 1 && ms <= MAX_WINDOW_MS)) throw errors.badRequest('window: must be from 1ms to 24h');
  return ms;
}

export function workersRoutes(engine: TaskEngine): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: WorkersQueryJson }>(
      '/workers',
      {
        config: { access: 'read' },
        schema: {
          operationId: 'list-workers',
          summary: 'Who is working: workers holding claims, and workers seen lately',
          description:
            '`holding` is computed from the CLAIMED tasks (exact at the time of the call). `recent` comes from ' +
            'what each server saw (claims, report-ins, done, failed, unclaim), written to the store every 15 s ' +
            'and kept for a day: a worker shows there within ~15 s on other servers, at once on the one it called.',
          tags: ['operator'],
          querystring: WorkersQuery,
          response: { 200: Type.Ref(WorkersSchema), ...errorResponses(400, 401) },
        },
      },
      async (request): Promise<WorkersJson> => {
        const limit = parseLimit(request.query.limit);
        const windowMs = parseWindow(request.query.window);
        const { holding, recent } = await engine.listWorkers(limit, engine.now() - windowMs);
        return {
          holding: holding.workers.map((w) => ({
            worker_id: w.workerId,
            queues: w.queues,
            claimed: w.claimed,
            claimed_since: iso(w.oldestClaimedAt),
            last_report_at: w.lastReportAt === undefined ? undefined : iso(w.lastReportAt),
          })),
          holding_count: holding.workerCount,
          holding_complete: holding.complete,
          recent: recent.map((w) => ({ worker_id: w.workerId, last_seen_at: iso(w.lastSeenAt), queues: w.queues })),
        };
      },
    );
  };
}
