/**
 * The archive of the Elasticsearch/OpenSearch store: moving finished tasks out of the live index (copy
 * under a version-derived id, then CAS delete), reading archived tasks, retention, and the rollover of
 * the archive's write alias when ILM does not manage it (docs/design/elasticsearch-claims.md, "Archive").
 */
import type { Task } from '../../types/index.js';
import type {
  ArchivedTaskDeleteBeforeParams,
  ArchivedTaskDeleteBeforeResult,
  ArchivedTaskGetParams,
  TaskArchiveParams,
  TaskArchiveResult,
} from '../store.js';
import type { BulkOperation, BulkWriter } from './bulk-writer.js';
import { type ArchivedTaskDoc, type TaskDoc, archiveDocId, docToTask } from './documents.js';
import type { EsHttp } from './http.js';
import type { IndexNames } from './mappings.js';
import { MAX_PAGE, deleteDoc, getDoc, search, versionOf } from './requests.js';
import type { LocalTaskWrites, RefreshBarrier } from './visibility.js';

export interface ArchiveOptions {
  /** v1's lifecycle_setup.archived_tasks.enabled: ILM on Elasticsearch when available. */
  ilmEnabled: boolean;
  rolloverMaxAgeMs: number;
  rolloverMaxDocs: number;
  /** With ILM: delete rolled-over archive indices this long after rollover (0: keep). */
  ilmDeleteAfterMs: number;
}

export const DEFAULT_ARCHIVE: ArchiveOptions = {
  ilmEnabled: true,
  rolloverMaxAgeMs: 24 * 3600_000,
  rolloverMaxDocs: 10_000_000,
  ilmDeleteAfterMs: 0,
};

export class TaskArchiver {
  /** Whether ILM rolls the archive over (learnt by the store's migrate()); otherwise the leader does, here. */
  ilmManaged = false;
  private lastRolloverCheck = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly http: EsHttp,
    private readonly names: IndexNames,
    private readonly writer: BulkWriter,
    private readonly tasksRefresh: RefreshBarrier,
    private readonly archiveRefresh: RefreshBarrier,
    private readonly localWrites: LocalTaskWrites,
    private readonly options: ArchiveOptions,
  ) {}

  /**
   * Per task: copy into the archive under an id derived from the live document's version (create-only,
   * so a concurrent or repeated archiving finds the copy there), then delete the live document with CAS
   * on that version. The caller whose delete succeeds counts the task. A crash in between leaves both;
   * the next run finds the copy and only deletes. Readers may briefly see a task in both, never in neither.
   */
  async archive({ finishedBefore, limit, now }: TaskArchiveParams): Promise<TaskArchiveResult> {
    if (limit <= 0) return { archived: 0 };
    await this.maybeRollOver(now);
    // Tasks lost to a concurrent archiver are archived all the same: look again, so that returning fewer
    // than `limit` still means that none are left.
    let archived = 0;
    let fruitless = 0; // rounds that archived nothing: bounded, in case a task cannot be archived at all
    for (;;) {
      const round = await this.archiveRound(finishedBefore, limit - archived, now);
      archived += round.archived;
      fruitless = round.archived === 0 ? fruitless + 1 : 0;
      if (archived >= limit || round.candidates < limit - archived + round.archived || fruitless >= 20) return { archived };
    }
  }

  private async archiveRound(finishedBefore: number, limit: number, now: number): Promise<{ archived: number; candidates: number }> {
    await this.tasksRefresh.wait();
    const found = await search<TaskDoc>(this.http, this.names.tasks, {
      size: Math.min(limit, MAX_PAGE),
      seq_no_primary_term: true,
      track_total_hits: false,
      query: {
        bool: {
          filter: [{ terms: { state: ['done', 'dead'] } }, { range: { 'last_claimed.result.at': { lte: finishedBefore } } }],
        },
      },
      sort: [{ 'last_claimed.result.at': 'asc' }, { queue: 'asc' }, { id: 'asc' }],
    });
    const hits = found.hits.hits;
    if (hits.length === 0) return { archived: 0, candidates: 0 };
    const copyIds = hits.map((h) => archiveDocId(h._id, versionOf(h)));
    const copies: BulkOperation[] = hits.map((h, i) => {
      const { claim_token: _t, ...doc } = h._source;
      const archived: ArchivedTaskDoc = { ...doc, archived_at: now, version: { seq_no: h._seq_no, primary_term: h._primary_term } };
      return { action: { create: { _index: this.names.archiveAlias, _id: copyIds[i] } }, doc: archived };
    });
    const copied = await this.writer.write(copies);
    const deletes: BulkOperation[] = [];
    const attempted: number[] = [];
    copied.forEach((item, i) => {
      // 201: copied now; 409: a copy of this very version exists (another archiver, or an earlier run).
      if (item.status !== 201 && item.status !== 200 && item.status !== 409) return;
      const h = hits[i]!;
      attempted.push(i);
      deletes.push({ action: { delete: { _index: h._index, _id: h._id, if_seq_no: h._seq_no, if_primary_term: h._primary_term } } });
    });
    if (deletes.length === 0) return { archived: 0, candidates: hits.length };
    const deleted = await this.writer.write(deletes);
    let archived = 0;
    for (let k = 0; k < deleted.length; k++) {
      const item = deleted[k]!;
      const i = attempted[k]!;
      if (item.status === 200) {
        this.localWrites.forget(item._id);
        archived++;
        continue;
      }
      // Not deleted: gone already (another archiver won), or changed since the search. In the second
      // case the copy is of an outdated version: remove it, the next run archives the current one.
      const h = hits[i]!;
      if (await getDoc(this.http, this.names.tasks, h._id)) {
        await this.deleteArchivedCopy(copyIds[i]!);
      }
    }
    return { archived, candidates: hits.length };
  }

  private async deleteArchivedCopy(copyId: string): Promise<void> {
    await this.archiveRefresh.wait();
    const found = await search<never>(this.http, this.names.archivePattern, {
      size: 10,
      _source: false,
      query: { ids: { values: [copyId] } },
    });
    for (const hit of found.hits.hits) await deleteDoc(this.http, hit._index, hit._id);
  }

  async get({ queue, id }: ArchivedTaskGetParams): Promise<Task | undefined> {
    await this.archiveRefresh.wait();
    const found = await search<ArchivedTaskDoc>(this.http, this.names.archivePattern, {
      size: 1,
      query: { bool: { filter: [{ term: { queue } }, { term: { id } }] } },
      sort: [{ archived_at: 'desc' }, { 'version.primary_term': 'desc' }, { 'version.seq_no': 'desc' }],
    });
    const hit = found.hits.hits[0];
    if (!hit) return undefined;
    const { archived_at: _a, version, claim_token: _t, ...doc } = hit._source;
    return docToTask(doc, { seqNum: version.seq_no, primaryTerm: version.primary_term });
  }

  /**
   * Retention. Rolled-over archive indices (not the write index) whose every task finished at or before
   * the cutoff are dropped whole, however many they hold; then up to `limit` single tasks go from the
   * remaining indices, oldest finish first. Returns the total.
   */
  async deleteBefore({ finishedBefore, limit }: ArchivedTaskDeleteBeforeParams): Promise<ArchivedTaskDeleteBeforeResult> {
    if (limit <= 0) return { deleted: 0 };
    let deleted = await this.dropExpiredArchiveIndices(finishedBefore);
    let single = 0;
    // As in taskArchive: what a concurrent deleter took does not count here, so look again.
    for (let fruitless = 0; single < limit && fruitless < 20; ) {
      await this.archiveRefresh.wait();
      const found = await search<never>(this.http, this.names.archivePattern, {
        size: Math.min(limit - single, MAX_PAGE),
        _source: false,
        track_total_hits: false,
        query: { range: { 'last_claimed.result.at': { lte: finishedBefore } } },
        sort: [{ 'last_claimed.result.at': 'asc' }],
      });
      const hits = found.hits.hits;
      if (hits.length === 0) break;
      const items = await this.writer.write(hits.map((h) => ({ action: { delete: { _index: h._index, _id: h._id } } })));
      const ok = items.filter((item) => item.status === 200).length;
      single += ok;
      fruitless = ok === 0 ? fruitless + 1 : 0;
      if (hits.length < limit - single + ok) break; // that was all there was
    }
    deleted += single;
    return { deleted };
  }

  /** Drops rolled-over archive indices that hold nothing newer than the cutoff; returns how many tasks went. */
  private async dropExpiredArchiveIndices(finishedBefore: number): Promise<number> {
    const aliases = await this.http.request<Record<string, { aliases: Record<string, { is_write_index?: boolean }> }>>({
      method: 'GET',
      path: `/${this.names.archivePattern}/_alias`,
      query: { ignore_unavailable: true, allow_no_indices: true },
    });
    if (aliases.status !== 200) return 0;
    const readOnly = Object.entries(aliases.body)
      .filter(([, v]) => v.aliases?.[this.names.archiveAlias]?.is_write_index !== true)
      .map(([index]) => index);
    if (readOnly.length === 0) return 0;
    await this.archiveRefresh.wait();
    const stats = await search<never>(this.http, this.names.archivePattern, {
      size: 0,
      query: { terms: { _index: readOnly } },
      aggs: {
        by_index: {
          terms: { field: '_index', size: readOnly.length },
          aggs: { newest: { max: { field: 'last_claimed.result.at' } } },
        },
      },
    });
    let dropped = 0;
    const buckets = (stats.aggregations?.by_index?.buckets ?? []) as { key: string; doc_count: number; newest: { value: number | null } }[];
    const withDocs = new Set(buckets.map((b) => b.key));
    for (const bucket of buckets) {
      if (bucket.newest.value === null || bucket.newest.value > finishedBefore) continue;
      const res = await this.http.request({ method: 'DELETE', path: `/${bucket.key}` });
      if (res.status === 200) dropped += bucket.doc_count;
    }
    // Empty rolled-over indices (everything in them deleted one by one) go too.
    for (const index of readOnly) {
      if (!withDocs.has(index)) await this.http.request({ method: 'DELETE', path: `/${index}` });
    }
    return dropped;
  }

  /**
   * Without ILM the leader rolls the archive over (it is the one calling taskArchive): at most once a
   * minute it asks for a rollover with the configured conditions, which the engine applies only if met.
   */
  private async maybeRollOver(now: number): Promise<void> {
    if (this.ilmManaged || now - this.lastRolloverCheck < 60_000) return;
    this.lastRolloverCheck = now;
    await this.archiveRefresh.wait(); // max_docs counts what is refreshed
    await this.http.expect({
      method: 'POST',
      path: `/${this.names.archiveAlias}/_rollover`,
      body: { conditions: { max_age: `${Math.max(1, Math.round(this.options.rolloverMaxAgeMs / 1000))}s`, max_docs: this.options.rolloverMaxDocs } },
    });
  }

  /** Rolls the archive over now, whatever the conditions (tests, operators). Returns the new index. */
  async rollOver(): Promise<string> {
    const res = await this.http.expect<{ new_index: string }>({ method: 'POST', path: `/${this.names.archiveAlias}/_rollover` });
    return res.body.new_index;
  }
}
