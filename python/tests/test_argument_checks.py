"""Arguments that do not fit what they describe raise, instead of being taken
as something else.

Integer arguments that do not fit the C field they go to raise ValueError.

ctypes stores an integer modulo 2**bits, so before these checks a negative or
too large value reached the library as another, valid-looking number: a
packet for node 300 was sent as node 44, Blob.demo(classes=65539) made a
3-class blob, KVCache(2**64 + 5, ...) a cache of 5 rows. Labels (and a
model's logits) of another count than the classes raise ShapeMismatchError.
"""

import numpy as np
import pytest

import aether
from aether import packet

SIZE_MAX = 2 ** (8 * np.dtype(np.uintp).itemsize) - 1


def test_packet_fields_out_of_range():
    logits = np.array([0.1, 0.7, 0.2], np.float32)
    for kw in ({"node_id": 256}, {"node_id": 300}, {"node_id": -1}, {"seq": 2 ** 32},
               {"ts_us": -1}, {"ts_us": 2 ** 64}):
        with pytest.raises(ValueError):
            packet.from_logits(logits, **kw)
        with pytest.raises(ValueError):
            packet.encode(logits, **kw)
    p = packet.decode(packet.encode(logits, node_id=255, ts_us=2 ** 64 - 1, seq=2 ** 32 - 1))
    assert (p.node_id, p.ts_us, p.seq, p.argmax) == (255, 2 ** 64 - 1, 2 ** 32 - 1, 1)


def test_blob_header_fields_out_of_range():
    for kw in ({"classes": 65536 + 3}, {"input_dim": -16}, {"head_dim": 65536 + 32},
               {"seed": -1}, {"seed": 2 ** 64}):
        with pytest.raises(ValueError):
            aether.Blob.demo(**kw)
    b = aether.Blob.demo(classes=3, seed=2 ** 64 - 1)
    assert b.header["n_classes"] == 3
    w = np.zeros(aether.Blob.demo().weights().size, np.float32)
    with pytest.raises(ValueError):
        aether.Blob.from_weights(w, 16 + 65536, 4, 1, 32, 2, 4)
    with pytest.raises(ValueError):
        aether.Blob.from_weights(w, 16, 4, 1, 32, 2, 4, flags=256)
    assert aether.Blob.from_weights(w, 16, 4, 1, 32, 2, 4).header["input_dim"] == 16


def test_sizes_out_of_range():
    with pytest.raises(ValueError):
        aether.KVCache(SIZE_MAX + 6, 1, 8)
    with pytest.raises(ValueError):
        aether.KVCache(-1, 1, 8)
    with pytest.raises(ValueError):
        aether.KVCache(16, 1, 8, protect_recent=-2)
    assert aether.KVCache(6, 1, 8).capacity == 6
    model = aether.Model(aether.Blob.demo())
    with pytest.raises(ValueError):
        model.stream(capacity=SIZE_MAX + 9)
    with pytest.raises(ValueError):
        model.window(frames=-1)
    with pytest.raises(ValueError):
        aether.Model(aether.Blob.demo(), block_size=SIZE_MAX + 17)
    with pytest.raises(ValueError):
        aether.attention.Config(window=SIZE_MAX + 9)
    with pytest.raises(ValueError):
        aether.attention.Config(globals=(SIZE_MAX + 1,))
    with pytest.raises(ValueError):
        aether.Features(input_dim=SIZE_MAX + 17)
    assert model.window(frames=8).frames == 8


def test_decide_labels_and_logits_must_match_the_classes():
    logits = np.array([0.2, 1.5, 0.1], np.float32)
    # one label for three logits raised IndexError (or, with the argmax on
    # the first, named the decision after a list that does not fit)
    with pytest.raises(aether.ShapeMismatchError):
        aether.decide(logits, labels=["a"])
    with pytest.raises(aether.ShapeMismatchError):
        aether.decide(np.array([2.0, 1.0, 0.0], np.float32), labels=["a", "b"])
    with pytest.raises(aether.ShapeMismatchError):
        aether.decide(logits, labels=["a", "b", "c", "d"])
    d = aether.decide(logits, labels=["a", "b", "c"])
    assert (d["class"], d["label"], d["top_label"]) == (1, "b", "b")
    model = aether.Model(aether.Blob.demo(classes=3).with_metadata("labels=x,y,z\n"))
    with pytest.raises(aether.ShapeMismatchError):
        model.decide(np.array([1.0, 0.0, 0.0, 0.0, 5.0], np.float32))
    with pytest.raises(aether.ShapeMismatchError):
        model.decide(np.array([1.0, 0.0], np.float32))
    assert model.decide(logits)["label"] == "y"


def test_frame_header_fields_out_of_range():
    iq = np.ones((64, 2), np.int8)
    for kw in ({"rssi": 300}, {"rssi": -200}, {"noise_floor": -129}, {"n_antennas": 257},
               {"freq_mhz": 2437 + 2 ** 32}, {"sequence": 2 ** 32 + 7}, {"node_id": -1}):
        with pytest.raises(ValueError):
            aether.Frame(iq=iq, flags=8, **kw)
    f = aether.Frame(iq=iq, flags=8, n_antennas=1, rssi=-40, noise_floor=-92, freq_mhz=2437,
                     sequence=2 ** 32 - 1, node_id=3)
    g = aether.Frame.from_adr018(f.to_adr018())
    assert (g.rssi, g.noise_floor, g.freq_mhz, g.sequence, g.node_id) == \
        (-40, -92, 2437, 2 ** 32 - 1, 3)
    f.rssi = -200  # set after construction: still checked before C sees it
    with pytest.raises(ValueError):
        f.to_adr018()


def test_counts_out_of_range():
    from aether import attention, gate
    s = np.array([0.5, 0.1, 0.9, 0.3], np.float32)
    # k = -1 reached C as 2**64 - 1 and kept everything; 2**64 + 1 kept one
    for k in (-1, 2 ** 64 + 1):
        with pytest.raises(ValueError):
            gate.keep_mask_top_k(s, k)
        with pytest.raises(ValueError):
            gate.keep_mask_causal(s, top_k=k)
    assert gate.keep_mask_top_k(s, 1).tolist() == [False, False, True, False]
    with pytest.raises(ValueError):
        gate.FastGRNN(2 ** 64 + 4, 4)
    # seq = -1 was 2**64 - 1 queries to count: it never returned
    with pytest.raises(ValueError):
        attention.estimate_sparse_edges(-1)
    assert attention.estimate_sparse_edges(0) == 0
    q = np.zeros((8, 2, 4), np.float32)
    with pytest.raises(ValueError):
        attention.tiled(q, q, q, tile=2 ** 64 + 2)
    with pytest.raises(ValueError):
        aether.Features().forget(2 ** 32 + 1)


def test_num_threads_out_of_range():
    before = aether.get_num_threads()
    with pytest.raises(ValueError):
        aether.set_num_threads(2 ** 32 + 2)  # was 2 threads
    with pytest.raises(ValueError):
        aether.set_num_threads(-1)
    assert aether.get_num_threads() == before


def test_recording_used_after_close_raises():
    """Iterating a closed Recording ended quietly, as if the file were read
    to its end; it raises ValueError ("... is closed") like every other
    object used after close(), also in the middle of an iteration."""
    from conftest import data_path
    rec = aether.read_recording(data_path("amplitude-features.csi.jsonl"))
    it = iter(rec)
    first = next(it)
    assert first.kind == "amplitude" and first.n_pairs == 56
    rec.close()
    for use in (lambda: next(it), lambda: list(rec), lambda: rec.stats, lambda: rec.format):
        with pytest.raises(ValueError, match="Recording is closed"):
            use()
    rec.close()  # idempotent
    with aether.read_recording(data_path("amplitude-features.csi.jsonl")) as r2:
        n = sum(1 for _ in r2)
    assert n == 253
    with pytest.raises(ValueError, match="closed"):
        next(iter(r2))
