// page.test.js — the session's own page, for real (issue 11, items 2 and 5):
//
// * The daemon keeps a page. When a client closes it — Target.closeTarget
//   (raw, or Playwright's page.close(), which must resolve), Page.close on a
//   CDP session attached to it, or window.close() run inside the page — a new
//   blank page replaces it: a screenshot is a PNG of that new page, GET says
//   so (page.url about:blank, page.error names the closed page), the events
//   say page_closed then page_replaced, the live view goes on sending frames
//   of the new page and drives it. Control: a client's own pages close as
//   before, with no such event.
// * A start page that cannot load does not fail the create. The browser being
//   ready makes the session ready: a start URL on a private address (blocked
//   under the default `internet` policy) and one whose server never answers
//   give 201 `ready` with page.error and a page_load_failed event, after the
//   page load timeout (default 10 s; `pageLoadTimeout` in the create body),
//   not the browser start timeout (30 s). The start slot is free once the
//   browser is ready: an about:blank session starts and answers while
//   sessions whose pages hang still wait for them. Controls: a reachable page
//   (also a slow one) gives its title and no page.error; a refused connection
//   gives Chromium's error at once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { sessionLeftovers } from './lib/leaks.js';
import { pngInfo, decodePng } from './lib/png.js';
import { waitFor } from './lib/sh.js';

const noLaunch = () => { throw new Error('page.test.js must never launch a browser, only connect'); };
chromium.launch = noLaunch;
chromium.launchPersistentContext = noLaunch;
chromium.launchServer = noLaunch;

const T = { timeout: 90000 };
const VIEW = { width: 800, height: 600 };
const BRIDGE_ADDR = '10.215.0.1'; // the test daemon's bridge (a private address of the host)

// A raw CDP client: call() resolves with the result or throws with .cdp (the
// error object); send() resolves with the whole reply.
async function rawCdp(url) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const pending = new Map();
  let next = 1;
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (pending.has(m.id)) { pending.get(m.id)(m); pending.delete(m.id); }
  });
  ws.on('close', () => { for (const [, p] of pending) p(null); pending.clear(); });
  const send = (method, params = {}, sessionId = undefined) => new Promise((resolve) => {
    const id = next++;
    pending.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
  });
  const call = async (method, params, sessionId) => {
    const r = await send(method, params, sessionId);
    if (!r) throw new Error(`${method}: the connection closed`);
    if (r.error) throw Object.assign(new Error(`${method}: ${JSON.stringify(r.error)}`), { cdp: r.error });
    return r.result;
  };
  const close = () => new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) { resolve(); return; }
    ws.once('close', resolve);
    ws.close();
  });
  return { send, call, close };
}

// A live viewer: counts frames, keeps text messages, can send input.
async function liveViewer(url) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const v = { ws, frames: 0, frameTimes: [], texts: [] };
  ws.on('message', (data, binary) => {
    if (binary) {
      v.frames++;
      v.frameTimes.push(Date.now());
    } else {
      v.texts.push(JSON.parse(data.toString()));
    }
  });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  v.send = (m) => ws.send(JSON.stringify(m));
  v.close = () => new Promise((resolve) => { ws.once('close', resolve); ws.close(); });
  return v;
}

function colorNear(img, x, y, rgb, what) {
  const [r, g, b] = img.at(x, y);
  assert.ok(Math.abs(r - rgb[0]) < 10 && Math.abs(g - rgb[1]) < 10 && Math.abs(b - rgb[2]) < 10,
    `${what}: pixel (${x},${y}) is rgb(${r},${g},${b}), expected rgb(${rgb.join(',')})`);
}

describe('page: the daemon keeps its page; a start page that does not load', () => {
  const env = suiteEnv();
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 180000 });

  const get = async (id) => {
    const r = await env.d.api('GET', `/api/v1/sessions/${id}`);
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  const events = async (id) => (await env.d.api('GET', `/api/v1/sessions/${id}/events`)).json.events;
  const screenshot = async (s) => {
    const r = await env.d.api('GET', `/api/v1/sessions/${s.id}/screenshot`, undefined, { timeout: 30000 });
    assert.equal(r.status, 200, `screenshot → ${r.status} ${r.text.slice(0, 300)}`);
    const info = pngInfo(r.body);
    assert.deepEqual({ width: info.width, height: info.height }, s.viewport, 'screenshot size');
    return decodePng(r.body);
  };
  // the daemon's own page target, as a client sees it
  const ownTarget = async (c, url) => {
    const { targetInfos } = await c.call('Target.getTargets');
    const t = targetInfos.find((x) => x.type === 'page' && x.url === url);
    assert.ok(t, `no page ${url} among ${JSON.stringify(targetInfos.map((x) => [x.type, x.url]))}`);
    return t.targetId;
  };

  // Wait for the nth page_replaced event of s; returns the events then.
  const replaced = async (s, n = 1) => {
    let ev;
    await waitFor(async () => {
      ev = await events(s.id);
      return ev.filter((e) => e.type === 'page_replaced').length >= n;
    }, { timeout: 20000, what: `page_replaced event #${n}` });
    return ev;
  };
  const count = (ev, type) => ev.filter((e) => e.type === type).length;

  it('Target.closeTarget, then Page.close, of the session\'s page (raw CDP): each time a new blank page replaces it; a client\'s own page closes as before', T, async () => {
    const { d } = env;
    const url = env.url('/color?c=00ff00');
    const s = await d.create({ url, viewport: VIEW });
    colorNear(await screenshot(s), 10, 10, [0, 255, 0], 'before: the green start page');
    const c = await rawCdp(s.urls.cdp);
    try {
      // control first: a page of the client's own closes, by either method,
      // and the session's page is left alone
      for (const how of ['Target.closeTarget', 'Page.close']) {
        const { targetId } = await c.call('Target.createTarget', { url: 'about:blank' });
        if (how === 'Page.close') {
          const a = await c.call('Target.attachToTarget', { targetId, flatten: true });
          await c.call('Page.close', {}, a.sessionId);
        } else {
          await c.call('Target.closeTarget', { targetId });
        }
        await waitFor(async () => !(await c.call('Target.getTargets')).targetInfos.some((x) => x.targetId === targetId),
          { timeout: 10000, what: `the client's page closed by ${how}` });
      }
      assert.equal(count(await events(s.id), 'page_closed'), 0, 'closing a client\'s page is no concern of the session');
      assert.equal((await get(s.id)).page.url, url);

      // the session's page, by Target.closeTarget
      const own = await ownTarget(c, url);
      assert.deepEqual(await c.call('Target.closeTarget', { targetId: own }), { success: true });
      let ev = await replaced(s, 1);
      const closed = ev.find((e) => e.type === 'page_closed');
      assert.ok(closed, JSON.stringify(ev));
      assert.equal(closed.detail.url, url, 'page_closed names the closed page');
      assert.ok(ev.indexOf(closed) < ev.findIndex((e) => e.type === 'page_replaced'), 'closed, then replaced');
      assert.equal(count(ev, 'ended'), 0, 'the session goes on');
      const g = await get(s.id);
      assert.equal(g.status, 'ready');
      assert.equal(g.page.url, 'about:blank');
      assert.match(g.page.error, /page was closed/);
      assert.ok(g.page.error.includes(url), `page.error names the closed page: ${g.page.error}`);
      assert.equal(g.sandbox.pid, s.sandbox.pid, 'the same browser');
      colorNear(await screenshot(s), 10, 10, [255, 255, 255], 'after closeTarget: the new blank page');

      // the new page, by Page.close on a CDP session attached to it
      const now = await ownTarget(c, 'about:blank');
      assert.notEqual(now, own, 'a new target');
      const { sessionId } = await c.call('Target.attachToTarget', { targetId: now, flatten: true });
      await c.call('Runtime.evaluate', { expression: 'document.body.style.background = "#0000ff"' }, sessionId);
      colorNear(await screenshot(s), 10, 10, [0, 0, 255], 'the new page is the one screenshots show');
      await c.send('Page.close', {}, sessionId);
      ev = await replaced(s, 2);
      assert.equal(count(ev, 'page_closed'), 2);
      colorNear(await screenshot(s), 10, 10, [255, 255, 255], 'after Page.close: another blank page');
      assert.equal((await get(s.id)).status, 'ready');
    } finally {
      await c.close();
    }
    await d.del(s.id);
    assert.deepEqual(await sessionLeftovers(d, s), []);
  });

  it('Playwright: page.close() of the session\'s page resolves; a new page appears in its context, and the daemon shows it', T, async () => {
    const { d } = env;
    const url = env.url('/title?t=playwright%20own');
    const s = await d.create({ url, viewport: VIEW });
    const browser = await chromium.connectOverCDP(s.urls.cdp, { timeout: 30000 });
    try {
      const ctx = browser.contexts()[0];
      const own = ctx.pages().find((p) => p.url() === url);
      assert.ok(own, 'the session\'s page is visible to Playwright');
      const appeared = ctx.waitForEvent('page', { timeout: 20000 });
      await own.close();
      assert.equal(own.isClosed(), true);
      const fresh = await appeared;
      assert.equal(fresh.url(), 'about:blank');
      await replaced(s, 1);
      // the new page is the session's: what Playwright does there, the daemon shows
      await fresh.goto(env.url('/title?t=after%20close'));
      await waitFor(async () => (await get(s.id)).page.title === 'after close',
        { timeout: 10000, what: 'page.title to follow the new page' });
    } finally {
      await browser.close();
    }
    const g = await get(s.id);
    assert.equal(g.status, 'ready');
    await screenshot(s);
    await d.del(s.id);
  });

  it('window.close() in the session\'s page: a new blank page replaces it — screenshot, GET, events and the live view all follow', { timeout: 120000 }, async () => {
    const { d } = env;
    const url = env.url('/color?c=ff0000');
    const s = await d.create({ url, viewport: VIEW });
    colorNear(await screenshot(s), 10, 10, [255, 0, 0], 'before: the red start page');
    const viewer = await liveViewer(s.urls.live);
    await waitFor(() => viewer.frames > 0, { timeout: 15000, what: 'a first live frame' });
    const c = await rawCdp(s.urls.cdp);
    try {
      const own = await ownTarget(c, url);
      const { sessionId } = await c.call('Target.attachToTarget', { targetId: own, flatten: true });
      // a script's window.close(): no CDP command the endpoint could refuse
      // (the page is the first of its history, so Chromium lets it close)
      await c.send('Runtime.evaluate', { expression: 'setTimeout(() => window.close(), 50); 1' }, sessionId);
      const ev = await replaced(s, 1);
      const closed = ev.find((e) => e.type === 'page_closed');
      assert.ok(closed, JSON.stringify(ev));
      assert.equal(closed.detail.url, url, 'page_closed names the closed page');
      assert.ok(ev.indexOf(closed) < ev.findIndex((e) => e.type === 'page_replaced'), 'closed, then replaced');
      assert.ok(!ev.some((e) => e.type === 'ended'), 'the session goes on');

      // GET is true to the page there is now
      const g = await get(s.id);
      assert.equal(g.status, 'ready');
      assert.equal(g.page.url, 'about:blank');
      assert.match(g.page.error, /page was closed/);
      assert.ok(g.page.error.includes(url), `page.error names the closed page: ${g.page.error}`);
      assert.equal(g.sandbox.pid, s.sandbox.pid, 'the same browser');

      // a screenshot is a PNG of the new (white) page
      colorNear(await screenshot(s), 10, 10, [255, 255, 255], 'after: the new blank page');

      // the live view goes on: frames of the new page, and its input drives it
      const at = Date.parse(ev.find((e) => e.type === 'page_replaced').ts);
      await waitFor(() => viewer.frameTimes.some((t) => t > at), { timeout: 15000, what: 'a live frame of the new page' });
      viewer.send({ type: 'navigate', url: env.url('/animated') });
      await waitFor(() => viewer.texts.some((m) => m.type === 'page' && m.url === env.url('/animated')),
        { timeout: 15000, what: 'the live view\'s page message for /animated' });
      const f1 = viewer.frames;
      await waitFor(() => viewer.frames >= f1 + 5, { timeout: 15000, what: 'frames of the animated page' });
      await waitFor(async () => (await get(s.id)).page.url === env.url('/animated'),
        { timeout: 10000, what: 'page.url to follow the live view\'s navigation' });

    } finally {
      await c.close();
      await viewer.close();
    }
    await d.del(s.id);
    assert.deepEqual(await sessionLeftovers(d, s), []);
  });

  it('a start URL on a private address (blocked under "internet"): 201 ready with page.error and a page_load_failed event', T, async () => {
    const { d } = env;
    const url = `http://${BRIDGE_ADDR}:8080/`;
    const t0 = Date.now();
    const r = await d.api('POST', '/api/v1/sessions', { url, viewport: VIEW });
    const took = Date.now() - t0;
    assert.equal(r.status, 201, `${r.status} ${r.text.slice(0, 400)}`);
    const s = r.json;
    assert.equal(s.status, 'ready');
    assert.ok(s.page && s.page.error, `page.error is set: ${JSON.stringify(s.page)}`);
    assert.equal(s.page.error, 'the page did not finish loading within 10000 ms', 'its packets are dropped: the load timeout (default 10 s) ends the wait');
    assert.ok(took < 25000, `answered after ${took} ms: before the browser start timeout (30 s), not at it`);
    const ev = (await events(s.id)).find((e) => e.type === 'page_load_failed');
    assert.ok(ev, 'a page_load_failed event');
    assert.equal(ev.detail.url, url);
    assert.equal(ev.detail.error, s.page.error);
    // the session works: a screenshot, and a page that loads
    await screenshot(s);
    const c = await rawCdp(s.urls.cdp);
    try {
      const { targetId } = await c.call('Target.createTarget', { url: env.url('/title?t=after') });
      await c.call('Target.closeTarget', { targetId });
    } finally {
      await c.close();
    }
    await d.del(s.id);
    assert.deepEqual(await sessionLeftovers(d, s), []);
  });

  it('a start URL whose server never answers, pageLoadTimeout 2: 201 ready with page.error; the load was stopped', T, async () => {
    const { d } = env;
    const url = env.url('/slow?ms=120000');
    const r = await d.api('POST', '/api/v1/sessions', { url, viewport: VIEW, pageLoadTimeout: 2 });
    assert.equal(r.status, 201, `${r.status} ${r.text.slice(0, 400)}`);
    const s = r.json;
    assert.equal(s.status, 'ready');
    assert.equal(s.page.error, 'the page did not finish loading within 2000 ms');
    const ev = await events(s.id);
    assert.ok(ev.some((e) => e.type === 'page_load_failed' && e.detail.error === s.page.error), JSON.stringify(ev));
    assert.equal(ev.find((e) => e.type === 'ready').detail.error, s.page.error, 'the ready event has it too');
    await screenshot(s);
    await d.del(s.id);
    // bad values are refused
    for (const v of [0, 301, 'x', 1.5]) {
      const b = await d.api('POST', '/api/v1/sessions', { pageLoadTimeout: v });
      assert.equal(b.status, 400, `pageLoadTimeout ${v}: ${b.text}`);
      assert.equal(b.json.error.code, 'invalid_field');
    }
  });

  it('a start URL whose connection is refused: ready on Chromium\'s error page, with its error and URL; a screenshot at once works', T, async () => {
    const { d } = env;
    const url = 'http://198.51.100.1:8081/'; // the test site's host; nothing listens on 8081
    const s = await d.create({ url, viewport: VIEW });
    assert.equal(s.status, 'ready');
    assert.equal(s.page.error, 'net::ERR_CONNECTION_REFUSED');
    assert.equal(s.page.url, url, 'the answer waited for the error page');
    await screenshot(s);
    const ev = await events(s.id);
    assert.ok(ev.some((e) => e.type === 'page_load_failed' && e.detail.error === 'net::ERR_CONNECTION_REFUSED'), JSON.stringify(ev));
    await d.del(s.id);
  });

  it('a start URL whose navigation is aborted (204 No Content): ready with net::ERR_ABORTED without waiting out the load timeout', T, async () => {
    const { d } = env;
    const t0 = Date.now();
    const s = await d.create({ url: env.url('/nocontent'), viewport: VIEW, pageLoadTimeout: 60 });
    const took = Date.now() - t0;
    assert.equal(s.status, 'ready');
    assert.equal(s.page.error, 'net::ERR_ABORTED');
    assert.ok(took < 30000, `answered after ${took} ms: no error page was awaited (pageLoadTimeout 60 s)`);
    await screenshot(s);
    await d.del(s.id);
  });

  it('controls: a reachable start page, and a slow one within the timeout, are ready with their title and no page.error', T, async () => {
    const { d } = env;
    const s = await d.create({ url: env.url('/title?t=reachable'), viewport: VIEW });
    assert.equal(s.status, 'ready');
    assert.equal(s.page.title, 'reachable');
    assert.equal(s.page.error, null);
    assert.ok(!(await events(s.id)).some((e) => e.type === 'page_load_failed'));
    const slow = await d.create({ url: env.url('/slow?ms=1500'), viewport: VIEW });
    assert.equal(slow.page.title, 'slow page', 'the create waited for the load');
    assert.equal(slow.page.error, null);
    await d.del(s.id);
    await d.del(slow.id);
  });

  it('the start slot is free once the browser is ready: about:blank answers while sessions with hanging pages wait', { timeout: 120000 }, async () => {
    const { d } = env;
    // as many hanging starts as the daemon runs at once (its cores, at least 2)
    const slots = Math.max(os.cpus().length, 2);
    const done = [];
    const hanging = [];
    for (let i = 0; i < slots; i++) {
      hanging.push(d.api('POST', '/api/v1/sessions', { url: env.url(`/slow?ms=120000&n=${i}`) })
        .then((r) => { done.push(`hang${i}`); return r; }));
    }
    // every hanging one has its browser (its page is loading) before the next comes
    await waitFor(async () => {
      const l = await d.list('?status=starting');
      const evs = await Promise.all(l.map((x) => events(x.id)));
      return l.length === slots && evs.every((e) => e.some((x) => x.type === 'sandbox_started'));
    }, { timeout: 30000, interval: 250, what: `${slots} sessions with a started sandbox` });
    const blank = await d.api('POST', '/api/v1/sessions', { url: 'about:blank' })
      .then((r) => { done.push('blank'); return r; });
    assert.equal(blank.status, 201, blank.text);
    assert.deepEqual(done, ['blank'], 'about:blank was admitted and answered while the hanging pages still loaded');
    const rs = await Promise.all(hanging);
    for (const r of rs) {
      assert.equal(r.status, 201, r.text);
      assert.match(r.json.page.error, /did not finish loading/);
    }
    for (const r of [blank, ...rs]) await d.del(r.json.id);
  });

  it('stops cleanly and leaves nothing behind', { timeout: 180000 }, () => env.finish());
});
