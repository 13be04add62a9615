/**
 * The `tasques` command line: `serve` (the default), `setup` and `show config`.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, maskSecrets } from '../config/load.js';
import type { ServerConfig } from '../config/schema.js';
import { createServer, VERSION } from '../server/server.js';
import { runSetup, type SetupFlags, SetupUsageError } from '../server/setup.js';

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
  --kibana-export FILE  Write the same saved objects as an ndjson file, to import by hand. Without
                        an import (--kibana-url or kibana.url) it only writes the file: the store is
                        not set up and no cluster is contacted, so it works offline.
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
  const kibana: SetupFlags = { kibanaUrl: parsed.values['kibana-url'], kibanaExport: parsed.values['kibana-export'] };
  if (command !== 'setup' && (kibana.kibanaUrl !== undefined || kibana.kibanaExport !== undefined)) {
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

async function setup(config: ServerConfig, flags: SetupFlags): Promise<number> {
  const warn = (line: string) => process.stderr.write(`tasques setup: ${line}\n`);
  try {
    const { report, kibanaError } = await runSetup(config, flags, warn);
    process.stdout.write(`${JSON.stringify(report)}\n`);
    if (kibanaError === undefined) return 0;
    // The store part is done (the report says so); then why the Kibana part is not.
    process.stderr.write(`tasques setup: kibana: ${kibanaError}\n`);
    return 1;
  } catch (e) {
    process.stderr.write(`tasques setup: ${(e as Error).message}\n`);
    return e instanceof SetupUsageError ? 2 : 1;
  }
}

async function serve(
  config: ServerConfig,
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
  const stopped = new Promise<number>((resolve) => {
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
  // Only now: whoever waits for this line may signal at once, and the process may be preempted right
  // after writing it; a signal before the handlers above would kill it without a graceful stop.
  log.info(
    { url: server.url, store: config.store.kind, config_file: file ?? null, version: VERSION },
    `tasques listening on ${server.url}`,
  );
  if (ignoredV1Keys.length > 0) {
    log.warn({ keys: ignoredV1Keys }, 'v1 configuration keys without effect on this server were ignored');
  }
  return stopped;
}
