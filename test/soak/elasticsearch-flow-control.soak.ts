/**
 * Flow control end to end on the Elasticsearch store, the long version (soak tier; the short one is
 * test/e2e/elasticsearch-flow-control.test.ts): three real server processes on one OpenSearch node, 30
 * workers over HTTP, 50 keys, and a sampler of the claimed counts that never sees a limit exceeded
 * (test/helpers/flow-drain.ts).
 *
 * Queue `flow`: 1 180 tasks over 50 keys (200 of `key-0`, 20 of each other), at most 20 claimed in the
 * queue, 2 per key, 5 for `key-0`. Queue `rated`: 300 tasks at 50 per second, burst 10.
 */
import { after, describe, it } from 'node:test';
import { killAllServers } from '../helpers/cli.js';
import { esSkip } from '../helpers/elasticsearch.js';
import { flowDrain } from '../helpers/flow-drain.js';

after(killAllServers);

const DEADLINE_MS = 600_000;

describe('elasticsearch store: flow control across 3 servers, 30 workers, 50 keys (soak)', { skip: esSkip() }, () => {
  it('never exceeds a concurrency or rate limit, and every task finishes', { timeout: DEADLINE_MS + 60_000 }, async () => {
    await flowDrain({
      tag: 'flow-soak',
      keys: 50,
      tasksOf: (key) => (key === 0 ? 200 : 20),
      rated: 300,
      queueLimit: 20,
      keyLimit: 2,
      key0Limit: 5,
      rate: { count: 50, perMs: 1000, burst: 10 },
      workers: 30,
      deadlineMs: DEADLINE_MS,
    });
  });
});
