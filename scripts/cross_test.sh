#!/bin/sh
# Cross-build the portable library and the unit suite for ARCH and run the
# suite under qemu-user through ctest (the toolchain file sets
# CMAKE_CROSSCOMPILING_EMULATOR, so ctest prefixes every test with qemu).
#
#   scripts/cross_test.sh ARCH [ctest args...]
#
# ARCH: armhf (32-bit ARM), s390x (64-bit big-endian), aarch64.
# Needs: gcc-<triplet> cross compiler, qemu-user, cmake.
# Build directory: build-cross-ARCH (override with AETHER_CROSS_BUILD_DIR).
# Host-only readers and the CLI are not built (they need cJSON and zlib for
# the target); the golden files are read from the host file system.
# test_portable_digest's digest lines must come out as recorded on x86_64;
# its `quant` line pins the integer path (docs/MODEL.md section 10: quantized
# blobs, window and streaming Q16 logits), which must be the same bits on
# every target, 32-bit and big-endian included.
set -eu

if [ $# -lt 1 ]; then
    echo "usage: $0 armhf|s390x|aarch64 [ctest args...]" >&2
    exit 2
fi
arch=$1
shift
case "$arch" in
armhf | s390x | aarch64) ;;
*)
    echo "unknown ARCH '$arch' (armhf, s390x or aarch64)" >&2
    exit 2
    ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
toolchain="$root/cmake/toolchain-$arch.cmake"
build=${AETHER_CROSS_BUILD_DIR:-"$root/build-cross-$arch"}
jobs=${AETHER_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}

if [ ! -f "$toolchain" ]; then
    echo "missing $toolchain" >&2
    exit 2
fi

# Long-running tests (1M-frame streams, soak) shorten themselves under
# emulation: qemu runs them 10-30x slower than native.
export AETHER_EMULATED=1

cmake -S "$root" -B "$build" \
    -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
    -DCMAKE_BUILD_TYPE=Release \
    -DAETHER_BUILD_HOST=OFF \
    -DAETHER_BUILD_TOOLS=OFF \
    -DAETHER_BUILD_TESTS=ON
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -j "$jobs" "$@"
