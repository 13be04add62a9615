/**
 * What the dashboard's browser tests (test/browser) share: Debian's Chromium driven by playwright-core
 * (playwright's own browser downloads are not reachable here), the viewports, and a page that records
 * script errors and unexpected dialogs so a test can assert there were none.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Skip reason for a describe: only outside CI, where a missing Chromium must fail instead. */
export const SKIP = !existsSync(CHROMIUM) && !process.env.CI ? `no Chromium at ${CHROMIUM} (apt-get install chromium)` : false;
export const DESK = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/**
 * Records the page's script errors into `errors`; with `dismissDialogs`, also any dialog (the dashboard
 * confirms inline, so a native dialog is a bug), which is dismissed so the page does not hang.
 */
export function recordPageErrors(page: Page, errors: string[], { dismissDialogs = false } = {}): void {
  page.on('pageerror', (err) => errors.push(String(err)));
  if (!dismissDialogs) return;
  page.on('dialog', (dialog) => {
    errors.push(`unexpected dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
}
