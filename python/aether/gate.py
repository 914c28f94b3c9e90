"""FastGRNN salience gate and keep masks (aether/gate.h).

    g = aether.gate.FastGRNN(input_dim=16, hidden_dim=16)
    s = g.score_kv(k)                      # one salience per position
    keep = aether.gate.keep_mask_top_k(s, 8)
    out = aether.attention.gated(q, k, v, keep, window=8, block_size=16)
"""

import ctypes

import numpy as np

from aether import _lib
from aether._common import Handle, Workspace, as_tensor3, check, f32, fptr, u8ptr, uint
from aether._lib import fn

__all__ = ["FastGRNN", "CausalGate", "keep_mask_top_k", "keep_mask_quantile",
           "keep_mask_causal"]

_SEEDING = {"reference": 0, "disjoint": 1}
_RULES = {"top_k": 0, "threshold": 1}


class FastGRNN(object):
    """A FastGRNN cell (deterministic init or caller weights)."""

    def __init__(self, input_dim, hidden_dim=32, seeding="reference"):
        if seeding not in _SEEDING:
            raise ValueError("seeding must be 'reference' or 'disjoint'")
        ptr = ctypes.c_void_p()
        check(fn.fastgrnn_create(uint(input_dim, "input_dim"), uint(hidden_dim, "hidden_dim"),
                                 _SEEDING[seeding],
                                 ctypes.byref(ptr)))
        self._h = Handle(ptr.value, fn.fastgrnn_destroy)

    @classmethod
    def from_weights(cls, w_gate, u_gate, w_update, u_update, b_gate=None, b_update=None,
                     zeta=1.0, nu=0.0):
        """Gate from row-major arrays: W_* [hidden, input], U_* [hidden, hidden],
        biases [hidden] (zeros when omitted). Arrays are copied by the library."""
        w_gate = f32(w_gate, "w_gate", ndim=2)
        hidden, input_dim = w_gate.shape
        if b_gate is None:
            b_gate = np.zeros(hidden, np.float32)
        if b_update is None:
            b_update = np.zeros(hidden, np.float32)
        arrs = dict(w_gate=w_gate, u_gate=u_gate, w_update=w_update, u_update=u_update,
                    b_gate=b_gate, b_update=b_update)
        w = _lib.FastGrnnWeights()
        w.input_dim, w.hidden_dim = input_dim, hidden
        for name, a in arrs.items():
            a = f32(a, name)
            setattr(w, name, fptr(a) if a.size else None)
            setattr(w, name + "_len", a.size)
        w.zeta, w.nu = float(zeta), float(nu)
        ptr = ctypes.c_void_p()
        check(fn.fastgrnn_create_from_weights(ctypes.byref(w), ctypes.byref(ptr)))
        self = cls.__new__(cls)
        self._h = Handle(ptr.value, fn.fastgrnn_destroy)
        return self

    @property
    def input_dim(self):
        return int(fn.fastgrnn_input_dim(self._h.get("gate")))

    @property
    def hidden_dim(self):
        return int(fn.fastgrnn_hidden_dim(self._h.get("gate")))

    def params(self):
        """Copies of the parameters: dict of arrays plus zeta and nu."""
        ptrs = [_lib.float_p() for _ in range(6)]
        zeta, nu = ctypes.c_float(), ctypes.c_float()
        check(fn.fastgrnn_params(self._h.get("gate"), *[ctypes.byref(p) for p in ptrs],
                                 ctypes.byref(zeta), ctypes.byref(nu)))
        i, h = self.input_dim, self.hidden_dim
        shapes = [(h, i), (h, h), (h, i), (h, h), (h,), (h,)]
        names = ["w_gate", "u_gate", "w_update", "u_update", "b_gate", "b_update"]
        out = {}
        for name, p, shp in zip(names, ptrs, shapes):
            n = int(np.prod(shp))
            out[name] = np.ctypeslib.as_array(p, shape=(n,)).reshape(shp).copy()
        out["zeta"], out["nu"] = zeta.value, nu.value
        return out

    def step(self, x, h=None):
        """One recurrence step: returns (h_new, salience)."""
        x = f32(x, "x", shape=(self.input_dim,))
        if h is None:
            h = np.zeros(self.hidden_dim, np.float32)
        h = f32(h, "h", shape=(self.hidden_dim,))
        h_out = np.zeros(self.hidden_dim, np.float32)
        sal = ctypes.c_float()
        check(fn.fastgrnn_step(self._h.get("gate"), fptr(x), x.size, fptr(h), fptr(h_out),
                               ctypes.byref(sal)))
        return h_out, sal.value

    def salience(self, h):
        h = f32(h, "h", ndim=1)
        s = ctypes.c_float()
        check(fn.fastgrnn_salience(self._h.get("gate"), fptr(h), h.size, ctypes.byref(s)))
        return s.value

    def score_sequence(self, x):
        """Saliences of n rows x [n, input_dim], starting from h = 0."""
        x = f32(x, "x", shape=(None, self.input_dim))
        out = np.zeros(x.shape[0], np.float32)
        g = self._h.get("gate")
        w = Workspace(fn.fastgrnn_workspace_size, g)
        check(fn.fastgrnn_score_sequence(g, fptr(x) if x.size else None,
                                         x.size, x.shape[0], fptr(out) if out.size else None,
                                         out.size, *w.args))
        return out

    def score_kv(self, k):
        """score_kv: the gate over the head-mean of k [seq, heads, dim]."""
        t = as_tensor3(k, "k")
        out = np.zeros(k.shape[0], np.float32)
        g = self._h.get("gate")
        w = Workspace(fn.fastgrnn_workspace_size, g)
        check(fn.fastgrnn_score_kv(g, ctypes.byref(t),
                                   fptr(out) if out.size else None, out.size, *w.args))
        return out

    def close(self):
        self._h.close()


def _sal(s):
    return f32(s, "salience", ndim=1)


def keep_mask_top_k(salience, k):
    """Bool mask of the k highest saliences (ties to the lower index, NaN lowest)."""
    s = _sal(salience)
    k = uint(k, "k")  # -1 kept every element, 2**64 + 1 one
    mask = np.zeros(s.size, np.uint8)
    w = Workspace(fn.keep_mask_top_k_workspace_size, s.size, k)
    check(fn.keep_mask_top_k(fptr(s) if s.size else None, s.size, k,
                             u8ptr(mask) if s.size else None, *w.args))
    return mask.astype(bool)


def keep_mask_quantile(salience, q):
    """Bool mask of saliences at or above the q-quantile."""
    s = _sal(salience)
    mask = np.zeros(s.size, np.uint8)
    w = Workspace(fn.keep_mask_quantile_workspace_size, s.size)
    check(fn.keep_mask_quantile(fptr(s) if s.size else None, s.size, float(q),
                                u8ptr(mask) if s.size else None, *w.args))
    return mask.astype(bool)


def _causal_params(top_k, threshold):
    p = _lib.CausalParams()
    if (top_k is None) == (threshold is None):
        raise ValueError("give exactly one of top_k or threshold")
    if top_k is not None:
        p.rule, p.top_k, p.threshold = _RULES["top_k"], uint(top_k, "top_k"), 0.0
    else:
        p.rule, p.top_k, p.threshold = _RULES["threshold"], 0, float(threshold)
    return p


def keep_mask_causal(salience, top_k=None, threshold=None):
    """Causal mask: keep[j] decided from saliences 0..j only (prefix top-k or
    a threshold), as the streaming gate would decide it."""
    s = _sal(salience)
    p = _causal_params(top_k, threshold)
    mask = np.zeros(s.size, np.uint8)
    w = Workspace(fn.keep_mask_causal_workspace_size, ctypes.byref(p), s.size)
    check(fn.keep_mask_causal(ctypes.byref(p), fptr(s) if s.size else None, s.size,
                              u8ptr(mask) if s.size else None, *w.args))
    return mask.astype(bool)


class CausalGate(object):
    """Streaming causal gate: step(k_row) -> (keep, salience) per arriving key.
    Keeps its FastGRNN alive."""

    def __init__(self, gate, kv_heads=1, top_k=None, threshold=None):
        if not isinstance(gate, FastGRNN):
            raise TypeError("gate must be an aether.gate.FastGRNN")
        self._params = _causal_params(top_k, threshold)
        self.gate = gate
        self.kv_heads = uint(kv_heads, "kv_heads")
        ptr = ctypes.c_void_p()
        check(fn.causal_gate_create(gate._h.get("gate"), ctypes.byref(self._params),
                                    self.kv_heads, ctypes.byref(ptr)))
        self._h = Handle(ptr.value, fn.causal_gate_destroy, keep=(gate._h,))

    def step(self, k_row):
        """k_row: [kv_heads, input_dim] (or flat) float32 key rows of one position."""
        k_row = f32(k_row, "k_row", ndim=(1, 2))
        keep, sal = ctypes.c_uint8(), ctypes.c_float()
        with self._h.lock:
            check(fn.causal_gate_step(self._h.get("causal gate"), fptr(k_row), k_row.size,
                                      ctypes.byref(keep), ctypes.byref(sal)))
        return bool(keep.value), sal.value

    def reset(self):
        with self._h.lock:
            check(fn.causal_gate_reset(self._h.get("causal gate")))

    @property
    def position(self):
        return int(fn.causal_gate_position(self._h.get("causal gate")))

    def close(self):
        self._h.close()
