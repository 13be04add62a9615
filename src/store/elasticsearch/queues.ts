/**
 * Queues in the Elasticsearch/OpenSearch store: their operator state (pause, resume), kept in one
 * document that claim searches read with a terms lookup, and their statistics (one composite
 * aggregation over the live tasks). See docs/design/elasticsearch-claims.md.
 */
import type { QueueState, QueueStats, TaskState } from '../../types/index.js';
import type { QueueSetPausedParams, QueueStatsListParams } from '../store.js';
import { PAUSED_READ_REUSE_MS, QUEUES_DOC } from './claims.js';
import { ElasticsearchError, type EsHttp } from './http.js';
import { INDEXED, type IndexNames } from './mappings.js';
import { type GetBody, byBytes, getDoc, putDoc, queueFilter, search, versionOf } from './requests.js';
import { type RefreshBarrier, outlastSharedReads } from './visibility.js';

/** Buckets per page of the queue-statistics composite aggregation (each bucket has ~10 sub-buckets). */
const STATS_PAGE = 500;
const CONFLICT_RETRIES = 50;

/**
 * Every queue state, in one document so that a claim search can exclude the paused queues with a terms
 * lookup on `paused_queues` (the engine reads it with a realtime GET while it runs the search).
 */
interface QueuesDoc {
  kind: 'queues';
  /** Sorted; always the queues of `queue_states` with `paused: true`. */
  paused_queues: string[];
  queue_states: { queue: string; paused: boolean; modified_at: number }[];
}

interface StatsBucket {
  key: { queue: string };
  states: { buckets: { key: string; doc_count: number }[] };
  claimable: { oldest: { value: number | null } };
  scheduled: { doc_count: number };
  recent: { buckets: { created: { doc_count: number }; done: { doc_count: number }; dead: { doc_count: number } } };
}

export class QueueStates {
  constructor(
    private readonly http: EsHttp,
    private readonly names: IndexNames,
    private readonly tasksRefresh: RefreshBarrier,
  ) {}

  private async queuesDoc(): Promise<GetBody<QueuesDoc> | undefined> {
    return getDoc<QueuesDoc>(this.http, this.names.meta, QUEUES_DOC);
  }

  /**
   * Read, change, compare-and-set the queue-states document (create-only when there is none yet);
   * retried on a conflict. The write is acknowledged once every copy of the shard has it, so the
   * realtime terms lookup of any claim search sent afterwards sees it; it resolves PAUSED_READ_REUSE_MS
   * later, when no claim holds a read of the paused set from before it.
   */
  async setPaused({ queue, paused, now }: QueueSetPausedParams): Promise<QueueState> {
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const current = await this.queuesDoc();
      const states = current?._source.queue_states ?? [];
      const existing = states.find((s) => s.queue === queue);
      // Idempotent: the same state again keeps modifiedAt. The document is still written back (unchanged,
      // with CAS): what was read may be another process's write that is not acknowledged yet, and the
      // pause must hold on every copy before this resolves.
      const state = existing?.paused === paused ? existing : { queue, paused, modified_at: now };
      const next = [...states.filter((s) => s.queue !== queue), state].sort((a, b) => byBytes(a.queue, b.queue));
      const doc: QueuesDoc = {
        kind: 'queues',
        paused_queues: next.filter((s) => s.paused).map((s) => s.queue),
        queue_states: next,
      };
      const result = current
        ? await putDoc(this.http, this.names.meta, QUEUES_DOC, doc, { expected: versionOf(current) })
        : await putDoc(this.http, this.names.meta, QUEUES_DOC, doc, { create: true });
      if (result.version) {
        // Claims reuse a read of the paused set for this long (claims.ts): once this resolves, none holds
        // a read from before the write.
        await outlastSharedReads(PAUSED_READ_REUSE_MS, performance.now());
        return { queue, paused, modifiedAt: state.modified_at };
      }
      if (result.status === 404) throw new ElasticsearchError(`cannot store the queue state: index ${this.names.meta} is missing`, 404);
    }
    throw new ElasticsearchError(`queue state of ${queue}: too many concurrent writers`, 409);
  }

  async stateList(): Promise<QueueState[]> {
    const found = await this.queuesDoc();
    return (found?._source.queue_states ?? [])
      .map((s) => ({ queue: s.queue, paused: s.paused, modifiedAt: s.modified_at }))
      .sort((a, b) => byBytes(a.queue, b.queue));
  }

  /**
   * One aggregation over the live tasks (after a refresh), read alongside the queue states (realtime
   * GET). Queues are the buckets of a composite aggregation, paged STATS_PAGE at a time: there is no
   * limit on their number (each page is one more search).
   */
  async statsList({ now, recentWindowMs, queues }: QueueStatsListParams): Promise<QueueStats[]> {
    const wanted = queues === undefined ? undefined : [...new Set(queues)];
    if (wanted?.length === 0) return [];
    const [states, buckets] = await Promise.all([this.stateList(), this.statsBuckets(now, recentWindowMs, wanted)]);
    const paused = new Map(states.map((s) => [s.queue, s.paused]));
    const names = wanted ?? [...new Set([...buckets.keys(), ...paused.keys()])];
    return names.sort(byBytes).map((queue): QueueStats => {
      const counts: Record<TaskState, number> = { queued: 0, claimed: 0, failed: 0, done: 0, dead: 0 };
      const bucket = buckets.get(queue);
      for (const b of bucket?.states.buckets ?? []) if (b.key in counts) counts[b.key as TaskState] = b.doc_count;
      const stats: QueueStats = {
        queue,
        paused: paused.get(queue) ?? false,
        counts,
        scheduled: bucket?.scheduled.doc_count ?? 0,
        recent: {
          windowMs: recentWindowMs,
          created: bucket?.recent.buckets.created.doc_count ?? 0,
          done: bucket?.recent.buckets.done.doc_count ?? 0,
          dead: bucket?.recent.buckets.dead.doc_count ?? 0,
        },
      };
      const oldest = bucket?.claimable.oldest.value;
      if (oldest !== null && oldest !== undefined) stats.oldestClaimableRunAt = oldest;
      return stats;
    });
  }

  private async statsBuckets(now: number, windowMs: number, queues: string[] | undefined): Promise<Map<string, StatsBucket>> {
    await this.tasksRefresh.wait();
    const window = { gt: now - windowMs, lte: now };
    const finished = (state: TaskState) => ({
      bool: { filter: [{ term: { state } }, { range: { 'last_claimed.result.at': window } }] },
    });
    const out = new Map<string, StatsBucket>();
    let after: unknown;
    for (;;) {
      const found = await search<never>(this.http, this.names.tasks, {
        size: 0,
        track_total_hits: false,
        query: { bool: { filter: queues ? queueFilter(queues) : [] } },
        aggs: {
          queues: {
            composite: { size: STATS_PAGE, sources: [{ queue: { terms: { field: 'queue' } } }], ...(after ? { after } : {}) },
            aggs: {
              states: { terms: { field: 'state', size: 10 } },
              claimable: {
                filter: { bool: { filter: [{ terms: { state: ['queued', 'failed'] } }, { range: { run_at: { lte: now } } }] } },
                aggs: { oldest: { min: { field: 'run_at' } } },
              },
              scheduled: {
                filter: { bool: { filter: [{ terms: { state: ['queued', 'failed'] } }, { range: { run_at: { gt: now } } }] } },
              },
              recent: {
                filters: {
                  filters: { created: { range: { [INDEXED.createdAt]: window } }, done: finished('done'), dead: finished('dead') },
                },
              },
            },
          },
        },
      });
      const agg = found.aggregations?.queues as { buckets: StatsBucket[]; after_key?: unknown } | undefined;
      const buckets = agg?.buckets ?? [];
      for (const b of buckets) out.set(b.key.queue, b);
      if (buckets.length < STATS_PAGE || agg?.after_key === undefined) return out;
      after = agg.after_key;
    }
  }
}
