import { expect, hydrated, screen, signIn, test } from './fixtures';

test("a person's data is exported with its progress and downloaded once, then erased after typing their email", async ({ page, request }) => {
  const { access_token: admin } = await (
    await request.post('/v1/auth/token', { data: { tenant: 'demo', email: 'admin@demo.test', password: 'e2e demo password 2026' } })
  ).json();
  const email = `rhea-${Date.now()}@demo.test`;
  const created = await request.post('/v1/identities', {
    headers: { authorization: `Bearer ${admin}` },
    data: { email, display_name: 'Rhea Records', roles: ['member'] },
  });
  expect(created.status()).toBe(201);
  const { id } = await created.json();

  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await page.goto(`/identities/${id}`);
  const card = page.getByRole('region', { name: 'Personal data' });
  await card.getByRole('button', { name: 'Export data' }).click();
  // The job reports its progress, then offers the link, which works once.
  const download = card.getByRole('link', { name: 'Download export' });
  await expect(download).toBeVisible({ timeout: 30_000 });
  await expect(card).toContainText('The link works once');
  await screen(page, '60-identity-export-ready');
  const href = await download.getAttribute('href');
  expect(href).toMatch(/^\/v1\/privacy\/exports\/download\/ex1\./);
  const doc = await request.get(href!);
  expect(doc.status()).toBe(200);
  expect((await doc.json()).identity.email).toBe(email);
  expect((await request.get(href!)).status()).toBe(409);

  // Erasing asks for the email to be typed; a wrong one changes nothing.
  await card.getByRole('link', { name: 'Erase personal data…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Erase Rhea Records?' });
  await expect(dialog).toBeVisible();
  const confirm = dialog.getByLabel(`Type ${email} to confirm`);
  await confirm.fill('someone.else@demo.test');
  await dialog.getByRole('button', { name: 'Erase permanently' }).click();
  await expect(dialog.getByText("Type the identity's email exactly to confirm.")).toBeVisible();
  await screen(page, '61-identity-erase-confirm');
  expect((await request.get(`/v1/identities/${id}`, { headers: { authorization: `Bearer ${admin}` } })).status()).toBe(200);

  await confirm.fill(email);
  await dialog.getByRole('button', { name: 'Erase permanently' }).click();
  await expect(page).toHaveURL(/\/identities\?done=erased/);
  await expect(page.getByText('The person was erased')).toBeVisible();
  expect((await request.get(`/v1/identities/${id}`, { headers: { authorization: `Bearer ${admin}` } })).status()).toBe(404);
});

test('an owner sets how long data is kept, and a wrong value is explained', async ({ page }) => {
  await signIn(page, '?next=/settings');
  await expect(page).toHaveURL(/\/settings$/);
  await hydrated(page);
  const card = page.getByRole('region', { name: 'Data retention' });
  await expect(card).toContainText('Audit records: kept');
  const form = card.getByRole('form', { name: 'Retention periods' });

  await form.getByLabel('Empty the Trash after').fill('0');
  await form.getByRole('button', { name: 'Save retention' }).click();
  await expect(form.getByText('Give a number of days from 1 to 36500')).toBeVisible();

  await form.getByLabel('Erase people disabled for').fill('365');
  await form.getByLabel('Empty the Trash after').fill('30');
  await form.getByLabel('End sign-ins unused for').fill('');
  await form.getByRole('button', { name: 'Save retention' }).click();
  await expect(page.getByText('Retention saved. It applies within the hour.')).toBeVisible();
  await expect(card).toContainText('People disabled: removed after 365 days.');
  await expect(card).toContainText('Identities and memories in the Trash: removed after 30 days.');
  await expect(card).toContainText('Unused sessions and API sign-ins: kept until someone removes them.');
  await expect(card.getByTestId('retention-schedule')).toContainText(/(First|Last) run:/);
  await screen(page, '85-settings-retention');

  // Back to keeping everything, so the rest of the suite's data stays.
  await form.getByLabel('Erase people disabled for').fill('');
  await form.getByLabel('Empty the Trash after').fill('');
  await form.getByRole('button', { name: 'Save retention' }).click();
  await expect(card).toContainText('People disabled: kept until someone removes them.');
  await expect(card.getByTestId('retention-schedule')).toHaveText('Nothing is set, so nothing is removed.');
});

test('an owner rotates the data key and follows its progress', async ({ page }) => {
  await signIn(page, '?next=/settings');
  await expect(page).toHaveURL(/\/settings$/);
  await hydrated(page);
  const card = page.getByRole('region', { name: 'Encryption' });
  const keyLine = card.getByTestId('data-key');
  await expect(keyLine).toContainText(/Data key: version \d+/);
  const before = Number((await keyLine.textContent())!.match(/version (\d+)/)![1]);
  await expect(card.getByTestId('plain-rows')).toContainText('Everything is sealed');

  await card.getByRole('button', { name: 'Rotate data key' }).click();
  // The job shows its progress while it runs (it waits ten seconds before it removes the
  // old key), and nobody can start another meanwhile.
  await expect(card.getByRole('progressbar', { name: 'Data key rotation progress' })).toBeVisible({ timeout: 15_000 });
  await expect(card.getByRole('button', { name: 'Rotate data key' })).toBeDisabled();
  await screen(page, '86-settings-key-rotation-running');
  await expect(card.getByTestId('key-job')).toContainText('Data key rotation: finished', { timeout: 60_000 });
  await expect(keyLine).toContainText(`version ${before + 1}`);
  await expect(card.getByRole('button', { name: 'Rotate data key' })).toBeEnabled();
  await screen(page, '87-settings-key-rotation-done');
});
