/**
 * The web dashboard end to end: the real `tasques serve` process, tasks seeded through the HTTP API, and
 * Debian's Chromium driven through playwright-core. Every wait is on a page condition (a locator, a
 * response, a DOM predicate), never on time. Without /usr/bin/chromium (CHROMIUM_PATH to override) the
 * browser tests are skipped outside CI; in CI they fail (.ci/run installs it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DESK, launchChromium, PHONE, recordPageErrors, SKIP } from '../helpers/browser.js';
import { type HttpResponse, killAllServers, request, type ServerProcess, startServer } from '../helpers/cli.js';

// Functions passed to page.evaluate/waitForFunction run in the page. The project compiles without the DOM
// lib (it is Node code); these module-scoped declarations type just what those functions touch.
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): { length: number };
  getElementById(id: string): { dataset: Record<string, string | undefined> } | null;
  documentElement: { scrollWidth: number };
};
declare const window: { innerWidth: number; scrollY: number; scrollTo(x: number, y: number): void; __pwned?: number };


after(killAllServers);

// ── API helpers ─────────────────────────────────────────────────────────────────────────────────────

async function api(server: ServerProcess, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await server.request(method, path, { body, headers });
  assert.ok(res.status < 300, `${method} ${path} answered ${res.status}: ${res.text}`);
  return res.json();
}

const create = (server: ServerProcess, task: Record<string, unknown>) => api(server, 'POST', '/tasques', task);
const claim = (server: ServerProcess, queue: string, workerId: string, amount = 1): Promise<any[]> =>
  api(server, 'POST', '/tasques/claims', { queues: [queue], amount, block_for: '10ms' }, { 'x-tasques-worker-id': workerId });

// ── page helpers ────────────────────────────────────────────────────────────────────────────────────

/** Resolves once the trimmed text of `selector` is `text`. */
async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel)?.textContent?.trim() === want,
    [selector, text] as const,
  );
}

/** Resolves with the response to the first request matching `method` and `path` (a URL path prefix). */
function responseTo(page: Page, method: string, path: string | RegExp) {
  return page.waitForResponse((res) => {
    const url = new URL(res.url());
    const target = url.pathname + url.search;
    return res.request().method() === method && (typeof path === 'string' ? target.startsWith(path) : path.test(target));
  });
}

async function assertNoHorizontalOverflow(page: Page, what: string): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `${what}: the page is ${scrollWidth}px wide in a ${innerWidth}px viewport`);
}

// ── static files ────────────────────────────────────────────────────────────────────────────────────

describe('the dashboard files', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer();
  });

  const get = (path: string, headers: Record<string, string> = {}): Promise<HttpResponse> =>
    request(server.url + path, { headers });

  it('redirects / and /dashboard to /dashboard/', async () => {
    for (const path of ['/', '/dashboard']) {
      const res = await get(path);
      assert.equal(res.status, 302, path);
      assert.equal(res.headers.location, '/dashboard/', path);
    }
  });

  it('serves each file with its content type, revalidation headers and, for the page, a strict CSP', async () => {
    const page = await get('/dashboard/');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(page.text, /<script type="module" src="app.js"><\/script>/);
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.doesNotMatch(String(page.headers['content-security-policy']), /unsafe-inline/);
    const etag = String(page.headers.etag);
    assert.match(etag, /^".+"$/);
    const again = await get('/dashboard/', { 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');

    const types: Record<string, string> = {
      '/dashboard/index.html': 'text/html; charset=utf-8',
      '/dashboard/app.js': 'text/javascript; charset=utf-8',
      '/dashboard/views/tasks.js': 'text/javascript; charset=utf-8',
      '/dashboard/style.css': 'text/css; charset=utf-8',
      '/dashboard/favicon.svg': 'image/svg+xml',
    };
    for (const [path, type] of Object.entries(types)) {
      const res = await get(path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['content-type'], type, path);
      assert.equal(res.headers['cache-control'], 'no-cache', path);
    }
    const head = await request(`${server.url}/dashboard/app.js`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  it('serves nothing outside the dashboard folder', async () => {
    const attempts = [
      '/dashboard/../package.json',
      '/dashboard/%2e%2e/package.json',
      '/dashboard/..%2fpackage.json',
      '/dashboard/%2e%2e%2fpackage.json',
      '/dashboard/views/../../package.json',
      '/dashboard/..%5cpackage.json',
      '/dashboard//etc/passwd',
      '/dashboard/%2fetc%2fpasswd',
      '/dashboard/nope.js',
      '/dashboard/views/',
    ];
    for (const path of attempts) {
      const res = await get(path);
      assert.equal(res.status, 404, `${path} answered ${res.status}`);
      assert.doesNotMatch(res.text, /"name": "tasques"|root:/, path);
      assert.equal(res.json().code, 'TQ_ERR_ROUTE_NOT_FOUND', path);
    }
  });

  it('is not in openapi.json', async () => {
    const doc = (await get('/openapi.json')).json();
    const paths = Object.keys(doc.paths);
    assert.ok(paths.length > 0);
    assert.deepEqual(
      paths.filter((p) => p === '/' || p.startsWith('/dashboard')),
      [],
    );
  });
});

// ── in the browser ──────────────────────────────────────────────────────────────────────────────────

describe('the dashboard in Chromium', { skip: SKIP }, () => {
  let server: ServerProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let dead: any;
  let welcome: any;
  let hostile: any;
  const pageErrors: string[] = [];

  before(async () => {
    [server, browser] = await Promise.all([
      startServer(),
      launchChromium(),
    ]);
    // emails: three plain tasks and one whose args and kind are markup.
    welcome = await create(server, { queue: 'emails', kind: 'send-welcome', args: { to: 'ada@example.com', order: 4242 } });
    await create(server, { queue: 'emails', kind: 'send-welcome', args: { to: 'grace@example.com' } });
    await create(server, { queue: 'emails', kind: 'send-receipt', args: { to: 'alan@example.com' } });
    hostile = await create(server, {
      queue: 'emails',
      kind: '<img src=x onerror="window.__pwned=1">',
      args: { html: '<script>window.__pwned=2</script><b id="injected">bold</b>', note: '"quotes" & <angles>' },
    });
    // billing: one DEAD task (no retries, claimed, failed).
    dead = await create(server, { queue: 'billing', kind: 'charge-card', retry_times: 0, args: { customer: 'cus_42', amount_cents: 1999 } });
    const [claimed] = await claim(server, 'billing', 'worker-1');
    assert.equal(claimed.id, dead.id);
    await api(server, 'PUT', `/tasques/failed/billing/${dead.id}`, { data: { error: 'card_declined' } }, { 'x-tasques-worker-id': 'worker-1' });
    assert.equal((await api(server, 'GET', `/tasques/billing/${dead.id}`)).state, 'dead');
    // bulk: more than a page of tasks.
    for (let i = 0; i < 60; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => create(server, { queue: 'bulk', kind: 'resize-image', args: { n: i + j } })));
    }
    await api(server, 'POST', '/recurring_tasques', {
      id: 'nightly-report',
      schedule_expression: '0 3 * * *',
      task_definition: { queue: 'reports', kind: 'build-report' },
    });

    context = await browser.newContext({ viewport: DESK });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    recordPageErrors(page, pageErrors, { dismissDialogs: true });
  });

  after(async () => {
    await browser?.close();
  });

  it('shows the queues with their counts by state', async () => {
    await page.goto(`${server.url}/`); // redirected to /dashboard/
    assert.equal(new URL(page.url()).pathname, '/dashboard/');
    await waitForText(page, 'tr[data-queue="emails"] td[data-state="queued"]', '4');
    await waitForText(page, 'tr[data-queue="billing"] td[data-state="dead"]', '1');
    await waitForText(page, 'tr[data-queue="bulk"] td[data-state="queued"]', '60');
    await waitForText(page, '.tile[data-state="dead"] .tile-value', '1');
    assert.equal(await page.locator('tr[data-queue="emails"] .paused-badge').count(), 0);
  });

  it('filters the task list by state, and keeps the filter in the URL', async () => {
    await page.click('.tabs a[data-view="tasks"]');
    await page.locator('table.tasks tbody tr[data-id]').first().waitFor();
    const filtered = responseTo(page, 'GET', '/tasques?state=dead');
    await page.click('label.chip-dead');
    assert.equal((await filtered).status(), 200);
    await page.waitForFunction(() => document.querySelectorAll('table.tasks tbody tr[data-id]').length === 1);
    assert.equal(await page.locator('table.tasks tbody tr[data-id]').getAttribute('data-id'), dead.id);
    assert.equal(await page.locator('table.tasks tbody tr[data-id]').getAttribute('data-state'), 'dead');
    assert.equal(new URL(page.url()).hash, '#/tasks?state=dead');

    // A reload (or a shared link) shows the same view.
    await page.reload();
    await page.locator(`table.tasks tbody tr[data-id="${dead.id}"]`).waitFor();
    assert.equal(await page.locator('table.tasks tbody tr[data-id]').count(), 1);
    assert.equal(await page.locator('label.chip-dead input').isChecked(), true);
  });

  it('opens a task and shows its args, result and metadata', async () => {
    await page.click(`tr[data-id="${dead.id}"] a.task-link`);
    assert.equal(new URL(page.url()).hash, `#/task/billing/${dead.id}`);
    const args = page.locator('[data-section="args"] pre.json');
    await args.waitFor();
    assert.match(await args.innerText(), /"customer": "cus_42"/);
    assert.match(await args.innerText(), /"amount_cents": 1999/);
    assert.match(await page.locator('[data-section="result"]').innerText(), /Failure[\s\S]*"error": "card_declined"/);
    assert.match(await page.locator('[data-section="last-claim"]').innerText(), /worker-1/);
    assert.match(await page.locator('[data-section="fields"]').innerText(), /seq_num/);
    assert.equal(await page.locator('button[data-action="cancel"]').count(), 0, 'a dead task cannot be cancelled');
  });

  it('retries the dead task', async () => {
    const retried = responseTo(page, 'PUT', `/tasques/retry/billing/${dead.id}`);
    await page.click('button[data-action="retry"]');
    assert.equal((await retried).status(), 200);
    assert.equal((await api(server, 'GET', `/tasques/billing/${dead.id}`)).state, 'queued');
    await waitForText(page, '.title-row .badge', 'queued');
    assert.equal(await page.locator('button[data-action="retry"]').count(), 0);
    // Queued now, so it can be cancelled.
    await page.locator('button[data-action="cancel"]').waitFor();
  });

  it('cancels a queued task, with a reason', async () => {
    await page.goto(`${server.url}/dashboard/#/task/emails/${welcome.id}`);
    await page.click('button[data-action="cancel"]');
    await page.fill('.cancel-form input[name="reason"]', 'customer asked');
    const cancelled = responseTo(page, 'PUT', `/tasques/cancel/emails/${welcome.id}`);
    await page.click('button[data-action="confirm-cancel"]');
    assert.equal((await cancelled).status(), 200);
    const task = await api(server, 'GET', `/tasques/emails/${welcome.id}`);
    assert.equal(task.state, 'dead');
    assert.equal(task.last_claimed, undefined, 'no made-up claim');
    assert.equal((await api(server, 'GET', `/tasques/errors/emails/${welcome.id}`)).cancellation.reason, 'customer asked');
    await waitForText(page, '.title-row .badge', 'cancelled');
    await waitForText(page, '[data-section="cancellation"] [data-field="reason"]', 'customer asked');
    assert.match(await page.locator('[data-section="args"]').innerText(), /"to": "ada@example.com"/);
  });

  it('renders task data as text, never as markup', async () => {
    await page.goto(`${server.url}/dashboard/#/task/emails/${hostile.id}`);
    const args = page.locator('[data-section="args"] pre.json');
    await args.waitFor();
    const text = await args.innerText();
    assert.ok(text.includes('"<script>window.__pwned=2</script><b id=\\"injected\\">bold</b>"'), text);
    assert.ok(text.includes('"\\"quotes\\" & <angles>"'), text);
    assert.equal(await page.locator('.title-row h1').innerText(), '<img src=x onerror="window.__pwned=1">');
    // And in the list.
    await page.goto(`${server.url}/dashboard/#/tasks?queue=emails`);
    await page.locator(`tr[data-id="${hostile.id}"]`).waitFor();
    assert.equal(await page.locator('#injected').count(), 0);
    assert.equal(await page.locator('main img').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  });

  it('pages with "Load more", and an auto-refresh keeps the rows, the filters and the scroll position', async () => {
    await page.goto(`${server.url}/dashboard/#/tasks?queue=bulk`);
    await page.waitForFunction(() => document.querySelectorAll('table.tasks tbody tr[data-id]').length === 50);
    const more = responseTo(page, 'GET', /^\/tasques\?.*cursor=/);
    await page.click('button.load-more');
    assert.equal((await more).status(), 200);
    await page.waitForFunction(() => document.querySelectorAll('table.tasks tbody tr[data-id]').length === 60);
    assert.equal(await page.locator('button.load-more').isHidden(), true);

    await page.evaluate(() => window.scrollTo(0, 1500));
    const scrolled = await page.evaluate(() => window.scrollY);
    assert.ok(scrolled > 1000, `scrolled to ${scrolled}`);
    // A new task arrives; the next automatic refresh shows it on top and keeps everything else.
    const fresh = await create(server, { queue: 'bulk', kind: 'resize-image', args: { n: 60 } });
    await page.locator(`tr[data-id="${fresh.id}"]`).waitFor({ state: 'attached' });
    assert.equal(await page.locator('table.tasks tbody tr[data-id]').count(), 61);
    assert.equal(await page.locator('#f-queue').inputValue(), 'bulk');
    assert.equal(new URL(page.url()).hash, '#/tasks?queue=bulk');
    assert.equal(await page.evaluate(() => window.scrollY), scrolled);
  });

  it('pauses and resumes a queue', async () => {
    await page.goto(`${server.url}/dashboard/#/queues`);
    const row = page.locator('tr[data-queue="emails"]');
    await row.locator('button[data-action="pause"]').waitFor();
    const paused = responseTo(page, 'PUT', '/queues/emails/pause');
    await row.locator('button[data-action="pause"]').click();
    assert.equal((await paused).status(), 200);
    await row.locator('.paused-badge').waitFor();
    assert.equal((await api(server, 'GET', '/queues/emails')).paused, true);
    assert.deepEqual(await claim(server, 'emails', 'worker-2'), []);

    const resumed = responseTo(page, 'PUT', '/queues/emails/resume');
    await row.locator('button[data-action="resume"]').click();
    assert.equal((await resumed).status(), 200);
    await row.locator('.paused-badge').waitFor({ state: 'detached' });
    assert.equal((await api(server, 'GET', '/queues/emails')).paused, false);
  });

  it('lists recurring tasks with their next run', async () => {
    await page.click('.tabs a[data-view="recurring"]');
    const row = page.locator('tr[data-id="nightly-report"]');
    await row.waitFor();
    assert.match(await row.innerText(), /0 3 \* \* \*/);
    assert.match(await row.innerText(), /build-report/);
    await row.locator('td.next-run time').waitFor();
    assert.match(await row.locator('td.next-run time').innerText(), /^in /);
  });

  it('fits a phone screen', async () => {
    const phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
    try {
      const p = await phone.newPage();
      await p.goto(`${server.url}/dashboard/#/queues`);
      await p.locator('tr[data-queue="emails"]').waitFor();
      await assertNoHorizontalOverflow(p, 'queues');
      await p.goto(`${server.url}/dashboard/#/tasks`);
      await p.locator('table.tasks tbody tr[data-id]').first().waitFor();
      await assertNoHorizontalOverflow(p, 'tasks');
      await p.goto(`${server.url}/dashboard/#/task/emails/${hostile.id}`);
      await p.locator('[data-section="args"]').waitFor();
      await assertNoHorizontalOverflow(p, 'task');
      await p.goto(`${server.url}/dashboard/#/recurring`);
      await p.locator('tr[data-id="nightly-report"]').waitFor();
      await assertNoHorizontalOverflow(p, 'recurring');
    } finally {
      await phone.close();
    }
  });

  it('raised no script error', () => {
    assert.deepEqual(pageErrors, []);
  });
});

describe('the dashboard behind basic auth', { skip: SKIP }, () => {
  let server: ServerProcess;
  let browser: Browser;

  before(async () => {
    [server, browser] = await Promise.all([
      startServer({ env: { TASQUES_SERVER_AUTH_BASIC_AUTH: 'alice:s3cret' } }),
      launchChromium(),
    ]);
  });

  after(async () => {
    await browser?.close();
  });

  it('says that credentials are needed, and works with them', async () => {
    // The page itself holds no data: it loads without credentials; its API calls do not. A browser asks
    // for credentials on the 401 (WWW-Authenticate); wrong ones, or a dismissed prompt, leave the 401 to
    // the page. (Without any, headless Chromium would wait on a prompt nobody answers.)
    const anonymous = await browser.newContext({ httpCredentials: { username: 'alice', password: 'wrong' } });
    try {
      const page = await anonymous.newPage();
      const answer = responseTo(page, 'GET', '/tasques?');
      await page.goto(`${server.url}/dashboard/#/tasks`);
      assert.equal((await answer).status(), 401);
      await page.locator('#banner[data-kind="error"]').waitFor();
      assert.match(await page.locator('#banner').innerText(), /Authentication required/);
      // Users only: no token field, the browser's prompt is the way in.
      await page.locator('#identity', { hasText: 'Reload the page to sign in' }).waitFor();
      assert.equal(await page.locator('#identity input[name="token"]').count(), 0);
    } finally {
      await anonymous.close();
    }

    const signedIn = await browser.newContext({ httpCredentials: { username: 'alice', password: 's3cret' } });
    try {
      const page = await signedIn.newPage();
      const auth = { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` };
      await api(server, 'POST', '/tasques', { queue: 'emails', kind: 'send-welcome' }, auth);
      await page.goto(`${server.url}/dashboard/#/queues`);
      await waitForText(page, 'tr[data-queue="emails"] td[data-state="queued"]', '1');
      assert.equal(await page.locator('#banner').isHidden(), true);
      await page.locator('#identity [data-field="identity-name"]', { hasText: 'alice' }).waitFor();
      assert.equal(await page.locator('#identity [data-field="identity-role"]').innerText(), '(all)', 'a user without a role (v1)');
    } finally {
      await signedIn.close();
    }
  });
});
