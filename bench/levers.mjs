// levers.mjs — what browser flags cost and save, measured with the baseline's
// hand-written runc bundle (bench/baseline.mjs) rather than the daemon, so a
// flag is tried without changing bulkhead. Not part of `make bench`: a tool
// for deciding which levers to put into src/kinds/browser/browser.c.
//
// For each lever (a change to the argv the daemon's sessions run, read from a
// live session of the daemon at BASE_URL): start time (spawn →
// Browser.getVersion, median of RUNS), then K containers live at once, each
// attached like a session (Target.attachToTarget, Page.enable, the viewport,
// one screenshot: a lever that breaks rendering fails here), idle on
// about:blank; after 10 s of settling: memory per container (drop of
// MemAvailable, PSS of the cgroups' processes, anon of the memory cgroups),
// and idle CPU of all K over 10 s (% of one core); then all are removed.
// usage: node levers.mjs BASE_URL TOKEN [K] [LEVER...]
// (LEVER: names from the table below; default all). BENCH_RUNS: start runs.
import fs from 'node:fs';
import { Baseline, sessionBrowser } from './baseline.mjs';
import { settledMemAvailable, pssBytes } from './hostmem.mjs';

const [base, token, kArg, ...only] = process.argv.slice(2);
const K = Number(kArg || 30);
const RUNS = Number(process.env.BENCH_RUNS || 5);
const MiB = 1 << 20;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// argv with `features` added to its --disable-features= (Chromium reads only
// the last --disable-features, so a second one would undo the first).
const disable = (features) => (argv) => {
  const i = argv.findIndex((a) => a.startsWith('--disable-features='));
  const out = [...argv];
  if (i < 0) out.splice(1, 0, `--disable-features=${features}`);
  else out[i] = `${out[i]},${features}`;
  return out;
};
const add = (...flags) => (argv) => [...argv.slice(0, -1), ...flags, argv[argv.length - 1]];
const full = (argv) => ['/usr/lib/chromium/chromium', ...argv.slice(1)];
const all = (...fs) => (argv) => fs.reduce((a, f) => f(a), argv);

const LEVERS = {
  'as-is': (a) => a,
  'full-browser': full,
  'renderer-process-limit=1': add('--renderer-process-limit=1'),
  'no-site-isolation': all(add('--disable-site-isolation-trials'), disable('IsolateOrigins,site-per-process')),
  'max-old-space-size=128': add('--js-flags=--max-old-space-size=128'),
  'js-lite-mode': add('--js-flags=--lite-mode'),
  'no-PaintHolding': disable('PaintHolding'),
  'low-end-device-mode': add('--enable-low-end-device-mode'),
  'disable-dev-shm-usage': add('--disable-dev-shm-usage'),
  'in-process-gpu': add('--in-process-gpu'),
  'network-in-process': (argv) => add('--enable-features=NetworkServiceInProcess2')(argv),
  'in-process-gpu+network-in-process': all(add('--in-process-gpu'), add('--enable-features=NetworkServiceInProcess2')),
  'single-process (floor; no sandbox)': add('--single-process'),
};

const keyed = (file) => Object.fromEntries(fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(/\s+/)).map(([k, v]) => [k, Number(v)]));
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const browser = await sessionBrowser(base, token);
const names = only.length ? only : Object.keys(LEVERS);
console.log(`levers: ${K} containers each, 1 CPU quota; load average ${loadavg()}`);
console.log(`${'lever'.padEnd(36)}${'start ms'.padStart(9)}${'MemAv MiB'.padStart(10)}${'PSS MiB'.padStart(9)}${'anon MiB'.padStart(9)}${'idle CPU %'.padStart(11)}${'procs'.padStart(7)}   load`);
for (const name of names) {
  const argv = LEVERS[name](browser.argv);
  const b = new Baseline({ argv, env: browser.env, cpus: 1 });
  const live = [];
  try {
    const starts = [];
    for (let i = 0; i < RUNS; i++) starts.push((await b.run()).ms);
    const before = await settledMemAvailable(2000);
    for (let i = 0; i < K; i++) {
      const h = await b.start();
      live.push(h);
      const { sessionId } = await h.call('Target.attachToTarget', { targetId: h.page.targetId, flatten: true });
      await h.call('Emulation.setDeviceMetricsOverride', { width: 1280, height: 720, deviceScaleFactor: 1, mobile: false }, sessionId);
      await h.call('Page.enable', {}, sessionId);
      const shot = await h.call('Page.captureScreenshot', { format: 'png' }, sessionId);
      if (!shot.data || shot.data.length < 100) throw new Error(`${name}: no screenshot`);
    }
    const after = await settledMemAvailable(10000);
    const dirs = live.map((h) => {
      const d = b.cgroupDirs(h.id);
      return { mem: d.find((x) => x.includes('/memory/')), cpu: d.find((x) => x.includes('/cpuacct/')) };
    });
    let p = 0, anon = 0, procs = 0;
    for (const d of dirs) {
      const pids = fs.readFileSync(`${d.mem}/cgroup.procs`, 'utf8').split('\n').filter(Boolean);
      procs += pids.length;
      for (const pid of pids) p += pssBytes(pid);
      anon += keyed(`${d.mem}/memory.stat`).rss;
    }
    const cpu = () => dirs.reduce((a, d) => a + Number(fs.readFileSync(`${d.cpu}/cpuacct.usage`, 'utf8')), 0);
    const c0 = cpu(), t0 = performance.now();
    await sleep(10000);
    const idle = (cpu() - c0) / 1e9 / ((performance.now() - t0) / 1000) * 100;
    console.log(`${name.padEnd(36)}${median(starts).toFixed(0).padStart(9)}${((before - after) / K / MiB).toFixed(1).padStart(10)}`
      + `${(p / K / MiB).toFixed(1).padStart(9)}${(anon / K / MiB).toFixed(1).padStart(9)}${idle.toFixed(2).padStart(11)}`
      + `${(procs / K).toFixed(1).padStart(7)}   ${loadavg()}`);
  } catch (e) {
    console.log(`${name.padEnd(36)} failed: ${e.message.split('\n')[0].slice(0, 200)}`);
  } finally {
    for (const h of live) await b.stop(h).catch((e) => console.error(`stop: ${e.message}`));
    b.close();
  }
}
