/**
 * `tasques/client`: a typed client for the Tasques v1 HTTP API. Types come from the server's own
 * schemas; see docs/clients.md for the retry rules and delivery guarantees.
 * @packageDocumentation
 */
export {
  TasquesClient,
  WORKER_ID_HEADER,
  newTaskId,
  type CallOptions,
  type ClaimRequest,
  type CreateTaskOptions,
  type RetryOptions,
  type TasquesClientOptions,
  type WorkerCallOptions,
} from './client.js';
export { formatGoDuration, parseGoDuration } from './duration.js';
export {
  TasquesApiError,
  TasquesClientError,
  TasquesNetworkError,
  TasquesTimeoutError,
  isApiError,
  isClaimLost,
  isTransient,
} from './errors.js';
export type { ErrorCode } from '../errors/index.js';
export type * from './types.js';
