/**
 * The flow-control pruner (leader only; docs/flow-control.md, "Pruning"): deletes per-key flow-control
 * state that says no more than its absence (Store.queueFlowPrune: token buckets full and idle for
 * `idleMs`, hold documents holding no task), so 10 000 keys seen once do not stay 10 000+ documents or
 * rows for ever. Never loosens a limit: a missing bucket is a full one, a missing hold document holds
 * nothing, and each delete is conditional on the state read.
 */
import type { Clock } from '../service/clock.js';
import type { Logger } from '../service/logger.js';
import { LoopService } from '../service/start-stop.js';
import { TestSignal } from '../service/test-signal.js';
import type { Store } from '../store/store.js';

export interface FlowPrunerConfig {
  /** Time between runs. Defaults to a minute. */
  intervalMs?: number;
  /** A bucket last taken from less than this long ago is kept. Defaults to 10 minutes. */
  idleMs?: number;
  /** At most this many deleted per run. Defaults to 1 000. */
  batchSize?: number;
}

export class FlowPruner extends LoopService<number> {
  readonly testSignals = { ran: new TestSignal<number>('flow-pruner.ran') };
  private readonly intervalMs: number;
  private readonly idleMs: number;
  private readonly batchSize: number;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    logger: Logger,
    config: FlowPrunerConfig = {},
  ) {
    super('flow-pruner', logger);
    this.intervalMs = config.intervalMs ?? 60_000;
    this.idleMs = config.idleMs ?? 10 * 60_000;
    this.batchSize = config.batchSize ?? 1000;
  }

  async runOnce(): Promise<number> {
    const now = this.clock.now();
    const deleted = await this.store.queueFlowPrune({ now, idleBefore: now - this.idleMs, limit: this.batchSize });
    this.testSignals.ran.signal(deleted);
    return deleted;
  }

  protected delayAfter(): number {
    return this.intervalMs;
  }
}
