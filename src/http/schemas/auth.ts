/** The wire shape of `GET /whoami` (docs/auth.md); copied into the client's wire.ts (drift-tested). */
import { type Static, Type } from '@sinclair/typebox';
import { ACCESS_CLASSES, ROLES } from '../../domain/access.js';

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
export type WhoAmIJson = Static<typeof WhoAmISchema>;
