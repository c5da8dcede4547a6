#!/usr/bin/env bash
# test.sh BUILD_DIR — run every test: the C unit-test binaries
# (BUILD_DIR/tests/test_*, through unit.sh), the fuzzers (FUZZ_BUILD/fuzz_*,
# FUZZ_SECONDS each, through fuzz.sh; each harness counts as one test) and
# then the end-to-end suites (node --test tests/e2e/*.test.js, one file at a
# time; they start their own daemon from BUILD_DIR/bulkhead and need root).
# Ends with one plain line "N passed, N failed" totalling unit checks, fuzz
# harnesses and e2e tests, and exits non-zero if anything failed or if no
# test ran at all.
#   E2E_TIMEOUT  seconds for the whole e2e run (default 4200)
#   E2E_FILTER   only run e2e files whose name contains this (e.g. core)
#   FUZZ_BUILD   where the fuzz harnesses are (default build-fuzz)
#   FUZZ_SECONDS seconds per harness (default 30; 0 skips the fuzzers)
set -uo pipefail
cd "$(dirname "$0")/.."

build=${1:-build}
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1
export BULKHEAD_BIN
BULKHEAD_BIN=$(realpath -m "$build/bulkhead")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- unit -------------------------------------------------------------------
unit_bins=()
for b in "$build"/tests/test_*; do
    [ -f "$b" ] && [ -x "$b" ] && unit_bins+=("$b")
done
unit_pass=0
unit_fail=0
if [ ${#unit_bins[@]} -eq 0 ]; then
    echo "test: no unit-test binaries in $build/tests"
else
    echo "== unit tests (${#unit_bins[@]} binaries)"
    scripts/unit.sh "${unit_bins[@]}" | tee "$tmp/unit.out"
    total=$(grep -E '^total: [0-9]+ passed, [0-9]+ failed$' "$tmp/unit.out" | tail -n 1)
    if [ -n "$total" ]; then
        unit_pass=$(sed -E 's/^total: ([0-9]+) passed.*/\1/' <<<"$total")
        unit_fail=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$total")
    else
        echo "test: unit.sh printed no total"
        unit_fail=1
    fi
fi

# ---- fuzz -------------------------------------------------------------------
fuzz_bins=()
for b in "${FUZZ_BUILD:-build-fuzz}"/fuzz_*; do
    [ -f "$b" ] && [ -x "$b" ] && fuzz_bins+=("$b")
done
fuzz_pass=0
fuzz_fail=0
if [ "${FUZZ_SECONDS:-30}" = 0 ]; then
    echo "test: fuzzers skipped (FUZZ_SECONDS=0)"
elif [ ${#fuzz_bins[@]} -eq 0 ]; then
    echo "test: no fuzz harnesses in ${FUZZ_BUILD:-build-fuzz}"
else
    echo "== fuzz (${#fuzz_bins[@]} harnesses, ${FUZZ_SECONDS:-30}s each)"
    scripts/fuzz.sh "${fuzz_bins[@]}" | tee "$tmp/fuzz.out"
    total=$(grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed$' "$tmp/fuzz.out" | tail -n 1)
    if [ -n "$total" ]; then
        fuzz_pass=$(sed -E 's/^fuzz: ([0-9]+) passed.*/\1/' <<<"$total")
        fuzz_fail=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$total")
    else
        echo "test: fuzz.sh printed no total"
        fuzz_fail=1
    fi
fi

# ---- e2e --------------------------------------------------------------------
e2e_files=()
for f in tests/e2e/*.test.js; do
    [ -f "$f" ] || continue
    [ -n "${E2E_FILTER:-}" ] && [[ "$(basename "$f")" != *"$E2E_FILTER"* ]] && continue
    e2e_files+=("$f")
done
e2e_pass=0
e2e_fail=0
e2e_skip=0
if [ ${#e2e_files[@]} -eq 0 ]; then
    echo "test: no e2e test files"
else
    echo "== e2e tests (${#e2e_files[@]} files, daemon $BULKHEAD_BIN)"
    tap="$tmp/e2e.tap"
    timeout --kill-after=60 "${E2E_TIMEOUT:-4200}" \
        node --test --test-concurrency=1 \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" \
        "${e2e_files[@]}"
    rc=$?
    # node's TAP summary: "# pass N", "# fail N", "# cancelled N" at column 0.
    count() { grep -E "^# $1 [0-9]+$" "$tap" 2>/dev/null | tail -n 1 | awk '{print $3}'; }
    e2e_pass=$(count pass)
    fail_n=$(count fail)
    cancelled_n=$(count cancelled)
    e2e_skip=$(count skipped)
    e2e_skip=${e2e_skip:-0}
    e2e_pass=${e2e_pass:-0}
    e2e_fail=$(( ${fail_n:-0} + ${cancelled_n:-0} ))
    if [ "$rc" -ne 0 ] && [ "$e2e_fail" -eq 0 ]; then
        case $rc in
        124 | 137) echo "test: e2e run timed out after ${E2E_TIMEOUT:-4200}s" ;;
        *) echo "test: node --test exited $rc without a failed test (a hook or the runner failed)" ;;
        esac
        e2e_fail=1
    fi
fi

pass=$((unit_pass + fuzz_pass + e2e_pass))
fail=$((unit_fail + fuzz_fail + e2e_fail))
echo "unit: $unit_pass passed, $unit_fail failed; fuzz: $fuzz_pass passed, $fuzz_fail failed; e2e: $e2e_pass passed, $e2e_fail failed, $e2e_skip skipped"
if [ $((pass + fail)) -eq 0 ]; then
    echo "test: no test ran"
    echo "0 passed, 0 failed"
    exit 1
fi
if [ "$e2e_skip" -gt 0 ]; then
    echo "$pass passed, $fail failed, $e2e_skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
