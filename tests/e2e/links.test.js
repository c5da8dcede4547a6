// links.test.js — session-token scopes and the web UI's credentials
// (docs/api.md#session-tokens, issue 10 items 2-4), against a real daemon,
// real Chromium and real clients, tried as an attacker would:
//
// * each scope (view, control, cdp) against each route: GET, /json/version,
//   the /cdp and /live upgrades (refused before the upgrade), screenshot,
//   events, DELETE, the list, minting links; Playwright's connectOverCDP with
//   a view or control link fails, with the cdp link it drives the page;
// * a view viewer's input (mouse, keys, text, paste, navigation, resize,
//   copy) is refused and never reaches the page; the same input from a
//   control viewer does (the control that shows the check can fail);
// * a scope changed in the token (view → cdp) breaks its MAC; st1 tokens are
//   gone; POST /api/v1/sessions/{id}/links checks its input and its caller;
// * the UI in Chromium, logged in as the admin, opened with /?token=<a user
//   token> keeps its own login (login CSRF);
// * a logging reverse proxy in front of the UI: login, create, live view,
//   end — no request line carries a long-lived token, while the session
//   token of the live view is seen there (the log works).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { freePort } from './lib/daemon.js';
import { checkError } from './lib/check.js';
import { decodePng } from './lib/png.js';
import { waitFor } from './lib/sh.js';

const CHROMIUM = process.env.BULKHEAD_E2E_CHROMIUM || '/usr/bin/chromium';
const T = { timeout: 120000 };

// The proxy's port is known before the daemon starts: the UI behind it
// opens its live socket with the proxy's Origin, which the operator allows.
const PROXY_PORT = await freePort();
const env = suiteEnv({ args: ['--allow-origin', `http://127.0.0.1:${PROXY_PORT}`] });
let viewer = null; // the test's own browser (not a session's)

before(async () => {
  await env.start();
  const args = process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
  viewer = await chromium.launch({ executablePath: CHROMIUM, args, headless: true });
}, { timeout: LOCK_WAIT });

after(async () => {
  if (viewer) await viewer.close().catch(() => {});
  await env.finish();
});

// ------------------------------------------------------------------ helpers

const tokenOf = (u) => new URL(u.replace(/^ws/, 'http')).searchParams.get('token');
const bare = (u) => u.split('?')[0];
const api = (...a) => env.d.api(...a);

// A WebSocket upgrade request: {status, upgraded, body}.
function upgrade(p, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${env.d.base}${p}`, {
      headers: {
        connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers,
      },
      timeout: 15000,
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode, upgraded: true }); });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, upgraded: false, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

// A raw live-view client with a token: text messages kept, frames counted.
function openLive(id, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${env.d.port}/api/v1/sessions/${id}/live?token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
    ws.texts = [];
    ws.frames = 0;
    ws.on('message', (data, binary) => {
      if (binary) ws.frames++;
      else ws.texts.push(JSON.parse(data.toString()));
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const link = (id, body, o) => api('POST', `/api/v1/sessions/${id}/links`, body, o);

// The session's own page over its cdp link.
async function remotePage(cdpUrl) {
  const browser = await chromium.connectOverCDP(cdpUrl, { timeout: 30000 });
  const ctx = browser.contexts()[0];
  const page = ctx.pages()[0] || await waitFor(() => ctx.pages()[0], { what: 'the session page over CDP' });
  return { browser, page };
}

// Records in the remote page every input event that reaches it.
async function recordInput(remote) {
  await remote.evaluate(() => {
    window.__input = [];
    for (const t of ['mousedown', 'mouseup', 'click', 'keydown', 'keyup', 'input', 'wheel', 'paste', 'beforeinput']) {
      addEventListener(t, (e) => window.__input.push(e.type), true);
    }
    const q = document.getElementById('q');
    q.value = '';
    q.focus();
  });
}

// What a viewer sends to drive the page, and a link's worth of each kind.
function driveMessages(remoteUrl) {
  return [
    { type: 'mouse', action: 'down', x: 20, y: 20, button: 'left', buttons: 1, clickCount: 1 },
    { type: 'mouse', action: 'up', x: 20, y: 20, button: 'left', buttons: 0, clickCount: 1 },
    { type: 'wheel', x: 20, y: 20, deltaX: 0, deltaY: 100 },
    { type: 'key', action: 'down', key: 'a', code: 'KeyA' },
    { type: 'key', action: 'up', key: 'a', code: 'KeyA' },
    { type: 'text', text: 'typed' },
    { type: 'paste', text: 'pasted' },
    { type: 'resize', width: 640, height: 480 },
    { type: 'copy' },
    { type: 'reload' },
    { type: 'back' },
    { type: 'navigate', url: remoteUrl },
  ];
}

// ------------------------------------------------------------ scopes

describe('session-token scopes', () => {
  let s; // the admin's session on /form
  let sU; // a user's session
  let user; // the user token
  const links = {}; // scope → POST /links answer
  // Each made by the first test that asks for it, so that every test also
  // passes alone (--test-name-pattern).
  const once = (fn) => { let p = null; return () => (p ||= fn()); };
  const session = once(async () => { s = await env.d.create({ url: env.url('/form') }); });
  const minted = once(async () => {
    await session();
    for (const scope of ['view', 'control', 'cdp']) {
      if (links[scope]) continue; // (the test of POST /links made them)
      const r = await link(s.id, { scope, ttl: 600 });
      assert.equal(r.status, 201, r.text);
      links[scope] = r.json;
    }
  });
  const userSession = once(async () => {
    await session();
    user = (await api('POST', '/api/v1/tokens', { name: 'linker' })).json;
    sU = await env.d.create({ url: env.url('/') }, { token: user.token });
  });

  it('urls: view and live carry a control token, cdp a cdp token (st2.<id>.<scope>.<expiry>.<mac>)', T, async () => {
    await session();
    const fmt = (scope) => new RegExp(`^st2\\.${s.id}\\.${scope}\\.\\d+\\.[A-Za-z0-9_-]{43}$`);
    assert.match(tokenOf(s.urls.view), fmt('control'), s.urls.view);
    assert.match(tokenOf(s.urls.live), fmt('control'), s.urls.live);
    assert.match(tokenOf(s.urls.cdp), fmt('cdp'), s.urls.cdp);
    assert.equal(tokenOf(s.urls.view), tokenOf(s.urls.live));
  });

  it("the token of urls.view (and urls.live) opens no CDP: upgrade refused, Playwright fails, no cookies read", T, async () => {
    await session();
    const tok = tokenOf(s.urls.view);
    const u = await upgrade(`/api/v1/sessions/${s.id}/cdp?token=${tok}`);
    assert.equal(u.status, 403, `cdp upgrade with the view url's token: ${u.status} ${u.body || ''}`);
    assert.equal(u.upgraded, false);
    const v = await api('GET', `/api/v1/sessions/${s.id}/json/version?token=${tok}`, undefined, { token: null });
    checkError(v, 403, 'forbidden_scope', "discovery with the view url's token");
    let browser = null;
    try {
      browser = await chromium.connectOverCDP(`${bare(s.urls.cdp)}?token=${tok}`, { timeout: 10000 });
    } catch (e) {
      assert.match(e.message, /403/);
    }
    if (browser) {
      const cookies = await browser.contexts()[0].cookies().catch(() => null);
      await browser.close();
      assert.fail(`Playwright connected with the view url's token (read ${cookies && cookies.length} cookies)`);
    }
    assert.equal((await api('GET', `/api/v1/sessions/${s.id}`)).json.status, 'ready');
  });

  it('POST /sessions/{id}/links mints a link of each scope, with the urls it opens', T, async () => {
    await session();
    const t0 = Math.floor(Date.now() / 1000);
    for (const scope of ['view', 'control', 'cdp']) {
      const r = await link(s.id, { scope, ttl: 600 });
      assert.equal(r.status, 201, r.text);
      links[scope] = r.json;
      assert.equal(r.json.scope, scope);
      assert.match(r.json.token, new RegExp(`^st2\\.${s.id}\\.${scope}\\.\\d+\\.[A-Za-z0-9_-]{43}$`));
      const exp = Number(r.json.token.split('.')[3]);
      assert.ok(exp >= t0 + 600 && exp <= t0 + 602, `expiry ${exp - t0} s from now`);
      assert.equal(Date.parse(r.json.expiresAt) / 1000, exp);
      const keys = Object.keys(r.json.urls).sort();
      assert.deepEqual(keys, scope === 'cdp' ? ['cdp'] : ['live', 'view'], `${scope}: urls ${keys}`);
      for (const u of Object.values(r.json.urls)) assert.equal(tokenOf(u), r.json.token);
      assert.equal(bare(r.json.urls[scope === 'cdp' ? 'cdp' : 'live']), bare(s.urls[scope === 'cdp' ? 'cdp' : 'live']));
    }
    // ttl defaults to --url-token-ttl (1 h) and is capped at the session's own end
    const d = await link(s.id, { scope: 'view' });
    assert.equal(d.status, 201, d.text);
    const end = Date.parse(s.createdAt) / 1000 + s.ttl; // 1800 s: before the hour
    const exp = Number(d.json.token.split('.')[3]);
    assert.ok(Math.abs(exp - end) <= 2, `a link's expiry ${exp} is not its session's end ${end}`);
    const long = await link(s.id, { scope: 'cdp', ttl: 86400 });
    assert.ok(Math.abs(Number(long.json.token.split('.')[3]) - end) <= 2, 'a day-long link outlives its session');
  });

  it('links: bad input is 400; GET is 405; unknown session 404', T, async () => {
    await session();
    const bad = [
      [{}, 400, 'invalid_field'],
      [{ scope: 'admin' }, 400, 'invalid_field'],
      [{ scope: 'View' }, 400, 'invalid_field'],
      [{ scope: 1 }, 400, 'invalid_field'],
      [{ scope: 'view', ttl: 0 }, 400, 'invalid_field'],
      [{ scope: 'view', ttl: -5 }, 400, 'invalid_field'],
      [{ scope: 'view', ttl: 86401 }, 400, 'invalid_field'],
      [{ scope: 'view', ttl: 1.5 }, 400, 'invalid_field'],
      [{ scope: 'view', ttl: '60' }, 400, 'invalid_field'],
      [{ scope: 'view', extra: 1 }, 400, 'unknown_field'],
      ['not json', 400, 'invalid_json'],
      [[], 400, 'invalid_json'],
    ];
    for (const [body, status, code] of bad) {
      checkError(await link(s.id, body), status, code, `links ${JSON.stringify(body)}`);
    }
    checkError(await api('GET', `/api/v1/sessions/${s.id}/links`), 405, 'method_not_allowed', 'GET links');
    checkError(await link('0'.repeat(32), { scope: 'view' }), 404, 'not_found', 'links of an unknown session');
  });

  it('links: a user mints for its own sessions only (another\'s is 404); no session token mints one (401)', T, async () => {
    await minted();
    await userSession();
    const r = await link(sU.id, { scope: 'view', ttl: 60 }, { token: user.token });
    assert.equal(r.status, 201, r.text);
    checkError(await link(s.id, { scope: 'view' }, { token: user.token }), 404, 'not_found', "a user's link of the admin's session");
    for (const scope of ['view', 'control', 'cdp']) {
      checkError(await link(s.id, { scope: 'view' }, { token: links[scope].token }), 401, 'unauthorized', `a ${scope} token mints a view link`);
      checkError(await link(s.id, { scope }, { token: links[scope].token }), 401, 'unauthorized', `a ${scope} token mints its own scope`);
    }
    checkError(await link(s.id, { scope: 'cdp' }, { token: tokenOf(s.urls.live) }), 401, 'unauthorized', 'a control token mints a cdp link');
  });

  it('each scope against each route: only its own open; others 403 (valid token, wrong scope) or 401, refused before any upgrade', T, async () => {
    await minted();
    await userSession();
    const p = `/api/v1/sessions/${s.id}`;
    // [route, opens for]
    const routes = [
      ['GET', p, ['view', 'control', 'cdp']],
      ['GET?', p, ['view', 'control', 'cdp']],
      ['GET?', `${p}/json/version`, ['cdp']],
      ['GET?', `${p}/json/version/`, ['cdp']],
      ['WS', `${p}/cdp`, ['cdp']],
      ['WS', `${p}/live`, ['view', 'control']],
    ];
    for (const scope of ['view', 'control', 'cdp']) {
      const tok = links[scope].token;
      for (const [m, route, opens] of routes) {
        const ok = opens.includes(scope);
        const what = `${scope} token: ${m} ${route}`;
        if (m === 'WS') {
          const u = await upgrade(`${route}?token=${tok}`);
          assert.equal(u.status, ok ? 101 : 403, `${what}: ${u.status} ${u.body || ''}`);
          assert.equal(u.upgraded, ok, `${what}: upgraded`);
          if (!ok) assert.match(JSON.parse(u.body).error.code, /^forbidden_scope$/, what);
          // as a bearer header too
          const h = await upgrade(route, { authorization: `Bearer ${tok}` });
          assert.equal(h.status, ok ? 101 : 403, `${what} (bearer)`);
        } else {
          const r = m === 'GET' ? await api('GET', route, undefined, { token: tok })
            : await api('GET', `${route}?token=${tok}`, undefined, { token: null });
          if (ok) assert.equal(r.status, 200, `${what}: ${r.text}`);
          else checkError(r, 403, 'forbidden_scope', what);
        }
      }
      // API-token routes: 401 for every session token
      for (const [m, route] of [['GET', `${p}/screenshot`], ['GET', `${p}/events`], ['DELETE', p],
        ['GET', '/api/v1/sessions'], ['POST', '/api/v1/sessions'], ['GET', '/api/v1/tokens'], ['GET', '/metrics']]) {
        checkError(await api(m, route, m === 'POST' ? {} : undefined, { token: tok }), 401, 'unauthorized', `${scope} token: ${m} ${route}`);
      }
      // nor another session (401: not valid for it)
      const u = await upgrade(`/api/v1/sessions/${sU.id}/live?token=${tok}`);
      assert.equal(u.status, 401, `${scope} token on another session's live`);
    }
    assert.equal((await api('GET', p)).json.status, 'ready', 'the session is still there');
  });

  it('a session-token GET returns its own token in the urls its scope opens, null in the others', T, async () => {
    await minted();
    for (const scope of ['view', 'control', 'cdp']) {
      const tok = links[scope].token;
      const r = await api('GET', `/api/v1/sessions/${s.id}`, undefined, { token: tok });
      assert.equal(r.status, 200, r.text);
      const { urls } = r.json;
      if (scope === 'cdp') {
        assert.equal(tokenOf(urls.cdp), tok);
        assert.equal(urls.live, null);
        assert.equal(urls.view, null);
      } else {
        assert.equal(urls.cdp, null, `${scope}: urls.cdp ${urls.cdp}`);
        assert.equal(tokenOf(urls.live), tok);
        assert.equal(tokenOf(urls.view), tok);
      }
    }
    const v = await api('GET', `/api/v1/sessions/${s.id}/json/version?token=${links.cdp.token}`, undefined, { token: null });
    assert.equal(v.json.webSocketDebuggerUrl, `${bare(s.urls.cdp)}?token=${links.cdp.token}`);
  });

  it('Playwright connectOverCDP: a view or control link is refused; the cdp link drives the page', T, async () => {
    await minted();
    for (const scope of ['view', 'control']) {
      const tok = links[scope].token;
      await assert.rejects(chromium.connectOverCDP(`${bare(s.urls.cdp)}?token=${tok}`, { timeout: 10000 }), /403/, `${scope}: ws`);
      await assert.rejects(chromium.connectOverCDP(`${env.d.base}/api/v1/sessions/${s.id}?token=${tok}`, { timeout: 10000 }), `${scope}: discovery`);
    }
    for (const u of [s.urls.cdp, links.cdp.urls.cdp]) {
      const { browser, page } = await remotePage(u);
      try {
        assert.equal(new URL(page.url()).pathname, '/form');
        assert.equal(await page.evaluate(() => 6 * 7), 42);
      } finally {
        await browser.close();
      }
    }
  });

  it('a scope changed in the token (view → cdp, control, …) breaks its MAC: 401; an st1 token is 401', T, async () => {
    await minted();
    const t = links.view.token;
    const parts = t.split('.');
    assert.equal(parts[2], 'view');
    for (const other of ['cdp', 'control']) {
      const forged = [parts[0], parts[1], other, parts[3], parts[4]].join('.');
      const u = await upgrade(`/api/v1/sessions/${s.id}/cdp?token=${forged}`);
      assert.equal(u.status, 401, `forged ${other}: cdp upgrade`);
      assert.equal(u.upgraded, false);
      checkError(await api('GET', `/api/v1/sessions/${s.id}`, undefined, { token: forged }), 401, 'unauthorized', `forged ${other}: GET`);
      checkError(await api('GET', `/api/v1/sessions/${s.id}/json/version?token=${forged}`, undefined, { token: null }), 401, 'unauthorized', `forged ${other}: discovery`);
      await assert.rejects(chromium.connectOverCDP(`${bare(s.urls.cdp)}?token=${forged}`, { timeout: 10000 }), /401/);
    }
    // a well-signed st1 token (the old format: no scope) opens nothing
    const key = Buffer.from(fs.readFileSync(path.join(env.d.stateDir, 'secret'), 'utf8').trim(), 'hex');
    const mint = (msg) => `${msg}.${crypto.createHmac('sha256', key).update(msg).digest('base64url')}`;
    const exp = Math.floor(Date.now() / 1000) + 600;
    const st1 = mint(`st1.${s.id}.${exp}`);
    checkError(await api('GET', `/api/v1/sessions/${s.id}`, undefined, { token: st1 }), 401, 'unauthorized', 'st1 GET');
    assert.equal((await upgrade(`/api/v1/sessions/${s.id}/cdp?token=${st1}`)).status, 401, 'st1 cdp');
    // the documented format, signed with STATE/secret, verifies (control)
    const good = mint(`st2.${s.id}.cdp.${exp}`);
    assert.equal((await upgrade(`/api/v1/sessions/${s.id}/cdp?token=${good}`)).status, 101, 'a well-made st2 cdp token');
  });

  it("a view viewer's input is refused and never reaches the page; a control viewer's does (control)", T, async () => {
    await minted();
    const { browser, page: remote } = await remotePage(s.urls.cdp);
    try {
      await recordInput(remote);
      const before = await remote.evaluate(() => ({ href: location.href, w: innerWidth, h: innerHeight }));
      const msgs = driveMessages(env.url('/title?t=navigated'));
      const ws = await openLive(s.id, links.view.token);
      try {
        await waitFor(() => ws.texts.length && ws.frames > 0, { timeout: 15000, what: 'hello and a frame for the view viewer' });
        const hello = ws.texts[0];
        assert.equal(hello.type, 'hello');
        assert.equal(hello.input, false, 'hello says input is off');
        assert.deepEqual(hello.clipboard, { copy: false, paste: false });
        for (const m of msgs) ws.send(JSON.stringify(m));
        // one error per message: all of them were handled (and refused)
        await waitFor(() => ws.texts.filter((m) => m.type === 'error').length >= msgs.length, { what: 'an error for every message' });
        const errs = ws.texts.filter((m) => m.type === 'error');
        assert.equal(errs.length, msgs.length, JSON.stringify(errs));
        for (const e of errs) assert.match(e.message, /only watches/);
        assert.ok(!ws.texts.some((m) => m.type === 'viewport' || m.type === 'clipboard'), 'a refused message had an effect');
        // settings (this viewer's own frame rate) are its own business
        ws.send(JSON.stringify({ type: 'settings', maxFps: 5 }));
        ws.send(JSON.stringify({ type: 'mouse', action: 'move', x: 1, y: 1 }));
        await waitFor(() => ws.texts.filter((m) => m.type === 'error').length >= msgs.length + 1, { what: 'the error after settings' });
        assert.equal(ws.texts.filter((m) => m.type === 'error').length, msgs.length + 1, 'settings were refused');
      } finally {
        ws.close();
      }
      // nothing reached the page (a round trip through the browser first)
      const after1 = await remote.evaluate(() => ({ href: location.href, w: innerWidth, h: innerHeight, q: document.getElementById('q').value, input: window.__input }));
      assert.deepEqual(after1, { ...before, q: '', input: [] }, 'a view viewer reached the page');

      // control: the same messages from a control viewer do reach it
      const wc = await openLive(s.id, tokenOf(s.urls.live));
      try {
        await waitFor(() => wc.texts.length, { what: 'hello for the control viewer' });
        assert.equal(wc.texts[0].input, true);
        const q = await remote.evaluate(() => {
          const b = document.getElementById('q').getBoundingClientRect();
          return { x: Math.round(b.left + b.width / 2), y: Math.round(b.top + b.height / 2) };
        });
        for (const action of ['down', 'up']) wc.send(JSON.stringify({ type: 'mouse', action, ...q, button: 'left', buttons: action === 'down' ? 1 : 0, clickCount: 1 }));
        wc.send(JSON.stringify({ type: 'text', text: 'typed' }));
        wc.send(JSON.stringify({ type: 'key', action: 'down', key: 'b', code: 'KeyB' }));
        wc.send(JSON.stringify({ type: 'key', action: 'up', key: 'b', code: 'KeyB' }));
        await waitFor(async () => (await remote.evaluate(() => document.getElementById('q').value)) === 'typedb', { what: 'control input in the page' });
        const ev = await remote.evaluate(() => window.__input);
        assert.ok(ev.includes('keydown') && ev.includes('input'), `events ${ev}`);
      } finally {
        wc.close();
      }
    } finally {
      await browser.close();
    }
  });
});

// ------------------------------------------------------------------ web UI

async function newPage(base) {
  const ctx = await viewer.newContext({ viewport: { width: 1100, height: 750 } });
  const page = await ctx.newPage();
  page.base = base;
  return page;
}

async function login(page, token) {
  await page.goto(`${page.base}/`);
  await page.waitForSelector('#login:not([hidden])');
  await page.fill('#token', token);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#list:not([hidden])');
}

// Until the live view shows frames: overlay gone, canvas not one color.
async function waitFrames(page, what = 'frames in the live view') {
  await page.waitForSelector('#overlay', { state: 'hidden', timeout: 30000 });
  await waitFor(async () => {
    const png = decodePng(await page.locator('#screen').screenshot());
    const first = png.at(0, 0).join();
    for (let y = 0; y < png.height; y += 7) {
      for (let x = 0; x < png.width; x += 7) if (png.at(x, y).join() !== first) return true;
    }
    return false;
  }, { timeout: 30000, interval: 250, what });
}

describe('web UI: logins come from the form only; no long-lived token in a URL', () => {
  it("login CSRF: the UI logged in as the admin, opened with /?token=<a user's token>, keeps the admin's login", T, async () => {
    const sX = await env.d.create({ url: env.url('/title?t=admins') });
    const mallory = (await api('POST', '/api/v1/tokens', { name: 'mallory' })).json;
    const page = await newPage(env.d.base);
    try {
      await login(page, env.d.token);
      await page.locator(`#sessions-body tr[data-id="${sX.id}"]`).waitFor({ timeout: 15000 });
      for (const p of [`/?token=${encodeURIComponent(mallory.token)}`, `/view/${sX.id}?token=${encodeURIComponent(mallory.token)}`]) {
        await page.goto(`${env.d.base}${p}`);
        await page.waitForLoadState('domcontentloaded');
        assert.equal(new URL(page.url()).search, '', `${p}: the token is removed from the address bar`);
        assert.equal(await page.evaluate(() => localStorage.getItem('bulkhead.token')), env.d.token, `${p}: the stored login changed`);
      }
      // the UI still acts as the admin: its session is listed, and a
      // session made from the form is the admin's
      await page.goto(`${env.d.base}/`);
      await page.locator(`#sessions-body tr[data-id="${sX.id}"]`).waitFor({ timeout: 15000 });
      await page.fill('#create-url', env.url('/title?t=after'));
      await page.click('#create-btn');
      await page.waitForURL(/\/view\/[0-9a-f]{32}$/, { timeout: 60000 });
      const id = new URL(page.url()).pathname.split('/')[2];
      const made = await api('GET', `/api/v1/sessions/${id}`);
      assert.deepEqual(made.json.owner, { id: 'admin', name: 'admin' }, 'the next session belongs to someone else');
      assert.deepEqual((await api('GET', '/api/v1/sessions', undefined, { token: mallory.token })).json.sessions, [], 'mallory got a session');
      await env.d.del(id);
    } finally {
      await page.context().close();
    }
    // a fresh tab: an API token in the URL is no login at all
    const fresh = await newPage(env.d.base);
    try {
      await fresh.goto(`${env.d.base}/?token=${encodeURIComponent(env.d.token)}`);
      await fresh.waitForSelector('#login:not([hidden])');
      assert.equal(await fresh.evaluate(() => localStorage.getItem('bulkhead.token')), null);
      assert.equal(new URL(fresh.url()).search, '');
    } finally {
      await fresh.context().close();
    }
    await env.d.del(sX.id);
  });

  it('a view link in the UI shows frames and sends no input; a cdp link in a view URL opens no live view', T, async () => {
    const s = await env.d.create({ url: env.url('/form') });
    const view = (await link(s.id, { scope: 'view', ttl: 300 })).json;
    const { browser, page: remote } = await remotePage(s.urls.cdp);
    const page = await newPage(env.d.base);
    try {
      await recordInput(remote);
      await page.goto(view.urls.view);
      await waitFrames(page, 'frames through a view link');
      await page.waitForSelector('.toast:has-text("View only")');
      assert.equal(await page.evaluate(() => localStorage.getItem('bulkhead.token')), null, 'a view link is no login');
      const box = await page.locator('#screen').boundingBox();
      await page.mouse.click(box.x + 30, box.y + 30);
      await page.keyboard.type('nope');
      assert.equal(await page.isDisabled('#address'), true, 'the address bar is off in a view link');
      // an input that reached the daemon would show up within a round trip;
      // a second viewer's hello comes after everything sent before it
      const probe = await openLive(s.id, view.token);
      await waitFor(() => probe.texts.length, { what: 'a probe hello' });
      probe.close();
      assert.deepEqual(await remote.evaluate(() => [document.getElementById('q').value, window.__input]), ['', []], 'the view link reached the page');
      // a cdp link is not a live view
      const cdp = (await link(s.id, { scope: 'cdp', ttl: 300 })).json;
      await page.goto(`${env.d.base}/view/${s.id}?token=${encodeURIComponent(cdp.token)}`);
      await page.waitForFunction(() => /does not open the live view/.test(document.getElementById('overlay-msg').textContent), null, { timeout: 15000 });
    } finally {
      await page.context().close();
      await browser.close();
    }
    await env.d.del(s.id);
  });

  it('through a logging reverse proxy: login, create, live view, end — no request line has a long-lived token; the session token is seen (control)', T, async () => {
    const proxy = await startProxy(PROXY_PORT, env.d.port);
    const mallory = (await api('POST', '/api/v1/tokens', { name: 'proxied' })).json;
    const page = await newPage(`http://127.0.0.1:${PROXY_PORT}`);
    let id;
    try {
      await login(page, env.d.token);
      await page.fill('#create-url', env.url('/form'));
      await page.click('#create-btn');
      await page.waitForURL(/\/view\/[0-9a-f]{32}$/, { timeout: 60000 });
      id = new URL(page.url()).pathname.split('/')[2];
      await waitFrames(page, 'frames through the proxy');
      // reconnect once (a second socket, a second fresh token)
      await page.click('#nav-list');
      await page.waitForSelector('#list:not([hidden])');
      await page.click(`#sessions-body tr[data-id="${id}"] button:has-text("Open")`);
      await waitFrames(page, 'frames after opening it again');
      await page.click('#live-end');
      await page.click('#live-end');
      await waitFor(async () => (await api('GET', `/api/v1/sessions/${id}`)).json.status === 'ended', { timeout: 20000, what: 'ended from the live view' });
      // also a tab that was handed a link with the token in it
      await page.goto(`http://127.0.0.1:${PROXY_PORT}/?token=${encodeURIComponent(mallory.token)}`);
      await page.waitForSelector('#list:not([hidden])');
    } finally {
      await page.context().close();
      await proxy.close();
    }
    const lines = proxy.lines;
    assert.ok(lines.some((l) => /^POST \/api\/v1\/sessions /.test(l)), `the proxy saw no create:\n${lines.join('\n')}`);
    const longLived = [env.d.token, encodeURIComponent(env.d.token)];
    const leaks = lines.filter((l) => longLived.some((t) => l.includes(t)));
    assert.deepEqual(leaks, [], 'request lines with the admin token');
    // every token= in a request line is a session token (but the one we planted)
    const planted = encodeURIComponent(mallory.token);
    for (const l of lines) {
      for (const m of l.matchAll(/[?&]token=([^&\s]*)/g)) {
        if (m[1] === planted) continue;
        assert.match(decodeURIComponent(m[1]), /^st2\./, `a request line with a token that is not a session token: ${l}`);
      }
    }
    // control: the log does see the live view's session token in its URL
    const live = lines.filter((l) => l.startsWith(`GET /api/v1/sessions/${id}/live?token=st2.${id}.control.`) && l.endsWith('(upgrade)'));
    assert.ok(live.length >= 2, `the proxy saw ${live.length} live-view upgrades with a session token:\n${lines.join('\n')}`);
  });

  it('stops cleanly and leaves nothing behind', { timeout: 240000 }, () => env.finish());
});

// A logging reverse proxy on loopback: records every request line (method,
// target, and "(upgrade)" for WebSockets) and forwards it to the daemon with
// the daemon's Host, as nginx does by default.
function startProxy(port, upstream) {
  const lines = [];
  const host = `127.0.0.1:${upstream}`;
  const headersOf = (req) => {
    const out = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i];
      out.push([k, k.toLowerCase() === 'host' ? host : req.rawHeaders[i + 1]]);
    }
    return out;
  };
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    lines.push(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
    const up = http.request({ host: '127.0.0.1', port: upstream, method: req.method, path: req.url, headers: Object.fromEntries(headersOf(req)) }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connection', (c) => { sockets.add(c); c.on('close', () => sockets.delete(c)); });
  server.on('upgrade', (req, socket, head) => {
    lines.push(`${req.method} ${req.url} HTTP/${req.httpVersion} (upgrade)`);
    const up = net.connect(upstream, '127.0.0.1', () => {
      up.write(`${req.method} ${req.url} HTTP/1.1\r\n${headersOf(req).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
      if (head && head.length) up.write(head);
      socket.pipe(up);
      up.pipe(socket);
    });
    sockets.add(up);
    up.on('close', () => sockets.delete(up));
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({
      lines,
      close: () => new Promise((r) => {
        for (const c of sockets) c.destroy();
        server.close(() => r());
      }),
    }));
  });
}
