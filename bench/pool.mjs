// pool.mjs — the warm pool: create→ready through the REST API of a daemon
// started with --pool N, with the pool warm (every create waits until the
// pool holds N ready sessions again), against cold creates on the same
// daemon in the same run (a body the pool cannot serve: another clipboard
// policy, which costs nothing else). About:blank, and with SITE_URL also a
// start page on the local test site (create→page loaded). Each session is
// deleted after its create.
// usage: node pool.mjs BASE_URL TOKEN POOL_N POOLED_RUNS COLD_RUNS [SITE_URL]
import { record } from './results.mjs';

const [base, token, nArg, pooledArg, coldArg, site] = process.argv.slice(2);
const N = Number(nArg || 4);
const POOLED = Number(pooledArg || 100);
const COLD = Number(coldArg || 10);
const H = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function metric(name) {
  const r = await fetch(`${base}/metrics`, { headers: H });
  const line = (await r.text()).split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

// The pool holds N ready sessions and starts none.
async function warm() {
  const end = Date.now() + 60000;
  while (Date.now() < end) {
    if ((await metric('bulkhead_pool_sessions{status="ready"}')) === N
        && (await metric('bulkhead_pool_sessions{status="starting"}')) === 0) return;
    await sleep(50);
  }
  throw new Error(`the pool did not fill to ${N} within 60 s`);
}

// One create: ms, and whether the pool served it.
async function once(body) {
  const t0 = performance.now();
  const r = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: H, body: JSON.stringify(body) });
  const ms = performance.now() - t0;
  const s = await r.json();
  if (r.status !== 201) throw new Error(`create failed: ${r.status} ${JSON.stringify(s)}`);
  if (site && body.url === site && s.page?.title !== 'bulkhead test page') throw new Error(`the start page did not load: ${JSON.stringify(s.page)}`);
  const ev = await (await fetch(`${base}/api/v1/sessions/${s.id}/events`, { headers: H })).json();
  const ready = ev.events.find((e) => e.type === 'ready');
  const d = await fetch(`${base}/api/v1/sessions/${s.id}`, { method: 'DELETE', headers: H });
  if (d.status !== 204) throw new Error(`delete failed: ${d.status}`);
  return { ms, pooled: ready?.detail?.pool === true };
}

const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};

async function series(label, body, runs, wantPooled) {
  const xs = [];
  for (let i = 0; i < runs; i++) {
    if (wantPooled) await warm();
    const { ms, pooled } = await once(body);
    if (pooled !== wantPooled) throw new Error(`${label}: the pool ${pooled ? 'served' : 'did not serve'} run ${i}`);
    xs.push(ms);
  }
  return { p50: q(xs, 50), p95: q(xs, 95), p99: q(xs, 99), n: xs.length };
}

const cold = { url: 'about:blank', clipboard: { paste: false } };
await warm();
await once({ url: 'about:blank' }); // warm-up, both paths
await once(cold);
const rows = [];
const pooled = await series('pooled', { url: 'about:blank' }, POOLED, true);
const coldS = await series('cold', cold, COLD, false);
rows.push(['pool, about:blank', pooled], ['cold, about:blank', coldS]);
let pooledSite = null;
let coldSite = null;
if (site) {
  pooledSite = await series('pooled site', { url: site }, Math.min(POOLED, 30), true);
  coldSite = await series('cold site', { url: site, clipboard: { paste: false } }, COLD, false);
  rows.push(['pool, start page loaded', pooledSite], ['cold, start page loaded', coldSite]);
}

console.log(`\n${'create→ready (ms), --pool ' + N}`.padEnd(36) + 'p50'.padStart(9) + 'p95'.padStart(9) + 'p99'.padStart(9) + 'runs'.padStart(7));
for (const [label, s] of rows) {
  console.log(label.padEnd(36) + s.p50.toFixed(1).padStart(9) + s.p95.toFixed(1).padStart(9) + s.p99.toFixed(1).padStart(9) + String(s.n).padStart(7));
}
console.log(`${'ratio pool / cold (p50)'.padEnd(36)}${(pooled.p50 / coldS.p50).toFixed(3).padStart(9)}`);
console.log(`goals: pool about:blank p50 <= 15 ms (${pooled.p50 <= 15 ? 'met' : 'MISSED'}), p99 <= 50 ms (${pooled.p99 <= 50 ? 'met' : 'MISSED'})`);

record('pool.about_blank.p50', pooled.p50, 'ms', { goal: '<= 15', baseline: coldS.p50 });
record('pool.about_blank.p99', pooled.p99, 'ms', { goal: '<= 50', baseline: coldS.p99 });
record('pool.cold_about_blank.p50', coldS.p50, 'ms');
if (pooledSite) {
  record('pool.start_page.p50', pooledSite.p50, 'ms', { goal: '<= 450', baseline: coldSite.p50 });
  record('pool.cold_start_page.p50', coldSite.p50, 'ms', { goal: '<= 450' });
}
