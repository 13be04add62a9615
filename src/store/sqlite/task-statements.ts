/**
 * Statements over the `tasks` table, and the task writes built from them: the compare-and-set write and
 * the claim. Listing is in task-listing.ts; the per-queue counts these writes keep are in queue-counts.ts.
 */
import type Database from 'better-sqlite3';
import { CLAIM_ORDER_SQL, compareClaimOrder } from '../../domain/claim-order.js';
import { withinBudget } from '../../domain/answer-budget.js';
import { intoClaimed } from '../../domain/task-lifecycle.js';
import type { Task } from '../../types/index.js';
import type { TaskClaimParams } from '../store.js';
import type { CountChanges } from './queue-counts.js';
import type { CandidateRow } from './flow-control.js';
import {
  claimAnswerBytesOfRow,
  claimOrderOfRow,
  IMMUTABLE_TASK_COLUMNS,
  mutableUpdateValues,
  PRIMARY_TERM,
  rowToTask,
  TASK_COLUMNS,
  updateValues,
  type TaskRow,
} from './rows.js';

export type TaskStatements = Record<
  | 'insert'
  | 'get'
  | 'update'
  | 'updateMutable'
  | 'exists'
  | 'stateAtVersion'
  | 'claimCandidates'
  | 'claimCandidatesAtPriority'
  | 'claimCandidatesBelowPriority'
  | 'claimCandidatesAtPriorityExcept'
  | 'claimCandidatesBelowPriorityExcept'
  | 'firstWaitingBelowPriority'
  | 'nextRunAtAll'
  | 'markClaimed'
  | 'nextRunAt'
  | 'listTimedOut'
  | 'countOutstanding',
  Database.Statement
>;

export function prepareTaskStatements(db: Database.Database): TaskStatements {
  const placeholders = TASK_COLUMNS.map(() => '?').join(', ');
  const assignments = TASK_COLUMNS.filter((c) => c !== 'queue' && c !== 'id')
    .map((c) => `${c} = ?`)
    .join(', ');
  // SQLite rewrites an index entry whenever a column of the index is in the SET list, changed or not; so
  // the usual update leaves out the columns that never change after create (and only key the listing
  // indexes), and matches them in WHERE instead.
  const mutableAssignments = TASK_COLUMNS.filter((c) => !(IMMUTABLE_TASK_COLUMNS as readonly string[]).includes(c))
    .map((c) => `${c} = ?`)
    .join(', ');
  return {
    insert: db.prepare(`INSERT INTO tasks (${TASK_COLUMNS.join(', ')}) VALUES (${placeholders})`),
    get: db.prepare('SELECT * FROM tasks WHERE queue = ? AND id = ?'),
    update: db.prepare(`UPDATE tasks SET ${assignments} WHERE queue = ? AND id = ? AND version = ?`),
    updateMutable: db.prepare(
      `UPDATE tasks SET ${mutableAssignments}
       WHERE queue = ? AND id = ? AND version = ? AND kind = ? AND created_at = ? AND recurring_task_id IS ?
         AND concurrency_key IS ? AND rate_key IS ?`,
    ),
    exists: db.prepare('SELECT 1 FROM tasks WHERE queue = ? AND id = ?').pluck(),
    // The state a compare-and-set update replaces (for queue_counts): the row the update will match.
    stateAtVersion: db.prepare('SELECT state FROM tasks WHERE queue = ? AND id = ? AND version = ?').pluck(),
    claimCandidates: db.prepare(
      // INDEXED BY: without statistics SQLite prefers tasks_next_run for the run_at range and then sorts
      // the whole backlog; walking tasks_claim_order in order stops after `amount` rows (flat claim cost).
      `SELECT rowid AS row_id, * FROM tasks INDEXED BY tasks_claim_order
       WHERE queue = ? AND state IN ('queued', 'failed') AND run_at <= ? AND attempted <= retry_times
       ORDER BY ${CLAIM_ORDER_SQL} LIMIT ?`,
    ),
    // Every queue at once, one priority level at a time: the run_at range stops the walk at the first task
    // not yet due. Paused queues are left out by the query (their due tasks are skipped one by one).
    claimCandidatesAtPriority: db.prepare(
      `SELECT rowid AS row_id, * FROM tasks INDEXED BY tasks_claim_order_all
       WHERE state IN ('queued', 'failed') AND priority = ? AND run_at <= ? AND attempted <= retry_times
         AND queue NOT IN (SELECT queue FROM queue_states WHERE paused = 1)
       ORDER BY run_at LIMIT ?`,
    ),
    // The same below a priority, for when there are many priority levels: walks the tasks not yet due too.
    claimCandidatesBelowPriority: db.prepare(
      `SELECT rowid AS row_id, * FROM tasks INDEXED BY tasks_claim_order_all
       WHERE state IN ('queued', 'failed') AND priority < ? AND run_at <= ? AND attempted <= retry_times
         AND queue NOT IN (SELECT queue FROM queue_states WHERE paused = 1)
       ORDER BY ${CLAIM_ORDER_SQL} LIMIT ?`,
    ),
    // The same two, leaving out the queues of a JSON array (the flow-control queues, claimed apart).
    claimCandidatesAtPriorityExcept: db.prepare(
      `SELECT rowid AS row_id, * FROM tasks INDEXED BY tasks_claim_order_all
       WHERE state IN ('queued', 'failed') AND priority = ? AND run_at <= ? AND attempted <= retry_times
         AND queue NOT IN (SELECT queue FROM queue_states WHERE paused = 1)
         AND queue NOT IN (SELECT value FROM json_each(?))
       ORDER BY run_at LIMIT ?`,
    ),
    claimCandidatesBelowPriorityExcept: db.prepare(
      `SELECT rowid AS row_id, * FROM tasks INDEXED BY tasks_claim_order_all
       WHERE state IN ('queued', 'failed') AND priority < ? AND run_at <= ? AND attempted <= retry_times
         AND queue NOT IN (SELECT queue FROM queue_states WHERE paused = 1)
         AND queue NOT IN (SELECT value FROM json_each(?))
       ORDER BY ${CLAIM_ORDER_SQL} LIMIT ?`,
    ),
    // The first waiting task of the highest priority below ?: one index seek per priority level present.
    firstWaitingBelowPriority: db.prepare(
      `SELECT priority, run_at FROM tasks INDEXED BY tasks_claim_order_all
       WHERE state IN ('queued', 'failed') AND priority < ? ORDER BY ${CLAIM_ORDER_SQL} LIMIT 1`,
    ),
    nextRunAtAll: db
      .prepare(`SELECT MIN(run_at) FROM tasks INDEXED BY tasks_claim_order_all WHERE state IN ('queued', 'failed')`)
      .pluck(),
    markClaimed: db.prepare(
      `UPDATE tasks SET state = 'claimed', attempted = ?, claimed_worker_id = ?,
         claimed_at = ?, times_out_at = ?, report_at = NULL, report_data = NULL,
         result_at = NULL, result_success = NULL, result_failure = NULL, modified_at = ?,
         version = version + 1
       WHERE rowid = ?`,
    ),
    nextRunAt: db.prepare(`SELECT MIN(run_at) FROM tasks WHERE queue = ? AND state IN ('queued', 'failed')`).pluck(),
    listTimedOut: db.prepare(
      `SELECT * FROM tasks WHERE state = 'claimed' AND times_out_at <= ? ORDER BY times_out_at LIMIT ?`,
    ),
    countOutstanding: db
      .prepare(
        `SELECT COUNT(*) FROM tasks WHERE queue = ? AND recurring_task_id = ?
           AND state IN ('queued', 'claimed', 'failed')`,
      )
      .pluck(),
  };
}

/**
 * The compare-and-set write of a task row. The narrow update first; the full replacement only when it
 * did not match: a conflict, a missing task, or a caller that changed a field that normally never changes.
 */
export function writeTask(s: TaskStatements, row: TaskRow, expectedVersion: number, counts: CountChanges): { changes: number } {
  const before = s.stateAtVersion.get(row.queue, row.id, expectedVersion) as string | undefined;
  if (before === undefined) return { changes: 0 }; // gone, or written meanwhile: the update would match nothing
  let result = s.updateMutable.run(mutableUpdateValues(row, expectedVersion));
  if (result.changes === 0) result = s.update.run(updateValues(row, expectedVersion));
  if (result.changes > 0) counts.move(row.queue, before, row.state, row.concurrency_key !== null);
  return result;
}

/** Bound of the per-priority-level walks across queues; past it, one walk of the rest of the index. */
const MAX_PRIORITY_SEEKS = 64;

/**
 * Claims the best `amount` claimable tasks of `queues` (already deduplicated, paused ones left out): per
 * queue through the claim-order index, then merged in the claim order, or, for 'all' (every unpaused
 * queue), in one walk of the index across queues; no more than `maxBytes` of answer
 * (claimAnswerBytesOfRow), at least one task. Runs inside the caller's transaction. The plain claim:
 * queues with flow control (limits or keyed tasks) go through sqlite-store's flow claim instead.
 */
export function claimTasks(
  s: TaskStatements,
  queues: readonly string[] | 'all',
  claim: Omit<TaskClaimParams, 'queues'>,
  counts: CountChanges,
): Task[] {
  const candidates = readPlainCandidates(s, queues, claim);
  return markClaimed(s, withinBudget(candidates, claim.amount, claim.maxBytes ?? Number.POSITIVE_INFINITY, claimAnswerBytesOfRow), claim, counts);
}

/**
 * The best claimable tasks of `queues` in claim order, at most `amount`, and no more than one past
 * `maxBytes` per queue walk. With `except` (a JSON array of queue names), an 'all' walk leaves those out.
 */
export function readPlainCandidates(
  s: TaskStatements,
  queues: readonly string[] | 'all',
  { amount, now, maxBytes = Number.POSITIVE_INFINITY }: Pick<TaskClaimParams, 'amount' | 'now' | 'maxBytes'>,
  except?: string,
): CandidateRow[] {
  let candidates: CandidateRow[] = [];
  let bytes = 0;
  /** Reads rows in claim order until one passes the budget; false when it did (the walk is over). */
  const read = (rows: IterableIterator<CandidateRow>): boolean => {
    for (const row of rows) {
      candidates.push(row);
      bytes += claimAnswerBytesOfRow(row);
      // A later row of this walk comes after all of these in the merged order too: it cannot fit. (This
      // one may still be handed out, alone, if it is the first of all.) Nothing past it is read.
      if (bytes > maxBytes) return false;
    }
    return true;
  };
  if (queues === 'all') {
    const atPriority = except === undefined ? s.claimCandidatesAtPriority : s.claimCandidatesAtPriorityExcept;
    const belowPriority = except === undefined ? s.claimCandidatesBelowPriority : s.claimCandidatesBelowPriorityExcept;
    const extra = except === undefined ? [] : [except];
    // Priority levels from the highest; each level's due tasks in run_at order. The levels come out in
    // claim order, so the rows need no merge.
    let below = Number.MAX_SAFE_INTEGER;
    for (let seeks = 0; candidates.length < amount; seeks++) {
      const left = amount - candidates.length;
      if (seeks >= MAX_PRIORITY_SEEKS) {
        read(belowPriority.iterate(below, now, ...extra, left) as IterableIterator<CandidateRow>);
        break;
      }
      const level = s.firstWaitingBelowPriority.get(below) as { priority: number; run_at: number } | undefined;
      if (level === undefined) break;
      below = level.priority;
      if (level.run_at > now) continue; // nothing of this level is due yet
      if (!read(atPriority.iterate(level.priority, now, ...extra, left) as IterableIterator<CandidateRow>)) break;
    }
  } else {
    for (const queue of queues) {
      bytes = 0;
      read(s.claimCandidates.iterate(queue, now, amount) as IterableIterator<CandidateRow>);
    }
  }
  if (queues === 'all' || queues.length > 1) candidates = sortByClaimOrder(candidates);
  return candidates;
}

function sortByClaimOrder(rows: CandidateRow[]): CandidateRow[] {
  return rows
    .map((row) => ({ row, order: claimOrderOfRow(row) }))
    .sort((a, b) => compareClaimOrder(a.order, b.order))
    .map(({ row }) => row);
}

/**
 * Merges sequences by the claim order of their heads (store contract, fairness across queues): each
 * sequence keeps its own order; at each step the head first in claim order goes next (the earlier
 * sequence on a tie). At most `amount` rows.
 */
export function mergeByHeads(sequences: readonly CandidateRow[][], amount: number): CandidateRow[] {
  const live = sequences.filter((seq) => seq.length > 0);
  if (live.length === 1) return live[0]!.slice(0, amount);
  const next = live.map(() => 0);
  const merged: CandidateRow[] = [];
  while (merged.length < amount) {
    let best = -1;
    for (let i = 0; i < live.length; i++) {
      const head = live[i]![next[i]!];
      if (head === undefined) continue;
      if (best < 0 || compareClaimOrder(claimOrderOfRow(head), claimOrderOfRow(live[best]![next[best]!]!)) < 0) best = i;
    }
    if (best < 0) break;
    merged.push(live[best]![next[best]!]!);
    next[best]!++;
  }
  return merged;
}

/** Marks the rows claimed by `workerId` at `now` (in the caller's transaction); the claimed tasks, in order. */
export function markClaimed(
  s: TaskStatements,
  rows: readonly CandidateRow[],
  { workerId, now }: Pick<TaskClaimParams, 'workerId' | 'now'>,
  counts: CountChanges,
): Task[] {
  return rows.map((row) => {
    const task = intoClaimed(rowToTask(row), { workerId, now });
    const lc = task.lastClaimed!;
    s.markClaimed.run(task.attempted, lc.workerId, lc.claimedAt, lc.timesOutAt, task.modifiedAt, row.row_id);
    counts.move(row.queue, row.state, 'claimed', row.concurrency_key !== null);
    return { ...task, version: { seqNum: row.version + 1, primaryTerm: PRIMARY_TERM } };
  });
}


/**
 * The earliest run_at among waiting (queued or failed) tasks of every queue: within a priority the index
 * is in run_at order, so one seek per priority level present gives it, whatever the number of queues.
 */
export function earliestWaitingRunAt(s: TaskStatements): number | undefined {
  let earliest: number | undefined;
  let below = Number.MAX_SAFE_INTEGER;
  for (let seeks = 0; seeks < MAX_PRIORITY_SEEKS; seeks++) {
    const row = s.firstWaitingBelowPriority.get(below) as { priority: number; run_at: number } | undefined;
    if (row === undefined) return earliest;
    if (earliest === undefined || row.run_at < earliest) earliest = row.run_at;
    below = row.priority;
  }
  // Many priority levels: a scan of the waiting tasks (it follows them, not the queues ever seen).
  return (s.nextRunAtAll.get() as number | null) ?? undefined;
}
