/**
 * The shop's TypeScript worker (tasques/worker): sends receipts (writes them to the outbox directory)
 * and, on the recurring schedule, summarises the outbox. Stops gracefully on SIGTERM / SIGINT.
 *
 *   npx tsx examples/shop/worker.ts
 *
 * Environment: TASQUES_URL (default http://localhost:8080), TASQUES_TOKEN (a bearer token with the `worker`
 * role, when the server has auth), OUTBOX (default ./outbox).
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'tasques/worker';

const outbox = process.env.OUTBOX ?? 'outbox';
await mkdir(outbox, { recursive: true });

const worker = new Worker({
  client: { baseUrl: process.env.TASQUES_URL ?? 'http://localhost:8080', bearerToken: process.env.TASQUES_TOKEN || undefined },
  workerId: process.env.WORKER_ID,
  concurrency: 4,
  handleSignals: true,
  gracePeriodMs: 10_000,
  handlers: {
    emails: {
      'send-receipt': async (task) => {
        const { order_id: orderId, email } = task.args as { order_id: string; email: string };
        // Idempotent: the file is named after the order, so a second delivery rewrites the same receipt.
        const file = join(outbox, `${orderId}.eml`);
        await writeFile(file, `To: ${email}\nSubject: Your order ${orderId}\n\nThank you for your order!\n`);
        return { to: email, file };
      },
    },
    reports: {
      'outbox-summary': async () => {
        const receipts = (await readdir(outbox)).filter((f) => f.endsWith('.eml')).length;
        console.log(`summary: ${receipts} receipt(s) in the outbox`);
        return { receipts, at: new Date().toISOString() };
      },
    },
  },
});

worker.on('taskDone', (task) => console.log(`done ${task.queue}/${task.id}`));
worker.on('taskFailed', (task, error) => console.log(`failed ${task.queue}/${task.id}: ${String(error)}`));
worker.on('retrying', ({ operation, error, delayMs }) =>
  console.warn(`${operation} failed (${String(error)}); retrying in ${Math.round(delayMs)}ms`),
);
worker.on('stopped', (summary) => console.log(`stopped: ${JSON.stringify(summary)}`));
console.log(`shop worker ${worker.workerId} started`);
await worker.run();
