/**
 * The dashboard's flow-control view (dashboard/views/limits.js) end to end: the real `tasques serve`
 * process, limits and keyed tasks set through the HTTP API, Debian's Chromium through playwright-core.
 * Waits are on page conditions, never on time. Skipped without Chromium outside CI, like dashboard.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { DESK, launchChromium, recordPageErrors, SKIP } from '../helpers/browser.js';
import { killAllServers, type ServerProcess, startServer } from '../helpers/cli.js';

declare const document: { querySelector(selector: string): { textContent: string | null } | null };


after(killAllServers);

async function api(server: ServerProcess, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await server.request(method, path, { body, headers });
  assert.ok(res.status < 300, `${method} ${path} answered ${res.status}: ${res.text}`);
  return res.json();
}

async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel)?.textContent?.trim() === want,
    [selector, text] as const,
  );
}

describe('the dashboard: limits', { skip: SKIP }, () => {
  let server: ServerProcess;
  let browser: Browser;
  const pageErrors: string[] = [];

  before(async () => {
    [server, browser] = await Promise.all([startServer(), launchChromium()]);
    await api(server, 'PUT', '/queues/reports/limits', {
      queue: { rate: { count: 100, per: '1s' } },
      per_key: { concurrency: 1 },
      keys: { '<b>big</b>': { concurrency: 2 } },
    });
    for (let i = 0; i < 3; i++) await api(server, 'POST', '/tasques', { queue: 'reports', kind: 'build', concurrency_key: 'acme' });
    for (let i = 0; i < 2; i++) await api(server, 'POST', '/tasques', { queue: 'reports', kind: 'build', concurrency_key: 'globex' });
    await api(server, 'POST', '/tasques', { queue: 'plain', kind: 'k' });
    const claimed = await api(server, 'POST', '/tasques/claims', { queues: ['reports'], amount: 10, block_for: '10ms' }, { 'x-tasques-worker-id': 'w' });
    assert.equal(claimed.length, 2, 'one per key');
  });

  after(async () => {
    await browser?.close();
  });

  it('lists every queue with its limits and what waits on them, and shows one queue\'s throttled keys', async () => {
    const context = await browser.newContext({ viewport: DESK });
    context.setDefaultTimeout(15_000);
    try {
      const page = await context.newPage();
      recordPageErrors(page, pageErrors);
      await page.goto(`${server.url}/dashboard/#/limits`);
      await waitForText(page, 'tr[data-queue="reports"] td[data-waiting]', '3');
      assert.equal((await page.locator('tr[data-queue="reports"] td').nth(0).textContent())?.trim(), '100 per 1s (burst 100)');
      assert.equal((await page.locator('tr[data-queue="reports"] td').nth(1).textContent())?.trim(), '1 at once');
      assert.equal((await page.locator('tr[data-queue="plain"] td').nth(0).textContent())?.trim(), 'no limit');

      await page.locator('tr[data-queue="reports"] a').click();
      await waitForText(page, '.limits-view dd[data-claimed]', '2');
      assert.equal(await page.locator('.limits-view dd[data-waiting]').textContent(), '3');
      const keys = await page.locator('table.throttled tbody tr').evaluateAll((rows) =>
        rows.map((row) => (row as unknown as { textContent: string }).textContent),
      );
      assert.deepEqual(keys, ['acmeconcurrency12', 'globexconcurrency11']);
      // A key is user data: shown as text, never as markup.
      assert.equal(await page.locator('.limits-view dl.limits b').count(), 0);
      assert.match((await page.locator('.limits-view dl.limits').textContent()) ?? '', /<b>big<\/b>2 at once/);
      // The task list shows each task's keys.
      await page.goto(`${server.url}/dashboard/#/tasks?queue=reports`);
      await page.locator('tr[data-queue="reports"] .flow-key').first().waitFor();
      const shownKeys = await page.locator('tr[data-queue="reports"] .flow-key').allTextContents();
      assert.deepEqual([...shownKeys].sort(), ['acme', 'acme', 'acme', 'globex', 'globex']);
      assert.deepEqual(pageErrors, []);
    } finally {
      await context.close();
    }
  });
});
