#!/bin/sh
# Soak of a NATS worker of `aether serve` stopped while busy: nats-server
# with the shipped mapping (deploy/nats/nats-server.conf) on a free loopback
# port, one gateway (serve --forward), and ROUNDS times: a worker of all 16
# partitions is started, `aether replay --nodes NODES --rate max` is sent
# through the gateway, and the worker gets SIGTERM as soon as the replay
# ends (its queue still full). Each stop must exit 0 within 20 s with a
# final stats line; anything else (a signal, another status, a hang) is a
# failure, reported with the tail of the worker's standard error.
# Not part of `make check` or `make test`.
#
# usage: scripts/nats_stop_soak.sh [ROUNDS] [NODES]
#   ROUNDS 1..10000 (default 100)      NODES 1..255 (default 12)
#   env: BUILD (build), AETHER (BUILD/aether), MODEL (models/motion.rvne),
#        OUT (work directory, default a fresh mktemp -d; removed when all
#        rounds pass unless KEEP=1), WORKER_ENV (prefix for the worker, e.g.
#        "env MALLOC_CHECK_=3")
# exit: 0 every stop clean, 1 some failed, 2 setup.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-100}
NODES=${2:-12}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
AETHER=${AETHER:-$BUILD/aether}
MODEL=${MODEL:-$ROOT/models/motion.rvne}
RECORDING=$ROOT/data/esp32-raw-2node-excerpt.csi.jsonl
WORKER_ENV=${WORKER_ENV:-}
KEEP=${KEEP:-0}
OUT_GIVEN=${OUT:+1}
OUT=${OUT:-$(mktemp -d)}
[ -x "$AETHER" ] || { echo "nats_stop_soak: no $AETHER (make build first)" >&2; exit 2; }
command -v nats-server >/dev/null || { echo "nats_stop_soak: no nats-server" >&2; exit 2; }
case $ROUNDS in '' | *[!0-9]*) echo "nats_stop_soak: ROUNDS is 1..10000" >&2; exit 2 ;; esac
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 10000 ] || { echo "nats_stop_soak: ROUNDS is 1..10000" >&2; exit 2; }
mkdir -p "$OUT/js"
SERVER=""
GATEWAY=""
WORKER=""
cleanup() {
    for p in $WORKER $GATEWAY $SERVER; do kill "$p" 2>/dev/null || true; done
    for p in $WORKER $GATEWAY $SERVER; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# a free loopback TCP port: the kernel's choice for a socket bound to port 0
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait (at most $3 tenths of a second) for the text $2 in the file $1
wait_text() {
    n=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        n=$((n + 1))
        [ $n -le "$3" ] || return 1
        sleep 0.1
    done
}
# wait for pid $1 (at most 20 s); its exit status, or 124 when it hangs
# (then it is killed)
wait_bounded() {
    n=0
    while kill -0 "$1" 2>/dev/null; do
        # a zombie is done: wait collects it below
        [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] && break
        n=$((n + 1))
        if [ $n -gt 200 ]; then
            kill -KILL "$1" 2>/dev/null || true
            wait "$1" 2>/dev/null || true
            return 124
        fi
        sleep 0.1
    done
    st=0
    wait "$1" || st=$?
    return $st
}

PORT=$(free_port)
sed -e "s/127.0.0.1:4222/127.0.0.1:$PORT/" -e "s#/var/lib/nats/aether#$OUT/js#" \
    "$ROOT/deploy/nats/nats-server.conf" >"$OUT/nats.conf"
nats-server -c "$OUT/nats.conf" >"$OUT/server.log" 2>&1 &
SERVER=$!
wait_text "$OUT/server.log" "Server is ready" 100 ||
    { echo "nats_stop_soak: nats-server did not start" >&2; exit 2; }
URL=nats://127.0.0.1:$PORT
"$AETHER" serve --udp 127.0.0.1:0 --nats "$URL" --forward >"$OUT/gateway.txt" \
    2>"$OUT/gateway.err" &
GATEWAY=$!
wait_text "$OUT/gateway.txt" '"type":"listening"' 100 ||
    { echo "nats_stop_soak: the gateway did not start" >&2; exit 2; }
UDP=$(grep -o '"udp":"127.0.0.1:[0-9]*"' "$OUT/gateway.txt" | head -1 | cut -d: -f3 | tr -d '"')

ok=0
failed=0
queued=0
idle=0
t0=$(date +%s)
r=1
while [ $r -le "$ROUNDS" ]; do
    # shellcheck disable=SC2086 # WORKER_ENV is a command prefix
    $WORKER_ENV "$AETHER" serve --nats "$URL" --partitions 0-15 --model "$MODEL" \
        >"$OUT/worker.txt" 2>"$OUT/worker.err" &
    WORKER=$!
    if ! wait_text "$OUT/worker.txt" '"type":"nats","mode":"worker"' 100; then
        echo "round $r: the worker did not start" >&2
        failed=$((failed + 1))
        kill -KILL "$WORKER" 2>/dev/null || true
        wait "$WORKER" 2>/dev/null || true
        WORKER=""
        r=$((r + 1))
        continue
    fi
    "$AETHER" replay "$RECORDING" --to "127.0.0.1:$UDP" --rate max --nodes "$NODES" \
        >"$OUT/replay.txt" 2>&1 || true
    kill -TERM "$WORKER"
    st=0
    wait_bounded "$WORKER" || st=$?
    WORKER=""
    if [ $st -eq 0 ] && grep -q '"final":true' "$OUT/worker.txt"; then
        ok=$((ok + 1))
        q=$(grep '"final":true' "$OUT/worker.txt" | grep -o '"queued":[0-9]*' | cut -d: -f2)
        queued=$((queued + ${q:-0}))
        [ "${q:-0}" -gt 0 ] || idle=$((idle + 1))
    else
        failed=$((failed + 1))
        what="exit $st"
        [ $st -gt 128 ] && [ $st -ne 124 ] && what="$what (signal $((st - 128)))"
        [ $st -eq 124 ] && what="hung (killed after 20 s)"
        echo "round $r: $what: $(tail -c 400 "$OUT/worker.err" | tr '\n' ' ')" >&2
        cp "$OUT/worker.err" "$OUT/worker_fail$r.err"
    fi
    r=$((r + 1))
done
t1=$(date +%s)
echo "nats_stop_soak: $ROUNDS stops, $ok clean, $failed failed ($queued frames still queued at the stops in all; $idle clean stops with none queued), $((t1 - t0)) s"
if [ $failed -eq 0 ] && [ "$KEEP" != 1 ] && [ -z "$OUT_GIVEN" ]; then
    cleanup
    SERVER=""
    GATEWAY=""
    rm -rf "$OUT"
else
    echo "nats_stop_soak: work directory $OUT"
fi
[ $failed -eq 0 ]
