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
import { run, must } from './lib/sh.js';
import os from 'node:os';

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

// The attack-surface probe (lib/probe.c), built static once per suite run.
const PROBE_SRC = new URL('./lib/probe.c', import.meta.url).pathname;
async function buildProbe() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bhtest-probe-'));
  const bin = path.join(dir, 'probe');
  await must('cc', ['-static', '-O2', '-o', bin, PROBE_SRC]);
  return { bin, dir };
}
// Put the probe in a session's /tmp (its tmpfs belongs to the session's user
// namespace: only an id mapped there can create files in it) and return a
// function that runs it there as the sandbox user, under the container's
// seccomp filter (runtime exec, not nsenter).
async function probeIn(rt, runDir, cid, bin) {
  const exec = (argv, input) => run(rt, ['--root', path.join(runDir, rt), 'exec', '--user', '1000:1000', cid, ...argv], { timeout: 30000, input });
  const put = await exec(['/bin/sh', '-c', 'cat > /tmp/.bh-probe && chmod 755 /tmp/.bh-probe && echo PUT'], fs.readFileSync(bin));
  assert.match(put.stdout, /PUT/, `cannot put the probe into the sandbox: ${put.stderr}`);
  return async (...args) => {
    const r = await exec(['/tmp/.bh-probe', ...args]);
    return `${r.stdout}${r.stderr}`.trim();
  };
}
const onHost = async (bin, ...args) => {
  const r = await run(bin, args, { timeout: 30000 });
  return `${r.stdout}${r.stderr}`.trim();
};
// Host ids of /etc/passwd, /etc/group (ids) and /etc/subuid, /etc/subgid (ranges)
function hostIdRanges() {
  const out = [];
  for (const [f, fields, ranged] of [['passwd', [2, 3], false], ['group', [2], false], ['subuid', [1], true], ['subgid', [1], true]]) {
    for (const l of (read(`/etc/${f}`) || '').split('\n')) {
      const c = l.split(':');
      for (const i of fields) {
        if (c.length <= i || !/^\d+$/.test(c[i])) continue;
        const a = Number(c[i]);
        out.push({ f, name: c[0], lo: a, hi: ranged ? a + Number(c[i + 1]) : a + 1 });
      }
    }
  }
  return out;
}

describe('isolation: the sandbox baseline on a live session', () => {
  const env = suiteEnv();
  let s;
  let procs = []; // [{pid, comm, cmd, status}]
  let exec; // (user, argv) → run result
  let probe; // {bin, dir}
  let inside; // (...args) → the probe's output inside the session

  before(async () => {
    await env.start();
    s = await env.d.create({ url: env.url('/') });
    const rt = s.sandbox.runtime;
    exec = (user, argv) => run(rt, ['--root', path.join(env.d.runDir, rt), 'exec', '--user', user, s.sandbox.id, ...argv], { timeout: 30000 });
    probe = await buildProbe();
    inside = await probeIn(rt, env.d.runDir, s.sandbox.id, probe.bin);
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
  after(async () => {
    if (probe) fs.rmSync(probe.dir, { recursive: true, force: true });
    await env.finish();
  }, { timeout: 180000 });

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

  // Each session is in a user namespace of its own whose ids 0..65535 map
  // to a host range that no host account uses and no other session shares.
  it('user namespace: the session\'s ids map to a host range of its own, not the identity, used by no host account', () => {
    const um = uidMapOf(s.sandbox.pid);
    const gm = (read(`/proc/${s.sandbox.pid}/gid_map`) || '').trim().split(/\s+/).map(Number);
    assert.equal(um.length, 1, `uid_map of the init: ${JSON.stringify(um)}`);
    const [inside0, base, count] = um[0];
    assert.deepEqual([inside0, count], [0, 65536], `uid_map ${JSON.stringify(um)}: want ids 0..65535 mapped`);
    assert.ok(base >= 65536, `uid_map ${JSON.stringify(um)} maps the session onto low host ids (identity or host accounts)`);
    assert.deepEqual(gm, [0, base, 65536], `gid_map ${gm} differs from the uid_map`);
    assert.notEqual(nsOf(s.sandbox.pid, 'user'), fs.readlinkSync('/proc/self/ns/user'), 'the init is in the host\'s user namespace');
    const clash = hostIdRanges().filter((r) => r.lo < base + 65536 && r.hi > base);
    assert.deepEqual(clash, [], `host accounts inside the session range ${base}..${base + 65535}`);
    // every process of the session runs as a host id of that range (as seen
    // from the host), the browser as inside uid 1000
    const bad = procs.filter((p) => p.status.Uid.split(/\s+/).map(Number).some((u) => u < base || u >= base + 65536))
      .map((p) => `${p.pid} (${p.comm}) Uid ${p.status.Uid}`);
    assert.deepEqual(bad, [], 'processes outside the session\'s host uid range');
    const browser = procs.find((p) => p.cmd.includes('--remote-debugging-pipe'));
    assert.equal(Number(browser.status.Uid.split(/\s+/)[0]), base + 1000, 'the browser is not uid 1000 of the session');
    process.stderr.write(`isolation: session ${s.id} maps to host ids ${base}..${base + 65535}\n`);
  });

  it('user namespace: two concurrent sessions get disjoint host ranges, freed when they end', { timeout: 120000 }, async () => {
    const s2 = await env.d.create({ url: 'about:blank' });
    const a = uidMapOf(s.sandbox.pid)[0];
    const b = uidMapOf(s2.sandbox.pid)[0];
    const leases = fs.readdirSync('/run/bulkhead/userns');
    await env.d.del(s2.id);
    assert.ok(a && b, 'no uid_map');
    assert.ok(a[1] + a[2] <= b[1] || b[1] + b[2] <= a[1], `ranges overlap: ${JSON.stringify(a)} and ${JSON.stringify(b)}`);
    assert.ok(leases.includes(String(a[1])) && leases.includes(String(b[1])), `leases ${leases} lack ${a[1]} or ${b[1]}`);
    assert.ok(!fs.readdirSync('/run/bulkhead/userns').includes(String(b[1])), `the range ${b[1]} is still leased after its session ended`);
  });

  // An unprivileged process can make a user namespace and, in a network
  // namespace it owns, hold CAP_NET_ADMIN: nf_tables then accepts its
  // batches (the entry of a family of kernel privilege escalations). The
  // filter denies NETLINK_NETFILTER sockets, and nested namespaces inherit it.
  it('inside, a new user+network namespace gets no nf_tables (NEWTABLE); on the host the same probe does', async () => {
    const host = await onHost(probe.bin, 'nft-newtable');
    assert.match(host, /^ok nf_tables NEWTABLE/, `negative control: the probe fails on the host too: ${host}`);
    const got = await inside('nft-newtable');
    assert.match(got, /^denied: socket\(AF_NETLINK, NETLINK_NETFILTER\): EPERM/, `inside the session: ${got}`);
  });

  // The i386 ABI's socketcall(2) passes socket()'s arguments in memory, where
  // seccomp cannot see them: the filter admits the native architecture only.
  it('inside, a 32-bit socketcall(SYS_SOCKET) fails (AF_VSOCK and even AF_INET); on the host it works', async () => {
    const host = await onHost(probe.bin, 'socketcall32', '40', '1', '0');
    assert.match(host, /^ok socketcall/, `negative control: 32-bit socketcall(AF_VSOCK) fails on the host too: ${host}`);
    for (const fam of ['40', '2']) {
      const got = await inside('socketcall32', fam, '1', '0');
      assert.match(got, /^(killed by signal 31|denied: socketcall: E)/, `32-bit socketcall(${fam}) inside the session: ${got}`);
    }
    const native = await inside('socket', '40', '1', '0');
    assert.match(native, /^denied: socket: EPERM/, `native socket(AF_VSOCK) inside: ${native}`);
  });

  // Netlink: only NETLINK_ROUTE, which Chromium uses (measured with strace).
  it('inside, netlink sockets other than NETLINK_ROUTE fail; NETLINK_ROUTE works; on the host all work', async () => {
    // NETLINK_SOCK_DIAG 4, NETLINK_XFRM 6, NETLINK_AUDIT 9, NETLINK_NETFILTER 12,
    // NETLINK_KOBJECT_UEVENT 15, NETLINK_GENERIC 16
    const forbidden = ['4', '6', '9', '12', '15', '16'];
    const bad = [];
    for (const proto of forbidden) {
      const host = await onHost(probe.bin, 'socket', '16', '3', proto);
      if (!/^ok/.test(host)) bad.push(`negative control: netlink ${proto} fails on the host: ${host}`);
      const got = await inside('socket', '16', '3', proto);
      if (!/^denied: socket: EPERM/.test(got)) bad.push(`netlink protocol ${proto} inside: ${got}`);
    }
    const route = await inside('socket', '16', '3', '0');
    if (!/^ok/.test(route)) bad.push(`NETLINK_ROUTE inside: ${route}`);
    assert.deepEqual(bad, []);
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

  it('stops cleanly and leaves nothing behind', { timeout: 180000 }, async () => {
    if (probe) fs.rmSync(probe.dir, { recursive: true, force: true });
    await env.finish();
  });
});

// The stricter mode: no nested user namespaces at all (seccomp refuses
// CLONE_NEWUSER), so nothing in the session ever holds a capability; the
// price is Chromium's own sandbox, which is built on them (docs/security.md).
describe('isolation: --nested-userns deny', () => {
  const env = suiteEnv({ args: ['--nested-userns', 'deny'] });
  let s;
  let probe;
  let inside;

  before(async () => {
    await env.start();
    s = await env.d.create({ url: env.url('/') });
    probe = await buildProbe();
    inside = await probeIn(s.sandbox.runtime, env.d.runDir, s.sandbox.id, probe.bin);
  }, { timeout: LOCK_WAIT + 120000 });
  after(async () => {
    if (probe) fs.rmSync(probe.dir, { recursive: true, force: true });
    await env.finish();
  }, { timeout: 180000 });

  it('no user namespace can be made inside (so no nf_tables either); on the host the probe can', async () => {
    const host = await onHost(probe.bin, 'userns');
    assert.match(host, /^ok/, `negative control: unshare(CLONE_NEWUSER) fails on the host too: ${host}`);
    const u = await inside('userns');
    assert.match(u, /^denied: unshare\(CLONE_NEWUSER\): EPERM/, `inside: ${u}`);
    const n = await inside('nft-newtable');
    assert.match(n, /^denied: unshare\(CLONE_NEWUSER\|CLONE_NEWNET\): EPERM/, `inside: ${n}`);
    const sc = await inside('socketcall32', '40', '1', '0');
    assert.match(sc, /^(killed by signal 31|denied: socketcall: E)/, `32-bit socketcall inside: ${sc}`);
  });

  it('Chromium runs and renders, every process in the container\'s user namespace, none with a capability', { timeout: 60000 }, async () => {
    assert.equal(s.status, 'ready');
    const shot = await env.d.api('GET', `/api/v1/sessions/${s.id}/screenshot`);
    assert.equal(shot.status, 200, `screenshot: ${shot.status} ${shot.text.slice(0, 200)}`);
    assert.equal(shot.contentType, 'image/png');
    const initUser = nsOf(s.sandbox.pid, 'user');
    const pids = (read(path.join(cgroupDirOf(s.sandbox.pid, 'pids'), 'cgroup.procs')) || '').split('\n').filter(Boolean);
    const bad = [];
    for (const pid of pids) {
      const st = statusOf(pid);
      if (!st) continue;
      if (nsOf(pid, 'user') !== initUser) bad.push(`${pid} in another user namespace`);
      if (!/^0+$/.test(st.CapEff) || !/^0+$/.test(st.CapPrm)) bad.push(`${pid} CapEff ${st.CapEff}`);
    }
    assert.deepEqual(bad, []);
    assert.ok(pids.some((p) => cmdlineOf(p).includes('--no-sandbox')), 'the browser does not run with --no-sandbox in this mode');
  });

  it('stops cleanly and leaves nothing behind', { timeout: 180000 }, async () => {
    if (probe) fs.rmSync(probe.dir, { recursive: true, force: true });
    await env.finish();
  });
});
