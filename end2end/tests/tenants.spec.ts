import { DEMO, E2E_ADMIN_TOKEN, expect, hydrated, screen, signIn, test } from './fixtures';

test('one person in two tenants signs in to both and switches between them', async ({ page, request }) => {
  // A second tenant whose owner has the same email as the demo admin: a separate identity.
  const slug = `second-${Date.now()}`;
  const made = await request.post('/v1/admin/tenants', {
    headers: { authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    data: { slug, name: 'Second Ltd', owner_email: DEMO.email, owner_password: 'second tenant password' },
  });
  expect(made.status()).toBe(201);

  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await hydrated(page);
  await page.getByRole('link', { name: 'Add a tenant' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to another tenant' })).toBeVisible();
  await page.getByLabel('Tenant').fill(slug);
  await page.getByLabel('Email').fill(DEMO.email);
  await page.getByLabel('Password').fill('second tenant password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/identities$/);
  await expect(page.getByTestId('tenant-name')).toHaveText('Second Ltd');
  await screen(page, '70-second-tenant');

  // Back to the demo tenant without signing in again.
  const switcher = page.getByRole('form', { name: 'Switch tenant' });
  await switcher.getByLabel('Switch to tenant').selectOption({ label: 'Demo Inc.' });
  await switcher.getByRole('button', { name: 'Switch' }).click();
  await expect(page.getByTestId('tenant-name')).toHaveText('Demo Inc.');
  await page.reload();
  await expect(page.getByTestId('tenant-name')).toHaveText('Demo Inc.');
  await expect(page.getByRole('form', { name: 'Switch tenant' }).getByLabel('Switch to tenant')).toContainText('Second Ltd');
});
