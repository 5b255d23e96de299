// Drives the dashboard in Debian's headless Chromium (playwright-core from
// tests/browser/node_modules), for tests/e2e/test_dashboard.py, which starts
// workletd and the scripted servers and passes everything in the
// environment:
//   WL_BASE     http://127.0.0.1:PORT
//   WL_TOKEN    a valid API token
//   WL_REPO     a git URL of the static fixture (scripted GitHub knows it)
//   WL_BROKEN   a git URL of a repository whose build fails
//   WL_OUT      where screenshots go
// Talks to the Python side on stdout/stdin: prints "RESTART" and waits for
// a line on stdin once workletd was restarted. Prints "RESULT {json}" last.
// Any failed expectation throws: the exit code is not 0.

import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../browser/package.json'));
const { chromium } = require('playwright-core');

const BASE = process.env.WL_BASE;
const TOKEN = process.env.WL_TOKEN;
const OUT = process.env.WL_OUT;
const NEW_HEADING = 'hello from the dashboard';
mkdirSync(OUT, { recursive: true });

const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const result = { screenshots: [] };
const t0 = Date.now();
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

function expect(cond, what) {
  if (!cond) throw new Error('expected: ' + what);
}

async function shot(page, name, fullPage = true) {
  const path = join(OUT, name + '.png');
  await page.screenshot({ path, fullPage });
  result.screenshots.push(path);
  log('screenshot', path);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await ctx.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push('pageerror: ' + e.message));
  // Count document loads of the dashboard and fetches of the list.
  let loads = 0;
  let listFetches = 0;
  let apiRequests = 0;
  page.on('load', () => { loads++; });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/api/worklet/worklets' && r.method() === 'GET') listFetches++;
    if (u.pathname.startsWith('/api/')) apiRequests++;
    expect(!u.search.includes(TOKEN) && !u.pathname.includes(TOKEN), 'no token in a URL: ' + r.url());
  });

  // ---- sign in: a wrong token is refused, the right one kept ----
  await page.goto(BASE + '/');
  await page.getByLabel('API token').waitFor();
  // Opened at 127.0.0.1, the dashboard moves to the base domain, so that
  // its previews (subdomains) are same-site and get their cookie.
  expect(new URL(page.url()).hostname === 'worklet.localhost', 'dashboard on the base domain: ' + page.url());
  await shot(page, '01-signin');
  await page.getByLabel('API token').fill('not-a-valid-token-0123456789');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#signin-error').filter({ hasText: 'not valid' }).waitFor();
  await page.getByLabel('API token').fill(TOKEN);
  await page.keyboard.press('Enter');
  await page.locator('#empty').waitFor({ state: 'visible' });
  expect(await page.evaluate(() => sessionStorage.getItem('worklet.token')) === TOKEN, 'token in sessionStorage');
  await page.locator('#conn', { hasText: 'Live' }).waitFor();
  await shot(page, '02-empty');

  // ---- create from the form; the badge reaches running by itself ----
  await page.getByRole('button', { name: 'New worklet' }).click();
  await page.getByLabel('Name').fill('dash demo');
  await page.getByLabel('Git repository').fill(process.env.WL_REPO);
  await page.getByLabel('Branch').fill('main');
  await page.getByLabel(/Environment/).fill('GREETING=hi');
  const before = listFetches;
  await page.getByRole('button', { name: 'Create' }).click();
  const item = page.locator('.witem', { hasText: 'dash demo' });
  await item.waitFor();
  const id = await item.getAttribute('data-id');
  result.id = id;
  const phases = [];
  await page.exposeFunction('notePhase', (p) => phases.push(p));
  await page.evaluate((wid) => {
    const ul = document.getElementById('worklets');
    new MutationObserver(() => {
      const b = ul.querySelector(`.witem[data-id="${wid}"] .badge`);
      if (b) window.notePhase(b.textContent);
    }).observe(ul, { childList: true, subtree: true });
  }, id);
  await item.locator('.badge.running').waitFor({ timeout: 240000 });
  const seen = phases.filter((p, i) => p !== phases[i - 1]);
  log('running; phases seen on the page:', seen.join(' '));
  result.phases = seen;
  result.list_fetches_while_building = listFetches - before;
  expect(listFetches - before === 0, `no list polling (fetched ${listFetches - before} times)`);
  expect(loads === 1, 'no page reload');
  // Nothing polls: a quiet list makes no requests at all.
  const quiet = apiRequests;
  await page.waitForTimeout(3000);
  expect(apiRequests === quiet, `no requests while nothing changes (${apiRequests - quiet})`);
  await shot(page, '03-list-running');

  // ---- the worklet page: preview in the frame ----
  await item.getByRole('link').click();
  const frame = page.frameLocator('#d-frame');
  await frame.locator('h1', { hasText: 'hello from static' }).waitFor({ timeout: 30000 });
  // The app on its own origin, signed in by a link, isolated by origin.
  const src = await page.locator('#d-frame').getAttribute('src');
  const srcUrl = new URL(src);
  expect(srcUrl.hostname === `${id}.worklet.localhost` && srcUrl.pathname === '/__worklet/login' &&
    !src.includes(TOKEN), 'preview through a sign-in link on its own origin: ' + src);
  expect((await page.locator('#d-frame').getAttribute('sandbox')).includes('allow-same-origin'),
    'the frame keeps its own origin (cookies, storage)');
  const appFrame = page.frames().find((f) => f.url().startsWith(`http://${id}.worklet.localhost:`));
  expect(appFrame && new URL(appFrame.url()).pathname === '/', 'the app at / of its origin: ' + (appFrame && appFrame.url()));
  const inside = await appFrame.evaluate(() => {
    let parentRead = 'read';
    try { parentRead = String(parent.sessionStorage.length); } catch { parentRead = 'blocked'; }
    localStorage.setItem('wl-probe', '1');
    return { parentRead, cookie: document.cookie, storage: localStorage.getItem('wl-probe') };
  });
  expect(inside.parentRead === 'blocked', 'the app cannot read the dashboard: ' + inside.parentRead);
  expect(!inside.cookie.includes('wl_session'), 'the session cookie is HttpOnly: ' + inside.cookie);
  expect(inside.storage === '1', 'localStorage works in the preview');
  await page.locator('#log-build').filter({ hasText: /Step 1\/\d+/ }).waitFor();
  await page.locator('#d-conds tr[data-type=Ready]').filter({ hasText: 'True' }).waitFor();
  await shot(page, '04-detail');
  const [tab] = await Promise.all([ctx.waitForEvent('page'), page.locator('#d-open').click()]);
  await tab.locator('h1', { hasText: 'hello from static' }).waitFor({ timeout: 30000 });
  expect(await tab.evaluate(() => window.opener === null && sessionStorage.length === 0),
    'the new tab has no opener and no token');
  await tab.close();

  // ---- a prompt: progress while it runs, then the new preview ----
  await page.getByLabel('Prompt', { exact: true }).fill('Change the heading');
  await page.keyboard.press('Control+Enter');
  const running = page.locator('.prompt[data-status=processing]', { hasText: 'Change the heading' });
  await running.waitFor();
  await running.locator('.progress').filter({ hasText: /\S/ }).waitFor({ timeout: 60000 });
  result.progress = (await running.locator('.progress').textContent()).trim().split('\n').slice(0, 3);
  await shot(page, '05-prompt-running');
  const done = page.locator('.prompt[data-status=completed]', { hasText: 'Change the heading' });
  await done.waitFor({ timeout: 120000 });
  expect(/commit [0-9a-f]{7}/.test(await done.textContent()), 'the prompt shows its commit');
  await frame.locator('h1', { hasText: NEW_HEADING }).waitFor({ timeout: 30000 });
  log('preview changed');

  // ---- logs: the app's output, live ----
  await page.getByRole('tab', { name: 'App' }).click();
  await page.locator('#d-reload').click(); // one more request for the app to log
  await page.locator('#log-app').filter({ hasText: /GET \// }).waitFor({ timeout: 30000 });
  await shot(page, '06-prompted-app-logs');
  await page.getByRole('tab', { name: 'Build' }).click();

  // ---- a pull request ----
  await page.getByLabel('Title').fill('Dashboard heading');
  await page.getByLabel('Description').fill('Made in the dashboard.');
  await page.getByRole('button', { name: 'Create pull request' }).click();
  const link = page.locator('#pr-link');
  await link.waitFor({ timeout: 150000 });
  result.pr_url = await link.getAttribute('href');
  expect(/\/acme\/dash\/pull\/\d+$/.test(result.pr_url), 'PR link ' + result.pr_url);
  await shot(page, '07-pr');

  // ---- the server goes away and comes back: the page reconnects ----
  console.log('RESTART');
  await page.locator('#conn', { hasText: 'Reconnecting' }).waitFor({ timeout: 30000 });
  await shot(page, '08-reconnecting');
  expect((await stdinLines.next()).value === 'RESTARTED', 'workletd restarted');
  await page.locator('#conn', { hasText: 'Live' }).waitFor({ timeout: 30000 });
  // The old preview ticket died with the old key: the page asked anew.
  await frame.locator('h1', { hasText: NEW_HEADING }).waitFor({ timeout: 30000 });
  expect(await page.locator('#d-phase').textContent() === 'running', 'still running after reconnect');
  expect(loads === 1, 'reconnected without reloading');

  // ---- phone width ----
  await page.setViewportSize({ width: 375, height: 812 });
  await page.evaluate(() => scrollTo(0, 0));
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => {
    const wide = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 1)
      .slice(0, 5).map((e) => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className);
    return { px: document.documentElement.scrollWidth - innerWidth, wide };
  });
  expect(overflow.px <= 0, `no horizontal scrolling at 375 px (overflow ${overflow.px} px: ${overflow.wide.join(' ')})`);
  await shot(page, '09-phone-detail', false);
  await page.setViewportSize({ width: 1280, height: 860 });

  // ---- a build that fails shows its failing step ----
  await page.locator('.back').click();
  await page.getByRole('button', { name: 'New worklet' }).click();
  await page.getByLabel('Name').fill('broken demo');
  await page.getByLabel('Git repository').fill(process.env.WL_BROKEN);
  await page.getByRole('button', { name: 'Create' }).click();
  const bad = page.locator('.witem', { hasText: 'broken demo' });
  await bad.waitFor();
  result.broken_id = await bad.getAttribute('data-id');
  await bad.getByRole('link').click();
  await page.locator('#d-phase.error').waitFor({ timeout: 240000 });
  const failure = page.locator('#d-failure');
  await failure.filter({ hasText: /step \d+\/\d+/ }).waitFor({ timeout: 30000 });
  result.failure = await failure.textContent();
  const failed = page.locator('#log-build .failed');
  await failed.waitFor();
  result.failed_step = (await failed.textContent()).trim();
  expect(/^Step \d+\/\d+ : RUN /.test(result.failed_step), 'the failing step is a RUN step: ' + result.failed_step);
  await shot(page, '10-failed-build');

  // ---- delete, with confirmation ----
  await page.locator('.back').click();
  await page.locator('.witem', { hasText: 'dash demo' }).getByRole('button', { name: /Delete/ }).click();
  const dialog = page.locator('#confirm');
  await dialog.waitFor();
  await shot(page, '11-confirm-delete');
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await page.locator('.witem', { hasText: 'dash demo' }).waitFor({ state: 'detached', timeout: 120000 });
  await page.setViewportSize({ width: 375, height: 812 });
  await shot(page, '12-phone-list');
  // Network errors are expected (the wrong token, the restart); script
  // errors are not.
  result.console_errors = consoleErrors.filter((e) =>
    !/Failed to load resource|^WebSocket connection to .* failed/.test(e));
  expect(result.console_errors.length === 0, 'no script errors: ' + result.console_errors.join(' | '));
  result.loads = loads;
} finally {
  await browser.close();
}
console.log('RESULT ' + JSON.stringify(result));
process.exit(0);
