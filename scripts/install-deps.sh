#!/bin/sh
# Install the Debian packages the project needs, and nothing when they are
# all there already (then it runs no apt-get at all: fast and offline-safe).
#
#   sh scripts/install-deps.sh           what `make demo` needs: the build
#   sh scripts/install-deps.sh --test    also everything `make test` needs
#   sh scripts/install-deps.sh --list [--test]   print the package names
#
# As root it runs apt-get itself; otherwise through `sudo -n` when sudo works
# without a password; otherwise it prints the command to run and exits 1.
# `apt-get update` runs first only when a missing package has no candidate
# in the current package lists (fresh machine, emptied lists), and once more
# if the install fails on stale lists.
# Exit status: 0 all present (or installed), 1 could not install, 2 usage.
set -eu

# The build: compiler and make, CMake, cJSON and zlib for the host readers,
# libmosquitto for `aether serve --mqtt`, libnats for `aether serve --nats`.
BUILD_PACKAGES="build-essential cmake libcjson-dev zlib1g-dev libmosquitto-dev libnats-dev"
# Every stage of scripts/test_all.sh: clang (+ its sanitizer runtimes),
# valgrind, Python with NumPy and pytest, gnuplot for the bench plot, the
# cross toolchains and qemu-user, pkg-config and file for the install test
# (file: CPack's shlibs and ldconfig hooks in the .deb), the Python
# packaging tools, the MQTT broker and its password tool, openssl (the
# TLS tests make their certificates) and the NATS
# server for serve's tests, and for the bare-metal stage the RISC-V, Arm
# and Xtensa bare-metal compilers with picolibc (and newlib for Arm) and
# qemu-system.
TEST_PACKAGES="mosquitto nats-server openssl clang libclang-rt-14-dev valgrind python3 python3-numpy python3-pytest
  python3-venv python3-wheel python3-setuptools python3-pip gnuplot-nox pkg-config file
  qemu-user gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
  gcc-s390x-linux-gnu libc6-dev-s390x-cross gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf gcc-arm-none-eabi picolibc-arm-none-eabi
  libnewlib-arm-none-eabi gcc-xtensa-lx106 picolibc-xtensa-lx106-elf qemu-system-misc
  qemu-system-arm"

usage() {
    echo "usage: $0 [--test] [--list]" >&2
    exit 2
}
want_test=0
list_only=0
for arg in "$@"; do
    case "$arg" in
    --test) want_test=1 ;;
    --list) list_only=1 ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
    esac
done

packages=$BUILD_PACKAGES
[ "$want_test" = 1 ] && packages="$packages $TEST_PACKAGES"
# One line, single spaces.
packages=$(echo $packages)
what=build
[ "$want_test" = 1 ] && what="build and test"

if [ "$list_only" = 1 ]; then
    echo "$packages" | tr ' ' '\n'
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: not a Debian system (no dpkg-query/apt-get); install the equivalents of:" >&2
    echo "  $packages" >&2
    exit 0
fi

missing=""
for p in $packages; do
    case "$(dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null)" in
    *"ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
missing=${missing# }
if [ -z "$missing" ]; then
    echo "install-deps: all $(echo "$packages" | wc -w) $what packages are installed"
    exit 0
fi

as_root=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root="sudo -n"
    else
        echo "install-deps: missing $what packages: $missing" >&2
        echo "install-deps: run as root (or with sudo):" >&2
        echo "  apt-get update && apt-get install -y --no-install-recommends $missing" >&2
        exit 1
    fi
fi

apt_get() {
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@"
}

updated=0
update() {
    echo "install-deps: apt-get update"
    apt_get update -qq
    updated=1
}

# Stale or empty package lists: a missing package without an install
# candidate (apt-cache prints "Candidate: (none)" or nothing at all).
for p in $missing; do
    if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then
        update
        break
    fi
done

echo "install-deps: installing $missing"
if ! apt_get install -y -qq --no-install-recommends $missing; then
    if [ "$updated" = 1 ]; then
        echo "install-deps: apt-get install failed" >&2
        exit 1
    fi
    update
    apt_get install -y -qq --no-install-recommends $missing || {
        echo "install-deps: apt-get install failed" >&2
        exit 1
    }
fi

# Confirm.
for p in $missing; do
    case "$(dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null)" in
    *"ok installed"*) ;;
    *)
        echo "install-deps: $p is still not installed" >&2
        exit 1
        ;;
    esac
done
echo "install-deps: installed $(echo "$missing" | wc -w) packages"
