// pool.test.js — the warm pool (--pool N): browser sessions started ahead
// and claimed by creates that fit them.
//   * the pool fills to N in the background, its sessions are no one's (the
//     API lists none, their ids answer 404) and they show in /metrics;
//   * a create from the pool is fast (asserted loosely: well under a cold
//     start's time on any machine), says so in its ready event, and gets a
//     fresh browser: no cookies, storage or history of anyone before it;
//   * each pooled sandbox serves one session: a second create gets another
//     sandbox, and a deleted one leaves nothing behind;
//   * a start URL loads as on a cold start; the pool refills after use;
//   * a create whose settings the pool cannot honour starts cold (a miss);
//   * pooled sessions hold session slots: a create that waits for one ends
//     a pooled session and gets its slot;
//   * after a SIGKILL the next start adopts the pooled sessions back into
//     the pool, and a smaller --pool ends the extra ones; nothing leaks;
//   * --pool 0 (the default) starts nothing ahead; --pool above
//     --max-sessions is refused.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { startDaemon, BIN } from './lib/daemon.js';
import { findLeaks, sessionLeftovers } from './lib/leaks.js';
import { chromium } from 'playwright-core';
import { run, sleep } from './lib/sh.js';

const auth = (d) => ({ Authorization: `Bearer ${d.token}` });
const cdpUrl = (d, id) => `ws://127.0.0.1:${d.port}/api/v1/sessions/${id}/cdp`;

// One metric's value (first sample whose line starts with name).
async function metric(d, name) {
  const r = await d.api('GET', '/metrics');
  assert.equal(r.status, 200);
  const line = r.text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

const poolReady = (d) => metric(d, 'bulkhead_pool_sessions{status="ready"}');

async function waitPool(d, n, ms = 60000) {
  const end = Date.now() + ms;
  let got;
  while (Date.now() < end) {
    got = await poolReady(d);
    if (got === n && (await metric(d, 'bulkhead_pool_sessions{status="starting"}')) === 0) return;
    await sleep(200);
  }
  throw new Error(`the pool did not settle at ${n} ready sessions within ${ms} ms (ready: ${got})`);
}

async function readyEvent(d, id) {
  const ev = await d.api('GET', `/api/v1/sessions/${id}/events`);
  assert.equal(ev.status, 200, ev.text);
  const ready = ev.json.events.filter((e) => e.type === 'ready');
  assert.equal(ready.length, 1, JSON.stringify(ev.json.events));
  return { ready: ready[0].detail, events: ev.json.events };
}

// Container ids of the runtime's containers of a daemon (bh-…).
async function containers(d) {
  const r = await run('runc', ['--root', `${d.runDir}/runc`, 'list', '-q'], { timeout: 30000 }).catch(() => ({ stdout: '' }));
  return (r.stdout || '').split('\n').filter((l) => l.startsWith('bh-')).sort();
}

describe('pool: sessions started ahead serve creates', () => {
  const env = suiteEnv({ args: ['--pool', '2'] });
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 180000 });

  it('fills to --pool in the background; its sessions are no one\'s', { timeout: 90000 }, async () => {
    const d = env.d;
    await waitPool(d, 2);
    assert.equal(await metric(d, 'bulkhead_pool_target'), 2);
    assert.deepEqual(await d.list(), [], 'the API lists no pooled session');
    const cs = await containers(d);
    assert.equal(cs.length, 2, `two sandboxes run: ${cs}`);
    // their ids are unknown to the API, whoever asks
    for (const c of cs) {
      const g = await d.api('GET', `/api/v1/sessions/${c.slice(3)}`);
      assert.equal(g.status, 404, g.text);
      const del = await d.api('DELETE', `/api/v1/sessions/${c.slice(3)}`);
      assert.equal(del.status, 404, del.text);
      const ev = await d.api('GET', `/api/v1/sessions/${c.slice(3)}/events`);
      assert.equal(ev.status, 404, ev.text);
    }
    assert.equal(await metric(d, 'bulkhead_sessions{status="ready"}'), 0, 'pooled sessions are not users\' sessions');
  });

  it('a create takes a pooled session: fast, fresh, and its own; deleted, it leaves nothing', { timeout: 120000 }, async () => {
    const d = env.d;
    await waitPool(d, 2);
    const before = await containers(d);
    const hits = await metric(d, 'bulkhead_pool_hits_total');
    const t0 = performance.now();
    const a = await d.create({ url: 'about:blank' });
    const ms = performance.now() - t0;
    // loosely: a cold start takes hundreds of ms even on a fast machine
    assert.ok(ms < 2000, `a pooled create took ${ms.toFixed(0)} ms`);
    assert.equal(a.status, 'ready');
    assert.ok(before.includes(a.sandbox.id), `${a.sandbox.id} is one of the pooled sandboxes ${before}`);
    assert.equal(await metric(d, 'bulkhead_pool_hits_total'), hits + 1);
    const { ready, events } = await readyEvent(d, a.id);
    assert.equal(ready.pool, true, JSON.stringify(ready));
    assert.ok(events.some((e) => e.type === 'pool_ready'), 'its history says it was pooled');
    // fresh: nothing in the browser but the blank page it started with
    const b = await chromium.connectOverCDP(cdpUrl(d, a.id), { timeout: 30000, headers: auth(d) });
    try {
      const ctx = b.contexts()[0];
      assert.equal(ctx.pages().length, 1, 'one page');
      const page = ctx.pages()[0];
      assert.equal(page.url(), 'about:blank');
      assert.deepEqual(await ctx.cookies(), [], 'no cookies');
      assert.equal(await page.evaluate(() => history.length), 1, 'no history');
      // now leave state behind: a cookie and local storage on the test site
      await page.goto(env.url('/'));
      await page.evaluate(() => { document.cookie = 'who=first; max-age=3600'; localStorage.setItem('who', 'first'); });
      assert.equal((await ctx.cookies()).length, 1);
    } finally {
      await b.close();
    }
    await d.del(a.id);
    assert.deepEqual(await sessionLeftovers(d, a), [], 'the pooled sandbox ended with its session');
    // the next create gets another sandbox, which knows nothing of the first
    await waitPool(d, 2);
    const c = await d.create({ url: env.url('/') });
    assert.notEqual(c.sandbox.id, a.sandbox.id);
    assert.equal(c.page.title, 'bulkhead test page');
    assert.equal((await readyEvent(d, c.id)).ready.pool, true);
    const b2 = await chromium.connectOverCDP(cdpUrl(d, c.id), { timeout: 30000, headers: auth(d) });
    try {
      const ctx = b2.contexts()[0];
      assert.deepEqual(await ctx.cookies(), [], 'no cookie of the first session');
      const page = ctx.pages()[0];
      assert.equal(await page.evaluate(() => localStorage.getItem('who')), null, 'no storage of the first session');
      assert.equal(await page.evaluate(() => history.length), 1, 'its first page starts the history');
    } finally {
      await b2.close();
    }
    await d.del(c.id);
    assert.deepEqual(await sessionLeftovers(d, c), []);
  });

  it('refills after use', { timeout: 90000 }, async () => {
    const d = env.d;
    await waitPool(d, 2);
    const s1 = await d.create({});
    const s2 = await d.create({});
    await waitPool(d, 2); // two new ones, beside the two live sessions
    const cs = await containers(d);
    assert.equal(cs.length, 4, `${cs}`);
    await d.del(s1.id);
    await d.del(s2.id);
    await waitPool(d, 2);
  });

  it('a create the pool cannot serve starts cold', { timeout: 90000 }, async () => {
    const d = env.d;
    await waitPool(d, 2);
    const pooled = await containers(d);
    const misses = await metric(d, 'bulkhead_pool_misses_total');
    for (const body of [{ viewport: { width: 800, height: 600 } }, { network: { policy: 'none' } }, { clipboard: { paste: false } }]) {
      const s = await d.create(body);
      assert.ok(!pooled.includes(s.sandbox.id), `${JSON.stringify(body)} got a pooled sandbox`);
      const { ready } = await readyEvent(d, s.id);
      assert.equal(ready.pool, undefined, JSON.stringify(ready));
      for (const k of ['bundle', 'network', 'egress', 'runtime', 'browser', 'total']) assert.equal(typeof ready.timingsMs[k], 'number', `timingsMs.${k}: ${JSON.stringify(ready)}`);
      if (body.viewport) assert.deepEqual(s.viewport, body.viewport);
      await d.del(s.id);
    }
    assert.equal(await metric(d, 'bulkhead_pool_misses_total'), misses + 3);
    assert.deepEqual((await containers(d)).filter((c) => pooled.includes(c)), pooled, 'the pool kept its sessions');
  });

  it('stops cleanly and leaves nothing behind', { timeout: 180000 }, () => env.finish());
});

describe('pool: slots, restarts, and --pool 0', () => {
  const env = suiteEnv({ args: ['--pool', '2', '--max-sessions', '2'] });
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 180000 });

  it('pooled sessions hold slots: a create that waits for one ends a pooled session', { timeout: 120000 }, async () => {
    const d = env.d;
    await waitPool(d, 2);
    const a = await d.create({}); // from the pool; no slot is left for a refill
    await sleep(1000);
    assert.equal(await poolReady(d), 1, 'no refill past --max-sessions');
    const b = await d.create({ viewport: { width: 640, height: 480 } }); // cold: takes the pooled slot
    assert.deepEqual(b.viewport, { width: 640, height: 480 });
    assert.equal(await poolReady(d), 0);
    assert.deepEqual((await containers(d)).sort(), [a.sandbox.id, b.sandbox.id].sort());
    await d.del(a.id);
    await d.del(b.id);
    await waitPool(d, 2);
  });

  it('after a SIGKILL the pooled sessions are adopted back into the pool', { timeout: 180000 }, async () => {
    await waitPool(env.d, 2);
    const pooled = await containers(env.d);
    const old = env.d;
    await old.kill();
    let d = await startDaemon({ stateDir: old.stateDir, runDir: old.runDir, baseline: old.baseline, args: ['--pool', '2', '--max-sessions', '2'] });
    env.d = d;
    await waitPool(d, 2);
    assert.deepEqual(await containers(d), pooled, 'the same sandboxes');
    assert.deepEqual(await d.list('?status=ready'), []);
    assert.deepEqual(await d.list('?status=starting'), []);
    const s = await d.create({ url: env.url('/') });
    assert.ok(pooled.includes(s.sandbox.id));
    assert.equal(s.page.title, 'bulkhead test page');
    await d.del(s.id);
    // a smaller pool after the next restart ends the extra ones
    await waitPool(d, 2);
    const pooled2 = await containers(d);
    await d.kill();
    d = await startDaemon({ stateDir: old.stateDir, runDir: old.runDir, baseline: old.baseline, args: ['--pool', '1', '--max-sessions', '2'] });
    env.d = d;
    await waitPool(d, 1);
    // the extra one ends (its sandbox is removed in the background)
    let left = await containers(d);
    for (let i = 0; i < 100 && left.length > 1; i++) { await sleep(200); left = await containers(d); }
    assert.equal(left.length, 1, `${left}`);
    assert.ok(pooled2.includes(left[0]), 'one of the adopted sandboxes stays in the pool');
    await d.stop();
    assert.deepEqual(await findLeaks(d), [], 'nothing of the pool is left after a stop');
    // --pool 0, the default: nothing is started ahead
    d = await startDaemon({ stateDir: old.stateDir, runDir: old.runDir, baseline: old.baseline });
    env.d = d;
    await sleep(1500);
    assert.equal(await metric(d, 'bulkhead_pool_target'), 0);
    assert.equal(await poolReady(d), 0);
    assert.deepEqual(await containers(d), []);
    const c = await d.create({});
    assert.equal((await readyEvent(d, c.id)).ready.pool, undefined);
    assert.equal(await metric(d, 'bulkhead_pool_misses_total'), 0, 'no pool, no misses');
    await d.del(c.id);
  });

  it('--pool above --max-sessions is refused', { timeout: 30000 }, async () => {
    const r = await run(BIN, ['serve', '--pool', '3', '--max-sessions', '2', '--state-dir', '/nonexistent/bh'], { timeout: 10000 }).catch((e) => e);
    assert.notEqual(r.code, 0);
    assert.match(`${r.stderr}`, /--pool 3 is above --max-sessions 2/);
    assert.ok(!fs.existsSync('/nonexistent/bh'));
  });

  it('stops cleanly and leaves nothing behind', { timeout: 180000 }, () => env.finish());
});
