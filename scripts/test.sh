#!/usr/bin/env bash
# test.sh BUILD_DIR — run every test: the C unit-test binaries
# (BUILD_DIR/tests/test_*, through unit.sh), the same under ASan+UBSan
# (ASAN_BUILD/tests/test_*, as `make asan` runs them), the fuzzers (FUZZ_BUILD/fuzz_*,
# FUZZ_SECONDS each, through fuzz.sh; each harness counts as one test) and
# then the end-to-end suites (node --test tests/e2e/*.test.js, one file at a
# time; they start their own daemon from BUILD_DIR/bulkhead and need root).
# Ends with one plain line "N passed, N failed" totalling unit checks, fuzz
# harnesses and e2e tests (", N skipped" added when unit binaries or parts of
# them, or e2e tests, were skipped), and exits non-zero if anything failed or
# if no test ran at all.
#   E2E_TIMEOUT  seconds for the whole e2e run (default 4200)
#   E2E_FILTER   only run e2e files whose name contains this (e.g. core)
#   FUZZ_BUILD   where the fuzz harnesses are (default build-fuzz)
#   FUZZ_SECONDS seconds per harness (default 30; 0 skips the fuzzers)
#   ASAN_BUILD   where the ASan+UBSan unit tests are (default build-asan)
#   ASAN         0 skips them
set -uo pipefail
cd "$(dirname "$0")/.."

build=${1:-build}
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1
export BULKHEAD_BIN
BULKHEAD_BIN=$(realpath -m "$build/bulkhead")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- unit -------------------------------------------------------------------
# unit_run NAME DIR [ENV...]: runs DIR/test_* through unit.sh (with ENV) and
# sets NAME_pass, NAME_fail, NAME_skip from its total.
unit_run() {
    local name=$1 dir=$2 total p=0 f=0 k=0
    shift 2
    local bins=()
    for b in "$dir"/test_*; do
        [ -f "$b" ] && [ -x "$b" ] && bins+=("$b")
    done
    if [ ${#bins[@]} -eq 0 ]; then
        echo "test: no unit-test binaries in $dir"
    else
        echo "== $name tests (${#bins[@]} binaries in $dir)"
        env "$@" scripts/unit.sh "${bins[@]}" | tee "$tmp/$name.out"
        total=$(grep -E '^total: [0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$tmp/$name.out" | tail -n 1)
        if [ -n "$total" ]; then
            p=$(sed -E 's/^total: ([0-9]+) passed.*/\1/' <<<"$total")
            f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$total")
            [[ $total == *skipped ]] && k=$(sed -E 's/.* ([0-9]+) skipped$/\1/' <<<"$total")
        else
            echo "test: unit.sh printed no total"
            f=1
        fi
    fi
    printf -v "${name}_pass" %s "$p"
    printf -v "${name}_fail" %s "$f"
    printf -v "${name}_skip" %s "$k"
}
unit_run unit "$build/tests"

# ---- unit tests under ASan+UBSan (make asan) --------------------------------
asan_pass=0
asan_fail=0
asan_skip=0
if [ "${ASAN:-1}" = 0 ]; then
    echo "test: ASan unit tests skipped (ASAN=0)"
else
    unit_run asan "${ASAN_BUILD:-build-asan}/tests" ASAN_OPTIONS=detect_leaks=1
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

pass=$((unit_pass + asan_pass + fuzz_pass + e2e_pass))
fail=$((unit_fail + asan_fail + fuzz_fail + e2e_fail))
skip=$((unit_skip + asan_skip + e2e_skip))
echo "unit: $unit_pass passed, $unit_fail failed, $unit_skip skipped; asan: $asan_pass passed, $asan_fail failed, $asan_skip skipped; fuzz: $fuzz_pass passed, $fuzz_fail failed; e2e: $e2e_pass passed, $e2e_fail failed, $e2e_skip skipped"
if [ $((pass + fail)) -eq 0 ]; then
    echo "test: no test ran"
    echo "0 passed, 0 failed"
    exit 1
fi
if [ "$skip" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
