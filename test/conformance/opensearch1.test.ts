// The store conformance suite against OpenSearch 1.3 (test-engines/opensearch1).
import { test } from 'node:test';
import { exerciseStore } from '../../src/store-conformance/index.js';
import { OPENSEARCH1_URL_ENV, esConformanceOptions, esSkip } from '../helpers/elasticsearch.js';

if (esSkip(OPENSEARCH1_URL_ENV)) test('opensearch 1.3 store conformance', { skip: esSkip(OPENSEARCH1_URL_ENV) }, () => {});
else exerciseStore(esConformanceOptions('opensearch 1.3', OPENSEARCH1_URL_ENV));
