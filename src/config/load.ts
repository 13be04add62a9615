/**
 * Loading the configuration: defaults ← YAML file ← environment, then validation with messages that
 * name the key. A config file is optional (v1 required one); `tasques serve` on a fresh machine works
 * with no file at all.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Kind, type TObject, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { parseGoDuration } from '../domain/duration.js';
import { queueNameViolations } from '../domain/queue-name.js';
import { type ServerConfig, ServerConfigSchema } from './schema.js';

export class ConfigError extends Error {}

export const ENV_PREFIX = 'TASQUES_SERVER_';
const SEARCH_PATHS = ['tasques.yaml', 'tasques.yml', 'config/tasques.yaml', 'config/tasques.yml'];

export interface LoadConfigOptions {
  /** Explicit file; an error if it cannot be read. Otherwise the search paths are tried. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LoadedConfig {
  config: ServerConfig;
  /** The file that was read, if any. */
  file?: string | undefined;
  /** v1 keys that were set and have no effect here (V1_KEYS_WITHOUT_EFFECT), for a warning at start. */
  ignoredV1Keys: string[];
}

/**
 * Keys of v1's config (spec §11.3) that this server does not use, with their subtrees. A v1 config file
 * (Kibana was even mandatory there) must still load, so they are accepted, and reported; any other
 * unknown key is refused.
 */
export const V1_KEYS_WITHOUT_EFFECT: readonly string[] = [
  'kibana',
  'apm',
  'tasks.queues',
  'tasks.defaults.claim_amount_search_multiplier',
  'recurring.timed_out_tasks_reaper.scroll_ttl',
  'recurring.tasks_archiver.scroll_ttl',
  'recurring.recurring_tasks.enforce_sync_run_interval',
  'recurring.recurring_tasks.scroll_size',
  'recurring.recurring_tasks.scroll_ttl',
  'lifecycle_setup.archived_tasks.custom_policy',
];

const V1_ENV_WITHOUT_EFFECT = V1_KEYS_WITHOUT_EFFECT.map((key) => ENV_PREFIX + key.replaceAll('.', '_').toUpperCase());

export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? SEARCH_PATHS.map((p) => (options.cwd ? `${options.cwd}/${p}` : p)).find(existsSync);
  let fromFile: unknown = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text) ?? {};
    } catch (e) {
      throw new ConfigError(`config file ${file} is not valid YAML: ${(e as Error).message}`);
    }
    const server = (doc as { tasques?: { server?: unknown } } | null)?.tasques?.server;
    if (server === undefined) {
      throw new ConfigError(`config file ${file} has no "tasques.server" section (keys nest as tasques: server: ...)`);
    }
    fromFile = server ?? {};
  }
  const ignoredV1Keys: string[] = [];
  const unknown = [
    ...(file === undefined ? [] : unknownFileKeys(fromFile, file, ignoredV1Keys)),
    ...unknownEnvNames(env, ignoredV1Keys),
  ];
  if (unknown.length > 0) throw new ConfigError(`unknown configuration keys:\n  ${unknown.join('\n  ')}`);
  const merged = applyEnv(structuredClone(fromFile) as Record<string, unknown>, ServerConfigSchema, env, []);
  return { config: validateConfig(merged), file, ignoredV1Keys };
}

/** Edit distance of two short strings (keys), for "did you mean". */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** "did you mean X?" for the closest of `known` (when close enough), else the list of `known`. */
function suggestion(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3))) return `did you mean ${best}?`;
  return known.length <= 12 ? `known keys here: ${known.join(', ')}` : 'see docs/reference/config.md';
}

/** Keys of the file's tasques.server section that the schema does not have (a typo is never ignored). */
function unknownFileKeys(section: unknown, file: string, ignoredV1Keys: string[]): string[] {
  const found: string[] = [];
  const walk = (value: unknown, schema: TObject, path: string): void => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return; // the validator names it
    const known = Object.keys(schema.properties);
    for (const [key, child] of Object.entries(value)) {
      const childSchema = schema.properties[key];
      const relative = `${path}.${key}`.slice('tasques.server.'.length);
      if (V1_KEYS_WITHOUT_EFFECT.includes(relative)) {
        ignoredV1Keys.push(`tasques.server.${relative}`);
      } else if (childSchema === undefined) {
        found.push(`${path}.${key} (in ${file}): unknown key; ${suggestion(key, known)}`);
      } else if (childSchema[Kind] === 'Object') {
        walk(child, childSchema as TObject, `${path}.${key}`);
      } else if (childSchema[Kind] === 'Array' && (childSchema as TSchema & { items: TSchema }).items[Kind] === 'Object' && Array.isArray(child)) {
        child.forEach((item, i) => walk(item, (childSchema as TSchema & { items: TObject }).items, `${path}.${key}.${i}`));
      }
    }
  };
  walk(section, ServerConfigSchema, 'tasques.server');
  return found;
}

/** Every `TASQUES_SERVER_…` name the schema answers to: each key and each section. */
function knownEnvNames(schema: TObject, path: string[] = []): string[] {
  return Object.entries(schema.properties).flatMap(([key, child]) => {
    const keyPath = [...path, key];
    const name = ENV_PREFIX + keyPath.join('_').toUpperCase();
    return child[Kind] === 'Object' ? [name, ...knownEnvNames(child as TObject, keyPath)] : [name];
  });
}

/** `TASQUES_SERVER_…` variables that set nothing (only their names: values may be secrets). */
function unknownEnvNames(env: NodeJS.ProcessEnv, ignoredV1Keys: string[]): string[] {
  const known = knownEnvNames(ServerConfigSchema);
  const knownSet = new Set(known);
  const names = Object.keys(env).filter((name) => name.startsWith(ENV_PREFIX) && !knownSet.has(name)).sort();
  const v1 = (name: string) => V1_ENV_WITHOUT_EFFECT.some((prefix) => name === prefix || name.startsWith(`${prefix}_`));
  ignoredV1Keys.push(...names.filter(v1));
  return names
    .filter((name) => !v1(name))
    .map((name) => `${name}: unknown environment variable; ${suggestion(name, known)}`);
}

/** Fills defaults and validates; throws ConfigError naming every bad key as `tasques.server.a.b`. */
export function validateConfig(input: unknown): ServerConfig {
  const withDefaults = Value.Default(ServerConfigSchema, structuredClone(input ?? {}));
  const problems = [...Value.Errors(ServerConfigSchema, withDefaults)].map((e) => {
    const key = `tasques.server${e.path.replaceAll('/', '.')}`;
    const schema = e.schema as { format?: string; anyOf?: { const?: unknown }[] };
    const choices = schema.anyOf?.every((s) => s.const !== undefined) ? schema.anyOf.map((s) => JSON.stringify(s.const)) : undefined;
    const why =
      schema.format === 'go-duration'
        ? 'must be a Go duration such as "300ms", "5s" or "1h30m"'
        : choices !== undefined
          ? `must be one of ${choices.join(', ')}`
          : e.message;
    // A bad value that is, or holds, a secret (e.g. a malformed basic-auth entry) is not echoed.
    const got = JSON.stringify(e.schema).includes('"secret":true') ? '"******"' : JSON.stringify(e.value);
    return `${key}: ${why} (got ${got})`;
  });
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${[...new Set(problems)].join('\n  ')}`);
  // Only the schema's keys go on: v1's keys without effect (kibana.user.password among them) are neither
  // used nor printed by `show config`.
  const config = Value.Clean(ServerConfigSchema, withDefaults) as ServerConfig;
  checkRecurringSettings(config.recurring);
  checkQueueLimits(config.tasks.queue_limits);
  checkHttpSettings(config);
  checkEngineConnection(config.elasticsearch);
  const port = /^.+:(\d{1,5})$/.exec(config.bind_address)?.[1];
  if (port === undefined) {
    throw new ConfigError(`tasques.server.bind_address: must be host:port (got ${JSON.stringify(config.bind_address)})`);
  }
  if (Number(port) > 65_535) {
    throw new ConfigError(`tasques.server.bind_address: the port must be 0 to 65535 (got ${port})`);
  }
  return config;
}

/** Queue names and rate intervals of `tasks.queue_limits` (the schema checked the rest). */
function checkQueueLimits(queueLimits: ServerConfig['tasks']['queue_limits']): void {
  for (const [queue, limits] of Object.entries(queueLimits)) {
    const key = `tasques.server.tasks.queue_limits.${queue}`;
    const reasons = queueNameViolations(queue);
    if (reasons.length > 0) throw new ConfigError(`${key}: not a valid queue name (${reasons.join('; ')})`);
    const rates: [string, { per: string } | undefined][] = [
      ['queue.rate', limits.queue?.rate],
      ['per_key.rate', limits.per_key?.rate],
      ...Object.entries(limits.keys ?? {}).map(([name, limit]): [string, { per: string } | undefined] => [`keys.${name}.rate`, limit.rate]),
    ];
    for (const [path, rate] of rates) {
      if (rate === undefined) continue;
      const perMs = durationMs(rate.per);
      if (!(perMs >= 1 && perMs <= 24 * 3600 * 1000)) throw new ConfigError(`${key}.${path}.per: must be from 1ms to 24h (got ${rate.per})`);
    }
  }
}

/** Timeouts of the HTTP server and of shutdown, which constrain one another. */
function checkHttpSettings(config: ServerConfig): void {
  const { request_timeout, headers_timeout } = config.http;
  if (durationMs(request_timeout) <= 0) throw new ConfigError(`tasques.server.http.request_timeout: must be positive (got ${request_timeout})`);
  if (durationMs(headers_timeout) <= 0) throw new ConfigError(`tasques.server.http.headers_timeout: must be positive (got ${headers_timeout})`);
  if (durationMs(headers_timeout) > durationMs(request_timeout)) {
    throw new ConfigError(
      `tasques.server.http.headers_timeout: must be at most http.request_timeout (got ${headers_timeout} and ${request_timeout})`,
    );
  }
  if (durationMs(config.shutdown_drain_delay) < 0) {
    throw new ConfigError(`tasques.server.shutdown_drain_delay: must not be negative (got ${config.shutdown_drain_delay})`);
  }
}

/** Credentials and TLS of the engine connection: one way to authenticate, TLS only with HTTPS. */
function checkEngineConnection(es: ServerConfig['elasticsearch']): void {
  if (es.user.name !== undefined && es.user.name !== '' && es.api_key !== undefined && es.api_key !== '') {
    throw new ConfigError('tasques.server.elasticsearch: set either user (basic auth) or api_key, not both');
  }
  if ((es.tls.cert_file === undefined) !== (es.tls.key_file === undefined)) {
    throw new ConfigError('tasques.server.elasticsearch.tls: cert_file and key_file go together (a client certificate needs its key)');
  }
  const tlsSet = es.tls.ca_file !== undefined || es.tls.cert_file !== undefined || es.tls.insecure_skip_verify;
  if (tlsSet && !es.addresses.some((address) => address.startsWith('https://'))) {
    throw new ConfigError(
      `tasques.server.elasticsearch.tls: is set, but no address is https:// (got ${JSON.stringify(es.addresses)})`,
    );
  }
}

/** The leader and maintenance settings, which constrain one another. */
function checkRecurringSettings(recurring: ServerConfig['recurring']): void {
  for (const [key, value] of [
    ['leader_lock.run_interval', recurring.leader_lock.run_interval],
    ['timed_out_tasks_reaper.run_interval', recurring.timed_out_tasks_reaper.run_interval],
    ['tasks_archiver.run_interval', recurring.tasks_archiver.run_interval],
    ['recurring_tasks.sync_run_interval', recurring.recurring_tasks.sync_run_interval],
  ] as const) {
    if (durationMs(value) <= 0) throw new ConfigError(`tasques.server.recurring.${key}: must be positive (got ${value})`);
  }
  if (durationMs(recurring.leader_lock.leader_lock_lease) <= durationMs(recurring.leader_lock.run_interval)) {
    throw new ConfigError(
      'tasques.server.recurring.leader_lock.leader_lock_lease: must be longer than recurring.leader_lock.run_interval ' +
        `(got ${recurring.leader_lock.leader_lock_lease} and ${recurring.leader_lock.run_interval})`,
    );
  }
  const archiver = recurring.tasks_archiver;
  const retentionMs = durationMs(archiver.delete_archived_older_than);
  if (durationMs(archiver.archive_older_than) < 0 || retentionMs < 0) {
    throw new ConfigError('tasques.server.recurring.tasks_archiver: durations must not be negative');
  }
  if (retentionMs !== 0 && retentionMs <= durationMs(archiver.archive_older_than)) {
    throw new ConfigError(
      'tasques.server.recurring.tasks_archiver.delete_archived_older_than: must be 0s (keep forever) or longer than ' +
        `archive_older_than (got ${archiver.delete_archived_older_than} and ${archiver.archive_older_than})`,
    );
  }
}

/** Overlays `TASQUES_SERVER_<PATH>` variables onto the file's values, for every key the schema knows. */
function applyEnv(target: Record<string, unknown>, schema: TObject, env: NodeJS.ProcessEnv, path: string[]) {
  for (const [key, child] of Object.entries(schema.properties) as [string, TSchema][]) {
    const keyPath = [...path, key];
    const envName = ENV_PREFIX + keyPath.join('_').toUpperCase();
    const raw = env[envName];
    if (child[Kind] === 'Object') {
      if (raw !== undefined && raw !== '') {
        target[key] = parseEnvJson(envName, raw);
        continue;
      }
      const sub = (typeof target[key] === 'object' && target[key] !== null ? target[key] : {}) as Record<string, unknown>;
      target[key] = applyEnv(sub, child as TObject, env, keyPath);
      continue;
    }
    if (raw === undefined) continue;
    target[key] = fromEnvString(envName, raw, child);
  }
  return target;
}

function fromEnvString(envName: string, raw: string, schema: TSchema): unknown {
  switch (schema[Kind]) {
    case 'Integer':
    case 'Number':
      return raw.trim() === '' || Number.isNaN(Number(raw)) ? raw : Number(raw);
    case 'Boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    case 'Record':
      return parseEnvJson(envName, raw);
    case 'Array':
      if (raw.trim().startsWith('[')) return parseEnvJson(envName, raw);
      // user:password,user2:password2 for basic_auth; plain comma-separated strings otherwise.
      return raw
        .split(',')
        .filter((s) => s.length > 0)
        .map((item) => {
          const colon = item.indexOf(':');
          const ofObjects = (schema as TSchema & { items?: TSchema }).items?.[Kind] === 'Object';
          return ofObjects && colon > 0 ? { name: item.slice(0, colon), password: item.slice(colon + 1) } : item;
        });
    default:
      return raw;
  }
}

function parseEnvJson(envName: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new ConfigError(`${envName}: not valid JSON`);
  }
}

/** The effective configuration with every secret replaced by "******", for printing and logging. */
export function maskSecrets(config: ServerConfig): unknown {
  const walk = (value: unknown, schema: TSchema | undefined): unknown => {
    if (schema && (schema as { secret?: boolean }).secret && value !== undefined) return '******';
    if (Array.isArray(value)) return value.map((v) => walk(v, (schema as { items?: TSchema } | undefined)?.items));
    if (value !== null && typeof value === 'object') {
      const props = (schema as TObject | undefined)?.properties ?? {};
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, props[k])]));
    }
    return value;
  };
  return walk(config, ServerConfigSchema);
}

/** Milliseconds of a duration the schema has already validated. */
export function durationMs(value: string): number {
  return parseGoDuration(value) / 1e6;
}
