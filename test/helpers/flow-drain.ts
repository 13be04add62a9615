/**
 * Flow control end to end on the Elasticsearch store (issue 15), shared by the e2e test and its soak-tier
 * version: three real server processes (`tasques serve`) on one engine and one index prefix, workers
 * claiming over HTTP from all three, and a sampler that reads the claimed counts straight from the engine
 * throughout.
 *
 * - queue `flow`: keyed tasks (`key-0` has the most, so that at the end only it is left and runs at its
 *   override); a queue concurrency limit, a per-key one and an override for `key-0`. Every sample (a
 *   refresh of the single-shard tasks index is a point-in-time view), and every 20th through
 *   `GET /queues/flow/flow`, must show no limit exceeded, and the limits must have been reached (else the
 *   run proves nothing).
 * - queue `rated`: unkeyed tasks under a queue rate: they take at least as long as one bucket allows.
 * - every task ends DONE, done once.
 *
 * Limits go in through `PUT /queues/{queue}/limits` on one server, tasks through `POST /tasques` (with
 * `concurrency_key`) spread over the three. Workers hold what they claimed until their next claim has been
 * answered (no sleeps), so limits bind. Every loop is bounded by the deadline.
 */
import assert from 'node:assert/strict';
import { ElasticsearchStore } from '../../src/store/elasticsearch/elasticsearch-store.js';
import { runCli, type ServerProcess, startServer } from './cli.js';
import { type ApiTask, esJson } from './drain.js';
import { esTestUrl, uniquePrefix } from './elasticsearch.js';

export interface FlowDrainShape {
  /** Tag in the index prefix. */
  tag: string;
  keys: number;
  /** Tasks of key `key-<k>`; key 0 should have the most. */
  tasksOf(key: number): number;
  rated: number;
  queueLimit: number;
  keyLimit: number;
  key0Limit: number;
  rate: { count: number; perMs: number; burst: number };
  workers: number;
  deadlineMs: number;
}

const serverEnv = (url: string, prefix: string): Record<string, string> => ({
  TASQUES_SERVER_STORE_KIND: 'elasticsearch',
  TASQUES_SERVER_ELASTICSEARCH_ADDRESSES: url,
  TASQUES_SERVER_STORE_ELASTICSEARCH_INDEX_PREFIX: prefix,
});

export async function flowDrain(shape: FlowDrainShape): Promise<void> {
  const url = esTestUrl()!;
  const prefix = uniquePrefix(shape.tag);
  const setup = await runCli(['setup'], { env: serverEnv(url, prefix), timeoutMs: 60_000 });
  assert.equal(setup.code, 0, `tasques setup failed: ${setup.stderr}`);
  const store = new ElasticsearchStore({ http: { addresses: [url] }, indexPrefix: prefix, autoSetup: false });
  const servers: ServerProcess[] = [];
  try {
    servers.push(...(await Promise.all(Array.from({ length: 3 }, () => startServer({ env: serverEnv(url, prefix), timeoutMs: 30_000 })))));
    const put = async (queue: string, body: unknown) => {
      const res = await servers[0]!.request('PUT', `/queues/${queue}/limits`, { body });
      assert.equal(res.status, 200, `limits of ${queue}: ${res.status} ${res.text}`);
    };
    await put('flow', { queue: { concurrency: shape.queueLimit }, per_key: { concurrency: shape.keyLimit }, keys: { 'key-0': { concurrency: shape.key0Limit } } });
    await put('rated', { queue: { rate: { count: shape.rate.count, per: `${shape.rate.perMs}ms`, burst: shape.rate.burst } } });
    const bodies: Record<string, unknown>[] = [];
    for (let i = 0; i < shape.tasksOf(0); i++) {
      for (let k = 0; k < shape.keys; k++) {
        if (i < shape.tasksOf(k)) bodies.push({ queue: 'flow', kind: 'e2e-flow', id: `key-${k}-${i}`, concurrency_key: `key-${k}` });
      }
    }
    for (let i = 0; i < shape.rated; i++) bodies.push({ queue: 'rated', kind: 'e2e-flow', id: `r-${i}` });
    // Created over the three servers, 8 at a time.
    for (let i = 0; i < bodies.length; i += 8) {
      await Promise.all(
        bodies.slice(i, i + 8).map(async (body, j) => {
          const res = await servers[(i + j) % servers.length]!.request('POST', '/tasques', { body });
          assert.equal(res.status, 201, `create: ${res.status} ${res.text}`);
        }),
      );
    }
    const total = bodies.length;
    interface FlowJson {
      claimed: number;
      tokens?: number;
      throttled_keys: { key: string; claimed: number; waiting: number; reason: string }[];
      waiting_on_limit: number;
    }
    const flowOf = async (server: ServerProcess, queue: string): Promise<FlowJson> => {
      const res = await server.request('GET', `/queues/${queue}/flow`);
      assert.equal(res.status, 200, `flow of ${queue}: ${res.status} ${res.text}`);
      return res.json<FlowJson>();
    };
    const rated = await flowOf(servers[1]!, 'rated');
    assert.equal(rated.claimed, 0);
    assert.equal(rated.tokens, shape.rate.burst, 'a bucket nobody took from is full');

    const deadline = performance.now() + shape.deadlineMs;
    let done = 0;
    let failure: Error | undefined;
    const running = () => failure === undefined && done < total && performance.now() < deadline;
    // Tasks were claimable while they were created: the workers start now, all at once.
    const dones = new Map<string, number>();
    const ratedClaims: number[] = [];

    const worker = async (w: number) => {
      const id = `w-${w}`;
      let held: ApiTask[] = [];
      while (running()) {
        const server = servers[w % servers.length]!;
        const res = await server.request('POST', '/tasques/claims', {
          headers: { 'X-TASQUES-WORKER-ID': id },
          body: { queues: ['flow', 'rated'], amount: 1 + (w % 3), block_for: '100ms' },
        });
        assert.equal(res.status, 200, `claim: ${res.status} ${res.text}`);
        const claimed = res.json<ApiTask[]>();
        for (const t of claimed) if (t.id.startsWith('r-')) ratedClaims.push(Date.parse(t.last_claimed!.claimed_at));
        // What was held over the claim round trip is finished now (on another server than the claim's).
        for (const t of held) {
          const queue = t.id.startsWith('r-') ? 'rated' : 'flow';
          const doneRes = await servers[(w + 1) % servers.length]!.request('PUT', `/tasques/done/${queue}/${t.id}`, {
            headers: { 'X-TASQUES-WORKER-ID': id },
            body: { success: {} },
          });
          assert.equal(doneRes.status, 200, `done ${t.id}: ${doneRes.status} ${doneRes.text}`);
          dones.set(t.id, (dones.get(t.id) ?? 0) + 1);
          done++;
        }
        held = claimed;
      }
      for (const t of held) {
        const queue = t.id.startsWith('r-') ? 'rated' : 'flow';
        await servers[w % servers.length]!.request('PUT', `/tasques/done/${queue}/${t.id}`, { headers: { 'X-TASQUES-WORKER-ID': id }, body: { success: {} } });
        dones.set(t.id, (dones.get(t.id) ?? 0) + 1);
        done++;
      }
    };

    // The sampler: point-in-time counts of claimed tasks, per queue and per key, from the engine.
    let samples = 0;
    let maxQueue = 0;
    const maxPerKey = new Map<string, number>();
    const violations: string[] = [];
    const sampler = async () => {
      while (running()) {
        await esJson(url, 'POST', `/${prefix}-tasks/_refresh`);
        const res = await esJson(url, 'POST', `/${prefix}-tasks/_search`, {
          size: 0,
          query: { bool: { filter: [{ term: { queue: 'flow' } }, { term: { state: 'claimed' } }] } },
          aggs: { keys: { terms: { field: 'concurrency_key', size: 100 } } },
          track_total_hits: true,
        });
        samples++;
        // Every 20th sample, the operator's view (GET /queues/{queue}/flow) too: the same bounds.
        if (samples % 20 === 0) {
          const flow = await flowOf(servers[samples % servers.length]!, 'flow');
          if (flow.claimed > shape.queueLimit) violations.push(`flow route: ${flow.claimed} claimed in the queue`);
          for (const k of flow.throttled_keys) {
            if (k.claimed > (k.key === 'key-0' ? shape.key0Limit : shape.keyLimit)) violations.push(`flow route: ${k.claimed} claimed of ${k.key}`);
          }
        }
        const claimedInQueue = res.hits.total.value as number;
        maxQueue = Math.max(maxQueue, claimedInQueue);
        if (claimedInQueue > shape.queueLimit) violations.push(`sample ${samples}: ${claimedInQueue} claimed in the queue`);
        for (const b of res.aggregations.keys.buckets as { key: string; doc_count: number }[]) {
          maxPerKey.set(b.key, Math.max(maxPerKey.get(b.key) ?? 0, b.doc_count));
          const limit = b.key === 'key-0' ? shape.key0Limit : shape.keyLimit;
          if (b.doc_count > limit) violations.push(`sample ${samples}: ${b.doc_count} claimed of ${b.key}`);
        }
      }
    };

    await Promise.all([
      ...Array.from({ length: shape.workers }, (_, w) => worker(w).catch((e: unknown) => void (failure ??= e as Error))),
      sampler().catch((e: unknown) => void (failure ??= e as Error)),
    ]);
    if (failure) throw failure;
    assert.deepEqual(violations.slice(0, 10), [], `${violations.length} samples over a limit`);
    assert.equal(done, total, `only ${done} of ${total} done within ${shape.deadlineMs} ms`);
    assert.deepEqual([...dones].filter(([, n]) => n !== 1), [], 'a task was done twice');
    assert.ok(samples >= 10, `only ${samples} samples`);
    // The limits were reached: the samples saw them bind, so the test could have seen them broken.
    assert.equal(maxQueue, shape.queueLimit, `the queue limit was never reached (max ${maxQueue})`);
    assert.equal(maxPerKey.get('key-0'), shape.key0Limit, `key-0 never reached its override (max ${maxPerKey.get('key-0')})`);

    // The rate: n claims from one bucket of burst b at r per interval take at least (n − b) / r intervals of the
    // bucket's time. A claim's server time is taken before its write, so it can lag the bucket's by the
    // claim's own latency: 1 s of slack. (Buckets per server would take a third of that.)
    assert.equal(ratedClaims.length, shape.rated);
    const span = Math.max(...ratedClaims) - Math.min(...ratedClaims);
    const minimum = ((shape.rated - shape.rate.burst) / shape.rate.count) * shape.rate.perMs - 1000;
    assert.ok(span >= minimum, `${shape.rated} rated claims within ${span} ms: faster than the rate allows (${minimum} ms)`);
    process.stderr.write(
      `# flow drain (${shape.tag}): ${total} tasks, ${samples} samples, rated span ${span} ms, max claimed ${maxQueue} (limit ${shape.queueLimit}), per key ${JSON.stringify(Object.fromEntries(maxPerKey))}\n`,
    );
    const settled = await flowOf(servers[2]!, 'flow');
    assert.deepEqual([settled.claimed, settled.throttled_keys, settled.waiting_on_limit], [0, [], 0], 'all done: nothing claimed or held back');
    const states = await esJson(url, 'POST', `/${prefix}-tasks/_search`, { size: 0, aggs: { s: { terms: { field: 'state' } } } });
    assert.deepEqual(states.aggregations.s.buckets.map((b: { key: string; doc_count: number }) => [b.key, b.doc_count]), [['done', total]]);
  } finally {
    await Promise.all(servers.map((s) => s.kill()));
    await store.drop();
    await store.close();
  }
}
