import { Page } from '@playwright/test';
import { expect, hydrated, screen, signIn, test } from './fixtures';

const ALLERGY = 'Maria is allergic to peanuts and shellfish.';
const REPORT = 'The quarterly report is due on Friday.';
const FREEZE = 'Deploys to production are frozen during the holiday week.';

/** Stores a memory through the form; ends on the memory's page. */
async function store(page: Page, text: string, tags: string) {
  await page.goto('/memories/new');
  await hydrated(page);
  const form = page.getByRole('form', { name: 'New memory' });
  await form.getByRole('textbox', { name: 'Text', exact: true }).fill(text);
  await form.getByRole('textbox', { name: 'Tags', exact: true }).fill(tags);
  await form.getByRole('button', { name: 'Store memory' }).click();
  await expect(page).toHaveURL(/\/memories\/[0-9a-f-]{36}\?(created|duplicate)=1$/);
  await expect(page.getByTestId('memory-text')).toHaveText(text);
}

/** Searches from the memories page, in `mode`. */
async function search(page: Page, query: string, mode: 'hybrid' | 'semantic' | 'keyword') {
  const form = page.getByRole('search', { name: 'Search memories' });
  await form.getByRole('searchbox', { name: 'Search memories' }).fill(query);
  await form.getByLabel('Mode').selectOption(mode);
  await form.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(new RegExp(`[?&]mode=${mode}`));
  await expect(page).toHaveURL(/[?&]q=/);
}

test('store memories, find them by meaning and by words, trash and restore one', async ({ page }) => {
  await signIn(page, '?next=/memories');
  await expect(page).toHaveURL(/\/memories$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Memories' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Memory status' })).toContainText('Model');

  // Three memories through the form; the first one shows the form as people fill it.
  await page.getByRole('link', { name: 'New memory' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'New memory' })).toBeVisible();
  await hydrated(page);
  const form = page.getByRole('form', { name: 'New memory' });
  await form.getByRole('textbox', { name: 'Text', exact: true }).fill(ALLERGY);
  await form.getByRole('textbox', { name: 'Tags', exact: true }).fill('health, family');
  await form.getByRole('textbox', { name: 'Source', exact: true }).fill('chat');
  await form.getByRole('textbox', { name: 'Importance', exact: true }).fill('0.9');
  await screen(page, '90-memory-new');
  await form.getByRole('button', { name: 'Store memory' }).click();
  await expect(page).toHaveURL(/\/memories\/[0-9a-f-]{36}\?created=1$/);
  await expect(page.getByText('Memory stored.')).toBeVisible();
  await expect(page.getByTestId('memory-text')).toHaveText(ALLERGY);
  const details = page.getByRole('region', { name: 'Details' });
  await expect(details).toContainText('chat');
  await expect(details).toContainText('0.9');
  await screen(page, '91-memory-detail');

  await store(page, REPORT, 'work');
  await store(page, FREEZE, 'work, ops');

  // The same text again is not stored twice: the admin is told, and shown the one kept.
  await page.goto('/memories/new');
  await hydrated(page);
  await page.getByRole('textbox', { name: 'Text', exact: true }).fill(ALLERGY);
  await page.getByRole('button', { name: 'Store memory' }).click();
  await expect(page).toHaveURL(/\/memories\/[0-9a-f-]{36}\?duplicate=1$/);
  await expect(page.getByText('This memory already exists.')).toBeVisible();
  await expect(page.getByTestId('memory-text')).toHaveText(ALLERGY);
  await screen(page, '92-memory-duplicate');

  // The newest first, without a query.
  await page.getByRole('link', { name: '← Memories' }).click();
  await expect(page).toHaveURL(/\/memories$/);
  const list = page.getByRole('list', { name: 'Memories', exact: true });
  await expect(list).toContainText(ALLERGY);
  await expect(list).toContainText(REPORT);
  await expect(list).toContainText(FREEZE);

  // By meaning: a paraphrase that shares no word with the memory finds it first.
  await search(page, 'Which foods can she not eat?', 'semantic');
  const results = page.getByRole('list', { name: 'Search results' });
  await expect(results.getByRole('listitem').first()).toContainText(ALLERGY);
  await expect(results.getByRole('listitem').first()).toContainText('semantic');
  await screen(page, '93-memories-semantic-search');

  // The query and mode are in the address: a reload shows the same results.
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole('searchbox', { name: 'Search memories' })).toHaveValue('Which foods can she not eat?');
  await expect(page.getByRole('list', { name: 'Search results' }).getByRole('listitem').first()).toContainText(ALLERGY);

  // By words: the matched words are marked.
  await search(page, 'quarterly report', 'keyword');
  const first = page.getByRole('list', { name: 'Search results' }).getByRole('listitem').first();
  await expect(first).toContainText(REPORT);
  await expect(first.locator('mark').first()).toHaveText(/quarterly|report/i);
  await expect(first).toContainText('keyword');
  await screen(page, '94-memories-keyword-search');

  // To the Trash: gone from the list, waiting in the Trash.
  await page.goto('/memories');
  await hydrated(page);
  await page.getByRole('list', { name: 'Memories', exact: true }).getByRole('link', { name: FREEZE }).click();
  await expect(page.getByTestId('memory-text')).toHaveText(FREEZE);
  await hydrated(page);
  await page.getByRole('button', { name: 'Move to Trash' }).click();
  await expect(page).toHaveURL(/\/memories\?done=trashed$/);
  await expect(page.getByText('Memory moved to the Trash.')).toBeVisible();
  await expect(page.getByRole('list', { name: 'Memories', exact: true })).not.toContainText(FREEZE);

  await page.getByRole('navigation', { name: 'Memory views' }).getByRole('link', { name: 'Trash' }).click();
  await expect(page).toHaveURL(/\/memories\/trash$/);
  const trash = page.getByRole('list', { name: 'Trash' });
  await expect(trash).toContainText(FREEZE);
  await expect(page.getByText(/removed for good \d+ days after/)).toBeVisible();
  await screen(page, '95-memories-trash');

  // Restored: back in the list.
  await trash.getByRole('listitem').filter({ hasText: FREEZE }).getByRole('button', { name: /^Restore/ }).click();
  await expect(page.getByText('Memory restored')).toBeVisible();
  await expect(page.getByText('The Trash is empty')).toBeVisible();
  await page.getByRole('navigation', { name: 'Memory views' }).getByRole('link', { name: 'All memories' }).click();
  await expect(page).toHaveURL(/\/memories$/);
  await expect(page.getByRole('list', { name: 'Memories', exact: true })).toContainText(FREEZE);
});
