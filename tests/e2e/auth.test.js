// auth.test.js — tokens and roles (docs/api.md#tokens-and-roles): an admin
// token makes user tokens (secret shown once, stored only as a hash); a user
// token sees and ends only its own sessions (others are 404), cannot reach
// /api/v1/tokens or /metrics (403), and has a quota (429 quota_exceeded at
// once); a revoked token is 401. A session's urls carry a session token that
// opens that session alone (Playwright connects with urls.cdp and nothing
// else) and expires (--url-token-ttl). --no-auth is refused off loopback.
// No token ever shows in the daemon's output or in its database file.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { BIN, freePort } from './lib/daemon.js';
import { checkSession, checkError } from './lib/check.js';
import { run, sleep } from './lib/sh.js';

const T = { timeout: 120000 };

// A WebSocket upgrade request: {status, upgraded}.
function upgrade(base, p, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${p}`, {
      headers: {
        connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers,
      },
      timeout: 15000,
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode, upgraded: true }); });
    req.on('response', (res) => { res.resume(); res.on('end', () => resolve({ status: res.statusCode, upgraded: false })); });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const tokenOf = (u) => new URL(u.replace(/^ws/, 'http')).searchParams.get('token');
const bare = (u) => u.split('?')[0];

describe('auth: roles, user tokens, quotas, session tokens', () => {
  const env = suiteEnv({ args: ['--log-level', 'debug'] });
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 240000 });

  const secrets = []; // every secret seen, for the log and database checks
  let A; // user token "alice", maxSessions 1
  let B; // user token "bob"
  let sA; // alice's session
  let sX; // the admin's session
  let scopedA; // the session token in sA's urls

  const api = (...a) => env.d.api(...a);

  // What several tests use is made by the first test that asks for it, so
  // that every test also passes alone (--test-name-pattern): tokens() the
  // user tokens A and B, sessions() alice's session sA and the admin's sX,
  // scoped() the session token of sA's urls.cdp.
  const once = (fn) => { let p = null; return () => (p ||= fn()); };
  const made = (r) => { assert.equal(r.status, 201, r.text); return r.json; };
  const tokens = once(async () => {
    secrets.push(env.d.token);
    A = made(await api('POST', '/api/v1/tokens', { name: 'alice', role: 'user', maxSessions: 1 }));
    B = made(await api('POST', '/api/v1/tokens', { name: 'bob' }));
    secrets.push(A.token, B.token);
  });
  const sessions = once(async () => {
    await tokens();
    sA = await env.d.create({ url: env.url('/?from=alice') }, { token: A.token });
    sX = await env.d.create({ url: env.url('/?from=admin') });
  });
  const scoped = once(async () => {
    await sessions();
    const g = await api('GET', `/api/v1/sessions/${sA.id}`, undefined, { token: A.token });
    scopedA = tokenOf(g.json.urls.cdp);
    secrets.push(scopedA, tokenOf(g.json.urls.live));
  });

  it('an admin makes user tokens; the secret is shown once, the list never shows one', T, async () => {
    await tokens();
    assert.match(A.id, /^[0-9a-f]{16}$/);
    assert.equal(A.name, 'alice');
    assert.equal(A.role, 'user');
    assert.equal(A.maxSessions, 1);
    assert.ok(typeof A.token === 'string' && A.token.length >= 32, `token ${A.token}`);
    assert.equal(B.role, 'user', 'role defaults to user');
    assert.equal(B.maxSessions, null);
    assert.notEqual(A.token, B.token);

    const r = await api('GET', '/api/v1/tokens');
    assert.equal(r.status, 200, r.text);
    const names = r.json.tokens.map((t) => t.name);
    assert.deepEqual(names, ['admin', 'alice', 'bob']);
    for (const s of secrets) assert.ok(!r.text.includes(s), 'the token list shows a secret');
    for (const t of r.json.tokens) {
      assert.ok(!('token' in t) && !('hash' in t), `token entry has a secret or hash: ${JSON.stringify(t)}`);
    }
    const hashA = crypto.createHash('sha256').update(A.token).digest('hex');
    assert.ok(!r.text.includes(hashA), 'the token list shows a hash');
  });

  it('token requests are checked: name, role, maxSessions, unknown fields, a name in use, the admin token', T, async () => {
    await tokens();
    const bad = [
      [{}, 400, 'invalid_field'],
      [{ name: '' }, 400, 'invalid_field'],
      [{ name: 'a'.repeat(65) }, 400, 'invalid_field'],
      [{ name: 'has space' }, 400, 'invalid_field'],
      [{ name: 'ünïcode' }, 400, 'invalid_field'],
      [{ name: 'ok', role: 'root' }, 400, 'invalid_field'],
      [{ name: 'ok', maxSessions: 0 }, 400, 'invalid_field'],
      [{ name: 'ok', maxSessions: 10001 }, 400, 'invalid_field'],
      [{ name: 'ok', maxSessions: 1.5 }, 400, 'invalid_field'],
      [{ name: 'ok', maxSessions: '3' }, 400, 'invalid_field'],
      [{ name: 'ok', extra: 1 }, 400, 'unknown_field'],
      ['not json', 400, 'invalid_json'],
      [{ name: 'alice' }, 409, 'name_taken'],
      [{ name: 'admin' }, 409, 'name_taken'],
    ];
    for (const [body, status, code] of bad) {
      checkError(await api('POST', '/api/v1/tokens', body), status, code, `POST /api/v1/tokens ${JSON.stringify(body)}`);
    }
    checkError(await api('DELETE', '/api/v1/tokens/admin'), 409, 'not_revocable', 'revoke the admin token');
    checkError(await api('DELETE', '/api/v1/tokens/0123456789abcdef'), 404, 'not_found', 'revoke an unknown token');
    const names = (await api('GET', '/api/v1/tokens')).json.tokens.map((t) => t.name);
    assert.deepEqual(names, ['admin', 'alice', 'bob'], 'refused requests made no token');
  });

  it('user tokens: no token admin (403), no /metrics (403); no token at all: 401', T, async () => {
    await tokens();
    for (const t of [A.token, B.token]) {
      checkError(await api('GET', '/api/v1/tokens', undefined, { token: t }), 403, 'forbidden', 'user lists tokens');
      checkError(await api('POST', '/api/v1/tokens', { name: 'evil', role: 'admin' }, { token: t }), 403, 'forbidden', 'user makes a token');
      checkError(await api('DELETE', `/api/v1/tokens/${B.id}`, undefined, { token: t }), 403, 'forbidden', 'user revokes a token');
      checkError(await api('GET', '/metrics', undefined, { token: t }), 403, 'forbidden', 'user reads /metrics');
    }
    checkError(await api('GET', '/api/v1/tokens', undefined, { token: null }), 401, 'unauthorized', 'no token');
    checkError(await api('GET', '/metrics', undefined, { token: 'nope-nope-nope-nope' }), 401, 'unauthorized', 'wrong token');
    const m = await api('GET', '/metrics');
    assert.equal(m.status, 200, 'the admin reads /metrics');
  });

  it('a user creates a session: it owns it and sees only its own; the admin sees all, with owners', T, async () => {
    await sessions();
    checkSession(sA, { status: 'ready' });
    assert.equal(sA.owner, undefined, 'a user is not shown owners');
    assert.deepEqual(sX.owner, { id: 'admin', name: 'admin' });

    const la = await api('GET', '/api/v1/sessions', undefined, { token: A.token });
    assert.deepEqual(la.json.sessions.map((s) => s.id), [sA.id], 'alice lists only her session');
    const lb = await api('GET', '/api/v1/sessions', undefined, { token: B.token });
    assert.deepEqual(lb.json.sessions, [], 'bob lists nothing');
    const all = await env.d.list();
    const mine = all.find((s) => s.id === sA.id);
    assert.ok(mine && all.some((s) => s.id === sX.id), 'the admin lists both');
    assert.deepEqual(mine.owner, { id: A.id, name: 'alice' });
    const g = await api('GET', `/api/v1/sessions/${sA.id}`, undefined, { token: A.token });
    assert.equal(g.status, 200);
    assert.equal(g.json.id, sA.id);
  });

  it("another user's session is 404 everywhere for it (get, delete, events, screenshot, json/version, cdp, live); the admin reaches it", T, async () => {
    await sessions();
    const p = `/api/v1/sessions/${sA.id}`;
    for (const [m, sub] of [['GET', ''], ['DELETE', ''], ['GET', '/events'], ['GET', '/screenshot'], ['GET', '/json/version']]) {
      checkError(await api(m, `${p}${sub}`, undefined, { token: B.token }), 404, 'not_found', `bob ${m} ${sub || '/'}`);
    }
    checkError(await api('GET', `${p}/json/version?token=${B.token}`, undefined, { token: null }), 401, 'unauthorized', 'bob discovery with his API token in the URL');
    for (const sub of ['cdp', 'live']) {
      const u = await upgrade(env.d.base, `${p}/${sub}`, { authorization: `Bearer ${B.token}` });
      assert.equal(u.status, 404, `bob upgrades ${sub}`);
      assert.equal(u.upgraded, false);
    }
    // alice the same on the admin's session
    checkError(await api('GET', `/api/v1/sessions/${sX.id}`, undefined, { token: A.token }), 404, 'not_found', 'alice gets the admin session');
    checkError(await api('DELETE', `/api/v1/sessions/${sX.id}`, undefined, { token: A.token }), 404, 'not_found', 'alice deletes the admin session');
    // ... and an unknown id looks the same
    checkError(await api('GET', `/api/v1/sessions/${'0'.repeat(32)}`, undefined, { token: B.token }), 404, 'not_found', 'unknown id');
    // the admin reaches alice's session
    assert.equal((await api('GET', `${p}/events`)).status, 200);
    assert.equal((await api('GET', `${p}/json/version`)).status, 200);
    const up = await upgrade(env.d.base, `${bare(sA.urls.cdp)}`.replace(/^ws:\/\/[^/]+/, ''), { authorization: `Bearer ${env.d.token}` });
    assert.equal(up.status, 101);
    // the session is still fine
    assert.equal((await api('GET', p)).json.status, 'ready');
  });

  it('quota: with maxSessions 1 a second create is 429 quota_exceeded at once, and nothing is made', T, async () => {
    await sessions();
    const before = (await env.d.list()).length;
    const t0 = Date.now();
    const r = await api('POST', '/api/v1/sessions', { url: env.url('/') }, { token: A.token });
    checkError(r, 429, 'quota_exceeded', 'second session of alice');
    assert.ok(Date.now() - t0 < 3000, `the refusal took ${Date.now() - t0} ms (must not queue)`);
    assert.match(r.json.error.message, /alice.*1/, r.json.error.message);
    assert.equal((await env.d.list()).length, before, 'a refused create made a session');
    const la = await api('GET', '/api/v1/sessions?status=ready', undefined, { token: A.token });
    assert.equal(la.json.sessions.length, 1);
    // others are not held by alice's quota
    assert.equal((await api('GET', '/api/v1/sessions', undefined, { token: B.token })).status, 200);
  });

  it('urls carry a session token; Playwright connects with urls.cdp alone', T, async () => {
    await scoped();
    const g = await api('GET', `/api/v1/sessions/${sA.id}`, undefined, { token: A.token });
    const { urls } = g.json;
    scopedA = tokenOf(urls.cdp);
    assert.match(scopedA, new RegExp(`^st2\\.${sA.id}\\.cdp\\.\\d+\\.[A-Za-z0-9_-]{43}$`), `urls.cdp ${urls.cdp}`);
    const control = tokenOf(urls.live);
    assert.match(control, new RegExp(`^st2\\.${sA.id}\\.control\\.\\d+\\.[A-Za-z0-9_-]{43}$`), `urls.live ${urls.live}`);
    assert.equal(tokenOf(urls.view), control);
    assert.equal(bare(urls.cdp), `ws://127.0.0.1:${env.d.port}/api/v1/sessions/${sA.id}/cdp`);
    assert.equal(bare(urls.view), `http://127.0.0.1:${env.d.port}/view/${sA.id}`);
    // it expires within the default hour (--url-token-ttl), and never after
    // the session's ttl (here 1800 s, the earlier)
    const exp = Number(scopedA.split('.')[3]);
    const end = Date.parse(sA.createdAt) / 1000 + sA.ttl;
    assert.ok(sA.ttl < 3600 && Math.abs(exp - end) <= 2, `expiry ${exp}, session ttl ends ${end}`);
    secrets.push(scopedA, control);

    const browser = await chromium.connectOverCDP(urls.cdp, { timeout: 30000 });
    try {
      const pages = browser.contexts()[0].pages();
      const own = pages.find((p) => p.url() === env.url('/?from=alice'));
      assert.ok(own, `the session's page is not among ${JSON.stringify(pages.map((p) => p.url()))}`);
      assert.equal(await own.title(), 'bulkhead test page');
      assert.equal(await own.evaluate(() => 6 * 7), 42);
    } finally {
      await browser.close();
    }
    // the live view takes the control token (not the cdp one); discovery
    // hands the cdp token on
    const up = await upgrade(env.d.base, new URL(urls.live.replace(/^ws/, 'http')).pathname + `?token=${control}`);
    assert.equal(up.status, 101, 'live with the control session token');
    const no = await upgrade(env.d.base, new URL(urls.live.replace(/^ws/, 'http')).pathname + `?token=${scopedA}`);
    assert.equal(no.status, 403, 'live with the cdp session token');
    const v = await api('GET', `/api/v1/sessions/${sA.id}/json/version?token=${scopedA}`, undefined, { token: null });
    assert.equal(v.status, 200, v.text);
    assert.equal(v.json.webSocketDebuggerUrl, `${bare(urls.cdp)}?token=${scopedA}`);
    // GET of its session, as bearer or ?token=: fresh urls carry the same token
    for (const o of [{ token: scopedA }, { token: null, q: `?token=${scopedA}` }]) {
      const r = await api('GET', `/api/v1/sessions/${sA.id}${o.q || ''}`, undefined, { token: o.token });
      assert.equal(r.status, 200, r.text);
      assert.equal(tokenOf(r.json.urls.cdp), scopedA, 'a session token does not renew itself');
      assert.equal(r.json.owner, undefined);
    }
  });

  it('a session token opens nothing else: other sessions, the list, delete, screenshot, events, tokens, metrics are 401', T, async () => {
    await scoped();
    const tok = { token: scopedA };
    const px = `/api/v1/sessions/${sX.id}`;
    const pa = `/api/v1/sessions/${sA.id}`;
    const refused = [
      ['GET', px], ['GET', `${px}/json/version`], ['DELETE', px],
      ['GET', '/api/v1/sessions'], ['POST', '/api/v1/sessions'], ['DELETE', pa],
      ['GET', `${pa}/screenshot`], ['GET', `${pa}/events`],
      ['GET', '/api/v1/tokens'], ['GET', '/metrics'],
    ];
    for (const [m, p] of refused) {
      checkError(await api(m, p, m === 'POST' ? {} : undefined, tok), 401, 'unauthorized', `session token: ${m} ${p}`);
    }
    checkError(await api('GET', `${px}/json/version?token=${scopedA}`, undefined, { token: null }), 401, 'unauthorized', 'discovery of another session');
    for (const sub of ['cdp', 'live']) {
      const u = await upgrade(env.d.base, `${px}/${sub}?token=${scopedA}`);
      assert.equal(u.status, 401, `${sub} of another session`);
    }
    // a session token in the query of the list is not taken either
    checkError(await api('GET', `/api/v1/sessions?token=${scopedA}`, undefined, { token: null }), 401, 'unauthorized', 'list ?token=');
    assert.equal((await api('GET', pa)).json.status, 'ready', 'the session is still there');
  });

  it('an altered session token is 401', T, async () => {
    await scoped();
    const parts = scopedA.split('.');
    const flip = (s) => (s[s.length - 1] === 'A' ? `${s.slice(0, -1)}B` : `${s.slice(0, -1)}A`);
    const bad = [
      [parts[0], parts[1], parts[2], parts[3], flip(parts[4])].join('.'), // mac
      [parts[0], parts[1], parts[2], String(Number(parts[3]) + 86400), parts[4]].join('.'), // later expiry
      [parts[0], sX.id, parts[2], parts[3], parts[4]].join('.'), // another session
      ['st1', parts[1], parts[3], parts[4]].join('.'), // the old format
      `${scopedA}x`, scopedA.slice(0, -1),
    ];
    for (const t of bad) {
      checkError(await api('GET', `/api/v1/sessions/${sA.id}`, undefined, { token: t }), 401, 'unauthorized', `altered ${t}`);
      const u = await upgrade(env.d.base, `/api/v1/sessions/${sA.id}/cdp?token=${encodeURIComponent(t)}`);
      assert.equal(u.status, 401, `cdp with altered ${t}`);
    }
    await assert.rejects(chromium.connectOverCDP(`${bare(sA.urls.cdp)}?token=${bad[0]}`, { timeout: 10000 }), /401/);
  });

  it('a user ends its own session; a revoked token is 401 from then on', T, async () => {
    await sessions();
    const r = await api('DELETE', `/api/v1/sessions/${sA.id}`, undefined, { token: A.token });
    assert.equal(r.status, 204, r.text);
    const g = await api('GET', `/api/v1/sessions/${sA.id}`, undefined, { token: A.token });
    assert.equal(g.json.status, 'ended');
    assert.equal(tokenOf(g.json.urls.cdp), null, 'an ended session gets no session token');

    let c = await api('POST', '/api/v1/tokens', { name: 'carol', maxSessions: 2 });
    assert.equal(c.status, 201);
    c = c.json;
    secrets.push(c.token);
    assert.equal((await api('GET', '/api/v1/sessions', undefined, { token: c.token })).status, 200);
    assert.equal((await api('DELETE', `/api/v1/tokens/${c.id}`)).status, 204);
    checkError(await api('GET', '/api/v1/sessions', undefined, { token: c.token }), 401, 'unauthorized', 'revoked token');
    checkError(await api('POST', '/api/v1/sessions', {}, { token: c.token }), 401, 'unauthorized', 'revoked token creates');
    checkError(await api('DELETE', `/api/v1/tokens/${c.id}`), 404, 'not_found', 'revoked twice');
    const names = (await api('GET', '/api/v1/tokens')).json.tokens.map((t) => t.name);
    assert.deepEqual(names, ['admin', 'alice', 'bob'], 'the revoked token is not listed');
    // the name is free again
    const c2 = await api('POST', '/api/v1/tokens', { name: 'carol' });
    assert.equal(c2.status, 201, c2.text);
    secrets.push(c2.json.token);
  });

  it('the CLI: token create / ls / rm', T, async () => {
    await tokens();
    const cli = (args) => run(env.d.bin, [...args, '--state-dir', env.d.stateDir], { env: { ...process.env, BULKHEAD_TOKEN: '', BULKHEAD_URL: '' } });
    let r = await cli(['token', 'create', '--name', 'cli-made', '--max-sessions', '3']);
    assert.equal(r.code, 0, r.stderr);
    const secret = r.stdout.trim();
    assert.match(secret, /^bhk_[A-Za-z0-9_-]{43}$/, `stdout: ${r.stdout}`);
    secrets.push(secret);
    assert.equal((await api('GET', '/api/v1/sessions', undefined, { token: secret })).status, 200, 'the new token works');
    r = await cli(['token', 'ls']);
    assert.equal(r.code, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => / cli-made$/.test(l));
    assert.ok(line, r.stdout);
    assert.ok(!r.stdout.includes(secret), 'ls shows a secret');
    const [id, role, max] = line.split(/\s+/);
    assert.deepEqual([role, max], ['user', '3']);
    r = await cli(['token', 'rm', id]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), id);
    assert.equal((await api('GET', '/api/v1/sessions', undefined, { token: secret })).status, 401, 'the removed token is refused');
    r = await cli(['token', 'rm', 'admin']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not_revocable/);
    r = await cli(['token', 'create']);
    assert.equal(r.code, 2, 'create without --name is a usage error');
    // a user token cannot manage tokens through the CLI either
    r = await run(env.d.bin, ['token', 'ls', '--server', env.d.base, '--token', B.token]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /forbidden/);
  });

  it('no token in the database file (hashes only) nor in the daemon output', T, async () => {
    await scoped(); // (a session token among the secrets looked for)
    await env.d.del(sX.id);
    const files = fs.readdirSync(env.d.stateDir).filter((f) => f.startsWith('bulkhead.db'));
    assert.ok(files.includes('bulkhead.db'), `${files}`);
    const bytes = Buffer.concat(files.map((f) => fs.readFileSync(path.join(env.d.stateDir, f))));
    for (const s of secrets) {
      assert.equal(bytes.indexOf(s), -1, `the database holds a token in plain text (${s.slice(0, 6)}…)`);
      assert.equal(bytes.indexOf(Buffer.from(s).toString('base64')), -1, 'the database holds a token in base64');
    }
    const hashA = crypto.createHash('sha256').update(A.token).digest('hex');
    assert.notEqual(bytes.indexOf(hashA), -1, "the database has no hash of alice's token");
    // the secret file: 0600, not a token
    const st = fs.statSync(path.join(env.d.stateDir, 'secret'));
    assert.equal(st.mode & 0o777, 0o600);
    // the daemon's output (stdout and stderr, at debug level)
    const log = env.d.stderr;
    assert.ok(log.length > 100, 'no daemon output to check');
    for (const s of secrets) {
      assert.ok(!log.includes(s), `the daemon's output holds a token (${s.slice(0, 6)}…)`);
    }
    assert.ok(!/token=/.test(log), 'the daemon logged a URL with ?token=');
    // nor its command line (ps)
    const cmdline = fs.readFileSync(`/proc/${env.d.pid}/cmdline`, 'utf8');
    assert.ok(!cmdline.includes(env.d.token));
  });

  it('stops cleanly and leaves nothing behind', { timeout: 240000 }, () => env.finish());
});

describe('auth: session tokens expire (--url-token-ttl 2); their key is STATE/secret', () => {
  const env = suiteEnv({ args: ['--url-token-ttl', '2'] });
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 240000 });

  it('a session token works, and after its 2 s it is 401', T, async () => {
    const s = await env.d.create({ url: env.url('/') });
    const tok = tokenOf(s.urls.cdp);
    const exp = Number(tok.split('.')[3]);
    assert.ok(exp - Date.now() / 1000 <= 2.01, `expiry ${exp - Date.now() / 1000} s from now`);
    // mint a fresh one (GET) and use it at once
    const fresh = tokenOf((await env.d.api('GET', `/api/v1/sessions/${s.id}`)).json.urls.cdp);
    const ok = await env.d.api('GET', `/api/v1/sessions/${s.id}/json/version?token=${fresh}`, undefined, { token: null });
    assert.equal(ok.status, 200, ok.text);
    await sleep(Math.max(0, Number(fresh.split('.')[3]) * 1000 - Date.now()) + 1200);
    checkError(await env.d.api('GET', `/api/v1/sessions/${s.id}/json/version?token=${fresh}`, undefined, { token: null }), 401, 'unauthorized', 'expired');
    checkError(await env.d.api('GET', `/api/v1/sessions/${s.id}`, undefined, { token: fresh }), 401, 'unauthorized', 'expired');
    const u = await upgrade(env.d.base, `/api/v1/sessions/${s.id}/cdp?token=${fresh}`);
    assert.equal(u.status, 401);
    await env.d.del(s.id);
  });

  it('a session token made with the key in STATE/secret verifies (the documented format)', T, async () => {
    const s = await env.d.create({ url: env.url('/') });
    const key = Buffer.from(fs.readFileSync(path.join(env.d.stateDir, 'secret'), 'utf8').trim(), 'hex');
    assert.equal(key.length, 32);
    const mint = (exp) => {
      const msg = `st2.${s.id}.cdp.${exp}`;
      return `${msg}.${crypto.createHmac('sha256', key).update(msg).digest('base64url')}`;
    };
    const good = mint(Math.floor(Date.now() / 1000) + 60);
    assert.equal((await env.d.api('GET', `/api/v1/sessions/${s.id}`, undefined, { token: good })).status, 200);
    const old = mint(Math.floor(Date.now() / 1000) - 1);
    checkError(await env.d.api('GET', `/api/v1/sessions/${s.id}`, undefined, { token: old }), 401, 'unauthorized', 'expired, well signed');
    await env.d.del(s.id);
  });

  it('stops cleanly and leaves nothing behind', { timeout: 240000 }, () => env.finish());
});

describe('auth: --no-auth only on loopback', () => {
  it('--no-auth with a non-loopback --listen exits 2 with a clear message, doing nothing', T, async () => {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), 'bhtest-noauth-'));
    try {
      for (const listen of ['0.0.0.0', '[::]', '198.51.100.254', 'example.com']) {
        const r = await run(BIN, ['serve', '--no-auth', '--listen', `${listen}:${await freePort()}`, '--state-dir', state, '--run-dir', state], { timeout: 20000 });
        assert.equal(r.code, 2, `${listen}: exit ${r.code}\n${r.stderr}`);
        assert.match(r.stderr, /--no-auth.*loopback/s, r.stderr);
      }
      assert.deepEqual(fs.readdirSync(state), [], 'it wrote something');
    } finally {
      fs.rmSync(state, { recursive: true, force: true });
    }
  });

  const env = suiteEnv({ args: ['--no-auth'], token: 'unused-token-not-checked-0000' });
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 240000 });

  it('--no-auth on 127.0.0.1 serves every request as the admin', T, async () => {
    const r = await env.d.api('GET', '/api/v1/sessions', undefined, { token: null });
    assert.equal(r.status, 200, r.text);
    assert.equal((await env.d.api('GET', '/metrics', undefined, { token: null })).status, 200);
    assert.equal((await env.d.api('GET', '/api/v1/tokens', undefined, { token: null })).status, 200);
    assert.match(env.d.stderr, /NO AUTH/);
    assert.ok(!fs.existsSync(path.join(env.d.stateDir, 'token')), 'no token file is made without auth');
  });

  it('stops cleanly and leaves nothing behind', { timeout: 240000 }, () => env.finish());
});
