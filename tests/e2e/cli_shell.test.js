// cli_shell.test.js — the CLI of shell sessions (docs/terminal.md), the real
// binary against a real daemon: `bulkhead shell` on a real pseudo-terminal
// (lib/pty_run.py: raw mode, the window size and its changes, the shell's
// exit status, the terminal restored), `exec` (POST and --stream: exit
// statuses, stdin, stdout/stderr, timeout), `cp` (a 20 MiB file both ways,
// byte for byte; a directory with -r; the API's path errors said for
// people), `labs` and `check`, and `create --type shell --workspace/--lab`.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { run } from './lib/sh.js';

const T = { timeout: 180000 };
const PTY_RUN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib/pty_run.py');

// A lab for labs/check: the check passes once ~/hello.txt says hello.
const labsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bhtest-labs-'));
fs.mkdirSync(path.join(labsDir, 'hello'));
fs.writeFileSync(path.join(labsDir, 'hello/lab.json'), JSON.stringify({
  title: 'Say hello', description: 'Write *hello* into `~/hello.txt`.', timeLimit: 900,
}));
fs.writeFileSync(path.join(labsDir, 'hello/setup'), 'echo "write hello into hello.txt" > ~/README\n');
fs.writeFileSync(path.join(labsDir, 'hello/check'),
  'if [ "$(cat ~/hello.txt 2>/dev/null)" = hello ]; then echo "hello.txt says hello"; else echo "hello.txt does not say hello"; exit 1; fi\n');

describe('cli: shell, exec, cp, labs, check', () => {
  const env = suiteEnv({ args: ['--labs-dir', labsDir] });
  before(env.start, { timeout: LOCK_WAIT });
  after(async () => {
    await env.finish();
    fs.rmSync(labsDir, { recursive: true, force: true });
  }, { timeout: 240000 });

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bhtest-clishell-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const cliEnv = () => ({ ...process.env, BULKHEAD_URL: env.d.base, BULKHEAD_TOKEN: env.d.token });
  const cli = (args, o = {}) => run(env.d.bin, args, { timeout: 120000, env: cliEnv(), ...o });
  const show = (r) => `exit ${r.code ?? r.signal}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`;
  const ok = (r, what) => {
    assert.equal(r.code, 0, `${what}: ${show(r)}`);
    return r;
  };
  // The program on a pseudo-terminal of rows x cols, typing steps (see pty_run.py).
  const onPty = async (args, steps, { rows = 24, cols = 80 } = {}) => {
    const r = await run('python3', [PTY_RUN, JSON.stringify(steps), env.d.bin, ...args], {
      timeout: 150000, env: { ...cliEnv(), PTY_ROWS: String(rows), PTY_COLS: String(cols) },
    });
    assert.equal(r.code, 0, `pty_run: ${show(r)}`);
    return JSON.parse(r.stdout);
  };

  // Every terminal of a session first replays the last 64 KiB of output, so
  // what a test waits for must be new: a number no earlier test printed,
  // computed by the shell (the echo of the typed line does not contain it).
  let seq = 1000 + Math.floor(Math.random() * 1e6);
  const marker = () => {
    const n = (seq += 10);
    return { cmd: `echo m-$((${n}+1))`, text: `m-${n + 1}` };
  };

  const once = (fn) => { let p = null; return () => (p ||= fn()); };
  // The shell session most tests use, made through the CLI.
  const shellSession = once(async () => {
    const r = ok(await cli(['create', '--type', 'shell', '--workspace', '48M', '--json']), 'create --type shell');
    const s = JSON.parse(r.stdout);
    assert.equal(s.type, 'shell', r.stdout);
    return s.id;
  });

  it('help: the commands are listed and each has its --help', async () => {
    const h = ok(await cli(['help']), 'help');
    for (const c of ['shell', 'exec', 'cp', 'labs', 'check']) {
      assert.match(h.stdout, new RegExp(`^  ${c} `, 'm'), `help lists ${c}`);
      const one = ok(await cli([c, '--help']), `${c} --help`);
      assert.match(one.stdout, new RegExp(`^usage: bulkhead ${c} `), `${c} --help`);
      assert.equal(ok(await cli(['help', c]), `help ${c}`).stdout, one.stdout);
    }
    assert.match(ok(await cli(['create', '--help']), 'create --help').stdout, /--workspace BYTES[\s\S]*--lab NAME/);
    // usage errors are 2
    assert.equal((await cli(['exec'])).code, 2);
    assert.equal((await cli(['exec', 'x'])).code, 2);
    assert.equal((await cli(['cp', 'a', 'b'])).code, 2);
    assert.equal((await cli(['cp', 'x:a', 'y:b'])).code, 2);
    assert.equal((await cli(['create', '--workspace', 'lots'])).code, 2);
    assert.equal((await cli(['create', '--type', 'browser', '--lab', 'hello'])).code, 2);
  });

  it('create --type shell --workspace: the session has that workspace', T, async () => {
    const id = await shellSession();
    const g = JSON.parse(ok(await cli(['get', id, '--json']), 'get').stdout);
    assert.equal(g.type, 'shell');
    assert.equal(g.workspace.sizeBytes, 48 << 20, JSON.stringify(g.workspace));
    const df = ok(await cli(['exec', id, '--', 'df', '-B1', '--output=size', '/home/user']), 'exec df');
    assert.equal(Number(df.stdout.trim().split('\n').pop()), 48 << 20, df.stdout);
  });

  it('shell on a terminal: raw mode, its size and a resize, the exit status, the terminal restored', T, async () => {
    const id = await shellSession();
    const m = marker();
    const n = seq;
    const res = await onPty(['shell', id], [
      { termios: 'before' },
      { send: `${m.cmd}\r` },
      { expect: m.text },
      { termios: 'during' },
      // the first size is sent before any input: no waiting needed
      { send: `echo size=$(stty size) done=$((${n}+2))\r` },
      { expect: `size=30 100 done=${n + 2}` },
      // a resize reaches the session with SIGWINCH (kernel → bulkhead → WebSocket): ask until it shows
      { size: [40, 120] },
      { until: 'size=40 120', send: `echo size=$(stty size) w=$((${n}+3))\r`, wait: `w=${n + 3}` },
      { send: `echo hi-$((${n}*7)); exit 3\r` },
    ], { rows: 30, cols: 100 });
    assert.equal(res.failed, null, `${res.failed}\n${res.output}`);
    assert.ok(res.output.includes(`hi-${n * 7}`), res.output);
    assert.equal(res.exit, 3, res.output);
    assert.deepEqual(res.modes.before, { icanon: true, echo: true }, 'the pty starts cooked');
    assert.deepEqual(res.modes.during, { icanon: false, echo: false }, 'raw while the shell runs');
    assert.deepEqual(res.modes.end, { icanon: true, echo: true }, 'cooked again after the exit');
  });

  it('shell: a SIGTERM ends it with the terminal restored; Ctrl-D ends the shell; the workspace stays', T, async () => {
    const id = await shellSession();
    const m = marker();
    const res = await onPty(['shell', id], [
      { send: `echo kept > ~/kept.txt; ${m.cmd}\r` },
      { expect: m.text },
      { termios: 'during' },
      { signal: 'TERM' },
    ]);
    assert.equal(res.failed, null, `${res.failed}\n${res.output}`);
    assert.equal(res.signal, 'SIGTERM');
    assert.deepEqual(res.modes.during, { icanon: false, echo: false });
    assert.deepEqual(res.modes.end, { icanon: true, echo: true }, 'the terminal was left raw');
    // the same shell still runs: exit it with Ctrl-D at its prompt (the
    // prompt after the marker: the line editor is reading then)
    const m2 = marker();
    const r2 = await onPty(['shell', id], [
      { send: `cat ~/kept.txt; ${m2.cmd}\r` },
      { expect: m2.text },
      { expect: '$ ', after: m2.text },
      { send: '\x04' },
    ]);
    assert.equal(r2.failed, null, `${r2.failed}\n${r2.output}`);
    assert.match(r2.output, /kept\r?\n/);
    assert.equal(r2.exit, 0, r2.output);
  });

  it('shell with standard input not a terminal: typed as input, its end is `exit`', T, async () => {
    const id = await shellSession();
    const n = (seq += 10);
    const r = await cli(['shell', id], { input: `echo hi-$((${n}*7)); exit 3\n` });
    assert.equal(r.code, 3, show(r));
    assert.ok(r.stdout.includes(`hi-${n * 7}`), r.stdout);
    // without an exit of its own: the shell ends with the last line's status
    const r2 = await cli(['shell', id], { input: `echo bye-$((${n}*7)); sleep 1; false` });
    assert.equal(r2.code, 1, show(r2));
    assert.ok(r2.stdout.includes(`bye-${n * 7}`), r2.stdout);
    const r3 = await cli(['shell', id], { input: 'true\n' });
    assert.equal(r3.code, 0, show(r3));
  });

  it('exec: exit statuses, stdout and stderr apart, stdin, --env, --cwd, timeout 124, 127', T, async () => {
    const id = await shellSession();
    for (const stream of [[], ['--stream']]) {
      const what = `exec ${stream.join(' ')}`;
      let r = await cli(['exec', id, ...stream, '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
      assert.equal(r.code, 7, `${what}: ${show(r)}`);
      assert.equal(r.stdout, 'out\n', what);
      assert.equal(r.stderr, 'err\n', what);
      r = ok(await cli(['exec', id, ...stream, 'tr', 'a-z', 'A-Z'], { input: 'piped in\n' }), `${what} stdin`);
      assert.equal(r.stdout, 'PIPED IN\n', what);
      r = ok(await cli(['exec', id, ...stream, '--env', 'GREETING=hi there', '--cwd', '/', '--', 'sh', '-c', 'echo "$GREETING in $(pwd) as $(id -un)"']), `${what} env`);
      assert.equal(r.stdout, 'hi there in / as user\n', what);
      r = await cli(['exec', id, ...stream, 'no-such-command-here']);
      assert.equal(r.code, 127, `${what}: ${show(r)}`);
      r = await cli(['exec', id, ...stream, 'sh', '-c', 'kill -TERM $$']);
      assert.equal(r.code, 128 + 15, `${what}: ${show(r)}`);
    }
    const t = await cli(['exec', id, '--timeout', '1', '--', 'sleep', '30']);
    assert.equal(t.code, 124, show(t));
    assert.match(t.stderr, /timed out/);
    const neg = ok(await cli(['exec', id, '--timeout', '30', '--', 'true']), 'exec true');
    assert.equal(neg.stderr, '');
    // a browser session is not a shell session
    const b = await env.d.create({ url: env.url('/') });
    const e = await cli(['exec', b.id, 'true']);
    assert.equal(e.code, 1, show(e));
    assert.match(e.stderr, /not a shell session/);
    await env.d.del(b.id);
  });

  it('exec --stream: binary stdin and stdout, 4 MiB through cat, byte for byte', T, async () => {
    const id = await shellSession();
    const data = crypto.randomBytes(4 << 20);
    const inFile = path.join(tmp, 'stream.in');
    const outFile = path.join(tmp, 'stream.out');
    fs.writeFileSync(inFile, data);
    const r = await run('sh', ['-c', `"$0" exec "$1" --stream cat < "$2" > "$3"`, env.d.bin, id, inFile, outFile], { env: cliEnv(), timeout: 120000 });
    assert.equal(r.code, 0, show(r));
    assert.ok(fs.readFileSync(outFile).equals(data), 'the bytes that came back differ');
  });

  it('cp: a 20 MiB file up and down, byte for byte; into a directory; a directory with -r', T, async () => {
    const id = await shellSession();
    const data = crypto.randomBytes(20 << 20);
    const up = path.join(tmp, 'up.bin');
    fs.writeFileSync(up, data);
    ok(await cli(['cp', up, `${id}:data/big.bin`]), 'cp up');
    const sum = ok(await cli(['exec', id, 'sha256sum', 'data/big.bin']), 'sha256sum');
    assert.equal(sum.stdout.split(' ')[0], crypto.createHash('sha256').update(data).digest('hex'));
    const down = path.join(tmp, 'down.bin');
    ok(await cli(['cp', `${id}:/home/user/data/big.bin`, down]), 'cp down');
    assert.ok(fs.readFileSync(down).equals(data), 'the downloaded file differs');
    assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.includes('bhcp')), [], 'a temporary file was left');
    // into a directory, under the file's own name
    ok(await cli(['cp', up, `${id}:data/`]), 'cp into data/');
    const ls = ok(await cli(['exec', id, 'ls', 'data']), 'ls').stdout.split('\n');
    assert.ok(ls.includes('up.bin'), ls.join(' '));
    const dl = path.join(tmp, 'dl');
    fs.mkdirSync(dl);
    ok(await cli(['cp', `${id}:~/data/up.bin`, dl]), 'cp into a local dir');
    assert.ok(fs.readFileSync(path.join(dl, 'up.bin')).equals(data));

    // a directory both ways
    const tree = path.join(tmp, 'tree');
    fs.mkdirSync(path.join(tree, 'sub/deeper'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'a.txt'), 'alpha\n');
    fs.writeFileSync(path.join(tree, 'sub/deeper/b.bin'), data.subarray(0, 100000));
    assert.equal((await cli(['cp', tree, `${id}:tree`])).code, 1, 'a directory without -r');
    ok(await cli(['cp', '-r', tree, `${id}:tree`]), 'cp -r up');
    const cat = ok(await cli(['exec', id, 'cat', 'tree/a.txt']), 'cat');
    assert.equal(cat.stdout, 'alpha\n');
    const back = path.join(tmp, 'back');
    ok(await cli(['cp', '-r', `${id}:tree`, back]), 'cp -r down');
    assert.equal(fs.readFileSync(path.join(back, 'a.txt'), 'utf8'), 'alpha\n');
    assert.ok(fs.readFileSync(path.join(back, 'sub/deeper/b.bin')).equals(data.subarray(0, 100000)));
    const noR = await cli(['cp', `${id}:tree`, path.join(tmp, 'x')]);
    assert.equal(noR.code, 1, show(noR));
    assert.match(noR.stderr, /directory \(use -r\)/);
    ok(await cli(['exec', id, 'rm', '-rf', 'data', 'tree']), 'clean up');
  });

  it('cp: the API\'s path errors, said for people', T, async () => {
    const id = await shellSession();
    const local = path.join(tmp, 'small.txt');
    fs.writeFileSync(local, 'small\n');
    let r = await cli(['cp', `${id}:nothing/here`, path.join(tmp, 'n')]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /no such file or directory \(not_found/);
    assert.ok(!fs.existsSync(path.join(tmp, 'n')), 'a failed download left a file');
    r = await cli(['cp', local, `${id}:../escape.txt`]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /no '\.' or '\.\.' component/);
    r = await cli(['cp', local, `${id}:a/./b`]);
    assert.equal(r.code, 1, show(r));
    ok(await cli(['exec', id, 'ln', '-sfn', '/etc', 'outside']), 'ln -s');
    r = await cli(['cp', `${id}:outside/hostname`, path.join(tmp, 'h')]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /leads out of the workspace .*\(path_escapes, HTTP 403\)/);
    r = await cli(['cp', local, `${id}:/etc/passwd`]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /outside the workspace/);
    ok(await cli(['exec', id, 'rm', 'outside']), 'rm');
  });

  it('cp: a full workspace is 507, said for people, and nothing of the upload is left', T, async () => {
    const r0 = ok(await cli(['create', '--type', 'shell', '--workspace', '8M']), 'create 8M');
    const id = r0.stdout.trim();
    const big = path.join(tmp, 'big12.bin');
    fs.writeFileSync(big, crypto.randomBytes(12 << 20));
    const r = await cli(['cp', big, `${id}:big12.bin`]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /the workspace is full; nothing of it was kept .*HTTP 507/);
    const ls = ok(await cli(['exec', id, 'ls', '-A']), 'ls').stdout;
    assert.ok(!ls.includes('big12'), ls);
    ok(await cli(['rm', id]), 'rm');
  });

  it('labs and check: the lab is listed; create --lab; check fails, then passes', T, async () => {
    const l = ok(await cli(['labs']), 'labs');
    assert.match(l.stdout, /^NAME\s+TIME LIMIT\s+TITLE$/m);
    assert.match(l.stdout, /^hello\s+15m\s+Say hello$/m);
    const lj = JSON.parse(ok(await cli(['labs', '--json']), 'labs --json').stdout);
    assert.equal(lj.labs.find((x) => x.name === 'hello').timeLimit, 900);
    const c = ok(await cli(['create', '--lab', 'hello']), 'create --lab');
    const id = c.stdout.trim();
    const readme = ok(await cli(['exec', id, 'cat', 'README']), 'setup ran');
    assert.equal(readme.stdout, 'write hello into hello.txt\n');
    let r = await cli(['check', id]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout, /does not say hello\nFAILED\n$/);
    ok(await cli(['exec', id, 'sh', '-c', 'echo hello > hello.txt']), 'do the lab');
    r = ok(await cli(['check', id]), 'check');
    assert.match(r.stdout, /hello.txt says hello\nPASSED\n$/);
    ok(await cli(['rm', id]), 'rm');
    const bad = await cli(['create', '--lab', 'no-such-lab']);
    assert.equal(bad.code, 1, show(bad));
  });

  it('the shell session ends cleanly', T, async () => {
    ok(await cli(['rm', await shellSession()]), 'rm');
  });

  it('stops cleanly and leaves nothing behind', { timeout: 240000 }, () => env.finish());
});
