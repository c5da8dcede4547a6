// quiet.test.js — a session's Chromium sends nothing of its own (issue 11,
// item 4): no component or extension updates, no sign-in, no metrics, Safe
// Browsing, prediction, translation, spelling or variations requests. Every
// request a session makes is one its pages or its clients asked for.
//
// The proof: a session whose egress goes through a logging proxy
// (lib/logproxy.js, inside the test world's namespace; it forwards to the
// test site only and refuses everything else, so nothing leaves the test
// world) loads a page, then idles for 60 s. The proxy's log must hold that
// page's requests (the document and its favicon) and nothing else. The
// control: the same session's page loads (the proxy did carry it), so a log
// with nothing in it cannot pass.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { startLogProxy } from './lib/logproxy.js';
import { SITE } from './lib/world.js';
import { sleep, waitFor } from './lib/sh.js';

const IDLE_MS = 60000;

describe('quiet: a session sends nothing but what its pages and clients ask for', () => {
  const env = suiteEnv();
  let proxy = null;
  before(async () => {
    await env.start();
    proxy = await startLogProxy();
  }, { timeout: LOCK_WAIT });
  after(async () => {
    if (proxy) await proxy.stop();
    await env.finish();
  }, { timeout: 240000 });

  it('a page loaded through a logging proxy, then 60 s idle: the log holds that page\'s requests and nothing else', { timeout: IDLE_MS + 120000 }, async () => {
    proxy.clear();
    const page = `${SITE}/title?t=quiet`;
    const s = await env.d.create({ url: page, network: { proxy: proxy.url } });
    try {
      assert.equal(s.status, 'ready');
      assert.equal(s.page.title, 'quiet', `the page did not load through the proxy: ${JSON.stringify(s.page)}`);
      assert.ok(proxy.log().some((l) => l.method === 'GET' && l.url === page), `the proxy never carried the page: ${JSON.stringify(proxy.log())}`);
      await sleep(IDLE_MS);
      const g = await env.d.api('GET', `/api/v1/sessions/${s.id}`);
      assert.equal(g.json.status, 'ready', `the session ended while idle: ${g.text.slice(0, 300)}`);
      // what the page asked for: the document, and the browser's favicon request for it
      const asked = new Set([page, `${SITE}/favicon.ico`]);
      const other = proxy.log().filter((l) => !(l.method === 'GET' && asked.has(l.url)));
      assert.deepEqual(other.map((l) => `${l.method} ${l.url}`), [],
        'Chromium sent requests of its own through the session\'s proxy');
    } finally {
      await env.d.del(s.id);
    }
    await waitFor(async () => (await env.d.list('?status=ready')).length === 0, { what: 'the session to end' });
  });

  it('stops cleanly and leaves nothing behind', { timeout: 180000 }, () => env.finish());
});
