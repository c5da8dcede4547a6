// network.test.js — network isolation and egress policy (issue 5), from inside
// real sessions driven through their CDP endpoint (Playwright connectOverCDP):
// the internet site loads; the private host, the fake cloud metadata server,
// the daemon's API and every host address, and another session are
// unreachable — directly, through an HTTP redirect from a public site, by a
// name that resolves to them (also after a DNS rebinding) and by decimal, hex,
// octal and short IP spellings; `none` has no connectivity; an allow-list
// admits exactly what it lists (port too); the operator's --egress-allow and
// --egress-deny (deny wins); a per-session proxy; a user token refused any
// non-public allow-list entry or proxy (403 forbidden_network, nothing made)
// unless --egress-allow opens it, while the admin may. Each "unreachable" has a
// control that shows the same URL does load when a policy allows it (so the
// test can fail), and every case ends by checking that nothing of its
// sessions is left (lib/leaks.js) and that the nft tables name none of them.
//
// The world: world.js's "internet" (198.51.100.1) plus lib/networld.js's
// namespaces (private 192.168.213.1 with the resolver on 192.168.213.53,
// metadata 169.254.169.254, "evil" public 203.0.113.65). Routes into them are
// checked before any session is created; no packet goes anywhere else.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { chromium } from 'playwright-core';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { startDaemon, removeDirs } from './lib/daemon.js';
import { sessionLeftovers, findLeaks } from './lib/leaks.js';
import { checkError } from './lib/check.js';
import { run, waitFor } from './lib/sh.js';
import { HOST_ADDR as WORLD_HOST } from './lib/world.js';
import {
  startNetworld, stopNetworld, assertRouted, Server,
  PRIV, PRIV_DNS, PRIV_HOST, META, EVIL, EVIL_HOST, PUBLIC,
} from './lib/networld.js';

const noLaunch = () => { throw new Error('network.test.js must never launch a browser, only connect'); };
chromium.launch = noLaunch;
chromium.launchPersistentContext = noLaunch;
chromium.launchServer = noLaunch;

const T = { timeout: 180000 };
const BRIDGE_ADDR = '10.215.0.1';
const SUBNET = '10.215.0.0/16';
// the second daemon (operator lists) on a bridge and subnet of its own
const BRIDGE2 = 'bhtn1';
const SUBNET2 = '10.217.0.0/16';
const BLOCK_MS = 6000; // a navigation that should not get anywhere has this long
const SECRET = /PRIVATE-SECRET|METADATA-SECRET|CANARY-SECRET/;

const env = suiteEnv({ args: ['--dns', PRIV_DNS] });
let nw = null;
let canary = null; // a host service on every host address (0.0.0.0)
let canaryPort = 0;

before(async () => {
  await env.start();
  nw = await startNetworld({ subnets: [SUBNET, SUBNET2], bridgeAddr: BRIDGE_ADDR });
  await assertRouted({ fromAddr: '10.215.0.2', iif: 'bht0' });
  canary = new Server('canary', null, ['--port', '0']);
  canaryPort = (await waitFor(() => canary.lines.find((l) => l.kind === 'listening'), { what: 'host canary' })).port;
}, { timeout: LOCK_WAIT });

after(async () => {
  try {
    if (canary) await canary.stop();
    await env.finish();
  } finally {
    await stopNetworld();
  }
});

// ------------------------------------------------------------------ helpers

const rnd = () => crypto.randomBytes(4).toString('hex');

// The other spellings of an IPv4 address that URL parsers (WHATWG, so
// Chromium's) accept: decimal, hex, octal, a.b.N. Each is checked to parse
// back to `ip` before any test uses it, so no spelling can send a packet
// anywhere else.
function spellings(ip) {
  const o = ip.split('.').map(Number);
  const n = ((o[0] * 256 + o[1]) * 256 + o[2]) * 256 + o[3];
  const all = [String(n), `0x${n.toString(16)}`, o.map((x) => `0${x.toString(8)}`).join('.'), `${o[0]}.${o[1]}.${o[2] * 256 + o[3]}`];
  for (const sp of all) assert.equal(new URL(`http://${sp}/`).hostname, ip, `spelling ${sp} of ${ip}`);
  return all;
}

async function create(network, d = env.d, o = {}) {
  const s = await d.create(network === undefined ? {} : { network }, o);
  assert.ok(s.network && typeof s.network === 'object', `session.network in ${JSON.stringify(s)}`);
  assert.equal(typeof s.network.address, 'string', `session.network.address in ${JSON.stringify(s.network)}`);
  return s;
}

async function browse(s, fn, d = env.d) {
  const browser = await chromium.connectOverCDP(s.urls.cdp, { timeout: 30000 });
  try {
    return await fn(browser.contexts()[0], browser);
  } finally {
    await browser.close().catch(() => {});
  }
}

// Navigate a new page to url: {ok, status, title, text, error}.
async function load(ctx, url, timeout = BLOCK_MS) {
  const page = await ctx.newPage();
  const out = { url, ok: false, status: 0, title: '', text: '', error: '' };
  try {
    const r = await page.goto(url, { timeout, waitUntil: 'domcontentloaded' });
    out.ok = true;
    out.status = r ? r.status() : 0;
  } catch (e) {
    out.error = e.message.split('\n')[0];
  }
  // (while a navigation is pending, evaluate() waits for it: never long)
  const within = (p, ms = 2000) => Promise.race([p, new Promise((r) => setTimeout(() => r(''), ms))]).catch(() => '');
  out.title = await within(page.title());
  out.text = await within(page.evaluate(() => (document.body ? document.body.innerText : '')));
  await page.close().catch(() => {});
  return out;
}

// Every url fails to load and shows no secret (all at once: each waits BLOCK_MS).
async function assertBlocked(ctx, urls, what) {
  const rs = await Promise.all(urls.map((u) => load(ctx, u)));
  for (const r of rs) {
    assert.ok(!SECRET.test(`${r.title}\n${r.text}`), `${what}: ${r.url} showed a secret: ${r.title} ${r.text.slice(0, 200)}`);
    assert.equal(r.ok, false, `${what}: ${r.url} loaded (status ${r.status}, title ${JSON.stringify(r.title)})`);
  }
  return rs;
}

async function assertLoads(ctx, url, title, what) {
  const r = await load(ctx, url, 30000);
  assert.ok(r.ok, `${what}: ${url} did not load: ${r.error}`);
  assert.match(r.title, title, `${what}: ${url} has title ${JSON.stringify(r.title)}`);
  return r;
}

async function nftTables(table = 'bulkhead_bht0') {
  const a = await run('nft', ['list', 'table', 'inet', table]);
  const b = await run('nft', ['list', 'table', 'bridge', table]);
  return `${a.stdout}\n${b.stdout}`;
}

// Delete the sessions; nothing of them may be left: no container, netns,
// veth, cgroup, mount, and no rule, element or chain in the nft tables.
async function end(sessions, d = env.d, table = 'bulkhead_bht0') {
  for (const s of sessions) await d.del(s.id);
  const rules = await nftTables(table);
  for (const s of sessions) {
    assert.deepEqual(await sessionLeftovers(d, s), [], `left of session ${s.id}`);
    assert.ok(!rules.includes(s.id), `nft still has a chain of ${s.id}:\n${rules}`);
    assert.ok(!rules.includes(`bhv${s.id.slice(0, 12)}`), `nft still has the port of ${s.id}:\n${rules}`);
    const a = s.network.address.replace(/\./g, '\\.');
    assert.ok(!new RegExp(`[ {,]${a}[ ,}\\n]`).test(rules), `nft still names ${s.network.address} (${s.id}):\n${rules}`);
  }
}

// A user token (role user) made by the admin of daemon d.
async function userToken(d, name) {
  const r = await d.api('POST', '/api/v1/tokens', { name: `${name}-${rnd()}`, role: 'user' });
  assert.equal(r.status, 201, `POST /api/v1/tokens: ${r.text}`);
  return r.json.token;
}

// ------------------------------------------------------------------ tests

describe('egress policy', () => {
  it('internet (the default): the internet site loads, by address and by a name from the operator\'s resolver', T, async () => {
    const s = await create();
    assert.equal(s.network.policy, 'internet', `default policy in ${JSON.stringify(s.network)}`);
    try {
      await browse(s, async (ctx) => {
        await assertLoads(ctx, env.url('/'), /bulkhead test page/, 'the site by address');
        await assertLoads(ctx, 'http://public.test:8080/', /bulkhead test page/, 'the site by name');
      });
      assert.ok(nw.dns().some((l) => l.name === 'public.test' && l.answer.includes(PUBLIC)), 'the resolver was asked for public.test');
    } finally {
      await end([s]);
    }
  });

  it('internet: the private host, the metadata server and the resolver\'s other ports are unreachable — directly, by redirect, by name, by IP spellings', T, async () => {
    const s = await create({ policy: 'internet' });
    nw.priv.lines.length = 0;
    nw.meta.lines.length = 0;
    nw.evil.lines.length = 0;
    try {
      const redirect = (to) => `http://${EVIL}:8080/redirect?to=${encodeURIComponent(to)}`;
      await browse(s, async (ctx) => {
        await assertBlocked(ctx, [
          `http://${PRIV}:8080/secret`,
          ...spellings(PRIV).map((sp) => `http://${sp}:8080/secret`), // 3232290049, 0xc0a8d501, ...
          'http://private.test:8080/secret', // a name that resolves to it
          redirect(`http://${PRIV}:8080/secret`),
          `http://evil.test:8080/redirect?to=${encodeURIComponent('http://private.test:8080/secret')}`,
          `http://${PRIV_DNS}:8080/`, // the resolver's address: port 53 only
        ], 'private');
        await assertBlocked(ctx, [
          `http://${META}/latest/meta-data/`,
          ...spellings(META).map((sp) => `http://${sp}/latest/meta-data/`), // 2852039166, ...
          'http://meta.test/latest/meta-data/',
          redirect(`http://${META}/latest/meta-data/`),
        ], 'metadata');
      });
      assert.deepEqual(nw.priv.requests(), [], 'requests reached the private host');
      assert.deepEqual(nw.meta.requests(), [], 'requests reached the metadata server');
      // the public hop of each redirect did happen, and the names did resolve
      assert.ok(nw.evil.requests((l) => l.url.startsWith('/redirect')).length >= 3, 'the redirects were served');
      const dns = nw.dns();
      assert.ok(dns.some((l) => l.name === 'private.test' && l.answer.includes(PRIV)), 'private.test was resolved');
      assert.ok(dns.some((l) => l.name === 'meta.test' && l.answer.includes(META)), 'meta.test was resolved');
    } finally {
      await end([s]);
    }
  });

  it('the daemon\'s API and every host address are unreachable, by address, name and redirect', T, async () => {
    const port = canaryPort;
    canary.lines.length = 0;
    const s = await create();
    try {
      const r = await fetch(`http://127.0.0.1:${port}/from-the-host`); // the control
      assert.match(await r.text(), /CANARY-SECRET/);
      await browse(s, async (ctx) => {
        await assertBlocked(ctx, [
          `http://${BRIDGE_ADDR}:${port}/`,
          `http://${BRIDGE_ADDR}:${env.d.port}/healthz`, // the daemon's port on the bridge address
          `http://${WORLD_HOST}:${port}/`, // the host's end of the internet link
          `http://${PRIV_HOST}:${port}/`,
          `http://${EVIL_HOST}:${port}/`,
          `http://host.test:${port}/`,
          `http://${EVIL}:8080/redirect?to=${encodeURIComponent(`http://${BRIDGE_ADDR}:${port}/`)}`,
          ...spellings(BRIDGE_ADDR).map((sp) => `http://${sp}:${port}/`),
        ], 'host');
        // 127.0.0.1 is the session's own loopback: nothing of the daemon there
        const lo = await load(ctx, `http://127.0.0.1:${env.d.port}/healthz`);
        assert.equal(lo.ok, false, `the daemon answered on the session's loopback: ${lo.title}`);
      });
      assert.deepEqual(canary.requests((l) => !l.url.startsWith('/from-the-host')), [], 'requests reached the host canary');
    } finally {
      await end([s]);
    }
  });

  it('another session is unreachable, directly, by redirect and by IP spelling; the host still reaches it', T, async () => {
    const a = await create();
    const b = await create();
    const inB = new Server('canary', `bh-${b.id}`, ['--port', '8090']);
    try {
      await waitFor(() => inB.lines.find((l) => l.kind === 'listening'), { what: 'canary in session B' });
      const bUrl = `http://${b.network.address}:8090/`;
      const r = await fetch(bUrl, { signal: AbortSignal.timeout(5000) }); // the control: the host reaches B
      assert.match(await r.text(), /CANARY-SECRET/);
      await browse(a, async (ctx) => {
        await assertBlocked(ctx, [
          bUrl,
          ...spellings(b.network.address).map((sp) => `http://${sp}:8090/`),
          `http://${EVIL}:8080/redirect?to=${encodeURIComponent(bUrl)}`,
        ], 'session B');
      });
      assert.deepEqual(inB.requests((l) => !l.remote.endsWith(BRIDGE_ADDR)), [], 'requests reached session B from elsewhere than the host');
    } finally {
      await inB.stop();
      await end([a, b]);
    }
  });

  it('DNS rebinding: a name that turns private is blocked as soon as it does', T, async () => {
    const s = await create();
    nw.priv.lines.length = 0;
    const name = `rebind-${rnd()}.test`;
    try {
      await browse(s, async (ctx, browser) => {
        await assertLoads(ctx, `http://${name}:8080/`, /evil public page/, 'the name while it is public');
        nw.flip(name);
        // Chromium keeps an answer for a while, TTL 0 or not; a new browser
        // context resolves anew (the check on packets does not care which).
        const fresh = await browser.newContext();
        await assertBlocked(fresh, [`http://${name}:8080/secret`], 'the name once it is private');
      });
      assert.ok(nw.dns().some((l) => l.name === name && l.answer.includes(PRIV)), `the browser asked again and got ${PRIV} for ${name}`);
      assert.deepEqual(nw.priv.requests(), [], 'requests reached the private host');
    } finally {
      await end([s]);
    }
  });

  it('none: no connectivity at all, not even the resolver', T, async () => {
    const s = await create({ policy: 'none' });
    assert.equal(s.network.policy, 'none');
    const tag = `none-${rnd()}`;
    try {
      await browse(s, async (ctx) => {
        await assertBlocked(ctx, [env.url(`/title?t=${tag}`), `http://${EVIL}:8080/${tag}`, `http://public.test:8080/title?t=${tag}`], 'none');
      });
      const seen = (await env.world.requests()).filter((x) => x.url.includes(tag));
      assert.deepEqual(seen, [], 'the internet site saw the none session');
      assert.deepEqual(nw.evil.requests((l) => l.url.includes(tag)), []);
    } finally {
      await end([s]);
    }
  });

  it('allowlist: exactly what it lists, port too; the resolver still works', T, async () => {
    const s = await create({ policy: 'allowlist', allow: [{ cidr: '203.0.113.64/26', ports: [8080] }] });
    assert.equal(s.network.policy, 'allowlist');
    try {
      await browse(s, async (ctx) => {
        await assertLoads(ctx, `http://${EVIL}:8080/`, /evil public page 8080/, 'listed address and port');
        await assertLoads(ctx, 'http://evil.test:8080/', /evil public page 8080/, 'listed, by name');
        await assertBlocked(ctx, [`http://${EVIL}:8081/`, env.url('/'), `http://${PRIV}:8080/secret`, `http://${META}/`], 'not listed');
      });
    } finally {
      await end([s]);
    }
  });

  it('control: an allow-list of the private network loads the same URLs (IP, spellings, name, redirect, rebinding) — but never metadata or the host', T, async () => {
    const s = await create({ policy: 'allowlist', allow: [{ cidr: '192.168.213.0/24' }, { cidr: '203.0.113.64/26' }, { cidr: '169.254.169.254/32' }] });
    const name = `rebind-${rnd()}.test`;
    canary.lines.length = 0;
    try {
      await browse(s, async (ctx, browser) => {
        for (const u of [`http://${PRIV}:8080/secret`, ...spellings(PRIV).map((sp) => `http://${sp}:8080/secret`),
          'http://private.test:8080/secret', `http://${EVIL}:8080/redirect?to=${encodeURIComponent(`http://${PRIV}:8080/secret`)}`]) {
          await assertLoads(ctx, u, /PRIVATE-SECRET/, 'allowed private');
        }
        await assertLoads(ctx, `http://${name}:8080/`, /evil public page/, 'rebinding name, public');
        nw.flip(name);
        await assertLoads(await browser.newContext(), `http://${name}:8080/secret`, /PRIVATE-SECRET/, 'rebinding name, private and allowed');
        // a session's own list never opens link-local (metadata) or the host
        // (192.168.213.254 is in the list, but it is the host's)
        await assertBlocked(ctx, [`http://${META}/`, `http://${PRIV_HOST}:${canaryPort}/`], 'never');
      });
      assert.deepEqual(nw.meta.requests(), [], 'requests reached the metadata server');
      assert.deepEqual(canary.requests(), [], 'requests reached the host canary');
    } finally {
      await end([s]);
    }
  });

  it('a per-session proxy (on a private address) is the way out', T, async () => {
    nw.priv.lines.length = 0;
    nw.evil.lines.length = 0;
    const s = await create({ proxy: `http://${PRIV}:3128` });
    try {
      const tag = `proxied-${rnd()}`;
      await browse(s, async (ctx) => {
        await assertLoads(ctx, `http://${EVIL}:8080/${tag}`, /evil public page/, 'through the proxy');
      });
      assert.ok(nw.priv.lines.some((l) => l.role === 'proxy' && l.url.includes(tag)), 'the proxy carried the request');
      const at = nw.evil.requests((l) => l.url.includes(tag));
      assert.ok(at.length >= 1 && at.every((l) => l.remote.endsWith(PRIV)), `the evil host saw the proxy, not the session: ${JSON.stringify(at)}`);
    } finally {
      await end([s]);
    }
  });

  it('a user token may not open non-public ranges nor name a proxy on one: 403 forbidden_network, nothing made; the admin may, and a user may open public ranges', T, async () => {
    const user = await userToken(env.d, 'netuser');
    const before = new Set((await env.d.list()).map((x) => x.id));
    nw.priv.lines.length = 0;
    for (const [network, re] of [
      [{ policy: 'allowlist', allow: [{ cidr: '0.0.0.0/0' }] }, /network\.allow\[0\]: 0\.0\.0\.0\/0 overlaps private range 10\.0\.0\.0\/8/],
      [{ policy: 'allowlist', allow: [{ cidr: '10.0.0.0/8' }] }, /10\.0\.0\.0\/8 overlaps private range 10\.0\.0\.0\/8/],
      [{ policy: 'allowlist', allow: [{ cidr: '100.100.100.200/32' }] }, /100\.100\.100\.200\/32 overlaps private range 100\.64\.0\.0\/10/],
      [{ policy: 'allowlist', allow: [{ cidr: '192.168.213.0/24', ports: [8080] }] }, /192\.168\.213\.0\/24 overlaps private range 192\.168\.0\.0\/16/],
      [{ policy: 'allowlist', allow: [{ cidr: '203.0.113.64/26' }, { cidr: `${META}/32` }] }, /network\.allow\[1\]: 169\.254\.169\.254\/32 overlaps link-local range 169\.254\.0\.0\/16/],
      [{ policy: 'allowlist', allow: [{ cidr: 'fd00::/8' }] }, /fd00::\/8 overlaps private range fc00::\/7/],
      [{ policy: 'allowlist', allow: [{ cidr: '::/0' }] }, /::\/0 overlaps private range/],
      [{ proxy: `http://${PRIV}:3128` }, /network\.proxy: 192\.168\.213\.1\/32 overlaps private range 192\.168\.0\.0\/16/],
      [{ proxy: 'http://10.78.0.10:3128' }, /network\.proxy: 10\.78\.0\.10\/32 overlaps private range 10\.0\.0\.0\/8/],
      [{ policy: 'allowlist', allow: [{ cidr: '203.0.113.64/26' }], proxy: 'socks5://[fd00::5]:1080' }, /network\.proxy: fd00::5\/128 overlaps private range fc00::\/7/],
    ]) {
      const what = `user create ${JSON.stringify(network)}`;
      const r = await env.d.api('POST', '/api/v1/sessions', { network }, { token: user });
      checkError(r, 403, 'forbidden_network', what);
      assert.match(r.json.error.message, re, what);
    }
    // nothing was made: the user has no session, the list has no new row,
    // nothing of a sandbox exists, and no packet reached the private host
    const mine = await env.d.api('GET', '/api/v1/sessions', undefined, { token: user });
    assert.equal(mine.status, 200, mine.text);
    assert.deepEqual(mine.json.sessions, [], 'sessions of the user after the refused creates');
    assert.deepEqual((await env.d.list()).filter((x) => !before.has(x.id)), [], 'new session rows');
    assert.deepEqual(await findLeaks(env.d), []);
    assert.deepEqual(nw.priv.requests(), [], 'requests reached the private host');

    // controls: the admin opens the private network (and its page loads
    // there: what a user's session would have loaded), and the user's
    // allow-list of public ranges is accepted and works
    const admin = await create({ policy: 'allowlist', allow: [{ cidr: '192.168.213.0/24', ports: [8080] }] });
    const pub = await create({ policy: 'allowlist', allow: [{ cidr: '203.0.113.64/26', ports: [8080] }, { cidr: '2001:db8::/32' }] },
      env.d, { token: user });
    try {
      await browse(admin, async (ctx) => {
        await assertLoads(ctx, `http://${PRIV}:8080/secret`, /PRIVATE-SECRET/, 'the admin\'s private allow-list');
      });
      await browse(pub, async (ctx) => {
        await assertLoads(ctx, `http://${EVIL}:8080/`, /evil public page 8080/, 'the user\'s public allow-list');
        await assertBlocked(ctx, [`http://${PRIV}:8080/secret`], 'private, from the user\'s session');
      });
      const listed = await env.d.api('GET', '/api/v1/sessions', undefined, { token: user });
      assert.deepEqual(listed.json.sessions.map((x) => x.id), [pub.id], 'the user\'s sessions');
    } finally {
      await end([admin, pub]);
    }
  });

  it('bad allow-lists are refused with 400 and nothing is left', T, async () => {
    for (const [allow, re] of [
      [[{ cidr: '3232290049' }], /3232290049/],
      [[{ cidr: '10.0.0.1/8' }], /10\.0\.0\.0\/8/],
      [[{ cidr: '10.0.0.0/33' }], /33/],
      [[{ cidr: '10.0.0.0/8', ports: [0] }], /port/],
      [[{ cidr: 'example.com' }], /example\.com/],
    ]) {
      const r = await env.d.api('POST', '/api/v1/sessions', { network: { policy: 'allowlist', allow } });
      checkError(r, 400, null, JSON.stringify(allow));
      assert.match(r.json.error.message, re, `message for ${JSON.stringify(allow)}`);
    }
    assert.deepEqual(await findLeaks(env.d), []);
  });
});

describe('operator lists (a second daemon: --egress-allow, --egress-deny)', () => {
  let d2 = null;
  before(async () => {
    d2 = await startDaemon({
      args: ['--bridge', BRIDGE2, '--subnet', SUBNET2, '--dns', PRIV_DNS,
        '--egress-allow', `${META}/32`, '--egress-allow', '203.0.113.64/26', '--egress-allow', '10.78.0.0/16',
        '--egress-deny', '203.0.113.64/28', '--egress-deny', '192.168.213.0/24'],
    });
    await assertRouted({ fromAddr: '10.217.0.2', iif: BRIDGE2 });
  }, { timeout: 60000 });
  after(async () => {
    if (!d2) return;
    if (!d2.exited) await d2.list().catch(() => {});
    await d2.stop();
    const leaks = await findLeaks(d2);
    const left = (await run('ip', ['link', 'show', 'dev', BRIDGE2])).code === 0;
    const tables = (await run('nft', ['list', 'tables'])).stdout.split('\n').filter((l) => l.includes(BRIDGE2));
    if (!leaks.length) removeDirs(d2);
    assert.deepEqual(leaks, [], 'the second daemon leaked');
    assert.equal(left, false, `bridge ${BRIDGE2} left after the daemon stopped`);
    assert.deepEqual(tables, [], `nft tables left after the daemon stopped`);
  });

  it('--egress-allow opens metadata for internet and allow-list sessions, not for none; --egress-deny wins over allow and over internet', T, async () => {
    nw.meta.lines.length = 0;
    nw.evil.lines.length = 0;
    const inet = await create(undefined, d2);
    const list = await create({ policy: 'allowlist', allow: [{ cidr: `${PUBLIC}/32`, ports: [8080] }] }, d2);
    const none = await create({ policy: 'none' }, d2);
    try {
      await browse(inet, async (ctx) => {
        await assertLoads(ctx, `http://${META}/latest/meta-data/`, /METADATA-SECRET/, 'always allowed');
        await assertLoads(ctx, env.url('/'), /bulkhead test page/, 'internet');
        await assertBlocked(ctx, [`http://${EVIL}:8080/`, `http://${PRIV}:8080/secret`, 'http://private.test:8080/secret'], 'always denied');
      }, d2);
      await browse(list, async (ctx) => {
        await assertLoads(ctx, 'http://meta.test/latest/meta-data/', /METADATA-SECRET/, 'always allowed, by name');
        await assertLoads(ctx, 'http://public.test:8080/', /bulkhead test page/, 'its list');
        await assertBlocked(ctx, [`http://${EVIL}:8080/`], 'always denied');
      }, d2);
      await browse(none, async (ctx) => {
        await assertBlocked(ctx, [`http://${META}/latest/meta-data/`, env.url('/')], 'none');
      }, d2);
      const m = nw.meta.requests();
      assert.ok(m.length >= 2 && m.every((l) => /^\/(latest\/meta-data\/|favicon\.ico)$/.test(l.url)), `metadata requests: ${JSON.stringify(m)}`);
      assert.deepEqual(nw.evil.requests(), [], 'the denied host was reached');
    } finally {
      await end([inet, list, none], d2, `bulkhead_${BRIDGE2}`);
    }
  });

  it('--egress-allow lets a user token name what it opens (a private and a link-local range), and no more', T, async () => {
    const user = await userToken(d2, 'granted');
    nw.meta.lines.length = 0;
    for (const [network, re] of [
      [{ policy: 'allowlist', allow: [{ cidr: '169.254.0.0/16' }] }, /169\.254\.0\.0\/16 overlaps link-local range 169\.254\.0\.0\/16/],
      [{ policy: 'allowlist', allow: [{ cidr: '10.78.0.0/15' }] }, /10\.78\.0\.0\/15 overlaps private range 10\.0\.0\.0\/8/],
      [{ policy: 'allowlist', allow: [{ cidr: '0.0.0.0/0' }] }, /0\.0\.0\.0\/0 overlaps private range 10\.0\.0\.0\/8/],
    ]) {
      const what = `user create ${JSON.stringify(network)}`;
      const r = await d2.api('POST', '/api/v1/sessions', { network }, { token: user });
      checkError(r, 403, 'forbidden_network', what);
      assert.match(r.json.error.message, re, what);
    }
    const mine = await d2.api('GET', '/api/v1/sessions', undefined, { token: user });
    assert.deepEqual(mine.json.sessions, [], 'sessions of the user after the refused creates');
    // what the operator opened: metadata (loaded), and 10.78.0.0/16 (named
    // only; nothing is sent there)
    const s = await create({ policy: 'allowlist', allow: [{ cidr: `${META}/32`, ports: [80] }, { cidr: '10.78.0.0/16' }, { cidr: `${PUBLIC}/32` }] },
      d2, { token: user });
    try {
      await browse(s, async (ctx) => {
        await assertLoads(ctx, `http://${META}/latest/meta-data/`, /METADATA-SECRET/, 'granted by the operator');
      }, d2);
    } finally {
      await end([s], d2, `bulkhead_${BRIDGE2}`);
    }
  });
});
