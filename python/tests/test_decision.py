"""Calibrated probabilities and "unknown" (aether.decide, Model.decide,
Model.predict_proba) against a NumPy reference, and the calibration keys of
the model metadata."""
import os
import struct

import numpy as np
import pytest

import aether

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GESTURE = os.path.join(ROOT, "models", "gesture.rvne")


def _reference(logits, t):
    x = np.asarray(logits, np.float64) / t
    e = np.exp(x - x.max())
    return e / e.sum()


def test_decide_matches_numpy():
    logits = [0.5, 3.0, 1.0]
    for t in (0.5, 1.0, 4.0):
        d = aether.decide(logits, temperature=t)
        assert d["class"] == 1 and not d["unknown"]
        assert d["probability"] == pytest.approx(_reference(logits, t)[1], rel=1e-6)
    d = aether.decide(logits, temperature=4.0, unknown_below=0.9, labels=["a", "b", "c"])
    assert d["unknown"] and d["label"] == "unknown" and d["top_label"] == "b"


def test_decide_rejects_bad_input():
    with pytest.raises(aether.NonFiniteError):
        aether.decide([1.0, float("nan")])
    with pytest.raises(aether.InvalidArgError):
        aether.decide([1.0, 0.0], temperature=0.0)
    with pytest.raises(aether.InvalidArgError):
        aether.decide([1.0, 0.0], unknown_below=1.5)


def _gesture_with(extra):
    """The gesture blob with extra metadata lines appended to its record."""
    blob = aether.Blob.load(GESTURE)
    m = blob.meta
    text = "labels=%s\npool=%s\nwindow_frames=%d\nwindow_stride=%d\nfeatures=%s\ninput_dim=%d\n" % (
        ",".join(m["labels"]), m["pool"], m["window_frames"], m["window_stride"],
        m["features"], m["input_dim"]) + extra
    return blob.with_metadata(text)


def test_model_uses_the_calibration():
    blob = _gesture_with("temperature=8\nunknown_below=0.99\n")
    assert blob.meta["temperature"] == 8.0 and blob.meta["unknown_below"] == pytest.approx(0.99)
    model = aether.Model(blob)
    D = blob.meta["input_dim"]
    x = np.random.RandomState(3).standard_normal((64, D)).astype(np.float32)
    logits = model.classify(x, pool="mean")
    p = model.predict_proba(x, pool="mean")
    assert np.allclose(p, _reference(logits, 8.0), rtol=1e-5, atol=1e-7)
    d = model.decide(logits)
    assert d["probability"] == pytest.approx(p.max(), rel=1e-6)
    assert d["unknown"] == (d["probability"] < 0.99)


def test_out_of_range_input_is_unknown():
    blob = _gesture_with("ood_above=2\n")
    model = aether.Model(blob)
    D = blob.meta["input_dim"]
    x = np.zeros((64, D), np.float32)
    d_near = model.input_distance(x)
    w = blob.weights()
    lay = blob.validate()
    mean = w[lay["norm_mean"]:lay["norm_mean"] + D]
    inv = w[lay["norm_inv_std"]:lay["norm_inv_std"] + D]
    z = (0.0 - mean) * inv
    assert d_near == pytest.approx(float(np.sqrt(np.mean(z[inv != 0] ** 2))), rel=1e-5)
    near = np.tile(mean, (64, 1)).astype(np.float32)   # the training mean: distance 0
    assert model.input_distance(near) == pytest.approx(0.0, abs=1e-6)
    far = near + 10.0 / np.where(inv != 0, inv, 1.0)   # 10 standard deviations away
    logits = model.classify(far, pool="mean")
    d = model.decide(logits, frames=far)
    assert d["unknown"] and d["out_of_distribution"] and d["label"] == "unknown"
    assert not model.decide(model.classify(near, pool="mean"), frames=near)["out_of_distribution"]


@pytest.mark.parametrize("text,error", [("temperature=0\n", "BlobTemperatureError"),
                                        ("unknown_below=2\n", "BlobThresholdError"),
                                        ("ood_above=-1\n", "BlobThresholdError")])
def test_bad_calibration_is_rejected(text, error):
    blob = _gesture_with(text)
    with pytest.raises(getattr(aether, error)):
        blob.meta
