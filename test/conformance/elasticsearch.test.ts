// Runs the store conformance suite against the Elasticsearch driver (OpenSearch in `npm test`), each test on its own index prefix.
import { test } from 'node:test';
import { exerciseStore } from '../../src/store-conformance/index.js';
import { esConformanceOptions, esSkip } from '../helpers/elasticsearch.js';

if (esSkip()) test('elasticsearch store conformance', { skip: esSkip() }, () => {});
else exerciseStore(esConformanceOptions());
