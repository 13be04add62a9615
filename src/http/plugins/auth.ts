/**
 * Authentication and roles (v1's optional basic auth, plus bearer tokens and roles: docs/auth.md).
 * When any basic-auth user or bearer token is configured, every protected route needs one of them (401
 * otherwise), and the identity's role must allow the route's access class (403 otherwise). Passwords and
 * tokens are compared in constant time (as sha256 digests) and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type AccessClass, type Role, roleAllows } from '../../domain/access.js';
import { ERROR_CODES } from '../../errors/index.js';

export interface BasicAuthUser {
  name: string;
  password: string;
  /** No role: may do everything (v1). */
  role?: Role | undefined;
}

export interface BearerToken {
  name: string;
  /** Hex sha256 of the token; the token itself is never configured. */
  sha256: string;
  role: Role;
}

export interface AuthSettings {
  basicAuthUsers?: readonly BasicAuthUser[] | undefined;
  bearerTokens?: readonly BearerToken[] | undefined;
}

/** Who sent a request, once authenticated: for operator actions to record who did them. */
export interface Identity {
  name: string;
  role: Role;
  scheme: 'basic' | 'bearer';
}

/** Path prefixes behind auth: every route of the v1 API (and additions under them), and the operator routes. */
export const PROTECTED_PREFIXES = ['/tasques', '/recurring_tasques', '/queues', '/schedule', '/stats', '/workers', '/operations'];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Puts a route outside the protected prefixes behind the auth too (`/metrics` with `metrics.require_auth`). */
    requireAuth?: boolean;
    /**
     * The access class a route needs (src/domain/access.ts): `read` (look), `produce` (create tasks),
     * `work` (claim, report, finish, unclaim), `operate` (operator actions), `any` (any identity). A route
     * that declares one is behind the auth whatever its path; a protected route without one is open to
     * the role `all` only.
     */
    access?: AccessClass;
  }
  interface FastifyRequest {
    /** The authenticated identity; undefined on an open route or a server without auth. */
    identity?: Identity;
  }
}

/** Whether a path (or route pattern) is behind the auth when users are configured. */
export const isProtectedPath = (path: string): boolean =>
  PROTECTED_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`) || path.startsWith(`${p}?`));

/** Whether a route (by its pattern and options) is behind the auth once it is configured. */
export const isProtectedRoute = (url: string, config: { access?: AccessClass; requireAuth?: boolean } | undefined): boolean =>
  config?.access !== undefined || config?.requireAuth === true || isProtectedPath(url);

/** Whether any identity is configured, i.e. whether the auth is on. */
export const authConfigured = (settings: AuthSettings | undefined): boolean =>
  (settings?.basicAuthUsers?.length ?? 0) > 0 || (settings?.bearerTokens?.length ?? 0) > 0;

/** One route as the auth sees it: for the test that every protected route declares its access class. */
export interface RouteAccess {
  method: string;
  url: string;
  access: AccessClass | undefined;
  /** Behind the auth once users or tokens are configured. */
  protected: boolean;
}

const routeTables = new WeakMap<FastifyInstance, RouteAccess[]>();

/** Records every route added from now on; call first, before any route. */
export function trackRouteAccess(app: FastifyInstance): void {
  const table: RouteAccess[] = [];
  routeTables.set(app, table);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      table.push({ method, url: route.url, access: route.config?.access, protected: isProtectedRoute(route.url, route.config) });
    }
  });
}

/** Every route of an app built by buildApp, with its access class. */
export const routeAccessTable = (app: FastifyInstance): readonly RouteAccess[] => routeTables.get(app) ?? [];

const digest = (s: string) => createHash('sha256').update(s).digest();

interface Credential {
  digest: Buffer;
  identity: Identity;
}

/**
 * The one credential among `known` whose digest equals `given`, comparing against every one of them so
 * that the time taken does not reveal which names or tokens exist.
 */
function findCredential(known: readonly Credential[], given: Buffer): Identity | undefined {
  let found: Identity | undefined;
  for (const credential of known) {
    if (timingSafeEqual(credential.digest, given) && found === undefined) found = credential.identity;
  }
  return found;
}

export function registerAuth(app: FastifyInstance, settings: AuthSettings): void {
  app.decorateRequest('identity', undefined);
  const users = settings.basicAuthUsers ?? [];
  const tokens = settings.bearerTokens ?? [];
  if (users.length === 0 && tokens.length === 0) return;
  const basicCredentials: Credential[] = users.map((u) => ({
    digest: digest(`${u.name}:${u.password}`),
    identity: { name: u.name, role: u.role ?? 'all', scheme: 'basic' },
  }));
  const bearerCredentials: Credential[] = tokens.map((t) => ({
    digest: Buffer.from(t.sha256.toLowerCase(), 'hex'),
    identity: { name: t.name, role: t.role, scheme: 'bearer' },
  }));
  // v1's exact challenge while basic-auth users exist (clients and browsers know it); Bearer otherwise.
  const challenge = users.length > 0 ? 'Basic realm="Authorization Required"' : 'Bearer realm="tasques"';
  const unauthorizedMessage =
    tokens.length === 0
      ? 'Unauthorized: valid basic-auth credentials are required'
      : users.length === 0
        ? 'Unauthorized: a valid bearer token is required'
        : 'Unauthorized: valid basic-auth credentials or a valid bearer token are required';

  const authenticate = (header: string): Identity | undefined => {
    const match = /^(Basic|Bearer)\s+(\S+)$/i.exec(header);
    if (!match) return undefined;
    const scheme = (match[1] as string).toLowerCase();
    const value = match[2] as string;
    if (scheme === 'basic') return findCredential(basicCredentials, digest(Buffer.from(value, 'base64').toString('utf8')));
    return findCredential(bearerCredentials, digest(value));
  };

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // The raw URL and the matched route pattern: the router percent-decodes paths, so `/%74asques/...`
    // reaches a /tasques route although its raw URL does not start with /tasques.
    const route = request.routeOptions.url;
    const config = request.routeOptions.config;
    if (!isProtectedRoute(request.url, config) && !(route !== undefined && isProtectedPath(route))) return;
    const identity = authenticate(request.headers.authorization ?? '');
    if (identity === undefined) {
      return reply
        .code(ERROR_CODES.UNAUTHORIZED.status)
        .header('WWW-Authenticate', challenge)
        .send({ message: unauthorizedMessage, code: ERROR_CODES.UNAUTHORIZED.code });
    }
    request.identity = identity;
    // An unknown path or method: the router's 404/405 answers, whatever the role.
    if (request.is404) return;
    if (!roleAllows(identity.role, config.access)) {
      const needs = config.access === undefined ? 'the role all' : `${config.access} access`;
      return reply.code(ERROR_CODES.FORBIDDEN.status).send({
        message: `Forbidden: ${request.method} ${route ?? request.url} needs ${needs}, which the role ${identity.role} of ${identity.name} does not have`,
        code: ERROR_CODES.FORBIDDEN.code,
      });
    }
  });
}
