/**
 * Index layout, mappings and index templates of the Elasticsearch/OpenSearch store. Everything here is
 * plain data; setup.ts puts it in place and checks it.
 *
 * With prefix P (config `store.elasticsearch.index_prefix`, default `tasques`):
 *
 * | name                | what                                                                  |
 * | ------------------- | --------------------------------------------------------------------- |
 * | `P-tasks`           | every live task of every queue, `_id` = `<queue>/<id>` (a queue name cannot contain `/`) |
 * | `P-archive`         | write alias of the archive; the indices behind it are `P-archive-000001`, … and roll over |
 * | `P-recurring`       | recurring-task definitions, `_id` = the recurring task id             |
 * | `P-meta`            | the leader lease (`_id` `leader`), recurring tick bookkeeping (`tick/<id>`) and the queue states (`queues`) |
 * | `P-series`          | the dashboard's queue series: activity per (server, queue, minute) and depth samples (queue-series.ts) |
 *
 * Unlike v1 (one index per queue, `.tasques_queue-<q>`), all queues share one index: a claim over many
 * queues, or over all of them, is one search with one global order, an unknown queue costs nothing, and
 * creating a queue needs no cluster-state change. Names carry no leading dot: Elasticsearch 8+ reserves
 * dot-prefixed names for system indices.
 *
 * The tasks index is **sorted** on the claim order (priority desc, run_at asc, remaining_attempts desc),
 * so that a claim search, whose sort is the same, stops after the first hits of each segment instead of
 * visiting every waiting task: claim cost does not grow with the backlog.
 */
import { CLAIM_WAIT_BUCKETS } from '../../domain/queue-series.js';

/**
 * Bumped whenever a mapping or template changes; stored in each template's `version` and `_meta`. A
 * server refuses to start on an older schema until `tasques setup` has brought it up to date.
 *
 * - 1: the first layout.
 * - 2: indexed copies of `created_at` and `kind` (multi-fields `created_at.indexed`, `kind.indexed`) for
 *   the operator API's task listing and queue statistics; the queue states in `P-meta`. Additive: setup
 *   puts the new fields into an existing index's mapping and re-writes the tasks written before, which
 *   the new fields do not cover yet (setup.ts, backfillIndexedFields).
 * - 3: the `P-series` index (the dashboard's charts); `concurrency_key` and `rate_key` on tasks (flow
 *   control, docs/design/elasticsearch-claims.md); the flow-control documents in `P-meta` (`flow`,
 *   `flow/limit/…`, kept in `_source` only; their layout has a version of its own, `FLOW_FORMAT`). Additive: setup creates the index and adds the
 *   fields; tasks written before carry no keys, so nothing is re-written.
 */
export const SCHEMA_VERSION = 3;

/** Composable-template priority: above the engines' built-in templates (ES 8 uses 100), below most user ones. */
const TEMPLATE_PRIORITY = 210;

export interface IndexNames {
  prefix: string;
  tasks: string;
  /** The archive's write alias (what is written to). */
  archiveAlias: string;
  /** Every archive index (what is searched). */
  archivePattern: string;
  /** The first archive index, created by setup with the write alias. */
  archiveFirst: string;
  recurring: string;
  meta: string;
  series: string;
  /** Template names. */
  templates: { tasks: string; archive: string; recurring: string; meta: string; series: string };
  /** ILM policy name (Elasticsearch only). */
  ilmPolicy: string;
}

export function indexNames(prefix: string): IndexNames {
  return {
    prefix,
    tasks: `${prefix}-tasks`,
    archiveAlias: `${prefix}-archive`,
    archivePattern: `${prefix}-archive-*`,
    archiveFirst: `${prefix}-archive-000001`,
    recurring: `${prefix}-recurring`,
    meta: `${prefix}-meta`,
    series: `${prefix}-series`,
    templates: {
      tasks: `${prefix}-tasks`,
      archive: `${prefix}-archive`,
      recurring: `${prefix}-recurring`,
      meta: `${prefix}-meta`,
      series: `${prefix}-series`,
    },
    ilmPolicy: `${prefix}-archive-policy`,
  };
}

const keyword = { type: 'keyword' } as const;
const long = { type: 'long' } as const;
/**
 * Fields no query filters or sorts on are kept in `_source` only (not indexed, no doc values): every
 * refresh writes a segment, and each indexed field makes that (and merging) dearer.
 */
const storedLong = { type: 'long', index: false, doc_values: false } as const;
const storedKeyword = { type: 'keyword', index: false, doc_values: false } as const;
/** Stored in `_source`, not indexed: any JSON object. */
const opaque = { type: 'object', enabled: false } as const;

/**
 * Indexed copies of fields that schema 1 kept in `_source` only. An existing field's `index`/`doc_values`
 * cannot be changed in place, but a multi-field can be added to it (`PUT _mapping`), so the same mapping
 * serves new installs and upgraded ones. Query these names, never the parent field.
 */
export const INDEXED = { createdAt: 'created_at.indexed', kind: 'kind.indexed' } as const;

/** A task document. Times are epoch milliseconds, durations nanoseconds (as in the domain types). */
const taskProperties = {
  queue: keyword,
  id: keyword,
  /** Listing filters on it (term, prefix): `kind.indexed`. */
  kind: { ...storedKeyword, fields: { indexed: keyword } },
  state: keyword,
  priority: long,
  run_at: long,
  retry_times: storedLong,
  attempted: long,
  /** retry_times + 1 − attempted, kept in the document for the claim filter and sort. */
  remaining_attempts: long,
  processing_timeout_ns: storedLong,
  args: opaque,
  context: opaque,
  last_claimed: {
    properties: {
      worker_id: storedKeyword,
      claimed_at: storedLong,
      times_out_at: long,
      last_report: { properties: { at: storedLong, data: opaque } },
      result: { properties: { at: long, failure: opaque, success: opaque } },
    },
  },
  last_enqueued_at: storedLong,
  /**
   * Listing sorts and filters on it, queue statistics count by it: `created_at.indexed`. A `date` (epoch
   * ms, the same long inside) rather than a `long`, so that Kibana can use it as a data view's time field.
   */
  created_at: { ...storedLong, fields: { indexed: { type: 'date', format: 'epoch_millis' } } },
  modified_at: storedLong,
  recurring_task_id: keyword,
  /** Flow control: claims group by it (fairness) and count claimed tasks per key (concurrency limits). */
  concurrency_key: keyword,
  /** Flow control: the key of the task's per-key token bucket; flow status aggregates on it. */
  rate_key: keyword,
};

export const TASKS_MAPPINGS = {
  dynamic: false,
  _meta: { tasques_schema_version: SCHEMA_VERSION },
  properties: taskProperties,
};

export const TASKS_SETTINGS = {
  number_of_shards: 1,
  number_of_replicas: 0,
  'auto_expand_replicas': '0-1',
  // The claim order: a claim search with this very sort terminates early in every segment.
  'sort.field': ['priority', 'run_at', 'remaining_attempts'],
  'sort.order': ['desc', 'asc', 'desc'],
};

export const ARCHIVE_MAPPINGS = {
  dynamic: false,
  _meta: { tasques_schema_version: SCHEMA_VERSION },
  properties: {
    ...taskProperties,
    archived_at: long,
    /** The live document's version when it was archived: (seq_no, primary_term). */
    version: { properties: { seq_no: long, primary_term: long } },
  },
};

export const RECURRING_MAPPINGS = {
  dynamic: false,
  _meta: { tasques_schema_version: SCHEMA_VERSION },
  properties: {
    id: keyword,
    schedule_expression: keyword,
    skip_if_outstanding_tasks_exist: { type: 'boolean' },
    task_definition: {
      properties: {
        queue: keyword,
        kind: keyword,
        retry_times: long,
        priority: long,
        processing_timeout_ns: long,
        args: opaque,
        context: opaque,
      },
    },
    is_deleted: { type: 'boolean' },
    loaded_at: long,
    created_at: long,
    modified_at: long,
  },
};

export const META_MAPPINGS = {
  dynamic: false,
  _meta: { tasques_schema_version: SCHEMA_VERSION },
  properties: {
    kind: keyword,
    leader_id: keyword,
    elected_at: long,
    expires_at: long,
    recurring_task_id: keyword,
    last_tick_at: long,
    /**
     * The queue states: one document (`_id` `queues`) holding every queue's state, and the names of the
     * paused ones, which every claim search reads with a terms lookup (realtime GET, from `_source`: no
     * index needed). See docs/design/elasticsearch-claims.md.
     */
    paused_queues: storedKeyword,
    queue_states: opaque,
  },
};

/** The queue series: small documents, summed and maxed by aggregations (every figure a long with doc values). */
export const SERIES_MAPPINGS = {
  dynamic: false,
  _meta: { tasques_schema_version: SCHEMA_VERSION },
  properties: Object.fromEntries([
    ...['kind', 'server_id', 'queue'].map((f) => [f, keyword]),
    ...['at', 'created', 'claimed', 'done', 'failed', 'dead', 'claimable', 'scheduled', 'oldest_age_ms'].map((f) => [f, long]),
    ...Array.from({ length: CLAIM_WAIT_BUCKETS }, (_, i) => [`wait_${i}`, long]),
  ]),
};

const SMALL_INDEX_SETTINGS = { number_of_shards: 1, number_of_replicas: 0, auto_expand_replicas: '0-1' };

export interface TemplateOptions {
  /** Elasticsearch ILM policy to attach to archive indices (undefined: the leader rolls over). */
  ilmPolicy?: string | undefined;
}

/** The composable index templates (`PUT _index_template/<name>`), by name. */
export function indexTemplates(names: IndexNames, options: TemplateOptions = {}): Record<string, unknown> {
  const meta = { managed_by: 'tasques', tasques_schema_version: SCHEMA_VERSION };
  const template = (patterns: string[], settings: Record<string, unknown>, mappings: unknown) => ({
    index_patterns: patterns,
    priority: TEMPLATE_PRIORITY,
    version: SCHEMA_VERSION,
    _meta: meta,
    template: { settings: { index: settings }, mappings },
  });
  const archiveSettings: Record<string, unknown> = { ...SMALL_INDEX_SETTINGS };
  if (options.ilmPolicy) {
    archiveSettings['lifecycle.name'] = options.ilmPolicy;
    archiveSettings['lifecycle.rollover_alias'] = names.archiveAlias;
  }
  return {
    [names.templates.tasks]: template([names.tasks], TASKS_SETTINGS, TASKS_MAPPINGS),
    [names.templates.archive]: template([names.archivePattern], archiveSettings, ARCHIVE_MAPPINGS),
    [names.templates.recurring]: template([names.recurring], SMALL_INDEX_SETTINGS, RECURRING_MAPPINGS),
    [names.templates.meta]: template([names.meta], SMALL_INDEX_SETTINGS, META_MAPPINGS),
    [names.templates.series]: template([names.series], SMALL_INDEX_SETTINGS, SERIES_MAPPINGS),
  };
}

/** The ILM policy of the archive (Elasticsearch only): roll over by age and size, delete after retention. */
export function ilmPolicy(options: { maxAge: string; maxDocs: number; deleteAfter?: string | undefined }): unknown {
  const phases: Record<string, unknown> = {
    hot: { actions: { rollover: { max_age: options.maxAge, max_docs: options.maxDocs } } },
  };
  if (options.deleteAfter) phases.delete = { min_age: options.deleteAfter, actions: { delete: {} } };
  return { policy: { _meta: { managed_by: 'tasques' }, phases } };
}
