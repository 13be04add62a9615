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
import { dashboardRoutes, TASQUES_LOGO_SVG } from './dashboard.js';
import { type AuthSettings, authConfigured, isProtectedRoute, registerAuth, trackRouteAccess } from './plugins/auth.js';
import { registerErrorHandling, trackRouteMethods } from './plugins/errors.js';
import { archivedRoutes } from './routes/archived.js';
import { identityRoutes } from './routes/identity.js';
import { batchRoutes } from './routes/batch.js';
import { flowControlRoutes } from './routes/flow-control.js';
import { operatorRoutes } from './routes/operator.js';
import { RecurringTaskStateSchema } from './schemas/recurring-control.js';
import { recurringRoutes } from './routes/recurring.js';
import { statsRoutes } from './routes/stats.js';
import { QueueSeriesSchema, SeriesSchema } from './schemas/stats.js';
import { recurringControlRoutes } from './routes/recurring-control.js';
import { workersRoutes } from './routes/workers.js';
import { operationsRoutes } from './routes/operations.js';
import { NewOperationSchema, OperationCountSchema, OperationFilterSchema, OperationListSchema, OperationSchema } from './schemas/operations.js';
import { WorkerClaimsSchema, WorkerSightingSchema, WorkersSchema } from './schemas/workers.js';
import {
  BatchItemResultSchema,
  BatchResultSchema,
  DoneBatchSchema,
  DoneItemSchema,
  NewTaskBatchSchema,
} from './schemas/batch.js';
import {
  CancellationSchema,
  CancelSchema,
  FailedAttemptSchema,
  ListedTaskSchema,
  QueueStateSchema,
  QueueStatsListSchema,
  QueueStatsSchema,
  RecurringTaskScheduleSchema,
  ScheduleSchema,
  TaskErrorsSchema,
  TaskPageSchema,
} from './schemas/operator.js';
import {
  FlowLimitSchema,
  QueueFlowSchema,
  QueueLimitsRecordSchema,
  QueueLimitsSchema,
  RateLimitSchema,
  ThrottledKeySchema,
} from './schemas/flow-control.js';
import { tasksRoutes } from './routes/tasks.js';
import { registerLargePayloadGc } from './large-payload-gc.js';
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
  /** Basic-auth users and bearer tokens; none: every route is open (v1 without `auth.basic_auth`). */
  auth?: AuthSettings;
  /**
   * Without auth, still describe both schemes as optional in the OpenAPI document: the committed
   * openapi.json (src/server/openapi.ts), from which clients are generated. A served document says what
   * this server requires.
   */
  documentOptionalAuth?: boolean;
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
  CancellationSchema,
  ListedTaskSchema,
  TaskPageSchema,
  FailedAttemptSchema,
  TaskErrorsSchema,
  RecurringTaskStateSchema,
  WorkerClaimsSchema,
  WorkerSightingSchema,
  WorkersSchema,
  OperationFilterSchema,
  NewOperationSchema,
  OperationCountSchema,
  OperationSchema,
  OperationListSchema,
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
  QueueSeriesSchema,
  SeriesSchema,
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
  trackRouteAccess(app);
  options.observability?.(app);
  registerErrorHandling(app, methodsOf);
  registerAuth(app, options.auth ?? {});
  registerLargePayloadGc(app);
  for (const schema of COMPONENT_SCHEMAS) app.addSchema(schema);
  // With auth on, the routes behind it say so in the OpenAPI document, and its schemes make the Swagger
  // UI show its Authorize button. Without auth there is neither, except in the committed openapi.json,
  // which describes both schemes as optional (`{}` is the alternative of no credentials) so that
  // generated clients can send credentials.
  const withAuth = authConfigured(options.auth);
  const schemes = openApiSecuritySchemes(withAuth ? (options.auth ?? {}) : ALL_SCHEMES);
  const documentAuth = withAuth || options.documentOptionalAuth === true;
  const security = [...Object.keys(schemes).map((name) => ({ [name]: [] })), ...(withAuth ? [] : [{}])];
  app.addHook('onRoute', (route) => {
    if (documentAuth && route.schema && !route.schema.hide && isProtectedRoute(route.url, route.config)) {
      route.schema = { ...route.schema, security };
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
      ...(documentAuth ? { components: { securitySchemes: schemes } } : {}),
      tags: [
        { name: 'tasks', description: 'Enqueue, claim and complete tasks' },
        { name: 'recurring-tasks', description: 'Tasks enqueued on a schedule' },
        { name: 'batch', description: 'Many tasks per call (additive to v1), for throughput' },
        { name: 'operator', description: 'Listing, queue statistics and operator actions (additive to v1)' },
        { name: 'auth', description: 'The caller\'s identity and role (additive to v1)' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, {
    routePrefix: '/swagger',
    // The project's name and mark, not the framework's; the logo links back to the dashboard.
    theme: {
      title: 'Tasques API',
      favicon: [{ filename: 'favicon.svg', rel: 'icon', type: 'image/svg+xml', sizes: 'any', content: TASQUES_LOGO_SVG }],
    },
    logo: { type: 'image/svg+xml', content: TASQUES_LOGO_SVG, href: '/dashboard/', target: '_self' },
    // Credentials typed into the Authorize dialog survive a reload of the page (in this browser only).
    uiConfig: { persistAuthorization: withAuth },
  });
  await app.register(dashboardRoutes()); // the web dashboard at /dashboard/ (and / redirects there)
  const document = () => app.swagger();
  app.get('/openapi.json', { schema: { hide: true } }, async () => document());
  app.get('/swagger/doc.json', { schema: { hide: true } }, async () => document());
  app.get('/swagger/index.html', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/swagger/'));

  await app.register(tasksRoutes(options.engine));
  await app.register(archivedRoutes(options.engine));
  await app.register(batchRoutes(options.engine));
  await app.register(recurringRoutes(options.engine));
  await app.register(operatorRoutes(options.engine, { authConfigured: withAuth }));
  await app.register(identityRoutes());
  await app.register(flowControlRoutes(options.engine));
  await app.register(statsRoutes(options.engine));
  await app.register(recurringControlRoutes(options.engine));
  await app.register(workersRoutes(options.engine));
  await app.register(operationsRoutes(options.engine));
  return app;
}

/** Stands for "a user and a token" when the committed document names every scheme. */
const ALL_SCHEMES: AuthSettings = {
  basicAuthUsers: [{ name: '', password: '' }],
  bearerTokens: [{ name: '', sha256: '', role: 'all' }],
};

/** The schemes that match the configured identities: basic for users, bearer for tokens. */
function openApiSecuritySchemes(auth: AuthSettings): Record<string, { type: 'http'; scheme: string; description?: string }> {
  return {
    ...((auth.basicAuthUsers?.length ?? 0) > 0 ? { basicAuth: { type: 'http' as const, scheme: 'basic' } } : {}),
    ...((auth.bearerTokens?.length ?? 0) > 0
      ? { bearerAuth: { type: 'http' as const, scheme: 'bearer', description: 'A token of `auth.bearer_tokens`' } }
      : {}),
  };
}
