/**
 * The server's log: pino through Fastify's logger, one JSON object per line by default (`logging.json`),
 * readable lines otherwise. Every line written while serving a request carries its `request_id` (see
 * http-observability.ts) and, with tracing on, the `trace_id` and `span_id` of the request span, so that
 * logs and traces can be joined. Headers are never logged: the request serializer omits them, and the
 * credential-bearing ones are redacted in case a log call passes them explicitly.
 */
import { createWriteStream } from 'node:fs';
import type { ServerConfig } from '../config/schema.js';
import type { Tracing } from './tracing.js';

/** Header paths removed from any log line that contains them. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'headers.authorization',
  'headers.cookie',
  'headers["proxy-authorization"]',
];

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** Fastify `logger` options for the configuration (false when silent). */
export function loggerOptions(config: ServerConfig, tracing?: Tracing) {
  const { level, file, json } = config.logging;
  if (level === 'silent') return false;
  const stream = file ? createWriteStream(file, { flags: 'a' }) : process.stderr;
  const base = {
    level,
    redact: REDACTED_PATHS,
    ...(tracing === undefined
      ? {}
      : {
          mixin(): Record<string, string> {
            const context = tracing.currentSpan()?.spanContext();
            return context === undefined ? {} : { trace_id: context.traceId, span_id: context.spanId };
          },
        }),
  };
  if (json) return { ...base, stream };
  // Readable lines without extra dependencies: "2026-01-01T00:00:00.000Z INFO message {extra}".
  return {
    ...base,
    stream: {
      write(line: string) {
        const { time, level: lvl, msg, pid: _pid, hostname: _host, ...rest } = JSON.parse(line) as Record<string, unknown>;
        const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
        stream.write(`${new Date(time as number).toISOString()} ${LEVEL_NAMES[lvl as number] ?? lvl} ${String(msg)}${extra}\n`);
      },
    },
  };
}
