/**
 * Many queues (issue 12, item 3): `--batches` batch calls (50) of 1 000 tasks, each task in its own queue
 * (50 000 queues), every task due in an hour (so claims find nothing and long polls wait). Then:
 * - an all-queue claim (`queues: []`, block_for 0s), `--repeat` times: wall time and server CPU;
 * - a `/metrics` scrape (the per-queue figures are read from the store each time: queue_stats_max_age 1ms):
 *   size, wall time, server CPU;
 * - `--polls` (20) all-queue long polls of `--block-for` (5s) at once, while a `/healthz` probe runs every
 *   10 ms on its own connection: the longest probe answer (how long the event loop was blocked, seen from
 *   outside) and the server CPU over the polls.
 * The longest /healthz answer is also taken during the claims and the scrape.
 *
 *   npm run build && npx tsx bench/many-queues.ts [--batches 50] [--polls 20] [--block-for 5s]
 *   TASQUES_BENCH_ROOT=/path/to/other/build npx tsx bench/many-queues.ts     (an earlier build, to compare)
 *
 * The database lives in /dev/shm (the disk is not what is measured). Linux only (/proc).
 */
import { healthProbe, HttpClient, machineLine, now, parseFlags, processCpuMs, sleep, startServer, WORKER_HEADER } from './lib.js';

const flags = parseFlags('npx tsx bench/many-queues.ts', {
  batches: { default: 50, help: 'batch calls of 1 000 tasks, each task in a queue of its own' },
  repeat: { default: 3, help: 'all-queue claims to time' },
  polls: { default: 20, help: 'concurrent all-queue long polls' },
  'block-for': { default: '5s', help: 'block_for of the long polls' },
});


/** Runs `body` with a /healthz probe and the server's CPU time around it. */
async function measured<T>(url: string, pid: number, body: () => Promise<T>): Promise<{ result: T; ms: number; cpuMs: number; stallMs: number }> {
  const probe = healthProbe(url);
  await sleep(30);
  const cpu0 = processCpuMs(pid) ?? Number.NaN;
  const t0 = now();
  const result = await body();
  const ms = now() - t0;
  const cpuMs = (processCpuMs(pid) ?? Number.NaN) - cpu0;
  const stallMs = await probe.stop();
  return { result, ms, cpuMs, stallMs };
}

async function main(): Promise<void> {
  console.log(machineLine());
  const server = await startServer({ tmpRoot: '/dev/shm', env: { TASQUES_SERVER_METRICS_QUEUE_STATS_MAX_AGE: '1ms' } });
  const pid = server.child.pid!;
  const client = new HttpClient(server.url, flags.polls + 2);
  try {
    const runAt = new Date(Date.now() + 3_600_000).toISOString();
    const t0 = now();
    for (let b = 0; b < flags.batches; b++) {
      const tasks = Array.from({ length: 1_000 }, (_, i) => ({ queue: `q-${b}-${i}`, kind: 'k', run_at: runAt }));
      const res = await client.request('POST', '/tasques/batch', { tasks }, {}, 120_000);
      if (res.status !== 200 && res.status !== 201 && res.status !== 207) throw new Error(`batch answered ${res.status}`);
    }
    console.log(`created ${flags.batches * 1_000} queues (one task each, due in 1h) in ${((now() - t0) / 1000).toFixed(1)} s`);

    const claims = await measured(server.url, pid, async () => {
      const times: number[] = [];
      for (let i = 0; i < flags.repeat; i++) {
        const t = now();
        const res = await client.request('POST', '/tasques/claims', { queues: [], amount: 10, block_for: '0s' }, { [WORKER_HEADER]: 'w' }, 300_000);
        if (res.status !== 200) throw new Error(`claim answered ${res.status}`);
        times.push(now() - t);
      }
      return times;
    });
    console.log(
      `all-queue claim: ${claims.result.map((ms) => ms.toFixed(1)).join(', ')} ms each; server CPU ${(claims.cpuMs / flags.repeat).toFixed(0)} ms per claim; longest /healthz ${claims.stallMs.toFixed(0)} ms`,
    );

    const scrape = await measured(server.url, pid, () => client.request<string>('GET', '/metrics', undefined, {}, 300_000));
    const text = String(scrape.result.body);
    const queueLabels = new Set([...text.matchAll(/queue="([^"]*)"/g)].map((m) => m[1]));
    console.log(
      `/metrics: status ${scrape.result.status}, ${(Buffer.byteLength(text) / 1_048_576).toFixed(2)} MiB, ${queueLabels.size} queue labels, ` +
        `${scrape.ms.toFixed(0)} ms, server CPU ${scrape.cpuMs.toFixed(0)} ms; longest /healthz ${scrape.stallMs.toFixed(0)} ms`,
    );

    const polls = await measured(server.url, pid, () =>
      Promise.all(
        Array.from({ length: flags.polls }, (_, i) =>
          client.request('POST', '/tasques/claims', { queues: [], amount: 10, block_for: flags['block-for'] }, { [WORKER_HEADER]: `p${i}` }, 300_000),
        ),
      ),
    );
    console.log(
      `${flags.polls} all-queue long polls of ${flags['block-for']}: answered in ${polls.ms.toFixed(0)} ms (statuses ${[...new Set(polls.result.map((r) => r.status))].join(',')}), ` +
        `server CPU ${polls.cpuMs.toFixed(0)} ms; longest /healthz ${polls.stallMs.toFixed(0)} ms`,
    );
  } finally {
    client.close();
    await server.stop();
  }
}

await main();
