/** Statements over the recurring tasks and their schedule ticks. */
import type Database from 'better-sqlite3';

export type RecurringStatements = Record<
  'get' | 'list' | 'listNotLoaded' | 'upsert' | 'update' | 'tickList' | 'tickRecord',
  Database.Statement
>;

export function prepareRecurringStatements(db: Database.Database): RecurringStatements {
  return {
    get: db.prepare('SELECT * FROM recurring_tasks WHERE id = ?'),
    list: db.prepare('SELECT * FROM recurring_tasks WHERE is_deleted = 0 ORDER BY id'),
    listNotLoaded: db.prepare('SELECT * FROM recurring_tasks WHERE loaded_at IS NULL ORDER BY id'),
    upsert: db.prepare(
      `INSERT INTO recurring_tasks (id, schedule_expression, skip_if_outstanding_tasks_exist, task_definition,
         is_deleted, loaded_at, paused_at, created_at, modified_at, version)
       VALUES (@id, @schedule_expression, @skip_if_outstanding_tasks_exist, @task_definition, @is_deleted,
         @loaded_at, @paused_at, @created_at, @modified_at, @version)
       ON CONFLICT (id) DO UPDATE SET schedule_expression = excluded.schedule_expression,
         skip_if_outstanding_tasks_exist = excluded.skip_if_outstanding_tasks_exist,
         task_definition = excluded.task_definition, is_deleted = excluded.is_deleted,
         loaded_at = excluded.loaded_at, paused_at = excluded.paused_at, created_at = excluded.created_at, modified_at = excluded.modified_at,
         version = excluded.version`,
    ),
    update: db.prepare(
      `UPDATE recurring_tasks SET schedule_expression = @schedule_expression,
         skip_if_outstanding_tasks_exist = @skip_if_outstanding_tasks_exist, task_definition = @task_definition,
         is_deleted = @is_deleted, loaded_at = @loaded_at, paused_at = @paused_at, created_at = @created_at,
         modified_at = @modified_at, version = version + 1
       WHERE id = @id AND version = @expected_version`,
    ),
    tickList: db.prepare(
      `SELECT recurring_task_id, last_tick_at FROM recurring_task_ticks
       WHERE recurring_task_id IN (SELECT value FROM json_each(?))`,
    ),
    tickRecord: db
      .prepare(
        `INSERT INTO recurring_task_ticks (recurring_task_id, last_tick_at) VALUES (@id, @tick_at)
         ON CONFLICT (recurring_task_id) DO UPDATE SET last_tick_at = max(last_tick_at, excluded.last_tick_at)
         RETURNING last_tick_at`,
      )
      .pluck(),
  };
}
