/**
 * Flow control on the Elasticsearch/OpenSearch store (issue 15; docs/design/elasticsearch-claims.md,
 * "Flow control"): the stored limits, the concurrency holds and token buckets that claims take, and
 * their release when a task leaves CLAIMED.
 *
 * Documents, all in `P-meta` and kept in `_source` only:
 * - `flow`: every queue's limits, the queues whose tasks ever carried a concurrency key, and their union
 *   `flow_queues`, which the plain claim search leaves out with a terms lookup. One document, read by a
 *   realtime GET that the claims of one process share for at most FLOW_STATE_CACHE_MS; a change of it
 *   (`queueLimitsSet`, a queue's first keyed task) resolves only after that bound has passed, so every
 *   claim started afterwards, on every server, uses a GET sent after the change.
 * - `flow/limit/<queue>[/<key>]`: the limit state of the queue (or of one key), one document for both
 *   kinds of limit, so a new key costs one document, not two:
 *   - `holds`: the tasks holding a concurrency slot. A claim adds its tasks with compare-and-set BEFORE it
 *     writes them CLAIMED; a write that takes a task out of CLAIMED removes it afterwards. So the holds
 *     are never fewer than the claimed tasks: two servers can never both take the last slot (one CAS
 *     fails), and a hold left behind by a crash only makes the limit stricter until a claim repairs it
 *     (`repair`).
 *   - `bucket`: a token bucket (`tokens` at time `at`; absent: full), taken by compare-and-set.
 *   A release that leaves a document with no holds and a full bucket deletes it (compare-and-set too): a
 *   missing document means exactly that, so keys used once leave nothing behind.
 */
import { createHash } from 'node:crypto';
import type { FlowLimit, QueueLimits, QueueLimitsRecord, RateLimit, RecordVersion } from '../../types/index.js';
import type { QueueFlowPruneParams, QueueLimitsListParams, QueueLimitsSetParams } from '../store.js';
import type { BulkItem, BulkOperation, BulkWriter } from './bulk-writer.js';
import type { TaskDoc } from './documents.js';
import { ElasticsearchError, type EsHttp } from './http.js';
import type { IndexNames } from './mappings.js';
import { type GetBody, MAX_PAGE, byBytes, getDoc, putDoc, search, versionOf } from './requests.js';
import { SharedRead, outlastSharedReads } from './visibility.js';

export const FLOW_DOC = 'flow';
/**
 * The layout of the flow-control documents, recorded in the `flow` document by every write of it. 2: one
 * `flow/limit/…` document per queue and key (1, not recorded: separate `flow/hold/…` and `flow/rate/…`
 * documents, unreleased). A server that finds a newer format refuses claims and limit changes rather
 * than enforce limits in documents the others do not read.
 */
export const FLOW_FORMAT = 2;
const CONFLICT_RETRIES = 50;
/**
 * How long the claims of one process may share one read of the `flow` document (the GET was sent at
 * most this long ago). A change of the document waits this long after it is acknowledged.
 */
export const FLOW_STATE_CACHE_MS = 100;
/** How long a release may use the last `flow` document it saw (claims read it fresh every time). */
const RELEASE_STATE_MAX_AGE_MS = 1000;
/** How long a release waits for a claim of this process to write it with its own holds (`release`). */
export const RELEASE_LINGER_MS = 5;
/**
 * ... and for a document with room to spare (at most ROOMY_SHARE of its limit held, as this process last
 * saw it), where a slot freed late holds nobody back: long enough for the next claim of a key claimed
 * four times a second to take it along (one write of the key's holds per task instead of two).
 */
export const ROOMY_RELEASE_LINGER_MS = 250;
const ROOMY_SHARE = 0.75;
/** A hold whose task still has the version the claim expected is only fenced off after this long. */
export const HOLD_GRACE_MS = 30_000;
/** A full hold document is checked for stale holds at most this often per process. */
const REPAIR_INTERVAL_MS = 1000;
/** Hold and rate documents cached per process (readMeta); past this the cache starts over. */
const MAX_CACHED_DOCS = 10_000;

interface FlowDoc {
  kind: 'flow';
  /** FLOW_FORMAT of the last server that wrote it (missing: written before formats were recorded). */
  format?: number;
  /** Sorted; queues with limits ∪ keyed queues: the plain claim search leaves their tasks out. */
  flow_queues: string[];
  /** Queues whose tasks ever carried a concurrency key (never shrinks: fairness groups them). */
  keyed_queues: string[];
  queue_limits: { queue: string; limits: QueueLimits; modified_at: number }[];
}

/** One task holding a slot: its `_id`, the version its claim compare-and-sets on, and the claim's token. */
export interface Hold {
  id: string;
  seq: number;
  term: number;
  token: string;
  at: number;
}

/** A token bucket: `tokens` at time `at`. */
export interface Bucket {
  tokens: number;
  at: number;
}

/** `flow/limit/…`: the concurrency holds and the token bucket of a queue, or of one key of it. */
export interface LimitDoc {
  kind: 'flow_limit';
  queue: string;
  key?: string;
  holds: Hold[];
  bucket?: Bucket;
}

export interface FlowState {
  limits: Map<string, QueueLimits>;
  /** Queues whose claims go through the flow path (limited or keyed). */
  flowQueues: Set<string>;
  keyed: Set<string>;
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 40);
/** Ids made lately (a claim asks for each of its keys' several times); started over past MAX_CACHED_DOCS. */
const docIds = new Map<string, string>();

/** `_id` of the limit document of a queue or key: hashed, so any queue name or key fits the 512-byte limit. */
export function flowDocId(queue: string, key?: string): string {
  const name = key === undefined ? `q${queue}` : `k${queue.length}:${queue}${key}`; // unambiguous whatever the characters
  let id = docIds.get(name);
  if (id === undefined) {
    id = key === undefined ? `flow/limit/${sha(queue)}` : `${flowDocId(queue)}/${sha(key)}`;
    if (docIds.size >= MAX_CACHED_DOCS) docIds.clear();
    docIds.set(name, id);
  }
  return id;
}

/** An empty limit document of the queue or key (what a missing one means). */
export const emptyLimitDoc = (queue: string, key: string | undefined): LimitDoc => ({
  kind: 'flow_limit',
  queue,
  ...(key !== undefined ? { key } : {}),
  holds: [],
});

/** The per-key limit of `key`: its named override, else `perKey`. */
export function keyLimit(limits: QueueLimits, key: string): FlowLimit | undefined {
  return limits.keys?.[key] ?? limits.perKey;
}

export function hasConcurrencyLimit(limits: QueueLimits | undefined): boolean {
  if (!limits) return false;
  if (limits.queue?.concurrency !== undefined || limits.perKey?.concurrency !== undefined) return true;
  return Object.values(limits.keys ?? {}).some((l) => l.concurrency !== undefined);
}

/** Tokens in a bucket at `now`: refilled pro rata since `at`, at most `burst` (a missing bucket is full). */
export function tokensAt(rate: RateLimit, bucket: Bucket | undefined, now: number): number {
  if (!bucket) return rate.burst;
  const elapsed = Math.max(0, now - bucket.at);
  return Math.min(rate.burst, bucket.tokens + (elapsed * rate.count) / rate.perMs);
}

/** The rate limit of the queue's bucket, or of `key`'s (undefined: none, or none any more). */
export function rateOf(limits: QueueLimits | undefined, key: string | undefined): RateLimit | undefined {
  if (!limits) return undefined;
  return key === undefined ? limits.queue?.rate : keyLimit(limits, key)?.rate;
}

/** Whether a limit document says nothing a missing one would not: no holds, and a full (or unlimited) bucket. */
export function limitDocIdle(doc: LimitDoc, limits: QueueLimits | undefined, now: number): boolean {
  if (doc.holds.length > 0) return false;
  const rate = rateOf(limits, doc.key);
  return !doc.bucket || !rate || tokensAt(rate, doc.bucket, now) >= rate.burst;
}

/** Whether version (seq, term) is older than `v`. */
export const holdOlderThan = (h: Hold, v: RecordVersion): boolean =>
  h.term !== v.primaryTerm ? h.term < v.primaryTerm : h.seq < v.seqNum;

const emptyState = (): FlowState => ({ limits: new Map(), flowQueues: new Set(), keyed: new Set() });

function stateOf(doc: FlowDoc | undefined): FlowState {
  if (!doc) return emptyState();
  if ((doc.format ?? FLOW_FORMAT) > FLOW_FORMAT) {
    throw new ElasticsearchError(
      `the flow-control documents are of format ${doc.format}, newer than this server's (${FLOW_FORMAT}): upgrade every server of this cluster`,
      503,
    );
  }
  return {
    limits: new Map(doc.queue_limits.map((l) => [l.queue, l.limits])),
    flowQueues: new Set(doc.flow_queues),
    keyed: new Set(doc.keyed_queues),
  };
}

/** A meta document read by `_mget`, with its version (undefined when missing). */
export interface MetaRead<T> {
  id: string;
  doc: T | undefined;
  version: RecordVersion | undefined;
}

/**
 * A compare-and-set write of a meta document: `doc` on the version read (create-only when there was
 * none), or with `remove` its deletion on that version.
 */
export interface MetaWrite {
  id: string;
  doc: unknown;
  version: RecordVersion | undefined;
  remove?: boolean;
}

/** A release waiting to be written. */
export interface PendingRelease {
  release: HoldRelease;
  /** When it is written at the latest (performance.now()). */
  due: number;
}

/** One release: the task `_id` and the version it was CLAIMED at (holds older than it are its own). */
export interface HoldRelease {
  holdDocId: string;
  match(hold: Hold): boolean;
  /** The clock time of the write that freed the slot, if any (a bucket full by then may be deleted). */
  at?: number;
}

export class FlowControl {
  private latest: { state: FlowState; at: number } | undefined;
  /** The read claims share: its GET was sent at `sentAt` (performance.now()). */
  private readonly claimRead = new SharedRead(FLOW_STATE_CACHE_MS, () => this.read());
  /** Queues this process has seen in `keyed_queues` (monotonic: never removed). */
  private readonly knownKeyed = new Set<string>();
  private readonly lastRepair = new Map<string, number>();
  /** Hold and rate documents as this process last read or wrote them (readMeta). */
  private readonly cache = new Map<string, MetaRead<unknown>>();
  /** Documents this process has seen present (read, written, or a create that found them): never guessed missing. */
  private readonly seenPresent = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  /**
   * Releases not written yet, by hold document: the next claim's write of the document takes them, else
   * a flush once due.
   */
  private readonly pendingReleases = new Map<string, PendingRelease[]>();
  private releaseTimer: { at: number; timer: NodeJS.Timeout } | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly http: EsHttp,
    private readonly names: IndexNames,
    private readonly writer: BulkWriter,
    /** Resolves after a refresh of the tasks index sent after the call (RefreshBarrier.wait). */
    private readonly refreshTasks: () => Promise<void>,
  ) {}

  /** Matches the tasks of flow-controlled queues (terms lookup, a realtime GET inside the engine). */
  flowQueuesLookup(): Record<string, unknown> {
    return { terms: { queue: { index: this.names.meta, id: FLOW_DOC, path: 'flow_queues' } } };
  }

  private async flowDoc(): Promise<GetBody<FlowDoc> | undefined> {
    return getDoc<FlowDoc>(this.http, this.names.meta, FLOW_DOC);
  }

  /** The current flow state (realtime GET: every acknowledged `queueLimitsSet` is in it). */
  async read(): Promise<FlowState> {
    const sentAt = performance.now();
    const state = stateOf((await this.flowDoc())?._source);
    this.latest = { state, at: sentAt };
    for (const q of state.keyed) this.knownKeyed.add(q);
    return state;
  }

  /**
   * For claims: the flow state from a GET sent at most FLOW_STATE_CACHE_MS ago, shared by the claims
   * of this process (one GET per bound instead of one per claim).
   */
  claimState(): Promise<FlowState> {
    return this.claimRead.get();
  }

  /** For releases: the last state read, if recent, else a fresh one. */
  async recent(): Promise<FlowState> {
    if (this.latest && performance.now() - this.latest.at < RELEASE_STATE_MAX_AGE_MS) return this.latest.state;
    return this.read();
  }

  /**
   * Read, change, compare-and-set the `flow` document (create-only when missing); retried on conflicts.
   * When it wrote, resolves only after FLOW_STATE_CACHE_MS more, so no claim started later uses an
   * older read (claimState), on any server.
   */
  private async change(edit: (doc: FlowDoc) => FlowDoc | undefined): Promise<FlowDoc> {
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const current = await this.flowDoc();
      const base: FlowDoc = current?._source ?? { kind: 'flow', flow_queues: [], keyed_queues: [], queue_limits: [] };
      stateOf(base); // refuses a newer format
      const edited = edit(structuredClone(base));
      if (!edited) {
        // Already so: another process wrote it (and waited out the shared reads itself); this process's
        // claims must not go on with a read from before that write.
        this.claimRead.forget();
        return base;
      }
      edited.format = FLOW_FORMAT;
      const limited = edited.queue_limits.map((l) => l.queue);
      edited.flow_queues = [...new Set([...limited, ...edited.keyed_queues])].sort(byBytes);
      const result = current
        ? await putDoc(this.http, this.names.meta, FLOW_DOC, edited, { expected: versionOf(current) })
        : await putDoc(this.http, this.names.meta, FLOW_DOC, edited, { create: true });
      if (result.version) {
        const ackAt = performance.now();
        this.latest = { state: stateOf(edited), at: ackAt };
        this.claimRead.forget();
        await outlastSharedReads(FLOW_STATE_CACHE_MS, ackAt);
        return edited;
      }
      if (result.status === 404) throw new ElasticsearchError(`cannot store flow control: index ${this.names.meta} is missing`, 404);
    }
    throw new ElasticsearchError('flow-control document: too many concurrent writers', 409);
  }

  async limitsSet({ queue, limits, now }: QueueLimitsSetParams): Promise<QueueLimitsRecord | undefined> {
    let stored: QueueLimitsRecord | undefined;
    await this.change((doc) => {
      const others = doc.queue_limits.filter((l) => l.queue !== queue);
      stored = limits ? { queue, limits, modifiedAt: now } : undefined;
      doc.queue_limits = limits ? [...others, { queue, limits, modified_at: now }].sort((a, b) => byBytes(a.queue, b.queue)) : others;
      // Written even when unchanged: what was read may be another process's write not acknowledged yet.
      return doc;
    });
    if (limits && hasConcurrencyLimit(limits)) await this.seedHolds(queue, limits, now);
    return stored;
  }

  /**
   * Tasks claimed while the queue had no (or other) limits hold no slot: enter every task CLAIMED now
   * into the hold documents the new limits use, so that they count. Runs after the `flow` document is
   * written, so every claim that starts later takes holds itself; only a claim already past its search
   * when that write landed can add a CLAIMED task that neither counts (the bound in the design note).
   * A seeded hold names the claimed version minus one, so the write that takes the task out of CLAIMED
   * (which replaces the claimed version) frees it, and the task's own claim token, so repair keeps it.
   */
  private async seedHolds(queue: string, limits: QueueLimits, now: number): Promise<void> {
    await this.refreshTasks();
    const found = await search<TaskDoc>(this.http, this.names.tasks, {
      size: MAX_PAGE,
      seq_no_primary_term: true,
      track_total_hits: false,
      _source: ['concurrency_key', 'claim_token'],
      query: { bool: { filter: [{ term: { queue } }, { term: { state: 'claimed' } }] } },
    });
    const wanted = new Map<string, { key: string | undefined; holds: Hold[] }>();
    for (const h of found.hits.hits) {
      const hold: Hold = { id: h._id, seq: h._seq_no - 1, term: h._primary_term, token: h._source.claim_token ?? '', at: now };
      const targets: [string, string | undefined][] = [];
      if (limits.queue?.concurrency !== undefined) targets.push([flowDocId(queue), undefined]);
      const key = h._source.concurrency_key;
      if (key !== undefined && keyLimit(limits, key)?.concurrency !== undefined) targets.push([flowDocId(queue, key), key]);
      for (const [id, k] of targets) {
        const entry = wanted.get(id) ?? { key: k, holds: [] };
        entry.holds.push(hold);
        wanted.set(id, entry);
      }
    }
    await this.serial(async () => {
      for (let attempt = 0; attempt < 10 && wanted.size > 0; attempt++) {
        const reads = await this.readMeta<LimitDoc>([...wanted.keys()], attempt === 0);
        const writes: MetaWrite[] = [];
        for (const read of reads) {
          const { key, holds } = wanted.get(read.id)!;
          const base = read.doc ?? emptyLimitDoc(queue, key);
          const present = new Set(base.holds.map((h) => h.id));
          const add = holds.filter((h) => !present.has(h.id));
          if (add.length === 0) wanted.delete(read.id);
          else writes.push({ id: read.id, doc: { ...base, holds: [...base.holds, ...add] }, version: read.version });
        }
        const items = await this.writeMeta(writes);
        items.forEach((item, i) => {
          if (item.status !== 409) wanted.delete(writes[i]!.id);
        });
      }
    });
  }

  async limitsList({ queues }: QueueLimitsListParams): Promise<QueueLimitsRecord[]> {
    const doc = (await this.flowDoc())?._source;
    const wanted = queues ? new Set(queues) : undefined;
    return (doc?.queue_limits ?? [])
      .filter((l) => !wanted || wanted.has(l.queue))
      .map((l) => ({ queue: l.queue, limits: l.limits, modifiedAt: l.modified_at }))
      .sort((a, b) => byBytes(a.queue, b.queue));
  }

  /**
   * Before tasks with a concurrency key are created in `queues`: makes sure the `flow` document lists
   * them as keyed, so every claim after the create groups them fairly. Once per queue and process.
   */
  async registerKeyed(queues: string[]): Promise<void> {
    const missing = [...new Set(queues)].filter((q) => !this.knownKeyed.has(q));
    if (missing.length === 0) return;
    const doc = await this.change((d) => {
      const add = missing.filter((q) => !d.keyed_queues.includes(q));
      if (add.length === 0) return undefined;
      d.keyed_queues = [...d.keyed_queues, ...add].sort(byBytes);
      return d;
    });
    for (const q of doc.keyed_queues) this.knownKeyed.add(q);
  }

  /**
   * Runs `fn` after every earlier `serial` call of this process has finished: this process's changes of
   * hold and rate documents never race each other (only other processes' can make a CAS fail).
   */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Meta documents, in the order asked: from this process's cache of the versions it last read or wrote
   * (a CAS write on a stale one fails, and the cache entry with it), else by a realtime `_mget`. `fresh`
   * skips the cache (operator reads).
   */
  async readMeta<T>(ids: string[], fresh = false, guessMissing?: (id: string) => boolean): Promise<MetaRead<T>[]> {
    let missing = fresh ? ids : ids.filter((id) => !this.cache.has(id));
    if (guessMissing && !fresh) {
      // Taken as missing unread: its write is then create-only, which fails if it exists after all
      // (and the id is read from then on), so a wrong guess costs a retry, never a loosened limit.
      for (const id of missing) if (guessMissing(id) && !this.seenPresent.has(id)) this.cache.set(id, { id, doc: undefined, version: undefined });
      missing = missing.filter((id) => !this.cache.has(id));
    }
    if (missing.length > 0) {
      const res = await this.http.expect<{ docs: (Partial<GetBody<T>> & { _id: string; error?: unknown })[] }>({
        method: 'POST',
        path: `/${this.names.meta}/_mget`,
        body: { ids: missing },
        read: true,
      });
      if (this.cache.size > MAX_CACHED_DOCS) this.cache.clear();
      res.body.docs.forEach((d, i) => {
        const id = missing[i]!;
        if (d.error !== undefined) throw new ElasticsearchError(`_mget of ${id}: ${JSON.stringify(d.error).slice(0, 300)}`, 500);
        if (d.found) this.markSeen(id);
        this.cache.set(
          id,
          d.found && d._source ? { id, doc: d._source, version: versionOf(d as GetBody<T>) } : { id, doc: undefined, version: undefined },
        );
      });
    }
    return ids.map((id) => this.cache.get(id) as MetaRead<T>);
  }

  private markSeen(id: string): void {
    if (this.seenPresent.size > 4 * MAX_CACHED_DOCS) this.seenPresent.clear();
    this.seenPresent.add(id);
  }

  /** Writes meta documents with CAS (create-only when they had none); one item per document, in order. */
  async writeMeta(writes: MetaWrite[]): Promise<BulkItem[]> {
    const operations: BulkOperation[] = writes.map((w) => {
      const cas = w.version ? { if_seq_no: w.version.seqNum, if_primary_term: w.version.primaryTerm } : {};
      if (w.remove) return { action: { delete: { _index: this.names.meta, _id: w.id, ...cas } } };
      return { action: w.version ? { index: { _index: this.names.meta, _id: w.id, ...cas } } : { create: { _index: this.names.meta, _id: w.id } }, doc: w.doc };
    });
    let items: BulkItem[];
    try {
      items = await this.writer.write(operations);
    } catch (err) {
      for (const w of writes) this.cache.delete(w.id); // outcome unknown
      throw err;
    }
    items.forEach((item, i) => {
      const w = writes[i]!;
      if (w.remove && item.status === 200) {
        // Known missing now: the next claim of it creates it (create-only, so a racing creator is seen).
        this.cache.set(w.id, { id: w.id, doc: undefined, version: undefined });
      } else if ((item.status === 200 || item.status === 201) && item._seq_no !== undefined && item._primary_term !== undefined) {
        this.cache.set(w.id, { id: w.id, doc: w.doc, version: versionOf({ _seq_no: item._seq_no, _primary_term: item._primary_term }) });
        this.markSeen(w.id);
      } else {
        this.cache.delete(w.id);
        if (item.status === 409) this.markSeen(w.id);
      }
    });
    return items;
  }

  /**
   * Removes holds, each from its document, soon (best effort: a hold left behind only makes a limit
   * stricter until a claim repairs it). Not awaited by the writes that free slots: the next claim of this
   * process that writes the same hold document takes the release into that write (`takeReleases`), so a
   * done and a later claim cost one write of the document, not two; the others are written together once
   * due, `lingerMs` later. A claim of this process always sees them (it runs after, in `serial`); other
   * processes within `lingerMs` and a write.
   */
  release(releases: HoldRelease[], lingerMs = RELEASE_LINGER_MS): void {
    if (releases.length === 0) return;
    const due = performance.now() + lingerMs;
    for (const release of releases) {
      const list = this.pendingReleases.get(release.holdDocId);
      if (list) list.push({ release, due });
      else this.pendingReleases.set(release.holdDocId, [{ release, due }]);
    }
    this.scheduleFlush(due);
  }

  /** Makes sure a flush runs by `at` (after the one under way, if any: it schedules the next itself). */
  private scheduleFlush(at: number): void {
    if (this.flushing !== undefined || at === Infinity) return;
    if (this.releaseTimer && this.releaseTimer.at <= at) return;
    if (this.releaseTimer) clearTimeout(this.releaseTimer.timer);
    const timer = setTimeout(() => {
      this.releaseTimer = undefined;
      void this.flushDue(false).catch(() => undefined);
    }, Math.max(0, at - performance.now()));
    timer.unref();
    this.releaseTimer = { at, timer };
  }

  private earliestDue(): number {
    let at = Infinity;
    for (const list of this.pendingReleases.values()) for (const p of list) at = Math.min(at, p.due);
    return at;
  }

  /**
   * Writes the pending releases that are due, and with them those due within half a roomy linger (so a
   * steady stream of releases goes out in a few large bulks, not one small bulk per due time); every
   * one with `all`. Resolves when they are written.
   */
  private flushDue(all: boolean): Promise<void> {
    if (this.flushing) {
      const next = () => this.flushDue(all);
      return this.flushing.then(next, next);
    }
    const by = all ? Infinity : performance.now() + ROOMY_RELEASE_LINGER_MS / 2;
    const due: HoldRelease[] = [];
    for (const [id, list] of this.pendingReleases) {
      const later = list.filter((p) => p.due > by);
      for (const p of list) if (p.due <= by) due.push(p.release);
      if (later.length === 0) this.pendingReleases.delete(id);
      else this.pendingReleases.set(id, later);
    }
    if (due.length === 0) {
      this.scheduleFlush(this.earliestDue());
      return Promise.resolve();
    }
    const run = this.serial(() => this.releaseNow(due)).finally(() => {
      this.flushing = undefined;
      this.scheduleFlush(this.earliestDue());
    });
    this.flushing = run;
    return run;
  }

  /** Writes every pending release now; resolves when they are written (close, the pruner, tests). */
  flushReleases(): Promise<void> {
    return this.flushDue(true);
  }

  /** Takes the pending releases of these hold documents, for a claim that writes them (in `serial`). */
  takeReleases(holdDocIds: Iterable<string>): PendingRelease[] {
    const taken: PendingRelease[] = [];
    for (const id of holdDocIds) {
      const list = this.pendingReleases.get(id);
      if (!list) continue;
      this.pendingReleases.delete(id);
      taken.push(...list);
    }
    return taken;
  }

  /** Gives back releases a claim took and did not write, due when they were. */
  returnReleases(taken: PendingRelease[]): void {
    for (const p of taken) {
      const list = this.pendingReleases.get(p.release.holdDocId);
      if (list) list.push(p);
      else this.pendingReleases.set(p.release.holdDocId, [p]);
    }
    if (taken.length > 0) this.scheduleFlush(Math.min(...taken.map((p) => p.due)));
  }

  /**
   * release() within a `serial` section: read, filter, compare-and-set, retried on conflicts. A document
   * left with nothing a missing one would not say is deleted instead (when this process knows its limits).
   */
  async releaseNow(releases: HoldRelease[]): Promise<void> {
    let pending = releases;
    for (let attempt = 0; attempt < 10 && pending.length > 0; attempt++) {
      const byDoc = new Map<string, HoldRelease[]>();
      for (const r of pending) byDoc.set(r.holdDocId, [...(byDoc.get(r.holdDocId) ?? []), r]);
      const reads = await this.readMeta<LimitDoc>([...byDoc.keys()]);
      // Deleting a bucket takes the limits as claims do (a read sent at most FLOW_STATE_CACHE_MS ago), or not at all.
      const fresh = this.latest !== undefined && performance.now() - this.latest.at <= FLOW_STATE_CACHE_MS;
      const limits = fresh ? this.latest!.state.limits : undefined;
      const writes: MetaWrite[] = [];
      for (const read of reads) {
        if (!read.doc || !read.version) continue;
        const matchers = byDoc.get(read.id)!;
        const holds = read.doc.holds.filter((h) => !matchers.some((m) => m.match(h)));
        if (holds.length === read.doc.holds.length) continue;
        const doc: LimitDoc = { ...read.doc, holds };
        // By the clock of the writes that freed the slots (the claims' clock), never a guess of this one.
        const at = matchers.every((m) => m.at !== undefined) ? Math.max(...matchers.map((m) => m.at!)) : undefined;
        const remove = limits !== undefined && at !== undefined && limitDocIdle(doc, limits.get(doc.queue), at);
        writes.push({ id: read.id, doc, version: read.version, remove });
      }
      const items = await this.writeMeta(writes);
      const retry = new Set(items.flatMap((item, i) => (item.status === 409 ? [writes[i]!.id] : [])));
      pending = pending.filter((r) => retry.has(r.holdDocId));
    }
  }

  /**
   * After task writes that may have taken tasks out of CLAIMED: frees the holds they had. A hold belongs
   * to the write when it names the task and is older than the version the write replaced (the task was
   * claimed at that version or later; a newer hold is a later claim's).
   */
  async releaseForWrites(
    writes: { queue: string; concurrencyKey: string | undefined; docId: string; replaced: RecordVersion; at: number }[],
  ): Promise<void> {
    if (writes.length === 0) return;
    let state: FlowState;
    try {
      state = await this.recent();
    } catch {
      return; // the task writes stand; a hold left behind is repaired by a later claim
    }
    const soon: HoldRelease[] = [];
    const later: HoldRelease[] = [];
    const add = (holdDocId: string, limit: number, match: (h: Hold) => boolean, at: number) => {
      const held = (this.cache.get(holdDocId)?.doc as LimitDoc | undefined)?.holds.length;
      (held !== undefined && held <= limit * ROOMY_SHARE ? later : soon).push({ holdDocId, match, at });
    };
    for (const w of writes) {
      const limits = state.limits.get(w.queue);
      if (!limits || !hasConcurrencyLimit(limits)) continue;
      const match = (h: Hold) => h.id === w.docId && holdOlderThan(h, w.replaced);
      if (limits.queue?.concurrency !== undefined) add(flowDocId(w.queue), limits.queue.concurrency, match, w.at);
      const keyConcurrency = w.concurrencyKey !== undefined ? keyLimit(limits, w.concurrencyKey)?.concurrency : undefined;
      if (keyConcurrency !== undefined) add(flowDocId(w.queue, w.concurrencyKey!), keyConcurrency, match, w.at);
    }
    this.release(soon);
    this.release(later, ROOMY_RELEASE_LINGER_MS);
  }

  /**
   * Store.queueFlowPrune: deletes limit documents that hold no task and whose bucket is full at `now` and
   * was last taken before `idleBefore` (or has no rate limit any more). A missing document means exactly
   * that (no holds, a full bucket), so no limit is loosened; each delete is compare-and-set on the version
   * read, so one that a claim changed meanwhile stays. (Releases delete most of them already.)
   */
  async prune({ now, idleBefore, limit }: QueueFlowPruneParams): Promise<number> {
    if (limit < 1) return 0;
    await this.flushReleases();
    const [state] = await Promise.all([
      this.read(),
      this.http.expect({ method: 'POST', path: `/${this.names.meta}/_refresh`, read: true }),
    ]);
    const found = await search<LimitDoc>(this.http, this.names.meta, {
      size: MAX_PAGE,
      seq_no_primary_term: true,
      track_total_hits: false,
      query: { term: { kind: 'flow_limit' } },
    });
    const idle = found.hits.hits.filter((h) => {
      const doc = h._source;
      const limits = state.limits.get(doc.queue);
      return limitDocIdle(doc, limits, now) && (!doc.bucket || !rateOf(limits, doc.key) || doc.bucket.at < idleBefore);
    });
    const chosen = idle.slice(0, limit);
    if (chosen.length === 0) return 0;
    const items = await this.writer.write(
      chosen.map((h) => ({ action: { delete: { _index: this.names.meta, _id: h._id, if_seq_no: h._seq_no, if_primary_term: h._primary_term } } })),
    );
    for (const h of chosen) this.cache.delete(h._id);
    return items.filter((item) => item.status === 200).length;
  }

  /**
   * Drops the stale holds of a full hold document: a hold is live while its task is CLAIMED past the
   * version the claim compare-and-sets on (whatever its claim token), or still has that version (its write
   * may be in flight) and is younger than HOLD_GRACE_MS. An older one is fenced: the task is re-written unchanged
   * with CAS on that version, so the claim's write can no longer succeed, and then the hold is stale.
   * Returns the document as written (or as read, when nothing was stale; undefined on a conflict), and
   * the new versions of the tasks it fenced (a claim's candidates of them are stale otherwise).
   */
  async repair(
    read: MetaRead<LimitDoc>,
    tasksIndex: string,
    now: number,
  ): Promise<{ read: MetaRead<LimitDoc> | undefined; fenced: Map<string, RecordVersion> }> {
    const fenced = new Map<string, RecordVersion>();
    const unchanged = { read, fenced };
    if (!read.doc || !read.version || read.doc.holds.length === 0) return unchanged;
    const last = this.lastRepair.get(read.id);
    if (last !== undefined && performance.now() - last < REPAIR_INTERVAL_MS) return unchanged;
    this.lastRepair.set(read.id, performance.now());
    if (this.lastRepair.size > 10_000) this.lastRepair.clear();
    const holds = read.doc.holds;
    const res = await this.http.expect<{ docs: (Partial<GetBody<TaskDoc>> & { found?: boolean })[] }>({
      method: 'POST',
      path: `/${tasksIndex}/_mget`,
      body: { ids: holds.map((h) => h.id) },
      read: true,
    });
    const stale = new Set<Hold>();
    const fences: { hold: Hold; task: GetBody<TaskDoc> }[] = [];
    holds.forEach((h, i) => {
      const d = res.body.docs[i];
      if (!d?.found || !d._source) return void stale.add(h);
      const v = versionOf(d as GetBody<TaskDoc>);
      // Claimed since the hold was taken: live (the claim's own write, which carries its token, is past the
      // hold's version too). Not the token alone: a report-in rewrites the task without it. A hold of a
      // claim that lost this task to another only over-counts until the task leaves CLAIMED (that write
      // frees every hold older than it).
      if (d._source.state === 'claimed' && holdOlderThan(h, v)) return;
      if (v.seqNum !== h.seq || v.primaryTerm !== h.term) return void stale.add(h);
      if (now - h.at > HOLD_GRACE_MS) fences.push({ hold: h, task: d as GetBody<TaskDoc> });
    });
    if (fences.length > 0) {
      const items = await this.writer.write(
        fences.map(({ hold, task }) => ({
          action: { index: { _index: tasksIndex, _id: hold.id, if_seq_no: hold.seq, if_primary_term: hold.term } },
          doc: task._source,
        })),
      );
      // Written or already changed by someone else: either way the claim behind the hold cannot land.
      items.forEach((item, i) => {
        if (item.status === 200 || item.status === 201 || item.status === 409) stale.add(fences[i]!.hold);
        if (item._seq_no !== undefined && item._primary_term !== undefined && item.status < 300) {
          fenced.set(fences[i]!.hold.id, versionOf({ _seq_no: item._seq_no, _primary_term: item._primary_term }));
        }
      });
    }
    if (stale.size === 0) return unchanged;
    const doc: LimitDoc = { ...read.doc, holds: holds.filter((h) => !stale.has(h)) };
    const [item] = await this.writeMeta([{ id: read.id, doc, version: read.version }]);
    if (item && (item.status === 200 || item.status === 201) && item._seq_no !== undefined && item._primary_term !== undefined) {
      return { read: { id: read.id, doc, version: versionOf({ _seq_no: item._seq_no, _primary_term: item._primary_term }) }, fenced };
    }
    return { read: undefined, fenced };
  }
}
