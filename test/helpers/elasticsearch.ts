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
import { after } from 'node:test';
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

/**
 * Prefixes set up once and emptied between tests, so that the conformance suite does not create and drop
 * four indices and their templates per test (cluster-state updates: most of an Elasticsearch test's time).
 * A released prefix is emptied (every document deleted, refreshed) and handed to the next test; one whose
 * indices changed during its test (an archive rollover, a dropped archive index) is dropped instead, so
 * every test still starts from exactly what setup makes. At most `limit` stores are out at once: acquire()
 * waits for a release beyond that (node:test starts every area of the suite at once; this bounds them).
 */
class PrefixPool {
  private readonly idle: string[] = [];
  private inUse = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly all = new Set<string>();
  /** The index names a freshly set-up prefix has, with the prefix replaced by `*`. */
  private freshLayout: string | undefined;

  constructor(
    private readonly url: string,
    private readonly options: (prefix: string, autoSetup: boolean) => ElasticsearchStoreOptions,
    private readonly limit: number,
  ) {}

  /** A migrated store on an empty prefix: a reused one, or a new one set up from scratch. */
  async acquire(): Promise<ElasticsearchStore> {
    while (this.inUse >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inUse++;
    try {
      return await this.make();
    } catch (err) {
      this.handBack();
      throw err;
    }
  }

  private handBack(): void {
    this.inUse--;
    this.waiting.shift()?.();
  }

  private async make(): Promise<ElasticsearchStore> {
    const reused = this.idle.pop();
    if (reused !== undefined) {
      const store = new PooledElasticsearchStore(this.options(reused, false), this);
      await store.migrate(); // checks that setup's work is there
      return store;
    }
    const prefix = uniquePrefix('c');
    this.all.add(prefix);
    const store = new PooledElasticsearchStore(this.options(prefix, true), this);
    await store.migrate();
    this.freshLayout ??= await this.layout(prefix);
    return store;
  }

  /** Empties the store's prefix for the next test, or drops it when its indices are not setup's any more. */
  async release(store: ElasticsearchStore): Promise<void> {
    const prefix = store.names.prefix;
    try {
      if (await this.reusable(prefix)) {
        this.idle.push(prefix);
        return;
      }
      this.all.delete(prefix);
      await store.drop();
    } finally {
      this.handBack();
    }
  }

  private async reusable(prefix: string): Promise<boolean> {
    try {
      return (await this.layout(prefix)) === this.freshLayout && (await this.empty(prefix));
    } catch {
      return false;
    }
  }

  /** Drops every prefix the pool made (after the file's last test). */
  async dropAll(): Promise<void> {
    for (const prefix of this.all) await new ElasticsearchStore(this.options(prefix, false)).drop();
    this.all.clear();
    this.idle.length = 0;
  }

  private async es(method: string, path: string, body?: unknown): Promise<any> {
    const ndjson = Array.isArray(body);
    const res = await fetch(this.url + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' },
      body: body === undefined ? undefined : ndjson ? body.map((l) => JSON.stringify(l)).join('\n') + '\n' : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  }

  private async layout(prefix: string): Promise<string> {
    const indices = (await this.es('GET', `/_cat/indices/${prefix}-*?format=json&h=index&expand_wildcards=all`)) as { index: string }[];
    return indices.map((i) => i.index.replace(prefix, '*')).sort().join(',');
  }

  /**
   * Deletes every document of the prefix (search + bulk delete: not every engine of the matrix has
   * _delete_by_query) and refreshes. False when documents remain after a few rounds.
   */
  private async empty(prefix: string): Promise<boolean> {
    for (let round = 0; round < 5; round++) {
      await this.es('POST', `/${prefix}-*/_refresh`);
      const found = await this.es('POST', `/${prefix}-*/_search`, { size: 10_000, _source: false, query: { match_all: {} } });
      const hits = found.hits.hits as { _index: string; _id: string }[];
      if (hits.length === 0) return true;
      await this.es('POST', '/_bulk?refresh=true', hits.map((h) => ({ delete: { _index: h._index, _id: h._id } })));
    }
    return false;
  }
}

/** A conformance store: closing it returns its prefix to the pool instead of dropping it. */
class PooledElasticsearchStore extends ElasticsearchStore {
  constructor(
    options: ElasticsearchStoreOptions,
    private readonly pool: PrefixPool,
  ) {
    super(options);
  }

  override async close(): Promise<void> {
    await super.close();
    await this.pool.release(this);
  }
}

/**
 * Conformance options: every test gets an empty, set-up prefix from a pool shared by the file (see
 * PrefixPool), peers on the same prefix; the pool's prefixes are dropped after the file's last test.
 * At most `concurrency` tests run at once (areas start together; the pool bounds them), each on its own prefix.
 */
export function esConformanceOptions(name = 'elasticsearch', envName = ES_URL_ENV, concurrency = 4): ConformanceOptions {
  const url = esTestUrl(envName);
  if (!url) throw new Error(`${envName} is not set`);
  const pool = new PrefixPool(url, (prefix, autoSetup) => storeOptions(prefix, { autoSetup }, envName), concurrency);
  after(() => pool.dropAll());
  return {
    name,
    concurrency,
    makeStore: () => pool.acquire(),
    makePeerStore: async (store) => {
      const peer = new ElasticsearchStore(storeOptions((store as ElasticsearchStore).names.prefix, { autoSetup: false }, envName));
      await peer.migrate();
      return peer;
    },
  };
}
