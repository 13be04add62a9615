/**
 * The cost of flow control on SQLite (issue 15): CPU time per claimed task, claim and done, through the
 * engine over a SqliteStore in this process (no HTTP, so that the store's share is not drowned), for
 * tasks with no key, 1, 100 and 10 000 concurrency keys, with limits off and on. "On" sets limits that
 * never bind (queue and per-key concurrency and rates far above what runs), so the figures are the cost
 * of checking them, not of waiting on them. A last row adds 10 000 idle keys (named overrides and rate
 * buckets, no waiting task) to a one-key queue: a claim's cost must not grow with them.
 *
 *   npm run bench:flow -- --tasks 20000 --amount 1
 *
 * Each scenario: a fresh file, `tasks` tasks created in batches of 500 (keys round-robin), then claims
 * of `amount` each followed by done for every task, until all are done or `--seconds` pass. CPU time is
 * process.cpuUsage (user + system) over the claim/done loop only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskEngine } from '../src/engine/task-engine.js';
import { SERVER_DEFAULT_SETTINGS } from '../src/store-conformance/helpers.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../src/service/clock.js';
import type { QueueLimits } from '../src/types/index.js';
import { fmtInt, machineLine, now, parseFlags, printTable } from './lib.js';

const flags = parseFlags('Usage: npm run bench:flow -- [flags]   (tsx bench/flow-control.ts)', {
  tasks: { default: 20_000, help: 'tasks per scenario (at least 2 per key for 10 000 keys)' },
  amount: { default: 1, help: 'amount of each claim' },
  seconds: { default: 20, help: 'bound of the claim/done loop of one scenario' },
  keys: { default: '0,1,100,10000', help: 'concurrency-key counts (0: tasks without a key), comma list' },
});

const QUEUE = 'bench';
const WORKER = 'bench-worker';

/** Limits far above what this single loop can run: checked on every claim, never binding. */
const NON_BINDING: QueueLimits = {
  queue: { concurrency: 1_000_000, rate: { count: 1_000_000, perMs: 1000, burst: 1_000_000 } },
  perKey: { concurrency: 1_000_000, rate: { count: 1_000_000, perMs: 1000, burst: 1_000_000 } },
};

interface Result {
  label: string;
  tasks: number;
  cpuUsPerTask: number;
  claimUsPerTask: number;
  wallTasksPerSec: number;
}

async function scenario(label: string, keys: number, limits: QueueLimits | undefined, idleKeys = 0): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'tasques-bench-flow-'));
  const store = new SqliteStore({ path: join(dir, 'bench.db') });
  const engine = new TaskEngine(store, { ...SERVER_DEFAULT_SETTINGS, defaultBlockForMs: 0 }, systemClock);
  try {
    if (idleKeys > 0) {
      // Idle keys: named overrides, and rate buckets left by tasks of theirs that came and went (one each,
      // claimed and done), none waiting now.
      const overrides: NonNullable<QueueLimits['keys']> = {};
      for (let k = 0; k < idleKeys; k++) overrides[`idle-${k}`] = { concurrency: 5, rate: { count: 10, perMs: 1000, burst: 10 } };
      await store.queueLimitsSet({ queue: QUEUE, limits: { ...NON_BINDING, keys: overrides }, now: Date.now() });
      for (let i = 0; i < idleKeys; i += 500) {
        const idle = Array.from({ length: Math.min(500, idleKeys - i) }, (_, k) => `idle-${i + k}`);
        await engine.createTasks(idle.map((key) => ({ queue: QUEUE, kind: 'k', concurrencyKey: key, rateKey: key })));
      }
      for (let rounds = 0; rounds < idleKeys; rounds++) {
        const claimed = await engine.claimTasks({ queues: [QUEUE], workerId: WORKER, amount: 1000, blockForMs: 0 });
        if (claimed.length === 0) break;
        for (const t of claimed) await engine.markDone(t.queue, t.id, WORKER, undefined);
      }
    } else if (limits !== undefined) {
      await store.queueLimitsSet({ queue: QUEUE, limits, now: Date.now() });
    }
    const total = Math.max(flags.tasks, keys * 2);
    for (let i = 0; i < total; i += 500) {
      const batch = [];
      for (let j = i; j < Math.min(total, i + 500); j++) {
        const key = keys === 0 ? undefined : `customer-${String(j % keys).padStart(5, '0')}`;
        batch.push({ queue: QUEUE, kind: 'k', concurrencyKey: key, rateKey: limits === undefined ? undefined : key });
      }
      await engine.createTasks(batch);
    }
    let done = 0;
    let claimCpuUs = 0;
    const deadline = now() + flags.seconds * 1000;
    const startedAt = now();
    const cpuBefore = process.cpuUsage();
    while (now() < deadline) {
      const claimCpu = process.cpuUsage();
      const claimed = await engine.claimTasks({ queues: [QUEUE], workerId: WORKER, amount: flags.amount, blockForMs: 0 });
      const claimUsage = process.cpuUsage(claimCpu);
      claimCpuUs += claimUsage.user + claimUsage.system;
      if (claimed.length === 0) break;
      for (const t of claimed) await engine.markDone(t.queue, t.id, WORKER, undefined);
      done += claimed.length;
    }
    const cpu = process.cpuUsage(cpuBefore);
    const wallMs = now() - startedAt;
    return {
      label,
      tasks: done,
      cpuUsPerTask: (cpu.user + cpu.system) / Math.max(1, done),
      claimUsPerTask: claimCpuUs / Math.max(1, done),
      wallTasksPerSec: (done / wallMs) * 1000,
    };
  } finally {
    engine.shutdown();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`flow-control bench (SQLite store through the engine, in process): ${machineLine()}`);
console.log(`tasks ${flags.tasks}, amount ${flags.amount}, at most ${flags.seconds}s per scenario`);
const results: Result[] = [];
const keyCounts = flags.keys.split(',').map((k) => Number(k.trim()));
for (const keys of keyCounts) {
  for (const on of [false, true]) {
    const label = `${keys === 0 ? 'no key' : `${fmtInt(keys)} key${keys === 1 ? '' : 's'}`}, limits ${on ? 'on' : 'off'}`;
    results.push(await scenario(label, keys, on ? NON_BINDING : undefined));
    console.log(`  done: ${label}`);
  }
}
results.push(await scenario('1 key + 10,000 idle keys, limits on', 1, NON_BINDING, 10_000));
printTable(
  ['scenario', 'tasks', 'CPU µs/task (claim+done)', 'of which claim', 'tasks/s (wall)'],
  results.map((r) => [r.label, fmtInt(r.tasks), r.cpuUsPerTask.toFixed(1), r.claimUsPerTask.toFixed(1), fmtInt(r.wallTasksPerSec)]),
  'CPU time per task (lower is better)',
);
console.log(`\n${machineLine()}`);
