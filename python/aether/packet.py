"""The 40-byte classification packet 0xC5110007 (aether/packet.h).

    data = aether.packet.encode(logits, node_id=3, ts_us=1000, seq=1)
    pkt = aether.packet.decode(data)      # Packet(argmax=..., margin=...)
"""

import ctypes

import numpy as np

from aether import _lib
from aether._common import check, f32, fptr, uint
from aether._lib import fn

__all__ = ["Packet", "argmax", "from_logits", "encode", "decode", "PACKET_LEN", "MAGIC"]

PACKET_LEN = 40
MAGIC = 0xC5110007
_FIELDS = ("version", "n_classes", "node_id", "ts_us", "seq", "argmax", "top_logit",
           "margin", "crc")


class Packet(object):
    """Decoded (or to-be-encoded) packet fields."""

    __slots__ = _FIELDS

    def __init__(self, n_classes, argmax, top_logit=0.0, margin=0.0, node_id=0, ts_us=0,
                 seq=1, version=1, crc=0):
        self.n_classes, self.argmax = int(n_classes), int(argmax)
        self.top_logit, self.margin = float(top_logit), float(margin)
        self.node_id, self.ts_us, self.seq = int(node_id), int(ts_us), int(seq)
        self.version, self.crc = int(version), int(crc)

    @classmethod
    def _from_c(cls, c):
        return cls(c.n_classes, c.argmax, c.top_logit, c.margin, c.node_id, c.ts_us, c.seq,
                   c.version, c.crc)

    def _c(self):
        for name, bits in (("n_classes", 16), ("argmax", 8), ("node_id", 8), ("ts_us", 64),
                           ("seq", 32)):
            v = getattr(self, name)
            if not 0 <= v < (1 << bits):
                raise ValueError("%s=%d does not fit the packet's u%d field" % (name, v, bits))
        c = _lib.ClassPacket()
        for name in _FIELDS:
            setattr(c, name, getattr(self, name))
        return c

    def as_dict(self):
        return {k: getattr(self, k) for k in _FIELDS}

    def __eq__(self, other):
        return isinstance(other, Packet) and self.as_dict() == other.as_dict()

    __hash__ = None

    def __repr__(self):
        return "Packet(%s)" % ", ".join("%s=%r" % kv for kv in self.as_dict().items())


def argmax(logits):
    """(argmax, top_logit, margin) by the packet's rule (NaN never wins)."""
    x = f32(logits, "logits", ndim=1)
    i, top, margin = ctypes.c_size_t(), ctypes.c_float(), ctypes.c_float()
    check(fn.packet_argmax(fptr(x), x.size, ctypes.byref(i),
                           ctypes.byref(top), ctypes.byref(margin)))
    return int(i.value), top.value, margin.value


def from_logits(logits, node_id=0, ts_us=0, seq=1):
    x = f32(logits, "logits", ndim=1)
    c = _lib.ClassPacket()
    check(fn.packet_from_logits(ctypes.byref(c), fptr(x), x.size, uint(node_id, "node_id", 8),
                                uint(ts_us, "ts_us", 64), uint(seq, "seq", 32)))
    return Packet._from_c(c)


def encode(packet, node_id=0, ts_us=0, seq=1):
    """bytes of a Packet, or of the packet from_logits(logits, ...) builds."""
    if isinstance(packet, np.ndarray):
        packet = from_logits(packet, node_id, ts_us, seq)
    if not isinstance(packet, Packet):
        raise TypeError("encode() takes an aether.packet.Packet or a float32 logits array")
    c = packet._c()
    buf = ctypes.create_string_buffer(PACKET_LEN)
    check(fn.packet_encode(ctypes.byref(c), buf, PACKET_LEN))
    return buf.raw


def decode(data):
    """Packet from 40 bytes; PacketError subclasses on any rejection."""
    data = bytes(data)
    c = _lib.ClassPacket()
    check(fn.packet_decode(data, len(data), ctypes.byref(c)))
    return Packet._from_c(c)
