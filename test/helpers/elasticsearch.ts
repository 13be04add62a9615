/**
 * The real engine for Elasticsearch-store tests. `npm test` (scripts/run-tests.mjs) starts one
 * OpenSearch 2.19 node for the whole run and passes its URL in TASQUES_TEST_ELASTICSEARCH_URL (a developer
 * may point it at another engine instead); the other engines of the matrix (test-engines/) get
 * TASQUES_TEST_<ENGINE>_URL, and only their conformance file uses them. Without it the Elasticsearch tests are skipped with a log
 * line, except in CI, where they must run: there a missing engine fails the run.
 *
 * Every store gets its own index prefix, so tests never see each other's data; the store a test
 * creates drops its indices and templates when it is closed.
 */
import { randomBytes } from 'node:crypto';
import type { ConformanceOptions } from '../../src/store-conformance/index.js';
import { ElasticsearchStore, type ElasticsearchStoreOptions } from '../../src/store/elasticsearch/elasticsearch-store.js';

export const ES_URL_ENV = 'TASQUES_TEST_ELASTICSEARCH_URL';
/** The other engines of the matrix (test-engines/<engine>); CI sets all of them. */
export const ES7_URL_ENV = 'TASQUES_TEST_ELASTICSEARCH7_URL';
export const OPENSEARCH3_URL_ENV = 'TASQUES_TEST_OPENSEARCH3_URL';
export const OPENSEARCH1_URL_ENV = 'TASQUES_TEST_OPENSEARCH1_URL';

const warned = new Set<string>();

/** The engine's URL, or undefined (after logging why the tests are skipped). Throws in CI when unset. */
export function esTestUrl(envName = ES_URL_ENV): string | undefined {
  const url = process.env[envName];
  if (url) return url;
  if (process.env.CI) {
    throw new Error(`${envName} is not set: in CI the Elasticsearch tests must run (npm test starts the engine)`);
  }
  if (!warned.has(envName)) {
    warned.add(envName);
    process.stderr.write(`# skipping Elasticsearch tests: ${envName} is not set (npm test starts the engine and sets it)\n`);
  }
  return undefined;
}

/** Why ES tests are skipped, for node:test's `skip` option; false when they run. */
export function esSkip(envName = ES_URL_ENV): string | false {
  return esTestUrl(envName) ? false : `${envName} not set`;
}

let counter = 0;

/** A prefix no other test (nor another run on the same engine) uses. */
export function uniquePrefix(tag = 't'): string {
  return `tqt-${tag}-${process.pid}-${++counter}-${randomBytes(3).toString('hex')}`;
}

/** A store on a prefix of its own, set up (templates, indices) and dropped again by close(). */
export class TestElasticsearchStore extends ElasticsearchStore {
  override async close(): Promise<void> {
    await this.drop();
    await super.close();
  }
}

export function storeOptions(
  prefix: string,
  extra: Partial<ElasticsearchStoreOptions> = {},
  envName = ES_URL_ENV,
): ElasticsearchStoreOptions {
  const url = esTestUrl(envName);
  if (!url) throw new Error(`${envName} is not set`);
  return { http: { addresses: [url] }, indexPrefix: prefix, autoSetup: true, ...extra };
}

/** Conformance options: a fresh store per test on a unique prefix, peers on the same prefix. */
export function esConformanceOptions(name = 'elasticsearch', envName = ES_URL_ENV): ConformanceOptions {
  return {
    name,
    makeStore: async () => {
      const store = new TestElasticsearchStore(storeOptions(uniquePrefix('c'), {}, envName));
      await store.migrate();
      return store;
    },
    makePeerStore: async (store) => {
      const peer = new ElasticsearchStore(storeOptions((store as ElasticsearchStore).names.prefix, { autoSetup: false }, envName));
      await peer.migrate();
      return peer;
    },
  };
}
