#!/bin/sh
# Long soak: stream N frames (default 8,640,000 = 48 h at 50 Hz) through the
# firmware ABI in streaming mode (sliding and scored caches) with
# tests/test_soak.c, in an optimised build.
# usage: scripts/soak.sh [N]     env: BUILD_DIR (default build-soak), CC
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-8640000}
BUILD_DIR=${BUILD_DIR:-$ROOT/build-soak}
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DAETHER_WERROR=OFF >/dev/null
cmake --build "$BUILD_DIR" -j2 --target test_soak >/dev/null
/usr/bin/time -v "$BUILD_DIR/tests/test_soak" "$N" 2>"$BUILD_DIR/soak_time.txt" || {
    cat "$BUILD_DIR/soak_time.txt" >&2
    exit 1
}
grep -E "Elapsed|Maximum resident" "$BUILD_DIR/soak_time.txt" || true
