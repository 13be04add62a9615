/**
 * Pick-up latency of a long-polling worker on an otherwise idle server: one worker claims with
 * block_for 30s and amount 1 (and marks each task done), while one producer enqueues a task at a
 * steady pace. Per task: from the create's 201 arriving at the producer to the claim response carrying
 * the task arriving at the worker (one process, one performance.now() clock).
 *
 *   npm run bench:pickup -- --tasks 2000 --interval 5
 */
import {
  claimTasks,
  createTask,
  fmtInt,
  fmtMs,
  HttpClient,
  markDone,
  now,
  machineLine,
  parseFlags,
  printProfileTop,
  printTable,
  sleep,
  startServer,
  type Summary,
  summarize,
} from './lib.js';

const flags = parseFlags('Usage: npm run bench:pickup -- [flags]   (tsx bench/pickup-latency.ts)', {
  tasks: { default: 2_000, help: 'measured tasks' },
  interval: { default: 5, help: 'milliseconds between enqueues' },
  warmup: { default: 200, help: 'tasks enqueued first and not measured' },
  'block-for': { default: '30s', help: 'block_for of each claim' },
  'db-dir': { default: '', help: 'directory for the server\'s tmp dir and database (default: OS tmp dir; try /dev/shm)' },
  'cpu-prof': { default: false, help: 'profile the server (node --cpu-prof) and print its top self-time functions' },
});

const QUEUE = 'bench-pickup';

async function main(): Promise<void> {
  const total = flags.warmup + flags.tasks;
  console.log(
    `pickup-latency: ${fmtInt(flags.tasks)} tasks (+${fmtInt(flags.warmup)} warm-up), one every ${flags.interval} ms, ` +
      `1 worker, block_for ${flags['block-for']}, amount 1`,
  );
  console.log(machineLine());
  const server = await startServer({ cpuProf: flags['cpu-prof'], tmpRoot: flags['db-dir'] || undefined });
  const deadline = now() + total * flags.interval + 60_000;
  const sent = new Float64Array(total);
  const ackAt = new Map<string, { index: number; at: number }>();
  const claimed = new Map<string, { at: number; serverMs: number }>();
  let errors = 0;
  let stopping = false;
  let paceMissed = 0;
  const producerClient = new HttpClient(server.url);
  const workerClient = new HttpClient(server.url);
  const fail = (e: unknown) => {
    errors++;
    if (errors <= 5) console.error(`  error: ${(e as Error).message}`);
    if (errors > 50) stopping = true;
  };

  const worker = async () => {
    while (!stopping && claimed.size < total && now() < deadline) {
      let tasks;
      try {
        const res = await claimTasks(workerClient, 'bench-pickup-worker', [QUEUE], 1, flags['block-for']);
        tasks = res.body;
        for (const t of tasks) {
          const serverMs = Date.parse(t.last_claimed?.claimed_at ?? '') - Date.parse(t.metadata.created_at);
          claimed.set(t.id, { at: res.at, serverMs });
        }
      } catch (e) {
        if (!stopping) fail(e);
        continue;
      }
      for (const t of tasks) {
        try {
          await markDone(workerClient, 'bench-pickup-worker', t);
        } catch (e) {
          if (!stopping) fail(e);
        }
      }
    }
  };

  const producer = async () => {
    // Let the worker's first long poll reach the server before the first task.
    await sleep(100);
    const t0 = now();
    for (let i = 0; i < total && !stopping && now() < deadline; i++) {
      const wait = t0 + i * flags.interval - now();
      if (wait > 0) await sleep(wait);
      else if (wait < -flags.interval) paceMissed++;
      sent[i] = now();
      try {
        const res = await createTask(producerClient, QUEUE, { i });
        ackAt.set(res.body.id, { index: i, at: res.at });
      } catch (e) {
        fail(e);
      }
    }
  };

  let profile: string | undefined;
  const started = now();
  try {
    const w = worker();
    await producer();
    // The worker finishes once it has claimed everything; cut it off if something went wrong.
    while (claimed.size < total && now() < deadline && !stopping) await sleep(10);
    stopping = true;
    workerClient.close();
    await w;
  } finally {
    producerClient.close();
    workerClient.close();
    profile = await server.stop();
  }
  const elapsed = now() - started;

  const fromAck: number[] = [];
  const fromSend: number[] = [];
  const serverSide: number[] = [];
  let beforeAck = 0;
  for (const [id, c] of claimed) {
    const a = ackAt.get(id);
    if (!a || a.index < flags.warmup) continue;
    const d = c.at - a.at;
    if (d < 0) beforeAck++;
    fromAck.push(d);
    fromSend.push(c.at - (sent[a.index] as number));
    if (Number.isFinite(c.serverMs)) serverSide.push(c.serverMs);
  }
  if (profile) {
    console.log(`\n== server CPU profile (includes warm-up; dir ${server.dir}) ==`);
    printProfileTop(profile, 25);
  }
  const row = (label: string, s: Summary) => [label, fmtInt(s.count), fmtMs(s.p50), fmtMs(s.p90), fmtMs(s.p99), fmtMs(s.max), fmtMs(s.min), fmtMs(s.mean)];
  printTable(
    ['pick-up latency (ms)', 'tasks', 'p50', 'p90', 'p99', 'max', 'min', 'mean'],
    [
      row('create 201 → claim received', summarize(fromAck)),
      row('create sent → claim received', summarize(fromSend)),
      row('server created_at → claimed_at (1 ms res.)', summarize(serverSide)),
    ],
    `Pick-up latency, one long-polling worker, one task every ${flags.interval} ms`,
  );
  console.log(
    `\n${fmtInt(claimed.size)}/${fmtInt(total)} claimed in ${(elapsed / 1000).toFixed(2)} s; ` +
      `${beforeAck} claims arrived before their 201 (negative values); ` +
      `producer fell behind its pace ${paceMissed} times; ${errors} errors`,
  );
  if (errors > 0 || claimed.size < total) process.exitCode = 1;
}

await main();
