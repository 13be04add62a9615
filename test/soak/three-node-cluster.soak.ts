/**
 * Soak: the Elasticsearch store on a real 3-node cluster losing the node that holds the tasks' primary.
 *
 * Three OpenSearch 2.19 processes on 127.0.0.1 (scripts/test-engine.mjs startCluster: unicast discovery,
 * every node cluster-manager eligible and a data node), so setup's `auto_expand_replicas: 0-1` gives every
 * index one replica. Two real server processes (`tasques serve`) with all three node addresses, four
 * producers and eight workers over HTTP, TASQUES_TEST_CLUSTER_TASKS tasks (default 2 000). When half the
 * tasks are done, the node holding the primary of the tasks index (found with `_cat/shards`) is killed
 * with -9. Expected:
 *
 * - no acknowledged task is lost: every task whose create was answered 201 (or 409 on a retry) ends DONE;
 * - no task is held by two workers at once, and each is done exactly once;
 * - the replica on another node took over as primary.
 *
 * Requests the dead node was serving are answered 5xx by the servers (or never): the clients retry them,
 * as a real client would, and the figures line says how many. See docs/elasticsearch.md ("Replicas and
 * write acknowledgement") for why an acknowledged write survives the loss of one node.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { killAllServers, REPO_ROOT } from '../helpers/cli.js';
import { assertExactlyOnce, describeDrain, drain, esJson } from '../helpers/drain.js';

after(killAllServers);

const TASKS = Number(process.env.TASQUES_TEST_CLUSTER_TASKS ?? 2_000);
const SHAPE = { servers: 2, workers: 8, producers: 4 };
/** Normally a third of it on 2 busy cores (~10-20 tasks/s while other jobs run). */
const DEADLINE_MS = Math.max(600_000, TASKS * 200);

interface ClusterNode {
  name: string;
  url: string;
  pid: number;
  exited: Promise<number>;
  kill(signal?: string): boolean;
}
interface Cluster {
  label: string;
  urls: string[];
  nodes: ClusterNode[];
  stop(): Promise<number[]>;
}
const { startCluster } = (await import(pathToFileURL(join(REPO_ROOT, 'scripts', 'test-engine.mjs')).href)) as {
  startCluster(o: { engine?: string; nodes?: number; log?: (line: string) => void }): Promise<Cluster>;
};

interface ShardRow {
  index: string;
  shard: string;
  prirep: 'p' | 'r';
  state: string;
  node: string | null;
}

async function shardsOf(url: string, index: string): Promise<ShardRow[]> {
  return esJson(url, 'GET', `/_cat/shards/${index}?format=json&h=index,shard,prirep,state,node`);
}

describe('elasticsearch store soak: a 3-node cluster loses the primary of the tasks index (kill -9)', () => {
  let cluster: Cluster | undefined;
  after(async () => {
    await cluster?.stop();
  });

  it(`drains ${TASKS} tasks over 2 servers: no acknowledged task lost, never held twice, all DONE`, { timeout: DEADLINE_MS + 240_000 }, async () => {
    const tail: string[] = [];
    cluster = await startCluster({
      engine: 'opensearch',
      nodes: 3,
      log: (line) => {
        tail.push(line);
        if (tail.length > 200) tail.shift();
      },
    });
    const c = cluster;
    let killed: { node: ClusterNode; index: string } | undefined;
    let promotedTo: string | undefined;
    const result = await drain({
      engineUrls: c.urls,
      tasks: TASKS,
      ...SHAPE,
      tag: 'cluster',
      processingTimeout: '10s',
      retryServerErrors: true,
      deadlineMs: DEADLINE_MS,
      disrupt: async ({ prefix }) => {
        const index = `${prefix}-tasks`;
        const shards = await shardsOf(c.urls[0]!, index);
        assert.deepEqual(
          shards.map((s) => `${s.prirep}:${s.state}`).sort(),
          ['p:STARTED', 'r:STARTED'],
          `the tasks index has a started primary and replica: ${JSON.stringify(shards)}`,
        );
        const primary = shards.find((s) => s.prirep === 'p')!;
        const node = c.nodes.find((n) => n.name === primary.node);
        assert.ok(node, `the primary's node ${primary.node} is one of ours`);
        killed = { node, index };
        node.kill('SIGKILL');
        await node.exited;
        // The engine's own wait (not a sleep): the replica is promoted when the cluster drops the node.
        const survivor = c.nodes.find((n) => n !== node)!;
        const health = await esJson(survivor.url, 'GET', `/_cluster/health/${index}?wait_for_nodes=2&wait_for_status=yellow&timeout=120s`);
        assert.equal(health.timed_out, false, `the cluster did not drop the killed node: ${JSON.stringify(health)}`);
        promotedTo = (await shardsOf(survivor.url, index)).find((s) => s.prirep === 'p' && s.state === 'STARTED')?.node ?? undefined;
      },
    });
    process.stderr.write(describeDrain('3-node cluster, primary node killed -9 half way', result, '2 servers, 8 workers'));
    assert.ok(killed, 'the primary node was killed');
    assertExactlyOnce(result);

    assert.ok(promotedTo && promotedTo !== killed.node.name, `a replica on another node became primary (${promotedTo})`);
    const survivor = c.nodes.find((n) => n !== killed!.node)!;
    const health = await esJson(survivor.url, 'GET', '/_cluster/health');
    assert.equal(health.number_of_nodes, 2, `two nodes remain: ${JSON.stringify(health)}`);
  });
});
