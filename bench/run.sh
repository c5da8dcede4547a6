#!/usr/bin/env bash
# run.sh BIN — bulkhead's benchmarks. Each compares bulkhead with a baseline
# measured in the same run on this machine and prints the ratio.
#
#   create   cold create→ready latency through the REST API (about:blank),
#            against a bare `runc run` of the same Chromium in the same
#            bundle answering Browser.getVersion over the pipe.
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
#
# The daemon's sessions get as many CPUs as the machine has (--cpus), like the
# baselines, which run without a limit: what is measured is bulkhead's own
# cost, not the per-session CPU quota an operator chooses.
# Environment: BENCH_RUNS (default 10) runs per side, after one warm-up each;
# BENCH_SKIP_CDP=1 skips the CDP workload; BENCH_SKIP_NET=1 skips the network
# (BENCH_NET_MIB, default 128, MiB downloaded per side; BENCH_NET_PAGES,
# default 100, small page loads per side); BENCH_SKIP_LIVE=1 skips the live
# view (BENCH_LIVE_SECONDS, default 10, is its measuring window;
# BENCH_LIVE_CLICKS, default 20, its latency samples per side);
# BENCH_SKIP_SHELL=1 skips shell sessions;
# BENCH_SKIP_DAEMON=1 skips the daemon's footprint and REST throughput
# (BENCH_DAEMON_CHURN, default 100, sessions churned; BENCH_WRK_SECONDS,
# default 10, per wrk run).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/bulkhead}
RUNS=${BENCH_RUNS:-10}
CFLAGS_PKGS="libwebsockets jansson sqlite3 libcurl libnftables libmnl libcrypto"

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
daemon_pid=""
cleanup() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid"
        wait "$daemon_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "bench: building the bare baseline"
cc -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Isrc bench/bare.c build/libbulkhead.a \
    $(pkg-config --libs $CFLAGS_PKGS) -lpthread -o "$work/bare"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "bench: starting the daemon on 127.0.0.1:$port"
"$BIN" serve --listen "127.0.0.1:$port" --state-dir "$work/state" --run-dir "$work/run" \
    --bridge bhbench0 --subnet 10.218.0.0/16 --log-level warn --cpus "$(nproc)" >"$work/daemon.out" 2>"$work/daemon.err" &
daemon_pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/daemon.err"; exit 1; }
    sleep 0.2
done
token=$(cat "$work/state/token")

echo "bench: create→ready, $RUNS runs each (after one warm-up), alternating sides"
: >"$work/api.txt"
: >"$work/bare.txt"
node bench/create.mjs "http://127.0.0.1:$port" "$token" 1 >/dev/null
"$work/bare" "$work/state" "$work/run" 1 >/dev/null
for i in $(seq "$RUNS"); do
    node bench/create.mjs "http://127.0.0.1:$port" "$token" 1 >>"$work/api.txt"
    "$work/bare" "$work/state" "$work/run" 1 >>"$work/bare.txt"
    printf '.'
done
echo
read -r api50 api95 < <(bench/stats.sh "$work/api.txt")
read -r bare50 bare95 < <(bench/stats.sh "$work/bare.txt")
printf '\n%-34s %10s %10s\n' "create→ready (ms)" p50 p95
printf '%-34s %10s %10s\n' "bulkhead REST API (about:blank)" "$api50" "$api95"
printf '%-34s %10s %10s\n' "bare runc run + Browser.getVersion" "$bare50" "$bare95"
awk -v a="$api50" -v b="$bare50" -v c="$api95" -v d="$bare95" \
    'BEGIN { printf "%-34s %10.2f %10.2f   (goal: <= 1.10)\n", "ratio bulkhead / bare", a / b, c / d }'

echo
echo "bench: CDP workload, bulkhead endpoint vs a Playwright-launched Chromium"
[ "${BENCH_SKIP_CDP:-0}" = 1 ] || node bench/cdp.mjs "http://127.0.0.1:$port" "$token"

echo
echo "bench: network, policy none vs internet; in a session vs on the host"
[ "${BENCH_SKIP_NET:-0}" = 1 ] || node bench/net.mjs "http://127.0.0.1:$port" "$token" "$RUNS"

echo
echo "bench: live view, bulkhead viewers vs Chromium's own screencast"
[ "${BENCH_SKIP_LIVE:-0}" = 1 ] || node bench/live.mjs "http://127.0.0.1:$port" "$token" "$daemon_pid"

echo
echo "bench: shell sessions (create, exec, terminal echo, files) vs bare runc and cp"
[ "${BENCH_SKIP_SHELL:-0}" = 1 ] || node bench/shell.mjs "http://127.0.0.1:$port" "$token" "$RUNS" "$work"

echo
echo "bench: daemon footprint (RSS, fds) by live sessions and after churn; REST req/s vs /healthz"
[ "${BENCH_SKIP_DAEMON:-0}" = 1 ] || node bench/daemon.mjs "http://127.0.0.1:$port" "$token" "$daemon_pid"
