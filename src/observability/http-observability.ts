/**
 * The HTTP side of observability, applied to the app before its routes (`AppOptions.observability`):
 * request ids, request metrics, request spans, and the probe and scrape routes.
 *
 * - Request id: an incoming `X-Request-Id` (visible ASCII, at most 200 characters) is kept, otherwise a
 *   UUID is made; it is on every log line of the request (`request_id`) and echoed in the answer.
 * - `GET /healthz`, `GET /readyz`, `GET /metrics` are outside the basic auth (probes and scrapers), except
 *   `/metrics` with `metrics.require_auth`. They are not in openapi.json: they are for infrastructure, not
 *   for API clients (and /metrics is not JSON); the README documents them.
 */
import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Health } from './health.js';
import { METRICS_CONTENT_TYPE, type TasquesMetrics } from './metrics.js';
import type { Tracing } from './tracing.js';

export const REQUEST_ID_HEADER = 'x-request-id';
const VALID_REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

export interface HttpObservabilityOptions {
  health: Health;
  metrics?: TasquesMetrics | undefined;
  /** `metrics.require_auth`: /metrics needs the basic auth (when users are configured). */
  metricsRequireAuth?: boolean | undefined;
  tracing?: Tracing | undefined;
}

/** The id of a request: the caller's `X-Request-Id` if it is sane, else a new UUID. */
export function requestId(request: { headers: Record<string, string | string[] | undefined> }): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && VALID_REQUEST_ID.test(given) ? given : randomUUID();
}

/** Not traced: probes and scrapes would be a span every few seconds, telling nothing. */
const UNTRACED_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

const SPAN = Symbol('tasques.span');
type TracedRequest = FastifyRequest & { [SPAN]?: Span };

export function httpObservability(options: HttpObservabilityOptions): (app: FastifyInstance) => void {
  const { health, metrics, tracing } = options;
  return (app) => {
    app.setGenReqId(requestId);
    app.addHook('onRequest', (request, reply, done) => {
      void reply.header(REQUEST_ID_HEADER, request.id);
      done();
    });

    if (metrics !== undefined) {
      app.addHook('onResponse', (request, reply, done) => {
        metrics.observeHttp(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
        done();
      });
    }

    if (tracing !== undefined) {
      app.addHook('onRequest', (request, _reply, done) => {
        const route = request.routeOptions.url;
        if (route === undefined || !UNTRACED_ROUTES.has(route)) {
          (request as TracedRequest)[SPAN] = tracing.startRequestSpan(request.method, route, request.headers);
        }
        done();
      });
      // The span becomes current here, after the body was read: stream events of the body do not carry
      // an asynchronous context, so everything from the handler on (engine, store) runs inside it.
      app.addHook('preHandler', (request, _reply, done) => {
        const span = (request as TracedRequest)[SPAN];
        if (span === undefined) done();
        else tracing.runInSpan(span, done);
      });
      const end = (request: FastifyRequest, statusCode: number, aborted: boolean) => {
        const span = (request as TracedRequest)[SPAN];
        if (span === undefined) return;
        (request as TracedRequest)[SPAN] = undefined;
        tracing.endRequestSpan(span, statusCode, aborted);
      };
      app.addHook('onResponse', (request, reply, done) => {
        end(request, reply.statusCode, false);
        done();
      });
      app.addHook('onRequestAbort', (request, done) => {
        end(request, 499, true);
        done();
      });
    }

    app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

    app.get('/readyz', { schema: { hide: true } }, async (request, reply) => {
      const readiness = await health.readiness(request.log);
      if (readiness.ready) return { status: 'ok' };
      return reply.code(503).send({ status: 'unavailable', problem: readiness.problem });
    });

    if (metrics !== undefined) {
      app.get(
        '/metrics',
        // Behind the auth only when asked (read access: the figures are counts per queue); open otherwise.
        { schema: { hide: true }, config: options.metricsRequireAuth === true ? { requireAuth: true, access: 'read' } : {} },
        async (_request, reply) => reply.type(METRICS_CONTENT_TYPE).send(await metrics.render()),
      );
    }
  };
}
