/**
 * Schemas of `GET /workers` (issue 16; docs/design/operator-api.md): who holds claims now, and who was
 * seen lately. Workers are known only by their X-TASQUES-WORKER-ID header.
 */
import { type Static, Type } from '@sinclair/typebox';

export const DEFAULT_WORKERS_LIMIT = 100;
export const MAX_WORKERS_LIMIT = 1000;
export const DEFAULT_WORKERS_WINDOW = '1h';

const DateTime = (description: string) => Type.String({ format: 'date-time', description });

export const WorkersQuery = Type.Object({
  limit: Type.Optional(
    Type.String({ description: `Most workers per list, 1 to ${MAX_WORKERS_LIMIT}. Default ${DEFAULT_WORKERS_LIMIT}.` }),
  ),
  window: Type.Optional(
    Type.String({ description: `Go duration: "recent" lists workers seen within it, up to 24h. Default ${DEFAULT_WORKERS_WINDOW}.` }),
  ),
});
export type WorkersQueryJson = Static<typeof WorkersQuery>;

export const WorkerClaimsSchema = Type.Object(
  {
    worker_id: Type.String(),
    queues: Type.Array(Type.String(), { description: 'Queues of the tasks it holds, sorted.' }),
    claimed: Type.Integer({ description: 'Tasks it holds (CLAIMED).' }),
    claimed_since: DateTime('The earliest claim among them.'),
    last_report_at: Type.Optional(DateTime('The latest report-in among them; absent if none reported.')),
  },
  { $id: 'operator.WorkerClaims' },
);

export const WorkerSightingSchema = Type.Object(
  {
    worker_id: Type.String(),
    last_seen_at: DateTime('Its last claim, report-in, done, failed or unclaim call (to within ~15 s across servers).'),
    queues: Type.Array(Type.String(), { description: 'The queues of that last call (up to 20), sorted.' }),
  },
  { $id: 'operator.WorkerSighting' },
);

export const WorkersSchema = Type.Object(
  {
    holding: Type.Array(Type.Ref(WorkerClaimsSchema), {
      description: 'Workers holding claims now, those holding the most first (then by id); at most `limit`.',
    }),
    holding_count: Type.Integer({ description: 'Workers holding claims, also beyond `limit`.' }),
    holding_complete: Type.Boolean({
      description: 'False when there were more than 10 000 claimed tasks: the figures cover the first 10 000 only.',
    }),
    recent: Type.Array(Type.Ref(WorkerSightingSchema), {
      description: 'Workers seen within `window`, most recent first; at most `limit`.',
    }),
  },
  { $id: 'operator.Workers' },
);
export type WorkersJson = Static<typeof WorkersSchema>;
