// concurrency.test.js — 20 sessions created at once all become ready with
// their own address, container and page; deleting them at once removes
// everything. (2 cores: 20 Chromiums take about a minute.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { findLeaks, sessionLeftovers } from './lib/leaks.js';
import { checkSession } from './lib/check.js';

const N = Number(process.env.BULKHEAD_E2E_CONCURRENCY || 20);

describe(`concurrency: ${N} sessions at once`, () => {
  const env = suiteEnv();
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 300000 });
  let sessions = [];
  // The N concurrent creates, made by the first test that asks for them (the
  // delete test also passes alone): their answers, in order.
  let creates = null;
  const createAll = () => (creates ||= (async () => {
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: N }, (_, i) => env.d.api('POST', '/api/v1/sessions',
      { url: env.url(`/title?t=session%20${i}`), viewport: { width: 400, height: 300 } }, { timeout: 580000 })));
    sessions = results.filter((r) => r.status === 201).map((r) => r.json);
    return { results, dt: Date.now() - t0 };
  })());

  it(`creates ${N} sessions concurrently: all 201 ready, distinct ids, addresses and sandboxes`, { timeout: 600000 }, async () => {
    const { results, dt } = await createAll();
    const failed = results.map((r, i) => [i, r]).filter(([, r]) => r.status !== 201)
      .map(([i, r]) => `#${i}: ${r.status} ${r.json && r.json.error ? `${r.json.error.code}: ${r.json.error.message.split('\n')[0].slice(0, 140)}` : r.text.slice(0, 140)}`);
    process.stderr.write(`concurrency: ${N} creates took ${dt} ms (${sessions.length} ok)\n`);
    assert.deepEqual(failed, [], `${failed.length} of ${N} creates failed (daemon log: ${env.d.logPath})`);
    results.forEach((r, i) => {
      const s = r.json;
      checkSession(s, { status: 'ready', viewport: { width: 400, height: 300 }, subnet: env.d.subnet });
      assert.equal(s.page.title, `session ${i}`, `session #${i} shows another page`);
    });
    const uniq = (k) => new Set(sessions.map(k)).size;
    assert.equal(uniq((s) => s.id), N, 'ids are not distinct');
    assert.equal(uniq((s) => s.network.address), N, `addresses are not distinct: ${sessions.map((s) => s.network.address).join(' ')}`);
    assert.equal(uniq((s) => s.sandbox.pid), N, 'sandbox pids are not distinct');
    assert.equal(uniq((s) => s.sandbox.id), N, 'container ids are not distinct');
    const ready = await env.d.list('?status=ready');
    assert.equal(ready.length, N, `?status=ready lists ${ready.length}`);
  });

  it(`deletes all ${N} concurrently: all 204, nothing left`, { timeout: 600000 }, async (t) => {
    await createAll();
    // If some creates failed (the test above says so), delete the ones that exist.
    if (!sessions.length) {
      t.skip('no session was created');
      return;
    }
    const t0 = Date.now();
    const results = await Promise.all(sessions.map((s) => env.d.api('DELETE', `/api/v1/sessions/${s.id}`, undefined, { timeout: 280000 })));
    process.stderr.write(`concurrency: ${N} deletes took ${Date.now() - t0} ms\n`);
    const bad = results.map((r, i) => [sessions[i].id, r]).filter(([, r]) => r.status !== 204).map(([id, r]) => `${id}: ${r.status} ${r.text.slice(0, 200)}`);
    assert.deepEqual(bad, [], 'failed deletes');
    const left = [];
    for (const s of sessions) left.push(...await sessionLeftovers(env.d, s));
    assert.deepEqual(left, [], 'left after the DELETEs returned');
    const leaks = await findLeaks(env.d);
    assert.deepEqual(leaks, [], 'leaks');
    const ended = new Map((await env.d.list('?status=ended')).map((s) => [s.id, s]));
    for (const s of sessions) {
      assert.ok(ended.has(s.id), `${s.id} is not listed as ended`);
      assert.equal(ended.get(s.id).endReason, 'deleted');
    }
  });

  it('stops cleanly and leaves nothing behind', { timeout: 180000 }, () => env.finish());
});
