// The claim order, written once (v1 §3.2): higher priority first, then the earliest run_at, then the task
// with the most attempts left. Every store hands out tasks in this order; the forms below are the same rule
// for each store's query language, kept beside the comparator so that they change together.
import type { Task } from '../types/index.js';
import { remainingAttempts } from './task-lifecycle.js';

export type ClaimOrderFields = Pick<Task, 'priority' | 'runAt' | 'retryTimes' | 'attempted'>;

/** Negative when `a` is claimed before `b`. */
export function compareClaimOrder(a: ClaimOrderFields, b: ClaimOrderFields): number {
  return b.priority - a.priority || a.runAt - b.runAt || remainingAttempts(b) - remainingAttempts(a);
}

/**
 * SQL form over the SQLite `tasks` table. The claim index covers (priority, run_at); remaining attempts is a
 * tie-break applied in memory by `compareClaimOrder` when several queues' candidates are merged.
 */
export const CLAIM_ORDER_SQL = 'priority DESC, run_at ASC';

/** Elasticsearch/OpenSearch sort: equal to the tasks index's `index.sort`, so searches stop early per segment. */
export const CLAIM_ORDER_ES_SORT = [
  { priority: 'desc' },
  { run_at: 'asc' },
  { remaining_attempts: 'desc' },
] as const;
