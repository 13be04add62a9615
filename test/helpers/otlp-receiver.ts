/**
 * A real OTLP/HTTP trace receiver for tests: a node:http server on an ephemeral port that accepts
 * `POST /v1/traces` with `Content-Type: application/x-protobuf` (what the server's exporter sends, and
 * what Elastic APM and collectors take) and decodes the ExportTraceServiceRequest itself, with a small
 * protobuf wire-format reader over the field numbers of opentelemetry-proto (trace/v1/trace.proto,
 * common/v1/common.proto, resource/v1/resource.proto). Anything else is answered 4xx and recorded.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A decoded span, with ids as lowercase hex (empty parent: a root span). */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startNanos: bigint;
  endNanos: bigint;
  attributes: Record<string, string | number | boolean>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  resource: Record<string, string | number | boolean>;
  scope: string;
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;

export interface OtlpReceiver {
  /** Base URL, e.g. http://127.0.0.1:43117 (the exporter posts to `${url}/v1/traces`). */
  url: string;
  spans: ReceivedSpan[];
  /** Requests that were not a valid protobuf trace export, as "METHOD path content-type". */
  rejected: string[];
  /** Export requests received. */
  requests: number;
  close(): Promise<void>;
}

// ── Protobuf wire format ───────────────────────────────────────────────────────────────────────────

type Field = { wire: 0; value: bigint } | { wire: 1 | 5; value: Buffer } | { wire: 2; value: Buffer };

/** The fields of one message, by number, in order (repeated fields have several entries). */
function readMessage(buf: Buffer): Map<number, Field[]> {
  const fields = new Map<number, Field[]>();
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const byte = buf[pos++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const number = key >>> 3;
    const wire = key & 7;
    let field: Field;
    if (wire === 0) field = { wire, value: varint() };
    else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      field = { wire, value: buf.subarray(pos, pos + size) };
      pos += size;
    } else if (wire === 2) {
      const size = Number(varint());
      if (pos + size > buf.length) throw new Error('truncated field');
      field = { wire, value: buf.subarray(pos, pos + size) };
      pos += size;
    } else throw new Error(`unsupported wire type ${wire}`);
    const list = fields.get(number) ?? [];
    list.push(field);
    fields.set(number, list);
  }
  return fields;
}

const bytesOf = (m: Map<number, Field[]>, n: number): Buffer[] => (m.get(n) ?? []).map((f) => f.value as Buffer);
const firstBytes = (m: Map<number, Field[]>, n: number): Buffer => bytesOf(m, n)[0] ?? Buffer.alloc(0);
const str = (m: Map<number, Field[]>, n: number): string => firstBytes(m, n).toString('utf8');
const hex = (m: Map<number, Field[]>, n: number): string => firstBytes(m, n).toString('hex');
const uint = (m: Map<number, Field[]>, n: number): number => Number((m.get(n)?.[0]?.value as bigint | undefined) ?? 0n);
const fixed64 = (m: Map<number, Field[]>, n: number): bigint => firstBytes(m, n).readBigUInt64LE(0);

/** KeyValue {1 key, 2 AnyValue {1 string, 2 bool, 3 int, 4 double}}. */
function attributes(list: Buffer[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kvBuf of list) {
    const kv = readMessage(kvBuf);
    const any = readMessage(firstBytes(kv, 2));
    let value: string | number | boolean = '';
    if (any.has(1)) value = str(any, 1);
    else if (any.has(2)) value = uint(any, 2) !== 0;
    else if (any.has(3)) value = Number(BigInt.asIntN(64, any.get(3)![0]!.value as bigint));
    else if (any.has(4)) value = firstBytes(any, 4).readDoubleLE(0);
    out[str(kv, 1)] = value;
  }
  return out;
}

/** ExportTraceServiceRequest {1 ResourceSpans {1 Resource {1 attributes}, 2 ScopeSpans {1 scope {1 name}, 2 Span}}}. */
export function decodeExportTraceServiceRequest(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rsBuf of bytesOf(readMessage(body), 1)) {
    const rs = readMessage(rsBuf);
    const resource = attributes(bytesOf(readMessage(firstBytes(rs, 1)), 1));
    for (const ssBuf of bytesOf(rs, 2)) {
      const ss = readMessage(ssBuf);
      const scope = str(readMessage(firstBytes(ss, 1)), 1);
      for (const spanBuf of bytesOf(ss, 2)) {
        const s = readMessage(spanBuf);
        spans.push({
          traceId: hex(s, 1),
          spanId: hex(s, 2),
          parentSpanId: hex(s, 4),
          name: str(s, 5),
          kind: uint(s, 6),
          startNanos: fixed64(s, 7),
          endNanos: fixed64(s, 8),
          attributes: attributes(bytesOf(s, 9)),
          statusCode: uint(readMessage(firstBytes(s, 15)), 3),
          resource,
          scope,
        });
      }
    }
  }
  return spans;
}

// ── The receiver ───────────────────────────────────────────────────────────────────────────────────

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const receiver: OtlpReceiver = { url: '', spans: [], rejected: [], requests: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await bodyOf(req);
      const what = `${req.method} ${req.url} ${req.headers['content-type']}`;
      if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') {
        receiver.rejected.push(what);
        res.writeHead(404).end();
        return;
      }
      try {
        receiver.spans.push(...decodeExportTraceServiceRequest(body));
        receiver.requests++;
      } catch (e) {
        receiver.rejected.push(`${what}: ${(e as Error).message}`);
        res.writeHead(400).end();
        return;
      }
      // An empty ExportTraceServiceResponse: everything accepted.
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.alloc(0));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}
