#!/usr/bin/env bash
# unit.sh BIN... — run each C unit-test binary from the repo root and add up
# the "N passed, N failed" line each one ends with. Prints one line per binary
# and a total as the last line ("total: N passed, N failed"); a binary that
# crashes, hangs (limit: UNIT_TIMEOUT seconds, default 300) or prints no
# summary counts as one failure. Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

timeout_s=${UNIT_TIMEOUT:-300}
pass=0
fail=0
for bin in "$@"; do
    name=$(basename "$bin")
    out=$(mktemp)
    timeout --kill-after=10 "$timeout_s" "$bin" >"$out" 2>&1
    rc=$?
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1 || true)
    if [ -n "$summary" ]; then
        p=${summary%% passed*}
        f=${summary#*, }
        f=${f%% failed*}
    else
        p=0
        f=0
    fi
    status=ok
    if [ -z "$summary" ] || [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        # no summary, or a non-zero exit the checks did not account for
        f=$((f + 1))
        case $rc in
        124 | 137) status="TIMEOUT after ${timeout_s}s" ;;
        0) status="no summary line" ;;
        *) status="exit $rc" ;;
        esac
    elif [ "$f" -ne 0 ]; then
        status=FAILED
    fi
    if [ "$status" != ok ]; then
        sed "s/^/    /" "$out"
    fi
    echo "unit $name: $p passed, $f failed${status:+ ($status)}" | sed 's/ (ok)$//'
    pass=$((pass + p))
    fail=$((fail + f))
    rm -f "$out"
done
echo "total: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
