/**
 * The composition root: config → store → engine → HTTP app → leader election (which runs the leader-only
 * services: claim-timeout reaper, recurring scheduler, archiver), and an orderly shutdown. Observability
 * (src/observability) wraps the store (metrics, spans), listens to the engine and the elector (metrics)
 * and instruments the app (request ids, request metrics and spans, /healthz, /readyz, /metrics).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { durationMs } from '../config/load.js';
import type { ServerConfig } from '../config/schema.js';
import { engineSettings } from './engine-settings.js';
import { TaskEngine } from '../engine/task-engine.js';
import { WorkerSightingsFlusher } from '../engine/worker-activity.js';
import { buildApp } from '../http/app.js';
import { queueLimitsFromJson } from '../http/routes/flow-control.js';
import { Health } from '../observability/health.js';
import { httpObservability } from '../observability/http-observability.js';
import { instrumentStore } from '../observability/instrumented-store.js';
import { loggerOptions } from '../observability/logging.js';
import { TasquesMetrics } from '../observability/metrics.js';
import { QueueActivityRecorder } from '../observability/queue-activity.js';
import type { EngineEvents } from '../engine/task-engine.js';
import { Tracing, tracingOptionsFromConfig } from '../observability/tracing.js';
import { type Clock, systemClock } from '../service/clock.js';
import { type Logger, silentLogger } from '../service/logger.js';
import { createLeaderServices, type LeaderServices } from './leader-services.js';
import { createStore, storeConnectionWarnings } from './store-from-config.js';
import type { Store } from '../store/store.js';
import type { QueueStats } from '../types/index.js';

/** The package version, read once from package.json (two levels up from src/server and dist/server). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export { createStore };

export interface TasquesServer {
  app: FastifyInstance;
  engine: TaskEngine;
  store: Store;
  /** Leader election and the leader-only services; undefined when disabled (`leadership: false`). */
  leadership: LeaderServices | undefined;
  /** The Prometheus metrics; undefined with `metrics.enabled: false`. */
  metrics: TasquesMetrics | undefined;
  /** Counts activity per queue and minute for the dashboard's charts (docs/design/queue-series.md). */
  queueActivity: QueueActivityRecorder;
  /** The trace exporter; undefined unless `tracing.enabled`. */
  tracing: Tracing | undefined;
  health: Health;
  /** The address it listens on, e.g. http://127.0.0.1:8080 (after listen). */
  url: string;
  /** Graceful stop: refuse new requests, answer long polls, finish in-flight requests, close the store. */
  close(): Promise<void>;
}

export interface CreateServerOptions {
  clock?: Clock;
  /** Use this store instead of building one from the config (tests). */
  store?: Store;
  /** Listen (default true). Tests that only inject() pass false. */
  listen?: boolean;
  /**
   * Take part in leader election and run the leader-only services while leading (default true).
   * Tests that drive those services themselves pass false.
   */
  leadership?: boolean;
}

/**
 * Once shutdown begins, every answer carries `Connection: close`. Node keeps a keep-alive connection
 * open after answering a request that was in flight when the server began closing (only idle
 * connections are closed then), so a long poll answered during shutdown would otherwise hold `close()`
 * until shutdown_timeout; and during the drain delay, each client reconnects (through its load balancer,
 * to another server) after its answer. An answer whose headers went out before shutdown began (none but
 * a slow download) is left to the shutdown_timeout.
 */
function closeConnectionsOnceClosing(app: FastifyInstance): { begin(): void } {
  let closing = false;
  // A callback hook, not an async one: it runs on every answer, and an async hook costs a promise each time.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  return {
    begin() {
      closing = true;
    },
  };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function createServer(config: ServerConfig, options: CreateServerOptions = {}): Promise<TasquesServer> {
  const clock = options.clock ?? systemClock;
  const tracingOptions = tracingOptionsFromConfig(config, VERSION);
  const tracing = tracingOptions === undefined ? undefined : new Tracing(tracingOptions);
  // Services built before the app log through its logger once it exists.
  let appLogger: Logger = silentLogger;
  const logger: Logger = {
    debug: (fields, message) => appLogger.debug(fields, message),
    error: (fields, message) => appLogger.error(fields, message),
    info: (fields, message) => appLogger.info(fields, message),
    warn: (fields, message) => appLogger.warn(fields, message),
  };
  const rawStore = options.store ?? createStore(config);
  // The metrics read the per-queue figures through the instrumented store (so that read is timed too),
  // and the instrumented store reports to the metrics: the store and the engine are bound late.
  const metrics: TasquesMetrics | undefined = config.metrics.enabled
    ? new TasquesMetrics({
        store: { queueStatsList: (params): Promise<QueueStats[]> => store.queueStatsList(params) },
        clock,
        logger,
        queueStatsMaxAgeMs: durationMs(config.metrics.queue_stats_max_age),
        maxQueueSeries: config.metrics.max_queue_series,
        version: VERSION,
        waitingClaims: (): number => engine.waitingClaims,
      })
    : undefined;
  const store: Store = instrumentStore(rawStore, {
    observe: metrics === undefined ? undefined : (method, seconds, error) => metrics.observeStoreCall(method, seconds, error),
    startSpan: tracing === undefined ? undefined : (method) => tracing.startStoreSpan(method, rawStore.capabilities.kind),
  });
  const health = new Health(store, clock, logger);
  await store.migrate();
  health.markMigrated();
  const settings = engineSettings(config);
  // Unique per process: each server's activity records are stored apart and summed when read.
  const queueActivity = new QueueActivityRecorder({
    store,
    clock,
    logger,
    serverId: `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`,
    flushIntervalMs: durationMs(config.charts.activity_flush_interval),
  });
  const events = engineEvents(metrics, queueActivity);
  const engine: TaskEngine = new TaskEngine(store, settings, clock, Math.random, events);
  // Limits from the config, set by every server as it starts (a restart re-applies them over API changes).
  for (const [queue, limits] of Object.entries(config.tasks.queue_limits)) {
    await engine.setQueueLimits(queue, queueLimitsFromJson(limits));
  }
  const app = await buildApp({
    engine,
    bodyLimitBytes: config.tasks.limits.body_limit_bytes,
    requestTimeoutMs: durationMs(config.http.request_timeout),
    headersTimeoutMs: durationMs(config.http.headers_timeout),
    auth: { basicAuthUsers: config.auth.basic_auth, bearerTokens: config.auth.bearer_tokens },
    logger: loggerOptions(config, tracing),
    version: VERSION,
    observability: httpObservability({ health, metrics, metricsRequireAuth: config.metrics.require_auth, tracing }),
  });
  appLogger = app.log;
  // Beyond it Node closes new connections at once, before any byte is read.
  app.server.maxConnections = config.http.max_connections;
  const connections = closeConnectionsOnceClosing(app);
  for (const warning of storeConnectionWarnings(config)) app.log.warn(warning);
  let url = '';
  if (options.listen !== false) {
    const colon = config.bind_address.lastIndexOf(':');
    const host = config.bind_address.slice(0, colon).replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
    const port = Number(config.bind_address.slice(colon + 1));
    await app.listen({ host, port });
    const address = app.server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  } else {
    await app.ready();
  }
  const leadership =
    options.leadership === false
      ? undefined
      : createLeaderServices(config, { store, engine, settings, clock, logger: app.log, events });
  if (leadership !== undefined && metrics !== undefined) {
    const { elector } = leadership;
    metrics.followLeadership(() => elector.isLeader);
    elector.subscribe((change) => {
      if (change.isLeader) metrics.elected();
    });
  }
  await leadership?.elector.start();
  await queueActivity.start();
  // Every server writes the workers it saw (claims, report-ins, …) for GET /workers; see worker-activity.ts.
  engine.bulk.onError = (err, operationId) => app.log.error({ err, operation_id: operationId }, 'bulk operation stopped; the leader resumes it');
  const workerSightings = new WorkerSightingsFlusher(store, engine.workerActivity, clock, app.log);
  await workerSightings.start();

  let closing: Promise<void> | undefined;
  const shutdownTimeoutMs = durationMs(config.shutdown_timeout);
  const drainDelayMs = durationMs(config.shutdown_drain_delay);
  const close = () => {
    closing ??= (async () => {
      health.markShuttingDown();
      connections.begin();
      // The drain: /readyz answers 503 and everything else is served as before, so that load balancers
      // take this server out of rotation before it stops taking requests.
      if (drainDelayMs > 0 && options.listen !== false) {
        app.log.info({ drain_delay: config.shutdown_drain_delay }, 'draining: not ready, still serving');
        await delay(drainDelayMs);
      }
      engine.shutdown();
      const forced = setTimeout(() => app.server.closeAllConnections?.(), shutdownTimeoutMs);
      try {
        // First, so that another server takes over leadership while this one finishes its requests.
        await leadership?.elector.stop().catch((err: unknown) => app.log.error({ err }, 'error stopping leadership'));
        await app.close();
      } finally {
        clearTimeout(forced);
        // After the last request (its counts are in the final flush), before the store closes.
        await queueActivity.stop().catch((err: unknown) => app.log.error({ err }, 'error flushing the queue activity'));
        // Before the store closes, even if the above failed: a loop left running would keep the process up.
        await workerSightings.stop().catch((err: unknown) => app.log.error({ err }, 'error stopping the worker sightings'));
        // Bulk operations stop after their current step; the leader of the servers left takes them over.
        await engine.bulk.stop().catch((err: unknown) => app.log.error({ err }, 'error stopping bulk operations'));
        await Promise.all([store.close(), tracing === undefined ? undefined : flushTraces(tracing, shutdownTimeoutMs, app.log)]);
      }
    })();
    return closing;
  };
  return { app, engine, store, leadership, metrics, queueActivity, tracing, health, url, close };
}

/** The engine tells every listener: the metrics (when enabled) and the activity recorder. */
function engineEvents(...listeners: (EngineEvents | undefined)[]): EngineEvents {
  const all = listeners.filter((l): l is EngineEvents => l !== undefined);
  return {
    taskChanged: (after, before, cause) => {
      for (const l of all) l.taskChanged(after, before, cause);
    },
    claimed: (tasks, waitedMs) => {
      for (const l of all) l.claimed(tasks, waitedMs);
    },
    throttled: (queue, n) => {
      for (const l of all) l.throttled?.(queue, n);
    },
  };
}

/** Exports the last spans, waiting at most `timeoutMs` for an unreachable receiver. Never throws. */
async function flushTraces(tracing: Tracing, timeoutMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  try {
    await Promise.race([tracing.shutdown(), gaveUp]);
  } catch (err) {
    logger.warn({ err }, 'could not export the last traces');
  } finally {
    clearTimeout(timer);
  }
}
