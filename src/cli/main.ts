/**
 * The `tasques` command line: `serve` (the default), `setup` and `show config`.
 */
import { parseArgs } from 'node:util';
import { ConfigError, durationMs, loadConfig, maskSecrets } from '../config/load.js';
import { createServer, createStore, VERSION } from '../server/server.js';
import { ElasticsearchStore } from '../store/elasticsearch/elasticsearch-store.js';
import { kibanaBaseUrl, kibanaSetup } from '../store/elasticsearch/kibana.js';

const USAGE = `Usage: tasques [command] [--config FILE]

Commands:
  serve          Run the server (default). Embedded SQLite store unless configured otherwise.
  setup          Prepare the store: for Elasticsearch/OpenSearch, install or upgrade the index
                 templates, indices and archive alias (and the ILM policy on Elasticsearch); for
                 SQLite, create or migrate the database file. Idempotent.
                 Elasticsearch only, optional: Kibana data views and a dashboard, imported with
                 --kibana-url (or store.elasticsearch.kibana.url) and/or written to --kibana-export.
  show config    Print the effective configuration as JSON, secrets masked.
  version        Print the version.

Options:
  -c, --config FILE   YAML config file (default: ./tasques.yaml or ./config/tasques.yaml if present).
                      Every key can be overridden by TASQUES_SERVER_<KEY PATH>, e.g.
                      TASQUES_SERVER_BIND_ADDRESS=0.0.0.0:8080.
  -h, --help          This help.

Setup options (store.kind: elasticsearch):
  --kibana-url URL      Import the Kibana saved objects into this Kibana (base URL, with its base
                        path and /s/<space> if any); overwrites the previous import. Credentials:
                        store.elasticsearch.kibana.user or .api_key (config or environment only).
  --kibana-export FILE  Write the same saved objects as an ndjson file, to import by hand.
`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        'kibana-url': { type: 'string' },
        'kibana-export': { type: 'string' },
      },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const command = parsed.positionals.join(' ') || 'serve';
  if (command === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (command !== 'serve' && command !== 'show config' && command !== 'setup') {
    process.stderr.write(`Unknown command: ${command}\n\n${USAGE}`);
    return 2;
  }
  const kibana = { url: parsed.values['kibana-url'], exportFile: parsed.values['kibana-export'] };
  if (command !== 'setup' && (kibana.url !== undefined || kibana.exportFile !== undefined)) {
    process.stderr.write(`tasques: --kibana-url and --kibana-export belong to \`tasques setup\`\n\n${USAGE}`);
    return 2;
  }
  let loaded;
  try {
    loaded = loadConfig({ file: parsed.values.config });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tasques: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (command === 'show config') {
    process.stdout.write(`${JSON.stringify({ tasques: { server: maskSecrets(loaded.config) } }, null, 2)}\n`);
    return 0;
  }
  if (command === 'setup') return setup(loaded.config, kibana);
  return serve(loaded.config, loaded.file, loaded.ignoredV1Keys);
}

interface KibanaFlags {
  url?: string | undefined;
  exportFile?: string | undefined;
}

async function setup(config: Parameters<typeof createServer>[0], kibanaFlags: KibanaFlags): Promise<number> {
  const kibanaConfig = config.store.elasticsearch.kibana;
  const kibanaUrl = kibanaFlags.url ?? kibanaConfig.url;
  if (config.store.kind !== 'elasticsearch' && (kibanaFlags.url !== undefined || kibanaFlags.exportFile !== undefined)) {
    process.stderr.write('tasques setup: --kibana-url and --kibana-export need store.kind: elasticsearch\n');
    return 2;
  }
  if (config.store.kind === 'elasticsearch' && kibanaUrl !== undefined) {
    try {
      kibanaBaseUrl(kibanaUrl); // a bad URL fails before the store is touched
    } catch (e) {
      process.stderr.write(`tasques setup: kibana: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const store = createStore(config);
  try {
    if (store instanceof ElasticsearchStore) {
      const report = await store.setup();
      const out: Record<string, unknown> = {
        store: 'elasticsearch',
        engine: `${report.engine.distribution} ${report.engine.version}`,
        index_prefix: store.names.prefix,
        archive_rollover: report.ilm ? 'ilm' : 'leader',
        templates: report.templates,
        created_indices: report.createdIndices,
        updated_mappings: report.updatedMappings,
        backfilled_tasks: report.backfilledTasks,
      };
      if (kibanaUrl !== undefined || kibanaFlags.exportFile !== undefined) {
        try {
          const kibana = await kibanaSetup({
            names: store.names,
            http: store.http,
            exportFile: kibanaFlags.exportFile,
            connection:
              kibanaUrl === undefined
                ? undefined
                : {
                    url: kibanaUrl,
                    username: kibanaConfig.user.name,
                    password: kibanaConfig.user.password,
                    apiKey: kibanaConfig.api_key,
                    timeoutMs: durationMs(config.store.elasticsearch.request_timeout),
                  },
            onFieldProblems: (problems) =>
              process.stderr.write(
                'tasques setup: warning: the Kibana objects use fields that the index mapping lacks; their panels show errors until it has them:\n' +
                  problems.map((p) => `  ${p}\n`).join(''),
              ),
          });
          out.kibana = {
            objects: kibana.objects,
            ...(kibana.exported !== undefined ? { exported_to: kibana.exported } : {}),
            ...(kibana.imported ? { imported_to: kibana.imported.endpoint, imported: kibana.imported.successCount } : {}),
            field_problems: kibana.fieldProblems,
          };
        } catch (e) {
          // The store part is done: say so, then why the Kibana part is not.
          process.stdout.write(`${JSON.stringify(out)}\n`);
          process.stderr.write(`tasques setup: kibana: ${(e as Error).message}\n`);
          return 1;
        }
      }
      process.stdout.write(`${JSON.stringify(out)}\n`);
    } else {
      await store.migrate();
      process.stdout.write(`${JSON.stringify({ store: config.store.kind, migrated: true })}\n`);
    }
    return 0;
  } catch (e) {
    process.stderr.write(`tasques setup: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

async function serve(
  config: Parameters<typeof createServer>[0],
  file: string | undefined,
  ignoredV1Keys: readonly string[],
): Promise<number> {
  let server;
  try {
    server = await createServer(config);
  } catch (e) {
    // A store that cannot start (not set up, unreachable, newer schema): one clear line, no stack.
    process.stderr.write(`tasques: cannot start: ${(e as Error).message}\n`);
    return 1;
  }
  const log = server.app.log;
  log.info(
    { url: server.url, store: config.store.kind, config_file: file ?? null, version: VERSION },
    `tasques listening on ${server.url}`,
  );
  if (ignoredV1Keys.length > 0) {
    log.warn({ keys: ignoredV1Keys }, 'v1 configuration keys without effect on this server were ignored');
  }
  return new Promise<number>((resolve) => {
    let signals = 0;
    const stop = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn({ signal }, 'second signal: exiting now');
        // Open connections (held requests, long polls) would keep the event loop, and the process, alive.
        process.exit(1);
      }
      log.info({ signal }, 'shutting down');
      server.close().then(
        () => {
          log.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          log.error({ err }, 'error during shutdown');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
