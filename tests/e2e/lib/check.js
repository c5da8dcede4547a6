// check.js — assertions on the API's shapes (the session object, errors).
import assert from 'node:assert/strict';

const isTime = (v) => (typeof v === 'number' && v > 0) || (typeof v === 'string' && !Number.isNaN(Date.parse(v)));
const toMs = (v) => (typeof v === 'number' ? (v < 1e11 ? v * 1000 : v) : Date.parse(v));

export const ip2int = (a) => a.split('.').reduce((x, o) => x * 256 + Number(o), 0);

export function inSubnet(addr, cidr) {
  if (typeof addr !== 'string' || !/^\d+\.\d+\.\d+\.\d+$/.test(addr)) return false;
  const [net, bits] = cidr.split('/');
  const div = 2 ** (32 - Number(bits));
  return Math.floor(ip2int(addr) / div) === Math.floor(ip2int(net) / div);
}

// Check every field of a session object as the contract describes it. `want`
// may name: status, url, viewport {width,height}, idleTimeout, ttl, subnet.
export function checkSession(s, want = {}) {
  const j = JSON.stringify(s);
  assert.equal(typeof s, 'object', `session is not an object: ${j}`);
  assert.ok(typeof s.id === 'string' && /^[A-Za-z0-9_-]{4,64}$/.test(s.id), `session.id ${JSON.stringify(s.id)}`);
  assert.equal(s.type, 'browser', `session.type in ${j}`);
  assert.ok(['starting', 'ready', 'ended'].includes(s.status), `session.status ${JSON.stringify(s.status)}`);
  if (want.status) assert.equal(s.status, want.status, `session.status in ${j}`);
  if (want.url) assert.equal(s.url, want.url, `session.url in ${j}`);
  assert.ok(isTime(s.createdAt), `session.createdAt ${JSON.stringify(s.createdAt)}`);
  if (s.status !== 'ended' || s.expiresAt != null) {
    assert.ok(isTime(s.expiresAt), `session.expiresAt ${JSON.stringify(s.expiresAt)}`);
    // expiresAt is the earlier of the ttl deadline and the idle deadline
    const ttl = want.ttl ?? s.ttl;
    const dt = (toMs(s.expiresAt) - toMs(s.createdAt)) / 1000;
    const upper = Math.min(ttl, (Date.now() - toMs(s.createdAt)) / 1000 + s.idleTimeout);
    assert.ok(dt <= ttl + 5 && dt >= Math.min(ttl, s.idleTimeout) - 5 && dt <= upper + 5,
      `expiresAt - createdAt = ${dt} s, expected min(ttl ${ttl}, last activity + idleTimeout ${s.idleTimeout}) (${j})`);
  }
  assert.ok(Math.abs(toMs(s.createdAt) - Date.now()) < 3600e3, `createdAt ${s.createdAt} is not about now`);
  if (s.status === 'ended') {
    assert.ok(isTime(s.endedAt), `ended session's endedAt ${JSON.stringify(s.endedAt)}`);
    assert.ok(['deleted', 'closed', 'idle', 'ttl', 'crashed', 'error', 'shutdown'].includes(s.endReason), `endReason ${JSON.stringify(s.endReason)}`);
  } else {
    assert.ok(s.endedAt === null || s.endedAt === undefined, `live session has endedAt ${JSON.stringify(s.endedAt)}`);
    assert.ok(s.endReason === null || s.endReason === undefined, `live session has endReason ${JSON.stringify(s.endReason)}`);
  }
  assert.ok(s.limits && typeof s.limits === 'object', `session.limits in ${j}`);
  for (const k of ['memoryBytes', 'pids', 'cpus']) {
    assert.ok(typeof s.limits[k] === 'number' && s.limits[k] > 0, `session.limits.${k} ${JSON.stringify(s.limits[k])}`);
  }
  assert.ok(s.viewport && Number.isInteger(s.viewport.width) && Number.isInteger(s.viewport.height), `session.viewport in ${j}`);
  if (want.viewport) assert.deepEqual({ width: s.viewport.width, height: s.viewport.height }, want.viewport, 'session.viewport');
  assert.ok(Number.isInteger(s.idleTimeout) && s.idleTimeout > 0, `session.idleTimeout ${s.idleTimeout}`);
  assert.ok(Number.isInteger(s.ttl) && s.ttl > 0, `session.ttl ${s.ttl}`);
  if (want.idleTimeout) assert.equal(s.idleTimeout, want.idleTimeout, 'session.idleTimeout');
  if (want.ttl) assert.equal(s.ttl, want.ttl, 'session.ttl');
  assert.ok(s.urls && typeof s.urls === 'object', `session.urls in ${j}`);
  for (const k of ['cdp', 'live', 'view']) assert.equal(typeof s.urls[k], 'string', `session.urls.${k} in ${j}`);
  assert.ok(s.sandbox && typeof s.sandbox === 'object', `session.sandbox in ${j}`);
  assert.ok(['runc', 'crun'].includes(s.sandbox.runtime), `session.sandbox.runtime ${JSON.stringify(s.sandbox.runtime)}`);
  assert.equal(s.sandbox.id, `bh-${s.id}`, 'session.sandbox.id is bh-<session id>');
  if (s.status !== 'ended') assert.ok(Number.isInteger(s.sandbox.pid) && s.sandbox.pid > 0, `session.sandbox.pid ${s.sandbox.pid}`);
  assert.ok(s.network && typeof s.network === 'object', `session.network in ${j}`);
  if (s.status !== 'ended' && want.subnet) {
    assert.ok(inSubnet(s.network.address, want.subnet), `session.network.address ${JSON.stringify(s.network.address)} not in ${want.subnet}`);
    const first = ip2int(want.subnet.split('/')[0]);
    assert.ok(ip2int(s.network.address) > first + 1, `session.network.address ${s.network.address} is the network or the bridge's address`);
  }
  if (s.status !== 'ended' || s.page != null) assert.ok(s.page && typeof s.page === 'object', `session.page in ${j}`);
  return s;
}

// Check an error answer: the status, the {"error":{"code","message"}} body and,
// if given, the code (or one of a list of codes).
export function checkError(r, status, code, what = '') {
  const ctx = `${what}: got ${r.status} ${r.text.slice(0, 300)}`;
  assert.equal(r.status, status, ctx);
  assert.ok(/application\/json/.test(r.contentType), `${ctx} (content-type ${r.contentType})`);
  assert.ok(r.json && r.json.error && typeof r.json.error === 'object', `${ctx} (no error object)`);
  assert.ok(typeof r.json.error.code === 'string' && r.json.error.code.length > 0, `${ctx} (no error.code)`);
  assert.ok(typeof r.json.error.message === 'string' && r.json.error.message.length > 0, `${ctx} (no error.message)`);
  if (Array.isArray(code)) assert.ok(code.includes(r.json.error.code), `${ctx} (expected one of ${code.join(', ')})`);
  else if (code) assert.equal(r.json.error.code, code, ctx);
}
