#!/usr/bin/env bash
# deps.sh — install what bulkhead needs to build, run and test, and only what
# is missing: Debian packages (apt-get update only when something is missing),
# then the npm packages of the e2e tests and of the web UI (npm ci in
# tests/e2e and in web/ when node_modules is missing or older than
# package-lock.json). Never downloads a browser: the
# tests drive Debian's /usr/bin/chromium. Idempotent; prints nothing when
# there is nothing to do. Needs root for apt (as `make run`/`make test` are).
set -euo pipefail
cd "$(dirname "$0")/.."

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1
export DEBIAN_FRONTEND=noninteractive

PKGS=(
    build-essential pkg-config
    libwebsockets-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev
    libnftables-dev libmnl-dev libseccomp-dev libcap-dev libssl-dev
    runc crun chromium chromium-headless-shell nftables iproute2 util-linux curl sqlite3
    prometheus wrk
    clang libclang-rt-14-dev llvm clang-format
    # what shell sessions find in their image (docs/terminal.md)
    bash coreutils procps less vim nano htop git python3 tar
)

installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for p in "${PKGS[@]}"; do
    installed "$p" || missing+=("$p")
done
# Node 20 and its npm usually come with the machine (not from Debian's
# packages); only fall back to Debian's when there is no node at all.
if ! command -v node >/dev/null 2>&1; then
    missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing ${missing[*]} — run as root (or install them) first" >&2
        exit 1
    fi
    echo "deps: apt-get update"
    apt-get -qq update >/dev/null
    for p in "${missing[@]}"; do echo "deps: installing $p"; done
    apt-get -qq -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "deps: npm not found (node: $(command -v node || echo none)); install npm" >&2
    exit 1
fi

# npm writes node_modules/.package-lock.json on every install: use it as the stamp.
# web/: the UI's xterm.js, which the Makefile embeds into the daemon.
for dir in tests/e2e web; do
    [ -f "$dir/package-lock.json" ] || continue
    stamp="$dir/node_modules/.package-lock.json"
    if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ] || [ "$dir/package.json" -nt "$stamp" ]; then
        echo "deps: npm ci in $dir"
        log=$(mktemp)
        if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            echo "deps: npm ci failed" >&2
            exit 1
        fi
        rm -f "$log"
        touch "$stamp"
    fi
done
