/**
 * Schemas of the recurring-task controls (issue 16; docs/design/operator-api.md): pause, resume and run
 * now. New routes, so the v1 recurring-task answer keeps its fields.
 */
import { type Static, Type } from '@sinclair/typebox';

export const RecurringTaskStateSchema = Type.Object(
  {
    id: Type.String(),
    paused: Type.Boolean({ description: 'A paused recurring task does not fire (its ticks are skipped).' }),
    paused_at: Type.Optional(Type.String({ format: 'date-time', description: 'When it was paused.' })),
    modified_at: Type.String({ format: 'date-time', description: 'When the recurring task was last written.' }),
  },
  { $id: 'operator.RecurringTaskState' },
);
export type RecurringTaskStateJson = Static<typeof RecurringTaskStateSchema>;
