/**
 * Task listing (Store.taskList) and counting (Store.taskCount): newest first, by keyset, over the listing indexes of migration 3. One
 * statement per combination of filters present (a bounded set), prepared on first use.
 */
import type Database from 'better-sqlite3';
import type { TaskCountParams, TaskListPage, TaskListParams } from '../store.js';
import type { Task, TaskState } from '../../types/index.js';
import { answerBytesOfRow, rowToTask, type TaskRow } from './rows.js';

/** The filters both a listing and a count take. */
type TaskFilters = Omit<TaskListParams, 'limit' | 'after' | 'maxBytes'>;

/**
 * The index a task listing walks, newest first, and the literal WHERE terms that let SQLite use a
 * partial index (it only does when the index's own condition appears in the query). Chosen by rule, not
 * by the planner (there are no statistics): the filter most likely to be selective wins.
 */
function listingIndex(params: TaskFilters, states: TaskState[] | undefined): { index: string; terms: string[] } {
  if (params.recurringTaskId !== undefined) return { index: 'tasks_recurring_created', terms: [] };
  if (states?.every((s) => s === 'failed' || s === 'dead')) {
    return { index: 'tasks_failed_dead_created', terms: ["state IN ('failed', 'dead')"] };
  }
  // In-flight tasks are few (bounded by workers × claim amount): gather them all and sort.
  if (states?.every((s) => s === 'claimed')) return { index: 'tasks_claim_deadline', terms: ["state = 'claimed'"] };
  if (params.queue !== undefined) return { index: 'tasks_queue_created', terms: [] };
  return { index: 'tasks_created', terms: [] };
}

export class TaskListing {
  /** Listing statements by SQL text. */
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  /** How many tasks match the filters, counting no further than `max` (Store.taskCount). */
  count(params: TaskCountParams): number {
    if (!(params.max >= 1)) return 0;
    const { index, where, args } = this.filters(params);
    const sql =
      `SELECT COUNT(*) FROM (SELECT 1 FROM tasks INDEXED BY ${index}` +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ' LIMIT ?)';
    return this.statement(sql).pluck().get(...args, params.max) as number;
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** The index to walk and the WHERE terms of the filters (not the keyset cursor). */
  private filters(params: TaskFilters): { index: string; where: string[]; args: (string | number)[] } {
    const states = params.states !== undefined && params.states.length > 0 ? [...new Set(params.states)] : undefined;
    const { index, terms } = listingIndex(params, states);
    const where = [...terms];
    const args: (string | number)[] = [];
    if (params.queue !== undefined) {
      where.push('queue = ?');
      args.push(params.queue);
    }
    if (states !== undefined) {
      where.push(`state IN (${states.map(() => '?').join(', ')})`);
      args.push(...states);
    }
    if (params.kind !== undefined) {
      where.push('kind = ?');
      args.push(params.kind);
    }
    if (params.recurringTaskId !== undefined) {
      where.push('recurring_task_id = ?');
      args.push(params.recurringTaskId);
    }
    if (params.createdFrom !== undefined) {
      where.push('created_at >= ?');
      args.push(params.createdFrom);
    }
    if (params.createdTo !== undefined) {
      where.push('created_at < ?');
      args.push(params.createdTo);
    }
    if (params.prefix !== undefined) {
      // substr, not LIKE or GLOB: those have wildcards, and LIKE ignores ASCII case.
      where.push('(substr(id, 1, length(?)) = ? OR substr(kind, 1, length(?)) = ?)');
      args.push(params.prefix, params.prefix, params.prefix, params.prefix);
    }
    if (params.scheduled !== undefined) {
      const scheduled = "(state IN ('queued', 'failed') AND run_at > ?)";
      where.push(params.scheduled.scheduled ? scheduled : `NOT ${scheduled}`);
      args.push(params.scheduled.now);
    }
    return { index, where, args };
  }

  list(params: TaskListParams): TaskListPage {
    const { limit, after } = params;
    if (!(limit >= 1)) return { tasks: [] };
    const { index, where, args } = this.filters(params);
    if (after !== undefined) {
      // Keyset: strictly after (createdAt, queue, id) in (created_at DESC, queue ASC, id ASC) order. The
      // leading `created_at <= ?` bounds the index range; the rest drops the cursor's instant up to it.
      where.push('created_at <= ? AND (created_at < ? OR queue > ? OR (queue = ? AND id > ?))');
      args.push(after.createdAt, after.createdAt, after.queue, after.queue, after.id);
    }
    const sql =
      `SELECT * FROM tasks INDEXED BY ${index}` +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY created_at DESC, queue, id LIMIT ?';
    const statement = this.statement(sql);
    // Row by row, so that a page ended by its byte budget reads (and holds) no more than it answers.
    const maxBytes = params.maxBytes ?? Number.POSITIVE_INFINITY;
    const tasks: Task[] = [];
    let bytes = 0;
    let cut = false;
    for (const row of statement.iterate(...args, limit) as IterableIterator<TaskRow>) {
      bytes += answerBytesOfRow(row);
      if (tasks.length > 0 && bytes > maxBytes) {
        cut = true;
        break;
      }
      tasks.push(rowToTask(row));
    }
    const last = tasks[tasks.length - 1];
    // Full page: there may be more (the caller's next call finds out); see TaskListPage.next.
    return (cut || tasks.length === limit) && last !== undefined
      ? { tasks, next: { createdAt: last.createdAt, queue: last.queue, id: last.id } }
      : { tasks };
  }
}
