"""CSI frames, recording readers and feature extraction."""

import ctypes
import os

import numpy as np

from aether import _lib
from aether._common import Handle, as_array, check, f32, fptr, shape_error, sint, uint
from aether._lib import fn

KINDS = ("raw_iq", "amplitude")
_AETHER_ERR_END = 74


class Frame(object):
    """One CSI frame with its samples copied into NumPy arrays.

    kind 'raw_iq': iq is int8 [n_pairs, 2] in Espressif order (imag, real);
    kind 'amplitude': amplitudes is float32 [n_pairs]. For raw frames
    `amplitudes` is computed on access as sqrt(imag^2 + real^2).
    Build your own with Frame(iq=...) or Frame(amplitudes=...).
    """

    __slots__ = ("timestamp", "node_id", "kind", "iq", "_amp", "flags", "n_antennas", "rssi",
                 "noise_floor", "freq_mhz", "sequence", "record")

    def __init__(self, iq=None, amplitudes=None, timestamp=0.0, node_id=0, flags=0,
                 n_antennas=0, rssi=0, noise_floor=0, freq_mhz=0, sequence=0, record=0):
        if (iq is None) == (amplitudes is None):
            raise ValueError("give exactly one of iq or amplitudes")
        if iq is not None:
            iq = as_array(iq, np.int8, "iq", ndim=(1, 2))
            if iq.ndim == 1:
                if iq.size % 2:
                    raise shape_error("flat iq must hold an even number of bytes")
                iq = iq.reshape(-1, 2)
            elif iq.shape[1] != 2:
                raise shape_error("iq must be [n_pairs, 2], got %s" % list(iq.shape))
            self.kind, self.iq, self._amp = "raw_iq", iq, None
        else:
            self.kind, self.iq = "amplitude", None
            self._amp = f32(amplitudes, "amplitudes", ndim=1)
        self.timestamp, self.node_id, self.flags = float(timestamp), int(node_id), int(flags)
        self.n_antennas, self.rssi, self.noise_floor = int(n_antennas), int(rssi), int(noise_floor)
        self.freq_mhz, self.sequence, self.record = int(freq_mhz), int(sequence), int(record)
        self._check_fields()

    def _check_fields(self):
        """Each header field fits its C field (ctypes would store it modulo
        2**bits: rssi=-200 went out as 56, sequence=2**32+7 as 7)."""
        for name, bits in (("node_id", 32), ("flags", 32), ("n_antennas", 8), ("freq_mhz", 32),
                           ("sequence", 32), ("record", 64)):
            uint(getattr(self, name), name, bits)
        for name in ("rssi", "noise_floor"):
            sint(getattr(self, name), name, 8)

    @classmethod
    def _from_c(cls, c):
        self = cls.__new__(cls)
        n = int(c.n_pairs)
        self.kind = KINDS[c.kind] if 0 <= c.kind < len(KINDS) else "unknown"
        if c.kind == 0:
            self.iq = np.ctypeslib.as_array(c.iq, shape=(2 * n,)).copy().reshape(n, 2)
            self._amp = None
        else:
            self.iq = None
            self._amp = np.ctypeslib.as_array(c.amp, shape=(n,)).copy()
        self.timestamp, self.node_id, self.flags = c.timestamp, int(c.node_id), int(c.flags)
        self.n_antennas, self.rssi, self.noise_floor = int(c.n_antennas), int(c.rssi), \
            int(c.noise_floor)
        self.freq_mhz, self.sequence, self.record = int(c.freq_mhz), int(c.sequence), \
            int(c.record)
        return self

    @property
    def n_pairs(self):
        return int(self.iq.shape[0] if self.iq is not None else self._amp.size)

    @property
    def amplitudes(self):
        if self._amp is not None:
            return self._amp
        iq = self.iq.astype(np.float32)
        return np.sqrt(iq[:, 0] * iq[:, 0] + iq[:, 1] * iq[:, 1])

    @property
    def phase(self):
        """atan2(imag, real) per pair (raw frames only)."""
        if self.iq is None:
            raise ValueError("amplitude frames carry no phase")
        iq = self.iq.astype(np.float32)
        return np.arctan2(iq[:, 0], iq[:, 1])

    def _c(self):
        """A C frame pointing into this object's arrays (valid while self lives)."""
        self._check_fields()  # the fields may have been set after construction
        c = _lib.CsiFrame()
        c.timestamp, c.node_id, c.flags = self.timestamp, self.node_id, self.flags
        c.n_antennas, c.rssi, c.noise_floor = self.n_antennas, self.rssi, self.noise_floor
        c.freq_mhz, c.sequence, c.record = self.freq_mhz, self.sequence, self.record
        if self.iq is not None:
            c.kind, c.n_pairs = 0, self.iq.shape[0]
            c.iq = self.iq.ctypes.data_as(ctypes.POINTER(ctypes.c_int8))
        else:
            c.kind, c.n_pairs = 1, self._amp.size
            c.amp = fptr(self._amp)
        return c

    @classmethod
    def from_adr018(cls, data):
        """Parse one ADR-018 frame (docs/FORMATS.md section 5): a datagram of len(data) bytes."""
        data = bytes(data)
        c = _lib.CsiFrame()
        check(fn.adr018_parse(data, len(data), ctypes.byref(c)))
        return cls._from_c(c)  # copies the samples out of `data`

    def to_adr018(self):
        """Serialise a raw_iq frame as ADR-018 bytes."""
        if self.iq is None:
            raise ValueError("only raw_iq frames have an ADR-018 encoding")
        c = self._c()
        need = ctypes.c_size_t()
        st = fn.adr018_encode(ctypes.byref(c), None, 0, ctypes.byref(need))
        if st not in (0, 5):  # 5: BUFFER_TOO_SMALL, the size query
            check(st)
        buf = ctypes.create_string_buffer(max(int(need.value), 1))
        check(fn.adr018_encode(ctypes.byref(c), buf, len(buf), ctypes.byref(need)))
        return buf.raw[:need.value]

    def as_dict(self):
        d = {k: getattr(self, k) for k in ("timestamp", "node_id", "kind", "n_pairs", "flags",
                                           "n_antennas", "rssi", "noise_floor", "freq_mhz",
                                           "sequence", "record")}
        d["iq"] = self.iq
        d["amplitudes"] = self.amplitudes
        return d

    def __repr__(self):
        return "Frame(kind=%r, node_id=%d, t=%.6f, n_pairs=%d, record=%d)" % (
            self.kind, self.node_id, self.timestamp, self.n_pairs, self.record)


class Recording(object):
    """A recording being read: iterate for Frame objects; `stats` at any
    time (final once iteration ends). Use as a context manager, or close();
    iterating, `stats` or `format` after close() raise ValueError."""

    def __init__(self, path, max_line=0):
        self.path = os.fspath(path)
        self._opt = _lib.RecordingOptions()
        self._opt.max_line = uint(max_line, "max_line")
        ptr = ctypes.c_void_p()
        check(fn.recording_open(os.fsencode(self.path), ctypes.byref(self._opt),
                                ctypes.byref(ptr)), self.path)
        self._h = Handle(ptr.value, fn.recording_close)
        self._frame = _lib.CsiFrame()

    @property
    def format(self):
        return _lib.text(fn.recording_format_name(fn.recording_get_format(
            self._h.get("Recording"))))

    def __iter__(self):
        return self

    def __next__(self):
        with self._h.lock:
            ptr = self._h.get("Recording")  # closed: ValueError, as everywhere
            st = fn.recording_next(ptr, ctypes.byref(self._frame))
            if st == _AETHER_ERR_END:
                raise StopIteration
            check(st, self.path)
            return Frame._from_c(self._frame)

    next = __next__

    @property
    def stats(self):
        s = fn.recording_get_stats(self._h.get("Recording")).contents
        skipped = {_lib.text(fn.csi_skip_name(i)): int(s.skipped[i])
                   for i in range(_lib.CSI_SKIP_COUNT)}
        errors = [{"record": int(e.record), "offset": int(e.offset), "status": int(e.status),
                   "name": _lib.text(fn.status_name(e.status)),
                   "reason": e.reason.decode("utf-8", "replace")}
                  for e in s.errors[:int(s.n_errors)]]
        out = {
            "format": self.format,
            "records": int(s.records),
            "frames": {KINDS[i]: int(s.frames[i]) for i in range(_lib.CSI_KIND_COUNT)},
            "frames_total": int(sum(s.frames)),
            "frames_by_node": {i: int(c) for i, c in enumerate(s.frames_by_node) if c},
            "pairs": {int(b.n_pairs): int(b.count) for b in s.pairs if b.count},
            "pairs_other": int(s.pairs_other),
            "skipped": skipped,
            "malformed": int(s.malformed),
            "too_long": int(s.too_long),
            "errors": errors,
            "t_first": float(s.t_first),
            "t_last": float(s.t_last),
        }
        npz = fn.recording_npz_info(self._h.ptr)
        if npz:
            n = npz.contents
            out["npz"] = {"label": _lib.text(n.label), "chip": _lib.text(n.chip),
                          "collected_at": _lib.text(n.collected_at),
                          "format_version": _lib.text(n.format_version),
                          "num_subcarriers": int(n.num_subcarriers),
                          "duration_ms": float(n.duration_ms),
                          "gain_locked": int(n.gain_locked), "rows": int(n.rows),
                          "row_bytes": int(n.row_bytes)}
        return out

    def close(self):
        self._h.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_recording(path, max_line=0):
    """Open a .csi.jsonl / ESPectre .npz / ADR-018 stream for reading."""
    return Recording(path, max_line)


class Features(object):
    """CSI frame -> feature vector of input_dim floats (aether/features.h),
    with per-node previous-frame state. recipe: "csi-v1" (default),
    "csi-v2", "csi-v3", "csi-v4" or "csi-v5" - use the one a model was trained with (its
    metadata's "features" key; the shipped motion model reads csi-v3)."""

    def __init__(self, input_dim=16, max_nodes=8, recipe="csi-v1"):
        code = ctypes.c_uint(0)
        if not isinstance(recipe, str):
            raise TypeError("recipe must be a string such as 'csi-v1'")
        check(fn.features_recipe_parse(recipe.encode(), ctypes.byref(code)))
        cfg = _lib.FeaturesConfig(uint(input_dim, "input_dim"), uint(max_nodes, "max_nodes"),
                                  code.value)
        ptr = ctypes.c_void_p()
        check(fn.features_create(ctypes.byref(cfg), ctypes.byref(ptr)))
        self._h = Handle(ptr.value, fn.features_destroy)
        self.input_dim, self.max_nodes = int(input_dim), int(max_nodes)
        self.recipe = fn.features_recipe_name(code.value).decode()

    def compute(self, frame):
        """Features of one Frame (float32 [input_dim]); updates the node's state."""
        if not isinstance(frame, Frame):
            raise TypeError("frame must be an aether.Frame")
        c = frame._c()
        out = np.zeros(self.input_dim, np.float32)
        with self._h.lock:
            check(fn.features_compute(self._h.get("Features"), ctypes.byref(c), fptr(out),
                                      out.size))
        return out

    def compute_all(self, frames, kinds=None):
        """Features of every frame of an iterable (e.g. a Recording):
        float32 [N, input_dim]. kinds: optional set of kinds to keep."""
        rows = [self.compute(f) for f in frames if kinds is None or f.kind in kinds]
        if not rows:
            return np.zeros((0, self.input_dim), np.float32)
        return np.stack(rows)

    def reset(self):
        with self._h.lock:
            check(fn.features_reset(self._h.get("Features")))

    def forget(self, node_id):
        with self._h.lock:
            check(fn.features_forget(self._h.get("Features"), uint(node_id, "node_id", 32)))

    def close(self):
        self._h.close()


def features(source, input_dim=16, max_nodes=8, kinds=None, return_frames=False,
             recipe="csi-v1"):
    """Feature matrix [N, input_dim] of a recording path or an iterable of
    Frames. With return_frames=True also returns (timestamps, node_ids)."""
    fx = Features(input_dim, max_nodes, recipe)
    rec = None
    if isinstance(source, (str, bytes, os.PathLike)):
        rec = source = Recording(source)
    try:
        ts, nodes, rows = [], [], []
        for f in source:
            if kinds is not None and f.kind not in kinds:
                continue
            rows.append(fx.compute(f))
            ts.append(f.timestamp)
            nodes.append(f.node_id)
    finally:
        if rec is not None:
            rec.close()
    x = np.stack(rows) if rows else np.zeros((0, fx.input_dim), np.float32)
    if return_frames:
        return x, np.array(ts, np.float64), np.array(nodes, np.int64)
    return x


class FeatureNorm(object):
    """Running per-feature normalisation (Welford or EMA)."""

    def __init__(self, dim, mode="welford", alpha=0.01, eps=1e-6):
        modes = {"welford": 0, "ema": 1}
        if mode not in modes:
            raise ValueError("mode must be 'welford' or 'ema'")
        cfg = _lib.NormConfig(int(dim), modes[mode], float(alpha), float(eps))
        ptr = ctypes.c_void_p()
        check(fn.norm_create(ctypes.byref(cfg), ctypes.byref(ptr)))
        self._h = Handle(ptr.value, fn.norm_destroy)
        self.dim = int(dim)

    def _x(self, x):
        return f32(x, "x", shape=(self.dim,))

    def update(self, x):
        x = self._x(x)
        with self._h.lock:
            check(fn.norm_update(self._h.get("FeatureNorm"), fptr(x), x.size))

    def apply(self, x):
        x = self._x(x)
        y = np.zeros_like(x)
        with self._h.lock:
            check(fn.norm_apply(self._h.get("FeatureNorm"), fptr(x), fptr(y), x.size))
        return y

    def stats(self):
        """(mean, var) float64 arrays."""
        mean, var = np.zeros(self.dim), np.zeros(self.dim)
        m, v = ctypes.c_double(), ctypes.c_double()
        for i in range(self.dim):
            check(fn.norm_stats(self._h.get("FeatureNorm"), i, ctypes.byref(m),
                                ctypes.byref(v)))
            mean[i], var[i] = m.value, v.value
        return mean, var

    def __len__(self):
        return int(fn.norm_count(self._h.get("FeatureNorm")))

    def reset(self):
        with self._h.lock:
            check(fn.norm_reset(self._h.get("FeatureNorm")))

    def save(self):
        """The saved state as bytes (36 + 16*dim)."""
        n = int(fn.norm_state_bytes(self.dim))
        buf = ctypes.create_string_buffer(n)
        out = ctypes.c_size_t()
        check(fn.norm_save(self._h.get("FeatureNorm"), buf, n, ctypes.byref(out)))
        return buf.raw[:out.value]

    def load(self, data):
        data = bytes(data)
        with self._h.lock:
            check(fn.norm_load(self._h.get("FeatureNorm"), data, len(data)))

    def close(self):
        self._h.close()
