/**
 * The dashboard's charts and scheduled work, end to end: the real `tasques serve` process (chart counts
 * flushed every 100 ms, depth sampled every 200 ms), tasks driven through the HTTP API, Debian's Chromium
 * through playwright-core. Waits are on page conditions, never on time. Skipped without Chromium outside CI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { DESK, launchChromium, PHONE, recordPageErrors, SKIP } from '../helpers/browser.js';
import { killAllServers, type ServerProcess, startServer } from '../helpers/cli.js';

declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): { length: number };
  documentElement: { scrollWidth: number };
};
declare const window: { innerWidth: number };


after(killAllServers);

async function api(server: ServerProcess, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await server.request(method, path, { body, headers });
  assert.ok(res.status < 300, `${method} ${path} answered ${res.status}: ${res.text}`);
  return res.json();
}

/** Resolves once the trimmed text of `selector` is `text`. */
async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel)?.textContent?.trim() === want,
    [selector, text] as const,
    { timeout: 20_000 },
  );
}

describe('dashboard charts and scheduled work', { skip: SKIP }, () => {
  let server: ServerProcess;
  let browser: Browser;

  before(async () => {
    [server, browser] = await Promise.all([
      startServer({
        env: { TASQUES_SERVER_CHARTS_ACTIVITY_FLUSH_INTERVAL: '100ms', TASQUES_SERVER_CHARTS_DEPTH_SAMPLE_INTERVAL: '200ms' },
      }),
      launchChromium(),
    ]);
    const worker = { 'x-tasques-worker-id': 'w1' };
    for (let i = 0; i < 3; i++) await api(server, 'POST', '/tasques', { queue: 'emails', kind: 'send' });
    await api(server, 'POST', '/tasques', { queue: 'emails', kind: 'later', run_at: new Date(Date.now() + 3_600_000).toISOString() });
    await api(server, 'POST', '/tasques', { queue: 'billing', kind: 'charge', retry_times: 1 });
    const claimed = await api(server, 'POST', '/tasques/claims', { queues: ['emails'], amount: 2, block_for: '10ms' }, worker);
    assert.equal(claimed.length, 2);
    for (const t of claimed) await api(server, 'PUT', `/tasques/done/emails/${t.id}`, {}, worker);
    const [charge] = await api(server, 'POST', '/tasques/claims', { queues: ['billing'], block_for: '10ms' }, worker);
    // A failure with a retry left: FAILED, waiting for its next attempt (backoff in the future).
    await api(server, 'PUT', `/tasques/failed/billing/${charge.id}`, { data: { error: 'timeout' } }, worker);
  });
  after(async () => {
    await browser?.close();
  });

  it('charts tasks per interval, depth and claim waits, for every queue and for one, at desk and phone width', async () => {
    const context = await browser.newContext({ viewport: DESK });
    const page = await context.newPage();
    const errors: string[] = [];
    recordPageErrors(page, errors);
    await page.goto(`${server.url}/dashboard/#/charts`);
    // The window's totals, once the server has flushed its counts: 5 created, 2 done, 1 failed.
    await waitForText(page, '[data-chart="throughput"] [data-series="created"] .chart-value', '5');
    await waitForText(page, '[data-chart="throughput"] [data-series="done"] .chart-value', '2');
    await waitForText(page, '[data-chart="throughput"] [data-series="failed"] .chart-value', '1');
    // Depth from the leader's samples: emails has one claimable, one scheduled; billing one retry later.
    await waitForText(page, '[data-chart="depth"] [data-series="scheduled"] .chart-value', '2');
    await waitForText(page, '[data-chart="depth"] [data-series="claimable"] .chart-value', '1');
    assert.notEqual(await page.textContent('[data-chart="wait"] [data-series="claim_wait_p50_ms"] .chart-value'), '—');
    assert.equal(await page.locator('.chart canvas').count(), 4, 'four uPlot charts drawn');
    assert.equal(await page.locator('.tabs a[data-view="charts"]').getAttribute('aria-current'), 'page');

    // One queue, the day view: the URL carries both, the totals are that queue's.
    await page.selectOption('#chart-queue', 'billing');
    await page.waitForURL(/#\/charts\?queue=billing$/);
    await waitForText(page, '[data-chart="throughput"] [data-series="created"] .chart-value', '1');
    await page.selectOption('#chart-window', '24h');
    await page.waitForURL(/#\/charts\?window=24h&queue=billing$/);
    // The 1-hour view's totals for billing are the same, so wait for the day view's note before reading them.
    await page.waitForFunction(() => /15-minute intervals/.test(document.querySelector('.chart-note')?.textContent ?? ''));
    await waitForText(page, '[data-chart="throughput"] [data-series="failed"] .chart-value', '1');
    assert.match(await page.textContent('.chart-note') ?? '', /15-minute intervals/);

    const phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
    const small = await phone.newPage();
    await small.goto(`${server.url}/dashboard/#/charts`);
    await waitForText(small, '[data-chart="throughput"] [data-series="created"] .chart-value', '5');
    const { scrollWidth, innerWidth } = await small.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
    }));
    assert.ok(scrollWidth <= innerWidth, `the charts are ${scrollWidth}px wide in a ${innerWidth}px viewport`);
    assert.deepEqual(errors, []);
    await phone.close();
    await context.close();
  });

  it('counts scheduled work apart in the queue overview and marks it in the task list, with the next attempt', async () => {
    const context = await browser.newContext({ viewport: DESK });
    const page = await context.newPage();
    await page.goto(`${server.url}/dashboard/#/queues`);
    await waitForText(page, 'tr[data-queue="emails"] td.count-scheduled', '1');
    await waitForText(page, 'tr[data-queue="billing"] td.count-scheduled', '1');
    // `queued` keeps its documented meaning: the scheduled task is in it too.
    await waitForText(page, 'tr[data-queue="emails"] td[data-state="queued"]', '2');
    await page.click('tr[data-queue="emails"] a.queue-charts-link');
    await page.waitForURL(/#\/charts\?queue=emails$/);

    await page.goto(`${server.url}/dashboard/#/tasks?queue=billing`);
    await waitForText(page, 'tr[data-queue="billing"] .scheduled-badge', 'retry later');
    // The queue's own charts, above its task list, loaded when opened.
    assert.equal(await page.locator('details.queue-charts canvas').count(), 0, 'nothing drawn while closed');
    await page.click('details.queue-charts > summary');
    await waitForText(page, 'details.queue-charts [data-chart="throughput"] [data-series="created"] .chart-value', '1');
    assert.match((await page.textContent('tr[data-queue="billing"] td.run-at')) ?? '', /^next attempt in /);
    await page.goto(`${server.url}/dashboard/#/tasks?queue=emails&state=queued`);
    await waitForText(page, 'tr[data-scheduled="true"] .scheduled-badge', 'scheduled');
    assert.equal(await page.locator('tr[data-scheduled="true"]').count(), 1);
    await context.close();
  });
});
