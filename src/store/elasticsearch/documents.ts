/**
 * Conversion between the domain records and the documents of the Elasticsearch/OpenSearch store, and the
 * document ids. Field names are snake_case, close to v1's persisted shape; times are epoch ms.
 */
import { claimAnswerBytes } from '../../domain/answer-budget.js';
import { createHash } from 'node:crypto';
import { finishedAt, remainingAttempts } from '../../domain/task-lifecycle.js';
import type {
  JsonObject,
  NewRecurringTaskRecord,
  NewTaskRecord,
  RecordVersion,
  RecurringTask,
  Task,
  TaskCancellation,
  TaskDefinition,
  TaskFailureRecord,
} from '../../types/index.js';

/** Longest `_id` the engines accept, in UTF-8 bytes. */
const MAX_ID_BYTES = 512;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * `_id` of a live task: `<queue>/<id>`. Queue names cannot contain `/`, so this is unambiguous. An id
 * that would make it too long, or that starts with `#`, is replaced by `#` + its SHA-256 (so a literal id
 * can never collide with a hashed one); the document keeps the real id, and reads check it.
 */
export function taskDocId(queue: string, id: string): string {
  const raw = `${queue}/${id}`;
  if (!id.startsWith('#') && Buffer.byteLength(raw, 'utf8') <= MAX_ID_BYTES) return raw;
  return `${queue.length > 200 ? `#${sha256(queue)}` : queue}/#${sha256(id)}`;
}

/** `_id` of a recurring task (and the key of its tick document). */
export function recurringDocId(id: string): string {
  if (!id.startsWith('#') && Buffer.byteLength(id, 'utf8') <= MAX_ID_BYTES - 8) return id;
  return `#${sha256(id)}`;
}

/** `_id` of an archived copy: one per live document version, so a retried archiving cannot copy twice. */
export function archiveDocId(liveDocId: string, version: RecordVersion): string {
  return sha256(`${liveDocId}\u0000${version.primaryTerm}\u0000${version.seqNum}`);
}

interface ReportDoc {
  at: number;
  data?: JsonObject;
}
interface ResultDoc {
  at: number;
  failure?: JsonObject;
  success?: JsonObject;
}
interface LastClaimedDoc {
  worker_id: string;
  claimed_at: number;
  times_out_at: number;
  last_report?: ReportDoc;
  result?: ResultDoc;
}

/**
 * The `last_claimed` of a task cancelled before any claim: only the finish time, where the archiver and
 * the recent counts look for it (`last_claimed.result.at`). Read back as no claim (it has no worker_id).
 */
interface FinishOnlyDoc {
  result: { at: number };
}

interface CancellationDoc {
  at: number;
  by: string;
  reason?: string;
}

interface FailureRecordDoc {
  at: number;
  attempt: number;
  worker_id: string;
  failure?: JsonObject;
  timed_out?: boolean;
}

export interface TaskDoc {
  queue: string;
  id: string;
  kind: string;
  state: Task['state'];
  priority: number;
  run_at: number;
  retry_times: number;
  attempted: number;
  remaining_attempts: number;
  processing_timeout_ns: number;
  args?: JsonObject;
  context?: JsonObject;
  last_claimed?: LastClaimedDoc | FinishOnlyDoc;
  last_enqueued_at: number;
  created_at: number;
  modified_at: number;
  recurring_task_id?: string;
  concurrency_key?: string;
  rate_key?: string;
  /** Set by a claim only: lets a claimer whose bulk request got no answer find out what it won. */
  claim_token?: string;
  /** Not indexed (the mapping is not dynamic): kept in `_source` only. */
  cancellation?: CancellationDoc;
  /** Not indexed, as `cancellation`. Oldest first. */
  error_history?: FailureRecordDoc[];
  /**
   * Not indexed: estimated bytes of the task in a claim's answer (its JSON objects and names), and of
   * the whole document. A claim or a listing page that may read many tasks searches these instead of
   * the documents, then reads only what fits its byte budget (docs/limits.md). Absent on documents
   * written before they existed (see ASSUMED_BYTES).
   */
  answer_bytes?: number;
  source_bytes?: number;
}

/** What a size-only search assumes of a document written before sizes were kept (rewritten at its next write). */
export const ASSUMED_BYTES = 65_536;

/**
 * JSON length of a value (UTF-16 units: exact for ASCII, an estimate otherwise). Objects are measured
 * once per object: a task's args are the same object through its claim, report and done writes.
 */
const measured = new WeakMap<object, number>();
export function jsonBytes(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'object') return JSON.stringify(value)?.length ?? 0;
  const known = measured.get(value);
  if (known !== undefined) return known;
  const bytes = JSON.stringify(value)?.length ?? 0;
  measured.set(value, bytes);
  return bytes;
}

/** The fields a size-only claim or listing search reads: what orders, filters and budgets a candidate. */
export const SIZE_ONLY_FIELDS = [
  'queue',
  'id',
  'state',
  'priority',
  'run_at',
  'retry_times',
  'attempted',
  'remaining_attempts',
  'created_at',
  'answer_bytes',
  'source_bytes',
];

export interface ArchivedTaskDoc extends TaskDoc {
  archived_at: number;
  version: { seq_no: number; primary_term: number };
}

/** Copies `value` into `target[key]` unless it is undefined (documents never hold nulls). */
function put<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined && value !== null) target[key] = value;
}

/**
 * The document of `task`. `known.answerBytes` is the `answer_bytes` of an earlier version of the same
 * document, given when its args and context are the same objects: they never change after a create, and
 * measuring them again would serialize every megabyte of a large task once more for nothing.
 */
export function taskToDoc(task: NewTaskRecord, known?: { answerBytes?: number | undefined }): TaskDoc {
  const doc: TaskDoc = {
    queue: task.queue,
    id: task.id,
    kind: task.kind,
    state: task.state,
    priority: task.priority,
    run_at: task.runAt,
    retry_times: task.retryTimes,
    attempted: task.attempted,
    remaining_attempts: remainingAttempts(task),
    processing_timeout_ns: task.processingTimeoutNs,
    last_enqueued_at: task.lastEnqueuedAt,
    created_at: task.createdAt,
    modified_at: task.modifiedAt,
  };
  put(doc, 'args', task.args);
  put(doc, 'context', task.context);
  put(doc, 'recurring_task_id', task.recurringTaskId);
  put(doc, 'concurrency_key', task.concurrencyKey);
  put(doc, 'rate_key', task.rateKey);
  const lc = task.lastClaimed;
  if (lc) {
    const claimed: LastClaimedDoc = { worker_id: lc.workerId, claimed_at: lc.claimedAt, times_out_at: lc.timesOutAt };
    if (lc.lastReport) {
      const report: ReportDoc = { at: lc.lastReport.at };
      put(report, 'data', lc.lastReport.data);
      claimed.last_report = report;
    }
    if (lc.result) {
      const result: ResultDoc = { at: lc.result.at };
      put(result, 'failure', lc.result.failure);
      put(result, 'success', lc.result.success);
      claimed.result = result;
    }
    doc.last_claimed = claimed;
  } else {
    // A task cancelled before any claim: its finish time where finish times are indexed (finishedAt).
    const finished = finishedAt(task);
    if (finished !== undefined) doc.last_claimed = { result: { at: finished } };
  }
  if (task.cancellation) {
    const cancellation: CancellationDoc = { at: task.cancellation.at, by: task.cancellation.by };
    put(cancellation, 'reason', task.cancellation.reason);
    doc.cancellation = cancellation;
  }
  if (task.errorHistory && task.errorHistory.length > 0) {
    doc.error_history = task.errorHistory.map((r) => {
      const record: FailureRecordDoc = { at: r.at, attempt: r.attempt, worker_id: r.workerId };
      put(record, 'failure', r.failure);
      if (r.timedOut === true) record.timed_out = true;
      return record;
    });
  }
  doc.answer_bytes = known?.answerBytes ?? claimAnswerBytes(task, jsonBytes(task.args), jsonBytes(task.context));
  let rest = 0;
  if (lc) rest += jsonBytes(lc.lastReport?.data) + jsonBytes(lc.result?.success) + jsonBytes(lc.result?.failure);
  for (const r of task.errorHistory ?? []) rest += 128 + jsonBytes(r.failure);
  doc.source_bytes = doc.answer_bytes + rest + (task.cancellation?.reason?.length ?? 0);
  return doc;
}

/**
 * A document above this many bytes is rewritten field by field (taskWriteOperation), and kept by this
 * process without its JSON objects (LocalTaskWrite.partial).
 */
export const LARGE_DOC_BYTES = 16_384;

/** Fields a write never changes after the create, and that hold the bulk of a large task. */
const IMMUTABLE_OBJECT_FIELDS: ReadonlySet<string> = new Set(['args', 'context']);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The partial document that turns `previous` into `doc` under the engines' `update` merge (objects merge
 * key by key, anything else replaces), leaving out args and context; undefined when no partial document
 * can say it exactly (a nested object inside an object that both versions have would be merged into the
 * stored one, not replaced). A field to remove becomes null: the store reads null as absent.
 */
function partialUpdateOf(doc: TaskDoc, previous: TaskDoc): Record<string, unknown> | undefined {
  const next = doc as unknown as Record<string, unknown>;
  const before = previous as unknown as Record<string, unknown>;
  const partial: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(next)) {
    if (IMMUTABLE_OBJECT_FIELDS.has(field)) continue;
    const old = before[field];
    if (isObject(value) && isObject(old)) {
      const merged: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(value)) {
        if (isObject(inner) && isObject(old[key])) return undefined;
        merged[key] = inner;
      }
      for (const key of Object.keys(old)) if (!(key in value)) merged[key] = null;
      partial[field] = merged;
    } else {
      partial[field] = value;
    }
  }
  for (const field of Object.keys(before)) {
    if (!IMMUTABLE_OBJECT_FIELDS.has(field) && !(field in next)) partial[field] = null;
  }
  return partial;
}

/**
 * The `_bulk` operation of a compare-and-set write of task document `doc` over `previous` (the version
 * at `expected`). Whole (`index`) as a rule. A large document whose args and context are the very
 * objects of `previous` is written as a partial `update` of its other fields instead (no script: the
 * engines' scripting module is not assumed): a claim of a 1 MiB task then sends the engine a few hundred
 * bytes, not the MiB again (the engine still rewrites the document; the server serializes none of it).
 */
export function taskWriteOperation(
  index: string,
  docId: string,
  expected: RecordVersion,
  doc: TaskDoc,
  previous: TaskDoc,
): { action: Record<string, unknown>; doc: unknown } {
  const target = { _index: index, _id: docId, if_seq_no: expected.seqNum, if_primary_term: expected.primaryTerm };
  const large = (previous.source_bytes ?? 0) > LARGE_DOC_BYTES && previous.kind !== undefined;
  const partial = large && doc.args === previous.args && doc.context === previous.context ? partialUpdateOf(doc, previous) : undefined;
  if (partial === undefined) return { action: { index: target }, doc };
  return { action: { update: target }, doc: { doc: partial } };
}

const opt = <T>(value: T | null | undefined): T | undefined => (value === null ? undefined : value);

export function docToTask(doc: TaskDoc, version: RecordVersion): Task {
  const task: Task = {
    queue: doc.queue,
    id: doc.id,
    kind: doc.kind,
    state: doc.state,
    priority: doc.priority,
    runAt: doc.run_at,
    retryTimes: doc.retry_times,
    attempted: doc.attempted,
    processingTimeoutNs: doc.processing_timeout_ns,
    args: opt(doc.args),
    context: opt(doc.context),
    lastEnqueuedAt: doc.last_enqueued_at,
    createdAt: doc.created_at,
    modifiedAt: doc.modified_at,
    version,
    recurringTaskId: opt(doc.recurring_task_id),
  };
  if (doc.cancellation) {
    const c = doc.cancellation;
    task.cancellation = { at: c.at, by: c.by, reason: opt(c.reason) } satisfies TaskCancellation;
  }
  if (doc.error_history) {
    task.errorHistory = doc.error_history.map(
      (r): TaskFailureRecord => ({
        at: r.at,
        attempt: r.attempt,
        workerId: r.worker_id,
        failure: opt(r.failure),
        timedOut: r.timed_out === true ? true : undefined,
      }),
    );
  }
  // Only when present, so a task without keys is the same record as before flow control.
  if (doc.concurrency_key !== undefined && doc.concurrency_key !== null) task.concurrencyKey = doc.concurrency_key;
  if (doc.rate_key !== undefined && doc.rate_key !== null) task.rateKey = doc.rate_key;
  const lc = doc.last_claimed;
  if (lc && 'worker_id' in lc) {
    task.lastClaimed = {
      workerId: lc.worker_id,
      claimedAt: lc.claimed_at,
      timesOutAt: lc.times_out_at,
      lastReport: lc.last_report ? { at: lc.last_report.at, data: opt(lc.last_report.data) } : undefined,
      result: lc.result
        ? { at: lc.result.at, failure: opt(lc.result.failure), success: opt(lc.result.success) }
        : undefined,
    };
  }
  return task;
}

export interface RecurringDoc {
  id: string;
  schedule_expression: string;
  skip_if_outstanding_tasks_exist: boolean;
  task_definition: {
    queue: string;
    kind: string;
    retry_times: number;
    priority: number;
    processing_timeout_ns: number;
    args?: JsonObject;
    context?: JsonObject;
  };
  is_deleted: boolean;
  loaded_at?: number;
  /** Kept in _source only (the mapping is not dynamic): nothing searches on it. */
  paused_at?: number;
  created_at: number;
  modified_at: number;
}

export function recurringToDoc(task: NewRecurringTaskRecord): RecurringDoc {
  const def = task.taskDefinition;
  const definition: RecurringDoc['task_definition'] = {
    queue: def.queue,
    kind: def.kind,
    retry_times: def.retryTimes,
    priority: def.priority,
    processing_timeout_ns: def.processingTimeoutNs,
  };
  put(definition, 'args', def.args);
  put(definition, 'context', def.context);
  const doc: RecurringDoc = {
    id: task.id,
    schedule_expression: task.scheduleExpression,
    skip_if_outstanding_tasks_exist: task.skipIfOutstandingTasksExist,
    task_definition: definition,
    is_deleted: task.isDeleted,
    created_at: task.createdAt,
    modified_at: task.modifiedAt,
  };
  put(doc, 'loaded_at', task.loadedAt);
  put(doc, 'paused_at', task.pausedAt);
  return doc;
}

export function docToRecurring(doc: RecurringDoc, version: RecordVersion): RecurringTask {
  const def = doc.task_definition;
  const taskDefinition: TaskDefinition = {
    queue: def.queue,
    kind: def.kind,
    retryTimes: def.retry_times,
    priority: def.priority,
    processingTimeoutNs: def.processing_timeout_ns,
    args: opt(def.args),
    context: opt(def.context),
  };
  return {
    id: doc.id,
    scheduleExpression: doc.schedule_expression,
    skipIfOutstandingTasksExist: doc.skip_if_outstanding_tasks_exist,
    taskDefinition,
    isDeleted: doc.is_deleted,
    loadedAt: opt(doc.loaded_at),
    pausedAt: opt(doc.paused_at),
    createdAt: doc.created_at,
    modifiedAt: doc.modified_at,
    version,
  };
}
