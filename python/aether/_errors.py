"""Exceptions: one class per aether_status, grouped by family.

Every error coming from the C library is an AetherError carrying the numeric
status, its symbolic name (e.g. "AETHER_ERR_SHAPE_MISMATCH") and the
library's message (aether_strerror). Argument-like failures also derive from
ValueError, I/O failures from OSError and allocation failures from
MemoryError, so ordinary `except ValueError` code keeps working.
"""


class AetherError(Exception):
    """An aether_status other than AETHER_OK."""

    def __init__(self, status, name, message, detail=None):
        self.status = int(status)
        self.name = name
        self.message = message
        self.detail = detail
        text = "%s: %s" % (name, message)
        if detail:
            text += " (%s)" % detail
        Exception.__init__(self, text)

    def __reduce__(self):
        return (type(self), (self.status, self.name, self.message, self.detail))


class ArgumentError(AetherError, ValueError):
    """Invalid argument, shape or configuration (statuses 1-3, 5-18, 22-23, 25)."""


class CacheError(AetherError):
    """KV cache state: full, empty, nothing evictable (20, 21, 24)."""


class NpyError(AetherError, ValueError):
    """Malformed .npy data (31-38)."""


class BlobError(AetherError, ValueError):
    """RVNE (40-53, metadata 90-92) or RVNQ quantized (54-57) weight blob rejected."""


class PacketError(AetherError, ValueError):
    """Classification packet rejected (60-65)."""


class RecordingError(AetherError):
    """Recording / CSI frame problems (70-75)."""


class TrackError(AetherError):
    """Node / track tables (80-81)."""


# status -> (class name, family); names follow the C enum.
_TABLE = {
    1: ("NullArgError", ArgumentError),
    2: ("InvalidArgError", ArgumentError),
    3: ("OverflowError_", ArgumentError),
    4: ("NoMemError", MemoryError),
    5: ("BufferTooSmallError", ArgumentError),
    6: ("NotInitializedError", ArgumentError),
    7: ("StateError", AetherError),
    8: ("UnsupportedError", AetherError),
    9: ("NonFiniteError", ArgumentError),
    10: ("ShapeMismatchError", ArgumentError),
    11: ("ZeroHeadDimError", ArgumentError),
    12: ("BlockSizeError", ArgumentError),
    13: ("GqaRatioError", ArgumentError),
    14: ("HeadDimMismatchError", ArgumentError),
    15: ("KvHeadsMismatchError", ArgumentError),
    16: ("MaskLengthError", ArgumentError),
    17: ("InvalidConfigError", ArgumentError),
    18: ("TooManyGlobalsError", ArgumentError),
    20: ("CacheFullError", CacheError),
    21: ("CacheEmptyError", CacheError),
    22: ("SeqNotOneError", ArgumentError),
    23: ("BlockMismatchError", ArgumentError),
    24: ("AllProtectedError", CacheError),
    25: ("ScoresLengthError", ArgumentError),
    30: ("IOError_", OSError),
    31: ("NpyMagicError", NpyError),
    32: ("NpyVersionError", NpyError),
    33: ("NpyHeaderError", NpyError),
    34: ("NpyDtypeError", NpyError),
    35: ("NpyFortranError", NpyError),
    36: ("NpyEndianError", NpyError),
    37: ("NpyTruncatedError", NpyError),
    38: ("NpySizeError", NpyError),
    40: ("BlobTooShortError", BlobError),
    41: ("BlobMagicError", BlobError),
    42: ("BlobVersionError", BlobError),
    43: ("BlobLengthError", BlobError),
    44: ("BlobCrcError", BlobError),
    45: ("BlobZeroDimError", BlobError),
    46: ("BlobGqaError", BlobError),
    47: ("BlobDegenerateError", BlobError),
    48: ("BlobElemSizeError", BlobError),
    49: ("BlobLayoutError", BlobError),
    50: ("BlobNonFiniteError", BlobError),
    51: ("BlobExtensionError", BlobError),
    52: ("BlobShapeError", BlobError),
    53: ("BlobMetadataError", BlobError),
    54: ("QBlobScaleError", BlobError),
    55: ("QBlobZeroPointError", BlobError),
    56: ("QBlobRangeError", BlobError),
    57: ("QBlobShapeError", BlobError),
    90: ("BlobLabelsError", BlobError),
    91: ("BlobTemperatureError", BlobError),
    92: ("BlobThresholdError", BlobError),
    60: ("PacketSizeError", PacketError),
    61: ("PacketMagicError", PacketError),
    62: ("PacketVersionError", PacketError),
    63: ("PacketCrcError", PacketError),
    64: ("PacketClassesError", PacketError),
    65: ("PacketArgmaxError", PacketError),
    70: ("ParseError", RecordingError),
    71: ("FrameMagicError", RecordingError),
    72: ("FrameLengthError", RecordingError),
    73: ("FormatError", RecordingError),
    74: ("EndOfStreamError", RecordingError),
    75: ("ZipError", RecordingError),
    80: ("TrackNotFoundError", TrackError),
    81: ("TracksFullError", TrackError),
}

BY_STATUS = {}
for _status, (_name, _base) in _TABLE.items():
    _public = _name.rstrip("_")
    _bases = (_base,) if issubclass(_base, AetherError) else (AetherError, _base)
    _cls = type(_public if not _name.endswith("_") else "Aether" + _public,
                _bases, {"__doc__": "aether status %d." % _status, "__module__": "aether"})
    BY_STATUS[_status] = _cls
    globals()[_cls.__name__] = _cls

# Convenient aliases for the classes that would shadow builtins.
AetherOverflowError = globals()["AetherOverflowError"]
AetherIOError = globals()["AetherIOError"]

__all__ = ["AetherError", "ArgumentError", "CacheError", "NpyError", "BlobError",
           "PacketError", "RecordingError", "TrackError"] + sorted(
               c.__name__ for c in BY_STATUS.values())
