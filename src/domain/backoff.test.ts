/**
 * Retry backoff (design §3): wait = base + r^4 + rand(0..jitter-1)·(r+1) seconds, r = attempted − 1,
 * capped at max. The random source is injected, so exact values can be asserted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffMs, type BackoffPolicy, DEFAULT_BACKOFF } from './backoff.js';

const zero = () => 0;
const highest = () => 0.999_999_999; // the largest value Math.random() can come close to
const half = () => 0.5;

describe('backoffMs', () => {
  it('has the documented defaults: 15s base, 30s jitter, 7 days max', () => {
    assert.deepEqual(DEFAULT_BACKOFF, { baseSeconds: 15, jitterSeconds: 30, maxSeconds: 7 * 24 * 3600 });
  });

  it('computes exact values: 15 + r^4 + U·(r+1) seconds', () => {
    const cases: Array<[attempted: number, random: () => number, seconds: number]> = [
      [1, zero, 15], // r = 0
      [1, half, 15 + 15], // U = floor(0.5·30) = 15
      [1, highest, 15 + 29], // U = 29, never 30
      [2, zero, 15 + 1], // r = 1: 1^4 = 1
      [2, half, 15 + 1 + 15 * 2],
      [2, highest, 15 + 1 + 29 * 2],
      [3, zero, 15 + 16], // r = 2: 2^4 = 16
      [5, zero, 15 + 256], // r = 4: 4^4 = 256 (v1's XOR bug would give 23)
      [5, highest, 15 + 256 + 29 * 5],
      [10, half, 15 + 6561 + 15 * 10], // r = 9
      [26, highest, 15 + 390_625 + 29 * 26], // r = 25: the last retry of a default task, ~4.5 days
    ];
    for (const [attempted, random, seconds] of cases) {
      assert.equal(backoffMs(attempted, DEFAULT_BACKOFF, random), seconds * 1000, `attempted ${attempted}`);
    }
  });

  it('treats attempted 0 like attempted 1', () => {
    assert.equal(backoffMs(0, DEFAULT_BACKOFF, zero), 15_000);
    assert.equal(backoffMs(0, DEFAULT_BACKOFF, highest), 44_000);
  });

  it('is capped at maxSeconds', () => {
    // r = 29: 29^4 = 707281 s > 604800 s.
    assert.equal(backoffMs(30, DEFAULT_BACKOFF, zero), 7 * 24 * 3600 * 1000);
    assert.equal(backoffMs(1000, DEFAULT_BACKOFF, highest), 7 * 24 * 3600 * 1000);
    const tight: BackoffPolicy = { baseSeconds: 15, jitterSeconds: 30, maxSeconds: 20 };
    assert.equal(backoffMs(1, tight, zero), 15_000);
    assert.equal(backoffMs(1, tight, highest), 20_000);
  });

  it('follows a custom policy', () => {
    const policy: BackoffPolicy = { baseSeconds: 1, jitterSeconds: 10, maxSeconds: 3600 };
    assert.equal(backoffMs(1, policy, zero), 1000);
    assert.equal(backoffMs(3, policy, highest), (1 + 16 + 9 * 3) * 1000);
    // No jitter at all.
    const fixed: BackoffPolicy = { baseSeconds: 2, jitterSeconds: 0, maxSeconds: 3600 };
    assert.equal(backoffMs(1, fixed, highest), 2000);
    assert.equal(backoffMs(4, fixed, highest), (2 + 81) * 1000);
  });

  it('stays within [base + r^4, base + r^4 + 29·(r+1)] whole seconds with the real random source', () => {
    for (let attempted = 1; attempted <= 26; attempted++) {
      const r = attempted - 1;
      const low = (15 + r ** 4) * 1000;
      const high = (15 + r ** 4 + 29 * (r + 1)) * 1000;
      const seen = new Set<number>();
      for (let i = 0; i < 200; i++) {
        const ms = backoffMs(attempted, DEFAULT_BACKOFF);
        assert.ok(ms >= low && ms <= high, `attempted ${attempted}: ${ms} not in [${low}, ${high}]`);
        assert.equal(ms % ((r + 1) * 1000), low % ((r + 1) * 1000), 'the jitter is a whole multiple of (r+1) seconds');
        seen.add(ms);
      }
      assert.ok(seen.size > 1, 'the jitter varies');
    }
  });

  it('grows with the attempt number (at its lowest) — exponential, not v1 XOR', () => {
    let previous = 0;
    for (let attempted = 1; attempted <= 20; attempted++) {
      const ms = backoffMs(attempted, DEFAULT_BACKOFF, zero);
      assert.ok(ms > previous, `attempted ${attempted}`);
      previous = ms;
    }
  });
});
