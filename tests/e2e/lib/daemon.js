// daemon.js — start the real bulkhead daemon for a test file, talk to its API,
// stop it. Each daemon gets fresh temp state and run directories (unless a
// test passes the previous ones to restart on the same state), the test bridge
// bht0 with subnet 10.215.0.0/16, and a free port on 127.0.0.1.
//
//   const d = await startDaemon();
//   const r = await d.api('POST', '/api/v1/sessions', { url });   // {status, json, body, ...}
//   await d.stop();                                               // SIGTERM, expects exit 0
//
// The binary is $BULKHEAD_BIN, else build/bulkhead of this repository. The
// daemon is started through `setpriv --pdeathsig TERM`, so it ends (and cleans
// up) if the test process dies. Its stderr is kept (and written to
// STATE/daemon.stderr.log); failures include its tail.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run, sleep } from './sh.js';
import { snapshot, ownCgroups } from './leaks.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = process.env.BULKHEAD_BIN ? path.resolve(process.env.BULKHEAD_BIN) : path.join(REPO, 'build/bulkhead');
export const BRIDGE = 'bht0';
export const SUBNET = '10.215.0.0/16';

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function tail(s, n = 6000) {
  return s.length > n ? `…${s.slice(-n)}` : s;
}

// Start a daemon. opts: runtime ('runc'|'crun'), token (passed with --token),
// envToken (passed as BULKHEAD_TOKEN), stateDir/runDir (reuse, e.g. to
// restart), baseline (leaks.snapshot() from before the first start, when
// restarting after a crash), args (extra CLI args), healthTimeout (ms, default
// 20000), nofile (RLIMIT_NOFILE set by prlimit before it starts: N for soft
// and hard, or 'SOFT:HARD'). $BULKHEAD_E2E_RUNTIME picks the runtime when opts.runtime is unset.
export async function startDaemon(opts = {}) {
  if (!fs.existsSync(BIN)) throw new Error(`bulkhead binary not found at ${BIN} (build it, or set BULKHEAD_BIN)`);
  const stateDir = opts.stateDir || fs.mkdtempSync(path.join(os.tmpdir(), 'bhtest-state-'));
  const runDir = opts.runDir || fs.mkdtempSync(path.join(os.tmpdir(), 'bhtest-run-'));
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const args = ['serve', '--listen', listen, '--state-dir', stateDir, '--run-dir', runDir,
    '--bridge', BRIDGE, '--subnet', SUBNET];
  const runtime = opts.runtime || process.env.BULKHEAD_E2E_RUNTIME || null;
  if (runtime) args.push('--runtime', runtime);
  if (opts.token) args.push('--token', opts.token);
  if (opts.args) args.push(...opts.args);
  const env = { ...process.env };
  delete env.BULKHEAD_TOKEN;
  delete env.BULKHEAD_URL;
  if (opts.envToken) env.BULKHEAD_TOKEN = opts.envToken;

  const baseline = opts.baseline || await snapshot();
  if (!baseline.ids) baseline.ids = new Set();
  const logPath = path.join(stateDir, 'daemon.stderr.log');
  const logFd = fs.openSync(logPath, 'a');
  fs.writeSync(logFd, `\n==== ${new Date().toISOString()} ${BIN} ${args.join(' ')}\n`);
  const argv = ['setpriv', '--pdeathsig', 'TERM', BIN, ...args];
  if (opts.nofile) argv.unshift('prlimit', `--nofile=${String(opts.nofile).includes(':') ? opts.nofile : `${opts.nofile}:${opts.nofile}`}`); // execs: same pid
  const proc = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const onData = (d) => {
    stderr += d;
    if (stderr.length > 4 << 20) stderr = stderr.slice(-(2 << 20));
    try { fs.writeSync(logFd, d); } catch { /* closed */ }
    if (process.env.BULKHEAD_E2E_VERBOSE) process.stderr.write(d);
  };
  proc.stderr.setEncoding('utf8').on('data', onData);
  proc.stdout.setEncoding('utf8').on('data', onData);
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  let exitInfo = null;
  exited.then((e) => { exitInfo = e; try { fs.closeSync(logFd); } catch { /* */ } });

  const base = `http://${listen}`;
  const d = {
    bin: BIN, stateDir, runDir, port, base, bridge: BRIDGE, subnet: SUBNET, proc, baseline,
    runtime,
    pid: proc.pid, // setpriv execs the daemon: same pid
    token: opts.token || opts.envToken || null,
    cgroups: null,
    get stderr() { return stderr; },
    get exited() { return exitInfo; },
    logPath,
  };

  // Wait for /healthz; an early exit fails with the daemon's stderr.
  const end = Date.now() + (opts.healthTimeout || 20000);
  let last = '';
  for (;;) {
    if (exitInfo) {
      throw new Error(`daemon exited before it was healthy (${exitInfo.code ?? exitInfo.signal}); stderr:\n${tail(stderr)}`);
    }
    try {
      const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) });
      const text = await r.text();
      if (r.status === 200) {
        let j;
        try { j = JSON.parse(text); } catch { j = null; }
        if (!j || j.status !== 'ok') throw new Error(`/healthz answered 200 with ${JSON.stringify(text)}, expected {"status":"ok"}`);
        break;
      }
      last = `HTTP ${r.status} ${text.slice(0, 200)}`;
    } catch (e) {
      if (e.message.startsWith('/healthz')) { proc.kill('SIGKILL'); throw e; }
      last = e.cause ? `${e.message}: ${e.cause.message}` : e.message;
    }
    if (Date.now() > end) {
      proc.kill('SIGKILL');
      await exited;
      throw new Error(`daemon not healthy after ${opts.healthTimeout || 20000} ms (last: ${last}); stderr:\n${tail(stderr)}`);
    }
    await sleep(100);
  }
  d.cgroups = ownCgroups(d.pid);
  const tokenFile = path.join(stateDir, 'token');
  if (!d.token) {
    if (!fs.existsSync(tokenFile)) throw new Error(`daemon is healthy but wrote no ${tokenFile}`);
    d.token = fs.readFileSync(tokenFile, 'utf8').trim();
  }

  // api(method, path, body?, {token, headers, raw, timeout}) → {status, headers,
  // contentType, body (Buffer), text, json}. body: object → JSON; string/Buffer → as is.
  // token: undefined → the daemon's token, null → no Authorization header,
  // string → that token.
  d.api = async (method, p, body, o = {}) => {
    const headers = { ...(o.headers || {}) };
    const tok = o.token === undefined ? d.token : o.token;
    if (tok !== null) headers.authorization = `Bearer ${tok}`;
    let payload;
    if (body !== undefined) {
      payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    let r;
    try {
      r = await fetch(`${base}${p}`, { method, headers, body: payload, signal: AbortSignal.timeout(o.timeout || 240000) });
    } catch (e) {
      throw new Error(`${method} ${p}: ${e.message}${e.cause ? `: ${e.cause.message}` : ''}\ndaemon stderr:\n${tail(stderr, 3000)}`);
    }
    const buf = Buffer.from(await r.arrayBuffer());
    const text = buf.toString('utf8');
    let json;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    // learn the session ids this daemon reports (leaks.js attributes resources by them)
    if (json && typeof json === 'object') {
      if (typeof json.id === 'string') baseline.ids.add(json.id);
      if (Array.isArray(json.sessions)) for (const x of json.sessions) if (x && typeof x.id === 'string') baseline.ids.add(x.id);
    }
    return { status: r.status, headers: r.headers, contentType: r.headers.get('content-type') || '', body: buf, text, json };
  };

  // Create a session and insist on 201 (with the daemon's stderr in the error).
  d.create = async (body = {}, o = {}) => {
    const r = await d.api('POST', '/api/v1/sessions', body, o);
    if (r.status !== 201) {
      throw new Error(`POST /api/v1/sessions ${JSON.stringify(body).slice(0, 300)} → ${r.status} ${r.text.slice(0, 1000)}\ndaemon stderr:\n${tail(stderr, 3000)}`);
    }
    return r.json;
  };

  d.del = async (id) => {
    const r = await d.api('DELETE', `/api/v1/sessions/${encodeURIComponent(id)}`);
    if (r.status !== 204) {
      throw new Error(`DELETE ${id} → ${r.status} ${r.text.slice(0, 500)}\ndaemon stderr:\n${tail(stderr, 3000)}`);
    }
    return r;
  };

  d.list = async (query = '') => {
    const r = await d.api('GET', `/api/v1/sessions${query}`);
    if (r.status !== 200 || !r.json || !Array.isArray(r.json.sessions)) {
      throw new Error(`GET /api/v1/sessions${query} → ${r.status} ${r.text.slice(0, 500)}`);
    }
    return r.json.sessions;
  };

  // SIGTERM; wait for the exit; throws (with the stderr tail) unless it exits 0
  // within `timeout` ms (then it is SIGKILLed).
  d.stop = async ({ timeout = 90000 } = {}) => {
    if (!exitInfo) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), timeout);
      const e = await exited;
      clearTimeout(t);
      if (e.signal === 'SIGKILL') throw new Error(`daemon did not exit within ${timeout} ms of SIGTERM; stderr:\n${tail(stderr)}`);
    }
    const e = exitInfo;
    if (e.code !== 0) throw new Error(`daemon exited with ${e.code ?? e.signal} after SIGTERM (expected 0); stderr:\n${tail(stderr)}`);
    return e;
  };

  // SIGKILL (for crash-recovery tests); resolves when it is gone.
  d.kill = async () => {
    if (!exitInfo) proc.kill('SIGKILL');
    return exited;
  };

  d.dump = (why = '') => {
    process.stderr.write(`---- daemon stderr${why ? ` (${why})` : ''} [${logPath}] ----\n${tail(stderr, 20000)}\n---- end daemon stderr ----\n`);
  };

  return d;
}

// After the daemon is gone: remove the test bridge and nft tables that name it
// (they are not session resources, but a test run should leave the host as it
// found it). Returns what it found, for a diagnostic.
export async function removeTestNetwork() {
  const found = [];
  if ((await run('ip', ['link', 'show', 'dev', BRIDGE])).code === 0) {
    found.push(`bridge ${BRIDGE}`);
    await run('ip', ['link', 'del', BRIDGE]);
  }
  const t = await run('nft', ['list', 'tables']);
  for (const line of t.stdout.split('\n')) {
    const m = line.match(/^table (\S+) (\S+)$/);
    if (m && m[2].includes(BRIDGE)) {
      found.push(`nft table ${m[1]} ${m[2]}`);
      await run('nft', ['delete', 'table', m[1], m[2]]);
    }
  }
  return found;
}

// Remove the temp dirs of a stopped daemon, unless something is still mounted
// under them (then deleting would reach into the mount: keep them and say so).
export function removeDirs(d) {
  const mi = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const busy = mi.split('\n').filter((l) => l.includes(d.stateDir) || l.includes(d.runDir));
  if (busy.length) return `kept ${d.stateDir} and ${d.runDir}: still mounted:\n${busy.join('\n')}`;
  fs.rmSync(d.stateDir, { recursive: true, force: true });
  fs.rmSync(d.runDir, { recursive: true, force: true });
  return null;
}
