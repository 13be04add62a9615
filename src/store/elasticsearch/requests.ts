/**
 * The few request shapes every part of the Elasticsearch/OpenSearch store uses: search, realtime GET,
 * and the answers' types. Kept apart so that the claim path, the archive and the store class share them.
 */
import type { RecordVersion } from '../../types/index.js';
import { ElasticsearchError, type EsHttp, describe, errorType } from './http.js';

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
  aggregations?: Record<string, any>;
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

/** A realtime GET: sees every acknowledged write, refreshed or not. Undefined if there is no such document. */
export async function getDoc<T>(http: EsHttp, index: string, id: string): Promise<GetBody<T> | undefined> {
  const res = await http.request<GetBody<T>>({ method: 'GET', path: `/${index}/_doc/${enc(id)}` });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new ElasticsearchError(`GET /${index}/_doc/…: ${describe(res.status, res.body)}`, res.status, errorType(res.body));
  return res.body.found ? res.body : undefined;
}
