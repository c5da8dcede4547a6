// live.mjs — the live view (issue 4) on the test site's /animated page at
// 1280×720, against Chromium's own screencast in the same run; prints both
// and the ratios.
//
// bulkhead: a session on /animated; viewers on WS /live (maxFps 60, the
// default quality 70) count frames and bytes over a window, first one
// viewer, then four at once; the daemon's CPU (utime+stime of its pid, from
// /proc) over each window. Latency: a live `mouse` down/up on the page's
// click target, timed from sending it to the first frame whose pixels at
// the target show the new color.
// baseline: a Chromium that Playwright launches itself (over a pipe, the
// flags of cdp.mjs) on the same page, with Page.startScreencast (jpeg, the
// same quality, everyNthFrame 1) on a CDP session that acknowledges every
// frame at once; latency through Input.dispatchMouseEvent on that session.
// The two sides run one after the other (the baseline first, then the
// session is created), so they never share the CPUs.
//
// Frames are decoded (jpeg-js) only while a click waits for its frame, in a
// worker thread, so decoding never delays the arrival time of a frame.
//
// usage: node live.mjs BASE_URL TOKEN DAEMON_PID
// env: BENCH_LIVE_SECONDS (default 10) per fps window, BENCH_LIVE_CLICKS
// (default 20) latency samples per side.
import { CHROMIUM, browserFlags } from './flags.mjs';
import { record } from './results.mjs';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/e2e/package.json', import.meta.url));

const W = 1280, H = 720, QUALITY = 70, MAX_FPS = 60;
// the target is the right half of /animated: blue, yellow after a press, …
const TX = 960, TY = 360;
const COLORS = { blue: [0, 0, 255], yellow: [255, 255, 0] };

if (!isMainThread) {
  // the decoder: {id, buf (a JPEG)} → {id, color: 'blue'|'yellow'|null, rgb}
  const jpeg = require('jpeg-js');
  parentPort.on('message', ({ id, buf }) => {
    let color = null, rgb = null;
    try {
      const img = jpeg.decode(Buffer.from(buf), { useTArray: true, formatAsRGBA: false });
      const cx = Math.round(TX * img.width / W), cy = Math.round(TY * img.height / H);
      rgb = [0, 0, 0];
      let n = 0;
      for (let y = cy - 4; y <= cy + 4; y++) {
        for (let x = cx - 4; x <= cx + 4; x++) {
          const o = (y * img.width + x) * 3;
          for (let c = 0; c < 3; c++) rgb[c] += img.data[o + c];
          n++;
        }
      }
      rgb = rgb.map((v) => Math.round(v / n));
      for (const [name, ref] of Object.entries(COLORS)) {
        if (ref.every((v, c) => Math.abs(v - rgb[c]) < 48)) color = name;
      }
    } catch { /* not a JPEG: no color */ }
    parentPort.postMessage({ id, color, rgb });
  });
} else {
  await main();
}

async function main() {
  const { startWorld, stopWorld } = await import('../tests/e2e/lib/world.js');
  const { acquireLock } = await import('../tests/e2e/lib/lock.js');
  const { chromium } = await import('../tests/e2e/node_modules/playwright-core/index.mjs');
  const { WebSocket } = await import('../tests/e2e/node_modules/ws/wrapper.mjs');

  const [base, token, daemonPid] = process.argv.slice(2);
  if (!base || !token || !daemonPid) throw new Error('usage: node live.mjs BASE_URL TOKEN DAEMON_PID');
  const SECONDS = Number(process.env.BENCH_LIVE_SECONDS || 10);
  const CLICKS = Number(process.env.BENCH_LIVE_CLICKS || 20);
  const AUTH = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const FLAGS = browserFlags(W, H);
  const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const pct = (a, p) => {
    const s = [...a].sort((x, y) => x - y);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p / 100 * s.length) - 1))];
  };
  const cpuTicks = () => {
    // fields after the ")" of comm: state is 3rd; utime 14th, stime 15th
    const st = fs.readFileSync(`/proc/${daemonPid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  };

  // ---- decoding, off the main thread
  const worker = new Worker(new URL(import.meta.url));
  worker.unref();
  let nextId = 0;
  const pending = new Map();
  worker.on('message', ({ id, color, rgb }) => {
    const p = pending.get(id);
    pending.delete(id);
    if (p) p({ color, rgb });
  });
  const decode = (buf) => new Promise((resolve) => {
    const id = ++nextId;
    pending.set(id, resolve);
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
    worker.postMessage({ id, buf: ab }, [ab]);
  });

  // A frame source: onFrame(cb) gets (buf, arrivedAt) for every frame;
  // click(x, y) sends a press and a release. The probe: wait for a frame,
  // learn the target's color from it, click, and time until the first frame
  // that arrived after the click and shows the other color.
  async function latency(src, label) {
    const out = [];
    let fails = 0;
    for (let i = 0; i < CLICKS && fails < 5; i++) {
      await sleep(150 + Math.random() * 150); // clicks at random phases of the frame cadence
      const before = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => { off(); reject(new Error(`${label}: no frame within 5 s`)); }, 5000);
        const off = src.onFrame((buf) => { off(); clearTimeout(timer); resolve(decode(buf)); });
      });
      if (!before.color) throw new Error(`${label}: the target has neither color (rgb ${before.rgb})`);
      const want = before.color === 'blue' ? 'yellow' : 'blue';
      let found = null, off = null;
      const seen = new Promise((resolve) => {
        off = src.onFrame((buf, at) => {
          decode(buf).then((d) => { if (d.color === want && found === null) { found = at; resolve(); } });
        });
      });
      const t0 = performance.now();
      src.click(TX, TY);
      let timer = null;
      await Promise.race([seen, new Promise((resolve) => { timer = setTimeout(resolve, 3000); })]);
      clearTimeout(timer);
      off();
      if (found === null) { fails++; i--; process.stderr.write(`live: ${label}: no ${want} frame within 3 s of a click\n`); continue; }
      out.push(found - t0);
    }
    if (out.length < CLICKS) throw new Error(`${label}: only ${out.length} of ${CLICKS} clicks showed in a frame`);
    return out;
  }

  // ---- the baseline: Playwright's own Chromium and Page.startScreencast
  async function baseline(site) {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    try {
      const page = await browser.newPage({ viewport: { width: W, height: H } });
      await page.goto(`${site}/animated`);
      const cdp = await page.context().newCDPSession(page);
      const listeners = new Set();
      let frames = 0, bytes = 0;
      cdp.on('Page.screencastFrame', (f) => {
        const at = performance.now();
        cdp.send('Page.screencastFrameAck', { sessionId: f.sessionId }).catch(() => {});
        const buf = Buffer.from(f.data, 'base64');
        frames++;
        bytes += buf.length;
        for (const l of [...listeners]) l(buf, at);
      });
      const src = {
        onFrame(cb) { listeners.add(cb); return () => listeners.delete(cb); },
        click(x, y) {
          const p = { x, y, button: 'left', clickCount: 1 };
          cdp.send('Input.dispatchMouseEvent', { type: 'mousePressed', buttons: 1, ...p }).catch(() => {});
          cdp.send('Input.dispatchMouseEvent', { type: 'mouseReleased', buttons: 0, ...p }).catch(() => {});
        },
      };
      await cdp.send('Page.startScreencast', { format: 'jpeg', quality: QUALITY, maxWidth: W, maxHeight: H, everyNthFrame: 1 });
      await sleep(2000); // warm-up
      const f0 = frames, b0 = bytes, t0 = performance.now();
      await sleep(SECONDS * 1000);
      const secs = (performance.now() - t0) / 1000;
      const r = { fps: (frames - f0) / secs, bps: (bytes - b0) / secs };
      r.lat = await latency(src, 'baseline');
      await cdp.send('Page.stopScreencast');
      return r;
    } finally {
      await browser.close();
    }
  }

  // ---- bulkhead: viewers on the session's live view
  function openViewer(url) {
    return new Promise((resolve, reject) => {
      const u = new URL(url); // carries its session token
      if (!u.searchParams.has('token')) u.searchParams.set('token', token);
      u.searchParams.set('maxFps', MAX_FPS);
      u.searchParams.set('quality', QUALITY);
      const ws = new WebSocket(u, { perMessageDeflate: false, maxPayload: 64 << 20 });
      const listeners = new Set();
      ws.frames = 0;
      ws.bytes = 0;
      ws.on('message', (data, binary) => {
        if (!binary) {
          const m = JSON.parse(data.toString());
          if (m.type === 'error') process.stderr.write(`live: viewer got an error: ${m.message}\n`);
          return;
        }
        const at = performance.now();
        ws.frames++;
        ws.bytes += data.length;
        for (const l of [...listeners]) l(data, at);
      });
      ws.src = {
        onFrame(cb) { listeners.add(cb); return () => listeners.delete(cb); },
        click(x, y) {
          const p = { type: 'mouse', x, y, button: 'left', clickCount: 1 };
          ws.send(JSON.stringify({ ...p, action: 'down', buttons: 1 }));
          ws.send(JSON.stringify({ ...p, action: 'up', buttons: 0 }));
        },
      };
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      ws.on('close', (code, reason) => {
        if (!ws.closing) process.stderr.write(`live: a viewer was closed: ${code} ${reason}\n`);
      });
    });
  }

  async function measure(viewers) {
    await sleep(2000); // warm-up
    const f0 = viewers.map((v) => v.frames), b0 = viewers.map((v) => v.bytes);
    const c0 = cpuTicks(), t0 = performance.now();
    await sleep(SECONDS * 1000);
    const secs = (performance.now() - t0) / 1000, cpu = (cpuTicks() - c0) / TICK;
    const fps = viewers.map((v, i) => (v.frames - f0[i]) / secs);
    return {
      fps, bps: viewers.reduce((s, v, i) => s + v.bytes - b0[i], 0) / secs,
      cpuPerViewer: (100 * cpu / secs) / viewers.length,
    };
  }

  async function bulkhead(site) {
    const viewers = [];
    let session = null;
    try {
      const r = await fetch(`${base}/api/v1/sessions`, {
        method: 'POST', headers: AUTH,
        body: JSON.stringify({ url: `${site}/animated`, viewport: { width: W, height: H } }),
      });
      session = await r.json();
      if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(session)}`);
      viewers.push(await openViewer(session.urls.live));
      const one = await measure(viewers);
      one.lat = await latency(viewers[0].src, 'bulkhead');
      for (let i = 1; i < 4; i++) viewers.push(await openViewer(session.urls.live));
      const four = await measure(viewers);
      return { one, four };
    } finally {
      for (const v of viewers) { v.closing = true; v.close(); }
      if (session?.id) await fetch(`${base}/api/v1/sessions/${session.id}`, { method: 'DELETE', headers: AUTH });
    }
  }

  const release = await acquireLock(); // the test world's names are shared with the e2e suites
  let b, k;
  try {
    const world = await startWorld();
    process.stdout.write(`baseline (${SECONDS} s + ${CLICKS} clicks) … `);
    b = await baseline(world.site);
    process.stdout.write(`bulkhead (2 × ${SECONDS} s + ${CLICKS} clicks) … `);
    k = await bulkhead(world.site);
    process.stdout.write('done\n');
  } finally {
    await stopWorld();
    release();
    await worker.terminate();
  }

  const row = (name, a, bb, ratio, goal = '') =>
    console.log(`${name.padEnd(44)} ${a.padStart(9)} ${bb.padStart(9)} ${ratio.padStart(7)}${goal ? `   (goal: ${goal})` : ''}`);
  const f1 = (x) => x.toFixed(1), f0 = (x) => x.toFixed(0), kib = (x) => (x / 1024).toFixed(0);
  const min4 = Math.min(...k.four.fps), p50 = pct(k.one.lat, 50), p95 = pct(k.one.lat, 95);
  const bp50 = pct(b.lat, 50), bp95 = pct(b.lat, 95);
  console.log();
  row(`live view, /animated ${W}×${H}, JPEG q${QUALITY}`, 'bulkhead', 'baseline', 'ratio');
  row('frames/s, 1 viewer', f1(k.one.fps[0]), f1(b.fps), (k.one.fps[0] / b.fps).toFixed(2), '>= 30 fps');
  row('frames/s per viewer, 4 viewers (slowest)', f1(min4), f1(b.fps), (min4 / b.fps).toFixed(2), '>= 30 fps');
  row('click→frame latency p50 (ms)', f0(p50), f0(bp50), (p50 / bp50).toFixed(2), '<= 40 ms');
  row('click→frame latency p95 (ms)', f0(p95), f0(bp95), (p95 / bp95).toFixed(2));
  row('KiB/s, 1 viewer', kib(k.one.bps), kib(b.bps), (k.one.bps / b.bps).toFixed(2));
  row('KiB/s, 4 viewers together', kib(k.four.bps), '', '');
  row('daemon CPU % per viewer, 1 viewer', f1(k.one.cpuPerViewer), '', '');
  row('daemon CPU % per viewer, 4 viewers', f1(k.four.cpuPerViewer), '', '');
  console.log(`(4 viewers' frames/s: ${k.four.fps.map(f1).join(', ')}; goals: >= 30 fps, p50 <= 40 ms on loopback)`);
  record('live.fps_1_viewer', k.one.fps[0], 'frames/s', { goal: '>= 30', baseline: b.fps });
  record('live.fps_4_viewers_slowest', min4, 'frames/s', { goal: '>= 30', baseline: b.fps });
  record('live.click_to_frame.p50', p50, 'ms', { goal: '<= 40', baseline: bp50 });
  record('live.click_to_frame.p95', p95, 'ms', { baseline: bp95 });
  record('live.kib_per_s_1_viewer', k.one.bps / 1024, 'KiB/s', { baseline: b.bps / 1024 });
  record('live.kib_per_s_4_viewers', k.four.bps / 1024, 'KiB/s');
  record('live.daemon_cpu_per_viewer_1', k.one.cpuPerViewer, '%');
  record('live.daemon_cpu_per_viewer_4', k.four.cpuPerViewer, '%');
}
