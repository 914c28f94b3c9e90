#!/usr/bin/env python3
"""Regenerate the synthetic seed corpus of fuzz/corpus/<target>/.

Every seed is made here from first principles (no recording data is copied):
valid inputs of each format plus near-valid variants (one field off).
A few tiny golden blobs are copied by scripts/fuzz.sh --seed-golden if wanted;
the committed corpus does not depend on them. Needs numpy for the .npy/.npz
seeds. Usage: python3 fuzz/make_corpus.py [OUT_DIR]
"""
import io
import os
import struct
import sys
import zlib

import numpy as np

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def crc(b):
    return zlib.crc32(b) & 0xFFFFFFFF


# ---------------------------------------------------------------- RVNE blobs
class Rng:
    """xorshift64* as in the demo generator (values in [-0.1, 0.1])."""

    def __init__(self, seed):
        self.s = seed

    def value(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFFFFFFFFFF
        s ^= s >> 7
        s ^= (s << 17) & 0xFFFFFFFFFFFFFFFF
        self.s = s
        o = (s * 2685821657736338717) & 0xFFFFFFFFFFFFFFFF
        unit = np.float32(o >> 32) / np.float32(2 ** 32)
        return np.float32((unit - np.float32(0.5)) * np.float32(0.2))


def blob(I, q, kv, d, L, C, f16=False, norm=False, flags_extra=0, version=1,
         reserved=0, magic=0x52564E45, weights=None, fix_len=True, fix_crc=True):
    Q, KV = q * d, kv * d
    n = L * (I * Q + 2 * I * KV + Q * I) + I * C + (2 * I if norm else 0)
    if weights is None:
        r = Rng(0x1234567)
        weights = [r.value() for _ in range(n)]
        if norm:
            weights[n - I:] = [np.float32(1) + np.float32(5) * w for w in weights[n - I:]]
    arr = np.array(weights, dtype=np.float16 if f16 else np.float32).astype("<f2" if f16 else "<f4")
    payload = arr.tobytes()
    flags = (1 if f16 else 0) | (2 if norm else 0) | flags_extra
    hdr = struct.pack("<IHBB6HI", magic, version, flags, reserved, I, q, kv, d, L, C,
                      len(payload) if fix_len else 0)
    body = hdr + payload
    return body + struct.pack("<I", crc(body) if fix_crc else 0)


def blob_seeds():
    seeds = {
        "tiny_f32.rvne": blob(4, 2, 1, 2, 1, 2),
        "tiny_f16.rvne": blob(4, 2, 1, 2, 1, 2, f16=True),
        "tiny_norm.rvne": blob(3, 1, 1, 2, 2, 3, norm=True),
        "tiny_norm_f16.rvne": blob(3, 2, 2, 1, 1, 2, f16=True, norm=True),
        "mha_2layer.rvne": blob(6, 2, 2, 3, 2, 3),
        "gqa_q4kv1.rvne": blob(8, 4, 1, 4, 1, 4),
        "one_class.rvne": blob(2, 1, 1, 1, 1, 1),
        "unknown_flag.rvne": blob(2, 1, 1, 1, 1, 2, flags_extra=0x80),
        "reserved_set.rvne": blob(2, 1, 1, 1, 1, 2, reserved=7),
        "bad_gqa.rvne": blob(4, 3, 2, 2, 1, 2),
        "bad_magic.rvne": blob(2, 1, 1, 1, 1, 2, magic=0x52564E46),
        "bad_version.rvne": blob(2, 1, 1, 1, 1, 2, version=2),
        "bad_crc.rvne": blob(2, 1, 1, 1, 1, 2, fix_crc=False),
        "zero_layers.rvne": blob(2, 1, 1, 1, 0, 2),
    }
    nan = blob(2, 1, 1, 1, 1, 2)
    w = bytearray(nan)
    w[24:28] = struct.pack("<f", float("nan"))
    w[-4:] = struct.pack("<I", crc(bytes(w[:-4])))
    seeds["nan_weight.rvne"] = bytes(w)
    ok = blob(2, 1, 1, 1, 1, 2)
    seeds["short_payload.rvne"] = ok[:24] + ok[24:-8] + struct.pack("<I", 0)
    seeds["truncated.rvne"] = ok[:30]
    seeds["header_only.rvne"] = ok[:24]
    for name, data in seeds.items():
        put("blob", name, data)
        put("blob_crc", name, data)


# ---------------------------------------------------------------- .npy
def npy_bytes(a, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, a)
    else:
        np.lib.format.write_array(buf, a, version=version)
    return buf.getvalue()


def npy_seeds():
    put("npy", "f32_3d.npy", npy_bytes(np.arange(24, dtype="<f4").reshape(2, 3, 4) / 7))
    put("npy", "f16_2d.npy", npy_bytes(np.linspace(-2, 2, 12).astype("<f2").reshape(3, 4)))
    put("npy", "i32_1d.npy", npy_bytes(np.arange(-5, 5, dtype="<i4")))
    put("npy", "u16.npy", npy_bytes(np.arange(9, dtype="<u2").reshape(3, 3)))
    put("npy", "u8.npy", npy_bytes(np.arange(16, dtype="u1")))
    put("npy", "i8.npy", npy_bytes(np.arange(-8, 8, dtype="i1").reshape(4, 4)))
    put("npy", "scalar.npy", npy_bytes(np.array(3.5, dtype="<f4")))
    put("npy", "empty.npy", npy_bytes(np.zeros((0, 4), dtype="<f4")))
    put("npy", "v2.npy", npy_bytes(np.ones((2, 2), dtype="<f4"), version=(2, 0)))
    put("npy", "v3.npy", npy_bytes(np.ones((2,), dtype="<f4"), version=(3, 0)))
    put("npy", "fortran.npy", npy_bytes(np.asfortranarray(np.ones((2, 3), dtype="<f4"))))
    put("npy", "bigendian.npy", npy_bytes(np.ones((3,), dtype=">f4")))
    put("npy", "f64.npy", npy_bytes(np.ones((3,), dtype="<f8")))
    put("npy", "8d.npy", npy_bytes(np.ones((1,) * 8, dtype="<f4")))
    t = npy_bytes(np.arange(10, dtype="<f4"))
    put("npy", "truncated.npy", t[:-3])
    put("npy", "trailing.npy", t + b"\0\0\0\0")
    put("npy", "bad_magic.npy", b"\x93NUMPX" + t[6:])
    hdr = b"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }"
    hdr += b" " * (63 - (len(hdr) + 10) % 64) + b"\n"
    put("npy", "huge_shape.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr)


# ---------------------------------------------------------------- packets
def packet(n=4, node=1, ts=123456789, seq=1, argmax=2, top=1.5, margin=0.25,
           magic=0xC5110007, version=1, fix_crc=True):
    b = struct.pack("<IHHB3xQIB3xff", magic, version, n, node, ts, seq, argmax, top, margin)
    return b + struct.pack("<I", crc(b) if fix_crc else 0)


def packet_seeds():
    put("packet", "valid.bin", packet())
    put("packet", "one_class.bin", packet(n=1, argmax=0, margin=1e30))
    put("packet", "max_classes.bin", packet(n=65535, argmax=255, ts=2 ** 64 - 1, seq=2 ** 32 - 1))
    put("packet", "bad_crc.bin", packet(fix_crc=False))
    put("packet", "bad_argmax.bin", packet(n=2, argmax=2))
    put("packet", "zero_classes.bin", packet(n=0, argmax=0))
    put("packet", "bad_version.bin", packet(version=2))
    put("packet", "bad_magic.bin", packet(magic=0xC5110006))
    put("packet", "nan_logit.bin", packet(top=float("nan"), margin=float("inf")))
    put("packet", "short.bin", packet()[:39])


# ---------------------------------------------------------------- ADR-018
def adr018(node=1, ant=1, sub=64, freq=2437, seq=7, rssi=-40, noise=-95, magic=0xC5110001,
           payload=None):
    if payload is None:
        payload = bytes(((i * 37) % 256) for i in range(2 * ant * sub))
    return struct.pack("<IBBHIIbbH", magic, node, ant, sub, freq, seq, rssi, noise, 0) + payload


def adr018_seeds():
    put("adr018", "frame64.bin", adr018())
    put("adr018", "frame128.bin", adr018(sub=128, node=2))
    put("adr018", "ant4.bin", adr018(ant=4, sub=16))
    put("adr018", "max.bin", adr018(ant=4, sub=256))
    put("adr018", "one_pair.bin", adr018(sub=1))
    put("adr018", "zero_sub.bin", adr018(sub=0, payload=b""))
    put("adr018", "ant5.bin", adr018(ant=5, sub=2))
    put("adr018", "short_payload.bin", adr018()[:-1])
    put("adr018", "header_only.bin", adr018()[:20])
    put("adr018", "vitals_magic.bin", adr018(magic=0xC5110002, sub=6))
    put("adr018", "stream3.bin", adr018(seq=1) + adr018(seq=2, sub=128) + adr018(seq=3, sub=192))
    put("adr018", "stream_mixed.bin", adr018(seq=1) + struct.pack("<I", 0xC5110005) + b"\0" * 16
        + adr018(seq=2) + b"garbage")


# ---------------------------------------------------------------- JSONL
def jsonl_seeds():
    pay = bytes(((i * 11) % 256) for i in range(128))
    raw = ('{"timestamp": 1775182186.9577758, "node_id": 2, "magic": "0xC5110001", "size": 148, '
           '"rssi": 1, "type": "raw_csi", "iq_hex": "%s", "subcarriers": 64}' % pay.hex())
    amp = ('{"timestamp":1772472969.092,"subcarriers":[%s],"rssi":0.0,"noise_floor":0.0,'
           '"features":{"variance":1.5,"motion_band_power":0.1,"breathing_band_power":0.2,'
           '"spectral_power":3.0}}' % ",".join("%.3f" % (i * 0.37) for i in range(56)))
    vit = ('{"timestamp": 1775182187.0, "node_id": 1, "magic": "0xC5110002", "size": 32, '
           '"rssi": -40, "type": "vitals", "flags": 1, "breathing_bpm": 14.5, '
           '"heartrate_bpm": 70.0, "n_persons": 4, "motion_energy": 0.3, "presence_score": 0.3}')
    feat = ('{"timestamp": 1775182187.1, "node_id": 1, "magic": "0xC5110003", "size": 48, '
            '"rssi": -40, "type": "feature", "features": [1,2,3,4,5,6,7,8], "seq": 3}')
    comp = '{"timestamp": 1775182187.2, "node_id": 1, "magic": "0xC5110005", "size": 20, "rssi": 0}'
    put("jsonl", "raw.jsonl", raw + "\n" + raw.replace('"node_id": 2', '"node_id": 1') + "\n")
    put("jsonl", "amplitude.jsonl", amp + "\n" + amp + "\n")
    put("jsonl", "mixed.jsonl", "\n".join([raw, vit, feat, comp, "", amp, raw]) + "\n")
    put("jsonl", "bom_crlf.jsonl", "\ufeff" + raw + "\r\n" + amp + "\r\n")
    put("jsonl", "odd_hex.jsonl", raw.replace('"iq_hex": "', '"iq_hex": "0') + "\n")
    put("jsonl", "bad_hex.jsonl", raw.replace('"iq_hex": "00', '"iq_hex": "zz') + "\n")
    put("jsonl", "count_mismatch.jsonl", raw.replace('"subcarriers": 64', '"subcarriers": 63') + "\n")
    put("jsonl", "nan_amp.jsonl", amp.replace("[0.000", "[NaN") + "\n" + amp.replace("[0.000", "[-1.0") + "\n")
    put("jsonl", "broken_json.jsonl", raw[:100] + "\n{\"timestamp\": }\n[1,2]\n" + amp + "\n")
    put("jsonl", "no_newline.jsonl", amp)
    put("jsonl", "empty.jsonl", "")
    put("jsonl", "huge_subcarriers.jsonl", raw.replace('"subcarriers": 64', '"subcarriers": 1e300') + "\n")


# ---------------------------------------------------------------- NPZ
def npz_bytes(compressed=True, **arrays):
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def npz_seeds():
    rng = np.random.default_rng(7)
    csi = rng.integers(-30, 30, size=(6, 128), dtype=np.int8)
    meta = dict(label=np.array("idle"), chip=np.array("C6"), num_subcarriers=np.array(64),
                collected_at=np.array("2026-01-01T00:00:00"), duration_ms=np.array(60.0),
                gain_locked=np.array(True), format_version=np.array("1.0"))
    put("npz", "full.npz", npz_bytes(csi_data=csi, **meta))
    put("npz", "stored.npz", npz_bytes(compressed=False, csi_data=csi, **meta))
    put("npz", "csi_only.npz", npz_bytes(csi_data=csi[:2]))
    put("npz", "uint8.npz", npz_bytes(csi_data=csi.view(np.uint8)[:3]))
    put("npz", "odd_cols.npz", npz_bytes(csi_data=rng.integers(-5, 5, size=(2, 7), dtype=np.int8)))
    put("npz", "one_d.npz", npz_bytes(csi_data=csi[0]))
    put("npz", "float_csi.npz", npz_bytes(csi_data=csi[:2].astype(np.float32)))
    put("npz", "no_csi.npz", npz_bytes(label=np.array("x")))
    put("npz", "empty_rows.npz", npz_bytes(csi_data=np.zeros((0, 128), dtype=np.int8)))
    full = npz_bytes(csi_data=csi[:2], **meta)
    put("npz", "truncated.npz", full[: len(full) // 2])
    put("npz", "only_magic.npz", b"PK\x03\x04")


# ---------------------------------------------------------------- API programs
def api_seeds():
    r = np.random.default_rng(11)
    for policy in range(4):
        for i in range(3):
            head = bytes([0x1B + 8 * i, (policy << 6) | (i << 4) | 0x06, 0x05 + i, 0x08 + i, 3])
            body = bytes(r.integers(0, 0xF0, size=600, dtype=np.uint8))
            put("kvcache_api", "policy%d_%d.bin" % (policy, i), head + body)
    put("kvcache_api", "zero_capacity.bin", bytes([0x09, 0x06, 0x00, 0x00, 0]) + bytes(range(64)))
    # firmware_api: 7 setup bytes (shape, window, config, static) then ops.
    setups = [
        (0x03, 0x02, 8, 0x00, 0x02, 0x02, 0x00),  # WINDOW, sparse, malloc
        (0x03, 0x02, 8, 0x01, 0x02, 0x02, 0x01),  # STREAMING sliding, static ctx
        (0x3B, 0x13, 6, 0x09, 0x01, 0x01, 0x00),  # STREAMING scored, norm, gqa
        (0x13, 0x0A, 4, 0x11, 0x03, 0x02, 0x01),  # STREAMING fail policy, f16 blob
        (0x07, 0x04, 5, 0x27, 0x80, 0x80, 0x00),  # STREAMING+MEAN (unsupported), f16 cache
        (0x07, 0x04, 5, 0x06, 0x04, 0x01, 0x00),  # WINDOW MEAN dense
        (0x03, 0xE2, 8, 0x00, 0x02, 0x02, 0x00),  # corrupted blob byte
        (0x03, 0x02, 8, 0x00, 0x02, 0x02, 0x60),  # wrong input_dim / n_classes
    ]
    for i, st in enumerate(setups):
        ops = bytearray()
        for j in range(60):
            op = int(r.integers(0, 256))
            ops.append(op)
            if op % 6 < 3:
                ops += bytes(r.integers(100, 150, size=8, dtype=np.uint8))
        put("firmware_api", "prog%d.bin" % i, bytes(st) + bytes(4) + bytes(ops))


# ------------------------------------------------------------ serve datagrams
def serve_raw(data, sender=0):
    """A raw datagram record of fuzz_serve: op 0, sender, u16 length, bytes."""
    return bytes([0, sender]) + struct.pack("<H", len(data)) + data


def serve_frame(magic_sel, node, ant, sub, adjust=2, fill=0x35, sender=0):
    """A synthesised datagram record (op 3); adjust 2 = the exact length."""
    return bytes([3, sender, magic_sel, node, ant, sub & 0xFF, sub >> 8, adjust, fill])


def serve_seeds():
    # byte 0: max_nodes 4, every 2, + gesture (0x20) / motion (0x40); byte 1: idle 5 s
    head = bytes([0x03 | 0x08, 5])
    both = bytes([0x03 | 0x08 | 0x60, 5])
    frames = b"".join(serve_raw(adr018(node=n, seq=s), sender=n)
                      for s in range(1, 9) for n in range(3))
    put("serve", "frames_demo.bin", head + frames)
    put("serve", "frames_both_models.bin", both + frames * 4)
    put("serve", "synth_sizes.bin", head
        + serve_frame(0, 1, 1, 64) + serve_frame(0, 2, 4, 256) + serve_frame(0, 3, 5, 16)
        + serve_frame(0, 4, 1, 300) + serve_frame(0, 5, 1, 64, adjust=0)
        + serve_frame(0, 6, 1, 64, adjust=4) + serve_frame(0, 7, 0, 64)
        + serve_frame(1, 8, 2, 0))
    put("serve", "siblings_magic.bin", head + b"".join(serve_frame(m, 1, 1, 6) for m in range(3, 8)))
    put("serve", "nan_like.bin", head + b"".join(serve_frame(0, 9, 1, 64, fill=0x80) for _ in range(6)))
    put("serve", "special.bin", head + bytes([5, 0, 0, 5, 1, 1, 5, 2, 2]))
    put("serve", "flood.bin", bytes([0x00 | 0x08, 0]) + bytes([6, 0, 31, 0]) * 8
        + bytes([6, 0x80, 31, 100]) * 4)
    put("serve", "idle.bin", head + frames + bytes([7, 0, 60]) + frames + bytes([7, 0, 3]))
    put("serve", "short_and_empty.bin", head + serve_raw(b"") + serve_raw(b"\x01\x00\x11")
        + serve_raw(adr018()[:20]) + serve_raw(adr018()[:-3]) + serve_raw(adr018() + b"xyz")
        + serve_raw(struct.pack("<I", 0xC5110006) + b"\0" * 40))
    put("serve", "ipv6.bin", head + b"".join(serve_raw(adr018(node=1, seq=s), sender=0x80 | s)
                                             for s in range(1, 12)))


if __name__ == "__main__":
    blob_seeds()
    npy_seeds()
    packet_seeds()
    adr018_seeds()
    jsonl_seeds()
    npz_seeds()
    api_seeds()
    serve_seeds()
