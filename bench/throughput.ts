/**
 * End-to-end throughput over HTTP against a real server child process:
 * P producers POST /tasques (one task per call) while W workers claim (long poll, `amount` A) and
 * PUT /tasques/done each claimed task. One fresh server and database per claim amount.
 *
 *   npm run bench -- --tasks 20000 --producers 4 --workers 8 --amount 1,100
 *
 * Figures: enqueue rate (tasks / time from the first create sent to the last create acknowledged),
 * processed rate (tasks / time from the first create sent to the last done acknowledged), and
 * pick-up latency per task: from the create's 201 arriving at the producer to the claim response
 * carrying the task arriving at the worker (both clocks are this process's performance.now()).
 */
import {
  claimTasks,
  createTask,
  createTasks,
  fmtInt,
  fmtMs,
  HttpClient,
  markDone,
  markDoneMany,
  type TaskJson,
  now,
  numberList,
  machineLine,
  parseFlags,
  printProfileTop,
  printTable,
  processCpuMs,
  startServer,
  type Summary,
  summarize,
} from './lib.js';

const flags = parseFlags('Usage: npm run bench -- [flags]   (tsx bench/throughput.ts)', {
  tasks: { default: 20_000, help: 'tasks per run' },
  producers: { default: 4, help: 'concurrent producer loops (one connection each)' },
  workers: { default: 8, help: 'concurrent worker loops (one connection each)' },
  amount: { default: '1,100', help: 'claim amounts, one run each (comma list)' },
  'block-for': { default: '1s', help: 'block_for of each claim' },
  batch: { default: 1, help: '>1: producers enqueue this many tasks per POST /tasques/batch, workers complete each claim with one PUT /tasques/done' },
  warmup: { default: 1_000, help: 'tasks pushed through first on another queue, not measured' },
  timeout: { default: 300, help: 'seconds before a run gives up' },
  'db-dir': { default: '', help: 'directory for the server\'s tmp dir and database (default: OS tmp dir; try /dev/shm)' },
  'cpu-prof': { default: false, help: 'profile the server (node --cpu-prof) and print its top self-time functions' },
  'null-server': { default: false, help: 'run against bench/null-server.mjs (node:http, no storage): the ceiling of the call pattern' },
});

interface RunResult {
  amount: number;
  tasks: number;
  done: number;
  enqueueMs: number;
  processMs: number;
  claims: number;
  emptyClaims: number;
  duplicates: number;
  errors: number;
  fromAck: Summary;
  fromSend: Summary;
  serverSide: Summary;
  claimBeforeAck: number;
  /** Largest (tasks acknowledged as created − tasks received by workers) seen by the client. */
  maxDepth: number;
  /** Server CPU time over the phase / wall time of the phase (100 % = one core busy). */
  serverCpuPct: number;
  /** The same for this process (all producers and workers). */
  clientCpuPct: number;
  /** Server CPU time per task, in µs: less sensitive to other load on the machine than the rates. */
  serverCpuUsPerTask: number;
  timedOut: boolean;
}

interface PhaseOptions {
  url: string;
  queue: string;
  tasks: number;
  producers: number;
  workers: number;
  amount: number;
  blockFor: string;
  timeoutMs: number;
  serverPid: number | undefined;
  batch: number;
}

async function runPhase(o: PhaseOptions): Promise<RunResult> {
  const sent = new Float64Array(o.tasks);
  const ack = new Map<string, { index: number; at: number }>();
  const claimedAt = new Map<string, { at: number; serverMs: number }>();
  let duplicates = 0;
  let claims = 0;
  let emptyClaims = 0;
  let errors = 0;
  let done = 0;
  let lastCreateAck = 0;
  let lastDoneAck = 0;
  let stopping = false;
  let created = 0;
  let received = 0;
  let maxDepth = 0;
  const deadline = now() + o.timeoutMs;
  const firstError = (e: unknown) => {
    errors++;
    if (errors <= 5) console.error(`  error: ${(e as Error).message}`);
    if (errors > 100) stopping = true;
  };

  const producerClients = Array.from({ length: o.producers }, () => new HttpClient(o.url));
  const workerClients = Array.from({ length: o.workers }, () => new HttpClient(o.url));

  const cpu0 = processCpuMs(o.serverPid);
  const clientCpu0 = process.cpuUsage();
  const t0 = now();
  const producer = async (p: number) => {
    const client = producerClients[p] as HttpClient;
    if (o.batch > 1) {
      // Producer p sends the batches p, p + P, p + 2P, … of `batch` consecutive task indexes.
      for (let start = p * o.batch; start < o.tasks && !stopping && now() < deadline; start += o.producers * o.batch) {
        const indexes = Array.from({ length: Math.min(o.batch, o.tasks - start) }, (_, k) => start + k);
        const at = now();
        for (const i of indexes) sent[i] = at;
        try {
          const res = await createTasks(client, o.queue, indexes.map((i) => ({ i })));
          res.body.results.forEach((r, k) => ack.set(r.task?.id ?? '', { index: indexes[k] as number, at: res.at }));
          created += indexes.length;
          if (created - received > maxDepth) maxDepth = created - received;
          if (res.at > lastCreateAck) lastCreateAck = res.at;
        } catch (e) {
          firstError(e);
        }
      }
      return;
    }
    for (let i = p; i < o.tasks && !stopping && now() < deadline; i += o.producers) {
      sent[i] = now();
      try {
        const res = await createTask(client, o.queue, { i });
        ack.set(res.body.id, { index: i, at: res.at });
        created++;
        if (created - received > maxDepth) maxDepth = created - received;
        if (res.at > lastCreateAck) lastCreateAck = res.at;
      } catch (e) {
        firstError(e);
      }
    }
  };

  const finish = () => {
    stopping = true;
    // Waiting long polls are cut off rather than left to run out.
    for (const c of workerClients) c.close();
  };

  const worker = async (w: number) => {
    const client = workerClients[w] as HttpClient;
    const workerId = `bench-worker-${w}`;
    while (!stopping && done < o.tasks && now() < deadline) {
      let tasks: TaskJson[];
      try {
        const res = await claimTasks(client, workerId, [o.queue], o.amount, o.blockFor);
        tasks = res.body;
        claims++;
        if (tasks.length === 0) emptyClaims++;
        received += tasks.length;
        for (const t of tasks) {
          if (claimedAt.has(t.id)) duplicates++;
          const serverMs = Date.parse(t.last_claimed?.claimed_at ?? '') - Date.parse(t.metadata.created_at);
          claimedAt.set(t.id, { at: res.at, serverMs });
        }
      } catch (e) {
        if (!stopping) firstError(e);
        continue;
      }
      if (o.batch > 1 && tasks.length > 0) {
        try {
          const res = await markDoneMany(client, workerId, tasks);
          done += tasks.length;
          if (res.at > lastDoneAck) lastDoneAck = res.at;
        } catch (e) {
          if (!stopping) firstError(e);
        }
        tasks = [];
      }
      for (const t of tasks) {
        if (stopping) break;
        try {
          const res = await markDone(client, workerId, t);
          done++;
          if (res.at > lastDoneAck) lastDoneAck = res.at;
        } catch (e) {
          if (!stopping) firstError(e);
        }
      }
      if (done >= o.tasks) finish();
    }
  };

  await Promise.all([
    ...Array.from({ length: o.producers }, (_, p) => producer(p)),
    ...Array.from({ length: o.workers }, (_, w) => worker(w)),
  ]);
  finish();
  for (const c of producerClients) c.close();
  const cpu1 = processCpuMs(o.serverPid);
  const phaseMs = Math.max(lastDoneAck, lastCreateAck) - t0;
  const clientCpu = process.cpuUsage(clientCpu0);
  const clientCpuPct = (100 * (clientCpu.user + clientCpu.system)) / 1000 / phaseMs;
  const serverCpuPct = cpu0 === undefined || cpu1 === undefined ? Number.NaN : (100 * (cpu1 - cpu0)) / phaseMs;

  const fromAck: number[] = [];
  const fromSend: number[] = [];
  const serverSide: number[] = [];
  let claimBeforeAck = 0;
  for (const [id, c] of claimedAt) {
    const a = ack.get(id);
    if (!a) continue;
    const d = c.at - a.at;
    if (d < 0) claimBeforeAck++;
    fromAck.push(d);
    fromSend.push(c.at - (sent[a.index] as number));
    if (Number.isFinite(c.serverMs)) serverSide.push(c.serverMs);
  }
  return {
    amount: o.amount,
    tasks: o.tasks,
    done,
    enqueueMs: lastCreateAck - t0,
    processMs: lastDoneAck - t0,
    claims,
    emptyClaims,
    duplicates,
    errors,
    fromAck: summarize(fromAck),
    fromSend: summarize(fromSend),
    serverSide: summarize(serverSide),
    claimBeforeAck,
    maxDepth,
    serverCpuPct,
    clientCpuPct,
    serverCpuUsPerTask: cpu0 === undefined || cpu1 === undefined ? Number.NaN : ((cpu1 - cpu0) * 1000) / Math.max(1, done),
    timedOut: now() >= deadline,
  };
}

async function main(): Promise<void> {
  const amounts = numberList(flags.amount);
  console.log(
    `throughput: ${fmtInt(flags.tasks)} tasks, ${flags.producers} producers, ${flags.workers} workers, ` +
      `block_for ${flags['block-for']}, amounts ${amounts.join(', ')}, warm-up ${fmtInt(flags.warmup)} tasks; ` +
      `node ${process.version}`,
  );
  console.log(machineLine());
  const results: RunResult[] = [];
  for (const amount of amounts) {
    const server = await startServer({
      cpuProf: flags['cpu-prof'],
      tmpRoot: flags['db-dir'] || undefined,
      nullServer: flags['null-server'],
    });
    let profile: string | undefined;
    try {
      const base = {
        url: server.url,
        producers: flags.producers,
        workers: flags.workers,
        amount,
        blockFor: flags['block-for'],
        timeoutMs: flags.timeout * 1000,
        serverPid: server.child.pid,
        batch: flags.batch,
      };
      if (flags.warmup > 0) await runPhase({ ...base, queue: 'bench-warmup', tasks: flags.warmup });
      const r = await runPhase({ ...base, queue: 'bench', tasks: flags.tasks });
      results.push(r);
      console.log(
        `  amount ${amount}: ${fmtInt(r.done)}/${fmtInt(r.tasks)} done in ${(r.processMs / 1000).toFixed(2)} s` +
          `${r.timedOut ? ' (TIMED OUT)' : ''}${r.errors ? `, ${r.errors} errors` : ''}` +
          `${r.duplicates ? `, ${r.duplicates} DUPLICATE claims` : ''}`,
      );
    } finally {
      profile = await server.stop();
    }
    if (profile) {
      console.log(`\n== server CPU profile, amount ${amount} (includes warm-up; dir ${server.dir}) ==`);
      printProfileTop(profile, 25);
    }
  }

  printTable(
    ['amount', 'tasks', 'P', 'W', 'enqueue/s', 'processed/s', 'wall s', 'claims', 'empty', 'tasks/claim', 'max depth', 'server CPU', 'server µs/task', 'bench CPU', 'errors'],
    results.map((r) => [
      String(r.amount),
      fmtInt(r.done),
      flags.producers,
      flags.workers,
      fmtInt((r.tasks / r.enqueueMs) * 1000),
      fmtInt((r.done / r.processMs) * 1000),
      (r.processMs / 1000).toFixed(2),
      fmtInt(r.claims),
      fmtInt(r.emptyClaims),
      (r.done / Math.max(1, r.claims - r.emptyClaims)).toFixed(1),
      fmtInt(r.maxDepth),
      Number.isFinite(r.serverCpuPct) ? `${r.serverCpuPct.toFixed(0)}%` : '-',
      Number.isFinite(r.serverCpuUsPerTask) ? r.serverCpuUsPerTask.toFixed(0) : '-',
      `${r.clientCpuPct.toFixed(0)}%`,
      String(r.errors + r.duplicates),
    ]),
    'Throughput (create → claim → done over HTTP, one create and one done per task)',
  );
  const latencyRow = (label: string, r: RunResult, s: Summary) => [
    `amount ${r.amount}: ${label}`,
    fmtMs(s.p50),
    fmtMs(s.p90),
    fmtMs(s.p99),
    fmtMs(s.max),
    fmtMs(s.min),
  ];
  printTable(
    ['pick-up latency (ms)', 'p50', 'p90', 'p99', 'max', 'min'],
    results.flatMap((r) => [
      latencyRow('create 201 → claim received', r, r.fromAck),
      latencyRow('create sent → claim received', r, r.fromSend),
      latencyRow('server created_at → claimed_at', r, r.serverSide),
    ]),
    'Pick-up latency (server-side figures have 1 ms resolution)',
  );
  for (const r of results) {
    if (r.claimBeforeAck > 0) {
      console.log(
        `note: amount ${r.amount}: ${fmtInt(r.claimBeforeAck)} tasks reached a worker before their 201 reached the producer (negative "201 → claim")`,
      );
    }
  }
  if (results.some((r) => r.timedOut || r.errors > 0 || r.duplicates > 0 || r.done < r.tasks)) process.exitCode = 1;
}

await main();
