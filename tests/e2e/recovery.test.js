// recovery.test.js — a daemon that dies (SIGKILL) with a live session leaves
// its sandbox running. The next start on the same state either adopts it
// (--on-restart adopt, the default: reachable again through CDP and the live
// view, its page as it was, its egress policy in force) or ends it (reason
// "shutdown") and removes all its resources (--on-restart end). A browser
// that died while the daemon was down is ended as "crashed". SIGTERM with
// --on-shutdown leave stops the daemon and leaves the sessions for the next
// start. After each case nothing is leaked.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { startDaemon } from './lib/daemon.js';
import { findLeaks, sessionLeftovers } from './lib/leaks.js';
import { WebSocket } from 'ws';
import { chromium } from 'playwright-core';
import { run, sleep } from './lib/sh.js';

// First host uid of a process's user namespace range, and the session that
// holds the lease on a range (null: free).
const uidBaseOf = (pid) => Number(fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/)[1]);
const uidLeaseOwner = (b) => { try { return fs.readlinkSync(`/run/bulkhead/userns/${b}`); } catch { return null; } };
// the API token goes in a header, never in a URL
const cdpUrl = (d, id) => `ws://127.0.0.1:${d.port}/api/v1/sessions/${id}/cdp`;
const auth = (d) => ({ Authorization: `Bearer ${d.token}` });

// Wait until the session is ready (adoption finishes in the background).
async function waitReady(d, id, ms = 30000) {
  const end = Date.now() + ms;
  let g;
  while (Date.now() < end) {
    g = await d.api('GET', `/api/v1/sessions/${id}`);
    if (g.status === 200 && g.json.status !== 'starting' && g.json.page) return g.json;
    if (g.status === 200 && g.json.status === 'ended') return g.json;
    await sleep(200);
  }
  throw new Error(`session ${id} not ready in ${ms} ms: ${g && g.text}`);
}

// The first page of the session's browser that has title t.
async function pageTitled(browser, t) {
  for (const c of browser.contexts()) for (const p of c.pages()) if ((await p.title()) === t) return p;
  return null;
}

// One live-view frame (a JPEG) within ms.
function liveFrame(d, id, ms = 15000) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${d.port}/api/v1/sessions/${id}/live`, { headers: auth(d) });
    const t = setTimeout(() => { ws.terminate(); reject(new Error('no live frame')); }, ms);
    ws.on('message', (m, binary) => {
      if (!binary) return;
      clearTimeout(t);
      ws.close();
      resolve(m);
    });
    ws.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

describe('recovery: --on-restart end reaps the previous run\'s sandboxes', () => {
  const env = suiteEnv();
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 180000 });
  let s;
  // Each step is made by the first test that needs it, so that every test
  // also passes alone (--test-name-pattern): killed() a session and a
  // SIGKILLed daemon.
  const once = (fn) => { let p = null; return () => (p ||= fn()); };
  const killed = once(async () => {
    s = await env.d.create({ url: env.url('/') });
    await env.d.kill();
  });

  it('a live session survives SIGKILL of the daemon (so there is something to recover)', { timeout: 120000 }, async () => {
    await killed();
    const left = await sessionLeftovers(env.d, s);
    // Not an assertion on the daemon: just make sure the test below tests something.
    process.stderr.write(`recovery: after SIGKILL the session still has: ${left.join('; ') || 'nothing'}\n`);
    assert.ok(left.length > 0 || fs.existsSync(`/proc/${s.sandbox.pid}`), 'nothing of the session survived the crash; recovery untestable');
  });

  it('the restarted daemon ends it with reason shutdown and removes everything', { timeout: 120000 }, async () => {
    await killed();
    const old = env.d;
    const d = await startDaemon({ stateDir: old.stateDir, runDir: old.runDir, baseline: old.baseline, args: ['--on-restart', 'end'] });
    env.d = d;
    const left = await sessionLeftovers(d, s);
    assert.deepEqual(left, [], 'still there once the restarted daemon is healthy');
    const leaks = await findLeaks(d);
    assert.deepEqual(leaks, [], 'leaks after recovery');
    const g = await d.api('GET', `/api/v1/sessions/${s.id}`);
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.status, 'ended');
    assert.equal(g.json.endReason, 'shutdown');
    assert.deepEqual(await d.list('?status=ready'), []);
    // and it still works
    const s2 = await d.create({ url: env.url('/') });
    assert.equal(s2.page.title, 'bulkhead test page');
    await d.del(s2.id);
  });

  it('stops cleanly and leaves nothing behind', { timeout: 180000 }, () => env.finish());
});

describe('recovery: a restart adopts the sessions a killed daemon left running', () => {
  const env = suiteEnv();
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 180000 });
  let s;
  let base; // first host uid of its user namespace range
  // Each step is made by the first test that needs it, so that every test
  // also passes alone (--test-name-pattern): killed() a session with page
  // state and a SIGKILLed daemon, adopted() the daemon restarted and the
  // session adopted (its state then).
  const once = (fn) => { let p = null; return () => (p ||= fn()); };
  const killed = once(async () => {
    s = await env.d.create({ url: env.url('/'), network: { policy: 'allowlist', allow: [{ cidr: '198.51.100.1/32', ports: [8080] }] } });
    const b = await chromium.connectOverCDP(cdpUrl(env.d, s.id), { timeout: 30000, headers: auth(env.d) });
    const page = await pageTitled(b, 'bulkhead test page');
    assert.ok(page, 'the session\'s page');
    await page.evaluate(() => { window.__mark = 'kept'; document.title = 'adopt me'; });
    await b.close();
    base = uidBaseOf(s.sandbox.pid);
    await env.d.kill();
  });
  const adopted = once(async () => {
    await killed();
    const old = env.d;
    env.d = await startDaemon({ stateDir: old.stateDir, runDir: old.runDir, baseline: old.baseline });
    return waitReady(env.d, s.id);
  });

  it('a session with page state, then SIGKILL of the daemon', { timeout: 120000 }, async () => {
    await killed();
    assert.ok(base >= 65536, `uid_map of the session: ${fs.readFileSync(`/proc/${s.sandbox.pid}/uid_map`, 'utf8')}`);
    assert.ok(fs.existsSync(`/proc/${s.sandbox.pid}`), 'the browser survived the daemon');
  });

  it('the restarted daemon adopts it: ready, same page, CDP and live view work, policy in force', { timeout: 120000 }, async () => {
    const g = await adopted();
    const d = env.d;
    assert.equal(g.status, 'ready', JSON.stringify(g));
    assert.equal(g.sandbox.pid, s.sandbox.pid, 'the same browser');
    assert.equal(g.page.title, 'adopt me');
    const ev = await d.api('GET', `/api/v1/sessions/${s.id}/events`);
    assert.ok(ev.json.events.some((e) => e.type === 'adopted'), JSON.stringify(ev.json));
    const b = await chromium.connectOverCDP(cdpUrl(d, s.id), { timeout: 30000, headers: auth(d) });
    try {
      const page = await pageTitled(b, 'adopt me');
      assert.ok(page, 'the page of before the restart');
      assert.equal(await page.evaluate(() => window.__mark), 'kept');
      // the allow-list still admits the site, and still nothing else
      await page.goto(env.url('/title?t=after-adoption'));
      assert.equal(await page.title(), 'after-adoption');
      // a port the allow-list does not name: dropped (a timeout), where an
      // open path would get the world's refusal at once (a TypeError)
      const outcome = await page.evaluate(async () => {
        try {
          await fetch('http://198.51.100.1:8081/', { signal: AbortSignal.timeout(3000) });
          return 'reached';
        } catch (e) { return e.name; }
      });
      assert.equal(outcome, 'TimeoutError', 'a port the allow-list does not name');
    } finally {
      await b.close();
    }
    const frame = await liveFrame(d, s.id);
    assert.equal(frame[0], 0xff, 'a JPEG frame');
    assert.equal(frame[1], 0xd8);
    assert.equal((await d.list('?status=ready')).length, 1);
    // it keeps its uid range (leased to it still), which no new session gets
    assert.equal(uidLeaseOwner(base), s.id, `the lease of host ids ${base}..`);
    const s2 = await d.create({ url: 'about:blank' });
    const base2 = uidBaseOf(s2.sandbox.pid);
    await d.del(s2.id);
    assert.ok(base2 >= 65536 && base2 !== base, `a new session got range ${base2}, the adopted one has ${base}`);
  });

  it('an adopted session ends like any other and leaves nothing', { timeout: 120000 }, async () => {
    await adopted();
    await env.d.del(s.id);
    assert.equal(uidLeaseOwner(base), null, 'its uid range is still leased');
    assert.deepEqual(await sessionLeftovers(env.d, s), []);
    assert.deepEqual(await findLeaks(env.d), []);
  });

  it('a browser that died while the daemon was down is ended as crashed', { timeout: 180000 }, async () => {
    const s2 = await env.d.create({ url: env.url('/') });
    await env.d.kill();
    process.kill(s2.sandbox.pid, 'SIGKILL'); // the session's browser, started by this test
    for (let i = 0; i < 100 && fs.existsSync(`/proc/${s2.sandbox.pid}`); i++) await sleep(100);
    const old = env.d;
    const d = await startDaemon({ stateDir: old.stateDir, runDir: old.runDir, baseline: old.baseline });
    env.d = d;
    const g = await d.api('GET', `/api/v1/sessions/${s2.id}`);
    assert.equal(g.json.status, 'ended', g.text);
    assert.equal(g.json.endReason, 'crashed', g.text);
    assert.match(g.json.endDetail, /not adopted/);
    assert.deepEqual(await sessionLeftovers(d, s2), []);
    assert.deepEqual(await findLeaks(d), []);
  });

  it('SIGTERM with --on-shutdown leave keeps the session for the next start', { timeout: 180000 }, async () => {
    const old = env.d;
    await old.stop();
    let d = await startDaemon({ stateDir: old.stateDir, runDir: old.runDir, baseline: old.baseline, args: ['--on-shutdown', 'leave'] });
    env.d = d;
    const s3 = await d.create({ url: env.url('/title?t=left') });
    const ws = new WebSocket(cdpUrl(d, s3.id), { headers: auth(d) });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    await d.stop();
    const c = await closed;
    assert.equal(c.code, 1012, `clients are told to come back: ${JSON.stringify(c)}`);
    assert.ok(fs.existsSync(`/proc/${s3.sandbox.pid}`), 'the browser was left running');
    d = await startDaemon({ stateDir: old.stateDir, runDir: old.runDir, baseline: old.baseline });
    env.d = d;
    const g = await waitReady(d, s3.id);
    assert.equal(g.status, 'ready');
    assert.equal(g.page.title, 'left');
    const b = await chromium.connectOverCDP(cdpUrl(d, s3.id), { timeout: 30000, headers: auth(d) });
    try {
      assert.ok(await pageTitled(b, 'left'));
    } finally {
      await b.close();
    }
  });

  it('a kill in the middle of creates: the database stays consistent, each session is adopted or ended', { timeout: 240000 }, async () => {
    const d0 = env.d;
    const before = (await d0.list()).map((x) => x.id);
    const creates = [0, 1, 2, 3].map((i) => d0.api('POST', '/api/v1/sessions', { url: env.url(`/title?t=k${i}`) }).catch(() => null));
    await sleep(1500);
    await d0.kill();
    await Promise.all(creates);
    const db = `${d0.stateDir}/bulkhead.db`;
    const check = await run('sqlite3', [db, 'PRAGMA integrity_check;']);
    assert.equal(check.stdout.trim(), 'ok', `integrity_check: ${check.stdout} ${check.stderr}`);
    const d = await startDaemon({ stateDir: d0.stateDir, runDir: d0.runDir, baseline: d0.baseline });
    env.d = d;
    const fresh = (await d.list()).filter((x) => !before.includes(x.id));
    assert.ok(fresh.length >= 1, 'the creates made rows before the kill');
    for (const x of fresh) {
      const g = x.status === 'ended' ? x : await waitReady(d, x.id);
      assert.ok(g.status === 'ready' || (g.status === 'ended' && g.endReason), JSON.stringify(g));
      if (g.status === 'ready') await d.del(g.id);
    }
    assert.deepEqual((await d.list('?status=ready')).filter((x) => !before.includes(x.id)), []);
    for (const x of fresh) assert.deepEqual(await sessionLeftovers(d, x), [], x.id);
  });

  it('stops cleanly (ending the adopted session) and leaves nothing behind', { timeout: 180000 }, () => env.finish());
});
