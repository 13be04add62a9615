/** Domain records ↔ v1 JSON. Times are RFC 3339 UTC with `Z`; durations are Go duration strings. */
import { formatGoDuration, parseGoDuration } from '../domain/duration.js';
import { errors } from '../errors/index.js';
import type { RecurringTask, Task } from '../types/index.js';
import type { RecurringTaskJson } from './schemas/recurring.js';
import type { ListedTaskJson } from './schemas/flow-control.js';
import type { TaskJson } from './schemas/tasks.js';

// Formatting a date is one of the larger costs of an answer, and an answer's times repeat (created =
// modified = run_at on create; the tasks of one claim or one batch share theirs): a small cache, direct
// mapped on the low bits of the millisecond.
const ISO_SLOTS = 16;
const isoMs = new Float64Array(ISO_SLOTS).fill(Number.NaN);
const isoText: string[] = new Array<string>(ISO_SLOTS).fill('');

const iso = (ms: number): string => {
  const slot = ms & (ISO_SLOTS - 1);
  if (isoMs[slot] === ms) return isoText[slot]!;
  const text = new Date(ms).toISOString();
  isoMs[slot] = ms;
  isoText[slot] = text;
  return text;
};

export function taskToJson(task: Task): TaskJson {
  const lc = task.lastClaimed;
  return {
    id: task.id,
    queue: task.queue,
    retry_times: task.retryTimes,
    attempted: task.attempted,
    kind: task.kind,
    state: task.state,
    priority: task.priority,
    processing_timeout: formatGoDuration(task.processingTimeoutNs),
    run_at: iso(task.runAt),
    args: task.args,
    context: task.context,
    last_claimed: lc && {
      worker_id: lc.workerId,
      claimed_at: iso(lc.claimedAt),
      times_out_at: iso(lc.timesOutAt),
      last_report: lc.lastReport && { at: iso(lc.lastReport.at), data: lc.lastReport.data },
      result: lc.result && { at: iso(lc.result.at), failure: lc.result.failure, success: lc.result.success },
    },
    last_enqueued_at: iso(task.lastEnqueuedAt),
    metadata: {
      created_at: iso(task.createdAt),
      modified_at: iso(task.modifiedAt),
      version: { seq_num: task.version.seqNum, primary_term: task.version.primaryTerm },
    },
    recurring_task_id: task.recurringTaskId,
  };
}

/** A task of the operator listing: the v1 task and its flow-control keys (never in v1 answers). */
export function listedTaskToJson(task: Task): ListedTaskJson {
  const json: ListedTaskJson = taskToJson(task);
  if (task.concurrencyKey !== undefined) json.concurrency_key = task.concurrencyKey;
  if (task.rateKey !== undefined) json.rate_key = task.rateKey;
  return json;
}

export function recurringTaskToJson(task: RecurringTask): RecurringTaskJson {
  const def = task.taskDefinition;
  return {
    id: task.id,
    schedule_expression: task.scheduleExpression,
    skip_if_outstanding_tasks_exist: task.skipIfOutstandingTasksExist,
    task_definition: {
      queue: def.queue,
      retry_times: def.retryTimes,
      kind: def.kind,
      priority: def.priority,
      processing_timeout: formatGoDuration(def.processingTimeoutNs),
      args: def.args,
      context: def.context,
    },
    loaded_at: task.loadedAt === undefined ? undefined : iso(task.loadedAt),
    metadata: {
      created_at: iso(task.createdAt),
      modified_at: iso(task.modifiedAt),
      version: { seq_num: task.version.seqNum, primary_term: task.version.primaryTerm },
    },
  };
}

/** A duration field from a request body; the schema has checked the syntax, this names the field on error. */
export function durationNsFromBody(field: string, value: string | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  try {
    return parseGoDuration(value);
  } catch (e) {
    throw errors.badRequest(`${field}: ${(e as Error).message}`);
  }
}

/** Treats JSON null as absent, as v1 (Go) does. */
export const orUndefined = <T>(value: T | null | undefined): T | undefined => (value === null ? undefined : value);
