// lifecycle.test.js — how sessions end, and the capacity queue, for real:
// short idle timeouts and ttls expire sessions with their reason and close
// connected CDP and live clients with 1001 (not a reset); expiresAt follows
// activity; a killed browser ends its session as "crashed" with the cause;
// beyond --max-sessions creates wait in a FIFO queue (admitted in order),
// get 429 + Retry-After at once when the queue is full and after
// --queue-timeout otherwise; the queue's waits show in /metrics.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { sessionLeftovers } from './lib/leaks.js';
import { sleep, waitFor } from './lib/sh.js';

const T = { timeout: 120000 };

function open(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, headers });
    ws.closed = new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: String(reason), at: Date.now() })));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function ended(d, id, ms = 30000) {
  let g;
  await waitFor(async () => {
    g = await d.api('GET', `/api/v1/sessions/${id}`);
    return g.json && g.json.status === 'ended';
  }, { timeout: ms, interval: 200, what: `session ${id} ended` });
  return g.json;
}

describe('lifecycle: timeouts, crashes, capacity', () => {
  const env = suiteEnv({ args: ['--max-sessions', '2', '--queue-max', '2', '--queue-timeout', '8'] });
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 180000 });

  it('idleTimeout 3 s: expiresAt follows activity; then idle, and the CDP client gets 1001 "session ended: idle"', T, async () => {
    const { d } = env;
    const s = await d.create({ url: env.url('/'), idleTimeout: 3, ttl: 600 });
    const e0 = Date.parse(s.expiresAt);
    assert.ok(e0 - Date.now() <= 3500 && e0 - Date.now() > 0, `expiresAt is the idle deadline: ${s.expiresAt}`);
    const ws = await open(s.urls.cdp);
    await sleep(1500);
    ws.send(JSON.stringify({ id: 1, method: 'Browser.getVersion' }));
    await new Promise((r) => ws.once('message', r));
    const g = await d.api('GET', `/api/v1/sessions/${s.id}`);
    assert.ok(Date.parse(g.json.expiresAt) >= e0 + 1000, `activity moved expiresAt: ${s.expiresAt} → ${g.json.expiresAt}`);
    const t0 = Date.now();
    const c = await ws.closed;
    assert.equal(c.code, 1001, JSON.stringify(c));
    assert.equal(c.reason, 'session ended: idle');
    assert.ok(c.at - t0 >= 2000, `closed ${c.at - t0} ms after the last message`);
    const j = await ended(d, s.id);
    assert.equal(j.endReason, 'idle');
    const ev = (await d.api('GET', `/api/v1/sessions/${s.id}/events`)).json.events;
    assert.deepEqual(ev.at(-1).detail.reason, 'idle');
    assert.deepEqual(await sessionLeftovers(d, s), []);
  });

  it('ttl 6 s: a watching live viewer (activity) does not keep it; the viewer gets 1001 "session ended: ttl"', T, async () => {
    const { d } = env;
    // (the ttl counts from the create request; the session tokens in urls
    // expire with it, so the viewer uses the API token, in its header)
    const s = await d.create({ url: env.url('/'), idleTimeout: 600, ttl: 6 });
    const ws = await open(`ws://127.0.0.1:${d.port}/api/v1/sessions/${s.id}/live`, { Authorization: `Bearer ${d.token}` });
    let frames = 0;
    ws.on('message', (m, binary) => { if (binary) frames++; });
    const c = await ws.closed;
    assert.equal(c.code, 1001, JSON.stringify(c));
    assert.equal(c.reason, 'session ended: ttl');
    assert.ok(frames > 0, 'the viewer saw the page');
    const j = await ended(d, s.id);
    assert.equal(j.endReason, 'ttl');
    assert.ok(Date.parse(j.endedAt) - Date.parse(j.createdAt) < 12000, `${j.createdAt} → ${j.endedAt}`);
    assert.deepEqual(await sessionLeftovers(d, s), []);
  });

  it('a killed browser: crashed, with the signal as cause, in the session and its events', T, async () => {
    const { d } = env;
    const s = await d.create({ url: env.url('/') });
    const ws = await open(s.urls.cdp);
    process.kill(s.sandbox.pid, 'SIGKILL'); // the session's browser, which this test had started
    const c = await ws.closed;
    assert.equal(c.code, 1001, JSON.stringify(c));
    const j = await ended(d, s.id);
    assert.equal(j.endReason, 'crashed');
    assert.match(j.endDetail, /killed by signal 9/);
    const ev = (await d.api('GET', `/api/v1/sessions/${s.id}/events`)).json.events;
    const crashed = ev.find((e) => e.type === 'crashed');
    assert.ok(crashed, JSON.stringify(ev));
    assert.match(crashed.detail.cause, /signal 9/);
    assert.deepEqual(await sessionLeftovers(d, s), []);
  });

  it('capacity: FIFO queue admits in order, 429 + Retry-After at once when full and after the queue timeout', { timeout: 180000 }, async () => {
    const { d } = env;
    const a = await d.create({ url: 'about:blank' });
    const b = await d.create({ url: 'about:blank' });
    const order = [];
    const post = (name) => d.api('POST', '/api/v1/sessions', { url: 'about:blank' }).then((r) => { order.push(name); return r; });
    const pc = post('c');
    await sleep(300);
    const pd = post('d');
    await sleep(300);
    const t0 = Date.now();
    const e = await d.api('POST', '/api/v1/sessions', { url: 'about:blank' });
    assert.equal(e.status, 429, e.text);
    assert.ok(Date.now() - t0 < 1500, 'a full queue refuses at once');
    assert.ok(Number(e.headers.get('retry-after')) > 0, 'Retry-After');
    assert.deepEqual(order, [], 'both wait');
    await d.del(a.id);
    const rc = await pc;
    assert.equal(rc.status, 201, rc.text);
    await sleep(500);
    assert.deepEqual(order, ['c'], 'the first in line went first; the second still waits');
    await d.del(b.id);
    const rd = await pd;
    assert.equal(rd.status, 201, rd.text);
    assert.deepEqual(order, ['c', 'd']);
    // both slots taken again: a create waits the queue timeout (8 s), then 429
    const t1 = Date.now();
    const f = await d.api('POST', '/api/v1/sessions', { url: 'about:blank' });
    const waited = Date.now() - t1;
    assert.equal(f.status, 429, f.text);
    assert.ok(waited >= 7500, `refused after ${waited} ms`);
    assert.ok(Number(f.headers.get('retry-after')) > 0, 'Retry-After');
    assert.equal((await d.list('?status=ready')).length, 2, 'nothing more was created');
    const m = await d.api('GET', '/metrics');
    const count = Number((m.text.match(/^bulkhead_capacity_queue_wait_seconds_count (\d+)$/m) || [])[1]);
    assert.ok(count >= 3, `queue waits counted: ${count}`);
    const over4 = Number((m.text.match(/^bulkhead_capacity_queue_wait_seconds_bucket\{le="5"\} (\d+)$/m) || [])[1]);
    assert.ok(over4 < count, 'the refused wait (~8 s) is above the 5 s bucket');
    await d.del(rc.json.id);
    await d.del(rd.json.id);
  });

  it('stops cleanly and leaves nothing behind', { timeout: 180000 }, () => env.finish());
});
