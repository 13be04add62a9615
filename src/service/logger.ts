/**
 * The logging surface long-lived services need: pino's `(fields, message)` call shape, so the server
 * hands them its Fastify logger as is. `silentLogger` is for tests and embedders that want no output.
 */
export interface Logger {
  debug(fields: object, message: string): void;
  error(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

const noop = () => {};

export const silentLogger: Logger = { debug: noop, error: noop, info: noop, warn: noop };
