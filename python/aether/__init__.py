"""aether: streaming temporal attention over WiFi CSI feature frames.

Python binding of the C library libaether (ctypes; no compiler needed).

Array policy: every array argument must already be a NumPy array of the
documented dtype (float32 for tensors, frames, logits; uint8/bool for masks;
int8 for raw I/Q), C-contiguous and aligned. The binding passes the buffer's
pointer to C directly and never copies or converts behind your back: a wrong
dtype raises TypeError, a non-contiguous array ValueError, a wrong shape
aether.ShapeMismatchError (a ValueError). Results are new arrays.

Errors from the C library are raised as aether.AetherError subclasses with
.status, .name (e.g. "AETHER_ERR_NONFINITE") and .message (aether_strerror).

Threads: ctypes releases the GIL around every C call, so kernels run
concurrently with other Python threads. Stateful objects (KVCache, Session,
Features, Recording, ...) lock themselves; use one per thread for speed.

Lifetimes: C objects are freed when their Python object is collected (or by
.close()). Objects that the C side points into are kept alive by whoever
points: a Session keeps its Model, a Model keeps its Blob's bytes, a KVCache
keeps its attention Config.
"""

import contextlib as _contextlib

from aether import _lib
from aether._common import check as _check, status_name, strerror, uint as _uint
from aether._errors import *  # noqa: F401,F403 - the exception classes
from aether._errors import __all__ as _error_names
from aether._lib import fn as _fn
from aether import attention, gate, packet  # noqa: E402
from aether._kvcache import KVCache
from aether._model import Blob, Model, Session, Window, decide, softmax
from aether._recording import Features, FeatureNorm, Frame, Recording, features, read_recording

__version__ = _lib.text(_fn.version())
lib_path = _lib.lib_path


def version():
    """Version string of the loaded C library."""
    return _lib.text(_fn.version())


_MODES = ("auto", "reference", "avx2", "avx512", "neon")


def set_kernel_mode(mode):
    """Select the kernel path: 'reference' (bit-exact goldens), 'auto',
    'avx2', 'avx512' or 'neon'. UnsupportedError if the CPU lacks it."""
    if mode not in _MODES:
        raise ValueError("mode must be one of %s" % ", ".join(_MODES))
    _check(_fn.set_kernel_mode(_MODES.index(mode)))


def get_kernel_mode():
    """The requested mode ('auto' unless set)."""
    m = _fn.get_kernel_mode()
    return _MODES[m] if 0 <= m < len(_MODES) else str(m)


def kernel_name():
    """The path kernels actually run now ('reference', 'avx2', ...)."""
    return _lib.text(_fn.kernel_name())


def cpu_features():
    """Set of optimised paths this CPU and build support."""
    bits = _fn.cpu_features()
    return {name for bit, name in ((1, "avx2"), (2, "avx512"), (4, "neon")) if bits & bit}


@_contextlib.contextmanager
def kernel_mode(mode):
    """with aether.kernel_mode('reference'): ... (restores the previous mode)."""
    prev = get_kernel_mode()
    set_kernel_mode(mode)
    try:
        yield
    finally:
        set_kernel_mode(prev)


def set_num_threads(n):
    """Threads the prefill/dense kernels use (1..256; results do not depend on it)."""
    _check(_fn.set_num_threads(_uint(n, "n", 32)))  # 2**32 + 2 was taken as 2


def get_num_threads():
    return int(_fn.get_num_threads())


def crc32(data):
    """CRC-32/IEEE of bytes-like data."""
    data = bytes(data)
    return int(_fn.crc32(data, len(data)))


__all__ = ["__version__", "version", "lib_path", "attention", "gate", "packet", "KVCache",
           "Blob", "Model", "Session", "Window", "decide", "softmax", "Frame", "Recording", "read_recording",
           "Features", "FeatureNorm", "features", "set_kernel_mode", "get_kernel_mode",
           "kernel_name", "kernel_mode", "cpu_features", "set_num_threads",
           "get_num_threads", "crc32", "status_name", "strerror"] + list(_error_names)
