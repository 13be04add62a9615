/**
 * What the Elasticsearch store does beyond the conformance suite, against the real engine: setup is
 * idempotent and checked at start, the archive rolls over (by the leader's taskArchive when its
 * conditions are met) and retention drops whole rolled-over indices, archived tasks are read across
 * rolled-over indices, and engine credentials never show up in errors or in `show config`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ElasticsearchStore } from '../../src/store/elasticsearch/elasticsearch-store.js';
import { EsHttp } from '../../src/store/elasticsearch/http.js';
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
      assert.deepEqual(first.createdIndices.sort(), [`${prefix}-archive-000001`, `${prefix}-meta`, `${prefix}-recurring`, `${prefix}-tasks`]);
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
