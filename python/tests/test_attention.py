import json
import os

import numpy as np
import pytest

import aether
from aether import attention
from conftest import GOLDEN, Case, bits_equal, rng_f32


def _cases(op):
    try:
        with open(os.path.join(GOLDEN, "index.json")) as f:
            ops = json.load(f)["cases_op"]
    except OSError:
        return ["<no goldens>"]
    return sorted(name for name, o in ops.items() if o == op)


@pytest.mark.parametrize("name", _cases("forward"))
def test_forward_golden_bit_exact(name):
    c = Case(name)
    out = attention.forward(c["q"], c["k"], c["v"], **c.cfg())
    assert bits_equal(out, c["out"])


@pytest.mark.parametrize("name", _cases("forward_gqa"))
def test_gqa_golden_bit_exact(name):
    c = Case(name)
    out = attention.gqa(c["q"], c["k"], c["v"], **c.cfg())
    assert bits_equal(out, c["out"])
    assert bits_equal(attention.auto(c["q"], c["k"], c["v"], **c.cfg()), c["out"])


@pytest.mark.parametrize("name", _cases("dense_attention"))
def test_dense_golden_bit_exact(name):
    c = Case(name)
    out = attention.dense(c["q"], c["k"], c["v"], causal=c.meta["causal"])
    assert bits_equal(out, c["out"])


@pytest.mark.parametrize("name", _cases("forward_flash") + _cases("forward_gqa_flash"))
def test_tiled_golden_both_orders(name):
    c = Case(name)
    q, k, v = c["q"], c["k"], c["v"]
    tile = c.meta["tile_size"]
    assert bits_equal(attention.tiled(q, k, v, tile=tile, order="reference", **c.cfg()),
                      c["out"])
    assert bits_equal(attention.tiled(q, k, v, tile=tile, order="forward", **c.cfg()),
                      c["out_forward"])


@pytest.mark.parametrize("name", _cases("forward_gated"))
def test_gated_golden_bit_exact(name):
    c = Case(name)
    mask = c["keep_mask"]
    assert mask.dtype == np.uint8
    out = attention.gated(c["q"], c["k"], c["v"], mask, **c.cfg())
    assert bits_equal(out, c["out"])
    # bool masks are accepted without a copy
    assert bits_equal(attention.gated(c["q"], c["k"], c["v"], mask.astype(bool), **c.cfg()),
                      c["out"])


@pytest.mark.parametrize("name", _cases("forward_gated_with_fastgrnn"))
def test_gated_fastgrnn_golden(name):
    c = Case(name)
    g = c.meta["gate"]
    gate = aether.gate.FastGRNN(g["input_dim"], g["hidden_dim"])
    p = gate.params()
    for key in ("w_gate", "u_gate", "w_update", "u_update"):
        assert bits_equal(p[key], c["gate_" + key])
    out, sal, mask = attention.gated_fastgrnn(c["q"], c["k"], c["v"], gate, g["top_k"],
                                              **c.cfg())
    assert bits_equal(sal, c["salience"])
    assert np.array_equal(mask, c["keep_mask"].astype(bool))
    assert bits_equal(out, c["out"])
    assert bits_equal(gate.score_kv(c["k"]), c["salience"])
    assert np.array_equal(aether.gate.keep_mask_top_k(c["salience"], g["top_k"]), mask)


@pytest.mark.parametrize("name", _cases("candidates"))
def test_candidates_golden(name):
    c = Case(name)
    seq = c.meta["seq"]
    tok, tok_off = c["tok_flat"], c["tok_offsets"]
    blk, blk_off = c["blk_flat"], c["blk_offsets"]
    cfg = c.cfg()
    total = 0
    for i in range(0, seq, max(1, seq // 37)):
        t, b = attention.candidates(i, seq, **cfg)
        assert t.tolist() == tok[tok_off[i]:tok_off[i + 1]].tolist()
        assert b.tolist() == blk[blk_off[i]:blk_off[i + 1]].tolist()
    total = int(tok_off[-1]) + int(blk_off[-1])
    assert attention.estimate_sparse_edges(seq, **cfg) == total


def test_estimate_edges_matches_case_json():
    c = Case("forward_c_w8_b4_g0_log_lm_s100")
    assert attention.estimate_sparse_edges(100, **c.cfg()) == \
        c.meta["estimate_sparse_edges_per_head"]


def test_config_object_and_overrides():
    cfg = attention.Config(window=8, block_size=4, globals=[0, 3])
    assert cfg.globals == (0, 3) and cfg.causal
    assert attention.config(cfg) is cfg
    assert attention.config(cfg, causal=False).causal is False
    q = rng_f32(20, 2, 8)
    assert bits_equal(attention.forward(q, q, q, config=cfg),
                      attention.forward(q, q, q, window=8, block_size=4, globals=(0, 3)))
    with pytest.raises(TypeError):
        attention.forward(q, q, q, windw=3)
    with pytest.raises(aether.BlockSizeError) as ei:
        attention.Config(block_size=0)
    assert ei.value.name == "AETHER_ERR_BLOCK_SIZE"
    with pytest.raises(aether.TooManyGlobalsError):
        attention.Config(globals=range(65))


def test_seq_zero_is_empty():
    q = np.zeros((0, 2, 8), np.float32)
    assert attention.forward(q, q, q).shape == (0, 2, 8)


# ------------------------------------------------------------------ errors


def test_wrong_dtype_is_type_error():
    q = rng_f32(8, 2, 4).astype(np.float64)
    with pytest.raises(TypeError, match="float32"):
        attention.forward(q, q, q)
    with pytest.raises(TypeError, match="ndarray"):
        attention.forward(q.tolist(), q, q)
    big_endian = rng_f32(8, 2, 4).astype(">f4")
    with pytest.raises(TypeError):
        attention.forward(big_endian, big_endian, big_endian)


def test_non_contiguous_is_value_error():
    q = rng_f32(8, 2, 8)
    view = q[:, :, ::2]
    with pytest.raises(ValueError, match="contiguous"):
        attention.forward(view, view, view)
    f = np.asfortranarray(q)
    with pytest.raises(ValueError, match="contiguous"):
        attention.dense(f, f, f)


def test_wrong_rank_is_shape_error():
    q = rng_f32(8, 8)
    with pytest.raises(aether.ShapeMismatchError) as ei:
        attention.forward(q, q, q)
    assert ei.value.name == "AETHER_ERR_SHAPE_MISMATCH"


def test_c_shape_errors_carry_status_names():
    q = rng_f32(4, 2, 8)
    v5 = rng_f32(5, 2, 8)
    with pytest.raises(aether.ShapeMismatchError) as ei:
        attention.forward(q, q, v5)
    assert ei.value.status == 10 and "AETHER_ERR_SHAPE_MISMATCH" in str(ei.value)
    with pytest.raises(aether.GqaRatioError):
        attention.gqa(rng_f32(4, 3, 4), rng_f32(4, 2, 4), rng_f32(4, 2, 4))
    with pytest.raises(aether.HeadDimMismatchError):
        attention.gqa(rng_f32(4, 4, 4), rng_f32(4, 2, 8), rng_f32(4, 2, 8))
    z = np.zeros((4, 2, 0), np.float32)
    with pytest.raises(aether.ZeroHeadDimError):
        attention.forward(z, z, z)
    with pytest.raises(aether.MaskLengthError):
        attention.gated(q, q, q, np.ones(3, np.uint8))
    with pytest.raises(TypeError):
        attention.gated(q, q, q, np.ones(4, np.int32))
    with pytest.raises(ValueError):
        attention.tiled(q, q, q, order="sideways")


def test_inputs_are_not_modified():
    q = rng_f32(16, 2, 8)
    before = q.copy()
    attention.forward(q, q, q, window=4, block_size=4)
    assert bits_equal(q, before)
