#!/bin/sh
# Install a build into a temporary prefix and use it the way a consumer
# would:
#   1. cmake --install BUILD --prefix TMP; every public header, the static and
#      shared libraries (SONAME), the CLI, the CMake package and the
#      pkg-config files are there;
#   2. every installed header compiles on its own as strict C11;
#   3. a CMake project finds the package (find_package(aether CONFIG),
#      CMAKE_PREFIX_PATH=TMP) and builds four programs against aether::aether,
#      aether::host and aether::shared; each runs and checks its results;
#      asking for an incompatible version fails;
#   4. the same programs built with `pkg-config --cflags --libs aether` and
#      `aether-host` (PKG_CONFIG_PATH=TMP/lib/pkgconfig) run;
#   5. with dpkg-deb available: `cpack -G DEB` makes a package holding the
#      same tree under /usr.
# Any failed step fails the test. Arguments (key=value, all required):
#   cmake= cpack= build= libdir= cc= cflags= ldflags= generator= version=
#   include= cli=0|1
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
for arg in "$@"; do
    case "$arg" in
    cmake=*) CMAKE=${arg#*=} ;;
    cpack=*) CPACK=${arg#*=} ;;
    build=*) BUILD=${arg#*=} ;;
    libdir=*) LIBDIR=${arg#*=} ;;
    cc=*) CC_=${arg#*=} ;;
    cflags=*) CFLAGS_=${arg#*=} ;;
    ldflags=*) LDFLAGS_=${arg#*=} ;;
    generator=*) GENERATOR=${arg#*=} ;;
    version=*) VERSION=${arg#*=} ;;
    include=*) SRC_INCLUDE=${arg#*=} ;;
    cli=*) CLI=${arg#*=} ;;
    *)
        echo "install test: unknown argument '$arg'" >&2
        exit 2
        ;;
    esac
done
for v in CMAKE CPACK BUILD LIBDIR CC_ CFLAGS_ LDFLAGS_ GENERATOR VERSION SRC_INCLUDE CLI; do
    eval "set_=\${$v+x}"
    if [ -z "$set_" ]; then
        echo "install test: missing argument for $v" >&2
        exit 2
    fi
done

# Nothing from the caller's environment steers the install, the compilers,
# the package searches or the dynamic loader.
unset DESTDIR CC CFLAGS CPPFLAGS LDFLAGS LIBRARY_PATH CPATH C_INCLUDE_PATH \
    LD_LIBRARY_PATH LD_PRELOAD PKG_CONFIG_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR \
    CMAKE_PREFIX_PATH CMAKE_TOOLCHAIN_FILE CMAKE_GENERATOR CMAKE_GENERATOR_PLATFORM \
    CMAKE_GENERATOR_TOOLSET CMAKE_BUILD_TYPE CMAKE_INSTALL_MODE 2>/dev/null || true

fail() {
    echo "install test: FAIL: $*" >&2
    exit 1
}
step() {
    echo "---- $*"
}
# run LOG CMD...: run a command, its output to LOG; on failure show LOG.
run() {
    log=$1
    shift
    "$@" >"$log" 2>&1 || {
        status=$?
        cat "$log"
        fail "$* (exit status $status)"
    }
}
# expect_pass NAME CMD...: the program must exit 0 and print a PASS line.
expect_pass() {
    name=$1
    shift
    if ! "$@" >"$WORK/$name.out" 2>&1; then
        cat "$WORK/$name.out"
        fail "$name exited with a failure"
    fi
    sed "s/^/$name: /" "$WORK/$name.out"
    grep -q '^PASS ' "$WORK/$name.out" || fail "$name printed no PASS line"
}
# loads_from EXE DIR [LD_LIBRARY_PATH]: the libaether.so EXE loads is DIR's.
loads_from() {
    if command -v ldd >/dev/null 2>&1; then
        lib=$(env ${3:+LD_LIBRARY_PATH="$3"} ldd "$1" | sed -n 's/^[[:space:]]*libaether\.so\.[0-9]* => \([^ ]*\) .*/\1/p')
        [ "$lib" = "$2/libaether.so.${VERSION%%.*}" ] ||
            fail "$(basename "$1") loads libaether from '${lib:-nowhere}', not $2"
    fi
}

# The scratch directory lives in the test's working directory (the build
# tree), which is writable and allows executables.
WORK=$(mktemp -d "$PWD/install-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' HUP INT TERM
PREFIX=$WORK/prefix
case "$LIBDIR" in
/*) LIB=$LIBDIR ;;
*) LIB=$PREFIX/$LIBDIR ;;
esac
SOMAJOR=${VERSION%%.*}

step "cmake --install into $PREFIX"
run "$WORK/install.log" "$CMAKE" --install "$BUILD" --prefix "$PREFIX"
n_headers=0
for h in $(cd "$SRC_INCLUDE" && find . -name '*.h' | sort); do
    [ -f "$PREFIX/include/$h" ] || fail "header $h not installed"
    n_headers=$((n_headers + 1))
done
[ "$n_headers" -gt 0 ] || fail "no headers under $SRC_INCLUDE"
for f in libaether.a libaether_host.a "libaether.so.$VERSION" cmake/aether/aetherConfig.cmake \
    cmake/aether/aetherConfigVersion.cmake cmake/aether/aetherTargets.cmake \
    pkgconfig/aether.pc pkgconfig/aether-host.pc; do
    [ -f "$LIB/$f" ] || fail "$LIB/$f not installed"
done
[ -L "$LIB/libaether.so" ] && [ -L "$LIB/libaether.so.$SOMAJOR" ] ||
    fail "libaether.so / libaether.so.$SOMAJOR links missing"
if command -v readelf >/dev/null 2>&1; then
    soname=$(readelf -d "$LIB/libaether.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = "libaether.so.$SOMAJOR" ] || fail "SONAME is '$soname', not libaether.so.$SOMAJOR"
fi
if [ "$CLI" = 1 ]; then
    [ -x "$PREFIX/bin/aether" ] || fail "bin/aether not installed"
    out=$("$PREFIX/bin/aether" version) || fail "installed aether version failed"
    [ "$out" = "aether $VERSION" ] || fail "installed CLI says '$out', not 'aether $VERSION'"
fi
echo "installed: $n_headers headers, libaether.a, libaether_host.a, libaether.so.$VERSION (SONAME libaether.so.$SOMAJOR), CMake package, 2 pkg-config files$([ "$CLI" = 1 ] && echo ', bin/aether')"

step "every installed header compiles alone as C11"
for h in $(cd "$PREFIX/include" && find . -name '*.h' | sed 's|^\./||' | sort); do
    printf '#include <%s>\n#include <%s>\nint header_check_unit;\n' "$h" "$h" >"$WORK/hdr.c"
    # shellcheck disable=SC2086
    if ! "$CC_" $CFLAGS_ -std=c11 -pedantic-errors -Wall -Wextra -Werror -I"$PREFIX/include" \
        -c "$WORK/hdr.c" -o "$WORK/hdr.o" >"$WORK/hdr.log" 2>&1; then
        cat "$WORK/hdr.log"
        fail "<$h> does not compile on its own"
    fi
done

step "find_package(aether CONFIG) with CMAKE_PREFIX_PATH=$PREFIX"
run "$WORK/cmake-configure.log" "$CMAKE" -S "$HERE/consumer" -B "$WORK/cmake-build" -G "$GENERATOR" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$CC_" -DCMAKE_C_FLAGS="$CFLAGS_" \
    -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS_" -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DAETHER_REQUEST_VERSION="$VERSION" \
    -DAETHER_EXPECT_PREFIX="$PREFIX" -DAETHER_EXPECT_VERSION="$VERSION"
grep 'aether .* from ' "$WORK/cmake-configure.log"
run "$WORK/cmake-build.log" "$CMAKE" --build "$WORK/cmake-build"
for t in core_static host_static core_shared host_shared; do
    case $t in
    core_*) expect_pass "$t" "$WORK/cmake-build/$t" ;;
    host_*) expect_pass "$t" "$WORK/cmake-build/$t" "$WORK/$t.csi.jsonl" ;;
    esac
done
loads_from "$WORK/cmake-build/core_shared" "$LIB"
if "$CMAKE" -S "$HERE/consumer" -B "$WORK/cmake-reject" -G "$GENERATOR" \
    -DCMAKE_C_COMPILER="$CC_" -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DAETHER_REQUEST_VERSION=$((SOMAJOR + 1)).0 \
    >"$WORK/reject.log" 2>&1; then
    fail "find_package(aether $((SOMAJOR + 1)).0) accepted aether $VERSION"
fi
grep -q "aetherConfig.cmake, version: $VERSION" "$WORK/reject.log" ||
    { cat "$WORK/reject.log"; fail "version $((SOMAJOR + 1)).0 was refused for another reason"; }
echo "find_package(aether $((SOMAJOR + 1)).0) refused, as it must be"

step "pkg-config aether / aether-host with PKG_CONFIG_PATH=$LIB/pkgconfig"
PKG_CONFIG=$(command -v pkg-config || command -v pkgconf || true)
[ -n "$PKG_CONFIG" ] || fail "pkg-config is not installed (Debian: sh scripts/install-deps.sh --test)"
PKG_CONFIG_PATH=$LIB/pkgconfig
export PKG_CONFIG_PATH
for pc in aether aether-host; do
    v=$("$PKG_CONFIG" --modversion "$pc") || fail "pkg-config does not find $pc"
    [ "$v" = "$VERSION" ] || fail "pkg-config $pc version '$v', expected $VERSION"
    p=$("$PKG_CONFIG" --variable=prefix "$pc")
    [ "$p" = "$PREFIX" ] || fail "$pc.pc prefix is '$p', not $PREFIX"
done
for pair in core:aether host:aether-host; do
    src=${pair%%:*}
    pc=${pair#*:}
    flags=$("$PKG_CONFIG" --cflags --libs "$pc") || fail "pkg-config --cflags --libs $pc"
    echo "$pc: $flags"
    # shellcheck disable=SC2086
    run "$WORK/pc-$src.log" "$CC_" $CFLAGS_ -std=c11 -Wall -Wextra -Werror \
        "$HERE/consumer/${src}_consumer.c" -o "$WORK/pc_$src" $flags $LDFLAGS_
    expect_pass "pc_$src" env LD_LIBRARY_PATH="$LIB" "$WORK/pc_$src" "$WORK/pc_$src.csi.jsonl"
    loads_from "$WORK/pc_$src" "$LIB" "$LIB"
done

if command -v dpkg-deb >/dev/null 2>&1; then
    step "cpack -G DEB"
    run "$WORK/cpack.log" "$CPACK" -G DEB --config "$BUILD/CPackConfig.cmake" -B "$WORK/deb"
    deb=$(ls "$WORK"/deb/*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] || { cat "$WORK/cpack.log"; fail "cpack made no .deb"; }
    dpkg-deb -c "$deb" | awk '{print $6}' >"$WORK/deb.list"
    case "$LIBDIR" in
    /*) deblib=.$LIBDIR ;;
    *) deblib=./usr/$LIBDIR ;;
    esac
    for f in "$deblib/libaether.so.$VERSION" "$deblib/libaether.a" "$deblib/libaether_host.a" \
        "$deblib/cmake/aether/aetherConfig.cmake" "$deblib/pkgconfig/aether.pc" \
        ./usr/include/aether/core.h ./usr/include/ruv_temporal.h; do
        grep -qx "$f" "$WORK/deb.list" || fail "$(basename "$deb") lacks $f"
    done
    if [ "$CLI" = 1 ]; then
        grep -qx ./usr/bin/aether "$WORK/deb.list" || fail "$(basename "$deb") lacks ./usr/bin/aether"
    fi
    dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "$deblib/pkgconfig/aether.pc" | grep -qx 'prefix=/usr' ||
        fail "the packaged aether.pc does not say prefix=/usr"
    if command -v file >/dev/null 2>&1 && command -v readelf >/dev/null 2>&1; then
        dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./shlibs | grep -q "^libaether $SOMAJOR aether" ||
            fail "$(basename "$deb") has no shlibs line for libaether $SOMAJOR"
        dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./postinst | grep -q ldconfig ||
            fail "$(basename "$deb") does not run ldconfig after install"
    fi
    echo "$(basename "$deb"): $(wc -l <"$WORK/deb.list") entries, Package $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version), Depends: $(dpkg-deb -f "$deb" Depends)"
else
    echo "---- cpack -G DEB: skipped (no dpkg-deb on this system)"
fi

echo "install test: PASS"
