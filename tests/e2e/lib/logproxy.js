// logproxy.js — a forward HTTP proxy that writes down everything a browser
// sends through it, for the test that a session's Chromium sends nothing of
// its own (quiet.test.js). It runs inside world.js's namespace (bhtest-inet,
// beside the test site) and carries requests to the test site only:
//
//   GET http://198.51.100.1:8080/...   forwarded to the site, logged
//   any other http:// request          logged, answered 403 (never forwarded)
//   CONNECT host:port                  logged, answered 403 (never opened)
//
// so nothing it is asked for can leave the test world. Each request is one
// JSON line on stdout: {at, kind: 'http'|'connect', method, url, host}.
//
//   const p = await startLogProxy();   // {url, log(), clear(), stop()}
//   ... create a session with network.proxy = p.url ...
//
// The same file is the proxy's program: `node logproxy.js --host H --port P
// --site H:P`.
import http from 'node:http';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NS, SITE_ADDR, SITE_PORT } from './world.js';
import { waitFor, sleep } from './sh.js';

const SELF = fileURLToPath(import.meta.url);
export const PROXY_PORT = 3129;

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

function serve() {
  const host = arg('host', '127.0.0.1');
  const port = Number(arg('port', String(PROXY_PORT)));
  const site = arg('site', `${SITE_ADDR}:${SITE_PORT}`);
  const log = (o) => process.stdout.write(`${JSON.stringify({ at: Date.now(), ...o })}\n`);
  const srv = http.createServer((req, res) => {
    log({ kind: 'http', method: req.method, url: req.url, host: req.headers.host || '' });
    let target = null;
    try { target = new URL(req.url); } catch { /* not absolute */ }
    if (!target || target.protocol !== 'http:' || target.host !== site) {
      res.writeHead(403, { 'content-type': 'text/plain', connection: 'close' });
      res.end('logproxy: only the test site\n');
      return;
    }
    const [h, p] = site.split(':');
    const up = http.request({ host: h, port: Number(p), path: `${target.pathname}${target.search}`, method: req.method, headers: { ...req.headers, connection: 'close' } }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', (e) => { res.writeHead(502); res.end(`logproxy: ${e.message}\n`); });
    req.pipe(up);
  });
  srv.on('connect', (req, sock) => {
    log({ kind: 'connect', method: 'CONNECT', url: req.url, host: req.headers.host || '' });
    sock.on('error', () => {});
    sock.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
  });
  srv.on('clientError', (e, sock) => { log({ kind: 'bad', method: '', url: String(e.code || e.message), host: '' }); sock.destroy(); });
  srv.listen(port, host, () => log({ kind: 'listening', method: '', url: '', host: `${host}:${port}` }));
  for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
}

// Start the proxy in bhtest-inet (startWorld() must have run).
export async function startLogProxy() {
  const lines = [];
  let out = '';
  let exit = null;
  const proc = spawn('setpriv', ['--pdeathsig', 'KILL', 'ip', 'netns', 'exec', NS, process.execPath, SELF,
    '--host', SITE_ADDR, '--port', String(PROXY_PORT), '--site', `${SITE_ADDR}:${SITE_PORT}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let partial = '';
  proc.stdout.setEncoding('utf8').on('data', (d) => {
    partial += d;
    let i;
    while ((i = partial.indexOf('\n')) >= 0) {
      const l = partial.slice(0, i);
      partial = partial.slice(i + 1);
      try { lines.push(JSON.parse(l)); } catch { out += `${l}\n`; }
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (d) => { out += d; });
  proc.once('exit', (c, s) => { exit = `${c ?? s}`; });
  await waitFor(() => {
    if (exit !== null) throw new Error(`logproxy exited (${exit}): ${out}`);
    return lines.some((l) => l.kind === 'listening');
  }, { timeout: 15000, what: 'the logging proxy' });
  return {
    url: `http://${SITE_ADDR}:${PROXY_PORT}`,
    // what the browser asked of the proxy, oldest first
    log: () => lines.filter((l) => l.kind !== 'listening'),
    clear: () => { lines.length = 0; },
    async stop() {
      if (exit !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([gone, sleep(2000)]);
      if (exit === null) proc.kill('SIGKILL');
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === SELF) serve();
