// frontdoor.test.js — the daemon's front door against clients that are slow,
// greedy, gone or cross-site (issue 10, items 6 and 7), driven as an attacker
// would, with raw sockets where a well-behaved client library would not go:
//   * a request whose headers or body trickle in is closed once its header or
//     body timeout has passed (a byte every 500 ms: an idle timeout would
//     never fire), and creates nothing;
//   * a flood of connections from one address over --max-connections-per-
//     address is answered 503 at once, while /healthz and a create from
//     another address keep working; the cap frees as they close; the refusals
//     are logged at a bounded rate;
//   * a create whose client leaves before the session is ready ends the
//     session (reason error, detail "client gone") and leaves nothing;
//   * with --no-auth, a cross-site POST (text/plain or a form type, or JSON
//     with a foreign Origin) is refused and creates nothing; so is a DELETE
//     with a foreign Origin; a request whose Host is a name not of this
//     server (DNS rebinding) is refused, REST, UI and WebSocket alike; each
//     has a control that passes the same check;
//   * under a low RLIMIT_NOFILE (prlimit) and a flood past it, the daemon
//     neither spins (its CPU time stays far below the wall time) nor floods
//     its log; once the flood ends it serves and creates again.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { sessionLeftovers } from './lib/leaks.js';
import { checkError } from './lib/check.js';
import { sleep, waitFor } from './lib/sh.js';

const T = { timeout: 120000 };
const TIMEOUT_S = 2;          // --header-timeout and --body-timeout of the daemon
const CLOSE_BOUND_MS = 20000; // "closed within the timeout": a generous bound
const PER_ADDR = 8;           // --max-connections-per-address
const ATTACKER = '127.0.0.2'; // the flood's source address (loopback, not ours)
const EVIL = 'http://evil.example';

// An HTTP request with every header under our control (Host, Origin, type):
// {status, headers, text, json}.
function request(d, method, p, { headers = {}, body, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const h = { host: `127.0.0.1:${d.port}`, ...headers };
    if (body !== undefined) h['content-length'] = Buffer.byteLength(body);
    const req = http.request({ host: '127.0.0.1', port: d.port, method, path: p, headers: h, agent: false, localAddress, timeout: 60000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => { text += c; }).on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, contentType: res.headers['content-type'] || '', text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${p}: no answer`)));
    req.on('error', reject);
    req.end(body);
  });
}

// A raw TCP connection to the daemon: s.data (all received), s.ended
// (resolves when the server closed it or it failed: {by, data, error}).
function open(d, localAddress = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: d.port, localAddress });
    s.data = '';
    s.setEncoding('utf8');
    s.on('data', (c) => { s.data += c; });
    s.ended = new Promise((res) => {
      s.on('end', () => res({ by: 'server', data: s.data }));
      s.on('error', (e) => res({ by: 'error', data: s.data, error: e }));
      s.on('close', () => res({ by: 'close', data: s.data }));
    });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// Resolves with what came before the server closed s, or rejects after ms.
async function closedWithin(s, ms, what) {
  let t;
  const r = await Promise.race([s.ended, new Promise((res) => { t = setTimeout(() => res(null), ms); })]);
  clearTimeout(t);
  if (!r) {
    s.destroy();
    throw new Error(`${what}: the server did not close the connection within ${ms} ms`);
  }
  return r;
}

// Resolves with the head of the first response on s (raw), within ms.
function firstResponse(s, ms = 15000) {
  return waitFor(() => (s.data.includes('\r\n\r\n') ? s.data : null), { timeout: ms, interval: 20, what: 'a response' });
}

function logLines(d, re) {
  return d.stderr.split('\n').filter((l) => re.test(l));
}

describe('front door: slow and greedy clients, cross-site requests (--no-auth)', () => {
  const env = suiteEnv({
    token: 'unused-with-no-auth-0123456789',
    args: ['--no-auth', '--header-timeout', String(TIMEOUT_S), '--body-timeout', String(TIMEOUT_S),
      '--max-connections-per-address', String(PER_ADDR), '--allow-host', 'bulkhead.test'],
  });
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 240000 });

  const ids = async () => (await env.d.list()).map((s) => s.id).sort();

  it('headers that trickle in are cut off at the header timeout', T, async () => {
    const s = await open(env.d);
    s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${env.d.port}\r\n`);
    const tick = setInterval(() => { if (!s.destroyed) s.write('X-Slow: 1\r\n'); }, 500);
    try {
      const r = await closedWithin(s, CLOSE_BOUND_MS, 'slow headers');
      assert.doesNotMatch(r.data, /^HTTP\/1\.1 200/, 'a request whose headers never ended was answered');
    } finally {
      clearInterval(tick);
      s.destroy();
    }
    // control: the same request, finished, is answered on a new connection
    const c = await open(env.d);
    c.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${env.d.port}\r\nConnection: close\r\n\r\n`);
    const r = await closedWithin(c, CLOSE_BOUND_MS, 'control');
    assert.match(r.data, /^HTTP\/1\.1 200/, r.data);
  });

  it('a body that trickles in (or never comes) is cut off at the body timeout; nothing is created', T, async () => {
    const before0 = await ids();
    const head = (len) => `POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1:${env.d.port}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;
    // headers with a Content-Length, and then never the body
    const silent = await open(env.d);
    silent.write(head(100));
    // and one that sends its body a byte every 500 ms
    const slow = await open(env.d);
    slow.write(`${head(1000)}{"url":`);
    const tick = setInterval(() => { if (!slow.destroyed) slow.write(' '); }, 500);
    try {
      for (const [s, what] of [[silent, 'no body'], [slow, 'slow body']]) {
        const r = await closedWithin(s, CLOSE_BOUND_MS, what);
        assert.doesNotMatch(r.data, /^HTTP\/1\.1 2/, `${what}: answered ${r.data.slice(0, 200)}`);
      }
    } finally {
      clearInterval(tick);
      silent.destroy();
      slow.destroy();
    }
    assert.deepEqual(await ids(), before0, 'a request whose body never arrived created a session');
  });

  it('a connection flood from one address gets 503 over its cap; /healthz and a create keep working', T, async () => {
    const d = env.d;
    const t0 = Date.now();
    // the attacker fills its cap with connections that stay open (live
    // viewers of a session: every HTTP reply closes its connection)...
    const held = [];
    const target = await d.create({ url: env.url('/') });
    try {
      for (let i = 0; i < PER_ADDR; i++) {
        const ws = new WebSocket(target.urls.live, { localAddress: ATTACKER, perMessageDeflate: false });
        await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
        held.push(ws);
      }
      // ...then every further connection of it is answered 503 and closed,
      // while another client's /healthz and create work
      const create = d.api('POST', '/api/v1/sessions', { url: env.url('/') });
      for (let i = 0; i < 3 * PER_ADDR; i++) {
        const s = await open(d, ATTACKER);
        s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\n\r\n`);
        const r = await closedWithin(s, CLOSE_BOUND_MS, `flood connection ${i}`);
        assert.match(r.data, /^HTTP\/1\.1 503 /, `flood connection ${i}: ${r.data.slice(0, 200)} (${r.error ? r.error.message : r.by})`);
        assert.match(r.data, /retry-after: \d+/i);
        assert.match(r.data, /"code":"unavailable"/);
        if (i % 8 === 0) {
          const h = await request(d, 'GET', '/healthz');
          assert.equal(h.status, 200, `/healthz during the flood: ${h.status} ${h.text}`);
        }
      }
      const c = await create;
      assert.equal(c.status, 201, `create during the flood: ${c.status} ${c.text}`);
      await d.del(c.json.id);
    } finally {
      for (const ws of held) ws.terminate();
      await d.del(target.id);
    }
    // control: once its connections are closed, the address is served again
    await waitFor(async () => {
      const s = await open(d, ATTACKER);
      s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\nConnection: close\r\n\r\n`);
      const r = await closedWithin(s, CLOSE_BOUND_MS, 'after the flood');
      return /^HTTP\/1\.1 200/.test(r.data);
    }, { timeout: 10000, what: 'the attacker address served again after its connections closed' });
    // the refusals are logged, at most once per 10 s
    const lines = logLines(d, /per-address connection cap/);
    assert.ok(lines.length >= 1, 'the refusals were not logged');
    const bound = Math.ceil((Date.now() - t0) / 10000) + 1;
    assert.ok(lines.length <= bound, `${lines.length} log lines about the cap in ${Date.now() - t0} ms (at most ${bound}):\n${lines.join('\n')}`);
  });

  it('a create whose client leaves before it is ready ends it (error, client gone), leaving nothing', T, async () => {
    const d = env.d;
    const before0 = new Set(await ids());
    const body = JSON.stringify({ url: env.url('/slow?ms=10000') });
    const s = await open(d);
    s.write(`POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    // the session is starting (its first page answers in 10 s): the client leaves
    const sess = await waitFor(async () => (await d.list()).find((x) => !before0.has(x.id) && x.status === 'starting'),
      { timeout: 15000, interval: 50, what: 'the new session, starting' });
    s.destroy();
    const ended = await waitFor(async () => {
      const r = await d.api('GET', `/api/v1/sessions/${sess.id}`);
      return r.json && r.json.status === 'ended' ? r.json : null;
    }, { timeout: 30000, what: 'the abandoned session to end' });
    assert.equal(ended.endReason, 'error', JSON.stringify(ended));
    assert.equal(ended.endDetail, 'client gone', JSON.stringify(ended));
    assert.deepEqual(await sessionLeftovers(d, ended), [], 'the abandoned session left resources');
    assert.deepEqual((await d.list('?status=starting')).concat(await d.list('?status=ready')), [], 'a live session remained');
    // control: a client that stays gets its session
    const ok = await d.create({ url: env.url('/slow?ms=500') });
    assert.equal(ok.status, 'ready');
    await d.del(ok.id);
  });

  it('a cross-site POST (text/plain, a form, or JSON from a foreign Origin) creates nothing', T, async () => {
    const d = env.d;
    const before0 = await ids();
    const body = JSON.stringify({ url: env.url('/') });
    const cases = [
      ['text/plain from evil', { 'content-type': 'text/plain', origin: EVIL }, 403, 'origin_not_allowed'],
      ['text/plain, no Origin', { 'content-type': 'text/plain;charset=UTF-8' }, 415, 'unsupported_media_type'],
      ['a form type', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type'],
      ['a body without a type', {}, 415, 'unsupported_media_type'],
      ['application/jsonx', { 'content-type': 'application/jsonx' }, 415, 'unsupported_media_type'],
      ['JSON from evil', { 'content-type': 'application/json', origin: EVIL }, 403, 'origin_not_allowed'],
      ['JSON from the null origin', { 'content-type': 'application/json', origin: 'null' }, 403, 'origin_not_allowed'],
    ];
    for (const [what, headers, status, code] of cases) {
      checkError(await request(d, 'POST', '/api/v1/sessions', { headers, body }), status, code, what);
    }
    assert.deepEqual(await ids(), before0, 'a refused cross-site POST created a session');
    // controls: the same POST as JSON, with no Origin (a program) and with
    // the daemon's own (its web UI), is carried out
    const a = await request(d, 'POST', '/api/v1/sessions', { headers: { 'content-type': 'application/json' }, body });
    assert.equal(a.status, 201, a.text);
    const b = await request(d, 'POST', '/api/v1/sessions', { headers: { 'content-type': 'Application/JSON; charset=utf-8', origin: d.base }, body });
    assert.equal(b.status, 201, b.text);
    // a DELETE from a foreign Origin is refused; the session lives on
    checkError(await request(d, 'DELETE', `/api/v1/sessions/${a.json.id}`, { headers: { origin: EVIL } }), 403, 'origin_not_allowed', 'DELETE from evil');
    assert.equal((await d.api('GET', `/api/v1/sessions/${a.json.id}`)).json.status, 'ready');
    for (const id of [a.json.id, b.json.id]) {
      const r = await request(d, 'DELETE', `/api/v1/sessions/${id}`);
      assert.equal(r.status, 204, r.text);
    }
  });

  it('a Host that is not a name of this server (DNS rebinding) is refused; REST, UI and WebSocket', T, async () => {
    const d = env.d;
    const before0 = await ids();
    const body = JSON.stringify({ url: env.url('/') });
    const json = { 'content-type': 'application/json' };
    for (const host of [`evil.example:${d.port}`, 'evil.example', `127.0.0.1.evil.example:${d.port}`, `localhost.evil.example:${d.port}`]) {
      checkError(await request(d, 'GET', '/api/v1/sessions', { headers: { host } }), 403, 'host_not_allowed', `GET with Host ${host}`);
      checkError(await request(d, 'POST', '/api/v1/sessions', { headers: { host, ...json, origin: `http://${host}` }, body }), 403, 'host_not_allowed', `POST with Host ${host}`);
      checkError(await request(d, 'POST', '/api/v1/sessions', { headers: { host, ...json }, body }), 403, 'host_not_allowed', `POST with Host ${host}, no Origin`);
      checkError(await request(d, 'GET', '/', { headers: { host } }), 403, 'host_not_allowed', `the UI with Host ${host}`);
    }
    assert.deepEqual(await ids(), before0, 'a request with a foreign Host created a session');
    // a WebSocket upgrade with a foreign Host: refused before the upgrade
    const s = await d.create({ url: env.url('/') });
    try {
      for (const [host, want] of [[`evil.example:${d.port}`, /^HTTP\/1\.[01] 403 [^]*"host_not_allowed"/], [`127.0.0.1:${d.port}`, /^HTTP\/1\.1 101/]]) {
        const c = await open(d);
        c.write(`GET /api/v1/sessions/${s.id}/cdp HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
        // a refusal closes the connection; an upgrade keeps it
        const head = /^evil/.test(host) ? (await closedWithin(c, CLOSE_BOUND_MS, 'refused upgrade')).data : await firstResponse(c);
        c.destroy();
        assert.match(head, want, `upgrade with Host ${host}: ${head.slice(0, 200)}`);
      }
    } finally {
      await d.del(s.id);
    }
    // controls: the daemon's own names, IP addresses, and --allow-host
    for (const host of [`127.0.0.1:${d.port}`, `localhost:${d.port}`, `LOCALHOST:${d.port}`, `[::1]:${d.port}`, `bulkhead.test:${d.port}`, 'bulkhead.test', '127.0.0.1']) {
      const r = await request(d, 'GET', '/api/v1/sessions', { headers: { host } });
      assert.equal(r.status, 200, `GET with Host ${host}: ${r.status} ${r.text}`);
    }
  });

  it('stops cleanly and leaves nothing behind', { timeout: 240000 }, env.finish);
});

describe('front door: a flood past RLIMIT_NOFILE', () => {
  const NOFILE = 128;
  const FLOOD = 400;
  const env = suiteEnv({
    // soft limit 128; the hard one stays above the 4096 that sessions' containers get
    nofile: `${NOFILE}:8192`,
    // no connection cap of its own: the descriptor limit is what stops it
    args: ['--max-connections', '100000', '--max-connections-per-address', '0', '--header-timeout', '120'],
  });
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 240000 });

  const cpuTicks = (pid) => {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
  };

  it('neither spins nor floods its log; serves and creates again when the flood ends', T, async () => {
    const d = env.d;
    const limits = fs.readFileSync(`/proc/${d.pid}/limits`, 'utf8');
    assert.match(limits, new RegExp(`Max open files\\s+${NOFILE}\\s`), limits);
    const t0 = Date.now();
    const socks = [];
    try {
      // connections that send nothing, more than the daemon has descriptors
      const opened = await Promise.allSettled(Array.from({ length: FLOOD }, () => open(d, ATTACKER)));
      for (const o of opened) if (o.status === 'fulfilled') socks.push(o.value);
      await sleep(1000);
      // hold them for 5 s: a loop that retried accept() would burn a core
      const hz = Number(process.env.CLK_TCK || 100);
      const c0 = cpuTicks(d.pid);
      const w0 = Date.now();
      await sleep(5000);
      const cpu = (cpuTicks(d.pid) - c0) / hz;
      const wall = (Date.now() - w0) / 1000;
      assert.ok(cpu < wall * 0.2, `the daemon used ${cpu.toFixed(2)} s of CPU in ${wall.toFixed(2)} s while the flood was held (spinning?)`);
      const refused = socks.filter((s) => /^HTTP\/1\.1 503 /.test(s.data)).length;
      assert.ok(refused > 0, `none of ${socks.length} connections past the descriptor limit was answered 503`);
    } finally {
      for (const s of socks) s.destroy();
    }
    // the log: no line per failed accept, at most one summary per 10 s
    const raw = logLines(d, /accept: errno/);
    assert.deepEqual(raw, [], `the library's accept errors reached the log ${raw.length} times`);
    const lines = logLines(d, /out of file descriptors/);
    const bound = Math.ceil((Date.now() - t0) / 10000) + 1;
    assert.ok(lines.length >= 1 && lines.length <= bound, `${lines.length} log lines about the descriptor limit (want 1..${bound}):\n${lines.join('\n')}`);
    // and afterwards it serves and creates as before
    await waitFor(async () => (await request(d, 'GET', '/healthz')).status === 200, { timeout: 15000, what: '/healthz after the flood' });
    const s = await d.create({ url: env.url('/') });
    await d.del(s.id);
    assert.deepEqual(await sessionLeftovers(d, s), []);
  });

  it('stops cleanly and leaves nothing behind', { timeout: 240000 }, env.finish);
});
