import { defineConfig } from '@playwright/test';

// The server under test is started by global-setup.ts: the release binary over its own
// embedded PostgreSQL in a fresh data folder, on a port of its own.
export const port = Number(process.env.E2E_PORT ?? 3107);

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  // Deadlines, not waits: a passing test never sits them out, and a busy machine (make
  // test-busy) needs room.
  timeout: 120_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list'], ['html', { outputFolder: 'playwright-report', open: 'never' }]],
  globalSetup: './global-setup.ts',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
  },
});
