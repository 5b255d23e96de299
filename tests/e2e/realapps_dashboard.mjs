// Opens real apps the way a person does from the dashboard, for
// tests/e2e/test_realapps.py: sign in with a token, open each worklet's
// page, and run realapp.mjs's checks inside the preview frame (its texts
// visible, no failed request, client-side navigation and the app's own
// API where the spec asks), then "Open in new tab" and the same checks
// there. The environment:
//   WL_BASE    http://127.0.0.1:PORT (the dashboard moves to its base domain)
//   WL_TOKEN   an API token
//   WL_APPS    JSON [{id, spec}] with realapp.mjs specs (no url)
//   WL_OUT     where screenshots go
// Prints "RESULT {json}" last; the exit code is 1 when any check failed.

import { join } from 'node:path';
import { checkPage, launch, record } from './realapp.mjs';

const BASE = process.env.WL_BASE;
const apps = JSON.parse(process.env.WL_APPS);
const OUT = process.env.WL_OUT;
const results = {};
let ok = true;

const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await ctx.newPage();
  await page.goto(BASE + '/');
  await page.getByLabel('API token').fill(process.env.WL_TOKEN);
  await page.keyboard.press('Enter');
  await page.locator('#conn', { hasText: 'Live' }).waitFor();
  for (const { id, spec } of apps) {
    // Record from before the frame loads, so its first requests count (the
    // frame element stays; its Frame object lives through navigations).
    const frame = await (await page.locator('#d-frame').elementHandle()).contentFrame();
    const rec = record(frame);
    await page.evaluate((wid) => { location.hash = '#/w/' + encodeURIComponent(wid); }, id);
    await page.waitForFunction((wid) => {
      const f = document.getElementById('d-frame');
      return f && f.src && new URL(f.src).hostname.startsWith(wid + '.');
    }, id, { timeout: 60000 });
    // The frame went through its sign-in link to the app's own origin.
    await frame.waitForURL((u) => u.pathname !== '/__worklet/login', { timeout: 30000 });
    const inFrame = await checkPage(frame, Object.assign({}, spec,
      { screenshot: join(OUT, id + '-frame.png') }), rec);
    rec.stop();

    // "Open in new tab": a fresh link in a tab of its own.
    const [tab] = await Promise.all([ctx.waitForEvent('page'), page.locator('#d-open').click()]);
    const tabRec = record(tab);
    await tab.waitForURL((u) => u.protocol.startsWith('http') && u.pathname !== '/__worklet/login',
      { timeout: 30000 });
    const inTab = await checkPage(tab, Object.assign({}, spec,
      { screenshot: join(OUT, id + '-tab.png') }), tabRec);
    tabRec.stop();
    await tab.close();
    results[id] = { frame: inFrame, tab: inTab };
    console.log(`${id}: frame ${inFrame.ok ? 'ok' : 'FAILED ' + JSON.stringify(inFrame.missing)}` +
      ` ${JSON.stringify(inFrame.failed_requests)}; tab ${inTab.ok ? 'ok' : 'FAILED ' +
      JSON.stringify(inTab.missing)} ${JSON.stringify(inTab.failed_requests)}`);
    ok = ok && inFrame.ok && inTab.ok;
  }
} finally {
  await browser.close();
}
console.log('RESULT ' + JSON.stringify(results));
process.exit(ok ? 0 : 1);
