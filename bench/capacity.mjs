// capacity.mjs — how many idle sessions one machine holds, and what they cost.
// Sessions are about:blank with the daemon's default limits, created 4 at a
// time; the daemon must allow N + 1 live sessions (run.sh starts it with
// --max-sessions N + 10).
//   throughput  cold creates 4 at a time: sessions/s over the first M (>= 20,
//               default 24) creates, from the first request to the last
//               reply. Goal: >= 2 sessions/s.
//   memory      per idle session, over those M: the drop of MemAvailable
//               (/proc/meminfo, after 3 s of settling before and 5 s after),
//               divided by M (what a session costs the machine, the daemon's
//               share included); beside it the PSS per session (the sum of
//               /proc/PID/smaps_rollup Pss over every process in the
//               sessions' cgroups: shared pages split among their users) and
//               the anon memory the sessions' memory cgroups hold. Goal:
//               MemAvailable drop <= 100 MiB.
//   idle CPU    of 100 idle sessions (or N if fewer), 10 s after the last of
//               them was ready: the growth of their cgroups' CPU usage over
//               a 10 s window, as % of one core. Goal: <= 10 %.
//   at N        N (BENCH_CAPACITY_N, default 150) sessions live at once:
//               all ready, none ended, no OOM kill in any session's memory
//               cgroup (memory.oom_control / memory.events), and one more
//               create still succeeds. Goal: all N ready.
// Then every session is deleted (4 at a time) and the run checks that none of
// their processes, cgroups or network namespaces is left.
// Sessions' cgroups are found from their sandbox.pid's /proc/PID/cgroup: a
// cgroup v1 controller's own hierarchy when it has one (this host mixes v1
// controllers with a cgroup2 hierarchy), else the unified one.
// usage: node capacity.mjs BASE_URL TOKEN
import fs from 'node:fs';
import { record } from './results.mjs';
import { memAvailable, settledMemAvailable, pssBytes } from './hostmem.mjs';

const [base, token] = process.argv.slice(2);
if (!base || !token) {
  console.error('usage: node capacity.mjs BASE_URL TOKEN');
  process.exit(2);
}
const N = Number(process.env.BENCH_CAPACITY_N || 150);
const M = Math.min(N, Math.max(20, Number(process.env.BENCH_CAPACITY_FIRST || 24)));
const IDLE_N = Math.min(N, 100);
const PAR = 4;
const MiB = 1 << 20;
const H = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

// ------------------------------------------------------------- cgroups
// The directory of `controller` for pid: {dir, v2}.
function cgroupOf(pid, controller) {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((l) => l.split(':'));
  const v1 = lines.find(([, c]) => c.split(',').includes(controller));
  if (v1) {
    for (const m of [v1[1], controller]) {
      const dir = `/sys/fs/cgroup/${m}${v1[2]}`;
      if (fs.existsSync(dir)) return { dir, v2: false };
    }
  }
  const v2 = lines.find(([, c]) => c === '');
  if (v2) {
    for (const root of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
      const dir = `${root}${v2[2]}`;
      if (fs.existsSync(`${dir}/cgroup.controllers`) &&
          fs.readFileSync(`${root}/cgroup.controllers`, 'utf8').split(/\s+/).includes(controller === 'cpuacct' ? 'cpu' : controller))
        return { dir, v2: true };
    }
  }
  throw new Error(`pid ${pid}: no ${controller} cgroup`);
}
const keyed = (file) => Object.fromEntries(fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => {
  const [k, v] = l.split(/\s+/);
  return [k, Number(v)];
}));
const cpuNs = (c) => (c.v2 ? keyed(`${c.dir}/cpu.stat`).usage_usec * 1000 : Number(fs.readFileSync(`${c.dir}/cpuacct.usage`, 'utf8')));
const anonBytes = (c) => (c.v2 ? keyed(`${c.dir}/memory.stat`).anon : keyed(`${c.dir}/memory.stat`).rss);
const oomKills = (c) => (c.v2 ? keyed(`${c.dir}/memory.events`).oom_kill : keyed(`${c.dir}/memory.oom_control`).oom_kill) || 0;
const procs = (c) => fs.readFileSync(`${c.dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);

// ------------------------------------------------------------- sessions
const live = new Map(); // id → {id, pid, mem, cpu, any}
async function create() {
  const r = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: H,
    body: JSON.stringify({ url: 'about:blank', idleTimeout: 3600 }) });
  const s = await r.json();
  if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(s)}`);
  const pid = s.sandbox.pid;
  const e = { id: s.id, pid, mem: cgroupOf(pid, 'memory'), cpu: cgroupOf(pid, 'cpuacct') };
  live.set(s.id, e);
  if (s.status !== 'ready') throw new Error(`create: session ${s.id} is ${s.status}`);
  return e;
}
async function del(id) {
  const r = await fetch(`${base}/api/v1/sessions/${id}`, { method: 'DELETE', headers: H });
  await r.arrayBuffer();
  if (r.status !== 204 && r.status !== 404) throw new Error(`delete ${id}: ${r.status}`);
  live.delete(id);
}
// `n` jobs, PAR at a time; stops taking new ones after the first failure.
async function par(n, job) {
  let next = 0, failed = null;
  await Promise.all(Array.from({ length: PAR }, async () => {
    while (next < n && !failed) {
      const i = next++;
      try { await job(i); } catch (e) { failed ??= e; }
    }
  }));
  if (failed) throw failed;
}
const upTo = (target) => par(Math.max(0, target - live.size), () => create());

const row = (name, value, goal = '') => console.log(`${name.padEnd(58)} ${String(value).padStart(10)}${goal ? `   (goal: ${goal})` : ''}`);
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');

let failure = null;
const made = []; // every cgroup and pid seen, to check nothing is left
console.log(`capacity: ${N} sessions (load average ${loadavg()}, MemAvailable ${(memAvailable() / MiB).toFixed(0)} MiB)`);
try {
  // throughput and memory over the first M
  const before = await settledMemAvailable(3000);
  const t0 = performance.now();
  await upTo(M);
  const rate = M / ((performance.now() - t0) / 1000);
  const after = await settledMemAvailable(5000);
  const sessions = [...live.values()];
  let pss = 0, anon = 0;
  for (const s of sessions) {
    for (const p of procs(s.mem)) pss += pssBytes(p);
    anon += anonBytes(s.mem);
  }
  const drop = (before - after) / M / MiB;
  console.log();
  row(`cold creates, ${PAR} at a time, over ${M} (sessions/s)`, rate.toFixed(2), '>= 2');
  row(`memory per idle session, MemAvailable drop over ${M} (MiB)`, f1(drop), '<= 100');
  row('memory per idle session, PSS of the cgroups\' processes (MiB)', f1(pss / M / MiB));
  row('memory per idle session, anon in the memory cgroups (MiB)', f1(anon / M / MiB));
  record('capacity.create_rate_4_parallel', rate, 'sessions/s', { goal: '>= 2' });
  record('capacity.mem_per_session.memavailable', drop, 'MiB', { goal: '<= 100' });
  record('capacity.mem_per_session.pss', pss / M / MiB, 'MiB');
  record('capacity.mem_per_session.anon', anon / M / MiB, 'MiB');

  // idle CPU of IDLE_N
  await upTo(IDLE_N);
  await sleep(10000);
  const idle = [...live.values()];
  const c0 = idle.map((s) => cpuNs(s.cpu));
  const w0 = performance.now();
  await sleep(10000);
  const c1 = idle.map((s) => cpuNs(s.cpu));
  const secs = (performance.now() - w0) / 1000;
  const cpuPct = (c1.reduce((a, b) => a + b, 0) - c0.reduce((a, b) => a + b, 0)) / 1e9 / secs * 100;
  row(`idle CPU of ${IDLE_N} idle sessions, 10 s window (% of one core)`, f1(cpuPct), '<= 10');
  record(`capacity.idle_cpu_${IDLE_N}`, cpuPct, '% of one core', { goal: '<= 10' });

  // N live at once, then one more
  let atN = live.size;
  try {
    await upTo(N);
  } catch (e) {
    failure = e;
  }
  atN = live.size;
  await sleep(3000);
  const r = await fetch(`${base}/api/v1/sessions?status=ready`, { headers: H });
  const ready = (await r.json()).sessions.filter((s) => live.has(s.id) && s.status === 'ready').length;
  const ooms = [...live.values()].reduce((a, s) => a + oomKills(s.mem), 0);
  const memAtN = memAvailable();
  let extra = 'no';
  if (!failure) {
    try {
      await create();
      extra = 'yes';
    } catch (e) {
      extra = `no: ${e.message}`;
    }
  }
  row(`sessions live at once, ready (of ${N})`, ready, `${N}`);
  row('OOM kills in the sessions\' memory cgroups', ooms, '0');
  row(`one more create at ${atN} live`, extra.length > 10 ? extra.slice(0, 3) : extra);
  if (extra.startsWith('no:')) console.log(`  ${extra}`);
  if (failure) console.log(`  creates stopped at ${atN}: ${failure.message}`);
  row(`MemAvailable at ${atN} live (MiB)`, (memAtN / MiB).toFixed(0));
  row(`memory per idle session, MemAvailable drop, all ${atN} live (MiB)`, f1((before - memAtN) / atN / MiB));
  record('capacity.sessions_ready', ready, 'sessions', { goal: `${N}` });
  record('capacity.oom_kills', ooms, 'kills', { goal: '0' });
  record('capacity.one_more_create', extra === 'yes' ? 1 : 0, 'ok', { goal: '1' });
  record('capacity.memavailable_at_n', memAtN / MiB, 'MiB');
  record('capacity.mem_per_session.memavailable_at_n', (before - memAtN) / atN / MiB, 'MiB', { goal: '<= 100' });
} catch (e) {
  failure ??= e;
} finally {
  for (const s of live.values()) made.push(s);
  const d0 = performance.now();
  const ids = [...live.keys()];
  await par(ids.length, (i) => del(ids[i])).catch((e) => { failure ??= e; });
  console.log(`deleted ${made.length} sessions in ${((performance.now() - d0) / 1000).toFixed(1)} s`);
  // nothing left: processes, cgroups, network namespaces
  await sleep(1000);
  const left = [];
  for (const s of made) {
    if (fs.existsSync(`/proc/${s.pid}`)) left.push(`pid ${s.pid}`);
    for (const c of [s.mem, s.cpu]) if (fs.existsSync(c.dir)) left.push(c.dir);
    if (fs.existsSync(`/run/netns/bh-${s.id}`)) left.push(`netns bh-${s.id}`);
  }
  if (left.length) {
    console.log(`LEFT BEHIND: ${left.join(', ')}`);
    failure ??= new Error('sessions left things behind');
  }
}
console.log(`(load average at the end ${loadavg()})`);
if (failure) {
  console.error(`capacity: ${failure.stack || failure.message}`);
  process.exit(1);
}
