// ui_shell.test.js — the web UI of shell sessions (issue 13, docs/terminal.md,
// web/README.md), end to end: a real Chromium (the *viewer*, Debian's, never
// downloaded) opens the daemon's UI, creates shell sessions and labs from
// it, types into the xterm.js terminal (the terminal socket's channel
// protocol), resizes it, moves files through the files panel, watches
// through a view link, reconnects after a cut connection and presses a
// lab's Check. Effects are checked through the REST API (files, check) and
// on the screen (xterm's rows).
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { suiteEnv, LOCK_WAIT } from './lib/suite.js';
import { freePort } from './lib/daemon.js';
import { waitFor } from './lib/sh.js';

const CHROMIUM = process.env.BULKHEAD_E2E_CHROMIUM || '/usr/lib/chromium/chromium';
const T = { timeout: 120000 };

// A lab, in a labs directory of the test's (docs/terminal.md#labs). Its
// description carries HTML that must show as text, never as elements.
const labsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bhtest-labs-'));
fs.mkdirSync(path.join(labsDir, 'hello'));
fs.writeFileSync(path.join(labsDir, 'hello', 'lab.json'), JSON.stringify({
  title: 'Hello lab',
  description: [
    '# Make a file',
    '',
    'Write `hello` into **hello.txt** in your home.',
    '',
    '- one step',
    '- then <b>Check</b>',
    '',
    '```',
    'echo hello > ~/hello.txt',
    '```',
    '',
    '<img src="x" onerror="window.__labPwned = 1"><script>window.__labPwned = 2</script>',
  ].join('\n'),
  timeLimit: 900,
}));
fs.writeFileSync(path.join(labsDir, 'hello', 'check'),
  '#!/bin/bash\nif [ "$(cat /home/user/hello.txt 2>/dev/null)" = hello ]; then echo "hello.txt is right"; else echo "hello.txt should say hello"; exit 1; fi\n',
  { mode: 0o755 });

// The proxy between the viewer and the daemon for the reconnect test: its
// origin is allowed (--allow-origin), its port is chosen before the daemon
// starts.
const daemonOpts = { args: ['--labs-dir', labsDir] };
const env = suiteEnv(daemonOpts);
let viewer = null;
let cutter = null; // the cuttable TCP proxy

before(async () => {
  const port = await freePort();
  daemonOpts.args.push('--allow-origin', `http://127.0.0.1:${port}`);
  await env.start();
  cutter = await startCutter(port, env.d.port);
  const args = process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
  viewer = await chromium.launch({ executablePath: CHROMIUM, args, headless: true });
}, { timeout: LOCK_WAIT });

after(async () => {
  if (viewer) await viewer.close().catch(() => {});
  if (cutter) await cutter.close();
  await env.finish();
  fs.rmSync(labsDir, { recursive: true, force: true });
});

// ------------------------------------------------------------------ helpers

// A TCP proxy on 127.0.0.1:port to the daemon that can cut every connection
// it carries (a dropped network, as the viewer sees it).
function startCutter(port, to) {
  const socks = new Set();
  const server = net.createServer((c) => {
    const u = net.connect(to, '127.0.0.1');
    socks.add(c);
    socks.add(u);
    c.pipe(u);
    u.pipe(c);
    const end = () => { c.destroy(); u.destroy(); socks.delete(c); socks.delete(u); };
    c.on('error', end);
    u.on('error', end);
    c.on('close', end);
    u.on('close', end);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({
    base: `http://127.0.0.1:${port}`,
    cut() {
      const n = socks.size;
      for (const s of socks) s.destroy();
      socks.clear();
      return n;
    },
    close() {
      for (const s of socks) s.destroy();
      return new Promise((r) => server.close(r));
    },
  })));
}

async function viewerPage({ width = 1200, height = 800, origin = env.d.base } = {}) {
  const ctx = await viewer.newContext({ viewport: { width, height }, acceptDownloads: true });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(`console: ${m.text()} (${m.location().url})`); });
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  // what the page sends on the terminal socket: [channel, payload]
  page.termSent = [];
  page.on('websocket', (ws) => {
    if (!/\/terminal(\?|$)/.test(ws.url())) return;
    ws.on('framesent', (f) => {
      const b = Buffer.isBuffer(f.payload) ? f.payload : Buffer.from(f.payload);
      page.termSent.push([b[0], b.subarray(1).toString()]);
    });
  });
  return page;
}

// The terminal's screen as the viewer shows it (xterm's rows), one line
// per row.
async function screenText(page) {
  return page.evaluate(() => [...document.querySelectorAll('#term-screen .xterm-rows > div')]
    .map((d) => d.textContent.replace(/\u00a0/g, ' ')).join('\n'));
}

async function waitScreen(page, re, what, timeout = 20000) {
  let last = '';
  try {
    await waitFor(async () => re.test(last = await screenText(page)), { timeout, what });
  } catch (e) {
    throw new Error(`${e.message}; the screen:\n${last.replace(/\n+$/, '')}`);
  }
}

// Types a line into the terminal (it has the keyboard focus).
async function typeLine(page, line) {
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

const rowsOf = (page) => page.evaluate(() => document.querySelectorAll('#term-screen .xterm-rows > div').length);

const termIdOf = (page) => {
  const m = new URL(page.url()).pathname.match(/^\/term\/([A-Za-z0-9_-]+)$/);
  return m && m[1];
};

async function filesApi(id, p) {
  return env.d.api('GET', `/api/v1/sessions/${id}/files/${p}`);
}

// ---------------------------------------------------------------- the tests

describe('web UI: shell sessions', () => {
  let fx = null;

  beforeEach(() => {
    fx = { pages: [], sessions: [] };
  });

  afterEach(async (t) => {
    const page = fx.pages.find((p) => !p.isClosed());
    const st = page && await page.evaluate(() => {
      const o = document.getElementById('term-overlay');
      return {
        state: document.getElementById('term-state').textContent,
        overlay: o && !o.hidden ? document.getElementById('term-overlay-msg').textContent : null,
        errors: [...document.querySelectorAll('.toast.error, .error:not([hidden])')].map((e) => e.textContent),
      };
    }).catch(() => null);
    if (st && (st.overlay || st.errors.length)) process.stderr.write(`ui_shell.test: after "${t.name}": ${JSON.stringify(st)}\n`);
    for (const p of fx.pages) await p.context().close().catch(() => {});
    for (const id of fx.sessions) {
      const r = await env.d.api('DELETE', `/api/v1/sessions/${id}`);
      if (r.status !== 204 && r.status !== 409) throw new Error(`DELETE ${id} → ${r.status}`);
    }
    fx = null;
  });

  async function newViewerPage(opts) {
    const page = await viewerPage(opts);
    fx.pages.push(page);
    return page;
  }

  // A viewer page at `path` of the UI (of `base`), logged in by the form.
  async function loggedIn(p = '/', { base = env.d.base, ...opts } = {}) {
    const page = await newViewerPage({ origin: base, ...opts });
    await page.goto(`${base}${p}`);
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#token', env.d.token);
    await page.press('#token', 'Enter');
    if (p === '/') await page.waitForSelector('#list:not([hidden])');
    return page;
  }

  // Creates a shell session with the UI's form (a lab's when lab is set)
  // and waits for its terminal page, connected.
  async function shellFromUI({ lab = null, mib = null, ...opts } = {}) {
    const page = await loggedIn('/', opts);
    if (lab) {
      await page.waitForSelector('#shell-lab-field:not([hidden])');
      await page.selectOption('#shell-lab', lab);
    }
    if (mib) await page.fill('#shell-size', String(mib));
    await page.click('#shell-btn');
    await page.waitForURL(/\/term\/[A-Za-z0-9_-]+$/, { timeout: 60000 });
    const id = termIdOf(page);
    fx.sessions.push(id);
    assert.equal((await env.d.api('GET', `/api/v1/sessions/${id}`)).status, 200); // (the suite learns its id)
    await connected(page);
    return { page, id };
  }

  async function connected(page) {
    await page.waitForSelector('#term-state[data-state="connected"]', { timeout: 30000 });
    await page.waitForSelector('#term-overlay', { state: 'hidden' });
    await page.waitForSelector('#term-screen .xterm-rows');
  }

  // A ready shell session made through the API, on its terminal page.
  async function shellPage(body = {}) {
    const s = await env.d.create({ type: 'shell', ...body });
    fx.sessions.push(s.id);
    const page = await loggedIn(`/term/${s.id}`);
    await connected(page);
    return { s, page };
  }

  function assertNoErrors(allowed = []) {
    const errs = fx.pages.flatMap((p) => p.errors.filter((e) => !allowed.some((re) => re.test(e))));
    assert.deepEqual(errs, []);
  }

  it('serves the terminal page, xterm.js and its licence from the daemon (no CDN)', T, async () => {
    const want = [
      ['/term/0123abcd', /^text\/html/],
      ['/term.js', /^text\/javascript/],
      ['/vendor/xterm.js', /^text\/javascript/],
      ['/vendor/xterm.css', /^text\/css/],
      ['/vendor/addon-fit.js', /^text\/javascript/],
      ['/vendor/xterm-LICENSE.txt', /^text\/plain/],
    ];
    for (const [p, type] of want) {
      const r = await fetch(`${env.d.base}${p}`);
      assert.equal(r.status, 200, `GET ${p}`);
      assert.match(r.headers.get('content-type') || '', type, `GET ${p} content-type`);
      assert.ok((await r.text()).length > 100, `GET ${p} has a body`);
    }
    assert.match(await (await fetch(`${env.d.base}/vendor/xterm-LICENSE.txt`)).text(), /MIT|Permission is hereby granted/);
    // xterm.js styles its rows inline: allowed on /term/ only, scripts stay 'self'
    const csp = async (p) => (await fetch(`${env.d.base}${p}`)).headers.get('content-security-policy');
    assert.match(await csp('/term/0123abcd'), /style-src 'self' 'unsafe-inline'/);
    assert.doesNotMatch(await csp('/term/0123abcd'), /script-src|'unsafe-eval'/);
    assert.doesNotMatch(await csp('/'), /unsafe-inline/);
    assert.doesNotMatch(await csp('/view/0123abcd'), /unsafe-inline/);
    const idx = await (await fetch(`${env.d.base}/term/0123abcd`)).text();
    assert.doesNotMatch(idx, /(src|href)="(https?:)?\/\//, 'the UI loads nothing from elsewhere');
    const js = await (await fetch(`${env.d.base}/term.js`)).text();
    assert.doesNotMatch(js, /https?:\/\/(?!\$)[a-z]/i, 'term.js loads nothing from elsewhere');
  });

  it('creates a shell session from the UI and runs a command in its terminal', T, async () => {
    const { page, id } = await shellFromUI({ mib: 32 });
    const s = (await env.d.api('GET', `/api/v1/sessions/${id}`)).json;
    assert.equal(s.type, 'shell');
    assert.equal(s.workspace.sizeBytes, 32 * 1048576, 'the form\'s workspace size');
    await page.click('#term-screen');
    await typeLine(page, 'echo hello-$((6*7))');
    await waitScreen(page, /^hello-42\s*$/m, 'the output of echo');
    // the list shows it as a shell, and opens its terminal
    assert.match(await page.textContent('#term-state'), /Connected/);
    assert.match(await page.textContent('#term-remaining'), /^\d+:\d\d(:\d\d)?$/);
    assertNoErrors();
  });

  it('lists a shell session as a shell, opens its terminal from the list; /view/{id} of it goes on to /term/{id}', T, async () => {
    const s = await env.d.create({ type: 'shell', workspace: { sizeBytes: 16 * 1048576 } });
    fx.sessions.push(s.id);
    const page = await loggedIn('/');
    const row = page.locator(`#sessions-body tr[data-id="${s.id}"]`);
    await row.waitFor({ timeout: 10000 });
    assert.equal(await row.locator('.title').textContent(), 'Shell');
    assert.equal(await row.locator('.url').textContent(), 'workspace 16 MiB');
    await row.locator('button:text("Open")').click();
    await page.waitForURL(new RegExp(`/term/${s.id}$`));
    await connected(page);
    // the strict policy of "/" stays there: the terminal page was loaded anew
    assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation')[0].name), `${env.d.base}/term/${s.id}`);
    const old = await newViewerPage();
    await old.goto(`${env.d.base}/view/${s.id}?token=${encodeURIComponent(new URL(s.urls.terminal.replace(/^ws/, 'http')).searchParams.get('token'))}`);
    await old.waitForURL(new RegExp(`/term/${s.id}$`));
    await connected(old);
    await old.click('#term-screen');
    await typeLine(old, 'echo via-$((3*3))');
    await waitScreen(old, /^via-9\s*$/m, 'a command through the redirected link');
    // a control link: the files as far as the daemon opens them to links
    await old.waitForFunction(() => document.getElementById('files-status').textContent === 'The files are not open to this link.'
      || !document.getElementById('files-empty').hidden);
    assertNoErrors([/status of 401 \(Unauthorized\) \(http:\/\/[^)]*\/files\/\)$/]);
  });

  it('fits the terminal to the window: a resize reaches the shell (stty size)', T, async () => {
    const { page } = await shellPage();
    await page.click('#term-screen');
    const size = async (tag) => {
      await typeLine(page, `echo ${tag}=$(stty size)`);
      let m = null;
      await waitFor(async () => (m = new RegExp(`^${tag}=(\\d+) (\\d+)`, 'm').exec(await screenText(page))), { what: `${tag}: stty size`, timeout: 20000 });
      return [Number(m[1]), Number(m[2])];
    };
    const rows1 = await rowsOf(page);
    const [r1, c1] = await size('big');
    assert.equal(r1, rows1, 'the shell has as many rows as the terminal shows');
    assert.ok(c1 > 40, `columns ${c1}`);
    await page.setViewportSize({ width: 760, height: 480 });
    // the viewer refits (and sends the resize before anything typed after it)
    await waitFor(async () => (await rowsOf(page)) < rows1, { what: 'the terminal refitted to a smaller window' });
    const rows2 = await rowsOf(page);
    const [r2, c2] = await size('small');
    assert.equal(r2, rows2, 'rows after the resize');
    assert.ok(c2 < c1, `fewer columns after the resize (${c1} → ${c2})`);
    const sent = page.termSent.filter(([ch]) => ch === 4).map(([, p]) => JSON.parse(p));
    assert.ok(sent.length >= 2, 'resize messages on channel 4');
    assert.deepEqual(sent.at(-1), { Width: c2, Height: r2 });
    assertNoErrors();
  });

  it('uploads files with the panel, lists them, downloads them, browses folders', T, async () => {
    const { s, page } = await shellPage();
    const bin = crypto.randomBytes(100000);
    await page.waitForSelector('#files-empty:not([hidden])');
    await page.setInputFiles('#files-upload', [
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('uploaded from the panel\n') },
      { name: 'blob.bin', mimeType: 'application/octet-stream', buffer: bin },
      // a tar's own type must not make the daemon extract it
      { name: 'not-extracted.tar', mimeType: 'application/x-tar', buffer: Buffer.from('plain bytes, not a tar') },
    ]);
    await page.waitForSelector('#files-body tr[data-name="not-extracted.tar"]', { timeout: 20000 });
    await page.waitForSelector('#files-body tr[data-name="notes.txt"]');
    const blobRow = page.locator('#files-body tr[data-name="blob.bin"]');
    assert.match(await blobRow.textContent(), /97\.7 KiB|98 KiB/);
    // the session has them, byte for byte
    const got = await filesApi(s.id, 'blob.bin');
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(bin), 'blob.bin as uploaded');
    const tarAsFile = await filesApi(s.id, 'not-extracted.tar');
    assert.equal(tarAsFile.status, 200);
    assert.equal(String(tarAsFile.body), 'plain bytes, not a tar');
    // and the shell sees them
    await page.click('#term-screen');
    await typeLine(page, 'cat notes.txt; mkdir -p sub/deeper; echo inside > sub/deeper/x.txt');
    await waitScreen(page, /^uploaded from the panel\s*$/m, 'the uploaded file in the shell');
    // download
    const [dl] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#files-body tr[data-name="blob.bin"] td.name button'),
    ]);
    assert.equal(dl.suggestedFilename(), 'blob.bin');
    assert.ok(fs.readFileSync(await dl.path()).equals(bin), 'the download is the file');
    // folders: into sub/deeper, an upload there, back up by the crumbs
    await page.click('#files-refresh');
    await page.click('#files-body tr[data-name="sub"] td.name button');
    await page.click('#files-body tr[data-name="deeper"] td.name button');
    await page.waitForSelector('#files-body tr[data-name="x.txt"]');
    assert.equal((await page.textContent('#files-path')).replace(/\s+/g, ''), '~/sub/deeper');
    await page.setInputFiles('#files-upload', { name: 'here.txt', mimeType: 'text/plain', buffer: Buffer.from('deep') });
    await page.waitForSelector('#files-body tr[data-name="here.txt"]');
    assert.equal(String((await filesApi(s.id, 'sub/deeper/here.txt')).body), 'deep');
    await page.click('#files-path button:text("~")');
    await page.waitForSelector('#files-body tr[data-name="notes.txt"]');
    assertNoErrors();
  });

  it('a view link watches the terminal and sends nothing', T, async () => {
    const { s, page } = await shellPage();
    const l = await env.d.api('POST', `/api/v1/sessions/${s.id}/links`, { scope: 'view' });
    assert.equal(l.status, 201, JSON.stringify(l.json));
    const view = l.json.urls.view;
    assert.match(new URL(view).pathname, new RegExp(`^/term/${s.id}$`), 'a shell session\'s view link opens its terminal page');
    // a second browser without the login
    const watcher = await newViewerPage();
    await watcher.goto(view);
    await connected(watcher);
    assert.equal(await watcher.textContent('#term-state'), 'View only');
    assert.equal(new URL(watcher.url()).search, '', 'the token left the address bar');
    assert.ok(await watcher.isHidden('#term-end'), 'no End with a link');
    assert.ok(await watcher.isHidden('#files-upload-btn'), 'no upload with a view link');
    assert.equal(await watcher.textContent('#files-status'), 'The files are not open to this link.');
    await watcher.click('#term-screen');
    await typeLine(watcher, 'touch /home/user/typed-by-the-watcher');
    await watcher.keyboard.press('Control+c');
    // the owner types; the watcher sees it
    await page.click('#term-screen');
    await typeLine(page, 'echo owner-$((40+2))');
    await waitScreen(watcher, /^owner-42\s*$/m, 'the owner\'s output on the watcher\'s screen');
    assert.equal((await filesApi(s.id, 'typed-by-the-watcher')).status, 404, 'the watcher\'s typing never reached the shell');
    assert.deepEqual(watcher.termSent, [], 'the watcher sent nothing on the terminal socket');
    assert.equal(await watcher.textContent('#term-state'), 'View only', 'still connected (not cut for input)');
    assertNoErrors();
  });

  it('copies the selection (Ctrl+Shift+C) and pastes the clipboard (Ctrl+Shift+V)', T, async () => {
    const { page } = await shellPage();
    await page.click('#term-screen');
    await typeLine(page, 'echo copy$((1))me');
    await waitScreen(page, /^copy1me\s*$/m, 'the word to copy');
    const row = page.locator('#term-screen .xterm-rows > div', { hasText: /^copy1me\s*$/ }).first();
    const b = await row.boundingBox();
    await page.mouse.dblclick(b.x + 12, b.y + b.height / 2);
    await page.keyboard.press('Control+Shift+C');
    await waitFor(async () => (await page.evaluate(() => navigator.clipboard.readText())) === 'copy1me', { what: 'the selection in the clipboard' });
    await page.evaluate(() => navigator.clipboard.writeText('echo pasted-$((2+3))'));
    await page.click('#term-screen');
    await page.keyboard.press('Control+Shift+V');
    await page.keyboard.press('Enter');
    await waitScreen(page, /^pasted-5\s*$/m, 'the pasted command run');
    assertNoErrors();
  });

  it('reconnects by itself after the connection drops, and shows it', T, async () => {
    const s = await env.d.create({ type: 'shell' });
    fx.sessions.push(s.id);
    const page = await loggedIn(`/term/${s.id}`, { base: cutter.base });
    await connected(page);
    await page.click('#term-screen');
    await typeLine(page, 'echo before-$((1+1))');
    await waitScreen(page, /^before-2\s*$/m, 'output before the drop');
    assert.ok(cutter.cut() > 0, 'connections cut');
    await page.waitForSelector('#term-state[data-state="reconnecting"]', { timeout: 10000 });
    assert.match(await page.textContent('#term-overlay-msg'), /Connection lost.*Reconnecting in \d+ s/);
    await connected(page);
    await waitScreen(page, /^before-2\s*$/m, 'the recent output again after the reconnect');
    await page.click('#term-screen');
    await typeLine(page, 'echo after-$((2+1))');
    await waitScreen(page, /^after-3\s*$/m, 'the same shell after the reconnect');
    assertNoErrors([/WebSocket/]);
  });

  it('after the shell exits, says so and starts a new shell in the same workspace', T, async () => {
    const { page } = await shellPage();
    await page.click('#term-screen');
    await typeLine(page, 'echo kept > kept.txt; exit 3');
    await page.waitForSelector('#term-state[data-state="exited"]', { timeout: 20000 });
    assert.match(await page.textContent('#term-overlay-msg'), /shell has exited.*3/);
    await page.click('#term-reconnect');
    await connected(page);
    await page.click('#term-screen');
    await typeLine(page, 'cat kept.txt');
    await waitScreen(page, /^kept\s*$/m, 'the workspace kept across shells');
    assertNoErrors();
  });

  it('starts a lab from the UI, shows its description safely, and checks it', T, async () => {
    const { page, id } = await shellFromUI({ lab: 'hello' });
    assert.equal((await env.d.api('GET', `/api/v1/sessions/${id}`)).json.lab, 'hello');
    await page.waitForSelector('#lab-panel:not([hidden])');
    await page.waitForFunction(() => document.getElementById('lab-title').textContent === 'Hello lab');
    // the Markdown: a heading, code, a list; its HTML shown as text
    assert.equal(await page.textContent('#lab-desc h3'), 'Make a file');
    assert.equal(await page.textContent('#lab-desc pre code'), 'echo hello > ~/hello.txt');
    assert.equal(await page.locator('#lab-desc li').count(), 2);
    assert.equal(await page.locator('#lab-desc img, #lab-desc script, #lab-desc b').count(), 0, 'no HTML elements from the description');
    assert.match(await page.textContent('#lab-desc'), /<img src="x" onerror=/);
    assert.equal(await page.evaluate(() => window.__labPwned), undefined);
    // not done yet
    await page.click('#lab-check');
    await page.waitForSelector('#lab-result.failed', { timeout: 30000 });
    assert.match(await page.textContent('#lab-output'), /hello\.txt should say hello/);
    // done
    await page.click('#term-screen');
    await typeLine(page, 'echo hello > ~/hello.txt && echo written');
    await waitScreen(page, /^written\s*$/m, 'the file written');
    await page.click('#lab-check');
    await page.waitForSelector('#lab-result.passed', { timeout: 30000 });
    assert.match(await page.textContent('#lab-result'), /Passed/);
    assert.match(await page.textContent('#lab-output'), /hello\.txt is right/);
    const at = await page.getAttribute('#lab-result', 'title');
    assert.ok(Math.abs(Date.parse(at) - Date.now()) < 10 * 60 * 1000, `checkedAt ${at}`);
    assertNoErrors();
  });
});
