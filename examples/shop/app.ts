/**
 * The shop: an online store's back office that hands slow work to Tasques instead of doing it while
 * the customer waits. Each order becomes three tasks, done by workers in three languages:
 *
 *   queue      kind             worker                   does
 *   emails     send-receipt     worker.ts (TypeScript)   writes the receipt e-mail to the outbox
 *   invoices   render-invoice   worker-python/worker.py  totals the order and renders the invoice
 *   fraud      score-order      worker-go/main.go        scores the order's fraud risk
 *
 * plus a recurring task (`schedule`) that has the TypeScript worker summarise the outbox every few
 * seconds. Usage (from the repository root):
 *
 *   npx tsx examples/shop/app.ts schedule            # create the recurring summary (idempotent)
 *   npx tsx examples/shop/app.ts place-orders 6      # enqueue 6 orders' work (idempotent per order id)
 *   npx tsx examples/shop/app.ts status [--json]     # what happened to every order
 *   npx tsx examples/shop/app.ts wait [seconds]      # until every order's work is finished (exit 1 on timeout)
 *
 * TASQUES_URL says where the server is (default http://localhost:8080); TASQUES_TOKEN, when the server
 * has auth, a bearer token (the app creates tasks and recurring tasks: role `all`, or producer + operator);
 * SHOP_STATE where the app keeps its list of orders (default ./shop-orders.json).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { TasquesClient, type NewTask, type Task } from 'tasques/client';

const client = new TasquesClient({
  baseUrl: process.env.TASQUES_URL ?? 'http://localhost:8080',
  bearerToken: process.env.TASQUES_TOKEN || undefined,
});
/** Where the app keeps its orders: its own "database". */
const STATE_FILE = process.env.SHOP_STATE ?? 'shop-orders.json';

type Order = {
  order_id: string;
  email: string;
  country: string;
  tax_rate: number;
  items: Array<{ sku: string; qty: number; price_cents: number }>;
  amount_cents: number;
};

const CATALOG = [
  { sku: 'mug', price_cents: 1250 },
  { sku: 'tea', price_cents: 499 },
  { sku: 'teapot', price_cents: 3900 },
];
const COUNTRIES = ['FR', 'DE', 'US', 'BR'];

/** A made-up but deterministic order: #3 has an empty cart (its invoice fails for good). */
function makeOrder(n: number): Order {
  const items =
    n % 5 === 3 ? [] : CATALOG.slice(0, 1 + (n % CATALOG.length)).map((p, i) => ({ ...p, qty: 1 + ((n + i) % 3) }));
  return {
    order_id: `order-${String(n).padStart(4, '0')}`,
    email: `customer${n}@example.com`,
    country: COUNTRIES[n % COUNTRIES.length] as string,
    tax_rate: 0.2,
    items,
    amount_cents: items.reduce((sum, item) => sum + item.qty * item.price_cents, 0),
  };
}

/** The three tasks of an order. Their ids are the order id: enqueueing twice is harmless. */
function tasksFor(order: Order): NewTask[] {
  return [
    { queue: 'emails', kind: 'send-receipt', args: { order_id: order.order_id, email: order.email } },
    // An empty cart cannot be invoiced: one retry, then the task is dead.
    { queue: 'invoices', kind: 'render-invoice', retry_times: 1, args: order },
    // Every 4th order hits a (simulated) outage of the scoring service on its first attempt.
    { queue: 'fraud', kind: 'score-order', retry_times: 5, args: { ...order, simulate_outage: Number(order.order_id.slice(-4)) % 4 === 2 } },
  ].map((t) => ({ ...t, id: order.order_id }));
}

async function placeOrders(count: number): Promise<void> {
  for (let n = 1; n <= count; n++) {
    const order = makeOrder(n);
    for (const task of tasksFor(order)) {
      await client.createTask(task, { onConflict: 'return-existing' });
    }
    console.log(`placed ${order.order_id}: ${order.items.length} item(s), ${(order.amount_cents / 100).toFixed(2)}`);
  }
  // Remember the orders (a real app keeps them in its own database).
  writeFileSync(STATE_FILE, JSON.stringify({ count }));
}

async function schedule(): Promise<void> {
  const recurring = await client.createRecurringTask(
    {
      id: 'shop-outbox-summary',
      schedule_expression: '@every 3s',
      // Don't pile up summaries if the worker is down.
      skip_if_outstanding_tasks_exist: true,
      task_definition: { queue: 'reports', kind: 'outbox-summary', processing_timeout: '30s' },
    },
    { onConflict: 'return-existing' },
  );
  console.log(`recurring ${recurring.id}: ${recurring.schedule_expression} → ${recurring.task_definition.queue}`);
}

interface OrderStatus {
  order_id: string;
  receipt: Task | undefined;
  invoice: Task | undefined;
  fraud: Task | undefined;
}

async function orderCount(): Promise<number> {
  return existsSync(STATE_FILE) ? Number((JSON.parse(readFileSync(STATE_FILE, 'utf8')) as { count: number }).count) : 0;
}

async function collect(): Promise<OrderStatus[]> {
  const count = await orderCount();
  const get = (queue: string, id: string) => client.getTask(queue, id).catch(() => undefined);
  const out: OrderStatus[] = [];
  for (let n = 1; n <= count; n++) {
    const id = makeOrder(n).order_id;
    const [receipt, invoice, fraud] = await Promise.all([get('emails', id), get('invoices', id), get('fraud', id)]);
    out.push({ order_id: id, receipt, invoice, fraud });
  }
  return out;
}

const finished = (t: Task | undefined) => t !== undefined && (t.state === 'done' || t.state === 'dead');

function describe(t: Task | undefined, detail: (r: Record<string, unknown>) => string): string {
  if (!t) return 'missing';
  const result = t.last_claimed?.result;
  const tries = t.attempted > 1 ? ` after ${t.attempted} attempts` : '';
  if (t.state === 'done') return `done${tries}: ${detail(result?.success ?? {})}`;
  if (t.state === 'dead') return `DEAD${tries}: ${String(result?.failure?.error ?? '?')}`;
  if (t.state === 'failed') return `failed, retry at ${t.run_at}: ${String(result?.failure?.error ?? '?')}`;
  return t.state;
}

async function status(json: boolean): Promise<void> {
  const orders = await collect();
  const summaries = await client.listRecurringTasks();
  if (json) {
    console.log(JSON.stringify({ orders, recurring: summaries }, null, 2));
    return;
  }
  for (const o of orders) {
    console.log(o.order_id);
    console.log(`  receipt  ${describe(o.receipt, (r) => `sent to ${String(r.to)}`)}`);
    console.log(`  invoice  ${describe(o.invoice, (r) => `${String(r.invoice_number)}, total ${(Number(r.total_cents) / 100).toFixed(2)}`)}`);
    console.log(`  fraud    ${describe(o.fraud, (r) => `score ${String(r.score)} → ${String(r.decision)}`)}`);
  }
  for (const r of summaries) {
    console.log(`recurring ${r.id} (${r.schedule_expression})`);
  }
}

async function wait(seconds: number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const orders = await collect();
    const open = orders.filter((o) => ![o.receipt, o.invoice, o.fraud].every(finished));
    if (orders.length > 0 && open.length === 0) {
      console.log(`all ${orders.length} orders finished`);
      return 0;
    }
    if (Date.now() > deadline) {
      console.error(`still open after ${seconds}s: ${open.map((o) => o.order_id).join(', ')}`);
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const [command = 'status', arg] = process.argv.slice(2);
switch (command) {
  case 'place-orders':
    await placeOrders(Number(arg ?? 6));
    break;
  case 'schedule':
    await schedule();
    break;
  case 'status':
    await status(arg === '--json');
    break;
  case 'wait':
    process.exitCode = await wait(Number(arg ?? 60));
    break;
  default:
    console.error(`unknown command ${command}; see the top of examples/shop/app.ts`);
    process.exitCode = 2;
}
