"""The ctypes structs must match the C headers byte for byte. Checked with
the C compiler when one is available (the binding itself never needs one)."""

import ctypes
import os
import shutil
import subprocess

import pytest

from aether import _lib
from conftest import ROOT

# ctypes struct -> (C type name, fields to check; None = all)
STRUCTS = {
    _lib.Tensor: ("aether_tensor", None),
    _lib.AttnParams: ("aether_attn_params", None),
    _lib.AttnConfig: ("aether_attn_config", ["magic_", "window", "block_size", "globals",
                                             "n_globals", "causal", "use_log_stride",
                                             "use_landmarks", "sort_candidates"]),
    _lib.KVCacheParams: ("aether_kvcache_params", None),
    _lib.HeadConfig: ("aether_head_config", None),
    _lib.BlobHeader: ("aether_blob_header", None),
    _lib.BlobView: ("aether_blob_view", None),
    _lib.BlobLayout: ("aether_blob_layout", None),
    _lib.BlobDemoParams: ("aether_blob_demo_params", None),
    _lib.ModelInfo: ("aether_model_info", None),
    _lib.SessionParams: ("aether_session_params", None),
    _lib.ClassPacket: ("aether_class_packet", None),
    _lib.CsiFrame: ("aether_csi_frame", None),
    _lib.CsiError: ("aether_csi_error", None),
    _lib.RecordingStats: ("aether_recording_stats", None),
    _lib.NpzInfo: ("aether_npz_info", None),
    _lib.RecordingOptions: ("aether_recording_options", None),
    _lib.FeaturesConfig: ("aether_features_config", None),
    _lib.NormConfig: ("aether_norm_config", None),
    _lib.FastGrnnWeights: ("aether_fastgrnn_weights", None),
    _lib.CausalParams: ("aether_causal_params", None),
    _lib.BlobModelMeta: ("aether_blob_model_meta", None),
    _lib.WindowParams: ("aether_window_params", None),
}
HEADERS = ["core", "tensor", "pattern", "attention", "kvcache", "head", "blob", "model",
           "packet", "csi", "recording", "features", "gate", "window"]


def _c_program():
    lines = ["#include <stddef.h>", "#include <stdio.h>"]
    lines += ['#include "aether/%s.h"' % h for h in HEADERS]
    lines.append("int main(void) {")
    for cls, (cname, fields) in STRUCTS.items():
        lines.append('printf("%s sizeof %%zu\\n", sizeof(%s));' % (cname, cname))
        for name in fields or [f[0] for f in cls._fields_]:
            lines.append('printf("%s %s %%zu\\n", offsetof(%s, %s));'
                         % (cname, name, cname, name))
    lines.append("return 0; }")
    return "\n".join(lines)


def test_struct_layouts_match_c(tmp_path):
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or \
        shutil.which("clang")
    include = os.path.join(ROOT, "include")
    if not cc or not os.path.isdir(include):
        pytest.skip("no C compiler or headers to compare against")
    src = tmp_path / "layout.c"
    src.write_text(_c_program())
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", "-I", include, str(src), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    c_values = {}
    for line in out.splitlines():
        struct, field, value = line.split()
        c_values[(struct, field)] = int(value)
    for cls, (cname, fields) in STRUCTS.items():
        for name in fields or [f[0] for f in cls._fields_]:
            assert getattr(cls, name).offset == c_values[(cname, name)], (cname, name)
        if fields is None:
            assert ctypes.sizeof(cls) == c_values[(cname, "sizeof")], cname
        else:  # AttnConfig carries trailing slack on purpose
            assert ctypes.sizeof(cls) >= c_values[(cname, "sizeof")], cname
