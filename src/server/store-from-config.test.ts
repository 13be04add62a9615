import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../config/load.js';
import { DEFAULT_CLAIM_OPTIONS } from '../store/elasticsearch/claims.js';
import { elasticsearchStoreOptions } from './store-from-config.js';

const esConfig = (elasticsearch: Record<string, unknown> = {}) =>
  validateConfig({ store: { kind: 'elasticsearch', elasticsearch }, elasticsearch: { addresses: ['http://127.0.0.1:9200'] } });

describe('Elasticsearch store options from the configuration', () => {
  it('gives the claim path its own defaults when the claim keys are not set (the config schema repeats them)', () => {
    assert.deepEqual(elasticsearchStoreOptions(esConfig()).claims, DEFAULT_CLAIM_OPTIONS);
  });

  it('passes store.elasticsearch.claims to the claim path', () => {
    const options = elasticsearchStoreOptions(
      esConfig({ claims: { max_staleness: '1s', max_local_writes: 50, search_multiplier: 3, search_extra: 0 } }),
    );
    assert.deepEqual(options.claims, { maxStalenessMs: 1000, maxLocalWrites: 50, searchMultiplier: 3, searchExtra: 0 });
  });

  it('refuses claim knobs out of bounds, naming the key', () => {
    assert.throws(() => esConfig({ claims: { search_multiplier: 0 } }), /search_multiplier/);
    assert.throws(() => esConfig({ claims: { max_staleness: 'soon' } }), /max_staleness/);
  });
});
