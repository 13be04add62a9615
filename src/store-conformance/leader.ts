/**
 * The leader lease (spec §10; docs/design/leadership.md): election, term-scoped renewal and resignation,
 * expiry judged by the caller's `now`, and at most one winner among concurrent contenders, also across
 * connections (several server processes on one store).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../store/store.js';
import { SECOND, T0, withHarness } from './helpers.js';
import type { ConformanceOptions } from './index.js';

const TTL = 5 * SECOND;

export function leaderTests(options: ConformanceOptions): void {
  describe(`${options.name}: leader lease`, () => {
    it(
      'a fresh store has no leader',
      withHarness(options, async ({ store }) => {
        assert.equal(await store.leaderGet({ now: T0 }), undefined);
      }),
    );

    it(
      'the first election wins a term (leaderId, electedAt = now, expiresAt = now + ttl) that leaderGet returns',
      withHarness(options, async ({ store }) => {
        const lease = await store.leaderAttemptElect({ leaderId: 'a', now: T0, ttlMs: TTL });
        assert.deepEqual(lease, { leaderId: 'a', electedAt: T0, expiresAt: T0 + TTL });
        assert.deepEqual(await store.leaderGet({ now: T0 + 1 }), lease);
        assert.deepEqual(await store.leaderGet({ now: T0 + TTL - 1 }), lease);
      }),
    );

    it(
      'another contender is refused while the lease is live, and the holder keeps it',
      withHarness(options, async ({ store }) => {
        const lease = await store.leaderAttemptElect({ leaderId: 'a', now: T0, ttlMs: TTL });
        assert.ok(lease);
        assert.equal(await store.leaderAttemptElect({ leaderId: 'b', now: T0 + 1, ttlMs: TTL }), undefined);
        assert.equal(await store.leaderAttemptElect({ leaderId: 'b', now: T0 + TTL - 1, ttlMs: TTL }), undefined);
        assert.deepEqual(await store.leaderGet({ now: T0 + TTL - 1 }), lease);
      }),
    );

    it(
      'an expired lease is void: leaderGet answers none and another contender is elected',
      withHarness(options, async ({ store }) => {
        await store.leaderAttemptElect({ leaderId: 'a', now: T0, ttlMs: TTL });
        assert.equal(await store.leaderGet({ now: T0 + TTL }), undefined, 'expiresAt itself is already expired');
        const lease = await store.leaderAttemptElect({ leaderId: 'b', now: T0 + TTL, ttlMs: TTL });
        assert.deepEqual(lease, { leaderId: 'b', electedAt: T0 + TTL, expiresAt: T0 + 2 * TTL });
        assert.deepEqual(await store.leaderGet({ now: T0 + TTL + 1 }), lease);
      }),
    );

    it(
      'renewal extends the holder\'s term, so a contender stays out past the first expiry',
      withHarness(options, async ({ store }) => {
        const lease = await store.leaderAttemptElect({ leaderId: 'a', now: T0, ttlMs: TTL });
        assert.ok(lease);
        const renewed = await store.leaderAttemptReelect({ leaderId: 'a', electedAt: T0, now: T0 + SECOND, ttlMs: TTL });
        assert.deepEqual(renewed, { leaderId: 'a', electedAt: T0, expiresAt: T0 + SECOND + TTL });
        assert.equal(await store.leaderAttemptElect({ leaderId: 'b', now: T0 + TTL, ttlMs: TTL }), undefined);
        assert.deepEqual(await store.leaderGet({ now: T0 + TTL }), renewed);
      }),
    );

    it(
      'renewal is scoped to the term: another leader id or another electedAt is refused and changes nothing',
      withHarness(options, async ({ store }) => {
        const lease = await store.leaderAttemptElect({ leaderId: 'a', now: T0, ttlMs: TTL });
        assert.equal(await store.leaderAttemptReelect({ leaderId: 'b', electedAt: T0, now: T0 + 1, ttlMs: TTL }), undefined);
        assert.equal(
          await store.leaderAttemptReelect({ leaderId: 'a', electedAt: T0 - 1, now: T0 + 1, ttlMs: TTL }),
          undefined,
        );
        assert.deepEqual(await store.leaderGet({ now: T0 + 1 }), lease);
      }),
    );

    it(
      'a deposed leader cannot renew once another was elected, even with its old term',
      withHarness(options, async ({ store }) => {
        await store.leaderAttemptElect({ leaderId: 'a', now: T0, ttlMs: TTL });
        const b = await store.leaderAttemptElect({ leaderId: 'b', now: T0 + TTL + 1, ttlMs: TTL });
        assert.ok(b);
        assert.equal(
          await store.leaderAttemptReelect({ leaderId: 'a', electedAt: T0, now: T0 + TTL + 2, ttlMs: TTL }),
          undefined,
        );
        assert.deepEqual(await store.leaderGet({ now: T0 + TTL + 2 }), b);
      }),
    );

    it(
      'a holder whose lease lapsed unnoticed may still renew it if nobody took over',
      withHarness(options, async ({ store }) => {
        await store.leaderAttemptElect({ leaderId: 'a', now: T0, ttlMs: TTL });
        const renewed = await store.leaderAttemptReelect({ leaderId: 'a', electedAt: T0, now: T0 + 2 * TTL, ttlMs: TTL });
        assert.deepEqual(renewed, { leaderId: 'a', electedAt: T0, expiresAt: T0 + 3 * TTL });
      }),
    );

    it(
      'the holder may be elected again while its lease is live: a new term replaces the old one',
      withHarness(options, async ({ store }) => {
        await store.leaderAttemptElect({ leaderId: 'a', now: T0, ttlMs: TTL });
        const again = await store.leaderAttemptElect({ leaderId: 'a', now: T0 + SECOND, ttlMs: TTL });
        assert.deepEqual(again, { leaderId: 'a', electedAt: T0 + SECOND, expiresAt: T0 + SECOND + TTL });
        assert.equal(
          await store.leaderAttemptReelect({ leaderId: 'a', electedAt: T0, now: T0 + 2 * SECOND, ttlMs: TTL }),
          undefined,
          'the old term is gone',
        );
      }),
    );

    it(
      'resigning frees the lease at once for another contender; resigning a term that is not held does nothing',
      withHarness(options, async ({ store }) => {
        await store.leaderAttemptElect({ leaderId: 'a', now: T0, ttlMs: TTL });
        assert.equal(await store.leaderResign({ leaderId: 'b', electedAt: T0 }), false);
        assert.equal(await store.leaderResign({ leaderId: 'a', electedAt: T0 + 1 }), false);
        assert.ok(await store.leaderGet({ now: T0 + 1 }), 'a wrong resign must not remove the lease');
        assert.equal(await store.leaderResign({ leaderId: 'a', electedAt: T0 }), true);
        assert.equal(await store.leaderGet({ now: T0 + 1 }), undefined);
        assert.equal(await store.leaderResign({ leaderId: 'a', electedAt: T0 }), false, 'resigning twice');
        const b = await store.leaderAttemptElect({ leaderId: 'b', now: T0 + 2, ttlMs: TTL });
        assert.deepEqual(b, { leaderId: 'b', electedAt: T0 + 2, expiresAt: T0 + 2 + TTL });
      }),
    );

    it(
      'of many concurrent contenders (peer connections when the driver has them) exactly one is elected',
      withHarness(options, async (h) => {
        const stores: Store[] = [h.store];
        for (let i = 0; i < 4; i++) stores.push((await h.peer()) ?? h.store);
        for (const round of [0, 1, 2]) {
          const now = T0 + round * 2 * TTL; // each round starts after the previous lease expired
          const results = await Promise.all(
            stores.flatMap((s, i) =>
              [0, 1].map((j) => s.leaderAttemptElect({ leaderId: `c-${round}-${i}-${j}`, now, ttlMs: TTL })),
            ),
          );
          const winners = results.filter((r) => r !== undefined);
          assert.equal(winners.length, 1, `round ${round}: ${JSON.stringify(winners)}`);
          for (const s of stores) assert.deepEqual(await s.leaderGet({ now }), winners[0], 'every connection agrees');
        }
      }),
    );
  });
}
