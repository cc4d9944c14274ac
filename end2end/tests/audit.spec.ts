import { readFileSync } from 'node:fs';
import { Download, Page } from '@playwright/test';
import { DEMO, expect, hydrated, screen, signIn, test } from './fixtures';

const CSV_HEADER =
  'seq,id,occurred_at,actor_type,actor_id,actor_label,action,target_type,target_id,outcome,request_id,ip,user_agent,before,after,hash';

/** Sets the trail's filters through its form and waits for the address to carry them. */
async function filter(page: Page, fields: { action?: string; targetId?: string }) {
  const form = page.getByRole('search', { name: 'Filter the audit trail' });
  await form.getByLabel('Action', { exact: true }).fill(fields.action ?? '');
  await form.getByLabel('Target id', { exact: true }).fill(fields.targetId ?? '');
  await form.getByRole('button', { name: 'Filter' }).click();
  if (fields.action) await expect(page).toHaveURL(/[?&]action=/);
  if (fields.targetId) await expect(page).toHaveURL(new RegExp(`[?&]target_id=${fields.targetId}`));
}

async function text(download: Download): Promise<string> {
  return readFileSync(await download.path(), 'utf8');
}

test('the audit trail: filter, a record with its diff, verify the chain, export; refused without audit:read', async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await hydrated(page);

  // A change to look for: an identity created, then renamed, through the console.
  const stamp = Date.now();
  const email = `grace-${stamp}@example.com`;
  const password = 'grace keeps a long password';
  await page.getByRole('link', { name: 'New identity' }).click();
  await expect(page.getByRole('heading', { name: 'New identity' })).toBeVisible();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Display name').fill('Grace Hopper');
  await page.getByLabel('Initial password').fill(password);
  await page.getByRole('button', { name: 'Create identity' }).click();
  await expect(page).toHaveURL(/\/identities\/[0-9a-f-]{36}$/);
  const id = page.url().split('/').pop()!;
  await page.getByRole('link', { name: 'Edit' }).click();
  await page.getByLabel('Display name').fill('Grace Brewster Hopper');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('heading', { name: 'Grace Brewster Hopper' })).toBeVisible();

  // The trail, every identity change: the rename is the newest.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit trail' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Audit trail' })).toBeVisible();
  await expect(page.getByText('Not built yet')).toHaveCount(0);
  await hydrated(page);
  await filter(page, { action: 'identity.*' });
  const table = page.getByTestId('audit-table');
  const rows = table.locator('tbody tr');
  await expect(rows.first()).toContainText('identity.updated');
  await expect(rows.first()).toContainText(`identity ${id.slice(-8)}`);
  await expect(rows.first()).toContainText('Owner');
  // The newest record heads the unfiltered page too: wait until the filtered page replaced
  // it, that is until no row shows another kind of action.
  await expect(rows.locator('td:nth-child(3)').filter({ hasNotText: /^\s*identity\./ })).toHaveCount(0);
  for (const action of await rows.locator('td:nth-child(3)').allInnerTexts()) {
    expect(action.trim()).toMatch(/^identity\./);
  }
  // The filter is in the address: a reload shows the same.
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole('search', { name: 'Filter the audit trail' }).getByLabel('Action', { exact: true })).toHaveValue('identity.*');
  await expect(page.getByTestId('audit-table').locator('tbody tr').first()).toContainText('identity.updated');
  await screen(page, '11-audit-trail');

  // Its target narrows the list to this identity's history, newest first.
  await rows.first().getByRole('link', { name: `identity ${id.slice(-8)}` }).click();
  await expect(page).toHaveURL(new RegExp(`[?&]target_id=${id}`));
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0)).toContainText('identity.updated');
  await expect(rows.nth(1)).toContainText('identity.created');

  // The rename's record: the changed field, old value struck out in red, new one in green.
  await rows.nth(0).getByRole('link', { name: 'identity.updated' }).click();
  await expect(page).toHaveURL(/\/audit\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { level: 1, name: /^Record #[\d,]+$/ })).toBeVisible();
  const name = page.getByTestId('audit-diff').locator('tr[data-field="display_name"]');
  await expect(name.locator('del')).toHaveText('Grace Hopper');
  await expect(name.locator('ins')).toHaveText('Grace Brewster Hopper');
  await expect(name).toContainText('changed');
  await expect(page.getByTestId('audit-diff').locator('tr[data-field="email"]')).toHaveCount(0);
  await expect(page.getByRole('region', { name: 'Details' })).toContainText('Owner');
  const chain = page.getByRole('region', { name: 'Chain' });
  await expect(chain).toContainText(/#[\d,]+/);
  await expect(page.getByTestId('record-hash')).toHaveAttribute('title', /^[0-9a-f]{64}$/);
  await expect(page.getByTestId('record-hash')).toHaveText(/^[0-9a-f]{12}…$/);
  await hydrated(page);
  await screen(page, '12-audit-record');

  // The creation's record lists what was created.
  await page.goBack();
  await page.getByTestId('audit-table').getByRole('link', { name: 'identity.created' }).click();
  await expect(page.getByTestId('audit-details').locator('tr[data-field="email"]')).toContainText(email);

  // Verify the whole chain.
  await page.getByRole('link', { name: '← Audit trail' }).click();
  await expect(page).toHaveURL(/\/audit$/);
  await hydrated(page);
  await page.getByRole('button', { name: 'Verify chain' }).click();
  await expect(page).toHaveURL(/[?&]verify=1/);
  await expect(page.getByTestId('chain-status')).toContainText(
    /^Chain intact: [\d,]+ records? checked \(seq [\d,]+–[\d,]+\)\./,
  );
  await screen(page, '13-audit-verified');

  // Export what the filters take, as CSV: progress, then the file.
  await filter(page, { action: 'identity.*', targetId: id });
  await hydrated(page);
  const csvLink = page.getByRole('link', { name: 'Export CSV' });
  const href = await csvLink.getAttribute('href');
  expect(href).toMatch(/^\/api\/audit\/export\?format=csv&/);
  expect(href).toContain(`target_id=${id}`);
  const csvDownload = page.waitForEvent('download');
  await csvLink.click();
  const csvFile = await csvDownload;
  expect(csvFile.suggestedFilename()).toBe('audit.csv');
  await expect(page.getByTestId('export-status')).toHaveText('Export finished: 2 records in audit.csv.');
  const csv = await text(csvFile);
  const lines = csv.split('\r\n').filter((l) => l !== '');
  expect(lines[0]).toBe(CSV_HEADER);
  expect(lines).toHaveLength(3);
  // Oldest first; each record about this identity.
  expect(lines[1]).toContain('identity.created');
  expect(lines[2]).toContain('identity.updated');
  for (const line of lines.slice(1)) expect(line).toContain(id);
  await screen(page, '14-audit-export');

  // JSON Lines: one record per line.
  const jsonDownload = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Export JSON Lines' }).click();
  const jsonFile = await jsonDownload;
  expect(jsonFile.suggestedFilename()).toBe('audit.jsonl');
  await expect(page.getByTestId('export-status')).toHaveText('Export finished: 2 records in audit.jsonl.');
  const records = (await text(jsonFile)).trim().split('\n').map((l) => JSON.parse(l));
  expect(records.map((r) => r.action)).toEqual(['identity.created', 'identity.updated']);
  expect(records[1]).toMatchObject({ target_type: 'identity', target_id: id, outcome: 'success' });
  expect(records[1].before.display_name).toBe('Grace Hopper');
  expect(records[1].after.display_name).toBe('Grace Brewster Hopper');
  expect(records[1].hash).toMatch(/^[0-9a-f]{64}$/);

  // Without JavaScript the button is a plain link: the browser gets the same file.
  const plain = await page.request.get(href!, {
    headers: { accept: 'text/html,application/xhtml+xml', referer: page.url() },
    maxRedirects: 0,
  });
  expect(plain.status()).toBe(200);
  expect(plain.headers()['content-disposition']).toContain('audit.csv');
  expect(await plain.text()).toBe(csv);

  // Exporting is itself on the record.
  await filter(page, { action: 'audit.exported' });
  await expect(page.getByTestId('audit-table').locator('tbody tr').first()).toContainText('audit.exported');

  // Someone without audit:read (a member) is refused, by the page and by the export.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.getByLabel('Tenant').fill(DEMO.tenant);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/identities$/);
  await page.goto('/audit');
  await expect(page.getByRole('alert')).toContainText('You are not allowed to audit:read');
  await expect(page.getByRole('link', { name: 'Export CSV' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Verify chain' })).toHaveCount(0);
  const refused = await page.request.get('/api/audit/export?format=csv');
  expect(refused.status()).toBe(403);
  expect((await refused.json()).code).toBe('forbidden');
});
