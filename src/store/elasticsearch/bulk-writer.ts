/**
 * Group commit for the Elasticsearch/OpenSearch store: the writes that callers submit during one turn of
 * the event loop (creates, claim compare-and-sets, done, failed, report-in, unclaim, batch calls) go out
 * as ONE `_bulk` request, and each caller gets the outcomes of its own items. A request per write costs
 * the engine a request parse, a translog sync and a thread hand-off each; grouping pays them once.
 *
 * Durability is unchanged: a caller's promise resolves only after the bulk that holds its items has been
 * answered, i.e. after the engine applied them (with its translog durability). Items are independent
 * (a `_bulk` is not a transaction); items on one shard are applied in the order they were submitted.
 * If the request gets no answer, every caller of that bulk gets the same ElasticsearchError (ambiguous:
 * the items may or may not have been applied), exactly as a request of its own would have.
 */
import { ElasticsearchError, type EsHttp } from './http.js';

export interface BulkItem {
  status: number;
  _id: string;
  _index: string;
  _seq_no?: number;
  _primary_term?: number;
  error?: { type?: string; reason?: string };
}

interface BulkBody {
  errors: boolean;
  items: Record<string, BulkItem>[];
}

/** One `_bulk` operation: the action line and, except for `delete`, the document line. */
export interface BulkOperation {
  action: Record<string, unknown>;
  doc?: unknown;
}

interface Submission {
  operations: BulkOperation[];
  resolve(items: BulkItem[]): void;
  reject(err: unknown): void;
}

export interface BulkWriterOptions {
  /** A bulk is sent at once when this many operations are waiting (else at the end of the turn). */
  maxOperations?: number;
  /**
   * Bulks in flight at once; further writes wait and join the next bulk (group commit). One by default:
   * an idle writer sends at once, a busy one groups everything that arrives while its bulk is out, which
   * the engine pays for once (measured, 1 server, v1 calls: 4 in flight 517 tasks/s and 1.94 ms engine CPU
   * per task, 2 in flight 502 and 2.00, 1 in flight 672 and 1.14).
   */
  maxInFlight?: number;
}

export class BulkWriter {
  private pending: Submission[] = [];
  private pendingOperations = 0;
  private scheduled = false;
  private inFlight = 0;
  private readonly maxOperations: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly http: EsHttp,
    options: BulkWriterOptions = {},
  ) {
    this.maxOperations = options.maxOperations ?? 2000;
    this.maxInFlight = options.maxInFlight ?? 1;
  }

  /** Queues `operations` for the next bulk; resolves with one item per operation, in order. */
  write(operations: BulkOperation[]): Promise<BulkItem[]> {
    if (operations.length === 0) return Promise.resolve([]);
    return new Promise<BulkItem[]>((resolve, reject) => {
      this.pending.push({ operations, resolve, reject });
      this.pendingOperations += operations.length;
      if (this.pendingOperations >= this.maxOperations && this.inFlight < this.maxInFlight) this.flush();
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate runs after the I/O callbacks of this turn: every write they submit joins the bulk.
    setImmediate(() => {
      this.scheduled = false;
      if (this.inFlight < this.maxInFlight) this.flush();
    });
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingOperations = 0;
    this.inFlight++;
    // send() settles every submission itself and never rejects.
    void this.send(batch).finally(() => {
      this.inFlight--;
      // What queued up while the bulks were in flight goes out as one.
      if (this.pending.length > 0) this.schedule();
    });
  }

  private async send(batch: Submission[]): Promise<void> {
    const lines: unknown[] = [];
    for (const { operations } of batch) {
      for (const op of operations) {
        lines.push(op.action);
        if (op.doc !== undefined) lines.push(op.doc);
      }
    }
    let items: BulkItem[];
    try {
      const res = await this.http.expect<BulkBody>({ method: 'POST', path: '/_bulk', body: lines, ndjson: true });
      items = res.body.items.map((item) => Object.values(item)[0]!);
    } catch (err) {
      for (const s of batch) s.reject(err);
      return;
    }
    const expected = batch.reduce((n, s) => n + s.operations.length, 0);
    if (items.length !== expected) {
      const err = new ElasticsearchError(`_bulk answered ${items.length} items for ${expected} operations`, 500);
      for (const s of batch) s.reject(err);
      return;
    }
    let offset = 0;
    for (const s of batch) {
      s.resolve(items.slice(offset, offset + s.operations.length));
      offset += s.operations.length;
    }
  }
}
