/**
 * Schemas of the flow-control routes (issue 15, additive to v1; docs/flow-control.md): a queue's limits
 * and how they stand. Field names are snake_case and durations Go durations, like the rest of the API.
 */
import { type Static, Type } from '@sinclair/typebox';
import { DurationString } from './tasks.js';

/** The largest concurrency, count or burst of a limit. */
export const MAX_LIMIT_VALUE = 1_000_000;
/** Most named-key overrides of one queue's limits (each is checked on claims of that key only). */
export const MAX_KEY_OVERRIDES = 1000;
/** The longest and shortest `per` of a rate. */
export const MAX_RATE_PER_MS = 24 * 3600 * 1000;
export const MIN_RATE_PER_MS = 1;
/** Most throttled keys a flow status lists. */
export const MAX_FLOW_KEYS = 1000;
export const DEFAULT_FLOW_KEYS = 20;

const DateTime = (description: string) => Type.String({ format: 'date-time', description });
/** Unknown fields are refused (400), not dropped: a misspelt limit must not silently mean "unlimited". */
const NO_OTHER_FIELDS = { additionalProperties: Type.Unsafe({ not: {} }) };
const LimitValue = (minimum: number, description: string) => Type.Integer({ minimum, maximum: MAX_LIMIT_VALUE, description });

export const RateLimitSchema = Type.Object(
  {
    count: LimitValue(1, 'Tokens added per `per`: the sustained rate.'),
    per: DurationString('The interval `count` tokens are added over (pro rata), from 1ms to 24h.'),
    burst: Type.Optional(LimitValue(1, 'Most tokens the bucket holds (claims at once after a quiet spell). Default `count`.')),
  },
  { $id: 'flow.RateLimit', ...NO_OTHER_FIELDS },
);

export const FlowLimitSchema = Type.Object(
  {
    concurrency: Type.Optional(LimitValue(0, 'Most tasks claimed at once (0 holds every task back).')),
    rate: Type.Optional(Type.Ref(RateLimitSchema, { description: 'A token bucket: a claimed task takes one token.' })),
  },
  { $id: 'flow.FlowLimit', ...NO_OTHER_FIELDS },
);

export const QueueLimitsSchema = Type.Object(
  {
    queue: Type.Optional(Type.Ref(FlowLimitSchema, { description: 'The queue as a whole, across every server.' })),
    per_key: Type.Optional(
      Type.Ref(FlowLimitSchema, {
        description: 'Every key alike: `concurrency` per concurrency_key, `rate` per rate_key.',
      }),
    ),
    keys: Type.Optional(
      Type.Record(Type.String(), Type.Ref(FlowLimitSchema), {
        maxProperties: MAX_KEY_OVERRIDES,
        description: `Overrides of \`per_key\` for named keys (replacing it whole for that key), at most ${MAX_KEY_OVERRIDES}.`,
      }),
    ),
  },
  { $id: 'flow.QueueLimits', ...NO_OTHER_FIELDS },
);

export const QueueLimitsRecordSchema = Type.Object(
  {
    queue: Type.String(),
    limits: Type.Ref(QueueLimitsSchema, { description: '`{}` when the queue has no limits.' }),
    modified_at: Type.Optional(DateTime('When the limits were last set. Absent when the queue has none.')),
  },
  { $id: 'flow.QueueLimitsRecord' },
);

export const ThrottledKeySchema = Type.Object(
  {
    key: Type.String(),
    claimed: Type.Integer({ minimum: 0, description: 'Its tasks claimed now, by concurrency key.' }),
    waiting: Type.Integer({ minimum: 0, description: 'Its claimable tasks held back.' }),
    reason: Type.Unsafe<'concurrency' | 'rate'>({
      type: 'string',
      enum: ['concurrency', 'rate'],
      description: 'At its concurrency limit, or out of tokens.',
    }),
  },
  { $id: 'flow.ThrottledKey' },
);

export const QueueFlowSchema = Type.Object(
  {
    queue: Type.String(),
    limits: Type.Ref(QueueLimitsSchema, { description: 'The limits in force (`{}`: none).' }),
    claimed: Type.Integer({ minimum: 0, description: 'Tasks of the queue claimed now.' }),
    tokens: Type.Optional(Type.Number({ description: "Tokens left in the queue's bucket, when it has a rate." })),
    throttled_keys: Type.Array(Type.Ref(ThrottledKeySchema), {
      description: 'Keys with claimable tasks held back by a limit, most waiting first.',
    }),
    waiting_on_limit: Type.Integer({ minimum: 0, description: "Claimable tasks held back by a limit (the queue's or their key's)." }),
  },
  { $id: 'flow.QueueFlow' },
);

export const FlowQuery = Type.Object({
  keys: Type.Optional(
    Type.String({ description: `Most throttled keys listed, 0 to ${MAX_FLOW_KEYS}. Default ${DEFAULT_FLOW_KEYS}.` }),
  ),
});

/**
 * A task in the operator listing: the v1 task and, additive (operator routes only), its flow-control keys.
 * v1 answers (get, claim, create) keep `task.Task` exactly.
 */
export type RateLimitJson = Static<typeof RateLimitSchema>;
export type FlowLimitJson = Static<typeof FlowLimitSchema>;
export type QueueLimitsJson = Static<typeof QueueLimitsSchema>;
export type QueueLimitsRecordJson = Static<typeof QueueLimitsRecordSchema>;
export type QueueFlowJson = Static<typeof QueueFlowSchema>;
export type FlowQueryJson = Static<typeof FlowQuery>;
