/**
 * The TimeoutReaper (leader only): CLAIMED tasks whose claim timed out (`times_out_at` passed, no
 * report-in since) fail with v1's `{"timed_out": ...}` failure (spec §5): FAILED with backoff while
 * attempts are left, DEAD otherwise.
 *
 * The store only lists candidates; the lifecycle rule (`intoFailed`) is applied here, and the write is
 * a compare-and-set on the version that was read. A conflict means the worker reported in, finished or
 * gave the task up in the meantime: that task is skipped, which is also why two reapers (a deposed
 * leader that has not noticed yet, and its successor) never fail the same claim twice.
 */
import type { BackoffPolicy } from '../domain/backoff.js';
import { type ErrorHistoryPolicy, intoFailed, TIMED_OUT_FAILURE } from '../domain/task-lifecycle.js';
import type { EngineEvents } from '../engine/task-engine.js';
import { isTasquesError } from '../errors/index.js';
import type { Clock } from '../service/clock.js';
import type { Logger } from '../service/logger.js';
import { LoopService } from '../service/start-stop.js';
import { TestSignal } from '../service/test-signal.js';
import type { Store } from '../store/store.js';

import { TIMEOUT_REAPER_BATCH_SIZE_DEFAULT, TIMEOUT_REAPER_INTERVAL_DEFAULT_MS } from '../types/service-defaults.js';

export { TIMEOUT_REAPER_BATCH_SIZE_DEFAULT, TIMEOUT_REAPER_INTERVAL_DEFAULT_MS };

export interface TimeoutReaperConfig {
  backoff: BackoffPolicy;
  /** The error history kept per task (the timeout is a failed attempt). Defaults to the domain default. */
  errorHistory?: ErrorHistoryPolicy | undefined;
  /** Time between runs. Defaults to 15s. */
  intervalMs?: number;
  /** Tasks read per store query. Defaults to 300. */
  batchSize?: number;
  /** Backoff jitter source. Defaults to Math.random. */
  random?: () => number;
  /** Told of every claim it fails (metrics), with cause `timed_out`. */
  events?: EngineEvents | undefined;
  /** Told of the queue of every claim it ended (this server's engine wakes long polls held back by a limit). */
  onClaimEnded?: ((queue: string) => void) | undefined;
}

export interface TimeoutReaperResult {
  /** Claims failed by this run. */
  reaped: number;
  /** Timed-out claims skipped because their task changed after it was read. */
  skipped: number;
}

export class TimeoutReaper extends LoopService<TimeoutReaperResult> {
  readonly testSignals = { ran: new TestSignal<TimeoutReaperResult>('timeout-reaper.ran') };
  private readonly intervalMs: number;
  private readonly batchSize: number;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    logger: Logger,
    private readonly config: TimeoutReaperConfig,
  ) {
    super('timeout-reaper', logger);
    this.intervalMs = config.intervalMs ?? TIMEOUT_REAPER_INTERVAL_DEFAULT_MS;
    this.batchSize = config.batchSize ?? TIMEOUT_REAPER_BATCH_SIZE_DEFAULT;
  }

  async runOnce(): Promise<TimeoutReaperResult> {
    const now = this.clock.now();
    const result: TimeoutReaperResult = { reaped: 0, skipped: 0 };
    for (;;) {
      const batch = await this.store.taskListTimedOut({ now, limit: this.batchSize });
      let reapedInBatch = 0;
      for (const task of batch) {
        const owner = task.lastClaimed?.workerId;
        if (owner === undefined) continue;
        const failed = intoFailed(task, owner, now, TIMED_OUT_FAILURE, this.config.backoff, this.config.random, {
          errorHistory: this.config.errorHistory,
          timedOut: true,
        });
        try {
          const written = await this.store.taskUpdate({ task: failed, expectedVersion: task.version });
          this.config.events?.taskChanged(written, task, 'timed_out');
          this.config.onClaimEnded?.(written.queue);
          reapedInBatch++;
        } catch (err) {
          if (isTasquesError(err, 'TASK_VERSION_CONFLICT') || isTasquesError(err, 'TASK_NOT_FOUND')) {
            result.skipped++;
            continue;
          }
          throw err;
        }
      }
      result.reaped += reapedInBatch;
      // A full batch may hide more; a batch of nothing but conflicts would be listed again, so stop there.
      if (batch.length < this.batchSize || reapedInBatch === 0) break;
    }
    if (result.reaped > 0 || result.skipped > 0) {
      this.logger.info({ reaped: result.reaped, skipped: result.skipped }, 'timed out claimed tasks');
    }
    this.testSignals.ran.signal(result);
    return result;
  }

  protected delayAfter(): number {
    return this.intervalMs;
  }
}
