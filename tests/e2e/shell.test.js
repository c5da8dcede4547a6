// shell.test.js — shell sessions (docs/terminal.md) against a real daemon:
// the agent in a real sandbox, a real PTY, real files in a real tmpfs
// workspace. The terminal (typing, resize, vim), exec (exit codes, stdin,
// timeouts that kill the whole group, truncation, the streamed form),
// files (round trips, listings, every way out of the workspace refused, a
// full workspace), labs (a check that fails, then passes after the fix),
// and the leak checks at the end.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { startDaemon } from './lib/daemon.js';
import { findLeaks, sessionLeftovers } from './lib/leaks.js';
import { checkError } from './lib/check.js';
import { waitFor } from './lib/sh.js';

const T = { timeout: 120000 };

// The labs of this suite: a folder the daemon reads with --labs-dir.
const LABS = fs.mkdtempSync(path.join(os.tmpdir(), 'bh-labs-'));
fs.chmodSync(LABS, 0o755);
const lab = (name, json, setup, check) => {
  fs.mkdirSync(path.join(LABS, name));
  fs.writeFileSync(path.join(LABS, name, 'lab.json'), JSON.stringify(json));
  if (setup) fs.writeFileSync(path.join(LABS, name, 'setup'), setup);
  fs.writeFileSync(path.join(LABS, name, 'check'), check);
};
lab('hello', { title: 'Say hello', description: '# Hello\nMake `hello.sh` executable.', timeLimit: 600 },
  'printf "#!/bin/sh\\necho hello\\n" > hello.sh\n',
  '[ -x hello.sh ] && [ "$(./hello.sh)" = hello ] && echo ok || { echo "hello.sh does not run"; exit 1; }\n');

// and the labs bulkhead ships (examples/labs), each with the fix a user makes
const EXAMPLES = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../examples/labs');
const FIXES = {
  'hello-script': 'chmod +x hello.sh',
  'port-8080': 'pgrep -f "^python3 -m http.server 8080" > ~/answer',
  'first-commit': 'cd ~/project && git init -q && echo "# project" > README.md && git add README.md && git -c user.name=u -c user.email=u@example.com commit -qm first',
};
for (const name of fs.readdirSync(EXAMPLES)) fs.cpSync(path.join(EXAMPLES, name), path.join(LABS, name), { recursive: true });

lab('offline', { title: 'Offline', network: { policy: 'none' } }, null, 'exit 0\n');
const env = suiteEnv({ args: ['--labs-dir', LABS] });
before(env.start, { timeout: LOCK_WAIT });
after(async () => {
  await env.finish();
  fs.rmSync(LABS, { recursive: true, force: true });
});

const api = (...a) => env.d.api(...a);
const exec = async (s, body, o = {}) => {
  const r = await api('POST', `/api/v1/sessions/${s.id}/exec`, body, { timeout: 60000, ...o });
  return r;
};

// A terminal client: the channel protocol of docs/terminal.md.
function terminal(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const t = { ws, out: '', status: null, closed: null };
    ws.binaryType = 'nodebuffer';
    ws.on('message', (m) => {
      const ch = m[0];
      if (ch === 1) {
        const o = m.subarray(1).toString('utf8');
        t.out += o;
        // answer what full-screen programs ask a terminal (vim waits for it)
        if (o.includes('\x1b[6n')) t.send('\x1b[1;1R');
        if (o.includes('\x1b[>c')) t.send('\x1b[>0;95;0c');
      }
      if (ch === 3) t.status = JSON.parse(m.subarray(1).toString('utf8'));
    });
    ws.on('close', (code, reason) => { t.closed = { code, reason: reason.toString() }; });
    ws.on('open', () => resolve(t));
    ws.on('error', reject);
    t.send = (s) => ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(s)]));
    t.resize = (cols, rows) => ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: cols, Height: rows }))]));
    t.until = async (re, what) => {
      const end = Date.now() + 20000;
      while (!re.test(t.out)) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(t.out.slice(-400))} (closed: ${JSON.stringify(t.closed)})`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
  });
}
const wsUrl = (s, p) => `${env.d.base.replace(/^http/, 'ws')}/api/v1/sessions/${s.id}${p}`;
const auth = () => ({ authorization: `Bearer ${env.d.token}`, origin: env.d.base });

describe('shell sessions', () => {
  let s;
  it('creates a shell session: ready, read-only root, a workspace, an unprivileged user with no capabilities', T, async () => {
    s = await env.d.create({ type: 'shell', workspace: { sizeBytes: 320 << 20 } });
    assert.equal(s.type, 'shell');
    assert.equal(s.status, 'ready');
    assert.equal(s.workspace.sizeBytes, 320 << 20);
    assert.match(s.urls.terminal, /\/terminal/);
    const r = await exec(s, { argv: ['bash', '-c', 'id -u; id -un; grep CapEff /proc/self/status; touch /usr/x 2>&1; df -B1 --output=size,target /home/user | tail -1; pwd; for t in bash ls ps less vim git curl python3 tar; do command -v $t >/dev/null || echo missing $t; done'] });
    assert.equal(r.status, 200, r.text);
    const out = r.json.stdout;
    assert.match(out, /^1000\nuser\n/);
    assert.match(out, /CapEff:\s+0000000000000000/);
    assert.match(out, /Read-only file system/);
    assert.match(out, /335544320 \/home\/user/);
    assert.match(out, /\n\/home\/user\n/);
    assert.doesNotMatch(out, /missing/);
  });

  it('exec: exit codes, stdin, env and cwd, errors for what cannot run', T, async () => {
    let r = await exec(s, { argv: ['sh', '-c', 'exit 7'] });
    assert.equal(r.json.exitCode, 7);
    assert.equal(r.json.timedOut, false);
    r = await exec(s, { argv: ['python3', '-c', 'import sys,os; print(sys.stdin.read().upper(), os.environ["FOO"], os.getcwd())'], stdin: 'héllo', env: { FOO: 'bar' }, cwd: '/tmp' });
    assert.equal(r.json.exitCode, 0, r.text);
    assert.equal(r.json.stdout, 'HÉLLO bar /tmp\n');
    r = await exec(s, { argv: ['sh', '-c', 'echo err >&2; printf "\\377ok"'] });
    assert.equal(r.json.stderr, 'err\n');
    assert.equal(r.json.stdout, '\ufffdok');
    r = await exec(s, { argv: ['no-such-command'] });
    checkError(r, 404, 'not_found');
    r = await exec(s, { argv: [] });
    checkError(r, 400, 'invalid_field');
    r = await exec(s, { argv: ['true'], timeoutSeconds: 0 });
    assert.equal(r.status, 400);
    r = await exec(s, { argv: ['true'], bogus: 1 });
    assert.equal(r.status, 400);
  });

  it('exec: a command that hangs is killed at its timeout with its children; output is capped and marked', T, async () => {
    let r = await exec(s, { argv: ['bash', '-c', 'sleep 300 & echo $! > /tmp/child; sleep 300'], timeoutSeconds: 1 });
    assert.equal(r.json.timedOut, true, r.text);
    assert.equal(r.json.exitCode, null);
    assert.equal(r.json.signal, 'KILL');
    const child = (await exec(s, { argv: ['cat', '/tmp/child'] })).json.stdout.trim();
    r = await exec(s, { argv: ['sh', '-c', `kill -0 ${child} 2>&1 || echo gone`] });
    assert.match(r.json.stdout, /gone/, `the background child ${child} outlived the timeout`);
    r = await exec(s, { argv: ['sh', '-c', 'head -c 3000000 /dev/zero | tr "\\0" a'], maxOutputBytes: 1000 });
    assert.equal(r.json.exitCode, 0);
    assert.equal(r.json.stdout.length, 1000);
    assert.equal(r.json.stdoutTruncated, true);
    assert.equal(r.json.stderrTruncated, false);
  });

  it('exec, streamed: stdin in, stdout and stderr out, the status last', T, async () => {
    const ws = new WebSocket(wsUrl(s, '/exec'), { headers: auth() });
    const got = { 1: '', 2: '', status: null };
    await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
    const closed = new Promise((res) => ws.on('close', (code) => res(code)));
    ws.on('message', (m) => {
      if (m[0] === 3) got.status = JSON.parse(m.subarray(1).toString());
      else got[m[0]] += m.subarray(1).toString();
    });
    ws.send(JSON.stringify({ argv: ['sh', '-c', 'tr a-z A-Z; echo done >&2; exit 3'] }));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('streamed\n')]));
    ws.send(Buffer.from([255, 0]));
    assert.equal(await closed, 1000);
    assert.equal(got[1], 'STREAMED\n');
    assert.equal(got[2], 'done\n');
    assert.equal(got.status.exitCode, 3);
  });

  it('terminal: a login shell that runs commands; resize changes stty size; UTF-8; vim opens, writes and quits', T, async () => {
    const t = await terminal(wsUrl(s, '/terminal'), auth());
    t.resize(100, 30);
    t.send('echo hi-$((6*7)) ünï; stty size\r');
    await t.until(/hi-42 ünï\r?\n30 100/, 'echo and stty size');
    t.resize(132, 43);
    t.send('stty size\r');
    await t.until(/43 132/, 'stty size after the resize');
    t.send('vim -u NONE /tmp/v.txt\r');
    await t.until(/~ {20}/, 'vim shows its empty buffer');
    // this client is no terminal emulator: give vim its startup (it asks the
    // terminal things and waits a while for answers) before typing, and its
    // 'timeoutlen' after the Esc
    await new Promise((r) => setTimeout(r, 1500));
    t.send('ihello from vim\x1b');
    await new Promise((r) => setTimeout(r, 1500));
    t.send('ZZ');
    // vim flushes typeahead as it gives the terminal back: wait for the prompt
    await t.until(/1 line, 15 bytes written[\s\S]*\$ $/, 'vim wrote the file and quit');
    t.send('cat /tmp/v.txt\r');
    await t.until(/\rhello from vim\r\n/, 'the file vim wrote');
    t.ws.close();
  });

  it('terminal: several viewers see one shell; a view link cannot type', T, async () => {
    const a = await terminal(wsUrl(s, '/terminal'), auth());
    const b = await terminal(wsUrl(s, '/terminal'), auth());
    a.send('echo shared-$((2+3))\r');
    await a.until(/shared-5/, 'viewer a');
    await b.until(/shared-5/, 'viewer b');
    const link = await api('POST', `/api/v1/sessions/${s.id}/links`, { scope: 'view' });
    assert.equal(link.status, 201, link.text);
    const v = await terminal(link.json.urls.terminal, { origin: env.d.base });
    await v.until(/shared-5/, 'the view link sees the scrollback');
    v.send('echo typed-by-viewer\r');
    await waitFor(() => v.closed, { timeout: 10000, what: 'the view link closed' });
    assert.equal(v.closed.code, 1008);
    a.send('echo after\r');
    await a.until(/after/, 'after');
    assert.doesNotMatch(a.out, /typed-by-viewer/);
    a.ws.close();
    b.ws.close();
  });

  it('terminal: a yes flood with a viewer that does not read leaves the daemon flat', T, async () => {
    const rss = () => Number(fs.readFileSync(`/proc/${env.d.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
    const t = await terminal(wsUrl(s, '/terminal'), auth());
    const rss0 = rss();
    t.ws._socket.pause(); // stop reading: the daemon's queue to it must stay bounded
    t.send('yes flood-flood-flood-flood\r');
    await new Promise((r) => setTimeout(r, 5000));
    const rss1 = rss();
    t.ws._socket.resume();
    process.stderr.write(`shell: yes flood with a stalled viewer: daemon RSS ${rss0} → ${rss1} KiB\n`);
    assert.ok(rss1 - rss0 < 32 * 1024, `the daemon grew by ${rss1 - rss0} KiB during the flood`);
    t.send('\x03');
    t.ws.terminate();
    const u = await terminal(wsUrl(s, '/terminal'), auth());
    // readline may take a key or two of what follows a ^C as it redraws:
    // ask again until the shell answers
    for (let i = 0; i < 20 && !/alive-2/.test(u.out); i++) {
      u.send('\x03');
      await new Promise((r) => setTimeout(r, 300));
      u.send('echo alive-$((1+1))\r');
      await new Promise((r) => setTimeout(r, 700));
    }
    await u.until(/alive-2/, 'the shell after the flood');
    u.ws.close();
  });

  it('files: 100 MiB up and down byte for byte, the daemon flat; list, delete; a directory as tar both ways', T, async () => {
    const rss = () => Number(fs.readFileSync(`/proc/${env.d.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
    const rss0 = rss();
    let peak = rss0;
    const sampler = setInterval(() => { peak = Math.max(peak, rss()); }, 20);
    const data = crypto.randomBytes(100 << 20);
    let r = await api('PUT', `/api/v1/sessions/${s.id}/files/dir/sub/blob.bin`, data, { timeout: 120000, raw: true, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.size, data.length);
    r = await api('GET', `/api/v1/sessions/${s.id}/files/dir/sub/blob.bin`, undefined, { timeout: 120000, raw: true });
    clearInterval(sampler);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length'), String(data.length));
    assert.ok(Buffer.compare(r.body, data) === 0, 'the file came back different');
    process.stderr.write(`shell: 100 MiB up and down: daemon RSS ${rss0} KiB, at most ${peak} KiB\n`);
    assert.ok(peak - rss0 < 48 * 1024, `the daemon grew by ${peak - rss0} KiB moving 100 MiB: it holds what it should stream`);
    r = await api('GET', `/api/v1/sessions/${s.id}/files/dir/sub`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.entries.map((e) => [e.name, e.type, e.size, e.mode]), [['blob.bin', 'file', data.length, '0644']]);
    r = await api('GET', `/api/v1/sessions/${s.id}/files/dir?format=tar`, undefined, { raw: true, timeout: 60000 });
    assert.equal(r.status, 200);
    assert.ok(r.body.length > data.length);
    const tar = r.body;
    r = await api('PUT', `/api/v1/sessions/${s.id}/files/copy`, tar, { raw: true, timeout: 60000, headers: { 'content-type': 'application/x-tar' } });
    assert.equal(r.status, 201, r.text);
    r = await exec(s, { argv: ['cmp', 'dir/sub/blob.bin', 'copy/sub/blob.bin'] });
    assert.equal(r.json.exitCode, 0, r.text);
    r = await api('DELETE', `/api/v1/sessions/${s.id}/files/dir`);
    checkError(r, 409, 'directory_not_empty');
    r = await api('DELETE', `/api/v1/sessions/${s.id}/files/dir?recursive=1`);
    assert.equal(r.status, 204, r.text);
    r = await api('DELETE', `/api/v1/sessions/${s.id}/files/copy?recursive=1`);
    assert.equal(r.status, 204, r.text);
    r = await api('GET', `/api/v1/sessions/${s.id}/files/dir`);
    checkError(r, 404, 'not_found');
  });

  it('files: every way out of the workspace is refused', T, async () => {
    await exec(s, { argv: ['bash', '-c', 'ln -s / root; ln -s ../../etc up; ln -s /proc/self/root proc; ln -s /dev/zero dev; mkfifo fifo; mkdir -p d; echo in > d/f; ln -s d/f rel'] });
    // the HTTP layer resolves `..` in a URL before routing: such a path
    // names no file at all (404), or reaches the kind and is refused (400)
    for (const p of ['..%2Fetc%2Fpasswd', 'a/../../etc/passwd', '..', 'a/%2E%2E/%2E%2E/x']) {
      const r = await api('GET', `/api/v1/sessions/${s.id}/files/${p}`);
      assert.ok([400, 404].includes(r.status), `GET files/${p}: ${r.status} ${r.text}`);
      if (r.status === 400) checkError(r, 400, 'invalid_path', p);
    }
    let refused = 0;
    for (const p of ['a%2F%2E%2E%2F%2E%2E%2Fetc', 'a//b', '%2E/x', 'a/./b']) {
      const r = await api('GET', `/api/v1/sessions/${s.id}/files/${p}`);
      assert.ok([400, 404].includes(r.status), `GET files/${p}: ${r.status} ${r.text}`);
      if (r.status === 400) { checkError(r, 400, 'invalid_path', p); refused++; }
    }
    process.stderr.write(`shell: ${refused} of 4 odd paths reached the kind and were refused (400), the rest 404\n`);
    for (const p of ['root/etc/passwd', 'up/passwd', 'proc/etc/passwd', 'proc', 'dev']) {
      const r = await api('GET', `/api/v1/sessions/${s.id}/files/${p}`);
      checkError(r, 403, 'path_escapes', p);
      const w = await api('PUT', `/api/v1/sessions/${s.id}/files/${p}/x`, Buffer.from('x'), { raw: true });
      assert.ok(w.status === 403 || w.status === 409, `PUT ${p}/x: ${w.status} ${w.text}`);
    }
    let r = await api('GET', `/api/v1/sessions/${s.id}/files/fifo`);
    checkError(r, 403, 'not_a_regular_file');
    r = await api('GET', `/api/v1/sessions/${s.id}/files/rel`, undefined, { raw: true });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'in\n');
    // a symlink swapped back and forth while files are read through it
    const swap = exec(s, { argv: ['bash', '-c', 'for i in $(seq 3000); do ln -sfn d sw; ln -sfn / sw; done'], timeoutSeconds: 60 });
    let inside = 0;
    for (let i = 0; i < 60; i++) {
      const g = await api('GET', `/api/v1/sessions/${s.id}/files/sw/f`, undefined, { raw: true });
      if (g.status === 200) { assert.equal(g.body.toString(), 'in\n'); inside++; } else assert.ok([403, 404].includes(g.status), `${g.status} ${g.text}`);
      const e = await api('GET', `/api/v1/sessions/${s.id}/files/sw/etc/passwd`, undefined, { raw: true });
      assert.notEqual(e.status, 200, 'read /etc/passwd through a swapped symlink');
    }
    await swap;
    process.stderr.write(`shell: symlink swap: ${inside} of 60 reads went to the workspace file, none out\n`);
    await exec(s, { argv: ['bash', '-c', 'rm -rf root up proc dev fifo d rel sw'] });
  });

  it('files: a full workspace answers 507 and leaves no partial file', T, async () => {
    const small = await env.d.create({ type: 'shell', workspace: { sizeBytes: 8 << 20 } });
    try {
      const big = crypto.randomBytes(12 << 20);
      let r = await api('PUT', `/api/v1/sessions/${small.id}/files/big.bin`, big, { raw: true, timeout: 60000 });
      checkError(r, 507, 'no_space');
      const l = await api('GET', `/api/v1/sessions/${small.id}/files`);
      assert.deepEqual(l.json.entries.filter((e) => !e.name.startsWith('.')).map((e) => e.name), [], JSON.stringify(l.json));
      const df = await exec(small, { argv: ['sh', '-c', 'du -sb /home/user | cut -f1'] });
      assert.ok(Number(df.json.stdout) < 1 << 20, `the workspace still holds ${df.json.stdout} bytes`);
      // and a file that fits still goes in whole
      r = await api('PUT', `/api/v1/sessions/${small.id}/files/fits.bin`, big.subarray(0, 4 << 20), { raw: true, timeout: 60000 });
      assert.equal(r.status, 201, r.text);
    } finally {
      await env.d.del(small.id);
    }
  });

  it('DELETE ends it; nothing of it is left', T, async () => {
    await env.d.del(s.id);
    const r = await exec(s, { argv: ['true'] });
    assert.equal(r.status, 409);
  });
});

describe('labs', () => {
  it('lists the labs; a lab session: check fails, then passes after the fix', T, async () => {
    let r = await api('GET', '/api/v1/labs');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.labs.map((l) => l.name), ['first-commit', 'hello', 'hello-script', 'offline', 'port-8080']);
    assert.deepEqual(r.json.labs.find((l) => l.name === 'hello'), { name: 'hello', title: 'Say hello', description: '# Hello\nMake `hello.sh` executable.', timeLimit: 600 });
    r = await api('POST', '/api/v1/sessions', { type: 'shell', lab: 'nope' });
    checkError(r, 400, 'unknown_lab');
    const s = await env.d.create({ type: 'shell', lab: 'hello' });
    assert.equal(s.lab, 'hello');
    assert.ok(s.ttl <= 600, `ttl ${s.ttl}`);
    r = await api('POST', `/api/v1/sessions/${s.id}/check`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.passed, false);
    assert.match(r.json.output, /does not run/);
    await exec(s, { argv: ['chmod', '+x', 'hello.sh'] });
    r = await api('POST', `/api/v1/sessions/${s.id}/check`);
    assert.equal(r.json.passed, true, r.text);
    assert.match(r.json.checkedAt, /^\d{4}-\d\d-\d\dT/);
    const ev = (await api('GET', `/api/v1/sessions/${s.id}/events`)).json.events;
    assert.deepEqual(ev.filter((e) => e.type === 'checked').map((e) => e.detail.passed), [false, true]);
    r = await exec(s, { argv: ['sh', '-c', 'ls -a /; ls -a ~'] });
    assert.doesNotMatch(r.json.stdout, /check/, 'the judge is visible in the session');
    await env.d.del(s.id);
  });

  it("a lab's network applies unless the request names one", T, async () => {
    const s = await env.d.create({ type: 'shell', lab: 'offline' });
    const s2 = await env.d.create({ type: 'shell', lab: 'offline', network: { policy: 'internet' } });
    try {
      const reach = async (x) => (await exec(x, { argv: ['curl', '-s', '-o', '/dev/null', '-m', '5', '-w', '%{http_code}', env.url('/')] })).json.stdout;
      assert.equal(await reach(s), '000', 'the offline lab reached the test site');
      assert.equal(await reach(s2), '200', 'the request\'s own policy');
    } finally {
      await env.d.del(s.id);
      await env.d.del(s2.id);
    }
  });
});

describe('idle timeout and recovery', () => {
  it('the idle timeout counts terminal input; without it the session ends as idle', T, async () => {
    const s = await env.d.create({ type: 'shell', idleTimeout: 4 });
    const t = await terminal(wsUrl(s, '/terminal'), auth());
    for (let i = 0; i < 10; i++) { // 10 s of typing: more than twice the timeout
      t.send(`echo tick-${i}\r`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    let g = (await api('GET', `/api/v1/sessions/${s.id}`)).json;
    assert.equal(g.status, 'ready', 'ended while someone typed');
    await waitFor(async () => {
      g = (await api('GET', `/api/v1/sessions/${s.id}`)).json;
      return g.status === 'ended';
    }, { timeout: 30000, interval: 250, what: 'the idle end' });
    assert.equal(g.endReason, 'idle');
    assert.deepEqual(await sessionLeftovers(env.d, s), []);
  });

  it('after SIGKILL of the daemon mid-flood, the restarted daemon adopts the shell session: same shell, files, exec', { timeout: 180000 }, async () => {
    const s = await env.d.create({ type: 'shell' });
    const t = await terminal(wsUrl(s, '/terminal'), auth());
    t.send('export MARK=kept-$((40+2)); echo file > ~/f; echo set\r');
    await t.until(/\rset\r\n/, 'set');
    t.send('yes half-read-frames\r'); // the channel is full of output when the daemon dies
    await t.until(/half-read-frames\r?\nhalf/, 'the flood');
    await env.d.kill();
    const old = env.d;
    env.d = await startDaemon({ stateDir: old.stateDir, runDir: old.runDir, baseline: old.baseline, args: ['--labs-dir', LABS] });
    let g;
    await waitFor(async () => {
      g = (await env.d.api('GET', `/api/v1/sessions/${s.id}`)).json;
      return g && g.status !== 'starting';
    }, { timeout: 30000, interval: 250, what: 'the adoption' });
    assert.equal(g.status, 'ready', JSON.stringify(g));
    assert.equal(g.sandbox.pid, s.sandbox.pid, 'the same sandbox');
    // the adopted session is ready once its agent answered the new daemon
    const u = await waitFor(() => terminal(wsUrl(s, '/terminal'), auth()).catch(() => null), { timeout: 30000, interval: 200, what: 'the terminal after the adoption' });
    for (let i = 0; i < 20 && !/mark=kept-42/.test(u.out); i++) {
      u.send('\x03');
      await new Promise((r) => setTimeout(r, 300));
      u.send('echo mark=$MARK\r');
      await new Promise((r) => setTimeout(r, 700));
    }
    await u.until(/mark=kept-42/, 'the same login shell');
    u.ws.close();
    const r = await env.d.api('POST', `/api/v1/sessions/${s.id}/exec`, { argv: ['cat', 'f'] });
    assert.equal(r.json.stdout, 'file\n', r.text);
    await env.d.del(s.id);
    assert.deepEqual(await sessionLeftovers(env.d, s), []);
    assert.deepEqual(await findLeaks(env.d), []);
  });
});

describe('the labs bulkhead ships (examples/labs)', () => {
  for (const name of Object.keys(FIXES)) {
    it(`${name}: the check fails as set up, and passes after the fix`, T, async () => {
      const s = await env.d.create({ type: 'shell', lab: name });
      try {
        let r = await api('POST', `/api/v1/sessions/${s.id}/check`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.passed, false, `${name} passes before the fix: ${r.json.output}`);
        const fix = await exec(s, { argv: ['bash', '-c', FIXES[name]] });
        assert.equal(fix.json.exitCode, 0, fix.text);
        r = await api('POST', `/api/v1/sessions/${s.id}/check`);
        assert.equal(r.json.passed, true, `${name} after the fix: ${r.json.output}`);
      } finally {
        await env.d.del(s.id);
      }
    });
  }
});

it('stops cleanly and leaves nothing behind', { timeout: 300000 }, () => env.finish());
