/**
 * Does claim cost grow with the number of tasks waiting? For each backlog size, seed a fresh SQLite
 * file directly (batched INSERTs in large transactions, schema from SqliteStore's migrations), start
 * a real server on it, and time N sequential single claims (amount 1, block_for 0s: one try) each
 * followed by its done. The file is seeded with size + warm-up + N tasks, so at least `size` tasks
 * are waiting throughout the measurement.
 *
 *   npm run bench:backlog -- --sizes 1000,1000000 --claims 1000
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  assertBuilt,
  claimTasks,
  fmtInt,
  fmtMs,
  HttpClient,
  markDone,
  now,
  machineLine,
  numberList,
  parseFlags,
  printProfileTop,
  printTable,
  ROOT,
  startServer,
  type Summary,
  summarize,
} from './lib.js';

const flags = parseFlags('Usage: npm run bench:backlog -- [flags]   (tsx bench/claim-backlog.ts)', {
  sizes: { default: '1000,1000000', help: 'backlog sizes (tasks waiting), comma list' },
  claims: { default: 1_000, help: 'measured claim + done pairs per size' },
  warmup: { default: 200, help: 'claim + done pairs first, not measured' },
  queues: { default: 1, help: 'spread the backlog over this many queues (claims take from the first)' },
  'cpu-prof': { default: false, help: 'profile the server (node --cpu-prof) and print its top self-time functions' },
  keep: { default: false, help: 'keep the seeded database files' },
});

// The seeding uses the store of dist/, the very code the server child runs, so that both agree on the
// schema version even while src/ is ahead of the last build. (Types come from src/.)
assertBuilt();
type SqliteStoreModule = typeof import('../src/store/sqlite/sqlite-store.js');
const { SqliteStore } = (await import(
  pathToFileURL(join(ROOT, 'dist', 'store', 'sqlite', 'sqlite-store.js')).href
)) as SqliteStoreModule;

const QUEUE = 'backlog';
const BATCH = 50_000;

/** Seeds `count` queued, due tasks (priority 0, ascending run_at) and returns how long it took. */
function seed(path: string, count: number, queues: number): number {
  const started = now();
  const store = new SqliteStore({ path }); // creates the schema through the migrations
  const db = store.db;
  db.pragma('synchronous = OFF');
  const insert = db.prepare(
    `INSERT INTO tasks (queue, id, kind, state, priority, run_at, retry_times, attempted, processing_timeout_ns,
       args, context, last_enqueued_at, created_at, modified_at, version)
     VALUES (?, ?, 'noop', 'queued', 0, ?, 25, 0, 1800000000000, ?, NULL, ?, ?, ?, 1)`,
  );
  const insertQueue = db.prepare('INSERT OR IGNORE INTO queues (name) VALUES (?)');
  const queueName = (i: number) => (i === 0 ? QUEUE : `${QUEUE}-${i}`);
  const base = Date.now() - count - 60_000; // all due, in insertion order
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const t = base + i;
      insert.run(queueName(i % queues), `seed-${String(i).padStart(9, '0')}`, t, `{"i":${i}}`, t, t, t);
    }
  });
  db.transaction(() => {
    for (let q = 0; q < queues; q++) insertQueue.run(queueName(q));
  })();
  for (let from = 0; from < count; from += BATCH) batch(from, Math.min(count, from + BATCH));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return now() - started;
}

interface SizeResult {
  size: number;
  seeded: number;
  seedMs: number;
  dbBytes: number;
  claim: Summary;
  done: Summary;
  empty: number;
  errors: number;
}

async function measure(size: number): Promise<SizeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tasques-backlog-'));
  const dbPath = join(dir, 'bench.db');
  // Only the claimed queue loses tasks, so it needs size/queues + warm-up + claims of its own.
  const seeded = size + (flags.warmup + flags.claims) * flags.queues;
  try {
    const seedMs = seed(dbPath, seeded, flags.queues);
    const dbBytes = statSync(dbPath).size;
    console.log(`  size ${fmtInt(size)}: seeded ${fmtInt(seeded)} tasks in ${(seedMs / 1000).toFixed(1)} s (${(dbBytes / 2 ** 20).toFixed(0)} MiB)`);
    const server = await startServer({ dbPath, cpuProf: flags['cpu-prof'] });
    const client = new HttpClient(server.url);
    const claimMs: number[] = [];
    const doneMs: number[] = [];
    let empty = 0;
    let errors = 0;
    let profile: string | undefined;
    try {
      const deadline = now() + 300_000;
      for (let i = 0; i < flags.warmup + flags.claims && now() < deadline && errors <= 20; i++) {
        try {
          const t0 = now();
          const res = await claimTasks(client, 'bench-backlog', [QUEUE], 1, '0s');
          const task = res.body[0];
          if (!task) {
            empty++;
            continue;
          }
          const done = await markDone(client, 'bench-backlog', task);
          if (i >= flags.warmup) {
            claimMs.push(res.at - t0);
            doneMs.push(done.at - res.at);
          }
        } catch (e) {
          errors++;
          if (errors <= 5) console.error(`  error: ${(e as Error).message}`);
        }
      }
    } finally {
      client.close();
      profile = await server.stop();
    }
    if (profile) {
      console.log(`\n== server CPU profile, backlog ${fmtInt(size)} (dir ${server.dir}) ==`);
      printProfileTop(profile, 20);
    }
    return { size, seeded, seedMs, dbBytes, claim: summarize(claimMs), done: summarize(doneMs), empty, errors };
  } finally {
    if (!flags.keep) rmSync(dir, { recursive: true, force: true });
    else console.log(`  kept ${dbPath}`);
  }
}

async function main(): Promise<void> {
  const sizes = numberList(flags.sizes);
  console.log(
    `claim-backlog: sizes ${sizes.map(fmtInt).join(', ')}, ${fmtInt(flags.claims)} claims (+${fmtInt(flags.warmup)} warm-up) ` +
      `of amount 1, block_for 0s, each followed by done; ${flags.queues} queue(s)`,
  );
  console.log(machineLine());
  const results: SizeResult[] = [];
  for (const size of sizes) results.push(await measure(size));

  const first = results[0];
  const last = results[results.length - 1];
  const showRatio = results.length > 1 && first !== undefined && last !== undefined;
  const headers = ['', ...results.map((r) => `${fmtInt(r.size)} waiting`), ...(showRatio ? ['ratio last/first'] : [])];
  const metric = (label: string, pick: (r: SizeResult) => number, fmt: (n: number) => string = fmtMs, ratio = true) => [
    label,
    ...results.map((r) => fmt(pick(r))),
    ...(showRatio ? [ratio ? `${(pick(last) / pick(first)).toFixed(2)}×` : ''] : []),
  ];
  printTable(
    headers,
    [
      metric('claim p50 (ms)', (r) => r.claim.p50),
      metric('claim p90 (ms)', (r) => r.claim.p90),
      metric('claim p99 (ms)', (r) => r.claim.p99),
      metric('claim max (ms)', (r) => r.claim.max),
      metric('done p50 (ms)', (r) => r.done.p50),
      metric('done p99 (ms)', (r) => r.done.p99),
      metric('claims measured', (r) => r.claim.count, fmtInt, false),
      metric('empty claims', (r) => r.empty, fmtInt, false),
      metric('seed time (s)', (r) => r.seedMs / 1000, (n) => n.toFixed(1), false),
      metric('database (MiB)', (r) => r.dbBytes / 2 ** 20, (n) => n.toFixed(0), false),
    ],
    'Claim latency (client-side round trip, one connection, sequential) by backlog size',
  );
  if (results.some((r) => r.errors > 0 || r.empty > 0)) process.exitCode = 1;
}

await main();
