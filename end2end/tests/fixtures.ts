import { test as base, expect, Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';

export const DEMO_PASSWORD = 'e2e demo password 2026';
export const DEMO = { tenant: 'demo', email: 'admin@demo.test', password: DEMO_PASSWORD };
/** The super-admin token the test server is started with (it creates extra tenants). */
export const E2E_ADMIN_TOKEN = 'e2e-super-admin-token-2026-not-secret';

/**
 * `page.goto` that returns once the page is hydrated. A field typed into before hydration
 * can be reset by it, and on a busy machine the wasm module takes seconds to start: typing
 * must wait for it. Pages with JavaScript off are only loaded.
 */
function hydratingGoto(page: Page, javaScriptEnabled: boolean) {
  const goto = page.goto.bind(page);
  page.goto = async (url: string, options?: Parameters<Page['goto']>[1]) => {
    const response = await goto(url, options);
    const html = response?.headers()['content-type']?.startsWith('text/html') ?? false;
    if (javaScriptEnabled && html) await hydrated(page);
    return response;
  };
}

// Every test fails on a browser console error or an uncaught exception (a failed
// hydration shows up there).
export const test = base.extend<{ consoleErrors: string[]; hydratingNavigation: void }>({
  hydratingNavigation: [
    async ({ page, context, javaScriptEnabled }, use) => {
      hydratingGoto(page, javaScriptEnabled);
      const wrap = (p: Page) => hydratingGoto(p, javaScriptEnabled);
      context.on('page', wrap);
      await use();
      context.off('page', wrap);
    },
    { auto: true },
  ],
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on('console', (msg) => {
        // A 4xx answer to a server function is an expected outcome (a validation error, a
        // wrong password) that the page shows; the browser logs it anyway.
        const expected = /^Failed to load resource: the server responded with a status of 4\d\d/;
        if (msg.type() === 'error' && !expected.test(msg.text())) errors.push(msg.text());
      });
      page.on('pageerror', (err) => errors.push(err.message));
      await use(errors);
      expect(errors, 'browser console errors').toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };

export async function signIn(page: Page, next = '') {
  await page.goto(`/login${next}`);
  await hydrated(page);
  await page.getByLabel('Tenant').fill(DEMO.tenant);
  await page.getByLabel('Email').fill(DEMO.email);
  await page.getByLabel('Password').fill(DEMO.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Saves a full-page screenshot as a test artifact and scans the page with axe. */
export async function screen(page: Page, name: string) {
  // From the top, so sticky parts (the sidebar) sit where a person first sees them.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `test-results/screens/${name}.png`, fullPage: true });
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(
    serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
    `accessibility violations on ${name}`,
  ).toEqual([]);
}

/** Waits until the page is hydrated (the wasm module has run), so clicks are handled in the browser. */
export async function hydrated(page: Page) {
  // Generous: on a busy machine the wasm module can take long to compile and start.
  await page.waitForFunction(() => (window as any).__tenantry_hydrated === true, undefined, { timeout: 60_000 });
}

/** The mails the SMTP capture (maildev) received for `address`, waiting for at least `count`. */
export async function mailsTo(address: string, count = 1): Promise<any[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${process.env.MAILDEV_WEB_PORT}/api/email`);
    const all: any[] = await res.json();
    const mine = all.filter((m) => (m.to ?? []).some((t: any) => t.address === address));
    if (mine.length >= count || Date.now() > deadline) return mine;
    await new Promise((r) => setTimeout(r, 200));
  }
}
