#!/bin/sh
# Load of `aether serve` behind NATS on this machine: nats-server with the
# shipped mapping (deploy/nats/nats-server.conf, on PORT), one gateway
# (serve --forward), WORKERS workers splitting the 16 partitions, fed by one
# `aether replay --nodes NODES --rate RATE --loop --count COUNT`. Reports
# what was sent, received and published at each step, the CPU time of each
# process (Linux /proc) with its cost per frame, and frames/s end to end.
# Not part of `make test`: timings are reported, never asserted.
#
# usage: scripts/nats_load.sh [WORKERS] [NODES] [COUNT] [RATE]
#   WORKERS  1..16 (default 2)      NODES  1..255 (default 100)
#   COUNT    datagrams (200000)     RATE   replay --rate (max)
#   env: BUILD (build), MODEL (models/motion.rvne), PORT (24222), UDP (25005),
#        OUT (work directory, default a fresh mktemp -d)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORKERS=${1:-2}
NODES=${2:-100}
COUNT=${3:-200000}
RATE=${4:-max}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
AETHER=$BUILD/aether
MODEL=${MODEL:-$ROOT/models/motion.rvne}
PORT=${PORT:-24222}
UDP=${UDP:-25005}
OUT=${OUT:-$(mktemp -d)}
RECORDING=$ROOT/data/esp32-raw-2node-excerpt.csi.jsonl
[ -x "$AETHER" ] || { echo "nats_load: no $AETHER (make build first)" >&2; exit 2; }
command -v nats-server >/dev/null || { echo "nats_load: no nats-server" >&2; exit 2; }
[ "$WORKERS" -ge 1 ] && [ "$WORKERS" -le 16 ] || { echo "nats_load: WORKERS is 1..16" >&2; exit 2; }
mkdir -p "$OUT/js"
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }
# the final "nats" object's counter $2 in file $1
nats_count() { grep -o '"nats":{[^}]*' "$1" | tail -1 | grep -o "\"$2\":[0-9]*" | cut -d: -f2; }

sed -e "s/127.0.0.1:4222/127.0.0.1:$PORT/" -e "s#/var/lib/nats/aether#$OUT/js#" \
    "$ROOT/deploy/nats/nats-server.conf" >"$OUT/nats.conf"
nats-server -c "$OUT/nats.conf" >"$OUT/server.log" 2>&1 &
SERVER=$!
PIDS="$SERVER"
sleep 0.5
URL=nats://127.0.0.1:$PORT
W=0
WPIDS=""
while [ $W -lt "$WORKERS" ]; do
    lo=$((W * 16 / WORKERS))
    hi=$(((W + 1) * 16 / WORKERS - 1))
    "$AETHER" serve --nats "$URL" --partitions "$lo-$hi" --model "$MODEL" --no-json \
        --max-nodes 1024 >"$OUT/worker$W.txt" 2>"$OUT/worker$W.err" &
    WPIDS="$WPIDS $!"
    W=$((W + 1))
done
"$AETHER" serve --udp "127.0.0.1:$UDP" --nats "$URL" --forward >"$OUT/gateway.txt" \
    2>"$OUT/gateway.err" &
GATEWAY=$!
PIDS="$PIDS $WPIDS $GATEWAY"
sleep 1
T0=$(date +%s.%N)
"$AETHER" replay "$RECORDING" --to "127.0.0.1:$UDP" --rate "$RATE" --nodes "$NODES" --loop \
    --count "$COUNT" >"$OUT/replay.txt"
T1=$(date +%s.%N)
sleep 1
CPU_G=$(cpu $GATEWAY)
CPU_S=$(cpu $SERVER)
CPU_W=""
for p in $WPIDS; do CPU_W="$CPU_W $(cpu "$p")"; done
kill $GATEWAY
wait $GATEWAY 2>/dev/null || true
sleep 0.5
for p in $WPIDS; do kill "$p"; done
for p in $WPIDS; do wait "$p" 2>/dev/null || true; done
SENT=$(cut -d' ' -f2 "$OUT/replay.txt")
GREC=$(nats_count "$OUT/gateway.txt" received)
GPUB=$(nats_count "$OUT/gateway.txt" published)
echo "sent $SENT datagrams in $(echo "$T1 - $T0" | bc) s; gateway received $GREC, published $GPUB," \
    "cpu $CPU_G s ($(echo "scale=1; $CPU_G * 1000000 / $GREC" | bc) us a frame)"
echo "nats-server cpu $CPU_S s ($(echo "scale=1; $CPU_S * 1000000 / $GPUB" | bc) us a frame)"
W=0
TOTAL=0
for c in $CPU_W; do
    r=$(nats_count "$OUT/worker$W.txt" received)
    d=$(nats_count "$OUT/worker$W.txt" dropped)
    TOTAL=$((TOTAL + r))
    echo "worker $W: received $r, dropped $d (its queue full), cpu $c s ($(echo "scale=1; $c * 1000000 / ($r + 1)" | bc) us a frame)"
    W=$((W + 1))
done
echo "workers received $TOTAL of $GPUB published; end to end $(echo "$TOTAL / ($T1 - $T0)" | bc) frames/s"
echo "work directory: $OUT"
