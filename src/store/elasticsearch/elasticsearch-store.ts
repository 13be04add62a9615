/**
 * The Elasticsearch/OpenSearch store: the Store contract over the REST subset common to Elasticsearch
 * 7.10+/8/9 and OpenSearch 1/2/3. Layout and mappings: mappings.ts; the claim path and its reasoning:
 * docs/design/elasticsearch-claims.md.
 *
 * This class only wires the parts (docs/design/elasticsearch-claims.md has the table): claims.ts (the
 * claim path), bulk-writer.ts (every task write of one event-loop turn as one `_bulk`), visibility.ts
 * (refreshes, and this process's own writes no refresh is known to cover), archive.ts, queues.ts,
 * documents.ts, requests.ts. Recurring tasks and the leader lease are small enough to stay here.
 *
 * Concurrency: every write of an existing document is a compare-and-set on (`_seq_no`, `_primary_term`)
 * (`if_seq_no`/`if_primary_term`), which is also the record version the contract exposes; creations use
 * `create`. No scripts and no update-by-query: nothing beyond the engines' core is needed.
 *
 * Read-your-writes: single-document reads are realtime GETs. Claims and `taskNextRunAt` search the last
 * refresh merged with this process's own writes (claims.ts states the cross-server bound); every other
 * search-based method first waits for a refresh of its index that *started after the method was called*
 * (RefreshBarrier): all writes that completed before the call, by any process, are then visible.
 * Concurrent callers in one process share refreshes: at most one per index in flight and one queued.
 */
import type {
  LeaderLease,
  Operation,
  QueueActivity,
  QueueDepth,
  QueueFlowStatus,
  QueueLimitsRecord,
  QueueState,
  QueueStats,
  RecordVersion,
  RecurringTask,
  RecurringTaskTick,
  Task,
  WorkerSighting,
} from '../../types/index.js';
import type {
  ArchivedTaskDeleteBeforeParams,
  ArchivedTaskDeleteBeforeResult,
  ArchivedTaskGetParams,
  LeaderAttemptElectParams,
  LeaderAttemptReelectParams,
  LeaderGetParams,
  LeaderResignParams,
  OperationCreateParams,
  OperationGetParams,
  OperationListParams,
  OperationPruneParams,
  OperationUpdateParams,
  QueueActivityListParams,
  QueueActivityWriteParams,
  QueueDepthListParams,
  QueueDepthWriteParams,
  QueueFlowPruneParams,
  QueueFlowStatusParams,
  QueueLimitsListParams,
  QueueLimitsSetParams,
  QueueSeriesDeleteBeforeParams,
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
  TaskCountParams,
  TaskCreateManyParams,
  TaskCreateParams,
  TaskDeleteManyParams,
  TaskDeleteResult,
  TaskGetManyParams,
  TaskGetParams,
  TaskListPage,
  TaskListParams,
  TaskListTimedOutParams,
  TaskNextRunAtParams,
  TaskUpdateManyParams,
  TaskUpdateParams,
  TaskWriteResult,
  WorkerClaimList,
  WorkerClaimListParams,
  WorkerSeenListParams,
  WorkerSeenPruneParams,
  WorkerSeenRecordParams,
} from '../store.js';
import { OperatorData } from './operator-data.js';
import { errors } from '../../errors/index.js';
import {
  ASSUMED_BYTES,
  type RecurringDoc,
  SIZE_ONLY_FIELDS,
  type TaskDoc,
  docToRecurring,
  docToTask,
  recurringDocId,
  recurringToDoc,
  taskDocId,
  taskToDoc,
} from './documents.js';
import { type ArchiveOptions, DEFAULT_ARCHIVE, TaskArchiver } from './archive.js';
import { type BulkItem, type BulkOperation, BulkWriter } from './bulk-writer.js';
import { type ClaimOptions, DEFAULT_CLAIM_OPTIONS, SIZE_ONLY_SEARCH_ABOVE, TaskClaims } from './claims.js';
import { withinBudget } from '../../domain/answer-budget.js';
import { FlowControl } from './flow-control.js';
import { FlowStatusReader } from './flow-status.js';
import { ElasticsearchError, EsHttp, type EsHttpOptions, errorType } from './http.js';
import { INDEXED, type IndexNames, indexNames } from './mappings.js';
import { type GetBody, MAX_PAGE, type SearchBody, deleteDoc, getDoc, mgetDocs, putDoc, search, versionOf } from './requests.js';
import { QueueStates } from './queues.js';
import { QueueSeries } from './queue-series.js';
import { type SetupOptions, type SetupReport, checkElasticsearch, dropElasticsearch, setupElasticsearch } from './setup.js';
import { LocalTaskWrites, RefreshBarrier } from './visibility.js';

export type { ArchiveOptions } from './archive.js';

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

const LEADER_DOC = 'leader';
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

export class ElasticsearchStore implements Store {
  readonly capabilities: StoreCapabilities = { kind: 'elasticsearch' };
  readonly http: EsHttp;
  /** Whether `http` was made here (and so is closed by `close()`). */
  private readonly ownsHttp: boolean;
  readonly names: IndexNames;
  private readonly autoSetup: boolean;
  private readonly archive: ArchiveOptions;
  private readonly tasksRefresh: RefreshBarrier;
  /** This process's task writes that no finished refresh is known to cover (read-your-writes for claims). */
  private readonly localWrites: LocalTaskWrites;
  /** Every task write of one event-loop turn goes out as one _bulk. */
  private readonly writer: BulkWriter;
  private readonly claims: TaskClaims;
  /** Flow control (issue 15): limits, holds, token buckets (flow-control.ts). */
  private readonly flow: FlowControl;
  private readonly flowStatus: FlowStatusReader;
  private readonly archiver: TaskArchiver;
  private readonly queues: QueueStates;
  private readonly series: QueueSeries;
  private readonly archiveRefresh: RefreshBarrier;
  private readonly recurringRefresh: RefreshBarrier;
  private readonly metaRefresh: RefreshBarrier;
  private readonly operator: OperatorData;

  constructor(options: ElasticsearchStoreOptions) {
    this.ownsHttp = !(options.http instanceof EsHttp);
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
    const claimOptions = { ...DEFAULT_CLAIM_OPTIONS, ...options.claims };
    this.localWrites = new LocalTaskWrites(this.tasksRefresh, claimOptions.maxLocalWrites);
    this.writer = new BulkWriter(this.http);
    this.flow = new FlowControl(this.http, this.names, this.writer, () => this.tasksRefresh.wait());
    this.flowStatus = new FlowStatusReader(this.http, this.names, this.flow, this.tasksRefresh);
    this.claims = new TaskClaims(this.http, this.names, this.writer, this.tasksRefresh, this.localWrites, claimOptions, this.flow);
    this.archiver = new TaskArchiver(this.http, this.names, this.writer, this.tasksRefresh, this.archiveRefresh, this.localWrites, this.archive);
    this.queues = new QueueStates(this.http, this.names, this.tasksRefresh);
    this.series = new QueueSeries(this.http, this.names);
    this.metaRefresh = new RefreshBarrier(refresher(this.names.meta));
    this.operator = new OperatorData(this.http, this.names, this.tasksRefresh, this.metaRefresh);
  }

  // ── Schema ──────────────────────────────────────────────────────────────────────────────────────────

  /** What `tasques setup` does: install or upgrade templates, indices, the archive alias and ILM policy. */
  async setup(): Promise<SetupReport> {
    const report = await setupElasticsearch(this.http, this.names, this.setupOptions());
    this.archiver.ilmManaged = report.ilm;
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
    else this.archiver.ilmManaged = (await checkElasticsearch(this.http, this.names)).ilm;
  }

  /** Deletes every index, alias and template of this prefix. For tests and operators; not in the contract. */
  async drop(): Promise<void> {
    await dropElasticsearch(this.http, this.names);
  }

  async close(): Promise<void> {
    await this.claims.close().catch(() => undefined); // slots held ahead for claims that will not come
    await this.flow.flushReleases().catch(() => undefined); // slots freed by the last writes
    // The client's connection pool is this store's when it made the client (a shared one is its owner's to
    // close); undici's close lets requests in flight finish first.
    if (this.ownsHttp) await this.http.close();
  }

  // ── Small helpers ───────────────────────────────────────────────────────────────────────────────────

  private async search<T>(index: string, body: Record<string, unknown>): Promise<SearchBody<T>> {
    return search<T>(this.http, index, body);
  }

  private async getDoc<T>(index: string, id: string): Promise<GetBody<T> | undefined> {
    return getDoc<T>(this.http, index, id);
  }

  private async putDoc(
    index: string,
    id: string,
    doc: unknown,
    opts: { expected?: RecordVersion; create?: boolean },
  ): Promise<{ status: number; version?: RecordVersion }> {
    return putDoc(this.http, index, id, doc, opts);
  }

  private async deleteDoc(index: string, id: string, expected?: RecordVersion): Promise<number> {
    return deleteDoc(this.http, index, id, expected);
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
    const filter = taskFilters(params);
    await this.tasksRefresh.wait();
    // A long page reads the sizes first, then only the documents that fit the page's byte budget.
    const sizeOnly = limit > SIZE_ONLY_SEARCH_ABOVE && params.maxBytes !== undefined;
    const found = await this.search<TaskDoc>(this.names.tasks, {
      size: limit,
      seq_no_primary_term: true,
      track_total_hits: false,
      ...(sizeOnly ? { _source: SIZE_ONLY_FIELDS } : {}),
      query: { bool: { filter } },
      sort: [{ [INDEXED.createdAt]: 'desc' }, { queue: 'asc' }, { id: 'asc' }],
      ...(params.after ? { search_after: [params.after.createdAt, params.after.queue, params.after.id] } : {}),
    });
    let hits = found.hits.hits;
    if (sizeOnly) hits = withinBudget(hits, limit, params.maxBytes ?? Number.POSITIVE_INFINITY, (h) => h._source.source_bytes ?? ASSUMED_BYTES);
    const lastHit = hits[hits.length - 1];
    const tasks = sizeOnly ? await this.readListed(hits) : hits.map((h) => docToTask(h._source, versionOf(h)));
    // A full page (or one ended by its byte budget) has a next, even if nothing follows (the contract).
    if (!lastHit || (hits.length < limit && hits.length === found.hits.hits.length)) return { tasks };
    return { tasks, next: { createdAt: lastHit._source.created_at, queue: lastHit._source.queue, id: lastHit._source.id } };
  }

  /** The whole documents of a size-only listing's hits, as they are now (one realtime `_mget`). */
  private async readListed(hits: { _index: string; _id: string; _source: Pick<TaskDoc, 'source_bytes'> }[]): Promise<Task[]> {
    if (hits.length === 0) return [];
    const refs = hits.map((h) => ({ index: h._index, id: h._id, bytes: h._source.source_bytes ?? ASSUMED_BYTES }));
    const docs = await mgetDocs<TaskDoc>(this.http, refs);
    return docs.filter((d) => d.found).map((d) => docToTask(d._source, versionOf(d)));
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

  // ── Archive (archive.ts) ──────────────────────────────────────────────────────────────────────────

  async taskArchive(params: TaskArchiveParams): Promise<TaskArchiveResult> {
    return this.archiver.archive(params);
  }

  async archivedTaskGet(params: ArchivedTaskGetParams): Promise<Task | undefined> {
    return this.archiver.get(params);
  }

  async archivedTaskDeleteBefore(params: ArchivedTaskDeleteBeforeParams): Promise<ArchivedTaskDeleteBeforeResult> {
    return this.archiver.deleteBefore(params);
  }

  /** Rolls the archive over now, whatever the conditions (tests, operators). Returns the new index. */
  async archiveRollOver(): Promise<string> {
    return this.archiver.rollOver();
  }

  // ── Queues: operator state and statistics (queues.ts) ───────────────────────────────────────────────

  // ── Flow control (issue 15; flow-control.ts, flow-claims.ts) ───────────────────────────────────────

  queueFlowStatus(params: QueueFlowStatusParams): Promise<QueueFlowStatus> {
    return this.flowStatus.status(params);
  }

  queueLimitsList(params: QueueLimitsListParams): Promise<QueueLimitsRecord[]> {
    return this.flow.limitsList(params);
  }

  queueLimitsSet(params: QueueLimitsSetParams): Promise<QueueLimitsRecord | undefined> {
    return this.flow.limitsSet(params);
  }

  // ── Queue series (the dashboard's charts) ─────────────────────────────────────────────────────────────

  queueActivityList(params: QueueActivityListParams): Promise<QueueActivity[]> {
    return this.series.activityList(params);
  }

  queueActivityWrite(params: QueueActivityWriteParams): Promise<void> {
    return this.series.activityWrite(params);
  }

  queueDepthList(params: QueueDepthListParams): Promise<QueueDepth[]> {
    return this.series.depthList(params);
  }

  queueDepthWrite(params: QueueDepthWriteParams): Promise<void> {
    return this.series.depthWrite(params);
  }

  queueFlowPrune(params: QueueFlowPruneParams): Promise<number> {
    return this.flow.prune(params);
  }

  queueSeriesDeleteBefore(params: QueueSeriesDeleteBeforeParams): Promise<{ deleted: number }> {
    return this.series.deleteBefore(params);
  }

  async queueSetPaused(params: QueueSetPausedParams): Promise<QueueState> {
    return this.queues.setPaused(params);
  }

  async queueStateList(): Promise<QueueState[]> {
    return this.queues.stateList();
  }

  async queueStatsList(params: QueueStatsListParams): Promise<QueueStats[]> {
    return this.queues.statsList(params);
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
    // Keyed tasks make their queue flow-controlled (fair groups) before any claim can see them.
    const keyed = tasks.flatMap((t) => (t.concurrencyKey !== undefined ? [t.queue] : []));
    if (keyed.length > 0) await this.flow.registerKeyed(keyed);
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
    // Tasks that left CLAIMED give their concurrency slots back (after the write: holds never undercount).
    const left = updates.flatMap(({ task, expectedVersion }, i) =>
      results[i] && task.state !== 'claimed'
        ? [{ queue: task.queue, concurrencyKey: task.concurrencyKey, docId: taskDocId(task.queue, task.id), replaced: expectedVersion, at: task.modifiedAt }]
        : [],
    );
    if (left.length > 0) await this.flow.releaseForWrites(left);
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

  // ── Operator data (issue 16; operator-data.ts): bulk operations, deletes, counts, workers ─────────────

  operationCreate(params: OperationCreateParams): Promise<Operation> {
    return this.operator.operationCreate(params);
  }

  operationGet(params: OperationGetParams): Promise<Operation | undefined> {
    return this.operator.operationGet(params);
  }

  operationList(params: OperationListParams): Promise<Operation[]> {
    return this.operator.operationList(params);
  }

  operationPrune(params: OperationPruneParams): Promise<number> {
    return this.operator.operationPrune(params);
  }

  operationUpdate(params: OperationUpdateParams): Promise<Operation> {
    return this.operator.operationUpdate(params);
  }

  async taskCount(params: TaskCountParams): Promise<number> {
    if (!(params.max >= 1)) return 0;
    await this.tasksRefresh.wait();
    const found = await this.search<never>(this.names.tasks, {
      size: 0,
      track_total_hits: params.max,
      query: { bool: { filter: taskFilters(params) } },
    });
    const total = (found.hits as unknown as { total?: { value: number } }).total?.value ?? 0;
    return Math.min(total, params.max);
  }

  async taskDeleteMany({ deletes }: TaskDeleteManyParams): Promise<TaskDeleteResult[]> {
    if (deletes.length === 0) return [];
    const items = await this.bulk(
      deletes.map(({ queue, id, expectedVersion }) => ({
        action: {
          delete: {
            _index: this.names.tasks,
            _id: taskDocId(queue, id),
            if_seq_no: expectedVersion.seqNum,
            if_primary_term: expectedVersion.primaryTerm,
          },
        },
      })),
    );
    const results: (TaskDeleteResult | undefined)[] = items.map((item) => {
      if (item.status === 200) {
        this.localWrites.forget(item._id);
        return { deleted: true };
      }
      if (item.status === 409 || item.status === 404) {
        this.localWrites.forget(item._id);
        return undefined; // conflict or missing: told apart below
      }
      throw this.bulkItemError('delete', item);
    });
    const unresolved = results.flatMap((r, i) => (r === undefined ? [i] : []));
    if (unresolved.length > 0) {
      const found = await this.taskGetMany({ keys: unresolved.map((i) => deletes[i]!) });
      unresolved.forEach((i, k) => {
        const { queue, id } = deletes[i]!;
        results[i] = { deleted: false, error: found[k] ? errors.taskVersionConflict(id) : errors.taskNotFound(queue, id) };
      });
    }
    return results as TaskDeleteResult[];
  }

  workerClaimList(params: WorkerClaimListParams): Promise<WorkerClaimList> {
    return this.operator.workerClaimList(params);
  }

  workerSeenList(params: WorkerSeenListParams): Promise<WorkerSighting[]> {
    return this.operator.workerSeenList(params);
  }

  workerSeenPrune(params: WorkerSeenPruneParams): Promise<number> {
    return this.operator.workerSeenPrune(params);
  }

  workerSeenRecord(params: WorkerSeenRecordParams): Promise<void> {
    return this.operator.workerSeenRecord(params);
  }

  private bulkItemError(operation: string, item: BulkItem): ElasticsearchError {
    const reason = item.error ? `${item.error.type ?? 'error'}: ${item.error.reason ?? ''}` : 'no result';
    return new ElasticsearchError(`bulk ${operation} of ${item._id}: HTTP ${item.status} ${reason}`, item.status, item.error?.type);
  }
}

/** The query filters of the `taskList` filters (also `taskCount`'s). */
function taskFilters(params: Omit<TaskListParams, 'limit' | 'after' | 'maxBytes'>): Record<string, unknown>[] {
  const filter: Record<string, unknown>[] = [];
  if (params.queue !== undefined) filter.push({ term: { queue: params.queue } });
  if (params.states && params.states.length > 0) filter.push({ terms: { state: [...new Set(params.states)] } });
  if (params.kind !== undefined) filter.push({ term: { [INDEXED.kind]: params.kind } });
  if (params.recurringTaskId !== undefined) filter.push({ term: { recurring_task_id: params.recurringTaskId } });
  if (params.createdFrom !== undefined || params.createdTo !== undefined) {
    filter.push({ range: { [INDEXED.createdAt]: { gte: params.createdFrom, lt: params.createdTo } } });
  }
  if (params.scheduled !== undefined) {
    const scheduled = { bool: { filter: [{ terms: { state: ['queued', 'failed'] } }, { range: { run_at: { gt: params.scheduled.now } } }] } };
    filter.push(params.scheduled.scheduled ? scheduled : { bool: { must_not: [scheduled] } });
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
  return filter;
}
