/**
 * Flow control end to end on the Elasticsearch store (issue 15): three real server processes on one
 * OpenSearch node, 12 workers over HTTP, a sampler of the claimed counts that never sees a limit exceeded
 * (test/helpers/flow-drain.ts). The short version, in `npm test`; the long one is
 * test/soak/elasticsearch-flow-control.soak.ts.
 *
 * Queue `flow`: 120 tasks over 6 keys (50 of `key-0`, 14 of each other), at most 8 claimed in the queue,
 * 2 per key, 3 for `key-0`. Queue `rated`: 60 tasks at 20 per second, burst 5.
 */
import { after, describe, it } from 'node:test';
import { killAllServers } from '../helpers/cli.js';
import { esSkip } from '../helpers/elasticsearch.js';
import { flowDrain } from '../helpers/flow-drain.js';

after(killAllServers);

const DEADLINE_MS = 120_000;

describe('elasticsearch store: flow control across 3 servers', { skip: esSkip() }, () => {
  it('never exceeds a concurrency or rate limit, and every task finishes', { timeout: DEADLINE_MS + 60_000 }, async () => {
    await flowDrain({
      tag: 'flow-e2e',
      keys: 6,
      tasksOf: (key) => (key === 0 ? 50 : 14),
      rated: 60,
      queueLimit: 8,
      keyLimit: 2,
      key0Limit: 3,
      rate: { count: 20, perMs: 1000, burst: 5 },
      workers: 12,
      deadlineMs: DEADLINE_MS,
    });
  });
});
