/**
 * What a claim's queue list costs per poll (issue 12 item 2): CPU time of single-poll claims
 * (block_for 0s, nothing claimable) naming 1 to 1 000 queues, the limit, and of the refused claim naming
 * 100 000 (a ~1 MB body, answered 400 before any poll). In-process server on a temp SQLite file,
 * driven with Fastify inject; CPU time of this process per claim.
 *
 *   npx tsx bench/claim-queue-list.ts [claims per size, default 200]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../src/config/load.js';
import { createServer } from '../src/server/server.js';

const claims = Number(process.argv[2] ?? 200);
const dir = mkdtempSync(join(tmpdir(), 'tasques-bench-queues-'));
const server = await createServer(
  validateConfig({ logging: { level: 'silent' }, store: { sqlite: { path: join(dir, 'tasques.db') } } }),
  { listen: false, leadership: false },
);
try {
  console.log(`claims per size: ${claims}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('queues named | status | CPU µs per claim');
  for (const n of [1, 10, 100, 1000, 100_000]) {
    const payload = JSON.stringify({ queues: Array.from({ length: n }, (_, i) => (n > 1000 ? `q${i}` : `queue-${i}`)), block_for: '0s' });
    const runs = n > 1000 ? Math.max(5, Math.floor(claims / 20)) : claims;
    let status = 0;
    for (let i = 0; i < 5; i++) await claim(); // warm-up
    const before = process.cpuUsage();
    for (let i = 0; i < runs; i++) status = await claim();
    const cpu = process.cpuUsage(before);
    console.log(`${String(n).padStart(12)} | ${status}    | ${((cpu.user + cpu.system) / runs).toFixed(0).padStart(8)}`);

    async function claim(): Promise<number> {
      const res = await server.app.inject({
        method: 'POST',
        url: '/tasques/claims',
        headers: { 'content-type': 'application/json', 'x-tasques-worker-id': 'bench' },
        payload,
      });
      return res.statusCode;
    }
  }
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
