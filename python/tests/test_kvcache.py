import gc

import numpy as np
import pytest

import aether
from aether import attention
from conftest import Case, bits_equal, rng_f32
from test_attention import _cases


def _stream(c, cache, cfg=None):
    q, k, v = c["q"], c["k"], c["v"]
    outs = []
    for t in range(q.shape[0]):
        cache.append(k[t], v[t])
        outs.append(cache.decode(q[t], config=cfg))
    return np.stack(outs)


@pytest.mark.parametrize("name", _cases("decode_step"))
def test_decode_golden_welford(name):
    c = Case(name)
    cache = aether.KVCache(c.meta["capacity"], c.meta["kv_heads"], c.meta["head_dim"],
                           landmark_mode="welford", **c.cfg())
    assert bits_equal(_stream(c, cache), c["out_steps"])
    lk, lv = c["landmarks_keys_final"], c["landmarks_values_final"]
    for b in range(lk.shape[0]):
        k, v = cache.landmark(b)
        assert bits_equal(k.reshape(lk[b].shape), lk[b])
        assert bits_equal(v.reshape(lv[b].shape), lv[b])


@pytest.mark.parametrize("name", _cases("decode_step_f16"))
def test_decode_f16_golden(name):
    c = Case(name)
    cfg = attention.Config(**c.cfg(sort=False))  # the reference f16 decode never sorts
    cache = aether.KVCache(c.meta["capacity"], c.meta["kv_heads"], c.meta["head_dim"],
                           storage="f16", landmark_mode="welford", config=cfg)
    assert bits_equal(_stream(c, cache), c["out_steps"])
    k0, _ = cache.slot_rows(0)
    kb = c["k_f16_bits"][0].astype(np.uint16).view(np.float16).astype(np.float32)
    assert bits_equal(k0, kb)


@pytest.mark.parametrize("storage", ["f16", "bf16", "int8"])
def test_reduced_storage_near_f32(storage):
    # the accuracy contract of aether_kv_storage (include/aether/kvcache.h)
    eps, eta = {"f16": (2.0 ** -11, 2.0 ** -25), "bf16": (2.0 ** -8, 2.0 ** -133),
                "int8": (1.0 / 127, 2.0 ** -16)}[storage]
    rng = np.random.default_rng(7)
    d = 32
    ref = aether.KVCache(200, 2, d, window=16, block_size=8)
    red = aether.KVCache(200, 2, d, storage=storage, window=16, block_size=8)
    worst = 0.0
    for _ in range(150):
        k = rng.uniform(-1, 1, (2, d)).astype(np.float32)
        v = rng.uniform(-1, 1, (2, d)).astype(np.float32)
        q = rng.uniform(-1, 1, (4, d)).astype(np.float32)
        ref.append(k, v)
        red.append(k, v)
        worst = max(worst, float(np.max(np.abs(red.decode(q) - ref.decode(q)))))
    bound = (eps + eta) + np.expm1(2.0 * np.sqrt(d) * (eps + eta))
    assert 0.0 < worst <= bound
    assert red.storage == storage
    with pytest.raises(aether.AetherError):
        aether.KVCache(10, 1, 4, storage=storage, policy="h2o")


@pytest.mark.parametrize("name", _cases("decode_batch"))
def test_decode_batch_golden(name):
    c = Case(name)
    p = c.meta["prefill_len"]
    q, k, v = c["q"], c["k"], c["v"]
    cache = aether.KVCache(c.meta["capacity"], c.meta["kv_heads"], c.meta["head_dim"],
                           landmark_mode="welford", **c.cfg())
    cache.append_all(np.ascontiguousarray(k[:p]), np.ascontiguousarray(v[:p]))
    assert len(cache) == p
    out = cache.decode_batch(q[p:], k[p:], v[p:])
    assert bits_equal(out, c["out"])
    assert len(cache) == q.shape[0] and cache.is_full


@pytest.mark.parametrize("name", _cases("temporal_forward_and_step"))
def test_temporal_golden_forward_and_step(name):
    c = Case(name)
    t = c.meta["temporal_config"]
    cfg = dict(window=t["window"], block_size=t["block_size"], globals=(0,),
               causal=t["causal"])
    assert bits_equal(attention.auto(c["q"], c["k"], c["v"], **cfg), c["out"])
    cache = aether.KVCache(c.meta["seq"], t["kv_heads"], t["head_dim"],
                           landmark_mode="welford", **cfg)
    assert bits_equal(_stream(c, cache), c["out_steps"])


@pytest.mark.parametrize("name", _cases("kvcache_evict_and_append"))
def test_h2o_golden(name):
    c = Case(name)
    m = c.meta
    cache = aether.KVCache(m["capacity"], m["kv_heads"], m["head_dim"], policy="h2o",
                           landmark_mode="welford", **c.cfg())
    q, k, v = c["q"], c["k"], c["v"]
    scores, evicted, lens = c["scores_steps"], c["evicted_slot"], c["len_steps"]
    ids, out_steps = c["slot_token_ids_steps"], c["out_steps"]
    for t in range(q.shape[0]):
        n = len(cache)
        s = np.ascontiguousarray(scores[t, :n]) if cache.is_full else \
            np.zeros(0, np.float32)
        slot = cache.evict_and_append(k[t], v[t], s, globals=m["evict_globals"],
                                      window=m["evict_window"])
        assert (slot if slot is not None else -1) == evicted[t]
        assert len(cache) == lens[t]
        assert [cache.slot_token(i) for i in range(len(cache))] == \
            ids[t][:len(cache)].tolist()
        assert bits_equal(cache.decode(q[t]), out_steps[t])


def test_lm_sum_decode_equals_forward_rows():
    cfg = dict(window=8, block_size=4, globals=(0,))
    q, k, v = rng_f32(40, 4, 8, seed=1), rng_f32(40, 2, 8, seed=2), rng_f32(40, 2, 8, seed=3)
    fwd = attention.gqa(q, k, v, **cfg)
    cache = aether.KVCache(40, 2, 8, **cfg)
    for t in range(40):
        cache.append(k[t], v[t])
        assert bits_equal(cache.decode(q[t]), fwd[t])
        # a [1, heads, dim] query gives a [1, heads, dim] answer
        assert cache.decode(q[t:t + 1]).shape == (1, 4, 8)


def test_properties_reset_and_full():
    cache = aether.KVCache(3, 1, 4, window=2, block_size=2)
    assert len(cache) == 0 and cache.capacity == 3 and not cache.is_full
    assert cache.block_size == 2 and cache.nbytes > 0
    row = np.ones((1, 4), np.float32)
    for _ in range(3):
        cache.append(row, row)
    assert cache.is_full and cache.tokens_seen == 3
    with pytest.raises(aether.CacheFullError) as ei:
        cache.append(row, row)
    assert ei.value.name == "AETHER_ERR_CACHE_FULL" and len(cache) == 3
    cache.reset()
    assert len(cache) == 0 and cache.tokens_seen == 0
    assert "KVCache(len=0" in repr(cache)
    cache.close()
    assert repr(cache) == "KVCache(<closed>)"
    with pytest.raises(ValueError, match="closed"):
        len(cache)


def test_sliding_and_scored_policies_evict():
    for policy in ("sliding", "scored"):
        cache = aether.KVCache(6, 1, 4, policy=policy, window=2, block_size=2)
        x = rng_f32(20, 1, 4, seed=5)
        for t in range(20):
            cache.append(x[t], x[t])
            cache.decode(x[t])
        assert len(cache) == 6 and cache.tokens_seen == 20
        assert cache.slot_token(0) == 0  # global 0 protected
        if policy == "scored":
            assert isinstance(cache.slot_score(1), float)


def test_decode_gated_all_ones_equals_decode():
    cache = aether.KVCache(30, 1, 8, window=4, block_size=4)
    x = rng_f32(30, 1, 8, seed=9)
    for t in range(30):
        cache.append(x[t], x[t])
    q = rng_f32(2, 8, seed=10)
    assert bits_equal(cache.decode_gated(q, np.ones(30, bool)), cache.decode(q))
    with pytest.raises(aether.MaskLengthError):
        cache.decode_gated(q, np.ones(29, bool))


def test_cache_errors():
    cache = aether.KVCache(8, 2, 4, window=2, block_size=2)
    good = np.zeros((2, 4), np.float32)
    with pytest.raises(aether.KvHeadsMismatchError):
        cache.append(np.zeros((3, 4), np.float32), np.zeros((3, 4), np.float32))
    with pytest.raises(aether.HeadDimMismatchError):
        cache.append(np.zeros((2, 5), np.float32), np.zeros((2, 5), np.float32))
    with pytest.raises(aether.ShapeMismatchError):
        cache.append(np.zeros((2, 2, 4), np.float32), np.zeros((2, 2, 4), np.float32))
    bad = good.copy()
    bad[0, 0] = np.nan
    with pytest.raises(aether.NonFiniteError) as ei:
        cache.append(bad, good)
    assert ei.value.name == "AETHER_ERR_NONFINITE" and len(cache) == 0
    with pytest.raises(TypeError):
        cache.append(good.astype(np.float64), good)
    with pytest.raises(ValueError):
        cache.append(np.zeros((4, 2), np.float32).T, good)
    cache.append(good, good)
    with pytest.raises(aether.GqaRatioError):
        cache.decode(np.zeros((3, 4), np.float32))
    with pytest.raises(aether.BlockMismatchError):
        cache.decode(good, config=attention.Config(window=2, block_size=4))
    with pytest.raises(ValueError):
        aether.KVCache(8, 2, 4, storage="f64")
    with pytest.raises(aether.ZeroHeadDimError):
        aether.KVCache(8, 2, 0)
    with pytest.raises(aether.StateError):
        cache.evict_and_append(good, good, np.zeros(1, np.float32))


def test_cache_keeps_its_config_alive():
    cfg = attention.Config(window=4, block_size=2)
    cache = aether.KVCache(10, 1, 4, config=cfg)
    del cfg
    gc.collect()
    x = rng_f32(10, 1, 4, seed=3)
    for t in range(10):
        cache.append(x[t], x[t])
        out = cache.decode(x[t])
    assert np.isfinite(out).all()
