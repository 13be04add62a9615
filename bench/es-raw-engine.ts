/**
 * The raw-engine ceiling (`bench:es --only raw`): the writes a task needs, sent straight to the engine
 * with no Tasques server and no search. Per task: a `_create`, then a compare-and-set claim write
 * (`index` with `if_seq_no`/`if_primary_term` from the create), then a compare-and-set done write, into
 * the store's own tasks index (its mapping and index sort; one shard, `translog.durability: request`).
 * C loops run concurrently, each one task at a time, so C is the number of tasks in flight.
 *
 * - one request each: every write is its own HTTP request (one keep-alive connection per loop);
 * - grouped: the writes that become ready in one event-loop turn go out as one `_bulk`, with an outcome
 *   per item (what a store that groups its writes could do at best).
 *
 * Every other figure of the Elasticsearch benchmark is stated as a ratio to the grouped figure at the
 * same concurrency, measured in the same run on the same engine.
 */
import http from 'node:http';
import { taskDocId, taskToDoc } from '../src/store/elasticsearch/documents.js';
import type { NewTaskRecord } from '../src/types/index.js';
import { now, processCpuMs } from './lib.js';

export interface RawEngineOptions {
  url: string;
  /** The tasks index of a prefix set up by the store. */
  index: string;
  concurrency: number;
  tasks: number;
  grouped: boolean;
  enginePid: number | undefined;
  timeoutMs: number;
}

export interface RawEngineResult {
  concurrency: number;
  grouped: boolean;
  done: number;
  wallMs: number;
  /** The engine JVM's CPU time over the run (ms); NaN when its pid is unknown. */
  engineCpuMs: number;
  /** This process's CPU time over the run (ms). */
  clientCpuMs: number;
  requests: number;
  errors: number;
}

interface WriteOutcome {
  status: number;
  seqNo: number;
  primaryTerm: number;
}

interface BulkItem {
  status: number;
  _seq_no?: number;
  _primary_term?: number;
  error?: { type?: string; reason?: string };
}

/** The engine's answer to a single-document write: its status and the new seq_no/primary_term. */
type WriteBody = { _seq_no?: number; _primary_term?: number };

class EngineClient {
  private readonly agent: http.Agent;
  private readonly target: URL;
  requests = 0;

  constructor(url: string, sockets: number) {
    this.target = new URL(url);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  request(method: string, path: string, body: string, contentType: string): Promise<{ status: number; body: unknown }> {
    this.requests++;
    const payload = Buffer.from(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.target.hostname,
          port: Number(this.target.port),
          method,
          path,
          agent: this.agent,
          headers: { 'content-type': contentType, 'content-length': String(payload.length) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown });
            } catch {
              resolve({ status: res.statusCode ?? 0, body: text });
            }
          });
        },
      );
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** One write: `create` (no CAS) or `index` with the compare-and-set pair of the previous write. */
interface Write {
  docId: string;
  doc: string;
  cas?: { seqNo: number; primaryTerm: number };
}

type Writer = (w: Write) => Promise<WriteOutcome>;

function singleRequestWriter(client: EngineClient, index: string): Writer {
  return async (w) => {
    const id = encodeURIComponent(w.docId);
    const path = w.cas
      ? `/${index}/_doc/${id}?if_seq_no=${w.cas.seqNo}&if_primary_term=${w.cas.primaryTerm}`
      : `/${index}/_create/${id}`;
    const res = await client.request('PUT', path, w.doc, 'application/json');
    const body = res.body as WriteBody;
    return { status: res.status, seqNo: body._seq_no ?? -1, primaryTerm: body._primary_term ?? -1 };
  };
}

/** Collects the writes of one event-loop turn and sends them as one `_bulk`; bulks of different turns overlap. */
function groupedWriter(client: EngineClient, index: string): Writer {
  let pending: { w: Write; resolve: (o: WriteOutcome) => void; reject: (e: Error) => void }[] = [];
  const flush = async () => {
    const batch = pending;
    pending = [];
    const lines: string[] = [];
    for (const { w } of batch) {
      const action = w.cas
        ? { index: { _index: index, _id: w.docId, if_seq_no: w.cas.seqNo, if_primary_term: w.cas.primaryTerm } }
        : { create: { _index: index, _id: w.docId } };
      lines.push(JSON.stringify(action), w.doc);
    }
    try {
      const res = await client.request('POST', '/_bulk', `${lines.join('\n')}\n`, 'application/x-ndjson');
      const items = (res.body as { items?: Record<string, BulkItem>[] }).items;
      if (res.status !== 200 || !items || items.length !== batch.length) throw new Error(`_bulk: HTTP ${res.status}`);
      batch.forEach((p, i) => {
        const item = Object.values(items[i] ?? {})[0];
        p.resolve({ status: item?.status ?? 0, seqNo: item?._seq_no ?? -1, primaryTerm: item?._primary_term ?? -1 });
      });
    } catch (e) {
      for (const p of batch) p.reject(e as Error);
    }
  };
  return (w) =>
    new Promise((resolve, reject) => {
      if (pending.length === 0) setImmediate(() => void flush());
      pending.push({ w, resolve, reject });
    });
}

function taskRecord(i: number, at: number): NewTaskRecord {
  return {
    queue: 'raw',
    id: `raw-${String(i).padStart(9, '0')}`,
    kind: 'noop',
    state: 'queued',
    priority: 0,
    runAt: at,
    retryTimes: 25,
    attempted: 0,
    processingTimeoutNs: 1_800_000_000_000,
    args: { i },
    lastEnqueuedAt: at,
    createdAt: at,
    modifiedAt: at,
  };
}

export async function rawEngineRun(o: RawEngineOptions): Promise<RawEngineResult> {
  // Grouped: a few connections suffice (one bulk per turn); single requests: one connection per loop.
  const client = new EngineClient(o.url, o.grouped ? Math.min(o.concurrency, 16) : o.concurrency);
  const write = o.grouped ? groupedWriter(client, o.index) : singleRequestWriter(client, o.index);
  let done = 0;
  let errors = 0;
  let stopping = false;
  const failed = (what: string) => {
    if (++errors <= 5) console.error(`  raw engine: ${what}`);
    if (errors > 100) stopping = true;
  };
  const cpu0 = processCpuMs(o.enginePid);
  const client0 = process.cpuUsage();
  const t0 = now();
  const deadline = t0 + o.timeoutMs;
  const loop = async (l: number) => {
    for (let i = l; i < o.tasks && !stopping && now() < deadline; i += o.concurrency) {
      try {
        const at = Date.now();
        const task = taskRecord(i, at);
        const docId = taskDocId(task.queue, task.id);
        const created = await write({ docId, doc: JSON.stringify(taskToDoc(task)) });
        if (created.status !== 201) {
          failed(`create: ${created.status}`);
          continue;
        }
        const lastClaimed = { workerId: `raw-worker-${l}`, claimedAt: Date.now(), timesOutAt: Date.now() + 1_800_000 };
        const claimedTask: NewTaskRecord = { ...task, state: 'claimed', attempted: 1, lastClaimed, modifiedAt: Date.now() };
        const claimed = await write({ docId, doc: JSON.stringify(taskToDoc(claimedTask)), cas: created });
        if (claimed.status !== 200) {
          failed(`claim: ${claimed.status}`);
          continue;
        }
        const doneAt = Date.now();
        const doneTask: NewTaskRecord = {
          ...claimedTask,
          state: 'done',
          lastClaimed: { ...lastClaimed, result: { at: doneAt, success: {} } },
          modifiedAt: doneAt,
        };
        const finished = await write({ docId, doc: JSON.stringify(taskToDoc(doneTask)), cas: claimed });
        if (finished.status !== 200) {
          failed(`done: ${finished.status}`);
          continue;
        }
        done++;
      } catch (e) {
        failed((e as Error).message);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, (_, l) => loop(l)));
  } finally {
    client.close();
  }
  const wallMs = now() - t0;
  const cpu1 = processCpuMs(o.enginePid);
  const clientCpu = process.cpuUsage(client0);
  return {
    concurrency: o.concurrency,
    grouped: o.grouped,
    done,
    wallMs,
    engineCpuMs: cpu0 === undefined || cpu1 === undefined ? Number.NaN : cpu1 - cpu0,
    clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
    requests: client.requests,
    errors,
  };
}
