#!/usr/bin/env bash
# run.sh BIN — bulkhead's benchmarks. Each compares bulkhead with a baseline
# measured in the same run on this machine and prints the ratio.
#
#   create   cold create→ready latency through the REST API (about:blank),
#            against a plain `runc run` of a hand-written bundle with the same
#            browser, argv and user (bench/baseline.mjs, none of bulkhead's
#            code) answering Browser.getVersion over the pipe, both at the
#            daemon's default 1-CPU session quota; the per-phase medians of the
#            ready events; create→page loaded with a start URL on the local
#            test site (bench/create.mjs). Beside it, a tuned row: a second,
#            short-lived daemon with --cpus $(nproc) against the baseline with
#            no CPU quota.
#   pool     create→ready from a warm pool (--pool N) against cold creates on
#            the same daemon (bench/pool.mjs).
#   cdp      a Playwright workload (navigations, evaluations, screenshots)
#            through the session's CDP endpoint, against a Chromium that
#            Playwright launches itself over a pipe with the same flags.
#   net      a session's network: create→ready with policy `none` against the
#            default `internet` (the cost of its egress rules); download MB/s
#            and small page loads from inside a session (bridge, rules, NAT)
#            against a Playwright-launched Chromium on the host.
#   live     the live view on an animated 1280×720 test page: frames/s for one
#            and for four viewers, click→frame latency, bytes/s and the
#            daemon's CPU per viewer, against Chromium's own screencast
#            (Page.startScreencast) in a Playwright-launched Chromium.
#   shell    shell sessions: create→ready against a bare `runc run` of
#            /bin/true in a hand-written bundle; the exec round trip of
#            `true`; a terminal keystroke to its echo; file upload and
#            download MB/s against `cp` between tmpfs dirs (bench/shell.mjs).
#   daemon   the daemon process's RSS and fds at 0, 20 and 50 live sessions,
#            after deleting them and after a 100-session churn (KiB per live
#            session); REST req/s (wrk) on GET /api/v1/sessions against the
#            same daemon's /healthz (bench/daemon.mjs; holds the e2e lock).
#   capacity idle sessions on one machine: memory per session (MemAvailable
#            drop, PSS), idle CPU of 100, 150 live at once with no OOM and one
#            more create, cold creates 4 at a time (bench/capacity.mjs), with a
#            daemon of its own started with --max-sessions N + 10.
#
# The daemon runs with its default settings (a session gets 1 CPU): what is
# measured is what a user gets. A tuned figure is reported beside it, never
# instead of it.
# Every figure is also written to bench/results.json (bench/results.mjs: one
# {name, value, unit, goal, baseline, ratio} entry each), overwritten per run.
# Environment: BENCH_RUNS (default 10) runs per side, after one warm-up each;
# BENCH_SKIP_CREATE=1 skips the create section (and its tuned row);
# BENCH_SKIP_POOL=1 skips the warm pool (BENCH_POOL_N, default 4, its size;
# BENCH_POOL_RUNS, default 100, pooled creates);
# BENCH_SKIP_CDP=1 skips the CDP workload; BENCH_SKIP_NET=1 skips the network
# (BENCH_NET_MIB, default 128, MiB downloaded per side; BENCH_NET_PAGES,
# default 100, small page loads per side); BENCH_SKIP_LIVE=1 skips the live
# view (BENCH_LIVE_SECONDS, default 10, is its measuring window;
# BENCH_LIVE_CLICKS, default 20, its latency samples per side);
# BENCH_SKIP_SHELL=1 skips shell sessions;
# BENCH_SKIP_DAEMON=1 skips the daemon's footprint and REST throughput
# (BENCH_DAEMON_CHURN, default 100, sessions churned; BENCH_WRK_SECONDS,
# default 10, per wrk run); BENCH_SKIP_CAPACITY=1 skips capacity
# (BENCH_CAPACITY_N, default 150, sessions live at once). BENCH_BROWSER runs
# another browser binary in the daemons' sessions and the baselines alike
# (default: the daemon's, the headless shell).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/bulkhead}
RUNS=${BENCH_RUNS:-10}

# One benchmark run at a time on a host: they share the bridge and subnet
# below (and their figures would disturb each other).
exec 9>/run/lock/bulkhead-bench.lock
if ! flock -n 9; then
    echo "bench: waiting for another benchmark run to finish (/run/lock/bulkhead-bench.lock)"
    flock 9
fi

work=$(mktemp -d /tmp/bhbench-XXXXXX)
# the sessions' user namespaces reach the image under it as "others"
chmod 755 "$work"
results="$work/results.jsonl"
: >"$results"
export BENCH_RESULTS="$results"
daemon_pid=""
stop_daemon() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid"
        wait "$daemon_pid" 2>/dev/null || true
    fi
    daemon_pid=""
}
# bench/results.json: the run's figures, merged from the sections' lines
write_results() {
    node -e '
const fs = require("fs");
const [file, out, commit, started, startLoad] = process.argv.slice(1);
const results = fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const head = { started, ended: new Date().toISOString(), commit,
  loadavgStart: startLoad.split(" ").map(Number),
  loadavgEnd: fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number) };
fs.writeFileSync(out, "{\n" + Object.entries(head).map(([k, v]) => ` ${JSON.stringify(k)}: ${JSON.stringify(v)},\n`).join("")
  + " \"results\": [\n" + results.map((r) => `  ${JSON.stringify(r)}`).join(",\n") + "\n ]\n}\n");
console.log(`bench: ${results.length} figures written to ${out}`);
' "$results" bench/results.json "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$started" "$started_load" || true
}
cleanup() {
    stop_daemon
    [ -s "$results" ] && write_results
    rm -rf "$work"
}
trap cleanup EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
started_load=$(load)

# start_daemon NAME [ARGS...]: a daemon of its own state dir, with the bench's
# bridge and subnet (one daemon at a time); sets port, token, daemon_pid.
start_daemon() {
    local name=$1
    shift
    stop_daemon
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    echo "bench: starting the daemon ($name${*:+: $*}) on 127.0.0.1:$port"
    "$BIN" serve --listen "127.0.0.1:$port" --state-dir "$work/state-$name" --run-dir "$work/run-$name" \
        --bridge bhbench0 --subnet 10.218.0.0/16 --log-level warn \
        ${BENCH_BROWSER:+--browser "$BENCH_BROWSER"} "$@" \
        >"$work/daemon-$name.out" 2>"$work/daemon-$name.err" &
    daemon_pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
        kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/daemon-$name.err"; exit 1; }
        sleep 0.2
    done
    token=$(cat "$work/state-$name/token")
}

if [ "${BENCH_SKIP_CREATE:-0}" != 1 ]; then
    echo "bench: create→ready, $RUNS runs each (after one warm-up), alternating sides (load average $(load))"
    start_daemon default
    node bench/create.mjs "http://127.0.0.1:$port" "$token" "$RUNS" --cpus 1 --label default
    echo
    echo "bench: create→ready, tuned: sessions with $(nproc) CPUs, baseline without a CPU quota (load average $(load))"
    start_daemon tuned --cpus "$(nproc)"
    node bench/create.mjs "http://127.0.0.1:$port" "$token" "$RUNS" --cpus none --label tuned --no-page
fi

# --- warm pool ---------------------------------------------------------------
# create→ready with the pool warm (a daemon of its own with --pool N; goal:
# p50 <= 15 ms, p99 <= 50 ms for about:blank) against cold creates on the same
# daemon in the same run (bench/pool.mjs).
if [ "${BENCH_SKIP_POOL:-0}" != 1 ]; then
    echo
    echo "bench: warm pool, pooled vs cold creates (load average $(load))"
    start_daemon pool --pool "${BENCH_POOL_N:-4}"
    node bench/pool.mjs "http://127.0.0.1:$port" "$token" "${BENCH_POOL_N:-4}" "${BENCH_POOL_RUNS:-100}" "$RUNS"
fi
# -----------------------------------------------------------------------------

start_daemon default

echo
echo "bench: CDP workload, bulkhead endpoint vs a Playwright-launched Chromium (load average $(load))"
if [ "${BENCH_SKIP_CDP:-0}" != 1 ]; then
    echo "bench: sessions at the default 1-CPU quota; the Playwright-launched browser has none"
    node bench/cdp.mjs "http://127.0.0.1:$port" "$token"
    echo
    echo "bench: the same, tuned: sessions with $(nproc) CPUs"
    start_daemon tuned --cpus "$(nproc)"
    node bench/cdp.mjs "http://127.0.0.1:$port" "$token" tuned
    start_daemon default
fi

echo
echo "bench: network, policy none vs internet; in a session vs on the host (load average $(load))"
[ "${BENCH_SKIP_NET:-0}" = 1 ] || node bench/net.mjs "http://127.0.0.1:$port" "$token" "$RUNS"

echo
echo "bench: live view, bulkhead viewers vs Chromium's own screencast (load average $(load))"
[ "${BENCH_SKIP_LIVE:-0}" = 1 ] || node bench/live.mjs "http://127.0.0.1:$port" "$token" "$daemon_pid"

echo
echo "bench: shell sessions (create, exec, terminal echo, files) vs bare runc and cp (load average $(load))"
[ "${BENCH_SKIP_SHELL:-0}" = 1 ] || node bench/shell.mjs "http://127.0.0.1:$port" "$token" "$RUNS" "$work"

echo
echo "bench: daemon footprint (RSS, fds) by live sessions and after churn; REST req/s vs /healthz (load average $(load))"
[ "${BENCH_SKIP_DAEMON:-0}" = 1 ] || node bench/daemon.mjs "http://127.0.0.1:$port" "$token" "$daemon_pid"

if [ "${BENCH_SKIP_CAPACITY:-0}" != 1 ]; then
    echo
    cap=${BENCH_CAPACITY_N:-150}
    echo "bench: capacity, $cap idle sessions (load average $(load))"
    start_daemon capacity --max-sessions "$((cap + 10))"
    node bench/capacity.mjs "http://127.0.0.1:$port" "$token"
fi
stop_daemon
