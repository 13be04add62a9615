/**
 * Big answers (issue 12, item 1): `--tasks` tasks (560) with `--arg-mib` MiB of args each (1), then one
 * claim of 1000 and one `GET /tasques?limit=1000`. Before answers were bounded in bytes both answered 500
 * (`Invalid string length`) and the claim's tasks stayed claimed until their timeout.
 *
 * Prints, per call: status, tasks and bytes answered, wall time and server CPU time, the server's peak RSS during the call
 * (VmHWM, reset before it through /proc/<pid>/clear_refs) and RSS after it, and the longest answer of a
 * `/healthz` probe sent every 10 ms on its own connection meanwhile (how long the event loop was blocked,
 * seen from outside); then how many tasks the claim left claimed (GET /queues/big).
 *
 *   npm run build && npx tsx bench/big-answers.ts [--tasks 560] [--arg-mib 1] [--elasticsearch http://127.0.0.1:9200]
 *   TASQUES_BENCH_ROOT=/path/to/other/build npx tsx bench/big-answers.ts     (an earlier build, to compare)
 *
 * The database lives in /dev/shm (the disk is not what is measured). Linux only (/proc).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dropEsPrefix, healthProbe, HttpClient, machineLine, now, parseFlags, processCpuMs, sleep, startServer, WORKER_HEADER } from './lib.js';

const { tasks, 'arg-mib': argMib, elasticsearch, 'node-options': nodeOptions } = parseFlags('npx tsx bench/big-answers.ts', {
  tasks: { default: 560, help: 'tasks to create' },
  'arg-mib': { default: 1, help: 'size of each task\'s args, in MiB' },
  elasticsearch: { default: '', help: 'the Elasticsearch/OpenSearch store on this engine URL (own index prefix), instead of SQLite' },
  'node-options': { default: '', help: 'NODE_OPTIONS for the server process (e.g. --max-old-space-size=256), to compare heap settings' },
});

/** The server's store: SQLite in /dev/shm, or the engine at --elasticsearch under a prefix of its own. */
const storeEnv: Record<string, string> = elasticsearch
  ? {
      TASQUES_SERVER_STORE_KIND: 'elasticsearch',
      TASQUES_SERVER_ELASTICSEARCH_ADDRESSES: elasticsearch,
      TASQUES_SERVER_STORE_ELASTICSEARCH_INDEX_PREFIX: `bench-big-${process.pid}`,
      TASQUES_SERVER_STORE_ELASTICSEARCH_AUTO_SETUP: 'true',
    }
  : {};

function procStatusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? Number.NaN);
}

const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;

/** The server's own memory figures from /metrics (prom-client's process metrics): where RSS goes. */
async function heapLine(client: HttpClient): Promise<string> {
  const res = await client.request<string>('GET', '/metrics');
  const text = typeof res.body === 'string' ? res.body : '';
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  const m = (bytes: number) => `${(bytes / 1_048_576).toFixed(0)} MB`;
  const spaces = [...text.matchAll(/^nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)/gm)]
    .filter((match) => Number(match[2]) >= 4 * 1_048_576)
    .map((match) => `${match[1]} ${m(Number(match[2]))}`);
  return `heap used ${m(value('nodejs_heap_size_used_bytes'))} of ${m(value('nodejs_heap_size_total_bytes'))} (${spaces.join(', ')}), external ${m(value('nodejs_external_memory_bytes'))}`;
}


async function main(): Promise<void> {
  console.log(machineLine());
  const server = await startServer({
    tmpRoot: '/dev/shm',
    env: {
      TASQUES_SERVER_TASKS_LIMITS_BODY_LIMIT_BYTES: String(Math.ceil(argMib * 1_048_576) + 65_536),
      ...storeEnv,
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
    },
  });
  const pid = server.child.pid!;
  const client = new HttpClient(server.url, 4);
  try {
    console.log(`server started: RSS ${mb(procStatusKb(pid, 'VmRSS'))}; ${await heapLine(client)}`);
    const text = 'x'.repeat(Math.floor(argMib * 1_048_576) - 16);
    writeFileSync(`/proc/${pid}/clear_refs`, '5'); // VmHWM from here: the peak over the creates
    const started = now();
    for (let i = 0; i < tasks; i += 4) {
      await Promise.all(
        Array.from({ length: Math.min(4, tasks - i) }, (_, k) =>
          client.request('POST', '/tasques', { queue: 'big', kind: 'k', id: `t${i + k}`, args: { text } }).then((res) => {
            if (res.status !== 201) throw new Error(`create answered ${res.status}`);
          }),
        ),
      );
    }
    console.log(`created ${tasks} tasks of ${argMib} MiB args in ${((now() - started) / 1000).toFixed(1)} s; RSS peak ${mb(procStatusKb(pid, 'VmHWM'))}, after ${mb(procStatusKb(pid, 'VmRSS'))}; ${await heapLine(client)}`);

    const calls: [string, () => Promise<{ status: number; body: unknown }>][] = [
      ['claim amount 1000', () => client.request('POST', '/tasques/claims', { queues: ['big'], amount: 1000, block_for: '0s' }, { [WORKER_HEADER]: 'w' }, 300_000)],
      ['GET /tasques?limit=1000', () => client.request('GET', '/tasques?queue=big&limit=1000', undefined, {}, 300_000)],
    ];
    for (const [name, call] of calls) {
      writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
      const probe = healthProbe(server.url);
      await sleep(50);
      const t0 = now();
      const cpu0 = processCpuMs(pid) ?? Number.NaN;
      const res = await call();
      const ms = now() - t0;
      const cpuMs = (processCpuMs(pid) ?? Number.NaN) - cpu0;
      const stall = await probe.stop();
      const body = res.body as unknown;
      const answered = Array.isArray(body) ? body.length : ((body as { tasks?: unknown[] })?.tasks?.length ?? 0);
      const bytes = Buffer.byteLength(typeof body === 'string' ? body : JSON.stringify(body ?? ''));
      console.log(
        `${name}: status ${res.status}, ${answered} tasks, ${(bytes / 1_048_576).toFixed(1)} MiB, ${ms.toFixed(0)} ms (server CPU ${cpuMs.toFixed(0)} ms); ` +
          `RSS peak ${mb(procStatusKb(pid, 'VmHWM'))}, after ${mb(procStatusKb(pid, 'VmRSS'))}; longest /healthz ${stall.toFixed(0)} ms; after: ${await heapLine(client)}`,
      );
    }
    const stats = await client.request<{ counts?: Record<string, number> }>('GET', '/queues/big');
    console.log(`queue big after the calls: ${JSON.stringify(stats.body.counts)}`);
  } finally {
    client.close();
    await server.stop();
    if (elasticsearch) await dropEsPrefix(elasticsearch, storeEnv.TASQUES_SERVER_STORE_ELASTICSEARCH_INDEX_PREFIX!);
  }
}

await main();
