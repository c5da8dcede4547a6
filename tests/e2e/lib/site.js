// site.js — the test "internet": a small HTTP server with known pages that
// sessions browse. world.js runs it inside the network namespace bhtest-inet
// (`ip netns exec bhtest-inet node site.js --host 198.51.100.1 --port 8080`);
// it can also run standalone on loopback for checking the harness itself.
//
// Pages (all text/html unless said):
//   /                 title "bulkhead test page", <h1>Hello from the bulkhead test site</h1>
//   /big              a long page (many paragraphs; ~20000 px tall)
//   /slow?ms=N        answers after N ms (max 120000); title "slow page"
//   /form             a form (GET /form/submit?q=...); /form/submit echoes q in the title
//   /title?t=X        a page whose title is X
//   /late-title?ms=N  loads with title "before", sets it to "after" N ms after load
//   /color?c=RRGGBB   the whole viewport in one color (for screenshot pixel checks)
//   /animated         the live-view benchmark's page: its left half animates on
//                     every requestAnimationFrame (a moving box, a frame counter),
//                     its right half (x ≥ 50%) is a click target that is blue
//                     (#0000ff) and flips to yellow (#ffff00) and back on each
//                     mousedown; title "animated"
//   /bytes?n=N        N bytes (max 1 GiB) of incompressible data
//                     (application/octet-stream, with content-length): one
//                     random 1 MiB block, repeated; for throughput benchmarks
//   /redirect?to=URL  302 to URL (any scheme: for the tests that a browser
//                     refuses to follow one to file:, chrome:, …)
//   /refresh?to=URL   a page that moves to URL by <meta http-equiv=refresh>
//   /link?to=URL      title "link"; a link #l to URL filling the viewport (a
//                     click anywhere follows it) and a button #open that
//                     window.open()s it
//   /healthz          text "ok"
//   /nocontent        204 No Content (a navigation to it is aborted: no page)
//   /_requests        JSON list of the requests seen so far ({method, url, ua, at})
//   /_requests/clear  forgets them
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { URL, fileURLToPath } from 'node:url';

const TITLE = 'bulkhead test page';
const H1 = 'Hello from the bulkhead test site';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body, head = '') {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>${head}</head>
<body>${body}</body></html>
`;
}

const requests = [];
const BLOCK = crypto.randomBytes(1 << 20); // /bytes repeats it

// /animated: something new in every frame on the left, a flat target on the
// right whose color tells whether an even or odd number of presses landed.
const ANIMATED_HEAD = `<style>
html,body{margin:0;padding:0;width:100%;height:100%;overflow:hidden;background:#202020;font:bold 48px sans-serif}
#box{position:fixed;left:0;top:0;width:120px;height:120px;background:#e04040;will-change:transform}
#n{position:fixed;left:24px;bottom:24px;color:#f0f0f0}
#target{position:fixed;left:50%;top:0;width:50%;height:100%;background:#0000ff}
#target.on{background:#ffff00}
</style>`;
const ANIMATED_BODY = `<div id="box"></div><div id="n">0</div><div id="target"></div>
<script>
const box = document.getElementById('box'), n = document.getElementById('n'), target = document.getElementById('target');
let frames = 0;
function tick(t) {
  frames++;
  const w = innerWidth / 2 - 120, h = innerHeight - 120;
  const x = (Math.sin(t / 700) + 1) / 2 * w, y = (Math.cos(t / 430) + 1) / 2 * h;
  box.style.transform = 'translate(' + x.toFixed(1) + 'px,' + y.toFixed(1) + 'px)';
  n.textContent = frames;
  requestAnimationFrame(tick);
}
requestAnimationFrame(tick);
target.addEventListener('mousedown', () => target.classList.toggle('on'));
</script>`;

export function handler(req, res) {
  const u = new URL(req.url, 'http://site.invalid');
  if (u.pathname !== '/_requests' && u.pathname !== '/healthz') {
    requests.push({ method: req.method, url: req.url, ua: req.headers['user-agent'] || '', at: Date.now() });
    if (requests.length > 10000) requests.shift();
  }
  const send = (status, body, type = 'text/html; charset=utf-8') => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  switch (u.pathname) {
    case '/':
      return send(200, page(TITLE, `<h1 id="h">${H1}</h1><p id="p">This page is served from the test network namespace.</p>`));
    case '/big': {
      let body = '<h1>big page</h1>';
      for (let i = 0; i < 400; i++) body += `<p style="height:50px">paragraph ${i}</p>`;
      return send(200, page('big page', body));
    }
    case '/slow': {
      const ms = Math.min(Math.max(parseInt(u.searchParams.get('ms') || '1000', 10) || 0, 0), 120000);
      const t = setTimeout(() => send(200, page('slow page', `<h1>slow page (${ms} ms)</h1>`)), ms);
      req.on('close', () => clearTimeout(t));
      return undefined;
    }
    case '/form':
      return send(200, page('form page',
        '<form action="/form/submit" method="get"><input id="q" name="q" value=""><button id="go" type="submit">go</button></form>'));
    case '/form/submit':
      return send(200, page(`submitted: ${u.searchParams.get('q') || ''}`, `<p id="r">${esc(u.searchParams.get('q') || '')}</p>`));
    case '/title':
      return send(200, page(u.searchParams.get('t') || '', '<p>title page</p>'));
    case '/late-title': {
      const ms = Math.min(parseInt(u.searchParams.get('ms') || '500', 10) || 0, 60000);
      return send(200, page('before', '<p>late title</p>',
        `<script>addEventListener('load', () => setTimeout(() => { document.title = 'after'; }, ${ms}));</script>`));
    }
    case '/color': {
      const c = /^[0-9a-fA-F]{6}$/.test(u.searchParams.get('c') || '') ? u.searchParams.get('c') : 'ff0000';
      return send(200, page(`color ${c}`, '',
        `<style>html,body{margin:0;padding:0;height:100%;background:#${c};overflow:hidden}</style>`));
    }
    case '/animated':
      return send(200, page('animated', ANIMATED_BODY, ANIMATED_HEAD));
    case '/bytes': {
      const n = Math.min(Math.max(parseInt(u.searchParams.get('n') || '0', 10) || 0, 0), 1 << 30);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n,
        'cache-control': 'no-store' });
      let left = n;
      const more = () => {
        while (left > 0) {
          const k = Math.min(left, BLOCK.length);
          left -= k;
          if (!res.write(k === BLOCK.length ? BLOCK : BLOCK.subarray(0, k))) {
            res.once('drain', more);
            return;
          }
        }
        res.end();
      };
      more();
      return undefined;
    }
    case '/redirect':
      res.writeHead(302, { location: u.searchParams.get('to') || '/', 'cache-control': 'no-store' });
      return res.end();
    case '/refresh':
      return send(200, page('refresh', '<p>moving on</p>',
        `<meta http-equiv="refresh" content="0;url=${esc(u.searchParams.get('to') || '/')}">`));
    case '/link':
      return send(200, page('link',
        `<a id="l" href="${esc(u.searchParams.get('to') || '/')}" style="position:fixed;inset:0;display:block">follow</a>`
        + `<button id="open" style="position:fixed;left:0;top:0;z-index:1" onclick="window.open(${esc(JSON.stringify(u.searchParams.get('to') || '/'))})">open</button>`));
    case '/healthz':
      return send(200, 'ok\n', 'text/plain');
    case '/nocontent':
      res.writeHead(204, { 'cache-control': 'no-store' });
      return res.end();
    case '/_requests':
      return send(200, JSON.stringify(requests), 'application/json');
    case '/_requests/clear':
      requests.length = 0;
      return send(200, '[]', 'application/json');
    default:
      return send(404, page('not found', '<h1>404</h1>'));
  }
}

export function startSite(host, port) {
  return new Promise((resolve, reject) => {
    const srv = http.createServer(handler);
    srv.on('error', reject);
    srv.listen(port, host, () => resolve(srv));
  });
}

// Run as a program (not when imported).
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const host = arg('host', '198.51.100.1');
  const port = parseInt(arg('port', '8080'), 10);
  startSite(host, port).then(() => {
    process.stdout.write(`site: listening on http://${host}:${port}/\n`);
  }, (e) => {
    process.stderr.write(`site: cannot listen on ${host}:${port}: ${e.message}\n`);
    process.exit(1);
  });
  for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
}
