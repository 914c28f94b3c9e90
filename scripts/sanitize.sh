#!/bin/sh
# Build with sanitizers and run tests.
#
# usage: scripts/sanitize.sh asan [CTEST_ARGS...]
#          clang, -fsanitize=address,undefined -fno-sanitize-recover=all, into
#          build-asan; runs the whole ctest suite (leak checking on).
#        scripts/sanitize.sh tsan
#          clang, -fsanitize=thread, into build-tsan; runs test_threads (own
#          contexts/sessions/caches on several threads + the threaded kernels).
# env: CC (default clang), BUILD_DIR, JOBS (build parallelism, default 2).
# Exit status: non-zero if the build fails or any test / sanitizer reports.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODE=${1:-asan}
[ $# -gt 0 ] && shift
CC=${CC:-clang}
JOBS=${JOBS:-2}
COMMON="-g -O1 -fno-omit-frame-pointer"

case "$MODE" in
asan)
    BUILD_DIR=${BUILD_DIR:-$ROOT/build-asan}
    FLAGS="$COMMON -fsanitize=address,undefined -fno-sanitize-recover=all"
    ;;
tsan)
    BUILD_DIR=${BUILD_DIR:-$ROOT/build-tsan}
    FLAGS="$COMMON -fsanitize=thread"
    ;;
*)
    echo "usage: $0 asan|tsan [ctest args]" >&2
    exit 2
    ;;
esac

# Warnings are the normal build's business; a sanitizer build must not stop
# on them.
CC=$CC cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DAETHER_WERROR=OFF -DCMAKE_C_FLAGS="$FLAGS" \
    -DCMAKE_EXE_LINKER_FLAGS="$FLAGS" >/dev/null

export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
if [ "$MODE" = asan ]; then
    cmake --build "$BUILD_DIR" -j"$JOBS"
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    cd "$BUILD_DIR"
    # The Python suite loads libaether.so into an uninstrumented interpreter,
    # which needs the sanitizer runtime preloaded; the native suite covers
    # the same library code here.
    ctest --output-on-failure -j"$JOBS" -E '^python$' "$@"
else
    cmake --build "$BUILD_DIR" -j"$JOBS" --target test_threads
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
    # clang 14's TSan cannot map its shadow with the kernel's default
    # high-entropy ASLR; run without randomisation when setarch allows it.
    if setarch "$(uname -m)" -R true 2>/dev/null; then
        setarch "$(uname -m)" -R "$BUILD_DIR/tests/test_threads"
    else
        "$BUILD_DIR/tests/test_threads"
    fi
fi
echo "sanitize $MODE: clean"
