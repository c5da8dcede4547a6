#!/usr/bin/env bash
# fuzz.sh BIN... — run each libFuzzer harness (build-fuzz/fuzz_<name>, from
# tests/fuzz/fuzz_<name>.c) for FUZZ_SECONDS (default 30) on a scratch copy
# of its seed corpus tests/fuzz/corpus/<name>/, so the corpus it grows stays
# out of the repo (FUZZ_WORK=DIR keeps it there instead). A crash, leak,
# sanitizer report or timeout fails the harness; the input that did it is
# kept as FUZZ_ARTIFACTS/<name>-crash-… (default build-fuzz/artifacts) and
# the report's first lines are printed. Prints one line per harness with
# libFuzzer's last stats (execs, exec/s, cov, ft, corpus) and ends with
# "N passed, N failed" (one test per harness). Exits non-zero if any failed.
#   FUZZ_SECONDS    seconds per harness (default 30)
#   FUZZ_JOBS       harnesses run at once (default 1)
#   FUZZ_ARGS       extra libFuzzer flags
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${FUZZ_SECONDS:-30}
art=$(realpath -m "${FUZZ_ARTIFACTS:-build-fuzz/artifacts}")
mkdir -p "$art"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
work_root=${FUZZ_WORK:-$tmp/work}
# ASan's report names source lines when a symbolizer is at hand
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
    for s in llvm-symbolizer /usr/lib/llvm-14/bin/llvm-symbolizer; do
        if command -v "$s" >/dev/null 2>&1; then
            export ASAN_SYMBOLIZER_PATH
            ASAN_SYMBOLIZER_PATH=$(command -v "$s")
            break
        fi
    done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
    local bin=$1
    local name
    name=$(basename "$bin")
    name=${name#fuzz_}
    local seeds=tests/fuzz/corpus/$name
    local work=$work_root/$name
    mkdir -p "$work"
    [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null
    local log=$tmp/$name.log
    # -timeout: one input over 10 s is a hang; -rss_limit_mb: a leak or
    # runaway allocation fails instead of eating the machine
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$art/$name-" ${FUZZ_ARGS:-} "$work" >"$log" 2>&1
    local rc=$?
    local stats
    stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    local execs rate
    execs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' | tail -n 1)
    rate=$(grep -E '^stat::average_exec_per_sec:' "$log" | awk '{print $2}' | tail -n 1)
    local cov ft corp
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$stats")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$stats")
    corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$stats")
    if [ "$rc" -eq 0 ] && ! grep -qE '^==[0-9]+==ERROR|runtime error:|^SUMMARY: ' "$log"; then
        echo "fuzz $name: ok, ${secs}s, ${execs:-?} execs, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}" >"$tmp/$name.result"
    else
        {
            echo "fuzz $name: FAILED (exit $rc) after ${execs:-?} execs; input kept in $art/$name-*"
            grep -E -A 25 '^==[0-9]+==ERROR|runtime error:|ALARM|out-of-memory|^==[0-9]+== ?libFuzzer' "$log" | head -n 40 | sed 's/^/    /'
        } >"$tmp/$name.result"
    fi
}

jobs_max=${FUZZ_JOBS:-1}
for bin in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
    run_one "$bin" &
done
wait

pass=0
fail=0
for bin in "$@"; do
    name=$(basename "$bin")
    name=${name#fuzz_}
    r=$tmp/$name.result
    if [ -f "$r" ]; then
        cat "$r"
        if grep -q "^fuzz $name: ok" "$r"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
    else
        echo "fuzz $name: FAILED (no result)"
        fail=$((fail + 1))
    fi
done
echo "fuzz: $pass passed, $fail failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
