/**
 * What the client throws. Every failure is a {@link TasquesClientError}; the subclasses say whether the
 * server answered ({@link TasquesApiError}: status, message, code), the connection failed
 * ({@link TasquesNetworkError}) or the answer did not come in time ({@link TasquesTimeoutError}).
 */
import type { ErrorCode } from './wire.js';

/** Base class of every error the client throws (except a caller's own abort, rethrown as is). */
export class TasquesClientError extends Error {
  /** The HTTP method of the request that failed. */
  readonly method: string;
  /** The request path, e.g. `/tasques/claims`. */
  readonly path: string;

  constructor(message: string, method: string, path: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TasquesClientError';
    this.method = method;
    this.path = path;
  }
}

/** The server answered with a non-2xx status. `message` is the server's message. */
export class TasquesApiError extends TasquesClientError {
  /** The HTTP status, e.g. 404. */
  readonly status: number;
  /**
   * The server's stable error code (`TQ_ERR_…`), when it sent one. A v1 server sends none, and a 401
   * from basic auth has no body at all.
   */
  readonly code: ErrorCode | undefined;
  /** The parsed JSON body, or the raw text when it was not JSON. */
  readonly body: unknown;

  constructor(status: number, message: string, code: ErrorCode | undefined, body: unknown, method: string, path: string) {
    super(message, method, path);
    this.name = 'TasquesApiError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/**
 * The request could not be completed: connection refused or reset, DNS failure, malformed response.
 * `sent` is false when the failure happened before any byte of the request reached the server (so the
 * server cannot have acted on it); true when it may have.
 */
export class TasquesNetworkError extends TasquesClientError {
  /** The low-level error code, e.g. `ECONNREFUSED`, when known. */
  readonly errno: string | undefined;
  /** False only when the request certainly never reached the server. */
  readonly sent: boolean;

  constructor(message: string, errno: string | undefined, sent: boolean, method: string, path: string, cause: unknown) {
    super(message, method, path, { cause });
    this.name = 'TasquesNetworkError';
    this.errno = errno;
    this.sent = sent;
  }
}

/** No answer within the request's timeout (for a claim: `block_for` plus the timeout). */
export class TasquesTimeoutError extends TasquesClientError {
  /** The timeout that elapsed, in milliseconds. */
  readonly timeoutMs: number;

  constructor(timeoutMs: number, method: string, path: string) {
    super(`${method} ${path}: no answer within ${timeoutMs}ms`, method, path);
    this.name = 'TasquesTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** True for an answer with the given status (any status if omitted). */
export function isApiError(err: unknown, status?: number): err is TasquesApiError {
  return err instanceof TasquesApiError && (status === undefined || err.status === status);
}

/**
 * True when a worker operation (report-in, done, failed, unclaim) was refused because the worker no
 * longer holds the claim: 400 (the task is not claimed any more, e.g. it timed out), 403 (another
 * worker claimed it since) or 404 (the task is gone).
 */
export function isClaimLost(err: unknown): err is TasquesApiError {
  return err instanceof TasquesApiError && (err.status === 400 || err.status === 403 || err.status === 404);
}

/**
 * True for failures worth retrying later: network errors, timeouts, and 5xx / 429 answers. 4xx answers
 * (other than 429) say the request itself is wrong and will fail the same way again.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof TasquesNetworkError || err instanceof TasquesTimeoutError) return true;
  return err instanceof TasquesApiError && (err.status >= 500 || err.status === 429);
}
