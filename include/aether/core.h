/*
 * aether/core.h - status codes, checked size arithmetic, caller-memory arena,
 * CRC-32/IEEE, IEEE binary16 conversion and little-endian byte access.
 *
 * Everything in aether reports failure as an aether_status value; nothing
 * aborts. aether_strerror() gives a static, human-readable message for every
 * code (never NULL).
 */
#ifndef AETHER_CORE_H
#define AETHER_CORE_H

#include "aether/export.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AETHER_VERSION_MAJOR 0
#define AETHER_VERSION_MINOR 1
#define AETHER_VERSION_PATCH 0
#define AETHER_VERSION_STRING "0.1.0"

/* Version of the library actually linked (may differ from the header). */
AETHER_API const char *aether_version(void);

/*
 * Status codes. Values are stable (they appear in CLI exit statuses and the
 * Python binding); new codes are only ever appended before AETHER_STATUS_COUNT.
 */
typedef enum aether_status {
    AETHER_OK = 0,

    /* generic argument / state errors */
    AETHER_ERR_NULL_ARG = 1,         /* a required pointer was NULL */
    AETHER_ERR_INVALID_ARG = 2,      /* an argument value is out of range */
    AETHER_ERR_OVERFLOW = 3,         /* a size computation overflowed size_t */
    AETHER_ERR_NO_MEM = 4,           /* malloc failed */
    AETHER_ERR_BUFFER_TOO_SMALL = 5, /* caller-provided memory is too small */
    AETHER_ERR_NOT_INITIALIZED = 6,  /* object/config was not initialised */
    AETHER_ERR_STATE = 7,            /* call not valid in the object's state */
    AETHER_ERR_UNSUPPORTED = 8,      /* feature not available in this build */
    AETHER_ERR_NONFINITE = 9,        /* NaN or Inf in an input that forbids it */

    /* shapes and attention configuration */
    AETHER_ERR_SHAPE_MISMATCH = 10,    /* q/k/v (or in/out) shapes inconsistent */
    AETHER_ERR_ZERO_HEAD_DIM = 11,     /* head dimension must be > 0 */
    AETHER_ERR_BLOCK_SIZE = 12,        /* block_size must be > 0 */
    AETHER_ERR_GQA_RATIO = 13,         /* q_heads not divisible by kv_heads (or kv_heads 0) */
    AETHER_ERR_HEAD_DIM_MISMATCH = 14, /* q/k/v head dims differ */
    AETHER_ERR_KV_HEADS_MISMATCH = 15, /* k and v head counts differ / cache heads */
    AETHER_ERR_MASK_LENGTH = 16,       /* keep mask length != seq */
    AETHER_ERR_INVALID_CONFIG = 17,    /* other invalid configuration */
    AETHER_ERR_TOO_MANY_GLOBALS = 18,  /* more global tokens than AETHER_MAX_GLOBALS */

    /* KV cache */
    AETHER_ERR_CACHE_FULL = 20,     /* cache capacity exceeded */
    AETHER_ERR_CACHE_EMPTY = 21,    /* operation needs at least one cached token */
    AETHER_ERR_SEQ_NOT_ONE = 22,    /* single-token call given seq != 1 */
    AETHER_ERR_BLOCK_MISMATCH = 23, /* cache block size != attention block size */
    AETHER_ERR_ALL_PROTECTED = 24,  /* eviction found no evictable slot */
    AETHER_ERR_SCORES_LENGTH = 25,  /* eviction scores length != cache length */

    /* .npy files */
    AETHER_ERR_IO = 30,            /* file could not be opened/read/written */
    AETHER_ERR_NPY_MAGIC = 31,     /* not a .npy file */
    AETHER_ERR_NPY_VERSION = 32,   /* unsupported .npy format version */
    AETHER_ERR_NPY_HEADER = 33,    /* malformed .npy header dictionary */
    AETHER_ERR_NPY_DTYPE = 34,     /* unsupported dtype */
    AETHER_ERR_NPY_FORTRAN = 35,   /* Fortran-order arrays are not supported */
    AETHER_ERR_NPY_ENDIAN = 36,    /* big-endian data is not supported */
    AETHER_ERR_NPY_TRUNCATED = 37, /* data shorter than the header declares */
    AETHER_ERR_NPY_SIZE = 38,      /* data longer than declared / size mismatch */

    /* RVNE weight blob: format level, in docs/FORMATS.md section 1.1 order */
    AETHER_ERR_BLOB_TOO_SHORT = 40,
    AETHER_ERR_BLOB_MAGIC = 41,
    AETHER_ERR_BLOB_VERSION = 42,
    AETHER_ERR_BLOB_LENGTH = 43,
    AETHER_ERR_BLOB_CRC = 44,
    AETHER_ERR_BLOB_ZERO_DIM = 45,
    AETHER_ERR_BLOB_GQA = 46,
    AETHER_ERR_BLOB_DEGENERATE = 47,
    /* RVNE weight blob: model level */
    AETHER_ERR_BLOB_ELEM_SIZE = 48, /* payload not a multiple of the element size */
    AETHER_ERR_BLOB_LAYOUT = 49,    /* payload size does not match declared shapes */
    AETHER_ERR_BLOB_NONFINITE = 50, /* NaN or Inf weight */
    AETHER_ERR_BLOB_EXTENSION = 51, /* unknown or malformed extension */
    AETHER_ERR_BLOB_SHAPE = 52,     /* blob shape disagrees with the caller's */
    AETHER_ERR_BLOB_METADATA = 53,  /* a known metadata key with an unusable value */
    /* quantized (RVNQ) blobs, aether/quant.h */
    AETHER_ERR_QBLOB_SCALE = 54,      /* a scale outside its representable range */
    AETHER_ERR_QBLOB_ZERO_POINT = 55, /* a zero point other than the format allows */
    AETHER_ERR_QBLOB_RANGE = 56,      /* an int8 value or padding byte out of range */
    AETHER_ERR_QBLOB_SHAPE = 57,      /* shape beyond the int32 accumulator bounds */

    /* classification packet 0xC5110007 */
    AETHER_ERR_PACKET_SIZE = 60,
    AETHER_ERR_PACKET_MAGIC = 61,
    AETHER_ERR_PACKET_VERSION = 62,
    AETHER_ERR_PACKET_CRC = 63,
    AETHER_ERR_PACKET_CLASSES = 64,
    AETHER_ERR_PACKET_ARGMAX = 65,

    /* recordings and CSI frames */
    AETHER_ERR_PARSE = 70, /* malformed record/line */
    AETHER_ERR_FRAME_MAGIC = 71,
    AETHER_ERR_FRAME_LENGTH = 72,
    AETHER_ERR_FORMAT = 73, /* unrecognised file format */
    AETHER_ERR_END = 74,    /* end of stream (not an error for loops) */
    AETHER_ERR_ZIP = 75,    /* malformed zip/npz container */

    /* sessions / tracks */
    AETHER_ERR_TRACK_NOT_FOUND = 80,
    AETHER_ERR_TRACKS_FULL = 81,

    /* model metadata (aether/blob.h typed keys, aether/decision.h) */
    AETHER_ERR_BLOB_LABELS = 90,      /* metadata labels not one per class */
    AETHER_ERR_BLOB_TEMPERATURE = 91, /* metadata temperature not in [1e-6, 1e6] */
    AETHER_ERR_BLOB_THRESHOLD = 92,   /* metadata unknown_below / ood_above out of range */

    AETHER_STATUS_COUNT
} aether_status;

/* Static message for a status; unknown values give "unknown status". */
AETHER_API const char *aether_strerror(aether_status status);
/* Stable symbolic name, e.g. "AETHER_ERR_CACHE_FULL". */
AETHER_API const char *aether_status_name(aether_status status);

/* ---------- overflow-checked size arithmetic ---------- */
/* Each returns AETHER_OK and stores the result, or AETHER_ERR_OVERFLOW and
 * leaves *out untouched. */
AETHER_API aether_status aether_size_add(size_t a, size_t b, size_t *out);
AETHER_API aether_status aether_size_mul(size_t a, size_t b, size_t *out);
AETHER_API aether_status aether_size_mul3(size_t a, size_t b, size_t c, size_t *out);
/* ceil(a / b) with ceil_div(0, b) = 0; b must be > 0 (returns 0 otherwise). */
AETHER_API size_t aether_ceil_div(size_t a, size_t b);

/* ---------- workspaces ----------
 * Below the *_create convenience constructors the library makes no heap call:
 * a function that needs scratch takes (void *ws, size_t ws_len), and its
 * *_workspace_size query reports the bytes for the same arguments, the
 * optimised kernels' per-thread scratch included (for the thread count set
 * when the query runs), as a compute plan reports its work size. The
 * workspace is checked after every other argument, and a failed check
 * writes nothing:
 *   ws NULL                     -> AETHER_ERR_NULL_ARG
 *   ws_len below the need       -> AETHER_ERR_BUFFER_TOO_SMALL
 * One exception: a call that uses no workspace bytes accepts NULL with
 * ws_len 0 - when its query reports 0 for these arguments, or when the
 * arguments leave nothing to compute (an empty sequence, no values, a
 * keep-all or keep-none budget), which returns before the workspace is
 * looked at. Where a workspace for fewer threads is accepted the header
 * says so; it runs fewer threads with the same results. A workspace never
 * changes results. */

/* ---------- arena over caller memory ----------
 * One layout function serves both the size query and the init: run it on a
 * measuring arena (base NULL) to learn the size, then on the real buffer.
 * alloc never fails silently: a failure is sticky in `status`, and alloc
 * returns NULL from then on. */
typedef struct aether_arena {
    unsigned char *base;  /* NULL = measuring only */
    size_t capacity;      /* bytes available at base (ignored when measuring) */
    size_t used;          /* bytes consumed so far, including alignment padding */
    aether_status status; /* AETHER_OK, AETHER_ERR_OVERFLOW or _BUFFER_TOO_SMALL */
} aether_arena;

#define AETHER_ALIGN 64u /* default alignment for arrays (cache line / AVX-512) */

AETHER_API void aether_arena_init(aether_arena *a, void *buf, size_t capacity);
AETHER_API void aether_arena_measure(aether_arena *a);
/* Reserve `count * elem` bytes aligned to `align` (a power of two). Returns the
 * zero-filled block, or NULL when measuring or on failure (see a->status). */
AETHER_API void *aether_arena_alloc(aether_arena *a, size_t count, size_t elem, size_t align);

/* ---------- CRC-32/IEEE (reflected 0xEDB88320, init/xorout 0xFFFFFFFF) ---------- */
AETHER_API uint32_t aether_crc32(const void *data, size_t len);
/* Incremental: crc = aether_crc32_update(0, a, n); crc = aether_crc32_update(crc, b, m); */
AETHER_API uint32_t aether_crc32_update(uint32_t crc, const void *data, size_t len);

/* ---------- IEEE binary16 ----------
 * f32 -> f16: round to nearest even, overflow to +-inf, subnormals kept, NaN
 * quietened as sign|0x7E00|(mantissa>>13). f16 -> f32 exact; NaN gets the
 * quiet bit set. */
AETHER_API uint16_t aether_f32_to_f16(float x);
AETHER_API float aether_f16_to_f32(uint16_t h);
AETHER_API void aether_f32_to_f16_array(const float *src, uint16_t *dst, size_t n);
AETHER_API void aether_f16_to_f32_array(const uint16_t *src, float *dst, size_t n);

/* ---------- little-endian access (host-endianness independent) ---------- */
AETHER_API uint16_t aether_load_le16(const unsigned char *p);
AETHER_API uint32_t aether_load_le32(const unsigned char *p);
AETHER_API uint64_t aether_load_le64(const unsigned char *p);
AETHER_API float aether_load_lef32(const unsigned char *p);
AETHER_API void aether_store_le16(unsigned char *p, uint16_t v);
AETHER_API void aether_store_le32(unsigned char *p, uint32_t v);
AETHER_API void aether_store_le64(unsigned char *p, uint64_t v);
AETHER_API void aether_store_lef32(unsigned char *p, float v);

/* Bit pattern of a float and back (memcpy-based, no aliasing tricks). */
AETHER_API uint32_t aether_f32_bits(float x);
AETHER_API float aether_f32_from_bits(uint32_t bits);
/* 1 if x is neither NaN nor +-Inf. */
AETHER_API int aether_isfinite(float x);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_CORE_H */
