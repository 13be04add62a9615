/**
 * Claims under concurrency on the Elasticsearch store, end to end (the short correctness version; the
 * 20 000-task drains are in the soak tier, test/soak/elasticsearch-claims.soak.ts). Three real server
 * processes (`tasques serve`, store.kind elasticsearch) on one OpenSearch node and one index prefix, four
 * producers and 12 workers over HTTP, 300 tasks drained twice:
 *
 * 1. undisturbed: every task is claimed exactly once and done exactly once;
 * 2. with the leader killed (-9) half way: nothing is lost, every task ends DONE, done exactly once.
 *
 * In both, no two workers ever hold the same task at the same time (test/helpers/drain.ts).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { killAllServers, type LogLine } from '../helpers/cli.js';
import { assertClaimedOnce, assertExactlyOnce, drain } from '../helpers/drain.js';
import { esSkip, esTestUrl } from '../helpers/elasticsearch.js';

after(killAllServers);

const TASKS = 300;
const SHAPE = { servers: 3, workers: 12, producers: 4 };
const DEADLINE_MS = 180_000;

describe('elasticsearch store: claims under concurrency (3 servers, 12 workers)', { skip: esSkip() }, () => {
  it(`drains ${TASKS} tasks: each claimed once and done once, never held twice`, { timeout: DEADLINE_MS + 60_000 }, async () => {
    const result = await drain({ engineUrls: [esTestUrl()!], tasks: TASKS, ...SHAPE, tag: 'drain', deadlineMs: DEADLINE_MS });
    assertExactlyOnce(result);
    assertClaimedOnce(result);
  });

  it(`drains ${TASKS} tasks with the leader killed (-9) half way: nothing lost, all DONE, done once`, { timeout: DEADLINE_MS + 60_000 }, async () => {
    const result = await drain({
      engineUrls: [esTestUrl()!],
      tasks: TASKS,
      ...SHAPE,
      tag: 'kill',
      processingTimeout: '10s',
      deadlineMs: DEADLINE_MS,
      disrupt: ({ servers }) => {
        const leader = servers.find((s) => s.logs.some((l: LogLine) => l.msg === 'became leader') && !s.exitInfo) ?? servers[0]!;
        leader.signal('SIGKILL');
      },
    });
    assert.ok(result.disruptedAt !== undefined, 'a server was killed');
    assertExactlyOnce(result);
  });
});
