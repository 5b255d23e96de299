// Local mode of the dashboard (a server that trusts X-User-ID), for
// tests/e2e/test_dashboard.py: continue without a token as WL_USER, see the
// stream go live, then see a worklet that the Python side creates for that
// user appear and reach running without a reload. Prints "CREATE" and
// waits for a line on stdin once it was created; "RESULT {json}" last.

import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../browser/package.json'));
const { chromium } = require('playwright-core');

const OUT = process.env.WL_OUT;
mkdirSync(OUT, { recursive: true });
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const result = {};
try {
  const page = await browser.newPage({ viewport: { width: 1024, height: 700 } });
  let loads = 0;
  page.on('load', () => { loads++; });
  await page.goto(process.env.WL_BASE + '/');
  await page.getByRole('button', { name: 'Continue without a token' }).waitFor();
  await page.getByLabel('User id').fill(process.env.WL_USER);
  await page.getByRole('button', { name: 'Continue without a token' }).click();
  await page.locator('#empty').waitFor({ state: 'visible' });
  await page.locator('#conn', { hasText: 'Live' }).waitFor();
  console.log('CREATE');
  const id = (await stdinLines.next()).value;
  const item = page.locator(`.witem[data-id="${id}"]`);
  await item.waitFor({ timeout: 30000 });
  await item.locator('.badge.running').waitFor({ timeout: 240000 });
  result.loads = loads;
  const path = join(OUT, '13-local-mode.png');
  await page.screenshot({ path });
  result.screenshot = path;
  if (loads !== 1) throw new Error('the page reloaded');
} finally {
  await browser.close();
}
console.log('RESULT ' + JSON.stringify(result));
process.exit(0);
