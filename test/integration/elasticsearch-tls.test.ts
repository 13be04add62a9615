/**
 * The Elasticsearch store on a secured engine (HTTPS with a private CA, API keys), as a default
 * Elasticsearch 8 or Elastic Cloud is: the real OpenSearch test node behind a TLS proxy that lets only
 * the right API key through (test/helpers/tls-proxy.ts).
 *
 * - The store is set up and used through it (setup, create, claim, done), from store options and from
 *   the configuration (files, environment), and by the real CLI (`setup`, `serve`).
 * - A certificate the configured CA did not sign, a wrong API key, and a missing client certificate
 *   fail with one clear message, and without retries.
 * - The API key is in no log line (at trace level), no error and no `show config`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import { TaskEngine } from '../../src/engine/task-engine.js';
import { elasticsearchStoreFromConfig, storeConnectionWarnings } from '../../src/server/store-from-config.js';
import { ManualClock } from '../../src/service/clock.js';
import { defaultSettings } from '../../src/store-conformance/helpers.js';
import type { EsHttpOptions } from '../../src/store/elasticsearch/http.js';
import { killAllServers, runCli, startServer } from '../helpers/cli.js';
import { esSkip, esTestUrl, storeOptions, TestElasticsearchStore, uniquePrefix } from '../helpers/elasticsearch.js';
import { makeTestPki, startTlsProxy, type TestPki, type TlsProxy } from '../helpers/tls-proxy.js';

after(killAllServers);

// An API key as Elasticsearch hands it out: an id, a secret, and their `encoded` base64 form.
const KEY_ID = 'VuaCfGcBCdbkQm-e5aOx';
const KEY_SECRET = 'ui2lp2axTNmsyakw9tvNnw';
const ENCODED = Buffer.from(`${KEY_ID}:${KEY_SECRET}`).toString('base64');

/** Asserts that no form of the key is in `text`. */
function assertNoKey(text: string, where: string): void {
  for (const secret of [ENCODED, KEY_SECRET]) assert.ok(!text.includes(secret), `the API key appears in ${where}:\n${text}`);
}

/** Creates, claims and finishes one task through an engine over `store`. */
async function createClaimDone(store: TestElasticsearchStore): Promise<void> {
  const engine = new TaskEngine(store, defaultSettings(), new ManualClock(), () => 0.5);
  try {
    const created = await engine.createTask({ queue: 'secure', kind: 'k', args: { n: 1 } });
    const claimed = await engine.claimTasks({ queues: ['secure'], amount: 1, workerId: 'w', blockForMs: 0 });
    assert.deepEqual(claimed.map((t) => t.id), [created.id]);
    const done = await engine.markDone('secure', created.id, 'w', { ok: true });
    assert.equal(done.state, 'done');
  } finally {
    engine.shutdown();
  }
}

describe('elasticsearch store over HTTPS with an API key', { skip: esSkip() }, () => {
  let pki: TestPki;
  let proxy: TlsProxy;
  let ca: string;

  before(async () => {
    pki = makeTestPki();
    ca = readFileSync(pki.caFile, 'utf8');
    proxy = await startTlsProxy({ upstream: esTestUrl()!, pki, authorization: `ApiKey ${ENCODED}` });
  });
  after(async () => {
    await proxy?.close();
    pki?.remove();
  });

  const secured = (http: Partial<EsHttpOptions>) =>
    new TestElasticsearchStore(storeOptions(uniquePrefix('tls'), { http: { addresses: [proxy.url], ...http } }));

  it('sets up and runs the store (setup, create, claim, done) with the CA and the encoded key', async () => {
    const store = secured({ apiKey: ENCODED, tls: { ca } });
    const before = proxy.forwarded;
    try {
      await store.migrate();
      await createClaimDone(store);
    } finally {
      await store.close();
    }
    assert.ok(proxy.forwarded > before, 'requests went through the TLS proxy');
  });

  it('takes the key as id:api_key too', async () => {
    const store = secured({ apiKey: `${KEY_ID}:${KEY_SECRET}`, tls: { ca } });
    try {
      await store.migrate();
    } finally {
      await store.close();
    }
  });

  for (const [what, tls] of [
    ['a CA that did not sign the certificate', () => ({ ca: readFileSync(pki.otherCaFile, 'utf8') })],
    ['no CA (the system trust store)', () => ({})],
  ] as const) {
    it(`refuses the engine certificate with ${what}, at once and clearly`, async () => {
      const store = secured({ apiKey: ENCODED, tls: tls(), maxRetries: 3 });
      const before = proxy.forwarded;
      const connectionsBefore = proxy.connections;
      await assert.rejects(store.migrate(), (err: Error) => {
        assert.match(
          err.message,
          /the TLS certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted \([A-Z_]+\): set elasticsearch\.tls\.ca_file to the CA that signed it/,
        );
        assertNoKey(err.message, 'the error');
        return true;
      });
      // Retrying cannot fix a certificate: one attempt, although the request is a read with retries left.
      assert.equal(proxy.connections - connectionsBefore, 1, 'one connection attempt, no retries');
      assert.equal(proxy.forwarded, before, 'nothing reached the engine');
      await store.close().catch(() => undefined);
    });
  }

  it('accepts any certificate with insecureSkipVerify (the opt-in)', async () => {
    const store = secured({ apiKey: ENCODED, tls: { insecureSkipVerify: true } });
    try {
      await store.migrate();
    } finally {
      await store.close();
    }
  });

  it('reports a wrong API key as the engine\'s 401, without the key', async () => {
    const wrong = Buffer.from(`${KEY_ID}:not-the-secret`).toString('base64');
    const store = secured({ apiKey: wrong, tls: { ca } });
    const before = proxy.unauthorized;
    await assert.rejects(store.migrate(), (err: Error) => {
      assert.match(err.message, /HTTP 401 security_exception: unable to authenticate with provided credentials/);
      assert.ok(!err.message.includes(wrong));
      return true;
    });
    assert.ok(proxy.unauthorized > before);
  });

  it('presents a client certificate to an engine that requires one, and fails clearly without', async () => {
    const mtls = await startTlsProxy({ upstream: esTestUrl()!, pki, authorization: `ApiKey ${ENCODED}`, requireClientCert: true });
    try {
      const withCert = new TestElasticsearchStore(
        storeOptions(uniquePrefix('mtls'), {
          http: {
            addresses: [mtls.url],
            apiKey: ENCODED,
            tls: { ca, cert: readFileSync(pki.clientCertFile, 'utf8'), key: readFileSync(pki.clientKeyFile, 'utf8') },
          },
        }),
      );
      try {
        await withCert.migrate();
        await createClaimDone(withCert);
      } finally {
        await withCert.close();
      }
      assert.ok(mtls.forwarded > 0 && mtls.allHadClientCert);

      const without = new TestElasticsearchStore(
        storeOptions(uniquePrefix('mtls'), { http: { addresses: [mtls.url], apiKey: ENCODED, tls: { ca }, maxRetries: 0 } }),
      );
      // The engine drops the connection after the handshake (TLS 1.3): the transport sees a closed socket.
      const forwarded = mtls.forwarded;
      await assert.rejects(without.migrate(), /cannot reach https:\/\/127\.0\.0\.1:\d+/);
      assert.equal(mtls.forwarded, forwarded);
    } finally {
      await mtls.close();
    }
  });

  it('is built from the configuration: CA and client files, API key; an unreadable file names its key', async () => {
    const config = validateConfig({
      store: { kind: 'elasticsearch', elasticsearch: { index_prefix: uniquePrefix('cfg'), auto_setup: true } },
      elasticsearch: { addresses: [proxy.url], api_key: ENCODED, tls: { ca_file: pki.caFile } },
    });
    const store = elasticsearchStoreFromConfig(config);
    const dropping = new TestElasticsearchStore({ http: store.http, indexPrefix: store.names.prefix, autoSetup: true });
    try {
      await store.migrate();
      await createClaimDone(dropping);
    } finally {
      await dropping.close();
    }
    assert.throws(
      () =>
        elasticsearchStoreFromConfig(
          validateConfig({ elasticsearch: { addresses: [proxy.url], tls: { ca_file: `${pki.dir}/missing.crt` } } }),
        ),
      (err: Error) => err instanceof ConfigError && /^tasques\.server\.elasticsearch\.tls\.ca_file: cannot read .*missing\.crt \(ENOENT\)$/.test(err.message),
    );
  });

  it('warns when verification is switched off', () => {
    const insecure = validateConfig({
      store: { kind: 'elasticsearch' },
      elasticsearch: { addresses: [proxy.url], tls: { insecure_skip_verify: true } },
    });
    assert.match(storeConnectionWarnings(insecure).join('\n'), /insecure_skip_verify is on: the engine certificate is not verified/);
    assert.deepEqual(storeConnectionWarnings(validateConfig({ store: { kind: 'elasticsearch' } })), []);
  });

  it('CLI: `setup`, then `serve` create/claim/done, with the key only in the environment and never in logs or `show config`', { timeout: 120_000 }, async () => {
    const prefix = uniquePrefix('tlscli');
    const env = {
      TASQUES_SERVER_STORE_KIND: 'elasticsearch',
      TASQUES_SERVER_STORE_ELASTICSEARCH_INDEX_PREFIX: prefix,
      TASQUES_SERVER_ELASTICSEARCH_ADDRESSES: proxy.url,
      TASQUES_SERVER_ELASTICSEARCH_API_KEY: ENCODED,
      TASQUES_SERVER_ELASTICSEARCH_TLS_CA_FILE: pki.caFile,
      TASQUES_SERVER_LOGGING_LEVEL: 'trace',
    };
    const cleanup = new TestElasticsearchStore(storeOptions(prefix, { autoSetup: false }));
    try {
      const shown = await runCli(['show', 'config'], { env });
      assert.equal(shown.code, 0, shown.stderr);
      const es = JSON.parse(shown.stdout).tasques.server.elasticsearch;
      assert.equal(es.api_key, '******');
      assert.deepEqual(es.tls, { ca_file: pki.caFile, insecure_skip_verify: false });
      assertNoKey(shown.stdout + shown.stderr, '`show config`');

      const setup = await runCli(['setup'], { env, timeoutMs: 60_000 });
      assert.equal(setup.code, 0, setup.stderr);
      assert.equal(JSON.parse(setup.stdout).index_prefix, prefix);
      assertNoKey(setup.stdout + setup.stderr, '`setup` output');

      const server = await startServer({ env, timeoutMs: 30_000 });
      const worker = { 'X-TASQUES-WORKER-ID': 'tls-worker' };
      const created = await server.request('POST', '/tasques', { body: { queue: 'secure', kind: 'k' } });
      assert.equal(created.status, 201, created.text);
      const claimed = await server.request('POST', '/tasques/claims', { headers: worker, body: { queues: ['secure'], amount: 1, block_for: '1s' } });
      assert.equal(claimed.status, 200, claimed.text);
      assert.deepEqual(claimed.json<{ id: string }[]>().map((t) => t.id), [created.json<{ id: string }>().id]);
      const done = await server.request('PUT', `/tasques/done/secure/${created.json<{ id: string }>().id}`, { headers: worker, body: {} });
      assert.equal(done.status, 200, done.text);
      server.signal('SIGTERM');
      assert.deepEqual(await server.waitForExit(20_000), { code: 0, signal: null }, server.stderr);
      assert.ok(server.logs.length > 0);
      assertNoKey(server.stderr, 'the server log');

      // Verification switched off: it works, and both setup and serve warn about it.
      const { TASQUES_SERVER_ELASTICSEARCH_TLS_CA_FILE: _ca, ...withoutCa } = env;
      const insecureEnv = { ...withoutCa, TASQUES_SERVER_ELASTICSEARCH_TLS_INSECURE_SKIP_VERIFY: 'true' };
      const insecureSetup = await runCli(['setup'], { env: insecureEnv, timeoutMs: 60_000 });
      assert.equal(insecureSetup.code, 0, insecureSetup.stderr);
      assert.match(insecureSetup.stderr, /^tasques setup: warning: elasticsearch\.tls\.insecure_skip_verify is on: the engine certificate is not verified/);
      const insecureServer = await startServer({ env: insecureEnv, timeoutMs: 30_000 });
      const warned = await insecureServer.waitForLog((l) => l.level === 40 && /insecure_skip_verify is on/.test(String(l.msg)));
      assert.ok(warned);
      insecureServer.signal('SIGTERM');
      const insecureExit = await insecureServer.waitForExit(20_000);
      assert.deepEqual(insecureExit, { code: 0, signal: null }, insecureServer.stderr);
      assertNoKey(insecureSetup.stdout + insecureSetup.stderr + insecureServer.stderr, 'the insecure runs');

      const refused = await runCli(['setup'], {
        env: { ...env, TASQUES_SERVER_ELASTICSEARCH_TLS_CA_FILE: pki.otherCaFile },
        timeoutMs: 60_000,
      });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /is not trusted \([A-Z_]+\): set elasticsearch\.tls\.ca_file to the CA that signed it/);
      assertNoKey(refused.stdout + refused.stderr, 'the refused `setup`');
    } finally {
      await cleanup.close();
    }
  });
});
