#!/usr/bin/env bash
# run.sh BIN STATE_DIR — serve bulkhead in the foreground on 127.0.0.1:8420
# (BULKHEAD_LISTEN overrides) with its state in STATE_DIR. The daemon prints
# its URL and API token when it starts; the token stays in STATE_DIR/token.
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
echo "run: bulkhead on http://$listen/ — state in $state"
echo "run: API token: see $state/token (BULKHEAD_TOKEN overrides); the CLI finds both:"
echo "       $bin create --state-dir $state --url http://example.test/"
exec "$bin" serve --state-dir "$state" --listen "$listen"
