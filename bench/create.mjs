// create.mjs — cold session creation, against a baseline that runs none of
// bulkhead's code (bench/baseline.mjs), measured in the same run:
//   1. about:blank create→ready through the REST API (POST until its reply:
//      the session is ready), RUNS runs after one warm-up, alternating with
//      the baseline: a plain `runc run` of a hand-written bundle with the
//      same browser, argv and environment as the daemon's sessions (read from
//      a live session) at the CPU quota given by --cpus, timed to
//      Browser.getVersion, and to its first page at about:blank. Ratio goal:
//      p50 <= 1.10 x the baseline.
//   2. the per-phase medians of the sessions' ready events (detail.timingsMs,
//      whatever keys the daemon reports, in the start's order).
//   3. unless --no-page: create→page loaded with the start URL on the local
//      test site (tests/e2e/lib/world.js: a server in a network namespace that
//      this run creates; holds the e2e host lock while it is up), RUNS runs.
//      Goal: p50 <= 450 ms (browserless: about 700 ms from connect to its
//      first goto).
// Prints a table; records each figure (bench/results.mjs) under
// create.LABEL.*.
// usage: node create.mjs BASE_URL TOKEN RUNS [--cpus X|none] [--label NAME] [--no-page]
//   --cpus: the baseline's CPU quota; give the daemon's --cpus (default 1,
//   the daemon's default), "none" for no quota.
import { Baseline, sessionBrowser } from './baseline.mjs';
import { record } from './results.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i < 0 ? def : args.splice(i, 2)[1]; };
const cpusArg = opt('--cpus', '1');
const label = opt('--label', 'default');
const noPage = args.includes('--no-page') && args.splice(args.indexOf('--no-page'), 1);
const [base, token, runsArg] = args;
if (!base || !token) {
  console.error('usage: node create.mjs BASE_URL TOKEN RUNS [--cpus X|none] [--label NAME] [--no-page]');
  process.exit(2);
}
const RUNS = Number(runsArg || 10);
const cpus = cpusArg === 'none' ? null : Number(cpusArg);
const H = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };

// Nearest rank, like stats.sh.
const pct = (a, p) => {
  const v = [...a].sort((x, y) => x - y);
  return v.length ? v[Math.min(v.length - 1, Math.ceil((v.length - 1) * p))] : NaN;
};
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const row = (label, ...cols) => console.log(label.padEnd(52) + cols.map((c) => String(c).padStart(9)).join(''));

// The start's phases in their order; keys the daemon reports that are not
// here follow, in its order.
const PHASES = ['bundle', 'network', 'egress', 'runtime', 'browser', 'attach', 'navigation', 'total'];

async function create(url) {
  const t0 = performance.now();
  const r = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: H, body: JSON.stringify({ url }) });
  const ms = performance.now() - t0;
  const s = await r.json();
  if (r.status !== 201) throw new Error(`create ${url}: ${r.status} ${JSON.stringify(s)}`);
  return { s, ms };
}
async function timings(id) {
  const r = await fetch(`${base}/api/v1/sessions/${id}/events`, { headers: H });
  const { events } = await r.json();
  return events.find((e) => e.type === 'ready')?.detail?.timingsMs ?? {};
}
async function destroy(id) {
  const r = await fetch(`${base}/api/v1/sessions/${id}`, { method: 'DELETE', headers: H });
  await r.arrayBuffer();
  if (r.status !== 204) throw new Error(`delete ${id}: ${r.status}`);
}
// One create→ready of url: {ms, phases, page}.
async function once(url) {
  const { s, ms } = await create(url);
  try {
    return { ms, phases: await timings(s.id), page: s.page };
  } finally {
    await destroy(s.id);
  }
}

function phaseRows(title, what, list) {
  const keys = [...PHASES.filter((k) => list.some((t) => k in t))];
  for (const t of list) for (const k of Object.keys(t)) if (!keys.includes(k)) keys.push(k);
  if (!keys.length) {
    row(`${title}: no timingsMs in the ready events`);
    return;
  }
  console.log(`${title} (median ms): ${keys.map((k) => `${k} ${f1(pct(list.map((t) => t[k]).filter((x) => typeof x === 'number'), 0.5))}`).join(', ')}`);
  for (const k of keys)
    record(`create.${label}.${what}.phase.${k}.p50`, pct(list.map((t) => t[k]).filter((x) => typeof x === 'number'), 0.5), 'ms');
}

const cpuText = cpus ? `${cpus} CPU quota` : 'no CPU quota';
const baseline = new Baseline({ ...(await sessionBrowser(base, token)), cpus });
let world = null, release = null;
try {
  // 1. about:blank, alternating with the baseline, after one warm-up each
  await baseline.run();
  await once('about:blank');
  const api = [], phases = [], bare = [], blank = [];
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 ? ['api', 'bare'] : ['bare', 'api'];
    for (const side of order) {
      if (side === 'bare') {
        const r = await baseline.run();
        bare.push(r.ms);
        blank.push(r.blankMs);
      } else {
        const r = await once('about:blank');
        api.push(r.ms);
        phases.push(r.phases);
      }
    }
    process.stdout.write('.');
  }
  console.log();
  row(`create→ready (ms), ${label}: ${cpuText} per session/baseline`, 'p50', 'p95');
  row('bulkhead REST API (about:blank)', f1(pct(api, 0.5)), f1(pct(api, 0.95)));
  row('baseline: runc run → Browser.getVersion', f1(pct(bare, 0.5)), f1(pct(bare, 0.95)));
  row('baseline: runc run → first page at about:blank', f1(pct(blank, 0.5)), f1(pct(blank, 0.95)));
  const r50 = pct(api, 0.5) / pct(bare, 0.5), r95 = pct(api, 0.95) / pct(bare, 0.95);
  console.log(`${'ratio bulkhead / baseline (getVersion)'.padEnd(52)}${r50.toFixed(2).padStart(9)}${r95.toFixed(2).padStart(9)}   (goal: p50 <= 1.10)`);
  row('ratio bulkhead / baseline (first page)', (pct(api, 0.5) / pct(blank, 0.5)).toFixed(2),
    (pct(api, 0.95) / pct(blank, 0.95)).toFixed(2));
  const goal = '<= 1.10 x baseline';
  record(`create.${label}.about_blank.p50`, pct(api, 0.5), 'ms', { goal, baseline: pct(bare, 0.5) });
  record(`create.${label}.about_blank.p95`, pct(api, 0.95), 'ms', { baseline: pct(bare, 0.95) });
  record(`create.${label}.baseline_first_page.p50`, pct(blank, 0.5), 'ms', { baseline: pct(bare, 0.5) });
  record(`create.${label}.about_blank_vs_first_page.p50`, pct(api, 0.5), 'ms', { baseline: pct(blank, 0.5) });
  phaseRows('phases of bulkhead\'s about:blank creates', 'about_blank', phases);

  // 3. a start URL on the local test site
  if (!noPage) {
    const { acquireLock } = await import('../tests/e2e/lib/lock.js');
    const { startWorld } = await import('../tests/e2e/lib/world.js');
    release = await acquireLock(); // the test world's names are shared with the e2e suites
    world = await startWorld();
    const url = `${world.site}/`;
    const pageMs = [], pagePhases = [];
    await once(url);
    for (let i = 0; i < RUNS; i++) {
      const r = await once(url);
      if (r.page?.error || r.page?.url !== url) throw new Error(`start page did not load: ${JSON.stringify(r.page)}`);
      pageMs.push(r.ms);
      pagePhases.push(r.phases);
      process.stdout.write('.');
    }
    console.log();
    row(`create→page loaded (ms), start URL ${url}`, 'p50', 'p95');
    console.log(`${'bulkhead REST API'.padEnd(52)}${f1(pct(pageMs, 0.5)).padStart(9)}${f1(pct(pageMs, 0.95)).padStart(9)}   (goal: p50 <= 450; browserless: ~700)`);
    record(`create.${label}.start_url.p50`, pct(pageMs, 0.5), 'ms', { goal: '<= 450 (browserless ~700)' });
    record(`create.${label}.start_url.p95`, pct(pageMs, 0.95), 'ms');
    phaseRows('phases of bulkhead\'s creates with a start URL', 'start_url', pagePhases);
  }
} finally {
  baseline.close();
  if (world) {
    const { stopWorld } = await import('../tests/e2e/lib/world.js');
    await stopWorld().catch((e) => console.error(`stopWorld: ${e.message}`));
  }
  release?.();
}
