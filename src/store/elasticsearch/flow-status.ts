/**
 * `queueFlowStatus` on the Elasticsearch/OpenSearch store: how a queue's limits stand, for operators.
 * After a refresh (it sees every earlier write), one search with aggregations over the queue's claimed
 * and claimable tasks (by concurrency key and by rate key: only keys with such tasks are buckets, so
 * idle keys cost nothing), a realtime `_mget` of the token buckets, and one count of the claimable tasks
 * a limit holds back. At most MAX_KEYS keys of each kind are considered (the most waiting first).
 */
import type { QueueFlowStatus, QueueLimits } from '../../types/index.js';
import type { QueueFlowStatusParams } from '../store.js';
import { type FlowControl, type LimitDoc, flowDocId, keyLimit, tokensAt } from './flow-control.js';
import type { EsHttp } from './http.js';
import type { IndexNames } from './mappings.js';
import { byBytes, search } from './requests.js';
import type { RefreshBarrier } from './visibility.js';

const MAX_KEYS = 10_000;

interface KeyBuckets {
  buckets: { key: string; doc_count: number }[];
}

type Throttled = QueueFlowStatus['throttledKeys'][number];

export class FlowStatusReader {
  constructor(
    private readonly http: EsHttp,
    private readonly names: IndexNames,
    private readonly flow: FlowControl,
    private readonly tasksRefresh: RefreshBarrier,
  ) {}

  async status({ queue, now, limit }: QueueFlowStatusParams): Promise<QueueFlowStatus> {
    const [state] = await Promise.all([this.flow.read(), this.tasksRefresh.wait()]);
    const limits: QueueLimits = state.limits.get(queue) ?? {};
    const claimable = [
      { term: { queue } },
      { terms: { state: ['queued', 'failed'] } },
      { range: { run_at: { lte: now } } },
      { range: { remaining_attempts: { gt: 0 } } },
    ];
    const found = await search<never>(this.http, this.names.tasks, {
      size: 0,
      track_total_hits: false,
      query: { term: { queue } },
      aggs: {
        claimed: {
          filter: { term: { state: 'claimed' } },
          aggs: { byKey: { terms: { field: 'concurrency_key', size: MAX_KEYS } } },
        },
        claimable: {
          filter: { bool: { filter: claimable } },
          aggs: {
            byKey: { terms: { field: 'concurrency_key', size: MAX_KEYS } },
            byRateKey: { terms: { field: 'rate_key', size: MAX_KEYS } },
          },
        },
      },
    });
    const aggs = found.aggregations as {
      claimed: { doc_count: number; byKey: KeyBuckets };
      claimable: { doc_count: number; byKey: KeyBuckets; byRateKey: KeyBuckets };
    };
    const claimedCount = aggs.claimed.doc_count;
    const claimedByKey = new Map(aggs.claimed.byKey.buckets.map((b) => [b.key, b.doc_count]));

    // Token buckets: the queue's and those of rate keys with claimable tasks and a rate limit.
    const rateKeys = aggs.claimable.byRateKey.buckets.filter((b) => keyLimit(limits, b.key)?.rate !== undefined);
    const bucketIds = [...(limits.queue?.rate ? [flowDocId(queue)] : []), ...rateKeys.map((b) => flowDocId(queue, b.key))];
    const buckets = new Map((await this.flow.readMeta<LimitDoc>(bucketIds, true)).map((r) => [r.id, r.doc?.bucket]));
    const tokens = limits.queue?.rate ? tokensAt(limits.queue.rate, buckets.get(flowDocId(queue)), now) : undefined;

    const throttled: Throttled[] = [];
    const concurrencyKeys = new Set<string>();
    for (const b of aggs.claimable.byKey.buckets) {
      const max = keyLimit(limits, b.key)?.concurrency;
      const claimed = claimedByKey.get(b.key) ?? 0;
      if (max !== undefined && claimed >= max) {
        throttled.push({ key: b.key, claimed, waiting: b.doc_count, reason: 'concurrency' });
        concurrencyKeys.add(b.key);
      }
    }
    const rateLimited: string[] = [];
    for (const b of rateKeys) {
      if (tokensAt(keyLimit(limits, b.key)!.rate!, buckets.get(flowDocId(queue, b.key)), now) >= 1) continue;
      rateLimited.push(b.key);
      if (!concurrencyKeys.has(b.key)) throttled.push({ key: b.key, claimed: claimedByKey.get(b.key) ?? 0, waiting: b.doc_count, reason: 'rate' });
    }
    throttled.sort((a, b) => b.waiting - a.waiting || byBytes(a.key, b.key));

    const total = aggs.claimable.doc_count;
    const queueHeld =
      (limits.queue?.concurrency !== undefined && claimedCount >= limits.queue.concurrency) || (tokens !== undefined && tokens < 1);
    let waitingOnLimit = queueHeld ? total : 0;
    if (!queueHeld && (concurrencyKeys.size > 0 || rateLimited.length > 0)) {
      const res = await this.http.expect<{ count: number }>({
        method: 'POST',
        path: `/${this.names.tasks}/_count`,
        read: true,
        body: {
          query: {
            bool: {
              filter: claimable,
              should: [
                ...(concurrencyKeys.size > 0 ? [{ terms: { concurrency_key: [...concurrencyKeys] } }] : []),
                ...(rateLimited.length > 0 ? [{ terms: { rate_key: rateLimited } }] : []),
              ],
              minimum_should_match: 1,
            },
          },
        },
      });
      waitingOnLimit = res.body.count;
    }
    const status: QueueFlowStatus = { queue, claimed: claimedCount, throttledKeys: throttled.slice(0, Math.max(0, limit)), waitingOnLimit };
    if (tokens !== undefined) status.tokens = tokens;
    return status;
  }
}
