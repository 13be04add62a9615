/**
 * OpenTelemetry traces, off by default (`tracing.enabled`). When on: a SERVER span per HTTP request
 * (parented by a W3C `traceparent` header when the caller sends one) and an INTERNAL child span per store
 * call made while serving it, exported over OTLP/HTTP in protobuf, the encoding every receiver accepts
 * (Elastic APM takes no JSON).
 *
 * No global OpenTelemetry state is installed (no global tracer provider, context manager or propagator):
 * each server owns its provider and carries the current request span in its own AsyncLocalStorage. So
 * several servers in one process stay apart, nothing changes for embedders that run their own SDK, and
 * with tracing off no AsyncLocalStorage is ever entered: the request path pays nothing.
 *
 * Store calls outside a request (the elector, reaper, scheduler, archiver) are not traced: they would
 * be a root span every second, mostly noise.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  defaultTextMapGetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import type { ServerConfig } from '../config/schema.js';
import { isTasquesError } from '../errors/index.js';

export const DEFAULT_SERVICE_NAME = 'tasques';

export interface TracingOptions {
  serviceName: string;
  serviceVersion: string;
  sampleRatio: number;
  /** The exporter; by default OTLP/HTTP protobuf to `otlpTracesUrl` (or where the OTEL_* variables say). */
  exporter?: SpanExporter | undefined;
  /** Full URL of the traces endpoint (…/v1/traces); undefined leaves it to the OTEL_* variables. */
  otlpTracesUrl?: string | undefined;
}

/** The tracing options from the configuration, or undefined when tracing is off. */
export function tracingOptionsFromConfig(
  config: ServerConfig,
  version: string,
  env: NodeJS.ProcessEnv = process.env,
): TracingOptions | undefined {
  const t = config.tracing;
  if (!t.enabled) return undefined;
  return {
    serviceName: t.service_name ?? (env.OTEL_SERVICE_NAME || DEFAULT_SERVICE_NAME),
    serviceVersion: version,
    sampleRatio: t.sample_ratio,
    otlpTracesUrl: t.otlp_endpoint === undefined ? undefined : `${t.otlp_endpoint.replace(/\/+$/, '')}/v1/traces`,
  };
}

export class Tracing {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  private readonly current = new AsyncLocalStorage<Span>();
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(options: TracingOptions) {
    const exporter = options.exporter ?? new OTLPTraceExporter(options.otlpTracesUrl ? { url: options.otlpTracesUrl } : {});
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({
        'service.name': options.serviceName,
        'service.version': options.serviceVersion,
      }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) }),
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    this.tracer = this.provider.getTracer('tasques', options.serviceVersion);
  }

  /** Starts the SERVER span of a request, as a child of the caller's `traceparent` if it sent one. */
  startRequestSpan(method: string, route: string | undefined, headers: Record<string, unknown>): Span {
    const parent = this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    return this.tracer.startSpan(
      route === undefined ? method : `${method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': method, ...(route === undefined ? {} : { 'http.route': route }) },
      },
      parent,
    );
  }

  /** Ends a request span with its status code (5xx marks it as an error, as the HTTP conventions say). */
  endRequestSpan(span: Span, statusCode: number, aborted = false): void {
    span.setAttribute('http.response.status_code', statusCode);
    if (statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    if (aborted) span.setAttribute('tasques.request.aborted', true);
    span.end();
  }

  /** Runs `fn` (and every asynchronous continuation of it) with `span` as the current request span. */
  runInSpan<T>(span: Span, fn: () => T): T {
    return this.current.run(span, fn);
  }

  /** The current request span, if any (for log correlation). */
  currentSpan(): Span | undefined {
    return this.current.getStore();
  }

  /** Starts a child span for a store call inside a sampled request; returns how to end it. */
  startStoreSpan(method: string, storeKind: string): ((error: unknown) => void) | undefined {
    const parent = this.current.getStore();
    if (parent === undefined || !parent.isRecording()) return undefined;
    const span = this.tracer.startSpan(
      `store.${method}`,
      { kind: SpanKind.INTERNAL, attributes: { 'tasques.store.method': method, 'tasques.store.kind': storeKind } },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    return (error) => {
      if (error !== undefined) {
        // Expected outcomes (a conflict, a missing task) are answers, not failures of the store.
        span.setAttribute('tasques.error.code', isTasquesError(error) ? error.code : 'other');
        if (!isTasquesError(error)) {
          span.recordException(error instanceof Error ? error : String(error));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
      }
      span.end();
    };
  }

  /** Exports what is buffered. */
  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  /** Exports what is buffered and stops. */
  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}
