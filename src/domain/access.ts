/**
 * Who may do what (issue 16, item 8). Every protected route needs one access class; a role is the set
 * of classes it allows. docs/auth.md is the prose version of these two tables.
 */
import { createHash, randomBytes } from 'node:crypto';

/**
 * What a route does: `read` (look: GETs, the dashboard), `produce` (create tasks), `work` (claim,
 * report, done, failed, unclaim), `operate` (pause, limits, retry, cancel, bulk, recurring changes),
 * `any` (any authenticated identity: `GET /whoami`).
 */
export const ACCESS_CLASSES = ['read', 'produce', 'work', 'operate', 'any'] as const;
export type AccessClass = (typeof ACCESS_CLASSES)[number];

/** The roles of basic-auth users and bearer tokens. `all` is a user configured without a role (v1). */
export const ROLES = ['read', 'worker', 'producer', 'operator', 'all'] as const;
export type Role = (typeof ROLES)[number];

/**
 * The classes each role allows. A worker gets its tasks whole in the claim answer, so it needs no read
 * access (a leaked worker token then cannot read other queues' tasks). A producer may read: v1 has no
 * result callback, so a producer learns the outcome of its task with `GET /tasques/{queue}/{id}`.
 */
export const ROLE_ACCESS: Readonly<Record<Role, readonly AccessClass[]>> = {
  read: ['read', 'any'],
  worker: ['work', 'any'],
  producer: ['produce', 'read', 'any'],
  operator: ['operate', 'read', 'any'],
  all: ACCESS_CLASSES,
};

/**
 * Whether `role` may use a route that needs `access`. A protected route that declares no class is open
 * to `all` only: a forgotten annotation fails closed.
 */
export function roleAllows(role: Role, access: AccessClass | undefined): boolean {
  if (access === undefined) return role === 'all';
  return ROLE_ACCESS[role].includes(access);
}

/** Hex sha256 of a bearer token: what `auth.bearer_tokens[].sha256` holds (`tasques token hash`). */
export const bearerTokenSha256 = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * A new bearer token: 32 random bytes, base64url, after a `tq_` prefix that secret scanners can match.
 * Its sha256 is safe to configure: 256 random bits cannot be recovered from the hash.
 */
export function newBearerToken(): { token: string; sha256: string } {
  const token = `tq_${randomBytes(32).toString('base64url')}`;
  return { token, sha256: bearerTokenSha256(token) };
}
