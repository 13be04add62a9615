#!/usr/bin/env node
// The README's dashboard screenshots: starts a server (the built CLI, on a throwaway SQLite file and a
// free port), gives it a small realistic data set through the public HTTP API, and photographs the
// dashboard with Chromium (/usr/bin/chromium, or CHROMIUM_PATH) through playwright-core:
//   docs/dashboard.png        the queues overview at laptop width
//   docs/dashboard-phone.png  the same at phone width (390 px)
//   docs/dashboard-charts.png the charts view at laptop width (the hour before the data set is filled in
//                             directly into the server's SQLite tables: a picture of an hour takes an hour)
// Usage: npm run build && npm run screenshot
//        npm run screenshot -- --all DIR   also every view (task list, task detail, recurring) at both widths, into DIR
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const allIndex = process.argv.indexOf('--all');
const allDir = allIndex > 0 ? process.argv[allIndex + 1] : undefined;
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`);
  process.exit(1);
}
if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

// ── the server ───────────────────────────────────────────────────────────────────────────────────
const dir = mkdtempSync(join(tmpdir(), 'tasques-screenshot-'));
const server = spawn(process.execPath, [join(root, 'bin', 'tasques.mjs'), 'serve'], {
  cwd: dir,
  env: {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TASQUES_SERVER_'))),
    TASQUES_SERVER_BIND_ADDRESS: '127.0.0.1:0',
    TASQUES_SERVER_STORE_SQLITE_PATH: join(dir, 'tasques.db'),
    // The charts show the data set's own minute at once.
    TASQUES_SERVER_CHARTS_ACTIVITY_FLUSH_INTERVAL: '200ms',
    TASQUES_SERVER_CHARTS_DEPTH_SAMPLE_INTERVAL: '1s',
  },
  stdio: ['ignore', 'ignore', 'pipe'],
});
const cleanup = () => {
  server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);

const base = await new Promise((resolve, reject) => {
  let buffered = '';
  server.stderr.setEncoding('utf8').on('data', (chunk) => {
    buffered += chunk;
    const match = /tasques listening on (http:\/\/[^"\s]+)/.exec(buffered);
    if (match) resolve(match[1]);
  });
  server.on('exit', (code) => reject(new Error(`the server exited (${code}):\n${buffered}`)));
  setTimeout(() => reject(new Error(`the server did not start:\n${buffered}`)), 20_000).unref();
});

// ── the data ─────────────────────────────────────────────────────────────────────────────────────
async function call(method, path, body, workerId) {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(workerId ? { 'x-tasques-worker-id': workerId } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const create = (queue, kind, args, extra = {}) => call('POST', '/tasques', { queue, kind, args, ...extra });
const claim = (queue, workerId, amount) =>
  call('POST', '/tasques/claims', { queues: [queue], amount, block_for: '10ms' }, workerId);
const done = (t, workerId, data) => call('PUT', `/tasques/done/${t.queue}/${t.id}`, { data }, workerId);
const failed = (t, workerId, data) => call('PUT', `/tasques/failed/${t.queue}/${t.id}`, { data }, workerId);
const report = (t, workerId, data) => call('PUT', `/tasques/reports/${t.queue}/${t.id}`, { data }, workerId);
const minutesAgo = (m) => new Date(Date.now() - m * 60_000).toISOString();
const times = (n, f) => Promise.all(Array.from({ length: n }, (_, i) => f(i)));

const people = ['ada@example.com', 'grace@example.com', 'alan@example.com', 'edsger@example.com', 'barbara@example.com'];

// emails: busy and healthy, one dead letter.
await times(96, (i) => create('emails', i % 3 ? 'send-receipt' : 'send-welcome', { to: people[i % 5], order: 41_000 + i }));
for (let n = 0; n < 96; n += 32) for (const t of await claim('emails', 'worker-ts-1', 32)) await done(t, 'worker-ts-1', { sent: true });
await times(7, (i) => create('emails', 'send-receipt', { to: people[i % 5], order: 42_000 + i }));
for (const t of await claim('emails', 'worker-ts-2', 2)) await report(t, 'worker-ts-2', { progress: '60%' });
const bounce = await create('emails', 'send-welcome', { to: 'nobody@invalid.example' }, { retry_times: 0, priority: 10 });
for (const t of await claim('emails', 'worker-ts-2', 1)) {
  await failed(t, 'worker-ts-2', { error: 'SMTP 550: mailbox unavailable', recipient: 'nobody@invalid.example' });
}
void bounce;

// billing: a few charges, one failing and retrying, one dead.
await times(40, (i) => create('billing', 'charge-card', { customer: `cus_${1000 + i}`, amount_cents: 1999 + i * 100, currency: 'EUR' }));
for (const t of await claim('billing', 'py-worker-1', 38)) await done(t, 'py-worker-1', { charge_id: `ch_${t.id.slice(0, 8)}` });
for (const t of await claim('billing', 'py-worker-1', 1)) await failed(t, 'py-worker-1', { error: 'gateway timeout', retryable: true });
const declined = await create('billing', 'charge-card', { customer: 'cus_4242', amount_cents: 12900, currency: 'EUR' }, { retry_times: 0, priority: 10 });
for (const t of await claim('billing', 'py-worker-1', 5)) {
  if (t.id === declined.id) await failed(t, 'py-worker-1', { error: 'card_declined', decline_code: 'insufficient_funds' });
  else await done(t, 'py-worker-1', { charge_id: `ch_${t.id.slice(0, 8)}` });
}

// thumbnails: a backlog that has been waiting a few minutes, four in progress.
await times(24, (i) => create('thumbnails', 'resize-image', { image: `uploads/2026/11/img_${4810 + i}.jpg`, sizes: [320, 640, 1280] }, { run_at: minutesAgo(4) }));
for (const t of await claim('thumbnails', 'go-worker-7', 4)) await report(t, 'go-worker-7', { done_sizes: [320] });

// reports: recurring work.
await call('POST', '/recurring_tasques', {
  id: 'nightly-revenue-report',
  schedule_expression: '0 3 * * *',
  task_definition: { queue: 'reports', kind: 'revenue-report', args: { format: 'pdf', recipients: ['finance@example.com'] } },
});
await call('POST', '/recurring_tasques', {
  id: 'hourly-digest',
  schedule_expression: '@hourly',
  skip_if_outstanding_tasks_exist: true,
  task_definition: { queue: 'reports', kind: 'activity-digest' },
});
await call('POST', '/recurring_tasques', {
  id: 'purge-expired-sessions',
  schedule_expression: 'TZ=Europe/Paris */15 * * * *',
  task_definition: { queue: 'maintenance', kind: 'purge-sessions', args: { older_than: '30d' } },
});
await times(3, (i) => create('reports', 'revenue-report', { day: `2026-11-${25 + i}`, format: 'pdf' }));
for (const t of await claim('reports', 'py-worker-2', 3)) await done(t, 'py-worker-2', { pages: 12, url: `s3://reports/${t.id}.pdf` });

// webhooks: paused by an operator while a partner's endpoint is down.
await times(5, (i) => create('webhooks', 'deliver-webhook', { endpoint: 'https://partner.example/hooks', event: `order.paid`, attempt: i }));
await call('PUT', '/queues/webhooks/pause');

// reports: scheduled for tomorrow morning (counted apart from the claimable ones).
const tomorrow = new Date(Date.now() + 18 * 3600_000).toISOString();
await times(2, (i) => create('reports', 'quarterly-report', { quarter: `2026-Q${3 + i}` }, { run_at: tomorrow }));

// The hour before: chart history, as the servers and the leader would have written it (queue_activity,
// queue_depth; docs/design/queue-series.md), a smooth daily-traffic shape with a failure spike.
{
  const db = new Database(join(dir, 'tasques.db'));
  const minute = 60_000;
  const start = Math.floor(Date.now() / minute) * minute - 60 * minute;
  const waits = Array.from({ length: 15 }, (_, i) => `wait_${i}`);
  const activity = db.prepare(
    `INSERT OR REPLACE INTO queue_activity (server_id, queue, at, created, claimed, done, failed, dead, ${waits.join(', ')})
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ${waits.map(() => '?').join(', ')})`,
  );
  const depth = db.prepare(
    'INSERT OR REPLACE INTO queue_depth (queue, at, claimable, scheduled, claimed, oldest_age_ms) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const queues = { emails: 40, billing: 14, thumbnails: 22, reports: 2, webhooks: 3 };
  db.transaction(() => {
    for (let m = 0; m < 60; m++) {
      const at = start + m * minute;
      const wave = 1 + 0.45 * Math.sin(m / 7) + 0.2 * Math.sin(m / 2.3);
      for (const [queue, rate] of Object.entries(queues)) {
        const created = Math.round(rate * wave);
        const spike = queue === 'billing' && m >= 38 && m <= 42;
        const failed = spike ? 4 + (m % 3) : m % 11 === 0 ? 1 : 0;
        const dead = spike && m === 40 ? 2 : 0;
        const slow = queue === 'thumbnails' && m >= 44 && m <= 52;
        const claimed = Math.max(0, created - (slow ? 3 : 0));
        // Waits: mostly under 50 ms, a tail that grows when thumbnails fall behind.
        const hist = [Math.round(claimed * 0.55), Math.round(claimed * 0.3), Math.round(claimed * 0.08), 1, 0, 0, slow ? 4 : 0, slow ? 3 : 0, slow ? 2 : 0, 0, 0, 0, 0, 0, 0];
        activity.run('history', queue, at, created, claimed, Math.max(0, claimed - failed - dead), failed, dead, ...hist);
        const backlog = slow ? 6 + (m - 44) * 3 : queue === 'thumbnails' ? 2 : queue === 'webhooks' ? 5 : 1;
        depth.run(queue, at, backlog, queue === 'reports' ? 2 : 0, queue === 'emails' ? 3 : 1, slow ? (m - 43) * 25_000 : 800);
      }
    }
  })();
  db.close();
}

// ── the pictures ─────────────────────────────────────────────────────────────────────────────────
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
try {
  const shots = [
    { file: 'dashboard.png', viewport: { width: 1280, height: 400 }, scale: 1, fullPage: true },
    { file: 'dashboard-phone.png', viewport: { width: 390, height: 844 }, scale: 2, isMobile: true },
  ];
  for (const shot of shots) {
    const context = await browser.newContext({
      viewport: shot.viewport,
      deviceScaleFactor: shot.scale,
      isMobile: shot.isMobile ?? false,
      hasTouch: shot.isMobile ?? false,
      colorScheme: 'light',
    });
    const page = await context.newPage();
    await page.goto(`${base}/dashboard/#/queues`);
    await page.locator('tr[data-queue="webhooks"]').waitFor();
    await page.evaluate(() => document.fonts.ready);
    const out = join(root, 'docs', shot.file);
    await page.screenshot({ path: out, fullPage: shot.fullPage ?? false });
    console.log(`wrote ${out}`);
    if (allDir) {
      const views = [
        ['tasks', '#/tasks', 'table.tasks tbody tr[data-id]'],
        ['tasks-dead', '#/tasks?state=dead,failed', 'table.tasks tbody tr[data-state="dead"]'],
        ['task', `#/task/billing/${declined.id}`, '[data-section="args"]'],
        ['recurring', '#/recurring', 'table.recurring tbody tr[data-id]'],
      ];
      for (const [name, hash, ready] of views) {
        await page.goto(`${base}/dashboard/${hash}`);
        await page.locator(ready).first().waitFor();
        const file = join(allDir, `${name}-${shot.viewport.width}.png`);
        await page.screenshot({ path: file, fullPage: !shot.isMobile });
        console.log(`wrote ${file}`);
      }
    }
    if (!shot.isMobile) {
      await new Promise((resolve) => setTimeout(resolve, 1500)); // a flush and a depth sample of the data set's minute
      await page.goto(`${base}/dashboard/#/charts`);
      await page.locator('[data-chart="wait"] canvas').waitFor();
      // The data set's own minute, once flushed and sampled.
      await page.waitForFunction(() => Number(document.querySelector('[data-chart="throughput"] [data-series="created"] .chart-value')?.textContent?.replace(/\D/g, '')) > 1500);
      await page.setViewportSize({ width: 1280, height: 900 });
      const out = join(root, 'docs', 'dashboard-charts.png');
      await page.screenshot({ path: out, fullPage: true });
      console.log(`wrote ${out}`);
    }
    await context.close();
  }
} finally {
  await browser.close();
}
cleanup();
process.exit(0);
