/**
 * The queue series (docs/design/queue-series.md) on Elasticsearch/OpenSearch: the index `P-series` holds
 * each server's activity per (queue, minute) (`_id` `a/<server>/<queue>/<at>`, overwritten by every flush)
 * and the leader's depth samples (`d/<queue>/<at>`). Reads are aggregations (terms on queue, histogram on
 * `at`); writes are one `_bulk` of their own (never the task writer's: they are not on the claim path).
 */
import { CLAIM_WAIT_BUCKETS } from '../../domain/queue-series.js';
import type { QueueActivity, QueueDepth } from '../../types/index.js';
import type {
  QueueActivityListParams,
  QueueActivityWriteParams,
  QueueDepthListParams,
  QueueDepthWriteParams,
  QueueSeriesDeleteBeforeParams,
} from '../store.js';
import { ElasticsearchError, type EsHttp } from './http.js';
import type { IndexNames } from './mappings.js';
import { search } from './requests.js';

const WAIT_FIELDS = Array.from({ length: CLAIM_WAIT_BUCKETS }, (_, i) => `wait_${i}`);
const ACTIVITY_FIELDS = ['created', 'claimed', 'done', 'failed', 'dead', ...WAIT_FIELDS] as const;
const DEPTH_FIELDS = ['claimable', 'scheduled', 'claimed', 'oldest_age_ms'] as const;
/** Queues per answer: the writers fold queues past their cap into one, so this is never reached in practice. */
const MAX_QUEUES = 5_000;

/** Retention deletes a page of this many documents per round, at most MAX_DELETE_ROUNDS rounds per call. */
const DELETE_PAGE = 1_000;
const MAX_DELETE_ROUNDS = 20;

type Doc = Record<string, string | number>;

interface Bucket {
  key: number | string;
  [field: string]: unknown;
}

export class QueueSeries {
  constructor(
    private readonly http: EsHttp,
    private readonly names: IndexNames,
  ) {}

  async activityWrite({ serverId, records }: QueueActivityWriteParams): Promise<void> {
    await this.bulk(
      records.map((r) => {
        const doc: Doc = { kind: 'activity', server_id: serverId, queue: r.queue, at: r.at };
        for (const f of ['created', 'claimed', 'done', 'failed', 'dead'] as const) doc[f] = r[f];
        WAIT_FIELDS.forEach((f, i) => (doc[f] = r.claimWait[i] ?? 0));
        return { id: `a/${serverId}/${r.queue}/${r.at}`, doc };
      }),
    );
  }

  async activityList(params: QueueActivityListParams): Promise<QueueActivity[]> {
    const rows = await this.aggregate('activity', params, ACTIVITY_FIELDS, 'sum');
    return rows.map(({ queue, at, v }) => ({
      queue,
      at,
      created: v.created ?? 0,
      claimed: v.claimed ?? 0,
      done: v.done ?? 0,
      failed: v.failed ?? 0,
      dead: v.dead ?? 0,
      claimWait: WAIT_FIELDS.map((f) => v[f] ?? 0),
    }));
  }

  async depthWrite({ samples }: QueueDepthWriteParams): Promise<void> {
    await this.bulk(
      samples.map((d) => ({
        id: `d/${d.queue}/${d.at}`,
        doc: {
          kind: 'depth',
          queue: d.queue,
          at: d.at,
          claimable: d.claimable,
          scheduled: d.scheduled,
          claimed: d.claimed,
          oldest_age_ms: Math.round(d.oldestAgeMs),
        },
      })),
    );
  }

  async depthList(params: QueueDepthListParams): Promise<QueueDepth[]> {
    const rows = await this.aggregate('depth', params, DEPTH_FIELDS, 'max');
    return rows.map(({ queue, at, v }) => ({
      queue,
      at,
      claimable: v.claimable ?? 0,
      scheduled: v.scheduled ?? 0,
      claimed: v.claimed ?? 0,
      oldestAgeMs: v.oldest_age_ms ?? 0,
    }));
  }

  /**
   * Retention: searches the old documents and deletes them by id with `_bulk`, a page at a time (not
   * `_delete_by_query`, which lives in the reindex module that not every engine of the matrix loads).
   * A minute's worth is a few hundred documents; MAX_DELETE_ROUNDS pages bound one call, and the next
   * run of the sampler goes on where this one stopped.
   */
  async deleteBefore({ before }: QueueSeriesDeleteBeforeParams): Promise<{ deleted: number }> {
    let deleted = 0;
    for (let round = 0; round < MAX_DELETE_ROUNDS; round++) {
      const found = await search<never>(this.http, this.names.series, {
        size: DELETE_PAGE,
        _source: false,
        query: { range: { at: { lt: before } } },
      });
      const hits = found.hits.hits;
      if (hits.length === 0) break;
      const res = await this.http.expect<{ items: Record<string, { status: number }>[] }>({
        method: 'POST',
        path: '/_bulk',
        query: { refresh: 'true' },
        body: hits.map((h) => ({ delete: { _index: h._index, _id: h._id } })),
        ndjson: true,
      });
      deleted += res.body.items.filter((i) => Object.values(i)[0]?.status === 200).length;
      if (hits.length < DELETE_PAGE) break;
    }
    return { deleted };
  }

  /** Index (overwrite) the documents; refreshed before answering, so the next list sees them. */
  private async bulk(items: { id: string; doc: Doc }[]): Promise<void> {
    if (items.length === 0) return;
    const lines = items.flatMap(({ id, doc }) => [{ index: { _index: this.names.series, _id: id } }, doc]);
    const res = await this.http.expect<{ errors: boolean; items: Record<string, { status: number; error?: { reason?: string } }>[] }>({
      method: 'POST',
      path: '/_bulk',
      query: { refresh: 'wait_for' },
      body: lines,
      ndjson: true,
    });
    if (res.body.errors) {
      const failed = res.body.items.map((i) => Object.values(i)[0]).find((i) => i !== undefined && i.status >= 300);
      throw new ElasticsearchError(`_bulk (queue series): ${failed?.error?.reason ?? 'an item failed'}`, failed?.status ?? 500);
    }
  }

  /** Per queue and `bucketMs` interval of `at`, the `op` of each field over the documents of `kind`. */
  private async aggregate(
    kind: 'activity' | 'depth',
    { from, to, bucketMs, queues }: QueueActivityListParams | QueueDepthListParams,
    fields: readonly string[],
    op: 'sum' | 'max',
  ): Promise<{ queue: string; at: number; v: Record<string, number> }[]> {
    if (queues !== undefined && queues.length === 0) return [];
    const filter: Record<string, unknown>[] = [{ term: { kind } }, { range: { at: { gte: from, lt: to } } }];
    if (queues !== undefined) filter.push({ terms: { queue: [...new Set(queues)] } });
    const values = Object.fromEntries(fields.map((f) => [f, { [op]: { field: f } }]));
    const found = await search<never>(this.http, this.names.series, {
      size: 0,
      track_total_hits: false,
      query: { bool: { filter } },
      aggs: {
        queues: {
          terms: { field: 'queue', size: MAX_QUEUES, order: { _key: 'asc' } },
          aggs: { at: { histogram: { field: 'at', interval: bucketMs, min_doc_count: 1 }, aggs: values } },
        },
      },
    });
    const out: { queue: string; at: number; v: Record<string, number> }[] = [];
    const queueBuckets = (found.aggregations?.queues?.buckets ?? []) as Bucket[];
    for (const q of queueBuckets) {
      for (const b of ((q.at as { buckets?: Bucket[] } | undefined)?.buckets ?? [])) {
        const v: Record<string, number> = {};
        for (const f of fields) v[f] = Math.round(((b[f] as { value?: number | null } | undefined)?.value ?? 0) || 0);
        out.push({ queue: String(q.key), at: Math.round(Number(b.key)), v });
      }
    }
    // Keyword order of the engine is byte order; sort again as the contract says (by queue, then time).
    return out.sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : a.at - b.at));
  }
}
