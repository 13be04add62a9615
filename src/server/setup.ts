/**
 * What `tasques setup` does, from the configuration: prepare the store (Elasticsearch/OpenSearch
 * templates, indices and archive alias; the SQLite file's migrations), and on Elasticsearch, optionally,
 * the Kibana saved objects (import into a Kibana, and/or write them to a file).
 *
 * `--kibana-export FILE` on its own only writes the file: the objects depend on the index prefix alone,
 * so no cluster is contacted and it works offline. With an import (`--kibana-url` or
 * `store.elasticsearch.kibana.url`) the store is set up too and the fields are checked against it.
 */
import { durationMs } from '../config/load.js';
import type { ServerConfig } from '../config/schema.js';
import { kibanaBaseUrl, kibanaSetup, type KibanaSetupReport } from '../integrations/kibana/kibana.js';
import { ElasticsearchStore } from '../store/elasticsearch/elasticsearch-store.js';
import { indexNames } from '../store/elasticsearch/mappings.js';
import { createStore, storeConnectionWarnings } from './store-from-config.js';

export interface SetupFlags {
  /** Import the Kibana objects into this Kibana (overrides store.elasticsearch.kibana.url). */
  kibanaUrl?: string | undefined;
  /** Write the Kibana objects to this file. */
  kibanaExport?: string | undefined;
}

/** A wrong combination of flags and configuration (the command's usage, exit status 2). */
export class SetupUsageError extends Error {}

export interface SetupOutcome {
  /** What was done, printed as one JSON line. */
  report: Record<string, unknown>;
  /** Set when the store part succeeded but the Kibana part failed (the report says what was done). */
  kibanaError?: string | undefined;
}

/**
 * Runs the setup. Throws SetupUsageError for bad flags (before anything is touched) and any other error
 * when the store cannot be set up; a Kibana failure after the store is done comes back in `kibanaError`.
 */
export async function runSetup(config: ServerConfig, flags: SetupFlags, warn: (line: string) => void): Promise<SetupOutcome> {
  const kibanaConfig = config.store.elasticsearch.kibana;
  const kibanaUrl = flags.kibanaUrl ?? kibanaConfig.url;
  if (config.store.kind !== 'elasticsearch' && (flags.kibanaUrl !== undefined || flags.kibanaExport !== undefined)) {
    throw new SetupUsageError('--kibana-url and --kibana-export need store.kind: elasticsearch');
  }
  if (config.store.kind === 'elasticsearch' && kibanaUrl !== undefined) {
    try {
      kibanaBaseUrl(kibanaUrl); // a bad URL fails before the store is touched
    } catch (e) {
      throw new SetupUsageError(`kibana: ${(e as Error).message}`);
    }
  }
  if (config.store.kind === 'elasticsearch' && kibanaUrl === undefined && flags.kibanaExport !== undefined) {
    return { report: await exportKibanaObjectsOffline(config, flags.kibanaExport) };
  }
  for (const warning of storeConnectionWarnings(config)) warn(`warning: ${warning}`);
  const store = createStore(config);
  try {
    if (!(store instanceof ElasticsearchStore)) {
      await store.migrate();
      return { report: { store: config.store.kind, migrated: true } };
    }
    const setup = await store.setup();
    const report: Record<string, unknown> = {
      store: 'elasticsearch',
      engine: `${setup.engine.distribution} ${setup.engine.version}`,
      index_prefix: store.names.prefix,
      archive_rollover: setup.ilm ? 'ilm' : 'leader',
      templates: setup.templates,
      created_indices: setup.createdIndices,
      updated_mappings: setup.updatedMappings,
      backfilled_tasks: setup.backfilledTasks,
    };
    if (kibanaUrl === undefined) return { report };
    try {
      const kibana = await kibanaSetup({
        names: store.names,
        http: store.http,
        exportFile: flags.kibanaExport,
        connection: {
          url: kibanaUrl,
          username: kibanaConfig.user.name,
          password: kibanaConfig.user.password,
          apiKey: kibanaConfig.api_key,
          timeoutMs: durationMs(config.store.elasticsearch.request_timeout),
        },
        onFieldProblems: (problems) =>
          warn(
            'warning: the Kibana objects use fields that the index mapping lacks; their panels show errors until it has them:\n' +
              problems.map((p) => `  ${p}`).join('\n'),
          ),
      });
      report.kibana = kibanaReport(kibana, true);
      return { report };
    } catch (e) {
      return { report, kibanaError: (e as Error).message };
    }
  } finally {
    await store.close();
  }
}

/** Writes the Kibana objects for the configured index prefix; touches no cluster. */
async function exportKibanaObjectsOffline(config: ServerConfig, file: string): Promise<Record<string, unknown>> {
  const names = indexNames(config.store.elasticsearch.index_prefix);
  const kibana = await kibanaSetup({ names, exportFile: file });
  return { index_prefix: names.prefix, kibana: kibanaReport(kibana, false) };
}

/** `fieldsChecked`: whether the engine's mapping was asked (not offline); unchecked fields are not reported. */
function kibanaReport(kibana: KibanaSetupReport, fieldsChecked: boolean): Record<string, unknown> {
  return {
    objects: kibana.objects,
    ...(kibana.exported !== undefined ? { exported_to: kibana.exported } : {}),
    ...(kibana.imported ? { imported_to: kibana.imported.endpoint, imported: kibana.imported.successCount } : {}),
    ...(fieldsChecked ? { field_problems: kibana.fieldProblems } : {}),
  };
}
