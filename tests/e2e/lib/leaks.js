// leaks.js — has a daemon left anything of its sessions behind?
//
// findLeaks(d) / assertNoLeaks(d) look, from the host, for every kind of
// resource a session owns and list exactly what they found:
//   * containers:  `runc --root RUN/runc list -q` (and crun's) not empty
//   * netns:       /run/netns/bh-<id>
//   * uid ranges:  leases in /run/bulkhead/userns (<first host id> -> <id>)
//   * veths:       bhv<id prefix> links in `ip -o link`
//   * bundles:     entries under STATE/bundles
//   * session dirs: entries under RUN/sessions (CDP FIFOs, adoption settings)
//   * cgroups:     directories under <daemon's cgroup>/bulkhead/ in every hierarchy
//   * processes:   any process in a .../bulkhead/<id> cgroup, any chromium outside
//                  our pid namespace
//   * mounts:      mountinfo (ours, and the daemon's while it runs) naming the run
//                  dir, the bundles dir or a bh-* netns
// `d` is what startDaemon() returned (stateDir, runDir, pid, cgroups, baseline).
//
// Whose is it? Things that existed before the daemon started are not its.
// Session ids the daemon reported (d.baseline.ids, filled by daemon.js from
// every API answer), its bundle dirs and its runtime root's containers are its.
// Anything else with a bulkhead name is blamed on this daemon too — unless
// another `bulkhead serve` runs on this host (a developer's machine), in which
// case it is only noted (d.foreign), not counted as a leak.
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { run } from './sh.js';

function readdir(p) {
  try { return fs.readdirSync(p); } catch { return []; }
}

function read(p) {
  try { return fs.readFileSync(p, 'utf8'); } catch { return null; }
}

async function netnsNames() {
  return readdir('/run/netns').filter((n) => n.startsWith('bh-'));
}

async function bhvLinks() {
  const r = await run('ip', ['-o', 'link']);
  return r.stdout.split('\n').map((l) => l.match(/^\d+:\s+([^:@\s]+)/)).filter(Boolean)
    .map((m) => m[1]).filter((n) => n.startsWith('bhv'));
}

// Leases of the sessions' user namespace uid ranges: ["<base> <id>"]
export const USERNS_LEASES = '/run/bulkhead/userns';
export function uidLeases() {
  return readdir(USERNS_LEASES).map((b) => {
    try { return `${b} ${fs.readlinkSync(path.join(USERNS_LEASES, b))}`; } catch { return null; }
  }).filter(Boolean);
}

// What exists before a daemon starts, and the set of session ids that will be
// learnt (shared across restarts on the same state: pass it on).
export async function snapshot() {
  return { netns: await netnsNames(), links: await bhvLinks(), uidLeases: uidLeases(), ids: new Set() };
}

// cgroup mounts: [{mountpoint, fstype, opts:Set}]
function cgroupMounts() {
  const out = [];
  for (const line of (read('/proc/self/mountinfo') || '').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const [fstype, , superOpts] = post.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    out.push({ mountpoint: pre.split(' ')[4], fstype, opts: new Set((superOpts || '').split(',')) });
  }
  return out;
}

// The cgroup directories of process `pid`, one per hierarchy:
// [{controllers: 'memory' | 'cpu,cpuacct' | 'name=systemd' | '' (v2), rel, dir}]
export function ownCgroups(pid = 'self') {
  const mounts = cgroupMounts();
  const out = [];
  for (const line of (read(`/proc/${pid}/cgroup`) || '').split('\n')) {
    const m = line.match(/^(\d+):([^:]*):(.*)$/);
    if (!m) continue;
    const [, , ctrls, rel] = m;
    let mnt;
    if (ctrls === '') mnt = mounts.find((x) => x.fstype === 'cgroup2');
    else {
      const want = ctrls.split(',');
      mnt = mounts.find((x) => x.fstype === 'cgroup' && want.every((c) => x.opts.has(c)));
    }
    if (!mnt) continue;
    out.push({ controllers: ctrls, rel, dir: path.join(mnt.mountpoint, rel) });
  }
  return out;
}

// The host directory of `pid`'s cgroup in the hierarchy that has `controller`
// ('memory', 'pids', ... or '' for cgroup2).
export function cgroupDirOf(pid, controller) {
  const c = ownCgroups(pid).find((x) => (controller === '' ? x.controllers === '' : x.controllers.split(',').includes(controller)));
  return c ? c.dir : null;
}

async function runtimeContainers(d, rt) {
  const root = path.join(d.runDir, rt);
  if (!fs.existsSync(root)) return [];
  let r;
  try {
    r = await run(rt, ['--root', root, 'list', '-q'], { timeout: 20000 });
  } catch (e) {
    return [`(${rt} list failed: ${e.message})`];
  }
  if (r.code !== 0) return [`(${rt} --root ${root} list -q failed: ${r.stderr.trim()})`];
  return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
}

function procCmdline(pid) {
  return (read(`/proc/${pid}/cmdline`) || '').split('\0').join(' ').trim();
}

// Pids of `bulkhead serve` processes other than d's.
export function otherDaemons(d) {
  const out = [];
  for (const p of readdir('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === d.pid) continue;
    const argv = (read(`/proc/${p}/cmdline`) || '').split('\0');
    if (argv[0] && path.basename(argv[0]) === 'bulkhead' && argv.includes('serve')) out.push(Number(p));
  }
  return out;
}

// Everything that leaked, as human-readable lines (empty: nothing). Resources
// that may belong to another daemon on this host go to d.foreign instead.
export async function findLeaks(d) {
  const leaks = [];
  const foreign = [];
  const base = d.baseline || { netns: [], links: [], ids: new Set() };
  const ids = new Set(base.ids || []);
  const others = otherDaemons(d);

  // Ours for sure: containers under our runtime roots, our bundle dirs.
  for (const rt of ['runc', 'crun']) {
    for (const c of await runtimeContainers(d, rt)) {
      leaks.push(`container: ${rt} --root ${path.join(d.runDir, rt)}: ${c}`);
      if (c.startsWith('bh-')) ids.add(c.slice(3));
    }
  }
  for (const b of readdir(path.join(d.stateDir, 'bundles'))) {
    leaks.push(`bundle dir: ${path.join(d.stateDir, 'bundles', b)}`);
    ids.add(b);
  }
  for (const b of readdir(path.join(d.runDir, 'sessions'))) {
    leaks.push(`session dir: ${path.join(d.runDir, 'sessions', b)}`);
    ids.add(b);
  }
  const known = (id) => ids.has(id) || [...ids].some((x) => x.startsWith(id) || id.startsWith(x));
  const blame = (id, line) => {
    if (!others.length || (id && known(id))) leaks.push(line);
    else foreign.push(line);
  };

  for (const n of await netnsNames()) if (!base.netns.includes(n)) blame(n.slice(3), `netns: /run/netns/${n}`);
  for (const l of await bhvLinks()) if (!base.links.includes(l)) blame(l.slice(3), `veth: ${l}`);
  for (const l of uidLeases()) {
    if (!(base.uidLeases || []).includes(l)) blame(l.split(' ')[1], `uid range lease: ${USERNS_LEASES}/${l.replace(' ', ' -> ')}`);
  }

  const cgs = d.cgroups && d.cgroups.length ? d.cgroups : ownCgroups('self');
  const seen = new Set();
  for (const cg of cgs) {
    const dir = path.join(cg.dir, 'bulkhead');
    if (seen.has(dir)) continue;
    seen.add(dir);
    for (const e of readdir(dir)) {
      try {
        if (fs.statSync(path.join(dir, e)).isDirectory()) {
          const procs = (read(path.join(dir, e, 'cgroup.procs')) || '').trim().split('\n').filter(Boolean);
          blame(e, `cgroup: ${path.join(dir, e)}${procs.length ? ` (processes: ${procs.join(' ')})` : ''}`);
        }
      } catch { /* raced away */ }
    }
  }

  // Processes: in one of our bulkhead cgroups, or a chromium outside our pid ns.
  const ourPidNs = fs.readlinkSync('/proc/self/ns/pid');
  const prefixes = cgs.map((c) => `${c.rel === '/' ? '' : c.rel}/bulkhead/`);
  for (const p of readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cg = read(`/proc/${p}/cgroup`);
    if (cg === null) continue;
    let id = null;
    for (const l of cg.split('\n')) {
      const rel = l.split(':').slice(2).join(':');
      const pre = prefixes.find((x) => rel.startsWith(x));
      if (pre) { id = rel.slice(pre.length).split('/')[0]; break; }
    }
    let otherNs = false;
    try { otherNs = fs.readlinkSync(`/proc/${p}/ns/pid`) !== ourPidNs; } catch { /* gone */ }
    const cmd = procCmdline(p);
    if (id === null && !(otherNs && /chrom/i.test(cmd))) continue;
    const st = read(`/proc/${p}/status`) || '';
    const state = (st.match(/^State:\s+(\S)/m) || [])[1] || '?';
    const ppid = Number((st.match(/^PPid:\s+(\d+)/m) || [])[1] || 0);
    const comm = (read(`/proc/${p}/comm`) || '').trim();
    if (state === 'Z') {
      // A zombie holds nothing but its pid. Blame the daemon only if it is the
      // parent that does not reap it; orphans are init's to reap.
      if (d.pid && ppid === d.pid && !d.exited) leaks.push(`zombie: ${p} (${comm}) not reaped by the daemon (pid ${d.pid})`);
      continue;
    }
    blame(id, `process: ${p} (${comm}, state ${state}, parent ${ppid}${id ? `, session ${id}` : ''}) ${cmd.slice(0, 160)}`);
  }

  // Mounts naming our dirs or a session netns, in our mount ns and the daemon's.
  const needles = [d.runDir, path.join(d.stateDir, 'bundles')];
  const sources = ['/proc/self/mountinfo'];
  if (d.pid && !d.exited) sources.push(`/proc/${d.pid}/mountinfo`);
  const mseen = new Set();
  for (const src of sources) {
    for (const line of (read(src) || '').split('\n')) {
      const f = line.split(' ');
      const mp = f[4] || '';
      if (mseen.has(mp)) continue;
      if (needles.some((n) => line.includes(n))) {
        mseen.add(mp);
        leaks.push(`mount (${src}): ${mp} (root ${f[3]})`);
      } else if (mp.startsWith('/run/netns/bh-') && !base.netns.includes(path.basename(mp))) {
        mseen.add(mp);
        blame(path.basename(mp).slice(3), `mount (${src}): ${mp}`);
      }
    }
  }
  d.foreign = foreign;
  if (foreign.length) {
    const sessions = new Set(foreign.map((l) => (l.match(/[0-9a-f]{12,}/) || [l])[0]));
    process.stderr.write(`leaks: another bulkhead daemon runs here (pid ${others.join(' ')}); ignored ${foreign.length} resources of ${sessions.size} session(s) not known to this one\n`);
  }
  return leaks;
}

export async function assertNoLeaks(d, what = '') {
  const leaks = await findLeaks(d);
  assert.deepEqual(leaks, [], `leaked${what ? ` (${what})` : ''}:\n  ${leaks.join('\n  ')}`);
}

// What of one session still exists (after its DELETE: nothing may). Looks for
// its container, netns, host veth, bundle dir, cgroup dirs, init process and
// mounts naming it.
export async function sessionLeftovers(d, s) {
  const id = s.id;
  const cid = (s.sandbox && s.sandbox.id) || `bh-${id}`;
  const out = [];
  for (const rt of ['runc', 'crun']) {
    const cs = await runtimeContainers(d, rt);
    if (cs.includes(cid)) out.push(`container ${cid} (${rt} list)`);
  }
  if (fs.existsSync(`/run/netns/bh-${id}`)) out.push(`netns /run/netns/bh-${id}`);
  for (const l of await bhvLinks()) if (l.startsWith(`bhv${id.slice(0, 8)}`)) out.push(`veth ${l}`);
  for (const b of readdir(path.join(d.stateDir, 'bundles'))) if (b.includes(id)) out.push(`bundle dir ${path.join(d.stateDir, 'bundles', b)}`);
  for (const b of readdir(path.join(d.runDir, 'sessions'))) if (b.includes(id)) out.push(`session dir ${path.join(d.runDir, 'sessions', b)}`);
  const cgs = d.cgroups && d.cgroups.length ? d.cgroups : ownCgroups('self');
  for (const cg of cgs) {
    for (const name of [id, cid]) {
      const dir = path.join(cg.dir, 'bulkhead', name);
      if (fs.existsSync(dir)) out.push(`cgroup ${dir}`);
    }
  }
  const pid = s.sandbox && s.sandbox.pid;
  if (pid > 0) {
    const st = read(`/proc/${pid}/stat`);
    const cg = read(`/proc/${pid}/cgroup`) || '';
    if (st && !/^\d+ \(.*\) Z /.test(st) && cg.includes(id)) out.push(`process ${pid} (the sandbox init) ${procCmdline(pid).slice(0, 120)}`);
  }
  for (const line of (read('/proc/self/mountinfo') || '').split('\n')) {
    if (line.includes(id)) out.push(`mount ${line.split(' ')[4]}`);
  }
  return [...new Set(out)];
}

// Best effort, after a failure: remove what a daemon left so the next suite
// starts clean (containers under its runtime roots; netns, veths and cgroups
// that findLeaks blamed on it). Returns what it removed.
export async function forceCleanup(d) {
  const did = [];
  for (const rt of ['runc', 'crun']) {
    const root = path.join(d.runDir, rt);
    for (const c of await runtimeContainers(d, rt)) {
      if (c.startsWith('(')) continue;
      await run(rt, ['--root', root, 'delete', '--force', c], { timeout: 30000 }).catch(() => {});
      did.push(`${rt} delete --force ${c}`);
    }
  }
  const leaks = await findLeaks(d);
  const named = (kind) => leaks.filter((l) => l.startsWith(`${kind}: `)).map((l) => l.slice(kind.length + 2).split(' ')[0]);
  for (const p of named('process')) {
    try { process.kill(Number(p), 'SIGKILL'); did.push(`kill ${p}`); } catch { /* gone */ }
  }
  for (const ns of named('netns')) {
    const n = path.basename(ns);
    const r = await run('ip', ['netns', 'pids', n]);
    for (const pid of r.stdout.split(/\s+/).filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
    await run('ip', ['netns', 'del', n]);
    did.push(`ip netns del ${n}`);
  }
  for (const l of named('veth')) {
    await run('ip', ['link', 'del', l]);
    did.push(`ip link del ${l}`);
  }
  for (const l of named('uid range lease')) {
    try { fs.unlinkSync(l); did.push(`rm ${l}`); } catch { /* gone */ }
  }
  const rmTree = (dir) => {
    for (const e of readdir(dir)) {
      const p = path.join(dir, e);
      try { if (fs.statSync(p).isDirectory()) rmTree(p); } catch { /* */ }
    }
    for (const pid of (read(path.join(dir, 'cgroup.procs')) || '').split('\n').filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
    try { fs.rmdirSync(dir); did.push(`rmdir ${dir}`); } catch { /* busy or gone */ }
  };
  if (named('cgroup').length) await new Promise((r) => setTimeout(r, 300)); // let killed processes exit
  for (const dir of named('cgroup')) rmTree(dir);
  return did;
}
