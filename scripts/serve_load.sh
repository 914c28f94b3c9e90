#!/bin/sh
# End-to-end load test of `aether serve` over loopback UDP: one serve process
# with both shipped models (--no-json --stats 1) fed by `aether replay`
# processes of up to 250 synthetic nodes each (every node its own source
# port, so NODES nodes in all). Reports what was sent and received (drops:
# datagrams the kernel dropped before serve read them, plus serve's own
# "dropped"), serve's CPU time and frames/s per core, the decisions made and
# the final stats line. Not part of `make test`: timings are reported, never
# asserted.
#
# usage: scripts/serve_load.sh [NODES] [SECONDS] [RATE]
#   NODES    synthetic nodes (default 1000)
#   SECONDS  how long the senders send (default 10)
#   RATE     replay --rate: a factor of the recording's pace (default 2.23:
#            the shipped excerpt then gives about 100 frames/s per node) or max
#   env: BUILD (default build), RECORDING (default
#        data/esp32-raw-2node-excerpt.csi.jsonl), OUT (work directory, default
#        a fresh mktemp -d), SERVE_NICE (run serve under `nice -n N`, e.g. -5
#        as root, so that on a busy machine it gets its core before the senders),
#        LATENCY=1 (decision lines go to a python3 reader instead of --no-json:
#        it reports decision latency p50/p99/max as the time it reads a line
#        minus the line's timestamp, the Unix time serve read the frame's
#        batch; time in the socket buffer before that is not included)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODES=${1:-1000}
SECONDS_SEND=${2:-10}
RATE=${3:-2.23}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
AETHER=$BUILD/aether
RECORDING=${RECORDING:-$ROOT/data/esp32-raw-2node-excerpt.csi.jsonl}
OUT=${OUT:-$(mktemp -d)}
PER=250 # nodes per replay process (replay --nodes is 1..255)
# Frames per node per second of the recording at --rate 1 (the excerpt: 44.8).
PACE=${PACE:-44.8}

[ -x "$AETHER" ] || { echo "serve_load: no $AETHER (make build first)" >&2; exit 2; }
mkdir -p "$OUT"

if [ "${LATENCY:-0}" = 1 ]; then
    mkfifo "$OUT/decisions"
    python3 -c '
import json, sys, time
lat, out = [], open(sys.argv[2], "w")
for line in open(sys.argv[1]):
    t = time.time()
    if "\"decision\"" in line:
        lat.append(t - json.loads(line)["timestamp"])
    else:
        out.write(line)
        out.flush()
lat.sort()
n = len(lat)
p = lambda q: lat[min(n - 1, max(0, int(q * n + 0.999999) - 1))] * 1e3 if n else 0
print("  decision latency (line read - frame batch read by serve): %d decisions, "
      "p50 %.2f ms, p99 %.2f ms, max %.2f ms" % (n, p(0.5), p(0.99), p(1.0)))
' "$OUT/decisions" "$OUT/serve.out" >"$OUT/latency.txt" &
    READER=$!
    nice -n "${SERVE_NICE:-0}" "$AETHER" serve --udp 127.0.0.1:0 \
        --model "$ROOT/models/gesture.rvne" --model "$ROOT/models/motion.rvne" --stats 1 \
        --idle 0 --max-nodes "$NODES" >"$OUT/decisions" 2>"$OUT/serve.err" &
else
    nice -n "${SERVE_NICE:-0}" "$AETHER" serve --udp 127.0.0.1:0 \
        --model "$ROOT/models/gesture.rvne" --model "$ROOT/models/motion.rvne" --no-json \
        --stats 1 --idle 0 --max-nodes "$NODES" >"$OUT/serve.out" 2>"$OUT/serve.err" &
fi
SERVE=$!
port=
i=0
while [ -z "$port" ] && [ $i -lt 100 ]; do
    sleep 0.1
    port=$(grep -o '"udp":"127.0.0.1:[0-9]*' "$OUT/serve.out" 2>/dev/null | head -1 | sed 's/.*://')
    i=$((i + 1))
done
[ -n "$port" ] || { echo "serve_load: serve did not start" >&2; cat "$OUT/serve.err" >&2; kill "$SERVE"; exit 1; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
t0=$(ticks "$SERVE")

# Senders: datagrams per process = nodes x frames/s per node x seconds.
left=$NODES
k=0
pids=
while [ "$left" -gt 0 ]; do
    n=$PER
    [ "$left" -lt "$n" ] && n=$left
    if [ "$RATE" = max ]; then
        count=$(awk -v n="$n" -v s="$SECONDS_SEND" 'BEGIN{printf "%d", n * 100 * s}')
    else
        count=$(awk -v n="$n" -v s="$SECONDS_SEND" -v r="$RATE" -v p="$PACE" \
            'BEGIN{printf "%d", n * r * p * s}')
    fi
    "$AETHER" replay "$RECORDING" --to "127.0.0.1:$port" --rate "$RATE" --nodes "$n" \
        --loop --count "$count" >"$OUT/replay$k.out" 2>&1 &
    pids="$pids $!"
    left=$((left - n))
    k=$((k + 1))
done
start=$(date +%s.%N)
for p in $pids; do wait "$p" || echo "serve_load: a replay failed" >&2; done
end=$(date +%s.%N)
sleep 1 # serve drains its socket buffers
t1=$(ticks "$SERVE")
kill -INT "$SERVE"
wait "$SERVE" || true
[ -z "${READER:-}" ] || wait "$READER" || true

sent=$(awk '/^replay:/{s += $2} END{print s + 0}' "$OUT"/replay*.out)
final=$(grep '"final":true' "$OUT/serve.out" | tail -1)
num() { printf '%s\n' "$final" | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
received=$(num received)
used=$(num used)
dropped=$(num dropped)
malformed=$(num malformed)
g=$(printf '%s\n' "$final" | grep -o '"gesture":[0-9]*' | cut -d: -f2)
m=$(printf '%s\n' "$final" | grep -o '"motion":[0-9]*' | cut -d: -f2)
cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b - a) / hz}')
wall=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b - a}')
echo "serve_load: $NODES nodes, rate $RATE, $k replay processes, ${wall} s of sending" \
    "(load average before: $LOAD0)"
echo "  sent $sent datagrams ($(awk -v s="$sent" -v w="$wall" 'BEGIN{printf "%.0f", s / w}')/s offered)"
echo "  serve received $received, used $used, dropped $dropped, malformed $malformed;" \
    "lost before serve read them: $((sent - received))" \
    "($(awk -v s="$sent" -v r="$received" 'BEGIN{printf "%.2f", s ? 100 * (s - r) / s : 0}')%)"
echo "  serve CPU ${cpu} s: $(awk -v r="$received" -v c="$cpu" 'BEGIN{printf "%.0f", (c > 0 ? r / c : 0)}') frames/s per core of serve's CPU;" \
    "$(awk -v r="$received" -v w="$wall" 'BEGIN{printf "%.0f", r / w}') frames/s received"
echo "  decisions: gesture $g, motion $m"
[ ! -s "$OUT/latency.txt" ] || cat "$OUT/latency.txt"
grep -h "rcvbuf\|receive buffer" "$OUT/serve.err" 2>/dev/null | head -2 | sed 's/^/  serve: /'
echo "  work directory: $OUT"
