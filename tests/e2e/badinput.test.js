// badinput.test.js — every bad request gets its documented status and error
// code, and creates nothing: the session list stays as it was and nothing
// leaks. Also: auth (401) and unknown ids (404).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { findLeaks } from './lib/leaks.js';
import { checkError } from './lib/check.js';
import { SITE } from './lib/world.js';
import os from 'node:os';
import { BIN, freePort } from './lib/daemon.js';
import { run } from './lib/sh.js';

const OK_URL = `${SITE}/`;

// [name, raw body or object, status, code (a list: any of them)]
const CASES = [
  // malformed / not an object
  ['malformed JSON', '{"url":', 400, 'invalid_json'],
  ['trailing garbage', '{"url":"about:blank"} x', 400, 'invalid_json'],
  ['not JSON at all', 'url=http://198.51.100.1:8080/', 400, 'invalid_json'],
  ['body is an array', '[]', 400, 'invalid_json'],
  ['body is a string', '"http://198.51.100.1:8080/"', 400, 'invalid_json'],
  ['body is a number', '42', 400, 'invalid_json'],
  ['body is null', 'null', 400, 'invalid_json'],
  // unknown fields
  ['unknown field', { url: OK_URL, foo: 1 }, 400, 'unknown_field'],
  ['unknown field in viewport', { url: OK_URL, viewport: { width: 800, height: 600, depth: 24 } }, 400, 'unknown_field'],
  ['misspelled field', { url: OK_URL, idle_timeout: 10 }, 400, 'unknown_field'],
  // wrong types
  ['url is a number', { url: 5 }, 400, 'invalid_field'],
  ['url is an object', { url: { href: OK_URL } }, 400, 'invalid_field'],
  ['type is a number', { type: 1, url: OK_URL }, 400, 'invalid_field'],
  ['viewport is a string', { url: OK_URL, viewport: '800x600' }, 400, 'invalid_field'],
  ['viewport.width is a string', { url: OK_URL, viewport: { width: '800', height: 600 } }, 400, 'invalid_field'],
  ['viewport.height is a float', { url: OK_URL, viewport: { width: 800, height: 600.5 } }, 400, 'invalid_field'],
  ['idleTimeout is a string', { url: OK_URL, idleTimeout: '300' }, 400, 'invalid_field'],
  ['idleTimeout is a float', { url: OK_URL, idleTimeout: 1.5 }, 400, 'invalid_field'],
  ['ttl is a boolean', { url: OK_URL, ttl: true }, 400, 'invalid_field'],
  // URLs that are not http/https
  ['file: URL', { url: 'file:///etc/passwd' }, 400, 'invalid_url'],
  ['chrome: URL', { url: 'chrome://settings' }, 400, 'invalid_url'],
  ['chrome-extension: URL', { url: 'chrome-extension://abc/x.html' }, 400, 'invalid_url'],
  ['javascript: URL', { url: 'javascript:alert(1)' }, 400, 'invalid_url'],
  ['javascript: URL with leading space', { url: ' javascript:alert(1)' }, 400, 'invalid_url'],
  ['data: URL', { url: 'data:text/html,<script>alert(1)</script>' }, 400, 'invalid_url'],
  ['ftp: URL', { url: 'ftp://198.51.100.1/' }, 400, 'invalid_url'],
  ['ws: URL', { url: 'ws://198.51.100.1:8080/' }, 400, 'invalid_url'],
  ['view-source: URL', { url: `view-source:${OK_URL}` }, 400, 'invalid_url'],
  ['blob: URL', { url: `blob:${OK_URL}x` }, 400, 'invalid_url'],
  ['about: other than blank', { url: 'about:config' }, 400, 'invalid_url'],
  ['relative URL', { url: '/relative/path' }, 400, 'invalid_url'],
  ['scheme-relative URL', { url: '//198.51.100.1:8080/' }, 400, 'invalid_url'],
  ['URL without host', { url: 'http://' }, 400, 'invalid_url'],
  ['URL with empty host', { url: 'http:///path' }, 400, 'invalid_url'],
  ['empty URL', { url: '' }, 400, 'invalid_url'],
  ['URL with a space', { url: `${SITE}/a b` }, 400, 'invalid_url'],
  ['URL with a newline', { url: `${SITE}/\nx` }, 400, 'invalid_url'],
  // JSON allows \u0000 in strings; a parser may refuse it (invalid_json) or the URL check (invalid_url)
  ['URL with a NUL', { url: `${SITE}/\u0000x` }, 400, ['invalid_json', 'invalid_url']],
  ['URL over 2048 chars', { url: `${SITE}/?q=${'a'.repeat(2100)}` }, 400, 'invalid_url'],
  // viewport out of range
  ['viewport width 199', { url: OK_URL, viewport: { width: 199, height: 600 } }, 400, 'invalid_field'],
  ['viewport width 3841', { url: OK_URL, viewport: { width: 3841, height: 600 } }, 400, 'invalid_field'],
  ['viewport height 199', { url: OK_URL, viewport: { width: 800, height: 199 } }, 400, 'invalid_field'],
  ['viewport height 2161', { url: OK_URL, viewport: { width: 800, height: 2161 } }, 400, 'invalid_field'],
  ['viewport width 0', { url: OK_URL, viewport: { width: 0, height: 600 } }, 400, 'invalid_field'],
  ['viewport negative', { url: OK_URL, viewport: { width: -800, height: -600 } }, 400, 'invalid_field'],
  ['viewport huge', { url: OK_URL, viewport: { width: 1e9, height: 1e9 } }, 400, 'invalid_field'],
  // timeouts out of range
  ['idleTimeout 0', { url: OK_URL, idleTimeout: 0 }, 400, 'invalid_field'],
  ['idleTimeout 86401', { url: OK_URL, idleTimeout: 86401 }, 400, 'invalid_field'],
  ['idleTimeout negative', { url: OK_URL, idleTimeout: -5 }, 400, 'invalid_field'],
  ['ttl 0', { url: OK_URL, ttl: 0 }, 400, 'invalid_field'],
  ['ttl 86401', { url: OK_URL, ttl: 86401 }, 400, 'invalid_field'],
  // type
  ['type kiosk (no such type)', { type: 'kiosk', url: OK_URL }, 400, 'invalid_field'],
  ['type shell with a browser field', { type: 'shell', url: OK_URL }, 400, 'unknown_field'],
  ['type shell, workspace below 1 MiB', { type: 'shell', workspace: { sizeBytes: 1000 } }, 400, 'invalid_field'],
  ['type shell, workspace not an object', { type: 'shell', workspace: 5 }, 400, 'invalid_field'],
  ['type shell, an unknown lab', { type: 'shell', lab: 'nope' }, 400, 'unknown_lab'],
  ['type shell, lab not a string', { type: 'shell', lab: 1 }, 400, 'invalid_field'],
  ['type Browser', { type: 'Browser', url: OK_URL }, 400, 'invalid_field'],
  ['type empty', { type: '', url: OK_URL }, 400, 'invalid_field'],
  // size
  ['body over 64 KiB', JSON.stringify({ url: OK_URL, pad: 'x'.repeat(70 * 1024) }), 413, 'body_too_large'],
  ['body of 1 MiB', `{"url":"${OK_URL}","pad":"${'y'.repeat(1 << 20)}"}`, 413, 'body_too_large'],
];

describe('bad input: documented errors, nothing created', () => {
  const env = suiteEnv();
  before(env.start, { timeout: LOCK_WAIT });
  after(env.finish, { timeout: 180000 });

  const assertNothingCreated = async (what) => {
    const list = await env.d.list();
    assert.deepEqual(list.map((s) => s.id), [], `${what}: sessions exist`);
    const leaks = await findLeaks(env.d);
    assert.deepEqual(leaks, [], `${what}: left behind:\n  ${leaks.join('\n  ')}`);
  };

  for (const [name, body, status, code] of CASES) {
    it(`POST ${name} → ${status} ${[].concat(code).join('|')}`, async () => {
      const r = await env.d.api('POST', '/api/v1/sessions', body);
      checkError(r, status, code, name);
    });
  }

  it('after all of them: no session exists and nothing leaked', async () => {
    await assertNothingCreated('after the bad POSTs');
    assert.ok(!fs.existsSync(path.join(env.d.stateDir, 'bundles')) || fs.readdirSync(path.join(env.d.stateDir, 'bundles')).length === 0);
  });

  it('the daemon is still healthy after the bad input', async () => {
    const r = await env.d.api('GET', '/healthz', undefined, { token: null });
    assert.equal(r.status, 200);
  });

  // ---- unknown ids -------------------------------------------------------------
  for (const id of ['nosuchsession', '0123456789abcdef0123456789abcdef', '%2e%2e%2f%2e%2e%2fetc', 'x'.repeat(300)]) {
    const shown = id.length > 40 ? `${id.slice(0, 12)}…(${id.length})` : id;
    it(`unknown id ${shown} → 404 not_found on GET, DELETE and screenshot`, async () => {
      checkError(await env.d.api('GET', `/api/v1/sessions/${id}`), 404, 'not_found', `GET ${shown}`);
      checkError(await env.d.api('DELETE', `/api/v1/sessions/${id}`), 404, 'not_found', `DELETE ${shown}`);
      checkError(await env.d.api('GET', `/api/v1/sessions/${id}/screenshot`), 404, 'not_found', `screenshot ${shown}`);
    });
  }

  // ---- auth ------------------------------------------------------------------
  const AUTH = [
    ['no Authorization header', { token: null }],
    ['a wrong token', { token: 'not-the-token' }],
    ['an empty bearer token', { token: '' }],
    ['the token minus its last char', { tokenFn: (t) => t.slice(0, -1) }],
    ['the token plus a char', { tokenFn: (t) => `${t}x` }],
    ['Basic auth with the token', { token: null, headers: { authorization: 'Basic TOKEN' } }],
    ['the token without "Bearer"', { token: null, headers: { authorization: 'TOKEN' } }],
  ];
  const ROUTES = [
    ['GET', '/api/v1/sessions', undefined],
    ['POST', '/api/v1/sessions', { url: OK_URL }],
    ['GET', '/api/v1/sessions/nosuchsession', undefined],
    ['DELETE', '/api/v1/sessions/nosuchsession', undefined],
    ['GET', '/api/v1/sessions/nosuchsession/screenshot', undefined],
  ];
  for (const [name, o] of AUTH) {
    it(`${name} → 401 on every /api/ route`, async () => {
      for (const [method, p, body] of ROUTES) {
        const opts = { token: o.tokenFn ? o.tokenFn(env.d.token) : o.token };
        if (o.headers) opts.headers = { authorization: o.headers.authorization.replace('TOKEN', env.d.token) };
        const r = await env.d.api(method, p, body, opts);
        checkError(r, 401, null, `${method} ${p} with ${name}`);
      }
    });
  }

  it('the token is accepted (control for the 401s)', async () => {
    const r = await env.d.api('GET', '/api/v1/sessions');
    assert.equal(r.status, 200);
  });

  it('an unknown API route or method is a 4xx JSON error, not a crash', async () => {
    for (const [method, p] of [['GET', '/api/v1/nope'], ['PUT', '/api/v1/sessions'], ['PATCH', '/api/v1/sessions/nosuchsession']]) {
      const r = await env.d.api(method, p, method === 'GET' ? undefined : '{}');
      assert.ok(r.status >= 400 && r.status < 500, `${method} ${p}: ${r.status}`);
      assert.ok(r.json && r.json.error && r.json.error.code, `${method} ${p}: body ${r.text.slice(0, 200)}`);
    }
  });

  it('after everything: still no session and nothing leaked', async () => {
    await assertNothingCreated('at the end');
  });

  it('stops cleanly and leaves nothing behind', { timeout: 180000 }, () => env.finish());
});

describe('bad input: a --state-dir the sessions cannot reach', () => {
  it('a state dir under a private (0700) directory: serve refuses to start, naming it, and makes no network', { timeout: 60000 }, async () => {
    const top = fs.mkdtempSync(path.join(os.tmpdir(), 'bhtest-private-')); // mode 0700
    try {
      const args = ['serve', '--listen', `127.0.0.1:${await freePort()}`, '--state-dir', path.join(top, 'state'),
        '--run-dir', path.join(top, 'run'), '--bridge', 'bhtpriv0', '--subnet', '10.217.0.0/16'];
      const r = await run(BIN, args, { timeout: 30000 });
      assert.notEqual(r.code, 0, `it started: ${r.stderr}`);
      assert.match(r.stderr, /state dir: .*bhtest-private-\w+ \(mode 0700\) is not searchable by others/, r.stderr);
      assert.ok(!fs.existsSync('/sys/class/net/bhtpriv0'), 'a bridge was made');
    } finally {
      fs.rmSync(top, { recursive: true, force: true });
    }
  });
});

