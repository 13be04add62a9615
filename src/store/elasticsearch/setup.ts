/**
 * `tasques setup` for the Elasticsearch/OpenSearch store: puts the index templates, the indices, the
 * archive's write alias and (on Elasticsearch with ILM) the archive's lifecycle policy in place, and
 * checks them at server start. Idempotent and safe to run from several processes at once: templates are
 * overwritten with the same content, and an index or alias that another process created first is fine.
 *
 * Only the common REST subset is used (composable `_index_template`, index creation, `_mapping`,
 * `_alias`), plus `_ilm/*` on Elasticsearch when ILM is enabled and available.
 */
import { type EsHttp, ElasticsearchError, describe, errorType } from './http.js';
import {
  ARCHIVE_MAPPINGS,
  INDEXED,
  META_MAPPINGS,
  SERIES_MAPPINGS,
  RECURRING_MAPPINGS,
  SCHEMA_VERSION,
  TASKS_MAPPINGS,
  type IndexNames,
  ilmPolicy,
  indexTemplates,
} from './mappings.js';

export interface EngineInfo {
  /** `opensearch` or `elasticsearch`. */
  distribution: 'opensearch' | 'elasticsearch';
  version: string;
}

export class SetupRequiredError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `the Elasticsearch store is not set up (${problems.join('; ')}). Run \`tasques setup\` with the same ` +
        'configuration, or set store.elasticsearch.auto_setup: true',
    );
    this.name = 'SetupRequiredError';
  }
}

/** Which engine answers at the configured addresses (`GET /`). */
export async function detectEngine(http: EsHttp): Promise<EngineInfo> {
  const res = await http.expect<{ version?: { number?: string; distribution?: string } }>({ method: 'GET', path: '/' });
  const distribution = res.body.version?.distribution === 'opensearch' ? 'opensearch' : 'elasticsearch';
  return { distribution, version: res.body.version?.number ?? 'unknown' };
}

/** True on an Elasticsearch whose ILM answers (absent from OpenSearch and from a bare embedded ES). */
export async function ilmAvailable(http: EsHttp, engine: EngineInfo): Promise<boolean> {
  if (engine.distribution !== 'elasticsearch') return false;
  const res = await http.request({ method: 'GET', path: '/_ilm/status' });
  return res.status === 200;
}

export interface SetupOptions {
  /** Use ILM for the archive when the engine is Elasticsearch and has it (v1's lifecycle_setup.archived_tasks.enabled). */
  ilmEnabled: boolean;
  /** Archive rollover conditions. */
  rolloverMaxAge: string;
  rolloverMaxDocs: number;
  /** With ILM: delete archive indices this long after they rolled over (undefined: keep). */
  ilmDeleteAfter?: string | undefined;
}

export interface SetupReport {
  engine: EngineInfo;
  /** Whether the archive rolls over by ILM (else the leader does it). */
  ilm: boolean;
  templates: string[];
  createdIndices: string[];
  updatedMappings: string[];
  archiveAliasCreated: boolean;
  /** Tasks written before their index had the schema-2 fields, re-written by this setup (see backfillIndexedFields). */
  backfilledTasks: number;
}

/** Installs (or upgrades) everything the store needs. */
export async function setupElasticsearch(http: EsHttp, names: IndexNames, options: SetupOptions): Promise<SetupReport> {
  const engine = await detectEngine(http);
  const ilm = options.ilmEnabled && (await ilmAvailable(http, engine));
  if (ilm) {
    await http.expect({
      method: 'PUT',
      path: `/_ilm/policy/${names.ilmPolicy}`,
      body: ilmPolicy({ maxAge: options.rolloverMaxAge, maxDocs: options.rolloverMaxDocs, deleteAfter: options.ilmDeleteAfter }),
    });
  }
  const templates = indexTemplates(names, { ilmPolicy: ilm ? names.ilmPolicy : undefined });
  for (const [name, body] of Object.entries(templates)) {
    await http.expect({ method: 'PUT', path: `/_index_template/${name}`, body });
  }
  const report: SetupReport = {
    engine,
    ilm,
    templates: Object.keys(templates),
    createdIndices: [],
    updatedMappings: [],
    archiveAliasCreated: false,
    backfilledTasks: 0,
  };
  const fixed: [string, unknown][] = [
    [names.tasks, TASKS_MAPPINGS],
    [names.recurring, RECURRING_MAPPINGS],
    [names.meta, META_MAPPINGS],
    [names.series, SERIES_MAPPINGS],
  ];
  for (const [index, mappings] of fixed) {
    if (await createIndex(http, index, {})) report.createdIndices.push(index);
    else {
      // An existing index gets the fields a newer schema added (additive changes only).
      await http.expect({ method: 'PUT', path: `/${index}/_mapping`, body: withoutMeta(mappings) });
      report.updatedMappings.push(index);
      if (index === names.tasks) report.backfilledTasks = await backfillIndexedFields(http, names.tasks);
    }
  }
  // The archive: a write alias over rolling indices, bootstrapped once.
  const alias = await http.request({ method: 'GET', path: `/_alias/${names.archiveAlias}` });
  if (alias.status === 404) {
    const created = await createIndex(http, names.archiveFirst, {
      aliases: { [names.archiveAlias]: { is_write_index: true } },
    });
    if (!created) {
      // Created by a concurrent setup (with the alias), or left without it: make sure the alias is there.
      await http.expect({
        method: 'POST',
        path: '/_aliases',
        body: { actions: [{ add: { index: names.archiveFirst, alias: names.archiveAlias, is_write_index: true } }] },
      });
    }
    report.archiveAliasCreated = true;
    report.createdIndices.push(names.archiveFirst);
  } else if (alias.status !== 200) {
    throw new ElasticsearchError(`GET /_alias/${names.archiveAlias}: ${describe(alias.status, alias.body)}`, alias.status);
  } else {
    for (const index of Object.keys(alias.body as object)) {
      await http.expect({ method: 'PUT', path: `/${index}/_mapping`, body: withoutMeta(ARCHIVE_MAPPINGS) });
      report.updatedMappings.push(index);
    }
  }
  return report;
}

const BACKFILL_PAGE = 1000;

/**
 * Upgrade from schema 1: a field added to an existing index's mapping covers the documents written from
 * then on; the ones written before are not in its index until they are written again. This re-writes
 * them, unchanged, with compare-and-set on the version it read (no script, no update-by-query: neither
 * is in the REST subset this driver relies on): a 409 means another writer got there first, and any
 * write after the mapping update indexes the new fields anyway. Safe while servers run and when several
 * setups run at once; each round refreshes first, so re-written tasks drop out of the next search.
 * Returns how many tasks this call re-wrote. Re-writing moves a task's version forward, as any write.
 */
export async function backfillIndexedFields(http: EsHttp, index: string): Promise<number> {
  let rewritten = 0;
  for (;;) {
    await http.expect({ method: 'POST', path: `/${index}/_refresh`, read: true });
    const found = await http.expect<{ hits: { hits: { _id: string; _seq_no: number; _primary_term: number; _source: unknown }[] } }>({
      method: 'POST',
      path: `/${index}/_search`,
      read: true,
      body: {
        size: BACKFILL_PAGE,
        seq_no_primary_term: true,
        track_total_hits: false,
        query: {
          bool: {
            should: [
              { bool: { must_not: [{ exists: { field: INDEXED.createdAt } }] } },
              { bool: { must_not: [{ exists: { field: INDEXED.kind } }] } },
            ],
            minimum_should_match: 1,
          },
        },
      },
    });
    const hits = found.body.hits.hits;
    if (hits.length === 0) return rewritten;
    const lines: unknown[] = [];
    for (const h of hits) {
      lines.push({ index: { _index: index, _id: h._id, if_seq_no: h._seq_no, if_primary_term: h._primary_term } });
      lines.push(h._source);
    }
    const res = await http.expect<{ items: Record<string, { status: number; error?: unknown }>[] }>({
      method: 'POST',
      path: '/_bulk',
      body: lines,
      ndjson: true,
    });
    for (const item of res.body.items) {
      const { status, error } = Object.values(item)[0]!;
      if (status === 200 || status === 201) rewritten++;
      else if (status !== 409) throw new ElasticsearchError(`backfilling ${index}: ${describe(status, { error })}`, status, errorType({ error }));
    }
    if (hits.length < BACKFILL_PAGE) return rewritten;
  }
}

function withoutMeta(mappings: unknown): unknown {
  const { dynamic: _d, ...rest } = mappings as Record<string, unknown>;
  return rest;
}

/** Creates an index; false if it exists already. */
async function createIndex(http: EsHttp, index: string, body: unknown): Promise<boolean> {
  const res = await http.request({ method: 'PUT', path: `/${index}`, body });
  if (res.status >= 200 && res.status < 300) return true;
  const type = errorType(res.body);
  if (res.status === 400 && (type === 'resource_already_exists_exception' || type === 'index_already_exists_exception')) {
    return false;
  }
  throw new ElasticsearchError(`PUT /${index}: ${describe(res.status, res.body)}`, res.status, type);
}

export interface CheckResult {
  /** Whether the archive template is ILM-managed (so the leader does not roll it over). */
  ilm: boolean;
}

/**
 * Checks that setup has run for this prefix and schema version: every template at SCHEMA_VERSION, the
 * fixed indices and the archive write alias present. Throws SetupRequiredError listing what is missing.
 */
export async function checkElasticsearch(http: EsHttp, names: IndexNames): Promise<CheckResult> {
  const problems: string[] = [];
  let ilm = false;
  for (const name of Object.values(names.templates)) {
    const res = await http.request<{ index_templates?: { index_template: { version?: number; template?: { settings?: { index?: Record<string, unknown> & { lifecycle?: { name?: string } } } } } }[] }>({
      method: 'GET',
      path: `/_index_template/${name}`,
    });
    const found = res.status === 200 ? res.body.index_templates?.[0]?.index_template : undefined;
    if (!found) {
      if (res.status !== 404 && res.status !== 200) {
        throw new ElasticsearchError(`GET /_index_template/${name}: ${describe(res.status, res.body)}`, res.status);
      }
      problems.push(`index template ${name} is missing`);
      continue;
    }
    if ((found.version ?? 0) < SCHEMA_VERSION) problems.push(`index template ${name} is at version ${found.version}, older than ${SCHEMA_VERSION}`);
    if ((found.version ?? 0) > SCHEMA_VERSION) {
      throw new Error(
        `index template ${name} is at schema version ${found.version}, newer than this server knows (${SCHEMA_VERSION}); upgrade the server`,
      );
    }
    if (name === names.templates.archive) {
      const settings = found.template?.settings?.index ?? {};
      ilm = settings.lifecycle?.name !== undefined || settings['lifecycle.name'] !== undefined;
    }
  }
  for (const index of [names.tasks, names.recurring, names.meta]) {
    const res = await http.request({ method: 'HEAD', path: `/${index}` });
    if (res.status === 404) problems.push(`index ${index} is missing`);
  }
  const alias = await http.request({ method: 'HEAD', path: `/_alias/${names.archiveAlias}` });
  if (alias.status === 404) problems.push(`alias ${names.archiveAlias} is missing`);
  if (problems.length > 0) throw new SetupRequiredError(problems);
  return { ilm };
}

/**
 * Removes every index, alias, template and policy of the prefix (tests; a `teardown` for operators).
 * Indices are deleted by name, never by wildcard (Elasticsearch 8 refuses wildcard deletes by default).
 */
export async function dropElasticsearch(http: EsHttp, names: IndexNames): Promise<void> {
  const listed = await http.request<{ index: string }[]>({
    method: 'GET',
    path: `/_cat/indices/${names.tasks},${names.recurring},${names.meta},${names.series},${names.archivePattern}`,
    query: { format: 'json', h: 'index', ignore_unavailable: true, allow_no_indices: true },
  });
  const indices = listed.status === 200 ? listed.body.map((r) => r.index) : [];
  for (let i = 0; i < indices.length; i += 20) {
    const batch = indices.slice(i, i + 20);
    await http.expect({ method: 'DELETE', path: `/${batch.join(',')}`, query: { ignore_unavailable: true } }, (s) => s < 300 || s === 404);
  }
  for (const name of Object.values(names.templates)) {
    await http.expect({ method: 'DELETE', path: `/_index_template/${name}` }, (s) => s < 300 || s === 404);
  }
}
