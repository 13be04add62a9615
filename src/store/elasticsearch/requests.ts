/**
 * The few request shapes every part of the Elasticsearch/OpenSearch store uses: search, realtime GET,
 * and the answers' types. Kept apart so that the claim path, the archive and the store class share them.
 */
import type { RecordVersion } from '../../types/index.js';
import { ElasticsearchError, type EsHttp, type EsRequest, describe, errorType } from './http.js';

export interface Hit<T> {
  _index: string;
  _id: string;
  _seq_no: number;
  _primary_term: number;
  _source: T;
  sort?: unknown[];
}

export interface SearchBody<T> {
  hits: { hits: Hit<T>[] };
  /** Shapes differ per aggregation: each caller names the ones it asked for. */
  aggregations?: Record<string, { buckets?: unknown[] } | undefined>;
}

export interface GetBody<T> {
  found: boolean;
  _seq_no: number;
  _primary_term: number;
  _source: T;
}

export const versionOf = (x: { _seq_no: number; _primary_term: number }): RecordVersion => ({
  seqNum: x._seq_no,
  primaryTerm: x._primary_term,
});

export const enc = encodeURIComponent;

/** Largest page a search may ask for (the engines' default `index.max_result_window`). */
export const MAX_PAGE = 10_000;

export async function search<T>(http: EsHttp, index: string, body: Record<string, unknown>): Promise<SearchBody<T>> {
  const res = await http.expect<SearchBody<T>>({
    method: 'POST',
    path: `/${index}/_search`,
    query: { ignore_unavailable: true, allow_no_indices: true },
    body,
    read: true,
  });
  return res.body;
}

/** A document of an `_mget` answer, in the order asked. */
export type MgetDoc<T> = GetBody<T> & { _index: string; _id: string };

/** Most bytes of documents (by their `source_bytes`) asked in one `_mget`; larger reads go in several. */
export const MGET_CHUNK_BYTES = 4 * 1_048_576;

/**
 * A realtime `_mget` of documents by index and id: one answer per document, in the order asked. Refs
 * that give their size (`bytes`) are read in `_mget`s of at most MGET_CHUNK_BYTES, one after another, so
 * that the answer's text and its parse stay that small at a time (16 MiB of large tasks read at once
 * held four copies of it in memory together).
 */
export async function mgetDocs<T>(http: EsHttp, refs: readonly { index: string; id: string; bytes?: number }[]): Promise<MgetDoc<T>[]> {
  const docs: MgetDoc<T>[] = [];
  let start = 0;
  while (start < refs.length) {
    let end = start + 1;
    let bytes = refs[start]!.bytes ?? 0;
    while (end < refs.length && bytes + (refs[end]!.bytes ?? 0) <= MGET_CHUNK_BYTES) bytes += refs[end++]!.bytes ?? 0;
    const res = await http.expect<{ docs: MgetDoc<T>[] }>({
      method: 'POST',
      path: '/_mget',
      body: { docs: refs.slice(start, end).map((r) => ({ _index: r.index, _id: r.id })) },
      read: true,
    });
    for (const doc of res.body.docs) docs.push(doc);
    start = end;
  }
  return docs;
}

/** A realtime GET: sees every acknowledged write, refreshed or not. Undefined if there is no such document. */
export async function getDoc<T>(http: EsHttp, index: string, id: string): Promise<GetBody<T> | undefined> {
  const res = await http.request<GetBody<T>>({ method: 'GET', path: `/${index}/_doc/${enc(id)}` });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new ElasticsearchError(`GET /${index}/_doc/…: ${describe(res.status, res.body)}`, res.status, errorType(res.body));
  return res.body.found ? res.body : undefined;
}

const fail = (method: string, path: string, res: { status: number; body: unknown }): ElasticsearchError =>
  new ElasticsearchError(`${method} ${path}: ${describe(res.status, res.body)}`, res.status, errorType(res.body));

/** PUT a whole document, with CAS when `expected` is given, or create-only when `create`. */
export async function putDoc(
  http: EsHttp,
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
  const res = await http.request<{ _seq_no: number; _primary_term: number }>(req);
  if (res.status === 200 || res.status === 201) return { status: res.status, version: versionOf(res.body) };
  if (res.status === 409 || res.status === 404) return { status: res.status };
  throw fail(req.method, `/${index}/…`, res);
}

/** DELETE a document, with CAS when `expected` is given; answers 200, 404 or 409. */
export async function deleteDoc(http: EsHttp, index: string, id: string, expected?: RecordVersion): Promise<number> {
  const res = await http.request({
    method: 'DELETE',
    path: `/${index}/_doc/${enc(id)}`,
    query: expected ? { if_seq_no: expected.seqNum, if_primary_term: expected.primaryTerm } : undefined,
  });
  if (res.status === 200 || res.status === 404 || res.status === 409) return res.status;
  throw fail('DELETE', `/${index}/…`, res);
}

/**
 * Code-point order of UTF-8 bytes, as the engine sorts keywords (and SQLite compares BINARY). UTF-16 code
 * units sort the same way below the surrogates (U+D800), so only a difference at or above them is
 * settled by encoding (claims sort thousands of keys: no two buffers per comparison).
 */
export function byBytes(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 && y < 0xd800) return x < y ? -1 : 1;
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Filter on the queues (a set); none means every queue. */
export function queueFilter(queues: string[]): Record<string, unknown>[] {
  return queues.length > 0 ? [{ terms: { queue: [...new Set(queues)] } }] : [];
}
