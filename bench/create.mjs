// create.mjs — time cold session creation through the REST API: POST
// /api/v1/sessions (about:blank) until the reply (the session is ready), then
// DELETE it. Prints one line per run: milliseconds of the create.
// usage: node create.mjs BASE_URL TOKEN RUNS
const [base, token, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 10);
const H = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const r = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: H, body: '{"url":"about:blank"}' });
  const ms = performance.now() - t0;
  const s = await r.json();
  if (r.status !== 201) {
    console.error(`create failed: ${r.status} ${JSON.stringify(s)}`);
    process.exit(1);
  }
  console.log(ms.toFixed(1));
  const d = await fetch(`${base}/api/v1/sessions/${s.id}`, { method: 'DELETE', headers: H });
  if (d.status !== 204) {
    console.error(`delete failed: ${d.status}`);
    process.exit(1);
  }
}
