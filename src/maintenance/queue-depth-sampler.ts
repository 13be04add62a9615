/**
 * The queue depth sampler (leader only; docs/design/queue-series.md): once a minute, reads the queue
 * statistics and stores one depth sample per queue (claimable, scheduled, claimed, oldest claimable age)
 * for the dashboard's charts, then deletes series records past retention. Two leaders overlapping for an
 * interval write the same (queue, minute) sample: the store keeps one.
 */
import { OTHER_QUEUES, QUEUE_SERIES_RETENTION_MS } from '../domain/queue-series.js';
import type { Clock } from '../service/clock.js';
import type { Logger } from '../service/logger.js';
import { LoopService } from '../service/start-stop.js';
import { TestSignal } from '../service/test-signal.js';
import type { Store } from '../store/store.js';
import type { QueueDepth, QueueStats } from '../types/index.js';

const MINUTE_MS = 60_000;
/** Queues with samples of their own; the later ones (by name) are summed into OTHER_QUEUES. */
export const DEPTH_MAX_QUEUES_DEFAULT = 200;

export interface QueueDepthSamplerConfig {
  /** Time between samples. Defaults to a minute (the charts' finest interval). */
  intervalMs?: number;
  maxQueues?: number;
  /** Series records older than this are deleted. Defaults to QUEUE_SERIES_RETENTION_MS. */
  retentionMs?: number;
}

export interface QueueDepthSamplerResult {
  sampled: number;
  deleted: number;
}

export class QueueDepthSampler extends LoopService<QueueDepthSamplerResult> {
  readonly testSignals = { ran: new TestSignal<QueueDepthSamplerResult>('queue-depth-sampler.ran') };
  private readonly intervalMs: number;
  private readonly maxQueues: number;
  private readonly retentionMs: number;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    logger: Logger,
    config: QueueDepthSamplerConfig = {},
  ) {
    super('queue-depth-sampler', logger);
    this.intervalMs = config.intervalMs ?? MINUTE_MS;
    this.maxQueues = config.maxQueues ?? DEPTH_MAX_QUEUES_DEFAULT;
    this.retentionMs = config.retentionMs ?? QUEUE_SERIES_RETENTION_MS;
  }

  async runOnce(): Promise<QueueDepthSamplerResult> {
    const now = this.clock.now();
    const stats = await this.store.queueStatsList({ now, recentWindowMs: 0 });
    const samples = depthSamples(stats, now, this.maxQueues);
    await this.store.queueDepthWrite({ samples });
    const { deleted } = await this.store.queueSeriesDeleteBefore({ before: now - this.retentionMs });
    const result = { sampled: samples.length, deleted };
    this.testSignals.ran.signal(result);
    return result;
  }

  protected delayAfter(): number {
    return this.intervalMs;
  }
}

/** One sample per queue (the first `maxQueues` by name; the rest summed into OTHER_QUEUES), at the minute of `now`. */
export function depthSamples(stats: readonly QueueStats[], now: number, maxQueues: number): QueueDepth[] {
  const at = now - (now % MINUTE_MS);
  const out: QueueDepth[] = [];
  let other: QueueDepth | undefined;
  for (const [i, q] of stats.entries()) {
    const waiting = q.counts.queued + q.counts.failed;
    const sample: QueueDepth = {
      queue: q.queue,
      at,
      claimable: Math.max(0, waiting - q.scheduled),
      scheduled: q.scheduled,
      claimed: q.counts.claimed,
      oldestAgeMs: q.oldestClaimableRunAt === undefined ? 0 : Math.max(0, now - q.oldestClaimableRunAt),
    };
    if (i < maxQueues) {
      out.push(sample);
      continue;
    }
    other ??= { queue: OTHER_QUEUES, at, claimable: 0, scheduled: 0, claimed: 0, oldestAgeMs: 0 };
    other.claimable += sample.claimable;
    other.scheduled += sample.scheduled;
    other.claimed += sample.claimed;
    other.oldestAgeMs = Math.max(other.oldestAgeMs, sample.oldestAgeMs);
  }
  if (other !== undefined) out.push(other);
  return out;
}
