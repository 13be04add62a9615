/**
 * Rules of the queue series (the dashboard's charts, docs/design/queue-series.md): the fixed claim-wait
 * histogram that every server counts into, and how percentiles are read back from it.
 */

/**
 * Upper bounds (ms, inclusive) of the claim-wait histogram's buckets; one more bucket holds longer waits.
 * Fixed, so that the histograms of every server and minute add up. Never reorder: stored records index them.
 */
export const CLAIM_WAIT_BOUNDS_MS: readonly number[] = Object.freeze([
  10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000,
]);

/** Entries of a claim-wait histogram: one per bound, plus the overflow. */
export const CLAIM_WAIT_BUCKETS = CLAIM_WAIT_BOUNDS_MS.length + 1;

/** The bucket a wait falls into. */
export function claimWaitBucket(waitMs: number): number {
  for (let i = 0; i < CLAIM_WAIT_BOUNDS_MS.length; i++) if (waitMs <= (CLAIM_WAIT_BOUNDS_MS[i] as number)) return i;
  return CLAIM_WAIT_BOUNDS_MS.length;
}

export const emptyClaimWait = (): number[] => new Array<number>(CLAIM_WAIT_BUCKETS).fill(0);

/**
 * The `q` quantile (0 < q <= 1) of a claim-wait histogram, in ms, interpolated linearly within its bucket
 * (the first bucket starts at 0); undefined for an empty histogram. Waits past the last bound read as
 * that bound: the answer is then a floor.
 */
export function claimWaitQuantile(histogram: readonly number[], q: number): number | undefined {
  const total = histogram.reduce((sum, n) => sum + n, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    const n = histogram[i] as number;
    if (n > 0 && seen + n >= rank) {
      if (i >= CLAIM_WAIT_BOUNDS_MS.length) return CLAIM_WAIT_BOUNDS_MS[CLAIM_WAIT_BOUNDS_MS.length - 1];
      const lower = i === 0 ? 0 : (CLAIM_WAIT_BOUNDS_MS[i - 1] as number);
      const upper = CLAIM_WAIT_BOUNDS_MS[i] as number;
      return lower + ((upper - lower) * (rank - seen)) / n;
    }
    seen += n;
  }
  return CLAIM_WAIT_BOUNDS_MS[CLAIM_WAIT_BOUNDS_MS.length - 1];
}

/** The start of the interval of `bucketMs` that holds `at` (intervals aligned on the epoch). */
export const bucketStart = (at: number, bucketMs: number): number => at - (((at % bucketMs) + bucketMs) % bucketMs);

/**
 * The queue name under which a server counts the queues past its cap (and the depth sampler the queues past
 * its own): not a valid queue name (none starts with `_`), so it never mixes with a real queue.
 */
export const OTHER_QUEUES = '_other';

/** How long the queue series are kept: the day view (24 h) and one more hour. */
export const QUEUE_SERIES_RETENTION_MS = 25 * 3600_000;
