import { expect, hydrated, mailsTo, screen, signIn, test } from './fixtures';

test('invite by email, read the mail, accept, and sign in', async ({ page, browser }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await hydrated(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Invitations' }).click();
  await expect(page.getByRole('heading', { name: 'Invitations', level: 1 })).toBeVisible();

  const email = `ada-${Date.now()}@example.com`;
  const form = page.getByRole('form', { name: 'Invite someone' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('viewer', { exact: true }).check();
  await form.getByLabel('Message (optional)').fill('Welcome to the demo tenant!');
  await form.getByRole('button', { name: 'Send invitation' }).click();
  await expect(page.getByText('Invitation sent.')).toBeVisible();
  const row = page.getByTestId('invitations').getByRole('listitem').filter({ hasText: email });
  await expect(row).toContainText('pending');
  await expect(row).toContainText('viewer');

  // The mail, from the real SMTP server.
  const mails = await mailsTo(email);
  expect(mails).toHaveLength(1);
  expect(mails[0].subject).toContain('invited you to Demo');
  expect(mails[0].text).toContain('Welcome to the demo tenant!');
  const link = mails[0].text.match(/http:\/\/\S+\/invite\/iv1\.[A-Za-z0-9_-]+/)?.[0];
  expect(link).toBeTruthy();
  await page.reload();
  await expect(page.getByTestId('outbox').getByRole('listitem').filter({ hasText: email })).toContainText('sent');
  await screen(page, '50-invitations');

  // The invitee, in a browser of their own.
  const invitee = await browser.newContext();
  const ada = await invitee.newPage();
  await ada.goto(link!);
  await expect(ada.getByRole('heading', { name: /^Join Demo/ })).toBeVisible();
  await expect(ada.getByText(email)).toBeVisible();
  await screen(ada, '51-accept');
  await ada.getByLabel('Your name').fill('Ada Lovelace');
  await ada.getByLabel('Choose a password').fill('ada has a long password');
  await ada.getByRole('button', { name: 'Accept and sign in' }).click();
  await expect(ada).toHaveURL(/\/identities/);
  await expect(ada.getByTestId('user-name')).toHaveText('Ada Lovelace');

  // The link worked once.
  await ada.goto(link!);
  await expect(ada.getByRole('heading', { name: 'This invitation was already accepted' })).toBeVisible();
  await screen(ada, '52-accept-used');

  // And Ada signs in again with the password she chose.
  await ada.goto('/identities');
  await ada.getByRole('button', { name: 'Sign out' }).click();
  await expect(ada).toHaveURL(/\/login$/);
  await ada.getByLabel('Tenant').fill('demo');
  await ada.getByLabel('Email').fill(email);
  await ada.getByLabel('Password').fill('ada has a long password');
  await ada.getByRole('button', { name: 'Sign in' }).click();
  await expect(ada).toHaveURL(/\/identities$/);
  await invitee.close();

  // The admin sees it accepted.
  await page.reload();
  await expect(page.getByTestId('invitations').getByRole('listitem').filter({ hasText: email })).toContainText('accepted');
});

test('a bad invitation link gets a clear page', async ({ page }) => {
  await page.goto('/invite/iv1.not-a-real-token');
  await expect(page.getByRole('heading', { name: 'This invitation link does not work' })).toBeVisible();
});
