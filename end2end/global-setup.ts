import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { port } from './playwright.config';
import { DEMO_PASSWORD, E2E_ADMIN_TOKEN } from './tests/fixtures';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port: p } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(p));
    });
    srv.on('error', reject);
  });
}

async function waitFor(url: string, what: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${what} did not start in 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Starts `node <script> 0`: the peer binds a free port itself (no other process can take it
// between a choice here and its bind) and prints its address, which is returned once seen.
// Its output is kept in test-results/<name>.log.
function startPeer(script: string, name: string): Promise<{ child: ChildProcess; url: string }> {
  fs.mkdirSync(path.join(__dirname, 'test-results'), { recursive: true });
  const log = fs.createWriteStream(path.join(__dirname, 'test-results', `${name}.log`));
  const child = spawn('node', [path.join(__dirname, script), '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.pipe(log);
  return new Promise((resolve, reject) => {
    let said = '';
    const timer = setTimeout(() => { child.kill('SIGTERM'); reject(new Error(`${name} did not start in 60 s: ${said}`)); }, 60_000);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}): ${said}`)); });
    child.stdout!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      said += chunk.toString();
      const found = said.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (found) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ child, url: found[0] });
      }
    });
  });
}

// Starts a real SMTP server (maildev), a real OpenID provider (oidc-provider), a webhook
// receiver, and `tenantry serve` sending mail to the first, with a
// throwaway data folder; waits until both are ready, and returns the teardown: SIGTERM
// (the server stops its PostgreSQL), then maildev, then the folder goes. Tests read the
// mail through maildev's API at MAILDEV_WEB_PORT.
export default async function globalSetup() {
  const smtpPort = await freePort();
  const webPort = await freePort();
  const maildev = spawn(path.join(__dirname, 'node_modules/.bin/maildev'),
    ['--ip', '127.0.0.1', '--web-ip', '127.0.0.1', '-s', String(smtpPort), '-w', String(webPort)],
    { stdio: 'ignore' });
  process.env.MAILDEV_WEB_PORT = String(webPort);
  await waitFor(`http://127.0.0.1:${webPort}/api/email`, 'maildev');

  // A real OpenID provider for single sign-on, with a client registered for this server
  // (RFC 7591 dynamic registration); the SSO tests read OIDC_* from the environment.
  const { child: oidc, url: issuer } = await startPeer('oidc/provider.mjs', 'oidc-provider');
  await waitFor(`${issuer}/.well-known/openid-configuration`, 'the OpenID provider');
  const registered = await fetch(`${issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: [`http://127.0.0.1:${port}/auth/oidc/callback`],
      token_endpoint_auth_method: 'client_secret_basic',
    }),
  });
  if (registered.status !== 201) throw new Error(`client registration failed: ${registered.status}`);
  const client = await registered.json();
  process.env.OIDC_ISSUER = issuer;
  process.env.OIDC_CLIENT_ID = client.client_id;
  process.env.OIDC_CLIENT_SECRET = client.client_secret;

  // A webhook receiver that checks signatures with the official Standard Webhooks library;
  // the webhook tests point their subscriptions at WEBHOOK_RECEIVER.
  const { child: receiver, url: receiverUrl } = await startPeer('webhooks/receiver.mjs', 'webhook-receiver');
  process.env.WEBHOOK_RECEIVER = receiverUrl;
  await waitFor(`${process.env.WEBHOOK_RECEIVER}/count`, 'the webhook receiver');

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tenantry-e2e-'));
  // mkdtemp makes the folder 0700; PostgreSQL runs as the postgres user and must enter it.
  fs.chmodSync(dataDir, 0o755);
  const bin = process.env.TENANTRY_BIN ?? path.join(os.homedir(), '.cache/tenantry-target/release/tenantry');
  fs.mkdirSync(path.join(__dirname, 'test-results'), { recursive: true });
  const log = fs.openSync(path.join(__dirname, 'test-results', 'server.log'), 'w');
  const server = spawn(bin, ['serve'], {
    cwd: path.join(__dirname, '..'),
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      TENANTRY_ADDR: `127.0.0.1:${port}`,
      TENANTRY_DATA_DIR: dataDir,
      TENANTRY_DEMO_PASSWORD: DEMO_PASSWORD,
      TENANTRY_SITE_ROOT: 'target/site',
      TENANTRY_LOG: 'info,sqlx=warn',
      TENANTRY_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
      TENANTRY_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      TENANTRY_MAIL_FROM: 'Tenantry E2E <no-reply@tenantry.test>',
      // The receiver listens on loopback; a failing endpoint gives up after two quick retries.
      TENANTRY_WEBHOOKS_ALLOW_PRIVATE: 'true',
      TENANTRY_WEBHOOKS_RETRY_SCHEDULE: '1s,1s',
      // The test OpenID provider listens on loopback too.
      TENANTRY_SSO_ALLOW_PRIVATE: 'true',
    },
  });
  let exited = false;
  server.on('exit', () => { exited = true; });

  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) { maildev.kill('SIGTERM'); oidc.kill('SIGTERM'); receiver.kill('SIGTERM'); throw new Error(`tenantry exited during start-up; see end2end/test-results/server.log`); }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error('tenantry did not become ready in 120 s');
    await new Promise((r) => setTimeout(r, 250));
  }

  return async () => {
    if (!exited) {
      server.kill('SIGTERM');
      const stopBy = Date.now() + 30_000;
      while (!exited && Date.now() < stopBy) await new Promise((r) => setTimeout(r, 100));
      if (!exited) server.kill('SIGKILL');
    }
    maildev.kill('SIGTERM');
    oidc.kill('SIGTERM');
    receiver.kill('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
