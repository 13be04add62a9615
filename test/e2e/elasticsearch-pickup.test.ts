/**
 * Pick-up on the Elasticsearch store does not wait for the engine's refresh interval: with the tasks
 * index's own periodic refresh switched off (`refresh_interval: -1`), so that a task becomes searchable
 * only through the store's own refreshes, two real servers on one OpenSearch node still hand tasks to
 * long-polling workers:
 * - same server: the enqueue wakes the waiting claim in-process, and the claim path refreshes before it
 *   searches, so it sees the new task at once;
 * - other server: the waiting claim's periodic re-check (block_for_retry_min_wait) finds it.
 * Each claim must return the task long before its block_for runs out (otherwise it would return []).
 * The pick-up times are printed, not asserted (figures: bench/elasticsearch.ts, docs/elasticsearch.md).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ElasticsearchStore } from '../../src/store/elasticsearch/elasticsearch-store.js';
import { esSkip, esTestUrl, storeOptions, uniquePrefix } from '../helpers/elasticsearch.js';
import { killAllServers, type ServerProcess, startServer } from '../helpers/cli.js';

after(killAllServers);

const ROUNDS = 20;
const BLOCK_FOR = '20s';

interface ApiTask {
  id: string;
  args?: { round?: number };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** ROUNDS times: a worker long-polls on `claimOn`, a task is enqueued on `enqueueOn`; pick-up times in ms. */
async function pickups(claimOn: ServerProcess, enqueueOn: ServerProcess, queue: string): Promise<number[]> {
  const latencies: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    const claim = claimOn.request('POST', '/tasques/claims', {
      headers: { 'X-TASQUES-WORKER-ID': 'pickup-worker' },
      body: { queues: [queue], amount: 1, block_for: BLOCK_FOR },
      timeoutMs: 60_000,
    });
    const created = await enqueueOn.request('POST', '/tasques', { body: { queue, kind: 'k', args: { round } } });
    assert.equal(created.status, 201);
    const createdAt = performance.now();
    const res = await claim;
    const gotAt = performance.now();
    assert.equal(res.status, 200);
    const tasks = res.json<ApiTask[]>();
    assert.equal(tasks.length, 1, `round ${round}: the long poll returned no task (block_for ran out after ${Math.round(gotAt - started)} ms)`);
    assert.equal(tasks[0]!.id, created.json<ApiTask>().id);
    latencies.push(gotAt - createdAt);
    const done = await claimOn.request('PUT', `/tasques/done/${queue}/${tasks[0]!.id}`, {
      headers: { 'X-TASQUES-WORKER-ID': 'pickup-worker' },
      body: {},
    });
    assert.equal(done.status, 200);
  }
  return latencies;
}

describe('elasticsearch store: pick-up not bound to the refresh interval', { skip: esSkip() }, () => {
  it('hands an enqueued task to a waiting worker on the same and on another server, with periodic refresh off', { timeout: 180_000 }, async () => {
    const url = esTestUrl()!;
    const prefix = uniquePrefix('pickup');
    const admin = new ElasticsearchStore(storeOptions(prefix));
    await admin.setup();
    try {
      const off = await fetch(`${url}/${prefix}-tasks/_settings`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ index: { refresh_interval: '-1' } }),
      });
      assert.equal(off.status, 200);
      const env = {
        TASQUES_SERVER_STORE_KIND: 'elasticsearch',
        TASQUES_SERVER_ELASTICSEARCH_ADDRESSES: url,
        TASQUES_SERVER_STORE_ELASTICSEARCH_INDEX_PREFIX: prefix,
      };
      const [a, b] = await Promise.all([startServer({ env, timeoutMs: 30_000 }), startServer({ env, timeoutMs: 30_000 })]);
      const same = await pickups(a!, a!, 'same-server');
      const cross = await pickups(b!, a!, 'cross-server');
      const fmt = (v: number[]) => `p50 ${percentile(v, 50).toFixed(1)} ms, p90 ${percentile(v, 90).toFixed(1)} ms, max ${Math.max(...v).toFixed(1)} ms`;
      process.stderr.write(`# pick-up with refresh_interval -1, ${ROUNDS} rounds each: same server ${fmt(same)}; other server ${fmt(cross)}\n`);
    } finally {
      await killAllServers();
      await admin.drop();
    }
  });
});
