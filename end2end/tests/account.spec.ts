import { expect, hydrated, screen, signIn, test } from './fixtures';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

test('a session ended from another browser is signed out at its next step', async ({ page, browser }) => {
  // A second browser, which says it is Firefox so its session is easy to tell apart.
  const other = await browser.newContext({ userAgent: FIREFOX });
  const elsewhere = await other.newPage();
  await signIn(elsewhere);
  await expect(elsewhere).toHaveURL(/\/identities$/);

  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await hydrated(page);
  await page.getByTestId('user-name').click();
  await expect(page.getByRole('heading', { name: 'Your account', level: 1 })).toBeVisible();
  const sessions = page.getByTestId('sessions');
  await expect(sessions.getByRole('listitem').filter({ hasText: 'this browser' })).toHaveCount(1);
  const firefox = sessions.getByRole('listitem').filter({ hasText: 'Firefox on Linux' });
  await expect(firefox).toHaveCount(1);
  await expect(firefox).toContainText('127.0.0.1');
  await screen(page, '40-account');

  await firefox.getByRole('button', { name: 'Sign out Firefox on Linux' }).click();
  await expect(page.getByText('Session ended.')).toBeVisible();
  await expect(sessions.getByRole('listitem').filter({ hasText: 'Firefox on Linux' })).toHaveCount(0);

  // The other browser's next step lands on the sign-in page.
  await elsewhere.goto('/identities');
  await expect(elsewhere).toHaveURL(/\/login/);
  await other.close();

  // This browser is still signed in.
  await page.goto('/identities');
  await expect(page).toHaveURL(/\/identities$/);
});

test('the profile is edited from the Account page', async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await hydrated(page);
  await page.goto('/account');
  const profile = page.getByRole('form', { name: 'Profile' });
  const before = await profile.getByLabel('Display name').inputValue();
  await profile.getByLabel('Display name').fill('Demo Admin (renamed)');
  await profile.getByRole('button', { name: 'Save profile' }).click();
  await expect(page.getByText('Profile saved.')).toBeVisible();
  await page.reload();
  await expect(page.getByTestId('user-name')).toHaveText('Demo Admin (renamed)');

  // A wrong current password is named on its field; nothing changes.
  const password = page.getByRole('form', { name: 'Change password' });
  await password.getByLabel('Current password').fill('not the password at all');
  await password.getByLabel('New password').fill('another long password here');
  await password.getByRole('button', { name: 'Change password' }).click();
  await expect(password.getByText('That is not your current password.')).toBeVisible();
  await screen(page, '41-account-errors');

  // Back to the name other tests expect.
  // "Profile saved." is still on screen from the first save, so wait for
  // this save's own answer before reloading.
  await profile.getByLabel('Display name').fill(before);
  const saved = page.waitForResponse(
    (r) => r.url().includes('/api/account/profile') && r.request().method() === 'POST',
  );
  await profile.getByRole('button', { name: 'Save profile' }).click();
  expect((await saved).ok()).toBe(true);
  await page.reload();
  await expect(page.getByTestId('user-name')).toHaveText(before);
});
