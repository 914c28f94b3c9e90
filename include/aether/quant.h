/*
 * aether/quant.h - the integer inference path: the quantized RVNQ blob
 * (docs/FORMATS.md section 9) and the integer model that runs it, in window
 * and streaming mode (docs/MODEL.md section 10). No floating-point arithmetic
 * and no libm in init, forward or step: the float entry points only move
 * IEEE-754 bit patterns in and out with integer operations.
 *
 * Wire format, version 1, all fields little-endian (the RVNE header layout
 * with its own magic):
 *
 *   [0,4)   u32 magic 0x52564E51 (bytes "QNVR")   [4,6)   u16 version = 1
 *   [6]     u8  flags                              [7]     u8  reserved (0)
 *   [8,20)  u16 input_dim, n_q_heads, n_kv_heads, head_dim, n_layers, n_classes
 *   [20,24) u32 payload_len                        [24, 24+payload_len) payload
 *   then    u32 CRC-32/IEEE over [0, 24+payload_len)
 *
 * Flags: bit 1 input normalisation, bit 2 model metadata (the RVNE bits,
 * aether/blob.h); bit 0 (f16) and bits 3-7 are not allowed.
 *
 * A matrix record holds a logical matrix W [R x C] (R inputs, C outputs,
 * the RVNE orientation) transposed, one row per output c:
 *   [0, 4C)           C scale records
 *   [4C, 4C + R*C)    int8 Wt[c][r] = round(W[r][c] / scale_c), in [-127, 127]
 *   then zero bytes up to a multiple of 4.
 * A scale record is 4 bytes: u16 m, u8 sh, i8 zero point; the scale is
 * m * 2^-sh with m in [16384, 32767] and sh in [0, 47], or m = sh = 0 for an
 * all-zero row; the zero point is 0 (version 1 is symmetric).
 *
 * Payload: per layer the records Wq [I x Q], Wk [I x KV], Wv [I x KV],
 * Wo [Q x I]; the classifier Wc [I x n_classes]; with flag bit 1, I i32
 * means (Q16: value * 65536, |mean| < 32768) then I scale records
 * (inv_std, the same scale rules); with flag bit 2 the RVNE metadata record,
 * last. Shape bounds (the int32 accumulators cannot overflow):
 * input_dim, Q, KV and n_classes <= AETHER_QBLOB_MAX_WIDTH, head_dim <=
 * AETHER_QBLOB_MAX_HEAD_DIM.
 *
 * aether_qblob_parse checks everything, in this order, one status each:
 * NULL_ARG; BLOB_TOO_SHORT (< 28 bytes); BLOB_MAGIC; BLOB_VERSION;
 * BLOB_LENGTH (len - 28 != payload_len); BLOB_CRC; BLOB_ZERO_DIM, BLOB_GQA,
 * BLOB_DEGENERATE (aether_blob_check_header); BLOB_EXTENSION (a flag bit
 * outside AETHER_QBLOB_KNOWN_FLAGS, or reserved != 0); QBLOB_SHAPE (bounds
 * above); BLOB_LAYOUT (payload size != the layout, the metadata record's
 * sizes); BLOB_EXTENSION (the metadata record's tag or text);
 * then every record in payload order: QBLOB_SCALE (m or sh out of range;
 * a mean out of range), QBLOB_ZERO_POINT, QBLOB_RANGE (an int8 of -128, a
 * non-zero weight in a row whose scale is 0, a non-zero padding byte).
 *
 * Integer arithmetic (docs/MODEL.md section 10): activations are int32 Q16
 * (value * 65536) between the operations, requantized per vector to int16
 * (matrix inputs, queries) or int8 (K/V rows) with power-of-two exponents;
 * weights int8 with a per-row scale; products accumulate in int32; the
 * softmax is a base-2 fixed-point table exponential. Every rounding is half
 * away from zero, every narrowing saturates to +-(2^31 - 1), and nothing
 * depends on the C implementation's signed shifts or overflow: the results
 * are the same bits on every target.
 *
 * Memory: size query + init in caller memory, no allocation anywhere. The
 * model keeps a pointer into the blob buffer (weights are read in place),
 * so the buffer must outlive the model and stay unmodified.
 */
#ifndef AETHER_QUANT_H
#define AETHER_QUANT_H

#include "aether/export.h"
#include "aether/blob.h"
#include "aether/head.h"
#include "aether/kvcache.h"
#include "aether/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AETHER_QBLOB_MAGIC 0x52564E51u /* u32 LE of the bytes "QNVR" */
#define AETHER_QBLOB_VERSION 1u
#define AETHER_QBLOB_KNOWN_FLAGS (AETHER_BLOB_FLAG_INPUT_NORM | AETHER_BLOB_FLAG_METADATA)
#define AETHER_QBLOB_MAX_WIDTH 512u
#define AETHER_QBLOB_MAX_HEAD_DIM 256u
#define AETHER_QBLOB_SCALE_M_MIN 16384u
#define AETHER_QBLOB_SCALE_M_MAX 32767u
#define AETHER_QBLOB_SCALE_SH_MAX 47u
#define AETHER_QBLOB_SCALE_BYTES 4u
#define AETHER_Q16_ONE 65536

/* A parsed, fully validated RVNQ blob viewing the caller's buffer. */
typedef struct aether_qblob_view {
    aether_blob_header header; /* weights_len = payload bytes */
    const unsigned char *payload;
    uint32_t crc;
} aether_qblob_view;

/* Byte offsets within the payload. */
typedef struct aether_qblob_layout {
    size_t q_width, kv_width;
    size_t wq, wk, wv, wo;    /* layer 0's records; layer l adds l * layer_bytes */
    size_t layer_bytes;
    size_t classifier;        /* Wc record */
    size_t norm_mean;         /* flag bit 1: I i32 means */
    size_t norm_inv_std;      /* flag bit 1: I scale records */
    size_t arrays_bytes;      /* everything before the metadata record */
    size_t meta_bytes;        /* metadata record (0 from aether_qblob_layout_of) */
    size_t total_bytes;       /* arrays_bytes + meta_bytes */
} aether_qblob_layout;

/* 1 when buf starts with the RVNQ magic (len >= 4), else 0. */
AETHER_API int aether_qblob_is(const void *buf, size_t len);

/* Bytes of one matrix record of R inputs and C outputs. OVERFLOW. */
AETHER_API aether_status aether_qblob_matrix_bytes(size_t rows, size_t cols, size_t *bytes);

/* Layout for header h (flag bit 1 counted; meta_bytes 0). Errors: NULL_ARG,
 * BLOB_ZERO_DIM / BLOB_GQA / BLOB_DEGENERATE, QBLOB_SHAPE, OVERFLOW. */
AETHER_API aether_status aether_qblob_layout_of(const aether_blob_header *h,
                                                aether_qblob_layout *out);

/* Parse and validate everything (order in the comment at the top). On
 * success *out views buf; on error *out is unchanged. */
AETHER_API aether_status aether_qblob_parse(const void *buf, size_t len, aether_qblob_view *out);

/* The metadata record of a parsed blob (present 0 without flag bit 2). */
AETHER_API aether_status aether_qblob_metadata_get(const aether_qblob_view *v,
                                                   aether_blob_metadata *out);
/* The known metadata keys, as aether_blob_model_meta_read reads them. */
AETHER_API aether_status aether_qblob_model_meta_read(const aether_qblob_view *v,
                                                      aether_blob_model_meta *out);

/* Bytes of the RVNQ blob aether_qblob_quantize writes for the RVNE blob f.
 * Errors: NULL_ARG, the model-level validation of f
 * (aether_blob_validate_model), QBLOB_SHAPE, OVERFLOW, BLOB_LAYOUT (payload
 * beyond a u32). */
AETHER_API aether_status aether_qblob_quantize_size(const aether_blob_view *f, size_t *bytes);

/* Quantize the model-level valid RVNE blob f (f32 or f16) into out[0, cap):
 * per row (output) of every matrix scale = max|w| / 127 rounded to a scale
 * record (a row whose scale is below 2^-33 becomes all zero), weights
 * rounded half away from zero; means to Q16, inv_std to scale records; the
 * metadata text copied unchanged. Deterministic (IEEE double division and
 * exact scaling, no libm approximation): the same input gives the same bytes
 * on every host. Errors: those of aether_qblob_quantize_size;
 * QBLOB_SCALE (a row scale >= 2^15, a negative inv_std or |mean| >= 32768);
 * BUFFER_TOO_SMALL. *written (optional) receives the byte count. */
AETHER_API aether_status aether_qblob_quantize(const aether_blob_view *f, void *out, size_t cap,
                                               size_t *written);

/* ---------- fixed point at the boundary ---------- */

/* x as Q16 (round(x * 65536), half away from zero, saturated to
 * +-(2^31 - 1)), from its bit pattern: no floating-point operation.
 * NONFINITE for NaN / Inf (then *out is unchanged), NULL_ARG. */
AETHER_API aether_status aether_q16_from_f32(float x, int32_t *out);
/* v / 65536 rounded to the nearest float (ties to even), built from bits. */
AETHER_API float aether_q16_to_f32(int32_t v);

/* ---------- the integer model ---------- */

typedef struct aether_qmodel aether_qmodel;

/* Bytes for aether_qmodel_init. cfg NULL: the blob's default head config
 * (aether_model_default_head_config's rule: default_aether() with the blob's
 * heads and head_dim). Errors: NULL_ARG; the head config's validation;
 * BLOB_SHAPE (cfg heads / head_dim differ from the blob's); UNSUPPORTED
 * (cfg not causal: the integer path is causal only). */
AETHER_API aether_status aether_qmodel_size(const aether_qblob_view *v,
                                            const aether_head_config *cfg, size_t *bytes);
/* Build the model in buf[0, len) (BUFFER_TOO_SMALL if short); v's buffer
 * must outlive the model. */
AETHER_API aether_status aether_qmodel_init(void *buf, size_t len, const aether_qblob_view *v,
                                            const aether_head_config *cfg, aether_qmodel **out);
/* The blob header (shapes); NULL for NULL or a model not initialised. */
AETHER_API const aether_blob_header *aether_qmodel_header(const aether_qmodel *m);
/* The model's head (backend and pattern); NULL likewise. */
AETHER_API const aether_head *aether_qmodel_head(const aether_qmodel *m);

/* Workspace bytes of a window forward over n_frames frames (> 0).
 * INVALID_ARG when a query would have more than 65,535 candidates (the
 * dense backend over more frames). */
AETHER_API aether_status aether_qmodel_forward_workspace_size(const aether_qmodel *m,
                                                              size_t n_frames, size_t *bytes);

/* The same before the model exists (to plan one memory block): the result
 * for a model built from (v, cfg), with the errors of aether_qmodel_size. */
AETHER_API aether_status aether_qmodel_forward_workspace_size_for(const aether_qblob_view *v,
                                                                  const aether_head_config *cfg,
                                                                  size_t n_frames, size_t *bytes);

/* Window forward over frames_q16 (n_frames * input_dim Q16 values).
 * logits_q16: n_classes Q16 values; pooled_q16 (optional): input_dim. MEAN
 * pooling divides the Q16 sum by n_frames rounding half away from zero.
 * Errors: NULL_ARG, NOT_INITIALIZED, INVALID_ARG (n_frames 0, unknown pool),
 * OVERFLOW, then the workspace (NULL_ARG, BUFFER_TOO_SMALL). Outputs are
 * written only on success. */
AETHER_API aether_status aether_qmodel_forward_q16(const aether_qmodel *m,
                                                   const int32_t *frames_q16, size_t n_frames,
                                                   aether_pool pool, int32_t *logits_q16,
                                                   int32_t *pooled_q16, void *ws, size_t ws_len);
/* The same from float frames (converted by aether_q16_from_f32: NONFINITE
 * for NaN / Inf) with float logits (aether_q16_to_f32 of the Q16 logits). */
AETHER_API aether_status aether_qmodel_forward(const aether_qmodel *m, const float *frames,
                                               size_t n_frames, aether_pool pool, float *logits,
                                               void *ws, size_t ws_len);

/* ---------- integer streaming sessions ---------- */

typedef struct aether_qsession aether_qsession;

/* Bytes of a session: int8 K/V caches of `capacity` frames per layer (each
 * row head_dim bytes plus one exponent byte) and the step's scratch.
 * evict: AETHER_KV_EVICT_NONE (CACHE_FULL when full) or
 * AETHER_KV_EVICT_SLIDING (token 0, the head's global, stays; the oldest other
 * frame goes). Errors: NULL_ARG, NOT_INITIALIZED, INVALID_ARG (capacity 0;
 * SLIDING with capacity 1; dense backend with capacity above
 * 65,535), UNSUPPORTED (another policy), OVERFLOW. */
AETHER_API aether_status aether_qsession_size(const aether_qmodel *m, size_t capacity,
                                              aether_kv_evict evict, size_t *bytes);
/* The same before the model exists (see
 * aether_qmodel_forward_workspace_size_for). */
AETHER_API aether_status aether_qsession_size_for(const aether_qblob_view *v,
                                                  const aether_head_config *cfg, size_t capacity,
                                                  aether_kv_evict evict, size_t *bytes);
AETHER_API aether_status aether_qsession_init(void *buf, size_t len, const aether_qmodel *m,
                                              size_t capacity, aether_kv_evict evict,
                                              aether_qsession **out);

/* Feed one Q16 frame (input_dim values). logits_q16 (n_classes) and
 * pooled_q16 (optional, input_dim: the frame's final hidden state) receive
 * the result. While nothing has been evicted the logits equal
 * aether_qmodel_forward_q16 over every frame since the reset with LAST
 * pooling, bit for bit. Errors: NULL_ARG, NOT_INITIALIZED, CACHE_FULL
 * (EVICT_NONE and full), OVERFLOW (2^32 - 1 frames since the reset); on
 * error nothing changes. */
AETHER_API aether_status aether_qsession_step_q16(aether_qsession *s, const int32_t *frame_q16,
                                                  int32_t *logits_q16, int32_t *pooled_q16);
/* The same from a float frame (NONFINITE for NaN / Inf: nothing changes). */
AETHER_API aether_status aether_qsession_step(aether_qsession *s, const float *frame,
                                              float *logits);
/* Forget every frame. */
AETHER_API aether_status aether_qsession_reset(aether_qsession *s);
/* Frames since the last reset (0 for NULL). */
AETHER_API size_t aether_qsession_frames(const aether_qsession *s);
/* 1 once a frame has been evicted since the last reset, else 0. */
AETHER_API int aether_qsession_evicted(const aether_qsession *s);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_QUANT_H */
