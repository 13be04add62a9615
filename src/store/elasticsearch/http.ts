/**
 * A thin HTTP client for the REST subset that Elasticsearch 7.10+/8/9 and OpenSearch 1/2/3 share, over
 * undici's `request` on a pooled agent (not fetch: its WHATWG Request/Response/Headers objects and abort
 * signals cost this process more CPU per call than the engine's own work on a small claim). No vendor client: the official Elasticsearch 8/9 client refuses to talk to OpenSearch
 * (product check, vendored media types), and we need only a dozen endpoints.
 *
 * - Plain `application/json` and `application/x-ndjson`, which every engine accepts.
 * - Basic auth or an API key, and HTTPS with a configured CA (connection-security.ts). Credentials
 *   live only in the Authorization header, which is never put into an error, a log line or an
 *   exception message. A certificate that does not verify fails at once with what to configure.
 * - Several addresses are tried in turn (round robin; a node that refuses connections is skipped).
 * - Retries only where they are safe: a request that never reached a node (connection refused) and a
 *   request the engine rejected without executing (429) are retried, whatever their method; reads
 *   (GET, search, count, refresh, mget) are also retried after a broken connection, a timeout and
 *   502/503/504. A write whose outcome is unknown is never retried: the caller decides (a CAS write
 *   retried after it was applied would report a conflict with itself).
 */

import type { Dispatcher } from 'undici';
import {
  authorizationHeader,
  describeTlsFailure,
  esDispatcher,
  type EsTlsOptions,
  hasTlsOptions,
} from './connection-security.js';

export class ElasticsearchError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when the request got no answer (network error or timeout). */
    readonly status: number,
    /** The engine's `error.type`, e.g. `version_conflict_engine_exception`. */
    readonly type?: string | undefined,
    /** Whether the request may have been executed (a write with an unknown outcome). */
    readonly ambiguous = false,
  ) {
    super(message);
    this.name = 'ElasticsearchError';
  }
}

export interface EsHttpOptions {
  /** Base URLs of the nodes, e.g. ['http://127.0.0.1:9200']. */
  addresses: string[];
  username?: string | undefined;
  password?: string | undefined;
  /** API key (base64 `encoded`, or `id:api_key`), instead of username/password. */
  apiKey?: string | undefined;
  /** TLS options of HTTPS addresses (PEM contents). */
  tls?: EsTlsOptions | undefined;
  /** Per-request timeout. */
  requestTimeoutMs?: number;
  /** Retries of a request that is safe to retry (see the module comment). */
  maxRetries?: number;
}

export interface EsRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  /** Query-string parameters; undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON body, or for `ndjson` the lines (objects) of a bulk body, or that body already serialized. */
  body?: unknown;
  ndjson?: boolean;
  /** The request only reads: it may be retried after a broken connection or a timeout. */
  read?: boolean;
}

export interface EsResponse<T = unknown> {
  status: number;
  body: T;
}

const RETRY_STATUS_READ = new Set([429, 502, 503, 504]);
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
/** undici's codes for an answer that did not come in time (headers, or the next chunk of the body). */
const TIMED_OUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function causeCode(err: unknown): string | undefined {
  // `code` is not always a string (some libraries put a number there): keep only string codes.
  const causeCodeValue = (err as { cause?: { code?: unknown } })?.cause?.code;
  if (typeof causeCodeValue === 'string') return causeCodeValue;
  const ownCode = (err as { code?: unknown })?.code;
  return typeof ownCode === 'string' ? ownCode : undefined;
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class EsHttp {
  private readonly nodes: string[];
  /** Each node's origin and path prefix (an address may carry one, e.g. behind a proxy). */
  private readonly targets: { node: string; origin: string; prefix: string }[];
  private readonly auth: string | undefined;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private next = 0;

  constructor(options: EsHttpOptions) {
    if (options.addresses.length === 0) throw new Error('elasticsearch.addresses is empty');
    this.nodes = options.addresses.map((a) => a.replace(/\/+$/, ''));
    this.targets = this.nodes.map((node) => {
      const url = new URL(node); // throws on a malformed address
      if (url.username || url.password) {
        throw new Error('put engine credentials in elasticsearch.user.name/password or elasticsearch.api_key, not in the address');
      }
      return { node, origin: url.origin, prefix: url.pathname.replace(/\/+$/, '') };
    });
    if (hasTlsOptions(options.tls) && !this.nodes.some((node) => node.startsWith('https:'))) {
      throw new Error('elasticsearch.tls is set, but no address is https://');
    }
    this.auth = authorizationHeader(options);
    this.dispatcher = esDispatcher(options.tls);
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.maxRetries = options.maxRetries ?? 3;
  }

  /** The node addresses (no credentials in them). */
  get addresses(): readonly string[] {
    return this.nodes;
  }

  /**
   * Sends a request and returns status and parsed body for every HTTP answer (2xx or not); throws an
   * ElasticsearchError only when no answer could be had.
   */
  async request<T = unknown>(req: EsRequest): Promise<EsResponse<T>> {
    // identity: no compression on a loopback or LAN link, where the bytes cost next to nothing and the
    // engine would spend CPU compressing every answer (and this process inflating it).
    const headers: Record<string, string> = { accept: 'application/json', 'accept-encoding': 'identity' };
    if (this.auth) headers.authorization = this.auth;
    let body: string | undefined;
    if (req.body !== undefined) {
      if (req.ndjson) {
        // A string is an already serialized bulk body (the bulk writer measures its bytes before sending).
        body =
          typeof req.body === 'string' ? req.body : `${(req.body as unknown[]).map((line) => JSON.stringify(line)).join('\n')}\n`;
        headers['content-type'] = 'application/x-ndjson';
      } else {
        body = JSON.stringify(req.body);
        headers['content-type'] = 'application/json';
      }
    }
    let qs = '';
    if (req.query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(req.query)) if (v !== undefined) params.set(k, String(v));
      const s = params.toString();
      if (s) qs = `?${s}`;
    }
    const read = req.read ?? (req.method === 'GET' || req.method === 'HEAD');
    let lastError: ElasticsearchError | undefined;
    for (let attempt = 0; attempt <= this.maxRetries; attempt++) {
      if (attempt > 0) await wait(Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random()));
      const { node, origin, prefix } = this.targets[this.next++ % this.targets.length]!;
      let status: number;
      let text: string;
      try {
        const res = await this.dispatcher.request({
          origin,
          path: `${prefix}${req.path}${qs}`,
          method: req.method,
          headers,
          body,
          // The whole answer must come within the timeout: headers first, then no gap longer than it.
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
        });
        status = res.statusCode;
        if (req.method === 'HEAD') {
          await res.body.dump();
          text = '';
        } else {
          text = await res.body.text();
        }
      } catch (err) {
        const code = causeCode(err);
        const tlsFailure = describeTlsFailure(code, node);
        // Retrying cannot fix a certificate; the request never reached the engine.
        if (tlsFailure !== undefined) throw new ElasticsearchError(`${req.method} ${req.path}: ${tlsFailure}`, 0, code, false);
        const timedOut = code !== undefined && TIMED_OUT.has(code);
        const neverSent = code !== undefined && NEVER_SENT.has(code);
        lastError = new ElasticsearchError(
          `${req.method} ${req.path}: ${timedOut ? `no answer within ${this.timeoutMs} ms` : `cannot reach ${node} (${code ?? (err as Error).message})`}`,
          0,
          timedOut ? 'timeout' : code,
          !neverSent,
        );
        if (neverSent || read) continue;
        throw lastError;
      }
      let parsed: unknown = undefined;
      if (text !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = { raw: text.slice(0, 500) };
        }
      }
      if (status === 429 || (read && RETRY_STATUS_READ.has(status))) {
        lastError = new ElasticsearchError(`${req.method} ${req.path}: ${describe(status, parsed)}`, status, errorType(parsed));
        if (attempt < this.maxRetries) continue;
      }
      return { status, body: parsed as T };
    }
    throw lastError!;
  }

  /** Closes the pooled connections (an owner that made this client and is done with it). */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /** Like request(), but any status outside `ok` (default: 2xx) becomes an ElasticsearchError. */
  async expect<T = unknown>(req: EsRequest, ok: (status: number) => boolean = (s) => s >= 200 && s < 300): Promise<EsResponse<T>> {
    const res = await this.request<T>(req);
    if (!ok(res.status)) {
      throw new ElasticsearchError(`${req.method} ${req.path}: ${describe(res.status, res.body)}`, res.status, errorType(res.body));
    }
    return res;
  }
}

export function errorType(body: unknown): string | undefined {
  const error = (body as { error?: unknown })?.error;
  if (typeof error === 'object' && error !== null) return (error as { type?: string }).type;
  return undefined;
}

/** A one-line account of an error answer: status, type and reason (the engine's words). */
export function describe(status: number, body: unknown): string {
  const error = (body as { error?: unknown })?.error;
  if (typeof error === 'object' && error !== null) {
    const e = error as { type?: string; reason?: string; root_cause?: { type?: string; reason?: string }[] };
    const root = e.root_cause?.[0];
    const reason = e.reason ?? root?.reason ?? '';
    return `HTTP ${status} ${e.type ?? root?.type ?? 'error'}: ${reason}`.slice(0, 1000);
  }
  if (typeof error === 'string') return `HTTP ${status}: ${error}`.slice(0, 1000);
  return `HTTP ${status}`;
}
