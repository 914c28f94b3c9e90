"""Hostile bytes and odd inputs give exceptions, never crashes or leaks of
Python-visible state."""

import gc
import weakref

import numpy as np
import pytest

import aether
from aether import packet
from conftest import rng_f32


def test_mutated_blobs_parse_or_raise_blob_errors():
    good = bytearray(aether.Blob.demo(layers=1, head_dim=8, q_heads=2).tobytes())
    rng = np.random.default_rng(1234)
    outcomes = set()
    for trial in range(300):
        data = bytearray(good)
        for _ in range(rng.integers(1, 4)):
            data[rng.integers(0, len(data))] = rng.integers(0, 256)
        if trial % 5 == 0:
            data = data[:rng.integers(0, len(data))]
        try:
            b = aether.Blob(bytes(data))
        except aether.BlobError as exc:
            outcomes.add(exc.name)
            continue
        try:
            aether.Model(b).classify(np.zeros((2, b.header["input_dim"]), np.float32))
            outcomes.add("ok")
        except aether.AetherError as exc:
            outcomes.add(exc.name)
    assert "AETHER_ERR_BLOB_CRC" in outcomes and "AETHER_ERR_BLOB_TOO_SHORT" in outcomes


def test_random_packets_and_frames():
    rng = np.random.default_rng(99)
    good = packet.encode(np.array([0.1, 0.7, 0.2], np.float32))
    for _ in range(300):
        data = bytes(rng.integers(0, 256, size=rng.integers(0, 60), dtype=np.uint8))
        with pytest.raises(aether.PacketError):
            packet.decode(data)
        mutated = bytearray(good)
        mutated[rng.integers(0, 40)] ^= 1 << rng.integers(0, 8)
        with pytest.raises(aether.PacketError):
            packet.decode(bytes(mutated))
        with pytest.raises(aether.RecordingError):
            aether.Frame.from_adr018(data)


def test_garbage_recording_is_counted_not_fatal(tmp_path):
    rng = np.random.default_rng(5)
    lines = []
    for _ in range(50):
        junk = bytes(rng.integers(32, 127, size=40, dtype=np.uint8)).decode()
        lines.append('{"type": "raw_csi", "node_id": 1, "iq_hex": "%s"}' % junk)
    lines.append('{"type": "raw_csi", "node_id": 1, "timestamp": 1.0, "subcarriers": 64')
    path = tmp_path / "junk.csi.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with aether.read_recording(str(path)) as rec:
        frames = list(rec)
        st = rec.stats
    assert frames == [] and st["records"] == 51
    assert st["malformed"] + st["skipped"]["other"] == 51
    assert len(st["errors"]) == min(8, st["malformed"])
    assert all(e["name"].startswith("AETHER_ERR_") and e["reason"] for e in st["errors"])


def test_objects_are_released_when_collected():
    cache = aether.KVCache(4, 1, 4, window=2, block_size=2)
    model = aether.Model(aether.Blob.demo())
    session = model.stream(capacity=8)
    refs = [weakref.ref(o._h) for o in (cache, model, session)]
    del cache, model, session
    gc.collect()
    assert all(r() is None for r in refs)


def test_extreme_values_stay_finite_or_raise():
    q = rng_f32(32, 2, 8) * np.float32(1e30)
    out = aether.attention.forward(q, q, q, window=4, block_size=4)
    assert out.shape == q.shape
    inf = q.copy()
    inf[3, 0, 0] = np.inf
    try:
        res = aether.attention.forward(inf, inf, inf, window=4, block_size=4)
        assert res.shape == q.shape  # the kernels may propagate non-finite values
    except aether.NonFiniteError:
        pass
