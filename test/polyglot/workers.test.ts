/**
 * A Python worker and a Go worker, each on a client generated from openapi.json (openapi-python-client,
 * oapi-codegen), process tasks enqueued through the TypeScript client against a real `tasques serve`
 * process. They are the shop example's workers (examples/shop).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TasquesClient, type Task } from '../../src/client/index.js';
import {
  childEnv,
  generateWorkers,
  polyglotSkipReason,
  PYTHON,
  run,
  startServerProcess,
  type GeneratedWorkers,
  type RunningProcess,
} from './toolchain.js';

const skip = polyglotSkipReason();

describe('workers in other languages, on generated clients', { skip }, () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof startServerProcess>>;
  let client: TasquesClient;
  let workers: GeneratedWorkers;
  const processes: RunningProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tasques-polyglot-'));
    workers = generateWorkers();
    // Short backoff so that a failed task is retried within the test.
    server = await startServerProcess(dir, { TASQUES_SERVER_TASKS_BACKOFF_BASE: '50ms', TASQUES_SERVER_TASKS_BACKOFF_JITTER: '50ms' });
    client = new TasquesClient({ baseUrl: server.url });
  });
  after(async () => {
    for (const p of processes) p.kill();
    server?.process.kill();
    await server?.process.exited;
    workers?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Python: renders invoices, fails a bad order, reports in, stops on SIGTERM', async () => {
    const orders = [1, 2, 3, 4].map((n) => ({
      order_id: `py-${n}`,
      tax_rate: 0.2,
      items: [
        { sku: 'mug', qty: n, price_cents: 1250 },
        { sku: 'tea', qty: 1, price_cents: 499 },
      ],
    }));
    const tasks = await Promise.all(
      orders.map((order) => client.createTask({ queue: 'invoices', kind: 'render-invoice', id: order.order_id, args: order })),
    );
    const bad = await client.createTask({
      queue: 'invoices',
      kind: 'render-invoice',
      id: 'py-empty',
      retry_times: 0,
      args: { order_id: 'py-empty', items: [] },
    });
    const worker = run(PYTHON, [workers.pythonWorker], {
      env: childEnv({ TASQUES_URL: server.url, WORKER_ID: 'py-test', PYTHONPATH: workers.pythonPath, PYTHONUNBUFFERED: '1' }),
    });
    processes.push(worker);
    await worker.waitForLines((lines) => lines.filter((l) => /^(done|failed) /.test(l)).length >= 5, 60_000);
    worker.child.kill('SIGTERM');
    assert.deepEqual(await worker.exited, { code: 0, signal: null });

    assert.deepEqual(worker.lines.filter((l) => l.startsWith('failed ')), ['failed invoices/py-empty']);
    for (const [i, created] of tasks.entries()) {
      const t = await client.getTask('invoices', created.id);
      const n = i + 1;
      const net = n * 1250 + 499;
      const tax = Math.round(net * 0.2);
      assert.equal(t.state, 'done');
      assert.equal(t.last_claimed?.worker_id, 'py-test');
      assert.deepEqual(t.last_claimed?.last_report?.data, { stage: 'rendering', by: 'python' });
      assert.deepEqual(t.last_claimed?.result?.success, {
        invoice_number: `INV-py-${n}`,
        lines: [
          { sku: 'mug', qty: n, amount_cents: n * 1250 },
          { sku: 'tea', qty: 1, amount_cents: 499 },
        ],
        net_cents: net,
        tax_cents: tax,
        total_cents: net + tax,
        by: 'python',
      });
    }
    const dead = await client.getTask('invoices', bad.id);
    assert.equal(dead.state, 'dead');
    assert.deepEqual(dead.last_claimed?.result?.failure, { error: 'order py-empty has no items', name: 'ValueError', by: 'python' });
  });

  it('Go: scores orders, fails once on a simulated outage and succeeds on the retry, stops on SIGTERM', async () => {
    const orders = [
      { order_id: 'go-1', amount_cents: 4200, country: 'FR', email: 'ada@example.com' },
      { order_id: 'go-2', amount_cents: 99_000, country: 'BR', email: 'bob@example.com' },
      { order_id: 'go-3', amount_cents: 1500, country: 'US', email: 'cy@example.com' },
      { order_id: 'go-flaky', amount_cents: 2500, country: 'DE', email: 'dee@example.com', simulate_outage: true },
    ];
    for (const order of orders) {
      await client.createTask({ queue: 'fraud', kind: 'score-order', id: order.order_id, args: order, retry_times: 3 });
    }
    const worker = run(workers.goWorker, [], { env: childEnv({ TASQUES_URL: server.url, WORKER_ID: 'go-test' }) });
    processes.push(worker);
    await worker.waitForLines((lines) => lines.filter((l) => l.startsWith('done ')).length >= 4, 60_000);
    worker.child.kill('SIGTERM');
    assert.deepEqual(await worker.exited, { code: 0, signal: null });
    assert.deepEqual(worker.lines.filter((l) => l.startsWith('failed ')), ['failed fraud/go-flaky']);

    for (const order of orders) {
      const t: Task = await client.getTask('fraud', order.order_id);
      assert.equal(t.state, 'done', order.order_id);
      const expectedAttempt = order.simulate_outage ? 2 : 1;
      assert.equal(t.attempted, expectedAttempt);
      const score = expectedScore(order);
      assert.deepEqual(t.last_claimed?.result?.success, {
        score,
        decision: score >= 70 ? 'review' : 'approve',
        by: 'go',
        attempt: expectedAttempt,
      });
      assert.deepEqual(t.last_claimed?.last_report?.data, { stage: 'scoring', by: 'go' });
    }
  });
});

/** The Go worker's Score, recomputed here: FNV-1a of the email, amount and country rules. */
function expectedScore(order: { amount_cents: number; country: string; email: string }): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(order.email)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  let score = Math.trunc(order.amount_cents / 1000) + (hash % 20);
  if (!['FR', 'DE', 'US'].includes(order.country)) score += 30;
  return Math.min(score, 99);
}
