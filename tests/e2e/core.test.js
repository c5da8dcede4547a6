// core.test.js — the vertical slice: a real Chromium in an OCI sandbox loads a
// page from the test world; the API and the CLI create, list, get, screenshot
// and delete it; nothing is left behind; SIGTERM ends live sessions with
// reason "shutdown" and a restart on the same state keeps the token and the
// ended rows.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { startDaemon } from './lib/daemon.js';
import { findLeaks, sessionLeftovers, cgroupDirOf } from './lib/leaks.js';
import { checkSession, checkError } from './lib/check.js';
import { pngInfo, decodePng } from './lib/png.js';
import { run, waitFor } from './lib/sh.js';

const T = { timeout: 120000 };

describe('core: sessions through the API and the CLI', () => {
  const env = suiteEnv();
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 240000 });

  // The two sessions that several tests look at, each made by the first test
  // that asks for it, so that every test also passes alone
  // (--test-name-pattern): s1 the default session on the test page, s2 an
  // 800x600 one on a solid color page (deleted by the DELETE test, or by
  // endSession2() for the tests that come after it).
  const once = (fn) => { let p = null; return () => (p ||= fn()); };
  let s1 = null;
  let s2 = null;
  const session1 = once(async () => (s1 = await env.d.create({ url: env.url('/?from=core') })));
  const session2 = once(async () => (s2 = await env.d.create({ url: env.url('/color?c=00c020'), viewport: { width: 800, height: 600 }, idleTimeout: 120, ttl: 600 })));
  const endSession2 = async () => {
    await session2();
    if ((await env.d.api('GET', `/api/v1/sessions/${s2.id}`)).json.status !== 'ended') await env.d.del(s2.id);
  };

  it('writes its token (mode 0600) and url into the state dir; /healthz needs no token', async () => {
    const { d } = env;
    const tokenFile = path.join(d.stateDir, 'token');
    const st = fs.statSync(tokenFile);
    assert.equal(st.mode & 0o777, 0o600, `mode of ${tokenFile} is ${(st.mode & 0o777).toString(8)}`);
    assert.ok(d.token.length >= 16, `token is too short to be secret: ${d.token.length} chars`);
    const url = fs.readFileSync(path.join(d.stateDir, 'url'), 'utf8').trim();
    assert.ok(url === d.base || url === `${d.base}/`, `url file says ${JSON.stringify(url)}, daemon listens on ${d.base}`);
    const r = await d.api('GET', '/healthz', undefined, { token: null });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ok' });
    assert.ok(fs.existsSync(path.join(d.stateDir, 'bulkhead.db')), 'no bulkhead.db in the state dir');
  });

  it('/readyz: 200 with every check ok; 503 naming the problem while the sessions\' bridge is down', async () => {
    const { d } = env;
    let r = await d.api('GET', '/readyz', undefined, { token: null });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { status: 'ready', checks: { store: 'ok', runtime: 'ok', network: 'ok', accepting: 'ok' } });
    await run('ip', ['link', 'set', d.bridge, 'down']); // the test bridge, this daemon's
    try {
      r = await d.api('GET', '/readyz', undefined, { token: null });
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.status, 'not_ready');
      assert.match(r.json.checks.network, /bridge bht0 is down/);
      assert.equal(r.json.checks.store, 'ok');
    } finally {
      await run('ip', ['link', 'set', d.bridge, 'up']);
    }
    r = await d.api('GET', '/readyz', undefined, { token: null });
    assert.equal(r.status, 200, r.text);
  });

  it('creates a session that has loaded the page from the test world', T, async () => {
    const { d } = env;
    await env.world.clearRequests();
    const url = env.url('/?from=core');
    const t0 = Date.now();
    await session1();
    const dt = Date.now() - t0;
    checkSession(s1, { status: 'ready', url, subnet: d.subnet });
    assert.equal(s1.page.title, 'bulkhead test page', `page.title in ${JSON.stringify(s1.page)}`);
    assert.equal(s1.page.url, url, 'page.url');
    // defaults from the contract
    assert.deepEqual(s1.viewport, { width: 1280, height: 720 }, 'default viewport');
    assert.equal(s1.idleTimeout, 300, 'default idleTimeout');
    assert.equal(s1.ttl, 1800, 'default ttl');
    assert.equal(s1.limits.memoryBytes, 1 << 30, 'default memory limit 1 GiB');
    assert.equal(s1.limits.pids, 512, 'default pids limit');
    // the page really came over the network, from Chromium
    const reqs = await env.world.requests();
    const hit = reqs.find((q) => q.url === '/?from=core');
    assert.ok(hit, `the test site never saw GET /?from=core (saw ${JSON.stringify(reqs.map((q) => q.url))})`);
    assert.match(hit.ua, /Chrome/, 'the request came from Chromium');
    process.stderr.write(`core: create→ready took ${dt} ms\n`);
  });

  it('the session owns a live container, netns, veth and cgroup as the contract names them', T, async () => {
    const { d } = env;
    await session1();
    const pid = s1.sandbox.pid;
    assert.ok(fs.existsSync(`/proc/${pid}`), `sandbox.pid ${pid} is not a running process`);
    const rt = s1.sandbox.runtime;
    const r = await run(rt, ['--root', path.join(d.runDir, rt), 'list', '-q']);
    assert.ok(r.stdout.split('\n').includes(`bh-${s1.id}`), `${rt} --root ${d.runDir}/${rt} list shows no bh-${s1.id}: ${r.stdout} ${r.stderr}`);
    const nsPath = `/run/netns/bh-${s1.id}`;
    assert.ok(fs.existsSync(nsPath), `no ${nsPath}`);
    const a = fs.statSync(nsPath);
    const b = fs.statSync(`/proc/${pid}/ns/net`);
    assert.ok(a.ino === b.ino && a.dev === b.dev, `the sandbox init is not in ${nsPath}`);
    const veth = `bhv${s1.id.slice(0, 12)}`;
    const l = await run('ip', ['link', 'show', 'dev', veth]);
    assert.equal(l.code, 0, `host veth ${veth} does not exist: ${l.stderr}`);
    assert.ok(fs.existsSync(path.join(d.stateDir, 'bundles', s1.id)), `no bundle dir ${d.stateDir}/bundles/${s1.id}`);
    const own = d.cgroups.find((c) => c.controllers.split(',').includes('memory'));
    const mem = cgroupDirOf(pid, 'memory');
    assert.equal(mem, path.join(own.dir, 'bulkhead', s1.id), 'memory cgroup of the sandbox is <daemon cgroup>/bulkhead/<id>');
  });

  it('screenshot is a PNG of the viewport size', T, async () => {
    await session1();
    const r = await env.d.api('GET', `/api/v1/sessions/${s1.id}/screenshot`);
    assert.equal(r.status, 200, `screenshot: ${r.status} ${r.text.slice(0, 300)}`);
    assert.match(r.contentType, /^image\/png/, 'content-type');
    const info = pngInfo(r.body);
    assert.deepEqual([info.width, info.height], [1280, 720], 'PNG size = default viewport');
  });

  it('a session with an 800x600 viewport: screenshot is 800x600 and shows the page', T, async () => {
    const url = env.url('/color?c=00c020');
    await session1();
    await session2();
    checkSession(s2, { status: 'ready', url, viewport: { width: 800, height: 600 }, idleTimeout: 120, ttl: 600, subnet: env.d.subnet });
    assert.equal(s2.page.title, 'color 00c020');
    assert.notEqual(s2.id, s1.id);
    assert.notEqual(s2.network.address, s1.network.address, 'two sessions share an address');
    const r = await env.d.api('GET', `/api/v1/sessions/${s2.id}/screenshot`);
    assert.equal(r.status, 200, `screenshot: ${r.status} ${r.text.slice(0, 300)}`);
    const img = decodePng(r.body);
    assert.deepEqual([img.width, img.height], [800, 600], 'PNG size = viewport');
    for (const [x, y] of [[5, 5], [400, 300], [795, 595]]) {
      const [cr, cg, cb] = img.at(x, y);
      assert.ok(Math.abs(cr - 0x00) < 8 && Math.abs(cg - 0xc0) < 8 && Math.abs(cb - 0x20) < 8,
        `pixel (${x},${y}) is rgb(${cr},${cg},${cb}), expected the page color rgb(0,192,32)`);
    }
  });

  it('lists (with ?status=ready) and gets the sessions', T, async () => {
    const { d } = env;
    await session1();
    await session2();
    const all = await d.list();
    const ids = all.map((s) => s.id);
    assert.ok(ids.includes(s1.id) && ids.includes(s2.id), `list ${JSON.stringify(ids)} lacks a session`);
    for (const s of all) checkSession(s);
    const ready = await d.list('?status=ready');
    assert.deepEqual(ready.map((s) => s.id).sort(), [s1.id, s2.id].sort(), '?status=ready');
    assert.ok(ready.every((s) => s.status === 'ready'));
    const ended = await d.list('?status=ended');
    assert.deepEqual(ended, [], '?status=ended before anything ended');
    const g = await d.api('GET', `/api/v1/sessions/${s1.id}`);
    assert.equal(g.status, 200);
    checkSession(g.json, { status: 'ready' });
    assert.equal(g.json.id, s1.id);
    assert.equal(g.json.sandbox.pid, s1.sandbox.pid);
  });

  it('ready means loaded: a page that answers after 1.5 s is loaded when create returns', T, async () => {
    const url = env.url('/slow?ms=1500');
    const t0 = Date.now();
    const s = await env.d.create({ url });
    try {
      assert.ok(Date.now() - t0 >= 1500, `create returned after ${Date.now() - t0} ms, before the page could load`);
      assert.equal(s.status, 'ready');
      assert.equal(s.page.title, 'slow page', 'page.title of the slow page');
    } finally {
      await env.d.del(s.id);
    }
  });

  it('page.title follows the page (a title set by script after load)', T, async () => {
    const s = await env.d.create({ url: env.url('/late-title?ms=300') });
    try {
      assert.ok(['before', 'after'].includes(s.page.title), `page.title ${JSON.stringify(s.page.title)}`);
      let seen;
      await waitFor(async () => {
        const g = await env.d.api('GET', `/api/v1/sessions/${s.id}`);
        seen = g.json && g.json.page && g.json.page.title;
        return seen === 'after';
      }, { timeout: 10000, interval: 250, what: 'page.title to become "after"' }).catch((e) => {
        throw new Error(`${e.message}; page.title is still ${JSON.stringify(seen)} (document.title was set to "after" 300 ms after load)`);
      });
    } finally {
      await env.d.del(s.id);
    }
  });

  it('DELETE → 204 with everything gone before the reply; GET shows ended/deleted; DELETE again → 409', T, async () => {
    const { d } = env;
    await session1();
    await session2();
    const r = await d.api('DELETE', `/api/v1/sessions/${s2.id}`);
    assert.equal(r.status, 204, `DELETE: ${r.status} ${r.text}`);
    assert.equal(r.body.length, 0, '204 has no body');
    const left = await sessionLeftovers(d, s2);
    assert.deepEqual(left, [], `right after DELETE returned, the session still has:\n  ${left.join('\n  ')}`);
    const g = await d.api('GET', `/api/v1/sessions/${s2.id}`);
    assert.equal(g.status, 200, 'GET of an ended session still answers');
    checkSession(g.json, { status: 'ended' });
    assert.equal(g.json.endReason, 'deleted');
    checkError(await d.api('DELETE', `/api/v1/sessions/${s2.id}`), 409, 'not_running', 'second DELETE');
    checkError(await d.api('GET', `/api/v1/sessions/${s2.id}/screenshot`), 409, null, 'screenshot of an ended session');
    const ready = await d.list('?status=ready');
    assert.deepEqual(ready.map((s) => s.id), [s1.id], 'only s1 is ready now');
    const ended = await d.list('?status=ended');
    assert.ok(ended.some((s) => s.id === s2.id), '?status=ended lists the deleted session');
  });

  it('the edges of the valid ranges are accepted: 2048-char URL, 3840x2160 and 200x200, timeouts of 86400 s', T, async () => {
    const base = env.url('/title?t=edge&q=');
    const url = base + 'a'.repeat(2048 - base.length);
    assert.equal(url.length, 2048);
    for (const [w, h] of [[3840, 2160], [200, 200]]) {
      const s = await env.d.create({ url, viewport: { width: w, height: h }, idleTimeout: 86400, ttl: 86400 });
      try {
        checkSession(s, { status: 'ready', url, viewport: { width: w, height: h }, idleTimeout: 86400, ttl: 86400 });
        assert.equal(s.page.title, 'edge');
        const r = await env.d.api('GET', `/api/v1/sessions/${s.id}/screenshot`);
        assert.equal(r.status, 200, `screenshot: ${r.status} ${r.text.slice(0, 200)}`);
        const info = pngInfo(r.body);
        assert.deepEqual([info.width, info.height], [w, h], 'PNG size = viewport');
      } finally {
        await env.d.del(s.id);
      }
    }
  });

  it('a page that never finishes loading: ready after the page load timeout (10 s) with page.error; deleted, nothing left behind', { timeout: 200000 }, async () => {
    const { d } = env;
    await session1();
    if (s2) await endSession2(); // (if the DELETE test did not run)
    const url = env.url('/slow?ms=120000');
    const r = await d.api('POST', '/api/v1/sessions', { url }, { timeout: 180000 });
    assert.equal(r.status, 201, `create of a page that answers after 120 s: ${r.status} ${r.text.slice(0, 300)}`);
    const s = r.json;
    checkSession(s, { status: 'ready', url });
    assert.equal(s.page.error, 'the page did not finish loading within 10000 ms');
    const ev = (await d.api('GET', `/api/v1/sessions/${s.id}/events`)).json.events;
    assert.ok(ev.some((e) => e.type === 'page_load_failed' && e.detail.url === url), JSON.stringify(ev));
    await d.del(s.id);
    assert.deepEqual(await sessionLeftovers(d, s), [], `the session ${s.id} left resources`);
    const ready = await d.list('?status=ready');
    assert.deepEqual(ready.map((x) => x.id), [s1.id], 'only s1 is ready');
  });

  // ---- CLI ------------------------------------------------------------------
  const cli = (args, o = {}) => run(env.d.bin, args, { timeout: 120000, ...o });
  const cliEnv = () => {
    const e = { ...process.env };
    delete e.BULKHEAD_URL;
    delete e.BULKHEAD_TOKEN;
    return e;
  };
  const ok = (r, what) => {
    assert.equal(r.code, 0, `${what}: exit ${r.code ?? r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  const parse = (r, what) => {
    try { return JSON.parse(r.stdout); } catch (e) { assert.fail(`${what}: stdout is not JSON (${e.message}): ${r.stdout.slice(0, 500)}`); }
    return null;
  };
  const listOf = (j) => (Array.isArray(j) ? j : j && j.sessions);

  it('CLI with --state-dir: create, ls, get, screenshot, rm (plain and --json)', T, async () => {
    const { d } = env;
    const sd = ['--state-dir', d.stateDir];
    const e = cliEnv();
    const url = env.url('/?from=cli');
    const c = ok(await cli(['create', ...sd, '--url', url, '--width', '640', '--height', '480'], { env: e }), 'create');
    const id = c.stdout.trim();
    assert.match(id, /^[A-Za-z0-9_-]{4,64}$/, `create printed ${JSON.stringify(c.stdout)}, expected the id`);
    const g = await d.api('GET', `/api/v1/sessions/${id}`);
    assert.equal(g.status, 200, `the id the CLI printed is unknown to the API: ${g.text}`);
    checkSession(g.json, { status: 'ready', url, viewport: { width: 640, height: 480 } });
    assert.equal(g.json.page.title, 'bulkhead test page');

    const ls = ok(await cli(['ls', ...sd], { env: e }), 'ls');
    assert.ok(ls.stdout.includes(id), `ls does not show ${id}:\n${ls.stdout}`);
    const lsj = listOf(parse(ok(await cli(['ls', ...sd, '--json'], { env: e }), 'ls --json'), 'ls --json'));
    assert.ok(Array.isArray(lsj) && lsj.some((s) => s.id === id), 'ls --json lists the session');

    const get = ok(await cli(['get', id, ...sd], { env: e }), 'get');
    assert.ok(get.stdout.includes(id), `get does not show the id:\n${get.stdout}`);
    const gj = parse(ok(await cli(['get', id, ...sd, '--json'], { env: e }), 'get --json'), 'get --json');
    assert.equal(gj.id, id);
    assert.equal(gj.status, 'ready');

    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bhtest-cli-')), 'page.png');
    ok(await cli(['screenshot', id, ...sd, '-o', out], { env: e }), 'screenshot');
    const info = pngInfo(fs.readFileSync(out));
    assert.deepEqual([info.width, info.height], [640, 480], 'CLI screenshot size');
    fs.rmSync(path.dirname(out), { recursive: true, force: true });

    ok(await cli(['rm', id, ...sd], { env: e }), 'rm');
    const after = await d.api('GET', `/api/v1/sessions/${id}`);
    assert.equal(after.json.status, 'ended');
    assert.equal(after.json.endReason, 'deleted');
    assert.deepEqual(await sessionLeftovers(d, g.json), [], 'CLI rm left resources');
    const again = await cli(['rm', id, ...sd], { env: e });
    assert.notEqual(again.code, 0, 'rm of an ended session must fail');
    assert.ok(again.stderr.trim().length > 0, 'rm of an ended session says why on stderr');
    const unknown = await cli(['get', 'nosuchsession', ...sd], { env: e });
    assert.notEqual(unknown.code, 0, 'get of an unknown id must fail');
    assert.ok(unknown.stderr.trim().length > 0, 'get of an unknown id says why on stderr');
  });

  it('CLI with create --json, BULKHEAD_URL/BULKHEAD_TOKEN, and --server/--token', T, async () => {
    const { d } = env;
    const e = { ...cliEnv(), BULKHEAD_URL: d.base, BULKHEAD_TOKEN: d.token };
    const cj = parse(ok(await cli(['create', '--url', env.url('/title?t=cli%20json'), '--json'], { env: e }), 'create --json (env)'), 'create --json');
    checkSession(cj, { status: 'ready' });
    assert.equal(cj.page.title, 'cli json');
    const lj = listOf(parse(ok(await cli(['ls', '--json', '--server', d.base, '--token', d.token], { env: cliEnv() }), 'ls --server --token'), 'ls --json'));
    assert.ok(lj.some((s) => s.id === cj.id), 'ls with --server/--token lists the session');
    const bad = await cli(['ls', '--server', d.base, '--token', 'wrong-token'], { env: cliEnv() });
    assert.notEqual(bad.code, 0, 'a wrong token must make the CLI fail');
    ok(await cli(['rm', cj.id], { env: e }), 'rm (env)');
    assert.deepEqual(await sessionLeftovers(d, cj), []);
  });

  // ---- shutdown and restart ---------------------------------------------------
  it('SIGTERM ends live sessions (reason shutdown), exits 0, leaves nothing; a restart keeps token and rows', { timeout: 180000 }, async () => {
    const d = env.d;
    await session1();
    await endSession2(); // (if the DELETE test did not run)
    const live = await d.list('?status=ready');
    assert.deepEqual(live.map((s) => s.id), [s1.id], 'exactly s1 is live before shutdown');
    await d.stop();
    const leaks = await findLeaks(d);
    assert.deepEqual(leaks, [], `after SIGTERM with a live session:\n  ${leaks.join('\n  ')}`);
    const d2 = await startDaemon({ stateDir: d.stateDir, runDir: d.runDir, baseline: d.baseline });
    env.d = d2;
    assert.equal(d2.token, d.token, 'the token changed across a restart (it must be kept in the state dir)');
    const g1 = await d2.api('GET', `/api/v1/sessions/${s1.id}`);
    assert.equal(g1.status, 200, `GET ${s1.id} after restart: ${g1.text}`);
    assert.equal(g1.json.status, 'ended');
    assert.equal(g1.json.endReason, 'shutdown');
    const g2 = await d2.api('GET', `/api/v1/sessions/${s2.id}`);
    assert.equal(g2.json.status, 'ended');
    assert.equal(g2.json.endReason, 'deleted', 'a deleted session stays "deleted" across a restart');
    assert.deepEqual(await d2.list('?status=ready'), []);
    assert.deepEqual(await findLeaks(d2), []);
  });

  it('stops cleanly and leaves nothing behind', { timeout: 180000 }, () => env.finish());
});
