/**
 * The operator data of issue 16: counting and compare-and-set deleting of tasks (bulk operations), bulk
 * operation records, who holds claims, and recently seen workers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewOperationRecord } from '../types/index.js';
import { MINUTE, OTHER_WORKER, SECOND, T0, WORKER, assertNewerVersion, claimNow, expectError, plain, seedTasks, withHarness } from './helpers.js';
import type { ConformanceOptions } from './index.js';

function newOperation(id: string, createdAt: number, overrides: Partial<NewOperationRecord> = {}): NewOperationRecord {
  return {
    id,
    kind: 'retry_dead',
    filter: { queue: 'q', states: ['dead'] },
    state: 'running',
    total: 3,
    processed: 0,
    changed: 0,
    skipped: 0,
    ownerId: 'server-a',
    heartbeatAt: createdAt,
    createdAt,
    modifiedAt: createdAt,
    ...overrides,
  };
}

export function operatorDataTests(options: ConformanceOptions): void {
  describe(`${options.name}: operator data (workers, bulk operations)`, () => {
    it(
      'taskCount counts what taskList would list, up to max',
      withHarness(options, async ({ store, engine, clock }) => {
        await seedTasks(engine, 5, { queue: 'a', kind: 'send' });
        clock.advance(SECOND);
        await seedTasks(engine, 3, { queue: 'b', kind: 'bounce' });
        await claimNow(engine, ['a'], 2);
        assert.equal(await store.taskCount({ max: 100 }), 8);
        assert.equal(await store.taskCount({ max: 4 }), 4, 'stops at max');
        assert.equal(await store.taskCount({ max: 100, queue: 'a' }), 5);
        assert.equal(await store.taskCount({ max: 100, queue: 'a', states: ['queued'] }), 3);
        assert.equal(await store.taskCount({ max: 100, states: ['claimed', 'queued'] }), 8);
        assert.equal(await store.taskCount({ max: 100, kind: 'bounce' }), 3);
        assert.equal(await store.taskCount({ max: 100, createdFrom: T0 + SECOND }), 3);
        assert.equal(await store.taskCount({ max: 100, createdTo: T0 + SECOND }), 5);
        assert.equal(await store.taskCount({ max: 100, prefix: 'bou' }), 3);
        assert.equal(await store.taskCount({ max: 100, queue: 'none' }), 0);
        assert.equal(await store.taskCount({ max: 0 }), 0);
      }),
    );

    it(
      'taskDeleteMany deletes by compare-and-set: a task written meanwhile is kept, a missing one is not found',
      withHarness(options, async ({ store, engine }) => {
        const [a, b, c] = await seedTasks(engine, 3, { queue: 'q' });
        assert.ok(a && b && c);
        const [claimedB] = await claimNow(engine, ['q'], 1); // the highest priority first: any of them
        assert.ok(claimedB);
        const byId = new Map([a, b, c].map((t) => [t.id, t]));
        const stale = byId.get(claimedB.id)!;
        const fresh = [a, b, c].filter((t) => t.id !== claimedB.id);
        const results = await store.taskDeleteMany({
          deletes: [
            { queue: 'q', id: fresh[0]!.id, expectedVersion: fresh[0]!.version },
            { queue: 'q', id: stale.id, expectedVersion: stale.version },
            { queue: 'q', id: 'missing', expectedVersion: stale.version },
            { queue: 'q', id: fresh[0]!.id, expectedVersion: fresh[0]!.version },
          ],
        });
        assert.equal(results[0]?.deleted, true);
        assert.equal(results[1]?.error?.kind, 'TASK_VERSION_CONFLICT');
        assert.equal(results[2]?.error?.kind, 'TASK_NOT_FOUND');
        assert.equal(results[3]?.error?.kind, 'TASK_NOT_FOUND', 'deleted by the first item');
        assert.equal(await store.taskGet({ queue: 'q', id: fresh[0]!.id }), undefined);
        assert.ok(await store.taskGet({ queue: 'q', id: stale.id }), 'the claimed one is kept');
        assert.deepEqual(await store.taskDeleteMany({ deletes: [] }), []);
        const [stats] = await store.queueStatsList({ now: T0, recentWindowMs: MINUTE, queues: ['q'] });
        assert.equal(stats?.counts.queued, 1, 'queue counts follow the delete');
        assert.equal(stats?.counts.claimed, 1);
        // The id is free again.
        await engine.createTask({ queue: 'q', kind: 'again', id: fresh[0]!.id });
      }),
    );

    it(
      'operation records: create, get, update with compare-and-set, list newest first',
      withHarness(options, async ({ store }) => {
        const first = await store.operationCreate({ operation: newOperation('op-1', T0) });
        assert.deepEqual(plain(await store.operationGet({ id: 'op-1' })), plain(first));
        await expectError(store.operationCreate({ operation: newOperation('op-1', T0) }), 'OPERATION_ALREADY_EXISTS', 409);
        await store.operationCreate({ operation: newOperation('op-2', T0 + SECOND, { kind: 'delete_finished', filter: {} }) });
        await store.operationCreate({ operation: newOperation('op-0', T0 + SECOND) });

        const { version, ...record } = first;
        const progressed = await store.operationUpdate({
          operation: { ...record, processed: 2, changed: 1, skipped: 1, cursor: { createdAt: T0, queue: 'q', id: 'x' }, modifiedAt: T0 + 5 },
          expectedVersion: version,
        });
        assertNewerVersion(progressed.version, version);
        assert.deepEqual(plain(await store.operationGet({ id: 'op-1' })), plain(progressed));
        await expectError(
          store.operationUpdate({ operation: { ...record, state: 'done' }, expectedVersion: version }),
          'OPERATION_VERSION_CONFLICT',
          409,
        );
        await expectError(
          store.operationUpdate({ operation: newOperation('nope', T0), expectedVersion: version }),
          'OPERATION_VERSION_CONFLICT',
          409,
        );
        assert.equal(await store.operationGet({ id: 'nope' }), undefined);
        assert.deepEqual(
          (await store.operationList({ limit: 10 })).map((o) => o.id),
          ['op-0', 'op-2', 'op-1'],
        );
        assert.deepEqual(
          (await store.operationList({ limit: 1 })).map((o) => o.id),
          ['op-0'],
        );
        assert.equal((await store.operationList({ limit: 10 }))[2]?.processed, 2);
      }),
    );

    it(
      'operationPrune deletes finished records older than the cut-off or beyond the newest kept, oldest first; never running ones',
      withHarness(options, async ({ store }) => {
        const finished = (id: string, at: number, state: 'done' | 'failed' = 'done') =>
          store.operationCreate({ operation: newOperation(id, at, { state, modifiedAt: at + 10 }) });
        await finished('old-done', T0);
        await finished('old-failed', T0 + 1, 'failed');
        await store.operationCreate({ operation: newOperation('old-running', T0 + 2) });
        await finished('new-1', T0 + 100 * SECOND);
        await finished('new-2', T0 + 101 * SECOND);
        await finished('new-3', T0 + 102 * SECOND);
        const ids = async () => (await store.operationList({ limit: 100 })).map((o) => o.id).sort();

        assert.equal(await store.operationPrune({ finishedBefore: T0 + SECOND, keepFinished: 100, limit: 0 }), 0);
        // By age, at most `limit`, oldest first.
        assert.equal(await store.operationPrune({ finishedBefore: T0 + SECOND, keepFinished: 100, limit: 1 }), 1);
        assert.deepEqual(await ids(), ['new-1', 'new-2', 'new-3', 'old-failed', 'old-running']);
        assert.equal(await store.operationPrune({ finishedBefore: T0 + SECOND, keepFinished: 100, limit: 10 }), 1);
        assert.deepEqual(await ids(), ['new-1', 'new-2', 'new-3', 'old-running'], 'the running one stays, however old');
        // By count: only the newest `keepFinished` finished ones stay.
        assert.equal(await store.operationPrune({ finishedBefore: T0, keepFinished: 2, limit: 10 }), 1);
        assert.deepEqual(await ids(), ['new-2', 'new-3', 'old-running']);
        assert.equal(await store.operationPrune({ finishedBefore: T0, keepFinished: 2, limit: 10 }), 0, 'nothing more to do');
        assert.equal(await store.operationPrune({ finishedBefore: T0 + 200 * SECOND, keepFinished: 0, limit: 10 }), 2);
        assert.deepEqual(await ids(), ['old-running']);
      }),
    );

    it(
      'workerClaimList groups the claimed tasks by worker: queues, count, oldest claim, last report; busiest first',
      withHarness(options, async ({ store, engine, clock }) => {
        assert.deepEqual(await store.workerClaimList({ limit: 10, maxTasks: 1000 }), { workers: [], workerCount: 0, complete: true });
        await seedTasks(engine, 4, { queue: 'mail' });
        await seedTasks(engine, 2, { queue: 'sms' });
        await claimNow(engine, ['mail'], 2, WORKER);
        clock.advance(SECOND);
        const [smsTask] = await claimNow(engine, ['sms'], 1, WORKER);
        assert.ok(smsTask);
        const [other] = await claimNow(engine, ['mail'], 1, OTHER_WORKER);
        assert.ok(other);
        clock.advance(SECOND);
        await engine.reportIn('sms', smsTask.id, WORKER, { p: 1 });
        // A task claimed then finished is not held any more.
        const [done] = await claimNow(engine, ['sms'], 1, 'worker-3');
        assert.ok(done);
        await engine.markDone('sms', done.id, 'worker-3', undefined);

        const list = await store.workerClaimList({ limit: 10, maxTasks: 1000 });
        assert.deepEqual(plain(list), {
          workers: [
            { workerId: WORKER, queues: ['mail', 'sms'], claimed: 3, oldestClaimedAt: T0, lastReportAt: T0 + 2 * SECOND },
            { workerId: OTHER_WORKER, queues: ['mail'], claimed: 1, oldestClaimedAt: T0 + SECOND },
          ],
          workerCount: 2,
          complete: true,
        });
        const top = await store.workerClaimList({ limit: 1, maxTasks: 1000 });
        assert.deepEqual(top.workers.map((w) => w.workerId), [WORKER]);
        assert.equal(top.workerCount, 2);
        const partial = await store.workerClaimList({ limit: 10, maxTasks: 2 });
        assert.equal(partial.complete, false);
        assert.ok(partial.workers.reduce((n, w) => n + w.claimed, 0) <= 2);
      }),
    );

    it(
      'worker sightings: the later sighting wins per worker; listed most recent first since an instant; pruned',
      withHarness(options, async ({ store }) => {
        assert.deepEqual(await store.workerSeenList({ since: 0, limit: 10 }), []);
        await store.workerSeenRecord({
          sightings: [
            { workerId: 'a', lastSeenAt: T0 + 10, queues: ['q1'] },
            { workerId: 'b', lastSeenAt: T0 + 20, queues: ['q1', 'q2'] },
          ],
        });
        await store.workerSeenRecord({
          sightings: [
            { workerId: 'a', lastSeenAt: T0 + 30, queues: ['q3'] },
            { workerId: 'b', lastSeenAt: T0 + 5, queues: ['old'] }, // older: ignored
            { workerId: 'c', lastSeenAt: T0 + 20, queues: [] },
          ],
        });
        await store.workerSeenRecord({ sightings: [] });
        assert.deepEqual(plain(await store.workerSeenList({ since: 0, limit: 10 })), [
          { workerId: 'a', lastSeenAt: T0 + 30, queues: ['q3'] },
          { workerId: 'b', lastSeenAt: T0 + 20, queues: ['q1', 'q2'] },
          { workerId: 'c', lastSeenAt: T0 + 20, queues: [] },
        ]);
        assert.deepEqual((await store.workerSeenList({ since: T0 + 21, limit: 10 })).map((w) => w.workerId), ['a']);
        assert.deepEqual((await store.workerSeenList({ since: 0, limit: 2 })).map((w) => w.workerId), ['a', 'b']);
        assert.equal(await store.workerSeenPrune({ before: T0 + 21 }), 2);
        assert.equal(await store.workerSeenPrune({ before: T0 + 21 }), 0);
        assert.deepEqual((await store.workerSeenList({ since: 0, limit: 10 })).map((w) => w.workerId), ['a']);
      }),
    );
  });
}
