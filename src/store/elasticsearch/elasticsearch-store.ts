/**
 * The Elasticsearch/OpenSearch store: the Store contract over the REST subset common to Elasticsearch
 * 7.10+/8/9 and OpenSearch 1/2/3. Layout and mappings: mappings.ts; the claim path and its reasoning:
 * docs/design/elasticsearch-claims.md.
 *
 * Concurrency: every write of an existing document is a compare-and-set on (`_seq_no`, `_primary_term`)
 * (`if_seq_no`/`if_primary_term`), which is also the record version the contract exposes; creations use
 * `op_type=create`. No scripts and no update-by-query: nothing beyond the engines' core is needed.
 *
 * Read-your-writes: single-document reads are realtime GETs. Searches only see what the last refresh
 * made visible, so every search-based method first waits for a refresh of its index that *started after
 * the method was called* (RefreshBarrier): all writes that completed before the call, by any process,
 * are then visible. Concurrent callers in one process share refreshes, so at most one refresh per index
 * is in flight and one queued, whatever the load.
 */
import { errors } from '../../errors/index.js';
import type {
  LeaderLease,
  QueueState,
  QueueStats,
  RecordVersion,
  RecurringTask,
  RecurringTaskTick,
  Task,
  TaskState,
} from '../../types/index.js';
import type {
  ArchivedTaskDeleteBeforeParams,
  ArchivedTaskDeleteBeforeResult,
  ArchivedTaskGetParams,
  LeaderAttemptElectParams,
  LeaderAttemptReelectParams,
  LeaderGetParams,
  LeaderResignParams,
  QueueSetPausedParams,
  QueueStatsListParams,
  RecurringTaskCreateParams,
  RecurringTaskGetParams,
  RecurringTaskTickListParams,
  RecurringTaskTickRecordParams,
  RecurringTaskUpdateParams,
  Store,
  StoreCapabilities,
  TaskArchiveParams,
  TaskArchiveResult,
  TaskClaimParams,
  TaskCountOutstandingParams,
  TaskCreateParams,
  TaskGetParams,
  TaskListPage,
  TaskListParams,
  TaskListTimedOutParams,
  TaskNextRunAtParams,
  TaskUpdateParams,
} from '../store.js';
import type { TaskCreateManyParams, TaskGetManyParams, TaskUpdateManyParams, TaskWriteResult } from '../store.js';
import {
  type ArchivedTaskDoc,
  type RecurringDoc,
  type TaskDoc,
  archiveDocId,
  docToRecurring,
  docToTask,
  recurringDocId,
  recurringToDoc,
  taskDocId,
  taskToDoc,
} from './documents.js';
import { type BulkItem, type BulkOperation, BulkWriter } from './bulk-writer.js';
import { type ClaimOptions, DEFAULT_CLAIM_OPTIONS, QUEUES_DOC, TaskClaims } from './claims.js';
import { ElasticsearchError, EsHttp, type EsHttpOptions, type EsRequest, describe, errorType } from './http.js';
import { INDEXED, type IndexNames, indexNames } from './mappings.js';
import { type GetBody, type Hit, MAX_PAGE, type SearchBody, enc, getDoc, search, versionOf } from './requests.js';
import { type SetupOptions, type SetupReport, checkElasticsearch, dropElasticsearch, setupElasticsearch } from './setup.js';
import { LocalTaskWrites, RefreshBarrier } from './visibility.js';

export interface ElasticsearchStoreOptions {
  /** Connection settings, or a client to share. */
  http: EsHttpOptions | EsHttp;
  /** Prefix of every index, alias and template (config `store.elasticsearch.index_prefix`). */
  indexPrefix: string;
  /** migrate() installs or upgrades the templates and indices; otherwise it only checks them. */
  autoSetup?: boolean;
  /** Archive rollover and ILM (setup), and rollover by the leader when ILM does not manage the archive. */
  archive?: Partial<ArchiveOptions>;
  /** The claim path's knobs (claims.ts); the defaults suit most loads. */
  claims?: Partial<ClaimOptions>;
}

export interface ArchiveOptions {
  /** v1's lifecycle_setup.archived_tasks.enabled: ILM on Elasticsearch when available. */
  ilmEnabled: boolean;
  rolloverMaxAgeMs: number;
  rolloverMaxDocs: number;
  /** With ILM: delete rolled-over archive indices this long after rollover (0: keep). */
  ilmDeleteAfterMs: number;
}

const DEFAULT_ARCHIVE: ArchiveOptions = {
  ilmEnabled: true,
  rolloverMaxAgeMs: 24 * 3600_000,
  rolloverMaxDocs: 10_000_000,
  ilmDeleteAfterMs: 0,
};

const LEADER_DOC = 'leader';
/** Buckets per page of the queue-statistics composite aggregation (each bucket has ~10 sub-buckets). */
const STATS_PAGE = 500;
const tickDocId = (recurringTaskId: string) => `tick/${recurringDocId(recurringTaskId)}`;
const CONFLICT_RETRIES = 50;

interface LeaderDoc {
  kind: 'leader';
  leader_id: string;
  elected_at: number;
  expires_at: number;
}

interface TickDoc {
  kind: 'tick';
  recurring_task_id: string;
  last_tick_at: number;
}

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

/** Code-point order of UTF-8 bytes, as the engine sorts keywords (and SQLite compares BINARY). */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

interface StatsBucket {
  key: { queue: string };
  states: { buckets: { key: string; doc_count: number }[] };
  claimable: { oldest: { value: number | null } };
  recent: { buckets: { created: { doc_count: number }; done: { doc_count: number }; dead: { doc_count: number } } };
}

export class ElasticsearchStore implements Store {
  readonly capabilities: StoreCapabilities = { kind: 'elasticsearch' };
  readonly http: EsHttp;
  readonly names: IndexNames;
  private readonly autoSetup: boolean;
  private readonly archive: ArchiveOptions;
  /** Whether ILM rolls the archive over (learnt by migrate()); otherwise the leader does, in taskArchive. */
  private ilmManaged = false;
  private lastRolloverCheck = Number.NEGATIVE_INFINITY;
  private readonly tasksRefresh: RefreshBarrier;
  /** This process's task writes that no finished refresh is known to cover (read-your-writes for claims). */
  private readonly localWrites: LocalTaskWrites;
  /** Every task write of one event-loop turn goes out as one _bulk. */
  private readonly writer: BulkWriter;
  private readonly claims: TaskClaims;
  private readonly archiveRefresh: RefreshBarrier;
  private readonly recurringRefresh: RefreshBarrier;

  constructor(options: ElasticsearchStoreOptions) {
    this.http = options.http instanceof EsHttp ? options.http : new EsHttp(options.http);
    this.names = indexNames(options.indexPrefix);
    this.autoSetup = options.autoSetup ?? false;
    this.archive = { ...DEFAULT_ARCHIVE, ...options.archive };
    const refresher = (index: string) => async () => {
      await this.http.expect({
        method: 'POST',
        path: `/${index}/_refresh`,
        query: { ignore_unavailable: true, allow_no_indices: true },
        read: true,
      });
    };
    this.tasksRefresh = new RefreshBarrier(refresher(this.names.tasks));
    this.archiveRefresh = new RefreshBarrier(refresher(this.names.archivePattern));
    this.recurringRefresh = new RefreshBarrier(refresher(this.names.recurring));
    this.localWrites = new LocalTaskWrites(this.tasksRefresh);
    this.writer = new BulkWriter(this.http);
    this.claims = new TaskClaims(this.http, this.names, this.writer, this.tasksRefresh, this.localWrites, {
      ...DEFAULT_CLAIM_OPTIONS,
      ...options.claims,
    });
  }

  // ── Schema ──────────────────────────────────────────────────────────────────────────────────────────

  /** What `tasques setup` does: install or upgrade templates, indices, the archive alias and ILM policy. */
  async setup(): Promise<SetupReport> {
    const report = await setupElasticsearch(this.http, this.names, this.setupOptions());
    this.ilmManaged = report.ilm;
    return report;
  }

  private setupOptions(): SetupOptions {
    const a = this.archive;
    return {
      ilmEnabled: a.ilmEnabled,
      rolloverMaxAge: `${Math.max(1, Math.round(a.rolloverMaxAgeMs / 1000))}s`,
      rolloverMaxDocs: a.rolloverMaxDocs,
      ilmDeleteAfter: a.ilmDeleteAfterMs > 0 ? `${Math.round(a.ilmDeleteAfterMs / 1000)}s` : undefined,
    };
  }

  /** With autoSetup, setup(); otherwise checks that setup ran (throws SetupRequiredError if not). */
  async migrate(): Promise<void> {
    if (this.autoSetup) await this.setup();
    else this.ilmManaged = (await checkElasticsearch(this.http, this.names)).ilm;
  }

  /** Deletes every index, alias and template of this prefix. For tests and operators; not in the contract. */
  async drop(): Promise<void> {
    await dropElasticsearch(this.http, this.names);
  }

  async close(): Promise<void> {
    // fetch keeps no per-store resources; nothing to release.
  }

  // ── Small helpers ───────────────────────────────────────────────────────────────────────────────────

  private async search<T>(index: string, body: Record<string, unknown>): Promise<SearchBody<T>> {
    return search<T>(this.http, index, body);
  }

  private async getDoc<T>(index: string, id: string): Promise<GetBody<T> | undefined> {
    return getDoc<T>(this.http, index, id);
  }

  private fail(method: string, path: string, res: { status: number; body: unknown }): ElasticsearchError {
    return new ElasticsearchError(`${method} ${path}: ${describe(res.status, res.body)}`, res.status, errorType(res.body));
  }

  /** PUT a whole document, with CAS when `expected` is given, or create-only when `create`. */
  private async putDoc(
    index: string,
    id: string,
    doc: unknown,
    opts: { expected?: RecordVersion; create?: boolean },
  ): Promise<{ status: number; version?: RecordVersion }> {
    const req: EsRequest = opts.create
      ? { method: 'PUT', path: `/${index}/_create/${enc(id)}`, body: doc }
      : {
          method: 'PUT',
          path: `/${index}/_doc/${enc(id)}`,
          body: doc,
          query: opts.expected ? { if_seq_no: opts.expected.seqNum, if_primary_term: opts.expected.primaryTerm } : undefined,
        };
    const res = await this.http.request<{ _seq_no: number; _primary_term: number }>(req);
    if (res.status === 200 || res.status === 201) return { status: res.status, version: versionOf(res.body) };
    if (res.status === 409 || res.status === 404) return { status: res.status };
    throw this.fail(req.method, `/${index}/…`, res);
  }

  private async deleteDoc(index: string, id: string, expected?: RecordVersion): Promise<number> {
    const res = await this.http.request({
      method: 'DELETE',
      path: `/${index}/_doc/${enc(id)}`,
      query: expected ? { if_seq_no: expected.seqNum, if_primary_term: expected.primaryTerm } : undefined,
    });
    if (res.status === 200 || res.status === 404 || res.status === 409) return res.status;
    throw this.fail('DELETE', `/${index}/…`, res);
  }

  /** Operations go out with the other writes of this turn (BulkWriter): one _bulk for all of them. */
  private async bulk(operations: BulkOperation[]): Promise<BulkItem[]> {
    return this.writer.write(operations);
  }

  /** Remembers an acknowledged task write for this process's claims (read-your-writes without a refresh). */
  private recordTaskWrite(item: BulkItem, doc: TaskDoc): RecordVersion | undefined {
    if ((item.status !== 200 && item.status !== 201) || item._seq_no === undefined || item._primary_term === undefined) return undefined;
    const version = { seqNum: item._seq_no, primaryTerm: item._primary_term };
    this.localWrites.record(item._index, item._id, doc, version);
    return version;
  }

  // ── Tasks ───────────────────────────────────────────────────────────────────────────────────────────

  async taskCreate({ task }: TaskCreateParams): Promise<Task> {
    const [result] = await this.taskCreateMany({ tasks: [task] });
    if (result!.error) throw result!.error;
    return result!.task;
  }

  async taskGet({ queue, id }: TaskGetParams): Promise<Task | undefined> {
    const found = await this.getDoc<TaskDoc>(this.names.tasks, taskDocId(queue, id));
    if (!found || found._source.queue !== queue || found._source.id !== id) return undefined;
    return docToTask(found._source, versionOf(found));
  }

  async taskUpdate(update: TaskUpdateParams): Promise<Task> {
    const [result] = await this.taskUpdateMany({ updates: [update] });
    if (result!.error) throw result!.error;
    return result!.task;
  }

  /** Filter on the queues (a set); none means every queue. */
  private queueFilter(queues: string[]): Record<string, unknown>[] {
    return queues.length > 0 ? [{ terms: { queue: [...new Set(queues)] } }] : [];
  }

  /** See claims.ts and docs/design/elasticsearch-claims.md. */
  async taskClaim(params: TaskClaimParams): Promise<Task[]> {
    return this.claims.claim(params);
  }

  async taskNextRunAt({ queues }: TaskNextRunAtParams): Promise<number | undefined> {
    return this.claims.nextRunAt(queues);
  }

  /**
   * Newest first, keyset paging with `search_after` on (created_at, queue, id): a total order, since
   * (queue, id) is unique among live tasks. The tasks index is sorted on the claim order, not on this
   * one, so a page costs a pass over the matching tasks (the engine skips non-competitive ones with the
   * points of `created_at.indexed`); fine for an operator's listing, not for a hot path.
   */
  async taskList(params: TaskListParams): Promise<TaskListPage> {
    const limit = Math.min(params.limit, MAX_PAGE);
    if (!(limit >= 1)) return { tasks: [] };
    const filter: Record<string, unknown>[] = [];
    if (params.queue !== undefined) filter.push({ term: { queue: params.queue } });
    if (params.states && params.states.length > 0) filter.push({ terms: { state: [...new Set(params.states)] } });
    if (params.kind !== undefined) filter.push({ term: { [INDEXED.kind]: params.kind } });
    if (params.recurringTaskId !== undefined) filter.push({ term: { recurring_task_id: params.recurringTaskId } });
    if (params.createdFrom !== undefined || params.createdTo !== undefined) {
      filter.push({ range: { [INDEXED.createdAt]: { gte: params.createdFrom, lt: params.createdTo } } });
    }
    if (params.prefix) {
      // `prefix` queries are literal (no wildcard characters) and case-sensitive on keyword fields.
      filter.push({
        bool: {
          should: [{ prefix: { id: params.prefix } }, { prefix: { [INDEXED.kind]: params.prefix } }],
          minimum_should_match: 1,
        },
      });
    }
    await this.tasksRefresh.wait();
    const found = await this.search<TaskDoc>(this.names.tasks, {
      size: limit,
      seq_no_primary_term: true,
      track_total_hits: false,
      query: { bool: { filter } },
      sort: [{ [INDEXED.createdAt]: 'desc' }, { queue: 'asc' }, { id: 'asc' }],
      ...(params.after ? { search_after: [params.after.createdAt, params.after.queue, params.after.id] } : {}),
    });
    const tasks = found.hits.hits.map((h) => docToTask(h._source, versionOf(h)));
    const last = tasks[tasks.length - 1];
    // A full page has a next, even if nothing follows (the contract); the next page is then empty.
    if (tasks.length < limit || !last) return { tasks };
    return { tasks, next: { createdAt: last.createdAt, queue: last.queue, id: last.id } };
  }

  async taskListTimedOut({ now, limit }: TaskListTimedOutParams): Promise<Task[]> {
    if (limit <= 0) return [];
    await this.tasksRefresh.wait();
    const found = await this.search<TaskDoc>(this.names.tasks, {
      size: Math.min(limit, MAX_PAGE),
      seq_no_primary_term: true,
      track_total_hits: false,
      query: {
        bool: { filter: [{ term: { state: 'claimed' } }, { range: { 'last_claimed.times_out_at': { lte: now } } }] },
      },
      sort: [{ 'last_claimed.times_out_at': 'asc' }, { queue: 'asc' }, { id: 'asc' }],
    });
    return found.hits.hits.map((h) => docToTask(h._source, versionOf(h)));
  }

  async taskCountOutstanding({ queue, recurringTaskId }: TaskCountOutstandingParams): Promise<number> {
    await this.tasksRefresh.wait();
    const res = await this.http.expect<{ count: number }>({
      method: 'POST',
      path: `/${this.names.tasks}/_count`,
      query: { ignore_unavailable: true, allow_no_indices: true },
      read: true,
      body: {
        query: {
          bool: {
            filter: [
              { term: { queue } },
              { term: { recurring_task_id: recurringTaskId } },
              { terms: { state: ['queued', 'claimed', 'failed'] } },
            ],
          },
        },
      },
    });
    return res.body.count;
  }

  // ── Archive ─────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Per task: copy into the archive under an id derived from the live document's version (create-only,
   * so a concurrent or repeated archiving finds the copy there), then delete the live document with CAS
   * on that version. The caller whose delete succeeds counts the task. A crash in between leaves both;
   * the next run finds the copy and only deletes. Readers may briefly see a task in both, never in neither.
   */
  async taskArchive({ finishedBefore, limit, now }: TaskArchiveParams): Promise<TaskArchiveResult> {
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
    const found = await this.search<TaskDoc>(this.names.tasks, {
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
    const copied = await this.bulk(copies);
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
    const deleted = await this.bulk(deletes);
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
      if (await this.getDoc(this.names.tasks, h._id)) {
        await this.deleteArchivedCopy(copyIds[i]!);
      }
    }
    return { archived, candidates: hits.length };
  }

  private async deleteArchivedCopy(copyId: string): Promise<void> {
    await this.archiveRefresh.wait();
    const found = await this.search<never>(this.names.archivePattern, {
      size: 10,
      _source: false,
      query: { ids: { values: [copyId] } },
    });
    for (const hit of found.hits.hits) await this.deleteDoc(hit._index, hit._id);
  }

  async archivedTaskGet({ queue, id }: ArchivedTaskGetParams): Promise<Task | undefined> {
    await this.archiveRefresh.wait();
    const found = await this.search<ArchivedTaskDoc>(this.names.archivePattern, {
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
  async archivedTaskDeleteBefore({ finishedBefore, limit }: ArchivedTaskDeleteBeforeParams): Promise<ArchivedTaskDeleteBeforeResult> {
    if (limit <= 0) return { deleted: 0 };
    let deleted = await this.dropExpiredArchiveIndices(finishedBefore);
    let single = 0;
    // As in taskArchive: what a concurrent deleter took does not count here, so look again.
    for (let fruitless = 0; single < limit && fruitless < 20; ) {
      await this.archiveRefresh.wait();
      const found = await this.search<never>(this.names.archivePattern, {
        size: Math.min(limit - single, MAX_PAGE),
        _source: false,
        track_total_hits: false,
        query: { range: { 'last_claimed.result.at': { lte: finishedBefore } } },
        sort: [{ 'last_claimed.result.at': 'asc' }],
      });
      const hits = found.hits.hits;
      if (hits.length === 0) break;
      const items = await this.bulk(hits.map((h) => ({ action: { delete: { _index: h._index, _id: h._id } } })));
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
    const stats = await this.search<never>(this.names.archivePattern, {
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
      body: { conditions: { max_age: `${Math.max(1, Math.round(this.archive.rolloverMaxAgeMs / 1000))}s`, max_docs: this.archive.rolloverMaxDocs } },
    });
  }

  /** Rolls the archive over now, whatever the conditions (tests, operators). Returns the new index. */
  async archiveRollOver(): Promise<string> {
    const res = await this.http.expect<{ new_index: string }>({ method: 'POST', path: `/${this.names.archiveAlias}/_rollover` });
    return res.body.new_index;
  }

  // ── Queues: operator state and statistics ──────────────────────────────────────────────────────────

  private async queuesDoc(): Promise<GetBody<QueuesDoc> | undefined> {
    return this.getDoc<QueuesDoc>(this.names.meta, QUEUES_DOC);
  }

  /**
   * Read, change, compare-and-set the queue-states document (create-only when there is none yet);
   * retried on a conflict. The write is acknowledged once every copy of the shard has it, so the
   * realtime terms lookup of any claim search sent afterwards sees it.
   */
  async queueSetPaused({ queue, paused, now }: QueueSetPausedParams): Promise<QueueState> {
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
        ? await this.putDoc(this.names.meta, QUEUES_DOC, doc, { expected: versionOf(current) })
        : await this.putDoc(this.names.meta, QUEUES_DOC, doc, { create: true });
      if (result.version) return { queue, paused, modifiedAt: state.modified_at };
      if (result.status === 404) throw new ElasticsearchError(`cannot store the queue state: index ${this.names.meta} is missing`, 404);
    }
    throw new ElasticsearchError(`queue state of ${queue}: too many concurrent writers`, 409);
  }

  async queueStateList(): Promise<QueueState[]> {
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
  async queueStatsList({ now, recentWindowMs, queues }: QueueStatsListParams): Promise<QueueStats[]> {
    const wanted = queues === undefined ? undefined : [...new Set(queues)];
    if (wanted?.length === 0) return [];
    const [states, buckets] = await Promise.all([this.queueStateList(), this.statsBuckets(now, recentWindowMs, wanted)]);
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
      const found = await this.search<never>(this.names.tasks, {
        size: 0,
        track_total_hits: false,
        query: { bool: { filter: queues ? this.queueFilter(queues) : [] } },
        aggs: {
          queues: {
            composite: { size: STATS_PAGE, sources: [{ queue: { terms: { field: 'queue' } } }], ...(after ? { after } : {}) },
            aggs: {
              states: { terms: { field: 'state', size: 10 } },
              claimable: {
                filter: { bool: { filter: [{ terms: { state: ['queued', 'failed'] } }, { range: { run_at: { lte: now } } }] } },
                aggs: { oldest: { min: { field: 'run_at' } } },
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

  // ── Recurring tasks ─────────────────────────────────────────────────────────────────────────────────

  async recurringTaskCreate({ task }: RecurringTaskCreateParams): Promise<RecurringTask> {
    const docId = recurringDocId(task.id);
    const doc = recurringToDoc(task);
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const existing = await this.getDoc<RecurringDoc>(this.names.recurring, docId);
      if (existing && !existing._source.is_deleted) throw errors.recurringTaskAlreadyExists(task.id);
      // Over a soft-deleted one (v1 §8.4): replace it, but only the version we saw.
      const result = existing
        ? await this.putDoc(this.names.recurring, docId, doc, { expected: versionOf(existing) })
        : await this.putDoc(this.names.recurring, docId, doc, { create: true });
      if (result.version) return { ...task, version: result.version };
    }
    throw errors.recurringTaskVersionConflict(task.id);
  }

  async recurringTaskGet({ id, includeDeleted = false }: RecurringTaskGetParams): Promise<RecurringTask | undefined> {
    const found = await this.getDoc<RecurringDoc>(this.names.recurring, recurringDocId(id));
    if (!found || found._source.id !== id || (found._source.is_deleted && !includeDeleted)) return undefined;
    return docToRecurring(found._source, versionOf(found));
  }

  async recurringTaskList(): Promise<RecurringTask[]> {
    return this.listRecurring({ term: { is_deleted: false } });
  }

  async recurringTaskListNotLoaded(): Promise<RecurringTask[]> {
    return this.listRecurring({ bool: { must_not: [{ exists: { field: 'loaded_at' } }] } });
  }

  /** Every recurring task matching `query`, sorted by id, paged with search_after. */
  private async listRecurring(query: unknown): Promise<RecurringTask[]> {
    await this.recurringRefresh.wait();
    const out: RecurringTask[] = [];
    let after: unknown[] | undefined;
    for (;;) {
      const found = await this.search<RecurringDoc>(this.names.recurring, {
        size: 1000,
        seq_no_primary_term: true,
        track_total_hits: false,
        query,
        sort: [{ id: 'asc' }],
        ...(after ? { search_after: after } : {}),
      });
      const hits = found.hits.hits;
      for (const h of hits) out.push(docToRecurring(h._source, versionOf(h)));
      if (hits.length < 1000) return out;
      after = hits[hits.length - 1]!.sort;
    }
  }

  async recurringTaskUpdate({ task, expectedVersion }: RecurringTaskUpdateParams): Promise<RecurringTask> {
    const result = await this.putDoc(this.names.recurring, recurringDocId(task.id), recurringToDoc(task), {
      expected: expectedVersion,
    });
    // 409 also when it does not exist: a CAS write never creates.
    if (!result.version) throw errors.recurringTaskVersionConflict(task.id);
    return { ...task, version: result.version };
  }

  async recurringTaskTickList({ recurringTaskIds }: RecurringTaskTickListParams): Promise<RecurringTaskTick[]> {
    if (recurringTaskIds.length === 0) return [];
    const res = await this.http.expect<{ docs: { found?: boolean; _source?: TickDoc }[] }>({
      method: 'POST',
      path: `/${this.names.meta}/_mget`,
      body: { ids: [...new Set(recurringTaskIds)].map(tickDocId) },
      read: true,
    });
    const wanted = new Set(recurringTaskIds);
    return res.body.docs
      .filter((d) => d.found && d._source && wanted.has(d._source.recurring_task_id))
      .map((d) => ({ recurringTaskId: d._source!.recurring_task_id, lastTickAt: d._source!.last_tick_at }));
  }

  async recurringTaskTickRecord({ recurringTaskId, tickAt }: RecurringTaskTickRecordParams): Promise<RecurringTaskTick> {
    const docId = tickDocId(recurringTaskId);
    const doc: TickDoc = { kind: 'tick', recurring_task_id: recurringTaskId, last_tick_at: tickAt };
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const existing = await this.getDoc<TickDoc>(this.names.meta, docId);
      if (existing && existing._source.last_tick_at >= tickAt) {
        return { recurringTaskId, lastTickAt: existing._source.last_tick_at };
      }
      const result = existing
        ? await this.putDoc(this.names.meta, docId, doc, { expected: versionOf(existing) })
        : await this.putDoc(this.names.meta, docId, doc, { create: true });
      if (result.version) return { recurringTaskId, lastTickAt: tickAt };
    }
    throw new ElasticsearchError(`recurring tick of ${recurringTaskId}: too many concurrent writers`, 409);
  }

  // ── Leader lease: one document, written only with create or CAS ──────────────────────────────────────

  private async leaderDoc(): Promise<GetBody<LeaderDoc> | undefined> {
    return this.getDoc<LeaderDoc>(this.names.meta, LEADER_DOC);
  }

  async leaderAttemptElect({ leaderId, now, ttlMs }: LeaderAttemptElectParams): Promise<LeaderLease | undefined> {
    const lease: LeaderLease = { leaderId, electedAt: now, expiresAt: now + ttlMs };
    const doc: LeaderDoc = { kind: 'leader', leader_id: leaderId, elected_at: now, expires_at: now + ttlMs };
    const current = await this.leaderDoc();
    if (current && current._source.expires_at > now && current._source.leader_id !== leaderId) return undefined;
    // Of concurrent contenders that read the same state, the create or the CAS lets exactly one through.
    const result = current
      ? await this.putDoc(this.names.meta, LEADER_DOC, doc, { expected: versionOf(current) })
      : await this.putDoc(this.names.meta, LEADER_DOC, doc, { create: true });
    return result.version ? lease : undefined;
  }

  async leaderAttemptReelect({ leaderId, electedAt, now, ttlMs }: LeaderAttemptReelectParams): Promise<LeaderLease | undefined> {
    const doc: LeaderDoc = { kind: 'leader', leader_id: leaderId, elected_at: electedAt, expires_at: now + ttlMs };
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const current = await this.leaderDoc();
      if (!current || current._source.leader_id !== leaderId || current._source.elected_at !== electedAt) return undefined;
      const result = await this.putDoc(this.names.meta, LEADER_DOC, doc, { expected: versionOf(current) });
      if (result.version) return { leaderId, electedAt, expiresAt: now + ttlMs };
      // Someone wrote in between: if it was not a takeover (e.g. our own concurrent renewal), try again.
    }
    return undefined;
  }

  async leaderGet({ now }: LeaderGetParams): Promise<LeaderLease | undefined> {
    const current = await this.leaderDoc();
    if (!current || current._source.expires_at <= now) return undefined;
    const s = current._source;
    return { leaderId: s.leader_id, electedAt: s.elected_at, expiresAt: s.expires_at };
  }

  async leaderResign({ leaderId, electedAt }: LeaderResignParams): Promise<boolean> {
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const current = await this.leaderDoc();
      if (!current || current._source.leader_id !== leaderId || current._source.elected_at !== electedAt) return false;
      const status = await this.deleteDoc(this.names.meta, LEADER_DOC, versionOf(current));
      if (status === 200) return true;
    }
    return false;
  }

  // ── Many-task operations (batch endpoints): one _mget or one _bulk for the lot ───────────────────────

  async taskCreateMany({ tasks }: TaskCreateManyParams): Promise<TaskWriteResult[]> {
    if (tasks.length === 0) return [];
    const docs = tasks.map((task) => taskToDoc(task));
    // Items of one bulk on one shard run in order: a second create of the same id gets 409.
    const items = await this.bulk(
      tasks.map((task, i) => ({ action: { create: { _index: this.names.tasks, _id: taskDocId(task.queue, task.id) } }, doc: docs[i] })),
    );
    return items.map((item, i): TaskWriteResult => {
      const task = tasks[i]!;
      if (item.status === 201) {
        const version = this.recordTaskWrite(item, docs[i]!);
        if (version) return { task: { ...task, version } };
      }
      if (item.status === 409) return { error: errors.taskAlreadyExists(task.id) };
      throw this.bulkItemError('create', item);
    });
  }

  async taskGetMany({ keys }: TaskGetManyParams): Promise<(Task | undefined)[]> {
    if (keys.length === 0) return [];
    const res = await this.http.expect<{ docs: (Partial<GetBody<TaskDoc>> & { error?: unknown })[] }>({
      method: 'POST',
      path: `/${this.names.tasks}/_mget`,
      body: { ids: keys.map(({ queue, id }) => taskDocId(queue, id)) },
      read: true,
    });
    return res.body.docs.map((doc, i) => {
      const { queue, id } = keys[i]!;
      if (doc.error !== undefined) {
        // As taskGet: a missing index holds no task; anything else is the store failing.
        const type = errorType({ error: doc.error });
        if (type === 'index_not_found_exception') return undefined;
        throw new ElasticsearchError(`_mget of task ${queue}/${id}: ${JSON.stringify(doc.error).slice(0, 500)}`, 500, type);
      }
      if (!doc.found || !doc._source || doc._source.queue !== queue || doc._source.id !== id) return undefined;
      return docToTask(doc._source, versionOf(doc as GetBody<TaskDoc>));
    });
  }

  async taskUpdateMany({ updates }: TaskUpdateManyParams): Promise<TaskWriteResult[]> {
    if (updates.length === 0) return [];
    const docs = updates.map(({ task }) => {
      const { version: _v, ...record } = task;
      return taskToDoc(record);
    });
    const operations: BulkOperation[] = updates.map(({ task, expectedVersion }, i) => ({
      action: {
        index: {
          _index: this.names.tasks,
          _id: taskDocId(task.queue, task.id),
          if_seq_no: expectedVersion.seqNum,
          if_primary_term: expectedVersion.primaryTerm,
        },
      },
      doc: docs[i],
    }));
    // Items of one bulk on one shard run in order: a second CAS with the same expected version gets 409.
    const items = await this.bulk(operations);
    const results: (TaskWriteResult | undefined)[] = items.map((item, i) => {
      const { task } = updates[i]!;
      const version = this.recordTaskWrite(item, docs[i]!);
      if (version) return { task: { ...task, version } };
      if (item.status === 409 || item.status === 404) {
        // Someone else wrote it (or it is gone): what this process knew of it is stale.
        this.localWrites.forget(item._id);
        return undefined; // conflict or missing: told apart below
      }
      throw this.bulkItemError('update', item);
    });
    // A CAS write on a missing document answers 409 too (and creates nothing): one _mget tells which.
    const unresolved = results.flatMap((r, i) => (r === undefined ? [i] : []));
    if (unresolved.length > 0) {
      const found = await this.taskGetMany({ keys: unresolved.map((i) => updates[i]!.task) });
      unresolved.forEach((i, k) => {
        const { task } = updates[i]!;
        results[i] = found[k] ? { error: errors.taskVersionConflict(task.id) } : { error: errors.taskNotFound(task.queue, task.id) };
      });
    }
    return results as TaskWriteResult[];
  }

  private bulkItemError(operation: string, item: BulkItem): ElasticsearchError {
    const reason = item.error ? `${item.error.type ?? 'error'}: ${item.error.reason ?? ''}` : 'no result';
    return new ElasticsearchError(`bulk ${operation} of ${item._id}: HTTP ${item.status} ${reason}`, item.status, item.error?.type);
  }
}
