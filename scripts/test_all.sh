#!/bin/sh
# Everything the project promises, in one run (the README's test command):
#   1. native gcc Release build: unit tests, golden conformance, CLI, Python
#   2. clang build with -Werror (warnings are errors under both compilers)
#   3. the whole unit suite under ASan+UBSan (clang)
#   4. the multi-threaded ownership test under TSan
#   5. valgrind memcheck on a representative subset
#   6. every fuzz target for a bounded time plus a replay of the corpus
#   7. the unit suite cross-built for armhf (32-bit), s390x (big-endian) and
#      aarch64 (the NEON kernels) and run under qemu-user, with a
#      cross-architecture output digest
#   8. bare metal: the portable library and a firmware-like program built
#      with picolibc for RV32IMC, RV32IMAFC and Cortex-M4F and run under
#      qemu-system (plus a compile-and-size check for Xtensa LX106):
#      scripts/baremetal.sh
# Stages whose tools are missing fail (CI installs them; see .ci/run), unless
# AETHER_QUICK=1, which runs stage 1 only.
# env: JOBS (default 2; also the fuzz targets run two at a time), FUZZ_SECONDS
# (default 60 per target).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
BUILD=${BUILD:-build}
passed=0
failed=0
failures=""

stage() {
    name=$1
    shift
    start=$(date +%s)
    echo "==== stage: $name"
    if "$@"; then
        passed=$((passed + 1))
        echo "==== stage $name: PASS ($(($(date +%s) - start)) s)"
    else
        failed=$((failed + 1))
        failures="$failures $name"
        echo "==== stage $name: FAIL ($(($(date +%s) - start)) s)"
    fi
}

native() {
    # MQTT and NATS required here, so that serve's broker tests cannot drop out unseen
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DAETHER_MQTT=ON -DAETHER_NATS=ON >/dev/null &&
        cmake --build "$BUILD" -j "$JOBS" &&
        (cd "$BUILD" && ctest --output-on-failure -j "$JOBS")
}

clang_werror() {
    CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release -DAETHER_WERROR=ON >/dev/null &&
        cmake --build build-clang -j "$JOBS" >/dev/null &&
        (cd build-clang && ctest -j "$JOBS" -R 'test_(core|attention|pattern|kvcache_golden|model|blob)$')
}

stage native native
if [ "${AETHER_QUICK:-0}" != "1" ]; then
    stage clang-werror clang_werror
    stage asan-ubsan env JOBS="$JOBS" sh scripts/sanitize.sh asan
    stage tsan env JOBS="$JOBS" sh scripts/sanitize.sh tsan
    stage valgrind sh scripts/valgrind.sh
    stage fuzz env JOBS="$JOBS" sh scripts/fuzz.sh "$FUZZ_SECONDS"
    stage cross-armhf sh scripts/cross_test.sh armhf
    stage cross-s390x sh scripts/cross_test.sh s390x
    stage cross-aarch64 sh scripts/cross_test.sh aarch64
    stage baremetal env JOBS="$JOBS" BUILD="$BUILD" sh scripts/baremetal.sh
fi

echo "stages: $passed passed, $failed failed${failures:+ (failed:$failures)}"
[ "$failed" -eq 0 ]
