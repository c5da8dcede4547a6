#!/usr/bin/env bash
# unit.sh BIN... — run each C unit-test binary from the repo root and add up
# the "N passed, N failed" line each one ends with. Prints one line per binary
# and a total as the last line ("total: N passed, N failed", with
# ", N skipped" added when something was skipped); a binary that crashes,
# hangs (limit: UNIT_TIMEOUT seconds, default 300) or prints no summary counts
# as one failure. Skips (tests/unit/t.h): a binary that exits 77 after a line
# "skipped: WHY" (T_SKIP: it cannot run here, e.g. not root) counts as one
# skipped, not as passed; each "skipped: WHY" line of a binary that ran
# (T_SKIP_PART: a part that cannot run here) counts as one skipped too.
# Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

timeout_s=${UNIT_TIMEOUT:-300}
pass=0
fail=0
skip=0
for bin in "$@"; do
    name=$(basename "$bin")
    out=$(mktemp)
    timeout --kill-after=10 "$timeout_s" "$bin" >"$out" 2>&1
    rc=$?
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1 || true)
    skips=$(grep -E '^skipped: ' "$out" | sed 's/^skipped: //' || true)
    s=0
    [ -n "$skips" ] && s=$(wc -l <<<"$skips")
    if [ -n "$summary" ]; then
        p=${summary%% passed*}
        f=${summary#*, }
        f=${f%% failed*}
    else
        p=0
        f=0
    fi
    status=ok
    if [ "$rc" -eq 77 ] && [ "$s" -gt 0 ] && [ "$f" -eq 0 ]; then
        status=skipped # the whole binary (T_SKIP)
        s=1
        echo "unit $name: skipped ($skips)"
    elif [ -z "$summary" ] || [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
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
    if [ "$status" != ok ] && [ "$status" != skipped ]; then
        sed "s/^/    /" "$out"
    fi
    if [ "$status" != skipped ]; then
        line="unit $name: $p passed, $f failed"
        [ "$s" -gt 0 ] && line+=", $s skipped ($(paste -sd';' <<<"$skips" | sed 's/;/; /g'))"
        [ "$status" != ok ] && line+=" ($status)"
        echo "$line"
    fi
    pass=$((pass + p))
    fail=$((fail + f))
    skip=$((skip + s))
    rm -f "$out"
done
if [ "$skip" -gt 0 ]; then
    echo "total: $pass passed, $fail failed, $skip skipped"
else
    echo "total: $pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
