/** The start/stop contract (src/service/start-stop.ts) and test signals, on small real services. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from './logger.js';
import { BaseStartStop, LoopService } from './start-stop.js';
import { TestSignal } from './test-signal.js';

/** Counts its runs; run number `failOn` throws. */
class Counter extends LoopService<number> {
  readonly ran = new TestSignal<number>('counter.ran').init();
  runs = 0;
  inFlight = false;
  constructor(
    logger: Logger,
    private readonly failOn = -1,
  ) {
    super('counter', logger);
  }
  async runOnce(): Promise<number> {
    this.inFlight = true;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.inFlight = false;
    this.runs++;
    this.ran.signal(this.runs);
    if (this.runs === this.failOn) throw new Error('boom');
    return this.runs;
  }
  protected delayAfter(): number {
    return 1;
  }
}

const errors: unknown[] = [];
const logger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (fields) => errors.push(fields),
};

describe('LoopService', () => {
  it('runs at once after start, repeats, and stop() returns only when no run is in flight', async () => {
    const c = new Counter(logger);
    await c.start();
    assert.equal(c.started, true);
    assert.equal(await c.ran.waitOrTimeout(), 1);
    assert.equal(await c.ran.waitOrTimeout(), 2);
    await c.stop();
    assert.equal(c.started, false);
    assert.equal(c.inFlight, false);
    const runs = c.runs;
    // Stopped for good: another service's runs (real timers) go by without this one running.
    const other = new Counter(logger);
    await other.start();
    await other.ran.waitOrTimeout();
    await other.ran.waitOrTimeout();
    await other.stop();
    assert.equal(c.runs, runs);
  });

  it('a run that throws is logged and the loop goes on', async () => {
    errors.length = 0;
    const c = new Counter(logger, 1);
    await c.start();
    await c.ran.waitOrTimeout();
    assert.equal(await c.ran.waitOrTimeout(), 2, 'ran again after the failure');
    await c.stop();
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as { service: string }).service, 'counter');
  });

  it('can be started again after a stop; double start and double stop are no-ops', async () => {
    const c = new Counter(logger);
    await c.start();
    await c.start();
    await c.ran.waitOrTimeout();
    await c.stop();
    await c.stop();
    await c.start();
    const n = await c.ran.waitOrTimeout();
    assert.ok(n >= 2);
    await c.stop();
  });
});

describe('BaseStartStop', () => {
  class Recorder extends BaseStartStop {
    readonly calls: string[] = [];
    constructor() {
      super('recorder');
    }
    protected async doStart() {
      this.calls.push('start');
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    protected async doStop() {
      this.calls.push('stop');
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  it('serializes transitions: start, stop, start without awaiting ends started, each step run in order', async () => {
    const r = new Recorder();
    const a = r.start();
    const b = r.stop();
    const c = r.start();
    const d = r.start();
    await Promise.all([a, b, c, d]);
    assert.deepEqual(r.calls, ['start', 'stop', 'start']);
    assert.equal(r.started, true);
  });
});

describe('TestSignal', () => {
  it('is inert until init(); then keeps values for later waiters, in order', async () => {
    const s = new TestSignal<number>('s');
    s.signal(1);
    assert.equal(s.pending, 0);
    await assert.rejects(s.waitOrTimeout(10), /init\(\) was not called/);
    s.init();
    s.signal(2);
    s.signal(3);
    assert.equal(await s.waitOrTimeout(), 2);
    assert.equal(await s.waitOrTimeout(), 3);
    await assert.rejects(s.waitOrTimeout(5), /nothing signalled within 5ms/);
  });
});
