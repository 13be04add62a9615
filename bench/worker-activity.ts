/**
 * What noting workers costs the hot path (issue 16, src/engine/worker-activity.ts): CPU time per
 * `WorkerActivity.seen` call (every claim, report-in, done, failed, unclaim calls it once), with 1 and
 * 200 distinct workers, and per `take()` of a 15 s flush. Prints figures; asserts nothing.
 *
 *   npx tsx bench/worker-activity.ts [--calls 2000000]
 */
import { cpus, loadavg } from 'node:os';
import { WorkerActivity } from '../src/engine/worker-activity.js';

const arg = process.argv.indexOf('--calls');
const CALLS = arg > 0 ? Number(process.argv[arg + 1]) : 2_000_000;

console.log(`node ${process.version}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const workers of [1, 200]) {
  const activity = new WorkerActivity();
  const ids = Array.from({ length: workers }, (_, i) => `worker-${i}`);
  const queues = [['emails']];
  // Warm-up, unmeasured.
  for (let i = 0; i < 100_000; i++) activity.seen(ids[i % workers]!, queues[0]!, i);
  activity.take();
  const start = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) activity.seen(ids[i % workers]!, queues[0]!, 1_000_000 + i);
  const used = process.cpuUsage(start);
  const ns = ((used.user + used.system) * 1000) / CALLS;
  const takeStart = process.cpuUsage();
  const taken = activity.take();
  const takeUs = Object.values(process.cpuUsage(takeStart)).reduce((a, b) => a + b, 0);
  console.log(`${workers} worker(s): ${ns.toFixed(1)} ns CPU per seen() over ${CALLS} calls; take() of ${taken.length}: ${takeUs} µs`);
}
