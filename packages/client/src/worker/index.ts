/**
 * `tasques/worker`: a Worker loop over `tasques/client`. See docs/clients.md.
 * @packageDocumentation
 */
export {
  ClaimLostError,
  TaskCancelledError,
  Worker,
  WorkerStoppingError,
  isTaskCancelled,
  serializeError,
  type HandlerMap,
  type StopSummary,
  type TaskContext,
  type TaskHandler,
  type UnclaimReason,
  type WorkerEvents,
  type WorkerOperation,
  type WorkerOptions,
} from './worker.js';
