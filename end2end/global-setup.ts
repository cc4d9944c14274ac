import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { port } from './playwright.config';
import { DEMO_PASSWORD } from './tests/fixtures';

// Starts `tenantry serve` with a throwaway data folder, waits until it is ready, and
// returns the teardown: SIGTERM (the server stops its PostgreSQL), then the folder goes.
export default async function globalSetup() {
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
    },
  });
  let exited = false;
  server.on('exit', () => { exited = true; });

  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) throw new Error(`tenantry exited during start-up; see end2end/test-results/server.log`);
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
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
