/**
 * The CLI's configuration handling, through the real `tasques` process: `show config`, YAML files,
 * TASQUES_SERVER_* overrides, secret masking, validation errors, and the command-line surface.
 * One-shot commands are independent processes, so each suite runs a few at a time.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { killAllServers, makeTempDir, REPO_ROOT, request, runCli, startServer } from '../helpers/cli.js';

after(killAllServers);

const FILE_SECRET = 'file-pw-Zq81xLm';
const ENV_SECRET = 'env-pw-7Hc2Rt0';

/** A temp dir holding `name` with `yaml` as content; returns [dir, path]. */
function yamlFile(yaml: string, name = 'custom.yaml'): [string, string] {
  const dir = makeTempDir('tasques-config-');
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, yaml);
  return [dir, path];
}

async function showConfig(args: string[] = [], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const res = await runCli(['show', 'config', ...args], options);
  assert.equal(res.code, 0, `show config failed:\n${res.stderr}`);
  const parsed = JSON.parse(res.stdout) as { tasques: { server: any } };
  assert.deepEqual(Object.keys(parsed), ['tasques']);
  assert.deepEqual(Object.keys(parsed.tasques), ['server']);
  return { server: parsed.tasques.server, stdout: res.stdout, stderr: res.stderr };
}

const FILE = `
tasques:
  server:
    bind_address: 127.0.0.1:9191
    shutdown_timeout: 7s
    logging:
      level: warn
    auth:
      basic_auth:
        - name: alice
          password: ${FILE_SECRET}
    tasks:
      defaults:
        retry_times: 3
        block_for: 1500ms
        claim_amount: 4
`;

describe('tasques show config', { concurrency: 4 }, () => {
  it('prints the defaults as JSON under tasques.server when there is no file', async () => {
    const { server } = await showConfig();
    assert.equal(server.bind_address, 'localhost:8080');
    assert.equal(server.shutdown_timeout, '5s');
    assert.deepEqual(server.logging, { json: true, level: 'info' });
    assert.deepEqual(server.auth, { basic_auth: [], bearer_tokens: [] });
    assert.equal(server.store.kind, 'sqlite');
    assert.deepEqual(server.store.sqlite, { path: 'tasques.db', synchronous: 'normal', busy_timeout: '5s' });
    assert.deepEqual(server.tasks.defaults, {
      block_for: '3s',
      block_for_retry_min_wait: '100ms',
      block_for_retry_max_retries: 20,
      worker_processing_timeout: '30m',
      claim_amount: 1,
      retry_times: 25,
      version_conflict_retry_times: 500,
    });
  });

  it('applies a YAML file given with --config (and -c), masking its passwords', async () => {
    const [, path] = yamlFile(FILE);
    for (const flag of [['--config', path], ['-c', path], [`--config=${path}`]]) {
      const { server, stdout } = await showConfig(flag);
      assert.equal(server.bind_address, '127.0.0.1:9191');
      assert.equal(server.shutdown_timeout, '7s');
      assert.equal(server.logging.level, 'warn');
      assert.equal(server.logging.json, true, 'keys absent from the file keep their defaults');
      assert.equal(server.tasks.defaults.retry_times, 3);
      assert.equal(server.tasks.defaults.block_for, '1500ms');
      assert.equal(server.tasks.defaults.claim_amount, 4);
      assert.equal(server.tasks.defaults.worker_processing_timeout, '30m');
      assert.deepEqual(server.auth.basic_auth, [{ name: 'alice', password: '******' }]);
      assert.ok(!stdout.includes(FILE_SECRET), 'the password from the file must not be printed');
    }
  });

  it('finds ./tasques.yaml and ./config/tasques.yaml in the working directory', async () => {
    const [dir] = yamlFile('tasques:\n  server:\n    bind_address: 127.0.0.1:7001\n', 'tasques.yaml');
    assert.equal((await showConfig([], { cwd: dir })).server.bind_address, '127.0.0.1:7001');
    const [dir2] = yamlFile('tasques:\n  server:\n    bind_address: 127.0.0.1:7002\n', 'config/tasques.yaml');
    assert.equal((await showConfig([], { cwd: dir2 })).server.bind_address, '127.0.0.1:7002');
  });

  it('lets TASQUES_SERVER_* variables override the file, and masks passwords given by env', async () => {
    const [, path] = yamlFile(FILE);
    const { server, stdout, stderr } = await showConfig(['--config', path], {
      env: {
        TASQUES_SERVER_BIND_ADDRESS: '0.0.0.0:9999',
        TASQUES_SERVER_TASKS_DEFAULTS_RETRY_TIMES: '7',
        TASQUES_SERVER_TASKS_DEFAULTS_BLOCK_FOR: '250ms',
        TASQUES_SERVER_LOGGING_JSON: 'false',
        TASQUES_SERVER_AUTH_BASIC_AUTH: `user:${ENV_SECRET}`,
      },
    });
    assert.equal(server.bind_address, '0.0.0.0:9999');
    assert.equal(server.tasks.defaults.retry_times, 7);
    assert.equal(server.tasks.defaults.block_for, '250ms');
    assert.equal(server.logging.json, false);
    // Keys not overridden keep the file's values.
    assert.equal(server.tasks.defaults.claim_amount, 4);
    assert.equal(server.shutdown_timeout, '7s');
    // The env list replaces the file's list.
    assert.deepEqual(server.auth.basic_auth, [{ name: 'user', password: '******' }]);
    for (const secret of [ENV_SECRET, FILE_SECRET]) {
      assert.ok(!stdout.includes(secret) && !stderr.includes(secret), `${secret} leaked into the output`);
    }
  });

  it('accepts several env users and a JSON list', async () => {
    const { server: a } = await showConfig([], {
      env: { TASQUES_SERVER_AUTH_BASIC_AUTH: `u1:${ENV_SECRET},u2:p:with:colons` },
    });
    assert.deepEqual(a.auth.basic_auth, [
      { name: 'u1', password: '******' },
      { name: 'u2', password: '******' },
    ]);
    const { server: b, stdout } = await showConfig([], {
      env: { TASQUES_SERVER_AUTH_BASIC_AUTH: JSON.stringify([{ name: 'j', password: ENV_SECRET }]) },
    });
    assert.deepEqual(b.auth.basic_auth, [{ name: 'j', password: '******' }]);
    assert.ok(!stdout.includes(ENV_SECRET));
  });
});

describe('invalid configuration', { concurrency: 4 }, () => {
  const invalid: Array<[string, string, Record<string, string>, string]> = [
    ['block_for "soon" in the file', 'tasks:\n      defaults:\n        block_for: soon', {}, 'tasques.server.tasks.defaults.block_for'],
    ['block_for "soon" from env', '', { TASQUES_SERVER_TASKS_DEFAULTS_BLOCK_FOR: 'soon' }, 'tasques.server.tasks.defaults.block_for'],
    ['retry_times -1 in the file', 'tasks:\n      defaults:\n        retry_times: -1', {}, 'tasques.server.tasks.defaults.retry_times'],
    ['retry_times -1 from env', '', { TASQUES_SERVER_TASKS_DEFAULTS_RETRY_TIMES: '-1' }, 'tasques.server.tasks.defaults.retry_times'],
    ['bind_address "nope" in the file', 'bind_address: nope', {}, 'tasques.server.bind_address'],
    ['bind_address "nope" from env', '', { TASQUES_SERVER_BIND_ADDRESS: 'nope' }, 'tasques.server.bind_address'],
  ];
  for (const [what, yaml, env, key] of invalid) {
    it(`rejects ${what}, naming ${key}`, async () => {
      const [dir, path] = yamlFile(`tasques:\n  server:\n    ${yaml || 'shutdown_timeout: 5s'}\n`);
      const res = await runCli(['show', 'config', '--config', path], { cwd: dir, env });
      assert.notEqual(res.code, 0);
      assert.equal(res.signal, null);
      assert.ok(res.stderr.includes(key), `stderr does not name ${key}:\n${res.stderr}`);
      assert.equal(res.stdout, '', 'nothing is printed on stdout');
    });
  }

  it('does not echo a password in a validation error', async () => {
    // A basic-auth entry with no name: the whole entry is invalid, and it holds the password.
    const res = await runCli(['show', 'config'], { env: { TASQUES_SERVER_AUTH_BASIC_AUTH: `:${ENV_SECRET}` } });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /tasques\.server\.auth\.basic_auth/);
    assert.ok(!res.stderr.includes(ENV_SECRET) && !res.stdout.includes(ENV_SECRET), `secret leaked:\n${res.stderr}`);
  });

  it('refuses a misspelt key in the file or the environment with a "did you mean", printing nothing', async () => {
    const [dir] = yamlFile('tasques:\n  server:\n    bind_adress: 0.0.0.0:8080\n', 'tasques.yaml');
    const res = await runCli(['show', 'config'], { cwd: dir, env: { TASQUES_SERVER_LOGGING_LEVLE: 'debug' } });
    assert.equal(res.code, 2);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /tasques\.server\.bind_adress .*did you mean bind_address\?/);
    assert.match(res.stderr, /TASQUES_SERVER_LOGGING_LEVLE: .*did you mean TASQUES_SERVER_LOGGING_LEVEL\?/);
  });

  it("neither refuses nor prints v1's keys without effect (Kibana's password among them)", async () => {
    const [dir] = yamlFile(`tasques:\n  server:\n    kibana:\n      address: http://k:5601\n      user:\n        name: u\n        password: ${FILE_SECRET}\n`, 'tasques.yaml');
    const { server, stdout } = await showConfig([], { cwd: dir });
    assert.equal(server.kibana, undefined);
    assert.ok(!stdout.includes(FILE_SECRET), 'the v1 Kibana password was printed');
  });

  // Bad YAML, a file without tasques.server and the other validation rules are covered by
  // src/config/load.test.ts; here, only what goes through the CLI's own paths.
  it('fails on a --config file that does not exist', async () => {
    const missing = await runCli(['show', 'config', '--config', '/nonexistent/tasques.yaml']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /\/nonexistent\/tasques\.yaml/);
    assert.equal(missing.stdout, '');
  });

  it('makes `serve` exit non-zero without listening', async () => {
    const dir = makeTempDir();
    const res = await runCli(['serve'], {
      cwd: dir,
      env: { TASQUES_SERVER_BIND_ADDRESS: '127.0.0.1:0', TASQUES_SERVER_TASKS_DEFAULTS_BLOCK_FOR: 'soon' },
    });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /tasques\.server\.tasks\.defaults\.block_for/);
    assert.doesNotMatch(res.stderr, /listening/);
  });
});

describe('command line', { concurrency: 4 }, () => {
  it('--help and -h print the usage and exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const res = await runCli([flag]);
      assert.equal(res.code, 0);
      assert.match(res.stdout, /^Usage: tasques/);
      assert.match(res.stdout, /show config/);
      assert.equal(res.stderr, '');
    }
  });

  it('an unknown command exits 2 with the usage on stderr', async () => {
    for (const args of [['frobnicate'], ['show', 'nothing']]) {
      const res = await runCli(args);
      assert.equal(res.code, 2, `tasques ${args.join(' ')}`);
      assert.match(res.stderr, new RegExp(`Unknown command: ${args.join(' ')}`));
      assert.match(res.stderr, /Usage: tasques/);
      assert.equal(res.stdout, '');
    }
  });

  it('an unknown option exits 2 with the usage', async () => {
    const res = await runCli(['show', 'config', '--frobnicate']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /Usage: tasques/);
  });

  it('version prints the package version', async () => {
    const res = await runCli(['version']);
    assert.equal(res.code, 0);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(res.stdout.trim(), pkg.version);
  });
});

describe('serve applies the configuration', () => {
  it('serves with the file and env settings, enforcing basic auth without logging the password', async () => {
    const [dir, path] = yamlFile(
      'tasques:\n  server:\n    bind_address: 127.0.0.1:1\n    tasks:\n      defaults:\n        retry_times: 2\n',
    );
    const server = await startServer({
      dir,
      args: ['--config', path],
      env: {
        // bind_address from env wins over the file's unusable port 1.
        TASQUES_SERVER_TASKS_DEFAULTS_WORKER_PROCESSING_TIMEOUT: '90s',
        TASQUES_SERVER_AUTH_BASIC_AUTH: `user:${ENV_SECRET}`,
      },
    });
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(server.url, 'http://127.0.0.1:1');
    const listening = server.logs.find((l) => String(l.msg).startsWith('tasques listening on'))!;
    assert.equal(listening.config_file, path);

    const body = { queue: 'configured', kind: 'k' };
    const anonymous = await server.request('POST', '/tasques', { body });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Basic realm="Authorization Required"');
    const wrong = await server.request('POST', '/tasques', {
      body,
      headers: { authorization: `Basic ${Buffer.from('user:wrong').toString('base64')}` },
    });
    assert.equal(wrong.status, 401);
    const ok = await server.request('POST', '/tasques', {
      body,
      headers: { authorization: `Basic ${Buffer.from(`user:${ENV_SECRET}`).toString('base64')}` },
    });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json().retry_times, 2, 'tasks.defaults.retry_times from the file');
    assert.equal(ok.json().processing_timeout, '1m30s', 'worker_processing_timeout from env');

    // The swagger document stays reachable without credentials (v1).
    const doc = await request(`${server.url}/swagger/doc.json`);
    assert.equal(doc.status, 200);

    server.signal('SIGTERM');
    assert.deepEqual(await server.waitForExit(), { code: 0, signal: null });
    assert.ok(!server.stderr.includes(ENV_SECRET), 'the password never appears in the logs');
    assert.ok(!server.stderr.includes(Buffer.from(`user:${ENV_SECRET}`).toString('base64')));
  });
});
