/**
 * Reading one task (spec §1.3 GET /tasques/{queue}/{id}, §14.2 Get).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WORKER, assertSameRecord, claimNow, expectError, withHarness } from './helpers.js';
import type { ConformanceOptions } from './index.js';

export function getTests(options: ConformanceOptions): void {
  describe(`${options.name}: task get`, () => {
    it(
      'answers undefined from the store and TASK_NOT_FOUND (404) from the engine for an unknown task',
      withHarness(options, async ({ engine, store }) => {
        // Unknown queue (nothing was ever stored).
        assert.equal(await store.taskGet({ queue: 'nowhere', id: 'nothing' }), undefined);
        const err = await expectError(engine.getTask('nowhere', 'nothing'), 'TASK_NOT_FOUND', 404);
        assert.equal(err.message, 'Could not find [nothing] in queue [nowhere]');
        // Known queue, unknown id.
        await engine.createTask({ queue: 'q', kind: 'k', id: 'exists' });
        assert.equal(await store.taskGet({ queue: 'q', id: 'missing' }), undefined);
        await expectError(engine.getTask('q', 'missing'), 'TASK_NOT_FOUND', 404);
        // Known id, other queue.
        assert.equal(await store.taskGet({ queue: 'other', id: 'exists' }), undefined);
        await expectError(engine.getTask('other', 'exists'), 'TASK_NOT_FOUND', 404);
      }),
    );

    it(
      'returns exactly what create returned, version included',
      withHarness(options, async ({ engine, store }) => {
        const created = await engine.createTask({
          queue: 'q',
          kind: 'k',
          priority: 4,
          args: { n: 1 },
          context: { who: 'me' },
          recurringTaskId: 'r-1',
        });
        const viaStore = await store.taskGet({ queue: 'q', id: created.id });
        const viaEngine = await engine.getTask('q', created.id);
        assert.ok(viaStore);
        assertSameRecord(viaStore, created);
        assertSameRecord(viaEngine, created);
        assert.deepEqual(viaStore.version, created.version);
      }),
    );

    it(
      'returns the latest write: after a claim, get equals the claimed task (version included)',
      withHarness(options, async ({ engine, store }) => {
        const created = await engine.createTask({ queue: 'q', kind: 'k' });
        const [claimed] = await claimNow(engine, ['q'], 1, WORKER);
        assert.ok(claimed);
        const stored = await store.taskGet({ queue: 'q', id: created.id });
        assert.ok(stored);
        assertSameRecord(stored, claimed);
        assert.notDeepEqual(stored.version, created.version);
      }),
    );
  });
}
