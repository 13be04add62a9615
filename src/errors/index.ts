/**
 * The one error registry. Every error the server answers with has a stable code, an HTTP status and a
 * message. The HTTP body is `{"message": ..., "code": ...}`: v1 clients read `message`; `code` is additive.
 * Messages of v1 errors keep v1's text (spec §1.1) so that existing clients and logs read the same.
 */

/** Each code once, with its HTTP status and meaning; docs/reference/errors.md is generated from it. */
export const ERROR_CODES = {
  BAD_REQUEST: {
    code: 'TQ_ERR_BAD_REQUEST',
    status: 400,
    meaning: 'The request is malformed: a body that is not a JSON object, a field of the wrong type or format, a value beyond a documented limit. The message names the field.',
  },
  BODY_TOO_LARGE: {
    code: 'TQ_ERR_BODY_TOO_LARGE',
    status: 413,
    meaning: 'The request body is larger than `tasks.limits.body_limit_bytes`.',
  },
  FORBIDDEN: {
    code: 'TQ_ERR_FORBIDDEN',
    status: 403,
    meaning: 'The credentials are valid but their role does not allow this route (docs/auth.md: roles and access classes).',
  },
  INTERNAL: {
    code: 'TQ_ERR_INTERNAL',
    status: 500,
    meaning: 'An unexpected server error, logged with the request id. Never a consequence of bad input.',
  },
  INVALID_QUEUE_NAME: {
    code: 'TQ_ERR_INVALID_QUEUE_NAME',
    status: 400,
    meaning: 'A queue name breaks v1\'s rules (lower case; no space or any of the characters in the OpenAPI pattern; not starting with _, - or +; at most 200 bytes; well-formed Unicode). The message lists every rule broken.',
  },
  METHOD_NOT_ALLOWED: {
    code: 'TQ_ERR_METHOD_NOT_ALLOWED',
    status: 405,
    meaning: 'The path exists but not with this method; the `Allow` header lists the methods it takes.',
  },
  OPERATION_ALREADY_EXISTS: {
    code: 'TQ_ERR_OPERATION_ALREADY_EXISTS',
    status: 409,
    meaning: 'A bulk operation already has this id (ids are generated: a store-level guard).',
  },
  OPERATION_BUSY: {
    code: 'TQ_ERR_OPERATION_BUSY',
    status: 409,
    meaning: 'A bulk operation is already running on this queue, or the server-wide cap of running operations is reached.',
  },
  OPERATION_NOT_FOUND: {
    code: 'TQ_ERR_OPERATION_NOT_FOUND',
    status: 404,
    meaning: 'No bulk operation has this id.',
  },
  OPERATION_VERSION_CONFLICT: {
    code: 'TQ_ERR_OPERATION_VERSION_CONFLICT',
    status: 409,
    meaning: 'The bulk operation record was written concurrently (another server took it over).',
  },
  RECURRING_TASK_ALREADY_EXISTS: {
    code: 'TQ_ERR_RECURRING_TASK_ALREADY_EXISTS',
    status: 409,
    meaning: 'A live recurring task already has this id.',
  },
  RECURRING_TASK_NOT_FOUND: {
    code: 'TQ_ERR_RECURRING_TASK_NOT_FOUND',
    status: 404,
    meaning: 'No live recurring task has this id.',
  },
  RECURRING_TASK_OUTSTANDING: {
    code: 'TQ_ERR_RECURRING_TASK_OUTSTANDING',
    status: 409,
    meaning: 'Run now of a recurring task with skip_if_outstanding_tasks_exist while one of its tasks is outstanding.',
  },
  RECURRING_TASK_VERSION_CONFLICT: {
    code: 'TQ_ERR_RECURRING_TASK_VERSION_CONFLICT',
    status: 409,
    meaning: 'The recurring task was written concurrently, more often than the server retries.',
  },
  ROUTE_NOT_FOUND: {
    code: 'TQ_ERR_ROUTE_NOT_FOUND',
    status: 404,
    meaning: 'No route has this path.',
  },
  SHUTTING_DOWN: {
    code: 'TQ_ERR_SHUTTING_DOWN',
    status: 503,
    meaning: 'The server is shutting down and takes no new work.',
  },
  TASK_ALREADY_EXISTS: {
    code: 'TQ_ERR_TASK_ALREADY_EXISTS',
    status: 409,
    meaning: 'A live task in the queue already has this id (ids are idempotency keys).',
  },
  TASK_CANCELLED: {
    code: 'TQ_ERR_TASK_CANCELLED',
    status: 400,
    meaning: 'Report, done, failed or unclaim of a task an operator cancelled. The status and message are those of TQ_ERR_TASK_NOT_CLAIMED (what a v1 worker handles for a claim it no longer holds); the code says why.',
  },
  TASK_NOT_CLAIMED: {
    code: 'TQ_ERR_TASK_NOT_CLAIMED',
    status: 400,
    meaning: 'Report, done, failed or unclaim of a task that is not claimed.',
  },
  TASK_NOT_DEAD: {
    code: 'TQ_ERR_TASK_NOT_DEAD',
    status: 409,
    meaning: 'Retry of a task that is not dead.',
  },
  TASK_NOT_FOUND: {
    code: 'TQ_ERR_TASK_NOT_FOUND',
    status: 404,
    meaning: 'No task with this id in this queue (archived tasks are read at `/tasques/archived/{queue}/{id}`).',
  },
  TASK_NOT_OWNED_BY_WORKER: {
    code: 'TQ_ERR_TASK_NOT_OWNED_BY_WORKER',
    status: 403,
    meaning: 'The task is claimed by another worker than the one in `X-TASQUES-WORKER-ID`.',
  },
  TASK_NOT_WAITING: {
    code: 'TQ_ERR_TASK_NOT_WAITING',
    status: 409,
    meaning: 'Cancel of a task that has already ended (done or dead).',
  },
  TASK_REPORT_FROM_THE_PAST: {
    code: 'TQ_ERR_TASK_REPORT_FROM_THE_PAST',
    status: 400,
    meaning: 'A report older than the one already stored.',
  },
  TASK_VERSION_CONFLICT: {
    code: 'TQ_ERR_TASK_VERSION_CONFLICT',
    status: 409,
    meaning: 'The task was written concurrently, more often than `tasks.defaults.version_conflict_retry_times` retries.',
  },
  UNAUTHORIZED: {
    code: 'TQ_ERR_UNAUTHORIZED',
    status: 401,
    meaning: 'Basic-auth users or bearer tokens are configured and the request has no valid credentials.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    code: 'TQ_ERR_UNSUPPORTED_MEDIA_TYPE',
    status: 415,
    meaning: 'The Content-Type cannot be read as a body.',
  },
  WORKER_ID_MISSING: {
    code: 'TQ_ERR_WORKER_ID_MISSING',
    status: 400,
    meaning: 'A worker route without a non-blank `X-TASQUES-WORKER-ID` header.',
  },
} as const;

export type ErrorKind = keyof typeof ERROR_CODES;
export type ErrorCode = (typeof ERROR_CODES)[ErrorKind]['code'];

/** An error that maps to a well-defined HTTP answer. Anything else that escapes is a 500. */
export class TasquesError extends Error {
  readonly kind: ErrorKind;
  readonly code: ErrorCode;
  readonly status: number;

  constructor(kind: ErrorKind, message: string) {
    super(message);
    this.name = 'TasquesError';
    this.kind = kind;
    this.code = ERROR_CODES[kind].code;
    this.status = ERROR_CODES[kind].status;
  }
}

export function isTasquesError(err: unknown, kind?: ErrorKind): err is TasquesError {
  return err instanceof TasquesError && (kind === undefined || err.kind === kind);
}

/** Constructors for the errors with v1 message texts (spec §1.1). */
export const errors = {
  badRequest: (message: string) => new TasquesError('BAD_REQUEST', message),
  invalidQueueName: (reasons: string[]) =>
    new TasquesError('INVALID_QUEUE_NAME', `Illegal Queue name: [[${reasons.join(' ')}]]`),
  methodNotAllowed: (method: string, allowed: readonly string[]) =>
    new TasquesError('METHOD_NOT_ALLOWED', `Method ${method} is not allowed here; allowed: ${allowed.join(', ')}`),
  recurringTaskAlreadyExists: (id: string) =>
    new TasquesError('RECURRING_TASK_ALREADY_EXISTS', `Id already exists [${id}]`),
  operationAlreadyExists: (id: string) => new TasquesError('OPERATION_ALREADY_EXISTS', `Operation [${id}] already exists`),
  operationBusy: (why: string) => new TasquesError('OPERATION_BUSY', why),
  operationNotFound: (id: string) => new TasquesError('OPERATION_NOT_FOUND', `Could not find operation [${id}]`),
  operationVersionConflict: (id: string) =>
    new TasquesError('OPERATION_VERSION_CONFLICT', `Operation [${id}] was written concurrently`),
  recurringTaskOutstanding: (id: string, outstanding: number) =>
    new TasquesError(
      'RECURRING_TASK_OUTSTANDING',
      `Recurring Task [${id}] skips while its tasks are outstanding, and ${outstanding} are (queued, claimed or failed)`,
    ),
  recurringTaskNotFound: (id: string) => new TasquesError('RECURRING_TASK_NOT_FOUND', `Could not find [${id}]`),
  recurringTaskVersionConflict: (id: string) =>
    new TasquesError(
      'RECURRING_TASK_VERSION_CONFLICT',
      `Version provided did not match persisted version for [${id}]`,
    ),
  shuttingDown: () => new TasquesError('SHUTTING_DOWN', 'The server is shutting down'),
  // v1's text has a trailing space; kept so that clients matching on it keep working.
  taskAlreadyExists: (id: string) => new TasquesError('TASK_ALREADY_EXISTS', `Task with Id [${id}] already exists `),
  // v1's "not claimed" answer, so that v1 workers handle it as a lost claim; only the code differs.
  taskCancelled: (id: string) =>
    new TasquesError('TASK_CANCELLED', `The Task is not currently Claimed so cannot be reported on: [${id}]`),
  taskNotClaimed: (id: string) =>
    new TasquesError('TASK_NOT_CLAIMED', `The Task is not currently Claimed so cannot be reported on: [${id}]`),
  taskNotDead: (id: string, state: string) =>
    new TasquesError('TASK_NOT_DEAD', `Only a dead Task can be retried: [${id}] is ${state}`),
  taskNotWaiting: (id: string, state: string) =>
    new TasquesError('TASK_NOT_WAITING', `Only a queued, claimed or failed Task can be cancelled: [${id}] is ${state}`),
  taskNotFound: (queue: string, id: string) =>
    new TasquesError('TASK_NOT_FOUND', `Could not find [${id}] in queue [${queue}]`),
  taskNotOwnedByWorker: (workerId: string) =>
    new TasquesError('TASK_NOT_OWNED_BY_WORKER', `The Task was not owned by the worker [${workerId}]`),
  taskReportFromThePast: (id: string, existing: string, attempted: string) =>
    new TasquesError(
      'TASK_REPORT_FROM_THE_PAST',
      `The Task [${id}] was already reported on at [${existing}], which overrides the current one reported at [${attempted}]`,
    ),
  taskVersionConflict: (id: string) =>
    new TasquesError('TASK_VERSION_CONFLICT', `Version provided did not match persisted version for [${id}]`),
  workerIdMissing: () =>
    new TasquesError('WORKER_ID_MISSING', 'Worker Id header [X-TASQUES-WORKER-ID] not sent'),
};
