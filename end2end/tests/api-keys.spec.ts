import { expect, hydrated, screen, signIn, test } from './fixtures';

test('an API key is shown once, calls the API within its scopes, and gets 401 once revoked', async ({ page, request }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await hydrated(page);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
  await expect(page.getByRole('heading', { name: 'API keys', level: 1 })).toBeVisible();
  const name = `reporting ${Date.now()}`;
  const form = page.getByRole('form', { name: 'New key' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Scopes').fill('identities:read');
  await form.getByLabel('Expires').selectOption('30');
  await form.getByRole('button', { name: 'Create key' }).click();

  // The secret, once.
  const secretBox = page.getByLabel('New API key');
  await expect(secretBox).toHaveValue(/^tnr_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
  const secret = await secretBox.inputValue();
  const row = page.getByRole('row').filter({ hasText: name });
  await expect(row).toContainText('identities:read');
  await expect(row).toContainText('active');
  await screen(page, '30-api-key-created');

  // A program uses it: allowed within its scopes, refused outside them.
  const listed = await request.get('/v1/identities', { headers: { authorization: `Bearer ${secret}` } });
  expect(listed.status()).toBe(200);
  const viaHeader = await request.post('/v1/api-keys/test', { headers: { 'x-api-key': secret } });
  expect(viaHeader.status()).toBe(200);
  expect((await viaHeader.json()).api_key.name).toBe(name);
  const refused = await request.post('/v1/identities', {
    headers: { authorization: `Bearer ${secret}` },
    data: { email: `key-${Date.now()}@example.com` },
  });
  expect(refused.status()).toBe(403);

  // The page no longer shows the secret after a reload; last use is recorded.
  await page.reload();
  await expect(page.getByLabel('New API key')).toHaveCount(0);
  await expect(page.getByRole('row').filter({ hasText: name })).not.toContainText('never');

  // Revoked: the next call is 401.
  await page.getByRole('row').filter({ hasText: name }).getByRole('button', { name: `Revoke ${name}` }).click();
  await expect(page.getByText('Key revoked')).toBeVisible();
  await expect(page.getByRole('row').filter({ hasText: name })).toContainText('revoked');
  await screen(page, '31-api-key-revoked');
  const after = await request.get('/v1/identities', { headers: { authorization: `Bearer ${secret}` } });
  expect(after.status()).toBe(401);
});

test("an identity's page offers to revoke every key that acts for it", async ({ page, request }) => {
  const { access_token: admin } = await (
    await request.post('/v1/auth/token', { data: { tenant: 'demo', email: 'admin@demo.test', password: 'e2e demo password 2026' } })
  ).json();
  const email = `kim-${Date.now()}@demo.test`;
  const password = 'a member password 2026';
  const created = await request.post('/v1/identities', {
    headers: { authorization: `Bearer ${admin}` },
    data: { email, display_name: 'Kim Keys', roles: ['member'], password },
  });
  expect(created.status()).toBe(201);
  const { id } = await created.json();
  const { access_token: kim } = await (
    await request.post('/v1/auth/token', { data: { tenant: 'demo', email, password } })
  ).json();
  const secrets: string[] = [];
  for (const name of ['laptop script', 'nightly export']) {
    const key = await request.post('/v1/api-keys', {
      headers: { authorization: `Bearer ${kim}` },
      data: { name, scopes: ['identities:read'] },
    });
    expect(key.status()).toBe(201);
    secrets.push((await key.json()).secret);
  }

  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await hydrated(page);
  // Opened from the list, as an admin would.
  await page.getByRole('searchbox', { name: 'Search' }).fill(email);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByTestId('identities-table').getByRole('link', { name: 'Kim Keys' }).click();
  await expect(page).toHaveURL(new RegExp(`/identities/${id}$`));
  const card = page.getByRole('region', { name: 'API keys' });
  await expect(card.getByTestId('identity-keys')).toContainText('2 API keys act for this identity');
  await expect(card).toContainText('keep working after a password reset');
  await card.getByRole('link', { name: 'Revoke its 2 API keys…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Revoke its 2 API keys?' });
  await expect(dialog).toContainText('Kim Keys');
  await screen(page, '32-revoke-identity-keys');
  await dialog.getByRole('button', { name: 'Revoke' }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(card.getByTestId('identity-keys')).toHaveText('No API key acts for this identity.');
  for (const secret of secrets) {
    const res = await request.get('/v1/identities', { headers: { authorization: `Bearer ${secret}` } });
    expect(res.status()).toBe(401);
  }
  // Loaded whole from its address, the page hydrates and says the same.
  await page.goto(`/identities/${id}`);
  await expect(card.getByTestId('identity-keys')).toHaveText('No API key acts for this identity.');
});
