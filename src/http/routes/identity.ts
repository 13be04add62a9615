/**
 * `GET /whoami`: the identity a request authenticated as and what its role allows (docs/auth.md), so
 * that the dashboard can hide the actions its viewer may not take, and a service can check its token.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ACCESS_CLASSES, ROLE_ACCESS, ROLES } from '../../domain/access.js';
import { errorResponses } from '../schemas/tasks.js';

export const WhoAmISchema = Type.Object(
  {
    name: Type.Union([Type.String(), Type.Null()], { description: 'The user or token name; null when the server has no auth' }),
    scheme: Type.Union([Type.Literal('basic'), Type.Literal('bearer'), Type.Null()], {
      description: 'How the request authenticated; null when the server has no auth',
    }),
    role: Type.Union(
      ROLES.map((role) => Type.Literal(role)),
      { description: 'The role; `all` for a user without one, or when the server has no auth' },
    ),
    access: Type.Array(Type.Union(ACCESS_CLASSES.map((c) => Type.Literal(c))), {
      description: 'The access classes the role allows (read, produce, work, operate, any)',
    }),
  },
  { additionalProperties: false },
);

export function identityRoutes(): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/whoami',
      {
        config: { access: 'any' },
        schema: {
          operationId: 'who-am-i',
          summary: 'The authenticated identity and its role',
          description: 'Any valid credentials may call it, whatever their role. Additive to v1.',
          tags: ['auth'],
          response: { 200: WhoAmISchema, ...errorResponses(401) },
        },
      },
      async (request) => {
        const identity = request.identity;
        const role = identity?.role ?? 'all';
        return { name: identity?.name ?? null, scheme: identity?.scheme ?? null, role, access: [...ROLE_ACCESS[role]] };
      },
    );
  };
}
