/**
 * TestSignal: a point of interest a service announces (a run finished, leadership was gained), so that
 * tests wait for the event instead of sleeping. It is inert until `init()`: in production `signal()`
 * costs one branch and keeps nothing. After `init()` every value is queued until a `waitOrTimeout()`
 * takes it, so a signal raised before the test starts waiting is not lost.
 */
export class TestSignal<T = void> {
  private queued: T[] | undefined;
  private readonly waiters: ((value: T) => void)[] = [];

  constructor(readonly name: string) {}

  /** Starts recording. Returns this, for `const ran = service.testSignals.ran.init()`. */
  init(): this {
    this.queued ??= [];
    return this;
  }

  /** Announces an event; a no-op unless `init()` was called. */
  signal(value: T): void {
    if (this.queued === undefined) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter(value);
    else this.queued.push(value);
  }

  /**
   * The oldest value not yet taken, waiting for one if none is queued. The timeout is a failsafe so a
   * broken service fails its test instead of hanging it; it never paces a test.
   */
  waitOrTimeout(timeoutMs = 10_000): Promise<T> {
    if (this.queued === undefined) return Promise.reject(new Error(`TestSignal ${this.name}: init() was not called`));
    if (this.queued.length > 0) return Promise.resolve(this.queued.shift() as T);
    return new Promise<T>((resolve, reject) => {
      const waiter = (value: T) => {
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`TestSignal ${this.name}: nothing signalled within ${timeoutMs}ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Values signalled and not yet taken (after `init()`). */
  get pending(): number {
    return this.queued?.length ?? 0;
  }
}
