#!/usr/bin/env python3
"""Host reference logits for the bare-metal program (scripts/baremetal.sh).

usage: expected.py AETHER MODEL FEATURES.npy NAME N_FRAMES WINDOW POOL EVERY OUTDIR [QMODEL]

Writes, in OUTDIR:
  NAME.features.npy     the first N_FRAMES feature frames
  NAME.params           "WINDOW POOL_MEAN N_FRAMES" (read by the program)
  NAME.f32.stream.bin   `aether stream --capacity WINDOW --evict sliding`
                        (AETHER_KERNELS=reference):
                        u32 N_FRAMES, u32 n_classes, then per frame n_classes f32
  NAME.f32.window.bin   `aether classify --pool POOL` over the last WINDOW
                        frames (fewer while the ring fills) after frame t, for
                        t = EVERY-1, 2*EVERY-1, ... and the last frame:
                        u32 count, u32 n_classes, then per checkpoint u32 t and
                        n_classes f32
  NAME.q8.stream.bin / NAME.q8.window.bin   the same for QMODEL (the RVNQ
                        blob `aether quantize` made of MODEL: the integer path),
                        when given
  NAME.i8.stream.bin    NAME.f32.stream.bin with `--kv int8` (int8 K/V caches)
All little-endian. The CLI prints logits with 9 significant digits, which
identifies a binary32 value exactly. Standard library only.
"""
import ast
import json
import os
import struct
import subprocess
import sys


def read_npy(path):
    data = open(path, "rb").read()
    if data[:6] != b"\x93NUMPY":
        sys.exit(f"{path}: not a .npy file")
    major = data[6]
    if major == 1:
        hlen = struct.unpack("<H", data[8:10])[0]
        start = 10
    else:
        hlen = struct.unpack("<I", data[8:12])[0]
        start = 12
    header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    if header["descr"] != "<f4" or header["fortran_order"] or len(header["shape"]) != 2:
        sys.exit(f"{path}: expected float32 [N, D]")
    return header["shape"], data[start + hlen:]


def write_npy(path, rows, dim, payload):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, dim)
    pad = 64 - (10 + len(header) + 1) % 64
    if pad == 64:
        pad = 0
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(payload)


def run_json(cmd):
    # The scalar reference kernels, the only path of the firmware targets
    # (`classify` forces them; `stream` would take a host's SIMD decode).
    env = dict(os.environ, AETHER_KERNELS="reference")
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def main():
    if len(sys.argv) not in (10, 11):
        sys.exit(__doc__)
    aether, model, feats, name = sys.argv[1:5]
    n_frames, window = int(sys.argv[5]), int(sys.argv[6])
    pool, every, outdir = sys.argv[7], int(sys.argv[8]), sys.argv[9]
    qmodel = sys.argv[10] if len(sys.argv) == 11 else None
    (rows, dim), payload = read_npy(feats)
    if rows < n_frames:
        sys.exit(f"{feats}: {rows} frames, {n_frames} needed")
    row = 4 * dim
    frames_path = os.path.join(outdir, f"{name}.features.npy")
    write_npy(frames_path, n_frames, dim, payload[:n_frames * row])
    with open(os.path.join(outdir, f"{name}.params"), "w") as f:
        f.write(f"{window} {1 if pool == 'mean' else 0} {n_frames}\n")

    for variant, blob in (("f32", model), ("q8", qmodel)):
        if blob:
            write_variant(aether, blob, variant, name, frames_path, n_frames, window, pool,
                          every, dim, row, payload, outdir)
    write_stream(aether, model, "i8", ["--kv", "int8"], name, frames_path, n_frames, window,
                 outdir)


def write_stream(aether, model, variant, extra, name, frames_path, n_frames, window, outdir):
    stream = run_json([aether, "stream", "--model", model, "--frames", frames_path, "--json",
                       "--capacity", str(window), "--evict", "sliding"] + extra)
    if len(stream) != n_frames or not all(s.get("ok") for s in stream):
        sys.exit(f"aether stream: {len(stream)} results for {n_frames} frames")
    n_classes = len(stream[0]["logits"])
    with open(os.path.join(outdir, f"{name}.{variant}.stream.bin"), "wb") as f:
        f.write(struct.pack("<II", n_frames, n_classes))
        for s in stream:
            f.write(struct.pack(f"<{n_classes}f", *s["logits"]))
    return n_classes


def write_variant(aether, model, variant, name, frames_path, n_frames, window, pool, every,
                  dim, row, payload, outdir):
    n_classes = write_stream(aether, model, variant, [], name, frames_path, n_frames, window,
                             outdir)

    checkpoints = list(range(every - 1, n_frames, every))
    if not checkpoints or checkpoints[-1] != n_frames - 1:
        checkpoints.append(n_frames - 1)
    slice_path = os.path.join(outdir, f"{name}.slice.npy")
    with open(os.path.join(outdir, f"{name}.{variant}.window.bin"), "wb") as f:
        f.write(struct.pack("<II", len(checkpoints), n_classes))
        for t in checkpoints:
            first = max(0, t - window + 1)
            write_npy(slice_path, t + 1 - first, dim, payload[first * row:(t + 1) * row])
            res = run_json([aether, "classify", "--model", model, "--frames", slice_path,
                            "--json", "--pool", pool])
            f.write(struct.pack("<I", t))
            f.write(struct.pack(f"<{n_classes}f", *res[0]["logits"]))
    os.remove(slice_path)


if __name__ == "__main__":
    main()
