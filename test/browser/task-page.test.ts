/**
 * The dashboard's task page for the task lifecycle (issue 15 item 6, issue 16 items 6–7): the error
 * history, a cancelled task shown as cancelled (who, when, why; no made-up claim, no countdown to a run
 * that will not happen), and cancelling a claimed task with confirmation. The real `tasques serve`
 * process, tasks driven through the HTTP API, Debian's Chromium through playwright-core; every wait is
 * on a page condition, never on time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { DESK, launchChromium, PHONE, recordPageErrors, SKIP } from '../helpers/browser.js';
import { killAllServers, type ServerProcess, startServer } from '../helpers/cli.js';

declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  documentElement: { scrollWidth: number };
};
declare const window: { innerWidth: number };


after(killAllServers);

async function call(server: ServerProcess, method: string, path: string, body?: unknown, workerId?: string) {
  return server.request(method, path, { body, headers: workerId ? { 'x-tasques-worker-id': workerId } : {} });
}

async function api(server: ServerProcess, method: string, path: string, body?: unknown, workerId?: string) {
  const res = await call(server, method, path, body, workerId);
  assert.ok(res.status < 300, `${method} ${path} answered ${res.status}: ${res.text}`);
  return res.json();
}

async function claimOne(server: ServerProcess, queue: string, workerId: string) {
  const [task] = await api(server, 'POST', '/tasques/claims', { queues: [queue], block_for: '10ms' }, workerId);
  assert.ok(task, `nothing to claim in ${queue}`);
  return task;
}

async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel)?.textContent?.trim() === want,
    [selector, text] as const,
  );
}

describe('the task page: error history and cancellation', { skip: SKIP }, () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    [server, browser] = await Promise.all([startServer(), launchChromium()]);
    const context = await browser.newContext({ viewport: DESK });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    recordPageErrors(page, pageErrors, { dismissDialogs: true });
  });

  after(async () => {
    await browser?.close();
  });

  it('shows one entry per failed attempt, newest first, with worker and failure', async () => {
    const task = await api(server, 'POST', '/tasques', { queue: 'flaky', kind: 'sync-crm', retry_times: 0 });
    // A failure whose text is markup: shown as text.
    await claimOne(server, 'flaky', 'worker-a');
    await api(server, 'PUT', `/tasques/failed/flaky/${task.id}`, { data: { error: '<b id="injected">timeout</b>' } }, 'worker-a');
    await api(server, 'PUT', `/tasques/retry/flaky/${task.id}`);
    await claimOne(server, 'flaky', 'worker-b');
    await api(server, 'PUT', `/tasques/failed/flaky/${task.id}`, { data: { error: 'rate limited' } }, 'worker-b');

    await page.goto(`${server.url}/dashboard/#/task/flaky/${task.id}`);
    const entries = page.locator('[data-section="errors"] li');
    await page.locator('[data-section="errors"] li[data-attempt="1"]').first().waitFor();
    assert.equal(await entries.count(), 2);
    // The retry restarted the attempt count: both are attempt 1, the newest (worker-b) on top.
    assert.match(await entries.nth(0).innerText(), /Attempt 1[\s\S]*worker-b[\s\S]*"error": "rate limited"/);
    assert.match(await entries.nth(1).innerText(), /Attempt 1[\s\S]*worker-a[\s\S]*<b id=\\"injected\\">timeout<\/b>/);
    assert.equal(await page.locator('#injected').count(), 0);
    assert.match(await page.locator('[data-section="result"]').innerText(), /Failure/);
    await waitForText(page, '.title-row .badge', 'dead');
  });

  it('cancels a claimed task after confirmation; its worker is refused; the page shows who, when and why', async () => {
    const task = await api(server, 'POST', '/tasques', { queue: 'video', kind: 'transcode', processing_timeout: '1h' });
    await claimOne(server, 'video', 'encoder-7');
    await page.goto(`${server.url}/dashboard/#/task/video/${task.id}`);
    await waitForText(page, '.title-row .badge', 'claimed');
    await page.click('button[data-action="cancel"]');
    // The confirmation says what happens to the running work before anything is sent.
    assert.match(await page.locator('.cancel-form').innerText(), /encoder-7[\s\S]*next report-in/);
    await page.fill('.cancel-form input[name="reason"]', 'wrong source file');
    const answer = page.waitForResponse((res) => res.request().method() === 'PUT' && new URL(res.url()).pathname === `/tasques/cancel/video/${task.id}`);
    await page.click('button[data-action="confirm-cancel"]');
    assert.equal((await answer).status(), 200);

    await waitForText(page, '.title-row .badge', 'cancelled');
    await waitForText(page, '[data-section="cancellation"] [data-field="by"]', 'operator');
    await waitForText(page, '[data-section="cancellation"] [data-field="reason"]', 'wrong source file');
    // The real claim is shown, ended by the cancel, not as a failure of the work.
    assert.match(await page.locator('[data-section="last-claim"]').innerText(), /encoder-7/);
    assert.match(await page.locator('[data-section="result"]').innerText(), /Cancelled/);
    assert.doesNotMatch(await page.locator('[data-section="result"]').innerText(), /Failure/);
    assert.equal(await page.locator('button[data-action="cancel"]').count(), 0, 'a dead task cannot be cancelled again');
    assert.equal(await page.locator('button[data-action="retry"]').count(), 1);

    const refused = await call(server, 'PUT', `/tasques/reports/video/${task.id}`, { data: {} }, 'encoder-7');
    assert.equal(refused.status, 400);
    assert.equal(refused.json().code, 'TQ_ERR_TASK_CANCELLED');
  });

  it('shows a cancelled scheduled task as cancelled, with no claim and no run time ahead', async () => {
    const task = await api(server, 'POST', '/tasques', { queue: 'later', kind: 'reminder', run_at: '2099-01-01T00:00:00Z' });
    await api(server, 'PUT', `/tasques/cancel/later/${task.id}`, { reason: 'user unsubscribed' });
    await page.goto(`${server.url}/dashboard/#/task/later/${task.id}`);
    await waitForText(page, '.title-row .badge', 'cancelled');
    await waitForText(page, '[data-section="fields"] [data-field="run-at"]', '— (cancelled before it ran)');
    assert.match(await page.locator('[data-section="last-claim"]').innerText(), /Never claimed/);
    assert.equal(await page.locator('[data-section="result"]').count(), 0, 'no made-up result');
    assert.doesNotMatch(await page.locator('main').innerText(), /in \d+d/, 'no countdown to 2099');

    // And in the list.
    await page.goto(`${server.url}/dashboard/#/tasks?queue=later`);
    const row = page.locator(`tr[data-id="${task.id}"]`);
    await row.waitFor();
    assert.equal((await row.locator('td.state').innerText()).trim(), 'cancelled');
    assert.equal((await row.locator('td.run-at').innerText()).trim(), '—');
  });

  it('fits a phone screen', async () => {
    const phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
    try {
      const p = await phone.newPage();
      const [task] = (await api(server, 'GET', '/tasques?queue=flaky')).tasks;
      await p.goto(`${server.url}/dashboard/#/task/flaky/${task.id}`);
      await p.locator('[data-section="errors"] li').first().waitFor();
      const { scrollWidth, innerWidth } = await p.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
      }));
      assert.ok(scrollWidth <= innerWidth, `the task page is ${scrollWidth}px wide in a ${innerWidth}px viewport`);
    } finally {
      await phone.close();
    }
  });

  it('raised no script error', () => {
    assert.deepEqual(pageErrors, []);
  });
});
