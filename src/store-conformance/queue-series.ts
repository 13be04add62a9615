/**
 * The queue series (the dashboard's charts, docs/design/queue-series.md): each server's activity per
 * (queue, minute) written as running totals and listed summed over servers per interval; depth samples
 * listed as the peak of each interval; retention deletes what is older than a cutoff.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLAIM_WAIT_BUCKETS, emptyClaimWait } from '../domain/queue-series.js';
import type { QueueActivity, QueueDepth } from '../types/index.js';
import { HOUR, MINUTE, T0, withHarness } from './helpers.js';
import type { ConformanceOptions } from './index.js';

/** A minute-aligned start, a while after T0. */
const AT = T0 + 2 * HOUR;

function activity(queue: string, at: number, fields: Partial<QueueActivity> = {}): QueueActivity {
  return { queue, at, created: 0, claimed: 0, done: 0, failed: 0, dead: 0, claimWait: emptyClaimWait(), ...fields };
}

function waits(entries: Record<number, number>): number[] {
  const histogram = emptyClaimWait();
  for (const [i, n] of Object.entries(entries)) histogram[Number(i)] = n;
  return histogram;
}

function depth(queue: string, at: number, fields: Partial<QueueDepth> = {}): QueueDepth {
  return { queue, at, claimable: 0, scheduled: 0, claimed: 0, oldestAgeMs: 0, ...fields };
}

export function queueSeriesTests(options: ConformanceOptions): void {
  describe(`${options.name}: queue series`, () => {
    it(
      'lists nothing on an empty store',
      withHarness(options, async ({ store }) => {
        assert.deepEqual(await store.queueActivityList({ from: T0, to: AT + HOUR, bucketMs: MINUTE }), []);
        assert.deepEqual(await store.queueDepthList({ from: T0, to: AT + HOUR, bucketMs: MINUTE }), []);
      }),
    );

    it(
      "sums every server's activity per queue and minute; a server's rewrite replaces its record",
      withHarness(options, async ({ store }) => {
        await store.queueActivityWrite({
          serverId: 's1',
          records: [activity('emails', AT, { created: 3, claimed: 1, claimWait: waits({ 0: 1 }) }), activity('emails', AT + MINUTE, { done: 2 })],
        });
        await store.queueActivityWrite({
          serverId: 's2',
          records: [activity('emails', AT, { created: 4, done: 1, failed: 2, dead: 1, claimed: 2, claimWait: waits({ 0: 1, 3: 1 }) })],
        });
        // s1 flushes its running total of the same minute again: it replaces, never adds.
        await store.queueActivityWrite({
          serverId: 's1',
          records: [activity('emails', AT, { created: 5, claimed: 2, claimWait: waits({ 0: 1, [CLAIM_WAIT_BUCKETS - 1]: 1 }) })],
        });
        const listed = await store.queueActivityList({ from: AT, to: AT + 2 * MINUTE, bucketMs: MINUTE });
        assert.deepEqual(listed, [
          activity('emails', AT, {
            created: 9,
            claimed: 4,
            done: 1,
            failed: 2,
            dead: 1,
            claimWait: waits({ 0: 2, 3: 1, [CLAIM_WAIT_BUCKETS - 1]: 1 }),
          }),
          activity('emails', AT + MINUTE, { done: 2 }),
        ]);
      }),
    );

    it(
      'buckets into longer intervals aligned on the epoch, sorted by queue then time, within [from, to)',
      withHarness(options, async ({ store }) => {
        const records: QueueActivity[] = [];
        for (let m = 0; m < 30; m++) records.push(activity('b', AT + m * MINUTE, { created: 1 }));
        records.push(activity('a', AT + 14 * MINUTE, { done: 1 }), activity('a', AT + 15 * MINUTE, { done: 1 }));
        records.push(activity('a', AT - MINUTE, { done: 100 }), activity('a', AT + 30 * MINUTE, { done: 100 }));
        await store.queueActivityWrite({ serverId: 's1', records });
        const listed = await store.queueActivityList({ from: AT, to: AT + 30 * MINUTE, bucketMs: 15 * MINUTE });
        // AT is on the hour, so a multiple of 15 minutes since the epoch.
        assert.deepEqual(
          listed.map((a) => [a.queue, a.at, a.created, a.done]),
          [
            ['a', AT, 0, 1],
            ['a', AT + 15 * MINUTE, 0, 1],
            ['b', AT, 15, 0],
            ['b', AT + 15 * MINUTE, 15, 0],
          ],
        );
        const onlyA = await store.queueActivityList({ from: AT, to: AT + 30 * MINUTE, bucketMs: 15 * MINUTE, queues: ['a'] });
        assert.deepEqual(onlyA.map((a) => a.queue), ['a', 'a']);
        assert.deepEqual(await store.queueActivityList({ from: AT, to: AT + HOUR, bucketMs: MINUTE, queues: [] }), []);
      }),
    );

    it(
      'lists depth samples as the peak of each interval; a sample of the same (queue, minute) is replaced',
      withHarness(options, async ({ store }) => {
        await store.queueDepthWrite({
          samples: [
            depth('emails', AT, { claimable: 5, scheduled: 1, claimed: 2, oldestAgeMs: 1000 }),
            depth('emails', AT + MINUTE, { claimable: 9, scheduled: 0, claimed: 1, oldestAgeMs: 500 }),
            depth('other', AT, { claimable: 1 }),
          ],
        });
        // A second leader (overlapping for one interval) writes the same minute: one sample stays.
        await store.queueDepthWrite({ samples: [depth('emails', AT, { claimable: 6, scheduled: 1, claimed: 2, oldestAgeMs: 1200 })] });
        assert.deepEqual(await store.queueDepthList({ from: AT, to: AT + 2 * MINUTE, bucketMs: MINUTE, queues: ['emails'] }), [
          depth('emails', AT, { claimable: 6, scheduled: 1, claimed: 2, oldestAgeMs: 1200 }),
          depth('emails', AT + MINUTE, { claimable: 9, scheduled: 0, claimed: 1, oldestAgeMs: 500 }),
        ]);
        assert.deepEqual(await store.queueDepthList({ from: AT, to: AT + 15 * MINUTE, bucketMs: 15 * MINUTE }), [
          depth('emails', AT, { claimable: 9, scheduled: 1, claimed: 2, oldestAgeMs: 1200 }),
          depth('other', AT, { claimable: 1 }),
        ]);
      }),
    );

    it(
      'deletes activity and depth older than the cutoff, keeping the rest',
      withHarness(options, async ({ store }) => {
        await store.queueActivityWrite({
          serverId: 's1',
          records: [activity('q', AT - 2 * MINUTE, { created: 1 }), activity('q', AT, { created: 2 })],
        });
        await store.queueDepthWrite({ samples: [depth('q', AT - 2 * MINUTE, { claimable: 1 }), depth('q', AT, { claimable: 2 })] });
        const { deleted } = await store.queueSeriesDeleteBefore({ before: AT });
        assert.equal(deleted, 2);
        assert.deepEqual(
          (await store.queueActivityList({ from: T0, to: AT + HOUR, bucketMs: MINUTE })).map((a) => [a.at, a.created]),
          [[AT, 2]],
        );
        assert.deepEqual(
          (await store.queueDepthList({ from: T0, to: AT + HOUR, bucketMs: MINUTE })).map((d) => [d.at, d.claimable]),
          [[AT, 2]],
        );
      }),
    );
  });
}
