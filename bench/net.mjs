// net.mjs — what a session's network costs, each side measured in the same run:
//   1. create→ready (about:blank) with `"network":{"policy":"none"}` against
//      the default `internet`, RUNS each after one warm-up, alternating. Both
//      get the same namespace, veth, address and bridge port; `none` only
//      leaves out the session's egress rules (its chain and its entries in the
//      policy map), so the ratio is the cost of the policy in the nft tables.
//   2. download throughput of incompressible data (test site /bytes) by
//      fetch() in a page: inside a session (bridge, nft forward rules, NAT,
//      the session's veth) against a Chromium that Playwright launches on the
//      host (same flags as cdp.mjs), which reaches the site over its veth
//      without NAT. Timed in the page, so the CDP channel is not in it.
//   3. small requests: PAGES × page.goto(/title?t=N) through each browser's
//      CDP connection (the session's through bulkhead's CDP endpoint), and
//      PAGES × fetch(/title?t=N) in the page (network round trips only).
// Sides alternate in blocks so drift in the machine's load hits both.
// usage: node net.mjs BASE_URL TOKEN RUNS
// BENCH_NET_MIB (default 128): MiB downloaded per side, in 32 MiB fetches;
// BENCH_NET_PAGES (default 100): small loads per side and kind.
import { CHROMIUM, browserFlags } from './flags.mjs';
import { record } from './results.mjs';
import { startWorld, stopWorld } from '../tests/e2e/lib/world.js';
import { acquireLock } from '../tests/e2e/lib/lock.js';
import { chromium } from '../tests/e2e/node_modules/playwright-core/index.mjs';

const [base, token, runsArg] = process.argv.slice(2);
const RUNS = Number(runsArg || 10);
const MIB = Number(process.env.BENCH_NET_MIB || 128);
const PAGES = Number(process.env.BENCH_NET_PAGES || 100);
const CHUNK_MIB = Math.min(32, MIB);
const H = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
const FLAGS = browserFlags();

// Nearest rank, like stats.sh.
function pct(a, p) {
  const v = [...a].sort((x, y) => x - y);
  return v[Math.min(v.length - 1, Math.ceil((v.length - 1) * p))];
}
const row = (label, ...cols) => console.log(label.padEnd(50) + cols.map((c) => String(c).padStart(10)).join(''));

const live = new Set(); // ids of sessions to delete
async function create(body) {
  const t0 = performance.now();
  const r = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: H, body: JSON.stringify(body) });
  const ms = performance.now() - t0;
  const s = await r.json();
  if (r.status !== 201) throw new Error(`create ${JSON.stringify(body)}: ${r.status} ${JSON.stringify(s)}`);
  live.add(s.id);
  return { s, ms };
}
async function destroy(id) {
  const r = await fetch(`${base}/api/v1/sessions/${id}`, { method: 'DELETE', headers: H });
  if (r.status !== 204) throw new Error(`delete ${id}: ${r.status}`);
  live.delete(id);
}

// Bytes and milliseconds of one fetch of url, read to the end in the page.
function download(page, url) {
  return page.evaluate(async (u) => {
    const t0 = performance.now();
    const r = await fetch(u, { cache: 'no-store' });
    const rd = r.body.getReader();
    let n = 0;
    for (;;) {
      const { done, value } = await rd.read();
      if (done) break;
      n += value.byteLength;
    }
    return { n, ms: performance.now() - t0 };
  }, url);
}

async function gotos(page, site, from, count) {
  const t0 = performance.now();
  for (let i = from; i < from + count; i++) {
    await page.goto(`${site}/title?t=g${i}`);
    const t = await page.title();
    if (t !== `g${i}`) throw new Error(`unexpected title ${t}`);
  }
  return performance.now() - t0;
}

function fetches(page, site, from, count) {
  return page.evaluate(async ({ s, a, n }) => {
    const t0 = performance.now();
    for (let i = a; i < a + n; i++) {
      const r = await fetch(`${s}/title?t=f${i}`, { cache: 'no-store' });
      if (!(await r.text()).includes(`<title>f${i}</title>`)) throw new Error(`bad page f${i}`);
    }
    return performance.now() - t0;
  }, { s: site, a: from, n: count });
}

const release = await acquireLock(); // the test world's names are shared with the e2e suites
let host = null, remote = null;
try {
  const world = await startWorld();

  // 1. create→ready, none vs internet
  const none = [], inet = [];
  const NONE = { url: 'about:blank', network: { policy: 'none' } };
  const INET = { url: 'about:blank', network: { policy: 'internet' } };
  for (const body of [NONE, INET]) await destroy((await create(body)).s.id);
  for (let i = 0; i < RUNS; i++) {
    for (const [body, out] of i % 2 ? [[INET, inet], [NONE, none]] : [[NONE, none], [INET, inet]]) {
      const { s, ms } = await create(body);
      out.push(ms);
      await destroy(s.id);
    }
    process.stdout.write('.');
  }
  console.log();
  row('create→ready (ms)', 'p50', 'p95');
  row('network policy none (netns, veth, no rules)', pct(none, 0.5).toFixed(1), pct(none, 0.95).toFixed(1));
  row('network policy internet (the default)', pct(inet, 0.5).toFixed(1), pct(inet, 0.95).toFixed(1));
  row('ratio internet / none', (pct(inet, 0.5) / pct(none, 0.5)).toFixed(2),
    (pct(inet, 0.95) / pct(none, 0.95)).toFixed(2));
  record('net.create_internet.p50', pct(inet, 0.5), 'ms', { baseline: pct(none, 0.5) });
  record('net.create_internet.p95', pct(inet, 0.95), 'ms', { baseline: pct(none, 0.95) });

  // 2. and 3.: one session, one host Chromium, each with one page on the site
  const { s: session } = await create({ network: { policy: 'internet' } });
  const cdp = new URL(session.urls.cdp); // carries its session token
  if (!cdp.searchParams.has('token')) cdp.searchParams.set('token', token);
  remote = await chromium.connectOverCDP(cdp.href);
  const rp = await remote.contexts()[0].newPage();
  host = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  const hp = await host.newPage();
  for (const p of [rp, hp]) await p.goto(`${world.site}/`);
  const side = { host: { page: hp, bytes: 0, ms: 0, goto: 0, fetch: 0 },
    session: { page: rp, bytes: 0, ms: 0, goto: 0, fetch: 0 } };
  const order = (i) => (i % 2 ? ['session', 'host'] : ['host', 'session']);

  const chunk = CHUNK_MIB << 20;
  for (const k of order(0)) await download(side[k].page, `${world.site}/bytes?n=${4 << 20}`); // warm-up
  const chunks = Math.max(1, Math.round(MIB / CHUNK_MIB));
  for (let i = 0; i < chunks; i++) {
    for (const k of order(i)) {
      const { n, ms } = await download(side[k].page, `${world.site}/bytes?n=${chunk}`);
      if (n !== chunk) throw new Error(`${k}: got ${n} of ${chunk} bytes`);
      side[k].bytes += n;
      side[k].ms += ms;
    }
    process.stdout.write('.');
  }
  const BLOCKS = 4, per = Math.max(1, Math.floor(PAGES / BLOCKS));
  for (let b = 0; b < BLOCKS; b++) {
    for (const k of order(b)) {
      side[k].goto += await gotos(side[k].page, world.site, b * per, per);
      side[k].fetch += await fetches(side[k].page, world.site, b * per, per);
    }
    process.stdout.write('.');
  }
  const n = per * BLOCKS;
  const mbs = (k) => side[k].bytes / 1e6 / (side[k].ms / 1000);
  console.log('\n');
  row('page traffic to the test site', 'session', 'host', 'ratio');
  row(`download ${chunks} × ${CHUNK_MIB} MiB (MB/s)`, mbs('session').toFixed(0), mbs('host').toFixed(0),
    (mbs('session') / mbs('host')).toFixed(2));
  row(`${n} × page.goto /title (ms each)`, (side.session.goto / n).toFixed(1),
    (side.host.goto / n).toFixed(1), (side.session.goto / side.host.goto).toFixed(2));
  row(`${n} × fetch /title in the page (ms each)`, (side.session.fetch / n).toFixed(2),
    (side.host.fetch / n).toFixed(2), (side.session.fetch / side.host.fetch).toFixed(2));
  record('net.download', mbs('session'), 'MB/s', { baseline: mbs('host') });
  record('net.goto_title', side.session.goto / n, 'ms', { baseline: side.host.goto / n });
  record('net.fetch_title', side.session.fetch / n, 'ms', { baseline: side.host.fetch / n });
  console.log('(session: inside a bulkhead session, through its bridge, rules and NAT; host: a\n'
    + ' Playwright-launched Chromium on the host; ratio session / host, for MB/s and for ms)');
} finally {
  await remote?.close().catch(() => {});
  await host?.close().catch(() => {});
  for (const id of [...live]) await destroy(id).catch((e) => console.error(`${e.message}`));
  await stopWorld().catch((e) => console.error(`stopWorld: ${e.message}`));
  release();
}
