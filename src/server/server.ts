/**
 * The composition root: config → store → engine → HTTP app → leader election (which runs the leader-only
 * services: claim-timeout reaper, recurring scheduler, archiver), and an orderly shutdown.
 */
import { createWriteStream } from 'node:fs';
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { durationMs } from '../config/load.js';
import type { ServerConfig } from '../config/schema.js';
import { engineSettings } from '../engine/settings.js';
import { TaskEngine } from '../engine/task-engine.js';
import { buildApp } from '../http/app.js';
import { type Clock, systemClock } from '../service/clock.js';
import { createLeadership, type Leadership } from './leadership.js';
import { elasticsearchStoreFromConfig } from '../store/elasticsearch/from-config.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';

export const VERSION = '0.1.0';

export interface TasquesServer {
  app: FastifyInstance;
  engine: TaskEngine;
  store: Store;
  /** Leader election and the leader-only services; undefined when disabled (`leadership: false`). */
  leadership: Leadership | undefined;
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

export function createStore(config: ServerConfig): Store {
  if (config.store.kind === 'elasticsearch') return elasticsearchStoreFromConfig(config);
  const sqlite = config.store.sqlite;
  return new SqliteStore({
    path: sqlite.path,
    synchronous: sqlite.synchronous,
    busyTimeoutMs: durationMs(sqlite.busy_timeout),
  });
}

/**
 * Node keeps a keep-alive connection open after answering a request that was in flight when the server
 * began closing (only idle connections are closed then), so a long poll or any request answered during
 * shutdown would hold `close()` until shutdown_timeout. `closeAfterAnswer()` asks those connections to
 * close with their answer. Tracked per connection, nothing per request.
 */
function trackConnections(server: Server): { closeAfterAnswer(): void } {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    closeAfterAnswer() {
      for (const socket of sockets) {
        // The response being written on the connection (Node's own field; absent when idle).
        const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
        if (!res) continue;
        if (!res.headersSent) res.setHeader('connection', 'close');
        else res.once('finish', () => socket.end());
      }
    },
  };
}

function loggerOptions(config: ServerConfig) {
  const { level, file, json } = config.logging;
  if (level === 'silent') return false;
  const stream = file ? createWriteStream(file, { flags: 'a' }) : process.stderr;
  const base = { level, redact: ['req.headers.authorization', 'req.headers.cookie'] };
  if (json) return { ...base, stream };
  // Readable lines without extra dependencies: "2026-01-01T00:00:00.000Z INFO message {extra}".
  const names: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
  return {
    ...base,
    stream: {
      write(line: string) {
        const { time, level: lvl, msg, pid: _pid, hostname: _host, ...rest } = JSON.parse(line) as Record<string, unknown>;
        const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
        stream.write(`${new Date(time as number).toISOString()} ${names[lvl as number] ?? lvl} ${String(msg)}${extra}\n`);
      },
    },
  };
}

export async function createServer(config: ServerConfig, options: CreateServerOptions = {}): Promise<TasquesServer> {
  const store = options.store ?? createStore(config);
  await store.migrate();
  const clock = options.clock ?? systemClock;
  const settings = engineSettings(config);
  const engine = new TaskEngine(store, settings, clock);
  const app = await buildApp({
    engine,
    bodyLimitBytes: config.tasks.limits.body_limit_bytes,
    basicAuthUsers: config.auth.basic_auth,
    logger: loggerOptions(config),
    version: VERSION,
  });
  const connections = trackConnections(app.server);
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
    options.leadership === false ? undefined : createLeadership(config, { store, engine, settings, clock, logger: app.log });
  await leadership?.elector.start();

  let closing: Promise<void> | undefined;
  const shutdownTimeoutMs = durationMs(config.shutdown_timeout);
  const close = () => {
    closing ??= (async () => {
      engine.shutdown();
      connections.closeAfterAnswer();
      const forced = setTimeout(() => app.server.closeAllConnections?.(), shutdownTimeoutMs);
      try {
        // First, so that another server takes over leadership while this one finishes its requests.
        await leadership?.elector.stop().catch((err: unknown) => app.log.error({ err }, 'error stopping leadership'));
        await app.close();
      } finally {
        clearTimeout(forced);
        await store.close();
      }
    })();
    return closing;
  };
  return { app, engine, store, leadership, url, close };
}
