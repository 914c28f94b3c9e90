#!/bin/sh
# Memory of `aether serve` over a long replay: serve (both shipped models,
# --no-json, a stats line every STATS seconds) fed by `aether replay --rate
# RATE --loop` as NODES nodes until serve has received FRAMES frames per node
# (default 8,640,000: 24 hours at 100 frames/s). At every stats line it
# samples serve's resident set size (VmRSS) and prints frames per node
# received so far, RSS and RSS growth since the first sample; at the end,
# RSS at the start, middle and end and the growth per million frames. Not
# part of `make test`.
#
# usage: scripts/serve_soak.sh [NODES] [FRAMES_PER_NODE] [RATE]
#   NODES            synthetic nodes (default 3)
#   FRAMES_PER_NODE  frames each node must reach (default 8640000)
#   RATE             replay --rate (default max)
#   env: BUILD (default build), STATS (seconds between samples, default 10),
#        RECORDING (default data/esp32-raw-2node-excerpt.csi.jsonl),
#        OUT (work directory, default a fresh mktemp -d)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODES=${1:-3}
FRAMES=${2:-8640000}
RATE=${3:-max}
STATS=${STATS:-10}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
AETHER=$BUILD/aether
RECORDING=${RECORDING:-$ROOT/data/esp32-raw-2node-excerpt.csi.jsonl}
OUT=${OUT:-$(mktemp -d)}
[ -x "$AETHER" ] || { echo "serve_soak: no $AETHER (make build first)" >&2; exit 2; }
mkdir -p "$OUT"
target=$((NODES * FRAMES))

"$AETHER" serve --udp 127.0.0.1:0 --model "$ROOT/models/gesture.rvne" \
    --model "$ROOT/models/motion.rvne" --no-json --stats "$STATS" --idle 0 \
    --max-nodes "$NODES" >"$OUT/serve.out" 2>"$OUT/serve.err" &
SERVE=$!
port=
i=0
while [ -z "$port" ] && [ $i -lt 100 ]; do
    sleep 0.1
    port=$(grep -o '"udp":"127.0.0.1:[0-9]*' "$OUT/serve.out" 2>/dev/null | head -1 | sed 's/.*://')
    i=$((i + 1))
done
[ -n "$port" ] || { echo "serve_soak: serve did not start" >&2; kill "$SERVE"; exit 1; }
"$AETHER" replay "$RECORDING" --to "127.0.0.1:$port" --rate "$RATE" --nodes "$NODES" --loop \
    >"$OUT/replay.out" 2>&1 &
REPLAY=$!
trap 'kill "$REPLAY" "$SERVE" 2>/dev/null || true' EXIT INT TERM

rss() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
echo "serve_soak: $NODES nodes until $FRAMES frames each (replay --rate $RATE); RSS of serve in KiB"
printf '%12s %14s %10s %10s\n' seconds frames/node rss_kib growth
: >"$OUT/samples.txt"
seen=0
received=0
first_rss=
while [ "$received" -lt "$target" ]; do
    sleep 1
    kill -0 "$SERVE" 2>/dev/null || { echo "serve_soak: serve exited" >&2; cat "$OUT/serve.err" >&2; exit 1; }
    n=$(grep -c '"type":"stats"' "$OUT/serve.out" || true)
    [ "$n" -gt "$seen" ] || continue
    seen=$n
    line=$(grep '"type":"stats"' "$OUT/serve.out" | tail -1)
    received=$(printf '%s\n' "$line" | grep -o '"received":[0-9]*' | cut -d: -f2)
    secs=$(printf '%s\n' "$line" | grep -o '"seconds":[0-9.]*' | cut -d: -f2)
    r=$(rss "$SERVE")
    [ -n "$first_rss" ] || first_rss=$r
    echo "$secs $received $r" >>"$OUT/samples.txt"
    printf '%12s %14s %10s %+10d\n' "$secs" "$((received / NODES))" "$r" "$((r - first_rss))"
done
kill "$REPLAY" 2>/dev/null || true
wait "$REPLAY" 2>/dev/null || true
kill -INT "$SERVE"
wait "$SERVE" || true
trap - EXIT INT TERM
final=$(grep '"final":true' "$OUT/serve.out" | tail -1)
awk -v nodes="$NODES" '
    { s[NR] = $1; f[NR] = $2; r[NR] = $3 }
    END {
        m = int((NR + 1) / 2)
        printf "RSS start %d KiB (%.0f frames/node), middle %d KiB (%.0f), end %d KiB (%.0f)\n",
            r[1], f[1] / nodes, r[m], f[m] / nodes, r[NR], f[NR] / nodes
        lo = r[1]; hi = r[1]
        for (i = 1; i <= NR; ++i) { if (r[i] < lo) lo = r[i]; if (r[i] > hi) hi = r[i] }
        printf "RSS range %d..%d KiB over %d samples; growth start->end %+d KiB, %.3f KiB per million frames\n",
            lo, hi, NR, r[NR] - r[1], (f[NR] > f[1]) ? (r[NR] - r[1]) / ((f[NR] - f[1]) / 1e6) : 0
        printf "%.0f frames in %.0f s: %.0f frames/s\n", f[NR], s[NR], f[NR] / s[NR]
    }' "$OUT/samples.txt"
printf '%s\n' "$final" | grep -o '"received":[0-9]*,"used":[0-9]*,"ignored":[0-9]*,"malformed":[0-9]*,"dropped":[0-9]*' | sed 's/^/final: /'
echo "work directory: $OUT"
