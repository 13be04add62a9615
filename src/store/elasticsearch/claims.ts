/**
 * The claim path of the Elasticsearch/OpenSearch store (docs/design/elasticsearch-claims.md):
 *
 * - claims of one event-loop turn over the same queues form a batch: one search, candidates dealt out so
 *   that they never compete with each other, one set of compare-and-set writes (through the BulkWriter,
 *   so they share a `_bulk` with the other writes of the turn);
 * - the search runs on the last refresh (refreshing first only when that is older than the staleness
 *   bound), merged with this process's own writes that no refresh is known to cover (LocalTaskWrites):
 *   a task written on this server is claimable at once, and a hit this server has since overwritten is
 *   not taken for current;
 * - a claim that comes back short (fewer than `amount`) on a snapshot older than its call refreshes and
 *   tries once more, so that a short claim has seen every write that completed before it was called.
 */
import { randomBytes } from 'node:crypto';
import { CLAIM_ORDER_ES_SORT, compareClaimOrder } from '../../domain/claim-order.js';
import { intoClaimed } from '../../domain/task-lifecycle.js';
import type { Task } from '../../types/index.js';
import type { TaskClaimParams } from '../store.js';
import type { BulkItem, BulkWriter } from './bulk-writer.js';
import { ASSUMED_BYTES, LARGE_DOC_BYTES, SIZE_ONLY_FIELDS, type TaskDoc, docToTask, taskToDoc, taskWriteOperation } from './documents.js';
import { ClaimSpread } from './claim-spread.js';
import { type FlowCandidate, FlowClaimPlanner, holdReleaseOf } from './flow-claims.js';
import type { FlowControl, FlowState, HoldRelease } from './flow-control.js';
import { ElasticsearchError, type EsHttp } from './http.js';
import type { IndexNames } from './mappings.js';
import { MAX_PAGE, getDoc, mgetDocs, search, versionOf } from './requests.js';
import { type LocalTaskWrites, type RefreshBarrier, SharedRead, isNewer } from './visibility.js';

export interface ClaimOptions {
  /** Search size = max(Σamount × multiplier, Σamount + extra). */
  searchMultiplier: number;
  searchExtra: number;
  /** A claim refreshes before it searches when the last refresh was sent longer ago than this. */
  maxStalenessMs: number;
  /** ... or when this process has more writes than this that no refresh is known to cover. */
  maxLocalWrites: number;
}

export const DEFAULT_CLAIM_OPTIONS: ClaimOptions = {
  searchMultiplier: 2,
  searchExtra: 8,
  maxStalenessMs: 250,
  maxLocalWrites: 1000,
};

/**
 * How long a claim reuses a read of the paused queues, from when the read was sent; `queueSetPaused`
 * resolves this long after its write, so every claim that starts after it resolves sees the pause.
 */
export const PAUSED_READ_REUSE_MS = 100;

/** The queue-states document and what a claim reads of it. */
export const QUEUES_DOC = 'queues';
export interface PausedQueuesDoc {
  paused_queues: string[];
}

interface ClaimRequest {
  amount: number;
  workerId: string;
  now: number;
  /** Refreshes sent when the claim was called: a snapshot newer than this has every write before the call. */
  calledAt: number;
  /** Whether a pass searched a snapshot that holds every write completed before the call. */
  sawAll: boolean;
  claimed: Task[];
  /** Each claimed task's place in the order of its pass (`claimed` is handed out in this order). */
  ranks: number[];
  /** Whether a flow-controlled queue took part: then the order is the fair one, not the claim order. */
  fair: boolean;
  /** TaskClaimParams.throttled, filled in by the flow-control path. */
  throttled: Map<string, number> | undefined;
  /** TaskClaimParams.maxBytes: answer bytes the request may take (at least one task), and taken so far. */
  maxBytes: number;
  answerBytes: number;
  /** Document bytes it may read (twice maxBytes: reports, results and error history come along), and read. */
  sourceBytes: number;
  resolve(tasks: Task[]): void;
  reject(err: unknown): void;
}

interface ClaimBatch {
  queues: string[];
  requests: ClaimRequest[];
}

/**
 * The hits of this process's last claim search for a queue set, reused by later claims on the same
 * snapshot: a search on an unchanged snapshot would return the same hits, less what this process and
 * others have written since, which the claim path skips anyway (own records by version, others' by 409).
 * See docs/design/elasticsearch-claims.md, "Reusing a search".
 */
interface SearchedHits {
  /** The refresh the search ran on: the hits are valid while it is the last one finished. */
  snapshot: number;
  /** The search took tasks due by this time (a little past its `now`, so that claims soon after find them). */
  dueBy: number;
  /** Whether the search returned every match (fewer hits than its size). */
  complete: boolean;
  /** In claim order. */
  hits: Candidate[];
  /** Hits a claim has written since (won, or lost to another writer): no longer candidates. */
  taken: Set<string>;
  /** The largest `source_bytes` among the hits as searched (0 without hits). */
  largest: number;
}

/**
 * A task a claim may take: a search hit, or a waiting document this process wrote (flow: with its holds).
 * `partial`: a hit of a size-only search, whose whole document is read only once it is chosen.
 */
type Candidate = FlowCandidate & { partial?: boolean };

/** A claim search asking for more hits than this reads their sizes only, then the documents it chose. */
export const SIZE_ONLY_SEARCH_ABOVE = 32;
/**
 * ... unless it asks for at most this many and the last search of the same queues found no document over
 * LARGE_DOC_BYTES: then it reads whole documents (no `_mget` after it). Two servers (two slots) or claims
 * of 10 passed 32 and paid a read of every task they claimed. At worst (large tasks appear right after
 * small ones) one such search reads this many whole documents, once.
 */
export const WHOLE_SEARCH_OF_SMALL_DOCS_MAX = 128;

const answerBytesOf = (c: Candidate) => c.doc.answer_bytes ?? ASSUMED_BYTES;
const sourceBytesOf = (c: Candidate) => c.doc.source_bytes ?? ASSUMED_BYTES;

/** Whether `request` can take one more task of these sizes: within its budgets, or its first task. */
function fits(request: ClaimRequest, taken: number, answer: number, source: number): boolean {
  if (request.claimed.length + taken === 0) return true;
  return request.answerBytes + answer <= request.maxBytes && request.sourceBytes + source <= 2 * request.maxBytes;
}

const shuffle = <T>(items: T[]): T[] => {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
};

const docOrder = (a: TaskDoc, b: TaskDoc) =>
  compareClaimOrder(
    { priority: a.priority, runAt: a.run_at, retryTimes: a.retry_times, attempted: a.attempted },
    { priority: b.priority, runAt: b.run_at, retryTimes: b.retry_times, attempted: b.attempted },
  );

export class TaskClaims {
  /** Batches of this turn, by queue set; each runs once the turn's I/O callbacks have run. */
  private readonly open = new Map<string, ClaimBatch>();
  private readonly planner: FlowClaimPlanner;
  /** Passes run so far: ranks of later passes come after those of earlier ones. */
  private passes = 0;
  /**
   * Tasks this process is writing CLAIMED right now (a CAS in flight). Batches of later turns overlap
   * with it and search the same snapshot: without this they would pick the same best candidates and
   * lose them to this process itself (409s that cost the engine a refused write and the claim a round).
   */
  private readonly claiming = new Set<string>();
  /** The paused queues, read by a realtime GET shared for PAUSED_READ_REUSE_MS (queues.ts waits that out). */
  private readonly pausedRead = new SharedRead(PAUSED_READ_REUSE_MS, async () => {
    const found = await getDoc<PausedQueuesDoc>(this.http, this.names.meta, QUEUES_DOC);
    return new Set(found?._source.paused_queues ?? []);
  });
  /** The last search's hits per queue set (SearchedHits). */
  private readonly searched = new Map<string, SearchedHits>();
  /** Which candidates this server prefers when other servers claim from the same queues (claim-spread.ts). */
  readonly spread = new ClaimSpread();

  constructor(
    private readonly http: EsHttp,
    private readonly names: IndexNames,
    private readonly writer: BulkWriter,
    private readonly refresh: RefreshBarrier,
    private readonly local: LocalTaskWrites,
    private readonly options: ClaimOptions,
    private readonly flow: FlowControl,
  ) {
    this.planner = new FlowClaimPlanner(http, names, flow, () => [this.pausedQueues(), ...this.localWritesFilter()]);
  }

  /** Matches the tasks of paused queues (a terms lookup, resolved by a realtime GET inside the engine). */
  pausedQueues(): Record<string, unknown> {
    return { terms: { queue: { index: this.names.meta, id: QUEUES_DOC, path: 'paused_queues' } } };
  }

  /** Whether a search should refresh first: its snapshot is too old, or this process wrote too much since. */
  needsRefresh(): boolean {
    return this.refresh.age() > this.options.maxStalenessMs || this.local.size > this.options.maxLocalWrites;
  }

  claim({ queues, amount, workerId, now, throttled, maxBytes }: TaskClaimParams): Promise<Task[]> {
    if (amount <= 0) return Promise.resolve([]);
    const unique = [...new Set(queues)].sort();
    const key = JSON.stringify(unique);
    return new Promise<Task[]>((resolve, reject) => {
      const request: ClaimRequest = {
        amount,
        workerId,
        now,
        calledAt: this.refresh.sentCount,
        sawAll: false,
        claimed: [],
        ranks: [],
        fair: false,
        throttled,
        maxBytes: maxBytes ?? Number.POSITIVE_INFINITY,
        answerBytes: 0,
        sourceBytes: 0,
        resolve,
        reject,
      };
      const batch = this.open.get(key);
      if (batch) {
        batch.requests.push(request);
        return;
      }
      const created: ClaimBatch = { queues: unique, requests: [request] };
      this.open.set(key, created);
      setImmediate(() => {
        this.open.delete(key);
        void this.run(created);
      });
    });
  }

  private async run(batch: ClaimBatch): Promise<void> {
    const { requests } = batch;
    let failure: unknown;
    try {
      if (this.needsRefresh()) await this.refresh.wait();
      await this.pass(batch.queues, requests);
      const short = requests.filter((r) => r.claimed.length < r.amount && !r.sawAll);
      if (short.length > 0) {
        // A short claim must have seen every write completed before it was called, by any process.
        await this.refresh.wait();
        await this.pass(batch.queues, short);
      }
    } catch (err) {
      failure = err;
    }
    for (const r of requests) {
      // What a request won is handed out even if a later step failed (never left claimed by nobody).
      if (r.claimed.length === 0 && failure !== undefined) r.reject(failure);
      else if (!r.fair) r.resolve(r.claimed.sort(compareClaimOrder));
      else r.resolve(r.claimed.map((task, i) => ({ task, rank: r.ranks[i]! })).sort((a, b) => a.rank - b.rank).map((x) => x.task));
    }
  }

  /**
   * One search (merged with this process's writes), then rounds of compare-and-set writes. Flow-controlled
   * queues (limits or keyed tasks) are left out of that search and planned apart (flow-claims.ts): their
   * candidates come with holds and tokens already taken, and are merged with the others in claim order
   * of their sequences' heads.
   */
  private async pass(queues: string[], requests: ClaimRequest[]): Promise<void> {
    const wanted = requests.reduce((n, r) => n + r.amount - r.claimed.length, 0);
    const maxNow = Math.max(...requests.map((r) => r.now));
    const queueSet = queues.length > 0 ? new Set(queues) : undefined;
    const size = Math.min(
      MAX_PAGE,
      // With several slots (claim-spread.ts) only about 1/slots of the hits are this server's share.
      Math.max(wanted * this.options.searchMultiplier, wanted + this.options.searchExtra) * this.spread.slots + this.claiming.size,
    );
    const localWaiting = [...this.local.waitingWrites()].filter(
      (w) => (!queueSet || queueSet.has(w.doc.queue)) && w.doc.run_at <= maxNow && w.doc.remaining_attempts > 0,
    );
    const snapshot = this.refresh.completed;
    const key = queues.join('\u0000');
    const reusable = this.reusableHits(key, snapshot, maxNow, wanted);
    const [searched, paused, flow] = await Promise.all([
      reusable ?? this.searchHits(key, queues, snapshot, maxNow, size),
      // Own waiting writes and reused hits are not filtered by a search: read the paused set (realtime).
      localWaiting.length > 0 || reusable ? this.pausedQueueNames() : Promise.resolve(new Set<string>()),
      // Realtime: every queueLimitsSet that resolved before this claim is in it.
      this.flow.claimState(),
    ]);
    for (const r of requests) if (snapshot > r.calledAt) r.sawAll = true;

    const candidates = new Map<string, Candidate>();
    for (const hit of searched.hits) {
      if (this.claiming.has(hit.docId)) continue; // another batch of this process is claiming it
      if (hit.doc.run_at > maxNow) continue; // a reused search's hit not due yet
      // A reused search was filtered by the paused and flow sets of its time: these are the current ones.
      if (reusable && (paused.has(hit.doc.queue) || flow.flowQueues.has(hit.doc.queue))) continue;
      const mine = this.local.get(hit.docId);
      if (mine && !isNewer(hit.version, { _seq_no: mine.version.seqNum, _primary_term: mine.version.primaryTerm })) {
        continue; // this process wrote it since: its own record stands in (if the task still waits)
      }
      if (mine) this.local.forget(hit.docId); // another process wrote it after us
      candidates.set(hit.docId, hit);
    }
    const localFlow = new Map<string, Candidate[]>();
    for (const w of localWaiting) {
      if (paused.has(w.doc.queue) || candidates.has(w.docId) || this.claiming.has(w.docId) || this.local.get(w.docId) !== w) continue;
      const candidate: Candidate = { index: w.index, docId: w.docId, doc: w.doc, version: w.version, ...(w.partial ? { partial: true } : {}) };
      if (flow.flowQueues.has(w.doc.queue)) localFlow.set(w.doc.queue, [...(localFlow.get(w.doc.queue) ?? []), candidate]);
      else candidates.set(w.docId, candidate);
    }
    let ordered = [...candidates.values()].sort((a, b) => docOrder(a.doc, b.doc));
    const token = randomBytes(12).toString('base64url');
    const flowQueues = [...flow.flowQueues].filter((q) => !queueSet || queueSet.has(q));
    if (flowQueues.length > 0) {
      ordered = await this.withFlowCandidates(ordered, flowQueues, flow, localFlow, requests, wanted, maxNow, token);
      for (const r of requests) r.fair = true;
    }
    const base = ++this.passes * 1e7;
    ordered.forEach((c, i) => (c.rank = base + i));

    // First round in claim order, each request taking the best candidates still free (and due at its
    // own `now`); later rounds, after losses to other processes, from the rest in random order. A flow
    // candidate is offered in the first round only (its holds were taken for this claim), and a flow
    // claim keeps its fair order. Plain candidates are split by share when other servers compete for
    // them (claim-spread.ts): the first round offers this server's share only, later rounds the rest,
    // its share still first (taking another server's share makes that server lose its next round).
    const spreading = flowQueues.length === 0;
    const share = spreading ? this.spread.split(ordered, (c) => c.docId) : { own: ordered, others: [] };
    let pool = share.own.length > 0 ? share.own : share.others;
    let deferred = share.own.length > 0 ? share.others : [];
    const unclaimedHolds: HoldRelease[] = [];
    for (let round = 0; pool.length > 0; round++) {
      const windows = new Map<ClaimRequest, Candidate[]>();
      const left: Candidate[] = [];
      const windowBytes = new Map<ClaimRequest, { answer: number; source: number }>();
      for (const candidate of pool) {
        // Since this pass chose its candidates (a round ago, or before a read), another pass of this
        // process may have started claiming this one, or written it: writing it too would only be refused.
        if (this.claiming.has(candidate.docId) || this.writtenSince(candidate)) {
          unclaimedHolds.push(...this.holdReleases(candidate, token));
          continue;
        }
        const answer = answerBytesOf(candidate);
        const source = sourceBytesOf(candidate);
        const request = requests.find((r) => {
          const taken = windows.get(r)?.length ?? 0;
          const bytes = windowBytes.get(r);
          return (
            r.claimed.length + taken < r.amount &&
            candidate.doc.run_at <= r.now &&
            fits(r, taken, (bytes?.answer ?? 0) + answer, (bytes?.source ?? 0) + source)
          );
        });
        if (!request) {
          left.push(candidate);
          continue;
        }
        const window = windows.get(request);
        if (window) window.push(candidate);
        else windows.set(request, [candidate]);
        const bytes = windowBytes.get(request) ?? { answer: 0, source: 0 };
        windowBytes.set(request, { answer: bytes.answer + answer, source: bytes.source + source });
      }
      if (windows.size === 0 && deferred.length === 0) {
        for (const c of left) unclaimedHolds.push(...this.holdReleases(c, token));
        break;
      }
      // Chosen: no other pass of this process may take them from here on, through the read of their
      // documents as much as through the write (a pass that chose them during that read wrote them too,
      // and lost: about one refused write per task with claims of 10 or 100, which read first).
      const chosen = [...windows.values()].flat();
      for (const c of chosen) this.claiming.add(c.docId);
      let lost: Candidate[] = [];
      try {
        // Size-only hits: their documents now, and only theirs (a hit written since is lost already).
        const gone = windows.size > 0 ? await this.readChosen(windows) : [];
        lost = windows.size > 0 ? [...gone, ...(await this.claimWindows(windows, token))] : [];
      } finally {
        // Written (won, or lost to another writer) or gone: no longer a candidate of later claims on this snapshot.
        for (const c of chosen) {
          searched.taken.add(c.docId);
          this.claiming.delete(c.docId);
        }
      }
      if (round === 0 && spreading) {
        let attempted = 0;
        for (const window of windows.values()) attempted += window.length;
        this.spread.observe(attempted, lost.length);
      }
      for (const c of lost) unclaimedHolds.push(...this.holdReleases(c, token));
      const plain = left.filter((c) => c.holdDocs === undefined).concat(deferred);
      deferred = [];
      for (const c of left) if (c.holdDocs !== undefined) unclaimedHolds.push(...this.holdReleases(c, token));
      if (round === 0) shuffle(plain);
      pool = spreading ? this.spread.prefer(plain, (c) => c.docId) : plain;
    }
    // Holds taken for tasks this claim did not get are given back (best effort: a leftover is repaired).
    this.flow.release(unclaimedHolds);
  }

  /**
   * The last search's hits for this queue set, if a search now would add nothing to them: same snapshot,
   * and either enough of them left due by `maxNow` for the claims, or the search returned every match.
   * Hits written since are dropped here (see `taken`), others stay for the claim path's own checks.
   */
  private reusableHits(key: string, snapshot: number, maxNow: number, wanted: number): SearchedHits | undefined {
    const last = this.searched.get(key);
    if (!last || last.snapshot !== snapshot || maxNow > last.dueBy) return undefined;
    if (last.taken.size > 0) {
      last.hits = last.hits.filter((h) => !last.taken.has(h.docId));
      last.taken.clear();
    }
    let due = 0;
    for (const h of last.hits) if (h.doc.run_at <= maxNow && !this.claiming.has(h.docId)) due++;
    return due >= wanted || last.complete ? last : undefined;
  }

  /** One claim search on the last refresh; its hits are kept for reuse by later claims on the same snapshot. */
  private async searchHits(
    key: string,
    queues: string[],
    snapshot: number,
    maxNow: number,
    size: number,
  ): Promise<SearchedHits> {
    // A little past `now`: claims of the next milliseconds find tasks that come due meanwhile in these hits.
    const dueBy = maxNow + this.options.maxStalenessMs;
    // Many hits: their sizes only, so that memory follows what the claims can answer, not `size`.
    const previous = this.searched.get(key);
    const smallDocs = previous !== undefined && previous.largest <= LARGE_DOC_BYTES;
    const sizeOnly = size > SIZE_ONLY_SEARCH_ABOVE && !(smallDocs && size <= WHOLE_SEARCH_OF_SMALL_DOCS_MAX);
    const found = await search<TaskDoc>(this.http, this.names.tasks, {
      size,
      seq_no_primary_term: true,
      ...(sizeOnly ? { _source: SIZE_ONLY_FIELDS } : {}),
      // Lets every segment stop after `size` hits: the sort is the index sort (mappings.ts).
      track_total_hits: false,
      query: {
        bool: {
          filter: [
            { terms: { state: ['queued', 'failed'] } },
            { range: { run_at: { lte: dueBy } } },
            { range: { remaining_attempts: { gt: 0 } } },
            ...(queues.length > 0 ? [{ terms: { queue: queues } }] : []),
          ],
          must_not: [
            // A paused queue hands out no claims (queueSetPaused).
            this.pausedQueues(),
            // Flow-controlled queues are claimed through their own path (below).
            this.flow.flowQueuesLookup(),
            // What this process wrote out of the waiting states since that refresh: its own records
            // stand in for them (visibility.ts, nonWaitingIds).
            ...this.idsFilter(this.local.nonWaitingIds()),
          ],
        },
      },
      sort: CLAIM_ORDER_ES_SORT,
    });
    const hits: Candidate[] = found.hits.hits.map((hit) => ({
      index: hit._index,
      docId: hit._id,
      doc: hit._source,
      version: versionOf(hit),
      ...(sizeOnly ? { partial: true } : {}),
    }));
    let largest = 0;
    for (const hit of hits) largest = Math.max(largest, sourceBytesOf(hit));
    const result: SearchedHits = { snapshot, dueBy, complete: hits.length < size, hits, taken: new Set(), largest };
    this.searched.delete(key);
    this.searched.set(key, result);
    // One entry per queue set claimed from recently (insertion order = age): bounded.
    if (this.searched.size > 256) this.searched.delete(this.searched.keys().next().value!);
    return result;
  }

  private holdReleases(c: Candidate, token: string): HoldRelease[] {
    return (c.holdDocs ?? []).map((id) => holdReleaseOf(id, c, token));
  }

  /** Plans every flow-controlled queue of the claim and merges their sequences with the plain candidates. */
  private async withFlowCandidates(
    plain: Candidate[],
    flowQueues: string[],
    flow: FlowState,
    localFlow: Map<string, Candidate[]>,
    requests: ClaimRequest[],
    wanted: number,
    maxNow: number,
    token: string,
  ): Promise<Candidate[]> {
    const counter = requests.find((r) => r.throttled)?.throttled;
    const sequences = await Promise.all(
      flowQueues.map((queue) =>
        this.planner.plan({
          queue,
          limits: flow.limits.get(queue),
          wanted,
          maxNow,
          local: localFlow.get(queue) ?? [],
          token,
          onThrottled: (count) => {
            if (counter && count > 0) counter.set(queue, (counter.get(queue) ?? 0) + count);
          },
        }),
      ),
    );
    // Merge by the claim order of each sequence's head (a flow sequence keeps its fair order).
    const all = [plain, ...sequences.filter((s) => s.length > 0)];
    const heads = all.map(() => 0);
    const merged: Candidate[] = [];
    for (;;) {
      let best = -1;
      all.forEach((seq, i) => {
        const head = seq[heads[i]!];
        if (head && (best < 0 || docOrder(head.doc, all[best]![heads[best]!]!.doc) < 0)) best = i;
      });
      if (best < 0) return merged;
      merged.push(all[best]![heads[best]!++]!);
    }
  }

  private localWritesFilter(): Record<string, unknown>[] {
    return this.idsFilter(this.local.ids());
  }

  private idsFilter(ids: string[]): Record<string, unknown>[] {
    return ids.length > 0 ? [{ ids: { values: ids } }] : [];
  }

  /** Whether this process wrote `candidate`'s task after the version the candidate was read at. */
  private writtenSince(candidate: Candidate): boolean {
    const mine = this.local.get(candidate.docId);
    return mine !== undefined && isNewer(mine.version, { _seq_no: candidate.version.seqNum, _primary_term: candidate.version.primaryTerm });
  }

  /** The paused queues (a shared realtime read: see `pausedRead`). */
  private pausedQueueNames(): Promise<Set<string>> {
    return this.pausedRead.get();
  }

  /**
   * Reads the whole documents of the size-only candidates in `windows` (one realtime `_mget`) and puts
   * them in place; a candidate whose document is gone or was written since its search leaves its window
   * and is returned (another writer has it).
   */
  private async readChosen(windows: Map<ClaimRequest, Candidate[]>): Promise<Candidate[]> {
    // A whole document always has a `kind`; a size-only one never (SIZE_ONLY_FIELDS), whatever path it took.
    const partial = [...windows.values()].flat().filter((c) => c.partial === true || c.doc.kind === undefined);
    if (partial.length === 0) return [];
    const docs = await mgetDocs<TaskDoc>(this.http, partial.map((c) => ({ index: c.index, id: c.docId, bytes: sourceBytesOf(c) })));
    const gone = new Set<Candidate>();
    docs.forEach((d, i) => {
      const c = partial[i]!;
      const same = d.found && d._seq_no === c.version.seqNum && d._primary_term === c.version.primaryTerm;
      if (!same) {
        gone.add(c);
        return;
      }
      c.doc = d._source;
      c.partial = false;
    });
    if (gone.size === 0) return [];
    for (const [request, window] of windows) {
      const kept = window.filter((c) => !gone.has(c));
      if (kept.length > 0) windows.set(request, kept);
      else windows.delete(request);
    }
    return [...gone];
  }

  /** One set of CAS writes, each window claiming its candidates for its request; winners go to `claimed`. */
  private async claimWindows(windows: Map<ClaimRequest, Candidate[]>, token: string): Promise<Candidate[]> {
    const entries: { request: ClaimRequest; candidate: Candidate; next: Task; doc: TaskDoc }[] = [];
    for (const [request, candidates] of windows) {
      for (const candidate of candidates) {
        const next = intoClaimed(docToTask(candidate.doc, candidate.version), { workerId: request.workerId, now: request.now });
        const doc = { ...taskToDoc(next, { answerBytes: candidate.doc.answer_bytes }), claim_token: token };
        entries.push({ request, candidate, next, doc });
      }
    }
    // The caller holds them in `claiming` until this returns: won ones are then this process's local
    // writes (claimed), lost ones someone else's, and either way a later search sees them as they are.
    return this.writeClaims(entries, token);
  }

  private async writeClaims(
    entries: { request: ClaimRequest; candidate: Candidate; next: Task; doc: TaskDoc }[],
    token: string,
  ): Promise<Candidate[]> {
    let items: BulkItem[];
    try {
      items = await this.writer.write(
        entries.map(({ candidate, doc }) => taskWriteOperation(candidate.index, candidate.docId, candidate.version, doc, candidate.doc)),
      );
    } catch (err) {
      if (!(err instanceof ElasticsearchError && err.ambiguous)) throw err;
      // The bulk got no answer: it may or may not have been applied. Realtime reads tell which tasks
      // carry this bulk's token, i.e. were won by it.
      const won = await this.recoverClaims(entries.map((e) => e.candidate), token);
      for (const { request, candidate } of entries) {
        const task = won.get(candidate.docId);
        if (task) {
          request.claimed.push(task);
          request.answerBytes += answerBytesOf(candidate);
          request.sourceBytes += sourceBytesOf(candidate);
          request.ranks.push(candidate.rank ?? 0);
        }
      }
      // None counts as lost: a bulk that timed out may still be applied later, so its holds stay until
      // a claim's repair fences them (flow-control.ts).
      return [];
    }
    const lost: Candidate[] = [];
    items.forEach((item, i) => {
      const { request, candidate, next, doc } = entries[i]!;
      if ((item.status === 200 || item.status === 201) && item._seq_no !== undefined && item._primary_term !== undefined) {
        const version = { seqNum: item._seq_no, primaryTerm: item._primary_term };
        this.local.record(candidate.index, candidate.docId, doc, version);
        request.claimed.push({ ...next, version });
        request.answerBytes += answerBytesOf(candidate);
        request.sourceBytes += sourceBytesOf(candidate);
        request.ranks.push(candidate.rank ?? 0);
      } else if (item.status === 409) {
        // Another process (or any writer) got there first: what this process knew of it is stale.
        this.local.forget(candidate.docId);
        lost.push(candidate);
      } else {
        lost.push(candidate); // other item errors: not claimed either
      }
    });
    return lost;
  }

  private async recoverClaims(candidates: Candidate[], token: string): Promise<Map<string, Task>> {
    const docs = await mgetDocs<TaskDoc>(this.http, candidates.map((c) => ({ index: c.index, id: c.docId })));
    const won = new Map<string, Task>();
    for (const d of docs) {
      if (d.found && d._source.claim_token === token && d._source.state === 'claimed') {
        this.local.record(d._index, d._id, d._source, versionOf(d));
        won.set(d._id, docToTask(d._source, versionOf(d)));
      }
    }
    return won;
  }

  /**
   * The earliest `run_at` among waiting tasks of the queues, on the same view as a claim: the last
   * refresh (refreshed first when older than the staleness bound) merged with this process's writes.
   */
  /** Gives back the concurrency slots held ahead for claims that will not come (the store is closing). */
  close(): Promise<void> {
    return this.planner.close();
  }

  async nextRunAt(queues: string[]): Promise<number | undefined> {
    if (this.needsRefresh()) await this.refresh.wait();
    const queueSet = queues.length > 0 ? new Set(queues) : undefined;
    const found = await search<never>(this.http, this.names.tasks, {
      size: 1,
      _source: false,
      track_total_hits: false,
      query: {
        bool: {
          filter: [{ terms: { state: ['queued', 'failed'] } }, ...(queueSet ? [{ terms: { queue: [...queueSet] } }] : [])],
          // Tasks of a paused queue never come due for a claim: a long poll must not wake (and spin) for them.
          must_not: [this.pausedQueues(), ...this.localWritesFilter()],
        },
      },
      sort: [{ run_at: 'asc' }],
    });
    const first = found.hits.hits[0];
    let earliest = first?.sort ? Number(first.sort[0]) : undefined;
    // This process's own waiting writes (paused queues may count: the engine ignores an answer already due).
    for (const w of this.local.waitingWrites()) {
      if (queueSet && !queueSet.has(w.doc.queue)) continue;
      if (earliest === undefined || w.doc.run_at < earliest) earliest = w.doc.run_at;
    }
    return earliest;
  }
}
