/**
 * The OperationResumer (leader only): takes over bulk operations whose server went quiet (no progress
 * for STALE_AFTER_MS, e.g. it died) and drives them on from their cursor (src/engine/bulk-operations.ts),
 * and deletes finished operation records past their retention (FINISHED_RETENTION_MS, MAX_FINISHED).
 * Running twice at once is harmless: a takeover is a compare-and-set on the operation record.
 */
import { STALE_AFTER_MS } from '../engine/bulk-operations.js';
import type { TaskEngine } from '../engine/task-engine.js';
import type { Logger } from '../service/logger.js';
import { LoopService } from '../service/start-stop.js';
import { TestSignal } from '../service/test-signal.js';

export class OperationResumer extends LoopService<string[]> {
  readonly testSignals = { ran: new TestSignal<string[]>('operation-resumer.ran') };

  constructor(
    private readonly engine: TaskEngine,
    logger: Logger,
    private readonly intervalMs: number = STALE_AFTER_MS / 2,
  ) {
    super('operation-resumer', logger);
  }

  async runOnce(): Promise<string[]> {
    const taken = await this.engine.bulk.resumeStale();
    if (taken.length > 0) this.logger.info({ operations: taken }, 'took over bulk operations of a quiet server');
    const pruned = await this.engine.bulk.pruneFinished();
    if (pruned > 0) this.logger.debug({ pruned }, 'deleted finished bulk operation records past their retention');
    this.testSignals.ran.signal(taken);
    return taken;
  }

  protected delayAfter(): number {
    return this.intervalMs;
  }
}
