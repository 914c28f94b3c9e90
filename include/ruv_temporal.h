/*
 * ruv_temporal.h - firmware C ABI of the temporal head (docs/FORMATS.md section 3).
 *
 * Drop-in for the ESP32-S3 component `ruv_temporal`: same names, same
 * argument order, same esp_err_t numeric values. A context owns a frame ring
 * (window mode) or one KV cache per layer (streaming mode) and a model built
 * from an RVNE weight blob; classify returns the model's real logits (the
 * original returned zeros).
 *
 * ---- Modes ----
 *   WINDOW (plain ruv_temporal_init): push copies the frame into a ring of
 *     window_len frames (docs/FORMATS.md section 3.5). classify runs the window forward
 *     (aether_model_forward) over the frames in chronological order, oldest
 *     first - a partially filled ring gives only the frames pushed so far,
 *     never zero padding. Pooling by default as the model was trained: the
 *     blob's metadata `pool` (MEAN for both shipped models), LAST without
 *     one (RUV_TEMPORAL_POOL_FROM_MODEL; init_ex may force LAST or MEAN). The
 *     logits equal `aether classify --model BLOB --frames F` over the same
 *     frames with the same head configuration (that command forces the
 *     scalar reference kernels, the only path on the firmware targets; on
 *     hosts with SIMD kernels select them with AETHER_KERNELS=reference or
 *     aether_set_kernel_mode, otherwise the optimised prefill agrees within
 *     ~1e-6): bit for bit where the C library's expf is the host's (glibc),
 *     within the logit contract below with any other (picolibc, newlib -
 *     ESP-IDF's). Costs: push O(input_dim), classify O(window_len) model
 *     work.
 *   STREAMING (init_ex): push advances the model's streaming session (one
 *     KV cache per layer, aether_model_session_step) and keeps that frame's
 *     logits; classify copies them (O(1) in the window). Caches hold at most
 *     window_len frames; when full the configured policy applies (default
 *     sliding: keep global token 0 and the most recent frames). Until the
 *     first eviction the logits equal the WINDOW-mode logits over every frame
 *     since init/reset, bit for bit (f32 cache) when the window forward runs
 *     the scalar reference kernels - always the case on the firmware targets;
 *     hosts with an optimised prefill (aether/dispatch.h, AETHER_KERNELS=
 *     reference to force it) agree within its ~1e-6 accuracy contract.
 *     Against `aether stream` (run with AETHER_KERNELS=reference) the same
 *     holds as for WINDOW against `aether classify`: bit for bit with the
 *     host's expf, within the logit contract with another.
 *     After the first eviction, positions are token ids since init/reset
 *     (globals and the local window keep their meaning, evicted frames are
 *     absent), so results differ from a window forward over the last
 *     window_len frames. Pooling is LAST only (FROM_MODEL means LAST here,
 *     also for a blob trained with mean pooling: a per-frame decision).
 *
 * ---- Memory ----
 *   ruv_temporal_init / _init_ex: one malloc for the whole context at init;
 *     nothing is allocated by push, classify, make_packet or reset.
 *   ruv_temporal_ctx_size + ruv_temporal_init_static: no allocation at all;
 *     the context lives in the caller's buffer (any alignment; it is aligned
 *     internally) which must stay in place until the context is abandoned.
 *   Weights: plain ruv_temporal_init COPIES the payload (decoded to f32), so
 *     the blob may be freed after init, as with the original (which kept
 *     nothing). The config's `weights` field (default BORROW_IF_POSSIBLE,
 *     used by init_ex / init_static / ctx_size) may instead reference the
 *     blob's f32 payload zero-copy - possible on little-endian hosts for f32
 *     blobs whose buffer is 4-byte aligned; the blob bytes must then stay
 *     alive and unmodified for the context's whole life.
 *     ruv_temporal_get_info() reports which one happened.
 *
 * ---- Numerics across C libraries (the logit contract) ----
 * The arithmetic is the scalar reference's, in its fixed order, on every
 * target (no FMA contraction, no reassociation). What differs between
 * targets is the C library's expf (softmax weights): glibc's and
 * picolibc's (as newlib's, ESP-IDF's C library) disagree in the last bit at
 * about 10 % of arguments. Contract, per logit vector l against the host
 * reference r of the same frames:
 *     |l_i - r_i| <= RUV_TEMPORAL_LOGIT_RTOL * max_j |r_j| + RUV_TEMPORAL_LOGIT_ATOL
 * (1e-5 and 1e-6). This is an enforced bound, not a proof: scripts/
 * baremetal.sh checks it for every frame of the shipped models and the
 * default shape on RV32IMC, RV32IMAFC and Cortex-M4F with picolibc and on
 * Cortex-M4F with newlib, where the largest difference measured is
 * 1.8e-7 * max_j |r_j| (1 to 32 ulp of the element), about 55x inside it. A model whose logits cancel much more
 * strongly than these could exceed it. The argmax agrees whenever the
 * host's top-two margin exceeds 2 * (RTOL * max |r| + ATOL).
 *
 * ---- Measured (scripts/baremetal.sh, 32-bit targets, gcc -O2) ----
 * Stack high-water (stack painting; calls below 0.3 KB are not resolved):
 *   push: STREAMING 0.9-1.3 KB, WINDOW <= 0.3 KB; classify: WINDOW 1.0 KB,
 *   STREAMING <= 0.3 KB; ruv_temporal_kernel_self_test 2.5 KB (2.51-2.56 KB).
 * Context bytes (ruv_temporal_ctx_size, f32 cache unless said, weights
 * borrowed; KiB, RV32IMAFC):
 *   model                          window 64   128     256
 *   default shape I16 q4 kv1 d32,  WINDOW      126     215     393
 *     2 layers                     STREAMING    49      86     162
 *                                  int8 cache                   69
 *   shipped gesture                WINDOW       83     136     241
 *     (I39 q4 kv4 d8, 1 layer)     STREAMING    25      44      82
 *   shipped motion                 WINDOW       72     114     197
 *     (I17 q4 kv4 d8, 1 layer)     STREAMING    25      44      81
 * Instructions per streaming push, default shape, window 256: 163k mean
 * over 300 frames on RV32IMAFC, 148k on Cortex-M4F, 6.1M in soft float on
 * RV32IMC; with an int8 cache (RUV_TEMPORAL_CACHE_INT8: the rows widened
 * back at every read) 206k, 189k and 6.8M. The README has the table per
 * target.
 *
 * ---- Threads ----
 * One context per task. A context is not thread-safe: one task owns it and
 * serialises every call; init/destroy must not race with push/classify.
 * The ABI keeps no globals and no static mutable state: all state is in the
 * context, so distinct contexts may be used concurrently from distinct
 * tasks, and ruv_temporal_kernel_self_test may run from any task at any time
 * (it uses 2.5 KB of stack, measured). The one process-wide setting underneath
 * is the host kernel dispatch (aether/dispatch.h: an atomic mode, only
 * meaningful on hosts with SIMD paths; the firmware targets always run the
 * scalar reference).
 *
 * Zero allocation after init holds for the sparse backend with the default
 * single kernel thread. On hosts, the optimised DENSE prefill and
 * aether_set_num_threads(n > 1) allocate scratch per call.
 *
 * ---- Return codes (esp_err_t, ESP-IDF numbering) ----
 *   situation                                         code
 *   ------------------------------------------------  ---------------------------
 *   NULL pointer argument, input_dim/window_len/       ESP_ERR_INVALID_ARG 0x102
 *     n_classes 0, weights NULL or weights_len 0,
 *     invalid config value, STREAMING cache policy
 *     that cannot evict at this window_len (SLIDING
 *     needs >= 2, SCORED > attn_window + 1), NaN/Inf
 *     in a pushed frame (the context is left
 *     unchanged), destroyed ctx
 *   blob too short, bad magic, length != 28+len       ESP_ERR_INVALID_ARG 0x102
 *   blob version != 1                                 ESP_ERR_INVALID_VERSION 0x10A
 *   blob CRC mismatch                                 ESP_ERR_INVALID_CRC 0x109
 *   blob zero dimension, GQA ratio, n_layers 0 or     ESP_ERR_INVALID_SIZE 0x104
 *     n_classes < 2, payload not a multiple of the
 *     element size, payload != declared layout
 *   blob NaN/Inf weight, calibration metadata out     ESP_ERR_INVALID_ARG 0x102
 *     of range (temperature, unknown_below,
 *     ood_above: aether/decision.h)
 *   blob flag bit this library does not know          ESP_ERR_NOT_SUPPORTED 0x106
 *   input_dim / n_classes != the blob's (init; not    ESP_ERR_INVALID_SIZE 0x104
 *     for RUV_TEMPORAL_DEFAULT, which takes them),
 *     n_classes != the init value (classify)
 *   STREAMING with MEAN pooling, BORROW impossible,   ESP_ERR_NOT_SUPPORTED 0x106
 *     an RVNQ blob with an F16 / BF16 cache or SCORED
 *   malloc failed, size overflow, init_static buffer  ESP_ERR_NO_MEM 0x101
 *     shorter than ruv_temporal_ctx_size
 *   classify/make_packet with no frame since          ESP_ERR_INVALID_STATE 0x103
 *     init/reset; push with cache policy FAIL and
 *     full caches or with token ids used up
 *     (SIZE_MAX - 1 frames; 2^32 - 1 on an RVNQ
 *     blob); streaming context left
 *     inconsistent by an internal failure (reset it)
 *   kernel self test mismatch, internal failure       ESP_FAIL -1
 *
 * ---- Deliberate differences from the original (49e57efc) ----
 *   - CRC errors return ESP_ERR_INVALID_CRC (0x109), not 0x10C
 *     (ESP_ERR_NOT_FINISHED); version errors ESP_ERR_INVALID_VERSION (0x10A),
 *     not 0x102; shape errors ESP_ERR_INVALID_SIZE (0x104), not 0x103
 *     (ESP_ERR_INVALID_STATE).
 *   - weights NULL / weights_len 0 is an error: a context always has a
 *     model (the original silently ran without weights).
 *   - The blob is also validated at model level (payload layout, finite
 *     weights, known flag bits), and all of heads/head_dim/layers are used.
 *   - input_dim / n_classes disagreeing with the blob give
 *     ESP_ERR_INVALID_SIZE (was 0x102), as does a classify n_classes
 *     mismatch (was 0x102).
 *   - classify computes real logits; with no frame pushed it returns
 *     ESP_ERR_INVALID_STATE instead of zeros.
 *   - push rejects NaN/Inf frames (ESP_ERR_INVALID_ARG, nothing changes).
 *   - allocation failure is reported (ESP_ERR_NO_MEM) instead of aborting.
 *   - the kernel self test runs real attention and compares bit patterns.
 *   - additions: init_ex / config, ctx_size + init_static, reset, get_info,
 *     make_packet.
 */
#ifndef RUV_TEMPORAL_H
#define RUV_TEMPORAL_H

#include "aether/export.h"
#include <stddef.h>
#include <stdint.h>

#if defined(ESP_PLATFORM)
#include <esp_err.h>
#include "sdkconfig.h" /* CONFIG_AETHER_* defaults below */
#else
#ifndef RUV_TEMPORAL_ESP_ERR_T_DEFINED
#define RUV_TEMPORAL_ESP_ERR_T_DEFINED
/* ESP-IDF's type and numeric values, for host builds. */
typedef int esp_err_t;
#endif
#endif

/* Each code is defined only if esp_err.h (or another copy) has not. */
#ifndef ESP_OK
#define ESP_OK 0
#endif
#ifndef ESP_FAIL
#define ESP_FAIL -1
#endif
#ifndef ESP_ERR_NO_MEM
#define ESP_ERR_NO_MEM 0x101
#endif
#ifndef ESP_ERR_INVALID_ARG
#define ESP_ERR_INVALID_ARG 0x102
#endif
#ifndef ESP_ERR_INVALID_STATE
#define ESP_ERR_INVALID_STATE 0x103
#endif
#ifndef ESP_ERR_INVALID_SIZE
#define ESP_ERR_INVALID_SIZE 0x104
#endif
#ifndef ESP_ERR_NOT_FOUND
#define ESP_ERR_NOT_FOUND 0x105
#endif
#ifndef ESP_ERR_NOT_SUPPORTED
#define ESP_ERR_NOT_SUPPORTED 0x106
#endif
#ifndef ESP_ERR_TIMEOUT
#define ESP_ERR_TIMEOUT 0x107
#endif
#ifndef ESP_ERR_INVALID_RESPONSE
#define ESP_ERR_INVALID_RESPONSE 0x108
#endif
#ifndef ESP_ERR_INVALID_CRC
#define ESP_ERR_INVALID_CRC 0x109
#endif
#ifndef ESP_ERR_INVALID_VERSION
#define ESP_ERR_INVALID_VERSION 0x10A
#endif
#ifndef ESP_ERR_INVALID_MAC
#define ESP_ERR_INVALID_MAC 0x10B
#endif
#ifndef ESP_ERR_NOT_FINISHED
#define ESP_ERR_NOT_FINISHED 0x10C
#endif
#ifndef ESP_ERR_NOT_ALLOWED
#define ESP_ERR_NOT_ALLOWED 0x10D
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Config fields and init arguments that take this value use the model's
 * (the blob's) value. */
#define RUV_TEMPORAL_DEFAULT 0xFFFFFFFFu

/* window_len RUV_TEMPORAL_DEFAULT: the blob's metadata window_frames (the
 * window the model was trained on: 64 for models/gesture.rvne, 256 for
 * models/motion.rvne) when it is 1..RUV_TEMPORAL_MAX_WINDOW_LEN, else
 * RUV_TEMPORAL_FALLBACK_WINDOW_LEN. 128 frames keep a window-mode context
 * of the default shape (I16 q4 kv1 d32, 2 layers) at 216 KB on a 32-bit
 * target, half of a 400 KB SRAM chip (ESP32-C3); see "Measured" below. */
#define RUV_TEMPORAL_FALLBACK_WINDOW_LEN 128u
#define RUV_TEMPORAL_MAX_WINDOW_LEN 1024u

/* Defaults for the init arguments (ESP-IDF: from Kconfig, see
 * esp-idf/Kconfig; a Kconfig value 0 means "from the blob"). Without
 * Kconfig every one is RUV_TEMPORAL_DEFAULT: any valid blob is accepted,
 * shipped models included; ruv_temporal_get_info() then tells the counts
 * (n_classes for classify, input_dim for push). */
#if defined(CONFIG_AETHER_TEMPORAL_WINDOW_LEN) && CONFIG_AETHER_TEMPORAL_WINDOW_LEN > 0
#define RUV_TEMPORAL_DEFAULT_WINDOW_LEN CONFIG_AETHER_TEMPORAL_WINDOW_LEN
#else
#define RUV_TEMPORAL_DEFAULT_WINDOW_LEN RUV_TEMPORAL_DEFAULT
#endif
#if defined(CONFIG_AETHER_TEMPORAL_N_CLASSES) && CONFIG_AETHER_TEMPORAL_N_CLASSES > 0
#define RUV_TEMPORAL_DEFAULT_N_CLASSES CONFIG_AETHER_TEMPORAL_N_CLASSES
#else
#define RUV_TEMPORAL_DEFAULT_N_CLASSES RUV_TEMPORAL_DEFAULT
#endif
#if defined(CONFIG_AETHER_TEMPORAL_INPUT_DIM) && CONFIG_AETHER_TEMPORAL_INPUT_DIM > 0
#define RUV_TEMPORAL_DEFAULT_INPUT_DIM CONFIG_AETHER_TEMPORAL_INPUT_DIM
#else
#define RUV_TEMPORAL_DEFAULT_INPUT_DIM RUV_TEMPORAL_DEFAULT
#endif

/* The logit contract across C libraries ("Numerics across C libraries"
 * above): |l_i - r_i| <= RUV_TEMPORAL_LOGIT_RTOL * max_j |r_j| +
 * RUV_TEMPORAL_LOGIT_ATOL against the host reference r. */
#define RUV_TEMPORAL_LOGIT_RTOL 1e-5f
#define RUV_TEMPORAL_LOGIT_ATOL 1e-6f

/* Length of the 0xC5110007 classification packet (docs/FORMATS.md section 4). */
#define RUV_TEMPORAL_PACKET_LEN 40u

/* Opaque context. */
typedef struct ruv_temporal_ctx ruv_temporal_ctx_t;

typedef enum ruv_temporal_mode {
    RUV_TEMPORAL_MODE_WINDOW = 0,   /* ring + window forward at classify */
    RUV_TEMPORAL_MODE_STREAMING = 1 /* per-layer KV caches, step at push */
} ruv_temporal_mode_t;

typedef enum ruv_temporal_pooling {
    RUV_TEMPORAL_POOL_LAST = 0, /* last frame's hidden state */
    RUV_TEMPORAL_POOL_MEAN = 1, /* mean over the window (WINDOW mode only) */
    /* The default: the pooling the blob's metadata `pool` key records
     * ("mean" or "last") in WINDOW mode, LAST without the key and always in
     * STREAMING mode. A `pool` value other than those two is
     * ESP_ERR_INVALID_ARG. get_info reports the pooling resolved. */
    RUV_TEMPORAL_POOL_FROM_MODEL = 2
} ruv_temporal_pooling_t;

/* STREAMING: what a push does when the caches already hold window_len
 * frames. */
typedef enum ruv_temporal_cache_policy {
    RUV_TEMPORAL_CACHE_SLIDING = 0, /* drop the oldest non-global frame */
    RUV_TEMPORAL_CACHE_SCORED = 1,  /* drop the lowest attention-score frame
                                       (needs window_len > attn_window + 1) */
    RUV_TEMPORAL_CACHE_FAIL = 2     /* push returns ESP_ERR_INVALID_STATE */
} ruv_temporal_cache_policy_t;

/* STREAMING: the K/V cache row storage (ruv_temporal_config_t.cache_storage).
 * A reduced storage takes 1/2 (F16, BF16) or about 1/4 (INT8: int8 values
 * and a power-of-two scale per token and kv head) of the f32 cache memory;
 * the logits then differ slightly from WINDOW mode, within the accuracy
 * contract of aether/kvcache.h, and are bit for bit those of a model
 * session with the same storage. A frame a storage cannot hold (a value
 * beyond its range) is refused by push as non-finite input. An RVNQ blob
 * always stores int8 rows: it takes F32 (the default, meaning "the model's
 * own") or INT8; F16 and BF16 are ESP_ERR_NOT_SUPPORTED. */
typedef enum ruv_temporal_cache_storage {
    RUV_TEMPORAL_CACHE_F32 = 0,  /* f32 rows (default) */
    RUV_TEMPORAL_CACHE_F16 = 1,  /* IEEE binary16 rows */
    RUV_TEMPORAL_CACHE_BF16 = 2, /* bfloat16 rows */
    RUV_TEMPORAL_CACHE_INT8 = 3  /* int8 rows, a power-of-two scale per row */
} ruv_temporal_cache_storage_t;

typedef enum ruv_temporal_weights {
    RUV_TEMPORAL_WEIGHTS_BORROW_IF_POSSIBLE = 0, /* zero-copy when possible */
    RUV_TEMPORAL_WEIGHTS_COPY = 1,               /* decode into the context */
    RUV_TEMPORAL_WEIGHTS_BORROW = 2              /* zero-copy or NOT_SUPPORTED */
} ruv_temporal_weights_t;

typedef enum ruv_temporal_backend {
    RUV_TEMPORAL_BACKEND_SPARSE = 0, /* log-sparse GQA attention (default) */
    RUV_TEMPORAL_BACKEND_DENSE = 1   /* exact dense attention (O(T) per step) */
} ruv_temporal_backend_t;

/* Extended configuration; start from ruv_temporal_config_default(). */
typedef struct ruv_temporal_config {
    ruv_temporal_mode_t mode;
    ruv_temporal_pooling_t pooling;
    ruv_temporal_backend_t backend;
    uint32_t attn_window; /* local window radius; RUV_TEMPORAL_DEFAULT = 32 */
    uint32_t attn_block;  /* landmark block (> 0); RUV_TEMPORAL_DEFAULT = 16 */
    ruv_temporal_cache_policy_t cache_policy; /* STREAMING only */
    /* STREAMING: how the K/V caches store rows, a RUV_TEMPORAL_CACHE_*
     * code. Two names for one int: cache_f16 is the original name, from
     * when binary16 (1) was the only reduced storage; 0 and 1 keep their
     * meaning. */
    union {
        int cache_storage;
        int cache_f16;
    };
    ruv_temporal_weights_t weights;
} ruv_temporal_config_t;

/* Defaults: WINDOW mode (STREAMING when Kconfig selects it), pooling
 * FROM_MODEL, sparse backend, attention window 32 / block 16 (the model
 * defaults), cache SLIDING f32, weights BORROW_IF_POSSIBLE. */
AETHER_API ruv_temporal_config_t ruv_temporal_config_default(void);

/* Parse and validate `weights` (an RVNE blob of weights_len bytes) at format
 * and model level, check it declares input_dim and n_classes, size the
 * context for window_len frames and allocate it in one block. WINDOW mode,
 * pooling FROM_MODEL, weights copied (the blob may be freed after the call).
 * input_dim, window_len and n_classes may each be RUV_TEMPORAL_DEFAULT: the
 * blob's input_dim and n_classes, its trained window (metadata
 * window_frames) else RUV_TEMPORAL_FALLBACK_WINDOW_LEN; get_info tells the
 * values used. The same holds for every init and size function below.
 * *out_ctx is written only on success. Codes: see the table above. */
AETHER_API esp_err_t ruv_temporal_init(const uint8_t *weights, size_t weights_len,
                                       uint32_t input_dim, uint32_t window_len,
                                       uint32_t n_classes, ruv_temporal_ctx_t **out_ctx);

/* As ruv_temporal_init with a configuration (NULL = defaults).
 * Every init also takes an RVNQ blob (aether/quant.h, `aether quantize`):
 * the context then runs the integer model (no float arithmetic, int8 K/V
 * caches) with the same calls and codes (docs/FORMATS.md section 3.2). */
AETHER_API esp_err_t ruv_temporal_init_ex(const uint8_t *weights, size_t weights_len,
                                          uint32_t input_dim, uint32_t window_len,
                                          uint32_t n_classes, const ruv_temporal_config_t *cfg,
                                          ruv_temporal_ctx_t **out_ctx);

/* Bytes ruv_temporal_init_static needs for these arguments with the default
 * configuration (BORROW_IF_POSSIBLE weights: the count depends on whether
 * `weights` can be borrowed, i.e. on its alignment). 0 if any argument is
 * invalid (ruv_temporal_ctx_size_ex gives the reason). Allocates nothing. */
AETHER_API size_t ruv_temporal_ctx_size(const uint8_t *weights, size_t weights_len,
                                        uint32_t input_dim, uint32_t window_len,
                                        uint32_t n_classes);

/* The same with a configuration (NULL = defaults); *out_bytes receives the
 * size. Validates exactly as init does and returns the same codes. */
AETHER_API esp_err_t ruv_temporal_ctx_size_ex(const uint8_t *weights, size_t weights_len,
                                              uint32_t input_dim, uint32_t window_len,
                                              uint32_t n_classes,
                                              const ruv_temporal_config_t *cfg,
                                              size_t *out_bytes);

/* Build the context inside buf[0, buf_len) with the default configuration;
 * no allocation, ever. buf_len below ruv_temporal_ctx_size -> ESP_ERR_NO_MEM.
 * The buffer must stay in place and untouched while the context is used;
 * with borrowed weights so must the blob. */
AETHER_API esp_err_t ruv_temporal_init_static(void *buf, size_t buf_len, const uint8_t *weights,
                                              size_t weights_len, uint32_t input_dim,
                                              uint32_t window_len, uint32_t n_classes,
                                              ruv_temporal_ctx_t **out_ctx);

/* The same with a configuration (NULL = defaults). */
AETHER_API esp_err_t ruv_temporal_init_static_ex(void *buf, size_t buf_len,
                                                 const uint8_t *weights, size_t weights_len,
                                                 uint32_t input_dim, uint32_t window_len,
                                                 uint32_t n_classes,
                                                 const ruv_temporal_config_t *cfg,
                                                 ruv_temporal_ctx_t **out_ctx);

/* Append one frame of input_dim floats (the caller guarantees the length).
 * A frame holding NaN or Inf is rejected with ESP_ERR_INVALID_ARG and changes
 * nothing. WINDOW: copies into the ring, overwriting the oldest frame once
 * window_len frames are held. STREAMING: runs the frame through every layer
 * (O(log window) attention per layer). If a finite frame still overflows to
 * NaN/Inf inside the model (or beyond the range of a reduced cache storage),
 * push returns ESP_ERR_INVALID_ARG when no layer
 * had taken it (nothing changed), or ESP_ERR_INVALID_STATE when an earlier
 * layer had (the context then refuses push/classify until ruv_temporal_reset).
 * A full cache under RUV_TEMPORAL_CACHE_FAIL gives ESP_ERR_INVALID_STATE and
 * changes nothing, as does a STREAMING push once the caches' token ids are
 * used up (SIZE_MAX - 1 frames since init/reset, 2^32 - 1 on an RVNQ blob
 * whatever size_t is: about 497 days at 100 Hz; a reset starts over).
 * frames_total saturates at
 * UINT64_MAX. */
AETHER_API esp_err_t ruv_temporal_push(ruv_temporal_ctx_t *ctx, const float *frame);

/* Write n_classes logits (n_classes must equal the init value). WINDOW:
 * window forward over the held frames, oldest first; STREAMING: the logits
 * of the latest push. ESP_ERR_INVALID_STATE when no frame was pushed since
 * init/reset. logits are written only on success. */
AETHER_API esp_err_t ruv_temporal_classify(ruv_temporal_ctx_t *ctx, float *logits,
                                           uint32_t n_classes);

/* Forget every frame (empty ring / caches); the model stays. */
AETHER_API esp_err_t ruv_temporal_reset(ruv_temporal_ctx_t *ctx);

/* Classify, then encode the 40-byte 0xC5110007 packet (docs/FORMATS.md section 4:
 * n_classes, node_id, ts_us, seq, argmax, top logit, top1 - top2, CRC-32)
 * into out. Codes as classify; out is written only on success. */
AETHER_API esp_err_t ruv_temporal_make_packet(ruv_temporal_ctx_t *ctx, uint8_t node_id,
                                              uint64_t ts_us, uint32_t seq,
                                              uint8_t out[RUV_TEMPORAL_PACKET_LEN]);

/* What a context holds. */
typedef struct ruv_temporal_info {
    ruv_temporal_mode_t mode;
    ruv_temporal_pooling_t pooling;
    uint32_t input_dim, window_len, n_classes;
    uint32_t n_q_heads, n_kv_heads, head_dim, n_layers; /* from the blob */
    uint32_t frames_held;  /* frames classify would use (WINDOW: <= window_len;
                              STREAMING: frames in the caches) */
    uint64_t frames_total; /* frames pushed since init/reset */
    int weights_borrowed;  /* 1: the context reads the caller's blob */
    int evicted;           /* STREAMING: a cache has evicted since init/reset */
    size_t ctx_bytes;      /* the context's memory (= ctx_size for static) */
} ruv_temporal_info_t;

AETHER_API esp_err_t ruv_temporal_get_info(const ruv_temporal_ctx_t *ctx,
                                           ruv_temporal_info_t *out);

/* A decision a person can act on (aether/decision.h): the argmax, its
 * calibrated probability (softmax(logits / T), T the blob's `temperature`
 * metadata, 1 without it) and "unknown" when that probability is below
 * the blob's `unknown_below` or, in WINDOW mode, the window's input distance
 * is above its `ood_above` (the window lies far from the training data: a
 * capture of another chip or room). Without those keys nothing is unknown.
 * An RVNQ blob carries the same keys (aether quantize copies them) and
 * decides with them the same way, except ood_above: the integer path has no
 * input distance, as in `aether eval` on a quantized blob. */
typedef struct ruv_temporal_decision_t {
    uint32_t class_id;       /* the argmax (also when unknown) */
    float probability;       /* calibrated probability of class_id */
    float margin;            /* logits[class_id] minus the runner-up */
    float distance;          /* WINDOW: the input distance; STREAMING and an
                                RVNQ blob (no input distance there): -1 */
    int unknown;             /* 1: do not act on class_id */
    int out_of_distribution; /* 1: unknown because distance > ood_above */
} ruv_temporal_decision_t;

/* ruv_temporal_classify (the same errors; logits may be NULL when the
 * caller does not need them, else n_classes floats) followed by the
 * decision. No allocation; about 100 bytes of stack beyond classify's. */
AETHER_API esp_err_t ruv_temporal_decide(ruv_temporal_ctx_t *ctx, float *logits,
                                         uint32_t n_classes, ruv_temporal_decision_t *out);

/* Release a context. NULL is a no-op. A static context's memory belongs to
 * the caller: destroy only marks it dead. Double destroy is undefined for
 * malloc'd contexts. */
AETHER_API void ruv_temporal_destroy(ruv_temporal_ctx_t *ctx);

/* Run a fixed sparse attention case (seq 8, 2 heads, dim 4, window 2,
 * block 2, globals {0}, causal, log-stride and landmarks on) through the
 * attention kernel the device runs and compare its 64 outputs with the
 * scalar reference's, recorded in the library, within 2^-14 (6.1e-5; the
 * outputs lie in [-1, 1]). Also checks the (possibly esp-dsp) dot product
 * used on the target against the reference (within 1e-6).
 * Guarantees:
 *   - it passes with any C library whose expf is within 4 ulp: the softmax
 *     weights of a correct kernel then move an output by less than 1.5e-5
 *     (the bound is derived in src/edge/selftest.c); glibc, picolibc and
 *     newlib are within 1 ulp (measured deviation with picolibc and with
 *     newlib: 3e-8), and an
 *     optimised host path stays within 1e-6 + 2e-6 |ref|;
 *   - it fails for a kernel with a missing or wrong score scale, a wrong
 *     key, value or head index, a lost causal mask, a skipped global,
 *     log-stride or landmark candidate, or a dot product or value sum that
 *     stops an element early: each moves some output by 295x to 24,000x the
 *     tolerance (tests/test_selftest.c injects each through the real kernel).
 * ESP_OK, or ESP_FAIL on any mismatch. Uses 2.5 KB of stack (measured on
 * RV32 and Cortex-M4F; on x86-64 and AArch64 hosts 32 KB more, the
 * optimised kernels' scratch) and no heap. */
AETHER_API esp_err_t ruv_temporal_kernel_self_test(void);

#ifdef __cplusplus
}
#endif
#endif /* RUV_TEMPORAL_H */
