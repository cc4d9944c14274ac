import { expect, hydrated, screen, signIn, test } from './fixtures';
import type { Page } from '@playwright/test';

// The receiver (end2end/webhooks/receiver.mjs, started by global-setup) verifies every
// message with the official `standardwebhooks` package.
const RECEIVER = () => process.env.WEBHOOK_RECEIVER!;

async function configure(name: string, secrets: string[], status = 200) {
  const res = await fetch(`${RECEIVER()}/config/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ secrets, status }),
  });
  expect(res.ok).toBeTruthy();
}

async function received(name: string): Promise<any[]> {
  return (await fetch(`${RECEIVER()}/received/${name}`)).json();
}

/** Creates an identity through its server function, as the console's form would. */
async function newIdentity(page: Page, email: string) {
  const res = await page.request.post('/api/identities/create', {
    form: { email, display_name: '', external_id: '', kind: 'user', role: 'member', metadata: '', password: '' },
    headers: { origin: new URL(page.url()).origin },
  });
  expect(res.ok()).toBeTruthy();
}

async function createWebhook(page: Page, name: string, endpoint: string): Promise<string> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Webhooks' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Webhooks' })).toBeVisible();
  await hydrated(page);
  const form = page.getByRole('form', { name: 'New webhook' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('URL').fill(`${RECEIVER()}/hook/${endpoint}`);
  await form.getByLabel('Event types').fill('identity.*');
  await form.getByRole('button', { name: 'Create webhook' }).click();
  const secret = page.getByRole('textbox', { name: 'Signing secret', exact: true });
  await expect(secret).toBeVisible();
  const value = await secret.inputValue();
  expect(value).toMatch(/^whsec_/);
  return value;
}

test('webhooks: the secret shown once, a verified test message, deliveries and their attempts', async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await hydrated(page);
  const stamp = Date.now();
  const endpoint = `e2e-${stamp}`;
  const name = `CRM sync ${stamp}`;
  const secret = await createWebhook(page, name, endpoint);
  await configure(endpoint, [secret]);
  await expect(page.getByRole('link', { name })).toBeVisible();
  await screen(page, '50-webhooks-created');

  await page.getByRole('link', { name: 'Open the webhook to send it a test message' }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  await hydrated(page);
  // The secret is not shown again.
  await expect(page.getByRole('textbox', { name: 'Signing secret', exact: true })).toHaveCount(0);
  await expect(page.getByText(secret)).toHaveCount(0);

  await page.getByRole('button', { name: 'Send test message' }).click();
  await expect(page.getByText(/Test message delivered: HTTP 200 in \d+ ms/)).toBeVisible();
  let got = await received(endpoint);
  expect(got).toHaveLength(1);
  expect(got[0].type).toBe('webhook.test');
  expect(got[0].verified).toEqual([true]);

  // A change in the tenant reaches the endpoint, signed.
  await newIdentity(page, `hooked-${stamp}@example.com`);
  await expect.poll(async () => (await received(endpoint)).length, { timeout: 15_000 }).toBe(2);
  got = await received(endpoint);
  expect(got[1].type).toBe('identity.created');
  expect(got[1].verified).toEqual([true]);
  expect(got[1].body.data.data.email).toBe(`hooked-${stamp}@example.com`);

  // The log is written once the receiver has answered: read it again until it shows.
  const log = page.getByTestId('deliveries');
  const row = log.locator('tr', { hasText: 'identity.created' });
  await expect(async () => {
    await page.reload();
    await expect(row).toContainText('delivered', { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await hydrated(page);
  await expect(row).toContainText(`webhook-id …${got[1].webhook_id.slice(-8)}`);
  await row.getByRole('link', { name: 'Attempts' }).click();
  const attempts = page.getByTestId('attempt-log');
  await expect(attempts).toContainText('Attempt 1 · HTTP 200');
  await expect(attempts).toContainText('{"ok":true}');
  await expect(page.getByTestId('delivery-chart')).toHaveAttribute('aria-label', /2 attempts succeeded and 0 failed/);
  await screen(page, '51-webhook-detail');

  // Rotating: the new secret is shown once; both sign during the overlap.
  await page.getByRole('button', { name: 'Rotate secret' }).click();
  const rotated = page.getByRole('textbox', { name: 'New signing secret' });
  await expect(rotated).toBeVisible();
  const newSecret = await rotated.inputValue();
  expect(newSecret).not.toBe(secret);
  await expect(page.getByText(/The previous secret also signs each message until/)).toBeVisible();
  await configure(endpoint, [secret, newSecret]);
  await newIdentity(page, `rotated-${stamp}@example.com`);
  await expect.poll(async () => (await received(endpoint)).length, { timeout: 15_000 }).toBe(3);
  expect((await received(endpoint))[2].verified).toEqual([true, true]);
});

test('webhooks: an endpoint that keeps failing is disabled with a banner, then enabled and retried', async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await hydrated(page);
  const stamp = Date.now();
  const endpoint = `e2e-failing-${stamp}`;
  const name = `Flaky ${stamp}`;
  const secret = await createWebhook(page, name, endpoint);
  await configure(endpoint, [secret], 503);

  // The e2e server retries after 1 s twice, then gives up and disables the webhook.
  await newIdentity(page, `failing-${stamp}@example.com`);
  await expect.poll(async () => (await received(endpoint)).length, { timeout: 20_000 }).toBe(3);
  const banner = page.getByTestId('disabled-banner').filter({ hasText: name });
  await expect(async () => {
    await page.reload();
    await expect(banner).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await expect(banner).toContainText('Every attempt failed');
  await screen(page, '52-webhook-disabled');

  await banner.getByRole('link', { name: 'Open the webhook' }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  await hydrated(page);
  const row = page.getByTestId('deliveries').locator('tr', { hasText: 'identity.created' });
  await expect(row).toContainText('failed');
  await expect(row).toContainText('HTTP 503');
  await row.getByRole('link', { name: 'Attempts' }).click();
  await expect(page.getByTestId('attempt-log').getByRole('listitem')).toHaveCount(3);

  // Fixed: enable it, and retry the failed delivery.
  await configure(endpoint, [secret], 200);
  await page.getByRole('button', { name: 'Enable webhook' }).click();
  await expect(page.getByText('Webhook enabled')).toBeVisible();
  await hydrated(page);
  await expect(page.getByTestId('disabled-banner')).toHaveCount(0);
  await row.getByRole('button', { name: /^Retry delivery/ }).click();
  await expect(page.getByText('Delivery queued for another attempt.')).toBeVisible();
  await expect.poll(async () => (await received(endpoint)).length, { timeout: 15_000 }).toBe(4);
  const got = await received(endpoint);
  expect(got[3].verified).toEqual([true]);
  expect(got[3].webhook_id).toBe(got[0].webhook_id);
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId('attempt-log')).toContainText('Attempt 4 · HTTP 200', { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await screen(page, '53-webhook-retried');
});
