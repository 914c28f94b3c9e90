"""The small remaining corners of the public API."""

import numpy as np
import pytest

import aether
from conftest import data_path, rng_f32


def test_compute_all_equals_features_function():
    path = data_path("amplitude-features.csi.jsonl")
    with aether.read_recording(path) as rec:
        a = aether.Features(input_dim=16).compute_all(rec)
    assert np.array_equal(a, aether.features(path))
    assert aether.Features().compute_all([]).shape == (0, 16)


def test_landmark_blocks_and_repr():
    cache = aether.KVCache(64, 1, 4, window=4, block_size=16)
    assert cache.landmark_blocks == 4
    ring = aether.KVCache(64, 1, 4, window=4, block_size=16, policy="sliding")
    assert ring.landmark_blocks == 5  # ceil(64/16) + 1 for the eviction ring
    b = aether.Blob.demo()
    assert repr(b).startswith("Blob(41244 bytes, f32")
    assert b.validate()["total_elems"] == 10304
    assert "backend=sparse_gqa" in repr(aether.Model(b))
    assert "Config(window=128" in repr(aether.attention.Config())
    f = aether.Frame(amplitudes=np.ones(8, np.float32))
    assert "kind='amplitude'" in repr(f)


def test_close_is_idempotent_everywhere():
    g = aether.gate.FastGRNN(4, 4)
    cg = aether.gate.CausalGate(g, top_k=1)
    fx = aether.Features()
    norm = aether.FeatureNorm(3)
    for obj in (cg, g, fx, norm):
        obj.close()
        obj.close()
    with pytest.raises(ValueError, match="closed"):
        g.score_sequence(rng_f32(2, 4))
    with pytest.raises(ValueError, match="closed"):
        fx.compute(aether.Frame(amplitudes=np.ones(56, np.float32)))


def test_borrowed_weights_survive_blob_deletion():
    blob = aether.Blob.demo()
    m = aether.Model(blob, weights="borrow")
    x = rng_f32(6, 16, seed=8)
    want = m.classify(x)
    del blob
    import gc
    gc.collect()
    assert np.array_equal(m.classify(x), want)
    with pytest.raises(aether.UnsupportedError):
        aether.Model(aether.Blob.demo(f16=True), weights="borrow")


def _main(*args):
    import os
    import subprocess
    import sys
    env = dict(os.environ, AETHER_LIB=aether.lib_path)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(aether.__file__))] +
        [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return subprocess.run([sys.executable, "-m", "aether"] + list(args), env=env,
                          capture_output=True, text=True, timeout=120)


def test_python_m_aether_version_and_help():
    r = _main("--version")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # in place: no recorded package version, but the library's version and path
    assert lines[0].startswith("aether from the source tree at ")
    assert lines[1] == "libaether %s (%s)" % (aether.version(), aether.lib_path)
    for args in (("--help",), ()):
        r = _main(*args)
        assert r.returncode == 0 and r.stdout.startswith("usage: python -m aether")
    r = _main("--frobnicate")
    assert r.returncode == 2 and "unknown argument '--frobnicate'" in r.stderr
    assert r.stdout == ""
