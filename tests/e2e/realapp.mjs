// Looks at a real app in Debian's headless Chromium the way a person would
// (playwright-core from tests/browser/node_modules):
//
//   node tests/e2e/realapp.mjs '{"url": "http://app.worklet.localhost:8080/",
//       "expect_text": ["Get started"],
//       "navigate": {"click_text": "About this app", "expect_text": "reached with next/link"},
//       "fetch": {"path": "/api/hello", "expect_json_key": "message"},
//       "screenshot": "/tmp/app.png", "timeout_ms": 30000}'
//
// (or `node realapp.mjs @spec.json`). It opens url, waits until every
// expect_text is visible, records every failed request (requestfailed, and
// responses >= 400 for documents, scripts, stylesheets, images, fonts,
// fetch/xhr) and console errors, optionally clicks a link and checks that
// the navigation happened on the client (the same document: no new document
// request, no load event, a marker set on window survives), optionally runs
// fetch(path) in the page and checks the JSON, takes a full-page screenshot
// and prints one line `RESULT {json}`. The exit code is 1 when anything
// expected is missing or any request failed, 2 on a bad spec.
//
// As a module: `checkPage(pageOrFrame, spec)` runs the same checks on a
// Page or on a Frame (for a dashboard's preview frame) and returns the
// result object; `launch()` starts Chromium with the flags the other
// browser tests use.
//
// Spec fields (all but url optional; url may be omitted in checkPage to
// check what is already loaded):
//   expect_text      strings that must all become visible (substring match)
//   navigate         {click_text, expect_text, expect_path?, screenshot?}: click
//                    the link with that text, wait for expect_text (and the
//                    URL path); a second screenshot (default: screenshot's
//                    name + "-navigated.png")
//   fetch            {path, expect_json_key?, expect_status?}: fetch(path)
//                    from inside the page
//   screenshot       a PNG path (full page; a Frame: its element), taken once
//                    the texts are visible and the network is quiet
//   timeout_ms       for each wait (default 30000)
//   settle_ms        after the texts are visible, wait up to this long for
//                    the network to go quiet so late failures are seen
//                    (default 3000)
//   allow_failed     regexps of request URLs whose failure is expected
//   no_console_errors  also fail on console errors and uncaught exceptions
//                    (they are always recorded)
//   viewport         {width, height} (default 1280x800; the CLI only)
//   websocket_echo   a path: a WebSocket to the page's own host there
//                    (ws: or wss: as the page) must echo a message back
//   expect_cookie    {name, secure?, httpOnly?, sameSite?}: the browser
//                    holds that cookie for the page's URL, with those flags
//   resolve          Chromium's --host-resolver-rules, e.g. "MAP *.test
//                    127.0.0.1" (the CLI only: names a test's DNS would give)
//   ignore_https_errors  accept the test's self-signed certificate (CLI only)

import { createRequire } from 'node:module';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../browser/package.json'));
const { chromium } = require('playwright-core');

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];

// Responses of these types with a status >= 400 are failures.
const CHECKED_TYPES = new Set(['document', 'script', 'stylesheet', 'image', 'font', 'fetch', 'xhr']);

export function launch(extraArgs = []) {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS.concat(extraArgs) });
}

function isFrame(target) {
  return typeof target.parentFrame === 'function';
}

// Is frame f the target frame or inside it?
function within(f, target) {
  for (; f; f = f.parentFrame()) if (f === target) return true;
  return false;
}

function frameOf(req) {
  try { return req.frame(); } catch { return null; } // service worker requests have none
}

// Starts recording what happens in target (a Page, or a Frame and the frames
// inside it). Call it before the target loads to see its first requests.
export function record(target) {
  const page = isFrame(target) ? target.page() : target;
  const frame = isFrame(target) ? target : page.mainFrame();
  const t0 = Date.now();
  const rec = {
    t0, failed: [], console_errors: [], documents: [], loads: 0, navigated: 0, requests: 0,
    frame, page,
  };
  const answered = new WeakSet();
  const seenConsole = new Set();
  const mine = (req) => { const f = frameOf(req); return f ? within(f, frame) : !isFrame(target); };
  const on = {
    request: (req) => {
      if (!mine(req)) return;
      rec.requests++;
      if (req.isNavigationRequest() && frameOf(req) === frame) {
        rec.documents.push({ url: req.url(), at_ms: Date.now() - t0 });
      }
    },
    requestfailed: (req) => {
      // Chromium also aborts a script or stylesheet that answered 404: one
      // entry, the status, is enough.
      if (!mine(req) || answered.has(req)) return;
      rec.failed.push({ url: req.url(), method: req.method(), type: req.resourceType(),
        status: null, error: req.failure()?.errorText ?? 'failed', at_ms: Date.now() - t0 });
    },
    response: (res) => {
      const req = res.request();
      if (!mine(req) || res.status() < 400 || !CHECKED_TYPES.has(req.resourceType())) return;
      answered.add(req);
      rec.failed.push({ url: res.url(), method: req.method(), type: req.resourceType(),
        status: res.status(), error: res.statusText(), at_ms: Date.now() - t0 });
    },
    console: (m) => {
      if (m.type() !== 'error') return;
      // A Frame's console messages: those whose script came from its origin.
      const loc = m.location();
      if (isFrame(target) && loc.url && !sameOrigin(loc.url, frame.url())) return;
      // Chromium reports a frame's messages again when the frame navigates:
      // the same text, place and timestamp is one message.
      const key = `${m.timestamp()} ${loc.url} ${loc.lineNumber}:${loc.columnNumber} ${m.text()}`;
      if (seenConsole.has(key)) return;
      seenConsole.add(key);
      rec.console_errors.push({ text: m.text(), url: loc.url || null, at_ms: Date.now() - t0 });
    },
    pageerror: (e) => {
      if (isFrame(target) && !String(e.stack || '').includes(originOf(frame.url()))) return;
      rec.console_errors.push({ text: 'pageerror: ' + e.message, url: null, at_ms: Date.now() - t0 });
    },
    framenavigated: (f) => { if (f === frame) rec.navigated++; },
    load: () => { if (!isFrame(target)) rec.loads++; },
  };
  for (const [ev, fn] of Object.entries(on)) page.on(ev, fn);
  rec.stop = () => { for (const [ev, fn] of Object.entries(on)) page.off(ev, fn); };
  return rec;
}

function originOf(u) {
  try { return new URL(u).origin; } catch { return ''; }
}

function sameOrigin(a, b) {
  const o = originOf(a);
  return o !== '' && o !== 'null' && o === originOf(b);
}

// A full-page PNG of a Page; of a Frame, its element in the page.
async function shoot(target, path) {
  mkdirSync(dirname(path), { recursive: true });
  if (isFrame(target)) {
    await (await target.frameElement()).screenshot({ path });
  } else {
    await target.screenshot({ path, fullPage: true });
  }
  return path;
}

// Runs the checks of spec on target (a Page or a Frame); returns the result
// (result.ok tells). Never throws for a failed expectation: each is listed in
// result.missing.
export async function checkPage(target, spec, rec = null) {
  const timeout = spec.timeout_ms ?? 30000;
  const settle = spec.settle_ms ?? 3000;
  const own = rec === null;
  rec = rec ?? record(target);
  const t0 = Date.now();
  const ms = () => Date.now() - t0;
  const result = { ok: false, url: spec.url ?? target.url(), final_url: null, missing: [],
    seen_text: [], failed_requests: [], console_errors: [], timings: {}, navigation: null,
    fetch: null, screenshots: [], documents: 0, title: null };
  const miss = (what) => result.missing.push(what);
  try {
    if (spec.url) {
      // Chromium aborts what is in flight when the host's interfaces
      // change, and Docker adds and removes them as containers come and
      // go: go again then, as a person would press reload.
      let resp;
      for (let attempt = 1; ; attempt++) {
        try {
          resp = await target.goto(spec.url, { waitUntil: 'commit', timeout });
          break;
        } catch (e) {
          if (attempt >= 3 || !String(e.message).includes('ERR_NETWORK_CHANGED')) throw e;
          rec.failed = rec.failed.filter((f) => f.error !== 'net::ERR_NETWORK_CHANGED');
          result.retried = attempt;
        }
      }
      result.timings.response_ms = ms();
      result.status = resp ? resp.status() : null;
      if (resp && resp.status() >= 400) miss(`the page answered ${resp.status()}`);
    }
    // Wait for each text as a person would look for it.
    await Promise.all((spec.expect_text ?? []).map(async (text) => {
      try {
        await target.getByText(text).first().waitFor({ state: 'visible', timeout });
        result.seen_text.push({ text, at_ms: ms() });
      } catch {
        miss(`visible text ${JSON.stringify(text)}`);
      }
    }));
    result.timings.texts_visible_ms = ms();
    try {
      await target.waitForLoadState('load', { timeout });
      result.timings.load_ms = ms();
    } catch {
      miss('the load event');
    }
    await target.waitForLoadState('networkidle', { timeout: settle }).catch(() => {});
    result.timings.perf = await target.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0];
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      const r = (x) => (x === undefined ? null : Math.round(x));
      return n ? { response_start: r(n.responseStart), dom_content_loaded: r(n.domContentLoadedEventEnd),
        load: r(n.loadEventEnd), first_contentful_paint: r(fcp?.startTime) } : null;
    }).catch(() => null);
    result.title = await target.title().catch(() => null);
    if (spec.screenshot) result.screenshots.push(await shoot(target, spec.screenshot));

    if (spec.navigate) {
      const nav = spec.navigate;
      const r = { click_text: nav.click_text, from: target.url(), to: null, client_side: false,
        documents_loaded: 0, ms: null };
      result.navigation = r;
      const docsBefore = rec.documents.length;
      const loadsBefore = rec.loads;
      const navigatedBefore = rec.navigated;
      const marker = 'realapp-' + Math.random().toString(36).slice(2);
      await target.evaluate((m) => { window.__realappMarker = m; }, marker);
      const n0 = Date.now();
      try {
        const link = target.getByRole('link', { name: nav.click_text }).first();
        await link.click({ timeout });
        if (nav.expect_text) {
          await target.getByText(nav.expect_text).first().waitFor({ state: 'visible', timeout });
        }
        if (nav.expect_path) {
          await target.waitForURL((u) => new URL(u).pathname === nav.expect_path, { timeout, waitUntil: 'commit' });
        }
        r.ms = Date.now() - n0;
        r.to = target.url();
        const kept = await target.evaluate(() => window.__realappMarker).catch(() => null);
        r.documents_loaded = rec.documents.length - docsBefore;
        r.loads = rec.loads - loadsBefore;
        r.framenavigated = rec.navigated - navigatedBefore;
        r.client_side = kept === marker && r.documents_loaded === 0 && r.loads === 0;
        const navShot = nav.screenshot ?? spec.screenshot?.replace(/(\.png)?$/, '-navigated.png');
        if (navShot) result.screenshots.push(await shoot(target, navShot));
        if (r.to === r.from) miss(`the URL to change after clicking ${JSON.stringify(nav.click_text)}`);
        if (!r.client_side) {
          miss(`client-side navigation (documents loaded: ${r.documents_loaded}, window kept: ${kept === marker})`);
        }
      } catch (e) {
        miss(`navigation by ${JSON.stringify(nav.click_text)}: ${e.message.split('\n')[0]}`);
      }
    }

    if (spec.fetch) {
      const f = spec.fetch;
      const n0 = Date.now();
      const got = await target.evaluate(async (path) => {
        try {
          const res = await fetch(path, { headers: { accept: 'application/json' } });
          return { status: res.status, content_type: res.headers.get('content-type'), body: await res.text(), url: res.url };
        } catch (e) {
          return { error: String(e) };
        }
      }, f.path);
      const r = { path: f.path, ms: Date.now() - n0, status: got.status ?? null,
        content_type: got.content_type ?? null, error: got.error ?? null, json: null };
      result.fetch = r;
      if (got.error) {
        miss(`fetch(${f.path}): ${got.error}`);
      } else {
        try {
          r.json = JSON.parse(got.body);
        } catch {
          r.body = got.body.slice(0, 300);
          miss(`fetch(${f.path}) to answer JSON`);
        }
        const want = f.expect_status ?? 200;
        if (got.status !== want) miss(`fetch(${f.path}) status ${want}, got ${got.status}`);
        if (f.expect_json_key && !(r.json && typeof r.json === 'object' && f.expect_json_key in r.json)) {
          miss(`fetch(${f.path}) JSON key ${JSON.stringify(f.expect_json_key)}`);
        }
      }
    }

    if (spec.websocket_echo) {
      const got = await target.evaluate((path) => new Promise((resolve) => {
        const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path;
        const msg = 'realapp-' + Math.random().toString(36).slice(2);
        let ws;
        const t = setTimeout(() => { try { ws.close(); } catch {} resolve({ url, error: 'no echo in 10 s' }); }, 10000);
        try { ws = new WebSocket(url); } catch (e) { clearTimeout(t); resolve({ url, error: String(e) }); return; }
        ws.onopen = () => ws.send(msg);
        ws.onmessage = (e) => { clearTimeout(t); ws.close(); resolve({ url, echoed: e.data === msg }); };
        ws.onerror = () => { clearTimeout(t); resolve({ url, error: 'WebSocket error' }); };
      }), spec.websocket_echo);
      result.websocket = got;
      if (!got.echoed) miss(`a WebSocket echo at ${got.url}: ${got.error ?? 'another message came back'}`);
    }

    if (spec.expect_cookie) {
      const want = spec.expect_cookie;
      const page = isFrame(target) ? target.page() : target;
      const cookies = await page.context().cookies(target.url());
      const c = cookies.find((k) => k.name === want.name);
      result.cookie = c ? { name: c.name, domain: c.domain, secure: c.secure, httpOnly: c.httpOnly,
        sameSite: c.sameSite } : null;
      if (!c) miss(`the cookie ${want.name} for ${target.url()}`);
      for (const k of ['secure', 'httpOnly', 'sameSite']) {
        if (c && k in want && c[k] !== want[k]) miss(`cookie ${want.name} ${k} ${want[k]}, got ${c[k]}`);
      }
    }
  } catch (e) {
    miss('no error while checking: ' + e.message.split('\n')[0]);
  } finally {
    if (own) rec.stop();
  }
  const allowed = (spec.allow_failed ?? []).map((s) => new RegExp(s));
  result.failed_requests = rec.failed.filter((f) => !allowed.some((re) => re.test(f.url)));
  result.console_errors = rec.console_errors;
  result.documents = rec.documents.length;
  result.requests = rec.requests;
  result.final_url = target.url();
  result.timings.total_ms = ms();
  if (spec.no_console_errors && result.console_errors.length) miss('no console errors');
  result.ok = result.missing.length === 0 && result.failed_requests.length === 0;
  return result;
}

async function main(arg) {
  let spec;
  try {
    spec = JSON.parse(arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg);
    if (typeof spec.url !== 'string') throw new Error('spec.url is required');
  } catch (e) {
    console.error('usage: node realapp.mjs \'{"url": ..., "expect_text": [...], ...}\' | @spec.json: ' + e.message);
    process.exit(2);
  }
  const started = Date.now();
  const browser = await launch(spec.resolve ? ['--host-resolver-rules=' + spec.resolve] : []);
  let result;
  try {
    const ctx = await browser.newContext({ viewport: spec.viewport ?? { width: 1280, height: 800 },
      ignoreHTTPSErrors: !!spec.ignore_https_errors });
    const page = await ctx.newPage();
    result = await checkPage(page, spec);
    result.timings.with_browser_ms = Date.now() - started;
  } finally {
    await browser.close();
  }
  console.log('RESULT ' + JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv[2] ?? '');
}
