// The store conformance suite against OpenSearch 3.x (test-engines/opensearch3, on Java 21+).
import { test } from 'node:test';
import { exerciseStore } from '../../src/store-conformance/index.js';
import { OPENSEARCH3_URL_ENV, esConformanceOptions, esSkip } from '../helpers/elasticsearch.js';

if (esSkip(OPENSEARCH3_URL_ENV)) test('opensearch 3 store conformance', { skip: esSkip(OPENSEARCH3_URL_ENV) }, () => {});
else exerciseStore(esConformanceOptions('opensearch 3', OPENSEARCH3_URL_ENV));
