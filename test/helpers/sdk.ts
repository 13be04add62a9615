/**
 * Fixtures for the client, worker, polyglot and example tests: a real Tasques server (createServer on
 * 127.0.0.1:0 over a temporary SQLite file), a fault-injecting HTTP proxy to put between a client and
 * that server, and event helpers that wait with a deadline instead of sleeping.
 */
import { once, type EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src/config/load.js';
import { createServer, type TasquesServer } from '../../src/server/server.js';

export interface TestServer extends TasquesServer {
  dir: string;
  dbPath: string;
  /** Closes the server and removes its files. */
  dispose(): Promise<void>;
}

/** A real server over a fresh SQLite file. `config` is merged into the server config (tasques.server.*). */
export async function startTestServer(config: Record<string, unknown> = {}, dir?: string): Promise<TestServer> {
  const ownDir = dir ?? mkdtempSync(join(tmpdir(), 'tasques-sdk-'));
  const dbPath = join(ownDir, 'tasques.db');
  const server = await createServer(
    validateConfig({
      bind_address: '127.0.0.1:0',
      logging: { level: 'silent' },
      ...config,
      store: { sqlite: { path: dbPath } },
    }),
  );
  return {
    ...server,
    dir: ownDir,
    dbPath,
    async dispose() {
      await server.close();
      if (dir === undefined) rmSync(ownDir, { recursive: true, force: true });
    },
  };
}

/** What the proxy does with one request. */
export type ProxyAction =
  | 'pass'
  /** Forward it, let the server act on it, then cut the connection instead of answering. */
  | 'drop-response'
  /** Cut the connection without forwarding anything. */
  | 'drop-request'
  /** Answer this status with a JSON error body without forwarding. */
  | { status: number; message: string }
  /** Never answer (until the proxy closes). */
  | 'hang';

export interface ProxiedRequest {
  method: string;
  path: string;
  action: ProxyAction;
}

export interface FaultProxy {
  url: string;
  port: number;
  /** Every request seen, in order. */
  requests: ProxiedRequest[];
  /** How many TCP connections clients opened. */
  connections: number;
  /** Decides what to do with each request; the default passes everything. */
  decide: (method: string, path: string, index: number) => ProxyAction;
  close(): Promise<void>;
}

/** An HTTP proxy in front of `target` that can drop, hang or fail chosen requests. */
export async function startFaultProxy(target: string, port = 0): Promise<FaultProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const hanging = new Set<http.ServerResponse>();
  const proxy: FaultProxy = {
    url: '',
    port: 0,
    requests: [],
    connections: 0,
    decide: () => 'pass',
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const action = proxy.decide(method, path, proxy.requests.length);
      proxy.requests.push({ method, path, action });
      if (action === 'drop-request') {
        req.socket.destroy();
        return;
      }
      if (action === 'hang') {
        hanging.add(res);
        return;
      }
      if (typeof action === 'object') {
        res.writeHead(action.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: action.message, code: 'TQ_ERR_INTERNAL' }));
        return;
      }
      const headers = { ...req.headers, host: upstream.host };
      delete headers.connection;
      const forward = http.request(
        { host: upstream.hostname, port: upstream.port, method, path, headers, agent },
        (upstreamRes) => {
          const body: Buffer[] = [];
          upstreamRes.on('data', (c: Buffer) => body.push(c));
          upstreamRes.on('end', () => {
            if (action === 'drop-response') {
              req.socket.destroy();
              return;
            }
            const outHeaders = { ...upstreamRes.headers };
            delete outHeaders.connection;
            delete outHeaders['keep-alive'];
            res.writeHead(upstreamRes.statusCode ?? 502, outHeaders);
            res.end(Buffer.concat(body));
          });
        },
      );
      forward.on('error', () => req.socket.destroy());
      forward.end(Buffer.concat(chunks));
    });
  });
  server.on('connection', () => proxy.connections++);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  proxy.port = (server.address() as AddressInfo).port;
  proxy.url = `http://127.0.0.1:${proxy.port}`;
  return proxy;
}

/** A port that nothing listens on (it was free a moment ago). */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Resolves with the arguments of the first `event` for which `predicate` is true; rejects after
 * `timeoutMs` (a deadline against hangs, not a timing assumption).
 */
export function waitForEvent<A extends unknown[]>(
  emitter: EventEmitter,
  event: string,
  predicate: (...args: A) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<A> {
  return new Promise((resolve, reject) => {
    const listener = (...args: unknown[]) => {
      if (!predicate(...(args as A))) return;
      cleanup();
      resolve(args as A);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${event} event within ${timeoutMs}ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      emitter.off(event, listener);
    };
    emitter.on(event, listener);
  });
}

/** Resolves after `count` matching events; rejects after `timeoutMs`. */
export function waitForEvents(
  emitter: EventEmitter,
  event: string,
  count: number,
  predicate: (...args: never[]) => boolean = () => true,
  timeoutMs = 20_000,
): Promise<void> {
  let seen = 0;
  return waitForEvent(emitter, event, (...args: unknown[]) => (predicate as (...a: unknown[]) => boolean)(...args) && ++seen >= count, timeoutMs).then(() => undefined);
}

/** A promise with its resolve function, to block a handler until the test lets it go. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
