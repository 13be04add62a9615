/**
 * The operator views of issue 16 in Chromium (test/browser/dashboard.test.ts has the pattern): the
 * recurring-task controls (run now, pause/resume, delete with confirmation, next five fire times), the
 * workers view and the bulk actions. The real `tasques serve` process; every wait is on a page condition.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DESK, launchChromium, PHONE, recordPageErrors, SKIP } from '../helpers/browser.js';
import { killAllServers, type ServerProcess, startServer } from '../helpers/cli.js';

declare const document: { documentElement: { scrollWidth: number } };
declare const window: { innerWidth: number };


after(killAllServers);

async function api(server: ServerProcess, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await server.request(method, path, { body, headers });
  assert.ok(res.status < 300, `${method} ${path} answered ${res.status}: ${res.text}`);
  return res.json();
}

function responseTo(page: Page, method: string, path: string) {
  return page.waitForResponse((res) => res.request().method() === method && new URL(res.url()).pathname.startsWith(path));
}

async function assertNoHorizontalOverflow(page: Page, what: string): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `${what}: the page is ${scrollWidth}px wide in a ${innerWidth}px viewport`);
}

describe('the operator views in Chromium', { skip: SKIP }, () => {
  let server: ServerProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    [server, browser] = await Promise.all([startServer(), launchChromium()]);
    for (const id of ['hourly-sweep', 'doomed']) {
      await api(server, 'POST', '/recurring_tasques', {
        id,
        schedule_expression: '0 * * * *',
        task_definition: { queue: 'sweeps', kind: `kind-${id}` },
      });
    }
    context = await browser.newContext({ viewport: DESK });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    recordPageErrors(page, pageErrors, { dismissDialogs: true });
  });

  after(async () => {
    await browser?.close();
  });

  it('recurring: shows the next five fire times; runs one now; pauses and resumes', async () => {
    await page.goto(`${server.url}/dashboard/#/recurring`);
    const row = page.locator('tr[data-id="hourly-sweep"]');
    await row.locator('td.next-run time').waitFor();
    assert.equal(await row.locator('td.next-run .next-runs li').count(), 4, 'the first as a time, four more listed');

    const ran = responseTo(page, 'POST', '/recurring_tasques/hourly-sweep/run');
    await row.locator('button[data-action="run"]').click();
    const created = await (await ran).json();
    assert.equal((await ran).status(), 201);
    const listed = await api(server, 'GET', '/tasques?recurring_task_id=hourly-sweep');
    assert.deepEqual(listed.tasks.map((t: { id: string }) => t.id), [created.id]);

    const paused = responseTo(page, 'PUT', '/recurring_tasques/hourly-sweep/pause');
    await row.locator('button[data-action="pause"]').click();
    assert.equal((await paused).status(), 200);
    await row.locator('td.next-run .paused-badge').waitFor();
    const schedule = await api(server, 'GET', '/schedule');
    assert.equal(schedule.recurring_tasks.find((s: { id: string }) => s.id === 'hourly-sweep').paused, true);

    const resumed = responseTo(page, 'PUT', '/recurring_tasques/hourly-sweep/resume');
    await row.locator('button[data-action="resume"]').click();
    assert.equal((await resumed).status(), 200);
    await row.locator('td.next-run time').waitFor();
    await row.locator('button[data-action="pause"]').waitFor();
  });

  it('recurring: delete asks first; "Keep" keeps it, "Delete" deletes it', async () => {
    const row = page.locator('tr[data-id="doomed"]');
    await row.locator('button[data-action="delete"]').click();
    await row.locator('button[data-action="keep"]').click();
    await row.locator('button[data-action="delete"]').waitFor();
    assert.equal((await api(server, 'GET', '/recurring_tasques/doomed')).id, 'doomed');

    await row.locator('button[data-action="delete"]').click();
    const deleted = responseTo(page, 'DELETE', '/recurring_tasques/doomed');
    await row.locator('button[data-action="confirm-delete"]').click();
    assert.equal((await deleted).status(), 200);
    await row.waitFor({ state: 'detached' });
    const res = await server.request('GET', '/recurring_tasques/doomed');
    assert.equal(res.status, 404);
  });

  it('workers: lists who holds claims and who was seen lately', async () => {
    for (let i = 0; i < 3; i++) await api(server, 'POST', '/tasques', { queue: 'crunch', kind: 'number' });
    await api(server, 'POST', '/tasques/claims', { queues: ['crunch'], amount: 2, block_for: '10ms' }, { 'x-tasques-worker-id': 'cruncher-1' });
    await api(server, 'POST', '/tasques/claims', { queues: ['idle-q'], amount: 1, block_for: '10ms' }, { 'x-tasques-worker-id': 'idler' });
    await page.click('.tabs a[data-view="workers"]');
    const held = page.locator('table.workers-holding tr[data-worker="cruncher-1"]');
    await held.waitFor();
    assert.match(await held.innerText(), /\b2\b/);
    assert.match(await held.innerText(), /crunch/);
    assert.equal(await page.locator('table.workers-holding tr[data-worker="idler"]').count(), 0, 'holds nothing');
    const idle = page.locator('table.workers-recent tr[data-worker="idler"]');
    await idle.waitFor();
    assert.match(await idle.innerText(), /idle/);
    assert.match(await page.locator('table.workers-recent tr[data-worker="cruncher-1"]').innerText(), /holding claims/);
  });

  it('bulk: on the task list, cancels every waiting task of the filter after confirming the count', async () => {
    for (let i = 0; i < 5; i++) await api(server, 'POST', '/tasques', { queue: 'purge', kind: 'old-job' });
    await api(server, 'POST', '/tasques', { queue: 'keep', kind: 'old-job' });
    await page.goto(`${server.url}/dashboard/#/tasks?queue=purge`);
    await page.locator('table.tasks tbody tr[data-id]').first().waitFor();
    const dry = responseTo(page, 'POST', '/operations');
    await page.click('.bulk-actions button[data-bulk="cancel_waiting"]');
    assert.equal((await dry).status(), 200);
    const confirm = page.locator('.bulk-confirm');
    await confirm.waitFor();
    assert.match(await confirm.innerText(), /Cancel 5 waiting/);
    assert.match(await confirm.innerText(), /queue purge/);
    await page.click('.bulk-confirm button[data-action="confirm-bulk"]');
    await page.locator('.bulk-status p[data-state="done"]').waitFor();
    assert.match(await page.locator('.bulk-status p').innerText(), /5 cancelled/);
    assert.equal((await api(server, 'GET', '/queues/purge')).counts.dead, 5);
    assert.equal((await api(server, 'GET', '/queues/keep')).counts.queued, 1, 'outside the filter: untouched');
  });

  it('bulk: on the queue overview, retries the dead tasks of the picked queue; "Keep them" does nothing', async () => {
    await page.goto(`${server.url}/dashboard/#/queues`);
    const picker = page.locator('.bulk-actions select.bulk-queue');
    await page.locator('.bulk-actions select.bulk-queue option[value="purge"]').waitFor({ state: 'attached' });
    await picker.selectOption('purge');
    await page.click('.bulk-actions button[data-bulk="retry_dead"]');
    await page.locator('.bulk-confirm').waitFor();
    await page.click('.bulk-confirm button[data-action="keep-bulk"]');
    await page.locator('.bulk-confirm').waitFor({ state: 'detached' });
    assert.equal((await api(server, 'GET', '/queues/purge')).counts.dead, 5);

    await page.click('.bulk-actions button[data-bulk="retry_dead"]');
    await page.click('.bulk-confirm button[data-action="confirm-bulk"]');
    await page.locator('.bulk-status p[data-state="done"]').waitFor();
    assert.equal((await api(server, 'GET', '/queues/purge')).counts.queued, 5);
    const ops = await api(server, 'GET', '/operations');
    assert.deepEqual(ops.operations.map((o: { kind: string }) => o.kind), ['retry_dead', 'cancel_waiting']);
  });

  it('fits a phone screen', async () => {
    const phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
    try {
      const p = await phone.newPage();
      await p.goto(`${server.url}/dashboard/#/recurring`);
      await p.locator('tr[data-id="hourly-sweep"] button[data-action="run"]').waitFor();
      await assertNoHorizontalOverflow(p, 'recurring');
      await p.goto(`${server.url}/dashboard/#/workers`);
      await p.locator('table.workers-holding tr[data-worker="cruncher-1"]').waitFor();
      await assertNoHorizontalOverflow(p, 'workers');
      await p.goto(`${server.url}/dashboard/#/tasks?queue=purge`);
      await p.locator('.bulk-actions button[data-bulk="delete_finished"]').waitFor();
      await assertNoHorizontalOverflow(p, 'tasks with bulk actions');
    } finally {
      await phone.close();
    }
  });

  it('raised no script error', () => {
    assert.deepEqual(pageErrors, []);
  });
});
