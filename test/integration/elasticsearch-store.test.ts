/**
 * What the Elasticsearch store does beyond the conformance suite, against the real engine: setup is
 * idempotent and checked at start, the archive rolls over (by the leader's taskArchive when its
 * conditions are met) and retention drops whole rolled-over indices, archived tasks are read across
 * rolled-over indices, engine credentials never show up in errors or in `show config`, an install of
 * schema 1 is upgraded by setup (new indexed fields, tasks written before re-indexed), and a pause is
 * honoured by the next claim without any refresh of the meta index (the claim's realtime terms lookup).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ElasticsearchStore } from '../../src/store/elasticsearch/elasticsearch-store.js';
import { EsHttp } from '../../src/store/elasticsearch/http.js';
import { taskDocId, taskToDoc } from '../../src/store/elasticsearch/documents.js';
import { TASKS_MAPPINGS, TASKS_SETTINGS } from '../../src/store/elasticsearch/mappings.js';
import { SetupRequiredError } from '../../src/store/elasticsearch/setup.js';
import { assertSameRecord } from '../../src/store-conformance/helpers.js';
import type { Task } from '../../src/types/index.js';
import { runCli } from '../helpers/cli.js';
import { esSkip, storeOptions, TestElasticsearchStore, uniquePrefix } from '../helpers/elasticsearch.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3600_000;

/** A DONE task that finished at `at`, written straight to the store. */
async function finishedTask(store: ElasticsearchStore, id: string, at: number): Promise<Task> {
  const created = await store.taskCreate({
    task: {
      queue: 'arch', id, kind: 'k', state: 'queued', priority: 0, runAt: at, retryTimes: 0, attempted: 0,
      processingTimeoutNs: 60e9, lastEnqueuedAt: at, createdAt: at, modifiedAt: at,
    },
  });
  const { version, ...rest } = created;
  return store.taskUpdate({
    task: {
      ...rest,
      version,
      state: 'done',
      attempted: 1,
      modifiedAt: at,
      lastClaimed: { workerId: 'w', claimedAt: at, timesOutAt: at + 60_000, result: { at, success: { id } } },
    },
    expectedVersion: version,
  });
}

async function archiveIndices(store: ElasticsearchStore): Promise<Record<string, boolean>> {
  const res = await store.http.expect<Record<string, { aliases: Record<string, { is_write_index?: boolean }> }>>({
    method: 'GET',
    path: `/${store.names.archivePattern}/_alias`,
  });
  return Object.fromEntries(
    Object.entries(res.body).map(([index, v]) => [index, v.aliases[store.names.archiveAlias]?.is_write_index === true]),
  );
}

describe('elasticsearch store: setup, archive rollover and retention, credentials', { skip: esSkip() }, () => {
  it('checks at start that setup ran, and setup is idempotent', async () => {
    const prefix = uniquePrefix('setup');
    const store = new TestElasticsearchStore(storeOptions(prefix, { autoSetup: false }));
    try {
      const err = await store.migrate().then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof SetupRequiredError, `expected SetupRequiredError, got ${String(err)}`);
      assert.match(err.message, /tasques setup/);
      assert.ok(err.problems.some((p) => p.includes(`${prefix}-tasks`)));
      const first = await store.setup();
      assert.deepEqual(first.createdIndices.sort(), [`${prefix}-archive-000001`, `${prefix}-meta`, `${prefix}-recurring`, `${prefix}-series`, `${prefix}-tasks`]);
      await store.migrate(); // the check passes now
      const task = await finishedTask(store, 'kept', T0);
      // Concurrent setups (several servers with auto_setup, or an init job run twice) change nothing.
      const again = await Promise.all([store.setup(), store.setup(), new ElasticsearchStore(storeOptions(prefix)).setup()]);
      for (const r of again) assert.deepEqual(r.createdIndices, []);
      assertSameRecord(await store.taskGet({ queue: 'arch', id: 'kept' }), task);
      assert.deepEqual(Object.keys(await archiveIndices(store)), [`${prefix}-archive-000001`]);
    } finally {
      await store.close();
    }
  });

  it('rolls the archive over when its conditions are met, reads across indices, and drops expired ones whole', async () => {
    // max_docs 2: the leader's next taskArchive (at most once a minute of its clock) rolls over.
    const store = new TestElasticsearchStore(storeOptions(uniquePrefix('roll'), { archive: { rolloverMaxDocs: 2 } }));
    await store.migrate();
    try {
      const old = [await finishedTask(store, 'a', T0), await finishedTask(store, 'b', T0 + 1), await finishedTask(store, 'c', T0 + 2)];
      assert.deepEqual(await store.taskArchive({ finishedBefore: T0 + HOUR, limit: 10, now: T0 + HOUR }), { archived: 3 });
      assert.deepEqual(Object.values(await archiveIndices(store)), [true], 'no rollover before the archive held 2 tasks');
      // A minute later (store clock), the conditions are met: the archive rolls over before archiving more.
      const late = await finishedTask(store, 'd', T0 + 5 * HOUR);
      assert.deepEqual(await store.taskArchive({ finishedBefore: T0 + 6 * HOUR, limit: 10, now: T0 + 6 * HOUR }), {
        archived: 1,
      });
      const indices = await archiveIndices(store);
      assert.equal(Object.keys(indices).length, 2, JSON.stringify(indices));
      const [first, second] = Object.keys(indices).sort();
      assert.equal(indices[first!], false, 'the first index is read-only now');
      assert.equal(indices[second!], true, 'the new index takes the writes');
      for (const t of [...old, late]) assertSameRecord(await store.archivedTaskGet({ queue: 'arch', id: t.id }), t);

      // Retention with a cutoff after a, b, c: the rolled-over index goes whole, d (in the write index) stays.
      assert.deepEqual(await store.archivedTaskDeleteBefore({ finishedBefore: T0 + HOUR, limit: 1 }), { deleted: 3 });
      assert.deepEqual(Object.keys(await archiveIndices(store)), [second]);
      for (const t of old) assert.equal(await store.archivedTaskGet({ queue: 'arch', id: t.id }), undefined);
      assertSameRecord(await store.archivedTaskGet({ queue: 'arch', id: 'd' }), late);
      assert.deepEqual(await store.archivedTaskDeleteBefore({ finishedBefore: T0 + HOUR, limit: 1 }), { deleted: 0 });
      // In the write index, tasks go one by one.
      assert.deepEqual(await store.archivedTaskDeleteBefore({ finishedBefore: T0 + 6 * HOUR, limit: 1 }), { deleted: 1 });
      assert.equal(await store.archivedTaskGet({ queue: 'arch', id: 'd' }), undefined);
    } finally {
      await store.close();
    }
  });

  it('upgrades a schema-1 install: setup adds the indexed fields and re-indexes the tasks written before', async () => {
    const prefix = uniquePrefix('upgrade');
    const store = new TestElasticsearchStore(storeOptions(prefix, { autoSetup: false }));
    try {
      // The tasks index as schema 1 made it: created_at and kind in _source only.
      const { created_at: _c, kind: _k, ...rest } = TASKS_MAPPINGS.properties;
      const stored = { index: false, doc_values: false };
      await store.http.expect({
        method: 'PUT',
        path: `/${store.names.tasks}`,
        body: {
          settings: { index: TASKS_SETTINGS },
          mappings: { ...TASKS_MAPPINGS, properties: { ...rest, created_at: { type: 'long', ...stored }, kind: { type: 'keyword', ...stored } } },
        },
      });
      const before: Task[] = [];
      for (let i = 0; i < 5; i++) {
        before.push(
          await store.taskCreate({
            task: {
              queue: i % 2 ? 'odd' : 'even', id: `t${i}`, kind: i < 3 ? 'early' : 'late', state: 'queued', priority: 0,
              runAt: T0, retryTimes: 0, attempted: 0, processingTimeoutNs: 60e9, lastEnqueuedAt: T0 + i, createdAt: T0 + i, modifiedAt: T0 + i,
            },
          }),
        );
      }
      await assert.rejects(store.migrate(), SetupRequiredError, 'serve refuses to start before setup');
      const report = await store.setup();
      assert.ok(report.updatedMappings.includes(store.names.tasks));
      assert.equal(report.backfilledTasks, 5);
      await store.migrate();
      // Listed in createdAt order, filtered by kind and counted by createdAt: the new fields cover them.
      assert.deepEqual((await store.taskList({ limit: 10 })).tasks.map((t) => t.id), ['t4', 't3', 't2', 't1', 't0']);
      assert.deepEqual((await store.taskList({ limit: 10, kind: 'late' })).tasks.map((t) => t.id), ['t4', 't3']);
      assert.deepEqual((await store.taskList({ limit: 10, prefix: 'ear' })).tasks.map((t) => t.id), ['t2', 't1', 't0']);
      const stats = await store.queueStatsList({ now: T0 + 4, recentWindowMs: HOUR });
      assert.deepEqual(stats.map((s) => [s.queue, s.counts.queued, s.recent.created]), [['even', 3, 3], ['odd', 2, 2]]);
      // Unchanged but for the version, which moved forward.
      for (const task of before) {
        const now = await store.taskGet({ queue: task.queue, id: task.id });
        assert.ok(now && now.version.seqNum > task.version.seqNum);
        assertSameRecord({ ...now, version: task.version }, task);
      }
      assert.equal((await store.setup()).backfilledTasks, 0, 'a second setup finds nothing left to do');
    } finally {
      await store.close();
    }
  });

  it('honours a pause at the next claim with the meta index never refreshed (realtime terms lookup)', async () => {
    const store = new TestElasticsearchStore(storeOptions(uniquePrefix('pause')));
    await store.migrate();
    const peer = new ElasticsearchStore(storeOptions(store.names.prefix, { autoSetup: false }));
    try {
      await store.http.expect({ method: 'PUT', path: `/${store.names.meta}/_settings`, body: { index: { refresh_interval: -1 } } });
      for (const id of ['a', 'b', 'c', 'd']) {
        await store.taskCreate({
          task: {
            queue: 'p', id, kind: 'k', state: 'queued', priority: 0, runAt: T0, retryTimes: 0, attempted: 0,
            processingTimeoutNs: 60e9, lastEnqueuedAt: T0, createdAt: T0, modifiedAt: T0,
          },
        });
      }
      const claim = (s: ElasticsearchStore, now: number) => s.taskClaim({ queues: [], amount: 1, workerId: 'w', now });
      assert.equal((await claim(peer, T0)).length, 1, 'the peer has claimed before: anything it keeps is warm');
      for (let round = 0; round < 3; round++) {
        const now = T0 + 10 * round + 1;
        await store.queueSetPaused({ queue: 'p', paused: true, now });
        assert.deepEqual(await claim(peer, now), []);
        assert.equal(await peer.taskNextRunAt({ queues: ['p'] }), undefined, 'a long poll does not wake for a paused queue');
        await store.queueSetPaused({ queue: 'p', paused: false, now: now + 1 });
        assert.equal(await peer.taskNextRunAt({ queues: ['p'] }), T0);
        assert.equal((await claim(peer, now + 1)).length, 1);
      }
      assert.deepEqual(await peer.queueStateList(), [{ queue: 'p', paused: false, modifiedAt: T0 + 22 }]);
    } finally {
      await peer.close();
      await store.close();
    }
  });

  it('queue statistics page through more queues than one aggregation page holds (composite after_key)', async () => {
    const store = new TestElasticsearchStore(storeOptions(uniquePrefix('stats')));
    await store.migrate();
    try {
      // 1 234 queues (more than two pages of 500), seeded straight into the index.
      const lines: unknown[] = [];
      const queues: string[] = [];
      for (let i = 0; i < 1234; i++) {
        const queue = `q${String(i).padStart(4, '0')}`;
        queues.push(queue);
        const task: Omit<Task, 'version'> = {
          queue, id: 'only', kind: 'k', state: i % 2 ? 'done' : 'queued', priority: 0, runAt: T0 + i, retryTimes: 0,
          attempted: 0, processingTimeoutNs: 60e9, lastEnqueuedAt: T0, createdAt: T0 + 1 + i, modifiedAt: T0,
        };
        lines.push({ create: { _index: store.names.tasks, _id: taskDocId(queue, 'only') } }, taskToDoc(task));
      }
      await store.http.expect({ method: 'POST', path: '/_bulk', body: lines, ndjson: true });
      await store.queueSetPaused({ queue: 'zz-no-tasks', paused: true, now: T0 });
      const stats = await store.queueStatsList({ now: T0 + HOUR, recentWindowMs: HOUR });
      assert.deepEqual(stats.map((s) => s.queue), [...queues, 'zz-no-tasks']);
      assert.equal(stats.filter((s) => s.counts.queued === 1 && s.oldestClaimableRunAt !== undefined).length, 617);
      assert.equal(stats.filter((s) => s.counts.done === 1).length, 617);
      assert.equal(stats.reduce((n, s) => n + s.recent.created, 0), 1234);
      assert.deepEqual(stats.at(-1)?.paused, true);
    } finally {
      await store.close();
    }
  });

  it('keeps engine credentials out of errors and out of `show config`', async () => {
    // A port nothing listens on: the request fails before any answer.
    const http = new EsHttp({ addresses: ['http://127.0.0.1:9'], username: 'elastic', password: 'hunter2-secret', maxRetries: 0 });
    const err = await http.request({ method: 'GET', path: '/' }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    assert.ok(err, 'the request must fail');
    assert.doesNotMatch(`${err.message} ${err.stack} ${JSON.stringify(err)}`, /hunter2|elastic:|ZWxhc3RpYzpodW50ZXIy/);
    assert.throws(() => new EsHttp({ addresses: ['http://user:pw@127.0.0.1:9200'] }), /elasticsearch\.user/);

    const shown = await runCli(['show', 'config'], {
      env: { TASQUES_SERVER_ELASTICSEARCH_USER_NAME: 'elastic', TASQUES_SERVER_ELASTICSEARCH_USER_PASSWORD: 'hunter2-secret' },
    });
    assert.equal(shown.code, 0, shown.stderr);
    assert.doesNotMatch(shown.stdout, /hunter2/);
    const config = JSON.parse(shown.stdout).tasques.server;
    assert.deepEqual(config.elasticsearch.user, { name: 'elastic', password: '******' });
    assert.deepEqual(config.elasticsearch.addresses, ['http://localhost:9200']);
  });
});
