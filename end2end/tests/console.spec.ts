import { DEMO, expect, hydrated, screen, signIn, test } from './fixtures';

test('sign in, create, find, edit and delete an identity; an API client sees it', async ({ page, request }) => {
  await page.goto('/identities');
  await expect(page).toHaveURL(/\/login\?next=\/identities$/);
  await hydrated(page);
  await screen(page, '01-login');

  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await expect(page.getByTestId('tenant-name')).toHaveText('Demo Inc.');
  await expect(page.getByTestId('user-name')).toHaveText('Owner');
  await expect(page.getByTestId('identities-table')).toContainText('admin@demo.test');
  await hydrated(page);
  await screen(page, '02-identities');

  // Create, after a server-side validation error shown inline.
  await page.getByRole('link', { name: 'New identity' }).click();
  await expect(page.getByRole('heading', { name: 'New identity' })).toBeVisible();
  const email = `ada-${Date.now()}@example.com`;
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Display name').fill('Ada Lovelace');
  await page.getByLabel('External id').fill(`crm-${Date.now()}`);
  await page.getByLabel('Initial role').selectOption('admin');
  await page.getByLabel('Metadata (JSON object)').fill('{"team": ');
  await page.getByRole('button', { name: 'Create identity' }).click();
  await expect(page.getByText('Metadata must be valid JSON')).toBeVisible();
  await screen(page, '03-new-identity-error');
  await page.getByLabel('Metadata (JSON object)').fill('{"team": "engines"}');
  await page.getByRole('button', { name: 'Create identity' }).click();
  await expect(page).toHaveURL(/\/identities\/[0-9a-f-]{36}$/);
  const id = page.url().split('/').pop()!;
  await expect(page.getByRole('heading', { name: 'Ada Lovelace' })).toBeVisible();
  await expect(page.getByText('"engines"')).toBeVisible();
  await expect(page.getByRole('region', { name: 'Activity' }).getByText('Created', { exact: true })).toBeVisible();
  await screen(page, '04-identity-detail');

  // Find it by search.
  await page.getByRole('link', { name: '← Identities' }).click();
  await page.getByRole('searchbox', { name: 'Search' }).fill('lovelace');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/q=lovelace/);
  const table = page.getByTestId('identities-table');
  await expect(table.getByRole('row')).toHaveCount(2);
  await expect(table).toContainText(email);
  await screen(page, '05-search');

  // Edit it.
  await table.getByRole('link', { name: 'Ada Lovelace' }).click();
  await page.getByRole('link', { name: 'Edit' }).click();
  await expect(page.getByRole('heading', { name: 'Edit Ada Lovelace' })).toBeVisible();
  await screen(page, '06-edit');
  await page.getByLabel('Display name').fill('Ada King');
  // Personal details are kept encrypted under her key, and shown to whoever may read her.
  await page.getByLabel('Personal details (JSON object)').fill('{"phone": "+44 20 7946 0000"}');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('heading', { name: 'Ada King' })).toBeVisible();
  await expect(page.getByTestId('personal-metadata')).toContainText('+44 20 7946 0000');
  await expect(page.getByRole('region', { name: 'Activity' }).getByText('Edited', { exact: true })).toBeVisible();

  // Give a second role (the checkboxes skip the unchecked ones: indices have gaps).
  const rolesCard = page.getByRole('region', { name: 'Roles' });
  await rolesCard.getByLabel('viewer').check();
  await rolesCard.getByRole('button', { name: 'Save roles' }).click();
  await expect(page.getByRole('region', { name: 'Activity' }).getByText('Roles changed', { exact: true })).toBeVisible();
  await expect(rolesCard.getByLabel('viewer')).toBeChecked();
  await expect(rolesCard.getByLabel('admin')).toBeChecked();

  // A program with a token sees what the console did.
  const tokenRes = await request.post('/v1/auth/token', { data: DEMO });
  expect(tokenRes.status()).toBe(200);
  const { access_token } = await tokenRes.json();
  const listed = await request.get(`/v1/identities?q=${encodeURIComponent(email)}`, {
    headers: { Authorization: `Bearer ${access_token}` },
  });
  expect(listed.status()).toBe(200);
  const body = await listed.json();
  expect(body.items).toHaveLength(1);
  expect(body.items[0]).toMatchObject({ id, email, display_name: 'Ada King', roles: ['admin', 'viewer'], status: 'active', personal_metadata: { phone: '+44 20 7946 0000' } });

  // Disable, enable.
  await page.getByRole('button', { name: 'Disable' }).click();
  await expect(page.getByRole('region', { name: 'Activity' }).getByText('Disabled', { exact: true })).toBeVisible();
  await page.getByRole('button', { name: 'Enable' }).click();
  await expect(page.getByRole('region', { name: 'Activity' }).getByText('Enabled', { exact: true })).toBeVisible();

  // Delete, through the confirmation dialog.
  await page.getByRole('link', { name: 'Delete…' }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('Delete Ada King?');
  await screen(page, '07-delete-dialog');
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(page).toHaveURL(/\/identities\?done=deleted$/);
  await expect(page.getByText('Identity moved to the trash')).toBeVisible();
  await expect(page.getByTestId('identities-table')).not.toContainText(email);

  const after = await request.get(`/v1/identities/${id}`, { headers: { Authorization: `Bearer ${access_token}` } });
  expect((await after.json()).status).toBe('deleted');

  // It is in the trash, and can come back.
  await page.getByRole('combobox', { name: 'Status' }).selectOption('deleted');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByTestId('identities-table')).toContainText(email);
  await screen(page, '08-trash');
});

test('every screen of the shell is reachable, accessible and runs under the CSP', async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await hydrated(page);
  // Every entry of the navigation opens its screen, with a title of its own.
  const nav = page.getByRole('navigation', { name: 'Main' });
  // evaluateAll does not wait: the frame is on the page once its last entry is.
  await expect(nav.getByRole('link', { name: 'Settings', exact: true })).toBeVisible();
  const links = await nav
    .getByRole('link')
    .evaluateAll((as) => as.map((a) => [a.textContent!.trim(), a.getAttribute('href')!]));
  expect(links.map(([name]) => name)).toContain('Webhooks');
  for (const [name, href] of links) {
    await nav.getByRole('link', { name, exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`${href}$`));
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    await expect(page.getByRole('heading', { level: 1 })).not.toHaveText(/not found/i);
  }
  await expect(nav).not.toContainText('soon');
  // Each screen loaded whole (rendered on the server, then hydrated) under the page's
  // Content-Security-Policy: a blocked script or style would be a console error, which
  // fails the test (see fixtures.ts), and so would a hydration that did not run.
  const nonces = new Set<string>();
  for (const [, href] of links) {
    const response = await page.goto(href);
    const csp = response!.headers()['content-security-policy'];
    expect(csp, `${href} carries a Content-Security-Policy`).toMatch(/script-src 'self' 'nonce-[^']+'/);
    nonces.add(/'nonce-([^']+)'/.exec(csp)![1]);
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    await expect(page.getByRole('heading', { level: 1 })).not.toHaveText(/not found/i);
  }
  expect(nonces.size, 'every page has a nonce of its own').toBe(links.length);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/identities');
  await expect(page).toHaveURL(/\/login/);
});

test('a wrong password is refused with a clear message', async ({ page }) => {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Tenant').fill('demo');
  await page.getByLabel('Email').fill('admin@demo.test');
  await page.getByLabel('Password').fill('not the password at all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Invalid credentials');
  await expect(page).toHaveURL(/\/login/);
  await screen(page, '10-login-error');
});

// Hydration takes over the page the server sent; it must not make the frame or the page anew
// (a flash, lost focus and scroll). The console frame is made by a `Suspend` (layout.rs).
test('hydration keeps the elements the server rendered', async ({ page }) => {
  await signIn(page);
  await expect(page.getByTestId('tenant-name')).toBeVisible();
  await page.addInitScript(() => {
    document.addEventListener('DOMContentLoaded', () => {
      const w = window as any;
      w.__served = ['nav', 'main', 'h1'].map((s) => document.querySelector(s));
    });
  });
  for (const path of ['/identities', '/events', '/audit', '/memories', '/webhooks']) {
    await page.goto(path);
    await hydrated(page);
    await expect(page).toHaveURL(new RegExp(`${path}$`));
    // Let what hydration starts (resources resolving in the browser) settle.
    await page.waitForTimeout(1000);
    const kept = await page.evaluate(() => {
      const w = window as any;
      return ['nav', 'main', 'h1'].map((s, i) => !!w.__served[i] && w.__served[i] === document.querySelector(s));
    });
    expect(kept, path).toEqual([true, true, true]);
  }
});
