"""Attention kernels over [seq, heads, dim] float32 arrays.

Every function takes the sparse pattern as keyword arguments (or a ready
`Config` via config=) and returns a new float32 array shaped like q:

    out = aether.attention.forward(q, k, v, window=8, block_size=4)

Inputs are used in place (zero-copy): they must be float32, C-contiguous
3-D arrays [seq, heads, head_dim]; anything else raises TypeError/ValueError
before the C library is called. The C validation (shape agreement, GQA
ratio, ...) raises the matching aether.AetherError subclass.
The GIL is released while a kernel runs.
"""

import ctypes

import numpy as np

from aether import _lib
from aether._common import (Workspace, as_tensor3, check, f32, fptr, mask_array, size_array,
                            tensor, u8ptr, uint)
from aether._lib import fn

__all__ = ["Config", "config", "forward", "gqa", "auto", "dense", "tiled", "gated",
           "gated_fastgrnn", "candidates", "estimate_sparse_edges"]

DEFAULTS = dict(window=128, block_size=64, globals=(0,), causal=True, log_stride=True,
                landmarks=True, sort=False)


class Config(object):
    """A validated sparse-attention configuration (aether_attn_config).

    Immutable once built; kernels and caches keep a reference to it, so the
    C struct they point at lives as long as they do.
    """

    __slots__ = ("window", "block_size", "globals", "causal", "log_stride", "landmarks",
                 "sort", "_c")

    def __init__(self, window=128, block_size=64, globals=(0,), causal=True, log_stride=True,
                 landmarks=True, sort=False):
        window, block_size = int(window), int(block_size)
        if window < 0 or block_size < 0:
            raise ValueError("window and block_size must be non-negative")
        window, block_size = uint(window, "window"), uint(block_size, "block_size")
        if globals is None:
            globals = ()
        if isinstance(globals, (int, np.integer)):
            globals = (globals,)
        arr, n = size_array(globals, "globals")
        p = _lib.AttnParams()
        p.window, p.block_size = window, block_size
        p.globals = ctypes.cast(arr, _lib.size_p) if n else None
        p.n_globals = n
        p.causal, p.use_log_stride = int(bool(causal)), int(bool(log_stride))
        p.use_landmarks, p.sort_candidates = int(bool(landmarks)), int(bool(sort))
        c = _lib.AttnConfig()
        check(fn.attn_config_init(ctypes.byref(c), ctypes.byref(p)))
        self._c = c
        self.window, self.block_size = window, block_size
        self.globals = tuple(int(g) for g in globals)
        self.causal, self.log_stride = bool(causal), bool(log_stride)
        self.landmarks, self.sort = bool(landmarks), bool(sort)

    @property
    def ref(self):
        return ctypes.byref(self._c)

    def as_dict(self):
        return dict(window=self.window, block_size=self.block_size, globals=self.globals,
                    causal=self.causal, log_stride=self.log_stride,
                    landmarks=self.landmarks, sort=self.sort)

    def __repr__(self):
        return "Config(%s)" % ", ".join("%s=%r" % kv for kv in self.as_dict().items())

    def __eq__(self, other):
        return isinstance(other, Config) and self.as_dict() == other.as_dict()

    __hash__ = None


def config(config=None, **kwargs):
    """Config from keyword arguments (DEFAULTS for the missing ones), or the
    given Config when no keyword overrides it."""
    if config is not None:
        if not isinstance(config, Config):
            raise TypeError("config must be an aether.attention.Config")
        if not kwargs:
            return config
        merged = config.as_dict()
        merged.update(kwargs)
        return Config(**merged)
    unknown = set(kwargs) - set(DEFAULTS)
    if unknown:
        raise TypeError("unknown attention option(s): %s" % ", ".join(sorted(unknown)))
    merged = dict(DEFAULTS)
    merged.update(kwargs)
    return Config(**merged)


def _forward_ws(cfg, tq, tk):
    return Workspace(fn.attn_forward_workspace_size, cfg.ref, tq.seq, tq.heads, tk.heads, tq.dim)


def _run(cfn, q, k, v, cfg_kw, extra=(), ws=_forward_ws):
    """One call with a workspace from ws(cfg, tq, tk) (per call: the
    functions are stateless)."""
    cfg = config(**cfg_kw)
    tq, tk, tv = as_tensor3(q, "q"), as_tensor3(k, "k"), as_tensor3(v, "v")
    out = np.zeros(q.shape, dtype=np.float32)
    w = ws(cfg, tq, tk)
    check(cfn(cfg.ref, ctypes.byref(tq), ctypes.byref(tk), ctypes.byref(tv),
              ctypes.byref(tensor(out)), *(tuple(extra) + w.args)))
    return out


def forward(q, k, v, **cfg):
    """Sparse MHA prefill (aether_attn_forward); q, k, v share one shape."""
    return _run(fn.attn_forward, q, k, v, cfg)


def gqa(q, k, v, **cfg):
    """Sparse GQA/MQA prefill: query head h reads kv head h // (q_heads // kv_heads)."""
    return _run(fn.attn_forward_gqa, q, k, v, cfg)


def auto(q, k, v, **cfg):
    """forward when q and k have equal head counts, gqa otherwise."""
    return _run(fn.attn_forward_auto, q, k, v, cfg)


_ORDERS = {"reference": 0, "forward": 1}


def tiled(q, k, v, tile=0, order="reference", **cfg):
    """Tiled ("flash") prefill with O(tile) scratch. order='reference' follows
    the reference flash visit order, order='forward' equals forward()
    bit for bit. GQA shapes use the GQA tiled kernel."""
    if order not in _ORDERS:
        raise ValueError("order must be 'reference' or 'forward', got %r" % (order,))
    tile = int(tile)
    if tile < 0:
        raise ValueError("tile must be >= 0 (0 = max(window, 1))")
    tile = uint(tile, "tile")
    f32(q, "q", ndim=3)
    f32(k, "k", ndim=3)
    cfn = fn.attn_forward_tiled if q.shape[1] == k.shape[1] else fn.attn_forward_gqa_tiled
    def ws(c, tq, tk):
        return Workspace(fn.attn_forward_tiled_workspace_size, c.ref, tq.seq, tq.heads, tk.heads,
                         tq.dim, tile, _ORDERS[order])
    return _run(cfn, q, k, v, cfg, (tile, _ORDERS[order]), ws)


def dense(q, k, v, causal=True):
    """Exact dense attention (two-pass softmax); MHA or GQA shapes."""
    tq, tk, tv = as_tensor3(q, "q"), as_tensor3(k, "k"), as_tensor3(v, "v")
    out = np.zeros(q.shape, dtype=np.float32)
    check(fn.attn_dense(ctypes.byref(tq), ctypes.byref(tk), ctypes.byref(tv),
                        int(bool(causal)), ctypes.byref(tensor(out))))
    return out


def gated(q, k, v, keep_mask, **cfg):
    """Sparse prefill whose log-stride keys survive only where keep_mask
    (bool or uint8, length seq) is set; GQA shapes use the GQA gated kernel."""
    m = mask_array(keep_mask)
    f32(q, "q", ndim=3)
    f32(k, "k", ndim=3)
    cfn = fn.attn_forward_gated if q.shape[1] == k.shape[1] else fn.attn_forward_gqa_gated
    cfg_obj = config(**cfg)
    tq, tk, tv = as_tensor3(q, "q"), as_tensor3(k, "k"), as_tensor3(v, "v")
    out = np.zeros(q.shape, dtype=np.float32)
    w = Workspace(fn.attn_forward_gated_workspace_size, cfg_obj.ref, tq.seq, tq.heads, tk.heads,
                  tq.dim)
    check(cfn(cfg_obj.ref, ctypes.byref(tq), ctypes.byref(tk), ctypes.byref(tv),
              u8ptr(m) if m.size else None, m.size, ctypes.byref(tensor(out)), *w.args))
    return out


def gated_fastgrnn(q, k, v, gate, top_k, **cfg):
    """salience = gate.score_kv(k); mask = top_k of the saliences; then the
    gated forward. Returns (out, salience, keep_mask)."""
    from aether.gate import FastGRNN
    if not isinstance(gate, FastGRNN):
        raise TypeError("gate must be an aether.gate.FastGRNN")
    top_k = int(top_k)
    if top_k < 0:
        raise ValueError("top_k must be >= 0")
    top_k = uint(top_k, "top_k")
    cfg_obj = config(**cfg)
    tq, tk, tv = as_tensor3(q, "q"), as_tensor3(k, "k"), as_tensor3(v, "v")
    out = np.zeros(q.shape, dtype=np.float32)
    sal = np.zeros(q.shape[0], dtype=np.float32)
    mask = np.zeros(q.shape[0], dtype=np.uint8)
    with gate._h.lock:
        g = gate._h.get("gate")
        w = Workspace(fn.attn_forward_gated_fastgrnn_workspace_size, cfg_obj.ref, g, tq.seq,
                      tq.heads, tk.heads, tq.dim, top_k)
        check(fn.attn_forward_gated_fastgrnn(cfg_obj.ref, g, ctypes.byref(tq),
                                             ctypes.byref(tk), ctypes.byref(tv), top_k,
                                             ctypes.byref(tensor(out)), fptr(sal),
                                             u8ptr(mask), *w.args))
    return out, sal, mask.astype(bool)


def candidates(i, seq, **cfg):
    """The candidate lists of query i in push order: (tokens, blocks) as
    int64 arrays (before sort_candidates is applied)."""
    c = config(**cfg)
    i, seq = int(i), int(seq)
    if not 0 <= i < seq:
        raise ValueError("need 0 <= i < seq")
    out = []
    for cap_fn, list_fn in ((fn.pattern_max_tokens, fn.pattern_tokens),
                            (fn.pattern_max_blocks, fn.pattern_blocks)):
        cap = max(int(cap_fn(c.ref, seq)), 1)
        buf = (ctypes.c_size_t * cap)()
        n = ctypes.c_size_t()
        check(list_fn(c.ref, i, seq, buf, cap, ctypes.byref(n)))
        out.append(np.array(buf[:n.value], dtype=np.int64))
    return tuple(out)


def estimate_sparse_edges(seq, **cfg):
    """Sum over queries of |tokens| + |blocks| for one head."""
    # -1 reached C as 2**64 - 1 queries: a loop that never ended
    return int(fn.estimate_sparse_edges(config(**cfg).ref, uint(seq, "seq")))
