#!/bin/sh
# Run the Python binding's test suite against a libaether build.
#
#   sh python/run_tests.sh [BUILD_DIR | path/to/libaether.so] [pytest args...]
#
# BUILD_DIR defaults to ../build. The goldens and recordings are taken from
# AETHER_GOLDEN_DIR / AETHER_DATA_DIR (default ../../shared/{golden,data}).
# Missing NumPy/pytest (or no shared library) fails the run, unless
# AETHER_PYTHON_OPTIONAL=1, which turns that into a message and exit 0.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${AETHER_PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=$(command -v python3 || echo python3)

skip_or_fail() {
    echo "python tests: $1" >&2
    if [ "${AETHER_PYTHON_OPTIONAL:-0}" = "1" ]; then
        echo "python tests: skipped (AETHER_PYTHON_OPTIONAL=1)" >&2
        exit 0
    fi
    exit 1
}

TARGET=${1:-$HERE/../build}
[ $# -gt 0 ] && shift
if [ -d "$TARGET" ]; then
    LIB="$TARGET/libaether.so"
    [ -f "$LIB" ] || LIB="$TARGET/libaether.dylib"
else
    LIB="$TARGET"
fi
[ -f "$LIB" ] || skip_or_fail "no shared library at $TARGET (build target aether_shared)"
LIB=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")  # the tests run from $HERE

"$PY" -c 'import numpy' >/dev/null 2>&1 ||
    skip_or_fail "NumPy is not installed for $PY (Debian: apt-get install python3-numpy)"
"$PY" -c 'import pytest' >/dev/null 2>&1 ||
    skip_or_fail "pytest is not installed for $PY (Debian: apt-get install python3-pytest)"

AETHER_LIB=$LIB
PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
# Goldens are bit-exact only on the scalar reference kernels (conftest.py also
# selects them through the dispatch API).
AETHER_KERNELS=reference
PYTHONDONTWRITEBYTECODE=1
export AETHER_LIB PYTHONPATH AETHER_KERNELS PYTHONDONTWRITEBYTECODE

cd "$HERE" || exit 1
exec "$PY" -m pytest -q -p no:cacheprovider tests "$@"
