// shell.mjs — shell sessions (docs/terminal.md) against baselines that run
// none of bulkhead's code, measured in the same run:
//   create→ready of {"type":"shell"} through the REST API, against a bare
//     `runc run` of /bin/true in a hand-written bundle (uid 1000, its own
//     pid/mount/ipc/uts/network namespaces, /usr bound read-only, no
//     capabilities), from spawn to exit;
//   the round trip of POST /exec {"argv":["true"]};
//   terminal echo: a keystroke sent on the terminal's WebSocket to its echo;
//   file upload and download MB/s (PUT/GET /files) against `cp` of the same
//   file between two tmpfs directories on the host.
// usage: node shell.mjs BASE_URL TOKEN RUNS WORKDIR
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from '../tests/e2e/node_modules/ws/wrapper.mjs';
import { record } from './results.mjs';

const [base, token, runsArg, work] = process.argv.slice(2);
const runs = Number(runsArg || 10);
const H = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const row = (name, xs, unit = 'ms') =>
  console.log(`${name.padEnd(44)} ${pct(xs, 50).toFixed(1).padStart(9)} ${pct(xs, 95).toFixed(1).padStart(9)} ${unit}`);

// ------------------------------------------------------- the bare bundle
const bundle = path.join(work, 'bare-true');
const rootfs = path.join(bundle, 'rootfs');
fs.mkdirSync(rootfs, { recursive: true });
for (const d of ['usr', 'proc', 'dev', 'tmp']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
for (const l of ['bin', 'lib', 'lib64', 'sbin']) {
  const t = path.join(rootfs, l);
  fs.rmSync(t, { force: true });
  fs.symlinkSync(`usr/${l}`, t);
}
fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify({
  ociVersion: '1.0.2',
  process: {
    terminal: false, user: { uid: 1000, gid: 1000 }, args: ['/bin/true'], env: ['PATH=/usr/bin:/bin'], cwd: '/',
    capabilities: { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] },
    noNewPrivileges: true,
  },
  root: { path: 'rootfs', readonly: true },
  hostname: 'bare',
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755', 'size=65536k'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=65536k'] },
    { destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro', 'nosuid', 'nodev'] },
  ],
  linux: {
    namespaces: ['pid', 'mount', 'ipc', 'uts', 'network'].map((type) => ({ type })),
    maskedPaths: ['/proc/kcore', '/proc/keys'],
    readonlyPaths: ['/proc/sys', '/proc/sysrq-trigger'],
  },
}));
const runcRoot = path.join(work, 'bare-runc');
const bareRun = (i) => {
  const t0 = performance.now();
  const r = spawnSync('runc', ['--root', runcRoot, 'run', '--bundle', bundle, `bench-true-${process.pid}-${i}`], { stdio: 'pipe' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`runc run: ${r.status} ${r.stderr}`);
  return ms;
};

const api = async (method, p, body, raw) => {
  const r = await fetch(`${base}${p}`, { method, headers: raw ? { Authorization: H.Authorization } : H, body: raw || (body && JSON.stringify(body)) });
  const buf = Buffer.from(await r.arrayBuffer());
  return { status: r.status, buf, json: () => JSON.parse(buf.toString()) };
};
const create = async () => {
  const t0 = performance.now();
  const r = await api('POST', '/api/v1/sessions', { type: 'shell' });
  const ms = performance.now() - t0;
  if (r.status !== 201) throw new Error(`create: ${r.status} ${r.buf}`);
  return { s: r.json(), ms };
};
const del = async (s) => {
  const r = await api('DELETE', `/api/v1/sessions/${s.id}`);
  if (r.status !== 204) throw new Error(`delete: ${r.status}`);
};

// ---------------------------------------------------------- create→ready
bareRun(0);
await del((await create()).s);
const bare = [];
const shell = [];
for (let i = 1; i <= runs; i++) {
  bare.push(bareRun(i));
  const c = await create();
  shell.push(c.ms);
  await del(c.s);
}
console.log(`${'create→ready'.padEnd(44)} ${'p50'.padStart(9)} ${'p95'.padStart(9)}`);
row('bulkhead shell session (REST API)', shell);
row('bare runc run /bin/true (hand-written bundle)', bare);
console.log(`${'ratio bulkhead / bare'.padEnd(44)} ${(pct(shell, 50) / pct(bare, 50)).toFixed(2).padStart(9)} ${(pct(shell, 95) / pct(bare, 95)).toFixed(2).padStart(9)}   (goal: p50 <= 150 ms)`);
record('shell.create.p50', pct(shell, 50), 'ms', { goal: '<= 150', baseline: pct(bare, 50) });
record('shell.create.p95', pct(shell, 95), 'ms', { baseline: pct(bare, 95) });

// ------------------------------------------------------- exec, terminal
const { s } = await create();
const ex = [];
for (let i = 0; i < Math.max(50, runs * 5); i++) {
  const t0 = performance.now();
  const r = await api('POST', `/api/v1/sessions/${s.id}/exec`, { argv: ['true'] });
  ex.push(performance.now() - t0);
  if (r.status !== 200 || r.json().exitCode !== 0) throw new Error(`exec: ${r.status} ${r.buf}`);
}
console.log();
row('exec round trip of `true`', ex);
console.log('  (goal: p50 <= 20 ms)');
record('shell.exec_true.p50', pct(ex, 50), 'ms', { goal: '<= 20' });
record('shell.exec_true.p95', pct(ex, 95), 'ms');

const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/v1/sessions/${s.id}/terminal`, { headers: { authorization: H.Authorization, origin: base } });
let out = '';
let waiting = null;
ws.on('message', (m) => {
  if (m[0] !== 1) return;
  out += m.subarray(1).toString();
  if (waiting && out.includes(waiting.want)) { const w = waiting; waiting = null; w.resolve(); }
});
await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
const until = (want) => new Promise((resolve) => { if (out.includes(want)) resolve(); else waiting = { want, resolve }; });
const key = (k) => ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(k)]));
key('echo ready-$((6*7))\r');
await until('ready-42');
const echo = [];
const letters = 'abcdefghijklmnopqrstuvwxyz';
for (let i = 0; i < 100; i++) {
  const mark = `${letters[i % 26]}${letters[Math.floor(i / 26) % 26]}`;
  out = '';
  const t0 = performance.now();
  key(mark[0]);
  await until(mark[0]);
  echo.push(performance.now() - t0);
  key(mark[1]);
  await until(mark[1]);
  if (i % 20 === 19) key('\x15'); // Ctrl-U: keep the line short
}
ws.close();
row('terminal keystroke → echo', echo);
console.log('  (goal: p50 <= 5 ms)');
record('shell.terminal_echo.p50', pct(echo, 50), 'ms', { goal: '<= 5' });
record('shell.terminal_echo.p95', pct(echo, 95), 'ms');

// ------------------------------------------------------------------ files
const mib = 24;
const data = crypto.randomBytes(mib << 20);
const up = [];
const down = [];
const host = [];
const shm = fs.mkdtempSync('/dev/shm/bhbench-');
fs.mkdirSync(path.join(shm, 'a'));
fs.mkdirSync(path.join(shm, 'b'));
fs.writeFileSync(path.join(shm, 'a', 'f'), data);
for (let i = 0; i < Math.max(3, Math.floor(runs / 2)); i++) {
  let t0 = performance.now();
  let r = await api('PUT', `/api/v1/sessions/${s.id}/files/f.bin`, undefined, data);
  up.push(mib / ((performance.now() - t0) / 1000));
  if (r.status !== 201) throw new Error(`put: ${r.status} ${r.buf}`);
  t0 = performance.now();
  r = await api('GET', `/api/v1/sessions/${s.id}/files/f.bin`);
  down.push(mib / ((performance.now() - t0) / 1000));
  if (r.status !== 200 || r.buf.length !== data.length) throw new Error(`get: ${r.status}`);
  t0 = performance.now();
  spawnSync('cp', [path.join(shm, 'a', 'f'), path.join(shm, 'b', 'f')]);
  host.push(mib / ((performance.now() - t0) / 1000));
}
fs.rmSync(shm, { recursive: true, force: true });
await del(s);
console.log();
console.log(`${`files, ${mib} MiB`.padEnd(44)} ${'p50'.padStart(9)} ${'p95'.padStart(9)}`);
const rowMB = (name, xs) => console.log(`${name.padEnd(44)} ${pct(xs, 50).toFixed(0).padStart(9)} ${pct(xs, 5).toFixed(0).padStart(9)} MB/s (p50, p5)`);
rowMB('upload (PUT /files)', up);
rowMB('download (GET /files)', down);
rowMB('cp between two tmpfs dirs on the host', host);
record('shell.upload.p50', pct(up, 50), 'MB/s', { baseline: pct(host, 50) });
record('shell.download.p50', pct(down, 50), 'MB/s', { baseline: pct(host, 50) });
console.log(`${'ratio upload / cp, download / cp'.padEnd(44)} ${(pct(up, 50) / pct(host, 50)).toFixed(2).padStart(9)} ${(pct(down, 50) / pct(host, 50)).toFixed(2).padStart(9)}`);
