/**
 * The queue series as the dashboard charts them (docs/design/queue-series.md): a window of fixed
 * intervals, overall and for the busiest queues, read from the stored activity and depth samples.
 */
import { bucketStart, claimWaitQuantile, emptyClaimWait } from '../domain/queue-series.js';

// The histogram rules, for the activity recorder (observability reads the domain through the engine).
export { claimWaitBucket, emptyClaimWait, OTHER_QUEUES } from '../domain/queue-series.js';
import type { Store } from '../store/store.js';
import type { QueueActivity, QueueDepth } from '../types/index.js';

/** The windows offered, with their interval: a minute for the hour, a quarter-hour for the day. */
export const SERIES_WINDOWS = {
  '1h': { windowMs: 3600_000, bucketMs: 60_000 },
  '24h': { windowMs: 24 * 3600_000, bucketMs: 15 * 60_000 },
} as const;
export type SeriesWindow = keyof typeof SERIES_WINDOWS;

/** Queues with series of their own in one answer (the busiest); the overall series counts every queue. */
export const SERIES_MAX_QUEUES = 10;

/** One series per figure, each entry one interval of `QueueSeriesView.times`; null where nothing was recorded. */
export interface SeriesFigures {
  created: number[];
  claimed: number[];
  done: number[];
  failed: number[];
  dead: number[];
  claimWaitP50Ms: (number | null)[];
  claimWaitP95Ms: (number | null)[];
  claimWaitP99Ms: (number | null)[];
  /** Depth: the peak of the interval's samples (overall: summed over queues). */
  claimable: (number | null)[];
  scheduled: (number | null)[];
  claimedNow: (number | null)[];
  oldestAgeMs: (number | null)[];
}

export interface QueueSeriesView {
  window: SeriesWindow;
  bucketMs: number;
  /** Start of each interval, epoch ms, oldest first; the last one holds now. */
  times: number[];
  overall: SeriesFigures;
  /** The busiest queues (by tasks created, claimed and finished in the window), busiest first. */
  queues: ({ queue: string } & SeriesFigures)[];
  /** How many queues had activity or samples in the window (more than `queues` lists when past the cap). */
  queuesTotal: number;
}

interface Accumulator {
  activity: Map<number, QueueActivity>;
  depth: Map<number, QueueDepth>;
  busy: number;
}

export async function readQueueSeries(
  store: Pick<Store, 'queueActivityList' | 'queueDepthList'>,
  now: number,
  window: SeriesWindow,
  queue: string | undefined,
): Promise<QueueSeriesView> {
  const { windowMs, bucketMs } = SERIES_WINDOWS[window];
  const to = bucketStart(now, bucketMs) + bucketMs;
  const from = to - windowMs;
  const times = Array.from({ length: windowMs / bucketMs }, (_, i) => from + i * bucketMs);
  const range = { from, to, bucketMs, queues: queue === undefined ? undefined : [queue] };
  const [activity, depth] = await Promise.all([store.queueActivityList(range), store.queueDepthList(range)]);

  const byQueue = new Map<string, Accumulator>();
  const of = (name: string): Accumulator => {
    let acc = byQueue.get(name);
    if (acc === undefined) {
      acc = { activity: new Map(), depth: new Map(), busy: 0 };
      byQueue.set(name, acc);
    }
    return acc;
  };
  const overall: Accumulator = { activity: new Map(), depth: new Map(), busy: 0 };
  for (const a of activity) {
    const acc = of(a.queue);
    acc.activity.set(a.at, a);
    acc.busy += a.created + a.claimed + a.done + a.failed + a.dead;
    const sum = overall.activity.get(a.at) ?? { ...a, queue: '', created: 0, claimed: 0, done: 0, failed: 0, dead: 0, claimWait: emptyClaimWait() };
    sum.created += a.created;
    sum.claimed += a.claimed;
    sum.done += a.done;
    sum.failed += a.failed;
    sum.dead += a.dead;
    a.claimWait.forEach((n, i) => (sum.claimWait[i] = (sum.claimWait[i] ?? 0) + n));
    overall.activity.set(a.at, sum);
  }
  for (const d of depth) {
    of(d.queue).depth.set(d.at, d);
    const sum = overall.depth.get(d.at) ?? { ...d, queue: '', claimable: 0, scheduled: 0, claimed: 0, oldestAgeMs: 0 };
    sum.claimable += d.claimable;
    sum.scheduled += d.scheduled;
    sum.claimed += d.claimed;
    sum.oldestAgeMs = Math.max(sum.oldestAgeMs, d.oldestAgeMs);
    overall.depth.set(d.at, sum);
  }
  const busiest = [...byQueue.entries()]
    .sort(([a, x], [b, y]) => y.busy - x.busy || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, SERIES_MAX_QUEUES);
  return {
    window,
    bucketMs,
    times,
    overall: figures(times, overall),
    queues: busiest.map(([name, acc]) => ({ queue: name, ...figures(times, acc) })),
    queuesTotal: byQueue.size,
  };
}

function figures(times: readonly number[], acc: Accumulator): SeriesFigures {
  const count = (pick: (a: QueueActivity) => number) => times.map((t) => {
    const a = acc.activity.get(t);
    return a === undefined ? 0 : pick(a);
  });
  const wait = (q: number) => times.map((t) => {
    const a = acc.activity.get(t);
    return a === undefined ? null : (claimWaitQuantile(a.claimWait, q) ?? null);
  });
  const sampled = (pick: (d: QueueDepth) => number) => times.map((t) => {
    const d = acc.depth.get(t);
    return d === undefined ? null : pick(d);
  });
  return {
    created: count((a) => a.created),
    claimed: count((a) => a.claimed),
    done: count((a) => a.done),
    failed: count((a) => a.failed),
    dead: count((a) => a.dead),
    claimWaitP50Ms: wait(0.5),
    claimWaitP95Ms: wait(0.95),
    claimWaitP99Ms: wait(0.99),
    claimable: sampled((d) => d.claimable),
    scheduled: sampled((d) => d.scheduled),
    claimedNow: sampled((d) => d.claimed),
    oldestAgeMs: sampled((d) => d.oldestAgeMs),
  };
}
