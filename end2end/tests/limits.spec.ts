import { expect, hydrated, screen, signIn, test } from './fixtures';

test('the Limits screen shows the plan, each quota with its use, and the rates', async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await hydrated(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Limits' }).click();
  await expect(page.getByRole('heading', { name: 'Limits', level: 1 })).toBeVisible();
  await expect(page.getByTestId('plan')).toHaveText('pro');
  // Each quota is a bar with its figure; the demo tenant holds identities already.
  const identities = page.getByRole('progressbar', { name: /^Identities: \d[\d,]* of 100,000$/ });
  await expect(identities).toBeVisible();
  for (const name of ['Memories', 'Webhooks', 'Policies', 'API keys']) {
    await expect(page.getByRole('progressbar', { name: new RegExp(`^${name}: `) })).toBeVisible();
  }
  await expect(page.getByText('50 a second, 150 at once')).toBeVisible();
  await expect(page.getByTestId('requests-chart')).toBeVisible();
  await page.getByText('The figures as a table').click();
  await expect(page.getByRole('region', { name: 'Requests per hour' }).getByRole('row')).toHaveCount(25);
  await screen(page, '60-limits');
});

test('a key with a rate of its own says so, and is refused past it with the limit named', async ({ page, request }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await page.goto('/api-keys');
  await hydrated(page);
  const name = `slow key ${Date.now()}`;
  const form = page.getByRole('form', { name: 'New key' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Scopes').fill('identities:read');
  await form.getByLabel('Requests a second').fill('0.1');
  await form.getByLabel('At once').fill('1');
  await form.getByRole('button', { name: 'Create key' }).click();
  const secret = await page.getByLabel('New API key').inputValue();
  const row = page.getByRole('row').filter({ hasText: name });
  await expect(row).toContainText('limited to 0.1 a second, 1 at once');
  await screen(page, '61-api-key-with-rate');

  const call = () => request.get('/v1/identities', { headers: { 'x-api-key': secret } });
  expect((await call()).status()).toBe(200);
  const refused = await call();
  expect(refused.status()).toBe(429);
  expect(refused.headers()['ratelimit-policy']).toBe('"api_key";q=1;w=10');
  expect(Number(refused.headers()['retry-after'])).toBeGreaterThan(0);
  expect((await refused.json()).limit.policy).toBe('api_key');

  // A bad rate is refused on the form, next to its field.
  await form.getByLabel('Name').fill(`${name} bad`);
  await form.getByLabel('Requests a second').fill('-1');
  await form.getByRole('button', { name: 'Create key' }).click();
  await expect(form.getByLabel('Requests a second')).toHaveAttribute('aria-invalid', 'true');
});
