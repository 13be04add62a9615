import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareClaimOrder, type ClaimOrderFields } from './claim-order.js';

const t = (priority: number, runAt: number, retryTimes: number, attempted: number): ClaimOrderFields => ({
  priority,
  runAt,
  retryTimes,
  attempted,
});

describe('compareClaimOrder', () => {
  it('orders by priority desc, then run_at asc, then remaining attempts desc', () => {
    const tasks = [t(0, 5, 3, 0), t(1, 9, 0, 0), t(0, 5, 3, 2), t(0, 1, 0, 0), t(1, 2, 0, 0)];
    const sorted = [...tasks].sort(compareClaimOrder);
    assert.deepEqual(sorted, [t(1, 2, 0, 0), t(1, 9, 0, 0), t(0, 1, 0, 0), t(0, 5, 3, 0), t(0, 5, 3, 2)]);
  });
  it('is zero for equal keys', () => {
    assert.equal(compareClaimOrder(t(2, 3, 1, 1), t(2, 3, 1, 1)), 0);
  });
});
