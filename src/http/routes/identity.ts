/**
 * `GET /whoami`: the identity a request authenticated as and what its role allows (docs/auth.md), so
 * that the dashboard can hide the actions its viewer may not take, and a service can check its token.
 */
import type { FastifyPluginAsync } from 'fastify';
import { ROLE_ACCESS } from '../../domain/access.js';
import { type WhoAmIJson, WhoAmISchema } from '../schemas/auth.js';
import { errorResponses } from '../schemas/tasks.js';

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
      async (request): Promise<WhoAmIJson> => {
        const identity = request.identity;
        const role = identity?.role ?? 'all';
        return { name: identity?.name ?? null, scheme: identity?.scheme ?? null, role, access: [...ROLE_ACCESS[role]] };
      },
    );
  };
}
