/**
 * Recently seen workers (issue 16), kept cheap: the engine notes in memory which worker called (claim,
 * report-in, done, failed, unclaim) on which queues, and a WorkerSightingsFlusher per server writes what
 * was noted to the store every FLUSH_INTERVAL (one small write per interval, whatever the call rate), and
 * prunes sightings older than a day. Who holds claims *now* is not kept here: it comes from the claimed
 * tasks themselves (Store.workerClaimList).
 */
import type { Clock } from '../service/clock.js';
import type { Logger } from '../service/logger.js';
import { LoopService } from '../service/start-stop.js';
import { TestSignal } from '../service/test-signal.js';
import type { Store } from '../store/store.js';
import type { WorkerSighting } from '../types/index.js';

/** How often a server writes its sightings. */
export const WORKER_FLUSH_INTERVAL_MS = 15_000;
/** Sightings older than this are pruned. */
export const WORKER_SIGHTING_TTL_MS = 24 * 3600_000;
/** How often a server prunes. */
const PRUNE_INTERVAL_MS = 3600_000;
/** Queues kept per worker sighting: a claim over every queue does not make a record grow without end. */
export const MAX_QUEUES_PER_SIGHTING = 20;
/** Workers noted between two flushes, at most (memory bound; later workers wait for the next interval). */
const MAX_PENDING_WORKERS = 10_000;

export class WorkerActivity {
  private pending = new Map<string, { lastSeenAt: number; queues: Set<string> }>();

  /** Notes that `workerId` called at `now` about these queues. Cheap: a map update. */
  seen(workerId: string, queues: Iterable<string>, now: number): void {
    let entry = this.pending.get(workerId);
    if (entry === undefined) {
      if (this.pending.size >= MAX_PENDING_WORKERS) return;
      entry = { lastSeenAt: now, queues: new Set() };
      this.pending.set(workerId, entry);
    }
    if (now > entry.lastSeenAt) entry.lastSeenAt = now;
    for (const q of queues) {
      if (entry.queues.size >= MAX_QUEUES_PER_SIGHTING) break;
      entry.queues.add(q);
    }
  }

  /** What was noted since the last take, without forgetting it (a server's own, not yet flushed). */
  peek(): WorkerSighting[] {
    return [...this.pending].map(([workerId, e]) => ({ workerId, lastSeenAt: e.lastSeenAt, queues: [...e.queues].sort() }));
  }

  /** Everything noted since the last take, and forgets it. */
  take(): WorkerSighting[] {
    const taken = this.pending;
    this.pending = new Map();
    return [...taken].map(([workerId, e]) => ({ workerId, lastSeenAt: e.lastSeenAt, queues: [...e.queues].sort() }));
  }

  /** Puts back sightings a failed flush could not write (newer ones noted meanwhile win). */
  giveBack(sightings: WorkerSighting[]): void {
    for (const s of sightings) {
      const current = this.pending.get(s.workerId);
      if (current !== undefined && current.lastSeenAt >= s.lastSeenAt) continue;
      this.seen(s.workerId, s.queues, s.lastSeenAt);
    }
  }
}

export interface WorkerFlushResult {
  flushed: number;
  pruned: number;
}

/** Writes a server's worker sightings every interval and prunes old ones (every server; both idempotent). */
export class WorkerSightingsFlusher extends LoopService<WorkerFlushResult> {
  readonly testSignals = { ran: new TestSignal<WorkerFlushResult>('worker-sightings.ran') };
  private nextPruneAt = 0;

  constructor(
    private readonly store: Store,
    private readonly activity: WorkerActivity,
    private readonly clock: Clock,
    logger: Logger,
    private readonly intervalMs: number = WORKER_FLUSH_INTERVAL_MS,
  ) {
    super('worker-sightings', logger);
  }

  async runOnce(): Promise<WorkerFlushResult> {
    const sightings = this.activity.take();
    if (sightings.length > 0) {
      try {
        await this.store.workerSeenRecord({ sightings });
      } catch (err) {
        this.activity.giveBack(sightings);
        throw err;
      }
    }
    let pruned = 0;
    const now = this.clock.now();
    if (now >= this.nextPruneAt) {
      this.nextPruneAt = now + PRUNE_INTERVAL_MS;
      pruned = await this.store.workerSeenPrune({ before: now - WORKER_SIGHTING_TTL_MS });
    }
    const result = { flushed: sightings.length, pruned };
    this.testSignals.ran.signal(result);
    return result;
  }

  protected delayAfter(): number {
    return this.intervalMs;
  }

  /** A last flush, so that a clean shutdown loses nothing. */
  protected override async doStop(): Promise<void> {
    await super.doStop();
    try {
      const sightings = this.activity.take();
      if (sightings.length > 0) await this.store.workerSeenRecord({ sightings });
    } catch (err) {
      this.logger.warn({ err }, 'could not write the last worker sightings');
    }
  }
}
