// CPU per task of the SQLite store's hot path, driven directly (no HTTP): 20 000 creates one by one, claims
// of 100 over 4 queues (named, or `queues: []` with "all"), done in batches of 100. For comparing builds:
//   npm run build && node bench/sqlite-store-cpu.mjs "$PWD" [all]
//   node bench/sqlite-store-cpu.mjs /path/to/earlier/build [all]     (a folder with dist/ and node_modules/)
// The database lives in /dev/shm. Figures are process CPU time (user + system) divided by the task count.
import { rmSync } from 'node:fs';
const root = process.argv[2];
const all = process.argv[3] === 'all';
const { SqliteStore } = await import(`${root}/dist/store/sqlite/sqlite-store.js`);
const path = `/dev/shm/e-hot-${process.pid}.db`;
const s = new SqliteStore({ path });
const N = 20000, T = Date.now();
const rec = (i) => ({ queue: `q${i % 4}`, id: `t${i}`, kind: 'k', state: 'queued', priority: 0, runAt: T, retryTimes: 3, attempted: 0, processingTimeoutNs: 60e9, lastEnqueuedAt: T, createdAt: T, modifiedAt: T, args: { n: i } });
const c0 = process.cpuUsage();
for (let i = 0; i < N; i++) await s.taskCreate({ task: rec(i) });
const c1 = process.cpuUsage();
let claimed = 0;
const queues = all ? [] : ['q0', 'q1', 'q2', 'q3'];
const batches = [];
for (;;) { const got = await s.taskClaim({ queues, amount: 100, workerId: 'w', now: T + 1 }); if (got.length === 0) break; claimed += got.length; batches.push(got); }
const c2 = process.cpuUsage();
for (const b of batches) await s.taskUpdateMany({ updates: b.map((t) => ({ task: { ...t, state: 'done', modifiedAt: T + 2 }, expectedVersion: t.version })) });
const c3 = process.cpuUsage();
const us = (a, b) => ((b.user + b.system - a.user - a.system) / N).toFixed(1);
console.log(`${root.split('/').pop()} ${all ? 'all' : 'named'}: create ${us(c0, c1)} µs, claim ${us(c1, c2)} µs, done ${us(c2, c3)} µs per task (${claimed} claimed)`);
await s.close(); rm(path);
function rm(p) { for (const x of ['', '-wal', '-shm']) rmSync(p + x, { force: true }); }
