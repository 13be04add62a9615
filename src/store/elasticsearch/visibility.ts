/**
 * What a search of this process can see: the engine's refreshes (RefreshBarrier) and this process's own
 * task writes that no refresh is known to have made searchable yet (LocalTaskWrites). Claims merge the two
 * so that a task written on this server is claimable at once without a refresh, and a search hit this
 * server has since overwritten is not taken for current (docs/design/elasticsearch-claims.md).
 */
import { performance } from 'node:perf_hooks';
import type { RecordVersion } from '../../types/index.js';
import { LARGE_DOC_BYTES, SIZE_ONLY_FIELDS, type TaskDoc } from './documents.js';

/**
 * Makes searches see every write that completed before they were called: wait() resolves after a
 * refresh that started after wait() was called. Concurrent callers share refreshes: while one runs, the
 * callers that arrive join a single queued one.
 *
 * Refreshes are numbered in the order they are sent (one at a time): `completed` is the number of the
 * last one that finished, and every write acknowledged before refresh n was sent is searchable once
 * `completed >= n`. Times are the monotonic process clock: this is a cache age, not domain time.
 */
export class RefreshBarrier {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /** Refreshes sent so far. */
  private sent = 0;
  /** Number of the last refresh that finished, and when it was sent. */
  private done = 0;
  private doneSentAt = Number.NEGATIVE_INFINITY;
  private readonly onCompleted: ((refresh: number) => void)[] = [];

  constructor(private readonly refresh: () => Promise<void>) {}

  /** Number of refreshes sent: a write acknowledged now becomes searchable with refresh `sentCount + 1`. */
  get sentCount(): number {
    return this.sent;
  }

  /** Number of the last refresh that finished: a search sent now sees what was acknowledged before it. */
  get completed(): number {
    return this.done;
  }

  /** Milliseconds since the last finished refresh was sent (Infinity before the first one). */
  age(): number {
    return performance.now() - this.doneSentAt;
  }

  /** Called with the refresh's number each time one finishes. */
  onRefreshed(listener: (refresh: number) => void): void {
    this.onCompleted.push(listener);
  }

  wait(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) {
      this.running = this.run();
      return this.running;
    }
    const promise = this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        this.running = this.run();
        return this.running;
      });
    this.queued = promise;
    return promise;
  }

  private run(): Promise<void> {
    const number = ++this.sent;
    const sentAt = performance.now();
    const p: Promise<void> = this.refresh()
      .then(() => {
        if (number > this.done) {
          this.done = number;
          this.doneSentAt = sentAt;
          for (const listener of this.onCompleted) listener(number);
        }
      })
      .finally(() => {
        if (this.running === p) this.running = undefined;
      });
    return p;
  }
}

/** A task document as this process last wrote it (or found it gone), with its version. */
export interface LocalTaskWrite {
  /** The tasks index's `_id`. */
  docId: string;
  index: string;
  doc: TaskDoc;
  version: RecordVersion;
  /** Searchable for certain once refresh number `visibleWith` has finished. */
  visibleWith: number;
  /**
   * Set for a large document: only the fields that order, filter and budget it are kept (a claim that
   * chooses it reads the whole document then), so that memory does not follow the tasks' size.
   */
  partial?: boolean;
}

const LOCAL_PARTIAL_FIELDS: readonly (keyof TaskDoc)[] = [...(SIZE_ONLY_FIELDS as (keyof TaskDoc)[]), 'concurrency_key', 'rate_key'];

function partialOf(doc: TaskDoc): TaskDoc {
  const kept: Partial<Record<keyof TaskDoc, unknown>> = {};
  for (const field of LOCAL_PARTIAL_FIELDS) if (doc[field] !== undefined) kept[field] = doc[field];
  return kept as TaskDoc;
}

/** Whether version `a` is newer than `b` (a new primary term restarts nothing: terms only grow). */
export function isNewer(a: RecordVersion, b: { _seq_no: number; _primary_term: number }): boolean {
  return a.primaryTerm !== b._primary_term ? a.primaryTerm > b._primary_term : a.seqNum > b._seq_no;
}

const isClaimableState = (doc: TaskDoc) => doc.state === 'queued' || doc.state === 'failed';

/**
 * This process's task writes since the refresh that makes them searchable. Entries are dropped once a
 * refresh sent after the write has finished (then a search returns the same or newer). Bounded: past
 * `limit` entries a refresh is started (a server that only writes would otherwise never refresh), and
 * the claim path refreshes before it searches.
 */
export class LocalTaskWrites {
  /** Insertion order = acknowledgement order, so `visibleWith` never decreases along it. */
  private readonly writes = new Map<string, LocalTaskWrite>();
  /** The subset whose document is waiting (queued or failed): candidates of claims. */
  private readonly waiting = new Map<string, LocalTaskWrite>();

  constructor(
    private readonly barrier: RefreshBarrier,
    private readonly limit: number,
  ) {
    barrier.onRefreshed((refresh) => this.dropVisible(refresh));
  }

  get size(): number {
    return this.writes.size;
  }

  /** Records an acknowledged write of `doc` at `version`. A write older than the one recorded is ignored. */
  record(index: string, docId: string, doc: TaskDoc, version: RecordVersion): void {
    const known = this.writes.get(docId);
    if (known && isNewer(known.version, { _seq_no: version.seqNum, _primary_term: version.primaryTerm })) return;
    const large = (doc.source_bytes ?? 0) > LARGE_DOC_BYTES;
    const write: LocalTaskWrite = {
      docId,
      index,
      doc: large ? partialOf(doc) : doc,
      version,
      visibleWith: this.barrier.sentCount + 1,
      ...(large ? { partial: true } : {}),
    };
    this.writes.delete(docId);
    this.writes.set(docId, write);
    if (isClaimableState(doc)) this.waiting.set(docId, write);
    else this.waiting.delete(docId);
    // Joins the refresh in flight or queued, if any: at most one more is started.
    if (this.writes.size > this.limit) this.barrier.wait().catch(() => undefined);
  }

  /** Forgets what is known of `docId` (another process wrote it since: the record is stale). */
  forget(docId: string): void {
    this.writes.delete(docId);
    this.waiting.delete(docId);
  }

  get(docId: string): LocalTaskWrite | undefined {
    return this.writes.get(docId);
  }

  /** Waiting documents written by this process and perhaps not searchable yet. */
  waitingWrites(): IterableIterator<LocalTaskWrite> {
    return this.waiting.values();
  }

  /**
   * `_id`s of every document this process wrote since the refresh that covers it: a search leaves them
   * out (it may hold an older version of them) and the caller takes this process's record instead.
   */
  ids(): string[] {
    return [...this.writes.keys()];
  }

  /**
   * `_id`s of the documents this process wrote out of the waiting states since the refresh that covers
   * them (claimed, done, dead): a snapshot may still show an earlier, waiting version of them, which would
   * take a place among a claim search's hits. Waiting writes need no exclusion: a claim takes this
   * process's record of them anyway and skips an older hit by its version, and most of them (tasks
   * created here) are in no snapshot yet. Half the ids or fewer, for the engine to parse and match.
   */
  nonWaitingIds(): string[] {
    const ids: string[] = [];
    for (const docId of this.writes.keys()) if (!this.waiting.has(docId)) ids.push(docId);
    return ids;
  }

  private dropVisible(refresh: number): void {
    for (const [docId, write] of this.writes) {
      if (write.visibleWith > refresh) return;
      this.writes.delete(docId);
      this.waiting.delete(docId);
    }
  }
}

/**
 * A realtime read that the calls of one process share for at most `maxAgeMs` from when it was sent (a
 * failed read is not shared). A write of what it reads resolves only once every such read from before
 * it has expired (`outlastSharedReads`), so a call that starts after the write resolved, on any server,
 * never gets a read that missed it. Used for the paused queues and the flow-control document.
 */
export class SharedRead<T> {
  private last: { sentAt: number; value: Promise<T> } | undefined;

  constructor(
    private readonly maxAgeMs: number,
    private readonly read: () => Promise<T>,
  ) {}

  get(): Promise<T> {
    const now = performance.now();
    if (this.last && now - this.last.sentAt < this.maxAgeMs) return this.last.value;
    const entry = { sentAt: now, value: this.read() };
    this.last = entry;
    entry.value.catch(() => {
      if (this.last === entry) this.last = undefined;
    });
    return entry.value;
  }

  /** The next get() reads again (this process knows of a write the shared read may have missed). */
  forget(): void {
    this.last = undefined;
  }
}

/** Resolves once every SharedRead of `maxAgeMs` sent before `ackAt` (performance.now()) has expired. */
export async function outlastSharedReads(maxAgeMs: number, ackAt: number): Promise<void> {
  for (let left = ackAt + maxAgeMs - performance.now(); left > 0; left = ackAt + maxAgeMs - performance.now()) {
    await new Promise((resolve) => setTimeout(resolve, Math.ceil(left)));
  }
}
