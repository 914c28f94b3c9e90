#!/bin/sh
# Bare-metal stage: the portable library and tests/baremetal (a firmware-like
# program over ruv_temporal.h) built with picolibc for microcontroller
# instruction sets and run under qemu-system with semihosting and
# -icount shift=0 (one instruction = 1 ns of virtual time):
#
#   rv32imc     RV32IMC soft float, ilp32 (ESP32-C3 / C6 ISA)   qemu virt
#   rv32imafc   RV32IMAFC, ilp32f                               qemu virt
#   cortex-m4f  Cortex-M4F hard float                           qemu mps2-an386
#   cortex-m4f-newlib  the same with newlib (ESP-IDF's C library)
#   lx106       Xtensa LX106 (gcc-xtensa-lx106): compile and size only
#   host        the same program built natively (glibc): its logits must be
#               bit-identical to the CLI's (checks the stage's own data)
#
#   scripts/baremetal.sh [target...]      (default: all of them)
#   scripts/baremetal.sh --profile TARGET  instruction profile of the default
#       model's streaming push: the library built with -finstrument-functions
#       (tests/baremetal/profile.c), exclusive instructions per function
#
# The program runs the kernel self test, the shipped models (gesture,
# motion) and the default-shape demo model through window and streaming
# mode on features the host CLI computes from data/ (`aether features`),
# compares the logits with `aether classify` / `aether stream` within the
# contract of ruv_temporal.h, runs the golden temporal-head cases that fit
# AETHER_BM_GOLDEN_BYTES (default 640 KiB of q/k/v/out), and prints
# instructions per push / classify and stack high-water marks. Any mismatch
# fails the stage. Results: build-baremetal/results.txt (and one log per
# target).
#
# Needs: gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf gcc-arm-none-eabi
# picolibc-arm-none-eabi libnewlib-arm-none-eabi gcc-xtensa-lx106
# picolibc-xtensa-lx106-elf qemu-system-misc qemu-system-arm python3, and the host build (BUILD, default
# build; built here if its CLI is missing).
# env: BUILD, JOBS (2), AETHER_BM_DIR (build-baremetal), AETHER_BM_GOLDEN_BYTES.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
JOBS=${JOBS:-2}
OUT=${AETHER_BM_DIR:-build-baremetal}
GOLDEN=${AETHER_GOLDEN_DIR:-$ROOT/../shared/golden}
GOLDEN_BYTES=${AETHER_BM_GOLDEN_BYTES:-655360}
RECORDING=data/esp32-raw-2node-excerpt.csi.jsonl
ALL="host rv32imc rv32imafc cortex-m4f cortex-m4f-newlib lx106"
profile=0
if [ "${1:-}" = --profile ]; then
    [ $# -eq 2 ] || { echo "usage: $0 --profile rv32imc|rv32imafc|cortex-m4f" >&2; exit 2; }
    profile=1
    shift
fi
targets=${*:-$ALL}

for t in $targets; do
    case " $ALL " in
    *" $t "*) ;;
    *)
        echo "baremetal: unknown target '$t' (one of: $ALL)" >&2
        exit 2
        ;;
    esac
done

need() {
    command -v "$1" >/dev/null 2>&1 || {
        echo "baremetal: $1 not found (sh scripts/install-deps.sh --test)" >&2
        exit 1
    }
}
need python3
need cmake

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DATA=$OUT/data
mkdir -p "$DATA"

# ---- host side: the CLI, the demo blob, features and reference logits
if [ ! -x "$BUILD/aether" ]; then
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j "$JOBS" --target aether_cli >/dev/null
fi
AETHER=$(cd "$BUILD" && pwd)/aether

"$AETHER" init-blob "$DATA/default.rvne" >/dev/null
# the integer path: the demo blob quantized (the shipped models ship their .q8)
"$AETHER" quantize "$DATA/default.rvne" "$DATA/default.q8" >/dev/null
# NAME MODEL FEATURE-OPTIONS FRAMES WINDOW POOL EVERY QMODEL
# gesture / motion: their metadata's window, pooling and stride; default:
# the demo blob (I16 q4 kv1 d32, 2 layers) at the header's default window.
prepare() {
    name=$1 model=$2 fopts=$3 frames=$4 window=$5 pool=$6 every=$7 qmodel=$8
    # shellcheck disable=SC2086
    "$AETHER" features "$RECORDING" --node 1 --out "$DATA/$name.all.npy" $fopts >/dev/null
    python3 tests/baremetal/expected.py "$AETHER" "$model" "$DATA/$name.all.npy" "$name" \
        "$frames" "$window" "$pool" "$every" "$DATA" "$qmodel"
    rm -f "$DATA/$name.all.npy"
}
prepare gesture models/gesture.rvne "--model models/gesture.rvne" 144 64 mean 16 models/gesture.q8
prepare motion models/motion.rvne "--model models/motion.rvne" 320 256 mean 64 models/motion.q8
prepare default "$DATA/default.rvne" "--recipe csi-v1 --input-dim 16" 300 256 last 100 \
    "$DATA/default.q8"

# Golden temporal-head cases whose q/k/v/out(/out_steps) fit the budget.
python3 - "$GOLDEN" "$GOLDEN_BYTES" "$DATA/golden.txt" <<'EOF'
import json, os, sys
root, budget, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = []
for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
    case = os.path.join(root, name, "case.json")
    if not name.startswith("temporal_") or not os.path.isfile(case):
        continue
    c = json.load(open(case))
    t = c["temporal_config"]
    steps = "out_steps" in c["files"]
    size = sum(os.path.getsize(os.path.join(root, name, f["file"])) for f in c["files"].values())
    if size > budget:
        print(f"baremetal: golden {name} skipped ({size} bytes > {budget})")
        continue
    lines.append(" ".join(str(x) for x in [
        os.path.join(root, name), t["q_heads"], t["kv_heads"], t["head_dim"], t["window"],
        t["block_size"], int(t["causal"]), int(t["backend"] == "Dense"), c["seq"],
        c.get("capacity", c["seq"]), int(steps)]))
if not os.path.isdir(root):
    # as the unit tests do without ../shared: skipped, not failed
    print(f"baremetal: golden cases skipped: {root} not found")
elif not lines:
    sys.exit(f"baremetal: no golden temporal case under {root}")
open(out, "w").write("".join(l + "\n" for l in lines))
EOF

# ---- targets
failed=""
: >"$OUT/results.txt"

build_target() {
    t=$1
    dir=$OUT/$t
    if [ "$t" = host ]; then
        set -- -DAETHER_BM_LINK=ON
    else
        set -- -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchain-$t.cmake"
    fi
    if [ "$profile" = 1 ]; then
        dir=$OUT/$t-profile
        set -- "$@" -DAETHER_BM_PROFILE=ON
    fi
    cmake -S . -B "$dir" "$@" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE=-O2 \
        -DAETHER_BUILD_HOST=OFF -DAETHER_BUILD_TOOLS=OFF -DAETHER_BUILD_TESTS=OFF \
        -DAETHER_BUILD_SHARED=OFF -DAETHER_BUILD_BENCH=OFF -DAETHER_INSTALL=OFF \
        -DAETHER_BUILD_BAREMETAL=ON -DAETHER_BM_DATA_DIR="$DATA" >"$dir.configure.log" 2>&1 ||
        { cat "$dir.configure.log"; return 1; }
    cmake --build "$dir" -j "$JOBS" >"$dir.build.log" 2>&1 || { tail -30 "$dir.build.log"; return 1; }
}

run_target() {
    t=$1
    elf=$OUT/$t/tests/baremetal/aether_bm
    [ "$profile" = 1 ] && elf=$OUT/$t-profile/tests/baremetal/aether_bm
    case "$t" in
    rv32imc | rv32imafc)
        need qemu-system-riscv32
        set -- qemu-system-riscv32 -machine virt -bios none -m 128M
        ;;
    cortex-m4f*)
        need qemu-system-arm
        set -- qemu-system-arm -machine mps2-an386
        ;;
    host)
        # the CLI runs the scalar reference; so must the native program
        (cd "$DATA" && AETHER_KERNELS=reference "$elf") >"$OUT/$t.log" 2>&1
        return
        ;;
    esac
    (cd "$DATA" && timeout 600 "$@" -nographic -monitor none -serial none -icount shift=0 \
        -semihosting-config enable=on,target=native -kernel "$elf") >"$OUT/$t.log" 2>&1
}

size_of() {
    t=$1
    case "$t" in
    rv32*) size=riscv64-unknown-elf-size ;;
    cortex-m4f*) size=arm-none-eabi-size ;;
    lx106) size=xtensa-lx106-elf-size ;;
    host) size=size ;;
    esac
    # the library alone: every object of libaether.a (text data bss)
    $size -t "$OUT/$t/libaether.a" | awk 'END { printf "lib_text=%s lib_data=%s lib_bss=%s", $1, $2, $3 }'
    if [ -f "$OUT/$t/tests/baremetal/aether_bm" ] && [ "$t" != host ]; then
        # the whole program (library, picolibc, test program, 3 embedded models)
        $size "$OUT/$t/tests/baremetal/aether_bm" | awk 'NR == 2 { printf " elf_text=%s elf_data=%s elf_bss=%s", $1, $2, $3 }'
    fi
}

if [ "$profile" = 1 ]; then
    t=$targets
    case "$t" in
    rv32*) nm=riscv64-unknown-elf-nm ;;
    cortex-m4f) nm=arm-none-eabi-nm ;;
    *) echo "baremetal: --profile runs on rv32imc, rv32imafc or cortex-m4f" >&2; exit 2 ;;
    esac
    build_target "$t"
    run_target "$t" || true
    pushes=$(grep '^BM PERF model=default variant=f32 mode=streaming' "$OUT/$t.log" |
        sed 's/.* frames=\([0-9]*\).*/\1/')
    echo "instructions per push by function (default model, streaming, mean of $pushes pushes; instrumented build):"
    $nm "$OUT/$t-profile/tests/baremetal/aether_bm" >"$OUT/$t-profile.syms"
    grep '^BM PROF' "$OUT/$t.log" | python3 -c '
import sys
syms = {}
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) == 3 and f[1] in "tTwW":
        syms[int(f[0], 16) & ~1] = f[2]
n = int(sys.argv[1]); count = {}; calls = {}
for line in sys.stdin:
    f = line.split()
    a = int(f[2], 16) & ~1
    name = syms.get(a, hex(a))
    count[name] = count.get(name, 0) + int(f[3])
    calls[name] = calls.get(name, 0) + int(f[4])
total = sum(count.values())
print("%10s %8s %6s  %s" % ("instr", "calls", "share", "function"))
for name in sorted(count, key=count.get, reverse=True)[:25]:
    print("%10.0f %8.1f %5.1f%%  %s" % (count[name] / n, calls[name] / n, 100.0 * count[name] / total, name))
print("%10.0f per push in all (instrumented)" % (total / n))
' "$pushes" "$OUT/$t-profile.syms"
    exit 0
fi

for t in $targets; do
    start=$(date +%s)
    ok=1
    case "$t" in
    rv32*) need riscv64-unknown-elf-gcc ;;
    cortex-m4f*) need arm-none-eabi-gcc ;;
    lx106) need xtensa-lx106-elf-gcc ;;
    esac
    if ! build_target "$t"; then
        ok=0
    elif [ "$t" != lx106 ]; then
        run_target "$t" || ok=0
        grep '^BM ' "$OUT/$t.log" | sed "s/^BM /$t /" >>"$OUT/results.txt"
        grep -q '^BM RESULT PASS' "$OUT/$t.log" || ok=0
        [ "$ok" = 1 ] || { echo "baremetal: $t failed:"; grep -v '^BM PERF' "$OUT/$t.log" | tail -40; }
    fi
    [ "$ok" = 1 ] && echo "$t SIZE $(size_of "$t")" >>"$OUT/results.txt"
    echo "baremetal: $t $([ "$ok" = 1 ] && echo PASS || echo FAIL) ($(($(date +%s) - start)) s)"
    [ "$ok" = 1 ] || failed="$failed $t"
done

echo "---- $OUT/results.txt"
cat "$OUT/results.txt"
# Information, not a check: which targets computed bit-identical logits
# (a digest over every logit of a model and mode).
echo "---- logit digests (targets with equal digests computed the same bits)"
grep ' CMP model=' "$OUT/results.txt" | grep -v 'variant=head' |
    sed 's/^\([^ ]*\) CMP model=\([^ ]*\) variant=\([^ ]*\) mode=\([^ ]*\) .* digest=\([^ ]*\).*/\2 \3 \4 \5 \1/' |
    sort | awk '{ k = $1 " " $2 " " $3 " " $4; t[k] = t[k] " " $5 } END { for (k in t) print k ":" t[k] }' | sort
if [ -n "$failed" ]; then
    echo "baremetal: FAILED:$failed"
    exit 1
fi
echo "baremetal: all passed ($targets)"
