// suite.js — the per-file fixture: the test world plus one daemon.
//
//   const env = suiteEnv();
//   before(env.start, {timeout: LOCK_WAIT});    // host lock, world, daemon
//   it('...', async () => { await env.d.create({url: env.url('/')}) ... });
//   it('stops cleanly and leaves nothing behind', env.finish);
//   after(env.finish);                          // no-op if the test above ran
//
// finish(): SIGTERM the daemon (must exit 0), assert nothing leaked, then
// remove the test bridge/nft table, the world and the temp dirs. On failure it
// dumps the daemon's stderr, force-cleans what was left (so the next suite
// starts clean) and rethrows.
import { startWorld, stopWorld, SITE } from './world.js';
import { startDaemon, removeTestNetwork, removeDirs } from './daemon.js';
import { findLeaks, forceCleanup } from './leaks.js';
import { acquireLock } from './lock.js';

// How long a suite's before() may take: waiting for another run's suite to
// finish (the host lock) plus starting the world and the daemon.
export const LOCK_WAIT = 35 * 60 * 1000;

export function suiteEnv(daemonOpts = {}) {
  const env = {
    d: null,
    world: null,
    finished: false,
    notes: [],
    url: (p = '/') => `${SITE}${p}`,
  };
  env.start = async () => {
    if (!env.release) env.release = await acquireLock();
    env.world = await startWorld();
    try {
      env.d = await startDaemon(daemonOpts);
    } catch (e) {
      await removeTestNetwork().catch(() => {});
      throw e;
    }
  };
  env.finish = async () => {
    if (env.finished) return;
    env.finished = true;
    const d = env.d;
    let err = null;
    try {
      if (d) {
        // learn every session id the daemon knows (failed creates included)
        if (!d.exited) await d.list().catch(() => {});
        await d.stop();
        const leaks = await findLeaks(d);
        if (leaks.length) throw new Error(`leaked after the daemon stopped:\n  ${leaks.join('\n  ')}`);
      }
    } catch (e) {
      err = e;
    }
    if (d) {
      if (err) {
        d.dump('suite failed at the end');
        if (!d.exited) await d.kill();
        const did = await forceCleanup(d).catch((e) => [`forceCleanup failed: ${e.message}`]);
        if (did.length) process.stderr.write(`suite: force-cleaned:\n  ${did.join('\n  ')}\n`);
      }
      const net = await removeTestNetwork().catch((e) => [`removeTestNetwork: ${e.message}`]);
      if (net.length) env.notes.push(`left after stop (removed by the test): ${net.join(', ')}`);
      if (!err) {
        const kept = removeDirs(d);
        if (kept) env.notes.push(kept);
      } else {
        process.stderr.write(`suite: kept ${d.stateDir} and ${d.runDir} for inspection\n`);
      }
    }
    await stopWorld();
    if (env.release) env.release();
    env.release = null;
    for (const n of env.notes) process.stderr.write(`suite note: ${n}\n`);
    if (err) throw err;
  };
  return env;
}
