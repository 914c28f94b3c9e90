"""Shared plumbing: status checks, array validation, tensors, owned handles.

Array policy (documented in the package docstring): inputs must already be
NumPy arrays of the exact dtype (float32 for tensors and frames), C-contiguous
and aligned. Nothing is converted or copied behind the caller's back; a
mismatch raises TypeError (dtype / not an ndarray) or ValueError (layout),
before any C code runs. Outputs are fresh arrays owned by the caller.
"""

import ctypes
import threading
import weakref

import numpy as np

from aether import _lib
from aether._errors import BY_STATUS, AetherError
from aether._lib import fn


def status_name(status):
    return _lib.text(fn.status_name(int(status)))


def strerror(status):
    return _lib.text(fn.strerror(int(status)))


def error_for(status, detail=None):
    cls = BY_STATUS.get(int(status), AetherError)
    return cls(int(status), status_name(status), strerror(status), detail)


def check(status, detail=None):
    """Raise the AetherError subclass for a non-zero aether_status."""
    if status != 0:
        raise error_for(status, detail)


class Workspace(object):
    """A caller workspace for one call of the C API: `query(*args, &bytes)`
    sizes it and a NumPy byte array holds it; .args is the (ws, ws_len) pair
    to pass. The library makes no heap call and rejects a NULL workspace
    (AETHER_ERR_NULL_ARG). When the query itself rejects the arguments,
    .args is (None, 0) so that the call reports its own argument error,
    which the library checks before the workspace."""

    def __init__(self, query, *args):
        n = ctypes.c_size_t(0)
        if query(*(args + (ctypes.byref(n),))) != 0:
            self.buf, self.args = None, (None, 0)
            return
        self.buf = np.empty(max(n.value, 1), np.uint8)
        self.args = (self.buf.ctypes.data_as(ctypes.c_void_p), n.value)


def shape_error(detail):
    """A Python-side shape problem, reported like the C library's."""
    return error_for(10, detail)


def as_array(x, dtype, name, ndim=None, shape=None):
    """Validate (never convert) x: ndarray, dtype, C-contiguity, rank, shape."""
    if not isinstance(x, np.ndarray):
        raise TypeError("%s must be a numpy.ndarray of %s, got %s"
                        % (name, np.dtype(dtype).name, type(x).__name__))
    if x.dtype != np.dtype(dtype):
        raise TypeError("%s must have dtype %s (native byte order), got %s; convert "
                        "explicitly, e.g. %s.astype(np.%s)"
                        % (name, np.dtype(dtype).name, x.dtype.str, name,
                           np.dtype(dtype).name))
    if not x.flags.c_contiguous or not x.flags.aligned:
        raise ValueError("%s must be C-contiguous and aligned (no silent copies are "
                         "made); use np.ascontiguousarray(%s)" % (name, name))
    if ndim is not None and x.ndim not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise shape_error("%s must have %s dimensions, got shape %s"
                          % (name, " or ".join(str(n) for n in
                                               (ndim if isinstance(ndim, tuple) else (ndim,))),
                             x.shape))
    if shape is not None:
        if x.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, x.shape)):
            want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
            raise shape_error("%s must have shape %s, got %s" % (name, want, list(x.shape)))
    return x


def f32(x, name, ndim=None, shape=None):
    return as_array(x, np.float32, name, ndim, shape)


def fptr(a):
    return a.ctypes.data_as(_lib.float_p) if a is not None else None


def u8ptr(a):
    return a.ctypes.data_as(_lib.u8_p) if a is not None else None


def tensor(a):
    """aether_tensor view of a validated 3-D float32 array (no copy)."""
    t = _lib.Tensor()
    t.data = a.ctypes.data_as(_lib.float_p) if a.size else None
    t.seq, t.heads, t.dim = a.shape
    t.owned_ = None
    return t


def as_tensor3(x, name):
    return tensor(f32(x, name, ndim=3))


def mask_array(mask, name="keep_mask"):
    """Keep masks: bool or uint8 1-D arrays (bool is reinterpreted, not copied)."""
    if isinstance(mask, np.ndarray) and mask.dtype == np.bool_:
        mask = mask.view(np.uint8)
    return as_array(mask, np.uint8, name, ndim=1)


SIZE_BITS = 8 * ctypes.sizeof(ctypes.c_size_t)


def uint(value, name, bits=SIZE_BITS):
    """int(value), checked to fit the unsigned C field or argument it goes to
    (size_t unless bits says otherwise): ctypes stores an integer modulo
    2**bits, so a negative or too large value would reach C as another,
    valid-looking number (node_id=300 as 44, classes=65539 as 3)."""
    v = int(value)
    if not 0 <= v < (1 << bits):
        raise ValueError("%s must be an integer in [0, %d], got %d" % (name, (1 << bits) - 1, v))
    return v


def sint(value, name, bits):
    """int(value), checked to fit a signed C field of bits bits (see uint)."""
    v = int(value)
    if not -(1 << (bits - 1)) <= v < (1 << (bits - 1)):
        raise ValueError("%s must be an integer in [%d, %d], got %d"
                         % (name, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, v))
    return v


def size_array(values, name):
    vals = [int(v) for v in values]
    if any(v < 0 for v in vals):
        raise ValueError("%s must be non-negative integers" % name)
    vals = [uint(v, name) for v in vals]
    return (ctypes.c_size_t * max(len(vals), 1))(*vals), len(vals)


class Handle(object):
    """Owns one C object.

    `keep` holds what the C object points into (other Handles, buffers); a
    Handle in `keep` learns about its dependent. close() makes the object
    unusable from Python at once, but the C memory of an object that live
    dependents still use (a Model with open Sessions) is released only when
    the last of them is closed or collected. destroy runs exactly once, before
    `keep` is released.
    """

    __slots__ = ("ptr", "_destroy", "keep", "lock", "closed", "_deps", "__weakref__")

    def __init__(self, ptr, destroy, keep=()):
        self.ptr = ptr
        self._destroy = destroy
        self.keep = tuple(keep)
        self.lock = threading.RLock()
        self.closed = False
        self._deps = weakref.WeakSet()
        for k in self.keep:
            if isinstance(k, Handle):
                k._deps.add(self)

    def _free(self):
        ptr, self.ptr = self.ptr, None
        if ptr and self._destroy is not None:
            self._destroy(ptr)
        parents, self.keep = self.keep, ()
        for k in parents:  # a closed parent waiting for us can go now
            if isinstance(k, type(self)) and k.closed and k.ptr and \
                    not any(d.ptr for d in list(k._deps)):
                k._free()

    def close(self):
        with self.lock:
            self.closed = True
            if any(d.ptr for d in list(self._deps)):
                return  # freed when the last dependent lets go of us
            self._free()

    def get(self, what="object"):
        if self.closed or not self.ptr:
            raise ValueError("%s is closed" % what)
        return self.ptr

    def __del__(self):
        self._free()
