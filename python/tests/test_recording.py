import glob
import os

import numpy as np
import pytest

import aether
from conftest import DATA, data_path, rng_f32

RAW = "esp32-raw-2node.csi.jsonl"
AMP = "amplitude-features.csi.jsonl"
CANON = list(range(1, 27)) + list(range(38, 64))


def test_raw_2node_counts_exact():
    with aether.read_recording(data_path(RAW)) as rec:
        frames = list(rec)
        st = rec.stats
    assert len(frames) == 5309
    assert st["format"] == "jsonl"
    assert st["frames"] == {"raw_iq": 5309, "amplitude": 0}
    assert st["records"] == 5783
    assert st["skipped"]["vitals"] == 236 and st["skipped"]["feature"] == 236
    assert st["skipped"]["compressed"] == 2
    assert st["malformed"] == 0 and st["errors"] == []
    assert sum(st["frames_by_node"].values()) == 5309 and set(st["frames_by_node"]) == {1, 2}
    assert sum(st["pairs"].values()) == 5309 and set(st["pairs"]) <= {64, 128, 192}
    f = frames[0]
    assert f.kind == "raw_iq" and f.iq.dtype == np.int8 and f.iq.shape == (f.n_pairs, 2)
    assert f.node_id in (1, 2) and f.timestamp > 1.7e9 and f.record >= 1
    assert st["t_first"] == frames[0].timestamp and st["t_last"] == frames[-1].timestamp
    a = f.amplitudes
    iq = f.iq.astype(np.float64)
    assert np.allclose(a, np.hypot(iq[:, 0], iq[:, 1]), atol=1e-5)
    assert f.phase.shape == (f.n_pairs,)
    assert set(f.as_dict()) >= {"timestamp", "node_id", "kind", "iq", "amplitudes"}


def test_amplitude_counts_exact():
    rec = aether.read_recording(data_path(AMP))
    frames = list(rec)
    assert len(frames) == 253
    assert rec.stats["frames"] == {"raw_iq": 0, "amplitude": 253}
    assert all(f.kind == "amplitude" and f.n_pairs == 56 for f in frames)
    assert frames[0].amplitudes.dtype == np.float32 and frames[0].iq is None
    with pytest.raises(ValueError):
        frames[0].phase
    rec.close()
    with pytest.raises(ValueError, match="closed"):
        list(rec)  # a closed recording raises, as every closed object does


def test_npz_recording_if_present():
    files = sorted(glob.glob(os.path.join(DATA, "espectre", "*", "*.npz")))
    if not files:
        pytest.skip("no ESPectre data")
    with aether.read_recording(files[0]) as rec:
        n = sum(1 for _ in rec)
        st = rec.stats
    assert st["format"] == "npz" and st["npz"]["rows"] == n > 0
    assert st["npz"]["row_bytes"] == 128


def test_recording_errors(tmp_path):
    with pytest.raises(aether.AetherIOError) as ei:
        aether.read_recording(str(tmp_path / "missing.jsonl"))
    assert ei.value.name == "AETHER_ERR_IO"
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02 definitely not CSI")
    with pytest.raises(aether.FormatError):
        aether.read_recording(str(junk))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "raw_csi", "iq_hex": "zz"}\n\n{}\n')
    rec = aether.read_recording(str(bad))
    assert list(rec) == []
    st = rec.stats
    assert st["malformed"] + st["skipped"]["other"] >= 1 and st["skipped"]["blank"] == 1


def _energy(amp):
    idx = [k for k in CANON if k < amp.size]
    a = amp[idx].astype(np.float64)
    return np.log1p(np.mean(a * a))


def test_features_of_recording():
    path = data_path(RAW)
    x, ts, nodes = aether.features(path, return_frames=True)
    assert x.shape == (5309, 16) and x.dtype == np.float32
    assert np.isfinite(x).all() and ts.shape == (5309,) and set(nodes.tolist()) == {1, 2}
    frames = list(aether.read_recording(path))[:20]
    fx = aether.Features()
    for f, row in zip(frames, x):
        got = fx.compute(f)
        assert np.array_equal(got, row)
        assert abs(got[0] - _energy(f.amplitudes)) < 1e-5 * max(1.0, abs(got[0]))
    # the same from an iterable of frames, and with a kind filter
    assert aether.features(frames).shape == (20, 16)
    assert aether.features(frames, kinds={"amplitude"}).shape == (0, 16)
    amp = aether.features(data_path(AMP), input_dim=24)
    assert amp.shape == (253, 24)
    assert np.all(amp[:, 3:6] == 0)  # no phase in amplitude frames


def test_features_object_and_errors():
    fx = aether.Features(input_dim=16, max_nodes=1)
    assert fx.input_dim == 16
    f = aether.Frame(amplitudes=np.full(56, 2.0, np.float32), node_id=1)
    a = fx.compute(f)
    assert a[1] == 0 and a[2] == 0  # flat spectrum: no dispersion, first frame: no motion
    with pytest.raises(aether.TracksFullError):
        fx.compute(aether.Frame(amplitudes=np.ones(56, np.float32), node_id=2))
    fx.forget(1)
    fx.compute(aether.Frame(amplitudes=np.ones(56, np.float32), node_id=2))
    with pytest.raises(aether.TrackNotFoundError):
        fx.forget(7)
    fx.reset()
    nan = np.ones(56, np.float32)
    nan[4] = np.nan
    with pytest.raises(aether.NonFiniteError):
        fx.compute(aether.Frame(amplitudes=nan))
    with pytest.raises(TypeError):
        fx.compute({"amplitudes": nan})
    with pytest.raises(aether.InvalidArgError):
        aether.Features(input_dim=3)
    with pytest.raises(TypeError):
        aether.Frame(amplitudes=np.ones(56))
    with pytest.raises(ValueError):
        aether.Frame()


def test_adr018_roundtrip():
    iq = (np.arange(128) % 50 - 25).astype(np.int8).reshape(64, 2)
    f = aether.Frame(iq=iq, node_id=3)
    data = f.to_adr018()
    assert len(data) == 20 + 128
    g = aether.Frame.from_adr018(data)
    assert g.node_id == 3 and np.array_equal(g.iq, iq) and g.n_antennas == 1
    with pytest.raises(aether.FrameLengthError):
        aether.Frame.from_adr018(data[:-1])
    with pytest.raises(aether.FrameMagicError):
        aether.Frame.from_adr018(b"\x00" * len(data))


def test_feature_norm():
    n = aether.FeatureNorm(4)
    x = rng_f32(100, 4, seed=1)
    for row in x:
        n.update(row)
    assert len(n) == 100
    mean, var = n.stats()
    assert np.allclose(mean, x.astype(np.float64).mean(0), atol=1e-6)
    assert np.allclose(var, x.astype(np.float64).var(0), atol=1e-6)
    y = n.apply(x[0])
    assert np.allclose(y, (x[0] - mean) / np.sqrt(var + 1e-6), atol=1e-5)
    state = n.save()
    assert len(state) == 36 + 16 * 4
    m = aether.FeatureNorm(4)
    m.load(state)
    assert np.array_equal(m.apply(x[1]), n.apply(x[1]))
    with pytest.raises(aether.ParseError):
        m.load(state[:-1] + bytes([state[-1] ^ 1]))
    with pytest.raises(aether.ShapeMismatchError):
        aether.FeatureNorm(5).load(state)
    bad = x[0].copy()
    bad[0] = np.inf
    with pytest.raises(aether.NonFiniteError):
        n.update(bad)
    n.reset()
    assert len(n) == 0


def test_feature_recipes():
    frames = list(aether.read_recording(data_path(RAW)))[:300]
    v1 = aether.features(frames, input_dim=17)
    assert np.array_equal(v1, aether.features(frames, input_dim=17, recipe="csi-v1"))
    rows = {}
    for name in ("csi-v1", "csi-v2", "csi-v3"):
        fx = aether.Features(input_dim=17, recipe=name)
        assert fx.recipe == name
        rows[name] = fx.compute_all(frames)
        assert rows[name].shape == (300, 17) and np.isfinite(rows[name]).all()
    # the recipes share the scalar features and differ in the variability slots
    assert np.array_equal(rows["csi-v1"][:, :6], rows["csi-v3"][:, :6])
    assert not np.array_equal(rows["csi-v2"], rows["csi-v3"])
    assert not np.array_equal(rows["csi-v1"], rows["csi-v2"])
    with pytest.raises(aether.AetherError):
        aether.Features(input_dim=17, recipe="csi-v9")
    with pytest.raises(TypeError):
        aether.Features(input_dim=17, recipe=3)
