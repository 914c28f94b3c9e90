#!/bin/sh
# Long fuzz campaign: fuzz each target until it has used at least CPU_MINUTES
# of CPU time (default 30), in chunks of CHUNK seconds (default 300) with
# WORKERS libFuzzer workers (default 2), continuing from the corpus grown so
# far. CPU time, not wall time, is the budget, so a busy machine lengthens
# the run instead of shortening the search. The campaign resumes: chunks
# already logged in FUZZ_OUT/<target>.chunks.txt count towards the budget.
#
# usage: scripts/fuzz_campaign.sh [CPU_MINUTES] [TARGET...]
#   env: FUZZ_OUT (default build-fuzz/campaign), WORKERS, CHUNK
# Prints per target: chunks, CPU seconds, executions, final coverage and
# corpus, crashes. Exits 1 on the first failing chunk (artifacts kept).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MIN=${1:-30}
[ $# -gt 0 ] && shift
export FUZZ_OUT=${FUZZ_OUT:-$ROOT/build-fuzz/campaign}
export WORKERS=${WORKERS:-2}
CHUNK=${CHUNK:-300}
if [ $# -gt 0 ]; then
    TARGETS="$*"
else
    TARGETS="blob blob_crc npy jsonl adr018 npz packet kvcache_api firmware_api serve"
fi
need=$((MIN * 60))
mkdir -p "$FUZZ_OUT"
for t in $TARGETS; do
    cpu=0 execs=0 chunks=0 line=""
    if [ -s "$FUZZ_OUT/$t.chunks.txt" ]; then
        cpu=$(sed -n 's/.*cpu_s=\([0-9]*\).*/\1/p' "$FUZZ_OUT/$t.chunks.txt" | awk '{s += $1} END {print s + 0}')
        execs=$(sed -n 's/.*execs=\([0-9]*\).*/\1/p' "$FUZZ_OUT/$t.chunks.txt" | awk '{s += $1} END {printf "%.0f", s}')
        chunks=$(wc -l <"$FUZZ_OUT/$t.chunks.txt")
        line=$(tail -1 "$FUZZ_OUT/$t.chunks.txt")
    fi
    while [ "$cpu" -lt "$need" ]; do
        if ! sh "$ROOT/scripts/fuzz.sh" "$CHUNK" "$t" >"$FUZZ_OUT/$t.chunk.txt" 2>&1; then
            cat "$FUZZ_OUT/$t.chunk.txt"
            echo "campaign: $t failed in chunk $((chunks + 1)); see $FUZZ_OUT/$t/"
            exit 1
        fi
        line=$(grep "^$t " "$FUZZ_OUT/$t.chunk.txt")
        c=$(echo "$line" | sed -n 's/.*cpu_s=\([0-9]*\).*/\1/p')
        e=$(echo "$line" | sed -n 's/.*execs=\([0-9]*\).*/\1/p')
        [ -n "$c" ] || { echo "campaign: no CPU figure (needs /usr/bin/time)"; exit 2; }
        cpu=$((cpu + c))
        execs=$((execs + ${e:-0}))
        chunks=$((chunks + 1))
        echo "$line" >>"$FUZZ_OUT/$t.chunks.txt"
    done
    cov=$(echo "$line" | sed -n 's/.*cov=\([0-9]*\).*/\1/p')
    ft=$(echo "$line" | sed -n 's/.*ft=\([0-9]*\).*/\1/p')
    corp=$(echo "$line" | sed -n 's/.*corpus=\([0-9]*\).*/\1/p')
    printf '%-14s chunks=%-3s cpu_min=%-5s execs=%-11s cov=%-6s ft=%-6s corpus=%-5s crashes=0\n' \
        "$t" "$chunks" "$((cpu / 60))" "$execs" "$cov" "$ft" "$corp" | tee -a "$FUZZ_OUT/summary.txt"
done
echo "campaign: no crashes"
