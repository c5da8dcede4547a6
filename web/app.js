// bulkhead web UI: log in with the API token, list and create sessions, and
// drive a session's remote page through its live view (docs/live.md).
// Plain JS, no build step. See web/README.md for how keys, focus and the
// clipboard are handled.
'use strict';

(() => {
  const TOKEN_KEY = 'bulkhead.token';
  const FIT_KEY = 'bulkhead.fit';
  const LIST_REFRESH_MS = 3000;
  const RESIZE_DEBOUNCE_MS = 250;
  const MOD = { Alt: 1, Control: 2, Meta: 4, Shift: 8 };

  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k in e) e[k] = v;
      else e.setAttribute(k, v);
    }
    for (const c of kids) if (c != null) e.append(c);
    return e;
  };
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

  // ------------------------------------------------------------------ token

  // The login: an API token typed into the login form, and nothing else.
  // It goes only in Authorization headers, never into a URL.
  let token = localStorage.getItem(TOKEN_KEY) || '';

  // Session links (a session's urls.view, or a link made with POST
  // /sessions/{id}/links) carry a session token ("st2.<id>.<scope>.…") that
  // opens only that session, for a while: it is kept for that session in
  // this tab, and never used as the login.
  const SCOPED_KEY = 'bulkhead.scoped.';
  const scopedToken = (id) => (id && sessionStorage.getItem(SCOPED_KEY + id)) || '';
  const tokenFor = (id) => scopedToken(id) || token;

  // A ?token= in the address is taken only if it is a session token for the
  // session this /view/{id} (or /term/{id}) shows. Anything else (an API
  // token: someone else's login, planted in a link) is dropped unused.
  // Either way it leaves the address bar at once.
  {
    const u = new URL(location.href);
    const t = u.searchParams.get('token');
    if (u.searchParams.has('token')) {
      const id = viewId() || termId();
      if (t && id && t.startsWith(`st2.${id}.`)) sessionStorage.setItem(SCOPED_KEY + id, t);
      u.searchParams.delete('token');
      history.replaceState(history.state, '', u.pathname + u.search + u.hash);
    }
  }

  // The session token in a session's urls.live ('' if none): the live
  // socket's credential, so no long-lived token is ever put in its URL.
  function liveToken(s) {
    const u = s && s.urls && s.urls.live;
    if (typeof u !== 'string') return '';
    try { return new URL(u.replace(/^ws/, 'http')).searchParams.get('token') || ''; } catch { return ''; }
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // tok: a session's token instead of the login (a 401 then does not log out).
  async function api(method, path, body, tok = token) {
    const headers = { Authorization: `Bearer ${tok}` };
    const init = { method, headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(`/api/v1${path}`, init);
    } catch (e) {
      throw new ApiError(0, 'network', `cannot reach the daemon (${e.message})`);
    }
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (!r.ok) {
      const err = json && json.error;
      const e = new ApiError(r.status, err ? err.code : 'http', err && err.message ? err.message : `HTTP ${r.status}`);
      e.scoped = tok !== token;
      if (r.status === 401 && !e.scoped) loggedOut('The token was refused. Log in again.');
      throw e;
    }
    return json;
  }

  // ------------------------------------------------------------ small parts

  function toast(msg, kind = 'info', ms = 3500) {
    const t = el('div', { class: `toast ${kind}` }, msg);
    if (kind === 'error') t.setAttribute('role', 'alert');
    $('toasts').append(t);
    setTimeout(() => t.remove(), ms);
    return t;
  }

  function showError(node, msg) {
    node.textContent = msg || '';
    node.hidden = !msg;
  }

  function remaining(expiresAt) {
    if (!expiresAt) return '';
    const s = Math.floor((Date.parse(expiresAt) - Date.now()) / 1000);
    if (!Number.isFinite(s)) return '';
    if (s <= 0) return '0:00';
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
  }

  function setRemaining(node, expiresAt) {
    const text = remaining(expiresAt);
    node.textContent = text;
    const s = (Date.parse(expiresAt) - Date.now()) / 1000;
    node.classList.toggle('soon', Number.isFinite(s) && s < 60);
  }

  // "End" buttons ask once more: the first click arms them for 3 s.
  function confirmButton(btn, label, armed, action) {
    let timer = null;
    btn.addEventListener('click', () => {
      if (!timer) {
        btn.textContent = armed;
        btn.classList.add('armed');
        timer = setTimeout(() => { timer = null; btn.textContent = label; btn.classList.remove('armed'); }, 3000);
        return;
      }
      clearTimeout(timer);
      timer = null;
      btn.textContent = label;
      btn.classList.remove('armed');
      action();
    });
  }

  // "example.com" → "https://example.com"; anything with a scheme is kept
  // (the daemon says what it refuses).
  function normalizeUrl(s) {
    s = s.trim();
    if (!s) return s;
    if (/^[a-z][a-z0-9+.-]*:/i.test(s) && !/^[^:/]+:\d/.test(s)) return s;
    return `https://${s}`;
  }

  // --------------------------------------------------------------- routing

  let current = null; // 'login' | 'list' | 'live' | 'term'

  function show(which) {
    current = which;
    for (const id of ['login', 'list', 'live', 'term']) $(id).hidden = id !== which;
    document.body.classList.toggle('live-mode', which === 'live' || which === 'term');
    $('logout').hidden = which === 'login';
  }

  function viewId() {
    const m = location.pathname.match(/^\/view\/([A-Za-z0-9_-]+)\/?$/);
    return m ? m[1] : null;
  }

  // A shell session's terminal page (/term/{id}, web/term.js).
  function termId() {
    const m = location.pathname.match(/^\/term\/([A-Za-z0-9_-]+)\/?$/);
    return m ? m[1] : null;
  }

  // The daemon allows the inline styles xterm.js needs only in a page it
  // served at /term/: a terminal is opened by loading that page.
  const loadedAsTerm = !!termId();

  function route() {
    const id = viewId();
    const tid = termId();
    if (!token && !scopedToken(id || tid)) {
      liveStop();
      listStop();
      term.stop();
      show('login');
      $('token').focus();
      return;
    }
    if (tid) {
      listStop();
      liveStop();
      show('term');
      $('logout').hidden = !token;
      term.start(tid);
    } else if (id) {
      listStop();
      term.stop();
      liveStart(id);
    } else {
      liveStop();
      term.stop();
      listStart();
    }
  }

  function go(path) {
    if (path.startsWith('/term/') && !loadedAsTerm) {
      location.assign(path);
      return;
    }
    if (location.pathname !== path) history.pushState({ app: true }, '', path);
    route();
  }

  function toList() {
    // Back to the list the way we came (keeps browser history tidy).
    if (history.state && history.state.app && (viewId() || termId())) history.back();
    else go('/');
  }

  window.addEventListener('popstate', route);
  $('brand').addEventListener('click', (e) => { e.preventDefault(); go('/'); });

  // ----------------------------------------------------------------- login

  function loggedOut(msg) {
    token = '';
    localStorage.removeItem(TOKEN_KEY);
    liveStop();
    listStop();
    term.stop();
    show('login');
    showError($('login-error'), msg);
    $('token').value = '';
    $('token').focus();
  }

  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const t = $('token').value.trim();
    if (!t) return;
    token = t;
    try {
      await api('GET', '/sessions?status=ready');
    } catch (err) {
      if (err.status !== 401) {
        token = '';
        showError($('login-error'), `Cannot log in: ${err.message}`);
      }
      return;
    }
    localStorage.setItem(TOKEN_KEY, t);
    showError($('login-error'), '');
    $('token').value = '';
    route();
  });

  $('logout').addEventListener('click', () => loggedOut(''));

  // ------------------------------------------------------------------ list

  const list = { timer: null, ticker: null, sessions: [], busy: false };

  function listStart() {
    show('list');
    document.title = 'Sessions — bulkhead';
    listRefresh();
    loadLabs();
    clearInterval(list.timer);
    clearInterval(list.ticker);
    list.timer = setInterval(listRefresh, LIST_REFRESH_MS);
    list.ticker = setInterval(listTick, 1000);
  }

  function listStop() {
    clearInterval(list.timer);
    clearInterval(list.ticker);
    list.timer = list.ticker = null;
  }

  async function listRefresh() {
    if (list.busy || current !== 'list') return;
    list.busy = true;
    try {
      const r = await api('GET', '/sessions');
      list.sessions = (r && r.sessions) || [];
      showError($('list-error'), '');
      $('list-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
      listRender();
    } catch (e) {
      if (e.status !== 401) showError($('list-error'), `Cannot load the sessions: ${e.message}`);
    } finally {
      list.busy = false;
    }
  }

  function listTick() {
    for (const td of document.querySelectorAll('#sessions-body td.remaining[data-expires]')) {
      setRemaining(td, td.dataset.expires);
    }
  }

  // Rows are kept per session id and updated in place, so a refresh does not
  // take the focus or an armed "End" button away.
  function listRender() {
    const showEnded = $('show-ended').checked;
    const sessions = list.sessions.filter((s) => showEnded || s.status !== 'ended');
    const body = $('sessions-body');
    const rows = new Map([...body.children].map((tr) => [tr.dataset.id, tr]));
    sessions.forEach((s, i) => {
      const tr = rows.get(s.id) || sessionRow(s);
      rows.delete(s.id);
      updateRow(tr, s);
      if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
    });
    for (const tr of rows.values()) tr.remove();
    $('sessions').hidden = sessions.length === 0;
    $('sessions-empty').hidden = sessions.length !== 0;
  }

  function sessionRow(s) {
    const short = s.id.slice(0, 8);
    const tr = el('tr', { 'data-id': s.id },
      el('td', { class: 'mono', title: s.id }, short),
      el('td', {}, el('span', { class: 'badge' }), el('span', { class: 'reason muted small' })),
      el('td', { class: 'page' }, el('div', { class: 'title' }), el('div', { class: 'url muted small' })),
      el('td', { class: 'remaining mono' }),
      el('td', { class: 'actions' }));
    const open = el('button', { type: 'button', class: 'primary small', onclick: () => go(`/${s.type === 'shell' ? 'term' : 'view'}/${s.id}`),
      'aria-label': `Open session ${short}` }, 'Open');
    const end = el('button', { type: 'button', class: 'danger small', 'aria-label': `End session ${short}` }, 'End');
    confirmButton(end, 'End', 'Sure?', () => endSession(s.id));
    tr.querySelector('.actions').append(open, end);
    return tr;
  }

  function updateRow(tr, s) {
    const set = (sel, text) => {
      const n = tr.querySelector(sel);
      if (n.textContent !== text) n.textContent = text;
      return n;
    };
    const page = s.page || {};
    let url = page.url || s.url || '';
    let title = page.title || (s.status === 'ready' ? '(untitled)' : '');
    if (s.type === 'shell') {
      // a shell session: its lab, and its workspace's size
      const ws = s.workspace && s.workspace.sizeBytes;
      title = s.lab ? `Shell · lab ${s.lab}` : 'Shell';
      url = ws ? `workspace ${Math.round(ws / 1048576)} MiB` : '';
    }
    tr.className = `st-${s.status}`;
    set('.badge', s.status).className = `badge ${s.status}`;
    set('.reason', s.endReason ? ` ${s.endReason}` : '');
    set('.title', title);
    set('.url', url).title = url;
    const rem = tr.querySelector('td.remaining');
    if (s.status !== 'ended' && s.expiresAt) {
      rem.dataset.expires = s.expiresAt;
      setRemaining(rem, s.expiresAt);
    } else {
      delete rem.dataset.expires;
      rem.textContent = '';
    }
    for (const b of tr.querySelectorAll('.actions button')) b.hidden = s.status !== 'ready';
  }

  async function endSession(id) {
    try {
      await api('DELETE', `/sessions/${encodeURIComponent(id)}`);
      toast(`Session ${id.slice(0, 8)} ended`);
    } catch (e) {
      if (e.status !== 401) toast(`Cannot end the session: ${e.message}`, 'error', 6000);
    }
    if (current === 'list') listRefresh();
  }

  $('show-ended').addEventListener('change', listRender);

  $('create-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const btn = $('create-btn');
    if (btn.disabled) return;
    const body = { type: 'browser' };
    const url = normalizeUrl($('create-url').value);
    if (url) body.url = url;
    const w = $('create-width').value.trim();
    const h = $('create-height').value.trim();
    if (w || h) {
      body.viewport = { width: w ? Number(w) : 1280, height: h ? Number(h) : 720 };
    }
    showError($('create-error'), '');
    btn.disabled = true;
    $('create-form').setAttribute('aria-busy', 'true');
    const t0 = performance.now();
    const status = $('create-status');
    status.classList.add('busy');
    const tick = () => { status.textContent = `Starting a sandboxed browser… ${((performance.now() - t0) / 1000).toFixed(1)} s`; };
    tick();
    const ticker = setInterval(tick, 100);
    try {
      const s = await api('POST', '/sessions', body);
      $('create-url').value = '';
      status.textContent = '';
      go(`/view/${s.id}`);
    } catch (err) {
      status.textContent = '';
      if (err.status !== 401) showError($('create-error'), `Could not create the session: ${err.message}`);
      listRefresh();
    } finally {
      clearInterval(ticker);
      status.classList.remove('busy');
      btn.disabled = false;
      $('create-form').removeAttribute('aria-busy');
    }
  });

  // A new shell session (docs/terminal.md), perhaps a lab's; its terminal
  // opens when it is ready.
  $('shell-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const btn = $('shell-btn');
    if (btn.disabled) return;
    const body = { type: 'shell' };
    const lab = $('shell-lab').value;
    if (lab) body.lab = lab;
    const mib = $('shell-size').value.trim();
    if (mib) body.workspace = { sizeBytes: Math.round(Number(mib) * 1048576) };
    showError($('create-error'), '');
    btn.disabled = true;
    $('shell-form').setAttribute('aria-busy', 'true');
    const t0 = performance.now();
    const status = $('create-status');
    status.classList.add('busy');
    const what = lab ? `the lab ${lab}` : 'a sandboxed shell';
    const tick = () => { status.textContent = `Starting ${what}… ${((performance.now() - t0) / 1000).toFixed(1)} s`; };
    tick();
    const ticker = setInterval(tick, 100);
    try {
      const s = await api('POST', '/sessions', body);
      $('shell-size').value = '';
      status.textContent = '';
      go(`/term/${s.id}`);
    } catch (err) {
      status.textContent = '';
      if (err.status !== 401) showError($('create-error'), `Could not create the shell session: ${err.message}`);
      listRefresh();
    } finally {
      clearInterval(ticker);
      status.classList.remove('busy');
      btn.disabled = false;
      $('shell-form').removeAttribute('aria-busy');
    }
  });

  // The labs of the daemon (GET /labs) for the shell form; the field stays
  // hidden when there are none (or the daemon has no labs directory).
  let labsLoaded = false;
  async function loadLabs() {
    if (labsLoaded) return;
    let labs;
    try {
      labs = ((await api('GET', '/labs')) || {}).labs || [];
    } catch {
      return;
    }
    labsLoaded = true;
    const sel = $('shell-lab');
    for (const l of labs) {
      const o = el('option', { value: l.name }, l.title ? `${l.title} (${l.name})` : l.name);
      if (l.description) o.title = l.description.slice(0, 300);
      sel.append(o);
    }
    $('shell-lab-field').hidden = labs.length === 0;
    $('shell-hint').hidden = labs.length !== 0;
  }

  // ------------------------------------------------------------------ live

  const screen = $('screen');
  const ctx = screen.getContext('2d', { alpha: false });
  const stage = $('stage');

  const live = {
    id: null,
    ws: null,
    gen: 0, // bumps on every connect/stop: stale callbacks check it
    viewport: null, // the remote page's viewport {width, height}
    expiresAt: null,
    ticker: null,
    ended: false,
    wsToken: '', // the session token of the live socket (from urls.live)
    watchOnly: false, // a "view" link: frames only, no input
    page: { url: '', title: '', canGoBack: true, canGoForward: true },
    clipboard: { copy: true, paste: true },
    // frames
    decoding: false,
    pending: null,
    frames: 0,
    fpsFrames: 0,
    fpsT0: 0,
    // input
    moveQueued: null,
    wheelQueued: null,
    rafId: 0,
    keysDown: new Map(), // code → key, for releasing on blur
    buttons: 0,
    fit: localStorage.getItem(FIT_KEY) !== '0',
    resizeTimer: null,
    lastResize: null,
    mismatch: { since: 0, tries: 0 },
  };

  function liveStart(id) {
    show('live');
    // a session link alone cannot end the session or list the others
    $('live-end').hidden = !token;
    $('logout').hidden = !token;
    if (live.id === id && live.ws) return;
    liveStop();
    live.id = id;
    live.page = { url: '', title: '', canGoBack: true, canGoForward: true };
    live.viewport = null;
    live.mismatch = { since: 0, tries: 0 };
    live.expiresAt = null;
    $('address').value = '';
    document.title = `${id.slice(0, 8)} — bulkhead`;
    screen.width = Math.max(1, stage.clientWidth);
    screen.height = Math.max(1, stage.clientHeight);
    screen.style.width = screen.style.height = '';
    ctx.fillStyle = '#1b1d22';
    ctx.fillRect(0, 0, screen.width, screen.height);
    updateFit();
    liveConnect();
    live.ticker = setInterval(liveTick, 1000);
    screen.focus({ preventScroll: true });
  }

  function liveStop() {
    live.gen++;
    if (live.ws) {
      const ws = live.ws;
      live.ws = null;
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try { ws.close(1000, 'viewer closed'); } catch { /* already closing */ }
    }
    clearInterval(live.ticker);
    clearTimeout(live.resizeTimer);
    cancelAnimationFrame(live.rafId);
    live.rafId = 0;
    live.moveQueued = live.wheelQueued = null;
    live.keysDown.clear();
    live.buttons = 0;
    live.pending = null;
    live.id = null;
    live.ended = false;
    live.lastResize = null;
    live.wsToken = '';
    live.watchOnly = false;
    $('fps').textContent = '';
  }

  // Ask the API first: a WebSocket refused at the upgrade cannot say why
  // (and the browser logs it as an error), the API can.
  async function liveConnect() {
    const gen = ++live.gen;
    const id = live.id;
    live.ended = false;
    live.lastResize = null;
    overlay('Connecting…', { spinner: true });
    updateNavButtons();
    try {
      if (await sessionReady(id, gen)) openSocket(id, gen);
    } catch (e) {
      overlay(`Cannot connect: ${e.message}`, { reconnect: true, list: true });
    }
  }

  function openSocket(id, gen) {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // only ever a short-lived session token in the URL (from urls.live);
    // none at all when the daemon runs without auth
    const q = live.wsToken ? `?token=${encodeURIComponent(live.wsToken)}` : '';
    const url = `${proto}//${location.host}/api/v1/sessions/${encodeURIComponent(id)}/live${q}`;
    const ws = new WebSocket(url);
    ws.binaryType = 'blob';
    live.ws = ws;
    let opened = false;
    ws.onopen = () => { opened = true; };
    ws.onmessage = (ev) => {
      if (gen !== live.gen) return;
      if (typeof ev.data === 'string') onText(ev.data);
      else onFrame(ev.data, gen);
    };
    ws.onerror = () => { /* the close event follows */ };
    ws.onclose = async (ev) => {
      if (gen !== live.gen) return;
      live.ws = null;
      if (opened) onClosed(ev);
      else if (await sessionReady(id, gen)) overlay('Cannot connect to the live view.', { reconnect: true, list: true });
      updateNavButtons();
    };
    updateNavButtons();
  }

  // true if the session is ready; else says why not on the overlay (and
  // tries again while it is starting).
  async function sessionReady(id, gen) {
    let msg;
    let opts = { list: true };
    try {
      const s = await api('GET', `/sessions/${encodeURIComponent(id)}`, undefined, tokenFor(id));
      if (gen !== live.gen) return false;
      if (s.type === 'shell') {
        // a shell session has a terminal, not a live view
        const path = `/term/${id}`;
        if (loadedAsTerm) {
          history.replaceState(history.state, '', path);
          setTimeout(route, 0);
        } else location.replace(path);
        return false;
      }
      if (s.status === 'ready') {
        live.expiresAt = s.expiresAt || live.expiresAt;
        live.wsToken = liveToken(s);
        if (s.urls && s.urls.live === null) {
          overlay('This link does not open the live view (it is for the CDP endpoint).', { list: !!token });
          updateNavButtons();
          return false;
        }
        return true;
      }
      if (s.status === 'starting') {
        overlay('The session is starting…', { spinner: true });
        setTimeout(() => { if (gen === live.gen) liveConnect(); }, 1000);
        return false;
      }
      live.ended = true;
      msg = `The session has ended${s.endReason ? ` (${s.endReason})` : ''}.`;
    } catch (e) {
      if (gen !== live.gen || (e.status === 401 && !e.scoped)) return false;
      if (e.status === 401) {
        // the session link expired (or was altered): the login may still do
        sessionStorage.removeItem(SCOPED_KEY + id);
        if (token) {
          setTimeout(() => { if (gen === live.gen) liveConnect(); }, 0);
          return false;
        }
        msg = 'This session link has expired or is not valid; ask for a new one.';
      } else if (e.status === 404) {
        msg = `There is no session ${id}.`;
      } else {
        msg = `Cannot reach the session: ${e.message}`;
        opts = { reconnect: true, list: true };
      }
    }
    overlay(msg, opts);
    updateNavButtons();
    return false;
  }

  function send(msg) {
    const ws = live.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !live.viewport) return false;
    if (live.watchOnly && msg.type !== 'settings') return false; // the daemon would refuse it
    ws.send(JSON.stringify(msg));
    return true;
  }

  function onText(data) {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    switch (m.type) {
      case 'hello':
        live.viewport = m.viewport || null;
        live.expiresAt = m.expiresAt || null;
        if (m.clipboard) live.clipboard = m.clipboard;
        live.watchOnly = m.input === false;
        if (live.watchOnly) toast('View only: this link shows the session; your input is not sent.');
        setPage({ url: m.url, title: m.title });
        overlay(null);
        liveTick();
        sendResize(true);
        break;
      case 'page':
        setPage(m);
        break;
      case 'viewport':
        live.viewport = { width: m.width, height: m.height };
        live.mismatch = { since: 0, tries: 0 };
        break;
      case 'clipboard':
        copyOut(m.text);
        break;
      case 'error':
        toast(m.message || 'The session refused that.', 'error', 5000);
        break;
      default:
        break;
    }
  }

  function onFrame(blob, gen) {
    // Decode one frame at a time; while one decodes keep only the newest.
    if (live.decoding) { live.pending = blob; return; }
    live.decoding = true;
    createImageBitmap(blob).then((bmp) => {
      if (gen === live.gen) {
        // The canvas takes each frame's size: a frame is the page's viewport
        // in CSS pixels, so input maps through it even mid-resize.
        if (screen.width !== bmp.width || screen.height !== bmp.height) {
          screen.width = bmp.width;
          screen.height = bmp.height;
          layoutCanvas();
        }
        ctx.drawImage(bmp, 0, 0);
        checkFrameSize(bmp);
        live.frames++;
        live.fpsFrames++;
      }
      bmp.close();
    }, () => { /* a frame that does not decode is skipped */ }).finally(() => {
      live.decoding = false;
      const next = live.pending; // always the current connection's (liveStop clears it)
      live.pending = null;
      if (next) onFrame(next, live.gen);
    });
  }

  function liveTick() {
    if (live.expiresAt && !live.ended) setRemaining($('live-remaining'), live.expiresAt);
    const now = performance.now();
    if (live.fpsT0) {
      const fps = (live.fpsFrames * 1000) / (now - live.fpsT0);
      $('fps').textContent = live.ws && live.viewport ? `${fps.toFixed(0)} fps · ${screen.width}×${screen.height}` : '';
    }
    live.fpsT0 = now;
    live.fpsFrames = 0;
  }

  function setPage(p) {
    if (typeof p.url === 'string') live.page.url = p.url;
    if (typeof p.title === 'string') live.page.title = p.title;
    if (typeof p.canGoBack === 'boolean') live.page.canGoBack = p.canGoBack;
    if (typeof p.canGoForward === 'boolean') live.page.canGoForward = p.canGoForward;
    const addr = $('address');
    if (document.activeElement !== addr) addr.value = live.page.url;
    document.title = `${live.page.title || live.page.url || live.id.slice(0, 8)} — bulkhead`;
    updateNavButtons();
  }

  function updateNavButtons() {
    const up = !!live.ws && !live.ended && !live.watchOnly;
    $('nav-back').disabled = !up || !live.page.canGoBack;
    $('nav-forward').disabled = !up || !live.page.canGoForward;
    $('nav-reload').disabled = !up;
    $('address').disabled = !up;
    $('live-end').disabled = live.ended;
  }

  function onClosed(ev) {
    const reason = ev.reason || '';
    live.viewport = null;
    $('fps').textContent = '';
    if (/^session ended/.test(reason)) {
      live.ended = true;
      const why = reason.replace(/^session ended:?\s*/, '');
      $('live-remaining').textContent = '';
      overlay(`The session has ended${why ? ` (${why})` : ''}.`, { list: true });
    } else if (ev.code === 1008) {
      overlay(`The daemon dropped this viewer: ${reason || 'policy'} (code 1008). A slow connection can cause this.`, { reconnect: true, list: true });
    } else {
      overlay(`Connection lost${reason ? `: ${reason}` : ''} (code ${ev.code}).`, { reconnect: true, list: true });
    }
    updateNavButtons();
  }

  function overlay(msg, { reconnect = false, list: toListBtn = false, spinner = false } = {}) {
    const o = $('overlay');
    o.hidden = !msg;
    if (!msg) return;
    $('overlay-msg').textContent = msg;
    o.classList.toggle('spinner', spinner);
    $('reconnect').hidden = !reconnect;
    $('overlay-list').hidden = !toListBtn;
  }

  // The canvas is shown at its size, scaled down (never up) to fit the stage.
  function layoutCanvas() {
    const k = Math.min(stage.clientWidth / screen.width, stage.clientHeight / screen.height, 1);
    screen.style.width = `${Math.floor(screen.width * k)}px`;
    screen.style.height = `${Math.floor(screen.height * k)}px`;
  }

  // Frames that stay at another size than the daemon said the viewport has
  // mean a resize was lost on the way (docs: web/README.md): ask again, a
  // few times at most.
  function checkFrameSize(bmp) {
    const vp = live.viewport;
    const mm = live.mismatch;
    if (!live.fit || !vp || (bmp.width === vp.width && bmp.height === vp.height)) {
      mm.since = 0;
      return;
    }
    const now = performance.now();
    if (!mm.since) mm.since = now;
    else if (now - mm.since > 1500 && mm.tries < 3) {
      mm.since = 0;
      mm.tries++;
      sendResize(true, true);
    }
  }

  function stageSize() {
    return {
      width: clamp(Math.floor(stage.clientWidth), 200, 3840),
      height: clamp(Math.floor(stage.clientHeight), 200, 2160),
    };
  }

  function sendResize(force, again = false) {
    if (!live.fit || !live.viewport) return;
    const s = stageSize();
    const last = live.lastResize;
    if (!force && last && last.width === s.width && last.height === s.height) return;
    if (!again && s.width === live.viewport.width && s.height === live.viewport.height) {
      live.lastResize = s;
      return;
    }
    if (send({ type: 'resize', width: s.width, height: s.height })) live.lastResize = s;
  }

  new ResizeObserver(() => {
    if (current !== 'live') return;
    layoutCanvas();
    clearTimeout(live.resizeTimer);
    live.resizeTimer = setTimeout(() => sendResize(false), RESIZE_DEBOUNCE_MS);
  }).observe(stage);

  function updateFit() {
    $('fit').setAttribute('aria-pressed', String(live.fit));
  }

  $('fit').addEventListener('click', () => {
    live.fit = !live.fit;
    localStorage.setItem(FIT_KEY, live.fit ? '1' : '0');
    updateFit();
    sendResize(true);
    screen.focus({ preventScroll: true });
  });

  // ------------------------------------------------------------ live input

  function modifiers(e) {
    return (e.altKey ? MOD.Alt : 0) | (e.ctrlKey ? MOD.Control : 0) | (e.metaKey ? MOD.Meta : 0) | (e.shiftKey ? MOD.Shift : 0);
  }

  // Viewer pixels → page CSS pixels.
  function point(e) {
    const r = screen.getBoundingClientRect();
    const x = ((e.clientX - r.left) * screen.width) / r.width;
    const y = ((e.clientY - r.top) * screen.height) / r.height;
    return {
      x: Math.round(clamp(x, 0, screen.width - 1)),
      y: Math.round(clamp(y, 0, screen.height - 1)),
    };
  }

  const BUTTONS = ['left', 'middle', 'right'];

  function mouseMsg(action, e) {
    const p = point(e);
    const m = { type: 'mouse', action, x: p.x, y: p.y, button: 'none', buttons: e.buttons & 7, modifiers: modifiers(e) };
    if (action !== 'move') {
      m.button = BUTTONS[e.button] || 'none';
      m.clickCount = clamp(e.detail || 1, 1, 3); // a fourth fast click is a triple click again
    } else if (m.buttons) {
      m.button = m.buttons & 1 ? 'left' : m.buttons & 4 ? 'middle' : 'right'; // a drag
    }
    return m;
  }

  function schedule() {
    if (!live.rafId) live.rafId = requestAnimationFrame(flushInput);
  }

  function flushInput() {
    live.rafId = 0;
    if (live.moveQueued) {
      send(live.moveQueued);
      live.moveQueued = null;
    }
    if (live.wheelQueued) {
      const w = live.wheelQueued;
      live.wheelQueued = null;
      w.deltaX = Math.round(w.deltaX);
      w.deltaY = Math.round(w.deltaY);
      if (w.deltaX || w.deltaY) send(w);
    }
  }

  function flushMove() {
    if (live.moveQueued) {
      send(live.moveQueued);
      live.moveQueued = null;
    }
  }

  function onMouseMove(e) {
    if (!live.viewport) return;
    live.moveQueued = mouseMsg('move', e);
    schedule();
  }

  screen.addEventListener('mousemove', (e) => {
    if (!live.buttons) onMouseMove(e); // while a button is down, the window listener handles it
  });

  screen.addEventListener('mousedown', (e) => {
    screen.focus({ preventScroll: true });
    e.preventDefault(); // no local text selection or drag
    if (!live.viewport || BUTTONS[e.button] === undefined) return;
    flushMove();
    send(mouseMsg('down', e));
    if (!live.buttons) {
      window.addEventListener('mousemove', onDragMove, true);
      window.addEventListener('mouseup', onDragUp, true);
    }
    live.buttons = e.buttons & 7;
  });

  // While a button is held the pointer may leave the canvas: follow it on the
  // window so a drag (text selection, slider) ends where the user lets go.
  function onDragMove(e) { onMouseMove(e); }

  function onDragUp(e) {
    if (BUTTONS[e.button] === undefined) return;
    if (live.viewport) {
      flushMove();
      send(mouseMsg('up', e));
    }
    live.buttons = e.buttons & 7;
    if (!live.buttons) {
      window.removeEventListener('mousemove', onDragMove, true);
      window.removeEventListener('mouseup', onDragUp, true);
    }
  }

  screen.addEventListener('contextmenu', (e) => e.preventDefault());
  screen.addEventListener('dragstart', (e) => e.preventDefault());

  screen.addEventListener('wheel', (e) => {
    e.preventDefault();
    if (!live.viewport) return;
    let k = 1;
    if (e.deltaMode === 1) k = 40; // lines
    else if (e.deltaMode === 2) k = screen.height; // pages
    const p = point(e);
    const w = live.wheelQueued || { type: 'wheel', deltaX: 0, deltaY: 0 };
    Object.assign(w, { x: p.x, y: p.y, modifiers: modifiers(e) });
    w.deltaX += e.deltaX * k;
    w.deltaY += e.deltaY * k;
    live.wheelQueued = w;
    schedule();
  }, { passive: false });

  // Keys the local browser keeps (they act on the viewer, not the remote
  // page); everything else goes to the remote page. See web/README.md.
  function isLocalKey(e) {
    const mod = e.ctrlKey || e.metaKey;
    const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (['F5', 'F6', 'F11', 'F12'].includes(k)) return true;
    if (mod && ['r', 'l', 't', 'n', 'w', 'q', '+', '-', '=', '0', 'Tab', 'PageUp', 'PageDown'].includes(k)) return true;
    if (mod && e.shiftKey && ['i', 'j'].includes(k)) return true;
    if (mod && k === 'v') return true; // → the local paste event, see below
    if (e.shiftKey && k === 'Insert') return true; // paste too
    return false;
  }

  screen.addEventListener('keydown', (e) => {
    if (!live.viewport || e.isComposing || e.key === 'Dead' || e.key === 'Process' || e.key === 'Unidentified') return;
    if (isLocalKey(e)) return;
    e.preventDefault();
    const mod = e.ctrlKey || e.metaKey;
    const k = e.key.toLowerCase();
    if (mod && !e.altKey && (k === 'c' || k === 'x' || e.key === 'Insert')) requestCopy();
    flushMove();
    live.keysDown.set(e.code || e.key, e.key);
    send({ type: 'key', action: 'down', key: e.key, code: e.code, modifiers: modifiers(e) });
  });

  screen.addEventListener('keyup', (e) => {
    const id = e.code || e.key;
    if (!live.keysDown.has(id)) return; // its keydown stayed local
    live.keysDown.delete(id);
    e.preventDefault();
    send({ type: 'key', action: 'up', key: e.key, code: e.code, modifiers: modifiers(e) });
  });

  // Leaving the view with keys or buttons held must not leave them stuck
  // in the remote page.
  screen.addEventListener('blur', () => {
    for (const [code, key] of live.keysDown) send({ type: 'key', action: 'up', key, code, modifiers: 0 });
    live.keysDown.clear();
  });

  document.addEventListener('paste', (e) => {
    if (current !== 'live' || document.activeElement !== screen) return;
    e.preventDefault();
    const text = e.clipboardData ? e.clipboardData.getData('text/plain') : '';
    if (!text) return;
    if (!live.clipboard.paste) {
      toast('Pasting into this session is not allowed.', 'error');
      return;
    }
    if (text.length > 60000) {
      toast('That is too much text to paste at once.', 'error');
      return;
    }
    send({ type: 'paste', text });
  });

  function requestCopy() {
    if (!live.clipboard.copy) {
      toast('Copying out of this session is not allowed.', 'error');
      return;
    }
    send({ type: 'copy' });
  }

  async function copyOut(text) {
    if (typeof text !== 'string' || !text) {
      toast('Nothing selected to copy.');
      return;
    }
    try {
      await navigator.clipboard.writeText(text);
      toast(`Copied ${text.length} character${text.length === 1 ? '' : 's'}`);
    } catch {
      // No permission without a fresh user gesture: offer one.
      const t = toast('', 'info', 10000);
      t.append('Copied text is ready. ', el('button', {
        type: 'button',
        class: 'small',
        onclick: () => navigator.clipboard.writeText(text).then(() => { t.remove(); toast('Copied'); },
          () => { t.remove(); toast('The browser refused access to the clipboard.', 'error'); }),
      }, 'Copy to clipboard'));
    }
  }

  // ---------------------------------------------------------- live toolbar

  const refocus = () => screen.focus({ preventScroll: true });
  $('nav-list').addEventListener('click', toList);
  $('overlay-list').addEventListener('click', toList);
  $('nav-back').addEventListener('click', () => { send({ type: 'back' }); refocus(); });
  $('nav-forward').addEventListener('click', () => { send({ type: 'forward' }); refocus(); });
  $('nav-reload').addEventListener('click', () => { send({ type: 'reload' }); refocus(); });
  $('reconnect').addEventListener('click', () => { if (live.id) liveConnect(); });

  $('toolbar').addEventListener('submit', (e) => {
    e.preventDefault();
    const url = normalizeUrl($('address').value);
    if (!url) return;
    if (send({ type: 'navigate', url })) refocus();
  });

  $('address').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      $('address').value = live.page.url;
      refocus();
    }
  });
  $('address').addEventListener('focus', () => $('address').select());
  $('address').addEventListener('blur', () => { $('address').value = live.page.url; });

  confirmButton($('live-end'), 'End session', 'Click again to end', async () => {
    const id = live.id;
    if (!id) return;
    $('live-end').disabled = true;
    try {
      await api('DELETE', `/sessions/${encodeURIComponent(id)}`);
      if (live.id === id) {
        // The daemon closes the live connection with "session ended: deleted";
        // say so now in case this viewer was not connected.
        live.ended = true;
        overlay('The session has ended (deleted).', { list: true });
        $('live-remaining').textContent = '';
        updateNavButtons();
      }
    } catch (e) {
      $('live-end').disabled = false;
      if (e.status === 409) toast(`Cannot end it now: ${e.message}`, 'error', 6000);
      else if (e.status !== 401) toast(`Cannot end the session: ${e.message}`, 'error', 6000);
    }
  });

  // The terminal page (web/term.js): what it uses of this file.
  const term = window.bulkheadTerm({
    $, el, api, toast, showError, setRemaining, confirmButton, go, toList, loggedOut,
    token: () => token,
    scopedToken,
    tokenFor,
    forgetScoped: (id) => sessionStorage.removeItem(SCOPED_KEY + id),
  });

  route();
})();
