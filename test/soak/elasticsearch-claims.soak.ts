/**
 * Soak: claims under concurrency on the Elasticsearch store, end to end, at volume. Three real server
 * processes (`tasques serve`, store.kind elasticsearch) on one OpenSearch node and one index prefix, six
 * producers and 30 workers over HTTP. TASQUES_TEST_CLAIMS_TASKS tasks (default 20 000) are drained twice:
 *
 * 1. undisturbed: every task is claimed exactly once (attempted 1) and done exactly once;
 * 2. with the leader killed (-9) half way: nothing is lost, every task ends DONE, done exactly once.
 *    Claims the dead server made but never delivered are reaped after their processing timeout by the
 *    new leader and claimed again.
 *
 * In both, no two workers ever hold the same task at the same time. Prints the drain's figures (tasks/s
 * on a shared machine: a rough reading, not a benchmark). The same scenarios at a few hundred tasks are
 * in `npm test` (test/e2e/elasticsearch-claims.test.ts).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { killAllServers, type LogLine } from '../helpers/cli.js';
import { assertClaimedOnce, assertExactlyOnce, describeDrain, drain } from '../helpers/drain.js';
import { esSkip, esTestUrl } from '../helpers/elasticsearch.js';

after(killAllServers);

const TASKS = Number(process.env.TASQUES_TEST_CLAIMS_TASKS ?? 20_000);
const SHAPE = { servers: 3, workers: 30, producers: 6 };
/** A whole scenario must finish within this; it normally takes a fifth of it (~120 tasks/s on 2 busy cores). */
const DEADLINE_MS = Math.max(300_000, TASKS * 50);
const shape = `${SHAPE.servers} servers, ${SHAPE.workers} workers`;

describe(`elasticsearch store soak: claims under concurrency (${shape})`, { skip: esSkip() }, () => {
  it(`drains ${TASKS} tasks: each claimed once and done once, never held twice`, { timeout: DEADLINE_MS + 120_000 }, async () => {
    const result = await drain({ engineUrls: [esTestUrl()!], tasks: TASKS, ...SHAPE, tag: 'soak', deadlineMs: DEADLINE_MS });
    process.stderr.write(describeDrain('undisturbed', result, shape));
    assertExactlyOnce(result);
    assertClaimedOnce(result);
  });

  it(`drains ${TASKS} tasks with the leader killed (-9) half way: nothing lost, all DONE, done once`, { timeout: DEADLINE_MS + 120_000 }, async () => {
    const result = await drain({
      engineUrls: [esTestUrl()!],
      tasks: TASKS,
      ...SHAPE,
      tag: 'soakkill',
      processingTimeout: '10s',
      deadlineMs: DEADLINE_MS,
      disrupt: ({ servers }) => {
        const leader = servers.find((s) => s.logs.some((l: LogLine) => l.msg === 'became leader') && !s.exitInfo) ?? servers[0]!;
        leader.signal('SIGKILL');
      },
    });
    process.stderr.write(describeDrain('kill -9 half way', result, shape));
    assert.ok(result.disruptedAt !== undefined, 'a server was killed');
    assertExactlyOnce(result);
  });
});
