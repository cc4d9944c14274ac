import { expect, hydrated, screen, signIn, test } from './fixtures';

test('events: the stream by type, live while another tab makes a change, paused on request', async ({ page, context }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Events' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Events' })).toBeVisible();
  await hydrated(page);
  const table = page.getByTestId('events-table');
  // The seeded demo tenant already has a history.
  await expect(table.locator('tbody tr').first()).toBeVisible();

  // A wildcard keeps one family; the filter is in the address.
  const form = page.getByRole('search', { name: 'Filter the events' });
  await form.getByLabel('Type', { exact: true }).fill('identity.*');
  await form.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/[?&]type=identity\.\*/);
  await hydrated(page);
  for (const t of await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event-type')))) {
    expect(t).toMatch(/^identity\./);
  }
  await expect(page.getByTestId('live-status')).toContainText('Live');

  // Another tab creates an identity; this one shows its event without a reload.
  const stamp = Date.now();
  const other = await context.newPage();
  await other.goto('/identities/new');
  await other.getByLabel('Email').fill(`linus-${stamp}@example.com`);
  await other.getByLabel('Display name').fill('Linus Live');
  await other.getByLabel('Initial password').fill('linus keeps a long password');
  await other.getByRole('button', { name: 'Create identity' }).click();
  await expect(other).toHaveURL(/\/identities\/[0-9a-f-]{36}$/);
  const id = other.url().split('/').pop()!;
  await other.close();
  const fresh = table.locator('tbody tr[data-new="true"]').first();
  await expect(fresh).toBeVisible({ timeout: 15_000 });
  await expect(fresh).toHaveAttribute('data-event-type', 'identity.created');
  await expect(fresh.getByRole('link', { name: `identity ${id.slice(-8)}` })).toHaveAttribute('href', `/identities/${id}`);
  await expect(fresh.getByRole('link', { name: 'Audit record' })).toBeVisible();
  await fresh.getByText('Show data').click();
  await expect(fresh.locator('pre')).toContainText('"display_name": "Linus Live"');
  await screen(page, '15-events-live');

  // Paused: a change made meanwhile does not appear until live updates resume. No fixed
  // wait: another tab, live, is the clock. Once it has read the stream three times after
  // the change (two whole intervals), this tab would have read it at least once, an
  // interval before, if pausing had not stopped it. (Playwright's fake clock cannot stand in: its timer ids do not fit
  // the 32-bit ids the wasm side keeps, so the page could never clear an interval.)
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(page.getByTestId('live-status')).toContainText('Paused');
  // A read the last tick started before the pause must not be counted as one made paused.
  await page.waitForLoadState('networkidle');
  const pausedReads: string[] = [];
  page.on('request', (r) => { if (r.url().includes('/api/events/list')) pausedReads.push(r.url()); });
  const newest = await table.locator('tbody tr').first().locator('td').first().locator('div').getAttribute('title');
  const res = await page.request.post('/api/identities/create', {
    form: {
      email: `ada-${stamp}@example.com`,
      display_name: 'Ada Paused',
      external_id: '',
      kind: 'user',
      role: 'member',
      metadata: '',
      password: '',
    },
    headers: { origin: new URL(page.url()).origin },
  });
  expect(res.ok()).toBeTruthy();
  const watcher = await context.newPage();
  let watcherReads = 0;
  watcher.on('request', (r) => { if (r.url().includes('/api/events/list')) watcherReads += 1; });
  await watcher.goto('/events?type=identity.*');
  await hydrated(watcher);
  const readsAtStart = watcherReads;
  await expect.poll(() => watcherReads - readsAtStart, { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
  await watcher.close();
  expect(pausedReads).toHaveLength(0);
  await expect(table.locator('tbody tr').first().locator('td').first().locator('div')).toHaveAttribute('title', newest!);
  await page.getByRole('button', { name: 'Resume live updates' }).click();
  await expect(page.getByTestId('live-status')).toContainText('Live');
  const resumed = table.locator('tbody tr[data-new="true"]').first();
  await expect(resumed).toBeVisible({ timeout: 15_000 });
  await resumed.getByText('Show data').click();
  await expect(resumed.locator('pre')).toContainText('"display_name": "Ada Paused"');

  // A type the catalogue does not have is said so, not shown as an empty list.
  await form.getByLabel('Type', { exact: true }).fill('identity.exploded');
  await form.getByRole('button', { name: 'Filter' }).click();
  await expect(page.getByRole('alert')).toContainText('GET /v1/events/types lists them');
});
