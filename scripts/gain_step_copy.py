#!/usr/bin/env python3
"""Write a copy of the ESPectre gesture folders in which the ESP32-C3's x2
gain steps happen at a fixed rate (models/README.md, "How the models are
scored"). Standard library only.

    python3 scripts/gain_step_copy.py SRC_DIR DST_DIR [RATE] [SEED]

SRC_DIR is ../shared/data/espectre; DST_DIR must be outside the repository
(the recordings are GPL-3.0). For each .npz of wave/, circle_cw/ and
no_gesture/: packets that sit one or more x2 steps below the file's upper
gain level (found from the steps of ln P, P the mean power of the 52
canonical tones, as recipe csi-v4 finds them) are doubled, exactly; then
every packet independently is halved, rounded half away from zero, with
probability RATE (default 0.4; 0 gives a copy without steps). Other members
and file names are kept, so `aether train --cv K --cv-score-data DST_DIR`
finds each held-out recording's namesake.
"""
import math
import os
import random
import shutil
import struct
import sys
import zipfile

LN4 = math.log(4.0)
TOL = 0.45  # AETHER_FEATURES_V4_STEP_TOL
CANON = list(range(1, 27)) + list(range(38, 64))
CLASSES = ("wave", "circle_cw", "no_gesture")


def half(v):
    return (v + 1) // 2 if v >= 0 else -((-v + 1) // 2)


def levels(rows):
    """Gain level of each packet, in x2 steps, relative to the first."""
    out, g, lp = [], 0, None
    for r in rows:
        p = sum(r[2 * k] ** 2 + r[2 * k + 1] ** 2 for k in CANON) / len(CANON)
        if p > 0:
            lv = math.log(p)
            if lp is not None:
                d = lv - lp
                k = math.floor(d / LN4 + 0.5)
                if k != 0 and abs(k) <= 2 and abs(d - k * LN4) <= TOL:
                    g += k
            lp = lv
        out.append(g)
    return out


def restep(blob, rate, rng):
    hl = struct.unpack("<H", blob[8:10])[0]
    head, data = blob[: 10 + hl], blob[10 + hl:]
    if len(data) % 128:
        raise ValueError("csi_data is not int8[N, 128]")
    n = len(data) // 128
    rows = [list(struct.unpack("128b", data[i * 128:(i + 1) * 128])) for i in range(n)]
    lev = levels(rows)
    top = max(lev) if lev else 0
    out = bytearray()
    for r, g in zip(rows, lev):
        if g < top:
            r = [max(-128, min(127, v * 2 ** (top - g))) for v in r]
        if rng.random() < rate:
            r = [half(v) for v in r]
        out += struct.pack("128b", *r)
    return head + bytes(out)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    src, dst = argv[1], argv[2]
    rate = float(argv[3]) if len(argv) > 3 else 0.4
    rng = random.Random(int(argv[4]) if len(argv) > 4 else 7)
    os.makedirs(dst, exist_ok=True)
    info = os.path.join(src, "dataset_info.json")
    if os.path.exists(info):
        shutil.copy(info, dst)
    for cls in CLASSES:
        os.makedirs(os.path.join(dst, cls), exist_ok=True)
        for name in sorted(os.listdir(os.path.join(src, cls))):
            if not name.endswith(".npz"):
                continue
            with zipfile.ZipFile(os.path.join(src, cls, name)) as zi, zipfile.ZipFile(
                os.path.join(dst, cls, name), "w", zipfile.ZIP_DEFLATED
            ) as zo:
                for member in zi.infolist():
                    b = zi.read(member.filename)
                    if member.filename == "csi_data.npy":
                        b = restep(b, rate, rng)
                    zo.writestr(member, b)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
