#!/usr/bin/env bash
# run.sh BIN STATE_DIR — serve bulkhead in the foreground on 127.0.0.1:8420
# (BULKHEAD_LISTEN overrides) with its state in STATE_DIR, the labs of
# examples/labs and a warm pool of 2 (BULKHEAD_POOL overrides). Prints the URL and
# the admin API token, which stays in STATE_DIR/token (the daemon keeps only
# its hash and never prints it).
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 BIN STATE_DIR" >&2
    exit 2
fi
bin=$1
state=$2
listen=${BULKHEAD_LISTEN:-127.0.0.1:8420}

if [ "$(id -u)" -ne 0 ]; then
    echo "run: bulkhead serve needs root (containers, network namespaces, cgroups)" >&2
    exit 1
fi
if [ ! -x "$bin" ]; then
    echo "run: $bin is not built (run make)" >&2
    exit 1
fi
mkdir -p "$state"
chmod 0700 "$state"
# The daemon never prints or logs a token; it is the operator's to see, so
# make one here the first time (as the daemon would) and show it.
if [ -z "${BULKHEAD_TOKEN:-}" ] && [ ! -s "$state/token" ]; then
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$state/token" && echo >>"$state/token")
fi
echo "run: bulkhead on http://$listen/ — state in $state"
if [ -n "${BULKHEAD_TOKEN:-}" ]; then
    echo "run: admin API token: the one in BULKHEAD_TOKEN"
else
    echo "run: admin API token: $(head -n 1 "$state/token") (in $state/token)"
fi
echo "run: the CLI finds the daemon and the token by itself:"
echo "       $bin create --state-dir $state --url http://example.test/"
labs="$(cd "$(dirname "$0")/.." && pwd)/examples/labs"
echo "run: shell sessions' labs from $labs (docs/terminal.md#labs)"
pool=${BULKHEAD_POOL:-2}
echo "run: $pool browser sessions kept started ahead (--pool; BULKHEAD_POOL=0 for none)"
exec "$bin" serve --state-dir "$state" --listen "$listen" --labs-dir "$labs" --pool "$pool"
