#!/bin/sh
# `make check`: the native build's test suite, then one line on what was
# skipped and why (tests that need the golden vectors or the recordings,
# which are checked out beside the repository as ../shared).
# usage: scripts/check.sh BUILD_DIR JOBS
set -u
BUILD=${1:-build}
JOBS=${2:-2}
log="$BUILD/ctest-check.log"
(cd "$BUILD" && ctest --output-on-failure -j "$JOBS") >"$log" 2>&1
rc=$?
cat "$log"
skipped=$(grep -c '(Skipped)' "$log")
if [ "$skipped" -gt 0 ]; then
    golden=$(sed -n 's/^AETHER_GOLDEN_DIR:PATH=//p' "$BUILD/CMakeCache.txt")
    data=$(sed -n 's/^AETHER_DATA_DIR:PATH=//p' "$BUILD/CMakeCache.txt")
    echo "make check: $skipped tests skipped: they need the golden vectors ($golden) or the"
    echo "  recordings ($data), checked out beside this repository as ../shared; configure"
    echo "  with -DAETHER_GOLDEN_DIR=... -DAETHER_DATA_DIR=... if they are elsewhere."
fi
exit $rc
