/**
 * Configuration loading: defaults ← YAML file ← TASQUES_SERVER_* environment, validation messages that
 * name the key, and secret masking. Uses real files in a temp dir and explicit env objects.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, durationMs, loadConfig, maskSecrets, validateConfig } from './load.js';

const root = mkdtempSync(join(tmpdir(), 'tasques-config-unit-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fresh directory, optionally with a file at `name` holding `text`. */
function dirWith(text?: string, name = 'tasques.yaml'): { dir: string; file: string } {
  const dir = join(root, `d${++n}`);
  const file = join(dir, name);
  mkdirSync(join(file, '..'), { recursive: true });
  if (text !== undefined) writeFileSync(file, text);
  return { dir, file };
}

/** Asserts that `fn` throws a ConfigError whose message contains every one of `parts`. */
function assertConfigError(fn: () => unknown, ...parts: string[]): string {
  let message = '';
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    message = e.message;
    for (const p of parts) assert.ok(e.message.includes(p), `"${p}" not in:\n${e.message}`);
    return true;
  });
  return message;
}

/**
 * The documented defaults. Checked key by key (not as one object) so that adding a new configuration
 * section does not break this test; the v1 task defaults (spec §11.3) are checked as a whole.
 */
function assertDefaults(config: ReturnType<typeof validateConfig>): void {
  assert.equal(config.bind_address, 'localhost:8080');
  assert.equal(config.shutdown_timeout, '5s');
  assert.deepEqual(config.logging, { json: true, level: 'info' });
  assert.deepEqual(config.auth, { basic_auth: [], bearer_tokens: [] });
  assert.equal(config.store.kind, 'sqlite');
  assert.deepEqual(config.store.sqlite, { path: 'tasques.db', synchronous: 'normal', busy_timeout: '5s' });
  assert.deepEqual(config.tasks.defaults, {
    block_for: '3s',
    block_for_retry_min_wait: '100ms',
    block_for_retry_max_retries: 20,
    worker_processing_timeout: '30m',
    claim_amount: 1,
    retry_times: 25,
    version_conflict_retry_times: 500,
  });
  assert.equal(config.tasks.limits.max_claim_amount, 1000);
  assert.equal(config.tasks.limits.max_block_for, '60s');
  assert.equal(config.tasks.limits.body_limit_bytes, 1_048_576);
  assert.deepEqual(config.tasks.backoff, { base: '15s', jitter: '30s', max: '168h' });
}

describe('loadConfig: defaults and files', () => {
  it('gives the documented defaults with no file and no environment', () => {
    const { dir } = dirWith();
    const loaded = loadConfig({ env: {}, cwd: dir });
    assert.equal(loaded.file, undefined);
    assertDefaults(loaded.config);
  });

  it('validateConfig of nothing is the defaults too', () => {
    assertDefaults(validateConfig(undefined));
    assert.deepEqual(validateConfig({}), validateConfig(undefined));
    const { dir } = dirWith();
    assert.deepEqual(loadConfig({ env: {}, cwd: dir }).config, validateConfig({}));
  });

  it('reads an explicit file, keeping defaults for what it does not set', () => {
    const { file } = dirWith(
      [
        'tasques:',
        '  server:',
        '    bind_address: 0.0.0.0:9000',
        '    tasks:',
        '      defaults:',
        '        retry_times: 3',
        '        block_for: 1500ms',
        '    auth:',
        '      basic_auth:',
        '        - name: alice',
        '          password: s3cret',
      ].join('\n'),
      'custom.yml',
    );
    const loaded = loadConfig({ file, env: {} });
    assert.equal(loaded.file, file);
    assert.equal(loaded.config.bind_address, '0.0.0.0:9000');
    assert.equal(loaded.config.tasks.defaults.retry_times, 3);
    assert.equal(loaded.config.tasks.defaults.block_for, '1500ms');
    assert.equal(loaded.config.tasks.defaults.claim_amount, 1);
    assert.deepEqual(loaded.config.tasks.limits, validateConfig({}).tasks.limits);
    assert.deepEqual(loaded.config.auth.basic_auth, [{ name: 'alice', password: 's3cret' }]);
  });

  it('searches tasques.yaml, tasques.yml, config/tasques.yaml and config/tasques.yml in cwd, in that order', () => {
    for (const [i, name] of ['tasques.yaml', 'tasques.yml', 'config/tasques.yaml', 'config/tasques.yml'].entries()) {
      const { dir, file } = dirWith(`tasques:\n  server:\n    bind_address: h:${i}\n`, name);
      const loaded = loadConfig({ env: {}, cwd: dir });
      assert.equal(loaded.file, file);
      assert.equal(loaded.config.bind_address, `h:${i}`);
    }
    const { dir } = dirWith('tasques:\n  server:\n    bind_address: first:1\n', 'tasques.yaml');
    writeFileSync(join(dir, 'tasques.yml'), 'tasques:\n  server:\n    bind_address: second:2\n');
    assert.equal(loadConfig({ env: {}, cwd: dir }).config.bind_address, 'first:1');
  });

  it('accepts an empty tasques.server section', () => {
    const { file } = dirWith('tasques:\n  server:\n');
    assertDefaults(loadConfig({ file, env: {} }).config);
  });

  it('fails on an unreadable file, bad YAML, or a file without tasques.server', () => {
    assertConfigError(() => loadConfig({ file: join(root, 'missing.yaml'), env: {} }), 'cannot read config file', 'missing.yaml');
    assertConfigError(() => loadConfig({ file: dirWith('tasques: [server:\n').file, env: {} }), 'is not valid YAML');
    assertConfigError(() => loadConfig({ file: dirWith('server:\n  bind_address: a:1\n').file, env: {} }), '"tasques.server"');
    assertConfigError(() => loadConfig({ file: dirWith('').file, env: {} }), '"tasques.server"');
  });
});

describe('loadConfig: environment overrides', () => {
  const file = () =>
    dirWith(
      'tasques:\n  server:\n    bind_address: file:1\n    shutdown_timeout: 9s\n    tasks:\n      defaults:\n        retry_times: 3\n        claim_amount: 4\n    auth:\n      basic_auth:\n        - name: alice\n          password: from-file\n',
    ).file;

  it('overrides file values key by key, converting types', () => {
    const config = loadConfig({
      file: file(),
      env: {
        TASQUES_SERVER_BIND_ADDRESS: 'env:2',
        TASQUES_SERVER_TASKS_DEFAULTS_RETRY_TIMES: '7',
        TASQUES_SERVER_LOGGING_JSON: 'false',
        TASQUES_SERVER_LOGGING_LEVEL: 'debug',
        TASQUES_SERVER_STORE_SQLITE_PATH: '/data/t.db',
      },
    }).config;
    assert.equal(config.bind_address, 'env:2');
    assert.equal(config.tasks.defaults.retry_times, 7);
    assert.equal(config.logging.json, false);
    assert.equal(config.logging.level, 'debug');
    assert.equal(config.store.sqlite.path, '/data/t.db');
    // Untouched keys keep the file's values.
    assert.equal(config.shutdown_timeout, '9s');
    assert.equal(config.tasks.defaults.claim_amount, 4);
    assert.deepEqual(config.auth.basic_auth, [{ name: 'alice', password: 'from-file' }]);
  });

  it('ignores variables without the prefix', () => {
    const config = loadConfig({ file: file(), env: { BIND_ADDRESS: 'x:1', TASQUES_BIND_ADDRESS: 'x:2' } }).config;
    assert.equal(config.bind_address, 'file:1');
  });

  it('refuses an unknown TASQUES_SERVER_ variable, naming it with the closest known one, never its value', () => {
    const message = assertConfigError(
      () => loadConfig({ env: { TASQUES_SERVER_BIND_ADRESS: '0.0.0.0:1', TASQUES_SERVER_NO_SUCH_KEY: 'secret-value' } }),
      'TASQUES_SERVER_BIND_ADRESS: unknown environment variable; did you mean TASQUES_SERVER_BIND_ADDRESS?',
      'TASQUES_SERVER_NO_SUCH_KEY: unknown environment variable',
    );
    assert.ok(!message.includes('secret-value'), message);
  });

  it('parses basic-auth users from user:password lists and from JSON', () => {
    const env = (v: string) => loadConfig({ file: file(), env: { TASQUES_SERVER_AUTH_BASIC_AUTH: v } }).config.auth.basic_auth;
    assert.deepEqual(env('bob:pw1'), [{ name: 'bob', password: 'pw1' }]);
    assert.deepEqual(env('bob:pw1,carol:p:w:2'), [
      { name: 'bob', password: 'pw1' },
      { name: 'carol', password: 'p:w:2' },
    ]);
    assert.deepEqual(env('[{"name":"dan","password":"pw3"}]'), [{ name: 'dan', password: 'pw3' }]);
    assert.deepEqual(env(''), [], 'an empty variable means no users (auth off)');
  });

  it('replaces a whole section with a JSON object given for its parent key', () => {
    const config = loadConfig({
      file: file(),
      env: { TASQUES_SERVER_TASKS_DEFAULTS: '{"block_for":"2s"}' },
    }).config;
    assert.equal(config.tasks.defaults.block_for, '2s');
    assert.equal(config.tasks.defaults.retry_times, 25, 'the file values of the shadowed section are gone');
    assert.equal(config.tasks.defaults.claim_amount, 1);
  });

  it('ignores an empty variable for a section', () => {
    const config = loadConfig({ file: file(), env: { TASQUES_SERVER_TASKS: '' } }).config;
    assert.equal(config.tasks.defaults.retry_times, 3);
  });

  it('rejects a section variable that is not JSON', () => {
    assertConfigError(
      () => loadConfig({ env: { TASQUES_SERVER_TASKS_DEFAULTS: 'retry_times=3' } }),
      'TASQUES_SERVER_TASKS_DEFAULTS',
      'not valid JSON',
    );
  });
});

describe('unknown keys', () => {
  it('refuses an unknown key in the file, naming it with "did you mean", at any depth', () => {
    const { file } = dirWith(
      'tasques:\n  server:\n    bind_adress: 0.0.0.0:8080\n    tasks:\n      defaults:\n        retry_time: 3\n    auth:\n      basic_auth:\n        - name: a\n          pasword: x\n',
    );
    const message = assertConfigError(
      () => loadConfig({ file, env: {} }),
      'tasques.server.bind_adress',
      'did you mean bind_address?',
      'tasques.server.tasks.defaults.retry_time',
      'did you mean retry_times?',
      'tasques.server.auth.basic_auth.0.pasword',
    );
    assert.ok(!message.includes('0.0.0.0:8080'), 'values are not echoed');
  });

  it('lists the keys of a section when nothing is close', () => {
    const { file } = dirWith('tasques:\n  server:\n    logging:\n      verbosity: 3\n');
    assertConfigError(() => loadConfig({ file, env: {} }), 'tasques.server.logging.verbosity', 'known keys here: json, level, file');
  });

  it("accepts v1's keys that have no effect here (a v1 config file loads), and reports them", () => {
    const { file } = dirWith(
      'tasques:\n  server:\n    kibana:\n      address: http://localhost:5601\n    apm:\n      address: http://apm\n' +
        '    tasks:\n      queues:\n        refresh_if_last_touched_over: 30s\n      defaults:\n        claim_amount_search_multiplier: 5\n' +
        '    recurring:\n      recurring_tasks:\n        scroll_size: 500\n',
    );
    const loaded = loadConfig({ file, env: { TASQUES_SERVER_APM_SECRET_TOKEN: 't' } });
    const config = loaded.config as Record<string, unknown>;
    assert.equal(config.kibana, undefined, 'not kept (show config would print it, secrets included)');
    assert.equal(config.apm, undefined);
    assert.equal((config.tasks as Record<string, unknown>).queues, undefined);
    assert.deepEqual(loaded.ignoredV1Keys.sort(), [
      'TASQUES_SERVER_APM_SECRET_TOKEN',
      'tasques.server.apm',
      'tasques.server.kibana',
      'tasques.server.recurring.recurring_tasks.scroll_size',
      'tasques.server.tasks.defaults.claim_amount_search_multiplier',
      'tasques.server.tasks.queues',
    ]);
  });
});

describe('validation', () => {
  const cases: Array<[what: string, env: Record<string, string>, key: string, hint?: string]> = [
    ['a duration that is not one', { TASQUES_SERVER_TASKS_DEFAULTS_BLOCK_FOR: 'soon' }, 'tasques.server.tasks.defaults.block_for', 'must be a Go duration'],
    ['a duration without a unit', { TASQUES_SERVER_SHUTDOWN_TIMEOUT: '5000' }, 'tasques.server.shutdown_timeout', 'must be a Go duration'],
    ['a negative retry_times', { TASQUES_SERVER_TASKS_DEFAULTS_RETRY_TIMES: '-1' }, 'tasques.server.tasks.defaults.retry_times'],
    ['a fractional retry_times', { TASQUES_SERVER_TASKS_DEFAULTS_RETRY_TIMES: '1.5' }, 'tasques.server.tasks.defaults.retry_times'],
    ['a non-numeric claim_amount', { TASQUES_SERVER_TASKS_DEFAULTS_CLAIM_AMOUNT: 'many' }, 'tasques.server.tasks.defaults.claim_amount'],
    ['a zero claim_amount', { TASQUES_SERVER_TASKS_DEFAULTS_CLAIM_AMOUNT: '0' }, 'tasques.server.tasks.defaults.claim_amount'],
    ['a non-boolean', { TASQUES_SERVER_LOGGING_JSON: 'yes' }, 'tasques.server.logging.json'],
    ['an unknown level', { TASQUES_SERVER_LOGGING_LEVEL: 'loud' }, 'tasques.server.logging.level'],
    ['an unknown store', { TASQUES_SERVER_STORE_KIND: 'postgres' }, 'tasques.server.store.kind', 'must be one of "sqlite", "elasticsearch"'],
    ['an unknown level, listing the levels', { TASQUES_SERVER_LOGGING_LEVEL: 'loud' }, 'tasques.server.logging.level', 'must be one of "trace", "debug"'],
    ['a port beyond 65535', { TASQUES_SERVER_BIND_ADDRESS: 'localhost:99999' }, 'tasques.server.bind_address', 'port'],
    ['a headers timeout longer than the request timeout', { TASQUES_SERVER_HTTP_HEADERS_TIMEOUT: '1m' }, 'tasques.server.http.headers_timeout'],
    ['a zero request timeout', { TASQUES_SERVER_HTTP_REQUEST_TIMEOUT: '0s' }, 'tasques.server.http.request_timeout'],
    ['a zero connection limit', { TASQUES_SERVER_HTTP_MAX_CONNECTIONS: '0' }, 'tasques.server.http.max_connections'],
    ['a bind address without a port', { TASQUES_SERVER_BIND_ADDRESS: 'nope' }, 'tasques.server.bind_address', 'host:port'],
    ['an empty bind address', { TASQUES_SERVER_BIND_ADDRESS: '' }, 'tasques.server.bind_address'],
    ['a user without a name', { TASQUES_SERVER_AUTH_BASIC_AUTH: '[{"password":"x"}]' }, 'tasques.server.auth.basic_auth.0.name'],
  ];
  for (const [what, env, key, hint] of cases) {
    it(`rejects ${what}, naming ${key}`, () => {
      const message = assertConfigError(() => loadConfig({ env }), key, ...(hint ? [hint] : []));
      assert.ok(message.includes(`${key}:`), message);
    });
  }

  it('rejects bad values from the file the same way', () => {
    const { file } = dirWith('tasques:\n  server:\n    tasks:\n      defaults:\n        block_for: soon\n        retry_times: -1\n');
    const message = assertConfigError(
      () => loadConfig({ file, env: {} }),
      'tasques.server.tasks.defaults.block_for',
      'tasques.server.tasks.defaults.retry_times',
    );
    assert.ok(message.includes('(got "soon")'), message);
    assert.ok(message.includes('(got -1)'), message);
  });

  it('names every bad key in one error', () => {
    assertConfigError(
      () =>
        loadConfig({
          env: {
            TASQUES_SERVER_TASKS_DEFAULTS_BLOCK_FOR: 'soon',
            TASQUES_SERVER_TASKS_LIMITS_MAX_BLOCK_FOR: 'later',
            TASQUES_SERVER_LOGGING_LEVEL: 'loud',
          },
        }),
      'invalid configuration',
      'tasques.server.tasks.defaults.block_for',
      'tasques.server.tasks.limits.max_block_for',
      'tasques.server.logging.level',
    );
  });

  it('never echoes a password in an error', () => {
    for (const env of [
      { TASQUES_SERVER_AUTH_BASIC_AUTH: ':hunter2' }, // no name: the whole entry is invalid
      { TASQUES_SERVER_AUTH_BASIC_AUTH: '[{"name":"a","password":12345}]' }, // password not a string
    ]) {
      const message = assertConfigError(() => loadConfig({ env }), 'tasques.server.auth.basic_auth');
      assert.ok(!message.includes('hunter2') && !message.includes('12345'), message);
    }
  });
});

describe('the engine connection (elasticsearch.*)', () => {
  it('reads the API key and TLS files from the environment', () => {
    const { config } = loadConfig({
      env: {
        TASQUES_SERVER_ELASTICSEARCH_ADDRESSES: 'https://es-1:9200,https://es-2:9200',
        TASQUES_SERVER_ELASTICSEARCH_API_KEY: 'a2V5OnNlY3JldA==',
        TASQUES_SERVER_ELASTICSEARCH_TLS_CA_FILE: '/etc/tasques/http_ca.crt',
        TASQUES_SERVER_ELASTICSEARCH_TLS_CERT_FILE: '/etc/tasques/client.crt',
        TASQUES_SERVER_ELASTICSEARCH_TLS_KEY_FILE: '/etc/tasques/client.key',
      },
    });
    assert.equal(config.elasticsearch.api_key, 'a2V5OnNlY3JldA==');
    assert.deepEqual(config.elasticsearch.tls, {
      ca_file: '/etc/tasques/http_ca.crt',
      cert_file: '/etc/tasques/client.crt',
      key_file: '/etc/tasques/client.key',
      insecure_skip_verify: false,
    });
  });

  const https = { addresses: ['https://es:9200'] };
  for (const [what, elasticsearch, message] of [
    [
      'both basic auth and an API key',
      { ...https, user: { name: 'elastic', password: 'pw-basic' }, api_key: 'key-secret' },
      'tasques.server.elasticsearch: set either user (basic auth) or api_key, not both',
    ],
    [
      'a client certificate without its key',
      { ...https, tls: { cert_file: '/c.crt' } },
      'tasques.server.elasticsearch.tls: cert_file and key_file go together',
    ],
    [
      'TLS settings with only http:// addresses',
      { addresses: ['http://es:9200'], tls: { ca_file: '/ca.crt' } },
      'tasques.server.elasticsearch.tls: is set, but no address is https:// (got ["http://es:9200"])',
    ],
    [
      'skipping verification with only http:// addresses',
      { tls: { insecure_skip_verify: true } },
      'tasques.server.elasticsearch.tls: is set, but no address is https://',
    ],
  ] as const) {
    it(`refuses ${what}, without echoing a secret`, () => {
      const text = assertConfigError(() => validateConfig({ elasticsearch }), message);
      assert.ok(!text.includes('pw-basic') && !text.includes('key-secret'), text);
    });
  }
});

describe('maskSecrets', () => {
  it('masks the engine password and API key', () => {
    const masked = maskSecrets(
      validateConfig({ elasticsearch: { user: { name: 'elastic', password: 'pw-es' } }, store: { elasticsearch: { kibana: { api_key: 'kb-key' } } } }),
    ) as ReturnType<typeof validateConfig>;
    assert.deepEqual(masked.elasticsearch.user, { name: 'elastic', password: '******' });
    assert.equal(masked.store.elasticsearch.kibana.api_key, '******');
    const withKey = maskSecrets(validateConfig({ elasticsearch: { api_key: 'es-key' } })) as ReturnType<typeof validateConfig>;
    assert.equal(withKey.elasticsearch.api_key, '******');
    assert.ok(!JSON.stringify(withKey).includes('es-key'));
  });

  it('replaces every password with ****** and changes nothing else', () => {
    const config = validateConfig({
      bind_address: 'h:1',
      auth: {
        basic_auth: [
          { name: 'alice', password: 'pw-a' },
          { name: 'bob', password: 'pw-b' },
        ],
      },
    });
    const snapshot = structuredClone(config);
    const masked = maskSecrets(config) as typeof config;
    assert.deepEqual(masked.auth.basic_auth, [
      { name: 'alice', password: '******' },
      { name: 'bob', password: '******' },
    ]);
    assert.deepEqual({ ...masked, auth: snapshot.auth }, snapshot, 'everything but the passwords is as it was');
    assert.ok(!JSON.stringify(masked).includes('pw-'));
    assert.deepEqual(config, snapshot, 'the input is not changed');
  });

  it('leaves a config without users as it is', () => {
    const config = validateConfig({});
    assert.deepEqual(maskSecrets(config), config);
  });
});

describe('durationMs', () => {
  it('converts validated Go durations to milliseconds', () => {
    assert.equal(durationMs('3s'), 3000);
    assert.equal(durationMs('1.5s'), 1500);
    assert.equal(durationMs('100ms'), 100);
    assert.equal(durationMs('168h'), 168 * 3600 * 1000);
    assert.equal(durationMs('500us'), 0.5);
  });
});

describe('roles and bearer tokens (auth.*)', () => {
  const HASH = 'a'.repeat(64);
  const HASH2 = `${'b'.repeat(63)}C`;

  it('reads users with roles and tokens from the file and from the environment short forms', () => {
    const env = (vars: Record<string, string>) => loadConfig({ env: vars, cwd: mkdtempSync(join(tmpdir(), 'tq-auth-')) }).config.auth;
    assert.deepEqual(env({ TASQUES_SERVER_AUTH_BEARER_TOKENS: `svc:worker:${HASH},ui:read:${HASH2}` }).bearer_tokens, [
      { name: 'svc', role: 'worker', sha256: HASH },
      { name: 'ui', role: 'read', sha256: HASH2 },
    ]);
    assert.deepEqual(
      env({ TASQUES_SERVER_AUTH_BASIC_AUTH: '[{"name":"ops","password":"x","role":"operator"},{"name":"v1","password":"y"}]' }).basic_auth,
      [
        { name: 'ops', password: 'x', role: 'operator' },
        { name: 'v1', password: 'y' },
      ],
    );
    const config = validateConfig({ auth: { basic_auth: [{ name: 'a', password: 'b', role: 'producer' }] } });
    assert.equal(config.auth.basic_auth[0]?.role, 'producer');
  });

  it('refuses an unknown role, a malformed hash, a token without a role, and one token or name twice', () => {
    assertConfigError(
      () => validateConfig({ auth: { basic_auth: [{ name: 'a', password: 'b', role: 'admin' }] } }),
      'tasques.server.auth.basic_auth.0.role',
      '"read", "worker", "producer", "operator", "all"',
    );
    assertConfigError(() => validateConfig({ auth: { bearer_tokens: [{ name: 't', role: 'read', sha256: 'abc' }] } }), 'tasques.server.auth.bearer_tokens.0.sha256');
    assertConfigError(() => validateConfig({ auth: { bearer_tokens: [{ name: 't', sha256: HASH }] } }), 'tasques.server.auth.bearer_tokens.0');
    assertConfigError(
      () => loadConfig({ env: { TASQUES_SERVER_AUTH_BEARER_TOKENS: `svc:${HASH}` } }),
      'tasques.server.auth.bearer_tokens.0',
    );
    assertConfigError(
      () => validateConfig({ auth: { bearer_tokens: [{ name: 't', role: 'read', sha256: HASH }, { name: 't', role: 'worker', sha256: HASH2 }] } }),
      'the name "t" is there twice',
    );
    assertConfigError(
      () => validateConfig({ auth: { bearer_tokens: [{ name: 't', role: 'read', sha256: HASH }, { name: 'u', role: 'worker', sha256: HASH.toUpperCase() }] } }),
      'two entries have the same sha256',
    );
  });

  it('masks token hashes like passwords', () => {
    const masked = maskSecrets(validateConfig({ auth: { bearer_tokens: [{ name: 't', role: 'read', sha256: HASH }] } })) as {
      auth: { bearer_tokens: unknown[] };
    };
    assert.deepEqual(masked.auth.bearer_tokens, [{ name: 't', role: 'read', sha256: '******' }]);
  });
});
