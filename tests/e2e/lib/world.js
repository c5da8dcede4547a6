// world.js — the tests' own "internet": a network namespace bhtest-inet with
// a veth pair to the host (inside 198.51.100.1/24, host side 198.51.100.254/24)
// and site.js serving test pages on 198.51.100.1:8080 inside it. Sessions reach
// it through bulkhead's bridge and the host's routing + NAT; the host reaches it
// directly. Nothing here sends traffic anywhere but into that namespace.
//
// startWorld() first removes what a crashed earlier run may have left (the
// namespace, its processes, the veth), so it is safe to call again and again;
// stopWorld() is idempotent too.
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { run, must, waitFor, sleep } from './sh.js';

export const NS = 'bhtest-inet';
export const HOST_IF = 'bhtest-h';
export const NS_IF = 'bhtest-i';
export const SITE_ADDR = '198.51.100.1';
export const HOST_ADDR = '198.51.100.254';
export const SITE_PORT = 8080;
export const SITE = `http://${SITE_ADDR}:${SITE_PORT}`;

const SITE_JS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'site.js');

let siteProc = null;
let siteLog = '';

async function linkExists(name) {
  return (await run('ip', ['link', 'show', 'dev', name])).code === 0;
}

async function nsExists() {
  return existsSync(`/run/netns/${NS}`);
}

async function removeLeftovers() {
  if (await nsExists()) {
    // Processes left inside (a site.js from a crashed run): kill them first.
    const r = await run('ip', ['netns', 'pids', NS]);
    for (const pid of r.stdout.split(/\s+/).filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
    await run('ip', ['netns', 'del', NS]);
  }
  if (await linkExists(HOST_IF)) await run('ip', ['link', 'del', HOST_IF]);
}

// Start the world; returns {site, url(path), requests(), clearRequests()}.
export async function startWorld() {
  await stopWorld();
  await removeLeftovers();
  await must('ip', ['netns', 'add', NS]);
  await must('ip', ['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF]);
  await must('ip', ['link', 'set', NS_IF, 'netns', NS]);
  await must('ip', ['addr', 'add', `${HOST_ADDR}/24`, 'dev', HOST_IF]);
  await must('ip', ['link', 'set', HOST_IF, 'up']);
  await must('ip', ['-n', NS, 'addr', 'add', `${SITE_ADDR}/24`, 'dev', NS_IF]);
  await must('ip', ['-n', NS, 'link', 'set', NS_IF, 'up']);
  await must('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);

  // setpriv --pdeathsig: if this test process dies, the site dies with it.
  const argv = ['--pdeathsig', 'KILL', 'ip', 'netns', 'exec', NS, process.execPath, SITE_JS,
    '--host', SITE_ADDR, '--port', String(SITE_PORT)];
  siteLog = '';
  siteProc = spawn('setpriv', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  siteProc.stdout.setEncoding('utf8').on('data', (d) => { siteLog += d; });
  siteProc.stderr.setEncoding('utf8').on('data', (d) => { siteLog += d; });
  const exited = new Promise((resolve) => siteProc.once('exit', (c, s) => resolve(`${c ?? s}`)));
  let early = null;
  exited.then((c) => { early = c; });
  await waitFor(async () => {
    if (early !== null) throw new Error(`site.js exited (${early}): ${siteLog}`);
    const r = await fetch(`${SITE}/healthz`, { signal: AbortSignal.timeout(1000) });
    return r.ok;
  }, { timeout: 15000, what: `test site ${SITE}` }).catch((e) => {
    throw new Error(`${e.message}\nsite output: ${siteLog}`);
  });
  return {
    site: SITE,
    url: (p = '/') => `${SITE}${p}`,
    requests: async () => (await fetch(`${SITE}/_requests`)).json(),
    clearRequests: async () => { await fetch(`${SITE}/_requests/clear`); },
  };
}

export async function stopWorld() {
  if (siteProc && siteProc.exitCode === null && siteProc.signalCode === null) {
    const p = siteProc;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([gone, sleep(3000)]);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
  siteProc = null;
  await removeLeftovers();
}
