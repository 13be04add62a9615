/**
 * What the auth costs per request (docs/auth.md): CPU microseconds per `GET /whoami` (a route that does
 * almost nothing else) through Fastify's inject, in one process, without auth and with 1 or 100 basic
 * users or bearer tokens (every credential is compared on each request, in constant time), plus a 403.
 * The difference to "no auth" is the auth's cost; inject's own cost is in every row.
 *
 *   npx tsx bench/auth-cost.ts [--requests 20000]
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { validateConfig } from '../src/config/load.js';
import { createServer } from '../src/server/server.js';
import { machineLine } from './lib.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '20000' } } });
const REQUESTS = Math.min(1_000_000, Math.max(100, Number(values.requests)));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const basic = (name: string, password: string) => `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;

const users = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `user-${i}`, password: `password-${i}`, role: 'read' }));
const tokens = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `token-${i}`, role: 'read', sha256: sha256(`tq_token-${i}`) }));

const CASES: { name: string; auth: Record<string, unknown>; url: string; authorization?: string; status: number }[] = [
  { name: 'no auth', auth: {}, url: '/whoami', status: 200 },
  { name: '1 basic user', auth: { basic_auth: users(1) }, url: '/whoami', authorization: basic('user-0', 'password-0'), status: 200 },
  { name: '100 basic users', auth: { basic_auth: users(100) }, url: '/whoami', authorization: basic('user-99', 'password-99'), status: 200 },
  { name: '1 bearer token', auth: { bearer_tokens: tokens(1) }, url: '/whoami', authorization: 'Bearer tq_token-0', status: 200 },
  { name: '100 bearer tokens', auth: { bearer_tokens: tokens(100) }, url: '/whoami', authorization: 'Bearer tq_token-99', status: 200 },
  { name: '100 tokens, 403', auth: { bearer_tokens: tokens(100) }, url: '/queues/q/pause', authorization: 'Bearer tq_token-99', status: 403 },
];

console.log(machineLine());
console.log(`${REQUESTS} requests per case`);
console.log('case                  µs CPU/request (second pass; the first warms the JIT)');
for (const [pass, c] of [...CASES.map((c) => [1, c] as const), ...CASES.map((c) => [2, c] as const)]) {
  const dir = mkdtempSync(join(tmpdir(), 'tasques-bench-auth-'));
  const config = validateConfig({ logging: { level: 'silent' }, auth: c.auth, store: { sqlite: { path: join(dir, 'bench.db') } } });
  const server = await createServer(config, { listen: false, leadership: false });
  try {
    const request = {
      method: c.url === '/whoami' ? ('GET' as const) : ('PUT' as const),
      url: c.url,
      headers: c.authorization === undefined ? {} : { authorization: c.authorization },
    };
    for (let i = 0; i < 500; i++) await server.app.inject(request); // warm-up
    const start = process.cpuUsage();
    for (let i = 0; i < REQUESTS; i++) {
      const res = await server.app.inject(request);
      if (res.statusCode !== c.status) throw new Error(`${c.name}: ${res.statusCode} ${res.body}`);
    }
    const used = process.cpuUsage(start);
    if (pass === 2) console.log(`${c.name.padEnd(22)}${((used.user + used.system) / REQUESTS).toFixed(1).padStart(8)}`);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
