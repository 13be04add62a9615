/**
 * The flow-control routes (issue 15, additive to v1; docs/flow-control.md): read, set and remove a
 * queue's limits, and see how they stand (claimed, tokens, throttled keys, tasks waiting on a limit).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { hasLoneSurrogate, MAX_ID_LENGTH } from '../../domain/identifiers.js';
import { formatGoDuration, msToNs, nsToMs, parseGoDuration } from '../../domain/duration.js';
import type { TaskEngine } from '../../engine/task-engine.js';
import { errors } from '../../errors/index.js';
import type { FlowLimit, QueueFlowStatus, QueueLimits, QueueLimitsRecord, RateLimit } from '../../types/index.js';
import {
  DEFAULT_FLOW_KEYS,
  type FlowLimitJson,
  FlowQuery,
  type FlowQueryJson,
  MAX_FLOW_KEYS,
  MAX_RATE_PER_MS,
  MIN_RATE_PER_MS,
  QueueFlowSchema,
  type QueueFlowJson,
  QueueLimitsRecordSchema,
  type QueueLimitsJson,
  type QueueLimitsRecordJson,
  QueueLimitsSchema,
  type RateLimitJson,
} from '../schemas/flow-control.js';
import { errorResponses, QueueName } from '../schemas/tasks.js';
import { checkQueueParam } from './tasks.js';

const QueueParams = Type.Object({ queue: QueueName() });

// ── Wire ↔ domain ───────────────────────────────────────────────────────────────────────────────────

function rateFromJson(field: string, json: RateLimitJson): RateLimit {
  let perMs: number;
  try {
    perMs = nsToMs(parseGoDuration(json.per));
  } catch (e) {
    throw errors.badRequest(`${field}.per: ${(e as Error).message}`);
  }
  if (!(perMs >= MIN_RATE_PER_MS && perMs <= MAX_RATE_PER_MS)) throw errors.badRequest(`${field}.per: must be from 1ms to 24h`);
  return { count: json.count, perMs, burst: json.burst ?? json.count };
}

function limitFromJson(field: string, json: FlowLimitJson): FlowLimit {
  const limit: FlowLimit = {};
  if (json.concurrency !== undefined) limit.concurrency = json.concurrency;
  if (json.rate !== undefined) limit.rate = rateFromJson(`${field}.rate`, json.rate);
  return limit;
}

/**
 * The body of PUT /queues/{queue}/limits (or a queue of `tasks.queue_limits`) as QueueLimits, undefined
 * for `{}` (no limits); the schema has checked shapes and bounds.
 */
export function queueLimitsFromJson(json: QueueLimitsJson): QueueLimits | undefined {
  const limits: QueueLimits = {};
  if (json.queue !== undefined) limits.queue = limitFromJson('queue', json.queue);
  if (json.per_key !== undefined) limits.perKey = limitFromJson('per_key', json.per_key);
  if (json.keys !== undefined) {
    // A null-prototype record: a key named like an Object.prototype member is just a key.
    const keys: Record<string, FlowLimit> = Object.create(null) as Record<string, FlowLimit>;
    for (const [key, limit] of Object.entries(json.keys)) {
      if (key.length === 0 || key.length > MAX_ID_LENGTH) {
        throw errors.badRequest(`keys: a key must be 1 to ${MAX_ID_LENGTH} characters (got ${key.length})`);
      }
      if (hasLoneSurrogate(key)) throw errors.badRequest('keys: a key must not contain a lone UTF-16 surrogate');
      keys[key] = limitFromJson(`keys.${JSON.stringify(key)}`, limit);
    }
    limits.keys = keys;
  }
  const unlimited = limits.queue === undefined && limits.perKey === undefined && limits.keys === undefined;
  return unlimited ? undefined : limits;
}

function rateToJson(rate: RateLimit): RateLimitJson {
  return { count: rate.count, per: formatGoDuration(msToNs(rate.perMs)), burst: rate.burst };
}

function limitToJson(limit: FlowLimit): FlowLimitJson {
  const json: FlowLimitJson = {};
  if (limit.concurrency !== undefined) json.concurrency = limit.concurrency;
  if (limit.rate !== undefined) json.rate = rateToJson(limit.rate);
  return json;
}

export function queueLimitsToJson(limits: QueueLimits | undefined): QueueLimitsJson {
  const json: QueueLimitsJson = {};
  if (limits?.queue !== undefined) json.queue = limitToJson(limits.queue);
  if (limits?.perKey !== undefined) json.per_key = limitToJson(limits.perKey);
  if (limits?.keys !== undefined) {
    json.keys = Object.fromEntries(Object.entries(limits.keys).map(([key, limit]) => [key, limitToJson(limit)]));
  }
  return json;
}

const recordToJson = (queue: string, record: QueueLimitsRecord | undefined): QueueLimitsRecordJson => ({
  queue,
  limits: queueLimitsToJson(record?.limits),
  modified_at: record === undefined ? undefined : new Date(record.modifiedAt).toISOString(),
});

const flowToJson = (status: QueueFlowStatus, limits: QueueLimits | undefined): QueueFlowJson => ({
  queue: status.queue,
  limits: queueLimitsToJson(limits),
  claimed: status.claimed,
  tokens: status.tokens,
  throttled_keys: status.throttledKeys.map((k) => ({ key: k.key, claimed: k.claimed, waiting: k.waiting, reason: k.reason })),
  waiting_on_limit: status.waitingOnLimit,
});

function parseKeys(value: string | undefined): number {
  if (value === undefined) return DEFAULT_FLOW_KEYS;
  const keys = /^\d{1,7}$/.test(value) ? Number(value) : Number.NaN;
  if (!(keys >= 0 && keys <= MAX_FLOW_KEYS)) {
    throw errors.badRequest(`keys: must be an integer from 0 to ${MAX_FLOW_KEYS} (got ${JSON.stringify(value)})`);
  }
  return keys;
}

// ── Routes ──────────────────────────────────────────────────────────────────────────────────────────

export function flowControlRoutes(engine: TaskEngine): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { queue: string } }>(
      '/queues/:queue/limits',
      {
        config: { access: 'read' },
        preValidation: checkQueueParam,
        schema: {
          operationId: 'get-queue-limits',
          summary: "A queue's flow-control limits",
          description: '`limits` is `{}` for a queue without limits.',
          tags: ['operator'],
          params: QueueParams,
          response: { 200: Type.Ref(QueueLimitsRecordSchema), ...errorResponses(400, 401) },
        },
      },
      async (request) => recordToJson(request.params.queue, await engine.queueLimits(request.params.queue)),
    );

    app.put<{ Params: { queue: string }; Body: QueueLimitsJson }>(
      '/queues/:queue/limits',
      {
        config: { access: 'operate' },
        preValidation: checkQueueParam,
        schema: {
          operationId: 'set-queue-limits',
          summary: "Set a queue's flow-control limits",
          description:
            'Replaces the queue\'s limits whole; every claim from then on, on every server, honours them. `{}` ' +
            'leaves the queue unlimited. See docs/flow-control.md.',
          tags: ['operator'],
          params: QueueParams,
          body: Type.Ref(QueueLimitsSchema),
          response: { 200: Type.Ref(QueueLimitsRecordSchema), ...errorResponses(400, 401, 413) },
        },
      },
      async (request) => {
        const record = await engine.setQueueLimits(request.params.queue, queueLimitsFromJson(request.body));
        return recordToJson(request.params.queue, record);
      },
    );

    app.delete<{ Params: { queue: string } }>(
      '/queues/:queue/limits',
      {
        config: { access: 'operate' },
        preValidation: checkQueueParam,
        schema: {
          operationId: 'delete-queue-limits',
          summary: "Remove a queue's flow-control limits",
          description: 'The queue is unlimited again. Idempotent.',
          tags: ['operator'],
          params: QueueParams,
          response: { 200: Type.Ref(QueueLimitsRecordSchema), ...errorResponses(400, 401) },
        },
      },
      async (request) => recordToJson(request.params.queue, await engine.setQueueLimits(request.params.queue, undefined)),
    );

    app.get<{ Params: { queue: string }; Querystring: FlowQueryJson }>(
      '/queues/:queue/flow',
      {
        config: { access: 'read' },
        preValidation: checkQueueParam,
        schema: {
          operationId: 'get-queue-flow',
          summary: "How a queue's limits stand",
          description:
            'Tasks claimed now, tokens left, the keys held back by a limit (most waiting first) and how many ' +
            'claimable tasks wait on a limit.',
          tags: ['operator'],
          params: QueueParams,
          querystring: FlowQuery,
          response: { 200: Type.Ref(QueueFlowSchema), ...errorResponses(400, 401) },
        },
      },
      async (request) => {
        const queue = request.params.queue;
        const keys = parseKeys(request.query.keys);
        const [status, record] = await Promise.all([engine.queueFlow(queue, keys), engine.queueLimits(queue)]);
        return flowToJson(status, record?.limits);
      },
    );
  };
}
