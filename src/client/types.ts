/**
 * The wire types of the Tasques v1 API, derived from the TypeBox schemas that the server validates and
 * serializes with (src/http/schemas) and that produce openapi.json. Type-only imports: nothing of the
 * server is loaded at run time.
 */
import type { Static } from '@sinclair/typebox';
import type { BatchItemResultSchema, DoneItemSchema } from '../http/schemas/batch.js';
import type {
  QueueStateSchema,
  QueueStatsSchema,
  RecurringTaskScheduleSchema,
  TaskPageSchema,
} from '../http/schemas/operator.js';
import type {
  NewRecurringTaskSchema,
  RecurringTaskSchema,
  RecurringTaskUpdateSchema,
  TaskDefinitionInputSchema,
  TaskDefinitionSchema,
} from '../http/schemas/recurring.js';
import type {
  ClaimSchema,
  ErrorBody,
  FailureSchema,
  LastClaimedSchema,
  NewReportSchema,
  NewTaskSchema,
  SuccessSchema,
  TaskReportSchema,
  TaskResultSchema,
  TaskSchema,
  TaskState as TaskStateSchema,
} from '../http/schemas/tasks.js';

/** A free-form JSON object: task `args` and `context`, report data, results. */
export type { JsonObject } from '../types/index.js';

/** A task as the server returns it (`task.Task`). */
export type Task = Static<typeof TaskSchema>;
/** `queued` → `claimed` → `done` | `failed` (will be retried) | `dead` (no attempts left). */
export type TaskState = Static<typeof TaskStateSchema>;
/** The latest claim of a task (`task.LastClaimed`). */
export type LastClaimed = Static<typeof LastClaimedSchema>;
/** A worker's latest report on its claim (`task.Report`). */
export type TaskReport = Static<typeof TaskReportSchema>;
/** How the latest attempt ended (`task.Result`). */
export type TaskResult = Static<typeof TaskResultSchema>;
/** The body of `POST /tasques` (`task.NewTask`). Only `queue` and `kind` are required. */
export type NewTask = Static<typeof NewTaskSchema>;
/** The body of `POST /tasques/claims` (`task.Claim`). */
export type Claim = Static<typeof ClaimSchema>;
/** The body of `PUT /tasques/reports/…` (`task.NewReport`). */
export type NewReport = Static<typeof NewReportSchema>;
/** The body of `PUT /tasques/done/…` (`task.Success`). */
export type Success = Static<typeof SuccessSchema>;
/** The body of `PUT /tasques/failed/…` (`task.Failure`). */
export type Failure = Static<typeof FailureSchema>;
/** Every error body: `{"message": …, "code": …}` (`common.Body`). */
export type ErrorBody = Static<typeof ErrorBody>;

/** A recurring task as the server returns it (`recurring.Task`). */
export type RecurringTask = Static<typeof RecurringTaskSchema>;
/** The body of `POST /recurring_tasques` (`recurring.NewTask`). */
export type NewRecurringTask = Static<typeof NewRecurringTaskSchema>;
/** The body of `PUT /recurring_tasques/{id}` (`recurring.TaskUpdate`): present fields replace stored ones. */
export type RecurringTaskUpdate = Static<typeof RecurringTaskUpdateSchema>;
/** What a recurring task enqueues, as sent (`recurring.TaskDefinition`). */
export type TaskDefinitionInput = Static<typeof TaskDefinitionInputSchema>;
/** What a recurring task enqueues, with the server's defaults filled in (`recurring.TaskDefinitionResponse`). */
export type TaskDefinition = Static<typeof TaskDefinitionSchema>;

/** The result of one item of a batch call (`task.BatchItemResult`): the status the single-task call would have answered, with the task or the error. */
export type BatchItemResult = Static<typeof BatchItemResultSchema>;
/** One task to mark done in {@link TasquesClient.markDoneMany} (`task.DoneItem`). */
export type DoneItem = Static<typeof DoneItemSchema>;

/** One page of {@link TasquesClient.listTasks} (`operator.TaskPage`). */
export type TaskPage = Static<typeof TaskPageSchema>;
/** One queue's statistics (`operator.QueueStats`). */
export type QueueStats = Static<typeof QueueStatsSchema>;
/** Whether a queue is paused (`operator.QueueState`). */
export type QueueState = Static<typeof QueueStateSchema>;
/** A recurring task with its next fire time (`operator.RecurringTaskSchedule`). */
export type RecurringTaskSchedule = Static<typeof RecurringTaskScheduleSchema>;

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
  /** Page size, 1 to 1000 (server default 50). */
  limit?: number;
  /** The `next_cursor` of the previous page. */
  cursor?: string;
}
