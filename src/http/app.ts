/**
 * Builds the Fastify application from an engine and settings, without listening, so that tests can
 * `inject()` and the composition root can `listen()`.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { parseGoDuration } from '../domain/duration.js';
import type { TaskEngine } from '../engine/task-engine.js';
import { type BasicAuthUser, registerBasicAuth } from './plugins/auth.js';
import { registerErrorHandling } from './plugins/errors.js';
import { archivedRoutes } from './routes/archived.js';
import { recurringRoutes } from './routes/recurring.js';
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
  basicAuthUsers?: readonly BasicAuthUser[];
  logger?: FastifyServerOptions['logger'];
  version?: string;
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
];

const isGoDuration = (value: string) => {
  try {
    parseGoDuration(value);
    return true;
  } catch {
    return false;
  }
};

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimitBytes,
    // One log line per request costs ~10% of throughput; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: {
      customOptions: {
        // JSON bodies are taken as sent: a number is not a duration string, a string is not a number.
        coerceTypes: false,
        verbose: true, // keeps the failing schema on errors, for messages that name what was expected
        formats: { 'go-duration': { type: 'string', validate: isGoDuration } },
      },
    },
  });

  // v1 parsed every body as JSON whatever its Content-Type (curl -d sends form-urlencoded).
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, text, done) => {
    const raw = text as string;
    if (raw.length === 0) {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(raw));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  registerErrorHandling(app);
  registerBasicAuth(app, options.basicAuthUsers ?? []);
  for (const schema of COMPONENT_SCHEMAS) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tasques',
        description:
          'Background-task queues with language-agnostic workers. Wire-compatible with the Tasques v1 API.',
        version: options.version ?? '0.1.0',
        license: { name: 'MIT' },
      },
      components: { securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' } } },
      tags: [
        { name: 'tasks', description: 'Enqueue, claim and complete tasks' },
        { name: 'recurring-tasks', description: 'Tasks enqueued on a schedule' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/swagger' });
  const document = () => app.swagger();
  app.get('/openapi.json', { schema: { hide: true } }, async () => document());
  app.get('/swagger/doc.json', { schema: { hide: true } }, async () => document());
  app.get('/swagger/index.html', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/swagger/'));

  await app.register(tasksRoutes(options.engine));
  await app.register(archivedRoutes(options.engine));
  await app.register(recurringRoutes(options.engine));
  return app;
}
