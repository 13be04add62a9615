/**
 * Queue statistics (operator API `GET /queues`, docs/design/operator-api.md): `queueStatsList` counts
 * live tasks by state, finds the oldest claimable runAt, counts recent activity within a window, and
 * includes paused queues without tasks. Drives the store directly with hand-made records and explicit `now`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../store/store.js';
import type { NewTaskRecord, QueueStats, TaskState } from '../types/index.js';
import { HOUR, MINUTE, SECOND, T0, finishedAt, taskRecord, withHarness } from './helpers.js';
import type { ConformanceOptions } from './index.js';

const NOW = T0 + 10 * HOUR;
const WINDOW = 5 * MINUTE;

function counts(partial: Partial<Record<TaskState, number>>): Record<TaskState, number> {
  return { queued: 0, claimed: 0, failed: 0, done: 0, dead: 0, ...partial };
}

/** A record in `state` created long before NOW (outside any recent window), finished long ago if terminal. */
function inState(queue: string, id: string, state: TaskState, fields: Partial<NewTaskRecord> = {}): NewTaskRecord {
  const createdAt = fields.createdAt ?? T0;
  const extra: Partial<NewTaskRecord> =
    state === 'claimed'
      ? { attempted: 1, lastClaimed: { workerId: 'w', claimedAt: createdAt, timesOutAt: NOW + HOUR } }
      : state === 'done' || state === 'dead'
        ? { attempted: 1, lastClaimed: finishedAt(createdAt + SECOND) }
        : state === 'failed'
          ? { attempted: 1 }
          : {};
  return taskRecord({ queue, id, state, createdAt, ...extra, ...fields });
}

async function createAll(store: Store, records: NewTaskRecord[]): Promise<void> {
  for (const task of records) await store.taskCreate({ task });
}

function stats(queue: string, fields: Partial<QueueStats> = {}): QueueStats {
  return {
    queue,
    paused: false,
    counts: counts({}),
    scheduled: 0,
    recent: { windowMs: WINDOW, created: 0, done: 0, dead: 0 },
    ...fields,
  };
}

/** Compares ignoring how an absent `oldestClaimableRunAt` is represented. */
function assertStats(actual: QueueStats[], expected: QueueStats[], message?: string): void {
  const norm = (list: QueueStats[]) =>
    list.map((s) => {
      const { oldestClaimableRunAt, ...rest } = s;
      return oldestClaimableRunAt === undefined ? rest : { ...rest, oldestClaimableRunAt };
    });
  assert.deepEqual(norm(actual), norm(expected), message);
}

export function queueStatsTests(options: ConformanceOptions): void {
  describe(`${options.name}: queue stats`, () => {
    it(
      'lists no queues on an empty store',
      withHarness(options, async ({ store }) => {
        assert.deepEqual(await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW }), []);
      }),
    );

    it(
      'counts live tasks by state, every state present, queues sorted by name',
      withHarness(options, async ({ store }) => {
        await createAll(store, [
          inState('mixed', 'q1', 'queued'),
          inState('mixed', 'q2', 'queued'),
          inState('mixed', 'c1', 'claimed'),
          inState('mixed', 'f1', 'failed'),
          inState('mixed', 'd1', 'done'),
          inState('mixed', 'd2', 'done'),
          inState('mixed', 'd3', 'done'),
          inState('mixed', 'x1', 'dead'),
          inState('b-only-queued', 'q1', 'queued'),
          inState('a-only-done', 'd1', 'done'),
          inState('Z-upper', 'x', 'dead'),
        ]);
        const list = await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW });
        assert.deepEqual(
          list.map((s) => s.queue),
          ['Z-upper', 'a-only-done', 'b-only-queued', 'mixed'],
        );
        assert.deepEqual(list.map((s) => s.counts), [
          counts({ dead: 1 }),
          counts({ done: 1 }),
          counts({ queued: 1 }),
          counts({ queued: 2, claimed: 1, failed: 1, done: 3, dead: 1 }),
        ]);
        for (const s of list) {
          assert.deepEqual(Object.keys(s.counts).sort(), ['claimed', 'dead', 'done', 'failed', 'queued']);
          assert.equal(s.paused, false);
          assert.deepEqual(s.recent, { windowMs: WINDOW, created: 0, done: 0, dead: 0 });
        }
      }),
    );

    it(
      'finds the earliest runAt among claimable tasks, ignoring future, claimed and finished ones',
      withHarness(options, async ({ store }) => {
        await createAll(store, [
          inState('q', 'future', 'queued', { runAt: NOW + 1 }),
          inState('q', 'failed-5m', 'failed', { runAt: NOW - 5 * MINUTE }),
          inState('q', 'queued-1m', 'queued', { runAt: NOW - MINUTE }),
          inState('q', 'claimed-1h', 'claimed', { runAt: NOW - HOUR }),
          inState('q', 'done-2h', 'done', { runAt: NOW - 2 * HOUR }),
          inState('q', 'dead-3h', 'dead', { runAt: NOW - 3 * HOUR }),
          inState('only-future', 'f', 'queued', { runAt: NOW + HOUR }),
          inState('only-future', 'g', 'failed', { runAt: NOW + 1 }),
          inState('only-busy', 'c', 'claimed', { runAt: T0 }),
          inState('only-busy', 'd', 'done', { runAt: T0 }),
          inState('due-now', 'n', 'queued', { runAt: NOW }),
          inState('due-now', 'later', 'queued', { runAt: NOW + SECOND }),
          inState('failed-first', 'f', 'failed', { runAt: NOW - 2 * MINUTE }),
          inState('failed-first', 'q', 'queued', { runAt: NOW - MINUTE }),
        ]);
        const list = await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW });
        const oldest = Object.fromEntries(list.map((s) => [s.queue, s.oldestClaimableRunAt]));
        assert.deepEqual(oldest, {
          'due-now': NOW,
          'failed-first': NOW - 2 * MINUTE,
          'only-busy': undefined,
          'only-future': undefined,
          q: NOW - 5 * MINUTE,
        });
        // The same data, seen later: the future tasks have come due.
        const later = await store.queueStatsList({ now: NOW + 2 * HOUR, recentWindowMs: WINDOW });
        assert.equal(later.find((s) => s.queue === 'only-future')?.oldestClaimableRunAt, NOW + 1);
        // And seen earlier: nothing in 'q' was due yet at T0 - 1.
        const earlier = await store.queueStatsList({ now: T0 - 1, recentWindowMs: WINDOW });
        assert.equal(earlier.find((s) => s.queue === 'q')?.oldestClaimableRunAt, undefined);
      }),
    );

    it(
      'counts queued and failed tasks not due yet apart (scheduled), keeping them in their state counts',
      withHarness(options, async ({ store }) => {
        await createAll(store, [
          inState('q', 'future', 'queued', { runAt: NOW + 1 }),
          inState('q', 'retry-later', 'failed', { runAt: NOW + MINUTE }),
          inState('q', 'due', 'queued', { runAt: NOW }),
          inState('q', 'failed-due', 'failed', { runAt: NOW - MINUTE }),
          inState('q', 'claimed-future', 'claimed', { runAt: NOW + HOUR }),
          inState('q', 'done-future', 'done', { runAt: NOW + HOUR }),
          inState('only-future', 'f', 'queued', { runAt: NOW + HOUR }),
          inState('none-waiting', 'c', 'claimed', { runAt: NOW + HOUR }),
        ]);
        const list = await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW });
        assert.deepEqual(
          list.map((s) => [s.queue, s.scheduled, s.counts.queued, s.counts.failed]),
          [
            ['none-waiting', 0, 0, 0],
            ['only-future', 1, 1, 0],
            ['q', 2, 2, 2],
          ],
        );
        // Later, everything has come due; named queues are counted the same way.
        const later = await store.queueStatsList({ now: NOW + 2 * HOUR, recentWindowMs: WINDOW, queues: ['q', 'only-future'] });
        assert.deepEqual(later.map((s) => [s.queue, s.scheduled]), [['only-future', 0], ['q', 0]]);
      }),
    );

    it(
      'counts tasks created, done and dead within (now - window, now]',
      withHarness(options, async ({ store }) => {
        const edge = NOW - WINDOW; // excluded
        await createAll(store, [
          // created: by createdAt, whatever the state
          inState('r', 'c-edge', 'queued', { createdAt: edge }),
          inState('r', 'c-in-1', 'queued', { createdAt: edge + 1 }),
          inState('r', 'c-in-now', 'claimed', { createdAt: NOW }),
          inState('r', 'c-future', 'queued', { createdAt: NOW + 1 }),
          // done and dead: by lastClaimed.result.at; created long ago
          inState('r', 'd-edge', 'done', { lastClaimed: finishedAt(edge) }),
          inState('r', 'd-in', 'done', { lastClaimed: finishedAt(NOW - 1) }),
          inState('r', 'd-in-now', 'done', { lastClaimed: finishedAt(NOW) }),
          inState('r', 'x-in', 'dead', { lastClaimed: finishedAt(edge + 1) }),
          inState('r', 'x-old', 'dead', { lastClaimed: finishedAt(NOW - 10 * MINUTE) }),
          inState('r', 'x-future', 'dead', { lastClaimed: finishedAt(NOW + 1) }),
          // a recent result on a task that is not finished (failed, then re-queued) is neither done nor dead
          inState('r', 'failed-recently', 'failed', { lastClaimed: finishedAt(NOW - 1) }),
          // created and finished in the window: counted in both
          inState('r', 'both', 'done', { createdAt: NOW - MINUTE, lastClaimed: finishedAt(NOW - 1) }),
          // another queue's activity stays there
          inState('s', 'c', 'queued', { createdAt: NOW }),
        ]);
        const list = await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW });
        assert.deepEqual(list.find((s) => s.queue === 'r')?.recent, { windowMs: WINDOW, created: 3, done: 3, dead: 1 });
        assert.deepEqual(list.find((s) => s.queue === 's')?.recent, { windowMs: WINDOW, created: 1, done: 0, dead: 0 });
        // A wider window takes in the older ones.
        const wide = await store.queueStatsList({ now: NOW, recentWindowMs: HOUR, queues: ['r'] });
        assert.deepEqual(wide[0]?.recent, { windowMs: HOUR, created: 4, done: 4, dead: 2 });
      }),
    );

    it(
      'returns only the queues asked for, sorted, each once, with zero counts for a queue that has nothing',
      withHarness(options, async ({ store }) => {
        await createAll(store, [
          inState('a', 'x', 'queued'),
          inState('b', 'x', 'failed', { runAt: NOW - MINUTE }),
          inState('c', 'x', 'done'),
        ]);
        const list = await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW, queues: ['c', 'nothing-here', 'b', 'c'] });
        assertStats(list, [
          stats('b', { counts: counts({ failed: 1 }), oldestClaimableRunAt: NOW - MINUTE }),
          stats('c', { counts: counts({ done: 1 }) }),
          stats('nothing-here'),
        ]);
        assert.deepEqual(await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW, queues: [] }), []);
        assertStats(await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW, queues: ['a'] }), [
          stats('a', { counts: counts({ queued: 1 }), oldestClaimableRunAt: T0 }),
        ]);
      }),
    );

    it(
      'includes a paused queue without tasks (zero counts, paused) and reflects the paused flag',
      withHarness(options, async ({ store }) => {
        await createAll(store, [inState('busy', 'x', 'queued'), inState('calm', 'y', 'queued')]);
        await store.queueSetPaused({ queue: 'empty-paused', paused: true, now: NOW - HOUR });
        await store.queueSetPaused({ queue: 'busy', paused: true, now: NOW - HOUR });
        assertStats(await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW }), [
          stats('busy', { paused: true, counts: counts({ queued: 1 }), oldestClaimableRunAt: T0 }),
          stats('calm', { counts: counts({ queued: 1 }), oldestClaimableRunAt: T0 }),
          stats('empty-paused', { paused: true }),
        ]);
        assertStats(await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW, queues: ['empty-paused'] }), [
          stats('empty-paused', { paused: true }),
        ]);
        // Resumed: still a stored state, so still listed, no longer paused.
        await store.queueSetPaused({ queue: 'empty-paused', paused: false, now: NOW });
        await store.queueSetPaused({ queue: 'busy', paused: false, now: NOW });
        const list = await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW });
        assert.deepEqual(
          list.map((s) => [s.queue, s.paused]),
          [
            ['busy', false],
            ['calm', false],
            ['empty-paused', false],
          ],
        );
      }),
    );

    it(
      'counts only live tasks: archived ones have left, and a queue left with nothing is not listed',
      withHarness(options, async ({ store }) => {
        await createAll(store, [
          inState('gone', 'd', 'done', { lastClaimed: finishedAt(NOW - 2 * HOUR) }),
          inState('kept', 'd', 'done', { lastClaimed: finishedAt(NOW - 2 * HOUR) }),
          inState('kept', 'x', 'dead', { lastClaimed: finishedAt(NOW - 1) }),
          inState('kept', 'q', 'queued'),
        ]);
        assert.deepEqual(await store.taskArchive({ finishedBefore: NOW - HOUR, limit: 10, now: NOW }), { archived: 2 });
        assertStats(await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW }), [
          stats('kept', {
            counts: counts({ queued: 1, dead: 1 }),
            oldestClaimableRunAt: T0,
            recent: { windowMs: WINDOW, created: 0, done: 0, dead: 1 },
          }),
        ]);
      }),
    );

    it(
      'reads its writes: claims, updates and new tasks show at once',
      withHarness(options, async ({ store, engine, clock }) => {
        clock.set(NOW);
        const created = await engine.createTask({ queue: 'rw', kind: 'k' });
        let [s] = await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW });
        assert.deepEqual(s?.counts, counts({ queued: 1 }));
        assert.equal(s?.oldestClaimableRunAt, created.runAt);
        assert.equal(s?.recent.created, 1);
        await store.taskClaim({ queues: ['rw'], amount: 1, workerId: 'w', now: NOW });
        [s] = await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW });
        assert.deepEqual(s?.counts, counts({ claimed: 1 }));
        assert.equal(s?.oldestClaimableRunAt, undefined);
        await engine.markDone('rw', created.id, 'w', undefined);
        [s] = await store.queueStatsList({ now: NOW, recentWindowMs: WINDOW });
        assert.deepEqual(s?.counts, counts({ done: 1 }));
        assert.deepEqual(s?.recent, { windowMs: WINDOW, created: 1, done: 1, dead: 0 });
      }),
    );
  });
}
