/**
 * Pausing queues (operator API `PUT /queues/{queue}/pause|resume`, docs/design/operator-api.md):
 * `queueSetPaused` stores the state (idempotently), `queueStateList` lists it, and `taskClaim` hands out
 * nothing from a paused queue, whether it is named alone, among others, or implied by `queues: []`; also
 * when the pause went through another store instance on the same data.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../store/store.js';
import { HOUR, MINUTE, T0, WORKER, ids, taskRecord, withHarness } from './helpers.js';
import type { ConformanceOptions } from './index.js';

const NOW = T0 + HOUR;

/** `n` due tasks in `queue`, ids `<queue>-<i>`, with the given priority. */
async function seed(store: Store, queue: string, n: number, priority = 0): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const task = await store.taskCreate({ task: taskRecord({ queue, id: `${queue}-${i}`, priority, createdAt: T0 + i }) });
    out.push(task.id);
  }
  return out;
}

const claim = (store: Store, queues: string[], amount = 100, now = NOW) =>
  store.taskClaim({ queues, amount, workerId: WORKER, now });

export function queuePauseTests(options: ConformanceOptions): void {
  describe(`${options.name}: queue pause`, () => {
    it(
      'returns the stored state; queueStateList lists every stored state sorted by name',
      withHarness(options, async ({ store }) => {
        assert.deepEqual(await store.queueStateList(), []);
        assert.deepEqual(await store.queueSetPaused({ queue: 'zeta', paused: true, now: NOW }), {
          queue: 'zeta',
          paused: true,
          modifiedAt: NOW,
        });
        await store.queueSetPaused({ queue: 'alpha', paused: true, now: NOW + 1 });
        await store.queueSetPaused({ queue: 'mid', paused: true, now: NOW + 2 });
        assert.deepEqual(await store.queueSetPaused({ queue: 'mid', paused: false, now: NOW + 3 }), {
          queue: 'mid',
          paused: false,
          modifiedAt: NOW + 3,
        });
        // Resuming a queue never paused stores a state too.
        assert.deepEqual(await store.queueSetPaused({ queue: 'Beta', paused: false, now: NOW + 4 }), {
          queue: 'Beta',
          paused: false,
          modifiedAt: NOW + 4,
        });
        assert.deepEqual(await store.queueStateList(), [
          { queue: 'Beta', paused: false, modifiedAt: NOW + 4 },
          { queue: 'alpha', paused: true, modifiedAt: NOW + 1 },
          { queue: 'mid', paused: false, modifiedAt: NOW + 3 },
          { queue: 'zeta', paused: true, modifiedAt: NOW },
        ]);
      }),
    );

    it(
      'is idempotent: repeating a pause or a resume changes nothing, modifiedAt included',
      withHarness(options, async ({ store }) => {
        const first = await store.queueSetPaused({ queue: 'q', paused: true, now: NOW });
        assert.deepEqual(await store.queueSetPaused({ queue: 'q', paused: true, now: NOW + MINUTE }), first);
        assert.deepEqual(await store.queueStateList(), [first]);
        const resumed = await store.queueSetPaused({ queue: 'q', paused: false, now: NOW + 2 * MINUTE });
        assert.deepEqual(resumed, { queue: 'q', paused: false, modifiedAt: NOW + 2 * MINUTE });
        assert.deepEqual(await store.queueSetPaused({ queue: 'q', paused: false, now: NOW + 3 * MINUTE }), resumed);
        assert.deepEqual(await store.queueStateList(), [resumed]);
      }),
    );

    it(
      'claims nothing from a paused queue named alone; the tasks stay queued; resuming makes them claimable',
      withHarness(options, async ({ store }) => {
        const seeded = await seed(store, 'p', 3);
        assert.equal((await store.queueSetPaused({ queue: 'p', paused: true, now: NOW })).paused, true);
        assert.deepEqual(await claim(store, ['p']), []);
        assert.deepEqual(await claim(store, ['p', 'p']), []);
        for (const id of seeded) assert.equal((await store.taskGet({ queue: 'p', id }))?.state, 'queued');
        await store.queueSetPaused({ queue: 'p', paused: false, now: NOW + 1 });
        assert.deepEqual(ids(await claim(store, ['p'], 100, NOW + 1)), [...seeded].sort());
      }),
    );

    it(
      'skips a paused queue in a multi-queue claim and still serves the others',
      withHarness(options, async ({ store }) => {
        // The paused queue's tasks would win on priority.
        const paused = await seed(store, 'p', 3, 100);
        const open = await seed(store, 'q', 2, 0);
        await store.queueSetPaused({ queue: 'p', paused: true, now: NOW });
        const claimed = await claim(store, ['p', 'q'], 10);
        assert.deepEqual(ids(claimed), [...open].sort());
        assert.ok(claimed.every((t) => t.queue === 'q'));
        assert.deepEqual(await claim(store, ['q', 'p'], 10), []);
        await store.queueSetPaused({ queue: 'p', paused: false, now: NOW + 1 });
        assert.deepEqual(ids(await claim(store, ['q', 'p'], 10, NOW + 1)), [...paused].sort());
      }),
    );

    it(
      'skips paused queues when claiming from every queue (queues: [])',
      withHarness(options, async ({ store }) => {
        const a = await seed(store, 'a', 2, 5);
        const b = await seed(store, 'b', 2, 50);
        const c = await seed(store, 'c', 2, 1);
        await store.queueSetPaused({ queue: 'b', paused: true, now: NOW });
        await store.queueSetPaused({ queue: 'unrelated', paused: true, now: NOW });
        await store.queueSetPaused({ queue: 'c', paused: true, now: NOW });
        await store.queueSetPaused({ queue: 'c', paused: false, now: NOW + 1 });
        const claimed = await claim(store, [], 10, NOW + 1);
        assert.deepEqual(ids(claimed), [...a, ...c].sort());
        assert.deepEqual(await claim(store, [], 10, NOW + 1), []);
        await store.queueSetPaused({ queue: 'b', paused: false, now: NOW + 2 });
        assert.deepEqual(ids(await claim(store, [], 10, NOW + 2)), [...b].sort());
      }),
    );

    it(
      'can pause a queue before it has tasks: tasks created later are not claimable until resumed',
      withHarness(options, async ({ store }) => {
        await store.queueSetPaused({ queue: 'later', paused: true, now: NOW });
        const seeded = await seed(store, 'later', 2);
        await seed(store, 'other', 1);
        assert.deepEqual(await claim(store, ['later']), []);
        assert.deepEqual(
          (await claim(store, [])).map((t) => t.queue),
          ['other'],
        );
        await store.queueSetPaused({ queue: 'later', paused: false, now: NOW + 1 });
        assert.deepEqual(ids(await claim(store, ['later'], 10, NOW + 1)), [...seeded].sort());
      }),
    );

    it(
      'leaves claims already held alone: a task claimed before the pause can still be finished',
      withHarness(options, async ({ store, engine, clock }) => {
        clock.set(NOW);
        await seed(store, 'p', 2);
        const [held] = await claim(store, ['p'], 1);
        assert.ok(held);
        await store.queueSetPaused({ queue: 'p', paused: true, now: NOW });
        const done = await engine.markDone('p', held.id, WORKER, { ok: true });
        assert.equal(done.state, 'done');
        // Enqueueing keeps working too.
        await engine.createTask({ queue: 'p', kind: 'k', id: 'new' });
        assert.equal((await store.taskGet({ queue: 'p', id: 'new' }))?.state, 'queued');
        assert.deepEqual(await claim(store, ['p']), []);
      }),
    );

    it(
      'a pause or resume through a peer store is honoured by the next claim of this one',
      withHarness(options, async ({ store, peer }) => {
        const other = await peer();
        if (!other) return; // the driver offers no second instance on the same data
        await seed(store, 'p', 4);
        await seed(store, 'q', 1);
        // Claim once first, so any state this instance keeps is warm.
        assert.equal((await claim(store, ['p'], 1)).length, 1);
        assert.deepEqual(await store.queueStateList(), []);
        await other.queueSetPaused({ queue: 'p', paused: true, now: NOW });
        assert.deepEqual(await claim(store, ['p'], 1), []);
        assert.deepEqual(
          (await claim(store, [], 10)).map((t) => t.queue),
          ['q'],
        );
        assert.deepEqual(await store.queueStateList(), [{ queue: 'p', paused: true, modifiedAt: NOW }]);
        await other.queueSetPaused({ queue: 'p', paused: false, now: NOW + 1 });
        assert.equal((await claim(store, ['p'], 1, NOW + 1)).length, 1);
        // And the other way round: this instance pauses, the peer's claim honours it.
        await store.queueSetPaused({ queue: 'p', paused: true, now: NOW + 2 });
        assert.deepEqual(await other.taskClaim({ queues: ['p'], amount: 10, workerId: WORKER, now: NOW + 2 }), []);
        assert.deepEqual(await other.taskClaim({ queues: [], amount: 10, workerId: WORKER, now: NOW + 2 }), []);
      }),
    );
  });
}
