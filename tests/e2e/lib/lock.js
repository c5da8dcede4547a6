// lock.js — one e2e suite at a time per host. The suites share fixed names
// (the bhtest-inet namespace, 198.51.100.0/24, bridge bht0, subnet
// 10.215.0.0/16), so two test runs on one machine (two developers, or a
// developer and CI) must not overlap. The lock is flock(1) on a file, held by a
// child `flock … cat` whose stdin is our pipe: it is released when we release
// it or when this process dies, whatever the way.
import fs from 'node:fs';
import { spawn } from 'node:child_process';

const LOCK = '/run/lock/bulkhead-e2e.lock';

export async function acquireLock({ timeout = 30 * 60 * 1000 } = {}) {
  fs.mkdirSync('/run/lock', { recursive: true });
  let holder = '';
  try { holder = fs.readFileSync(`${LOCK}.holder`, 'utf8').trim(); } catch { /* none */ }
  const child = spawn('flock', ['-x', '-w', String(Math.ceil(timeout / 1000)), LOCK, '-c', 'echo locked; exec cat >/dev/null'],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  let said = false;
  const waiting = setTimeout(() => {
    said = true;
    process.stderr.write(`lock: waiting for ${LOCK} (held by ${holder || 'another test run'})\n`);
  }, 2000);
  await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (out.includes('locked')) resolve();
    });
    child.on('error', reject);
    child.on('exit', (c) => reject(new Error(`could not take ${LOCK} within ${timeout} ms (exit ${c}); held by ${holder || '?'}`)));
  }).finally(() => clearTimeout(waiting));
  if (said) process.stderr.write('lock: got it\n');
  fs.writeFileSync(`${LOCK}.holder`, `pid ${process.pid} (${process.argv.slice(1).join(' ')}) since ${new Date().toISOString()}\n`);
  child.removeAllListeners('exit');
  return () => {
    try { fs.writeFileSync(`${LOCK}.holder`, ''); } catch { /* */ }
    child.stdin.end();
  };
}
