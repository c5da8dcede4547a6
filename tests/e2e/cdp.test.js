// cdp.test.js — the per-session Chrome DevTools Protocol endpoint (issue 3):
// real playwright-core and puppeteer-core connect to urls.cdp, unmodified, and
// run realistic scripts against the test site; two clients share one session
// with the daemon; clients drop abruptly and come back; the policy (an
// allow-list) refuses what it must; no route opens file:, chrome:, devtools:,
// view-source: or chrome-extension: pages (issue 11); file inputs take files
// from the upload area only; bad frames, floods and slow readers hurt only their sender;
// Browser.close ends the session with endReason "closed".
//
// playwright-core and puppeteer-core only ever *connect* here: their launch()
// functions are replaced by ones that throw, so no browser is ever started or
// downloaded by this file. Raw frames use `ws` (a dependency of
// puppeteer-core, installed in node_modules).
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import WebSocket from 'ws';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { sessionLeftovers } from './lib/leaks.js';
import { checkError } from './lib/check.js';
import { pngInfo, decodePng } from './lib/png.js';
import { waitFor, sleep } from './lib/sh.js';

// Never start a browser from this process.
const noLaunch = () => { throw new Error('cdp.test.js must never launch a browser, only connect'); };
chromium.launch = noLaunch;
chromium.launchPersistentContext = noLaunch;
chromium.launchServer = noLaunch;
puppeteer.launch = noLaunch;

const T = { timeout: 60000 };
const VIEW = { width: 960, height: 600 };
const MiB = 1 << 20;

// ---------------------------------------------------------------- raw client

// A minimal CDP client on a raw WebSocket: send() resolves with the whole
// reply message (error or result); everything else (events, id-less errors)
// lands in .messages.
class Raw {
  constructor(ws) {
    this.ws = ws;
    this.nextId = 1;
    this.pending = new Map();
    this.messages = [];
    this.waiters = new Set();
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const [, p] of this.pending) p(null);
        this.pending.clear();
        resolve(this.closeInfo);
        for (const w of [...this.waiters]) w();
      });
    });
    ws.on('error', (e) => { this.error = e; });
    ws.on('message', (data, isBinary) => {
      let m;
      try { m = JSON.parse(data.toString()); } catch { m = { unparsable: data.toString().slice(0, 200) }; }
      if (isBinary) m = { binaryFrame: true };
      if (m && typeof m.id === 'number' && this.pending.has(m.id)) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p(m);
      } else {
        this.messages.push(m);
      }
      for (const w of [...this.waiters]) w();
    });
  }

  static open(url, { headers } = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers, perMessageDeflate: false, maxPayload: 512 * MiB, handshakeTimeout: 15000 });
      ws.once('open', () => resolve(new Raw(ws)));
      ws.once('error', (e) => reject(new Error(`raw WebSocket to ${url.replace(/token=[^&]*/, 'token=…')}: ${e.message}`)));
    });
  }

  // Resolves with the reply message, or null if the connection closed first.
  send(method, params = {}, sessionId = undefined, id = this.nextId++) {
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    const p = new Promise((resolve) => this.pending.set(id, resolve));
    this.ws.send(JSON.stringify(msg));
    return p;
  }

  async call(method, params = {}, sessionId = undefined, timeout = 20000) {
    let t;
    const r = await Promise.race([
      this.send(method, params, sessionId),
      new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${method}: no reply within ${timeout} ms`)), timeout); }),
    ]).finally(() => clearTimeout(t));
    if (!r) throw new Error(`${method}: the connection closed (${JSON.stringify(this.closeInfo)})`);
    if (r.error) throw Object.assign(new Error(`${method}: CDP error ${JSON.stringify(r.error)}`), { cdp: r.error });
    return r.result;
  }

  // Wait for a non-reply message matching pred (looking at those already here too).
  waitMessage(pred, timeout = 10000, what = 'a message') {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.messages.find(pred);
        if (m) { done(); resolve(m); return true; }
        if (this.closeInfo) { done(); reject(new Error(`closed (${JSON.stringify(this.closeInfo)}) while waiting for ${what}`)); return true; }
        return false;
      };
      const t = setTimeout(() => { done(); reject(new Error(`no ${what} within ${timeout} ms; got ${JSON.stringify(this.messages.slice(-5)).slice(0, 600)}`)); }, timeout);
      const done = () => { clearTimeout(t); this.waiters.delete(check); };
      if (!check()) this.waiters.add(check);
    });
  }

  waitClosed(timeout = 10000) {
    let t;
    return Promise.race([
      this.closed,
      new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`connection not closed within ${timeout} ms`)), timeout); }),
    ]).finally(() => clearTimeout(t));
  }

  // A fresh page target of its own, attached in flat mode: {targetId, sessionId}.
  async newPage(url = 'about:blank') {
    const { targetId } = await this.call('Target.createTarget', { url });
    const { sessionId } = await this.call('Target.attachToTarget', { targetId, flatten: true });
    return { targetId, sessionId };
  }

  async evaluate(sessionId, expression, timeout) {
    const r = await this.call('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId, timeout);
    if (r.exceptionDetails) throw new Error(`evaluate ${expression.slice(0, 80)}: ${JSON.stringify(r.exceptionDetails).slice(0, 300)}`);
    return r.result.value;
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    return this.closed;
  }
}

// A WebSocket upgrade request by hand: {status, headers, body, upgraded}.
function upgradeRequest(base, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      },
      timeout: 15000,
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode, headers: res.headers, body: '', upgraded: true });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, upgraded: false }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

// A TCP relay on loopback in front of the daemon, to cut a client's
// connection abruptly (as a network drop or a killed client would).
function startRelay(port) {
  const socks = new Set();
  const srv = net.createServer((a) => {
    const b = net.connect(port, '127.0.0.1');
    socks.add(a); socks.add(b);
    a.on('close', () => { socks.delete(a); b.destroy(); });
    b.on('close', () => { socks.delete(b); a.destroy(); });
    a.on('error', () => {}); b.on('error', () => {});
    a.pipe(b); b.pipe(a);
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    port: srv.address().port,
    connections: () => socks.size / 2,
    cut() { for (const s of socks) s.destroy(); },
    close() { for (const s of socks) s.destroy(); return new Promise((r) => srv.close(r)); },
  })));
}

// BH_CDP_STEPS=1: say what each long test is doing (to find where one hangs).
const t00 = Date.now();
const step = (what) => {
  if (process.env.BH_CDP_STEPS) process.stderr.write(`cdp step +${((Date.now() - t00) / 1000).toFixed(2)}s: ${what}\n`);
};

const rssOf = (pid) => {
  const m = (fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m) || [])[1];
  return Number(m || 0) * 1024;
};

function colorNear(img, x, y, rgb, what) {
  const [r, g, b] = img.at(x, y);
  assert.ok(Math.abs(r - rgb[0]) < 10 && Math.abs(g - rgb[1]) < 10 && Math.abs(b - rgb[2]) < 10,
    `${what}: pixel (${x},${y}) is rgb(${r},${g},${b}), expected rgb(${rgb.join(',')})`);
}

// ---------------------------------------------------------------- the suite

describe('cdp: Playwright and Puppeteer drive a session through urls.cdp', () => {
  const env = suiteEnv();
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 240000 });

  let S = null; // the main session (most tests), made by mainSession()
  const tok = () => env.d.token;
  // urls.cdp without the session token it carries (these tests bring the API token)
  const cdpBare = (s = S) => s.urls.cdp.split('?')[0];
  // the session token of urls.cdp (scope cdp): the only token a URL may carry
  const stok = (s = S) => new URL(s.urls.cdp).searchParams.get('token');
  const wsUrl = (s = S) => `${cdpBare(s)}?token=${encodeURIComponent(stok(s))}`;
  const httpUrl = (s = S) => `${env.d.base}/api/v1/sessions/${s.id}`;
  const bearer = () => ({ Authorization: `Bearer ${tok()}` });
  const pwConnect = (url = wsUrl(), o = {}) => chromium.connectOverCDP(url, { timeout: 30000, ...o });
  const ppConnect = (o = {}) => puppeteer.connect({ browserWSEndpoint: wsUrl(), protocolTimeout: 30000, ...o });
  const getSession = async (s = S) => {
    const r = await env.d.api('GET', `/api/v1/sessions/${s.id}`);
    assert.equal(r.status, 200, `GET session: ${r.status} ${r.text.slice(0, 300)}`);
    return r.json;
  };
  // The session is ready, with the same browser, and the daemon answers a screenshot.
  const assertSessionFine = async (what, s = S) => {
    assert.equal(env.d.exited, null, `${what}: the daemon exited (${JSON.stringify(env.d.exited)})`);
    const g = await getSession(s);
    assert.equal(g.status, 'ready', `${what}: session is ${g.status} (${g.endReason}) — ${JSON.stringify(g).slice(0, 400)}`);
    assert.equal(g.sandbox.pid, s.sandbox.pid, `${what}: the sandbox changed`);
    const t0 = Date.now();
    const shot = await env.d.api('GET', `/api/v1/sessions/${s.id}/screenshot`, undefined, { timeout: 15000 })
      .catch((e) => assert.fail(`${what}: daemon screenshot: no answer within ${Date.now() - t0} ms (${e.message.split('\n')[0]})`));
    assert.equal(shot.status, 200, `${what}: daemon screenshot → ${shot.status} ${shot.text.slice(0, 300)}`);
    assert.deepEqual((({ width, height }) => ({ width, height }))(pngInfo(shot.body)), s.viewport, `${what}: daemon screenshot size`);
  };
  const screenshot = async (s = S) => {
    const r = await env.d.api('GET', `/api/v1/sessions/${s.id}/screenshot`, undefined, { timeout: 15000 });
    assert.equal(r.status, 200, `daemon screenshot → ${r.status} ${r.text.slice(0, 300)}`);
    return r.body;
  };
  // The session's events: [{ts, type, detail}]
  const events = async (s = S) => {
    const r = await env.d.api('GET', `/api/v1/sessions/${s.id}/events`);
    assert.equal(r.status, 200, `GET events: ${r.status} ${r.text.slice(0, 300)}`);
    assert.ok(r.json && Array.isArray(r.json.events), `events: ${r.text.slice(0, 300)}`);
    return r.json.events;
  };
  const disconnects = async (s = S) => (await events(s)).filter((e) => e.type === 'client_disconnected').length;

  let ownTarget = null; // the targetId of the session's own page
  let firstPages = null; // the page targets the new session had
  // The main session is made before the first test that runs, whichever it
  // is, so that every test also passes alone (--test-name-pattern).
  let made = null;
  const mainSession = () => (made ||= (async () => {
    S = await env.d.create({ url: env.url('/?from=cdp'), viewport: VIEW });
    const A = await Raw.open(wsUrl());
    try {
      firstPages = (await A.call('Target.getTargets')).targetInfos.filter((t) => t.type === 'page');
      ownTarget = firstPages.length ? firstPages[0].targetId : null;
    } finally {
      await A.close();
    }
  })());
  beforeEach(() => mainSession(), { timeout: 120000 });

  it('creates a session whose urls.cdp names this daemon and the session', { timeout: 120000 }, async () => {
    assert.equal(S.status, 'ready');
    assert.deepEqual(S.viewport, VIEW);
    assert.equal(cdpBare(S), `ws://127.0.0.1:${env.d.port}/api/v1/sessions/${S.id}/cdp`, 'urls.cdp');
    assert.match(S.urls.cdp, /\?token=st2\.[0-9a-f]{32}\.cdp\./, 'urls.cdp carries a cdp session token');
    assert.equal(firstPages.length, 1, `a new session has one page: ${JSON.stringify(firstPages)}`);
  });

  // Pages in the default context outlive the client that opened them: close
  // whatever a test left open (a failed one, too) so the next starts from the
  // session's own page alone.
  afterEach(async () => {
    if (!S || !ownTarget || env.finished || !env.d || env.d.exited) return;
    try {
      const g = await getSession();
      if (g.status !== 'ready') return;
      const A = await Raw.open(wsUrl());
      try {
        const left = (await A.call('Target.getTargets')).targetInfos.filter((t) => t.type === 'page' && t.targetId !== ownTarget);
        for (const t of left) await A.call('Target.closeTarget', { targetId: t.targetId }).catch(() => {});
        if (left.length) step(`closed ${left.length} page(s) left over: ${left.map((t) => t.url).join(' ')}`);
      } finally {
        await A.close();
      }
    } catch (e) {
      process.stderr.write(`cdp: cleanup after the test failed: ${e.message}\n`);
    }
  });

  it('json/version: with a bearer header, with ?token= (carried into webSocketDebuggerUrl), with a trailing slash', T, async () => {
    const path = `/api/v1/sessions/${S.id}/json/version`;
    const a = await env.d.api('GET', path);
    assert.equal(a.status, 200, `${path}: ${a.status} ${a.text}`);
    assert.match(a.contentType, /application\/json/);
    for (const k of ['Browser', 'Protocol-Version', 'User-Agent', 'V8-Version', 'WebKit-Version', 'webSocketDebuggerUrl']) {
      assert.equal(typeof a.json[k], 'string', `json/version.${k} in ${a.text}`);
      assert.ok(a.json[k].length > 0, `json/version.${k} is empty`);
    }
    assert.match(a.json.Browser, /Chrom/, 'Browser');
    assert.match(a.json['User-Agent'], /Chrome\//, 'User-Agent');
    assert.equal(a.json['Protocol-Version'], '1.3');
    assert.equal(a.json.webSocketDebuggerUrl, cdpBare(S), 'webSocketDebuggerUrl without a query token = urls.cdp without its token');
    const b = await env.d.api('GET', `${path}/?token=${encodeURIComponent(stok())}`, undefined, { token: null });
    assert.equal(b.status, 200, `${path}/?token=: ${b.status} ${b.text}`);
    assert.equal(b.json.webSocketDebuggerUrl, `${cdpBare(S)}?token=${stok()}`, 'webSocketDebuggerUrl carries the query token');
    assert.equal(b.json.Browser, a.json.Browser);
  });

  it('refuses a missing or wrong token with 401 (no upgrade), an unknown session with 404', T, async () => {
    const { d } = env;
    const cdp = `/api/v1/sessions/${S.id}/cdp`;
    const ver = `/api/v1/sessions/${S.id}/json/version`;
    const unknown = 'f'.repeat(32) === S.id ? 'e'.repeat(32) : 'f'.repeat(32);
    const cases = [
      [cdp, {}, 401, 'upgrade without a token'],
      [cdp, { authorization: 'Bearer wrong-token' }, 401, 'upgrade with a wrong bearer'],
      [`${cdp}?token=wrong-token`, {}, 401, 'upgrade with a wrong ?token='],
      [`${cdp}?token=`, {}, 401, 'upgrade with an empty ?token='],
      [`${cdp}?token=${stok()}x`, {}, 401, 'upgrade with the token plus a character'],
      [`${cdp}?token=${stok().slice(0, -1)}`, {}, 401, 'upgrade with a token prefix'],
      [`${cdp}?token=${tok()}`, {}, 401, 'upgrade with the (long-lived) API token in the URL'],
      [`${cdp}?token=${tok()}`, bearer(), 401, 'the API token in the URL even beside a good bearer'],
      [`/api/v1/sessions/${unknown}/cdp`, bearer(), 404, 'upgrade (bearer) to an unknown session'],
    ];
    for (const [p, h, want, what] of cases) {
      const r = await upgradeRequest(d.base, p, h);
      assert.equal(r.upgraded, false, `${what}: the connection was upgraded`);
      assert.equal(r.status, want, `${what}: ${r.status} ${r.body}`);
      const j = JSON.parse(r.body);
      assert.ok(j.error && typeof j.error.code === 'string' && typeof j.error.message === 'string', `${what}: body ${r.body}`);
    }
    checkError(await d.api('GET', ver, undefined, { token: null }), 401, null, 'json/version without a token');
    checkError(await d.api('GET', ver, undefined, { token: 'wrong' }), 401, null, 'json/version with a wrong bearer');
    checkError(await d.api('GET', `${ver}?token=wrong`, undefined, { token: null }), 401, null, 'json/version with a wrong ?token=');
    checkError(await d.api('GET', `/api/v1/sessions/${unknown}/json/version`), 404, null, 'json/version of an unknown session');
    // the clients themselves see the refusal
    await assert.rejects(chromium.connectOverCDP(cdpBare(S), { timeout: 10000 }), /401/, 'Playwright without a token');
    await assert.rejects(chromium.connectOverCDP(httpUrl(), { timeout: 10000, headers: { Authorization: 'Bearer nope' } }), /401/, 'Playwright discovery with a wrong token');
    // (Puppeteer rejects with the ws ErrorEvent, not an Error)
    await assert.rejects(puppeteer.connect({ browserWSEndpoint: `${cdpBare(S)}?token=nope` }),
      (e) => /401/.test(e.message || String(e)), 'Puppeteer with a wrong token');
    await assertSessionFine('after refused connections');
  });

  // ---- Playwright ---------------------------------------------------------------

  it('Playwright (urls.cdp?token=): the session\'s own page is there and drivable; the daemon sees the same browser', T, async () => {
    const browser = await pwConnect();
    try {
      assert.equal(browser.isConnected(), true);
      assert.match(browser.version(), /^\d+\.\d+\.\d+\.\d+$/, 'browser.version()');
      const contexts = browser.contexts();
      assert.equal(contexts.length, 1, 'one (default) context');
      const own = contexts[0].pages().find((p) => p.url() === env.url('/?from=cdp'));
      assert.ok(own, `the session's page is not among ${JSON.stringify(contexts[0].pages().map((p) => p.url()))}`);
      assert.equal(await own.title(), 'bulkhead test page');
      assert.equal(await own.textContent('#h'), 'Hello from the bulkhead test site');
      assert.deepEqual(await own.evaluate(() => [innerWidth, innerHeight]), [VIEW.width, VIEW.height], 'the page has the session viewport');
      // drive it, then look through the daemon's eyes
      await own.goto(env.url('/color?c=2040ff'));
      assert.equal(await own.title(), 'color 2040ff');
      const img = decodePng(await screenshot());
      colorNear(img, 10, 10, [0x20, 0x40, 0xff], 'daemon screenshot after Playwright navigated the page');
      colorNear(img, VIEW.width - 10, VIEW.height - 10, [0x20, 0x40, 0xff], 'daemon screenshot after Playwright navigated the page');
      await waitFor(async () => (await getSession()).page.url === env.url('/color?c=2040ff'), { timeout: 5000, what: 'session.page.url to follow the navigation' });
      await own.goto(env.url('/?from=cdp'));
    } finally {
      await browser.close();
    }
    await assertSessionFine('after Playwright disconnected');
  });

  it('Playwright: form fill + submit, navigation back and forward (requests really reach the site)', T, async () => {
    await env.world.clearRequests();
    const browser = await pwConnect();
    try {
      const page = await browser.contexts()[0].newPage();
      await page.goto(env.url('/form'));
      assert.equal(await page.title(), 'form page');
      await page.fill('#q', 'hello bulkhead');
      assert.equal(await page.inputValue('#q'), 'hello bulkhead');
      await Promise.all([page.waitForURL(/\/form\/submit\?/), page.click('#go')]);
      assert.equal(page.url(), env.url('/form/submit?q=hello+bulkhead'));
      assert.equal(await page.title(), 'submitted: hello bulkhead');
      assert.equal(await page.textContent('#r'), 'hello bulkhead');
      // keyboard typing + Enter submits too
      await page.goto(env.url('/form'));
      await page.click('#q');
      await page.keyboard.type('typed');
      await Promise.all([page.waitForURL(/q=typed/), page.keyboard.press('Enter')]);
      assert.equal(await page.title(), 'submitted: typed');
      const seen = (await env.world.requests()).map((q) => q.url);
      for (const u of ['/form', '/form/submit?q=hello+bulkhead', '/form/submit?q=typed']) {
        assert.ok(seen.includes(u), `the site never saw ${u} (saw ${JSON.stringify(seen)})`);
      }
      const ua = (await env.world.requests()).find((q) => q.url === '/form/submit?q=typed').ua;
      assert.match(ua, /Chrome\//, 'requests come from the session\'s Chromium');
      // history
      await page.goto(env.url('/title?t=one'));
      await page.goto(env.url('/title?t=two'));
      // (a page restored from the back/forward cache fires no load event:
      // Playwright's goBack then waits forever — Playwright launches
      // Chromium with --disable-back-forward-cache for that reason)
      await page.goBack({ timeout: 10000 });
      assert.equal(await page.title(), 'one', 'after goBack');
      assert.equal(page.url(), env.url('/title?t=one'));
      await page.goForward({ timeout: 10000 });
      assert.equal(await page.title(), 'two', 'after goForward');
      await page.reload();
      assert.equal(await page.title(), 'two', 'after reload');
      await page.close();
    } finally {
      await browser.close();
    }
  });

  it('Playwright: request interception — fulfill, abort, continue with a changed header', T, async () => {
    await env.world.clearRequests();
    const browser = await pwConnect();
    try {
      const page = await browser.contexts()[0].newPage();
      await page.route('**/title?t=fulfilled', (route) => route.fulfill({
        status: 200, contentType: 'text/html', body: '<title>from the route</title><p id=x>mocked</p>',
      }));
      await page.route('**/big', (route) => route.abort('blockedbyclient'));
      await page.route('**/api/data.json', (route) => route.fulfill({ json: { mocked: true, n: 42 } }));
      await page.route('**/title?t=continued', (route) => route.continue({ headers: { ...route.request().headers(), 'user-agent': 'bulkhead-routed' } }));
      let seenByRoute = 0;
      await page.route('**/title?t=counted', (route) => { seenByRoute++; return route.continue(); });

      await page.goto(env.url('/title?t=fulfilled'));
      assert.equal(await page.title(), 'from the route');
      assert.equal(await page.textContent('#x'), 'mocked');
      await page.goto(env.url('/'));
      const blocked = await page.evaluate(async () => fetch('/big').then(() => 'loaded', (e) => `failed: ${e.message}`));
      assert.match(blocked, /^failed/, 'a fetch() aborted by the route fails');
      const data = await page.evaluate(async () => (await fetch('/api/data.json')).json());
      assert.deepEqual(data, { mocked: true, n: 42 }, 'fetch() answered by the route');
      await page.goto(env.url('/title?t=continued'));
      assert.equal(await page.title(), 'continued');
      await page.goto(env.url('/title?t=counted'));
      assert.equal(seenByRoute, 1, 'the route handler saw the request once');
      const p2 = await page.context().newPage();
      await p2.route('**/big', (route) => route.abort('blockedbyclient'));
      await assert.rejects(p2.goto(env.url('/big')), /ERR_BLOCKED_BY_CLIENT|ERR_FAILED/, 'an aborted navigation fails');
      await p2.close();
      await page.unrouteAll();
      await page.goto(env.url('/title?t=fulfilled'));
      assert.equal(await page.title(), 'fulfilled', 'after unrouteAll the site answers');
      const reqs = await env.world.requests();
      const urls = reqs.map((q) => q.url);
      assert.equal(urls.filter((u) => u === '/title?t=fulfilled').length, 1, `the fulfilled request reached the site while routed (${JSON.stringify(urls)})`);
      assert.ok(!urls.includes('/big'), 'the aborted request reached the site');
      assert.ok(!urls.includes('/api/data.json'), 'the fulfilled fetch reached the site');
      const cont = reqs.find((q) => q.url === '/title?t=continued');
      assert.ok(cont, 'the continued request never reached the site');
      assert.equal(cont.ua, 'bulkhead-routed', 'route.continue() changed the user-agent header');
      await page.close();
    } finally {
      await browser.close();
    }
  });

  it('Playwright: cookies — addCookies, document.cookie, context.cookies, clearCookies', T, async () => {
    const browser = await pwConnect();
    try {
      const ctx = browser.contexts()[0];
      await ctx.clearCookies();
      await ctx.addCookies([{ name: 'bh_added', value: 'one', url: env.url('/') }]);
      const page = await ctx.newPage();
      await page.goto(env.url('/'));
      assert.match(await page.evaluate(() => document.cookie), /bh_added=one/, 'the page sees the added cookie');
      await page.evaluate(() => { document.cookie = 'bh_script=two; path=/'; });
      const got = await ctx.cookies(env.url('/'));
      const byName = Object.fromEntries(got.map((c) => [c.name, c.value]));
      assert.equal(byName.bh_added, 'one');
      assert.equal(byName.bh_script, 'two', `cookie set by script: ${JSON.stringify(got)}`);
      assert.equal(got.find((c) => c.name === 'bh_added').domain, '198.51.100.1');
      await ctx.clearCookies();
      assert.deepEqual(await ctx.cookies(env.url('/')), [], 'after clearCookies');
      await page.reload();
      assert.equal(await page.evaluate(() => document.cookie), '', 'the page sees no cookie after clearCookies');
      await page.close();
    } finally {
      await browser.close();
    }
  });

  it('Playwright: screenshots are PNGs of the right size and content (viewport, clip, full page)', T, async () => {
    const browser = await pwConnect();
    try {
      const page = await browser.contexts()[0].newPage();
      await page.setViewportSize({ width: 640, height: 400 });
      await page.goto(env.url('/color?c=10a030'));
      const buf = await page.screenshot();
      const img = decodePng(buf);
      assert.deepEqual([img.width, img.height], [640, 400], 'viewport screenshot size');
      colorNear(img, 5, 5, [0x10, 0xa0, 0x30], 'viewport screenshot');
      colorNear(img, 635, 395, [0x10, 0xa0, 0x30], 'viewport screenshot');
      const clip = pngInfo(await page.screenshot({ clip: { x: 10, y: 20, width: 100, height: 50 } }));
      assert.deepEqual([clip.width, clip.height], [100, 50], 'clip screenshot size');
      await page.goto(env.url('/big'));
      const full = pngInfo(await page.screenshot({ fullPage: true }));
      assert.equal(full.width, 640, 'full page width');
      assert.ok(full.height > 15000, `full page height ${full.height} (the page is ~20000 px tall)`);
      const jpeg = await page.screenshot({ type: 'jpeg', quality: 50 });
      assert.equal(jpeg.subarray(0, 3).toString('hex'), 'ffd8ff', 'jpeg screenshot');
      await page.close();
    } finally {
      await browser.close();
    }
  });

  it('Playwright: two pages at once, then close one', T, async () => {
    const browser = await pwConnect();
    try {
      const ctx = browser.contexts()[0];
      const before = ctx.pages().length;
      const [a, b] = await Promise.all([ctx.newPage(), ctx.newPage()]);
      await Promise.all([a.goto(env.url('/title?t=page%20a')), b.goto(env.url('/title?t=page%20b'))]);
      const [ta, tb] = await Promise.all([a.title(), b.title()]);
      assert.deepEqual([ta, tb], ['page a', 'page b']);
      const vals = await Promise.all([a.evaluate(() => document.title + '/' + location.search), b.evaluate(() => document.title + '/' + location.search)]);
      assert.deepEqual(vals, ['page a/?t=page%20a', 'page b/?t=page%20b']);
      assert.equal(ctx.pages().length, before + 2);
      // a popup opened by one page is a third page
      const [popup] = await Promise.all([ctx.waitForEvent('page'), a.evaluate((u) => window.open(u), env.url('/title?t=popup'))]);
      await popup.waitForLoadState();
      assert.equal(await popup.title(), 'popup');
      await popup.close();
      await b.close();
      assert.equal(b.isClosed(), true);
      assert.equal(await a.title(), 'page a', 'the other page still works');
      assert.equal(ctx.pages().length, before + 1);
      await a.close();
    } finally {
      await browser.close();
    }
  });

  it('Playwright: a second browser context is isolated (cookies, storage) and has its own viewport', T, async () => {
    const browser = await pwConnect();
    try {
      const def = browser.contexts()[0];
      const p0 = await def.newPage();
      await p0.goto(env.url('/'));
      await p0.evaluate(() => { document.cookie = 'ctx=default; path=/'; localStorage.setItem('k', 'default'); });
      const ctx = await browser.newContext({ viewport: { width: 500, height: 300 }, userAgent: 'bulkhead-ctx-2', acceptDownloads: true });
      assert.equal(browser.contexts().length, 2);
      const p = await ctx.newPage();
      await p.goto(env.url('/'));
      assert.equal(await p.evaluate(() => document.cookie), '', 'the new context sees the default context\'s cookie');
      assert.equal(await p.evaluate(() => localStorage.getItem('k')), null, 'the new context sees the default context\'s storage');
      assert.deepEqual(await p.evaluate(() => [innerWidth, innerHeight, navigator.userAgent]), [500, 300, 'bulkhead-ctx-2']);
      const shot = pngInfo(await p.screenshot());
      assert.deepEqual([shot.width, shot.height], [500, 300]);
      await p.evaluate(() => { document.cookie = 'ctx=second; path=/'; });
      assert.match(await p0.evaluate(() => document.cookie), /ctx=default/, 'the default context kept its cookie');
      await ctx.close();
      assert.equal(browser.contexts().length, 1);
      await p0.evaluate(() => localStorage.clear());
      await def.clearCookies();
      await p0.close();
    } finally {
      await browser.close();
    }
  });

  it('Playwright: connectOverCDP with the session\'s http URL (discovery) and a bearer header, or ?token=', T, async () => {
    for (const [url, o, what] of [
      [httpUrl(), { headers: bearer() }, 'bearer header'],
      [`${httpUrl()}/`, { headers: bearer() }, 'bearer header, trailing slash'],
      [`${httpUrl()}?token=${encodeURIComponent(stok())}`, {}, '?token='],
      [cdpBare(S), { headers: bearer() }, 'ws url + bearer header'],
    ]) {
      const browser = await pwConnect(url, o).catch((e) => { throw new Error(`${what}: ${e.message}`); });
      try {
        const page = await browser.contexts()[0].newPage();
        await page.goto(env.url(`/title?t=${encodeURIComponent(what)}`));
        assert.equal(await page.title(), what);
        await page.close();
      } finally {
        await browser.close();
      }
    }
  });

  // ---- Puppeteer ---------------------------------------------------------------

  it('Puppeteer (browserWSEndpoint ?token=): goto, type, click, evaluate, screenshot', T, async () => {
    const browser = await ppConnect();
    try {
      assert.match(await browser.version(), /Chrom/, 'browser.version()');
      const pages = await browser.pages();
      assert.ok(pages.some((p) => p.url() === env.url('/?from=cdp')), `the session's page is not among ${JSON.stringify(pages.map((p) => p.url()))}`);
      const page = await browser.newPage();
      await page.goto(env.url('/form'));
      assert.equal(await page.title(), 'form page');
      await page.type('#q', 'from puppeteer');
      await Promise.all([page.waitForNavigation(), page.click('#go')]);
      assert.equal(await page.title(), 'submitted: from puppeteer');
      assert.equal(await page.$eval('#r', (e) => e.textContent), 'from puppeteer');
      assert.equal(await page.evaluate((x) => x * 7, 6), 42);
      await page.goto(env.url('/title?t=p1'));
      await page.goto(env.url('/title?t=p2'));
      await page.goBack();
      assert.equal(await page.title(), 'p1', 'goBack');
      await page.setViewport({ width: 500, height: 300 });
      await page.goto(env.url('/color?c=c02080'));
      const img = decodePng(Buffer.from(await page.screenshot()));
      assert.deepEqual([img.width, img.height], [500, 300], 'screenshot size');
      colorNear(img, 250, 150, [0xc0, 0x20, 0x80], 'puppeteer screenshot');
      const p2 = await browser.newPage();
      await p2.goto(env.url('/title?t=second'));
      assert.deepEqual(await Promise.all([page.title(), p2.title()]), ['color c02080', 'second']);
      await p2.close();
      await page.close();
    } finally {
      await browser.disconnect();
    }
    await assertSessionFine('after Puppeteer disconnected');
  });

  it('Puppeteer: setRequestInterception (respond, abort, continue) and cookies', T, async () => {
    await env.world.clearRequests();
    const browser = await ppConnect();
    try {
      const page = await browser.newPage();
      await page.setRequestInterception(true);
      const onRequest = (req) => {
        const u = req.url();
        if (u.endsWith('/title?t=mock')) req.respond({ status: 200, contentType: 'text/html', body: '<title>mocked by puppeteer</title>' });
        else if (u.endsWith('/big')) req.abort('blockedbyclient');
        else req.continue();
      };
      page.on('request', onRequest);
      await page.goto(env.url('/title?t=mock'));
      assert.equal(await page.title(), 'mocked by puppeteer');
      await assert.rejects(page.goto(env.url('/big')), /ERR_BLOCKED_BY_CLIENT|ERR_FAILED/);
      await page.goto(env.url('/title?t=passed'));
      assert.equal(await page.title(), 'passed');
      const urls = (await env.world.requests()).map((q) => q.url);
      assert.ok(!urls.includes('/title?t=mock') && !urls.includes('/big'), `intercepted requests reached the site: ${JSON.stringify(urls)}`);
      assert.ok(urls.includes('/title?t=passed'), 'the continued request never reached the site');
      page.off('request', onRequest);
      await page.setRequestInterception(false);

      await page.setCookie({ name: 'pp', value: 'yes', url: env.url('/') });
      await page.goto(env.url('/'));
      assert.match(await page.evaluate(() => document.cookie), /pp=yes/);
      const cookies = await page.cookies();
      assert.ok(cookies.some((c) => c.name === 'pp' && c.value === 'yes'), `page.cookies(): ${JSON.stringify(cookies)}`);
      const all = await browser.cookies();
      assert.ok(all.some((c) => c.name === 'pp'), 'browser.cookies()');
      await page.deleteCookie({ name: 'pp', url: env.url('/') });
      assert.ok(!(await page.cookies()).some((c) => c.name === 'pp'), 'after deleteCookie');
      // an incognito-like context of its own
      const ctx = await browser.createBrowserContext();
      const p2 = await ctx.newPage();
      await p2.goto(env.url('/title?t=ctx'));
      assert.equal(await p2.title(), 'ctx');
      await ctx.close();
      await page.close();
    } finally {
      await browser.disconnect();
    }
  });

  it('Puppeteer: connect with headers (bearer) instead of ?token=', T, async () => {
    const browser = await puppeteer.connect({ browserWSEndpoint: cdpBare(S), headers: bearer(), protocolTimeout: 30000 });
    try {
      const page = await browser.newPage();
      await page.goto(env.url('/title?t=headers'));
      assert.equal(await page.title(), 'headers');
      await page.close();
    } finally {
      await browser.disconnect();
    }
  });

  it('a tab a client keeps open (the session\'s page in the background) does not stall the daemon\'s screenshot', { timeout: 60000 }, async () => {
    const browser = await pwConnect();
    try {
      const ctx = browser.contexts()[0];
      const kept = await ctx.newPage(); // an agent's working tab, left open
      await kept.goto(env.url('/title?t=kept%20tab'));
      const tmp = await ctx.newPage(); // and one it opens and closes
      await tmp.goto(env.url('/title?t=tmp%20tab'));
      await tmp.close();
      const own = ctx.pages().find((p) => p.url() === env.url('/?from=cdp'));
      assert.ok(own, 'the session\'s page');
      const vis = await own.evaluate(() => document.visibilityState);
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const r = await env.d.api('GET', `/api/v1/sessions/${S.id}/screenshot`, undefined, { timeout: 10000 })
          .catch((e) => assert.fail(`daemon screenshot #${i + 1} with a client tab open (the session's page is ${vis}): no answer within ${Date.now() - t0} ms (${e.message.split('\n')[0]})`));
        assert.equal(r.status, 200, `daemon screenshot #${i + 1}: ${r.status} ${r.text.slice(0, 200)}`);
        assert.deepEqual((({ width, height }) => ({ width, height }))(pngInfo(r.body)), VIEW);
      }
      await kept.close();
    } finally {
      await browser.close();
    }
  });

  // ---- sharing -----------------------------------------------------------------

  it('two clients at once (Playwright + Puppeteer) each do their work while the daemon takes screenshots', { timeout: 90000 }, async () => {
    const [pw, pp] = await Promise.all([pwConnect(), ppConnect()]);
    const N = 6;
    let running = 2;
    try {
      const pwWork = (async () => {
        const ctx = await pw.newContext({ viewport: { width: 400, height: 300 } });
        const page = await ctx.newPage();
        const dp = await pw.contexts()[0].newPage();
        const out = [];
        for (let i = 0; i < N; i++) {
          await page.goto(env.url(`/title?t=pw-${i}`));
          await dp.goto(env.url(`/title?t=pwd-${i}`));
          out.push(await page.title(), await dp.evaluate(() => document.title));
          const png = pngInfo(await page.screenshot());
          assert.deepEqual([png.width, png.height], [400, 300]);
        }
        await ctx.close();
        await dp.close();
        return out;
      })().finally(() => { running--; });
      const ppWork = (async () => {
        const page = await pp.newPage();
        await page.setViewport({ width: 300, height: 200 });
        const out = [];
        for (let i = 0; i < N; i++) {
          await page.goto(env.url(`/title?t=pp-${i}`));
          out.push(await page.title(), await page.evaluate((k) => `${document.title}#${k}`, i));
          const png = pngInfo(Buffer.from(await page.screenshot()));
          assert.deepEqual([png.width, png.height], [300, 200]);
        }
        await page.close();
        return out;
      })().finally(() => { running--; });
      const shots = (async () => {
        let n = 0;
        while (running > 0) {
          const r = await env.d.api('GET', `/api/v1/sessions/${S.id}/screenshot`);
          assert.equal(r.status, 200, `daemon screenshot while two clients work: ${r.status} ${r.text.slice(0, 200)}`);
          const info = pngInfo(r.body);
          assert.deepEqual([info.width, info.height], [VIEW.width, VIEW.height], 'daemon screenshot size');
          n++;
        }
        return n;
      })();
      const [a, b, n] = await Promise.all([pwWork, ppWork, shots]);
      assert.deepEqual(a, Array.from({ length: N }, (_, i) => [`pw-${i}`, `pwd-${i}`]).flat());
      assert.deepEqual(b, Array.from({ length: N }, (_, i) => [`pp-${i}`, `pp-${i}#${i}`]).flat());
      assert.ok(n >= 2, `only ${n} daemon screenshots while the clients worked`);
      process.stderr.write(`cdp: ${n} daemon screenshots during the two-client run\n`);
    } finally {
      await Promise.allSettled([pw.close(), pp.disconnect()]);
    }
    await assertSessionFine('after two clients');
  });

  it('raw clients: the same ids at once get only their own replies and events; a foreign sessionId → -32001', T, async () => {
    const [A, B] = await Promise.all([Raw.open(wsUrl()), Raw.open(wsUrl())]);
    try {
      const [pa, pb] = await Promise.all([A.newPage(), B.newPage()]);
      // B attaches to A's page too: its own session on the same target
      const { sessionId: bOnA } = await B.call('Target.attachToTarget', { targetId: pa.targetId, flatten: true });
      assert.notEqual(bOnA, pa.sessionId);
      await A.call('Runtime.enable', {}, pa.sessionId);
      const K = 40;
      const ids = Array.from({ length: K }, (_, i) => 1000 + i);
      const ra = ids.map((id) => A.send('Runtime.evaluate', { expression: `'A-${id}'`, returnByValue: true }, pa.sessionId, id));
      const rb = ids.map((id) => B.send('Runtime.evaluate', { expression: `'B-${id}'`, returnByValue: true }, pb.sessionId, id));
      const rbb = B.send('Browser.getVersion', {}, undefined, 5000);
      const rab = A.send('Browser.getVersion', {}, undefined, 5000);
      const [va, vb] = await Promise.all([Promise.all(ra), Promise.all(rb)]);
      va.forEach((m, i) => {
        assert.equal(m.result && m.result.result.value, `A-${ids[i]}`, `A's reply to id ${ids[i]}: ${JSON.stringify(m)}`);
        assert.equal(m.sessionId, pa.sessionId, 'A\'s reply carries A\'s session');
      });
      vb.forEach((m, i) => {
        assert.equal(m.result && m.result.result.value, `B-${ids[i]}`, `B's reply to id ${ids[i]}: ${JSON.stringify(m)}`);
        assert.equal(m.sessionId, pb.sessionId);
      });
      const [gb, ga] = await Promise.all([rbb, rab]);
      assert.ok(ga.result && gb.result && !ga.sessionId && !gb.sessionId, `browser-level replies: ${JSON.stringify([ga, gb])}`);
      // a console message on A's page: an event for A's session only
      await A.call('Runtime.evaluate', { expression: 'console.log("only-for-A")' }, pa.sessionId);
      await A.waitMessage((m) => m.method === 'Runtime.consoleAPICalled' && m.sessionId === pa.sessionId, 5000, 'A\'s console event');
      await sleep(300);
      const leaked = B.messages.filter((m) => m.sessionId === pa.sessionId || JSON.stringify(m).includes('only-for-A'));
      assert.deepEqual(leaked, [], 'B received A\'s messages');
      assert.ok(!A.messages.some((m) => m.sessionId && m.sessionId !== pa.sessionId), `A received events of sessions it does not own: ${JSON.stringify(A.messages.filter((m) => m.sessionId !== pa.sessionId)).slice(0, 400)}`);
      // commands on sessions the client does not own
      for (const [who, c, sid] of [['B on A\'s session', B, pa.sessionId], ['A on B\'s session', A, pb.sessionId], ['A on B\'s second session', A, bOnA], ['A on a made-up session', A, 'DEADBEEF']]) {
        const r = await c.send('Runtime.evaluate', { expression: '1' }, sid);
        assert.ok(r.error, `${who}: ${JSON.stringify(r)}`);
        assert.equal(r.error.code, -32001, `${who}: ${JSON.stringify(r)}`);
        assert.equal(r.error.message, 'Session with given id not found.', who);
      }
      // detach: the session is gone for its owner too
      await B.call('Target.detachFromTarget', { sessionId: bOnA });
      await B.waitMessage((m) => m.method === 'Target.detachedFromTarget' && m.params.sessionId === bOnA, 5000, 'detachedFromTarget');
      const again = await B.send('Runtime.evaluate', { expression: '1' }, bOnA);
      assert.equal(again.error && again.error.code, -32001, `after detach: ${JSON.stringify(again)}`);
      assert.equal(await A.evaluate(pa.sessionId, '1+1'), 2, 'A still works after B detached from A\'s page');
      await A.call('Target.closeTarget', { targetId: pa.targetId });
      await B.call('Target.closeTarget', { targetId: pb.targetId });
    } finally {
      await Promise.all([A.close(), B.close()]);
    }
  });

  // ---- disconnects ---------------------------------------------------------------

  it('abrupt disconnect (socket destroyed with commands in flight) does not end or break the session; reconnect works', T, async () => {
    const A = await Raw.open(wsUrl());
    const pa = await A.newPage(env.url('/title?t=abrupt'));
    const slow = A.send('Runtime.evaluate', { expression: 'new Promise(r => setTimeout(() => r(1), 2000))', awaitPromise: true }, pa.sessionId);
    for (let i = 0; i < 50; i++) A.send('Browser.getVersion');
    A.send('Target.createTarget', { url: env.url('/slow?ms=1500') });
    await sleep(50);
    A.ws._socket.destroy();
    const c = await A.waitClosed();
    assert.equal(c.code, 1006, 'abrupt close seen by the client');
    assert.equal(await slow, null);
    await sleep(2500); // the replies to the dead client arrive now
    await assertSessionFine('after an abrupt disconnect');
    const B = await Raw.open(wsUrl());
    try {
      const { targetInfos } = await B.call('Target.getTargets');
      const left = targetInfos.find((t) => t.targetId === pa.targetId);
      assert.ok(left, 'the dead client\'s page is gone (pages outlive a client that did not close them)');
      const { sessionId } = await B.call('Target.attachToTarget', { targetId: pa.targetId, flatten: true });
      assert.equal(await B.evaluate(sessionId, 'document.title'), 'abrupt');
      for (const t of targetInfos.filter((x) => x.type === 'page' && (x.url.includes('t=abrupt') || x.url.includes('/slow')))) {
        await B.call('Target.closeTarget', { targetId: t.targetId });
      }
    } finally {
      await B.close();
    }
  });

  it('Playwright cut off mid-navigation (TCP relay destroyed): its context is disposed, the session lives, a new Playwright works', { timeout: 90000 }, async () => {
    const relay = await startRelay(env.d.port);
    const watcher = await Raw.open(wsUrl());
    try {
      const { browserContextIds: ctx0 } = await watcher.call('Target.getBrowserContexts');
      const relayUrl = `ws://127.0.0.1:${relay.port}/api/v1/sessions/${S.id}/cdp?token=${encodeURIComponent(stok())}`;
      step('relay: connecting');
      const pw = await pwConnect(relayUrl);
      step('relay: connected');
      let disconnected = false;
      pw.on('disconnected', () => { disconnected = true; });
      const ctx = await pw.newContext();
      const page = await ctx.newPage();
      await page.goto(env.url('/title?t=before-cut'));
      step('relay: page loaded');
      const { browserContextIds: ctx1 } = await watcher.call('Target.getBrowserContexts');
      assert.equal(ctx1.length, ctx0.length + 1, 'Playwright\'s context exists');
      await env.world.clearRequests();
      const nav = page.goto(env.url('/slow?ms=4000')).then(() => 'resolved', (e) => e.message);
      await waitFor(async () => (await env.world.requests()).some((q) => q.url === '/slow?ms=4000'), { timeout: 10000, what: 'the slow navigation to start' });
      step('relay: cutting');
      relay.cut();
      const navResult = await nav;
      step(`relay: goto → ${navResult}`);
      assert.notEqual(navResult, 'resolved', 'page.goto resolved after the connection was cut');
      await waitFor(() => disconnected, { timeout: 10000, what: 'Playwright to notice the disconnect' });
      // Playwright creates its contexts with disposeOnDetach: the daemon
      // must have detached the dead client's browser session.
      await waitFor(async () => (await watcher.call('Target.getBrowserContexts')).browserContextIds.length === ctx0.length,
        { timeout: 10000, what: 'the dead client\'s browser context to be disposed' });
      step('relay: context disposed');
      await assertSessionFine('after Playwright was cut off');
      step('relay: reconnecting');
      const pw2 = await pwConnect();
      try {
        const p2 = await (await pw2.newContext()).newPage();
        await p2.goto(env.url('/title?t=after-cut'));
        assert.equal(await p2.title(), 'after-cut');
        assert.equal(await p2.evaluate(() => 6 * 7), 42);
      } finally {
        await pw2.close();
      }
    } finally {
      await watcher.close();
      await relay.close();
    }
    await assertSessionFine('after reconnecting');
  });

  // ---- policy --------------------------------------------------------------------

  const REFUSED = [
    ['Target.exposeDevToolsProtocol', (t) => ({ targetId: t, bindingName: 'cdp' })],
    ['Target.setRemoteLocations', () => ({ locations: [{ host: '127.0.0.1', port: 9222 }] })],
    ['Target.openDevTools', (t) => ({ targetId: t })],
    ['Browser.crash', () => ({})],
    ['Browser.crashGpuProcess', () => ({})],
    ['Browser.executeBrowserCommand', () => ({ commandId: 'openTabSearch' })],
    ['Tethering.bind', () => ({ port: 9222 })],
    ['Tethering.unbind', () => ({ port: 9222 })],
    ['SystemInfo.getInfo', () => ({})],
    ['SystemInfo.getProcessInfo', () => ({})],
    ['SystemInfo.getFeatureState', () => ({ featureState: 'x' })],
  ];

  it('refuses the policy\'s methods with a CDP error, at browser and page level; the browser is unharmed', T, async () => {
    const A = await Raw.open(wsUrl());
    try {
      const pa = await A.newPage(env.url('/title?t=policy'));
      let id = 7000;
      for (const [method, params] of REFUSED) {
        for (const sid of [undefined, pa.sessionId]) {
          const r = await A.send(method, params(pa.targetId), sid, ++id);
          const where = `${method}${sid ? ' (page session)' : ''}`;
          assert.ok(r && r.error, `${where} was not refused: ${JSON.stringify(r)}`);
          assert.equal(r.id, id, `${where}: reply id`);
          assert.equal(r.error.code, -32000, `${where}: ${JSON.stringify(r)}`);
          assert.ok(r.error.message.startsWith(`'${method}' refused: `), `${where}: message ${JSON.stringify(r.error.message)}`);
          assert.equal(r.sessionId, sid, `${where}: the error's sessionId`);
        }
      }
      // the browser is alive and the page did not get a binding
      assert.match((await A.call('Browser.getVersion')).product, /Chrom/);
      assert.equal(await A.evaluate(pa.sessionId, 'typeof window.cdp'), 'undefined', 'exposeDevToolsProtocol was not applied');
      // allowed neighbours of refused methods still work
      const { targetInfo } = await A.call('Target.getTargetInfo', { targetId: pa.targetId });
      assert.equal(targetInfo.url, env.url('/title?t=policy'));
      await A.call('Target.closeTarget', { targetId: pa.targetId });
    } finally {
      await A.close();
    }
    await assertSessionFine('after refused methods');
  });

  it('refused methods through Playwright CDP sessions (browser and page) reject; Playwright keeps working', T, async () => {
    const browser = await pwConnect();
    try {
      const bs = await browser.newBrowserCDPSession();
      await assert.rejects(bs.send('Browser.crashGpuProcess'), /'Browser\.crashGpuProcess' refused/);
      await assert.rejects(bs.send('SystemInfo.getInfo'), /'SystemInfo\.getInfo' refused/);
      await assert.rejects(bs.send('Tethering.bind', { port: 9222 }), /'Tethering\.bind' refused/);
      assert.match((await bs.send('Browser.getVersion')).product, /Chrom/, 'the browser CDP session still works');
      const page = await browser.contexts()[0].newPage();
      await page.goto(env.url('/title?t=pw-policy'));
      const ps = await page.context().newCDPSession(page);
      const { targetInfo } = await ps.send('Target.getTargetInfo');
      await assert.rejects(ps.send('Target.exposeDevToolsProtocol', { targetId: targetInfo.targetId }), /'Target\.exposeDevToolsProtocol' refused/);
      await assert.rejects(ps.send('Browser.crash'), /'Browser\.crash' refused/);
      const ev = await ps.send('Runtime.evaluate', { expression: 'document.title', returnByValue: true });
      assert.equal(ev.result.value, 'pw-policy', 'the page CDP session still works');
      await ps.detach();
      await bs.detach();
      assert.equal(await page.title(), 'pw-policy');
      await page.close();
    } finally {
      await browser.close();
    }
    await assertSessionFine('after Playwright refused methods');
  });

  it('the policy holds inside non-flat sessions too (Target.sendMessageToTarget carries no refused method through)', T, async () => {
    const A = await Raw.open(wsUrl());
    try {
      // the browser target, attached the old (non-flat) way
      const { targetInfo } = await A.call('Target.getTargetInfo');
      assert.equal(targetInfo.type, 'browser');
      const att = await A.send('Target.attachToTarget', { targetId: targetInfo.targetId, flatten: false });
      if (att.error) return; // refused outright: nothing to tunnel through
      const sid = att.result.sessionId;
      const tunnelled = [];
      for (const [method, params] of [['SystemInfo.getInfo', {}], ['Target.setRemoteLocations', { locations: [{ host: '127.0.0.1', port: 1 }] }],
        ['Browser.executeBrowserCommand', { commandId: 'openTabSearch' }]]) {
        const n = A.messages.length;
        const r = await A.send('Target.sendMessageToTarget', { sessionId: sid, message: JSON.stringify({ id: 1, method, params }) });
        if (r.error) continue; // refused
        const inner = await A.waitMessage((m) => A.messages.indexOf(m) >= n && m.method === 'Target.receivedMessageFromTarget', 5000, `the inner reply to ${method}`);
        const reply = JSON.parse(inner.params.message);
        if (!reply.error) tunnelled.push(`${method} → ${inner.params.message.slice(0, 120)}`);
      }
      await A.send('Target.detachFromTarget', { sessionId: sid });
      assert.deepEqual(tunnelled, [], 'refused methods went through a non-flat session (Target.attachToTarget flatten:false + Target.sendMessageToTarget)');
    } finally {
      await A.close();
    }
  });

  // ---- non-web URLs: refused by the proxy, blocked inside the browser ------------

  // What a page must never show: a file listing or file, a chrome: WebUI page
  // (chrome.send), DevTools, an extension page, view-source. A blocked
  // navigation shows Chromium's error page (chrome-error:) or stays put.
  const BAD_URLS = () => [
    'file:///etc/passwd',
    'file:///usr/local/',
    'chrome://version/',
    'chrome://inspect/',
    'devtools://devtools/bundled/inspector.html',
    `view-source:${env.url('/title?t=source')}`,
    'chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/index.html',
  ];
  const PAGE_STATE = `(() => ({ href: location.href, protocol: location.protocol,
    webui: typeof chrome !== 'undefined' && !!chrome && typeof chrome.send === 'function',
    text: document.documentElement ? document.documentElement.innerText.slice(0, 4000) : '' }))()`;
  const WEB_PROTOCOLS = new Set(['http:', 'https:', 'about:', 'data:', 'chrome-error:']);
  // Every page target's state (attached for the look, detached after).
  const pageStates = async (A) => {
    const out = [];
    for (const t of (await A.call('Target.getTargets')).targetInfos.filter((x) => x.type === 'page')) {
      const att = await A.send('Target.attachToTarget', { targetId: t.targetId, flatten: true });
      if (!att || att.error) continue; // closed meanwhile
      const r = await A.send('Runtime.evaluate', { expression: PAGE_STATE, returnByValue: true }, att.result.sessionId);
      if (r && r.result && r.result.result) out.push({ targetUrl: t.url, ...r.result.result.value });
      await A.send('Target.detachFromTarget', { sessionId: att.result.sessionId });
    }
    return out;
  };
  const shownBad = (st) => !WEB_PROTOCOLS.has(st.protocol) || st.webui || /root:x:0:0|user:x:1000|Index of \//.test(st.text);
  const assertNothingBad = async (A, what) => {
    const bad = (await pageStates(A)).filter(shownBad);
    assert.deepEqual(bad.map((b) => ({ href: b.href, webui: b.webui, text: b.text.slice(0, 200) })), [], `${what}: a page shows a non-web URL`);
  };

  it('Page.navigate and Target.createTarget to file:, chrome:, devtools:, view-source:, chrome-extension: → -32000; http, data: and about:blank still open', { timeout: 90000 }, async () => {
    const A = await Raw.open(wsUrl());
    try {
      const pa = await A.newPage(env.url('/title?t=start'));
      const before = (await A.call('Target.getTargets')).targetInfos.length;
      const urls = [...BAD_URLS(), 'FILE:///etc/passwd', ' file:///etc/passwd', 'filesystem:http://198.51.100.1:8080/temporary/x',
        'javascript:location.href="file:///etc/passwd"', 'about:version', 'chrome://inducebrowsercrashforrealz'];
      let id = 8000;
      for (const url of urls) {
        for (const transitionType of [undefined, 'address_bar']) {
          const r = await A.send('Page.navigate', { url, ...(transitionType ? { transitionType } : {}) }, pa.sessionId, ++id);
          assert.ok(r && r.error, `Page.navigate ${url} (${transitionType}) was not refused: ${JSON.stringify(r)}`);
          assert.equal(r.error.code, -32000, `Page.navigate ${url}: ${JSON.stringify(r)}`);
          assert.match(r.error.message, /^'Page\.navigate' refused: only http:, https:, data: and about:blank URLs/, `Page.navigate ${url}`);
        }
        const c = await A.send('Target.createTarget', { url }, undefined, ++id);
        assert.ok(c && c.error, `Target.createTarget ${url} was not refused: ${JSON.stringify(c)}`);
        assert.match(c.error.message, /^'Target\.createTarget' refused: /, `Target.createTarget ${url}`);
      }
      assert.equal((await A.call('Target.getTargets')).targetInfos.length, before, 'a refused Target.createTarget opened a target');
      assert.equal(await A.evaluate(pa.sessionId, 'document.title'), 'start', 'the page moved');
      await assertNothingBad(A, 'after refused navigations');
      // the browser lives (the crash URL did not crash it)
      assert.match((await A.call('Browser.getVersion')).product, /Chrom/);
      // controls: what clients need still opens
      await A.call('Page.navigate', { url: env.url('/title?t=allowed'), transitionType: 'address_bar' }, pa.sessionId);
      await waitFor(async () => (await A.evaluate(pa.sessionId, 'document.title')) === 'allowed', { timeout: 10000, what: 'the http navigation' });
      await A.call('Page.navigate', { url: 'data:text/html,<title>from data</title>' }, pa.sessionId);
      await waitFor(async () => (await A.evaluate(pa.sessionId, 'document.title')) === 'from data', { timeout: 10000, what: 'the data: navigation' });
      await A.call('Page.navigate', { url: 'about:blank' }, pa.sessionId);
      const blank = await A.call('Target.createTarget', { url: '' });
      await A.call('Target.closeTarget', { targetId: blank.targetId });
      await A.call('Target.closeTarget', { targetId: pa.targetId });
    } finally {
      await A.close();
    }
    await assertSessionFine('after refused navigations');
  });

  it('inside the browser: script, a link click, window.open, a redirect and a meta refresh never show file:, chrome:, devtools:, view-source:, chrome-extension: (each route reaches an http page: the control)', { timeout: 240000 }, async () => {
    const A = await Raw.open(wsUrl());
    try {
      const pa = await A.newPage(env.url('/title?t=routes'));
      await A.call('Page.enable', {}, pa.sessionId);
      const go = async (url) => {
        await A.call('Page.navigate', { url }, pa.sessionId);
        await waitFor(async () => (await A.evaluate(pa.sessionId, 'document.readyState')) === 'complete', { timeout: 10000, what: `${url} to load` });
      };
      const routes = {
        script: async (url) => { await go(env.url('/title?t=script')); await A.send('Runtime.evaluate', { expression: `location.href = ${JSON.stringify(url)}` }, pa.sessionId); },
        'link click': async (url) => {
          await go(env.url(`/link?to=${encodeURIComponent(url)}`));
          for (const type of ['mousePressed', 'mouseReleased']) {
            await A.call('Input.dispatchMouseEvent', { type, x: 400, y: 300, button: 'left', buttons: type === 'mousePressed' ? 1 : 0, clickCount: 1 }, pa.sessionId);
          }
        },
        'window.open': async (url) => {
          await go(env.url('/title?t=opener'));
          await A.send('Runtime.evaluate', { expression: `void window.open(${JSON.stringify(url)})`, userGesture: true }, pa.sessionId);
        },
        redirect: async (url) => { await A.send('Page.navigate', { url: env.url(`/redirect?to=${encodeURIComponent(url)}`) }, pa.sessionId); },
        'meta refresh': async (url) => { await A.send('Page.navigate', { url: env.url(`/refresh?to=${encodeURIComponent(url)}`) }, pa.sessionId); },
      };
      const closeOthers = async () => {
        for (const t of (await A.call('Target.getTargets')).targetInfos) {
          if (t.type === 'page' && t.targetId !== pa.targetId && t.targetId !== ownTarget) await A.send('Target.closeTarget', { targetId: t.targetId });
        }
      };
      for (const [name, route] of Object.entries(routes)) {
        // control: the same route does reach an allowed (http) page
        const tag = `routed-${name.replace(/\W/g, '')}`;
        await route(env.url(`/title?t=${tag}`));
        await waitFor(async () => (await pageStates(A)).some((st) => st.href === env.url(`/title?t=${tag}`)), { timeout: 10000, what: `the control: ${name} to an http page` });
        await closeOthers();
        for (const url of BAD_URLS()) {
          await route(url);
          // a navigation that should not happen has this long to show itself
          const end = Date.now() + 1500;
          while (Date.now() < end) {
            const bad = (await pageStates(A)).filter(shownBad);
            assert.deepEqual(bad.map((b) => `${b.href} webui=${b.webui} ${b.text.slice(0, 120)}`), [], `${name} → ${url}: a page shows it`);
            await sleep(250);
          }
          await closeOthers();
        }
      }
      assert.match((await A.call('Browser.getVersion')).product, /Chrom/);
      await A.call('Target.closeTarget', { targetId: pa.targetId });
    } finally {
      await A.close();
    }
    await assertSessionFine('after in-browser routes');
  });

  it('the live view\'s navigate message to file:, chrome:, devtools: … is refused; to http it navigates (control)', T, async () => {
    const ws = new WebSocket(S.urls.live, { perMessageDeflate: false });
    const msgs = [];
    ws.on('message', (d, bin) => { if (!bin) { try { msgs.push(JSON.parse(d.toString())); } catch { /* not JSON */ } } });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const A = await Raw.open(wsUrl());
    try {
      await waitFor(() => msgs.some((m) => m.type === 'hello'), { timeout: 10000, what: 'the live view\'s hello' });
      const start = (await getSession()).page.url;
      for (const url of BAD_URLS()) {
        const n = msgs.length;
        ws.send(JSON.stringify({ type: 'navigate', url }));
        const err = await waitFor(() => msgs.slice(n).find((m) => m.type === 'error'), { timeout: 10000, what: `an error for navigate ${url}` });
        assert.match(err.message, /url/i, `navigate ${url}: ${JSON.stringify(err)}`);
      }
      assert.equal((await getSession()).page.url, start, 'the session\'s page moved');
      await assertNothingBad(A, 'after live-view navigations');
      ws.send(JSON.stringify({ type: 'navigate', url: env.url('/title?t=live-nav') }));
      await waitFor(async () => (await getSession()).page.url === env.url('/title?t=live-nav'), { timeout: 10000, what: 'the live view\'s http navigation' });
      ws.send(JSON.stringify({ type: 'navigate', url: env.url('/?from=cdp') }));
      await waitFor(async () => (await getSession()).page.url === env.url('/?from=cdp'), { timeout: 10000, what: 'the session\'s page back' });
    } finally {
      ws.close();
      await A.close();
    }
  });

  it('the browser itself blocks non-web schemes: the image holds bulkhead\'s managed policy (and no other)', T, async () => {
    const dir = `/proc/${S.sandbox.pid}/root/etc/chromium/policies/managed`;
    assert.deepEqual(fs.readdirSync(dir), ['bulkhead.json']);
    const pol = JSON.parse(fs.readFileSync(`${dir}/bulkhead.json`, 'utf8'));
    for (const p of ['file://*', 'chrome://*', 'devtools://*', 'chrome-extension://*']) assert.ok(pol.URLBlocklist.includes(p), `URLBlocklist lacks ${p}`);
    assert.equal(pol.ComponentUpdatesEnabled, false);
    assert.notEqual(pol.DeveloperToolsAvailability, 2, 'DeveloperToolsAvailability 2 would refuse every CDP attach');
    // the one chrome: page it allows is the browser's own UI, which no client may attach to
    const A = await Raw.open(wsUrl());
    try {
      const ui = (await A.call('Target.getTargets')).targetInfos.filter((t) => t.type === 'browser_ui');
      for (const t of ui) {
        const r = await A.send('Target.attachToTarget', { targetId: t.targetId, flatten: true });
        assert.ok(r && r.error, `attached to the browser's own UI ${t.url}: ${JSON.stringify(r)}`);
        assert.match(r.error.message, /^'Target\.attachToTarget' refused: /);
      }
      // auto-attach brings no session on it either
      await A.call('Target.setAutoAttach', { autoAttach: true, flatten: true, waitForDebuggerOnStart: false });
      await sleep(500);
      const got = A.messages.filter((m) => m.method === 'Target.attachedToTarget' && m.params.targetInfo.type === 'browser_ui');
      assert.deepEqual(got.map((m) => m.params.targetInfo.url), [], 'auto-attached to the browser\'s own UI');
      await A.call('Target.setAutoAttach', { autoAttach: false, flatten: true, waitForDebuggerOnStart: false });
    } finally {
      await A.close();
    }
  });

  it('DOM.setFileInputFiles: /etc/passwd and paths out of /tmp/uploads are refused; a file in /tmp/uploads is accepted and reaches the page', T, async () => {
    const A = await Raw.open(wsUrl());
    try {
      const pa = await A.newPage('data:text/html,<title>upload</title><input id=f type=file multiple>');
      await waitFor(async () => A.evaluate(pa.sessionId, '!!document.getElementById("f")'), { timeout: 10000, what: 'the file input' });
      const { result } = await A.call('Runtime.evaluate', { expression: 'document.getElementById("f")' }, pa.sessionId);
      let id = 9000;
      for (const files of [['/etc/passwd'], ['/tmp/uploads/../../etc/passwd'], ['/tmp/uploadsX/a'], ['/proc/self/environ'], ['/tmp/uploads/ok.txt', '/etc/hosts']]) {
        const r = await A.send('DOM.setFileInputFiles', { files, objectId: result.objectId }, pa.sessionId, ++id);
        assert.ok(r && r.error, `DOM.setFileInputFiles ${files} was not refused: ${JSON.stringify(r)}`);
        assert.match(r.error.message, /^'DOM\.setFileInputFiles' refused: files must be inside the session's upload area \/tmp\/uploads/);
      }
      assert.equal(await A.evaluate(pa.sessionId, 'document.getElementById("f").files.length'), 0, 'a refused file reached the input');
      // a file in the upload area (put there through the API)
      const body = `uploaded ${Date.now()}\n`;
      const put = await env.d.api('PUT', `/api/v1/sessions/${S.id}/files/report.txt`, body, { headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(put.status, 201, `PUT file: ${put.status} ${put.text}`);
      assert.deepEqual(put.json, { path: '/tmp/uploads/report.txt', size: Buffer.byteLength(body) });
      // bad names and the wrong credential create nothing
      for (const name of ['.hidden', 'a%2Fb', 'a%20b', 'x'.repeat(256)]) {
        checkError(await env.d.api('PUT', `/api/v1/sessions/${S.id}/files/${name}`, 'x'), 400, 'invalid_name', `PUT files/${name.slice(0, 20)}`);
      }
      const stok = new URL(S.urls.cdp).searchParams.get('token');
      checkError(await env.d.api('PUT', `/api/v1/sessions/${S.id}/files/st.txt`, 'x', { token: stok }), 401, 'unauthorized', 'PUT with the session token');
      checkError(await env.d.api('GET', `/api/v1/sessions/${S.id}/files/report.txt`), 405, 'method_not_allowed', 'GET of an upload');
      const area = `/proc/${S.sandbox.pid}/root/tmp/uploads`;
      assert.deepEqual(fs.readdirSync(area), ['report.txt'], 'the upload area holds the one good upload');
      await A.call('DOM.setFileInputFiles', { files: ['/tmp/uploads/report.txt'], objectId: result.objectId }, pa.sessionId);
      assert.equal(await A.evaluate(pa.sessionId, 'document.getElementById("f").files[0].text()'), body, 'the uploaded file\'s bytes in the page');
      await A.call('Target.closeTarget', { targetId: pa.targetId });
    } finally {
      await A.close();
    }
  });

  it('Playwright setInputFiles (a local file, and a buffer) works over connectOverCDP; Puppeteer uploadFile of a file in /tmp/uploads works, of /etc/passwd is refused', T, async () => {
    const tmp = fs.mkdtempSync('/tmp/bh-cdp-upload-');
    try {
      fs.writeFileSync(`${tmp}/local.txt`, 'from the client machine\n');
      const browser = await pwConnect();
      try {
        const page = await browser.contexts()[0].newPage();
        await page.goto('data:text/html,<title>pw upload</title><input id=f type=file multiple>');
        await page.setInputFiles('#f', `${tmp}/local.txt`);
        assert.equal(await page.evaluate(() => document.getElementById('f').files[0].text()), 'from the client machine\n');
        await page.setInputFiles('#f', { name: 'b.txt', mimeType: 'text/plain', buffer: Buffer.from('a buffer\n') });
        assert.equal(await page.evaluate(() => document.getElementById('f').files[0].name), 'b.txt');
        await page.close();
      } finally {
        await browser.close();
      }
      const put = await env.d.api('PUT', `/api/v1/sessions/${S.id}/files/pp.txt`, 'for puppeteer\n');
      assert.equal(put.status, 201, `PUT file: ${put.status} ${put.text}`);
      const pb = await ppConnect();
      try {
        const page = await pb.newPage();
        await page.goto('data:text/html,<title>pp upload</title><input id=f type=file>');
        const input = await page.$('#f');
        await input.uploadFile('/tmp/uploads/pp.txt');
        assert.equal(await page.evaluate(() => document.getElementById('f').files[0].text()), 'for puppeteer\n');
        await assert.rejects(input.uploadFile('/etc/passwd'), /refused/);
        await page.close();
      } finally {
        await pb.disconnect();
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('download paths outside /tmp/downloads are rewritten, not refused: a download lands in the session\'s /tmp/downloads', T, async () => {
    const A = await Raw.open(wsUrl());
    try {
      for (const p of ['/root', '/etc/cron.d', '/tmp/downloads/../../etc', '/tmp/downloadsX', 'relative/dir', '/tmp/downloads', '/tmp/downloads/sub']) {
        const r = await A.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: p, eventsEnabled: true });
        assert.ok(r && !r.error, `Browser.setDownloadBehavior to ${p}: ${JSON.stringify(r)}`);
      }
      const pa = await A.newPage();
      const pr = await A.send('Page.setDownloadBehavior', { behavior: 'allow', downloadPath: '/etc' }, pa.sessionId);
      assert.ok(!(pr.error && /refused/.test(pr.error.message)), `Page.setDownloadBehavior was refused: ${JSON.stringify(pr)}`);
      // a real download, aimed outside: it must land in /tmp/downloads inside the sandbox
      await A.call('Browser.setDownloadBehavior', { behavior: 'allowAndName', downloadPath: '/root/bh-outside', eventsEnabled: true });
      await A.call('Fetch.enable', { patterns: [{ urlPattern: '*/download-me*' }] }, pa.sessionId);
      const body = `bulkhead download ${Date.now()}\n`;
      const paused = A.waitMessage((m) => m.method === 'Fetch.requestPaused' && m.sessionId === pa.sessionId, 10000, 'Fetch.requestPaused');
      const nav = A.send('Page.navigate', { url: env.url('/download-me') }, pa.sessionId);
      const ev = await paused;
      await A.call('Fetch.fulfillRequest', {
        requestId: ev.params.requestId,
        responseCode: 200,
        responseHeaders: [{ name: 'Content-Type', value: 'application/octet-stream' }, { name: 'Content-Disposition', value: 'attachment; filename="report.txt"' }],
        body: Buffer.from(body).toString('base64'),
      }, pa.sessionId);
      await nav;
      const begin = await A.waitMessage((m) => m.method === 'Browser.downloadWillBegin', 10000, 'Browser.downloadWillBegin');
      assert.equal(begin.params.suggestedFilename, 'report.txt');
      const done = await A.waitMessage((m) => m.method === 'Browser.downloadProgress' && m.params.guid === begin.params.guid && m.params.state !== 'inProgress', 10000, 'the download to finish');
      assert.equal(done.params.state, 'completed', `download: ${JSON.stringify(done)}`);
      const root = `/proc/${S.sandbox.pid}/root`;
      const inside = `${root}/tmp/downloads/${begin.params.guid}`;
      assert.ok(fs.existsSync(inside), `the download is not at /tmp/downloads/${begin.params.guid} in the sandbox (${fs.existsSync(`${root}/tmp/downloads`) ? fs.readdirSync(`${root}/tmp/downloads`).join(' ') : 'no /tmp/downloads'})`);
      assert.equal(fs.readFileSync(inside, 'utf8'), body, 'the downloaded bytes');
      assert.ok(!fs.existsSync(`${root}/root/bh-outside`), 'the download went to the path the client named');
      assert.ok(!fs.existsSync('/root/bh-outside'), 'a directory named by the client appeared on the host');
      await A.call('Browser.setDownloadBehavior', { behavior: 'default' });
      await A.send('Target.closeTarget', { targetId: pa.targetId }); // (Chromium may have closed a tab whose only navigation became a download)
    } finally {
      await A.close();
    }
  });

  it('Playwright with acceptDownloads (its own local downloadPath is rewritten): the download event fires', T, async () => {
    const browser = await pwConnect();
    try {
      const ctx = await browser.newContext({ acceptDownloads: true });
      const page = await ctx.newPage();
      await page.route('**/download-me', (route) => route.fulfill({
        status: 200, headers: { 'content-type': 'application/octet-stream', 'content-disposition': 'attachment; filename="pw-report.txt"' }, body: 'from playwright\n',
      }));
      const [dl] = await Promise.all([
        page.waitForEvent('download', { timeout: 10000 }),
        page.goto(env.url('/download-me')).catch(() => null), // "Download is starting"
      ]);
      assert.equal(dl.suggestedFilename(), 'pw-report.txt');
      assert.equal(dl.url(), env.url('/download-me'));
      // The bytes stay in the session (/tmp/downloads); Playwright looks for
      // them on its own machine, so dl.path()/saveAs() are not expected to work.
      await ctx.close();
    } finally {
      await browser.close();
    }
  });

  // ---- bad frames and limits ------------------------------------------------------------

  it('a binary frame closes that connection with 1003; the session and another client are unaffected', T, async () => {
    const [A, B] = await Promise.all([Raw.open(wsUrl()), Raw.open(wsUrl())]);
    try {
      await A.call('Browser.getVersion');
      A.ws.send(Buffer.from(JSON.stringify({ id: 1, method: 'Browser.getVersion' })), { binary: true });
      const c = await A.waitClosed();
      assert.equal(c.code, 1003, `close after a binary frame: ${JSON.stringify(c)}`);
      assert.match((await B.call('Browser.getVersion')).product, /Chrom/, 'the other client still works');
    } finally {
      await Promise.all([A.close(), B.close()]);
    }
    await assertSessionFine('after a binary frame');
  });

  it('text that is not a JSON object → -32700 and the connection stays usable; malformed commands → -32600', T, async () => {
    const A = await Raw.open(wsUrl());
    try {
      const expectNext = async (send, what) => {
        const n = A.messages.length;
        send();
        const m = await A.waitMessage((x) => A.messages.indexOf(x) >= n, 5000, `the answer to ${what}`);
        return m;
      };
      for (const bad of ['hello', '{"id":1,', '[1,2,3]', '42', '"str"', 'null', '', '{"id":1,"id":2,"method":"Browser.getVersion"}']) {
        const m = await expectNext(() => A.ws.send(bad), JSON.stringify(bad));
        assert.ok(m.error, `answer to ${JSON.stringify(bad)}: ${JSON.stringify(m)}`);
        assert.equal(m.error.code, -32700, `answer to ${JSON.stringify(bad)}: ${JSON.stringify(m)}`);
        assert.equal(typeof m.error.message, 'string');
      }
      for (const [bad, id] of [
        [{ id: 'x', method: 'Browser.getVersion' }, undefined],
        [{ method: 'Browser.getVersion' }, undefined],
        [{ id: 1.5, method: 'Browser.getVersion' }, undefined],
        [{ id: 31 }, 31],
        [{ id: 32, method: 7 }, 32],
        [{ id: 33, method: 'Browser.getVersion', params: [] }, 33],
        [{ id: 34, method: 'Browser.getVersion', sessionId: 5 }, 34],
      ]) {
        const m = await expectNext(() => A.ws.send(JSON.stringify(bad)), JSON.stringify(bad));
        assert.ok(m.error, `answer to ${JSON.stringify(bad)}: ${JSON.stringify(m)}`);
        assert.equal(m.error.code, -32600, `answer to ${JSON.stringify(bad)}: ${JSON.stringify(m)}`);
        assert.equal(m.id, id, `answer to ${JSON.stringify(bad)} carries the id ${id}: ${JSON.stringify(m)}`);
      }
      // an unknown method of an allowed domain is the browser's business: its
      // own error, with our id; a domain outside the allow-list is refused
      const u = await A.send('Page.noSuchMethod');
      assert.ok(u.error && u.error.code === -32601, `unknown method: ${JSON.stringify(u)}`);
      const v = await A.send('No.suchMethod');
      assert.ok(v.error && v.error.code === -32000 && /^'No\.suchMethod' refused: /.test(v.error.message), `unknown domain: ${JSON.stringify(v)}`);
      const pong = new Promise((resolve) => A.ws.once('pong', (d) => resolve(d.toString())));
      A.ws.ping('bh-ping');
      assert.equal(await Promise.race([pong, sleep(5000).then(() => 'no pong')]), 'bh-ping', 'a ping is answered with its pong');
      assert.match((await A.call('Browser.getVersion')).product, /Chrom/, 'still usable after bad messages');
      assert.equal(A.closeInfo, null);
    } finally {
      await A.close();
    }
  });

  it('messages: 12 MiB works; more than 32 MiB (one frame or fragmented) closes with 1009; others unaffected', { timeout: 90000 }, async () => {
    const B = await Raw.open(wsUrl());
    const A = await Raw.open(wsUrl());
    try {
      const pa = await A.newPage();
      const n = 12 * MiB;
      const big = await A.call('Runtime.evaluate', { expression: `'${'b'.repeat(n)}'.length`, returnByValue: true }, pa.sessionId, 60000);
      assert.equal(big.result.value, n, '12 MiB command');
      const back = await A.call('Runtime.evaluate', { expression: `'c'.repeat(${n})`, returnByValue: true }, pa.sessionId, 60000);
      assert.equal(back.result.value.length, n, '12 MiB reply');
      // a fragmented command (continuation frames) is one message
      const msg = JSON.stringify({ id: 99, method: 'Runtime.evaluate', sessionId: pa.sessionId, params: { expression: `'${'f'.repeat(3 * MiB)}'.length`, returnByValue: true } });
      const reply = new Promise((resolve) => A.pending.set(99, resolve));
      const parts = 7;
      const step = Math.ceil(msg.length / parts);
      for (let i = 0; i < parts; i++) A.ws.send(msg.slice(i * step, (i + 1) * step), { fin: i === parts - 1 });
      const r = await reply;
      assert.equal(r && r.result && r.result.result.value, 3 * MiB, `fragmented command: ${JSON.stringify(r).slice(0, 300)}`);
      await A.call('Target.closeTarget', { targetId: pa.targetId });

      // one frame over 32 MiB
      A.ws.send(`{"id":1,"method":"Runtime.evaluate","params":{"expression":"'${'x'.repeat(33 * MiB)}'"}}`);
      const c = await A.waitClosed(30000);
      assert.equal(c.code, 1009, `close after a 33 MiB frame: ${JSON.stringify(c)}`);
      // fragments adding up to more than 32 MiB
      // (each fragment is sent when the previous one is written, so the
      // daemon is not left with unread data when it closes)
      const C = await Raw.open(wsUrl());
      const chunk = 'y'.repeat(2 * MiB);
      const sendFrag = (data, fin) => new Promise((resolve) => C.ws.send(data, { fin }, () => resolve()));
      await sendFrag('{"id":1,"method":"Runtime.evaluate","params":{"expression":"\'', false);
      for (let i = 0; i < 17 && C.ws.readyState === WebSocket.OPEN; i++) {
        await sendFrag(chunk, false);
        await sleep(20);
      }
      if (C.ws.readyState === WebSocket.OPEN) C.ws.send('\'"}}', { fin: true });
      const cc = await C.waitClosed(30000);
      assert.equal(cc.code, 1009, `close after 36 MiB of fragments: ${JSON.stringify(cc)}`);
      assert.match((await B.call('Browser.getVersion')).product, /Chrom/, 'the other client still works');
    } finally {
      await Promise.all([A.close(), B.close()]);
    }
    await assertSessionFine('after oversized messages');
  });

  it('more than 1000 commands in flight → -32000 for the excess, the rest answered; then usable again', { timeout: 60000 }, async () => {
    const A = await Raw.open(wsUrl());
    try {
      const pa = await A.newPage();
      const N = 1100;
      const expr = 'new Promise(r => setTimeout(() => r(1), 2500))';
      const replies = [];
      for (let i = 0; i < N; i++) replies.push(A.send('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true }, pa.sessionId));
      const all = await Promise.all(replies);
      const refused = all.filter((m) => m && m.error);
      const ok = all.filter((m) => m && m.result && m.result.result && m.result.result.value === 1);
      assert.equal(ok.length + refused.length, N, `unexpected replies: ${JSON.stringify(all.filter((m) => !m || (!m.error && !(m.result && m.result.result))).slice(0, 3))}`);
      assert.equal(refused.length, N - 1000, `refused ${refused.length} of ${N} hanging commands`);
      for (const m of refused) {
        assert.equal(m.error.code, -32000);
        assert.match(m.error.message, /too many commands in flight/);
      }
      assert.ok(refused.every((m) => m.id > 1000), 'the first 1000 are forwarded, the excess refused');
      assert.equal(await A.evaluate(pa.sessionId, '2+2'), 4, 'usable after the flood');
      await A.call('Target.closeTarget', { targetId: pa.targetId });
    } finally {
      await A.close();
    }
  });

  it('a client that stops reading is dropped (1008) once 64 MiB is queued, without waiting for it to read; daemon memory stays bounded; others unaffected', { timeout: 150000 }, async () => {
    const B = await Raw.open(wsUrl());
    const A = await Raw.open(wsUrl());
    const pid = env.d.pid;
    const gone0 = await disconnects();
    const rss0 = rssOf(pid);
    let peak = rss0;
    const sampler = setInterval(() => { try { peak = Math.max(peak, rssOf(pid)); } catch { /* */ } }, 20);
    try {
      const pa = await A.newPage();
      await A.evaluate(pa.sessionId, `window.s = 'z'.repeat(${8 * MiB}); 1`);
      // stop reading at the socket (ws.pause() alone lets the socket keep
      // draining into the process): TCP fills, then the daemon's queue
      A.ws.pause();
      A.ws._socket.pause();
      const K = 16; // 16 × 8 MiB replies = 128 MiB
      for (let i = 0; i < K; i++) A.send('Runtime.evaluate', { expression: 'window.s', returnByValue: true }, pa.sessionId);
      step('slow reader: 16 × 8 MiB requested');
      // meanwhile the other client is served
      const t0 = Date.now();
      for (let i = 0; i < 5; i++) assert.match((await B.call('Browser.getVersion')).product, /Chrom/);
      const bLatency = Date.now() - t0;
      // The daemon must give up on A by itself (A still does not read).
      // (the browser needs a while to make 16 replies of 8 MiB: under a
      // 1-CPU quota on a busy 2-core host, up to ~20 s)
      const tDrop = Date.now();
      const dropped = await waitFor(async () => (await disconnects()) > gone0,
        { timeout: 45000, interval: 250, what: 'a client_disconnected event while the slow reader still does not read' }).then(() => true, () => false);
      const rssStalled = rssOf(pid);
      step(`slow reader: dropped while stalled: ${dropped} after ${Date.now() - tDrop} ms; daemon RSS ${Math.round(rssStalled / MiB)} MiB`);
      A.ws._socket.resume();
      A.ws.resume();
      const c = await A.waitClosed(20000);
      clearInterval(sampler);
      await sleep(500);
      const rssAfter = rssOf(pid);
      const got = A.messages.length;
      process.stderr.write(`cdp: slow reader: closed ${JSON.stringify(c)} after ${got} of ${K} replies; dropped while stalled: ${dropped}; daemon RSS ${Math.round(rss0 / MiB)} → peak ${Math.round(peak / MiB)} → stalled ${Math.round(rssStalled / MiB)} → after ${Math.round(rssAfter / MiB)} MiB; other client 5 calls in ${bLatency} ms\n`);
      // A peer that does not read cannot take a close frame: the daemon cuts
      // the connection (1006 when it reads again); one that drained in time
      // sees the 1008 close.
      assert.ok(c.code === 1008 || c.code === 1006, `the slow reader's close: ${JSON.stringify(c)}`);
      assert.ok(got < K, `the slow reader got all ${K} replies: nothing was dropped`);
      assert.ok(peak - rss0 < 200 * MiB, `daemon RSS grew by ${Math.round((peak - rss0) / MiB)} MiB for one slow reader`);
      assert.ok(bLatency < 5000, `the other client waited ${bLatency} ms for 5 calls`);
      assert.ok(dropped, 'the daemon did not drop the slow reader until it read again (no client_disconnected event within 45 s while it was stalled; its queue stays allocated meanwhile)');
      assert.match((await B.call('Browser.getVersion')).product, /Chrom/, 'the other client still works');
      const { targetInfos } = await B.call('Target.getTargets');
      if (targetInfos.some((t) => t.targetId === pa.targetId)) await B.call('Target.closeTarget', { targetId: pa.targetId });
    } finally {
      clearInterval(sampler);
      await Promise.all([A.close(), B.close()]);
    }
    await assertSessionFine('after a slow reader');
  });

  it('after all that: the session is ready, nothing is connected, its events name the client connections', T, async () => {
    await assertSessionFine('at the end');
    const evs = await events();
    const types = evs.map((e) => e.type);
    assert.ok(types.includes('client_connected') && types.includes('client_disconnected'), `event types: ${JSON.stringify([...new Set(types)])}`);
    const conn = evs.filter((e) => /^client_(dis)?connected$/.test(e.type));
    assert.equal(conn.filter((e) => e.type === 'client_connected').length, conn.filter((e) => e.type === 'client_disconnected').length,
      'every connection has its disconnection');
    const last = conn[conn.length - 1];
    assert.deepEqual(last.detail, { kind: 'cdp', clients: 0 }, `the last client event: ${JSON.stringify(last)}`);
  });

  // ---- Browser.close ------------------------------------------------------------------------

  it('Browser.close (Puppeteer browser.close()) ends the session with endReason "closed"; other clients are closed; then 409', { timeout: 120000 }, async () => {
    const { d } = env;
    const s = await d.create({ url: env.url('/title?t=to%20be%20closed'), viewport: { width: 640, height: 480 } });
    const watcher = await Raw.open(wsUrl(s));
    const pw = await pwConnect(wsUrl(s));
    let pwGone = false;
    pw.on('disconnected', () => { pwGone = true; });
    const pp = await puppeteer.connect({ browserWSEndpoint: wsUrl(s), protocolTimeout: 30000 });
    const page = await pp.newPage();
    await page.goto(env.url('/title?t=closing'));
    await pp.close();
    const g = await waitFor(async () => {
      const r = await d.api('GET', `/api/v1/sessions/${s.id}`);
      return r.json && r.json.status === 'ended' ? r.json : null;
    }, { timeout: 30000, interval: 200, what: 'the session to end after Browser.close' });
    assert.equal(g.endReason, 'closed', `endReason: ${JSON.stringify(g)}`);
    assert.ok(g.endedAt, `endedAt: ${JSON.stringify(g)}`);
    const c = await watcher.waitClosed(10000);
    assert.ok(c.code === 1001 || c.code === 1000 || c.code === 1011, `the other raw client was closed with ${JSON.stringify(c)}`);
    await waitFor(() => pwGone, { timeout: 10000, what: 'Playwright to be disconnected' });
    assert.deepEqual(await sessionLeftovers(d, s), [], 'the closed session left resources');
    const up = await upgradeRequest(d.base, `/api/v1/sessions/${s.id}/cdp`, bearer());
    assert.equal(up.upgraded, false);
    assert.equal(up.status, 409, `upgrade to the ended session: ${up.status} ${up.body}`);
    checkError(await d.api('GET', `/api/v1/sessions/${s.id}/json/version`), 409, null, 'json/version of the ended session');
    await assertSessionFine('the other session, after one was closed by its client');
  });

  it('stops cleanly and leaves nothing behind', { timeout: 180000 }, () => env.finish());
});
