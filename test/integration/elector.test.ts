// Leader election between electors on one SQLite file, each on its own connection (as separate server
// processes would be): the lease, the trust window, resignation and subscriber ordering. Steps are driven
// one at a time with `runOnce()` on a ManualClock; the loop itself is tested through its signals.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Elector, type LeadershipChange } from '../../src/leadership/elector.js';
import { ManualClock } from '../../src/service/clock.js';
import { silentLogger } from '../../src/service/logger.js';
import type { Store } from '../../src/store/store.js';
import { sqliteFixture } from '../helpers/sqlite.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const INTERVAL = 1000;
const TTL = 5000;

function elector(store: Store, clock: ManualClock, leaderId: string, config: { intervalMs?: number } = {}) {
  const e = new Elector(store, clock, silentLogger, { leaderId, intervalMs: config.intervalMs ?? INTERVAL, ttlMs: TTL });
  e.testSignals.gained.init();
  e.testSignals.lost.init();
  e.testSignals.stepped.init();
  return e;
}

describe('elector', () => {
  it('alone, becomes leader at its first step, tells its subscribers, and renews at every step', async (t) => {
    const { store } = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const a = elector(store, clock, 'a');
    const changes: LeadershipChange[] = [];
    a.subscribe((c) => {
      changes.push(c);
    });
    assert.equal(a.isLeader, false);
    await a.runOnce();
    assert.equal(a.isLeader, true);
    assert.deepEqual(await a.testSignals.gained.waitOrTimeout(), { leaderId: 'a', electedAt: T0, expiresAt: T0 + TTL });
    assert.deepEqual(changes, [{ isLeader: true, leaderId: 'a', lease: { leaderId: 'a', electedAt: T0, expiresAt: T0 + TTL } }]);
    clock.advance(INTERVAL);
    await a.runOnce();
    assert.deepEqual(await store.leaderGet({ now: clock.now() }), {
      leaderId: 'a',
      electedAt: T0,
      expiresAt: T0 + INTERVAL + TTL,
    });
    assert.equal(changes.length, 1, 'a renewal is not a change');
  });

  it('two electors on one file: one leads; the other takes over only once the lease has expired', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const a = elector(fx.store, clock, 'a');
    const b = elector(fx.peer(), clock, 'b');
    await a.runOnce();
    await b.runOnce();
    assert.deepEqual([a.isLeader, b.isLeader], [true, false]);
    // While a renews, b never gets in, however long it goes on.
    for (let i = 0; i < 10; i++) {
      clock.advance(INTERVAL);
      await a.runOnce();
      await b.runOnce();
      assert.deepEqual([a.isLeader, b.isLeader], [true, false], `step ${i}`);
    }
    // a stops renewing (paused, or dead): b is refused until the lease from a's last renewal expires.
    const lastRenewal = clock.now();
    clock.set(lastRenewal + TTL - 1);
    await b.runOnce();
    assert.equal(b.isLeader, false);
    clock.set(lastRenewal + TTL);
    await b.runOnce();
    assert.equal(b.isLeader, true);
    assert.equal((await b.testSignals.gained.waitOrTimeout()).electedAt, lastRenewal + TTL);
    // a wakes up: its renewal finds b's term, and it steps down at once.
    await a.runOnce();
    assert.equal(a.isLeader, false);
    assert.equal(await a.testSignals.lost.waitOrTimeout(), 'the lease was taken over');
    assert.equal((await fx.store.leaderGet({ now: clock.now() }))?.leaderId, 'b');
  });

  it('a leader that cannot reach the store keeps leading only within its trust window, which ends before anyone else can be elected', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const broken = fx.peer();
    const a = elector(broken, clock, 'a');
    const b = elector(fx.store, clock, 'b');
    await a.runOnce();
    assert.equal(a.isLeader, true);
    await broken.close(); // every store call of a now throws
    clock.advance(INTERVAL);
    await a.runOnce();
    assert.equal(a.isLeader, true, 'one failed renewal within the trust window');
    const trustEnds = T0 + TTL - INTERVAL;
    clock.set(trustEnds - 1);
    await a.runOnce();
    assert.equal(a.isLeader, true);
    clock.set(trustEnds);
    await a.runOnce();
    assert.equal(a.isLeader, false);
    assert.equal(await a.testSignals.lost.waitOrTimeout(), 'the lease could not be renewed in time');
    // At that moment the lease still stands: nobody overlaps with a.
    await b.runOnce();
    assert.equal(b.isLeader, false);
    clock.set(T0 + TTL);
    await b.runOnce();
    assert.equal(b.isLeader, true);
  });

  it('stop() of the leader: subscribers stop its services while it still holds the lease, then it resigns so the other is elected at once', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const a = elector(fx.store, clock, 'a');
    const b = elector(fx.peer(), clock, 'b');
    const seenByListener: (string | undefined)[] = [];
    a.subscribe(async (change) => {
      if (!change.isLeader) seenByListener.push((await fx.store.leaderGet({ now: clock.now() }))?.leaderId);
    });
    await a.start();
    assert.equal(await a.testSignals.stepped.waitOrTimeout(), true);
    await a.stop();
    assert.equal(a.isLeader, false);
    assert.deepEqual(seenByListener, ['a'], 'the listener ran before the resignation');
    assert.equal(await fx.store.leaderGet({ now: clock.now() }), undefined, 'resigned');
    await b.runOnce(); // no clock movement: no waiting for the lease to expire
    assert.equal(b.isLeader, true);
    await a.stop(); // stopping twice is harmless
  });

  it('the loop: three started electors elect exactly one leader; stopping it hands over to another', async (t) => {
    const fx = sqliteFixture(t);
    const clock = new ManualClock(T0);
    const electors = [
      elector(fx.store, clock, 'a', { intervalMs: 10 }),
      elector(fx.peer(), clock, 'b', { intervalMs: 10 }),
      elector(fx.peer(), clock, 'c', { intervalMs: 10 }),
    ];
    t.after(() => Promise.all(electors.map((e) => e.stop())));
    for (const e of electors) await e.start();
    // Every elector has made at least two steps: the election is settled.
    for (const e of electors) {
      await e.testSignals.stepped.waitOrTimeout();
      await e.testSignals.stepped.waitOrTimeout();
    }
    const leaders = electors.filter((e) => e.isLeader);
    assert.equal(leaders.length, 1, `leaders: ${leaders.map((e) => e.leaderId)}`);
    const first = leaders[0]!;
    assert.equal((await fx.store.leaderGet({ now: clock.now() }))?.leaderId, first.leaderId);
    await first.stop();
    const others = electors.filter((e) => e !== first);
    // Both remaining electors keep stepping; within a few steps one of them leads, and only one.
    let next: Elector | undefined;
    for (let step = 0; step < 50 && next === undefined; step++) {
      for (const e of others) await e.testSignals.stepped.waitOrTimeout();
      next = others.find((e) => e.isLeader);
    }
    assert.ok(next, 'nobody took over');
    for (const e of others) await e.testSignals.stepped.waitOrTimeout();
    assert.deepEqual(
      others.filter((e) => e.isLeader).map((e) => e.leaderId),
      [next.leaderId],
    );
    assert.equal((await fx.store.leaderGet({ now: clock.now() }))?.leaderId, next.leaderId);
  });

  it('refuses a lease that is not longer than the interval', () => {
    const clock = new ManualClock(T0);
    assert.throws(
      () => new Elector({} as Store, clock, silentLogger, { intervalMs: 1000, ttlMs: 1000 }),
      /must be longer than the interval/,
    );
  });
});
