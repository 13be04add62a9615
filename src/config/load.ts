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
}

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
  const merged = applyEnv(structuredClone(fromFile) as Record<string, unknown>, ServerConfigSchema, env, []);
  return { config: validateConfig(merged), file };
}

/** Fills defaults and validates; throws ConfigError naming every bad key as `tasques.server.a.b`. */
export function validateConfig(input: unknown): ServerConfig {
  const withDefaults = Value.Default(ServerConfigSchema, structuredClone(input ?? {}));
  const problems = [...Value.Errors(ServerConfigSchema, withDefaults)].map((e) => {
    const key = `tasques.server${e.path.replaceAll('/', '.')}`;
    const schema = e.schema as { format?: string };
    const why = schema.format === 'go-duration' ? 'must be a Go duration such as "300ms", "5s" or "1h30m"' : e.message;
    // A bad value that is, or holds, a secret (e.g. a malformed basic-auth entry) is not echoed.
    const got = JSON.stringify(e.schema).includes('"secret":true') ? '"******"' : JSON.stringify(e.value);
    return `${key}: ${why} (got ${got})`;
  });
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${[...new Set(problems)].join('\n  ')}`);
  const config = withDefaults as ServerConfig;
  checkRecurringSettings(config.recurring);
  checkEngineConnection(config.elasticsearch);
  if (!/^.+:\d{1,5}$/.test(config.bind_address)) {
    throw new ConfigError(`tasques.server.bind_address: must be host:port (got ${JSON.stringify(config.bind_address)})`);
  }
  return config;
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
