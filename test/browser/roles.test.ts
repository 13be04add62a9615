/**
 * The dashboard on a server with bearer tokens and roles (docs/auth.md), in Debian's Chromium: the
 * sign-in field, a read-only viewer who sees everything but is offered no operator action, and an
 * operator who is. The real `tasques serve` process; every wait is on a page condition.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { DESK, launchChromium, recordPageErrors, SKIP } from '../helpers/browser.js';
import { killAllServers, type ServerProcess, startServer } from '../helpers/cli.js';

declare const document: { body: { dataset: Record<string, string | undefined> } };
declare const sessionStorage: { getItem(key: string): string | null };


const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const TOKENS = { feeder: 'tq_feeder-8Jd2', viewer: 'tq_viewer-3Lk9', ops: 'tq_ops-5Qz1' };

after(killAllServers);

describe('the dashboard with roles, in Chromium', { skip: SKIP }, () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let deadId: string;
  const pageErrors: string[] = [];

  const call = async (token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await server.request(method, path, { body, headers: { authorization: `Bearer ${token}`, ...headers } });
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.text}`);
    return res.json();
  };

  async function signIn(token: string, name: string) {
    const field = page.locator('#identity form.signin input[name="token"]');
    await field.waitFor();
    await field.fill(token);
    await page.locator('#identity form.signin button[type="submit"]').click();
    await page.locator('#identity [data-field="identity-name"]', { hasText: name }).waitFor();
  }

  before(async () => {
    [server, browser] = await Promise.all([
      startServer({
        env: {
          TASQUES_SERVER_AUTH_BEARER_TOKENS: [
            `feeder:all:${sha256(TOKENS.feeder)}`,
            `viewer:read:${sha256(TOKENS.viewer)}`,
            `ops:operator:${sha256(TOKENS.ops)}`,
          ].join(','),
        },
      }),
      launchChromium(),
    ]);
    await call(TOKENS.feeder, 'POST', '/tasques', { queue: 'emails', kind: 'send-welcome' });
    const dead = await call(TOKENS.feeder, 'POST', '/tasques', { queue: 'billing', kind: 'charge', retry_times: 0 });
    deadId = dead.id;
    const worker = { 'x-tasques-worker-id': 'w1' };
    await call(TOKENS.feeder, 'POST', '/tasques/claims', { queues: ['billing'], block_for: '10ms' }, worker);
    await call(TOKENS.feeder, 'PUT', `/tasques/failed/billing/${deadId}`, { data: { error: 'declined' } }, worker);
    const context = await browser.newContext({ viewport: DESK });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    recordPageErrors(page, pageErrors);
  });

  after(async () => {
    await browser?.close();
  });

  it('asks for a token, and refuses a wrong one', async () => {
    await page.goto(`${server.url}/dashboard/#/queues`);
    await page.locator('#identity form.signin').waitFor();
    await page.locator('#banner', { hasText: 'Authentication required' }).waitFor();
    await page.locator('#identity input[name="token"]').fill('tq_wrong');
    await page.locator('#identity form.signin button[type="submit"]').click();
    await page.locator('#identity', { hasText: 'That token was not accepted' }).waitFor();
  });

  it('a read-only viewer sees the queues and tasks but no operator action', async () => {
    await signIn(TOKENS.viewer, 'viewer');
    assert.equal(await page.locator('#identity [data-field="identity-role"]').innerText(), '(read)');
    const row = page.locator('tr[data-queue="emails"]');
    const pause = row.locator('button[data-action="pause"]');
    await pause.waitFor({ state: 'attached' });
    assert.equal(await pause.isVisible(), false, 'no pause button for a viewer');
    assert.equal(await page.evaluate(() => document.body.dataset.mayOperate), 'false');

    await page.goto(`${server.url}/dashboard/#/task/billing/${encodeURIComponent(deadId)}`);
    await page.locator('[data-section="result"]', { hasText: 'declined' }).waitFor();
    const retry = page.locator('button[data-action="retry"]');
    await retry.waitFor({ state: 'attached' });
    assert.equal(await retry.isVisible(), false, 'no retry button for a viewer');
    // The token stays with this tab (sessionStorage), across a reload.
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tasques.dashboard.token')), TOKENS.viewer);
    await page.reload();
    await page.locator('#identity [data-field="identity-name"]', { hasText: 'viewer' }).waitFor();
  });

  it('after signing out, an operator is offered the actions, and they work', async () => {
    await page.goto(`${server.url}/dashboard/#/queues`);
    await page.locator('#identity button[data-action="sign-out"]').click();
    await signIn(TOKENS.ops, 'ops');
    const pause = page.locator('tr[data-queue="emails"] button[data-action="pause"]');
    await pause.waitFor({ state: 'visible' });
    const paused = page.waitForResponse((res) => new URL(res.url()).pathname === '/queues/emails/pause');
    await pause.click();
    assert.equal((await paused).status(), 200);
    assert.equal((await call(TOKENS.viewer, 'GET', '/queues/emails')).paused, true);
    assert.deepEqual(pageErrors, []);
  });
});

describe('the Swagger UI in Chromium', { skip: SKIP }, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  /** The UI's title, whether it shows the Authorize button, and the src of its top-bar logo. */
  async function look(env: Record<string, string>) {
    const server = await startServer({ env });
    const page = await browser.newPage();
    try {
      await page.goto(`${server.url}/swagger/`);
      await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: 30_000 });
      const logo = page.locator('.swagger-ui .topbar a img');
      await logo.waitFor();
      return {
        title: await page.title(),
        authorize: await page.locator('.swagger-ui button.authorize').count(),
        logo: (await logo.getAttribute('src')) ?? '',
      };
    } finally {
      await page.close();
      await server.kill();
    }
  }

  it('is titled Tasques API with the Tasques mark, and has an Authorize button only with auth', async () => {
    const open = await look({});
    assert.equal(open.title, 'Tasques API');
    assert.match(open.logo, /^data:image\/svg\+xml;base64,/);
    assert.equal(open.authorize, 0, 'no auth: no Authorize button');
    const guarded = await look({ TASQUES_SERVER_AUTH_BEARER_TOKENS: `svc:read:${sha256('tq_x')}` });
    assert.equal(guarded.authorize, 1, 'auth: the Authorize button');
  });
});
