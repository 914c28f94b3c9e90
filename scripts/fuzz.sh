#!/bin/sh
# Build the fuzz targets with clang (libFuzzer + ASan + UBSan) and run each
# one for SECONDS_PER_TARGET seconds (default 60) from a copy of its committed
# seed corpus, then replay the committed corpus and the grown one.
#
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   env: BUILD_DIR (default build-fuzz), JOBS (parallel targets, default 1,
#        at most 2 recommended), WORKERS (libFuzzer -fork workers per target,
#        default 1), FUZZ_OUT (work dir, default $BUILD_DIR/runs)
# Prints one line per target: executions, coverage (libFuzzer "cov:"),
# features, corpus size, crashes, and CPU seconds used (user+sys of the
# fuzzer and its workers) when /usr/bin/time is available. A long campaign
# is e.g. `WORKERS=2 scripts/fuzz.sh 930` (about 31 CPU-minutes per target). Exits 1 if any target crashed, leaked or
# timed out; crash reproducers stay in $FUZZ_OUT/<target>/.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-60}
[ $# -gt 0 ] && shift
BUILD_DIR=${BUILD_DIR:-$ROOT/build-fuzz}
FUZZ_OUT=${FUZZ_OUT:-$BUILD_DIR/runs}
JOBS=${JOBS:-1}
WORKERS=${WORKERS:-1}
CC=${CC:-clang}

CC=$CC cmake -S "$ROOT/fuzz" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DAETHER_FUZZ_ENGINE=libfuzzer >/dev/null || exit 2
cmake --build "$BUILD_DIR" -j2 >/dev/null || { cmake --build "$BUILD_DIR" 2>&1 | tail -30; exit 2; }

if [ $# -gt 0 ]; then
    TARGETS="$*"
else
    TARGETS=$(cd "$BUILD_DIR" && ls fuzz_* 2>/dev/null | sed 's/^fuzz_//')
fi

run_one() {
    t=$1
    dir=$FUZZ_OUT/$t
    mkdir -p "$dir/corpus" "$dir/artifacts"
    [ -d "$ROOT/fuzz/corpus/$t" ] && cp -n "$ROOT/fuzz/corpus/$t"/* "$dir/corpus/" 2>/dev/null
    dict=""
    [ -f "$ROOT/fuzz/dict/$t.dict" ] && dict="-dict=$ROOT/fuzz/dict/$t.dict"
    fork=""
    [ "$WORKERS" -gt 1 ] && fork="-fork=$WORKERS"
    timer=""
    [ -x /usr/bin/time ] && timer="/usr/bin/time -f %U+%S -o $dir/cpu.txt"
    # -rss_limit_mb / -timeout: a slow or huge input is a finding too.
    # shellcheck disable=SC2086
    $timer "$BUILD_DIR/fuzz_$t" "$dir/corpus" $dict $fork -max_total_time="$SECS" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/" >"$dir/log.txt" 2>&1
    rc=$?
    cpu=?
    [ -s "$dir/cpu.txt" ] && cpu=$(tail -1 "$dir/cpu.txt" | awk -F+ '{printf "%.0f", $1 + $2}')
    # Replay the committed corpus, the committed regression inputs of this
    # target (fuzz/regressions/<target>-*) and everything found.
    regs=$(ls "$ROOT/fuzz/regressions/$t"-* 2>/dev/null)
    "$BUILD_DIR/fuzz_$t" -runs=0 "$ROOT/fuzz/corpus/$t" "$dir/corpus" >"$dir/replay.txt" 2>&1
    rrc=$?
    if [ $rrc -eq 0 ] && [ -n "$regs" ]; then
        # shellcheck disable=SC2086
        "$BUILD_DIR/fuzz_$t" -runs=0 $regs >>"$dir/replay.txt" 2>&1
        rrc=$?
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log.txt" | grep -o '[0-9]*$')
    # Fork mode prints no final stats; its progress lines start "#<execs>:".
    [ -z "$execs" ] && execs=$(grep -o '^#[0-9]*:' "$dir/log.txt" | tail -1 | tr -d '#:')
    cov=$(grep -o 'cov: [0-9]*' "$dir/log.txt" | tail -1 | grep -o '[0-9]*')
    ft=$(grep -o 'ft: [0-9]*' "$dir/log.txt" | tail -1 | grep -o '[0-9]*')
    ncorp=$(ls "$dir/corpus" | wc -l)
    crashes=$(ls "$dir/artifacts" | wc -l)
    # Fork mode can also report a crash only in its log.
    grep -q 'oom/timeout/crash: [0-9]*/[0-9]*/[1-9]' "$dir/log.txt" && crashes=$((crashes + 1))
    status=ok
    if [ $rc -ne 0 ] || [ $rrc -ne 0 ] || [ "$crashes" -ne 0 ]; then status=FAIL; fi
    printf '%-14s secs=%-6s cpu_s=%-6s execs=%-10s cov=%-6s ft=%-6s corpus=%-5s crashes=%-3s replay_rc=%s %s\n' \
        "$t" "$SECS" "$cpu" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$ncorp" "$crashes" "$rrc" "$status" \
        >"$dir/summary.txt"
    [ $status = ok ]
}

fail=0
pids=""
n=0
for t in $TARGETS; do
    run_one "$t" &
    pids="$pids $!"
    n=$((n + 1))
    if [ $n -ge "$JOBS" ]; then
        for p in $pids; do wait "$p" || fail=1; done
        pids=""
        n=0
    fi
done
for p in $pids; do wait "$p" || fail=1; done

for t in $TARGETS; do cat "$FUZZ_OUT/$t/summary.txt"; done
if [ $fail -ne 0 ]; then
    echo "fuzz: FAILURES (see $FUZZ_OUT/<target>/log.txt and artifacts/)"
    exit 1
fi
echo "fuzz: no crashes"
