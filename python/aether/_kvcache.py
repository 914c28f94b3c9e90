"""aether.KVCache: the streaming key/value cache and single-token decode."""

import ctypes

import numpy as np

from aether import _lib
from aether._common import Handle, Workspace, check, f32, fptr, mask_array, shape_error, \
    size_array, tensor, u8ptr, uint
from aether._lib import fn
from aether.attention import Config, config as make_config

_STORAGE = {"f32": 0, "f16": 1, "bf16": 2, "int8": 3}
_LANDMARKS = {"sum": 0, "welford": 1}
_POLICY = {"none": 0, "sliding": 1, "scored": 2, "h2o": 3, "h2o_compat": 3}


def _pick(table, value, what):
    if value not in table:
        raise ValueError("%s must be one of %s, got %r" % (what, ", ".join(sorted(table)), value))
    return table[value]


class KVCache(object):
    """Fixed-capacity K/V cache with incremental landmarks.

    KVCache(capacity, kv_heads, head_dim, window=..., block_size=...,
            globals=(0,), causal=True, log_stride=True, landmarks=True,
            sort=False, storage='f32'|'f16'|'bf16'|'int8',
            policy='none'|'sliding'|'scored'|'h2o',
            landmark_mode='sum'|'welford', protect_tokens=None,
            protect_recent=None, landmark_blocks=0, config=None)

    Token rows are [kv_heads, head_dim] float32 arrays (a leading axis of 1 is
    accepted too); queries are [q_heads, head_dim] (or [1, q_heads, head_dim]),
    q_heads a multiple of kv_heads. The cache owns its C memory and keeps the
    attention Config it decodes with; methods are serialised by a lock.
    """

    def __init__(self, capacity, kv_heads, head_dim, storage="f32", policy="none",
                 landmark_mode="sum", protect_tokens=None, protect_recent=None,
                 landmark_blocks=0, config=None, **attn):
        self.config = make_config(config, **attn)
        p = fn.kvcache_params_default(self.config.ref, uint(capacity, "capacity"),
                                      uint(kv_heads, "kv_heads"), uint(head_dim, "head_dim"))
        p.storage = _pick(_STORAGE, storage, "storage")
        p.landmarks = _pick(_LANDMARKS, landmark_mode, "landmark_mode")
        p.evict = _pick(_POLICY, policy, "policy")
        self._protect = None
        if protect_tokens is not None:
            self._protect, n = size_array(protect_tokens, "protect_tokens")
            p.protect_tokens = ctypes.cast(self._protect, _lib.size_p) if n else None
            p.n_protect = n
        if protect_recent is not None:
            p.protect_recent = uint(protect_recent, "protect_recent")
        p.landmark_blocks = uint(landmark_blocks, "landmark_blocks")
        ptr = ctypes.c_void_p()
        check(fn.kvcache_create(ctypes.byref(p), ctypes.byref(ptr)))
        self._h = Handle(ptr.value, fn.kvcache_destroy, keep=(self.config,))
        self.storage, self.policy, self.landmark_mode = storage, policy, landmark_mode
        self.kv_heads, self.head_dim = int(kv_heads), int(head_dim)

    # -- helpers
    def _ptr(self):
        return self._h.get("KVCache")

    def _row(self, a, name, heads):
        a = f32(a, name, ndim=(2, 3))
        if a.ndim == 3 and a.shape[0] != 1:
            raise shape_error("%s must be [heads, dim] or [1, heads, dim], got %s"
                              % (name, list(a.shape)))
        a3 = a.reshape((1,) + a.shape[-2:])
        if heads is not None and a3.shape[1:] != (heads, self.head_dim):
            raise shape_error("%s must have %d heads of dim %d, got %s"
                              % (name, heads, self.head_dim, list(a.shape)))
        return a3

    # -- appending
    def append(self, k, v):
        """Append one token's K and V rows ([kv_heads, head_dim] each)."""
        k3, v3 = self._row(k, "k", None), self._row(v, "v", None)
        tk, tv = tensor(k3), tensor(v3)
        with self._h.lock:
            check(fn.kvcache_append(self._ptr(), ctypes.byref(tk), ctypes.byref(tv)))

    def append_all(self, k, v):
        """Prefill n tokens at once: k, v are [n, kv_heads, head_dim] (all-or-nothing)."""
        k, v = f32(k, "k", ndim=3), f32(v, "v", ndim=3)
        tk, tv = tensor(k), tensor(v)
        with self._h.lock:
            check(fn.kvcache_append_all(self._ptr(), ctypes.byref(tk), ctypes.byref(tv)))

    def evict_and_append(self, k, v, scores, globals=(), window=0):
        """Reference heavy-hitter eviction (policy='h2o'): returns the evicted
        slot, or None when the cache was not full."""
        k3, v3 = self._row(k, "k", None), self._row(v, "v", None)
        s = f32(scores, "scores", ndim=1)
        g, ng = size_array(globals, "globals")
        slot = ctypes.c_size_t()
        tk, tv = tensor(k3), tensor(v3)
        with self._h.lock:
            check(fn.kvcache_evict_and_append(self._ptr(), ctypes.byref(tk), ctypes.byref(tv),
                                              fptr(s) if s.size else None, s.size,
                                              g if ng else None, ng, uint(window, "window"),
                                              ctypes.byref(slot)))
        return None if slot.value == ctypes.c_size_t(-1).value else int(slot.value)

    def reset(self):
        """Empty the cache (token ids restart at 0)."""
        with self._h.lock:
            check(fn.kvcache_reset(self._ptr()))

    # -- decoding
    def _q(self, q):
        q = f32(q, "q", ndim=(2, 3))
        if q.ndim == 3 and q.shape[0] != 1:
            raise shape_error("q must be [q_heads, dim] or [1, q_heads, dim], got %s"
                              % list(q.shape))
        return q, q.reshape((1,) + q.shape[-2:])

    def decode(self, q, config=None):
        """Attention of the newest token's query over the cache; returns an
        array shaped like q. config defaults to the cache's own."""
        cfg = self.config if config is None else config
        if not isinstance(cfg, Config):
            raise TypeError("config must be an aether.attention.Config")
        q, q3 = self._q(q)
        out = np.zeros(q3.shape, np.float32)
        tq, to = tensor(q3), tensor(out)
        with self._h.lock:
            check(fn.kvcache_decode_step(cfg.ref, ctypes.byref(tq), self._ptr(),
                                         ctypes.byref(to)))
        return out.reshape(q.shape)

    def decode_gated(self, q, keep):
        """decode with the log-stride keys filtered by keep (len(self) entries)."""
        q, q3 = self._q(q)
        m = mask_array(keep, "keep")
        out = np.zeros(q3.shape, np.float32)
        tq, to = tensor(q3), tensor(out)
        with self._h.lock:
            w = Workspace(fn.kvcache_decode_gated_workspace_size, self.config.ref, self._ptr(),
                          q3.shape[1])
            check(fn.kvcache_decode_gated(self.config.ref, ctypes.byref(tq), self._ptr(),
                                          u8ptr(m) if m.size else None, m.size,
                                          ctypes.byref(to), *w.args))
        return out.reshape(q.shape)

    def decode_batch(self, q, k, v):
        """For t in 0..n-1: append (k[t], v[t]) then decode q[t]; returns
        [n, q_heads, head_dim]. Validated completely before anything changes."""
        q, k, v = f32(q, "q", ndim=3), f32(k, "k", ndim=3), f32(v, "v", ndim=3)
        out = np.zeros(q.shape, np.float32)
        tq, tk, tv, to = tensor(q), tensor(k), tensor(v), tensor(out)
        with self._h.lock:
            check(fn.kvcache_decode_batch(self.config.ref, ctypes.byref(tq), ctypes.byref(tk),
                                          ctypes.byref(tv), self._ptr(), ctypes.byref(to)))
        return out

    # -- inspection
    def __len__(self):
        return int(fn.kvcache_len(self._ptr()))

    @property
    def capacity(self):
        return int(fn.kvcache_capacity(self._ptr()))

    @property
    def is_full(self):
        return bool(fn.kvcache_is_full(self._ptr()))

    @property
    def tokens_seen(self):
        return int(fn.kvcache_tokens_seen(self._ptr()))

    @property
    def block_size(self):
        return int(fn.kvcache_block_size(self._ptr()))

    @property
    def nbytes(self):
        """Bytes of C memory the cache occupies (constant)."""
        return int(fn.kvcache_bytes(self._ptr()))

    def _slot(self, slot):
        slot = int(slot)
        if slot < 0:
            raise IndexError("slot must be non-negative")
        return slot

    def slot_token(self, slot):
        out = ctypes.c_size_t()
        check(fn.kvcache_slot_token(self._ptr(), self._slot(slot), ctypes.byref(out)))
        return int(out.value)

    def slot_score(self, slot):
        out = ctypes.c_float()
        check(fn.kvcache_slot_score(self._ptr(), self._slot(slot), ctypes.byref(out)))
        return out.value

    def slot_rows(self, slot):
        """(k, v) rows of a slot as [kv_heads, head_dim] arrays (reduced storages widened)."""
        k = np.zeros((self.kv_heads, self.head_dim), np.float32)
        v = np.zeros_like(k)
        check(fn.kvcache_slot_rows(self._ptr(), self._slot(slot), fptr(k), fptr(v)))
        return k, v

    @property
    def landmark_blocks(self):
        return int(fn.kvcache_landmark_blocks(self._ptr()))

    def landmark(self, block):
        """(k_mean, v_mean) of a landmark block as [kv_heads, head_dim] arrays."""
        k = np.zeros((self.kv_heads, self.head_dim), np.float32)
        v = np.zeros_like(k)
        check(fn.kvcache_landmark(self._ptr(), self._slot(block), fptr(k), fptr(v)))
        return k, v

    def close(self):
        """Release the C memory now (also done when the object is collected)."""
        self._h.close()

    def __repr__(self):
        if self._h.closed:
            return "KVCache(<closed>)"
        return "KVCache(len=%d, capacity=%d, kv_heads=%d, head_dim=%d, storage=%r, policy=%r)" % (
            len(self), self.capacity, self.kv_heads, self.head_dim, self.storage, self.policy)
