#!/bin/sh
# The shared library exports exactly the public API: every defined dynamic
# symbol of libaether.so is a function a public header (include/) declares,
# and every function a public header declares is exported (a declaration
# without AETHER_API would be missing). Prints the count of public functions.
# With README, also checks that it states the count ("N public functions").
# usage: check_exports.sh LIBAETHER_SO INCLUDE_DIR [README]
set -u
lib=$1
inc=$2
readme=${3:-}
tmp=${TMPDIR:-/tmp}/aether_exports.$$
trap 'rm -f "$tmp".*' EXIT INT TERM
if ! command -v nm >/dev/null 2>&1; then
    echo "check_exports: nm not found (Debian: binutils)"
    exit 1
fi
nm -D --defined-only "$lib" | awk 'NF == 3 && $2 ~ /^[TDBRVWiu]$/ {print $3}' | sort -u >"$tmp.exported"
# Function declarations: an aether_/ruv_temporal_ name followed by "(" on a
# line that declares with AETHER_API (or continues such a declaration).
cat "$inc"/aether/*.h "$inc"/*.h |
    awk '/^AETHER_API /{on = 1} on {print} on && /;/{on = 0}' |
    grep -oE '\b(aether|ruv_temporal)_[A-Za-z0-9_]+[[:space:]]*\(' |
    sed 's/[[:space:]]*($//' | sort -u >"$tmp.declared"
# Every file-scope prototype in the headers, with or without the macro.
cat "$inc"/aether/*.h "$inc"/*.h |
    grep -E '^[A-Za-z_][A-Za-z0-9_ *]*\b(aether|ruv_temporal)_[A-Za-z0-9_]+\(' |
    grep -vE '^(typedef|static|#)' |
    grep -oE '\b(aether|ruv_temporal)_[A-Za-z0-9_]+\(' | sed 's/($//' | sort -u >"$tmp.prototypes"
extra=$(comm -23 "$tmp.exported" "$tmp.declared")
missing=$(comm -23 "$tmp.declared" "$tmp.exported")
unmarked=$(comm -23 "$tmp.prototypes" "$tmp.declared")
n=$(wc -l <"$tmp.declared")
status=0
if [ -n "$extra" ]; then
    echo "check_exports: exported but not declared in a public header:"
    echo "$extra" | sed 's/^/  /'
    status=1
fi
if [ -n "$missing" ]; then
    echo "check_exports: declared in a public header but not exported:"
    echo "$missing" | sed 's/^/  /'
    status=1
fi
if [ -n "$unmarked" ]; then
    echo "check_exports: public prototypes without AETHER_API:"
    echo "$unmarked" | sed 's/^/  /'
    status=1
fi
if [ -n "$readme" ] && ! grep -q "$n public functions" "$readme"; then
    echo "check_exports: $readme does not state the count: \"$n public functions\""
    status=1
fi
echo "check_exports: $n public functions, $(wc -l <"$tmp.exported") exported symbols"
exit $status
