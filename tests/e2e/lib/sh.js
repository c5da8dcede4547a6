// sh.js — run a program and collect its output (never through a shell).
import { spawn } from 'node:child_process';

// run('ip', ['-o', 'link']) → {code, signal, stdout, stderr}. Rejects only if
// the program cannot be started, or on timeout (default 60 s); a non-zero exit
// is returned, not thrown — use must() for that.
export function run(cmd, args = [], opts = {}) {
  const { input, timeout = 60000, env, cwd } = opts;
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: env || process.env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    p.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { timedOut = true; p.kill('SIGKILL'); }, timeout);
    p.on('error', (e) => { clearTimeout(t); reject(new Error(`${cmd}: ${e.message}`)); });
    p.on('close', (code, signal) => {
      clearTimeout(t);
      if (timedOut) reject(new Error(`${cmd} ${args.join(' ')}: timed out after ${timeout} ms\n${stderr}`));
      else resolve({ code, signal, stdout, stderr });
    });
    if (input !== undefined) p.stdin.end(input);
    else p.stdin.end();
  });
}

// Like run(), but a non-zero exit throws an error naming the command and its stderr.
export async function must(cmd, args = [], opts = {}) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code ?? r.signal}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll fn() until it returns a truthy value or `timeout` ms pass; returns the
// value, or throws with `what` (and the last error fn threw, if any).
export async function waitFor(fn, { timeout = 10000, interval = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(interval);
  }
}
