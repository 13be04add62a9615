/** Tick identities and the tick chain of recurring tasks (src/domain/recurring-tick.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_SKIPPED_TICKS, nextTickAfter, recurringTickTaskId } from './recurring-tick.js';
import { parseSchedule } from './schedule.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const MINUTE = 60_000;

describe('recurringTickTaskId', () => {
  it('is deterministic, 32 lower-case hex characters, and differs per recurring task and per tick', () => {
    const id = recurringTickTaskId('nightly', T0);
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(recurringTickTaskId('nightly', T0), id);
    assert.notEqual(recurringTickTaskId('nightly', T0 + 1), id);
    assert.notEqual(recurringTickTaskId('nightly-2', T0), id);
    // No ambiguity from concatenation.
    assert.notEqual(recurringTickTaskId('a1', 23), recurringTickTaskId('a', 123));
  });

  it('is safe whatever the recurring id contains', () => {
    assert.match(recurringTickTaskId('a/b?c#d e', T0), /^[0-9a-f]{32}$/);
  });
});

describe('nextTickAfter', () => {
  it('is the next tick when the handled tick was on time', () => {
    assert.equal(nextTickAfter(parseSchedule('*/5 * * * *'), T0, T0), T0 + 5 * MINUTE);
    assert.equal(nextTickAfter(parseSchedule('@every 1m'), T0, T0 + 1000), T0 + MINUTE);
  });

  it('skips the ticks missed while late, staying on the chain (also for @every, whose ticks are relative)', () => {
    const every = parseSchedule('@every 1m');
    const anchor = T0 + 17_000; // the chain is T0+17s + k·1m
    assert.equal(nextTickAfter(every, anchor, anchor + 10 * MINUTE + 5000), anchor + 11 * MINUTE);
    assert.equal(nextTickAfter(every, anchor, anchor + 10 * MINUTE), anchor + 11 * MINUTE, 'a tick at now is missed too');
    const cron = parseSchedule('0 * * * *');
    assert.equal(nextTickAfter(cron, T0, T0 + 5 * 60 * MINUTE + 1), T0 + 6 * 60 * MINUTE);
  });

  it('restarts from now after MAX_SKIPPED_TICKS missed ticks rather than walking the chain for ever', () => {
    const every = parseSchedule('@every 7s'); // chain from T0: T0 + k·7s
    const justWithin = T0 + (MAX_SKIPPED_TICKS - 1) * 7000 + 3000;
    assert.equal(nextTickAfter(every, T0, justWithin), T0 + MAX_SKIPPED_TICKS * 7000, 'still on the chain');
    const farLater = T0 + (MAX_SKIPPED_TICKS + 10) * 7000 + 3000;
    const restarted = nextTickAfter(every, T0, farLater);
    assert.equal(restarted, farLater + 7000, 'from now');
    assert.notEqual(restarted, T0 + (MAX_SKIPPED_TICKS + 11) * 7000, 'not the chain any more');
  });

  it('is undefined for a schedule that never fires again', () => {
    const never: ReturnType<typeof parseSchedule> = { expression: 'never', nextAfter: () => undefined };
    assert.equal(nextTickAfter(never, T0, T0), undefined);
  });
});
