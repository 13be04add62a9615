/**
 * The flow-control conformance area again, on Elasticsearch/OpenSearch stores that never keep their own
 * writes as claim candidates (`claims.maxLocalWrites: 0`: a claim refreshes first, so every candidate
 * comes from a search). In the conformance run most tasks are this process's own writes; here the
 * group search of flow-claims.ts (composite aggregation, top hits, its cursor and wrap-around) and the
 * `_mget` of hold and rate documents do all the work. Plus the driver's own guarantees: stale holds
 * are repaired, and keys survive archiving.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConformanceOptions } from '../../src/store-conformance/index.js';
import { flowControlTests } from '../../src/store-conformance/flow-control.js';
import { SECOND, SEED_DEFAULTS, T0, claimNow, withHarness } from '../../src/store-conformance/helpers.js';
import { taskDocId } from '../../src/store/elasticsearch/documents.js';
import { ElasticsearchStore } from '../../src/store/elasticsearch/elasticsearch-store.js';
import { type Hold, type LimitDoc, FLOW_FORMAT, HOLD_GRACE_MS, flowDocId } from '../../src/store/elasticsearch/flow-control.js';
import { intoDone } from '../../src/domain/task-lifecycle.js';
import { esSkip, storeOptions, TestElasticsearchStore, uniquePrefix } from '../helpers/elasticsearch.js';

const searchOnly = { claims: { maxLocalWrites: 0 } };

if (esSkip()) {
  it('elasticsearch flow control (search path)', { skip: esSkip() }, () => {});
} else {
  const options: ConformanceOptions = {
    name: 'elasticsearch, candidates by search only',
    makeStore: async () => {
      const store = new TestElasticsearchStore(storeOptions(uniquePrefix('flow'), searchOnly));
      await store.migrate();
      return store;
    },
    makePeerStore: (store) => peerOf(store as ElasticsearchStore),
  };

  /** A second server on the same indices (searches only, as `store`). */
  async function peerOf(store: ElasticsearchStore): Promise<ElasticsearchStore> {
    const peer = new ElasticsearchStore(storeOptions(store.names.prefix, { ...searchOnly, autoSetup: false }));
    await peer.migrate();
    return peer;
  }
  flowControlTests(options);

  /** Writes a queue's limit document as a claimer that stopped between its hold and its task write would leave it. */
  async function putHolds(store: ElasticsearchStore, queue: string, holds: Hold[]): Promise<void> {
    const doc: LimitDoc = { kind: 'flow_limit', queue, holds };
    await store.http.expect({ method: 'PUT', path: `/${store.names.meta}/_doc/${encodeURIComponent(flowDocId(queue))}`, body: doc });
  }

  describe('elasticsearch flow control: holds left behind', () => {
    it(
      'a hold whose task is gone, or has moved past the claimed version, is dropped by the next claim that needs the slot',
      withHarness(options, async ({ engine, store }) => {
        const es = store as ElasticsearchStore;
        await store.queueLimitsSet({ queue: 'q', limits: { queue: { concurrency: 1 } }, now: T0 });
        const created = await engine.createTask({ ...SEED_DEFAULTS, queue: 'q', id: 't' });
        await putHolds(es, 'q', [
          // The version the claim would have written on is behind the task's: that claim can never land.
          { id: taskDocId('q', 't'), seq: created.version.seqNum - 1, term: created.version.primaryTerm, token: 'lost', at: T0 },
        ]);
        const claimed = await claimNow(engine, ['q'], 5);
        assert.deepEqual(claimed.map((t) => t.id), ['t'], 'the stale hold was repaired, the slot is free');
      }),
    );

    it(
      'a hold on the current version counts for the grace period, then is fenced off (the task re-written) and dropped',
      withHarness(options, async ({ engine, store, clock }) => {
        const es = store as ElasticsearchStore;
        await store.queueLimitsSet({ queue: 'q', limits: { queue: { concurrency: 1 } }, now: T0 });
        const created = await engine.createTask({ ...SEED_DEFAULTS, queue: 'q', id: 't' });
        const hold: Hold = { id: taskDocId('q', 't'), seq: created.version.seqNum, term: created.version.primaryTerm, token: 'crashed', at: clock.now() };
        await putHolds(es, 'q', [hold]);
        assert.deepEqual(await claimNow(engine, ['q'], 5), [], 'within the grace the hold may be a claim in flight: it counts');
        // A peer (no repair done recently there) after the grace: fences the task, drops the hold, claims.
        clock.advance(HOLD_GRACE_MS + SECOND);
        const peer = await peerOf(es);
        try {
          const claimed = await peer.taskClaim({ queues: ['q'], amount: 5, workerId: 'w', now: clock.now() });
          assert.deepEqual(claimed.map((t) => t.id), ['t']);
          // The claim behind the old hold (CAS on the version it held) can no longer land.
          const stale = await store.taskUpdate({ task: { ...created, state: 'claimed' }, expectedVersion: created.version }).then(
            () => 'written',
            () => 'refused',
          );
          assert.equal(stale, 'refused');
        } finally {
          await peer.close();
        }
      }),
    );

    it(
      "a key's limit document is deleted when its last slot is freed with its bucket full again, and kept while the bucket refills",
      withHarness(options, async ({ engine, store, clock }) => {
        const es = store as ElasticsearchStore;
        await store.queueLimitsSet({ queue: 'q', limits: { perKey: { concurrency: 2, rate: { count: 10, perMs: SECOND, burst: 10 } } }, now: clock.now() });
        await engine.createTask({ ...SEED_DEFAULTS, queue: 'q', id: 'refilled', concurrencyKey: 'k1', rateKey: 'k1' });
        await engine.createTask({ ...SEED_DEFAULTS, queue: 'q', id: 'refilling', concurrencyKey: 'k2', rateKey: 'k2' });
        // Through a second server, whose close writes the releases it still holds back.
        const peer = await peerOf(es);
        try {
          const claimed = await peer.taskClaim({ queues: ['q'], amount: 2, workerId: 'w', now: clock.now() });
          assert.deepEqual(claimed.map((t) => t.id).sort(), ['refilled', 'refilling']);
          const done = async (id: string) => {
            const task = claimed.find((t) => t.id === id)!;
            await peer.taskUpdate({ task: intoDone(task, 'w', clock.now(), undefined), expectedVersion: task.version });
          };
          await done('refilling'); // a token short of its burst of 10 (10 a second)
          clock.advance(SECOND); // the other key's bucket is full again
          await done('refilled');
        } finally {
          await peer.close();
        }
        const limitDoc = async (key: string) => {
          const res = await es.http.request({ method: 'GET', path: `/${es.names.meta}/_doc/${encodeURIComponent(flowDocId('q', key))}` });
          return res.status === 404 ? undefined : (res.body as { _source: LimitDoc })._source;
        };
        assert.equal(await limitDoc('k1'), undefined, 'no holds and a full bucket: the same as no document');
        const kept = await limitDoc('k2');
        assert.deepEqual(kept?.holds, [], 'the slot is freed');
        assert.equal(kept?.bucket?.tokens, 9, 'the bucket still says a token was taken');
      }),
    );

    describe('holds taken one claim ahead', () => {
      const queueHolds = async (es: ElasticsearchStore) => {
        const res = await es.http.request({ method: 'GET', path: `/${es.names.meta}/_doc/${encodeURIComponent(flowDocId('q'))}` });
        return res.status === 404 ? [] : (res.body as { _source: LimitDoc })._source.holds;
      };

      it(
        'with room to spare, a claim holds the next candidate too, the next claim hands it out on that hold, and closing gives back the rest',
        withHarness(options, async ({ engine, store, clock }) => {
          const es = store as ElasticsearchStore;
          await store.queueLimitsSet({ queue: 'q', limits: { queue: { concurrency: 100 }, perKey: { concurrency: 100 } }, now: clock.now() });
          for (const key of ['k1', 'k2', 'k3', 'k4']) await engine.createTask({ ...SEED_DEFAULTS, queue: 'q', id: key, concurrencyKey: key });
          const peer = await peerOf(es);
          try {
            const [first] = await peer.taskClaim({ queues: ['q'], amount: 1, workerId: 'w', now: clock.now() });
            assert.equal(first?.id, 'k1');
            const afterFirst = await queueHolds(es);
            assert.equal(afterFirst.length, 2, 'the claimed task and one held ahead');
            const heldAhead = afterFirst.find((h) => h.id !== taskDocId('q', 'k1'))!;
            assert.equal(heldAhead.id, taskDocId('q', 'k2'), 'the next key in turn');

            const [second] = await peer.taskClaim({ queues: ['q'], amount: 1, workerId: 'w', now: clock.now() });
            assert.equal(second?.id, 'k2');
            const k2Holds = (await queueHolds(es)).filter((h) => h.id === taskDocId('q', 'k2'));
            assert.deepEqual(k2Holds, [heldAhead], 'handed out on the hold taken ahead, not a new one');
          } finally {
            await peer.close();
          }
          const left = await queueHolds(es);
          assert.deepEqual(left.map((h) => h.id).sort(), [taskDocId('q', 'k1'), taskDocId('q', 'k2')], 'only the claimed tasks hold slots');
        }),
      );

      it(
        'none under a limit that could bind soon: a claim of 1 under a limit of 4 holds one slot',
        withHarness(options, async ({ engine, store, clock }) => {
          const es = store as ElasticsearchStore;
          await store.queueLimitsSet({ queue: 'q', limits: { queue: { concurrency: 4 } }, now: clock.now() });
          for (const key of ['k1', 'k2', 'k3']) await engine.createTask({ ...SEED_DEFAULTS, queue: 'q', id: key, concurrencyKey: key });
          const claimed = await claimNow(engine, ['q'], 1);
          assert.equal(claimed.length, 1);
          assert.deepEqual((await queueHolds(es)).map((h) => h.id), [taskDocId('q', claimed[0]!.id)]);
          // So another server can take the other three at once.
          const peer = await peerOf(es);
          try {
            assert.equal((await peer.taskClaim({ queues: ['q'], amount: 5, workerId: 'p', now: clock.now() })).length, 2);
          } finally {
            await peer.close();
          }
        }),
      );
    });

    it(
      'flow-control documents of a newer format are refused, not misread',
      withHarness(options, async ({ engine, store, clock }) => {
        const es = store as ElasticsearchStore;
        const newer = { kind: 'flow', format: FLOW_FORMAT + 1, flow_queues: ['q'], keyed_queues: [], queue_limits: [] };
        await es.http.expect({ method: 'PUT', path: `/${es.names.meta}/_doc/flow`, body: newer });
        await engine.createTask({ ...SEED_DEFAULTS, queue: 'q', id: 't' });
        await assert.rejects(claimNow(engine, ['q'], 1), new RegExp(`format ${FLOW_FORMAT + 1}, newer than this server`));
        await assert.rejects(store.queueLimitsSet({ queue: 'q', limits: { queue: { concurrency: 1 } }, now: clock.now() }), /newer than this server/);
      }),
    );

    it(
      'keys are kept through archiving',
      withHarness(options, async ({ engine, store, clock }) => {
        await engine.createTask({ ...SEED_DEFAULTS, queue: 'q', id: 't', concurrencyKey: 'acme', rateKey: 'mail' });
        const [claimed] = await claimNow(engine, ['q'], 1);
        assert.ok(claimed);
        await engine.markDone('q', 't', claimed.lastClaimed!.workerId, undefined);
        clock.advance(SECOND);
        await store.taskArchive({ finishedBefore: clock.now(), limit: 10, now: clock.now() });
        const archived = await store.archivedTaskGet({ queue: 'q', id: 't' });
        assert.equal(archived?.concurrencyKey, 'acme');
        assert.equal(archived?.rateKey, 'mail');
      }),
    );
  });
}
