"""The library's window classifier (aether.Window) and the typed model
metadata (Blob.meta): the same numbers as the window forward, and the same
checks as every other front end."""
import os
import struct

import numpy as np
import pytest

import aether

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GESTURE = os.path.join(ROOT, "models", "gesture.rvne")
MOTION = os.path.join(ROOT, "models", "motion.rvne")


def test_meta_of_the_shipped_models():
    g = aether.Blob.load(GESTURE).meta
    assert g["labels"] == ["wave", "circle_cw", "no_gesture"]
    assert g["pool"] == "mean" and g["window_frames"] == 64 and g["window_stride"] == 16
    assert g["features"] == "csi-v4" and g["backend"] == "sparse_gqa" and g["input_dim"] == 39
    m = aether.Blob.load(MOTION).meta
    assert m["labels"] == ["baseline", "movement"]
    assert m["window_frames"] == 256 and m["features"] == "csi-v3"
    assert aether.Blob.demo().meta == {}


def _with_pool_value(value):
    """The gesture blob with its pool value replaced (same length), CRC redone."""
    with open(GESTURE, "rb") as f:
        raw = bytearray(f.read())
    at = raw.index(b"pool=mean")
    raw[at:at + 9] = b"pool=" + value
    raw[-4:] = struct.pack("<I", aether.crc32(bytes(raw[:-4])))
    return aether.Blob(bytes(raw))


def test_meta_rejects_an_unusable_value():
    assert _with_pool_value(b"last").meta["pool"] == "last"
    with pytest.raises(aether.BlobMetadataError) as e:
        _with_pool_value(b"maxx").meta
    assert "AETHER_ERR_BLOB_METADATA" in str(e.value)


@pytest.mark.parametrize("pool", ["mean", "last"])
def test_window_equals_the_window_forward(pool):
    model = aether.Model(GESTURE)
    D = aether.Blob.load(GESTURE).meta["input_dim"]
    x = np.random.RandomState(7).standard_normal((150, D)).astype(np.float32)
    w = model.window(frames=20, pool=pool)
    for t in range(x.shape[0]):
        w.push(x[t])
        if t % 7 and t != x.shape[0] - 1:
            continue
        first = max(0, t + 1 - 20)
        want, want_pooled = model.forward(x[first:t + 1], pool)
        got, got_pooled = w.classify(return_pooled=True)
        assert got.tobytes() == want.tobytes()
        assert got_pooled.tobytes() == want_pooled.tobytes()
    assert w.held == 20 and len(w) == 20 and w.pushed == 150


def test_window_defaults_from_metadata_and_errors():
    model = aether.Model(GESTURE)
    w = model.window()
    assert (w.frames, w.pool) == (64, "mean")
    with pytest.raises(aether.CacheEmptyError):
        w.classify()
    D = aether.Blob.load(GESTURE).meta["input_dim"]
    w.push(np.ones(D, np.float32))
    before = w.classify()
    bad = np.ones(D, np.float32)
    bad[3] = np.nan
    with pytest.raises(aether.NonFiniteError):
        w.push(bad)
    assert w.held == 1 and w.classify().tobytes() == before.tobytes()
    w.reset()
    assert w.held == 0 and w.pushed == 0
    with pytest.raises(ValueError):
        aether.Model(aether.Blob.demo()).window()
