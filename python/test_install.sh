#!/bin/sh
# Install the Python package the way the README says and use it from outside
# the source tree.
#
#   sh python/test_install.sh [path/to/libaether.so | BUILD_DIR]
#
# In a temporary directory: a venv made by /usr/bin/python3 (AETHER_PYTHON
# overrides) with --system-site-packages (Debian's NumPy), then, from the
# repository root,
#   pip install --no-build-isolation --no-index ./python    (plus -v for the log)
# with AETHER_LIB set to the given library, written relative to the root when
# it lies inside it, as a user would type it (no argument: setup.py finds or
# builds the library itself). Then, from /, with no PYTHONPATH or AETHER_LIB:
# the package must import from the venv with its bundled library, agree with
# NumPy on attention, run models/gesture.rvne on the shipped recording, and
# answer `python -m aether --version`. Any failure fails the test; missing
# Debian packages are named (and only they are excused, by
# AETHER_PYTHON_OPTIONAL=1, as in run_tests.sh).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
PY=${AETHER_PYTHON:-/usr/bin/python3}

fail() {
    echo "install test: FAIL: $*" >&2
    exit 1
}

[ -x "$PY" ] || fail "$PY not found (Debian: apt-get install python3)"
modules=""
missing=""
# The venv gets pip and setuptools from ensurepip (python3-venv); wheel and
# NumPy come from the system through --system-site-packages.
for need in ensurepip:python3-venv wheel:python3-wheel numpy:python3-numpy; do
    if ! "$PY" -c "import ${need%%:*}" >/dev/null 2>&1; then
        modules="$modules ${need%%:*}"
        missing="$missing ${need#*:}"
    fi
done
if [ -n "$missing" ]; then
    msg="$PY lacks the module(s)$modules needed to create the venv and build the package"
    msg="$msg (Debian: apt-get install$missing)"
    if [ "${AETHER_PYTHON_OPTIONAL:-0}" = "1" ]; then
        echo "install test: $msg; skipped (AETHER_PYTHON_OPTIONAL=1)" >&2
        exit 0
    fi
    fail "$msg"
fi

LIB=""
if [ $# -gt 0 ]; then
    LIB=$1
    [ -d "$LIB" ] && LIB="$LIB/libaether.so"
    [ -f "$LIB" ] || fail "no library at $1"
    LIB=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")
    case "$LIB" in
    "$ROOT"/*) LIB=${LIB#"$ROOT"/} ;;
    esac
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/aether-install-test.XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' HUP INT TERM
VENV=$TMP/venv

"$PY" -m venv --system-site-packages "$VENV" >"$TMP/venv.log" 2>&1 || {
    cat "$TMP/venv.log" >&2
    fail "$PY -m venv failed (Debian: apt-get install python3-venv)"
}

# The install, exactly as documented, from the repository root.
(
    cd "$ROOT" || exit 1
    unset PYTHONPATH
    if [ -n "$LIB" ]; then AETHER_LIB=$LIB; export AETHER_LIB; else unset AETHER_LIB; fi
    PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 \
        "$VENV/bin/pip" install -v --no-build-isolation --no-index ./python
) >"$TMP/pip.log" 2>&1 || {
    cat "$TMP/pip.log" >&2
    fail "pip install ./python failed (AETHER_LIB=${LIB:-unset})"
}
grep "aether: bundled" "$TMP/pip.log"

cd / || fail "cd /"
CHECK='
import os, sys
import numpy as np
import aether
from aether import _version

root = os.environ["AETHER_TEST_ROOT"]
venv = os.path.realpath(sys.prefix)
# the installed copy with its bundled library, not the source tree
assert os.path.realpath(aether.__file__).startswith(venv + os.sep), aether.__file__
assert os.path.realpath(aether.lib_path).startswith(venv + os.sep), aether.lib_path
assert _version.version == aether.version(), (_version.version, aether.version())
want = os.environ.get("AETHER_TEST_LIB")
if want:
    want = os.path.realpath(os.path.join(root, want))
    assert _version.bundled_from == want, (_version.bundled_from, want)

# attention against NumPy: causal softmax(q k^T / sqrt(d)) v per head
rng = np.random.default_rng(7)
seq, heads, dim = 24, 2, 16
q, k, v = (rng.standard_normal((seq, heads, dim)).astype(np.float32) for _ in range(3))
s = np.einsum("qhd,khd->hqk", q.astype(np.float64), k.astype(np.float64)) / np.sqrt(dim)
s[:, np.triu(np.ones((seq, seq), bool), 1)] = -np.inf
p = np.exp(s - s.max(axis=-1, keepdims=True))
p /= p.sum(axis=-1, keepdims=True)
ref = np.einsum("hqk,khd->qhd", p, v.astype(np.float64))
dense = aether.attention.dense(q, k, v, causal=True)
# a window over the whole sequence and no landmarks: the sparse kernel sees every key
sparse = aether.attention.forward(q, k, v, window=seq, block_size=4, landmarks=False)
for name, out in (("dense", dense), ("forward", sparse)):
    err = float(np.abs(out - ref).max())
    assert out.dtype == np.float32 and out.shape == q.shape and err < 1e-5, (name, err)

# the shipped model on the shipped recording, streamed and in one batch
aether.set_kernel_mode("reference")
model = aether.Model(aether.Blob.load(os.path.join(root, "models", "gesture.rvne")))
feats = aether.Features(input_dim=model.input_dim)
node, x = None, []
for frame in aether.read_recording(os.path.join(root, "data",
                                                "esp32-raw-2node-excerpt.csi.jsonl")):
    node = frame.node_id if node is None else node
    if frame.node_id == node:
        x.append(feats.compute(frame))
x = np.asarray(x, dtype=np.float32)
assert x.shape[0] >= 32 and x.shape[1] == model.input_dim and np.isfinite(x).all(), x.shape
session = model.stream()
steps = np.array([session.step(f) for f in x[:32]])
for t in (0, 7, 31):
    batch = model.classify(x[:t + 1])
    assert np.array_equal(steps[t], batch), (t, steps[t], batch)
probs = aether.softmax(steps)
assert steps.shape == (32, model.n_classes) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)

# an empty model file is a blob too short, as the CLI says
empty = os.path.join(os.environ["AETHER_TEST_TMP"], "empty.rvne")
open(empty, "wb").close()
try:
    aether.Blob.load(empty)
    raise AssertionError("empty blob accepted")
except aether.BlobTooShortError as e:
    assert e.message == "blob too short", e.message

print("install test: package %s at %s" % (_version.version, os.path.dirname(aether.__file__)))
print("install test: attention max |err| vs NumPy %.2e (dense) %.2e (forward); "
      "gesture.rvne: %d frames of node %d, stream == batch"
      % (np.abs(dense - ref).max(), np.abs(sparse - ref).max(), x.shape[0], node))
'
env -u PYTHONPATH -u AETHER_LIB -u AETHER_KERNELS AETHER_TEST_ROOT="$ROOT" \
    AETHER_TEST_LIB="$LIB" AETHER_TEST_TMP="$TMP" PYTHONDONTWRITEBYTECODE=1 \
    "$VENV/bin/python" -c "$CHECK" || fail "the installed package does not work (see above)"

out=$(env -u PYTHONPATH -u AETHER_LIB "$VENV/bin/python" -m aether --version) ||
    fail "python -m aether --version failed"
echo "$out"
echo "$out" | grep -q "^aether [0-9][^ ]* (package at $VENV/" ||
    fail "python -m aether --version does not name the installed package"
echo "$out" | grep -q "^libaether [0-9][^ ]* ($VENV/.*/aether/_lib/libaether" ||
    fail "python -m aether --version does not name the bundled library"
echo "install test: PASS"
