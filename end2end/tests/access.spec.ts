import { DEMO, expect, hydrated, screen, signIn, test } from './fixtures';

test('a custom role from the matrix, held by someone who is then refused; a deny policy explained by the simulator', async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await hydrated(page);

  // Roles: the list, then a new role from the matrix.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Roles' }).click();
  await expect(page.getByTestId('roles-table')).toContainText('owner');
  await screen(page, '20-roles');
  await page.getByRole('link', { name: 'New role' }).click();
  await page.getByLabel('Name').fill('support');
  await page.getByLabel('Description', { exact: true }).fill('Helps people, cannot remove them');
  const matrix = page.getByTestId('permission-matrix');
  await matrix.getByLabel('identities read').selectOption('allow');
  await matrix.getByLabel('identities update').selectOption('allow');
  await matrix.getByLabel('identities delete').selectOption('deny');
  await screen(page, '21-role-matrix');
  await page.getByRole('button', { name: 'Save role' }).click();
  await expect(page.getByText('Role saved.')).toBeVisible();
  await expect(page.getByTestId('permission-matrix').getByLabel('identities delete')).toHaveValue('deny');

  // Someone who holds only that role.
  const email = `sam-${Date.now()}@example.com`;
  const password = 'sam has a long password';
  await page.goto('/identities/new');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Display name').fill('Sam Support');
  await page.getByLabel('Initial password').fill(password);
  await page.getByRole('button', { name: 'Create identity' }).click();
  await expect(page.getByRole('heading', { name: 'Sam Support' })).toBeVisible();
  const roles = page.getByRole('region', { name: 'Roles' });
  await roles.getByLabel('member').uncheck();
  await roles.getByLabel('support').check();
  await roles.getByRole('button', { name: 'Save roles' }).click();
  await expect(page.getByRole('region', { name: 'Activity' }).getByText('Roles changed', { exact: true })).toBeVisible();

  // Signed in as Sam: no create button, and creating anyway is refused by the server.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.getByLabel('Tenant').fill('demo');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/identities$/);
  await expect(page.getByTestId('user-name')).toHaveText('Sam Support');
  await expect(page.getByRole('link', { name: 'New identity' })).toHaveCount(0);
  await page.goto('/identities/new');
  await page.getByLabel('Email').fill(`nope-${Date.now()}@example.com`);
  await page.getByRole('button', { name: 'Create identity' }).click();
  await expect(page.getByRole('alert')).toContainText('You are not allowed to identities:create');
  await screen(page, '22-refused');

  // Back as the owner: a deny policy for support, and the simulator explains it.
  await page.getByRole('button', { name: 'Sign out' }).click();
  // Signed out first: /login sends whoever is still signed in on to the console.
  await expect(page).toHaveURL(/\/login$/);
  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await page.goto('/policies/new');
  await page.getByLabel('Name').fill('Support does not edit people');
  await page.getByLabel('Effect').selectOption('deny');
  await page.getByLabel('Priority').fill('10');
  await page.getByLabel('Resource').selectOption('identities');
  await page.getByLabel('Action').selectOption('update');
  // A typo is refused with where it is.
  await page.getByLabel('Condition (JSON Logic, optional)').fill('{"in": ["support", {"var": "principle.roles"}]}');
  await page.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByText('at /in/1/var: unknown variable "principle.roles"')).toBeVisible();
  await screen(page, '23-policy-error');
  await page.getByLabel('Condition (JSON Logic, optional)').fill('{"in": ["support", {"var": "principal.roles"}]}');
  await page.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByText('Policy saved as a new version.')).toBeVisible();
  await expect(page.getByTestId('version-1')).toContainText('created');
  await page.getByLabel('Priority').fill('20');
  await page.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByTestId('version-2')).toContainText('updated');
  await page.getByTestId('version-2').getByText('field(s) changed').click();
  await expect(page.getByTestId('version-2')).toContainText('- 10');
  await expect(page.getByTestId('version-2')).toContainText('+ 20');
  await screen(page, '24-policy-history');

  await page.goto('/policies');
  await expect(page.getByTestId('policies-table')).toContainText('identities:update');
  await screen(page, '25-policies');
  await page.getByRole('link', { name: 'Simulator' }).click();
  await page.getByLabel('Who (email)').fill(email);
  await page.getByLabel('Action').selectOption('identities:update');
  await page.getByRole('button', { name: 'Decide' }).click();
  const decision = page.getByTestId('decision');
  await expect(decision).toContainText('Denied');
  await expect(decision).toContainText('Denied by the policy "Support does not edit people" (priority 20).');
  await expect(page.getByTestId('trace')).toContainText('matched: this decided');
  await expect(page.getByTestId('trace')).toContainText('matched, outranked');
  await screen(page, '26-simulator');

  await page.getByLabel('Action').selectOption('identities:read');
  await page.getByRole('button', { name: 'Decide' }).click();
  await expect(decision).toContainText('Allowed by the role "support".');
});

test('groups: a tree built with the parent picker, members and roles', async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/identities$/);
  await hydrated(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Groups' }).click();
  const stamp = Date.now();
  const newGroup = page.getByRole('form', { name: 'New group' });
  await newGroup.getByLabel('Name').fill(`Demo Holding ${stamp}`);
  await newGroup.getByLabel('Kind').selectOption('company');
  await newGroup.getByRole('button', { name: 'Create group' }).click();
  await expect(page.getByText('Group saved.')).toBeVisible();
  await page.goto('/groups');
  await newGroup.getByLabel('Name').fill(`Research ${stamp}`);
  await newGroup.getByLabel('Kind').selectOption('department');
  await newGroup.getByLabel('Parent group').selectOption({ label: `Demo Holding ${stamp}` });
  await newGroup.getByRole('button', { name: 'Create group' }).click();
  await expect(page.getByText(`in Demo Holding ${stamp}`)).toBeVisible();

  await page.getByRole('form', { name: 'Add a member' }).getByLabel('Add a member by email').fill(DEMO.email);
  await page.getByRole('button', { name: 'Add member' }).click();
  await expect(page.getByRole('region', { name: /Members/ })).toContainText('Owner');
  await page.getByRole('form', { name: 'Group roles' }).getByLabel('viewer').check();
  await page.getByRole('button', { name: 'Save roles' }).click();
  await expect(page.getByRole('form', { name: 'Group roles' }).getByLabel('viewer')).toBeChecked();
  await screen(page, '27-group');

  // The holding cannot move under its own department.
  await page.goto('/groups');
  await expect(page.getByRole('link', { name: `Research ${stamp}` })).toBeVisible();
  await screen(page, '28-groups-tree');
  await page.getByRole('link', { name: `Demo Holding ${stamp}` }).click();
  const parent = page.getByRole('form', { name: 'Edit group' }).getByLabel('Parent group');
  await expect(parent.locator('option', { hasText: `Research ${stamp}` })).toHaveCount(0);
});
