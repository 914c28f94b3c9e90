import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import aether
from conftest import bits_equal, golden_dir, rng_f32

BAD_BLOBS = [
    ("bad_magic.bin", aether.BlobMagicError, "AETHER_ERR_BLOB_MAGIC"),
    ("bad_version.bin", aether.BlobVersionError, "AETHER_ERR_BLOB_VERSION"),
    ("size_mismatch.bin", aether.BlobLengthError, "AETHER_ERR_BLOB_LENGTH"),
    ("crc_corrupt.bin", aether.BlobCrcError, "AETHER_ERR_BLOB_CRC"),
    ("bad_gqa.bin", aether.BlobGqaError, "AETHER_ERR_BLOB_GQA"),
    ("n_classes_1.bin", aether.BlobDegenerateError, "AETHER_ERR_BLOB_DEGENERATE"),
    ("too_short.bin", aether.BlobTooShortError, "AETHER_ERR_BLOB_TOO_SHORT"),
]


def rvne(name):
    return os.path.join(golden_dir(), "rvne", name)


def test_demo_blob_equals_golden_init_random_blob():
    demo = aether.Blob.demo()
    with open(rvne("init_random_blob.rvne"), "rb") as f:
        assert demo.tobytes() == f.read()
    assert len(demo) == 41244 and demo.crc == 0xDC807956
    info = demo.inspect()
    assert info["crc"] == "0xDC807956" and info["model_valid"]
    assert info["n_layers"] == 2 and info["n_classes"] == 4 and info["dtype"] == "f32"
    assert info["declared_params"] == 10304 == demo.weights().size


def test_blob_load_save_roundtrip(tmp_path):
    b = aether.Blob.load(rvne("fp16_small.bin"))
    assert b.f16 and b.header["weights_len"] == 128
    w = np.load(rvne("small_weights_f32.npy"))
    f16 = w.astype(np.float16).astype(np.float32)  # RNE, as the blob holds
    assert bits_equal(b.weights(), f16)
    p = tmp_path / "copy.rvne"
    b.save(p)
    assert aether.Blob.load(str(p)).tobytes() == b.tobytes()
    # the small blobs parse but are not complete models
    assert not b.inspect()["model_valid"]
    assert b.inspect()["model_error"] == "AETHER_ERR_BLOB_LAYOUT"
    with pytest.raises(aether.BlobLayoutError):
        aether.Model(b)


def test_empty_blob_is_too_short_like_the_cli(tmp_path):
    """A 0-byte file is a blob too short (the CLI's message), not a NULL argument."""
    empty = tmp_path / "empty.rvne"
    empty.write_bytes(b"")
    for load in (lambda: aether.Blob.load(empty), lambda: aether.Blob(b""),
                 lambda: aether.Model(str(empty))):
        with pytest.raises(aether.BlobTooShortError) as ei:
            load()
        assert ei.value.name == "AETHER_ERR_BLOB_TOO_SHORT"
        assert ei.value.message == "blob too short"


@pytest.mark.parametrize("name,cls,status", BAD_BLOBS)
def test_bad_blobs_raise_specific_errors(name, cls, status):
    with pytest.raises(cls) as ei:
        aether.Blob.load(rvne(name))
    assert ei.value.name == status
    assert isinstance(ei.value, aether.BlobError) and isinstance(ei.value, ValueError)


def test_unknown_flag_bit_is_rejected_by_model():
    b = aether.Blob.load(rvne("flags_0x03.bin"))  # parses (format level)
    assert b.header["flags"] == 3
    with pytest.raises(aether.BlobError):
        aether.Model(b)


def test_from_weights_roundtrip_f32_and_f16():
    demo = aether.Blob.demo()
    h = demo.header
    w = demo.weights()
    args = (h["input_dim"], h["n_q_heads"], h["n_kv_heads"], h["head_dim"], h["n_layers"],
            h["n_classes"])
    again = aether.Blob.from_weights(w, *args)
    assert again.tobytes() == demo.tobytes()
    half = aether.Blob.from_weights(w, *args, f16=True)
    assert half.f16 and bits_equal(half.weights(), w.astype(np.float16).astype(np.float32))
    assert bits_equal(half.weights(), aether.Blob.demo(f16=True).weights())


def test_model_classify_embed_and_info():
    m = aether.Model(aether.Blob.demo())
    assert m.info["backend"] == "sparse_gqa" and m.info["window"] == 32
    assert m.input_dim == 16 and m.n_classes == 4
    x = rng_f32(50, 16, seed=7)
    logits = m.classify(x)
    assert logits.shape == (4,) and logits.dtype == np.float32
    assert bits_equal(m.forward(x)[0], logits)
    assert m.embed(x).shape == (16,)
    assert not bits_equal(m.classify(x, pool="mean"), logits)
    p = m.predict_proba(x)
    assert abs(float(p.sum()) - 1) < 1e-6 and np.argmax(p) == np.argmax(logits)
    with pytest.raises(ValueError):
        m.classify(x, pool="max")
    dense = aether.Model(aether.Blob.demo(), backend="dense")
    assert dense.info["backend"] == "dense"
    assert m.info["borrowed"] == 0
    assert aether.Model(aether.Blob.demo(), weights="borrow").info["borrowed"] == 1


def test_model_from_bytes_and_path():
    with open(rvne("init_random_blob.rvne"), "rb") as f:
        data = f.read()
    x = rng_f32(5, 16, seed=1)
    a = aether.Model(data).classify(x)
    b = aether.Model(rvne("init_random_blob.rvne")).classify(x)
    assert bits_equal(a, b)


def test_stream_equals_window_forward_in_reference_mode():
    m = aether.Model(aether.Blob.demo())
    x = rng_f32(40, 16, seed=3)
    s = m.stream(capacity=64)
    steps = s.run(x)
    for t in (0, 1, 15, 16, 17, 39):
        assert bits_equal(steps[t], m.classify(x[:t + 1]))
    assert s.frames == 40 == len(s) and not s.evicted
    s.reset()
    assert s.frames == 0
    logits, pooled = s.step(x[0], return_pooled=True)
    assert bits_equal(logits, steps[0]) and pooled.shape == (16,)


def test_session_eviction_flag():
    m = aether.Model(aether.Blob.demo())
    s = m.stream(capacity=8, evict="sliding")
    s.run(rng_f32(20, 16, seed=2))
    assert s.evicted and s.frames == 20
    s2 = m.stream(capacity=4, evict="none")
    s2.run(rng_f32(4, 16, seed=2))
    with pytest.raises(aether.CacheFullError):
        s2.step(rng_f32(16, seed=3))


def test_session_step_batch_equals_one_by_one():
    m = aether.Model(aether.Blob.demo())
    one = [m.stream(capacity=12) for _ in range(5)]
    bat = [m.stream(capacity=12) for _ in range(5)]
    for i in range(5):  # different frame counts, some evicting
        w = rng_f32(3 * i + 1, 16, seed=10 + i)
        one[i].run(w)
        bat[i].run(w)
    for t in range(20):
        x = rng_f32(5, 16, seed=100 + t)
        logits, pooled, errors = aether.Session.step_batch(bat, x, return_pooled=True)
        assert errors == [None] * 5
        for i in range(5):
            lo, po = one[i].step(x[i], return_pooled=True)
            assert bits_equal(lo, logits[i]) and bits_equal(po, pooled[i])
    assert [s.frames for s in bat] == [s.frames for s in one]
    # a NaN frame, a session of another model: their errors, the others step
    other = aether.Model(aether.Blob.demo()).stream()
    x = rng_f32(3, 16, seed=7)
    x[1, 4] = np.nan
    logits, errors = aether.Session.step_batch([bat[0], bat[1], other], x)
    assert errors[0] is None
    assert isinstance(errors[1], aether.NonFiniteError)
    assert errors[2].name == "AETHER_ERR_INVALID_ARG"
    assert np.isnan(logits[1]).all() and np.isnan(logits[2]).all()
    assert bits_equal(one[0].step(x[0]), logits[0])
    assert bat[1].frames == one[1].frames and other.frames == 0
    with pytest.raises(ValueError):
        aether.Session.step_batch(bat, rng_f32(4, 16))


def test_nan_frames_rejected_session_unchanged():
    m = aether.Model(aether.Blob.demo())
    s = m.stream()
    x = rng_f32(3, 16)
    s.step(x[0])
    bad = x[1].copy()
    bad[3] = np.nan
    with pytest.raises(aether.NonFiniteError) as ei:
        s.step(bad)
    assert ei.value.name == "AETHER_ERR_NONFINITE"
    assert s.frames == 1
    window = x.copy()
    window[2, 0] = np.inf
    with pytest.raises(aether.NonFiniteError):
        m.classify(window)


def test_model_input_errors():
    m = aether.Model(aether.Blob.demo())
    with pytest.raises(aether.ShapeMismatchError):
        m.classify(rng_f32(4, 15))
    with pytest.raises(aether.ShapeMismatchError):
        m.stream().step(rng_f32(17))
    with pytest.raises(TypeError):
        m.classify(rng_f32(4, 16).astype(np.float64))
    with pytest.raises(ValueError):
        m.classify(rng_f32(16, 4).T)
    with pytest.raises(aether.InvalidArgError):
        m.classify(np.zeros((0, 16), np.float32))
    with pytest.raises(ValueError):
        m.stream(evict="random")


LIFETIME = textwrap.dedent("""
    import gc, numpy as np, aether
    aether.set_kernel_mode("reference")
    blob = aether.Blob.demo()
    model = aether.Model(blob, weights="borrow")   # weights point into blob bytes
    session = model.stream(capacity=32)
    gate = aether.gate.FastGRNN(8, 8)
    causal = aether.gate.CausalGate(gate, kv_heads=1, top_k=2)
    cfg = aether.attention.Config(window=4, block_size=2)
    cache = aether.KVCache(16, 1, 8, config=cfg)
    x = np.random.default_rng(0).standard_normal((20, 16)).astype(np.float32)
    expected = model.classify(x[:10])
    del model, blob, gate, cfg
    gc.collect()
    out = None
    for t in range(10):
        out = session.step(x[t])
    assert np.array_equal(out, expected), (out, expected)
    row = np.ones((1, 8), np.float32)
    for t in range(10):
        causal.step(row)
        cache.append(row, row)
        cache.decode(row)
    session.close(); session.close()     # idempotent
    try:
        session.step(x[0])
    except ValueError as e:
        assert "closed" in str(e)
    else:
        raise AssertionError("closed session stepped")
    print("LIFETIME-OK")
""")


def test_session_outlives_model_under_dev_mode():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(aether.__file__))] +
        [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["AETHER_LIB"] = aether.lib_path
    r = subprocess.run([sys.executable, "-X", "dev", "-c", LIFETIME], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "LIFETIME-OK" in r.stdout


def test_explicit_close_defers_while_sessions_live():
    m = aether.Model(aether.Blob.demo())
    s = m.stream(capacity=16)
    x = rng_f32(4, 16, seed=11)
    expected = m.classify(x)
    m.close()
    with pytest.raises(ValueError, match="closed"):
        m.classify(x)
    assert m._h.ptr  # C model still alive: the session points into it
    out = s.run(x)
    assert bits_equal(out[-1], expected)
    s.close()
    assert s._h.ptr is None
    del s
    import gc
    gc.collect()
    assert m._h.ptr is None  # released with its last dependent


def test_blob_constructor_rejects_paths():
    with pytest.raises(TypeError, match="Blob.load"):
        aether.Blob("model.rvne")
