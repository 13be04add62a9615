/**
 * The start/stop contract every long-lived background part shares (the elector, the leader-only
 * maintenance services, the maintainer that groups them), and `LoopService`, the base of the ones that
 * do a unit of work, wait, and repeat.
 *
 * Contract:
 * - `start()` returns once the service is running; starting a started service does nothing.
 * - `stop()` returns once the service has fully stopped: no run is in flight and no timer is pending,
 *   so whatever started it may hand its resources (the store) to someone else or close them. Stopping a
 *   stopped service does nothing.
 * - Calls are serialized: `start(); stop(); start()` without awaiting leaves the service running.
 * - A service can be started again after a stop (leadership comes and goes).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './logger.js';

export interface StartStop {
  /** Literal name of the job, for logs ("timeout-reaper"). */
  readonly name: string;
  /** True between a completed `start()` and the next `stop()`. */
  readonly started: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Serializes start and stop of one service: each transition waits for the previous one. Subclasses
 * implement `doStart`/`doStop`, which are only called when the state really changes.
 */
export abstract class BaseStartStop implements StartStop {
  private running = false;
  private transition: Promise<void> = Promise.resolve();

  constructor(readonly name: string) {}

  get started(): boolean {
    return this.running;
  }

  start(): Promise<void> {
    return this.enqueue(async () => {
      if (this.running) return;
      await this.doStart();
      this.running = true;
    });
  }

  stop(): Promise<void> {
    return this.enqueue(async () => {
      if (!this.running) return;
      this.running = false;
      await this.doStop();
    });
  }

  protected abstract doStart(): Promise<void>;
  protected abstract doStop(): Promise<void>;

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.transition.then(step);
    // A failed transition must not wedge the ones after it; the caller still sees the error.
    this.transition = next.catch(() => {});
    return next;
  }
}

/**
 * A service that calls `runOnce()`, waits `delayAfter(result)` milliseconds, and repeats until stopped.
 * The first run starts at once. A run that throws is logged and the loop goes on after the usual delay.
 * `stop()` interrupts the wait, not a run: it returns after the run in flight has finished.
 *
 * `runOnce()` is public so tests can drive a service step by step on a ManualClock without starting
 * the loop; do not call it while the loop is running.
 */
export abstract class LoopService<R> extends BaseStartStop {
  private loop: { abort: AbortController; done: Promise<void> } | undefined;

  constructor(
    name: string,
    protected readonly logger: Logger,
  ) {
    super(name);
  }

  /** One unit of work. */
  abstract runOnce(): Promise<R>;

  /** Milliseconds to wait after a run; `result` is undefined when the run threw. */
  protected abstract delayAfter(result: R | undefined): number;

  protected async doStart(): Promise<void> {
    const abort = new AbortController();
    this.loop = { abort, done: this.runLoop(abort.signal) };
  }

  protected async doStop(): Promise<void> {
    const loop = this.loop;
    this.loop = undefined;
    if (!loop) return;
    loop.abort.abort();
    await loop.done;
  }

  private async runLoop(signal: AbortSignal): Promise<void> {
    // Let start() return before the first run does any work.
    await Promise.resolve();
    while (!signal.aborted) {
      let result: R | undefined;
      try {
        result = await this.runOnce();
      } catch (err) {
        this.logger.error({ err, service: this.name }, `${this.name}: run failed`);
      }
      if (signal.aborted) return;
      try {
        await sleep(Math.max(0, this.delayAfter(result)), undefined, { signal });
      } catch {
        return; // aborted by stop()
      }
    }
  }
}
