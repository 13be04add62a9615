/**
 * The hot-path cost of the charts' activity recorder (docs/design/queue-series.md): CPU per task of the
 * three events a task's life gives it (created, claimed, done), counted in memory, plus the flushes to a
 * real SQLite file at the configured interval's pace. Compare with `server µs/task` of `npm run bench`.
 *
 *   npx tsx bench/queue-activity.ts [--tasks 1000000] [--queues 20]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { QueueActivityRecorder } from '../src/observability/queue-activity.js';
import { ManualClock } from '../src/service/clock.js';
import { silentLogger } from '../src/service/logger.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Task } from '../src/types/index.js';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '1000000' }, queues: { type: 'string', default: '20' } } });
const N = Number(values.tasks);
const Q = Number(values.queues);
const dir = mkdtempSync(join(tmpdir(), 'tasques-bench-activity-'));
const store = new SqliteStore({ path: join(dir, 'bench.db') });
const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
const recorder = new QueueActivityRecorder({ store, clock, logger: silentLogger, serverId: 'bench' });

const base: Task = {
  queue: 'q0',
  id: 'x',
  kind: 'k',
  state: 'queued',
  priority: 0,
  runAt: clock.now(),
  retryTimes: 0,
  attempted: 0,
  processingTimeoutNs: 1,
  lastEnqueuedAt: clock.now(),
  createdAt: clock.now(),
  modifiedAt: clock.now(),
  version: { seqNum: 1, primaryTerm: 1 },
};
const queues = Array.from({ length: Q }, (_, i) => `q${i}`);
const tasks = queues.map((queue) => ({ ...base, queue }));
const claimedTasks = tasks.map((t) => ({ ...t, state: 'claimed' as const, lastClaimed: { workerId: 'w', claimedAt: t.runAt + 7, timesOutAt: t.runAt + 60_000 } }));
const doneTasks = claimedTasks.map((t) => ({ ...t, state: 'done' as const }));

// 10 000 tasks per simulated second: a flush every 100 000 tasks is the 10 s interval at that rate.
const FLUSH_EVERY = 100_000;
const cpu0 = process.cpuUsage();
let flushCpuUs = 0;
for (let i = 0; i < N; i++) {
  const k = i % Q;
  recorder.taskChanged(tasks[k] as Task, undefined);
  recorder.claimed([claimedTasks[k] as Task], 0);
  recorder.taskChanged(doneTasks[k] as Task, claimedTasks[k]);
  if (i % 10 === 0) clock.advance(1);
  if ((i + 1) % FLUSH_EVERY === 0) {
    const f0 = process.cpuUsage();
    await recorder.flush();
    const f = process.cpuUsage(f0);
    flushCpuUs += f.user + f.system;
  }
}
await recorder.flush();
const cpu = process.cpuUsage(cpu0);
const totalUs = cpu.user + cpu.system;
console.log(`queue activity recorder: ${N.toLocaleString()} tasks over ${Q} queues (created + claimed + done each); node ${process.version}`);
console.log(`  CPU ${(totalUs / 1000).toFixed(0)} ms in all: ${(totalUs / N).toFixed(3)} µs/task, of which flushes ${(flushCpuUs / N).toFixed(3)} µs/task (${Math.ceil(N / FLUSH_EVERY)} flushes)`);
await store.close();
rmSync(dir, { recursive: true, force: true });
