import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFLICT_SHARE, ClaimSpread, ESCALATE_AFTER, MAX_SLOTS, RELAX_AFTER, WINDOW, slotHash } from './claim-spread.js';

const ids = Array.from({ length: 40 }, (_, i) => `task-${i}`);

/** A random source that returns the given values in turn. */
const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

describe('ClaimSpread', () => {
  it('keeps the exact claim order while it has met no conflict (one server alone)', () => {
    const spread = new ClaimSpread();
    for (let i = 0; i < 10; i++) spread.observe(WINDOW, 0);
    assert.equal(spread.slots, 1);
    assert.deepEqual(spread.prefer(ids, (id) => id), ids);
  });

  it('puts its own slot first after conflicts, each part in claim order, dropping nothing', () => {
    const spread = new ClaimSpread(sequence(0.9));
    spread.observe(WINDOW, WINDOW);
    assert.equal(spread.slots, 2);
    assert.equal(spread.slot, 1);
    const preferred = spread.prefer(ids, (id) => id);
    assert.deepEqual([...preferred].sort(), [...ids].sort());
    const own = ids.filter((id) => slotHash(id) % 2 === 1);
    const others = ids.filter((id) => slotHash(id) % 2 === 0);
    assert.ok(own.length > 0 && others.length > 0, 'both slots hold some of the ids');
    assert.deepEqual(preferred, [...own, ...others]);
  });

  it('re-picks its slot on every conflicted pass and doubles the slots when conflicts persist', () => {
    const spread = new ClaimSpread(sequence(0.1, 0.6, 0.3, 0.99));
    spread.observe(WINDOW, WINDOW); // 1 → 2 slots
    const slotsSeen = [spread.slot];
    for (let i = 1; i < ESCALATE_AFTER; i++) {
      spread.observe(WINDOW, WINDOW);
      slotsSeen.push(spread.slot);
    }
    assert.equal(spread.slots, 2, 'a collision is first met by moving, not by more slots');
    spread.observe(WINDOW, WINDOW);
    assert.equal(spread.slots, 4);
    assert.deepEqual(new Set(slotsSeen), new Set([0, 1]));
    for (let i = 0; i < 10 * ESCALATE_AFTER; i++) spread.observe(WINDOW, WINDOW);
    assert.equal(spread.slots, MAX_SLOTS);
  });

  it('ignores losses at or under the conflict share, and judges single claims over a window', () => {
    const spread = new ClaimSpread();
    spread.observe(100, Math.floor(100 * CONFLICT_SHARE));
    assert.equal(spread.slots, 1);
    for (let i = 0; i < WINDOW - 1; i++) spread.observe(1, 1);
    assert.equal(spread.slots, 1, 'not judged before the window is full');
    spread.observe(1, 1);
    assert.equal(spread.slots, 2);
  });

  it('halves the slots after a long run of clean passes', () => {
    const spread = new ClaimSpread(sequence(0.99));
    spread.observe(WINDOW, WINDOW);
    assert.equal(spread.slots, 2);
    for (let i = 0; i < RELAX_AFTER - 1; i++) spread.observe(WINDOW, 0);
    assert.equal(spread.slots, 2);
    spread.observe(WINDOW, 0);
    assert.equal(spread.slots, 1);
    assert.equal(spread.slot, 0);
  });
});
