// CPU per failed attempt with the error history on and off, on the SQLite store through the engine (no
// HTTP): 2 000 tasks, each claimed and failed 12 times (so a full history of 10 is carried and trimmed),
// with a failure of about `--failure-bytes` of JSON (default 600: a message and a short stack). Then the
// claim and done of each, to show what a task carrying its history costs afterwards.
//   npm run build && node bench/error-history-cpu.mjs "$PWD" [failure-bytes]
// The database lives in /dev/shm. Figures are process CPU time (user + system) per operation; run each
// setting a few times on a shared machine and compare medians.
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';

const root = process.argv[2] ?? process.cwd();
const failureBytes = Number(process.argv[3] ?? 600);
const { SqliteStore } = await import(`${root}/dist/store/sqlite/sqlite-store.js`);
const { TaskEngine } = await import(`${root}/dist/engine/task-engine.js`);
const { ManualClock } = await import(`${root}/dist/service/clock.js`);
const { defaultSettings } = await import(`${root}/dist/store-conformance/helpers.js`);

const N = 2000;
const ROUNDS = 12;
const HOUR = 3_600_000;
const failure = { error: 'upstream answered 503', stack: 'x'.repeat(Math.max(0, failureBytes - 50)) };

async function run(keep) {
  const path = `/dev/shm/tq-history-${process.pid}-${keep}.db`;
  const store = new SqliteStore({ path });
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const settings = defaultSettings({ errorHistory: { keep, maxEntryBytes: 8192 } });
  const engine = new TaskEngine(store, settings, clock, () => 0.5);
  await engine.createTasks(Array.from({ length: N }, (_, i) => ({ queue: 'q', kind: 'k', id: `t${i}`, retryTimes: ROUNDS })));
  let failCpu = 0;
  let fails = 0;
  const claimAll = async () => {
    const all = [];
    for (;;) {
      const got = await engine.claimTasks({ queues: ['q'], workerId: 'w', amount: 500, blockForMs: 0 });
      if (got.length === 0) return all;
      all.push(...got);
    }
  };
  for (let round = 0; round < ROUNDS; round++) {
    const claimed = await claimAll();
    const c0 = process.cpuUsage();
    for (const t of claimed) await engine.markFailed('q', t.id, 'w', failure);
    const c = process.cpuUsage(c0);
    failCpu += c.user + c.system;
    fails += claimed.length;
    clock.advance(1000 * HOUR); // past every backoff
  }
  const c1 = process.cpuUsage();
  const last = await claimAll();
  const c2 = process.cpuUsage();
  for (const t of last) await engine.markDone('q', t.id, 'w', { ok: true });
  const c3 = process.cpuUsage();
  const us = (a, b, n) => ((b.user + b.system - a.user - a.system) / n).toFixed(1);
  const sample = await store.taskGet({ queue: 'q', id: 't0' });
  console.log(
    `keep ${String(keep).padStart(2)}: fail ${(failCpu / fails).toFixed(1)} µs (${fails} fails), then claim ${us(c1, c2, last.length)} µs, done ${us(c2, c3, last.length)} µs per task; history kept ${sample?.errorHistory?.length ?? 0} entries`,
  );
  engine.shutdown();
  await store.close();
  for (const x of ['', '-wal', '-shm']) rmSync(path + x, { force: true });
}

console.log(`node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, failure ~${failureBytes} B of JSON`);
for (const keep of [0, 10, 0, 10]) await run(keep);
