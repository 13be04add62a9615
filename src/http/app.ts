/**
 * Builds the Fastify application from an engine and settings, without listening, so that tests can
 * `inject()` and the composition root can `listen()`.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions, LogController } from 'fastify';
import { isGoDuration } from '../domain/duration.js';
import { MAX_PATH_PARAM_LENGTH } from '../domain/identifiers.js';
import type { TaskEngine } from '../engine/task-engine.js';
import { ERROR_CODES, errors } from '../errors/index.js';
import { dashboardRoutes } from './dashboard.js';
import { type BasicAuthUser, isProtectedPath, registerBasicAuth } from './plugins/auth.js';
import { registerErrorHandling, trackRouteMethods } from './plugins/errors.js';
import { archivedRoutes } from './routes/archived.js';
import { batchRoutes } from './routes/batch.js';
import { flowControlRoutes } from './routes/flow-control.js';
import { operatorRoutes } from './routes/operator.js';
import { recurringRoutes } from './routes/recurring.js';
import {
  BatchItemResultSchema,
  BatchResultSchema,
  DoneBatchSchema,
  DoneItemSchema,
  NewTaskBatchSchema,
} from './schemas/batch.js';
import {
  CancelSchema,
  QueueStateSchema,
  QueueStatsListSchema,
  QueueStatsSchema,
  RecurringTaskScheduleSchema,
  ScheduleSchema,
  TaskPageSchema,
} from './schemas/operator.js';
import {
  FlowLimitSchema,
  ListedTaskSchema,
  QueueFlowSchema,
  QueueLimitsRecordSchema,
  QueueLimitsSchema,
  RateLimitSchema,
  ThrottledKeySchema,
} from './schemas/flow-control.js';
import { tasksRoutes } from './routes/tasks.js';
import {
  NewRecurringTaskSchema,
  RecurringTaskSchema,
  RecurringTaskUpdateSchema,
  TaskDefinitionInputSchema,
  TaskDefinitionSchema,
} from './schemas/recurring.js';
import {
  ClaimSchema,
  ErrorBody,
  FailureSchema,
  LastClaimedSchema,
  Metadata,
  NewReportSchema,
  NewTaskSchema,
  SuccessSchema,
  TaskReportSchema,
  TaskResultSchema,
  TaskSchema,
  Version,
} from './schemas/tasks.js';

export interface AppOptions {
  engine: TaskEngine;
  bodyLimitBytes: number;
  /** Longest time to receive a whole request (408 beyond); 0 for none. */
  requestTimeoutMs?: number;
  /** Longest time to receive the request headers. */
  headersTimeoutMs?: number;
  basicAuthUsers?: readonly BasicAuthUser[];
  logger?: FastifyServerOptions['logger'];
  /** The package version, shown in the OpenAPI document. */
  version: string;
  /**
   * Applied to the bare app before anything else (src/observability/http-observability.ts): request ids,
   * request metrics and spans, and the /healthz, /readyz and /metrics routes.
   */
  observability?: ((app: FastifyInstance) => void) | undefined;
}

/** Shared component schemas, in dependency order; they become `components.schemas` in openapi.json. */
const COMPONENT_SCHEMAS = [
  ErrorBody,
  Version,
  Metadata,
  TaskReportSchema,
  TaskResultSchema,
  LastClaimedSchema,
  TaskSchema,
  NewTaskSchema,
  ClaimSchema,
  NewReportSchema,
  SuccessSchema,
  FailureSchema,
  TaskDefinitionInputSchema,
  TaskDefinitionSchema,
  NewRecurringTaskSchema,
  RecurringTaskUpdateSchema,
  RecurringTaskSchema,
  NewTaskBatchSchema,
  DoneItemSchema,
  DoneBatchSchema,
  BatchItemResultSchema,
  BatchResultSchema,
  ListedTaskSchema,
  TaskPageSchema,
  QueueStatsSchema,
  QueueStatsListSchema,
  QueueStateSchema,
  CancelSchema,
  RecurringTaskScheduleSchema,
  ScheduleSchema,
  RateLimitSchema,
  FlowLimitSchema,
  QueueLimitsSchema,
  QueueLimitsRecordSchema,
  ThrottledKeySchema,
  QueueFlowSchema,
];

/** Request bodies may nest objects and arrays this deep at most. */
export const MAX_JSON_DEPTH = 512;

/** Whether `value` nests objects/arrays more than `max` levels deep (iterative: no recursion to overflow). */
function jsonDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}


export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimitBytes,
    requestTimeout: options.requestTimeoutMs ?? 0,
    // Node checks the two timeouts on an interval (30 s by default), which would stretch a short one.
    http: {
      ...(options.headersTimeoutMs === undefined ? {} : { headersTimeout: options.headersTimeoutMs }),
      connectionsCheckingInterval: Math.max(10, Math.min(1000, (options.headersTimeoutMs ?? 60_000) / 4)),
    },
    // Fastify's default (100) refused ids and queue names that create accepts.
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    // One log line per request costs ~10% of throughput; errors are still logged.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    // Malformed URLs (e.g. bad percent-encoding) get the same {message, code} body as every other error.
    frameworkErrors: (error, _request, reply) => {
      void (reply as FastifyReply)
        .code(ERROR_CODES.BAD_REQUEST.status)
        .send({ message: error.message, code: ERROR_CODES.BAD_REQUEST.code });
    },
    ajv: {
      customOptions: {
        // JSON bodies are taken as sent: a number is not a duration string, a string is not a number.
        coerceTypes: false,
        verbose: true, // keeps the failing schema on errors, for messages that name what was expected
        formats: { 'go-duration': { type: 'string', validate: isGoDuration } },
      },
    },
  });

  // v1 parsed every body as JSON whatever its Content-Type (curl -d sends form-urlencoded), text/plain included.
  // An empty body is no body: the v1 Go client sends Content-Type: application/json on a body-less DELETE.
  // Routes that need a body still answer 400 through their schema.
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser(['application/json', '*'], { parseAs: 'string' }, (_request, text, done) => {
    const raw = text as string;
    if (raw.length === 0) {
      done(null, undefined);
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (e) {
      done(e as Error, undefined);
      return;
    }
    // Deeper JSON would overflow the stack where it is serialized (the store), giving a 500. Nesting d
    // levels takes at least 2d characters, so only long bodies need the walk.
    if (raw.length > 2 * MAX_JSON_DEPTH && jsonDeeperThan(body, MAX_JSON_DEPTH)) {
      done(errors.badRequest(`body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      return;
    }
    done(null, body);
  });

  const methodsOf = trackRouteMethods(app); // first, to see every route
  options.observability?.(app);
  registerErrorHandling(app, methodsOf);
  registerBasicAuth(app, options.basicAuthUsers ?? []);
  for (const schema of COMPONENT_SCHEMAS) app.addSchema(schema);
  // The routes behind the optional basic auth say so in the OpenAPI document; `{}` is the alternative
  // of no credentials, for a server without users.
  app.addHook('onRoute', (route) => {
    if (route.schema && !route.schema.hide && isProtectedPath(route.url)) {
      route.schema = { ...route.schema, security: [{ basicAuth: [] }, {}] };
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tasques',
        description:
          'Background-task queues with language-agnostic workers. Wire-compatible with the Tasques v1 API.',
        version: options.version,
        license: { name: 'MIT' },
      },
      components: { securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' } } },
      tags: [
        { name: 'tasks', description: 'Enqueue, claim and complete tasks' },
        { name: 'recurring-tasks', description: 'Tasks enqueued on a schedule' },
        { name: 'batch', description: 'Many tasks per call (additive to v1), for throughput' },
        { name: 'operator', description: 'Listing, queue statistics and operator actions (additive to v1)' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/swagger' });
  await app.register(dashboardRoutes()); // the web dashboard at /dashboard/ (and / redirects there)
  const document = () => app.swagger();
  app.get('/openapi.json', { schema: { hide: true } }, async () => document());
  app.get('/swagger/doc.json', { schema: { hide: true } }, async () => document());
  app.get('/swagger/index.html', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/swagger/'));

  await app.register(tasksRoutes(options.engine));
  await app.register(archivedRoutes(options.engine));
  await app.register(batchRoutes(options.engine));
  await app.register(recurringRoutes(options.engine));
  await app.register(operatorRoutes(options.engine));
  await app.register(flowControlRoutes(options.engine));
  return app;
}
