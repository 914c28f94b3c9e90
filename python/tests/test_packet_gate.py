import numpy as np
import pytest

import aether
from aether import gate, packet
from conftest import bits_equal, rng_f32


def test_packet_roundtrip():
    logits = np.array([0.5, 2.0, -1.0, 1.5], np.float32)
    assert packet.argmax(logits) == (1, 2.0, 0.5)
    data = packet.encode(logits, node_id=7, ts_us=123456789012, seq=3)
    assert len(data) == 40 and data[:4] == (0xC5110007).to_bytes(4, "little")
    p = packet.decode(data)
    assert (p.n_classes, p.argmax, p.node_id, p.ts_us, p.seq) == (4, 1, 7, 123456789012, 3)
    assert p.top_logit == 2.0 and p.margin == 0.5 and p.version == 1
    assert p.crc == aether.crc32(data[:36])
    assert packet.encode(p) == data
    q = packet.from_logits(logits, 7, 123456789012, 3)
    assert (q.argmax, q.top_logit, q.margin, q.n_classes) == (1, 2.0, 0.5, 4)


def test_packet_errors():
    data = bytearray(packet.encode(np.array([1.0, 0.0], np.float32)))
    with pytest.raises(aether.PacketSizeError) as ei:
        packet.decode(bytes(data[:39]))
    assert ei.value.name == "AETHER_ERR_PACKET_SIZE"
    bad = bytearray(data)
    bad[0] ^= 1
    with pytest.raises(aether.PacketMagicError):
        packet.decode(bad)
    bad = bytearray(data)
    bad[30] ^= 1
    with pytest.raises(aether.PacketCrcError):
        packet.decode(bad)
    with pytest.raises(aether.PacketArgmaxError):
        packet.encode(packet.Packet(n_classes=2, argmax=5))
    with pytest.raises(aether.PacketClassesError):
        packet.encode(np.zeros(0, np.float32))
    with pytest.raises(ValueError):
        packet.encode(packet.Packet(n_classes=2, argmax=0, node_id=300))
    with pytest.raises(TypeError):
        packet.encode([1.0, 2.0])


def test_fastgrnn_step_and_sequence():
    g = gate.FastGRNN(8, 6)
    assert (g.input_dim, g.hidden_dim) == (8, 6)
    x = rng_f32(10, 8, seed=2)
    s = g.score_sequence(x)
    h = np.zeros(6, np.float32)
    for t in range(10):
        h, sal = g.step(x[t], h)
        assert np.float32(sal) == s[t]
        assert np.float32(g.salience(h)) == s[t]
    k = x.reshape(10, 1, 8)
    assert bits_equal(g.score_kv(k), s)
    with pytest.raises(aether.ShapeMismatchError):
        g.step(rng_f32(7))
    with pytest.raises(aether.ShapeMismatchError):
        g.score_kv(rng_f32(10, 1, 7))
    p = g.params()
    g2 = gate.FastGRNN.from_weights(p["w_gate"], p["u_gate"], p["w_update"], p["u_update"])
    assert bits_equal(g2.score_sequence(x), s)
    with pytest.raises(aether.ShapeMismatchError):
        gate.FastGRNN.from_weights(p["w_gate"], p["u_gate"][:3], p["w_update"], p["u_update"])
    with pytest.raises(ValueError):
        gate.FastGRNN(8, 6, seeding="random")
    with pytest.raises(aether.InvalidArgError):
        gate.FastGRNN(0, 6)


def test_keep_masks():
    s = np.array([0.1, 0.9, 0.5, 0.9, np.nan, 0.2], np.float32)
    assert gate.keep_mask_top_k(s, 2).tolist() == [0, 1, 0, 1, 0, 0]
    assert gate.keep_mask_top_k(s, 0).sum() == 0
    q = gate.keep_mask_quantile(s, 0.5)
    assert q.dtype == bool and q.sum() >= 3
    c = gate.keep_mask_causal(s, top_k=2)
    assert c[:2].all() and c.sum() >= gate.keep_mask_top_k(s, 2).sum()
    assert gate.keep_mask_causal(s, threshold=0.5).tolist() == [0, 1, 1, 1, 0, 0]
    with pytest.raises(ValueError):
        gate.keep_mask_causal(s)
    with pytest.raises(aether.InvalidArgError):
        gate.keep_mask_quantile(s, float("nan"))


def test_causal_gate_stream_matches_window():
    g = gate.FastGRNN(8, 8)
    k = rng_f32(30, 2, 8, seed=4)
    sal = g.score_kv(k)
    want = gate.keep_mask_causal(sal, top_k=4)
    cg = gate.CausalGate(g, kv_heads=2, top_k=4)
    got = []
    for t in range(30):
        keep, s = cg.step(k[t])
        assert np.float32(s) == sal[t]
        got.append(keep)
    assert got == want.tolist() and cg.position == 30
    cg.reset()
    assert cg.position == 0
    with pytest.raises(aether.ShapeMismatchError):
        cg.step(rng_f32(3, 8))
