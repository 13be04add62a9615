/**
 * Counts what happens to tasks on this server, per queue and minute, in memory, and writes its running
 * totals to the store every `flushIntervalMs` (docs/design/queue-series.md): created, claimed, done,
 * failed, dead, and the claim-wait histogram. The write path stays one small record per (queue, minute)
 * per flush, whatever the task rate: the hot path only bumps counters in a Map.
 *
 * A flush writes the records changed since the last one; a record is kept until its minute is over and
 * written, so a failed flush is retried by the next one (the store replaces a server's record: writing
 * a running total twice is harmless). At most MAX_PENDING_MINUTES minutes are held when the store keeps
 * failing; older ones are dropped and counted in the log.
 */
import type { EngineEvents, TaskChangeCause } from '../engine/task-engine.js';
import { claimWaitBucket, emptyClaimWait, OTHER_QUEUES } from '../engine/queue-series.js';
import type { Clock } from '../service/clock.js';
import type { Logger } from '../service/logger.js';
import { LoopService } from '../service/start-stop.js';
import { TestSignal } from '../service/test-signal.js';
import type { Store } from '../store/store.js';
import type { QueueActivity, Task } from '../types/index.js';
import { ACTIVITY_FLUSH_INTERVAL_DEFAULT_MS } from '../types/service-defaults.js';

export const MINUTE_MS = 60_000;
export { ACTIVITY_FLUSH_INTERVAL_DEFAULT_MS };
/** Queues with records of their own per server; later ones are counted under OTHER_QUEUES. */
export const ACTIVITY_MAX_QUEUES_DEFAULT = 200;
/** Minutes held in memory while flushes fail (then the oldest are dropped). */
export const MAX_PENDING_MINUTES = 30;

export interface QueueActivityRecorderOptions {
  store: Pick<Store, 'queueActivityWrite'>;
  clock: Clock;
  logger: Logger;
  /** This server's id in the records (unique per process). */
  serverId: string;
  flushIntervalMs?: number | undefined;
  maxQueues?: number | undefined;
}

export class QueueActivityRecorder extends LoopService<number> implements EngineEvents {
  readonly testSignals = { flushed: new TestSignal<number>('queue-activity.flushed') };
  /** Running totals by minute, then queue. */
  private readonly minutes = new Map<number, Map<string, QueueActivity>>();
  /** Records changed since their last write. */
  private readonly dirty = new Set<QueueActivity>();
  private readonly named = new Set<string>();
  private readonly flushIntervalMs: number;
  private readonly maxQueues: number;
  private flushing: Promise<number> | undefined;

  constructor(private readonly options: QueueActivityRecorderOptions) {
    super('queue-activity', options.logger);
    this.flushIntervalMs = options.flushIntervalMs ?? ACTIVITY_FLUSH_INTERVAL_DEFAULT_MS;
    this.maxQueues = options.maxQueues ?? ACTIVITY_MAX_QUEUES_DEFAULT;
  }

  // ── EngineEvents ─────────────────────────────────────────────────────────────────────────────────

  taskChanged(after: Task, before: Task | undefined, _cause?: TaskChangeCause): void {
    if (before === undefined) {
      this.record(after.queue).created++;
      return;
    }
    if (after.state === before.state) return;
    switch (after.state) {
      case 'done':
        this.record(after.queue).done++;
        break;
      case 'failed':
        this.record(after.queue).failed++;
        break;
      case 'dead':
        this.record(after.queue).dead++;
        break;
      default:
        break;
    }
  }

  claimed(tasks: readonly Task[], _waitedMs: number): void {
    for (const task of tasks) {
      const record = this.record(task.queue);
      record.claimed++;
      // Enqueue → claim: from when the task became claimable (enqueued, or due if later) to its claim.
      const claimedAt = task.lastClaimed?.claimedAt;
      if (claimedAt !== undefined) {
        const waitMs = Math.max(0, claimedAt - Math.max(task.lastEnqueuedAt, task.runAt));
        const bucket = claimWaitBucket(waitMs);
        record.claimWait[bucket] = (record.claimWait[bucket] ?? 0) + 1;
      }
    }
  }

  /** The running record of `queue` in the current minute, marked for the next flush. */
  private record(queue: string): QueueActivity {
    const label = this.labelOf(queue);
    const now = this.options.clock.now();
    const at = now - (now % MINUTE_MS);
    let byQueue = this.minutes.get(at);
    if (byQueue === undefined) {
      byQueue = new Map();
      this.minutes.set(at, byQueue);
    }
    let record = byQueue.get(label);
    if (record === undefined) {
      record = { queue: label, at, created: 0, claimed: 0, done: 0, failed: 0, dead: 0, claimWait: emptyClaimWait() };
      byQueue.set(label, record);
    }
    this.dirty.add(record);
    return record;
  }

  private labelOf(queue: string): string {
    if (this.named.has(queue)) return queue;
    if (this.named.size >= this.maxQueues) return OTHER_QUEUES;
    this.named.add(queue);
    return queue;
  }

  // ── Flushing ─────────────────────────────────────────────────────────────────────────────────────

  /**
   * Writes the records changed since the last flush; returns how many. Finished minutes that are written
   * are forgotten. Concurrent calls share one flush.
   */
  flush(): Promise<number> {
    this.flushing ??= this.flushNow().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushNow(): Promise<number> {
    const records = [...this.dirty];
    const now = this.options.clock.now();
    const current = now - (now % MINUTE_MS);
    if (records.length > 0) {
      // Copies: counting goes on while the write is in flight.
      const written = records.map((r) => ({ ...r, claimWait: [...r.claimWait] }));
      this.dirty.clear();
      try {
        await this.options.store.queueActivityWrite({ serverId: this.options.serverId, records: written });
      } catch (err) {
        for (const r of records) this.dirty.add(r);
        this.dropOldest();
        throw err;
      }
    }
    // Minutes over and fully written (nothing changed since) are done.
    for (const [at, byQueue] of this.minutes) {
      if (at < current && ![...byQueue.values()].some((r) => this.dirty.has(r))) this.minutes.delete(at);
    }
    this.testSignals.flushed.signal(records.length);
    return records.length;
  }

  private dropOldest(): void {
    const ats = [...this.minutes.keys()].sort((a, b) => a - b);
    let dropped = 0;
    while (ats.length > MAX_PENDING_MINUTES) {
      const at = ats.shift() as number;
      for (const r of this.minutes.get(at)?.values() ?? []) {
        this.dirty.delete(r);
        dropped++;
      }
      this.minutes.delete(at);
    }
    if (dropped > 0) this.logger.warn({ dropped }, 'queue activity: the store kept failing; dropped the oldest records');
  }

  runOnce(): Promise<number> {
    return this.flush();
  }

  protected delayAfter(): number {
    return this.flushIntervalMs;
  }

  /** Stops the loop, then writes what is left (shutdown: the last seconds are not lost). */
  protected override async doStop(): Promise<void> {
    await super.doStop();
    try {
      await this.flush();
    } catch (err) {
      this.logger.warn({ err }, 'queue activity: the last flush failed');
    }
  }
}
