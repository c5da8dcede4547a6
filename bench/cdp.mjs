// cdp.mjs — the same Playwright workload through bulkhead's CDP endpoint and
// against a Chromium that Playwright launches itself (over a pipe, same
// flags), in the same run; prints both times and the ratio.
// Workload per run: WORK navigations on the local test site, each followed by
// an evaluation and a screenshot. usage: node cdp.mjs BASE_URL TOKEN
import { CHROMIUM, browserFlags } from './flags.mjs';
import { record } from './results.mjs';
import { startWorld, stopWorld } from '../tests/e2e/lib/world.js';
import { acquireLock } from '../tests/e2e/lib/lock.js';
import { chromium } from '../tests/e2e/node_modules/playwright-core/index.mjs';

// LABEL (optional): a name for the daemon's settings, e.g. "tuned"
const [base, token, label] = process.argv.slice(2);
const WORK = Number(process.env.BENCH_CDP_WORK || 50);
const ROUNDS = Number(process.env.BENCH_CDP_ROUNDS || 3);
const H = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
const FLAGS = browserFlags();

async function workload(page, site) {
  await page.setViewportSize({ width: 1280, height: 720 });
  const t0 = performance.now();
  for (let i = 0; i < WORK; i++) {
    await page.goto(`${site}/title?t=n${i}`);
    const t = await page.evaluate(() => document.title);
    if (t !== `n${i}`) throw new Error(`unexpected title ${t}`);
    await page.screenshot();
  }
  return performance.now() - t0;
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];

const release = await acquireLock(); // the test world's names are shared with the e2e suites
const world = await startWorld();
let session = null;
try {
  const r = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: H, body: '{}' });
  session = await r.json();
  if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(session)}`);
  const direct = [], via = [];
  for (let round = 0; round < ROUNDS; round++) {
    const b1 = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    const p1 = await b1.newPage();
    direct.push(await workload(p1, world.site));
    await b1.close();

    const b2 = await chromium.connectOverCDP(session.urls.cdp); // carries its session token
    const p2 = await b2.contexts()[0].newPage();
    via.push(await workload(p2, world.site));
    await p2.close();
    await b2.close();
    process.stdout.write('.');
  }
  const d = median(direct), v = median(via);
  console.log(`\n\n${`Playwright workload (${WORK} × goto+evaluate+screenshot)${label ? `, ${label}` : ''}, ms`.padEnd(58)} median`);
  console.log(`${'through bulkhead CDP endpoint'.padEnd(58)} ${v.toFixed(0).padStart(6)}`);
  console.log(`${'Playwright-launched Chromium (pipe), same flags'.padEnd(58)} ${d.toFixed(0).padStart(6)}`);
  console.log(`${'ratio bulkhead / direct'.padEnd(58)} ${(v / d).toFixed(2).padStart(6)}   (goal: <= 1.05)`);
  record(label ? `cdp.${label}.workload` : 'cdp.workload', v, 'ms', { goal: '<= 1.05 x baseline', baseline: d });
} finally {
  if (session?.id) await fetch(`${base}/api/v1/sessions/${session.id}`, { method: 'DELETE', headers: H });
  await stopWorld();
  release();
}
