/**
 * Kibana saved objects for the Elasticsearch store, for `tasques setup --kibana-url` / `--kibana-export`:
 * data views (index patterns) over the store's indices and a dashboard of legacy (aggregation-based)
 * visualizations, as ndjson, and a client for Kibana's saved-objects import API.
 *
 * **Format.** The objects are written in the Kibana 7.10 export format: `index-pattern`, `visualization`
 * (types `histogram`, `horizontal_bar`, `metric`, `markdown`) and `dashboard`, each with the
 * `migrationVersion` of the last 7.10 migration of its type. Kibana imports objects of its own version or
 * older and migrates them forward, so 7.10 and every later 7.x and 8.x take them. Legacy visualizations
 * rather than Lens: their format is simpler to write by hand and is what Kibana's own 7.x sample data
 * uses. No Kibana was run
 * here: the format follows Kibana's own sample-data objects and migration code, and the tests check
 * what can be checked without one (docs/elasticsearch.md, "Kibana").
 *
 * **Fields.** Kibana reads a data view's fields from `_field_caps`: its time field must be a `date`, and
 * a field it aggregates on must have doc values. The task documents keep times as epoch-ms `long`s and
 * some fields in `_source` only; the objects therefore use the indexed multi-fields of mappings.ts
 * (`INDEXED`), and `checkKibanaFields` asks the engine whether each field is there with the type the
 * objects need. Every panel counts tasks by **creation time**, the data views' one time field.
 *
 * **Ids** are derived from the index prefix only: the same prefix always gives the same objects, so an
 * import with `overwrite=true` replaces the previous one (idempotent), and several deployments that
 * share a Kibana under different prefixes do not overwrite each other.
 */
import { writeFileSync } from 'node:fs';
import { type EsHttp, describe as describeEsError } from '../../store/elasticsearch/http.js';
import { INDEXED, type IndexNames } from '../../store/elasticsearch/mappings.js';

/** The Kibana versions the objects are written for (see the module comment). */
export const KIBANA_TARGET = 'Kibana 7.10 saved-object format (legacy visualizations); for Kibana 7.10 and later 7.x/8.x';

/** The last migration of each type in Kibana 7.10: a newer one would make 7.10 refuse the object. */
const MIGRATION_VERSION = { 'index-pattern': '7.6.0', visualization: '7.10.0', dashboard: '7.9.3' } as const;

/** The fields the objects use. Names come from the mapping, so a rename there shows up here. */
export const KIBANA_FIELDS = {
  /** The time field of every data view: when the task was created. Must be a `date`. */
  time: INDEXED.createdAt,
  kind: INDEXED.kind,
  queue: 'queue',
  state: 'state',
} as const;

export type KibanaObjectType = 'index-pattern' | 'visualization' | 'dashboard';

export interface KibanaReference {
  name: string;
  type: KibanaObjectType;
  id: string;
}

/** One saved object, as one line of an export file. */
export interface KibanaSavedObject {
  type: KibanaObjectType;
  id: string;
  attributes: Record<string, unknown>;
  references: KibanaReference[];
  migrationVersion: Record<string, string>;
}

type DataViewKey = 'tasks' | 'archive' | 'all';

interface DataViewSpec {
  key: DataViewKey;
  /** The index pattern: Kibana 7.10 shows it as the data view's name too. */
  pattern: string;
}

export function kibanaDataViews(names: IndexNames): DataViewSpec[] {
  return [
    { key: 'tasks', pattern: names.tasks },
    { key: 'archive', pattern: names.archivePattern },
    // Live and archived tasks together: what was created when, whether archived since or not.
    { key: 'all', pattern: `${names.tasks},${names.archivePattern}` },
  ];
}

type AggSpec =
  | { type: 'terms'; field: string; size: number; schema: 'segment' | 'group' }
  | { type: 'date_histogram'; field: string; schema: 'segment' };

interface VisSpec {
  key: string;
  title: string;
  type: 'histogram' | 'horizontal_bar' | 'metric' | 'markdown';
  dataView?: DataViewKey;
  /** A KQL query of the form `field:value or field:value`, kept structured so its fields are known. */
  query?: { field: string; values: string[] };
  /** Bucket aggregations, outermost first; every visualization counts documents (metric "1"). */
  buckets: AggSpec[];
  markdown?: string;
  /** Dashboard grid position (48 columns). */
  grid: { x: number; y: number; w: number; h: number };
}

function visSpecs(names: IndexNames): VisSpec[] {
  const f = KIBANA_FIELDS;
  return [
    {
      key: 'about',
      title: 'About this dashboard',
      type: 'markdown',
      buckets: [],
      markdown: [
        `**Tasques** tasks of index prefix \`${names.prefix}\`.`,
        '',
        '- Every panel counts tasks by **creation time**: the time range selects the tasks created in it.',
        `- "Live" panels read \`${names.tasks}\` (tasks not archived yet); the others also read the archive \`${names.archivePattern}\`.`,
        '- A task is counted in its **current** state: a failed attempt that was retried and then succeeded counts as done.',
        '- Re-run `tasques setup --kibana-url …` after upgrading Tasques to refresh these objects.',
      ].join('\n'),
      grid: { x: 0, y: 0, w: 16, h: 12 },
    },
    {
      key: 'live-by-state',
      title: 'Live tasks by state',
      type: 'metric',
      dataView: 'tasks',
      buckets: [{ type: 'terms', field: f.state, size: 5, schema: 'group' }],
      grid: { x: 16, y: 0, w: 32, h: 12 },
    },
    {
      key: 'live-by-queue-and-state',
      title: 'Live tasks by queue and state',
      type: 'histogram',
      dataView: 'tasks',
      buckets: [
        { type: 'terms', field: f.queue, size: 20, schema: 'segment' },
        { type: 'terms', field: f.state, size: 5, schema: 'group' },
      ],
      grid: { x: 0, y: 12, w: 24, h: 15 },
    },
    {
      key: 'top-kinds',
      title: 'Top task kinds',
      type: 'horizontal_bar',
      dataView: 'all',
      buckets: [
        { type: 'terms', field: f.kind, size: 15, schema: 'segment' },
        { type: 'terms', field: f.state, size: 5, schema: 'group' },
      ],
      grid: { x: 24, y: 12, w: 24, h: 15 },
    },
    {
      key: 'created-over-time',
      title: 'Tasks created over time, by queue',
      type: 'histogram',
      dataView: 'all',
      buckets: [
        { type: 'date_histogram', field: f.time, schema: 'segment' },
        { type: 'terms', field: f.queue, size: 10, schema: 'group' },
      ],
      grid: { x: 0, y: 27, w: 24, h: 15 },
    },
    {
      key: 'failed-dead-over-time',
      title: 'Failed and dead tasks, by creation time',
      type: 'histogram',
      dataView: 'all',
      query: { field: f.state, values: ['failed', 'dead'] },
      buckets: [
        { type: 'date_histogram', field: f.time, schema: 'segment' },
        { type: 'terms', field: f.state, size: 2, schema: 'group' },
      ],
      grid: { x: 24, y: 27, w: 24, h: 15 },
    },
  ];
}

const idOf = {
  dataView: (names: IndexNames, key: DataViewKey) => `tasques-${names.prefix}-data-view-${key}`,
  vis: (names: IndexNames, key: string) => `tasques-${names.prefix}-vis-${key}`,
  dashboard: (names: IndexNames) => `tasques-${names.prefix}-dashboard`,
};

const SEARCH_INDEX_REF = 'kibanaSavedObjectMeta.searchSourceJSON.index';

/** `field:value or field:value` (values are plain words, so no quoting is needed). */
function kql(query: VisSpec['query']): string {
  return query ? query.values.map((v) => `${query.field}:${v}`).join(' or ') : '';
}

function aggState(spec: VisSpec): unknown[] {
  const aggs: unknown[] = [{ id: '1', enabled: true, type: 'count', schema: 'metric', params: {} }];
  spec.buckets.forEach((b, i) => {
    const id = String(i + 2);
    if (b.type === 'terms') {
      aggs.push({
        id,
        enabled: true,
        type: 'terms',
        schema: b.schema,
        params: {
          field: b.field,
          orderBy: '1',
          order: 'desc',
          size: b.size,
          otherBucket: false,
          otherBucketLabel: 'Other',
          missingBucket: false,
          missingBucketLabel: 'Missing',
        },
      });
    } else {
      aggs.push({
        id,
        enabled: true,
        type: 'date_histogram',
        schema: b.schema,
        params: {
          field: b.field,
          useNormalizedEsInterval: true,
          scaleMetricValues: false,
          interval: 'auto',
          drop_partials: false,
          min_doc_count: 1,
          extended_bounds: {},
        },
      });
    }
  });
  return aggs;
}

/** Full vis params as Kibana 7.10 saves them (its migrations read some of them, e.g. the axes). */
function visParams(spec: VisSpec): Record<string, unknown> {
  const common = {
    addTooltip: true,
    addLegend: true,
    legendPosition: 'right',
    times: [],
    addTimeMarker: false,
    labels: { show: false },
    thresholdLine: { show: false, value: 10, width: 1, style: 'full', color: '#E7664C' },
  };
  const series = [
    {
      show: true,
      type: 'histogram',
      mode: 'stacked',
      data: { label: 'Count', id: '1' },
      valueAxis: 'ValueAxis-1',
      drawLinesBetweenPoints: true,
      lineWidth: 2,
      showCircles: true,
    },
  ];
  switch (spec.type) {
    case 'markdown':
      return { fontSize: 12, openLinksInNewTab: false, markdown: spec.markdown ?? '' };
    case 'metric':
      return {
        addTooltip: true,
        addLegend: false,
        type: 'metric',
        metric: {
          percentageMode: false,
          useRanges: false,
          colorSchema: 'Green to Red',
          metricColorMode: 'None',
          colorsRange: [{ from: 0, to: 10000 }],
          labels: { show: true },
          invertColors: false,
          style: { bgFill: '#000', bgColor: false, labelColor: false, subText: '', fontSize: 60 },
        },
      };
    case 'histogram':
      return {
        type: 'histogram',
        grid: { categoryLines: false },
        categoryAxes: [
          {
            id: 'CategoryAxis-1',
            type: 'category',
            position: 'bottom',
            show: true,
            style: {},
            scale: { type: 'linear' },
            labels: { show: true, filter: true, truncate: 100 },
            title: {},
          },
        ],
        valueAxes: [
          {
            id: 'ValueAxis-1',
            name: 'LeftAxis-1',
            type: 'value',
            position: 'left',
            show: true,
            style: {},
            scale: { type: 'linear', mode: 'normal' },
            labels: { show: true, rotate: 0, filter: false, truncate: 100 },
            title: { text: 'Count' },
          },
        ],
        seriesParams: series,
        ...common,
      };
    case 'horizontal_bar':
      return {
        type: 'histogram',
        grid: { categoryLines: false },
        categoryAxes: [
          {
            id: 'CategoryAxis-1',
            type: 'category',
            position: 'left',
            show: true,
            style: {},
            scale: { type: 'linear' },
            labels: { show: true, rotate: 0, filter: false, truncate: 200 },
            title: {},
          },
        ],
        valueAxes: [
          {
            id: 'ValueAxis-1',
            name: 'BottomAxis-1',
            type: 'value',
            position: 'bottom',
            show: true,
            style: {},
            scale: { type: 'linear', mode: 'normal' },
            labels: { show: true, rotate: 75, filter: true, truncate: 100 },
            title: { text: 'Count' },
          },
        ],
        seriesParams: series,
        ...common,
      };
  }
}

/** The saved objects, data views first (the order of an export: referenced objects before their users). */
export function kibanaObjects(names: IndexNames): KibanaSavedObject[] {
  const objects: KibanaSavedObject[] = [];
  for (const dv of kibanaDataViews(names)) {
    objects.push({
      type: 'index-pattern',
      id: idOf.dataView(names, dv.key),
      attributes: {
        title: dv.pattern,
        timeFieldName: KIBANA_FIELDS.time,
        // Empty: Kibana reads the field list from _field_caps (7.x: when none is stored; 8.x: always).
        fields: '[]',
      },
      references: [],
      migrationVersion: { 'index-pattern': MIGRATION_VERSION['index-pattern'] },
    });
  }
  const specs = visSpecs(names);
  for (const spec of specs) {
    const title = `Tasques [${names.prefix}] ${spec.title}`;
    const searchSource: Record<string, unknown> = { query: { query: kql(spec.query), language: 'kuery' }, filter: [] };
    const references: KibanaReference[] = [];
    if (spec.dataView) {
      searchSource.indexRefName = SEARCH_INDEX_REF;
      references.push({ name: SEARCH_INDEX_REF, type: 'index-pattern', id: idOf.dataView(names, spec.dataView) });
    }
    objects.push({
      type: 'visualization',
      id: idOf.vis(names, spec.key),
      attributes: {
        title,
        visState: JSON.stringify({ title, type: spec.type, params: visParams(spec), aggs: spec.type === 'markdown' ? [] : aggState(spec) }),
        uiStateJSON: '{}',
        description: '',
        version: 1,
        kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify(searchSource) },
      },
      references,
      migrationVersion: { visualization: MIGRATION_VERSION.visualization },
    });
  }
  const panels = specs.map((spec, i) => ({
    version: '7.10.0',
    gridData: { ...spec.grid, i: String(i + 1) },
    panelIndex: String(i + 1),
    embeddableConfig: {},
    panelRefName: `panel_${i}`,
  }));
  objects.push({
    type: 'dashboard',
    id: idOf.dashboard(names),
    attributes: {
      title: `Tasques [${names.prefix}]`,
      hits: 0,
      description: `Tasks of the Tasques store with index prefix ${names.prefix}, by queue, state and kind.`,
      panelsJSON: JSON.stringify(panels),
      optionsJSON: JSON.stringify({ hidePanelTitles: false, useMargins: true }),
      version: 1,
      timeRestore: true,
      timeFrom: 'now-7d',
      timeTo: 'now',
      refreshInterval: { pause: false, value: 30_000 },
      kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }) },
    },
    references: specs.map((spec, i) => ({ name: `panel_${i}`, type: 'visualization' as const, id: idOf.vis(names, spec.key) })),
    migrationVersion: { dashboard: MIGRATION_VERSION.dashboard },
  });
  return objects;
}

/** The objects as an import file: one JSON object per line. */
export function kibanaNdjson(names: IndexNames): string {
  return `${kibanaObjects(names)
    .map((o) => JSON.stringify(o))
    .join('\n')}\n`;
}

// ── The fields the objects need ──────────────────────────────────────────────────────────────────────

export type KibanaFieldKind = 'date' | 'keyword' | 'number';

export interface KibanaFieldUse {
  /** The data view's index pattern. */
  pattern: string;
  field: string;
  kind: KibanaFieldKind;
  /** The data view's time field (range filter, date histogram), an aggregation, or a query. */
  use: 'time' | 'aggregation' | 'query';
}

/** Every field the objects use, per data view, with what the objects do with it. */
export function kibanaFieldUses(names: IndexNames): KibanaFieldUse[] {
  const patterns = new Map(kibanaDataViews(names).map((dv) => [dv.key, dv.pattern]));
  const uses = new Map<string, KibanaFieldUse>();
  const add = (u: KibanaFieldUse) => uses.set(`${u.pattern}\u0000${u.field}\u0000${u.use}`, u);
  for (const pattern of patterns.values()) add({ pattern, field: KIBANA_FIELDS.time, kind: 'date', use: 'time' });
  for (const spec of visSpecs(names)) {
    if (!spec.dataView) continue;
    const pattern = patterns.get(spec.dataView)!;
    for (const b of spec.buckets) {
      add({ pattern, field: b.field, kind: b.type === 'date_histogram' ? 'date' : 'keyword', use: 'aggregation' });
    }
    if (spec.query) add({ pattern, field: spec.query.field, kind: 'keyword', use: 'query' });
  }
  return [...uses.values()];
}

const TYPES: Record<KibanaFieldKind, string[]> = {
  date: ['date', 'date_nanos'],
  keyword: ['keyword', 'constant_keyword'],
  number: ['long', 'integer', 'short', 'byte', 'double', 'float', 'half_float', 'scaled_float', 'unsigned_long'],
};

type FieldCaps = Record<string, Record<string, { type?: string; searchable?: boolean; aggregatable?: boolean }>>;

/**
 * Checks each used field against a `_field_caps` answer (what Kibana itself reads) for its pattern:
 * present, one type, the right type, aggregatable where aggregated, searchable where filtered on.
 * Returns one line per problem; empty when the objects will work.
 */
export function fieldProblems(uses: KibanaFieldUse[], capsByPattern: Record<string, FieldCaps>): string[] {
  const problems: string[] = [];
  const reported = new Set<string>();
  for (const u of uses) {
    // One problem per field of a data view, even when the objects use the field in several ways.
    const key = `${u.pattern}\u0000${u.field}`;
    if (reported.has(key)) continue;
    const found = fieldUseProblems(u, capsByPattern[u.pattern]?.[u.field]);
    if (found.length > 0) reported.add(key);
    problems.push(...found);
  }
  return problems;
}

function fieldUseProblems(u: KibanaFieldUse, caps: FieldCaps[string] | undefined): string[] {
  const role = u.use === 'time' ? 'the time field' : u.use === 'query' ? 'queried' : 'aggregated';
  if (!caps || Object.keys(caps).length === 0) return [`${u.pattern}: field ${u.field} (${role}, ${u.kind}) is not in the mapping`];
  const types = Object.keys(caps).filter((t) => t !== 'unmapped');
  if (types.length !== 1) {
    return [`${u.pattern}: field ${u.field} has conflicting types across indices (${Object.keys(caps).join(', ')})`];
  }
  const type = types[0]!;
  const cap = caps[type]!;
  if (!TYPES[u.kind].includes(type)) return [`${u.pattern}: field ${u.field} (${role}) is a ${type}; the Kibana objects need a ${u.kind}`];
  const problems: string[] = [];
  if ((u.use === 'time' || u.use === 'aggregation') && cap.aggregatable !== true) {
    problems.push(`${u.pattern}: field ${u.field} (${role}) is not aggregatable (no doc values)`);
  }
  if ((u.use === 'time' || u.use === 'query') && cap.searchable !== true) {
    problems.push(`${u.pattern}: field ${u.field} (${role}) is not searchable (not indexed)`);
  }
  return problems;
}

/** Asks the engine for the field capabilities of every data view and checks them (see fieldProblems). */
export async function checkKibanaFields(http: EsHttp, names: IndexNames): Promise<string[]> {
  const uses = kibanaFieldUses(names);
  const capsByPattern: Record<string, FieldCaps> = {};
  for (const pattern of new Set(uses.map((u) => u.pattern))) {
    const fields = [...new Set(uses.filter((u) => u.pattern === pattern).map((u) => u.field))];
    const res = await http.request<{ fields?: FieldCaps }>({
      method: 'GET',
      path: `/${pattern}/_field_caps`,
      query: { fields: fields.join(','), ignore_unavailable: true, allow_no_indices: true },
    });
    if (res.status !== 200) throw new Error(`GET /${pattern}/_field_caps: ${describeEsError(res.status, res.body)}`);
    capsByPattern[pattern] = res.body.fields ?? {};
  }
  return fieldProblems(uses, capsByPattern);
}

// ── Import into Kibana ───────────────────────────────────────────────────────────────────────────────

/** An error answer from Kibana (or none): `message` is one line, without credentials. */
export class KibanaError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when Kibana gave no answer. */
    readonly status: number,
  ) {
    super(message);
    this.name = 'KibanaError';
  }
}

export interface KibanaConnection {
  /** Kibana's base URL, with its base path and space if any (`http://kb:5601`, `https://h/kibana/s/ops`). */
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** An Elasticsearch API key, base64-encoded `id:api_key` (the `encoded` value ES returns). */
  apiKey?: string | undefined;
  timeoutMs?: number | undefined;
}

/** Validates a Kibana base URL and returns it without a trailing slash. Never echoes credentials. */
export function kibanaBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new KibanaError('the Kibana URL is not a valid URL (expected e.g. http://localhost:5601)', 0);
  }
  if (url.username || url.password) {
    throw new KibanaError('put Kibana credentials in store.elasticsearch.kibana.user / api_key, not in the URL', 0);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new KibanaError(`the Kibana URL must be http or https (got ${url.protocol})`, 0);
  }
  if (url.search || url.hash) throw new KibanaError('the Kibana URL must not have a query string or fragment', 0);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export interface KibanaImportResult {
  /** The import endpoint (no credentials). */
  endpoint: string;
  successCount: number;
}

interface KibanaImportAnswer {
  success?: boolean;
  successCount?: number;
  errors?: { id?: string; type?: string; title?: string; error?: { type?: string; message?: string; references?: { type?: string; id?: string }[] } }[];
  statusCode?: number;
  error?: string;
  message?: string;
}

/**
 * POSTs the ndjson to `{url}/api/saved_objects/_import?overwrite=true` as a multipart file upload, the
 * way Kibana's own UI does. Throws KibanaError on anything but a complete success: an HTTP error, an
 * answer with `success: false` (per-object errors), no answer, or a redirect.
 */
export async function kibanaImport(connection: KibanaConnection, ndjson: string): Promise<KibanaImportResult> {
  const base = kibanaBaseUrl(connection.url);
  const endpoint = `${base}/api/saved_objects/_import?overwrite=true`;
  const headers: Record<string, string> = {
    // Kibana's CSRF guard; OpenSearch Dashboards (a Kibana 7.10 fork) checks osd-xsrf instead.
    'kbn-xsrf': 'true',
    'osd-xsrf': 'true',
    accept: 'application/json',
  };
  if (connection.apiKey && connection.username) {
    throw new KibanaError('set either a Kibana user or an API key, not both', 0);
  }
  if (connection.apiKey) headers.authorization = `ApiKey ${connection.apiKey}`;
  else if (connection.username) {
    headers.authorization = `Basic ${Buffer.from(`${connection.username}:${connection.password ?? ''}`).toString('base64')}`;
  }
  const form = new FormData();
  // Kibana 8 refuses a file whose name does not end in .ndjson.
  form.append('file', new Blob([ndjson], { type: 'application/ndjson' }), 'tasques-kibana.ndjson');
  const timeoutMs = connection.timeoutMs ?? 30_000;
  let res: Response;
  try {
    res = await fetch(endpoint, {
      method: 'POST',
      headers,
      body: form,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new KibanaError(`cannot reach Kibana at ${base}: ${why}`, 0);
  }
  const text = await res.text();
  let body: KibanaImportAnswer | undefined;
  try {
    body = JSON.parse(text) as KibanaImportAnswer;
  } catch {
    body = undefined;
  }
  if (res.status >= 300 && res.status < 400) {
    const location = res.headers.get('location');
    const to = location ? new URL(location, endpoint) : undefined;
    throw new KibanaError(
      `Kibana at ${base} answered a redirect (HTTP ${res.status}${to ? ` to ${to.origin}${to.pathname}` : ''}): give the final URL as --kibana-url`,
      res.status,
    );
  }
  if (res.status < 200 || res.status >= 300) {
    const what = body && (body.message || body.error) ? `${body.error ?? ''}${body.error && body.message ? ': ' : ''}${body.message ?? ''}` : oneLine(text);
    const hint =
      res.status === 404
        ? ' (is this the Kibana base URL? Include the base path and the space, e.g. http://host:5601/kibana or …/s/<space>)'
        : res.status === 401 || res.status === 403
          ? ' (check store.elasticsearch.kibana.user / api_key; importing needs write access to saved objects)'
          : '';
    throw new KibanaError(`Kibana at ${base} refused the import: HTTP ${res.status}${what ? ` ${what}` : ''}${hint}`, res.status);
  }
  if (!body || typeof body !== 'object') {
    throw new KibanaError(`Kibana at ${base} answered HTTP ${res.status} with something that is not JSON: ${oneLine(text)}`, res.status);
  }
  if (body.success !== true) {
    const errors = (body.errors ?? []).map((e) => {
      const refs = e.error?.references?.map((r) => `${r.type}/${r.id}`).join(', ');
      return `${e.type}/${e.id}: ${e.error?.type ?? 'error'}${e.error?.message ? ` (${e.error.message})` : ''}${refs ? ` (missing ${refs})` : ''}`;
    });
    throw new KibanaError(
      `Kibana at ${base} imported ${body.successCount ?? 0} object(s) and rejected ${errors.length || 'some'}: ${errors.slice(0, 5).join('; ')}${errors.length > 5 ? '; …' : ''}`,
      res.status,
    );
  }
  return { endpoint: endpoint.replace(/\?.*$/, ''), successCount: body.successCount ?? 0 };
}

function oneLine(text: string): string {
  return text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
}

// ── What `tasques setup` does ────────────────────────────────────────────────────────────────────────

export interface KibanaSetupOptions {
  names: IndexNames;
  /** The engine, to check the fields; skipped when undefined. */
  http?: EsHttp | undefined;
  /** Write the ndjson here. */
  exportFile?: string | undefined;
  /** Import into this Kibana. */
  connection?: KibanaConnection | undefined;
  /** Told the field problems as soon as they are known, i.e. also when the import fails afterwards. */
  onFieldProblems?: ((problems: string[]) => void) | undefined;
}

export interface KibanaSetupReport {
  objects: number;
  exported?: string;
  imported?: KibanaImportResult;
  /** Fields the objects need that the engine's mapping lacks (see checkKibanaFields); empty when all is well. */
  fieldProblems: string[];
}

/** Checks the fields, writes the export file, imports into Kibana: whichever of these was asked for. */
export async function kibanaSetup(options: KibanaSetupOptions): Promise<KibanaSetupReport> {
  const ndjson = kibanaNdjson(options.names);
  const report: KibanaSetupReport = { objects: kibanaObjects(options.names).length, fieldProblems: [] };
  // Before anything else, so that a bad URL fails before the file is written.
  if (options.connection) kibanaBaseUrl(options.connection.url);
  if (options.http) report.fieldProblems = await checkKibanaFields(options.http, options.names);
  if (report.fieldProblems.length > 0) options.onFieldProblems?.(report.fieldProblems);
  if (options.exportFile !== undefined) {
    try {
      writeFileSync(options.exportFile, ndjson);
    } catch (e) {
      throw new Error(`cannot write ${options.exportFile}: ${(e as Error).message}`);
    }
    report.exported = options.exportFile;
  }
  if (options.connection) report.imported = await kibanaImport(options.connection, ndjson);
  return report;
}
