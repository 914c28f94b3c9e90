#!/bin/sh
# valgrind memcheck over a representative subset of the tests (and the fuzz
# corpus replay drivers when built): any error or leak fails.
# usage: scripts/valgrind.sh [TEST...]   env: BUILD_DIR (default build-valgrind)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-valgrind}
command -v valgrind >/dev/null || { echo "valgrind not installed" >&2; exit 2; }
CC=${CC:-gcc} cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j2 >/dev/null
if [ $# -gt 0 ]; then
    TESTS="$*"
else
    # Everything that allocates, parses untrusted bytes or owns long-lived
    # objects; the long numeric goldens are left to the ASan run.
    TESTS="test_core test_tensor test_npy test_blob test_packet
           test_kvcache test_model test_head test_gate test_features test_alloc_failure
           test_threads test_ruv_temporal test_tracks test_csi"
fi
VG="valgrind --tool=memcheck --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --quiet"
fail=0
ran=0
for t in $TESTS; do
    exe=$(find "$BUILD_DIR/tests" -maxdepth 2 -type f -name "$t" -perm -u+x | head -1)
    [ -n "$exe" ] || { echo "skip $t (not built)"; continue; }
    ran=$((ran + 1))
    rc=0
    $VG "$exe" >"$BUILD_DIR/vg_$t.txt" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "ok   $t ($(tail -1 "$BUILD_DIR/vg_$t.txt"))"
    elif [ "$rc" -eq 77 ] && ! grep -q "ERROR SUMMARY: [1-9]\|definitely lost: [1-9]" "$BUILD_DIR/vg_$t.txt"; then
        # 77: the program skipped the tests that need ../shared (tests/check.h)
        echo "ok   $t, parts skipped ($(tail -1 "$BUILD_DIR/vg_$t.txt"))"
    else
        echo "FAIL $t (see $BUILD_DIR/vg_$t.txt)"
        tail -30 "$BUILD_DIR/vg_$t.txt"
        fail=1
    fi
done
# The soak under memcheck, shortened.
exe="$BUILD_DIR/tests/test_soak"
if [ -x "$exe" ] && [ $# -eq 0 ]; then
    ran=$((ran + 1))
    if $VG "$exe" 20000 >"$BUILD_DIR/vg_test_soak.txt" 2>&1; then
        echo "ok   test_soak 20000"
    else
        echo "FAIL test_soak (see $BUILD_DIR/vg_test_soak.txt)"
        fail=1
    fi
fi
echo "valgrind: $ran programs, $([ $fail -eq 0 ] && echo 'zero reports' || echo FAILURES)"
exit $fail
