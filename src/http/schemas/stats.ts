/**
 * Schemas of the queue series route (the dashboard's charts; docs/design/queue-series.md). Columnar:
 * every series has one entry per interval of `times`, ready for a chart.
 */
import { type Static, Type } from '@sinclair/typebox';

const Counts = (description: string) => Type.Array(Type.Integer({ minimum: 0 }), { description });
const Maybe = (description: string) => Type.Array(Type.Union([Type.Number({ minimum: 0 }), Type.Null()]), { description });

const seriesFields = {
  created: Counts('Tasks created per interval.'),
  claimed: Counts('Tasks handed out by claims per interval.'),
  done: Counts('Tasks that became DONE per interval.'),
  failed: Counts('Tasks that became FAILED per interval (attempts left; timed-out claims included).'),
  dead: Counts('Tasks that became DEAD per interval.'),
  claim_wait_p50_ms: Maybe('Median claim wait (enqueued or due → claimed), ms; null when nothing was claimed. Read from a fixed histogram: interpolated within its bucket.'),
  claim_wait_p95_ms: Maybe('95th percentile of the claim wait, ms.'),
  claim_wait_p99_ms: Maybe('99th percentile of the claim wait, ms.'),
  claimable: Maybe('Claimable tasks (queued or failed, due): the peak of the interval\'s once-a-minute samples; null when none was taken.'),
  scheduled: Maybe('Queued or failed tasks not due yet (scheduled, or waiting for a retry): peak of the samples.'),
  claimed_now: Maybe('Tasks held by workers: peak of the samples.'),
  oldest_age_seconds: Maybe('How long the oldest claimable task had waited past its run_at: peak of the samples.'),
};

export const SeriesQuery = Type.Object({
  window: Type.Optional(Type.String({ description: '`1h` (one-minute intervals, the default) or `24h` (15-minute intervals).' })),
  queue: Type.Optional(Type.String({ description: 'Only this queue (then `overall` is that queue).' })),
});
export type SeriesQueryJson = Static<typeof SeriesQuery>;

export const QueueSeriesSchema = Type.Object(
  { queue: Type.String(), ...seriesFields },
  { $id: 'operator.QueueSeries' },
);

export const SeriesSchema = Type.Object(
  {
    window: Type.String({ description: 'The window asked for: `1h` or `24h`.' }),
    interval_seconds: Type.Integer({ description: 'Length of each interval.' }),
    times: Type.Array(Type.Integer(), { description: 'Start of each interval, epoch seconds, oldest first; the last holds now.' }),
    overall: Type.Object(seriesFields, { description: 'Every queue together (depth: summed; oldest age: the largest).' }),
    queues: Type.Array(Type.Ref(QueueSeriesSchema), {
      description: 'The busiest queues of the window (by tasks created, claimed and finished), busiest first, at most 10.',
    }),
    queues_total: Type.Integer({ minimum: 0, description: 'How many queues had figures in the window.' }),
  },
  { $id: 'operator.Series' },
);
export type SeriesJson = Static<typeof SeriesSchema>;
