/**
 * The store the configuration names (`store.kind`), built with everything it needs from the config:
 * SQLite's file settings, or the Elasticsearch/OpenSearch connection (addresses, basic auth or API key,
 * TLS files read here so that a bad path names its key) and the store's index settings.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, durationMs } from '../config/load.js';
import type { ServerConfig } from '../config/schema.js';
import { ElasticsearchStore, type ElasticsearchStoreOptions } from '../store/elasticsearch/elasticsearch-store.js';
import type { EsTlsOptions } from '../store/elasticsearch/connection-security.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';

export function createStore(config: ServerConfig): Store {
  if (config.store.kind === 'elasticsearch') return elasticsearchStoreFromConfig(config);
  const sqlite = config.store.sqlite;
  return new SqliteStore({
    path: sqlite.path,
    synchronous: sqlite.synchronous,
    busyTimeoutMs: durationMs(sqlite.busy_timeout),
  });
}

export function elasticsearchStoreFromConfig(config: ServerConfig): ElasticsearchStore {
  return new ElasticsearchStore(elasticsearchStoreOptions(config));
}

/** The Elasticsearch store's options as the configuration gives them. */
export function elasticsearchStoreOptions(config: ServerConfig): ElasticsearchStoreOptions {
  const es = config.store.elasticsearch;
  return {
    http: {
      addresses: config.elasticsearch.addresses,
      username: config.elasticsearch.user.name,
      password: config.elasticsearch.user.password,
      apiKey: config.elasticsearch.api_key,
      tls: engineTlsOptions(config.elasticsearch.tls),
      requestTimeoutMs: durationMs(es.request_timeout),
    },
    indexPrefix: es.index_prefix,
    autoSetup: es.auto_setup,
    archive: {
      ilmEnabled: config.lifecycle_setup.archived_tasks.enabled,
      rolloverMaxAgeMs: durationMs(es.archive_rollover_max_age),
      rolloverMaxDocs: es.archive_rollover_max_docs,
      ilmDeleteAfterMs: durationMs(config.recurring.tasks_archiver.delete_archived_older_than),
    },
    claims: {
      maxStalenessMs: durationMs(es.claims.max_staleness),
      maxLocalWrites: es.claims.max_local_writes,
      searchMultiplier: es.claims.search_multiplier,
      searchExtra: es.claims.search_extra,
    },
  };
}

/** The TLS files' contents; a file that cannot be read is a ConfigError naming its key. */
export function engineTlsOptions(tls: ServerConfig['elasticsearch']['tls']): EsTlsOptions {
  const read = (key: string, path: string | undefined): string | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(
        `tasques.server.elasticsearch.tls.${key}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
  };
  return {
    ca: read('ca_file', tls.ca_file),
    cert: read('cert_file', tls.cert_file),
    key: read('key_file', tls.key_file),
    insecureSkipVerify: tls.insecure_skip_verify,
  };
}

/** What an operator should be told about the store connection at start (logged as warnings). */
export function storeConnectionWarnings(config: ServerConfig): string[] {
  if (config.store.kind !== 'elasticsearch' || !config.elasticsearch.tls.insecure_skip_verify) return [];
  return [
    'elasticsearch.tls.insecure_skip_verify is on: the engine certificate is not verified, so anyone on the network path can impersonate the engine and read its credentials',
  ];
}
