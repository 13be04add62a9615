/**
 * The types of the client's API: the wire types of the Tasques v1 API (./wire.ts) and the client's own
 * option shapes.
 */
import type { TaskState } from './wire.js';

export type * from './wire.js';

/** Filters of {@link TasquesClient.listTasks}; all optional and ANDed. */
export interface TaskListFilter {
  queue?: string;
  /** One state or several. */
  state?: TaskState | TaskState[];
  kind?: string;
  recurringTaskId?: string;
  /** Created at or after (inclusive). */
  createdAfter?: Date | string;
  /** Created before (exclusive). */
  createdBefore?: Date | string;
  /** The task id or its kind starts with this. */
  prefix?: string;
  /** true: only scheduled tasks (waiting, run_at in the future); false: only the others. */
  scheduled?: boolean;
  /** Page size, 1 to 1000 (server default 50). */
  limit?: number;
  /** The `next_cursor` of the previous page. */
  cursor?: string;
}
