/**
 * Smoke test of examples/shop, run as its README says: a `tasques serve` process, the app's commands,
 * and its three workers (TypeScript, Python and Go, the latter two on generated clients). The server has
 * bearer tokens, as its README's "With auth" says: the app's (role all) and the workers' (role worker).
 */
import { createHash, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RecurringTask, Task } from '../../src/client/index.js';
import {
  childEnv,
  generateWorkers,
  polyglotSkipReason,
  PYTHON,
  REPO,
  run,
  startServerProcess,
  TSX_IMPORT,
  type GeneratedWorkers,
  type RunningProcess,
} from './toolchain.js';

const skip = polyglotSkipReason();
const APP = join(REPO, 'examples', 'shop', 'app.ts');
const APP_TOKEN = `tq_${randomBytes(32).toString('base64url')}`;
const WORKER_TOKEN = `tq_${randomBytes(32).toString('base64url')}`;
const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');
const TS_WORKER = join(REPO, 'examples', 'shop', 'worker.ts');

describe('examples/shop', { skip }, () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof startServerProcess>>;
  let workers: GeneratedWorkers;
  let env: NodeJS.ProcessEnv;
  let workerEnv: NodeJS.ProcessEnv;
  const processes: RunningProcess[] = [];

  const app = async (...args: string[]) => {
    const p = run(process.execPath, ['--import', TSX_IMPORT, APP, ...args], { env, cwd: dir });
    processes.push(p);
    const exit = await p.exited;
    return { ...exit, stdout: p.lines.join('\n'), stderr: p.stderr() };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tasques-shop-'));
    workers = generateWorkers();
    server = await startServerProcess(dir, {
      TASQUES_SERVER_TASKS_BACKOFF_BASE: '100ms',
      TASQUES_SERVER_TASKS_BACKOFF_JITTER: '100ms',
      TASQUES_SERVER_RECURRING_RECURRING_TASKS_SYNC_RUN_INTERVAL: '200ms',
      TASQUES_SERVER_AUTH_BEARER_TOKENS: `shop-app:all:${sha256(APP_TOKEN)},shop-workers:worker:${sha256(WORKER_TOKEN)}`,
    });
    env = childEnv({ TASQUES_URL: server.url, OUTBOX: join(dir, 'outbox'), SHOP_STATE: join(dir, 'orders.json'), TASQUES_TOKEN: APP_TOKEN });
    workerEnv = { ...env, TASQUES_TOKEN: WORKER_TOKEN };
  });
  after(async () => {
    for (const p of processes) p.kill();
    server?.process.kill();
    await server?.process.exited;
    workers?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('places orders that workers in three languages finish, with retries, failures and recurring work', async () => {
    // Auth is on: without a token, and with the workers' token, the app is refused.
    const anonymous = await fetch(`${server.url}/tasques/emails/any`);
    assert.equal(anonymous.status, 401);
    const asWorker = await fetch(`${server.url}/recurring_tasques`, { headers: { authorization: `Bearer ${WORKER_TOKEN}` } });
    assert.equal(asWorker.status, 403);
    const scheduled = await app('schedule');
    assert.equal(scheduled.code, 0, scheduled.stderr);
    const placed = await app('place-orders', '8');
    assert.equal(placed.code, 0);
    assert.match(placed.stdout, /placed order-0008/);
    // Placing the same orders again is harmless: ids make enqueueing idempotent.
    assert.equal((await app('place-orders', '8')).code, 0);

    const tsWorker = run(process.execPath, ['--import', TSX_IMPORT, TS_WORKER], { env: { ...workerEnv, WORKER_ID: 'shop-ts' }, cwd: dir });
    const pyWorker = run(PYTHON, [workers.pythonWorker], {
      env: { ...workerEnv, WORKER_ID: 'shop-py', PYTHONPATH: workers.pythonPath, PYTHONUNBUFFERED: '1' },
      cwd: dir,
    });
    const goWorker = run(workers.goWorker, [], { env: { ...workerEnv, WORKER_ID: 'shop-go' }, cwd: dir });
    processes.push(tsWorker, pyWorker, goWorker);

    const waited = await app('wait', '90');
    assert.equal(waited.code, 0, waited.stdout);
    assert.match(waited.stdout, /all 8 orders finished/);
    // The recurring summary runs every 3s; wait for one that saw all 8 receipts.
    await tsWorker.waitForLines((lines) => lines.includes('summary: 8 receipt(s) in the outbox'), 30_000);

    const status = await app('status', '--json');
    assert.equal(status.code, 0);
    const { orders, recurring } = JSON.parse(status.stdout) as {
      orders: Array<{ order_id: string; receipt: Task; invoice: Task; fraud: Task }>;
      recurring: RecurringTask[];
    };
    assert.equal(orders.length, 8);
    for (const [i, o] of orders.entries()) {
      const n = i + 1;
      assert.equal(o.receipt.state, 'done');
      assert.equal(o.receipt.last_claimed?.worker_id, 'shop-ts');
      assert.ok(existsSync(join(dir, 'outbox', `${o.order_id}.eml`)));
      if (n % 5 === 3) {
        // An empty cart: failed, retried once, then dead.
        assert.equal(o.invoice.state, 'dead', o.order_id);
        assert.equal(o.invoice.attempted, 2);
        assert.match(String(o.invoice.last_claimed?.result?.failure?.error), /has no items/);
      } else {
        assert.equal(o.invoice.state, 'done', o.order_id);
        assert.equal(o.invoice.last_claimed?.result?.success?.by, 'python');
      }
      assert.equal(o.fraud.state, 'done', o.order_id);
      assert.equal(o.fraud.last_claimed?.result?.success?.by, 'go');
      assert.equal(o.fraud.attempted, n % 4 === 2 ? 2 : 1, `${o.order_id}: the simulated outage was retried`);
    }
    assert.deepEqual(
      recurring.map((r) => [r.id, r.schedule_expression]),
      [['shop-outbox-summary', '@every 3s']],
    );
    const human = await app('status');
    assert.match(human.stdout, /order-0003\n {2}receipt {2}done: sent to customer3@example.com\n {2}invoice {2}DEAD after 2 attempts/);
    assert.match(human.stdout, /fraud {4}done after 2 attempts: score \d+/);

    for (const w of [tsWorker, pyWorker, goWorker]) w.child.kill('SIGTERM');
    for (const w of [tsWorker, pyWorker, goWorker]) assert.deepEqual(await w.exited, { code: 0, signal: null });
    assert.ok(tsWorker.lines.some((l) => l.startsWith('stopped: ')));
  });
});
