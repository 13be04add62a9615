// OpenTelemetry traces (README, section Observability) sent to a real in-process OTLP/HTTP receiver that
// decodes the protobuf export: a SERVER span per request named by its route template, honouring the
// caller's W3C traceparent, with a child span per store call; the configuration and the standard OTEL_*
// variables; sampling; and nothing at all when tracing is off (the default).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { types } from 'node:util';
import { claim, createTask, LIMIT, startTestServer, waitUntil, worker } from '../helpers/http.js';
import { type OtlpReceiver, type ReceivedSpan, SPAN_KIND, startOtlpReceiver } from '../helpers/otlp-receiver.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const traceparent = (flags: '01' | '00') => ({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-${flags}` });

let receiver: OtlpReceiver;
before(async () => {
  receiver = await startOtlpReceiver();
});
after(() => receiver.close());

/** The spans received since `mark` (receiver.spans.length before the test acted). */
const since = (mark: number) => receiver.spans.slice(mark);
const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) =>
  spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);

/** Sets environment variables for the duration of `fn` (the exporter reads them when it is built). */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('tracing', () => {
  it('exports a server span per request and a child span per store call, continuing the caller\'s trace', LIMIT, async (t) => {
    const mark = receiver.spans.length;
    const ts = await startTestServer(t, { tracing: { enabled: true, otlp_endpoint: receiver.url } }, { leadership: true });
    await waitUntil(() => ts.server.leadership!.elector.isLeader, 'the elector to run (its store calls are not traced)');

    const created = await ts.request({
      method: 'POST',
      url: '/tasques',
      payload: { queue: 'traced', kind: 'k' },
      headers: traceparent('01'),
    });
    assert.equal(created.status, 201);
    const [task] = await claim(ts, 'w', { queues: ['traced'], block_for: '0s' });
    const done = await ts.request({ method: 'PUT', url: `/tasques/done/traced/${task.id}`, headers: worker('w'), payload: {} });
    assert.equal(done.status, 200);
    const missing = await ts.request({ method: 'GET', url: '/tasques/traced/nope' });
    assert.equal(missing.status, 404);
    for (const url of ['/healthz', '/readyz', '/metrics']) assert.equal((await ts.request({ method: 'GET', url })).status, 200);
    await ts.close(); // flushes the exporter
    assert.deepEqual(receiver.rejected, []);
    const spans = since(mark);

    // The create continues the caller's trace: same trace id, parent = the caller's span.
    const create = spans.find((s) => s.name === 'POST /tasques');
    assert.ok(create, `no POST /tasques span in ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(create.kind, SPAN_KIND.server);
    assert.equal(create.traceId, TRACE_ID);
    assert.equal(create.parentSpanId, PARENT_ID);
    assert.equal(create.attributes['http.route'], '/tasques');
    assert.equal(create.attributes['http.request.method'], 'POST');
    assert.equal(create.attributes['http.response.status_code'], 201);
    assert.equal(create.statusCode, 0);
    assert.equal(create.resource['service.name'], 'tasques');
    assert.equal(create.resource['service.version'], '0.1.0');
    assert.ok(create.endNanos >= create.startNanos);
    const createStore = childrenOf(spans, create);
    assert.deepEqual(createStore.map((s) => s.name), ['store.taskCreate']);
    assert.equal(createStore[0]!.kind, SPAN_KIND.internal);
    assert.equal(createStore[0]!.attributes['tasques.store.kind'], 'sqlite');
    assert.ok(createStore[0]!.startNanos >= create.startNanos && createStore[0]!.endNanos <= create.endNanos);

    // Without a traceparent a request starts its own trace.
    const claimSpan = spans.find((s) => s.name === 'POST /tasques/claims');
    assert.ok(claimSpan);
    assert.equal(claimSpan.parentSpanId, '');
    assert.notEqual(claimSpan.traceId, TRACE_ID);
    assert.ok(childrenOf(spans, claimSpan).some((s) => s.name === 'store.taskClaim'));

    // The route template names the span, never the raw URL.
    const doneSpan = spans.find((s) => s.name === 'PUT /tasques/done/:queue/:id');
    assert.ok(doneSpan, spans.map((s) => s.name).join(', '));
    // The engine completes a task it claimed itself by compare-and-set on the version it wrote (no read first).
    assert.deepEqual(childrenOf(spans, doneSpan).map((s) => s.name), ['store.taskUpdate']);
    const getSpan = spans.find((s) => s.name === 'GET /tasques/:queue/:id');
    assert.equal(getSpan?.attributes['http.response.status_code'], 404);
    assert.equal(getSpan?.statusCode, 0, 'a 4xx is the client\'s error, not the server span\'s');
    assert.ok(!spans.some((s) => s.name.includes(task.id) || s.name.includes('nope')));

    // Every store span belongs to a request: background work (the elector) is not traced.
    const servers = new Set(spans.filter((s) => s.kind === SPAN_KIND.server).map((s) => s.spanId));
    for (const s of spans.filter((x) => x.name.startsWith('store.'))) {
      assert.ok(servers.has(s.parentSpanId), `${s.name} has no request parent`);
    }
    assert.ok(!spans.some((s) => s.name.startsWith('store.leader')));
    // Probes and scrapes are not traced.
    assert.ok(!spans.some((s) => /healthz|readyz|metrics|queueStatsList/.test(s.name)), spans.map((s) => s.name).join(', '));
  });

  it('a request that fails with a 5xx has an error span; a store failure is an error span with the exception', LIMIT, async (t) => {
    const mark = receiver.spans.length;
    const ts = await startTestServer(t, { tracing: { enabled: true, otlp_endpoint: receiver.url } });
    await ts.server.store.close();
    const res = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k' } });
    assert.equal(res.status, 500);
    await ts.close();
    const spans = since(mark);
    const request = spans.find((s) => s.name === 'POST /tasques');
    assert.ok(request);
    assert.equal(request.statusCode, 2);
    assert.equal(request.attributes['http.response.status_code'], 500);
    const [store] = childrenOf(spans, request);
    assert.equal(store?.name, 'store.taskCreate');
    assert.equal(store?.statusCode, 2);
    assert.equal(store?.attributes['tasques.error.code'], 'other');
  });

  it('honours OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME when the config does not set them', LIMIT, async (t) => {
    const mark = receiver.spans.length;
    await withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'tasques-eu-1' }, async () => {
      const ts = await startTestServer(t, { tracing: { enabled: true } });
      await createTask(ts, { queue: 'env', kind: 'k' });
      await ts.close();
    });
    const spans = since(mark);
    const create = spans.find((s) => s.name === 'POST /tasques');
    assert.ok(create, 'spans reached the receiver named by the environment');
    assert.equal(create.resource['service.name'], 'tasques-eu-1');
  });

  it('sample_ratio 0 traces only requests whose caller sampled them', LIMIT, async (t) => {
    const mark = receiver.spans.length;
    const ts = await startTestServer(t, { tracing: { enabled: true, otlp_endpoint: receiver.url, sample_ratio: 0 } });
    for (let i = 0; i < 5; i++) await createTask(ts, { queue: 'unsampled', kind: 'k' });
    const notSampled = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k' }, headers: traceparent('00') });
    assert.equal(notSampled.status, 201);
    const sampled = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k' }, headers: traceparent('01') });
    assert.equal(sampled.status, 201);
    await ts.close();
    const spans = since(mark);
    assert.deepEqual(spans.map((s) => s.name).sort(), ['POST /tasques', 'store.taskCreate']);
    assert.ok(spans.every((s) => s.traceId === TRACE_ID));
  });

  it('is off by default: no exporter, nothing sent even with the OTEL_* variables set', LIMIT, async (t) => {
    const requests = receiver.requests;
    await withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, async () => {
      const ts = await startTestServer(t, { metrics: { enabled: false } });
      assert.equal(ts.server.tracing, undefined);
      assert.ok(!types.isProxy(ts.server.store), 'with metrics and tracing off the store is not wrapped');
      await createTask(ts, { queue: 'off', kind: 'k' });
      await ts.close();
    });
    assert.equal(receiver.requests, requests);
  });
});
