// The worklet dashboard: plain ES module, no framework, no build step.
// The API token lives in sessionStorage (this tab only) and goes out only
// in the Authorization header, or as the WebSocket subprotocol
// "bearer.<token>" (browsers cannot set headers on a WebSocket). A server
// that trusts X-User-ID (local mode) takes a user id instead: the header on
// fetch, the subprotocol "user.<id>" on a WebSocket.
// Phases arrive on the watch streams; nothing polls for them.

const API = '/api/worklet';
const TOKEN_KEY = 'worklet.token';
const USER_KEY = 'worklet.user';
const PHASES = ['creating', 'building', 'deploying', 'running', 'stopped', 'error'];
const $ = (id) => document.getElementById(id);
const LOG_MAX = 2000; // lines kept per log view

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  user: sessionStorage.getItem(USER_KEY), // local mode only
  worklets: new Map(), // id -> worklet (snake_case view)
  listLoaded: false,
  current: null, // id on the detail page
  timeline: [],
  prompts: [],
  buildLines: [],
};

// ---- small helpers ---------------------------------------------------------

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) if (kid != null) e.append(kid);
  return e;
}

function show(node, on) { node.hidden = !on; }

function say(node, text) {
  node.textContent = text || '';
  show(node, !!text);
}

function timeOf(t) {
  const d = t ? new Date(t) : new Date();
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function badge(node, phase) {
  const p = PHASES.includes(phase) ? phase : 'unknown';
  node.className = 'badge ' + p;
  node.textContent = phase || 'unknown';
  node.dataset.phase = p;
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = state.token ? { Authorization: 'Bearer ' + state.token } : { 'X-User-ID': state.user };
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(API + path, init);
  } catch (e) {
    throw new ApiError(0, 'unreachable', 'cannot reach the worklet server');
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    const err = data && data.error ? data.error : { code: 'http_' + res.status, message: String(text || res.statusText) };
    if (res.status === 401 && !path.startsWith('/worklets?probe')) signOut('Your token was refused: ' + err.message);
    throw new ApiError(res.status, err.code, err.message);
  }
  return data;
}

function flash(text) {
  say($('flash'), text);
}

// ---- the watch streams ----------------------------------------------------

// A WebSocket that reconnects by itself with backoff, resuming from the
// last event id it saw (?since=).
class Watch {
  constructor(path, onEvent, onState) {
    this.path = path;
    this.onEvent = onEvent;
    this.onState = onState;
    this.last = 0;
    this.delay = 500;
    this.closed = false;
    this.open();
  }

  open() {
    const q = new URLSearchParams(this.path.includes('?') ? this.path.split('?')[1] : '');
    if (this.last) q.set('since', String(this.last));
    const base = this.path.split('?')[0];
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + API + base +
      (q.toString() ? '?' + q : '');
    this.ws = new WebSocket(url, ['worklet', state.token ? 'bearer.' + state.token : 'user.' + state.user]);
    this.ws.onopen = () => {
      this.delay = 500;
      this.onState('live');
    };
    this.ws.onmessage = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch { return; }
      if (ev.id) this.last = ev.id;
      this.onEvent(ev);
    };
    this.ws.onclose = () => {
      if (this.closed) return;
      this.onState('reconnecting');
      this.timer = setTimeout(() => this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, 8000);
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close();
  }
}

const streams = { all: null, one: null };
const conn = { all: 'live', one: 'live' };

function connState(which, s) {
  conn[which] = s;
  const bad = Object.entries(conn).some(([k, v]) => streams[k] && v !== 'live');
  const n = $('conn');
  n.textContent = bad ? 'Reconnecting…' : 'Live';
  n.className = 'conn ' + (bad ? 'down' : 'up');
  show(n, true);
}

function startAllStream() {
  if (streams.all) return;
  streams.all = new Watch('/watch', onListEvent, (s) => {
    if (s === 'live' && conn.all !== 'live') loadList(); // catch up after a gap
    connState('all', s);
  });
}

function onListEvent(ev) {
  if (ev.type === 'resync') { loadList(); return; }
  const w = state.worklets.get(ev.worklet_id);
  if (ev.type === 'deleted') {
    state.worklets.delete(ev.worklet_id);
    renderList();
    if (state.current === ev.worklet_id) { flash('This worklet was deleted.'); location.hash = '#/'; }
    return;
  }
  if (ev.type === 'phase') {
    if (!w) { loadOne(ev.worklet_id); return; } // new: created elsewhere, or our POST is still on its way
    w.status = ev.phase;
    renderList();
    if (state.current === ev.worklet_id) onPhase(ev);
  }
}

// ---- sign in ----------------------------------------------------------------

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  state.token = null;
  state.user = null;
  state.worklets = new Map();
  state.listLoaded = false;
  state.current = null;
  for (const k of Object.keys(streams)) { if (streams[k]) streams[k].close(); streams[k] = null; }
  show($('conn'), false);
  route();
  if (message) say($('signin-error'), message);
}

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const tok = $('token').value.trim();
  say($('signin-error'), '');
  state.token = tok;
  try {
    await api('GET', '/worklets?probe=1');
  } catch (err) {
    state.token = null;
    say($('signin-error'), err.status === 401 ? 'That token is not valid.' : err.message);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, tok);
  $('token').value = '';
  route();
});

$('signout').addEventListener('click', () => signOut());

$('local-form').addEventListener('submit', (e) => {
  e.preventDefault();
  state.user = $('local-user').value.trim();
  sessionStorage.setItem(USER_KEY, state.user);
  route();
});

// Without credentials the server says whether it trusts X-User-ID (its
// 401 names the header then): offer local mode only where it works.
async function probeLocalMode() {
  try {
    const res = await fetch(API + '/worklets');
    const body = await res.json().catch(() => null);
    const trusted = res.status === 401 && body && body.error && /X-User-ID/.test(body.error.message);
    show($('local-form'), !!trusted);
  } catch { /* offline: the token form is there */ }
}

// ---- the list ----------------------------------------------------------------

async function loadList() {
  try {
    const data = await api('GET', '/worklets');
    state.worklets = new Map((data.worklets || []).map((w) => [w.id, w]));
    state.listLoaded = true;
    flash('');
  } catch (err) {
    if (err.status !== 401) flash('Cannot load your worklets: ' + err.message);
  }
  renderList();
}

async function loadOne(id) {
  try {
    const w = await api('GET', '/worklets/' + encodeURIComponent(id));
    state.worklets.set(id, Object.assign(state.worklets.get(id) || {}, w));
    renderList();
  } catch { /* deleted meanwhile: its event follows */ }
}

function renderList() {
  const ul = $('worklets');
  const items = [...state.worklets.values()].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  show($('empty'), state.listLoaded && items.length === 0);
  ul.replaceChildren(...items.map((w) => {
    const b = el('span', { role: 'status' });
    badge(b, w.status);
    return el('li', { class: 'witem', 'data-id': w.id },
      el('div', { class: 'wmain' },
        el('a', { href: '#/w/' + encodeURIComponent(w.id), class: 'wname', text: w.name || w.id }),
        el('span', { class: 'muted small mono', text: (w.git_repo || '') + (w.branch ? ' @ ' + w.branch : '') })),
      b,
      el('button', { type: 'button', class: 'ghost small', 'aria-label': 'Delete ' + (w.name || w.id), onclick: () => confirmDelete(w) }, 'Delete'));
  }));
}

$('new-toggle').addEventListener('click', () => {
  const f = $('create');
  show(f, f.hidden);
  $('new-toggle').setAttribute('aria-expanded', String(!f.hidden));
  if (!f.hidden) $('c-name').focus();
});
$('create-cancel').addEventListener('click', () => { show($('create'), false); $('new-toggle').setAttribute('aria-expanded', 'false'); });

function parseEnv(text) {
  const env = {};
  text.split('\n').forEach((line, i) => {
    const s = line.trim();
    if (!s || s.startsWith('#')) return;
    const eq = s.indexOf('=');
    if (eq < 1) throw new Error('Environment, line ' + (i + 1) + ': expected KEY=value');
    env[s.slice(0, eq).trim()] = s.slice(eq + 1);
  });
  return env;
}

$('create').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = e.target;
  say($('create-error'), '');
  const body = { name: f.name.value.trim(), git_repo: f.git_repo.value.trim() };
  if (f.branch.value.trim()) body.branch = f.branch.value.trim();
  if (f.app_path.value.trim()) body.app_path = f.app_path.value.trim();
  if (f.base_prompt.value.trim()) body.base_prompt = f.base_prompt.value.trim();
  try {
    const env = parseEnv(f.environment.value);
    if (Object.keys(env).length) body.environment = env;
  } catch (err) { say($('create-error'), err.message); return; }
  const btn = f.querySelector('button[type=submit]');
  btn.disabled = true;
  try {
    const w = await api('POST', '/worklets', body);
    state.worklets.set(w.id, w);
    f.reset();
    show(f, false);
    $('new-toggle').setAttribute('aria-expanded', 'false');
    renderList();
  } catch (err) {
    say($('create-error'), err.message); // the form keeps what was typed
  } finally {
    btn.disabled = false;
  }
});

function confirmDelete(w) {
  const d = $('confirm');
  $('confirm-text').textContent = `"${w.name || w.id}" (${w.id}): its container, images and clone are removed. This cannot be undone.`;
  d.returnValue = '';
  d.onclose = async () => {
    if (d.returnValue !== 'ok') return;
    try {
      await api('DELETE', '/worklets/' + encodeURIComponent(w.id));
      const x = state.worklets.get(w.id);
      if (x) { x.status = 'deleting'; renderList(); }
      if (state.current === w.id) location.hash = '#/';
    } catch (err) { flash('Cannot delete: ' + err.message); }
  };
  d.showModal();
}

// ---- one worklet ----------------------------------------------------------

function pid() { return '/worklets/' + encodeURIComponent(state.current); }

async function openDetail(id) {
  if (streams.one) { streams.one.close(); streams.one = null; conn.one = 'live'; }
  state.current = id;
  state.timeline = [];
  state.prompts = [];
  state.buildLines = [];
  $('log-build').replaceChildren();
  $('log-app').replaceChildren();
  $('d-timeline').replaceChildren();
  say($('pr-result'), '');
  say($('prompt-error'), '');
  say($('d-failure'), '');
  $('d-frame').removeAttribute('src');
  let w;
  try {
    w = await api('GET', pid());
  } catch (err) {
    flash(err.status === 404 ? 'No such worklet.' : 'Cannot load the worklet: ' + err.message);
    location.hash = '#/';
    return;
  }
  if (state.current !== id) return;
  state.worklets.set(id, Object.assign(state.worklets.get(id) || {}, w));
  renderHead(w);
  addTimeline(w.status, w.updated_at, 'current');
  renderConds(w.conditions || []);
  await Promise.all([loadLogs(), loadPrompts()]);
  await loadPreview();
  streams.one = new Watch(pid() + '/watch?logs=1', onOneEvent, (s) => {
    if (s === 'live' && conn.one !== 'live') { refreshDetail(); loadPreview(); }
    connState('one', s);
  });
}

function renderHead(w) {
  $('d-name').textContent = w.name || w.id;
  $('d-repo').textContent = (w.git_repo || '') + (w.branch ? ' @ ' + w.branch : '') +
    (w.app_path ? ' (' + w.app_path + ')' : '');
  $('d-commit').textContent = w.serving_commit ? w.serving_commit.slice(0, 7) : '';
  badge($('d-phase'), w.status);
  const open = $('d-open');
  if (w.web_url) open.href = w.web_url; else open.removeAttribute('href');
  const running = w.status === 'running';
  document.querySelector('[data-act=start]').disabled = running;
  document.querySelector('[data-act=stop]').disabled = w.status === 'stopped';
  renderFailure(w);
}

async function refreshDetail() {
  try {
    const w = await api('GET', pid());
    state.worklets.set(w.id, Object.assign(state.worklets.get(w.id) || {}, w));
    renderHead(w);
    renderConds(w.conditions || []);
    if (w.build_logs && w.status === 'error') setBuildLog(w.build_logs);
  } catch { /* the stream says the rest */ }
}

function addTimeline(phase, time, previous) {
  if (!phase) return;
  const last = state.timeline[state.timeline.length - 1];
  if (last && last.phase === phase) return;
  state.timeline.push({ phase, time });
  const b = el('span');
  badge(b, phase);
  $('d-timeline').append(el('li', {}, b, el('span', { class: 'muted small', text: ' ' + timeOf(time) + (previous === 'current' ? ' (when opened)' : '') })));
}

function renderConds(conds) {
  $('d-conds').replaceChildren(...conds.map((c) => el('tr', { 'data-type': c.type },
    el('th', { scope: 'row', text: c.type }),
    el('td', { class: c.status === 'True' ? 'ok' : c.status === 'False' ? 'bad' : '', text: c.status }),
    el('td', { text: [c.reason, c.message].filter(Boolean).join(': ') }))));
}

function onPhase(ev) {
  addTimeline(ev.phase, ev.time);
  const w = state.worklets.get(state.current);
  if (w) { w.status = ev.phase; badge($('d-phase'), ev.phase); }
  refreshDetail();
  loadPreview(); // a new ticket when running, else says why there is none
  if (ev.phase === 'error') loadLogs();
}

function onOneEvent(ev) {
  if (ev.type === 'resync') { refreshDetail(); loadLogs(); loadPrompts(); return; }
  if (ev.type === 'condition') {
    refreshDetail();
    const c = ev.condition || {};
    if ((c.type === 'Ready' || c.type === 'Rollout' || c.type === 'Built') && c.status === 'True') schedulePromptRefresh(true);
    return;
  }
  if (ev.type === 'log') {
    if (ev.stream === 'build') { state.buildLines.push(ev.line); appendLog('log-build', ev.line); }
    else if (ev.stream === 'app') appendLog('log-app', ev.line);
    else if (ev.stream === 'agent') { agentLine(ev.line); schedulePromptRefresh(); }
  }
}

// ---- logs ------------------------------------------------------------------

const STEP = /^Step (\d+)\/(\d+) : (.*)$/;

function appendLog(id, line) {
  const pre = $(id);
  const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
  line = line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''); // colours of npm & co
  const m = STEP.exec(line);
  pre.append(el('span', { class: m ? 'step' : null, text: line + '\n' }));
  while (pre.childNodes.length > LOG_MAX) pre.firstChild.remove();
  if (stick) pre.scrollTop = pre.scrollHeight;
}

function setBuildLog(text) {
  const pre = $('log-build');
  pre.replaceChildren();
  state.buildLines = text.split('\n');
  for (const l of state.buildLines.slice(-LOG_MAX)) appendLog('log-build', l);
  markFailedStep();
}

// The failing Dockerfile step: the last "Step N/M : ..." before the end of a
// failed build's output.
function failedStep() {
  for (let i = state.buildLines.length - 1; i >= 0; i--) {
    const m = STEP.exec(state.buildLines[i]);
    if (m) return { n: m[1], of: m[2], what: m[3] };
  }
  return null;
}

function markFailedStep() {
  const w = state.worklets.get(state.current);
  const pre = $('log-build');
  pre.querySelectorAll('.failed').forEach((n) => n.classList.remove('failed'));
  if (!w || w.status !== 'error') return;
  const steps = pre.querySelectorAll('.step');
  const last = steps[steps.length - 1];
  if (last) { last.classList.add('failed'); last.setAttribute('aria-label', 'failed step: ' + last.textContent); }
}

function renderFailure(w) {
  const n = $('d-failure');
  if (w.status !== 'error') {
    // Serving, but something the user asked for did not happen (a base
    // prompt that failed, say): the controller's message says what.
    n.classList.toggle('warning', !!w.last_error);
    say(n, w.last_error ? 'Not everything worked: ' + w.last_error : '');
    return;
  }
  n.classList.remove('warning');
  const built = (w.conditions || []).find((c) => c.type === 'Built');
  const step = failedStep();
  const buildFailed = built && built.status === 'False';
  const why = (buildFailed && built.message) || w.last_error || '';
  let text = buildFailed ? 'The build failed' : 'This worklet failed';
  // The controller's message usually names the step already.
  if (buildFailed && step && !/step \d+\/\d+/.test(why)) text += ` at step ${step.n}/${step.of}: ${step.what}`;
  say(n, text + (why ? ': ' + why : '.'));
  markFailedStep();
}

async function loadLogs() {
  try {
    const l = await api('GET', pid() + '/logs?tail=500');
    setBuildLog(l.build_logs || '');
    const app = $('log-app');
    app.replaceChildren();
    for (const line of (l.app_logs || '').split('\n')) if (line) appendLog('log-app', line);
    const w = state.worklets.get(state.current);
    if (w) renderFailure(w);
  } catch (err) {
    if (err.status !== 401) appendLog('log-build', '(cannot load logs: ' + err.message + ')');
  }
}

for (const tab of document.querySelectorAll('[role=tab]')) {
  tab.addEventListener('click', () => selectTab(tab));
  tab.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    const tabs = [...document.querySelectorAll('[role=tab]')];
    const next = tabs[(tabs.indexOf(tab) + 1) % tabs.length];
    selectTab(next);
    next.focus();
  });
}

function selectTab(tab) {
  for (const t of document.querySelectorAll('[role=tab]')) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    show($(t.getAttribute('aria-controls')), on);
  }
}

// ---- preview ----------------------------------------------------------------

// POST .../preview answers with a URL a browser opens with no credentials of
// ours. Normally that is a sign-in link on the app's own origin
// (<id>.<base domain>): it sets a cookie for that host only and redirects to
// the app, so the app runs at / with its cookies and storage, and being
// another origin it cannot read this page or its token. The frame keeps a
// sandbox only to stop the app from navigating this page away. On a server
// without host routing the URL is a path of this very origin: then the frame
// gets an opaque origin (no allow-same-origin) so the app cannot reach us.
const SANDBOX_OWN_ORIGIN = 'allow-scripts allow-forms allow-same-origin allow-popups ' +
  'allow-popups-to-escape-sandbox allow-modals allow-downloads';
const SANDBOX_OPAQUE = 'allow-scripts allow-forms';

async function previewUrl() {
  const t = await api('POST', pid() + '/preview');
  return t.url;
}

async function loadPreview() {
  const w = state.worklets.get(state.current);
  const frame = $('d-frame');
  const note = $('d-noprev');
  if (!w || w.status !== 'running') {
    frame.removeAttribute('src');
    show(frame, false);
    say(note, w && w.status === 'error' ? 'No preview: the worklet failed (see below).'
      : 'The preview appears when the worklet is running' + (w ? ` (now: ${w.status}).` : '.'));
    return;
  }
  try {
    const url = await previewUrl();
    const own = new URL(url, location.href).origin !== location.origin;
    frame.setAttribute('sandbox', own ? SANDBOX_OWN_ORIGIN : SANDBOX_OPAQUE);
    show(frame, true);
    say(note, '');
    frame.src = url;
  } catch (err) {
    say(note, 'No preview: ' + err.message);
  }
}

// A new tab has no credentials to send either: it opens a fresh sign-in
// link. The blank tab is opened at once (a popup needs the click), cut from
// this page (no opener), then sent to the link.
$('d-open').addEventListener('click', async (e) => {
  e.preventDefault();
  const tab = window.open('', '_blank');
  if (!tab) { flash('The browser blocked the new tab.'); return; }
  tab.opener = null;
  try {
    tab.location.href = await previewUrl();
  } catch (err) {
    tab.close();
    flash('Cannot open the preview: ' + err.message);
  }
});

$('d-reload').addEventListener('click', loadPreview);

// ---- actions -------------------------------------------------------------

for (const b of document.querySelectorAll('[data-act]')) {
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await api('POST', pid() + '/' + b.dataset.act);
      flash('');
    } catch (err) {
      flash(`Cannot ${b.dataset.act}: ${err.message}`);
    } finally {
      b.disabled = false;
    }
  });
}

$('d-delete').addEventListener('click', () => {
  const w = state.worklets.get(state.current);
  if (w) confirmDelete(w);
});

// ---- prompts -----------------------------------------------------------------

let promptTimer = null;

function schedulePromptRefresh(soon) {
  clearTimeout(promptTimer);
  promptTimer = setTimeout(loadPrompts, soon ? 100 : 400);
}

async function loadPrompts() {
  if (!state.current) return;
  const id = state.current;
  let data;
  try { data = await api('GET', pid() + '/prompts'); } catch { return; }
  if (id !== state.current) return;
  const before = state.prompts;
  state.prompts = data.prompts || [];
  renderPrompts();
  // A prompt that just completed changed the app: show the new version.
  const done = state.prompts.some((p) => p.status === 'completed' &&
    before.some((q) => q.id === p.id && q.status !== 'completed'));
  if (done) loadPreview();
  // Prompt status is not on the watch stream: while one runs, look again.
  if (state.prompts.some((p) => p.status === 'processing')) {
    clearTimeout(promptTimer);
    promptTimer = setTimeout(loadPrompts, 1500);
  }
}

function renderPrompts() {
  const ol = $('d-prompts');
  const keep = new Map([...ol.querySelectorAll('.progress')].map((n) => [n.dataset.id, n]));
  show($('d-noprompts'), state.prompts.length === 0);
  ol.replaceChildren(...state.prompts.map((p) => {
    const st = el('span', { class: 'pstatus ' + p.status, text: p.status === 'processing' ? (p.stage || 'processing') : p.status });
    const meta = [];
    if (p.cost_usd != null && p.status !== 'processing') meta.push('$' + Number(p.cost_usd).toFixed(4));
    if (p.duration_ms) meta.push((p.duration_ms / 1000).toFixed(1) + ' s');
    const li = el('li', { class: 'prompt', 'data-id': p.id, 'data-status': p.status },
      el('p', { class: 'ptext', text: p.prompt }),
      el('div', { class: 'pmeta small' }, st,
        p.commit_sha ? el('span', { class: 'mono', title: p.commit_sha, text: 'commit ' + p.commit_sha.slice(0, 7) }) : null,
        meta.length ? el('span', { class: 'muted', text: meta.join(' · ') }) : null));
    if (p.response) li.append(el('p', { class: 'presp', text: p.response }));
    if (p.error) li.append(el('p', { class: 'error', text: p.error }));
    if (p.status === 'error') {
      li.append(el('button', {
        class: 'small ghost retry', type: 'button', text: 'Retry',
        'aria-label': 'Retry this prompt',
        onclick: async (e) => {
          e.target.disabled = true;
          try {
            await api('POST', pid() + '/prompts/' + p.id + '/retry');
            schedulePromptRefresh(true);
          } catch (err) {
            e.target.disabled = false;
            say($('prompt-error'), err.message);
          }
        },
      }));
    }
    if (p.status === 'processing') li.append(keep.get(p.id) || el('pre', { class: 'progress', 'data-id': p.id, 'aria-label': 'agent progress' }));
    return li;
  }));
  ol.scrollTop = ol.scrollHeight;
}

function agentLine(line) {
  let box = $('d-prompts').querySelector('.progress');
  if (!box) return;
  box.append(line + '\n');
  box.scrollTop = box.scrollHeight;
}

$('prompt-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('prompt').value.trim();
  if (!text) return;
  say($('prompt-error'), '');
  try {
    const p = await api('POST', pid() + '/prompt', { prompt: text });
    $('prompt').value = '';
    state.prompts.push(p);
    renderPrompts();
    schedulePromptRefresh();
  } catch (err) {
    say($('prompt-error'), err.message); // the text stays in the box
  }
});

$('prompt').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) $('prompt-form').requestSubmit();
});

// ---- pull request ------------------------------------------------------------

$('pr-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('pr-result');
  const btn = e.target.querySelector('button');
  out.className = 'muted';
  say(out, 'Pushing and opening the pull request…');
  btn.disabled = true;
  try {
    const r = await api('POST', pid() + '/pr', { title: $('pr-title').value.trim(), description: $('pr-desc').value });
    out.className = 'ok';
    out.replaceChildren((r.created ? 'Opened ' : 'Updated ') + 'pull request ',
      el('a', { href: r.url, target: '_blank', rel: 'noopener noreferrer', id: 'pr-link', text: '#' + r.number }),
      r.branch ? ` from ${r.branch}` : '');
  } catch (err) {
    out.className = 'error';
    out.textContent = 'Cannot create the pull request: ' + err.message;
  } finally {
    btn.disabled = false;
  }
});

// ---- routing ---------------------------------------------------------------

function route() {
  const signedIn = !!(state.token || state.user);
  show($('signin'), !signedIn);
  show($('signout'), signedIn);
  const m = /^#\/w\/([^/]+)$/.exec(location.hash);
  show($('list'), signedIn && !m);
  show($('detail'), signedIn && !!m);
  if (!signedIn) { $('token').focus(); probeLocalMode(); return; }
  startAllStream();
  if (m) {
    const id = decodeURIComponent(m[1]);
    if (id !== state.current) openDetail(id);
  } else {
    if (streams.one) { streams.one.close(); streams.one = null; conn.one = 'live'; connState('all', conn.all); }
    state.current = null;
    clearTimeout(promptTimer);
    if (!state.listLoaded) loadList(); else renderList();
  }
  $('main').focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);
route();
