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
 *
 * Bulks are bounded in bytes (`maxBulkBytes`, 10 MiB by default): a turn of many large creates would
 * otherwise exceed the engine's `http.max_content_length` (100 MB, a 413) or its indexing-pressure limit
 * (a 429). The operations of a flush go out as consecutive bulks of at most that many bytes (one
 * operation larger than the cap goes alone), one after the other, so items on one shard keep their order.
 * A caller whose operations span several bulks gets its items once all of them are answered; if one of
 * them gets no answer, the caller gets that error (ambiguous, as above).
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
  /** Each operation's ndjson lines (action, then document) and their UTF-8 bytes, made once at submission. */
  serialized: { lines: string; bytes: number }[];
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
  /** The most bytes one `_bulk` body carries (one larger operation goes alone); default 10 MiB. */
  maxBulkBytes?: number;
}

/** Default cap of one `_bulk` body: a tenth of the engines' default `http.max_content_length`. */
export const DEFAULT_MAX_BULK_BYTES = 10 * 1024 * 1024;

export class BulkWriter {
  private pending: Submission[] = [];
  private pendingOperations = 0;
  private pendingBytes = 0;
  private scheduled = false;
  private inFlight = 0;
  private readonly maxOperations: number;
  private readonly maxInFlight: number;
  private readonly maxBulkBytes: number;

  constructor(
    private readonly http: EsHttp,
    options: BulkWriterOptions = {},
  ) {
    this.maxOperations = options.maxOperations ?? 2000;
    this.maxInFlight = options.maxInFlight ?? 1;
    this.maxBulkBytes = options.maxBulkBytes ?? DEFAULT_MAX_BULK_BYTES;
  }

  /** Queues `operations` for the next bulk; resolves with one item per operation, in order. */
  write(operations: BulkOperation[]): Promise<BulkItem[]> {
    if (operations.length === 0) return Promise.resolve([]);
    return new Promise<BulkItem[]>((resolve, reject) => {
      let serialized: Submission['serialized'];
      try {
        serialized = operations.map((op) => {
          const lines = op.doc === undefined ? `${JSON.stringify(op.action)}\n` : `${JSON.stringify(op.action)}\n${JSON.stringify(op.doc)}\n`;
          return { lines, bytes: Buffer.byteLength(lines) };
        });
      } catch (err) {
        reject(err);
        return;
      }
      this.pending.push({ operations, serialized, resolve, reject });
      this.pendingOperations += operations.length;
      for (const { bytes } of serialized) this.pendingBytes += bytes;
      const full = this.pendingOperations >= this.maxOperations || this.pendingBytes >= this.maxBulkBytes;
      if (full && this.inFlight < this.maxInFlight) this.flush();
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
    this.pendingBytes = 0;
    this.inFlight++;
    // send() settles every submission itself and never rejects.
    void this.send(batch).finally(() => {
      this.inFlight--;
      // What queued up while the bulks were in flight goes out as one.
      if (this.pending.length > 0) this.schedule();
    });
  }

  private async send(batch: Submission[]): Promise<void> {
    // Cut the flush's operations into bodies of at most maxBulkBytes (an oversized operation alone).
    const bodies: string[][] = [];
    let current: string[] = [];
    let currentBytes = 0;
    for (const { serialized } of batch) {
      for (const { lines, bytes } of serialized) {
        if (current.length > 0 && currentBytes + bytes > this.maxBulkBytes) {
          bodies.push(current);
          current = [];
          currentBytes = 0;
        }
        current.push(lines);
        currentBytes += bytes;
      }
    }
    if (current.length > 0) bodies.push(current);

    const items: BulkItem[] = [];
    // For each operation whose bulk got no (valid) answer: that error. Its callers are rejected with it.
    const errors: unknown[] = [];
    for (const body of bodies) {
      try {
        const res = await this.http.expect<BulkBody>({ method: 'POST', path: '/_bulk', body: body.join(''), ndjson: true });
        const answered = res.body.items.map((item) => Object.values(item)[0]!);
        if (answered.length !== body.length) {
          throw new ElasticsearchError(`_bulk answered ${answered.length} items for ${body.length} operations`, 500);
        }
        items.push(...answered);
      } catch (err) {
        for (let i = 0; i < body.length; i++) {
          errors[items.length] = err;
          items.push({ status: 0, _id: '', _index: '' }); // a placeholder: never handed to a caller
        }
      }
    }
    let offset = 0;
    for (const s of batch) {
      const end = offset + s.operations.length;
      const error = errors.slice(offset, end).find((e) => e !== undefined);
      if (error !== undefined) s.reject(error);
      else s.resolve(items.slice(offset, end));
      offset = end;
    }
  }
}
