// Issue 12 item 5 on the Elasticsearch store: the longest id (512 astral characters, 2 048 UTF-8 bytes,
// beyond the engines' _id limit, so the store hashes it) and queue name work on every route.
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { createServer } from '../../src/server/server.js';
import { esSkip, storeOptions, TestElasticsearchStore, uniquePrefix } from '../helpers/elasticsearch.js';
import { toAnswer, type TestServer } from '../helpers/http.js';
import { walkEveryParamRouteWithLongestValues } from '../helpers/route-walk.js';

test('every route with an id or queue in its path takes the longest ones create accepts (Elasticsearch)', { skip: esSkip(), timeout: 120_000 }, async (t) => {
  const store = new TestElasticsearchStore(storeOptions(uniquePrefix('limits')));
  const server = await createServer(validateConfig({ logging: { level: 'silent' } }), { store, listen: false, leadership: false });
  const ts: TestServer = {
    server,
    dir: '',
    dbPath: '',
    request: async (options) => toAnswer(await server.app.inject(options)),
    close: () => server.close(),
  };
  t.after(() => server.close());
  await walkEveryParamRouteWithLongestValues(ts);
});
