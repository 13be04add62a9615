/**
 * The cost of flow control on the Elasticsearch/OpenSearch store (issue 15), at the Store level (no
 * HTTP): claim + done throughput and CPU per task with 1 / 100 / 10 000 concurrency keys, limits off
 * and on, against the plain path (tasks without keys, no limits) as the baseline.
 *
 *   npx tsx bench/flow-elasticsearch.ts --url http://127.0.0.1:9200 [--engine-pid <pid>] [--tasks 2000]
 *     [--claimers 8] [--amount 1] [--keys 1,100,10000] [--rounds 1] [--limits both|concurrency|rate]
 *
 * Per run: a fresh index prefix, `tasks` tasks created (keys round-robin), then `claimers` loops each
 * claiming `amount` and marking what they got done, until every task is done (bounded by a deadline).
 * "limits on" sets a queue concurrency and a per-key concurrency and rate that never bind (so the figure
 * is the bookkeeping's cost, not waiting on a limit): every claim takes holds and tokens, every done frees
 * them. CPU: this process (process.cpuUsage) and, with --engine-pid, the engine (/proc/<pid>/stat).
 * Wall-clock rates move with the machine's load: the load average is printed with every table, and
 * with --rounds N limits off and on alternate N times per key count (each pair's ratio, then the median).
 * Requests per task (all, `_bulk`s, document writes to the meta index) do not depend on the machine.
 */
import { parseArgs } from 'node:util';
import { ElasticsearchStore } from '../src/store/elasticsearch/elasticsearch-store.js';
import type { NewTaskRecord, QueueLimits, Task } from '../src/types/index.js';
import { intoDone } from '../src/domain/task-lifecycle.js';
import { machineLine, now, percentile, processCpuMs } from './lib.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.TASQUES_TEST_ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200' },
    'engine-pid': { type: 'string' },
    tasks: { type: 'string', default: '2000' },
    claimers: { type: 'string', default: '8' },
    amount: { type: 'string', default: '1' },
    keys: { type: 'string', default: '1,100,10000' },
    'deadline-s': { type: 'string', default: '300' },
    rounds: { type: 'string', default: '1' },
    limits: { type: 'string', default: 'both' },
  },
});
const ROUNDS = Number(values.rounds);
const TASKS = Number(values.tasks);
const CLAIMERS = Number(values.claimers);
const AMOUNT = Number(values.amount);
const DEADLINE_MS = Number(values['deadline-s']) * 1000;
const enginePid = values['engine-pid'] === undefined ? undefined : Number(values['engine-pid']);


interface Run {
  label: string;
  keys: number;
  limits: QueueLimits | undefined;
}

/** `--limits both` (default), `concurrency` or `rate`: which limits "limits on" sets, on the queue and per key. */
const NEVER_BINDING_PARTS = {
  concurrency: { concurrency: 100_000 },
  rate: { rate: { count: 1_000_000, perMs: 1000, burst: 1_000_000 } },
};
const limitParts = values.limits === 'both' ? ['concurrency', 'rate'] : [values.limits!];
if (!limitParts.every((p) => p in NEVER_BINDING_PARTS)) throw new Error(`--limits: both, concurrency or rate, not ${values.limits}`);
const neverBinding = Object.assign({}, ...limitParts.map((p) => NEVER_BINDING_PARTS[p as keyof typeof NEVER_BINDING_PARTS]));
const NEVER_BINDING: QueueLimits = { queue: neverBinding, perKey: neverBinding };

interface Measured {
  line: string;
  tasksPerSecond: number;
}

/** Requests to the engine while claimers run: all, `_bulk`s, and document writes to the meta index. */
interface RequestCounts {
  requests: number;
  bulks: number;
  metaWrites: number;
}

async function run({ label, keys, limits }: Run): Promise<Measured> {
  const prefix = `bench-flow-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const store = new ElasticsearchStore({ http: { addresses: [values.url!] }, indexPrefix: prefix, autoSetup: true });
  await store.migrate();
  // Counted by wrapping the store's client (the bench's own instrument, not a store feature).
  const counts: RequestCounts = { requests: 0, bulks: 0, metaWrites: 0 };
  let counting = false;
  const request = store.http.request.bind(store.http);
  const metaAction = `"_index":"${prefix}-meta"`;
  store.http.request = (req) => {
    if (counting) {
      counts.requests++;
      if (req.path.endsWith('/_bulk')) {
        counts.bulks++;
        if (typeof req.body === 'string') counts.metaWrites += req.body.split(metaAction).length - 1;
      }
    }
    return request(req);
  };
  try {
    const t0 = Date.now();
    const tasks: NewTaskRecord[] = Array.from({ length: TASKS }, (_, i) => ({
      queue: 'bench',
      id: `t-${i}`,
      kind: 'bench',
      state: 'queued',
      priority: 0,
      runAt: t0,
      retryTimes: 0,
      attempted: 0,
      processingTimeoutNs: 600e9,
      lastEnqueuedAt: t0,
      createdAt: t0,
      modifiedAt: t0,
      ...(keys > 0 ? { concurrencyKey: `k-${i % keys}`, rateKey: `k-${i % keys}` } : {}),
    }));
    for (let i = 0; i < tasks.length; i += 500) await store.taskCreateMany({ tasks: tasks.slice(i, i + 500) });
    if (limits) await store.queueLimitsSet({ queue: 'bench', limits, now: t0 });
    await store.http.expect({ method: 'POST', path: `/${prefix}-tasks/_refresh` });

    let done = 0;
    const latencies: number[] = [];
    const deadline = now() + DEADLINE_MS;
    const cpu0 = process.cpuUsage();
    const engine0 = processCpuMs(enginePid);
    const start = now();
    counting = true;
    const claimer = async (c: number) => {
      while (done < TASKS && now() < deadline) {
        const t = now();
        const got: Task[] = await store.taskClaim({ queues: ['bench'], amount: AMOUNT, workerId: `c${c}`, now: Date.now() });
        latencies.push(now() - t);
        await Promise.all(
          got.map(async (task) => {
            const finished = intoDone(task, `c${c}`, Date.now(), undefined);
            await store.taskUpdate({ task: finished, expectedVersion: task.version });
            done++;
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: CLAIMERS }, (_, c) => claimer(c)));
    counting = false;
    const seconds = (now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const storeMs = ((cpu.user + cpu.system) / 1000 / Math.max(1, done)).toFixed(2);
    const engine1 = processCpuMs(enginePid);
    const engineMs = engine0 !== undefined && engine1 !== undefined ? ((engine1 - engine0) / Math.max(1, done)).toFixed(2) : '-';
    latencies.sort((a, b) => a - b);
    const p50 = latencies[Math.floor(latencies.length / 2)]!.toFixed(1);
    const per = (n: number) => (n / Math.max(1, done)).toFixed(2);
    return {
      line: `| ${label} | ${keys} | ${done} | ${(done / seconds).toFixed(0)} | ${p50} | ${storeMs} | ${engineMs} | ${per(counts.requests)} | ${per(counts.bulks)} | ${per(counts.metaWrites)} |`,
      tasksPerSecond: done / seconds,
    };
  } finally {
    await store.drop();
    await store.close();
  }
}

const keyCounts = values.keys!.split(',').map(Number);
console.log(
  `# bench/flow-elasticsearch: ${TASKS} tasks, ${CLAIMERS} claimers, amount ${AMOUNT}, ${ROUNDS} round(s), limits ${values.limits}; ${machineLine()}`,
);
console.log(
  '| run | keys | tasks done | tasks/s | claim p50 ms | store CPU ms/task | engine CPU ms/task | requests/task | bulks/task | meta writes/task |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
console.log((await run({ label: 'plain (no keys, no limits)', keys: 0, limits: undefined })).line);
// Limits off and on alternate, round after round, so that both see the same machine; the ratio of each
// pair is printed, and their median at the end.
const ratios = new Map<number, number[]>(keyCounts.map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const k of keyCounts) {
    const pair = round % 2 === 0 ? [undefined, NEVER_BINDING] : [NEVER_BINDING, undefined];
    const measured = new Map<boolean, Measured>();
    for (const limits of pair) {
      const m = await run({ label: limits ? 'keys, limits on (never binding)' : 'keys, limits off (fair groups)', keys: k, limits });
      measured.set(limits !== undefined, m);
      console.log(m.line);
    }
    ratios.get(k)!.push(measured.get(true)!.tasksPerSecond / measured.get(false)!.tasksPerSecond);
  }
}
for (const [k, rs] of ratios) {
  console.log(`# ${k} keys: limits on / off, tasks/s: ${rs.map((r) => r.toFixed(2)).join(', ')}; median ${percentile([...rs].sort((a, b) => a - b), 50).toFixed(2)}`);
}
console.log(`# done; ${machineLine()}`);
