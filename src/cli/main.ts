/**
 * The `tasques` command line: `serve` (the default), `setup`, `show config`, and `token new|hash`.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, maskSecrets } from '../config/load.js';
import type { ServerConfig } from '../config/schema.js';
import { createServer, VERSION } from '../server/server.js';
import { runSetup, type SetupFlags, SetupUsageError } from '../server/setup.js';
import { bearerTokenSha256, newBearerToken } from '../server/tokens.js';

const CONFIG_HELP = `  -c, --config FILE   YAML config file (default: ./tasques.yaml or ./config/tasques.yaml if present).
                      Every key can be overridden by TASQUES_SERVER_<KEY PATH>, e.g.
                      TASQUES_SERVER_BIND_ADDRESS=0.0.0.0:8080.
  -h, --help          This help.`;

const USAGE = `Usage: tasques [command] [--config FILE]

Commands:
  serve          Run the server (default). Embedded SQLite store unless configured otherwise.
  setup          Prepare the store: for Elasticsearch/OpenSearch, install or upgrade the index
                 templates, indices and archive alias (and the ILM policy on Elasticsearch); for
                 SQLite, create or migrate the database file. Idempotent.
                 Elasticsearch only, optional: Kibana data views and a dashboard, imported with
                 --kibana-url (or store.elasticsearch.kibana.url) and/or written to --kibana-export.
  show config    Print the effective configuration as JSON, secrets masked.
  token new      Make a bearer token; print it and the sha256 to configure (auth.bearer_tokens).
  token hash     Print the sha256 of a token read from stdin.
  version        Print the version (also: --version, -V).

Options:
${CONFIG_HELP}
  -V, --version       Print the version.

Setup options (store.kind: elasticsearch):
  --kibana-url URL      Import the Kibana saved objects into this Kibana (base URL, with its base
                        path and /s/<space> if any); overwrites the previous import. Credentials:
                        store.elasticsearch.kibana.user or .api_key (config or environment only).
  --kibana-export FILE  Write the same saved objects as an ndjson file, to import by hand. Without
                        an import (--kibana-url or kibana.url) it only writes the file: the store is
                        not set up and no cluster is contacted, so it works offline.

\`tasques <command> --help\` describes one command.
`;

type Command = 'serve' | 'setup' | 'show config' | 'token new' | 'token hash' | 'version';
type OptionName = 'config' | 'help' | 'version' | 'kibana-url' | 'kibana-export';

/** Every option of every command; which command accepts which is in COMMANDS. */
const OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  'kibana-url': { type: 'string' },
  'kibana-export': { type: 'string' },
} as const satisfies Record<OptionName, { type: 'string' | 'boolean'; short?: string }>;

const COMMANDS: Record<Command, { options: readonly OptionName[]; usage: string }> = {
  serve: {
    options: ['config', 'help'],
    usage: `Usage: tasques serve [--config FILE]

Runs the server until SIGTERM or SIGINT (graceful: /readyz turns 503, held requests finish; a second
signal exits at once). Embedded SQLite store unless configured otherwise. \`tasques\` alone does the same.

Options:
${CONFIG_HELP}
`,
  },
  setup: {
    options: ['config', 'help', 'kibana-url', 'kibana-export'],
    usage: `Usage: tasques setup [--config FILE] [--kibana-url URL] [--kibana-export FILE]

Prepares the store, idempotently: for Elasticsearch/OpenSearch, installs or upgrades the index
templates, indices and archive alias (and the ILM policy on Elasticsearch); for SQLite, creates or
migrates the database file. Prints what it did as one JSON line.

Options:
${CONFIG_HELP}
  --kibana-url URL      (store.kind: elasticsearch) Import Kibana data views and a dashboard into this
                        Kibana (base URL, with its base path and /s/<space> if any); overwrites the
                        previous import. Credentials: store.elasticsearch.kibana.user or .api_key.
  --kibana-export FILE  (store.kind: elasticsearch) Write the same saved objects as an ndjson file.
`,
  },
  'show config': {
    options: ['config', 'help'],
    usage: `Usage: tasques show config [--config FILE]

Prints the effective configuration (defaults, then the file, then TASQUES_SERVER_* variables) as
JSON, with secrets masked.

Options:
${CONFIG_HELP}
`,
  },
  'token new': {
    options: ['help'],
    usage: `Usage: tasques token new

Makes a bearer token (32 random bytes) and prints one JSON line: {"token": "...", "sha256": "..."}.
Give the token to the service; configure only the sha256, with a name and a role, e.g.

  auth:
    bearer_tokens:
      - name: billing-service
        role: producer
        sha256: <the sha256>
`,
  },
  'token hash': {
    options: ['help'],
    usage: `Usage: tasques token hash < token-file

Reads a token from stdin (its first line) and prints the sha256 to configure in auth.bearer_tokens.
The token is read from stdin, not from an argument, so that it does not show in the process list.
`,
  },
  version: {
    options: ['help'],
    usage: `Usage: tasques version   (or tasques --version, tasques -V)

Prints the version of this tasques.
`,
  },
};

function isCommand(s: string): s is Command {
  return Object.hasOwn(COMMANDS, s);
}

/** How an option is spelled on the command line, for messages. */
function spelled(name: OptionName): string {
  const short = (OPTIONS[name] as { short?: string }).short;
  return short === undefined ? `--${name}` : `--${name} (-${short})`;
}

/** Why `option` is refused by `command`, naming the command(s) it belongs to. */
function misplacedMessage(command: Command, option: OptionName): string {
  const owners = (Object.keys(COMMANDS) as Command[]).filter((c) => COMMANDS[c].options.includes(option));
  if (owners.length !== 1) {
    return `${spelled(option)} is not an option of this command (it belongs to ${owners.map((c) => `\`tasques ${c}\``).join(', ')})`;
  }
  const owner = owners[0] as Command;
  // Name the owner's whole group (the Kibana flags together), not just the one given.
  const group = COMMANDS[owner].options.filter((o) => !COMMANDS[command].options.includes(o)).map((o) => `--${o}`);
  const list = group.length === 1 ? `${group[0]} belongs` : `${group.slice(0, -1).join(', ')} and ${group.at(-1)} belong`;
  return `${spelled(option)} is not an option of this command (${list} to \`tasques ${owner}\`)`;
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS, tokens: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    // node's own text suggests a `--` delimiter, which no command here takes: say what is wrong instead.
    const unknown = /^Unknown option '([^']+)'/.exec(err.message);
    const message =
      err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown ? `unknown option ${unknown[1]}` : err.message.replace(/\.$/, '');
    // The usage of the command that was meant, if one was named.
    // (Loosely parsed, an unknown option's value is a positional: look at the first one or two only.)
    const loose = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS, strict: false }).positionals;
    const meant = [loose.slice(0, 2).join(' '), loose[0] ?? ''].find(isCommand) ?? '';
    const usage = isCommand(meant) ? COMMANDS[meant].usage : USAGE;
    process.stderr.write(`${isCommand(meant) ? `tasques ${meant}` : 'tasques'}: ${message}\n\n${usage}`);
    return 2;
  }
  const command = parsed.positionals.join(' ') || 'serve';
  if (!isCommand(command)) {
    process.stderr.write(`Unknown command: ${command}\n\n${USAGE}`);
    return 2;
  }
  const given = parsed.tokens.flatMap((t) => (t.kind === 'option' ? [t.name as OptionName] : []));
  if (parsed.values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (parsed.values.help) {
    // `tasques --help` is the overview; `tasques setup --help` is that command's page.
    process.stdout.write(parsed.positionals.length === 0 ? USAGE : COMMANDS[command].usage);
    return 0;
  }
  const misplaced = given.find((name) => !COMMANDS[command].options.includes(name));
  if (misplaced !== undefined) {
    process.stderr.write(`tasques ${command}: ${misplacedMessage(command, misplaced)}\n\n${COMMANDS[command].usage}`);
    return 2;
  }
  if (command === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (command === 'token new') {
    process.stdout.write(`${JSON.stringify(newBearerToken())}\n`);
    return 0;
  }
  if (command === 'token hash') {
    const token = (await readStdin()).split(/\r?\n/)[0] ?? '';
    if (token.trim() === '' || /\s/.test(token)) {
      process.stderr.write('tasques token hash: stdin must hold one token, without spaces, on its first line\n');
      return 2;
    }
    process.stdout.write(`${bearerTokenSha256(token)}\n`);
    return 0;
  }
  const kibana: SetupFlags = { kibanaUrl: parsed.values['kibana-url'], kibanaExport: parsed.values['kibana-export'] };
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

/** All of stdin, for `token hash` (at most 64 KiB: a token is short). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size > 65_536) break;
  }
  return Buffer.concat(chunks).toString('utf8');
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
