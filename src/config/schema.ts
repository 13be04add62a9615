/**
 * The configuration schema: the single source of defaults, validation, `tasques show config` and the
 * reference in docs/reference/config.md. Keys follow v1 (spec §11) where v1 has them; the file nests
 * them under `tasques.server`, and every key can be overridden by `TASQUES_SERVER_<PATH>` (upper case,
 * `.` → `_`), e.g. `TASQUES_SERVER_BIND_ADDRESS=0.0.0.0:8080`.
 */
import { FormatRegistry, type Static, Type } from '@sinclair/typebox';
import { ROLES } from '../domain/access.js';
import { formatGoDuration, isGoDuration, msToNs } from '../domain/duration.js';
import {
  ACTIVITY_FLUSH_INTERVAL_DEFAULT_MS,
  ARCHIVE_OLDER_THAN_DEFAULT_MS,
  ARCHIVER_BATCH_SIZE_DEFAULT,
  ARCHIVER_INTERVAL_DEFAULT_MS,
  DELETE_ARCHIVED_OLDER_THAN_DEFAULT_MS,
  ELECTOR_INTERVAL_DEFAULT_MS,
  RECURRING_SYNC_INTERVAL_DEFAULT_MS,
  TIMEOUT_REAPER_BATCH_SIZE_DEFAULT,
  TIMEOUT_REAPER_INTERVAL_DEFAULT_MS,
  LEADER_LEASE_DEFAULT_MS,
} from '../types/service-defaults.js';

FormatRegistry.Set('go-duration', isGoDuration);

const Duration = (defaultValue: string, description: string) =>
  Type.String({ format: 'go-duration', default: defaultValue, description });

/** A default kept in milliseconds by the service that uses it, as the Go duration the config shows. */
/** A default in milliseconds as the shortest Go duration that says it ("24h", "1m", "15s", "250ms"). */
const msDefault = (ms: number): string => {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return Number.isInteger(ms) ? `${ms}ms` : formatGoDuration(msToNs(ms));
};
const PositiveInt = (defaultValue: number, description: string, maximum = 2_147_483_647) =>
  Type.Integer({ minimum: 1, maximum, default: defaultValue, description });

const Secret = (description: string) => Type.String({ description, secret: true });

const Role = (description: string) => Type.Union(ROLES.map((role) => Type.Literal(role)), { description });

/**
 * `envItemFields`: the fields of one item of a list in the environment's short form, colon-separated
 * (`name:password`); the last field takes the rest of the item, colons included.
 */
/** Largest concurrency, count or burst of a flow-control limit (as the limits routes). */
const MAX_FLOW_LIMIT_VALUE = 1_000_000;
const FlowValue = (minimum: number) => Type.Integer({ minimum, maximum: MAX_FLOW_LIMIT_VALUE });
const FlowRate = Type.Object(
  { count: FlowValue(1), per: Type.String({ format: 'go-duration' }), burst: Type.Optional(FlowValue(1)) },
  { additionalProperties: false },
);
const FlowLimit = Type.Object(
  { concurrency: Type.Optional(FlowValue(0)), rate: Type.Optional(FlowRate) },
  { additionalProperties: false },
);
/** The limits of one queue, as the body of `PUT /queues/{queue}/limits` (docs/flow-control.md). */
export const QueueLimitsConfig = Type.Object(
  {
    queue: Type.Optional(FlowLimit),
    per_key: Type.Optional(FlowLimit),
    keys: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 512 }), FlowLimit, { maxProperties: 1000 })),
  },
  { additionalProperties: false },
);

export const BasicAuthUser = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    password: Secret('the user password'),
    role: Type.Optional(Role('What the user may do (docs/auth.md); none: everything, as in v1.')),
  },
  { additionalProperties: false, envItemFields: ['name', 'password'] },
);

export const BearerToken = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Who the token is for, as logged and recorded for its actions.' }),
    role: Role('What the token may do (docs/auth.md).'),
    sha256: Type.String({
      pattern: '^[0-9a-fA-F]{64}$',
      secret: true,
      description: 'Hex sha256 of the token (`tasques token hash`); the token itself is never configured.',
    }),
  },
  { additionalProperties: false, envItemFields: ['name', 'role', 'sha256'] },
);

export const ServerConfigSchema = Type.Object(
  {
    bind_address: Type.String({
      default: 'localhost:8080',
      minLength: 1,
      description: 'host:port to listen on (v1 key). Use 0.0.0.0:8080 to listen on every interface.',
    }),
    shutdown_timeout: Duration('5s', 'How long a graceful shutdown waits for in-flight requests (v1 key).'),
    shutdown_drain_delay: Duration(
      '0s',
      'On SIGTERM or SIGINT, how long the server keeps serving every route while `/readyz` answers 503 (and answers close their connections), before it stops: time for load balancers to stop sending it requests. Behind a readiness probe, use more than its period times its failure threshold (e.g. 10s on Kubernetes).',
    ),
    http: Type.Object(
      {
        request_timeout: Duration(
          '30s',
          'Longest time to receive a whole request, headers and body; a slower client gets 408 and its connection is closed. Long polls are not cut: the time ends when the request is received.',
        ),
        headers_timeout: Duration('10s', 'Longest time to receive the request headers. At most request_timeout.'),
        max_connections: PositiveInt(
          10_000,
          'Most open connections; connections beyond it are closed at once. Each long-polling worker holds one.',
        ),
      },
      { default: {} },
    ),
    logging: Type.Object(
      {
        json: Type.Boolean({ default: true, description: 'JSON log lines (v1 key); false gives readable lines.' }),
        level: Type.Union(
          ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map((l) => Type.Literal(l)),
          { default: 'info', description: 'Minimum log level (v1 key).' },
        ),
        file: Type.Optional(Type.String({ description: 'Log file path (v1 key); stderr when unset.' })),
      },
      { default: {} },
    ),
    auth: Type.Object(
      {
        basic_auth: Type.Array(BasicAuthUser, {
          default: [],
          description:
            'HTTP basic-auth users (v1 key), each `{name, password, role?}`. When users or bearer tokens are configured every task, recurring-task and operator route needs one. A user without a `role` may do everything (v1); roles: `read`, `worker`, `producer`, `operator`, `all` (docs/auth.md). In the environment: JSON, or `name:password,name2:password2` (no roles).',
        }),
        bearer_tokens: Type.Array(BearerToken, {
          default: [],
          description:
            'Bearer tokens (`Authorization: Bearer <token>`), each `{name, role, sha256}`: for services without passwords. Only the sha256 of a token is configured; `tasques token new` makes a token and its hash. In the environment: JSON, or `name:role:sha256,...`.',
        }),
      },
      { default: {} },
    ),
    metrics: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description:
            'Serve `GET /metrics` (Prometheus text format) and count what it reports: tasks by queue and state, state changes, claim waits, HTTP and store call durations, leadership, process metrics.',
        }),
        require_auth: Type.Boolean({
          default: false,
          description:
            'Put `GET /metrics` behind the auth (when users or bearer tokens are configured; `read` access). Off by default: scrapers often cannot send credentials, and the metrics hold no task data beyond counts per queue.',
        }),
        queue_stats_max_age: Duration(
          '5s',
          'How long the per-queue figures read from the store (tasks by state, oldest claimable age, paused) are reused between scrapes, so that frequent scrapes cannot load the store.',
        ),
        max_queue_series: PositiveInt(
          1000,
          `Queues with their own \`queue\` label in the metrics: the first this many queues the server sees. The figures of every later queue are summed into \`queue="_other"\` (docs/limits.md), so that the exposition stays bounded however many queues exist.`,
        ),
      },
      { default: {} },
    ),
    charts: Type.Object(
      {
        activity_flush_interval: Duration(
          msDefault(ACTIVITY_FLUSH_INTERVAL_DEFAULT_MS),
          "How often each server writes its counts of the current minute (tasks created, claimed, done, failed, dead, claim waits per queue) for the dashboard's charts (`GET /stats/series`): one small record per active queue per flush, whatever the task rate. The current interval of a chart lags by at most this much.",
        ),
        depth_sample_interval: Duration(
          '1m',
          "How often the leader samples queue depth (claimable, scheduled, claimed, oldest waiting age) for the charts, and deletes chart data older than 25 h. One sample per queue and minute is kept, so intervals under 1m only refresh the current minute's sample.",
        ),
      },
      { default: {} },
    ),
    tracing: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description:
            'Export OpenTelemetry traces over OTLP/HTTP (protobuf): a span per HTTP request (a W3C `traceparent` header is honoured) with a child span per store call. Off by default, and then it costs nothing.',
        }),
        otlp_endpoint: Type.Optional(
          Type.String({
            minLength: 1,
            description:
              'Base URL of the OTLP/HTTP receiver (collector, Elastic APM, …); `/v1/traces` is appended. When unset, the standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT applies, else http://localhost:4318. Headers (e.g. an APM secret token) come from OTEL_EXPORTER_OTLP_HEADERS.',
          }),
        ),
        service_name: Type.Optional(
          Type.String({
            minLength: 1,
            description: 'The `service.name` of the spans. When unset, OTEL_SERVICE_NAME applies, else `tasques`.',
          }),
        ),
        sample_ratio: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 1,
          description:
            'Fraction of requests traced when the caller sent no sampling decision; a `traceparent` from the caller decides for its request.',
        }),
      },
      { default: {} },
    ),
    store: Type.Object(
      {
        kind: Type.Union([Type.Literal('sqlite'), Type.Literal('elasticsearch')], {
          default: 'sqlite',
          description:
            'Which store keeps the tasks: sqlite (embedded, the default) or elasticsearch (Elasticsearch 7.10+/8/9 or OpenSearch 1/2/3, at `elasticsearch.addresses`; run `tasques setup` first).',
        }),
        sqlite: Type.Object(
          {
            path: Type.String({
              default: 'tasques.db',
              minLength: 1,
              description: 'SQLite database file, created if missing (relative to the working directory).',
            }),
            synchronous: Type.Union([Type.Literal('normal'), Type.Literal('full')], {
              default: 'normal',
              description:
                'SQLite `synchronous` with WAL. normal: every acknowledged write survives a process crash (kill -9); ' +
                'full: it also survives a power loss, at some cost in throughput.',
            }),
            busy_timeout: Duration('5s', 'How long a write waits for another process holding the database lock.'),
          },
          { default: {} },
        ),
        elasticsearch: Type.Object(
          {
            index_prefix: Type.String({
              default: 'tasques',
              pattern: '^[a-z0-9][a-z0-9_.-]{0,100}$',
              description:
                'Prefix of every index, alias and template the store uses (`<prefix>-tasks`, `<prefix>-archive`, …): several deployments can share one cluster with different prefixes.',
            }),
            request_timeout: Duration('30s', 'How long one request to the engine may take before it is abandoned.'),
            auto_setup: Type.Boolean({
              default: false,
              description:
                'Install or upgrade the index templates and indices at start (what `tasques setup` does). Off by default: the server then only checks them, so it can run with index-level privileges.',
            }),
            archive_rollover_max_age: Duration(
              '24h',
              'The archive rolls over to a new index once the current one is this old (by ILM on Elasticsearch when enabled, otherwise by the leader).',
            ),
            archive_rollover_max_docs: PositiveInt(
              10_000_000,
              'The archive also rolls over once the current index holds this many tasks.',
            ),
            claims: Type.Object(
              {
                max_staleness: Duration(
                  '250ms',
                  'A claim searches the last refresh of the tasks index, refreshing first when that was sent longer ago than this (docs/design/elasticsearch-claims.md): lower gives quicker pick-up of tasks written by other servers, higher fewer refreshes. Tasks written by this server are claimable at once either way.',
                ),
                max_local_writes: PositiveInt(
                  1000,
                  'A claim also refreshes first once this server has written more tasks than this that no refresh is known to cover.',
                  1_000_000,
                ),
                search_multiplier: PositiveInt(
                  2,
                  'A claim batch searches max(wanted × this, wanted + search_extra) candidates, so that losses to other servers can be made up without a second search.',
                  100,
                ),
                search_extra: Type.Integer({
                  default: 8,
                  minimum: 0,
                  maximum: 10_000,
                  description: 'See search_multiplier.',
                }),
              },
              { default: {} },
            ),
            kibana: Type.Object(
              {
                url: Type.Optional(
                  Type.String({
                    minLength: 1,
                    description:
                      'Kibana base URL (with its base path and `/s/<space>` if any): `tasques setup` then imports a data view per index and a dashboard into it (as `--kibana-url` does). Only `setup` uses it.',
                  }),
                ),
                user: Type.Object(
                  {
                    name: Type.Optional(Type.String({ description: 'Basic-auth user name for the Kibana import; none when unset.' })),
                    password: Type.Optional(Secret('Basic-auth password for the Kibana import. Never logged; masked by `show config`.')),
                  },
                  { default: {} },
                ),
                api_key: Type.Optional(
                  Secret('API key for the Kibana import (the base64 `encoded` value), instead of a user. Never logged; masked by `show config`.'),
                ),
              },
              { default: {} },
            ),
          },
          { default: {} },
        ),
      },
      { default: {} },
    ),
    elasticsearch: Type.Object(
      {
        addresses: Type.Array(Type.String({ minLength: 1 }), {
          default: ['http://localhost:9200'],
          minItems: 1,
          description:
            'Engine nodes for `store.kind: elasticsearch` (v1 key), tried in turn. Comma-separated in the environment.',
        }),
        user: Type.Object(
          {
            name: Type.Optional(Type.String({ description: 'Basic-auth user name for the engine (v1 key); none when unset.' })),
            password: Type.Optional(Secret('Basic-auth password for the engine (v1 key). Never logged; masked by `show config`.')),
          },
          { default: {} },
        ),
        api_key: Type.Optional(
          Secret(
            'API key for the engine, sent as `Authorization: ApiKey …` instead of basic auth (Elasticsearch 8+, Elastic Cloud): the base64 `encoded` value Elasticsearch returns, or `id:api_key`. Set either this or `user`, not both. Never logged; masked by `show config`.',
          ),
        ),
        tls: Type.Object(
          {
            ca_file: Type.Optional(
              Type.String({
                minLength: 1,
                description:
                  'PEM file of the CA that signed the engine certificate, for `https://` addresses (e.g. the `http_ca.crt` of a default Elasticsearch 8). When unset, the system trust store applies (enough for Elastic Cloud).',
              }),
            ),
            cert_file: Type.Optional(
              Type.String({ minLength: 1, description: 'PEM client certificate, for an engine that asks for one (mutual TLS). Needs `key_file`.' }),
            ),
            key_file: Type.Optional(
              Type.String({ minLength: 1, description: 'PEM private key (unencrypted) of `cert_file`.' }),
            ),
            insecure_skip_verify: Type.Boolean({
              default: false,
              description:
                'Accept any engine certificate, unverified. Only for a throwaway engine: anyone on the path can then read the credentials. The server logs a warning when it is on.',
            }),
          },
          { default: {} },
        ),
      },
      { default: {} },
    ),
    lifecycle_setup: Type.Object(
      {
        archived_tasks: Type.Object(
          {
            enabled: Type.Boolean({
              default: true,
              description:
                'On Elasticsearch with ILM, `tasques setup` installs an ILM policy that rolls the archive over (v1 key). Elsewhere (OpenSearch, or false) the leader rolls it over itself.',
            }),
          },
          { default: {} },
        ),
      },
      { default: {} },
    ),
    tasks: Type.Object(
      {
        defaults: Type.Object(
          {
            block_for: Duration('3s', 'Long-poll time of a claim that does not give `block_for` (v1 key).'),
            block_for_retry_min_wait: Duration(
              '100ms',
              'Minimum interval at which a waiting claim re-checks the store for tasks made claimable by another server process (v1 key). Enqueues on this server wake waiting claims at once.',
            ),
            block_for_retry_max_retries: PositiveInt(
              20,
              'Re-check interval = max(block_for_retry_min_wait, block_for / this) (v1 key).',
            ),
            worker_processing_timeout: Duration('30m', 'Default `processing_timeout` of a new task (v1 key).'),
            claim_amount: PositiveInt(1, 'Default `amount` of a claim (v1 key).'),
            retry_times: Type.Integer({
              minimum: 0,
              maximum: 2_147_483_647,
              default: 25,
              description: 'Default `retry_times` of a new task (v1 key): a task has retry_times + 1 attempts.',
            }),
            version_conflict_retry_times: PositiveInt(
              500,
              'How often a report, done, failed or unclaim is retried on a concurrent write before answering 409 (v1 key).',
            ),
          },
          { default: {} },
        ),
        limits: Type.Object(
          {
            max_claim_amount: PositiveInt(1000, 'Largest `amount` a claim hands out; larger requests are clamped.'),
            max_block_for: Duration('60s', 'Longest long poll; a larger `block_for` is clamped, not refused.'),
            body_limit_bytes: PositiveInt(1_048_576, 'Largest request body, in bytes; larger ones get 413.'),
            max_answer_bytes: PositiveInt(
              16_777_216,
              'Largest claim answer and `GET /tasques` page, in bytes of JSON (docs/limits.md). A claim hands out fewer tasks once the next would pass it and gives the others back unclaimed (their attempt not counted); a page ends early with a `next_cursor`. At least one task always: a single larger task is handed out alone. At most 256 MiB (a JavaScript string holds at most ~512 MiB).',
              268_435_456,
            ),
          },
          { default: {} },
        ),
        queue_limits: Type.Record(Type.String(), QueueLimitsConfig, {
          default: {},
          description:
            'Flow-control limits by queue name, each as the body of `PUT /queues/{queue}/limits` (docs/flow-control.md), e.g. `{"mail": {"per_key": {"concurrency": 10}}}`. Every server sets them when it starts, replacing what was set through the API for the queues named here; other queues are left as they are.',
        }),
        backoff: Type.Object(
          {
            base: Duration('15s', 'Retry wait = base + r^4 s + rand(0..jitter)·(r+1), r = attempts so far − 1.'),
            jitter: Duration('30s', 'Upper bound (exclusive) of the random part of the retry wait, per attempt.'),
            max: Duration('168h', 'Longest retry wait.'),
          },
          { default: {} },
        ),
        error_history: Type.Object(
          {
            keep: Type.Integer({
              minimum: 0,
              maximum: 1000,
              default: 10,
              description:
                'How many failed attempts each task keeps, newest last, with time, worker id and failure data (timeouts included): `GET /tasques/errors/{queue}/{id}` and the dashboard task page. 0 keeps none. Not part of v1 answers.',
            }),
            max_entry_bytes: Type.Integer({
              minimum: 256,
              maximum: 1_048_576,
              default: 8192,
              description:
                'Largest failure kept in the history, in bytes of JSON; a larger one is kept as `{"truncated": true, "bytes", "preview"}` with the start of its JSON. `last_claimed.result` always has the whole failure.',
            }),
          },
          { default: {} },
        ),
      },
      { default: {} },
    ),
    recurring: Type.Object(
      {
        leader_lock: Type.Object(
          {
            run_interval: Duration(
              msDefault(ELECTOR_INTERVAL_DEFAULT_MS),
              'How often each server tries to become leader, and how often the leader renews its lease (v1 key).',
            ),
            leader_lock_lease: Duration(
              msDefault(LEADER_LEASE_DEFAULT_MS),
              'How long the leader lease lasts without renewal: after a crash of the leader, another server takes over within about this plus run_interval (v1 key). Must be longer than run_interval.',
            ),
          },
          { default: {} },
        ),
        timed_out_tasks_reaper: Type.Object(
          {
            run_interval: Duration(
              msDefault(TIMEOUT_REAPER_INTERVAL_DEFAULT_MS),
              'How often the leader fails claimed tasks whose processing timeout passed without a report-in (v1 key).',
            ),
            scroll_size: PositiveInt(TIMEOUT_REAPER_BATCH_SIZE_DEFAULT, 'Timed-out tasks read per store query (v1 key).'),
          },
          { default: {} },
        ),
        tasks_archiver: Type.Object(
          {
            run_interval: Duration(msDefault(ARCHIVER_INTERVAL_DEFAULT_MS), 'How often the leader archives finished tasks (v1 key).'),
            archive_older_than: Duration(
              msDefault(ARCHIVE_OLDER_THAN_DEFAULT_MS),
              'Done and dead tasks that finished longer ago than this move to the archive, which frees their ids (v1 key).',
            ),
            delete_archived_older_than: Duration(
              msDefault(DELETE_ARCHIVED_OLDER_THAN_DEFAULT_MS),
              'Archived tasks that finished longer ago than this are deleted; 0s keeps them forever. Must be 0s or longer than archive_older_than.',
            ),
            scroll_size: PositiveInt(ARCHIVER_BATCH_SIZE_DEFAULT, 'Tasks archived or deleted per store call (v1 key).'),
          },
          { default: {} },
        ),
        recurring_tasks: Type.Object(
          {
            sync_run_interval: Duration(
              msDefault(RECURRING_SYNC_INTERVAL_DEFAULT_MS),
              'How often the leader picks up recurring tasks created, changed or deleted through the API on any server (v1 key).',
            ),
          },
          { default: {} },
        ),
      },
      { default: {} },
    ),
  },
  { default: {} },
);

export const ConfigFileSchema = Type.Object({
  tasques: Type.Object({ server: ServerConfigSchema }, { default: {} }),
});

export type ServerConfig = Static<typeof ServerConfigSchema>;
