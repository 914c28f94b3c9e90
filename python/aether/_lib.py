"""Locating and loading libaether, and the C structs and prototypes.

The binding uses ctypes only: nothing is compiled when the package is
installed. Every prototype below mirrors a declaration in include/aether/*.h.
A symbol the loaded library lacks (an older or trimmed build) does not stop
the import; calling the Python function that needs it raises
aether.UnsupportedError instead.

ctypes releases the GIL for the duration of every foreign call, so long
kernels (forward, model windows, recording reads) run in parallel with other
Python threads. Objects with mutable C state (KVCache, Session, Features,
Recording, ...) serialise their own calls with a lock.
"""

import ctypes
import ctypes.util
import glob
import os

from ctypes import (POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int, c_int8,
                    c_int64, c_size_t, c_uint, c_uint8, c_uint16, c_uint32, c_uint64, c_void_p)

_HERE = os.path.dirname(os.path.abspath(__file__))
_LIBNAMES = ("libaether.so", "libaether.dylib", "aether.dll")


def _candidates():
    """Yield (label, path) in lookup order; the first one that loads wins."""
    env = os.environ.get("AETHER_LIB")
    if env:
        if os.path.isdir(env):
            for name in _LIBNAMES:
                yield "AETHER_LIB", os.path.join(env, name)
        else:
            yield "AETHER_LIB", env
        return  # an explicit choice is never silently replaced
    for name in _LIBNAMES:
        yield "package", os.path.join(_HERE, "_lib", name)
    # In-tree use (PYTHONPATH=python): the source tree's build directories,
    # ../build first, then any other ../build*/ by newest library.
    root = os.path.dirname(os.path.dirname(_HERE))
    for name in _LIBNAMES:
        yield "source tree", os.path.join(root, "build", name)
    others = []
    for name in _LIBNAMES:
        others.extend(glob.glob(os.path.join(root, "build*", name)))
    others = [p for p in others if os.path.dirname(p) != os.path.join(root, "build")]
    others.sort(key=lambda p: os.path.getmtime(p), reverse=True)
    for path in others:
        yield "source tree", path
    found = ctypes.util.find_library("aether")
    if found:
        yield "system", found


def _sanitized(path):
    """A sanitizer-instrumented build aborts the process when dlopen'ed into an
    uninstrumented python, so source-tree guesses skip those."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"__tsan_init" in data or b"__msan_init" in data


def _load():
    tried = []
    for label, path in _candidates():
        if label != "system" and not os.path.exists(path):
            tried.append("%s: %s (missing)" % (label, path))
            continue
        if label == "source tree" and _sanitized(path):
            tried.append("%s: %s (sanitizer build, skipped)" % (label, path))
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as exc:
            tried.append("%s: %s (%s)" % (label, path, exc))
    hint = ""
    if any("asan" in t or "tsan" in t for t in tried):
        hint = ("\nSanitizer builds load only with their runtime preloaded, e.g. "
                "LD_PRELOAD=$(cc -print-file-name=libasan.so).")
    raise ImportError(
        "aether: cannot find or load the C library libaether.so. Build it with "
        "`cmake -S . -B build && cmake --build build --target aether_shared` and "
        "either set AETHER_LIB=/path/to/libaether.so (or its directory) or "
        "reinstall the package so that it bundles the library.\nTried:\n  "
        + "\n  ".join(tried or ["(no candidates)"]) + hint)


lib, lib_path = _load()

# ---------------------------------------------------------------- structs

size_p = POINTER(c_size_t)
float_p = POINTER(c_float)
u8_p = POINTER(c_uint8)
MAX_GLOBALS = 64


class Tensor(Structure):
    _fields_ = [("data", float_p), ("seq", c_size_t), ("heads", c_size_t),
                ("dim", c_size_t), ("owned_", c_void_p)]


class AttnParams(Structure):
    _fields_ = [("window", c_size_t), ("block_size", c_size_t), ("globals", size_p),
                ("n_globals", c_size_t), ("causal", c_int), ("use_log_stride", c_int),
                ("use_landmarks", c_int), ("sort_candidates", c_int)]


class AttnConfig(Structure):
    _fields_ = [("magic_", c_uint32), ("window", c_size_t), ("block_size", c_size_t),
                ("globals", c_size_t * MAX_GLOBALS), ("n_globals", c_size_t),
                ("causal", c_int), ("use_log_stride", c_int), ("use_landmarks", c_int),
                ("sort_candidates", c_int),
                # slack: a field appended to the C struct later cannot overrun
                ("_slack", c_uint8 * 256)]


class KVCacheParams(Structure):
    _fields_ = [("capacity", c_size_t), ("kv_heads", c_size_t), ("head_dim", c_size_t),
                ("block_size", c_size_t), ("attn", POINTER(AttnConfig)), ("storage", c_int),
                ("landmarks", c_int), ("evict", c_int), ("protect_tokens", size_p),
                ("n_protect", c_size_t), ("protect_recent", c_size_t),
                ("landmark_blocks", c_size_t)]


class HeadConfig(Structure):
    _fields_ = [("backend", c_int), ("q_heads", c_size_t), ("kv_heads", c_size_t),
                ("head_dim", c_size_t), ("window", c_size_t), ("block_size", c_size_t),
                ("causal", c_int), ("checkpoint_dense_mha", c_int)]


class BlobHeader(Structure):
    _fields_ = [("version", c_uint16), ("flags", c_uint8), ("reserved", c_uint8),
                ("input_dim", c_uint16), ("n_q_heads", c_uint16), ("n_kv_heads", c_uint16),
                ("head_dim", c_uint16), ("n_layers", c_uint16), ("n_classes", c_uint16),
                ("weights_len", c_uint32)]


class BlobView(Structure):
    _fields_ = [("header", BlobHeader), ("weights", POINTER(c_uint8)), ("crc", c_uint32)]


class BlobLayout(Structure):
    _fields_ = [(n, c_size_t) for n in (
        "elem_size", "q_width", "kv_width", "layer_elems", "wq", "wk", "wv", "wo",
        "classifier", "v1_elems", "norm_mean", "norm_inv_std", "total_elems", "total_bytes",
        "meta_bytes")]


class BlobDemoParams(Structure):
    _fields_ = [("seed", c_uint64), ("f16", c_int), ("input_norm", c_int),
                ("input_dim", c_uint16), ("n_q_heads", c_uint16), ("n_kv_heads", c_uint16),
                ("head_dim", c_uint16), ("n_layers", c_uint16), ("n_classes", c_uint16)]


class ModelInfo(Structure):
    _fields_ = [("input_dim", c_size_t), ("n_q_heads", c_size_t), ("n_kv_heads", c_size_t),
                ("head_dim", c_size_t), ("n_layers", c_size_t), ("n_classes", c_size_t),
                ("n_params", c_size_t), ("f16_source", c_int), ("input_norm", c_int),
                ("borrowed", c_int), ("backend", c_int)]


META_MAX_TEXT = 4096  # AETHER_BLOB_META_MAX_TEXT
META_NAME_MAX = 32    # AETHER_BLOB_META_NAME_MAX


class BlobModelMeta(Structure):
    _fields_ = [("present", c_int), ("n_labels", c_size_t),
                ("labels", c_char * (META_MAX_TEXT + 1)), ("pool", c_int),
                ("have_window_frames", c_int), ("have_window_stride", c_int),
                ("have_attn_window", c_int), ("have_attn_block", c_int),
                ("have_input_dim", c_int),
                ("window_frames", c_size_t), ("window_stride", c_size_t),
                ("attn_window", c_size_t), ("attn_block", c_size_t), ("input_dim", c_size_t),
                ("backend", c_char * META_NAME_MAX), ("features", c_char * META_NAME_MAX),
                ("have_temperature", c_int), ("have_unknown_below", c_int),
                ("have_ood_above", c_int),
                ("temperature", c_float), ("unknown_below", c_float), ("ood_above", c_float)]


class DecisionParams(Structure):
    _fields_ = [("temperature", c_float), ("unknown_below", c_float), ("ood_above", c_float)]


class Decision(Structure):
    _fields_ = [("top", c_size_t), ("probability", c_float), ("margin", c_float),
                ("unknown", c_int), ("out_of_distribution", c_int)]


class WindowParams(Structure):
    _fields_ = [("frames", c_size_t), ("pool", c_int), ("external_workspace", c_int)]


class SessionParams(Structure):
    _fields_ = [("capacity", c_size_t), ("evict", c_int), ("storage", c_int),
                ("landmarks", c_int)]


class ClassPacket(Structure):
    _fields_ = [("version", c_uint16), ("n_classes", c_uint16), ("node_id", c_uint8),
                ("ts_us", c_uint64), ("seq", c_uint32), ("argmax", c_uint8),
                ("top_logit", c_float), ("margin", c_float), ("crc", c_uint32)]


class CsiFrame(Structure):
    _fields_ = [("timestamp", c_double), ("node_id", c_uint32), ("kind", c_int),
                ("n_pairs", c_size_t), ("iq", POINTER(c_int8)), ("amp", float_p),
                ("flags", c_uint), ("n_antennas", c_uint8), ("rssi", c_int8),
                ("noise_floor", c_int8), ("freq_mhz", c_uint32), ("sequence", c_uint32),
                ("record", c_uint64)]


CSI_KIND_COUNT = 2
CSI_SKIP_COUNT = 8
CSI_KEEP_ERRORS = 8
CSI_PAIR_BINS = 8


class CsiError(Structure):
    _fields_ = [("record", c_uint64), ("offset", c_uint64), ("status", c_int),
                ("reason", c_char * 96)]


class _PairBin(Structure):
    _fields_ = [("n_pairs", c_uint32), ("count", c_uint64)]


class RecordingStats(Structure):
    _fields_ = [("records", c_uint64), ("frames", c_uint64 * CSI_KIND_COUNT),
                ("frames_by_node", c_uint64 * 256), ("pairs", _PairBin * CSI_PAIR_BINS),
                ("pairs_other", c_uint64), ("skipped", c_uint64 * CSI_SKIP_COUNT),
                ("malformed", c_uint64), ("too_long", c_uint64),
                ("errors", CsiError * CSI_KEEP_ERRORS), ("n_errors", c_size_t),
                ("t_first", c_double), ("t_last", c_double)]


class NpzInfo(Structure):
    _fields_ = [("label", c_char * 32), ("chip", c_char * 16), ("collected_at", c_char * 40),
                ("format_version", c_char * 16), ("num_subcarriers", c_int64),
                ("duration_ms", c_double), ("gain_locked", c_int), ("rows", c_size_t),
                ("row_bytes", c_size_t)]


CSI_ERROR_FN = ctypes.CFUNCTYPE(None, c_void_p, POINTER(CsiError))


class RecordingOptions(Structure):
    _fields_ = [("max_line", c_size_t), ("on_error", CSI_ERROR_FN), ("user", c_void_p)]


class FeaturesConfig(Structure):
    _fields_ = [("input_dim", c_size_t), ("max_nodes", c_size_t), ("recipe", c_uint)]


class NormConfig(Structure):
    _fields_ = [("dim", c_size_t), ("mode", c_int), ("alpha", c_float), ("eps", c_float)]


class FastGrnnWeights(Structure):
    _fields_ = [("input_dim", c_size_t), ("hidden_dim", c_size_t),
                ("w_gate", float_p), ("w_gate_len", c_size_t),
                ("u_gate", float_p), ("u_gate_len", c_size_t),
                ("w_update", float_p), ("w_update_len", c_size_t),
                ("u_update", float_p), ("u_update_len", c_size_t),
                ("b_gate", float_p), ("b_gate_len", c_size_t),
                ("b_update", float_p), ("b_update_len", c_size_t),
                ("zeta", c_float), ("nu", c_float)]


class CausalParams(Structure):
    _fields_ = [("rule", c_int), ("top_k", c_size_t), ("threshold", c_float)]


# ---------------------------------------------------------------- prototypes

S = c_int  # aether_status
T = POINTER(Tensor)
CFG = POINTER(AttnConfig)
vp = c_void_p

_PROTOS = {
    # core
    "aether_version": (c_char_p, []),
    "aether_strerror": (c_char_p, [c_int]),
    "aether_status_name": (c_char_p, [c_int]),
    "aether_crc32": (c_uint32, [c_void_p, c_size_t]),
    "aether_f32_to_f16_array": (None, [float_p, POINTER(c_uint16), c_size_t]),
    "aether_f16_to_f32_array": (None, [POINTER(c_uint16), float_p, c_size_t]),
    # dispatch
    "aether_cpu_features": (c_uint, []),
    "aether_set_kernel_mode": (S, [c_int]),
    "aether_get_kernel_mode": (c_int, []),
    "aether_kernel_name": (c_char_p, []),
    "aether_kernel_mode_parse": (S, [c_char_p, POINTER(c_int)]),
    "aether_set_num_threads": (S, [c_uint]),
    "aether_get_num_threads": (c_uint, []),
    # pattern / attention
    "aether_attn_params_default": (AttnParams, []),
    "aether_attn_config_init": (S, [CFG, POINTER(AttnParams)]),
    "aether_pattern_max_tokens": (c_size_t, [CFG, c_size_t]),
    "aether_pattern_max_blocks": (c_size_t, [CFG, c_size_t]),
    "aether_pattern_tokens": (S, [CFG, c_size_t, c_size_t, size_p, c_size_t, size_p]),
    "aether_pattern_blocks": (S, [CFG, c_size_t, c_size_t, size_p, c_size_t, size_p]),
    "aether_estimate_sparse_edges": (c_uint64, [CFG, c_size_t]),
    "aether_attn_dense": (S, [T, T, T, c_int, T]),
    "aether_attn_forward": (S, [CFG, T, T, T, T, vp, c_size_t]),
    "aether_attn_forward_gqa": (S, [CFG, T, T, T, T, vp, c_size_t]),
    "aether_attn_forward_auto": (S, [CFG, T, T, T, T, vp, c_size_t]),
    "aether_attn_forward_tiled": (S, [CFG, T, T, T, T, c_size_t, c_int, vp, c_size_t]),
    "aether_attn_forward_gqa_tiled": (S, [CFG, T, T, T, T, c_size_t, c_int, vp, c_size_t]),
    "aether_attn_tiled_tile": (c_size_t, [CFG, c_size_t]),
    "aether_attn_forward_gated": (S, [CFG, T, T, T, u8_p, c_size_t, T, vp, c_size_t]),
    "aether_attn_forward_gqa_gated": (S, [CFG, T, T, T, u8_p, c_size_t, T, vp, c_size_t]),
    # workspace queries: every call above that takes (ws, ws_len)
    "aether_attn_forward_workspace_size": (S, [CFG, c_size_t, c_size_t, c_size_t, c_size_t,
                                               size_p]),
    "aether_attn_forward_tiled_workspace_size": (S, [CFG, c_size_t, c_size_t, c_size_t,
                                                     c_size_t, c_size_t, c_int, size_p]),
    "aether_attn_forward_gated_workspace_size": (S, [CFG, c_size_t, c_size_t, c_size_t,
                                                     c_size_t, size_p]),
    # kv cache
    "aether_kvcache_params_default": (KVCacheParams, [CFG, c_size_t, c_size_t, c_size_t]),
    "aether_kvcache_create": (S, [POINTER(KVCacheParams), POINTER(vp)]),
    "aether_kvcache_destroy": (None, [vp]),
    "aether_kvcache_append": (S, [vp, T, T]),
    "aether_kvcache_append_all": (S, [vp, T, T]),
    "aether_kvcache_reset": (S, [vp]),
    "aether_kvcache_len": (c_size_t, [vp]),
    "aether_kvcache_capacity": (c_size_t, [vp]),
    "aether_kvcache_is_full": (c_int, [vp]),
    "aether_kvcache_tokens_seen": (c_size_t, [vp]),
    "aether_kvcache_kv_heads": (c_size_t, [vp]),
    "aether_kvcache_head_dim": (c_size_t, [vp]),
    "aether_kvcache_block_size": (c_size_t, [vp]),
    "aether_kvcache_bytes": (c_size_t, [vp]),
    "aether_kvcache_slot_token": (S, [vp, c_size_t, size_p]),
    "aether_kvcache_slot_score": (S, [vp, c_size_t, float_p]),
    "aether_kvcache_slot_rows": (S, [vp, c_size_t, float_p, float_p]),
    "aether_kvcache_landmark_blocks": (c_size_t, [vp]),
    "aether_kvcache_landmark": (S, [vp, c_size_t, float_p, float_p]),
    "aether_kvcache_decode_step": (S, [CFG, T, vp, T]),
    "aether_kvcache_decode_batch": (S, [CFG, T, T, T, vp, T]),
    "aether_kvcache_decode_gated": (S, [CFG, T, vp, u8_p, c_size_t, T, vp, c_size_t]),
    "aether_kvcache_decode_gated_workspace_size": (S, [CFG, vp, c_size_t, size_p]),
    "aether_kvcache_evict_and_append": (S, [vp, T, T, float_p, c_size_t, size_p, c_size_t,
                                            c_size_t, size_p]),
    # gate
    "aether_fastgrnn_create": (S, [c_size_t, c_size_t, c_int, POINTER(vp)]),
    "aether_fastgrnn_create_from_weights": (S, [POINTER(FastGrnnWeights), POINTER(vp)]),
    "aether_fastgrnn_destroy": (None, [vp]),
    "aether_fastgrnn_input_dim": (c_size_t, [vp]),
    "aether_fastgrnn_hidden_dim": (c_size_t, [vp]),
    "aether_fastgrnn_params": (S, [vp] + [POINTER(float_p)] * 6 + [float_p, float_p]),
    "aether_fastgrnn_step": (S, [vp, float_p, c_size_t, float_p, float_p, float_p]),
    "aether_fastgrnn_salience": (S, [vp, float_p, c_size_t, float_p]),
    "aether_fastgrnn_score_sequence": (S, [vp, float_p, c_size_t, c_size_t, float_p, c_size_t,
                                           vp, c_size_t]),
    "aether_fastgrnn_score_kv": (S, [vp, T, float_p, c_size_t, vp, c_size_t]),
    "aether_fastgrnn_workspace_size": (S, [vp, size_p]),
    "aether_keep_mask_top_k_workspace_size": (S, [c_size_t, c_size_t, size_p]),
    "aether_keep_mask_quantile_workspace_size": (S, [c_size_t, size_p]),
    "aether_keep_mask_causal_workspace_size": (S, [POINTER(CausalParams), c_size_t, size_p]),
    "aether_attn_forward_gated_fastgrnn_workspace_size": (S, [CFG, vp, c_size_t, c_size_t,
                                                              c_size_t, c_size_t, c_size_t,
                                                              size_p]),
    "aether_keep_mask_top_k": (S, [float_p, c_size_t, c_size_t, u8_p, vp, c_size_t]),
    "aether_keep_mask_quantile": (S, [float_p, c_size_t, c_float, u8_p, vp, c_size_t]),
    "aether_keep_mask_causal": (S, [POINTER(CausalParams), float_p, c_size_t, u8_p, vp,
                                    c_size_t]),
    "aether_causal_gate_create": (S, [vp, POINTER(CausalParams), c_size_t, POINTER(vp)]),
    "aether_causal_gate_destroy": (None, [vp]),
    "aether_causal_gate_reset": (S, [vp]),
    "aether_causal_gate_position": (c_size_t, [vp]),
    "aether_causal_gate_step": (S, [vp, float_p, c_size_t, u8_p, float_p]),
    "aether_attn_forward_gated_fastgrnn": (S, [CFG, vp, T, T, T, c_size_t, T, float_p, u8_p,
                                               vp, c_size_t]),
    # blob
    "aether_blob_parse": (S, [c_void_p, c_size_t, POINTER(BlobView)]),
    "aether_blob_with_metadata_size": (S, [POINTER(BlobView), c_size_t, size_p]),
    "aether_blob_with_metadata": (S, [POINTER(BlobView), c_char_p, c_size_t, c_void_p, c_size_t,
                                      size_p]),
    "aether_blob_peek_header": (S, [c_void_p, c_size_t, POINTER(BlobHeader)]),
    "aether_blob_validate_model": (S, [POINTER(BlobView), POINTER(BlobLayout)]),
    "aether_blob_read_f32": (S, [POINTER(BlobView), c_size_t, c_size_t, float_p]),
    "aether_blob_param_count": (S, [POINTER(BlobHeader), size_p]),
    "aether_blob_serialized_size": (S, [POINTER(BlobHeader), size_p]),
    "aether_blob_serialize": (S, [POINTER(BlobHeader), c_void_p, c_void_p, c_size_t, size_p]),
    "aether_blob_reference_message": (c_char_p, [c_int]),
    "aether_blob_demo_default": (BlobDemoParams, []),
    "aether_blob_demo_size": (S, [POINTER(BlobDemoParams), size_p]),
    "aether_blob_demo_write": (S, [POINTER(BlobDemoParams), c_void_p, c_size_t, size_p]),
    # head / model
    "aether_head_backend_name": (c_char_p, [c_int]),
    "aether_model_default_head_config": (S, [POINTER(BlobView), POINTER(HeadConfig)]),
    "aether_model_create": (S, [POINTER(BlobView), POINTER(HeadConfig), c_int, POINTER(vp)]),
    "aether_model_destroy": (None, [vp]),
    "aether_model_get_info": (S, [vp, POINTER(ModelInfo)]),
    "aether_model_forward": (S, [vp, float_p, c_size_t, c_int, float_p, float_p, vp,
                                 c_size_t]),
    "aether_model_forward_workspace_size": (S, [vp, c_size_t, size_p]),
    "aether_blob_model_meta_read": (S, [POINTER(BlobView), POINTER(BlobModelMeta)]),
    "aether_blob_model_meta_label": (c_char_p, [POINTER(BlobModelMeta), c_size_t]),
    "aether_window_create": (S, [vp, POINTER(WindowParams), POINTER(vp)]),
    "aether_window_destroy": (None, [vp]),
    "aether_window_push": (S, [vp, float_p]),
    "aether_window_classify": (S, [vp, float_p, float_p]),
    "aether_window_reset": (S, [vp]),
    "aether_window_held": (c_size_t, [vp]),
    "aether_window_pushed": (c_uint64, [vp]),
    "aether_model_session_params_default": (SessionParams, []),
    "aether_model_session_create": (S, [vp, POINTER(SessionParams), POINTER(vp)]),
    "aether_model_session_destroy": (None, [vp]),
    "aether_model_session_step": (S, [vp, float_p, float_p, float_p]),
    "aether_model_session_reset": (S, [vp]),
    "aether_model_session_frames": (c_size_t, [vp]),
    "aether_model_session_evicted": (c_int, [vp]),
    "aether_model_step_batch_workspace_size": (S, [vp, c_size_t, size_p]),
    "aether_model_step_batch": (S, [vp, POINTER(vp), c_size_t, float_p, float_p, float_p,
                                    POINTER(c_int), vp, c_size_t]),
    # packet
    "aether_packet_argmax": (S, [float_p, c_size_t, size_p, float_p, float_p]),
    "aether_decision_probabilities": (S, [float_p, c_size_t, c_float, float_p]),
    "aether_decide": (S, [float_p, c_size_t, POINTER(DecisionParams), c_float,
                          POINTER(Decision)]),
    "aether_model_input_distance": (S, [c_void_p, float_p, c_size_t, float_p]),
    "aether_packet_from_logits": (S, [POINTER(ClassPacket), float_p, c_size_t, c_uint8,
                                      c_uint64, c_uint32]),
    "aether_packet_encode": (S, [POINTER(ClassPacket), c_void_p, c_size_t]),
    "aether_packet_decode": (S, [c_void_p, c_size_t, POINTER(ClassPacket)]),
    # recordings
    "aether_csi_kind_name": (c_char_p, [c_int]),
    "aether_csi_skip_name": (c_char_p, [c_int]),
    "aether_adr018_parse": (S, [c_void_p, c_size_t, POINTER(CsiFrame)]),
    "aether_adr018_encode": (S, [POINTER(CsiFrame), c_void_p, c_size_t, size_p]),
    "aether_recording_open": (S, [c_char_p, POINTER(RecordingOptions), POINTER(vp)]),
    "aether_recording_open_memory": (S, [c_void_p, c_size_t, POINTER(RecordingOptions),
                                         POINTER(vp)]),
    "aether_recording_next": (S, [vp, POINTER(CsiFrame)]),
    "aether_recording_get_stats": (POINTER(RecordingStats), [vp]),
    "aether_recording_get_format": (c_int, [vp]),
    "aether_recording_npz_info": (POINTER(NpzInfo), [vp]),
    "aether_recording_format_name": (c_char_p, [c_int]),
    "aether_recording_close": (None, [vp]),
    # features
    "aether_features_create": (S, [POINTER(FeaturesConfig), POINTER(vp)]),
    "aether_features_destroy": (None, [vp]),
    "aether_features_dim": (c_size_t, [vp]),
    "aether_features_reset": (S, [vp]),
    "aether_features_forget": (S, [vp, c_uint32]),
    "aether_features_compute": (S, [vp, POINTER(CsiFrame), float_p, c_size_t]),
    "aether_features_groups": (c_size_t, [c_size_t]),
    "aether_features_recipe_parse": (S, [c_char_p, POINTER(c_uint)]),
    "aether_features_recipe_name": (c_char_p, [c_uint]),
    "aether_norm_create": (S, [POINTER(NormConfig), POINTER(vp)]),
    "aether_norm_destroy": (None, [vp]),
    "aether_norm_reset": (S, [vp]),
    "aether_norm_count": (c_uint64, [vp]),
    "aether_norm_update": (S, [vp, float_p, c_size_t]),
    "aether_norm_apply": (S, [vp, float_p, float_p, c_size_t]),
    "aether_norm_stats": (S, [vp, c_size_t, POINTER(c_double), POINTER(c_double)]),
    "aether_norm_state_bytes": (c_size_t, [c_size_t]),
    "aether_norm_save": (S, [vp, c_void_p, c_size_t, size_p]),
    "aether_norm_load": (S, [vp, c_void_p, c_size_t]),
}


class _Missing(object):
    """Stand-in for a symbol this build of the library does not export."""

    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        from aether._errors import UnsupportedError
        raise UnsupportedError(8, "AETHER_ERR_UNSUPPORTED",
                               "%s is not exported by %s" % (self.name, lib_path))

    def __bool__(self):
        return False


class _Fns(object):
    pass


fn = _Fns()
for _name, (_res, _args) in _PROTOS.items():
    try:
        _f = getattr(lib, _name)
    except AttributeError:
        setattr(fn, _name[len("aether_"):], _Missing(_name))
        continue
    _f.restype = _res
    _f.argtypes = _args
    setattr(fn, _name[len("aether_"):], _f)


def has(name):
    """True when the loaded library exports aether_<name>."""
    return bool(getattr(fn, name, None))


def text(b):
    return b.decode("utf-8", "replace") if b is not None else None


