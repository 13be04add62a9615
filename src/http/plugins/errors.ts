/**
 * Turns every failure into `{"message", "code"}` with the right 4xx/5xx (spec §1.1). Validation and
 * parsing errors say which field is wrong; unknown errors are logged and answered with a generic 500
 * (never a stack trace or store internals).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { QUEUE_NAME_PATTERN, queueNameViolations } from '../../domain/queue-name.js';
import { ERROR_CODES, type ErrorKind, errors, isTasquesError } from '../../errors/index.js';

interface ValidationDetail {
  instancePath?: string;
  keyword?: string;
  params?: Record<string, unknown>;
  message?: string;
  parentSchema?: { format?: string; pattern?: string };
  data?: unknown;
}

function body(kind: ErrorKind, message: string) {
  return { message, code: ERROR_CODES[kind].code };
}

/** Answers the error `kind` with the registry's status: a handler never writes a status of its own. */
const answer = (reply: FastifyReply, kind: ErrorKind, message: string) => reply.code(ERROR_CODES[kind].status).send(body(kind, message));

/** A value for an error message, cut short: a message never echoes a whole oversized field back. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 60)}… (${text.length} characters)` : text;
}

/** A readable message for the first schema violation, e.g. `body/queues must be array`. */
function validationMessage(error: FastifyError): string {
  const detail = (error.validation as ValidationDetail[] | undefined)?.[0];
  const context = error.validationContext ?? 'body';
  if (!detail) return error.message;
  const path = `${context}${detail.instancePath ?? ''}`;
  if (detail.keyword === 'maxLength' || detail.keyword === 'maxItems') return error.message; // names the limit
  if (detail.parentSchema?.format === 'go-duration' || detail.params?.format === 'go-duration') {
    return `${path} must be a Go duration string such as "300ms", "5s" or "1h30m" (got ${shown(detail.data)})`;
  }
  if (context === 'body' && (detail.instancePath ?? '') === '' && detail.keyword === 'type') {
    // No body at all reaches validation as undefined or null, depending on how it was sent.
    return detail.data === undefined || detail.data === null
      ? 'Request body is empty; expected a JSON object'
      : `Request body must be a JSON object (got ${Array.isArray(detail.data) ? 'an array' : typeof detail.data})`;
  }
  // `additionalProperties: {not: {}}` (schemas that refuse unknown fields rather than drop them).
  const parent = detail.parentSchema as Record<string, unknown> | undefined;
  if (detail.keyword === 'not' && parent !== undefined && Object.keys(parent).length === 1 && JSON.stringify(parent.not) === '{}') {
    return `${path}: unknown field`;
  }
  if (detail.keyword === 'required') return `${path} must have required property '${String(detail.params?.missingProperty)}'`;
  if (detail.keyword === 'format') {
    return `${path} must be ${detail.params?.format === 'date-time' ? 'an RFC 3339 date-time such as "2026-01-02T15:04:05Z"' : `in format ${String(detail.params?.format)}`}`;
  }
  return error.message;
}

/**
 * The methods of the routes registered so far, by path pattern, to tell "no such path" (404) from "not
 * with this method" (405 with `Allow`, RFC 9110 §15.5.6). Paths are compared segment by segment, each
 * percent-decoded (an encoded `/` stays inside its segment, as in the router); a parameter matches one
 * non-empty segment and a trailing `*` anything.
 */
export function trackRouteMethods(app: FastifyInstance): (rawPath: string) => string[] {
  const SEPARATOR = '\u0000'; // cannot occur in a URL, even decoded (the router refuses %00)
  const routes: { pattern: RegExp; method: string }[] = [];
  app.addHook('onRoute', (route) => {
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const source = route.url
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^\\u0000]+' : segment === '*' ? '.*' : escape(segment)))
      .join(SEPARATOR);
    for (const method of [route.method].flat()) routes.push({ pattern: new RegExp(`^${source}$`), method });
  });
  return (rawPath) => {
    const path = rawPath
      .split('/')
      .map((segment) => {
        try {
          return decodeURIComponent(segment);
        } catch {
          return segment; // a malformed escape: compared as sent
        }
      })
      .join(SEPARATOR);
    return [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))].sort();
  };
}

/** @param methodsOf the methods of the routes matching a path (trackRouteMethods, called before any route) */
export function registerErrorHandling(app: FastifyInstance, methodsOf: (path: string) => string[]): void {
  const noRoute = (request: FastifyRequest, reply: FastifyReply) => {
    const allowed = methodsOf(request.url.split('?')[0] ?? '');
    // A route that matched this method and then found nothing (a dashboard file that is not there) is a 404.
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      const e = errors.methodNotAllowed(request.method, allowed);
      return reply.code(e.status).header('allow', allowed.join(', ')).send({ message: e.message, code: e.code });
    }
    return answer(reply, 'ROUTE_NOT_FOUND', 'No such route.');
  };
  app.setNotFoundHandler((request, reply) => {
    void noRoute(request, reply);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    // A request without a route can still fail before the not-found handler, e.g. reading the body of a
    // QUERY without a Content-Type: what it gets is still "no such route" or "not with this method".
    if (request.is404 && !isTasquesError(error)) return noRoute(request, reply);
    if (isTasquesError(error)) {
      if (error.status >= 500) request.log.error({ err: error }, 'request failed');
      return reply.code(error.status).send({ message: error.message, code: error.code });
    }
    if (error.validation && error.validationContext === 'headers') {
      // The only header with a schema is X-TASQUES-WORKER-ID; answer with v1's message.
      const e = errors.workerIdMissing();
      return reply.code(e.status).send({ message: e.message, code: e.code });
    }
    const detail = (error.validation as ValidationDetail[] | undefined)?.[0];
    if (detail?.parentSchema?.pattern === QUEUE_NAME_PATTERN && typeof detail.data === 'string') {
      // A queue name the schema refuses gets v1's answer, as the routes give it (spec §2.6).
      const e = errors.invalidQueueName(queueNameViolations(detail.data));
      // A batch names the item, as its route does (`tasks[1]: …`).
      const item = /^\/tasks\/(\d+)\//.exec(detail.instancePath ?? '')?.[1];
      return reply.code(e.status).send({ message: item === undefined ? e.message : `tasks[${item}]: ${e.message}`, code: e.code });
    }
    if (error.validation) {
      return answer(reply, 'BAD_REQUEST', validationMessage(error));
    }
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return answer(reply, 'BODY_TOO_LARGE', `Request body is larger than the limit of ${app.initialConfig.bodyLimit} bytes`);
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return answer(reply, 'BAD_REQUEST', 'Request body is empty; expected a JSON object');
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return answer(reply, 'UNSUPPORTED_MEDIA_TYPE', error.message);
      default:
        break;
    }
    if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return answer(reply, 'BAD_REQUEST', `Request body is not valid JSON: ${error.message}`);
    }
    const frameworkStatus = error.statusCode ?? 500;
    if (frameworkStatus >= 400 && frameworkStatus < 500) {
      return reply.code(frameworkStatus).send(body('BAD_REQUEST', error.message));
    }
    request.log.error({ err: error }, 'request failed');
    return answer(reply, 'INTERNAL', 'Internal server error');
  });
}
