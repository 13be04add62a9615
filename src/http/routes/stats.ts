/**
 * `GET /stats/series`: the dashboard's charts (docs/design/queue-series.md), from the activity every
 * server records and the leader's depth samples, so it works on every store and across servers.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { type SeriesFigures, SERIES_WINDOWS, type SeriesWindow, type TaskEngine } from '../../engine/task-engine.js';
import { errors } from '../../errors/index.js';
import { type SeriesJson, SeriesQuery, type SeriesQueryJson, SeriesSchema } from '../schemas/stats.js';
import { errorResponses } from '../schemas/tasks.js';
import { assertQueueName } from './tasks.js';

type FiguresJson = SeriesJson['overall'];

const seconds = (ms: number | null): number | null => (ms === null ? null : ms / 1000);

function figuresToJson(f: SeriesFigures): FiguresJson {
  return {
    created: f.created,
    claimed: f.claimed,
    done: f.done,
    failed: f.failed,
    dead: f.dead,
    claim_wait_p50_ms: f.claimWaitP50Ms,
    claim_wait_p95_ms: f.claimWaitP95Ms,
    claim_wait_p99_ms: f.claimWaitP99Ms,
    claimable: f.claimable,
    scheduled: f.scheduled,
    claimed_now: f.claimedNow,
    oldest_age_seconds: f.oldestAgeMs.map(seconds),
  };
}

function parseSeriesWindow(value: string | undefined): SeriesWindow {
  const window = value ?? '1h';
  if (!Object.hasOwn(SERIES_WINDOWS, window)) {
    throw errors.badRequest(`window: must be one of ${Object.keys(SERIES_WINDOWS).join(', ')} (got ${JSON.stringify(window)})`);
  }
  return window as SeriesWindow;
}

export function statsRoutes(engine: TaskEngine): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: SeriesQueryJson }>(
      '/stats/series',
      {
        config: { access: 'read' },
        schema: {
          operationId: 'get-queue-series',
          summary: 'Activity and depth over time, for charts',
          description:
            'Tasks created, claimed, done, failed and dead per interval, claim-wait percentiles, and queue depth and oldest age sampled once a minute; over the last hour (1-minute intervals) or day (15-minute intervals), overall and for the busiest queues. Counted by every server, so figures cover the whole cluster; the current interval is partial and fills within ~10 s.',
          tags: ['operator'],
          querystring: SeriesQuery,
          response: { 200: Type.Ref(SeriesSchema), ...errorResponses(400, 401) },
        },
      },
      async (request): Promise<SeriesJson> => {
        const window = parseSeriesWindow(request.query.window);
        const { queue } = request.query;
        if (queue !== undefined) assertQueueName(queue);
        const view = await engine.queueSeries(window, queue);
        return {
          window: view.window,
          interval_seconds: view.bucketMs / 1000,
          times: view.times.map((t) => Math.floor(t / 1000)),
          overall: figuresToJson(view.overall),
          queues: view.queues.map((q) => ({ queue: q.queue, ...figuresToJson(q) })),
          queues_total: view.queuesTotal,
        };
      },
    );
  };
}
