// isolation.test.js — the sandbox baseline, checked from the host on a live
// session, for every process in its container: namespaces, capabilities,
// no_new_privs, seccomp, uid, Chromium's own sandbox, read-only root, tmpfs
// limits, cgroup placement and limits, no host secrets, no debugging port.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { ownCgroups, cgroupDirOf } from './lib/leaks.js';
import { run } from './lib/sh.js';

const NS = ['pid', 'mnt', 'net', 'ipc', 'uts'];

function read(p) {
  try { return fs.readFileSync(p, 'utf8'); } catch { return null; }
}
function statusOf(pid) {
  const t = read(`/proc/${pid}/status`);
  if (t === null) return null;
  const o = {};
  for (const l of t.split('\n')) {
    const i = l.indexOf(':');
    if (i > 0) o[l.slice(0, i)] = l.slice(i + 1).trim();
  }
  return o;
}
// argv of a process. Chromium's zygote children rewrite their command line as
// one space-separated string, so split that too.
const cmdlineOf = (pid) => {
  const a = (read(`/proc/${pid}/cmdline`) || '').split('\0').filter(Boolean);
  return a.length === 1 ? a[0].split(' ').filter(Boolean) : a;
};
// uid_map of a process, as seen from the host: [[inside, outside, count]]
const uidMapOf = (pid) => (read(`/proc/${pid}/uid_map`) || '').trim().split('\n').filter(Boolean)
  .map((l) => l.trim().split(/\s+/).map(Number));
const nsOf = (pid, ns) => { try { return fs.readlinkSync(`/proc/${pid}/ns/${ns}`); } catch { return null; } };
const isChromium = (p) => /chrom/i.test(p.comm) || /chrom/i.test(p.cmd[0] || '');

// mountinfo of a process → [{mp, opts, fstype, superOpts}]
function mountsOf(pid) {
  return (read(`/proc/${pid}/mountinfo`) || '').split('\n').filter(Boolean).map((l) => {
    const [pre, post] = l.split(' - ');
    const f = pre.split(' ');
    const [fstype, , superOpts] = (post || '').split(' ');
    return { mp: f[4], opts: f[5], fstype, superOpts: superOpts || '' };
  });
}
// The mount that is visible at `mp` (the last one mounted there).
const mountAt = (pid, mp) => mountsOf(pid).filter((m) => m.mp === mp).pop();

describe('isolation: the sandbox baseline on a live session', () => {
  const env = suiteEnv();
  let s;
  let procs = []; // [{pid, comm, cmd, status}]
  let exec; // (user, argv) → run result

  before(async () => {
    await env.start();
    s = await env.d.create({ url: env.url('/') });
    const rt = s.sandbox.runtime;
    exec = (user, argv) => run(rt, ['--root', path.join(env.d.runDir, rt), 'exec', '--user', user, s.sandbox.id, ...argv], { timeout: 30000 });
    // Every process of the container: its cgroup (pids and memory hierarchies, recursively).
    const pids = new Set();
    const collect = (dir) => {
      if (!dir) return;
      for (const p of (read(path.join(dir, 'cgroup.procs')) || '').split('\n').filter(Boolean)) pids.add(Number(p));
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) collect(path.join(dir, e.name));
    };
    collect(cgroupDirOf(s.sandbox.pid, 'pids'));
    collect(cgroupDirOf(s.sandbox.pid, 'memory'));
    if (rt === 'runc') {
      const r = await run('runc', ['--root', path.join(env.d.runDir, 'runc'), 'ps', '--format', 'json', s.sandbox.id]);
      if (r.code === 0) for (const p of JSON.parse(r.stdout || '[]') || []) pids.add(Number(p));
    }
    procs = [...pids].sort((a, b) => a - b).map((pid) => ({
      pid, comm: (read(`/proc/${pid}/comm`) || '').trim(), cmd: cmdlineOf(pid), status: statusOf(pid),
    })).filter((p) => p.status);
    process.stderr.write(`isolation: ${procs.length} processes in the sandbox:\n${procs.map((p) => `  ${p.pid} ${p.comm} uid=${p.status.Uid} ${p.cmd.join(' ').slice(0, 100)}`).join('\n')}\n`);
  }, { timeout: LOCK_WAIT + 120000 });
  after(env.finish, { timeout: 180000 });

  it('the container has Chromium processes, including its init', () => {
    assert.ok(procs.some((p) => p.pid === s.sandbox.pid), `sandbox.pid ${s.sandbox.pid} is not among the container's processes ${procs.map((p) => p.pid)}`);
    assert.ok(procs.filter(isChromium).length >= 3, `expected a browser, a zygote and a renderer; found ${procs.map((p) => p.comm).join(', ')}`);
  });

  it('every process is in pid, mnt, net, ipc and uts namespaces other than the daemon\'s', () => {
    const bad = [];
    for (const p of procs) {
      for (const ns of NS) {
        const mine = nsOf(env.d.pid, ns);
        const its = nsOf(p.pid, ns);
        if (its && its === mine) bad.push(`${p.pid} (${p.comm}) shares the daemon's ${ns} namespace ${its}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  // Capabilities in /proc/PID/status are relative to the process's own user
  // namespace. In the container's user namespace every process must have none.
  // Chromium's namespace sandbox makes nested user namespaces in which its
  // zygote may hold capabilities (CAP_SYS_ADMIN there, to set up the renderer
  // sandbox); those count only inside that namespace, so they are allowed if
  // the namespace maps no id to host root (it was made by the unprivileged user).
  it('every process: CapEff and CapPrm 0 (or confined to Chromium\'s own user namespace), NoNewPrivs 1, Seccomp 2', () => {
    const bad = [];
    const initUser = nsOf(s.sandbox.pid, 'user');
    for (const p of procs) {
      const st = p.status;
      const nested = nsOf(p.pid, 'user') !== initUser;
      const hasCaps = !/^0+$/.test(st.CapEff) || !/^0+$/.test(st.CapPrm);
      if (hasCaps && !nested) bad.push(`${p.pid} (${p.comm}) CapEff ${st.CapEff} CapPrm ${st.CapPrm} in the container's user namespace`);
      if (hasCaps && nested) {
        const map = uidMapOf(p.pid);
        const toRoot = map.some(([, out, n]) => out === 0 || (out <= 0 && out + n > 0));
        if (!map.length || toRoot) bad.push(`${p.pid} (${p.comm}) CapEff ${st.CapEff} in a user namespace mapping host root (uid_map ${JSON.stringify(map)})`);
        else process.stderr.write(`isolation: note: ${p.pid} (${p.cmd.find((a) => a.startsWith('--type=')) || p.comm}) has CapEff ${st.CapEff} inside Chromium's user namespace (uid_map ${JSON.stringify(map)})\n`);
      }
      if (st.CapAmb !== undefined && !/^0+$/.test(st.CapAmb)) bad.push(`${p.pid} (${p.comm}) CapAmb ${st.CapAmb}`);
      if (st.NoNewPrivs !== '1') bad.push(`${p.pid} (${p.comm}) NoNewPrivs ${st.NoNewPrivs}`);
      if (st.Seccomp !== '2') bad.push(`${p.pid} (${p.comm}) Seccomp ${st.Seccomp}`);
    }
    assert.deepEqual(bad, []);
  });

  it('Chromium never runs as uid 0 and never with --no-sandbox; CDP over a pipe, no debugging port', () => {
    const bad = [];
    for (const p of procs) {
      if (isChromium(p)) {
        const uids = p.status.Uid.split(/\s+/).map(Number);
        const gids = p.status.Gid.split(/\s+/).map(Number);
        if (uids.includes(0)) bad.push(`${p.pid} (${p.comm}) Uid ${p.status.Uid}`);
        if (gids.includes(0)) bad.push(`${p.pid} (${p.comm}) Gid ${p.status.Gid}`);
      }
      if (p.cmd.some((a) => a === '--no-sandbox' || a.startsWith('--no-sandbox='))) bad.push(`${p.pid} (${p.comm}) runs with --no-sandbox`);
      if (p.cmd.some((a) => a.startsWith('--remote-debugging-port'))) bad.push(`${p.pid} (${p.comm}) has ${p.cmd.find((a) => a.startsWith('--remote-debugging-port'))}`);
    }
    assert.deepEqual(bad, []);
    assert.ok(procs.some((p) => p.cmd.includes('--remote-debugging-pipe')), 'no Chromium process with --remote-debugging-pipe');
    // nothing listens on TCP inside the session's network namespace
    const listening = [];
    for (const f of ['tcp', 'tcp6']) {
      for (const l of (read(`/proc/${s.sandbox.pid}/net/${f}`) || '').split('\n').slice(1)) {
        const c = l.trim().split(/\s+/);
        if (c[3] === '0A') listening.push(`${f} ${c[1]}`);
      }
    }
    assert.deepEqual(listening, [], 'TCP sockets listening inside the session netns');
  });

  it('Chromium\'s own sandbox is on: its renderers/zygote are in another user namespace than the container init', () => {
    const initUser = nsOf(s.sandbox.pid, 'user');
    const sandboxed = procs.filter((p) => isChromium(p) && nsOf(p.pid, 'user') !== initUser);
    assert.ok(sandboxed.length > 0, `every Chromium process is in the init's user namespace ${initUser}: ${procs.map((p) => `${p.pid}:${nsOf(p.pid, 'user')}`).join(' ')}`);
    const renderers = procs.filter((p) => p.cmd.includes('--type=renderer'));
    assert.ok(renderers.length > 0, 'no renderer process');
    for (const r of renderers) {
      assert.notEqual(nsOf(r.pid, 'user'), initUser, `renderer ${r.pid} is not in a user namespace of its own`);
      assert.notEqual(nsOf(r.pid, 'pid'), nsOf(s.sandbox.pid, 'pid'), `renderer ${r.pid} is not in a pid namespace of its own`);
    }
  });

  it('root file system is read-only (seen from the host and by writing as uid 0 and 1000 inside)', async () => {
    const root = mountAt(s.sandbox.pid, '/');
    assert.ok(root, 'no / in the sandbox mountinfo');
    assert.ok(root.opts.split(',').includes('ro'), `/ is mounted ${root.opts}`);
    for (const dir of ['/usr', '/etc']) {
      const m = mountsOf(s.sandbox.pid).filter((x) => x.mp === dir || dir.startsWith(`${x.mp === '/' ? '' : x.mp}/`)).pop();
      assert.ok(m && m.opts.split(',').includes('ro'), `${dir} is writable in the sandbox (${m && m.mp} ${m && m.opts})`);
    }
    const hello = await exec('1000:1000', ['/bin/sh', '-c', 'echo hello']);
    assert.equal(hello.stdout.trim(), 'hello', `exec into the sandbox does not work: ${hello.code} ${hello.stderr}`);
    for (const user of ['0:0', '1000:1000']) {
      for (const f of ['/x', '/usr/x', '/etc/x']) {
        const r = await exec(user, ['/bin/sh', '-c', `touch ${f} && echo WROTE`]);
        assert.ok(!r.stdout.includes('WROTE'), `user ${user} could create ${f} in the sandbox`);
        if (user === '0:0') assert.match(r.stderr, /Read-only file system/, `touch ${f} as 0:0 failed, but not because / is read-only: ${r.stderr}`);
      }
    }
    const tmp = await exec('1000:1000', ['/bin/sh', '-c', 'echo x > /tmp/ok && cat /tmp/ok']);
    assert.equal(tmp.stdout.trim(), 'x', `the sandbox user cannot write /tmp: ${tmp.stderr}`);
  });

  it('/tmp and /dev/shm are tmpfs with a size limit', async () => {
    for (const mp of ['/tmp', '/dev/shm']) {
      const m = mountAt(s.sandbox.pid, mp);
      assert.ok(m, `${mp} is not a mount in the sandbox`);
      assert.equal(m.fstype, 'tmpfs', `${mp} is ${m.fstype}`);
      const size = m.superOpts.split(',').find((o) => o.startsWith('size='));
      assert.ok(size, `${mp} tmpfs has no size= (${m.superOpts})`);
      const r = await exec('1000:1000', ['stat', '-f', '-c', '%b %S %T', mp]);
      assert.equal(r.code, 0, `stat -f ${mp}: ${r.stderr}`);
      const [blocks, bsize] = r.stdout.trim().split(' ').map(Number);
      const bytes = blocks * bsize;
      assert.ok(bytes > 0 && bytes <= 4 * 2 ** 30, `${mp} is ${bytes} bytes inside, expected a limit (> 0, ≤ 4 GiB)`);
      process.stderr.write(`isolation: ${mp} ${m.superOpts} (${bytes} bytes)\n`);
    }
  });

  it('no host secrets inside: no /etc/shadow, /etc/gshadow, ssh keys, or the daemon\'s state', async () => {
    const root = `/proc/${s.sandbox.pid}/root`;
    const found = ['/etc/shadow', '/etc/gshadow', '/etc/ssh', '/root/.ssh', env.d.stateDir, path.join(env.d.stateDir, 'token')]
      .filter((p) => fs.existsSync(path.join(root, p)));
    assert.deepEqual(found, [], 'visible inside the sandbox');
    const r = await exec('1000:1000', ['/bin/sh', '-c', 'test -e /etc/shadow && echo PRESENT; cat /etc/passwd']);
    assert.ok(!r.stdout.includes('PRESENT'), '/etc/shadow exists inside');
    assert.ok(r.stdout.trim().length > 0, `no /etc/passwd inside (Chromium needs its user): ${r.stderr}`);
  });

  // In a user namespace of its own the sandbox user is root over a mount
  // namespace it owns, where the kernel would allow mounting a tmpfs: only the
  // seccomp filter stops it. User namespaces themselves must stay allowed
  // (Chromium's sandbox needs them).
  it('seccomp allows user namespaces but denies mount, even inside one', async () => {
    const u = await exec('1000:1000', ['unshare', '-Ur', 'id', '-u']);
    assert.equal(u.stdout.trim(), '0', `cannot create a user namespace in the sandbox (Chromium's sandbox needs it): ${u.code} ${u.stderr}`);
    const r = await exec('1000:1000', ['unshare', '-Urm', '--propagation', 'unchanged', '/bin/sh', '-c', 'mount -t tmpfs none /tmp && echo MOUNTED']);
    assert.ok(!r.stdout.includes('MOUNTED'), `mount succeeded inside the sandbox: ${r.stdout} ${r.stderr}`);
    assert.match(r.stderr, /not permitted|permission denied/i, `mount failed for another reason than a denial: ${r.stderr}`);
  });

  it('cgroups: bulkhead/<id> under the daemon\'s own cgroup in every hierarchy, with the session\'s limits', () => {
    const own = env.d.cgroups;
    const its = ownCgroups(s.sandbox.pid);
    const bad = [];
    for (const o of own) {
      const c = its.find((x) => x.controllers === o.controllers);
      const want = path.join(o.rel, 'bulkhead', s.id);
      if (!c) bad.push(`${o.controllers || 'cgroup2'}: sandbox not in this hierarchy`);
      else if (c.rel !== want) bad.push(`${o.controllers || 'cgroup2'}: ${c.rel}, expected ${want}`);
    }
    assert.deepEqual(bad, [], 'cgroup placement');
    const mem = cgroupDirOf(s.sandbox.pid, 'memory');
    assert.equal(Number(read(path.join(mem, 'memory.limit_in_bytes'))), s.limits.memoryBytes, 'memory.limit_in_bytes = limits.memoryBytes');
    const pids = cgroupDirOf(s.sandbox.pid, 'pids');
    assert.equal(read(path.join(pids, 'pids.max')).trim(), String(s.limits.pids), 'pids.max = limits.pids');
    const cpu = cgroupDirOf(s.sandbox.pid, 'cpu');
    const quota = Number(read(path.join(cpu, 'cpu.cfs_quota_us')));
    const period = Number(read(path.join(cpu, 'cpu.cfs_period_us')));
    assert.ok(quota > 0, `cpu.cfs_quota_us is ${quota}: no CPU limit`);
    assert.ok(Math.abs(quota / period - s.limits.cpus) < 0.01, `cpu quota/period = ${quota}/${period}, limits.cpus = ${s.limits.cpus}`);
  });

  it('deleting the session removes all its processes', { timeout: 60000 }, async () => {
    await env.d.del(s.id);
    const alive = procs.filter((p) => {
      const st = read(`/proc/${p.pid}/stat`);
      return st && !/^\d+ \(.*\) Z /.test(st) && (read(`/proc/${p.pid}/cgroup`) || '').includes(s.id);
    });
    assert.deepEqual(alive.map((p) => `${p.pid} ${p.comm}`), [], 'still running after DELETE');
  });

  it('stops cleanly and leaves nothing behind', { timeout: 180000 }, () => env.finish());
});
