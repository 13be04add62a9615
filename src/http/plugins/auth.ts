/**
 * v1's optional HTTP basic auth (`auth.basic_auth`): when users are configured, every task and
 * recurring-task route needs one of them. Credentials are compared in constant time and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ERROR_CODES } from '../../errors/index.js';

export interface BasicAuthUser {
  name: string;
  password: string;
}

/** Path prefixes behind auth: every route of the v1 API (and additions under them), and the operator routes. */
export const PROTECTED_PREFIXES = ['/tasques', '/recurring_tasques', '/queues', '/schedule', '/workers', '/operations'];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Puts a route outside the protected prefixes behind the auth too (`/metrics` with `metrics.require_auth`). */
    requireAuth?: boolean;
    /**
     * The access class a route needs (issue 16, roles): `read` (look), `produce` (create tasks), `work`
     * (claim, report, finish, unclaim), `operate` (operator actions). Enforced once roles are configured.
     */
    access?: 'read' | 'produce' | 'work' | 'operate';
  }
}

/** Whether a path (or route pattern) is behind the auth when users are configured. */
export const isProtectedPath = (path: string): boolean =>
  PROTECTED_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`) || path.startsWith(`${p}?`));

const digest = (s: string) => createHash('sha256').update(s).digest();

export function registerBasicAuth(app: FastifyInstance, users: readonly BasicAuthUser[]): void {
  if (users.length === 0) return;
  const expected = users.map((u) => digest(`${u.name}:${u.password}`));
  const isProtected = isProtectedPath;
  app.addHook('onRequest', async (request, reply) => {
    // The raw URL and the matched route pattern: the router percent-decodes paths, so `/%74asques/...`
    // reaches a /tasques route although its raw URL does not start with /tasques.
    const route = request.routeOptions.url;
    const required = request.routeOptions.config.requireAuth === true;
    if (!required && !isProtected(request.url) && !(route !== undefined && isProtected(route))) return;
    const header = request.headers.authorization ?? '';
    const match = /^Basic\s+(\S+)$/i.exec(header);
    if (match) {
      const given = digest(Buffer.from(match[1] as string, 'base64').toString('utf8'));
      // Compare against every user so that timing does not reveal which names exist.
      let ok = false;
      for (const e of expected) ok = timingSafeEqual(e, given) || ok;
      if (ok) return;
    }
    return reply
      .code(ERROR_CODES.UNAUTHORIZED.status)
      .header('WWW-Authenticate', 'Basic realm="Authorization Required"')
      .send({ message: 'Unauthorized: valid basic-auth credentials are required', code: ERROR_CODES.UNAUTHORIZED.code });
  });
}
