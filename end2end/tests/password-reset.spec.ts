import { DEMO, expect, mailsTo, screen, test } from './fixtures';

test('a forgotten password is reset through a link sent by mail', async ({ page, request }) => {
  // Someone to reset: made through the API by the demo admin.
  const token = (await (await request.post('/v1/auth/token', { data: DEMO })).json()).access_token;
  const email = `reset-${Date.now()}@example.com`;
  const made = await request.post('/v1/identities', {
    headers: { authorization: `Bearer ${token}` },
    data: { email, display_name: 'Rita Reset', password: 'the old long password' },
  });
  expect(made.status()).toBe(201);

  await page.goto('/login?tenant=demo');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(page.getByRole('heading', { name: 'Reset your password' })).toBeVisible();
  await expect(page.getByLabel('Tenant')).toHaveValue('demo');
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Mail me a link' }).click();
  await expect(page.getByText('If an account with this email exists')).toBeVisible();
  await screen(page, '60-forgot-password');

  const mails = await mailsTo(email);
  expect(mails).toHaveLength(1);
  const link = mails[0].text.match(/http:\/\/\S+\/reset-password\/pr1\.[A-Za-z0-9_-]+/)?.[0];
  expect(link).toBeTruthy();

  await page.goto(link!);
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
  await page.getByRole('textbox', { name: 'New password' }).fill('short');
  await page.getByRole('button', { name: 'Save the new password' }).click();
  await expect(page.getByText('Use at least 12 characters.')).toBeVisible();
  await page.getByRole('textbox', { name: 'New password' }).fill('the new long password');
  await page.getByRole('button', { name: 'Save the new password' }).click();
  await expect(page).toHaveURL(/\/login\?reset=1$/);
  await expect(page.getByText('Your password was changed.')).toBeVisible();
  await screen(page, '61-password-reset-done');

  await page.getByLabel('Tenant').fill('demo');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('the new long password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/identities$/);
  await expect(page.getByTestId('user-name')).toHaveText('Rita Reset');

  // The link worked once.
  await page.goto(link!);
  await page.getByRole('textbox', { name: 'New password' }).fill('a third long password');
  await page.getByRole('button', { name: 'Save the new password' }).click();
  await expect(page.getByRole('alert')).toContainText('does not work any more');
});
