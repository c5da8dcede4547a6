// networld.js — more of the tests' world for the egress-policy suite
// (network.test.js), beside world.js's "internet" (bhtest-inet, 198.51.100.1):
//
//   bhtest-priv  192.168.213.1/24 (RFC1918): HTTP on :8080 (/secret is
//                "PRIVATE-SECRET"), a tiny forward HTTP proxy on :3128 (to
//                bhtest-evil's addresses only, refusing anything else), and on
//                192.168.213.53 a DNS server (UDP and TCP 53) answering the
//                names below; host end 192.168.213.254. The proxy reaches
//                bhtest-evil (routes both ways through the host).
//   bhtest-meta  169.254.169.254 (fake cloud metadata): HTTP on :80, every
//                page "METADATA-SECRET". Routed there ONLY for packets from the
//                session subnets given to startNetworld() (ip rule pref 2215,
//                table 2215), so the host's own metadata traffic, if it has
//                any, is untouched. Link 192.168.216.0/24 (host end .254).
//   bhtest-evil  203.0.113.65/26 (a "public" address): HTTP on :8080 and :8081:
//                /redirect?to=URL answers 302 to URL; /secret is NOT the
//                secret ("evil public page"); host end 203.0.113.126.
//
// DNS names (TTL 0): public.test → 198.51.100.1, evil.test → 203.0.113.65,
// private.test → 192.168.213.1, meta.test → 169.254.169.254, host.test → the
// bridge address given to startNetworld(); rebind-*.test → 203.0.113.65 until
// flip(name), then 192.168.213.1 (DNS rebinding). AAAA: no records.
//
// Every server logs each request (and DNS query) as a JSON line; log(role)
// returns them. Nothing here sends traffic anywhere but into these
// namespaces; startNetworld() checks the routes before it returns, and
// removes what a crashed earlier run left. The same file is the servers'
// program: `node networld.js --role priv|meta|evil|canary ...`.
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run, must, waitFor, sleep } from './sh.js';

export const PRIV = '192.168.213.1';
export const PRIV_DNS = '192.168.213.53';
export const PRIV_HOST = '192.168.213.254';
export const META = '169.254.169.254';
export const META_HOST = '192.168.216.254';
export const EVIL = '203.0.113.65';
export const EVIL_HOST = '203.0.113.126';
export const PUBLIC = '198.51.100.1';
export const RULE_PREF = '2215';

const SELF = fileURLToPath(import.meta.url);

const HOSTS = [
  { role: 'priv', ns: 'bhtest-priv', hostIf: 'bhtest-ph', nsIf: 'bhtest-pi', hostAddr: `${PRIV_HOST}/24`, nsAddrs: [`${PRIV}/24`, `${PRIV_DNS}/24`] },
  { role: 'meta', ns: 'bhtest-meta', hostIf: 'bhtest-mh', nsIf: 'bhtest-mi', hostAddr: `${META_HOST}/24`, nsAddrs: ['192.168.216.1/24', `${META}/32`] },
  { role: 'evil', ns: 'bhtest-evil', hostIf: 'bhtest-eh', nsIf: 'bhtest-ei', hostAddr: `${EVIL_HOST}/26`, nsAddrs: [`${EVIL}/26`] },
];

// ------------------------------------------------------------------ servers

function page(title, body = '') {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1 id="h">${title}</h1>${body}</body></html>\n`;
}

function logLine(o) {
  process.stdout.write(`${JSON.stringify({ at: Date.now(), ...o })}\n`);
}

function httpServer(role, port, host, handler) {
  const srv = http.createServer((req, res) => {
    logLine({ role, kind: 'http', local: req.socket.localAddress, port, remote: req.socket.remoteAddress, host: req.headers.host || '', url: req.url, method: req.method });
    res.setHeader('connection', 'close'); // never reuse: each request resolves and connects anew
    res.setHeader('cache-control', 'no-store');
    handler(req, res);
  });
  return new Promise((resolve, reject) => {
    srv.on('error', reject);
    srv.listen(port, host, () => resolve(srv));
  });
}

const send = (res, status, body, type = 'text/html; charset=utf-8', headers = {}) => {
  res.writeHead(status, { 'content-type': type, ...headers });
  res.end(body);
};

// DNS: one question in, A answers from `answers(name)` (array of IPv4), TTL 0.
function dnsAnswer(query, answers) {
  if (query.length < 12) return null;
  const qd = query.readUInt16BE(4);
  if (qd !== 1) return null;
  let o = 12;
  const labels = [];
  while (o < query.length && query[o] !== 0) {
    const n = query[o];
    if (n > 63 || o + 1 + n > query.length) return null;
    labels.push(query.subarray(o + 1, o + 1 + n).toString('latin1'));
    o += 1 + n;
  }
  o += 1;
  if (o + 4 > query.length) return null;
  const qtype = query.readUInt16BE(o);
  const qEnd = o + 4;
  const name = labels.join('.').toLowerCase();
  const ips = answers(name, qtype);
  const head = Buffer.alloc(12);
  query.copy(head, 0, 0, 2); // id
  const rd = query[2] & 0x01;
  head[2] = 0x80 | 0x04 | rd; // QR, AA, RD as asked
  head[3] = 0x80 | (ips === null ? 3 : 0); // RA; NXDOMAIN for unknown names
  head.writeUInt16BE(1, 4);
  const list = qtype === 1 && ips ? ips : [];
  head.writeUInt16BE(list.length, 6);
  const parts = [head, query.subarray(12, qEnd)];
  for (const ip of list) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(1, 2); // A
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(0, 6); // TTL 0
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((x, i) => { rr[12 + i] = Number(x); });
    parts.push(rr);
  }
  logLine({ role: 'dns', kind: 'dns', name, qtype, answer: list });
  return Buffer.concat(parts);
}

async function servePriv() {
  await httpServer('priv', 8080, '0.0.0.0', (req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/healthz') return send(res, 200, 'ok\n', 'text/plain');
    return send(res, 200, page('PRIVATE-SECRET', '<p>the private network</p>'));
  });
  // A forward proxy for plain http:// (absolute-form request targets).
  const proxy = http.createServer((req, res) => {
    logLine({ role: 'proxy', kind: 'http', local: req.socket.localAddress, port: 3128, remote: req.socket.remoteAddress, url: req.url, method: req.method });
    let target;
    try { target = new URL(req.url); } catch { return send(res, 400, 'absolute URL needed\n', 'text/plain'); }
    if (target.protocol !== 'http:') return send(res, 400, 'http only\n', 'text/plain');
    // only to the test hosts: never a name to resolve, never the outside world
    // (Chromium sends its own background requests through a proxy too)
    if (!/^203\.0\.113\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])$/.test(target.hostname)) {
      return send(res, 403, 'not a test host\n', 'text/plain');
    }
    const up = http.request({ host: target.hostname, port: target.port || 80, path: `${target.pathname}${target.search}`, method: req.method, headers: { ...req.headers, connection: 'close' } }, (ur) => {
      res.writeHead(ur.statusCode, { ...ur.headers, 'x-via-test-proxy': '1' });
      ur.pipe(res);
    });
    up.on('error', (e) => send(res, 502, `proxy: ${e.message}\n`, 'text/plain'));
    req.pipe(up);
  });
  proxy.on('connect', (req, sock) => { sock.end('HTTP/1.1 405 no CONNECT here\r\n\r\n'); });
  await new Promise((resolve, reject) => { proxy.on('error', reject); proxy.listen(3128, '0.0.0.0', resolve); });

  const bridge = arg('bridge-addr', '10.215.0.1');
  const flipped = new Set();
  const table = {
    'public.test': [PUBLIC], 'evil.test': [EVIL], 'private.test': [PRIV], 'meta.test': [META], 'host.test': [bridge],
  };
  const answers = (name) => {
    if (table[name]) return table[name];
    if (/^rebind-[a-z0-9-]+\.test$/.test(name)) return [flipped.has(name) ? PRIV : EVIL];
    return null;
  };
  const udp = dgram.createSocket('udp4');
  udp.on('message', (m, rinfo) => {
    const a = dnsAnswer(m, answers);
    if (a) udp.send(a, rinfo.port, rinfo.address);
  });
  await new Promise((resolve, reject) => { udp.on('error', reject); udp.bind(53, PRIV_DNS, resolve); });
  const tcp = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const q = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + q.length);
        const a = dnsAnswer(q, answers);
        if (a) { const l = Buffer.alloc(2); l.writeUInt16BE(a.length); s.write(Buffer.concat([l, a])); }
      }
    });
    s.on('error', () => {});
  });
  await new Promise((resolve, reject) => { tcp.on('error', reject); tcp.listen(53, PRIV_DNS, resolve); });
  // control: {"flip": "rebind-x.test"} lines on stdin
  let ctl = '';
  process.stdin.setEncoding('utf8').on('data', (d) => {
    ctl += d;
    let i;
    while ((i = ctl.indexOf('\n')) >= 0) {
      const line = ctl.slice(0, i);
      ctl = ctl.slice(i + 1);
      try { const c = JSON.parse(line); if (c.flip) { flipped.add(c.flip); logLine({ role: 'dns', kind: 'flipped', name: c.flip }); } } catch { /* ignore */ }
    }
  });
}

async function serveMeta() {
  await httpServer('meta', 80, '0.0.0.0', (req, res) => send(res, 200, page('METADATA-SECRET', '<pre>iam/security-credentials: not-a-real-key</pre>')));
}

async function serveEvil() {
  for (const port of [8080, 8081]) {
    await httpServer('evil', port, '0.0.0.0', (req, res) => {
      const u = new URL(req.url, 'http://x');
      if (u.pathname === '/redirect') {
        const to = u.searchParams.get('to') || '/';
        return send(res, 302, page('redirecting'), 'text/html; charset=utf-8', { location: to });
      }
      if (u.pathname === '/healthz') return send(res, 200, 'ok\n', 'text/plain');
      return send(res, 200, page(`evil public page ${port}`));
    });
  }
}

async function serveCanary() {
  const port = Number(arg('port', '0'));
  const srv = await httpServer('canary', port, '0.0.0.0', (req, res) => send(res, 200, page('CANARY-SECRET')));
  logLine({ role: 'canary', kind: 'listening', port: srv.address().port });
}

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

// ------------------------------------------------------------------ the world

// A server process (this file with --role) inside netns `ns` (null: the
// host's); its JSON lines are collected.
export class Server {
  constructor(role, ns, args = []) {
    this.role = role;
    this.lines = [];
    this.out = '';
    const cmd = ns ? ['ip', 'netns', 'exec', ns, process.execPath] : [process.execPath];
    this.proc = spawn('setpriv', ['--pdeathsig', 'KILL', ...cmd, SELF, '--role', role, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let partial = '';
    this.proc.stdout.setEncoding('utf8').on('data', (d) => {
      partial += d;
      let i;
      while ((i = partial.indexOf('\n')) >= 0) {
        const l = partial.slice(0, i);
        partial = partial.slice(i + 1);
        try { this.lines.push(JSON.parse(l)); } catch { this.out += `${l}\n`; }
      }
    });
    this.proc.stderr.setEncoding('utf8').on('data', (d) => { this.out += d; });
    this.exit = null;
    this.proc.once('exit', (c, s) => { this.exit = `${c ?? s}`; });
  }

  // Requests seen (optionally only those matching `pred`).
  requests(pred = () => true) {
    return this.lines.filter((l) => l.kind === 'http' && pred(l));
  }

  send(o) {
    this.proc.stdin.write(`${JSON.stringify(o)}\n`);
  }

  async stop() {
    if (this.exit !== null) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await Promise.race([gone, sleep(2000)]);
    if (this.exit === null) this.proc.kill('SIGKILL');
  }
}

async function nsPidsKill(ns) {
  if (!existsSync(`/run/netns/${ns}`)) return;
  const r = await run('ip', ['netns', 'pids', ns]);
  for (const pid of r.stdout.split(/\s+/).filter(Boolean)) {
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
  }
}

async function removeLeftovers() {
  for (const h of HOSTS) {
    await nsPidsKill(h.ns);
    if (existsSync(`/run/netns/${h.ns}`)) await run('ip', ['netns', 'del', h.ns]);
    if ((await run('ip', ['link', 'show', 'dev', h.hostIf])).code === 0) await run('ip', ['link', 'del', h.hostIf]);
  }
  for (let i = 0; i < 16; i++) {
    if ((await run('ip', ['rule', 'del', 'pref', RULE_PREF])).code !== 0) break;
  }
  await run('ip', ['route', 'flush', 'table', RULE_PREF]);
}

let current = null;

// Build the namespaces and start their servers. subnets: the session subnets
// whose packets to 169.254.169.254 go to bhtest-meta; bridgeAddr: what
// host.test resolves to.
export async function startNetworld({ subnets, bridgeAddr }) {
  await stopNetworld();
  for (const h of HOSTS) {
    await must('ip', ['netns', 'add', h.ns]);
    await must('ip', ['link', 'add', h.hostIf, 'type', 'veth', 'peer', 'name', h.nsIf]);
    await must('ip', ['link', 'set', h.nsIf, 'netns', h.ns]);
    await must('ip', ['addr', 'add', h.hostAddr, 'dev', h.hostIf]);
    await must('ip', ['link', 'set', h.hostIf, 'up']);
    for (const a of h.nsAddrs) await must('ip', ['-n', h.ns, 'addr', 'add', a, 'dev', h.nsIf]);
    await must('ip', ['-n', h.ns, 'link', 'set', h.nsIf, 'up']);
    await must('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up']);
  }
  // the proxy in bhtest-priv reaches the evil host (through the host), and back
  await must('ip', ['-n', 'bhtest-priv', 'route', 'add', '203.0.113.64/26', 'via', PRIV_HOST]);
  await must('ip', ['-n', 'bhtest-evil', 'route', 'add', '192.168.213.0/24', 'via', EVIL_HOST]);
  await must('ip', ['route', 'add', `${META}/32`, 'dev', 'bhtest-mh', 'table', RULE_PREF]);
  for (const s of subnets) {
    await must('ip', ['rule', 'add', 'from', s, 'to', `${META}/32`, 'lookup', RULE_PREF, 'pref', RULE_PREF]);
  }
  const w = {
    priv: new Server('priv', 'bhtest-priv', ['--bridge-addr', bridgeAddr]),
    meta: new Server('meta', 'bhtest-meta'),
    evil: new Server('evil', 'bhtest-evil'),
  };
  current = w;
  await waitFor(async () => {
    for (const s of Object.values(w)) if (s.exit !== null) throw new Error(`networld ${s.role} server exited (${s.exit}): ${s.out}`);
    const a = await fetch(`http://${PRIV}:8080/healthz`, { signal: AbortSignal.timeout(1000) });
    const b = await fetch(`http://${EVIL}:8080/healthz`, { signal: AbortSignal.timeout(1000) });
    const c = await fetch(`http://${EVIL}:8081/healthz`, { signal: AbortSignal.timeout(1000) });
    return a.ok && b.ok && c.ok;
  }, { timeout: 15000, what: 'networld servers' });
  // the metadata server cannot be asked from the host (its address is only
  // routed for sessions): ask from inside its namespace
  const probe = `fetch('http://${META}/', { signal: AbortSignal.timeout(2000) }).then((r) => r.text()).then((t) => process.stdout.write(t), () => {})`;
  await waitFor(async () => (await run('ip', ['netns', 'exec', 'bhtest-meta', process.execPath, '-e', probe])).stdout.includes('METADATA-SECRET'),
    { timeout: 15000, what: 'fake metadata server' });
  // the DNS server answers
  await waitFor(async () => {
    const r = await dnsQuery('public.test');
    return r.length === 1 && r[0] === PUBLIC;
  }, { timeout: 15000, what: `DNS server on ${PRIV_DNS}` });
  for (const s of Object.values(w)) s.lines.length = 0;
  w.flip = (name) => w.priv.send({ flip: name });
  w.dns = () => w.priv.lines.filter((l) => l.kind === 'dns'); // the queries and answers
  return w;
}

// Ask our DNS server (from the host) for `name`: the A records.
export function dnsQuery(name) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const q = Buffer.concat([Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
      ...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0, 0, 1, 0, 1])]);
    const t = setTimeout(() => { s.close(); reject(new Error('DNS timeout')); }, 1000);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      const an = m.readUInt16BE(6);
      const out = [];
      for (let i = 0; i < an; i++) out.push([...m.subarray(m.length - 4 * (an - i), m.length - 4 * (an - i) + 4)].join('.'));
      resolve(out);
    });
    s.send(q, 53, PRIV_DNS);
  });
}

// Refuse to go on unless each destination is routed into our namespaces (and
// so no test packet can leave the machine). `fromAddr`/`iif`: a session
// address and the bridge, for the policy-routed metadata address.
export async function assertRouted({ fromAddr, iif }) {
  const checks = [[PRIV, 'bhtest-ph'], [PRIV_DNS, 'bhtest-ph'], [EVIL, 'bhtest-eh'], [PUBLIC, 'bhtest-h'], [META, 'bhtest-mh']];
  for (const [dst, dev] of checks) {
    const r = await run('ip', ['route', 'get', dst, 'from', fromAddr, 'iif', iif]);
    if (r.code !== 0 || !r.stdout.includes(`dev ${dev}`)) {
      throw new Error(`refusing to run: ${dst} from ${fromAddr} is not routed via ${dev}: ${r.stdout}${r.stderr}`);
    }
  }
}

export async function stopNetworld() {
  if (current) {
    for (const s of [current.priv, current.meta, current.evil]) await s.stop();
    current = null;
  }
  await removeLeftovers();
}

// Run as a server program.
if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  const role = arg('role', '');
  const fns = { priv: servePriv, meta: serveMeta, evil: serveEvil, canary: serveCanary };
  if (!fns[role]) {
    process.stderr.write(`networld: unknown --role ${role}\n`);
    process.exit(2);
  }
  fns[role]().catch((e) => {
    process.stderr.write(`networld ${role}: ${e.message}\n`);
    process.exit(1);
  });
  for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
}
