import { DEMO, expect, test } from './fixtures';

// The console's forms are plain HTML forms first: they work before the wasm arrives.
test.use({ javaScriptEnabled: false });

test('forms work without JavaScript', async ({ page }) => {
  await page.goto('/login');
  await page.getByLabel('Tenant').fill('demo');
  await page.getByLabel('Email').fill(DEMO.email);
  await page.getByLabel('Password').fill('wrong, and no JavaScript');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Invalid credentials');
  // What was typed (but the password) is still there.
  await expect(page.getByLabel('Email')).toHaveValue(DEMO.email);

  await page.getByLabel('Password').fill(DEMO.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/identities$/);

  await page.goto('/identities/new');
  await page.getByLabel('Email').fill(DEMO.email);
  await page.getByRole('button', { name: 'Create identity' }).click();
  await expect(page).toHaveURL(/\/identities\/new$/);
  await expect(page.getByText('already exists in this tenant')).toBeVisible();

  const email = `nojs-${Date.now()}@example.com`;
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Display name').fill('No Script');
  await page.getByRole('button', { name: 'Create identity' }).click();
  await expect(page).toHaveURL(/\/identities\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { name: 'No Script' })).toBeVisible();

  await page.getByRole('link', { name: 'Delete…' }).click();
  await expect(page.getByRole('dialog')).toBeVisible();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await expect(page).toHaveURL(/done=deleted/);
});
