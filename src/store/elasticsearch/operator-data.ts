/**
 * The operator data of issue 16 in the Elasticsearch/OpenSearch store, all in the small meta index and
 * without any new indexed field (so an existing install needs no mapping change):
 * - bulk operations: one document each (`_id` `operation/<id>`, `kind: operation`), the record in
 *   `_source`; listed by a `kind` term search, sorted here (a few hundred records at most);
 * - recently seen workers: one document (`_id` `workers`) holding every sighting, read-merge-CAS like the
 *   queue-states document; at most MAX_SIGHTINGS workers, the least recently seen dropped first;
 * - who holds claims: the CLAIMED tasks' `_source` (worker, queue, claim and report times), grouped here:
 *   `last_claimed.worker_id` has no doc values, and indexing it would cost every claim a field.
 */
import { createHash } from 'node:crypto';
import { errors } from '../../errors/index.js';
import type { NewOperationRecord, Operation, WorkerSighting } from '../../types/index.js';
import type {
  OperationCreateParams,
  OperationGetParams,
  OperationListParams,
  OperationPruneParams,
  OperationUpdateParams,
  WorkerClaimList,
  WorkerClaimListParams,
  WorkerSeenListParams,
  WorkerSeenPruneParams,
  WorkerSeenRecordParams,
} from '../store.js';
import { groupWorkerClaims, type WorkerQueueClaims } from '../worker-claims.js';
import { ElasticsearchError, type EsHttp } from './http.js';
import type { IndexNames } from './mappings.js';
import { type GetBody, MAX_PAGE, getDoc, putDoc, search, versionOf } from './requests.js';
import type { RefreshBarrier } from './visibility.js';

const WORKERS_DOC = 'workers';
/**
 * `_id` of an operation. Ids are generated and short; any other (looked up through the API) that is long
 * or `#`-led is hashed, so the `_id` stays within the engine's 512 bytes. The document keeps the real id.
 */
const operationDocId = (id: string) =>
  `operation/${!id.startsWith('#') && Buffer.byteLength(id, 'utf8') <= 400 ? id : `#${createHash('sha256').update(id).digest('hex')}`}`;
const CONFLICT_RETRIES = 50;
/** Most workers the sightings document keeps. */
export const MAX_SIGHTINGS = 10_000;
/** Most operation records `operationList` sorts. */
const MAX_OPERATIONS_SCANNED = MAX_PAGE;

interface OperationDoc {
  kind: 'operation';
  operation: NewOperationRecord;
}

interface WorkersDoc {
  kind: 'workers';
  sightings: { worker_id: string; last_seen_at: number; queues: string[] }[];
}

interface ClaimedSource {
  queue: string;
  last_claimed?: { worker_id: string; claimed_at: number; last_report?: { at: number } };
}

export class OperatorData {
  constructor(
    private readonly http: EsHttp,
    private readonly names: IndexNames,
    private readonly tasksRefresh: RefreshBarrier,
    private readonly metaRefresh: RefreshBarrier,
  ) {}

  // ── Bulk operations ────────────────────────────────────────────────────────────────────────────────

  async operationCreate({ operation }: OperationCreateParams): Promise<Operation> {
    const doc: OperationDoc = { kind: 'operation', operation };
    const result = await putDoc(this.http, this.names.meta, operationDocId(operation.id), doc, { create: true });
    if (result.version) return { ...operation, version: result.version };
    if (result.status === 409) throw errors.operationAlreadyExists(operation.id);
    throw new ElasticsearchError(`cannot store operation ${operation.id}: index ${this.names.meta} is missing`, result.status);
  }

  async operationGet({ id }: OperationGetParams): Promise<Operation | undefined> {
    const found = await getDoc<OperationDoc>(this.http, this.names.meta, operationDocId(id));
    if (!found || found._source.kind !== 'operation' || found._source.operation.id !== id) return undefined;
    return { ...found._source.operation, version: versionOf(found) };
  }

  async operationList({ limit }: OperationListParams): Promise<Operation[]> {
    if (!(limit >= 1)) return [];
    return (await this.operationHits())
      .map((h) => ({ ...h._source.operation, version: versionOf(h) }))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, limit);
  }

  async operationUpdate({ operation, expectedVersion }: OperationUpdateParams): Promise<Operation> {
    const doc: OperationDoc = { kind: 'operation', operation };
    const result = await putDoc(this.http, this.names.meta, operationDocId(operation.id), doc, { expected: expectedVersion });
    // A CAS write never creates: 409 also when it does not exist.
    if (!result.version) throw errors.operationVersionConflict(operation.id);
    return { ...operation, version: result.version };
  }

  /**
   * Operation records are few (retention keeps them so): read them all (up to a page), choose in memory,
   * delete by id in one `_bulk`. A record changed since it was read is left (its delete carries its version).
   */
  async operationPrune({ finishedBefore, keepFinished, limit }: OperationPruneParams): Promise<number> {
    if (!(limit >= 1)) return 0;
    const finished = (await this.operationHits())
      .filter((h) => h._source.operation.state !== 'running')
      .sort((a, b) => b._source.operation.createdAt - a._source.operation.createdAt || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
    const doomed = finished
      .filter((h, newest) => h._source.operation.modifiedAt < finishedBefore || newest >= Math.max(0, keepFinished))
      .reverse() // oldest first
      .slice(0, limit);
    if (doomed.length === 0) return 0;
    const res = await this.http.expect<{ items: { delete: { status: number } }[] }>({
      method: 'POST',
      path: '/_bulk',
      body: doomed.map((h) => ({ delete: { _index: h._index, _id: h._id, if_seq_no: h._seq_no, if_primary_term: h._primary_term } })),
      ndjson: true,
    });
    return res.body.items.filter((item) => item.delete.status === 200).length;
  }

  /** Every operation record (up to MAX_OPERATIONS_SCANNED; retention keeps far fewer), after a refresh. */
  private async operationHits() {
    await this.metaRefresh.wait();
    const found = await search<OperationDoc>(this.http, this.names.meta, {
      size: MAX_OPERATIONS_SCANNED,
      seq_no_primary_term: true,
      track_total_hits: false,
      query: { term: { kind: 'operation' } },
    });
    return found.hits.hits;
  }

  // ── Workers ────────────────────────────────────────────────────────────────────────────────────────

  async workerClaimList({ limit, maxTasks }: WorkerClaimListParams): Promise<WorkerClaimList> {
    const scanned = Math.max(0, Math.min(maxTasks, MAX_PAGE - 1));
    await this.tasksRefresh.wait();
    const found = await search<ClaimedSource>(this.http, this.names.tasks, {
      size: scanned + 1,
      track_total_hits: false,
      _source: ['queue', 'last_claimed.worker_id', 'last_claimed.claimed_at', 'last_claimed.last_report.at'],
      query: { bool: { filter: [{ term: { state: 'claimed' } }] } },
    });
    const hits = found.hits.hits;
    const groups: WorkerQueueClaims[] = [];
    for (const h of hits.slice(0, scanned)) {
      const lc = h._source.last_claimed;
      if (!lc) continue;
      groups.push({ workerId: lc.worker_id, queue: h._source.queue, claimed: 1, oldestClaimedAt: lc.claimed_at, lastReportAt: lc.last_report?.at });
    }
    return groupWorkerClaims(groups, limit, hits.length <= scanned);
  }

  private async workersDoc(): Promise<GetBody<WorkersDoc> | undefined> {
    return getDoc<WorkersDoc>(this.http, this.names.meta, WORKERS_DOC);
  }

  async workerSeenList({ since, limit }: WorkerSeenListParams): Promise<WorkerSighting[]> {
    if (!(limit >= 1)) return [];
    const found = await this.workersDoc();
    return (found?._source.sightings ?? [])
      .filter((s) => s.last_seen_at >= since)
      .sort((a, b) => b.last_seen_at - a.last_seen_at || (a.worker_id < b.worker_id ? -1 : a.worker_id > b.worker_id ? 1 : 0))
      .slice(0, limit)
      .map((s) => ({ workerId: s.worker_id, lastSeenAt: s.last_seen_at, queues: s.queues }));
  }

  async workerSeenPrune({ before }: WorkerSeenPruneParams): Promise<number> {
    let pruned = 0;
    await this.changeWorkers((sightings) => {
      const kept = sightings.filter((s) => s.last_seen_at >= before);
      pruned = sightings.length - kept.length;
      return pruned === 0 ? undefined : kept;
    });
    return pruned;
  }

  async workerSeenRecord({ sightings }: WorkerSeenRecordParams): Promise<void> {
    if (sightings.length === 0) return;
    await this.changeWorkers((stored) => {
      const byId = new Map(stored.map((s) => [s.worker_id, s]));
      let changed = false;
      for (const w of sightings) {
        const known = byId.get(w.workerId);
        if (known && known.last_seen_at >= w.lastSeenAt) continue;
        byId.set(w.workerId, { worker_id: w.workerId, last_seen_at: w.lastSeenAt, queues: w.queues });
        changed = true;
      }
      if (!changed) return undefined;
      const next = [...byId.values()];
      if (next.length > MAX_SIGHTINGS) next.sort((a, b) => b.last_seen_at - a.last_seen_at).length = MAX_SIGHTINGS;
      return next;
    });
  }

  /** Read, change (undefined: nothing to write), compare-and-set the sightings document; retried on conflict. */
  private async changeWorkers(change: (sightings: WorkersDoc['sightings']) => WorkersDoc['sightings'] | undefined): Promise<void> {
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const current = await this.workersDoc();
      const next = change(current?._source.sightings ?? []);
      if (next === undefined) return;
      const doc: WorkersDoc = { kind: 'workers', sightings: next };
      const result = current
        ? await putDoc(this.http, this.names.meta, WORKERS_DOC, doc, { expected: versionOf(current) })
        : await putDoc(this.http, this.names.meta, WORKERS_DOC, doc, { create: true });
      if (result.version) return;
    }
    throw new ElasticsearchError('worker sightings: too many concurrent writers', 409);
  }
}
