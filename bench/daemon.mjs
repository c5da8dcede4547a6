// daemon.mjs — the daemon's own footprint and REST throughput.
//
//   footprint  the daemon process's RSS (VmRSS) and open fds at 0, 20 and 50
//              live sessions (about:blank, created 4 at a time), after
//              deleting them all, and after a churn of 100 more sessions
//              (created and deleted, 4 at a time), after a warm-up of 8
//              sessions. Only the daemon process is measured, not the browsers. Goal: RSS growth <= 200 KiB per
//              live session; fds and RSS back near the 0-session numbers.
//   REST       `wrk -t2 -c32 -d10s` with the bearer header, with 20 live
//              sessions: GET /api/v1/sessions (every row, ended ones too) and
//              GET /api/v1/sessions/{id} (and the list again after the
//              churn, with only ended rows), against GET /healthz of the same
//              daemon as the baseline (the cheapest route: no auth, no store,
//              a constant body — what the HTTP layer alone can do), and
//              their ratio. Goal: >= 20k req/s for the list.
//
// Holds the e2e host lock (tests/e2e/lib/lock.js) while its sessions live.
// usage: node daemon.mjs BASE_URL TOKEN DAEMON_PID
// Environment: BENCH_DAEMON_CHURN (default 100), BENCH_WRK_SECONDS (default 10).
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { acquireLock } from '../tests/e2e/lib/lock.js';
import { record } from './results.mjs';

const [base, token, pidArg] = process.argv.slice(2);
const pid = Number(pidArg);
if (!base || !token || !pid) {
  console.error('usage: node daemon.mjs BASE_URL TOKEN DAEMON_PID');
  process.exit(2);
}
const CHURN = Number(process.env.BENCH_DAEMON_CHURN || 100);
const WRK_SECONDS = Number(process.env.BENCH_WRK_SECONDS || 10);
const PAR = 4;
const H = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const rss = () => Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)[1]);
const fds = () => fs.readdirSync(`/proc/${pid}/fd`).length;

async function create() {
  // long idle timeout: 50 creates on 2 busy cores may take minutes
  const r = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: H, body: '{"url":"about:blank","idleTimeout":3600}' });
  const j = await r.json();
  if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(j)}`);
  return j.id;
}
async function del(id) {
  const r = await fetch(`${base}/api/v1/sessions/${id}`, { method: 'DELETE', headers: H });
  await r.arrayBuffer();
  if (r.status !== 204) throw new Error(`delete ${id}: ${r.status}`);
}
// run `n` jobs, PAR at a time
async function pool(n, job) {
  let next = 0;
  const out = [];
  await Promise.all(Array.from({ length: PAR }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await job(i);
    }
  }));
  return out;
}
async function liveCount() {
  const r = await fetch(`${base}/api/v1/sessions?status=ready`, { headers: H });
  return (await r.json()).sessions.length;
}
// settle: let the loop finish what the last replies started, then measure
async function measure(label, live) {
  await sleep(2000);
  const m = { label, live, rss: rss(), fds: fds() };
  process.stdout.write(`bench: ${label}: RSS ${m.rss} KiB, ${m.fds} fds\n`);
  return m;
}

function wrk(path, auth) {
  return new Promise((resolve, reject) => {
    const args = ['-t2', '-c32', `-d${WRK_SECONDS}s`, '--latency'];
    if (auth) args.push('-H', `Authorization: Bearer ${token}`);
    args.push(`${base}${path}`);
    const p = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      const rps = Number((out.match(/Requests\/sec:\s+([\d.]+)/) || [])[1]);
      if (code !== 0 || !rps) return reject(new Error(`wrk ${args.join(' ')}: exit ${code}\n${out}`));
      const bad = Number((out.match(/Non-2xx or 3xx responses:\s+(\d+)/) || [0, 0])[1]);
      const errs = (out.match(/Socket errors:.*/) || [''])[0];
      const p50 = (out.match(/^\s+50%\s+(\S+)/m) || [])[1] || '?';
      const p99 = (out.match(/^\s+99%\s+(\S+)/m) || [])[1] || '?';
      resolve({ rps, bad, errs, p50, p99 });
    });
  });
}

const release = await acquireLock();
const ids = [];
try {
  const rows = [];
  if (await liveCount() !== 0) throw new Error('the daemon has live sessions already; run this on an idle daemon');
  // Warm-up: the first sessions of a fresh daemon bring in one-time
  // allocations (malloc arenas of its threads, SQLite's cache, buffers).
  await pool(2 * PAR, async () => del(await create()));
  rows.push(await measure('0 live sessions', 0));
  const add = async (n) => {
    const t = Date.now();
    ids.push(...await pool(n, () => create()));
    process.stdout.write(`bench: ${n} creates, ${PAR} at a time, took ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
  };
  await add(20);
  rows.push(await measure('20 live sessions', 20));

  // REST throughput with 20 live sessions
  const list = await (await fetch(`${base}/api/v1/sessions`, { headers: H })).text();
  const listed = JSON.parse(list).sessions.length;
  process.stdout.write(`bench: wrk, ${WRK_SECONDS} s each (GET /api/v1/sessions lists ${listed} sessions, ${list.length} bytes)\n`);
  const wh = await wrk('/healthz', false);
  const wl = await wrk('/api/v1/sessions', true);
  const wg = await wrk(`/api/v1/sessions/${ids[0]}`, true);

  await add(30);
  rows.push(await measure('50 live sessions', 50));
  await pool(ids.length, (i) => del(ids[i]));
  ids.length = 0;
  rows.push(await measure('0 live (all 50 deleted)', 0));
  const t0 = Date.now();
  await pool(CHURN, async () => del(await create()));
  const churnS = (Date.now() - t0) / 1000;
  rows.push(await measure(`after a ${CHURN}-session churn`, 0));
  // the list keeps every ended row (audit): its cost grows with history
  const all = JSON.parse(await (await fetch(`${base}/api/v1/sessions`, { headers: H })).text()).sessions.length;
  const wa = await wrk('/api/v1/sessions', true);

  const r0 = rows[0];
  console.log(`\n${'daemon process footprint'.padEnd(40)} ${'RSS KiB'.padStart(10)} ${'fds'.padStart(6)}`);
  for (const r of rows) console.log(`${r.label.padEnd(40)} ${String(r.rss).padStart(10)} ${String(r.fds).padStart(6)}`);
  const per20 = (rows[1].rss - r0.rss) / 20;
  const per50 = (rows[2].rss - r0.rss) / 50;
  console.log(`${'RSS growth per live session, KiB'.padEnd(40)} ${per20.toFixed(1).padStart(10)} (at 20)  ${per50.toFixed(1)} (at 50)   (goal: <= 200)`);
  console.log(`${'after deleting all / after churn, KiB'.padEnd(40)} ${String(rows[3].rss - r0.rss).padStart(10)} / ${rows[4].rss - r0.rss} vs 0 live; fds ${rows[3].fds - r0.fds} / ${rows[4].fds - r0.fds}`);
  console.log(`${'churn rate, sessions/s'.padEnd(40)} ${(CHURN / churnS).toFixed(2).padStart(10)}`);

  console.log(`\n${`REST throughput (wrk -t2 -c32 -d${WRK_SECONDS}s), 20 live`.padEnd(40)} ${'req/s'.padStart(10)} ${'p50'.padStart(8)} ${'p99'.padStart(8)}`);
  const line = (name, w) => console.log(`${name.padEnd(40)} ${w.rps.toFixed(0).padStart(10)} ${w.p50.padStart(8)} ${w.p99.padStart(8)}${w.bad ? `   ${w.bad} non-2xx!` : ''}${w.errs ? `   ${w.errs}` : ''}`);
  line('GET /healthz (baseline)', wh);
  line(`GET /api/v1/sessions (${listed} rows)`, wl);
  line('GET /api/v1/sessions/{id}', wg);
  line(`GET /api/v1/sessions (${all} rows, 0 live)`, wa);
  console.log(`${'ratio list / healthz'.padEnd(40)} ${(wl.rps / wh.rps).toFixed(3).padStart(10)}   (goal: list >= 20000 req/s)`);
  console.log(`${'ratio get one / healthz'.padEnd(40)} ${(wg.rps / wh.rps).toFixed(3).padStart(10)}`);
  for (const r of rows) record(`daemon.rss.${r.label.replace(/[^a-z0-9]+/gi, '_').replace(/^_|_$/g, '')}`, r.rss, 'KiB');
  for (const r of rows) record(`daemon.fds.${r.label.replace(/[^a-z0-9]+/gi, '_').replace(/^_|_$/g, '')}`, r.fds, 'fds', { baseline: r0.fds });
  record('daemon.rss_per_session_at_20', per20, 'KiB', { goal: '<= 200' });
  record('daemon.rss_per_session_at_50', per50, 'KiB', { goal: '<= 200' });
  record('daemon.churn_rate', CHURN / churnS, 'sessions/s');
  record('daemon.rest.healthz', wh.rps, 'req/s');
  record('daemon.rest.list_20_live', wl.rps, 'req/s', { goal: '>= 20000', baseline: wh.rps });
  record('daemon.rest.get_one', wg.rps, 'req/s', { baseline: wh.rps });
  record('daemon.rest.list_after_churn', wa.rps, 'req/s', { baseline: wh.rps });
} finally {
  // whatever happened, leave no session of ours behind
  await Promise.all(ids.map((id) => del(id).catch(() => {})));
  release();
}
