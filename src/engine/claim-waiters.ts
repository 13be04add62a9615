/**
 * Wakes long-polling claims when work arrives on this server, so that pick-up latency is not bound to
 * any polling interval. A waiter registers before it first tries to claim; a notification that arrives
 * while it is busy claiming is remembered, so none is lost between "nothing to claim" and "go to sleep".
 */

export class ClaimWaiter {
  private pending = false;
  private pendingQueue: string | undefined;
  private wake: (() => void) | undefined;

  /** @param queues the queues it claims from; undefined means every queue */
  constructor(
    readonly queues: ReadonlySet<string> | undefined,
    private readonly registry: ClaimWaiters,
  ) {}

  /** Resolves on a notification, after `timeoutMs`, or when `signal` aborts; whichever comes first. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted || timeoutMs <= 0) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wake = undefined;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }

  /** Marks this waiter notified; true if it was not already. */
  notify(queue: string | undefined): boolean {
    if (this.pending) return false;
    this.pending = true;
    this.pendingQueue = queue;
    this.wake?.();
    return true;
  }

  /** Leaves the registry; a notification it received but did not act on is passed to another waiter. */
  dispose(): void {
    this.registry.remove(this);
    const unconsumed = this.pending ? this.pendingQueue : undefined;
    this.wake?.();
    if (unconsumed !== undefined) this.registry.notify(unconsumed);
  }
}

export class ClaimWaiters {
  private readonly waiters = new Set<ClaimWaiter>();

  register(queues: readonly string[]): ClaimWaiter {
    const waiter = new ClaimWaiter(queues.length > 0 ? new Set(queues) : undefined, this);
    this.waiters.add(waiter);
    return waiter;
  }

  remove(waiter: ClaimWaiter): void {
    this.waiters.delete(waiter);
  }

  /** Wakes up to `count` waiters that claim from `queue`, oldest first. */
  notify(queue: string, count = 1): void {
    let left = count;
    for (const waiter of this.waiters) {
      if (left <= 0) return;
      if (waiter.queues !== undefined && !waiter.queues.has(queue)) continue;
      if (waiter.notify(queue)) left--;
    }
  }

  /** Wakes everyone (shutdown). */
  notifyAll(): void {
    for (const waiter of this.waiters) waiter.notify(undefined);
  }

  get size(): number {
    return this.waiters.size;
  }
}
