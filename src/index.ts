/**
 * Embedding the Tasques server in your own process. Named exports only: this is the public surface.
 * The HTTP client and Worker live at `tasques/client` and `tasques/worker`; the store conformance suite
 * for third-party drivers at `tasques/store-conformance`.
 */
export { loadConfig, validateConfig, maskSecrets, ConfigError } from './config/load.js';
export type { ServerConfig } from './config/schema.js';
export { createServer, createStore, VERSION } from './server/server.js';
export type { TasquesServer, CreateServerOptions } from './server/server.js';
export { SqliteStore, SchemaTooNewError } from './store/sqlite/sqlite-store.js';
export type { Store, StoreFactory } from './store/store.js';
export { TasquesError, ERROR_CODES } from './errors/index.js';
export type { ErrorCode, ErrorKind } from './errors/index.js';
export type { JsonObject, RecurringTask, Task, TaskState } from './types/index.js';
export { ManualClock, systemClock } from './service/clock.js';
export type { Clock } from './service/clock.js';
