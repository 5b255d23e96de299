// The dashboard shows a worklet whose base prompt failed: the banner says
// so while it runs, the failed prompt has a Retry button, and once the
// retry is applied the banner goes. For tests/e2e/test_prompts.py, which
// passes WL_BASE, WL_TOKEN, WL_ID (the worklet), WL_PROMPT (the base
// prompt's id) and WL_OUT (screenshots). Prints "RESULT {json}" last; any
// failed expectation throws (exit code not 0).

import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../browser/package.json'));
const { chromium } = require('playwright-core');

const { WL_BASE: BASE, WL_TOKEN: TOKEN, WL_ID: ID, WL_PROMPT: PID, WL_OUT: OUT } = process.env;
mkdirSync(OUT, { recursive: true });
const result = {};

function expect(cond, what) {
  if (!cond) throw new Error('expected: ' + what);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(BASE + '/');
  // the dashboard moves to its base domain first: sign in there
  await page.getByLabel('API token').waitFor();
  await page.getByLabel('API token').fill(TOKEN);
  await page.keyboard.press('Enter');
  await page.locator(`.witem[data-id="${ID}"]`).getByRole('link').click();
  const banner = page.locator('#d-failure');
  await banner.filter({ hasText: 'base prompt was not applied' }).waitFor({ timeout: 30000 });
  result.banner = await banner.textContent();
  expect(await page.locator('#d-phase').textContent() === 'running', 'the worklet shows as running');
  const item = page.locator(`.prompt[data-id="${PID}"]`);
  await item.waitFor();
  expect(await item.getAttribute('data-status') === 'error', 'the base prompt shows as failed');
  await page.screenshot({ path: join(OUT, 'base-prompt-failed.png'), fullPage: true });
  await item.getByRole('button', { name: 'Retry this prompt' }).click();
  await page.locator(`.prompt[data-id="${PID}"][data-status="completed"]`).waitFor({ timeout: 180000 });
  await banner.waitFor({ state: 'hidden', timeout: 60000 });
  await page.screenshot({ path: join(OUT, 'base-prompt-retried.png'), fullPage: true });
  expect(errors.length === 0, 'no page errors: ' + errors.join('; '));
  result.ok = true;
} finally {
  await browser.close();
}
console.log('RESULT ' + JSON.stringify(result));
