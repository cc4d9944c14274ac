import { BrowserContext } from '@playwright/test';
import { DEMO, expect, hydrated, mailsTo, screen, signIn, test } from './fixtures';

// The provider's development login page imports a web font, and this machine has no
// internet: answer that one request with an empty style sheet.
async function noFonts(context: BrowserContext) {
  await context.route('https://fonts.googleapis.com/**', (r) =>
    r.fulfill({ status: 200, contentType: 'text/css', body: '' }));
}

test('an admin adds an OpenID provider and a new person signs in through it', async ({ page, browser }) => {
  await noFonts(page.context());
  await signIn(page, '?next=/settings');
  await expect(page).toHaveURL(/\/settings$/);
  await hydrated(page);
  await expect(page.getByRole('textbox', { name: 'Redirect URI' })).toHaveValue(/\/auth\/oidc\/callback$/);

  // A typo in the issuer is caught when saving, with what went wrong.
  const form = page.getByRole('form', { name: 'Add an identity provider' });
  await form.getByLabel('Button name').fill('Test IdP');
  await form.getByLabel('Issuer URL').fill('http://127.0.0.1:9');
  await form.getByRole('textbox', { name: 'Client id', exact: true }).fill(process.env.OIDC_CLIENT_ID!);
  await form.getByLabel('Client secret').fill(process.env.OIDC_CLIENT_SECRET!);
  await form.getByRole('button', { name: 'Add provider' }).click();
  await expect(form.getByText(/Could not read the OpenID configuration at http:\/\/127\.0\.0\.1:9/)).toBeVisible();

  await form.getByLabel('Issuer URL').fill(process.env.OIDC_ISSUER!);
  await form.getByLabel('Client secret').fill(process.env.OIDC_CLIENT_SECRET!);
  await form.getByLabel('Role for new accounts').selectOption('viewer');
  await form.getByLabel('Create accounts on first sign-in').check();
  await form.getByRole('button', { name: 'Add provider' }).click();
  await expect(page.getByText('Identity provider added')).toBeVisible();
  const list = page.getByRole('list', { name: 'Identity providers' });
  await expect(list).toContainText('Test IdP');
  await expect(list).toContainText('creates an account as viewer');
  await expect(list).toContainText('nobody has signed in with it yet');
  await screen(page, '80-sso-settings');

  // Someone the tenant does not know yet, in a browser of their own.
  const context = await browser.newContext();
  await noFonts(context);
  const visitor = await context.newPage();
  await visitor.goto('/login');
  // Asking for the tenant's single sign-on finds its button.
  await visitor.getByLabel('Company sign-in (SSO)').fill(DEMO.tenant);
  await visitor.getByRole('button', { name: 'Continue' }).click();
  await expect(visitor).toHaveURL(new RegExp(`/login\\?sso=1&tenant=${DEMO.tenant}$`));
  await screen(visitor, '81-sso-sign-in-page');
  await visitor.getByRole('link', { name: 'Sign in with Test IdP' }).click();

  // The provider's own login and consent pages.
  await visitor.locator('input[name="login"]').fill('sso-person');
  await visitor.locator('input[name="password"]').fill('any password');
  await visitor.getByRole('button', { name: 'Sign-in' }).click();
  await visitor.getByRole('button', { name: 'Continue' }).click();

  await expect(visitor).toHaveURL(/\/identities$/);
  await expect(visitor.getByTestId('user-name')).toHaveText('Sso Person');
  await expect(visitor.getByRole('main')).toContainText('sso-person@example.com');
  await screen(visitor, '82-sso-signed-in');
  await context.close();

  // The admin sees who came in through the provider.
  await page.reload();
  await expect(page.getByRole('list', { name: 'Identity providers' })).toContainText('1 person signs in with it');

  // An invitation to a tenant with single sign-on may be accepted through the provider.
  await page.goto('/invitations');
  await hydrated(page);
  const email = `sso-invitee-${Date.now()}@example.com`;
  const invite = page.getByRole('form', { name: 'Invite someone' });
  await invite.getByLabel('Email').fill(email);
  await invite.getByLabel('viewer', { exact: true }).check();
  await invite.getByRole('button', { name: 'Send invitation' }).click();
  await expect(page.getByText('Invitation sent.')).toBeVisible();
  const link = (await mailsTo(email))[0].text.match(/http:\/\/\S+\/invite\/iv1\.[A-Za-z0-9_-]+/)?.[0];
  expect(link).toBeTruthy();
  const token = link!.split('/invite/')[1];
  const inviteeContext = await browser.newContext();
  const invitee = await inviteeContext.newPage();
  await invitee.goto(link!);
  await expect(invitee.getByRole('heading', { name: /^Join Demo/ })).toBeVisible();
  const viaSso = invitee.getByRole('link', { name: 'Accept with Test IdP' });
  await expect(viaSso).toHaveAttribute('href', new RegExp(`^/auth/sso/login/[0-9a-f-]+\\?invitation=${token.replace(/\./g, "\\.")}$`));
  await screen(invitee, '83-accept-invitation-with-sso');
  await inviteeContext.close();
});

test('a sign-in the provider cannot vouch for is refused with a page that says why', async ({ browser }) => {
  const context = await browser.newContext();
  await noFonts(context);
  const visitor = await context.newPage();
  await visitor.goto(`/login?tenant=${DEMO.tenant}`);
  await visitor.getByRole('link', { name: 'Sign in with Test IdP' }).click();
  await visitor.locator('input[name="login"]').fill('unverified-sam');
  await visitor.locator('input[name="password"]').fill('any password');
  await visitor.getByRole('button', { name: 'Sign-in' }).click();
  await visitor.getByRole('button', { name: 'Continue' }).click();
  await expect(visitor).toHaveURL(new RegExp(`/login\\?tenant=${DEMO.tenant}$`));
  await expect(visitor.getByRole('alert')).toContainText('has not verified unverified-sam@example.com');
  await screen(visitor, '83-sso-refused');
  await context.close();
});
