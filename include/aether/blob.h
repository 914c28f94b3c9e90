/*
 * aether/blob.h - the RVNE weight blob (docs/FORMATS.md sections 1-2, docs/MODEL.md section 3).
 *
 * Wire format, version 1, all fields little-endian:
 *
 *   [0,4)   u32 magic 0x52564E45 (bytes "ENVR")   [4,6)   u16 version = 1
 *   [6]     u8  flags                              [7]     u8  reserved (0)
 *   [8,20)  u16 input_dim, n_q_heads, n_kv_heads, head_dim, n_layers, n_classes
 *   [20,24) u32 weights_len                        [24, 24+weights_len) payload
 *   then    u32 CRC-32/IEEE over [0, 24+weights_len)
 *
 * Flag bits (the byte at offset 6):
 *   bit 0  AETHER_BLOB_FLAG_F16: payload elements are IEEE binary16 (else f32).
 *   bit 1  AETHER_BLOB_FLAG_INPUT_NORM: input normalisation. Two arrays of
 *          input_dim elements follow the version-1 arrays inside the payload,
 *          in the payload's element type: `mean` then `inv_std`. The model
 *          applies x'[i] = (x[i] - mean[i]) * inv_std[i] to every frame
 *          before layer 0. Readers that do not know the bit still parse the
 *          blob (format level ignores it) but a model load rejects it.
 *   bit 2  AETHER_BLOB_FLAG_METADATA: model metadata. A self-describing
 *          record ends the payload (after the version-1 arrays and any bit-1
 *          arrays), so it is found from the payload end whatever the element
 *          type. With A = the arrays' bytes (layout total_elems * elem_size)
 *          and L the text length, offsets within the payload:
 *            [A, A+L)          text: UTF-8, lines "key=value\n"
 *            [A+L, A+L+P)      P = (4 - L % 4) % 4 zero bytes
 *            [A+L+P, +4)       u32 L
 *            [A+L+P+4, +4)     u32 tag AETHER_BLOB_META_TAG (bytes "META")
 *          so weights_len = A + L + P + 8 (a multiple of 4: the element-size
 *          rule still holds). Validation (model level, in this order):
 *          weights_len < A + 8 -> BLOB_LAYOUT; tag wrong or
 *          L > AETHER_BLOB_META_MAX_TEXT -> BLOB_EXTENSION;
 *          A + L + P + 8 != weights_len -> BLOB_LAYOUT; then the text ->
 *          BLOB_EXTENSION unless: padding bytes zero; well-formed UTF-8
 *          (no overlong forms, surrogates or code points above U+10FFFF);
 *          no control characters (bytes < 0x20 other than '\n', and 0x7F);
 *          empty or ending in '\n'; every line `key=value` with a key of 1..
 *          AETHER_BLOB_META_MAX_KEY characters from [A-Za-z0-9_.-]; no key
 *          twice. Values are free text (may be empty, may contain '=').
 *          Readers ignore keys they do not know. Keys written by
 *          `aether train` (all optional to readers):
 *            labels=a,b,c        class names in class-index order
 *            pool=last|mean      pooling the model was trained with
 *            window_frames=N     training window (frames)
 *            window_stride=N     training / evaluation stride (frames)
 *            attn_window=N       attention window radius
 *            attn_block=N        landmark block size
 *            backend=sparse_gqa|dense  attention backend
 *            features=csi-v1|...|csi-v5  feature recipe (aether/features.h)
 *            input_dim=N         feature vector length (= header input_dim)
 *          A reader that finds a known key with a value it cannot use
 *          should refuse the model rather than guess.
 *   bits 3-7  unassigned: carried by the parser, rejected by the model loader
 *          (AETHER_ERR_BLOB_EXTENSION).
 *
 * Payload layout (model level; row-major, first-named dimension = rows, with
 * Q = n_q_heads*head_dim, KV = n_kv_heads*head_dim, I = input_dim):
 *   for each layer: Wq [I x Q], Wk [I x KV], Wv [I x KV], Wo [Q x I];
 *   then the classifier Wc [I x n_classes];
 *   then, per set extension bit in ascending bit order, its arrays; the
 *   bit-2 metadata record, when present, is always last.
 *
 * Two validity levels (docs/MODEL.md section 3):
 *   - format level, aether_blob_parse(): exactly the reference's checks in
 *     docs/FORMATS.md section 1.1 order, one status per failure;
 *   - model level, aether_blob_validate_model(): element size, known
 *     extension bits, exact layout, finite weights.
 *
 * Parsed blobs are zero-copy views into the caller's buffer, which must stay
 * alive and unmodified while the view is used.
 */
#ifndef AETHER_BLOB_H
#define AETHER_BLOB_H

#include "aether/export.h"
#include "aether/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AETHER_BLOB_MAGIC 0x52564E45u
#define AETHER_BLOB_VERSION 1u
#define AETHER_BLOB_HEADER_LEN 24u /* "header" + "body header" */
#define AETHER_BLOB_OVERHEAD 28u   /* header + trailing CRC */

#define AETHER_BLOB_FLAG_F16 0x01u
#define AETHER_BLOB_FLAG_INPUT_NORM 0x02u
/* Every flag bit this library understands at the model level. */
#define AETHER_BLOB_FLAG_METADATA 0x04u
#define AETHER_BLOB_KNOWN_FLAGS \
    (AETHER_BLOB_FLAG_F16 | AETHER_BLOB_FLAG_INPUT_NORM | AETHER_BLOB_FLAG_METADATA)

#define AETHER_BLOB_META_TAG 0x4154454Du /* u32 LE of the bytes "META" */
#define AETHER_BLOB_META_TRAILER 8u      /* u32 length + u32 tag */
#define AETHER_BLOB_META_MAX_TEXT 4096u  /* longest metadata text, bytes */
#define AETHER_BLOB_META_MAX_KEY 32u     /* longest key, bytes */

/* Header fields as stored. `version` and `reserved` are informational:
 * the serializer always writes version 1 and reserved 0. `flags` is the raw
 * byte, unknown bits included. */
typedef struct aether_blob_header {
    uint16_t version;
    uint8_t flags;
    uint8_t reserved;
    uint16_t input_dim;
    uint16_t n_q_heads;
    uint16_t n_kv_heads;
    uint16_t head_dim;
    uint16_t n_layers;
    uint16_t n_classes;
    uint32_t weights_len; /* payload bytes */
} aether_blob_header;

/* A parsed blob: header plus a read-only pointer into the caller's buffer. */
typedef struct aether_blob_view {
    aether_blob_header header;
    const unsigned char *weights; /* weights_len bytes (NULL iff weights_len 0) */
    uint32_t crc;                 /* stored (and verified) CRC-32 */
} aether_blob_view;

/* Element counts and offsets of the model-level payload layout, in elements
 * from the start of the payload. */
typedef struct aether_blob_layout {
    size_t elem_size;      /* 2 (f16) or 4 (f32) */
    size_t q_width;        /* n_q_heads * head_dim */
    size_t kv_width;       /* n_kv_heads * head_dim */
    size_t layer_elems;    /* elements per layer: I*Q + 2*I*KV + Q*I */
    size_t wq, wk, wv, wo; /* offsets of layer 0's matrices; layer l adds l*layer_elems */
    size_t classifier;     /* offset of Wc */
    size_t v1_elems;       /* version-1 arrays: n_layers*layer_elems + I*n_classes */
    size_t norm_mean;      /* offset of the input-normalisation mean (if flagged) */
    size_t norm_inv_std;   /* offset of inv_std (if flagged) */
    size_t total_elems;    /* v1_elems + extension arrays */
    size_t total_bytes;    /* total_elems * elem_size + meta_bytes = payload bytes */
    size_t meta_bytes;     /* bit-2 record incl. padding and trailer; 0 without the
                          * bit, and from aether_blob_layout_of (header only) */
} aether_blob_layout;

/* 1 when flag bit 0 says binary16, else 0. NULL gives 0. */
AETHER_API int aether_blob_is_f16(const aether_blob_header *h);
/* Element size per flag bit 0: 2 or 4 (4 for NULL). */
AETHER_API size_t aether_blob_elem_size(const aether_blob_header *h);

/* Read the 24 header bytes without validating anything (for diagnostics of a
 * blob that fails to parse). AETHER_ERR_BLOB_TOO_SHORT if len < 24. */
AETHER_API aether_status aether_blob_peek_header(const void *buf, size_t len,
                                                 aether_blob_header *out);

/* Header semantics of docs/FORMATS.md section 1.1 (steps 6-8), in order: ZERO_DIM, GQA,
 * DEGENERATE. */
AETHER_API aether_status aether_blob_check_header(const aether_blob_header *h);

/* Format-level parse, docs/FORMATS.md section 1.1 order: BLOB_TOO_SHORT, BLOB_MAGIC,
 * BLOB_VERSION, BLOB_LENGTH, BLOB_CRC, BLOB_ZERO_DIM, BLOB_GQA,
 * BLOB_DEGENERATE (NULL_ARG for NULL pointers). Unknown flag bits, the
 * reserved byte and the payload's structure are not checked. On success *out
 * views `buf`; on error *out is unchanged. Lengths are compared as
 * len - 28 == weights_len, so nothing wraps on a 32-bit size_t. */
AETHER_API aether_status aether_blob_parse(const void *buf, size_t len, aether_blob_view *out);

/* The reference implementation's display text for a format-level blob
 * status (docs/FORMATS.md section 1.1, e.g. "blob CRC mismatch"; UTF-8, the degenerate
 * shape text contains U+2265). Other statuses give aether_strerror(). */
AETHER_API const char *aether_blob_reference_message(aether_status status);

/* Bytes of the serialized blob (28 + weights_len), overflow-checked. */
AETHER_API aether_status aether_blob_serialized_size(const aether_blob_header *h, size_t *bytes);

/* Write header h (its weights_len) with the payload `weights` and the CRC
 * into out[0, 28 + weights_len). Checks: the header semantics
 * (aether_blob_check_header), weights_len a multiple of the element size
 * (BLOB_ELEM_SIZE), weights non-NULL when weights_len > 0, cap large enough
 * (BUFFER_TOO_SMALL). Flags are written as given; version 1 and reserved 0
 * always. *written (optional) receives the byte count. */
AETHER_API aether_status aether_blob_serialize(const aether_blob_header *h, const void *weights,
                                               void *out, size_t cap, size_t *written);

/* Layout of the model-level payload for header h (flag bits 0 and 1 used;
 * other bits ignored here; meta_bytes is 0 because the metadata record's
 * size is in the payload, not the header: aether_blob_validate_model fills
 * it). AETHER_ERR_OVERFLOW if a count overflows. */
AETHER_API aether_status aether_blob_layout_of(const aether_blob_header *h,
                                               aether_blob_layout *out);

/* Model-level validation of a parsed blob, in this order (after the header
 * semantics of aether_blob_check_header, which matter only for a view not
 * produced by the parser):
 * BLOB_ELEM_SIZE (weights_len not a multiple of the element size),
 * BLOB_EXTENSION (a flag bit outside AETHER_BLOB_KNOWN_FLAGS),
 * BLOB_LAYOUT (payload size != the layout's total, including overflow; with
 * bit 2 the total is arrays + metadata record, and the record's own checks
 * above give BLOB_LAYOUT / BLOB_EXTENSION),
 * BLOB_NONFINITE (a NaN or Inf element, extension arrays included).
 * `layout` (optional) receives the layout on success. */
AETHER_API aether_status aether_blob_validate_model(const aether_blob_view *v,
                                                    aether_blob_layout *layout);

/* Element `index` of the payload as f32 (f16 converted), without bounds
 * checks beyond index < weights_len / elem_size (returns NaN otherwise). */
AETHER_API float aether_blob_weight(const aether_blob_view *v, size_t index);

/* Decode n payload elements starting at element `first` into dst (f16
 * converted exactly). AETHER_ERR_INVALID_ARG if the range leaves the payload. */
AETHER_API aether_status aether_blob_read_f32(const aether_blob_view *v, size_t first, size_t n,
                                              float *dst);

/* Number of weights the model layout declares (= layout total_elems). */
AETHER_API aether_status aether_blob_param_count(const aether_blob_header *h, size_t *count);

/* ---------- model metadata (flag bit 2) ---------- */

/* A validated metadata text, viewed in the blob's buffer (not NUL-ended). */
typedef struct aether_blob_metadata {
    int present;      /* 1 when flag bit 2 is set */
    const char *text; /* text_len bytes (NULL when absent or empty) */
    size_t text_len;
    size_t n_entries; /* key=value lines */
} aether_blob_metadata;

/* Check a metadata text by the bit-2 rules (UTF-8, no control characters,
 * key=value lines, key syntax, no duplicate key, length <=
 * AETHER_BLOB_META_MAX_TEXT). *n_entries (optional) receives the line count.
 * NULL_ARG (text NULL with len > 0), BLOB_EXTENSION when invalid. */
AETHER_API aether_status aether_blob_metadata_check_text(const char *text, size_t len,
                                                         size_t *n_entries);

/* The metadata of a model-level valid blob (aether_blob_validate_model runs
 * first and its status is returned on failure). Without flag bit 2:
 * AETHER_OK with present 0 and no entries. */
AETHER_API aether_status aether_blob_metadata_get(const aether_blob_view *v,
                                                  aether_blob_metadata *out);

/* Value of `key` (NUL-terminated) as a view: *value / *value_len, or
 * *value NULL and *value_len 0 when the key is absent (still AETHER_OK). */
AETHER_API aether_status aether_blob_metadata_find(const aether_blob_metadata *m, const char *key,
                                                   const char **value, size_t *value_len);

/* The same value copied NUL-terminated into buf[cap]: *found (optional) is
 * 1 or 0; an absent key gives "" . BUFFER_TOO_SMALL if value + NUL > cap
 * (buf then holds ""). */
AETHER_API aether_status aether_blob_metadata_copy(const aether_blob_metadata *m, const char *key,
                                                   char *buf, size_t cap, int *found);

/* Entry `index` (text order): key and value views. INVALID_ARG past the end. */
AETHER_API aether_status aether_blob_metadata_entry(const aether_blob_metadata *m, size_t index,
                                                    const char **key, size_t *key_len,
                                                    const char **value, size_t *value_len);

/* Bytes of a metadata record for a text of text_len bytes: text, padding,
 * trailer. INVALID_ARG if text_len > AETHER_BLOB_META_MAX_TEXT. */
AETHER_API aether_status aether_blob_metadata_record_size(size_t text_len, size_t *bytes);

/* Bytes of the blob aether_blob_with_metadata writes for v and text_len. */
AETHER_API aether_status aether_blob_with_metadata_size(const aether_blob_view *v,
                                                        size_t text_len, size_t *bytes);

/* Serialise the model-level valid blob v with flag bit 2 set and `text` as
 * its metadata record, replacing any record v already has: header, v's
 * arrays, record, CRC. The text is checked first (BLOB_EXTENSION). out must
 * not overlap v's buffer. Errors: NULL_ARG, validation statuses,
 * BLOB_EXTENSION, BLOB_LAYOUT (payload would exceed a u32),
 * BUFFER_TOO_SMALL. *written (optional) receives the bytes. */
AETHER_API aether_status aether_blob_with_metadata(const aether_blob_view *v, const char *text,
                                                   size_t text_len, void *out, size_t cap,
                                                   size_t *written);

/* ---------- the model metadata keys, typed ----------
 * The keys aether writes (`aether train`) and every front end reads (CLI,
 * tracks, firmware, Python), parsed once here:
 *   labels         comma-separated class names, one per class
 *   pool           last | mean
 *   window_frames  decision window length in frames (> 0)
 *   window_stride  frames between decisions (> 0)
 *   attn_window    attention window radius
 *   attn_block     landmark block size
 *   backend        attention backend name (aether/head.h parses it)
 *   features       feature recipe name (aether/features.h parses it)
 *   input_dim      must equal the header's input_dim
 *   temperature    calibration: probabilities are softmax(logits / T), T a
 *                  decimal number in [1e-6, 1e6] (aether/decision.h)
 *   unknown_below  abstention: a decision whose calibrated top probability
 *                  is below this decimal number in [0, 1] is "unknown"
 *   ood_above      abstention: a decision whose window's input distance
 *                  (aether/decision.h) is above this decimal number >= 0
 *                  is "unknown" (0: never)
 * Decimal numbers: [digits][.digits][e[+-]digits], at least one digit,
 * read the same whatever the C locale. Other keys are ignored. Absent keys
 * leave their have_* flag 0. */

#define AETHER_BLOB_META_MAX_LABELS 256u /* class names at most */
#define AETHER_BLOB_META_NAME_MAX 32u    /* backend / features value bytes + NUL */

typedef enum aether_meta_pool {
    AETHER_META_POOL_UNSET = 0,
    AETHER_META_POOL_LAST = 1,
    AETHER_META_POOL_MEAN = 2
} aether_meta_pool;

typedef struct aether_blob_model_meta {
    int present;                                /* the blob has a metadata record */
    size_t n_labels;                            /* 0 without a labels key */
    char labels[AETHER_BLOB_META_MAX_TEXT + 1]; /* the names, each NUL-ended, back to back */
    aether_meta_pool pool;
    int have_window_frames, have_window_stride, have_attn_window, have_attn_block, have_input_dim;
    size_t window_frames, window_stride, attn_window, attn_block, input_dim;
    char backend[AETHER_BLOB_META_NAME_MAX];  /* "" when absent */
    char features[AETHER_BLOB_META_NAME_MAX]; /* "" when absent */
    int have_temperature, have_unknown_below, have_ood_above;
    float temperature;   /* in [1e-6, 1e6] */
    float unknown_below; /* in [0, 1] */
    float ood_above;     /* >= 0, finite */
} aether_blob_model_meta;

/* Read the known keys of a model-level valid blob into *out (zeroed
 * first; zeroed again on error). Errors: NULL_ARG; the validation status
 * (aether_blob_metadata_get); BLOB_LABELS when the labels are not one per
 * class; BLOB_TEMPERATURE for a temperature that is not a decimal number
 * in [1e-6, 1e6]; BLOB_THRESHOLD for an unknown_below that is not a decimal
 * number in [0, 1] or an ood_above that is not a decimal number in
 * [0, 1e6]; BLOB_METADATA when another known key's value is
 * unusable: labels empty, with an empty name or more than
 * AETHER_BLOB_META_MAX_LABELS names; pool not last/mean; a count that is
 * not a decimal integer below 2^32 (window_frames and window_stride also
 * > 0); a name longer than AETHER_BLOB_META_NAME_MAX - 1; input_dim other
 * than the header's. */
AETHER_API aether_status aether_blob_model_meta_read(const aether_blob_view *v,
                                                     aether_blob_model_meta *out);

/* Only the calibration keys (temperature, unknown_below, ood_above), for a
 * reader that cannot spare aether_blob_model_meta's 4 KB (firmware init):
 * the same checks and statuses for them, other keys not looked at. */
typedef struct aether_blob_calibration {
    int have_temperature, have_unknown_below, have_ood_above;
    float temperature, unknown_below, ood_above;
} aether_blob_calibration;

AETHER_API aether_status aether_blob_model_calibration(const aether_blob_view *v,
                                                       aether_blob_calibration *out);

/* Label i (NUL-terminated), or NULL when i >= n_labels. */
AETHER_API const char *aether_blob_model_meta_label(const aether_blob_model_meta *m, size_t i);

/* ---------- deterministic demo blob (docs/FORMATS.md section 2.2) ---------- */

#define AETHER_BLOB_DEMO_SEED 0xC5110007DEADBEEFull

/* Parameters of the demo generator. Defaults (aether_blob_demo_default):
 * the AETHER shape I 16, q 4, kv 1, head_dim 32, 2 layers, 4 classes, f32,
 * seed AETHER_BLOB_DEMO_SEED, no extension - the golden
 * init_random_blob.rvne (41,244 bytes, CRC 0xDC807956). */
typedef struct aether_blob_demo_params {
    uint64_t seed;  /* xorshift64* state; 0 is rejected (fixed point) */
    int f16;        /* 1: binary16 payload (values rounded to nearest even) */
    int input_norm; /* 1: set flag bit 1 and append mean / inv_std */
    uint16_t input_dim;
    uint16_t n_q_heads;
    uint16_t n_kv_heads;
    uint16_t head_dim;
    uint16_t n_layers;
    uint16_t n_classes;
} aether_blob_demo_params;

AETHER_API aether_blob_demo_params aether_blob_demo_default(void);

/* The generator's values: n floats in [-0.1, 0.1], advancing *state
 * (s ^= s<<13; s ^= s>>7; s ^= s<<17; o = s*2685821657736338717;
 * unit = (float)(u32)(o>>32) / 2^32; value = (unit - 0.5f) * 0.2f). */
AETHER_API void aether_blob_demo_values(uint64_t *state, float *dst, size_t n);

/* Size of the demo blob for p (28 + payload). Errors: NULL_ARG,
 * INVALID_ARG (seed 0), the header checks of aether_blob_check_header,
 * OVERFLOW / BLOB_LAYOUT when the payload would not fit a u32. */
AETHER_API aether_status aether_blob_demo_size(const aether_blob_demo_params *p, size_t *bytes);

/* Write the demo blob: version-1 arrays consecutively from the generator;
 * with input_norm the mean array continues the same stream and inv_std[i] =
 * 1 + 5*value (in [0.5, 1.5]). BUFFER_TOO_SMALL if cap is short. */
AETHER_API aether_status aether_blob_demo_write(const aether_blob_demo_params *p, void *out,
                                                size_t cap, size_t *written);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_BLOB_H */
