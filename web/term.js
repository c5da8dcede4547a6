// bulkhead web UI: the terminal page of a shell session (/term/{id}): an
// xterm.js terminal on the session's terminal socket (the channel protocol
// of docs/terminal.md), the workspace's files, and a lab's description and
// check. Plain JS, no build step; app.js owns routing, login and tokens and
// calls window.bulkheadTerm(ui) once. See web/README.md.
'use strict';

window.bulkheadTerm = (ui) => {
  const { $, el, api, toast, showError, setRemaining, confirmButton } = ui;

  const CH = { STDIN: 0, STDOUT: 1, STATUS: 3, RESIZE: 4 };
  const RETRY_MS = [1000, 2000, 4000, 8000, 15000]; // reconnect backoff
  const enc = new TextEncoder();

  // ------------------------------------------------- xterm.js, loaded once

  let vendor = null;
  function loadVendor() {
    if (!vendor) {
      const script = (src) => new Promise((resolve, reject) => {
        const s = el('script', { src });
        s.onload = resolve;
        s.onerror = () => reject(new Error(`cannot load ${src}`));
        document.head.append(s);
      });
      document.head.append(el('link', { rel: 'stylesheet', href: '/vendor/xterm.css' }));
      vendor = script('/vendor/xterm.js').then(() => script('/vendor/addon-fit.js'));
      vendor.catch(() => { vendor = null; });
    }
    return vendor;
  }

  // ------------------------------------------------------------- markdown

  // A small, safe Markdown subset for lab descriptions: headings, paragraphs,
  // fenced and indented code, lists, quotes, rules; inline code, bold,
  // emphasis and http(s) links. Everything becomes DOM nodes with text
  // content: no HTML of the source is ever parsed.
  function renderMarkdown(src) {
    const frag = document.createDocumentFragment();
    const lines = String(src || '').replace(/\r\n?/g, '\n').split('\n');
    let para = null;
    let list = null; // {node, ordered}
    const flush = () => {
      if (para) frag.append(el('p', {}, ...inline(para.join(' '))));
      para = null;
      list = null;
    };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      let m;
      if ((m = line.match(/^\s{0,3}(`{3,}|~{3,})\s*([\w+.-]*)\s*$/))) {
        flush();
        const fence = m[1];
        const code = [];
        for (i++; i < lines.length && !lines[i].trim().startsWith(fence); i++) code.push(lines[i]);
        frag.append(el('pre', {}, el('code', {}, code.join('\n'))));
        continue;
      }
      if (!line.trim()) {
        flush();
        continue;
      }
      if (!para && !list && /^( {4}|\t)/.test(line)) {
        const code = [];
        for (; i < lines.length && (/^( {4}|\t)/.test(lines[i]) || !lines[i].trim()); i++) code.push(lines[i].replace(/^( {4}|\t)/, ''));
        i--;
        while (code.length && !code[code.length - 1].trim()) code.pop();
        frag.append(el('pre', {}, el('code', {}, code.join('\n'))));
        continue;
      }
      if ((m = line.match(/^\s{0,3}(#{1,6})\s+(.*?)(\s+#+)?\s*$/))) {
        flush();
        frag.append(el(`h${Math.min(6, m[1].length + 2)}`, {}, ...inline(m[2])));
        continue;
      }
      if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
        flush();
        frag.append(el('hr'));
        continue;
      }
      if ((m = line.match(/^\s{0,3}>\s?(.*)$/))) {
        flush();
        const q = [m[1]];
        for (; i + 1 < lines.length && (m = lines[i + 1].match(/^\s{0,3}>\s?(.*)$/)); i++) q.push(m[1]);
        frag.append(el('blockquote', {}, el('p', {}, ...inline(q.join(' ')))));
        continue;
      }
      const ul = line.match(/^\s{0,3}[-*+]\s+(.*)$/);
      const ol = line.match(/^\s{0,3}(\d{1,9})[.)]\s+(.*)$/);
      if (ul || ol) {
        const ordered = !!ol;
        if (para) flush();
        if (!list || list.ordered !== ordered) {
          flush();
          list = { node: el(ordered ? 'ol' : 'ul'), ordered };
          if (ordered && ol[1] !== '1') list.node.start = Number(ol[1]);
          frag.append(list.node);
        }
        list.node.append(el('li', {}, ...inline(ordered ? ol[2] : ul[1])));
        continue;
      }
      if (list && /^\s+\S/.test(line)) {
        // a continuation line of the last item
        list.node.lastChild.append(' ', ...inline(line.trim()));
        continue;
      }
      list = null;
      (para = para || []).push(line.trim());
    }
    flush();
    return frag;
  }

  const INLINE = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__|\*(?=\S)([^*]*?\S)\*|(?<![\w])_(?=\S)([^_]*?\S)_(?![\w])|\[([^\]]+)\]\(\s*([^)\s]+)\s*\)/g;

  function inline(text) {
    const out = [];
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      if (m.index > last) out.push(text.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[1]) out.push(el('code', {}, m[2].trim() ? m[2].replace(/^ (.*) $/, '$1') : m[2]));
      else if (m[3] || m[4]) out.push(el('strong', {}, ...inline(m[3] || m[4])));
      else if (m[5] || m[6]) out.push(el('em', {}, ...inline(m[5] || m[6])));
      else if (m[7]) {
        const href = m[8];
        if (/^https?:\/\//i.test(href)) out.push(el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, ...inline(m[7])));
        else out.push(...inline(m[7]), ` (${href})`);
      }
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  // ----------------------------------------------------------------- state

  const tm = {
    id: null,
    gen: 0, // bumps on every connect/stop: stale callbacks check it
    term: null,
    fit: null,
    ws: null,
    wsToken: '',
    watchOnly: false,
    ended: false, // the session (not just the shell)
    retries: 0,
    retryTimer: null,
    countdown: null,
    ticker: null,
    expiresAt: null,
    session: null,
    lab: null,
    cwd: '', // the files panel's folder, relative to the workspace
    fitTimer: null,
    observer: null,
    listed: false, // the files panel has been filled once
  };

  // The session token of the terminal socket: the token of urls.terminal
  // ('' if none).
  function tokenOf(url) {
    if (typeof url !== 'string') return '';
    try { return new URL(url.replace(/^ws/, 'http')).searchParams.get('token') || ''; } catch { return ''; }
  }
  const scopeOf = (t) => (/^st2\.[^.]+\.([a-z]+)\./.exec(t || '') || [])[1] || '';

  const sid = () => encodeURIComponent(tm.id);

  // ---------------------------------------------------------------- states

  // The connection state in the toolbar: connecting | connected | reconnecting
  // | exited | ended | closed; "view only" is added for a view link.
  function setState(state, text) {
    const n = $('term-state');
    n.dataset.state = state;
    n.textContent = tm.watchOnly && state === 'connected' ? 'View only' : text;
    $('term-stage').classList.toggle('offline', state !== 'connected');
  }

  function overlay(msg, { reconnect = null, list = false } = {}) {
    const o = $('term-overlay');
    o.hidden = !msg;
    if (!msg) return;
    $('term-overlay-msg').textContent = msg;
    $('term-reconnect').hidden = !reconnect;
    if (reconnect) $('term-reconnect').textContent = reconnect;
    $('term-overlay-list').hidden = !list;
  }

  // ----------------------------------------------------------- start/stop

  async function start(id) {
    if (tm.id === id) return;
    stop();
    tm.id = id;
    const gen = tm.gen;
    document.title = `${id.slice(0, 8)} — shell — bulkhead`;
    $('term-title').textContent = `Shell ${id.slice(0, 8)}`;
    $('term-end').hidden = !ui.token();
    $('term-end').disabled = false;
    $('lab-panel').hidden = true;
    $('term-lab-btn').hidden = true;
    $('term-side').hidden = $('files-panel').hidden;
    $('lab-result').textContent = '';
    $('lab-output').hidden = true;
    setState('connecting', 'Connecting…');
    overlay('Loading the terminal…');
    try {
      await loadVendor();
    } catch (e) {
      overlay(`Cannot load the terminal: ${e.message}`, { reconnect: 'Try again', list: true });
      return;
    }
    if (gen !== tm.gen) return;
    const term = new window.Terminal({
      cursorBlink: true,
      fontFamily: '"DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: { background: '#0c0d10', foreground: '#e6e8eb', cursor: '#e6e8eb', selectionBackground: '#5b9dff66' },
    });
    const fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open($('term-screen'));
    tm.term = term;
    tm.fit = fit;
    term.onData((d) => sendInput(enc.encode(d)));
    term.onBinary((d) => sendInput(Uint8Array.from(d, (c) => c.charCodeAt(0) & 255)));
    term.onResize(({ cols, rows }) => sendResize(cols, rows));
    term.attachCustomKeyEventHandler(keyHandler);
    tm.observer = new ResizeObserver(() => {
      clearTimeout(tm.fitTimer);
      tm.fitTimer = setTimeout(fitNow, 60);
    });
    tm.observer.observe($('term-screen'));
    fitNow();
    tm.ticker = setInterval(tick, 1000);
    term.focus();
    connect();
  }

  function stop() {
    tm.gen++;
    closeSocket();
    clearTimeout(tm.retryTimer);
    clearInterval(tm.countdown);
    clearInterval(tm.ticker);
    clearTimeout(tm.fitTimer);
    if (tm.observer) tm.observer.disconnect();
    if (tm.term) tm.term.dispose();
    $('term-screen').textContent = '';
    Object.assign(tm, {
      id: null, term: null, fit: null, observer: null, wsToken: '', watchOnly: false, ended: false,
      retries: 0, expiresAt: null, session: null, lab: null, cwd: '', listed: false,
    });
    $('files-body').textContent = '';
    $('files-status').textContent = '';
    $('files-refresh').hidden = false;
  }

  function closeSocket() {
    if (!tm.ws) return;
    const ws = tm.ws;
    tm.ws = null;
    ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
    try { ws.close(1000, 'viewer closed'); } catch { /* already closing */ }
  }

  function fitNow() {
    if (!tm.fit || $('term').hidden) return;
    try { tm.fit.fit(); } catch { /* not laid out yet */ }
  }

  function tick() {
    if (tm.expiresAt && !tm.ended) setRemaining($('term-remaining'), tm.expiresAt);
  }

  // --------------------------------------------------------------- socket

  // Ask the API first (a WebSocket refused at the upgrade cannot say why):
  // the session's state, its lab, and a fresh session token for the socket.
  async function connect() {
    const gen = ++tm.gen;
    clearTimeout(tm.retryTimer);
    clearInterval(tm.countdown);
    closeSocket();
    overlay(null);
    setState('connecting', 'Connecting…');
    let s;
    try {
      s = await api('GET', `/sessions/${sid()}`, undefined, ui.tokenFor(tm.id));
    } catch (e) {
      if (gen !== tm.gen || (e.status === 401 && !e.scoped)) return;
      if (e.status === 401) {
        ui.forgetScoped(tm.id);
        if (ui.token()) { connect(); return; }
        fail('This session link has expired or is not valid; ask for a new one.');
      } else if (e.status === 404) fail(`There is no session ${tm.id}.`);
      else dropped(`Cannot reach the session: ${e.message}`);
      return;
    }
    if (gen !== tm.gen) return;
    sessionInfo(s);
    if (s.type && s.type !== 'shell') {
      fail('This session is not a shell session.', { open: `/view/${tm.id}` });
      return;
    }
    if (s.status === 'starting') {
      setState('connecting', 'Starting…');
      overlay('The session is starting…');
      tm.retryTimer = setTimeout(() => { if (gen === tm.gen) connect(); }, 1000);
      return;
    }
    if (s.status !== 'ready') {
      ended(s.endReason);
      return;
    }
    let t = tokenOf(s.urls && s.urls.terminal);
    if (!t && ui.token() && !ui.scopedToken(tm.id)) {
      // no session token in the session's urls: make a link (API tokens only)
      try {
        const l = await api('POST', `/sessions/${sid()}/links`, { scope: 'control' });
        t = (l && (l.token || tokenOf(l.urls && l.urls.terminal))) || '';
      } catch { /* the daemon may run without auth */ }
      if (gen !== tm.gen) return;
    }
    tm.wsToken = t;
    tm.watchOnly = scopeOf(t || ui.scopedToken(tm.id)) === 'view';
    tm.term.options.disableStdin = tm.watchOnly;
    $('files-upload-btn').hidden = tm.watchOnly;
    $('lab-check').hidden = tm.watchOnly;
    if (!tm.listed) {
      tm.listed = true;
      // a view link watches the terminal only
      if (tm.watchOnly) filesClosed();
      else listFiles(tm.cwd);
    }
    openSocket(gen);
  }

  function openSocket(gen) {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // only ever a short-lived session token in the URL, never the API token
    const q = tm.wsToken ? `?token=${encodeURIComponent(tm.wsToken)}` : '';
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/sessions/${sid()}/terminal${q}`);
    ws.binaryType = 'arraybuffer';
    tm.ws = ws;
    let opened = false;
    let status = null;
    ws.onopen = () => {
      if (gen !== tm.gen) return;
      opened = true;
      tm.retries = 0;
      // a new viewer gets the recent output again: start from a clean screen
      tm.term.reset();
      setState('connected', 'Connected');
      overlay(null);
      if (tm.watchOnly) toast('View only: this link shows the terminal; your input is not sent.');
      else sendResize(tm.term.cols, tm.term.rows);
      if (document.activeElement === document.body || !document.activeElement) tm.term.focus();
    };
    ws.onmessage = (ev) => {
      if (gen !== tm.gen || typeof ev.data === 'string') return;
      const b = new Uint8Array(ev.data);
      if (!b.length) return;
      if (b[0] === CH.STDOUT) tm.term.write(b.subarray(1));
      else if (b[0] === CH.STATUS) {
        try { status = JSON.parse(new TextDecoder().decode(b.subarray(1))); } catch { status = {}; }
      }
    };
    ws.onerror = () => { /* the close event follows */ };
    ws.onclose = async (ev) => {
      if (gen !== tm.gen) return;
      tm.ws = null;
      const reason = ev.reason || '';
      if (status) {
        const why = status.status === 'Success' ? '' : ` (${status.message || `exit status ${status.exitCode}`})`;
        setState('exited', 'Shell exited');
        overlay(`The shell has exited${why}. The workspace is kept.`, { reconnect: 'Start a new shell', list: !!ui.token() });
        return;
      }
      if (/^session ended/.test(reason)) {
        ended(reason.replace(/^session ended:?\s*/, ''));
        return;
      }
      if (ev.code === 1008 && /view scope/.test(reason)) {
        fail('This link is view only: the daemon refused input from it.');
        return;
      }
      // maybe the session ended: the API says (and then no retry)
      try {
        const s = await api('GET', `/sessions/${sid()}`, undefined, ui.tokenFor(tm.id));
        if (gen !== tm.gen) return;
        sessionInfo(s);
        if (s.status === 'ended') {
          ended(s.endReason);
          return;
        }
      } catch { /* retried below */ }
      if (gen !== tm.gen) return;
      const what = opened ? 'Connection lost' : 'Cannot connect to the terminal';
      dropped(`${what}${reason ? `: ${reason}` : ''} (code ${ev.code}).`);
    };
  }

  // A drop: reconnect by itself, later and later, with a visible countdown.
  function dropped(msg) {
    const gen = tm.gen;
    const wait = RETRY_MS[Math.min(tm.retries, RETRY_MS.length - 1)];
    tm.retries++;
    let left = Math.ceil(wait / 1000);
    const show = () => {
      setState('reconnecting', `Reconnecting in ${left} s…`);
      overlay(`${msg} Reconnecting in ${left} s…`, { reconnect: 'Reconnect now', list: !!ui.token() });
    };
    show();
    clearInterval(tm.countdown);
    tm.countdown = setInterval(() => {
      if (gen !== tm.gen) return;
      left = Math.max(0, left - 1);
      show();
    }, 1000);
    tm.retryTimer = setTimeout(() => { if (gen === tm.gen) connect(); }, wait);
  }

  function ended(reason) {
    tm.ended = true;
    setState('ended', 'Session ended');
    $('term-remaining').textContent = '';
    $('term-end').disabled = true;
    overlay(`The session has ended${reason ? ` (${reason})` : ''}.`, { list: !!ui.token() });
  }

  function fail(msg, { open = null } = {}) {
    setState('closed', 'Not connected');
    overlay(msg, { list: !!ui.token() });
    if (open) setTimeout(() => ui.go(open), 0);
  }

  function send(ch, payload) {
    const ws = tm.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    const b = new Uint8Array(payload.length + 1);
    b[0] = ch;
    b.set(payload, 1);
    ws.send(b);
    return true;
  }

  // A view link sends nothing: the daemon would close the socket.
  function sendInput(bytes) {
    if (tm.watchOnly || !bytes.length) return;
    send(CH.STDIN, bytes);
  }

  function sendResize(cols, rows) {
    if (tm.watchOnly || !(cols >= 1 && rows >= 1)) return;
    send(CH.RESIZE, enc.encode(JSON.stringify({ Width: Math.min(cols, 1000), Height: Math.min(rows, 1000) })));
  }

  // -------------------------------------------------------- copy and paste

  // Ctrl+Shift+C (and Ctrl+Insert) copy the selection; Ctrl+Shift+V (and
  // Shift+Insert) are left to the browser, whose paste event xterm.js turns
  // into input. Ctrl+C stays the terminal's interrupt.
  function keyHandler(e) {
    if (e.type !== 'keydown') return true;
    const mod = e.ctrlKey || e.metaKey;
    if ((mod && e.shiftKey && e.code === 'KeyC') || (e.ctrlKey && !e.shiftKey && e.key === 'Insert')) {
      e.preventDefault();
      copySelection();
      return false;
    }
    if ((mod && e.shiftKey && e.code === 'KeyV') || (e.shiftKey && !mod && e.key === 'Insert')) return false;
    if (e.metaKey && !e.ctrlKey && (e.code === 'KeyC' || e.code === 'KeyV')) {
      if (e.code === 'KeyC') {
        if (!tm.term.hasSelection()) return true;
        e.preventDefault();
        copySelection();
      }
      return false;
    }
    return true;
  }

  async function copySelection() {
    const text = tm.term ? tm.term.getSelection() : '';
    if (!text) {
      toast('Nothing selected to copy.');
      return;
    }
    try {
      await navigator.clipboard.writeText(text);
      toast(`Copied ${text.length} character${text.length === 1 ? '' : 's'}`);
    } catch {
      toast('The browser refused access to the clipboard: use its Copy menu.', 'error');
    }
  }

  // ------------------------------------------------------- session and lab

  function sessionInfo(s) {
    tm.session = s;
    tm.expiresAt = s.expiresAt || tm.expiresAt;
    tick();
    if (s.lab && (!tm.lab || tm.lab.name !== s.lab)) showLab(s.lab);
  }

  async function showLab(name) {
    const id = tm.id;
    tm.lab = { name, title: name, description: '' };
    $('term-title').textContent = `Lab ${name} · ${id.slice(0, 8)}`;
    $('lab-panel').hidden = false;
    $('term-side').hidden = false;
    $('term-lab-btn').hidden = false;
    $('term-lab-btn').setAttribute('aria-pressed', 'true');
    $('lab-title').textContent = name;
    $('lab-desc').textContent = '';
    if (!ui.token()) return; // the labs' list needs the login
    try {
      const r = await api('GET', '/labs');
      const lab = ((r && r.labs) || []).find((l) => l.name === name);
      if (tm.id !== id || !lab) return;
      tm.lab = lab;
      $('lab-title').textContent = lab.title || name;
      $('term-title').textContent = `${lab.title || name} · ${id.slice(0, 8)}`;
      $('lab-desc').textContent = '';
      $('lab-desc').append(renderMarkdown(lab.description || ''));
    } catch { /* the title stays the name */ }
  }

  $('lab-check').addEventListener('click', async () => {
    const id = tm.id;
    const btn = $('lab-check');
    btn.disabled = true;
    const res = $('lab-result');
    res.className = 'lab-result';
    res.textContent = 'Checking…';
    try {
      const r = await api('POST', `/sessions/${sid()}/check`, {}, ui.tokenFor(id));
      if (tm.id !== id) return;
      res.classList.add(r.passed ? 'passed' : 'failed');
      const at = r.checkedAt ? new Date(r.checkedAt) : null;
      res.textContent = `${r.passed ? '✓ Passed' : '✗ Not passed yet'}${at && !Number.isNaN(at.getTime()) ? ` · ${at.toLocaleTimeString()}` : ''}`;
      res.title = r.checkedAt || '';
      const out = $('lab-output');
      out.textContent = r.output || '';
      out.hidden = !r.output;
    } catch (e) {
      if (tm.id !== id) return;
      res.classList.add('failed');
      res.textContent = `Cannot check: ${e.message}`;
    } finally {
      btn.disabled = false;
    }
  });

  // ------------------------------------------------------------ the files

  const encPath = (p) => p.split('/').filter(Boolean).map(encodeURIComponent).join('/');
  const join = (dir, name) => (dir ? `${dir}/${name}` : name);

  // The files API with the session's credential: raw fetch (bodies are not
  // JSON both ways). Throws an Error with the API's message.
  async function filesFetch(method, path, init = {}) {
    const id = tm.id;
    const tok = ui.tokenFor(id);
    const headers = { ...(init.headers || {}) };
    if (tok) headers.Authorization = `Bearer ${tok}`;
    let r;
    try {
      const q = init.query ? `?${init.query}` : '';
      r = await fetch(`/api/v1/sessions/${encodeURIComponent(id)}/files/${encPath(path)}${q}`, { body: init.body, method, headers });
    } catch (e) {
      throw new Error(`cannot reach the daemon (${e.message})`);
    }
    if (!r.ok) {
      let msg = `HTTP ${r.status}`;
      try {
        const j = await r.json();
        if (j && j.error && j.error.message) msg = j.error.message;
      } catch { /* not JSON */ }
      if (r.status === 401 && tok === ui.token()) ui.loggedOut('The token was refused. Log in again.');
      const e = new Error(msg);
      e.status = r.status;
      throw e;
    }
    return r;
  }

  function fmtSize(n) {
    if (!(n >= 0)) return '';
    if (n < 1024) return `${n} B`;
    const u = ['KiB', 'MiB', 'GiB'];
    let i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
    return `${n.toFixed(n < 10 ? 1 : 0)} ${u[i]}`;
  }

  async function listFiles(dir) {
    const id = tm.id;
    if (!id) return;
    showError($('files-error'), '');
    let r;
    try {
      r = await (await filesFetch('GET', dir)).json();
    } catch (e) {
      if (tm.id !== id) return;
      if ((e.status === 401 || e.status === 403) && ui.tokenFor(id) !== ui.token()) {
        filesClosed();
        return;
      }
      showError($('files-error'), `Cannot list ${dir || 'the workspace'}: ${e.message}`);
      if (e.status === 409 || e.status === 404) {
        if (dir) listFiles(dir.split('/').slice(0, -1).join('/'));
      }
      return;
    }
    if (tm.id !== id) return;
    tm.cwd = dir;
    crumbs(dir);
    const body = $('files-body');
    body.textContent = '';
    const entries = (r && r.entries) || [];
    if (dir) {
      body.append(el('tr', { class: 'dir' },
        el('td', { class: 'name' }, el('button', { type: 'button', class: 'link', onclick: () => listFiles(dir.split('/').slice(0, -1).join('/')), 'aria-label': 'Up one folder' }, '..')),
        el('td'), el('td')));
    }
    for (const f of entries) body.append(fileRow(dir, f));
    $('files-empty').hidden = entries.length !== 0;
  }

  // The files are not open to this session link (the daemon said so, or a
  // view link, which watches the terminal only).
  function filesClosed() {
    $('files-body').textContent = '';
    $('files-path').textContent = '';
    $('files-empty').hidden = true;
    $('files-upload-btn').hidden = true;
    $('files-refresh').hidden = true;
    $('files-status').textContent = 'The files are not open to this link.';
  }

  function fileRow(dir, f) {
    const path = join(dir, f.name);
    const isDir = f.type === 'dir';
    const name = isDir
      ? el('button', { type: 'button', class: 'link', onclick: () => listFiles(path), title: `Open ${path}` }, `${f.name}/`)
      : f.type === 'file'
        ? el('button', { type: 'button', class: 'link', onclick: () => download(path, f.name), title: `Download ${path}` }, f.name)
        : el('span', { title: f.type }, f.type === 'symlink' ? `${f.name} →` : f.name);
    const actions = el('td', { class: 'actions' });
    if (f.type === 'file') {
      actions.append(el('button', { type: 'button', class: 'icon small', title: `Download ${f.name}`, 'aria-label': `Download ${f.name}`, onclick: () => download(path, f.name) }, '⤓'));
    }
    if (!tm.watchOnly) {
      const del = el('button', { type: 'button', class: 'icon small danger', title: `Delete ${f.name}`, 'aria-label': `Delete ${f.name}` }, '✕');
      confirmButton(del, '✕', isDir ? 'Delete all?' : 'Delete?', () => remove(path, isDir));
      actions.append(del);
    }
    const mtime = f.mtime ? new Date(f.mtime) : null;
    return el('tr', { class: isDir ? 'dir' : 'file', 'data-name': f.name },
      el('td', { class: 'name' }, name),
      el('td', { class: 'size muted', title: mtime && !Number.isNaN(mtime.getTime()) ? mtime.toLocaleString() : '' }, isDir ? '' : fmtSize(f.size)),
      actions);
  }

  function crumbs(dir) {
    const nav = $('files-path');
    nav.textContent = '';
    const parts = dir.split('/').filter(Boolean);
    nav.append(el('button', { type: 'button', class: 'link', onclick: () => listFiles('') }, '~'));
    parts.forEach((p, i) => {
      const sub = parts.slice(0, i + 1).join('/');
      nav.append(' / ', i === parts.length - 1 ? el('span', {}, p) : el('button', { type: 'button', class: 'link', onclick: () => listFiles(sub) }, p));
    });
  }

  async function download(path, name) {
    const status = $('files-status');
    status.textContent = `Downloading ${name}…`;
    try {
      const blob = await (await filesFetch('GET', path)).blob();
      const url = URL.createObjectURL(blob);
      const a = el('a', { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      status.textContent = `Downloaded ${name} (${fmtSize(blob.size)})`;
    } catch (e) {
      status.textContent = '';
      showError($('files-error'), `Cannot download ${name}: ${e.message}`);
    }
  }

  async function upload(files) {
    const dir = tm.cwd;
    const status = $('files-status');
    showError($('files-error'), '');
    for (const f of files) {
      status.textContent = `Uploading ${f.name} (${fmtSize(f.size)})…`;
      try {
        // a file's bytes as they are: never "application/x-tar" (a tar's own
        // type), which would ask the daemon to extract it
        await filesFetch('PUT', join(dir, f.name), { body: f, headers: { 'Content-Type': 'application/octet-stream' } });
        status.textContent = `Uploaded ${f.name}`;
      } catch (e) {
        status.textContent = '';
        showError($('files-error'), `Cannot upload ${f.name}: ${e.message}`);
        break;
      }
    }
    if (tm.cwd === dir) listFiles(dir);
  }

  async function remove(path, isDir) {
    try {
      await filesFetch('DELETE', path, isDir ? { query: 'recursive=1' } : {});
      $('files-status').textContent = `Deleted ${path}`;
    } catch (e) {
      showError($('files-error'), `Cannot delete ${path}: ${e.message}`);
    }
    listFiles(tm.cwd);
  }

  $('files-refresh').addEventListener('click', () => listFiles(tm.cwd));
  $('files-upload-btn').addEventListener('click', () => $('files-upload').click());
  $('files-upload').addEventListener('change', () => {
    const files = [...$('files-upload').files];
    $('files-upload').value = '';
    if (files.length) upload(files);
  });
  const panel = $('files-panel');
  panel.addEventListener('dragover', (e) => {
    if (tm.watchOnly || !e.dataTransfer || ![...e.dataTransfer.types].includes('Files')) return;
    e.preventDefault();
    panel.classList.add('drop');
  });
  panel.addEventListener('dragleave', () => panel.classList.remove('drop'));
  panel.addEventListener('drop', (e) => {
    panel.classList.remove('drop');
    if (tm.watchOnly || !e.dataTransfer || !e.dataTransfer.files.length) return;
    e.preventDefault();
    upload([...e.dataTransfer.files]);
  });

  // --------------------------------------------------------------- toolbar

  const toggle = (btn, node) => {
    const on = btn.getAttribute('aria-pressed') !== 'true';
    btn.setAttribute('aria-pressed', String(on));
    node.hidden = !on;
    $('term-side').hidden = $('lab-panel').hidden && $('files-panel').hidden;
    fitNow();
    if (tm.term) tm.term.focus();
  };
  $('term-files-btn').addEventListener('click', () => toggle($('term-files-btn'), $('files-panel')));
  $('term-lab-btn').addEventListener('click', () => toggle($('term-lab-btn'), $('lab-panel')));
  $('term-list').addEventListener('click', () => ui.toList());
  $('term-overlay-list').addEventListener('click', () => ui.toList());
  $('term-reconnect').addEventListener('click', () => {
    if (!tm.id) return;
    if (!tm.term) { const id = tm.id; tm.id = null; start(id); return; }
    tm.retries = 0;
    connect();
    tm.term.focus();
  });
  confirmButton($('term-end'), 'End session', 'Click again to end', async () => {
    const id = tm.id;
    if (!id) return;
    $('term-end').disabled = true;
    try {
      await api('DELETE', `/sessions/${sid()}`);
      if (tm.id === id) {
        tm.gen++;
        closeSocket();
        ended('deleted');
      }
    } catch (e) {
      $('term-end').disabled = false;
      if (e.status !== 401) toast(`Cannot end the session: ${e.message}`, 'error', 6000);
    }
  });

  return { start, stop, renderMarkdown };
};
