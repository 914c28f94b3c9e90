"""aether.Blob (RVNE weight blobs), aether.Model and streaming sessions."""

import ctypes
import os

import numpy as np

from aether import _lib
from aether._common import Handle, Workspace, check, error_for, f32, fptr, shape_error, uint
from aether._lib import fn

_BACKENDS = {"dense": 0, "sparse_gqa": 1, "sparse": 1, "auto": 2}
_WEIGHTS = {"copy": 0, "borrow": 1, "auto": 2}
_POOL = {"last": 0, "mean": 1}
_STORAGE = {"f32": 0, "f16": 1, "bf16": 2, "int8": 3}
_EVICT = {"none": 0, "sliding": 1, "scored": 2}
_LANDMARKS = {"sum": 0, "welford": 1}


def _pick(table, value, what):
    if value not in table:
        raise ValueError("%s must be one of %s, got %r" % (what, ", ".join(sorted(table)), value))
    return table[value]


_EMPTY = ctypes.create_string_buffer(1)  # a valid address for a zero-length blob


class Blob(object):
    """A parsed RVNE weight blob. The bytes live in an aligned NumPy buffer
    owned by this object; models built from it keep it alive."""

    def __init__(self, data):
        """Parse bytes-like data (format-level checks; BlobError on failure)."""
        if isinstance(data, (str, os.PathLike)):
            raise TypeError("Blob() takes the blob's bytes; use Blob.load(path) for a file")
        raw = np.frombuffer(bytes(data), dtype=np.uint8)
        buf = np.empty(raw.size, dtype=np.uint8)  # owned and aligned: BORROW-able
        buf[:] = raw
        view = _lib.BlobView()
        # An empty blob is a blob too short, not a missing buffer: give the
        # parser a valid pointer with length 0 so it reports the format error.
        ptr = buf.ctypes.data_as(ctypes.c_void_p) if buf.size else \
            ctypes.cast(_EMPTY, ctypes.c_void_p)
        check(fn.blob_parse(ptr, buf.size, ctypes.byref(view)))
        self._buf = buf
        self._view = view

    def with_metadata(self, text):
        """A new Blob: these weights with `text` (key=value lines) as the
        metadata record, replacing any (BlobExtensionError for a text that
        breaks the record's rules)."""
        raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        need = ctypes.c_size_t()
        check(fn.blob_with_metadata_size(ctypes.byref(self._view), len(raw), ctypes.byref(need)))
        out = np.zeros(need.value, np.uint8)
        wrote = ctypes.c_size_t()
        check(fn.blob_with_metadata(ctypes.byref(self._view), raw, len(raw),
                                    out.ctypes.data_as(ctypes.c_void_p), out.size,
                                    ctypes.byref(wrote)))
        return Blob(out[:wrote.value].tobytes())

    @classmethod
    def load(cls, path):
        with open(os.fspath(path), "rb") as f:
            return cls(f.read())

    @classmethod
    def demo(cls, seed=None, f16=False, input_norm=False, input_dim=16, q_heads=4,
             kv_heads=1, head_dim=32, layers=2, classes=4):
        """The deterministic demo blob of docs/FORMATS.md section 2.2 (defaults: the
        41,244-byte AETHER init_random_blob)."""
        p = fn.blob_demo_default()
        if seed is not None:
            p.seed = uint(seed, "seed", 64)
        p.f16, p.input_norm = int(bool(f16)), int(bool(input_norm))
        p.input_dim, p.n_q_heads = uint(input_dim, "input_dim", 16), uint(q_heads, "q_heads", 16)
        p.n_kv_heads, p.head_dim = uint(kv_heads, "kv_heads", 16), uint(head_dim, "head_dim", 16)
        p.n_layers, p.n_classes = uint(layers, "layers", 16), uint(classes, "classes", 16)
        size = ctypes.c_size_t()
        check(fn.blob_demo_size(ctypes.byref(p), ctypes.byref(size)))
        out = ctypes.create_string_buffer(size.value)
        written = ctypes.c_size_t()
        check(fn.blob_demo_write(ctypes.byref(p), out, size.value, ctypes.byref(written)))
        return cls(out.raw[:written.value])

    @classmethod
    def from_weights(cls, weights, input_dim, q_heads, kv_heads, head_dim, layers, classes,
                     f16=False, flags=0):
        """Serialise a flat float32 payload (layout of aether/blob.h) into a blob."""
        w = f32(weights, "weights", ndim=1)
        flags = uint(flags, "flags", 8) | (1 if f16 else 0)
        if f16:
            bits = np.zeros(w.size, np.uint16)
            fn.f32_to_f16_array(fptr(w), bits.ctypes.data_as(ctypes.POINTER(ctypes.c_uint16)),
                                w.size)
            payload = bits.astype("<u2").tobytes()
        else:
            payload = w.astype("<f4").tobytes()
        h = _lib.BlobHeader(1, flags, 0, uint(input_dim, "input_dim", 16),
                            uint(q_heads, "q_heads", 16), uint(kv_heads, "kv_heads", 16),
                            uint(head_dim, "head_dim", 16), uint(layers, "layers", 16),
                            uint(classes, "classes", 16), uint(len(payload), "payload bytes", 32))
        size = ctypes.c_size_t()
        check(fn.blob_serialized_size(ctypes.byref(h), ctypes.byref(size)))
        out = ctypes.create_string_buffer(size.value)
        written = ctypes.c_size_t()
        check(fn.blob_serialize(ctypes.byref(h), payload, out, size.value,
                                ctypes.byref(written)))
        return cls(out.raw[:written.value])

    def save(self, path):
        with open(os.fspath(path), "wb") as f:
            f.write(self._buf.tobytes())

    def tobytes(self):
        return self._buf.tobytes()

    def __len__(self):
        return int(self._buf.size)

    @property
    def meta(self):
        """The model metadata keys, typed (as every front end reads them):
        a dict with labels (list), pool, window_frames, window_stride,
        attn_window, attn_block, backend, features (the recipe) and
        input_dim, the calibration temperature and unknown_below, each only
        when the blob has it. BlobLabelsError, BlobTemperatureError,
        BlobThresholdError or BlobMetadataError for a key with an unusable
        value (labels not one per class, temperature <= 0, a threshold
        outside [0, 1], pool not last/mean, ...)."""
        m = _lib.BlobModelMeta()
        check(fn.blob_model_meta_read(ctypes.byref(self._view), ctypes.byref(m)))
        out = {}
        if m.n_labels:
            out["labels"] = [_lib.text(fn.blob_model_meta_label(ctypes.byref(m), i))
                             for i in range(m.n_labels)]
        if m.pool:
            out["pool"] = "last" if m.pool == 1 else "mean"
        for key in ("window_frames", "window_stride", "attn_window", "attn_block",
                    "input_dim"):
            if getattr(m, "have_" + key):
                out[key] = int(getattr(m, key))
        for key in ("backend", "features"):
            value = getattr(m, key)
            if value:
                out[key] = value.decode("utf-8")
        for key in ("temperature", "unknown_below", "ood_above"):
            if getattr(m, "have_" + key):
                out[key] = float(getattr(m, key))
        return out

    @property
    def header(self):
        h = self._view.header
        return {name: int(getattr(h, name)) for name, _ in _lib.BlobHeader._fields_}

    @property
    def crc(self):
        return int(self._view.crc)

    @property
    def f16(self):
        return bool(self._view.header.flags & 1)

    def validate(self):
        """Model-level validation: raises BlobError (layout, NaN weights,
        unknown extension) or returns the payload layout as a dict."""
        lay = _lib.BlobLayout()
        check(fn.blob_validate_model(ctypes.byref(self._view), ctypes.byref(lay)))
        return {name: int(getattr(lay, name)) for name, _ in _lib.BlobLayout._fields_}

    def weights(self):
        """The whole payload as float32 (f16 converted exactly)."""
        h = self._view.header
        n = h.weights_len // (2 if h.flags & 1 else 4)
        out = np.zeros(n, np.float32)
        if n:
            check(fn.blob_read_f32(ctypes.byref(self._view), 0, n, fptr(out)))
        return out

    def inspect(self):
        """Everything a human wants to know, as a dict."""
        h = self.header
        info = {"bytes": len(self), "crc": "0x%08X" % self.crc,
                "dtype": "f16" if self.f16 else "f32",
                "input_norm": bool(h["flags"] & 2)}
        info.update(h)
        count = ctypes.c_size_t()
        st = fn.blob_param_count(ctypes.byref(self._view.header), ctypes.byref(count))
        info["declared_params"] = int(count.value) if st == 0 else None
        try:
            info["layout"] = self.validate()
            info["model_valid"] = True
            info["model_error"] = None
        except Exception as exc:  # report, don't raise: inspect is diagnostic
            info["layout"] = None
            info["model_valid"] = False
            info["model_error"] = getattr(exc, "name", str(exc))
        return info

    def __repr__(self):
        h = self.header
        return ("Blob(%d bytes, %s, input_dim=%d, q_heads=%d, kv_heads=%d, head_dim=%d, "
                "layers=%d, classes=%d)" % (len(self), "f16" if self.f16 else "f32",
                                            h["input_dim"], h["n_q_heads"], h["n_kv_heads"],
                                            h["head_dim"], h["n_layers"], h["n_classes"]))


def decide(logits, temperature=1.0, unknown_below=0.0, labels=None, ood_above=0.0,
           distance=None):
    """The decision for one vector of logits (aether/decision.h): a dict with
    class (the argmax), probability (calibrated: softmax(logits / T)),
    margin, unknown (probability below unknown_below, or the window's input
    distance above ood_above), out_of_distribution and, with labels, label
    ("unknown" when unknown) and top_label."""
    x = f32(np.ascontiguousarray(logits, dtype=np.float32), "logits", shape=(None,))
    if labels is not None and len(labels) != x.shape[0]:
        raise shape_error("labels must name one class per logit: %d labels for %d logits"
                          % (len(labels), x.shape[0]))
    p = _lib.DecisionParams(float(temperature), float(unknown_below), float(ood_above))
    d = _lib.Decision()
    check(fn.decide(fptr(x), x.shape[0], ctypes.byref(p),
                    -1.0 if distance is None else float(distance), ctypes.byref(d)))
    out = {"class": int(d.top), "probability": float(d.probability),
           "margin": float(d.margin), "unknown": bool(d.unknown),
           "out_of_distribution": bool(d.out_of_distribution)}
    if labels is not None:
        out["top_label"] = labels[int(d.top)]
        out["label"] = "unknown" if d.unknown else out["top_label"]
    return out


def softmax(logits, axis=-1):
    """Numerically stable softmax in float64, returned as float32."""
    x = np.asarray(logits, dtype=np.float64)
    x = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(x)
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(np.float32)


class Model(object):
    """The temporal model an RVNE blob describes.

    Model(blob, backend=None, window=None, block_size=None, causal=None,
          weights='copy'|'borrow'|'auto')
    blob: a Blob, bytes, or a path. Unset head options take the blob's
    default head config (default_aether: sparse_gqa, window 32, block 16).
    """

    def __init__(self, blob, backend=None, window=None, block_size=None, causal=None,
                 weights="copy"):
        if not isinstance(blob, Blob):
            blob = Blob(blob) if isinstance(blob, (bytes, bytearray, memoryview)) \
                else Blob.load(blob)
        self.blob = blob
        cfg = _lib.HeadConfig()
        check(fn.model_default_head_config(ctypes.byref(blob._view), ctypes.byref(cfg)))
        if backend is not None:
            cfg.backend = _pick(_BACKENDS, backend, "backend")
        if window is not None:
            cfg.window = uint(window, "window")
        if block_size is not None:
            cfg.block_size = uint(block_size, "block_size")
        if causal is not None:
            cfg.causal = int(bool(causal))
        self._cfg = cfg
        ptr = ctypes.c_void_p()
        check(fn.model_create(ctypes.byref(blob._view), ctypes.byref(cfg),
                              _pick(_WEIGHTS, weights, "weights"), ctypes.byref(ptr)))
        # The model may borrow the blob's payload: its handle keeps the buffer.
        self._h = Handle(ptr.value, fn.model_destroy, keep=(blob._buf,))
        info = _lib.ModelInfo()
        check(fn.model_get_info(self._h.ptr, ctypes.byref(info)))
        self.info = {name: int(getattr(info, name)) for name, _ in _lib.ModelInfo._fields_}
        self.info["backend"] = _lib.text(fn.head_backend_name(info.backend))
        self.info.update(window=int(cfg.window), block_size=int(cfg.block_size),
                         causal=bool(cfg.causal))
        self.input_dim = int(info.input_dim)
        self.n_classes = int(info.n_classes)

    def _frames(self, frames):
        return f32(frames, "frames", shape=(None, self.input_dim))

    def forward(self, frames, pool="last"):
        """Window forward over frames [N, input_dim]: (logits, pooled)."""
        x = self._frames(frames)
        if x.shape[0] == 0:
            raise error_for(2, "frames must hold at least one frame")
        logits = np.zeros(self.n_classes, np.float32)
        pooled = np.zeros(self.input_dim, np.float32)
        m = self._h.get("Model")
        w = Workspace(fn.model_forward_workspace_size, m, x.shape[0])
        check(fn.model_forward(m, fptr(x), x.shape[0], _pick(_POOL, pool, "pool"), fptr(logits),
                               fptr(pooled), *w.args))
        return logits, pooled

    def classify(self, frames, pool="last"):
        """Logits [n_classes] for a window of frames [N, input_dim]."""
        return self.forward(frames, pool)[0]

    def predict_proba(self, frames, pool="last"):
        """Calibrated class probabilities: softmax(logits / T), T the blob's
        temperature metadata (1 without it)."""
        logits = self.classify(frames, pool)
        probs = np.zeros(self.n_classes, np.float32)
        check(fn.decision_probabilities(fptr(logits), self.n_classes,
                                        float(self.blob.meta.get("temperature", 1.0)),
                                        fptr(probs)))
        return probs

    def input_distance(self, frames):
        """How far the window of frames [N, input_dim] lies from the training
        data (aether/decision.h): RMS z-score of its mean frame."""
        x = self._frames(frames)
        if x.shape[0] == 0:
            raise error_for(2, "frames must hold at least one frame")
        out = ctypes.c_float()
        check(fn.model_input_distance(self._h.get("Model"), fptr(x), x.shape[0],
                                      ctypes.byref(out)))
        return float(out.value)

    def decide(self, logits, frames=None):
        """The decision for logits of this model under the blob's calibration
        (temperature, unknown_below, ood_above with the input distance of
        frames when given) and labels: see aether.decide."""
        meta = self.blob.meta
        if np.shape(logits) != (self.n_classes,):
            raise shape_error("logits must have shape [%d] (the model's classes), got %s"
                              % (self.n_classes, list(np.shape(logits))))
        return decide(logits, meta.get("temperature", 1.0), meta.get("unknown_below", 0.0),
                      meta.get("labels"), meta.get("ood_above", 0.0),
                      None if frames is None else self.input_distance(frames))

    def embed(self, frames, pool="mean"):
        """Pooled hidden state [input_dim] (an embedding of the window)."""
        return self.forward(frames, pool)[1]

    def stream(self, capacity=4096, evict="sliding", storage="f32", landmarks="sum"):
        """A streaming Session (one KV cache per layer). The session keeps
        this model alive."""
        return Session(self, capacity, evict, storage, landmarks)

    def close(self):
        self._h.close()

    def window(self, frames=None, pool=None):
        """A Window classifier over the last `frames` frames, pooled by
        `pool`; both default to the blob's metadata (window_frames, pool).
        ValueError when neither gives a window length."""
        meta = self.blob.meta
        if frames is None:
            frames = meta.get("window_frames")
        if frames is None:
            raise ValueError("the blob has no window_frames metadata: give frames=")
        if pool is None:
            pool = meta.get("pool", "last")
        return Window(self, frames, pool)

    def __repr__(self):
        i = self.info
        return ("Model(input_dim=%d, q_heads=%d, kv_heads=%d, head_dim=%d, layers=%d, "
                "classes=%d, backend=%s)" % (i["input_dim"], i["n_q_heads"], i["n_kv_heads"],
                                             i["head_dim"], i["n_layers"], i["n_classes"],
                                             i["backend"]))


class Window(object):
    """The library's window classifier: a ring of the last `frames` frames
    and the window forward over them. push(frame) adds one; classify()
    returns the logits of the frames held, oldest first: exactly
    Model.forward(last frames, pool) and what `aether run` decides on."""

    def __init__(self, model, frames, pool="mean"):
        if not isinstance(model, Model):
            raise TypeError("model must be an aether.Model")
        p = _lib.WindowParams()
        p.frames = uint(frames, "frames")
        p.pool = _pick(_POOL, pool, "pool")
        p.external_workspace = 0
        ptr = ctypes.c_void_p()
        check(fn.window_create(model._h.get("Model"), ctypes.byref(p), ctypes.byref(ptr)))
        self.model = model
        self.frames, self.pool = int(frames), pool
        self._h = Handle(ptr.value, fn.window_destroy, keep=(model._h,))
        self.input_dim, self.n_classes = model.input_dim, model.n_classes

    def push(self, frame):
        """Append one frame [input_dim]; NaN/Inf raise NonFiniteError and
        change nothing."""
        x = f32(frame, "frame", shape=(self.input_dim,))
        with self._h.lock:
            check(fn.window_push(self._h.get("Window"), fptr(x)))

    def classify(self, return_pooled=False):
        """Logits [n_classes] of the frames held (CacheEmptyError if none)."""
        logits = np.zeros(self.n_classes, np.float32)
        pooled = np.zeros(self.input_dim, np.float32) if return_pooled else None
        with self._h.lock:
            check(fn.window_classify(self._h.get("Window"), fptr(logits), fptr(pooled)))
        return (logits, pooled) if return_pooled else logits

    def reset(self):
        with self._h.lock:
            check(fn.window_reset(self._h.get("Window")))

    @property
    def held(self):
        return int(fn.window_held(self._h.get("Window")))

    def __len__(self):
        return self.held

    @property
    def pushed(self):
        return int(fn.window_pushed(self._h.get("Window")))

    def close(self):
        self._h.close()


class Session(object):
    """Frame-by-frame inference; step(frame) -> logits [n_classes]."""

    def __init__(self, model, capacity=4096, evict="sliding", storage="f32", landmarks="sum"):
        if not isinstance(model, Model):
            raise TypeError("model must be an aether.Model")
        p = fn.model_session_params_default()
        p.capacity = uint(capacity, "capacity")
        p.evict = _pick(_EVICT, evict, "evict")
        p.storage = _pick(_STORAGE, storage, "storage")
        p.landmarks = _pick(_LANDMARKS, landmarks, "landmarks")
        ptr = ctypes.c_void_p()
        check(fn.model_session_create(model._h.get("Model"), ctypes.byref(p),
                                      ctypes.byref(ptr)))
        self.model = model
        self._h = Handle(ptr.value, fn.model_session_destroy, keep=(model._h,))
        self.input_dim, self.n_classes = model.input_dim, model.n_classes

    def step(self, frame, return_pooled=False):
        """Feed one frame [input_dim]; returns logits (and the frame's final
        hidden state when return_pooled). NaN/Inf frames raise NonFiniteError
        and leave the session unchanged."""
        x = f32(frame, "frame", shape=(self.input_dim,))
        logits = np.zeros(self.n_classes, np.float32)
        pooled = np.zeros(self.input_dim, np.float32) if return_pooled else None
        with self._h.lock:
            check(fn.model_session_step(self._h.get("Session"), fptr(x), fptr(logits),
                                        fptr(pooled)))
        return (logits, pooled) if return_pooled else logits

    def run(self, frames):
        """step() over frames [N, input_dim]; returns logits [N, n_classes]."""
        x = f32(frames, "frames", shape=(None, self.input_dim))
        out = np.zeros((x.shape[0], self.n_classes), np.float32)
        with self._h.lock:
            ptr = self._h.get("Session")
            for t in range(x.shape[0]):
                check(fn.model_session_step(ptr, fptr(x[t]), fptr(out[t]), None),
                      "frame %d" % t)
        return out

    @staticmethod
    def step_batch(sessions, frames, return_pooled=False):
        """One frame for each of several sessions of the same Model at once
        (aether_model_step_batch): frames [n, input_dim], row i for
        sessions[i]. Returns (logits [n, n_classes], errors) - or (logits,
        pooled, errors) with return_pooled - where errors[i] is None or the
        AetherError of session i (a NaN frame, a full cache, a session of
        another model or listed twice), whose row is then NaN and whose
        state is unchanged; the other sessions step. Bit for bit the
        logits of step() on each session in turn."""
        sessions = list(sessions)
        if not sessions:
            raise ValueError("step_batch needs at least one session")
        for s in sessions:
            if not isinstance(s, Session):
                raise TypeError("sessions must be aether.Session objects")
        model = sessions[0].model
        n = len(sessions)
        x = f32(frames, "frames", shape=(n, model.input_dim))
        logits = np.full((n, model.n_classes), np.nan, np.float32)
        pooled = np.full((n, model.input_dim), np.nan, np.float32) if return_pooled else None
        status = (ctypes.c_int * n)()
        ptrs = (ctypes.c_void_p * n)()
        mptr = model._h.get("Model")
        ws = Workspace(fn.model_step_batch_workspace_size, mptr, n)
        # Each distinct session locked once, in a fixed order.
        held = sorted({id(s): s for s in sessions}.values(), key=id)
        for s in held:
            s._h.lock.acquire()
        try:
            for i, s in enumerate(sessions):
                ptrs[i] = s._h.get("Session")
            check(fn.model_step_batch(mptr, ptrs, n, fptr(x), fptr(logits), fptr(pooled),
                                      status, *ws.args))
        finally:
            for s in reversed(held):
                s._h.lock.release()
        errors = [None if status[i] == 0 else error_for(status[i], "session %d" % i)
                  for i in range(n)]
        return (logits, pooled, errors) if return_pooled else (logits, errors)

    def reset(self):
        with self._h.lock:
            check(fn.model_session_reset(self._h.get("Session")))

    @property
    def frames(self):
        return int(fn.model_session_frames(self._h.get("Session")))

    def __len__(self):
        return self.frames

    @property
    def evicted(self):
        return bool(fn.model_session_evicted(self._h.get("Session")))

    def close(self):
        self._h.close()
