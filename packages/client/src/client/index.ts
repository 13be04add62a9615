/**
 * `@tasques/client` (also `tasques/client`): a typed client for the Tasques v1 HTTP API. No dependencies;
 * its wire types are kept equal to the server's schemas by a drift test. Retry rules and delivery
 * guarantees: docs/clients.md in the tasques repository.
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
export { DurationParseError, formatGoDuration, MAX_DURATION_LENGTH, parseGoDuration, parseGoDurationNs } from './duration.js';
export {
  TasquesApiError,
  TasquesClientError,
  TasquesNetworkError,
  TasquesTimeoutError,
  isApiError,
  isClaimLost,
  isTransient,
} from './errors.js';
export type * from './types.js';
