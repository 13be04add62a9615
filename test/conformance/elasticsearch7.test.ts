// The store conformance suite against Elasticsearch 7.10.2 OSS (test-engines/elasticsearch7).
import { test } from 'node:test';
import { exerciseStore } from '../../src/store-conformance/index.js';
import { ES7_URL_ENV, esConformanceOptions, esSkip } from '../helpers/elasticsearch.js';

if (esSkip(ES7_URL_ENV)) test('elasticsearch 7.10 store conformance', { skip: esSkip(ES7_URL_ENV) }, () => {});
else exerciseStore(esConformanceOptions('elasticsearch 7.10', ES7_URL_ENV));
