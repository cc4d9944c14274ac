import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Page } from '@playwright/test';
import { DEMO, expect, hydrated, screen, test } from './fixtures';

// The suite's server sends mail through SMTP, so its outbox never holds a link. This test
// starts a second server without SMTP: its mails go to the log, and the console's outbox is
// where an admin finds an invitation's link. A viewer must not find one there, and a
// password reset link is shown to nobody.

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function signInAt(page: Page, base: string, email: string, password: string) {
  await page.goto(`${base}/login`);
  await page.getByLabel('Tenant').fill(DEMO.tenant);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/identities$/);
}

test('without SMTP, the outbox shows an invitation link to an admin and none to a viewer', async ({ page, browser }) => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tenantry-e2e-nosmtp-'));
  fs.chmodSync(dataDir, 0o755);
  const bin = process.env.TENANTRY_BIN ?? path.join(os.homedir(), '.cache/tenantry-target/release/tenantry');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TENANTRY_ADDR: `127.0.0.1:${port}`,
    TENANTRY_DATA_DIR: dataDir,
    TENANTRY_DEMO_PASSWORD: DEMO.password,
    TENANTRY_SITE_ROOT: 'target/site',
    TENANTRY_LOG: 'warn',
  };
  delete env.TENANTRY_SMTP_URL;
  const log = fs.openSync(path.join(__dirname, '..', 'test-results', 'server-nosmtp.log'), 'w');
  const server = spawn(bin, ['serve'], { cwd: path.join(__dirname, '..', '..'), stdio: ['ignore', log, log], env });
  let exited = false;
  server.on('exit', () => { exited = true; });
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      expect(exited, 'the second server exited during start-up; see test-results/server-nosmtp.log').toBe(false);
      try {
        if ((await fetch(`${base}/readyz`)).ok) break;
      } catch { /* not listening yet */ }
      expect(Date.now() < deadline, 'the second server became ready').toBe(true);
      await new Promise((r) => setTimeout(r, 250));
    }
    const api = async (method: string, url: string, body: unknown, token?: string) => {
      const res = await fetch(`${base}${url}`, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
      expect(res.status, `${method} ${url}`).toBeLessThan(300);
      return res.json();
    };
    const { access_token: admin } = await api('POST', '/v1/auth/token', {
      tenant: DEMO.tenant, email: DEMO.email, password: DEMO.password,
    });
    const viewer = { email: `vera-${Date.now()}@demo.test`, password: 'a viewer password 2026' };
    await api('POST', '/v1/identities', {
      email: viewer.email, display_name: 'Vera Viewer', roles: ['viewer'], password: viewer.password,
    }, admin);
    const invitee = `ines-${Date.now()}@example.com`;
    await api('POST', '/v1/invitations', { email: invitee, roles: ['viewer'] }, admin);
    // A reset link for the viewer: its owner's alone, shown to nobody.
    await api('POST', '/v1/auth/password-reset', { tenant: DEMO.tenant, email: viewer.email });

    // The admin may invite: the invitation's link is there, the reset link is not.
    await signInAt(page, base, DEMO.email, DEMO.password);
    await page.goto(`${base}/invitations`);
    const outbox = page.getByTestId('outbox');
    const invitation = outbox.getByRole('listitem').filter({ hasText: invitee });
    await expect(invitation).toContainText('logged', { timeout: 30_000 });
    await expect(invitation.getByRole('link', { name: 'Open the invitation link' })).toHaveAttribute('href', /^\/invite\/iv1\./);
    const reset = outbox.getByRole('listitem').filter({ hasText: viewer.email });
    await expect(reset).toContainText('logged', { timeout: 30_000 });
    await expect(reset.getByRole('link')).toHaveCount(0);
    await screen(page, '51-outbox-admin-without-smtp');

    // The viewer reads the outbox but may not invite: no link at all.
    const context = await browser.newContext();
    const other = await context.newPage();
    const errors: string[] = [];
    other.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await signInAt(other, base, viewer.email, viewer.password);
    await other.goto(`${base}/invitations`);
    await hydrated(other);
    const seen = other.getByTestId('outbox');
    await expect(seen.getByRole('listitem').filter({ hasText: invitee })).toBeVisible();
    await expect(seen.getByRole('link')).toHaveCount(0);
    expect(await other.content()).not.toContain('/invite/iv1.');
    expect(await other.content()).not.toContain('/reset-password/');
    await screen(other, '52-outbox-viewer');
    expect(errors).toEqual([]);
    await context.close();
  } finally {
    if (!exited) {
      server.kill('SIGTERM');
      const stopBy = Date.now() + 30_000;
      while (!exited && Date.now() < stopBy) await new Promise((r) => setTimeout(r, 100));
      if (!exited) server.kill('SIGKILL');
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
