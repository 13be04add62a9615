/**
 * Compile-time proof that the client package's plain wire types (packages/client/src/client/wire.ts)
 * are exactly what the server's TypeBox schemas describe: each line fails to type-check when a field
 * is added, removed, renamed, retyped or changes between optional and required on either side.
 * Checked by `npm run typecheck` and by ../wire-drift.test.ts.
 */
import type { Static } from '@sinclair/typebox';
import type * as Wire from '../../../packages/client/src/client/wire.js';
import type { ErrorCode as ServerErrorCode } from '../../../src/errors/index.js';
import type { BatchItemResultSchema, DoneItemSchema } from '../../../src/http/schemas/batch.js';
import type {
  QueueStateSchema,
  QueueStatsSchema,
  RecurringTaskScheduleSchema,
  TaskPageSchema,
} from '../../../src/http/schemas/operator.js';
import type {
  FlowLimitSchema,
  ListedTaskSchema,
  QueueFlowSchema,
  QueueLimitsRecordSchema,
  QueueLimitsSchema,
  RateLimitSchema,
  ThrottledKeySchema,
} from '../../../src/http/schemas/flow-control.js';
import type {
  NewRecurringTaskSchema,
  RecurringTaskSchema,
  RecurringTaskUpdateSchema,
  TaskDefinitionInputSchema,
  TaskDefinitionSchema,
} from '../../../src/http/schemas/recurring.js';
import type {
  ClaimSchema,
  ErrorBody,
  FailureSchema,
  LastClaimedSchema,
  Metadata,
  NewReportSchema,
  NewTaskSchema,
  SuccessSchema,
  TaskReportSchema,
  TaskResultSchema,
  TaskSchema,
  TaskState,
  Version,
} from '../../../src/http/schemas/tasks.js';
import type { JsonObject as ServerJsonObject } from '../../../src/types/index.js';

/** Deep structural equality (the usual conditional-type trick: it also tells `a?: T` from `a: T`). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Object types are compared after flattening, so that an interface equals the same fields as a type literal. */
type Flat<T> = T extends object ? { [K in keyof T]: Flat<T[K]> } : T;
type Same<A, B> = Equals<Flat<A>, Flat<B>>;

/** Compiles only when its argument is `true`. */
export function assertSame<T extends true>(): T | undefined {
  return undefined;
}

assertSame<Same<Wire.JsonObject, ServerJsonObject>>();
assertSame<Same<Wire.TaskState, Static<typeof TaskState>>>();
assertSame<Same<Wire.ErrorCode, ServerErrorCode>>();
assertSame<Same<Wire.ErrorBody, Static<typeof ErrorBody>>>();
assertSame<Same<Wire.Version, Static<typeof Version>>>();
assertSame<Same<Wire.Metadata, Static<typeof Metadata>>>();
assertSame<Same<Wire.TaskReport, Static<typeof TaskReportSchema>>>();
assertSame<Same<Wire.TaskResult, Static<typeof TaskResultSchema>>>();
assertSame<Same<Wire.LastClaimed, Static<typeof LastClaimedSchema>>>();
assertSame<Same<Wire.Task, Static<typeof TaskSchema>>>();
assertSame<Same<Wire.NewTask, Static<typeof NewTaskSchema>>>();
assertSame<Same<Wire.Claim, Static<typeof ClaimSchema>>>();
assertSame<Same<Wire.NewReport, Static<typeof NewReportSchema>>>();
assertSame<Same<Wire.Success, Static<typeof SuccessSchema>>>();
assertSame<Same<Wire.Failure, Static<typeof FailureSchema>>>();
assertSame<Same<Wire.TaskDefinitionInput, Static<typeof TaskDefinitionInputSchema>>>();
assertSame<Same<Wire.TaskDefinition, Static<typeof TaskDefinitionSchema>>>();
assertSame<Same<Wire.NewRecurringTask, Static<typeof NewRecurringTaskSchema>>>();
assertSame<Same<Wire.RecurringTaskUpdate, Static<typeof RecurringTaskUpdateSchema>>>();
assertSame<Same<Wire.RecurringTask, Static<typeof RecurringTaskSchema>>>();
assertSame<Same<Wire.BatchItemResult, Static<typeof BatchItemResultSchema>>>();
assertSame<Same<Wire.DoneItem, Static<typeof DoneItemSchema>>>();
assertSame<Same<Wire.TaskPage, Static<typeof TaskPageSchema>>>();
assertSame<Same<Wire.QueueStats, Static<typeof QueueStatsSchema>>>();
assertSame<Same<Wire.QueueState, Static<typeof QueueStateSchema>>>();
assertSame<Same<Wire.RecurringTaskSchedule, Static<typeof RecurringTaskScheduleSchema>>>();
assertSame<Same<Wire.ListedTask, Static<typeof ListedTaskSchema>>>();
assertSame<Same<Wire.RateLimit, Static<typeof RateLimitSchema>>>();
assertSame<Same<Wire.FlowLimit, Static<typeof FlowLimitSchema>>>();
assertSame<Same<Wire.QueueLimits, Static<typeof QueueLimitsSchema>>>();
assertSame<Same<Wire.QueueLimitsRecord, Static<typeof QueueLimitsRecordSchema>>>();
assertSame<Same<Wire.ThrottledKey, Static<typeof ThrottledKeySchema>>>();
assertSame<Same<Wire.QueueFlow, Static<typeof QueueFlowSchema>>>();
