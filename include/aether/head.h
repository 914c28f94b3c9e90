/*
 * aether/head.h - the AETHER temporal head (docs/MODEL.md section 4): a thin,
 * weight-free layer over the attention kernels and the KV cache. Q/K/V
 * arrive already projected ([seq, heads, head_dim] tensors); pooling and
 * classification are the caller's (see aether/model.h).
 *
 * Backends:
 *   SPARSE_GQA  log-sparse kernel with the fixed pattern extras of section
 *               2.1 (globals {0}, log-stride on, landmarks on, sort off);
 *               forward dispatches on the config's head counts (equal ->
 *               aether_attn_forward, else aether_attn_forward_gqa); step
 *               appends to a cache then runs aether_kvcache_decode_step.
 *   DENSE       exact dense attention (aether_attn_dense, GQA-capable);
 *               step attends to every cached token (O(T), the baseline).
 *   AUTO        resolved once at init by the rule of docs/MODEL.md section 4.4:
 *               window <= 64 and a dense-MHA checkpoint -> DENSE, otherwise
 *               SPARSE_GQA (which itself picks forward vs forward_gqa).
 *
 * A head is a small value object: aether_head_init fills a caller struct
 * (no allocation). It never owns a cache (one cache per session or track).
 */
#ifndef AETHER_HEAD_H
#define AETHER_HEAD_H

#include "aether/export.h"
#include "aether/attention.h"
#include "aether/kvcache.h"
#include "aether/pattern.h"
#include "aether/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aether_head_backend {
    AETHER_HEAD_DENSE = 0,
    AETHER_HEAD_SPARSE_GQA = 1,
    AETHER_HEAD_AUTO = 2
} aether_head_backend;

/* Head configuration (docs/MODEL.md section 4.1). */
typedef struct aether_head_config {
    aether_head_backend backend;
    size_t q_heads;    /* query heads */
    size_t kv_heads;   /* key/value heads; divides q_heads */
    size_t head_dim;   /* per-head width */
    size_t window;     /* local window radius (0 allowed) */
    size_t block_size; /* landmark block length, > 0 */
    int causal;        /* 1 for streaming use */
    /* AUTO only: the weights come from a checkpoint trained with dense MHA
     * attention (the ADR's "checkpoint is a dense-MHA one"). */
    int checkpoint_dense_mha;
} aether_head_config;

/* default_aether(): SPARSE_GQA, q 4, kv 1 (MQA), head_dim 32, window 32,
 * block 16, causal, checkpoint_dense_mha 0. */
AETHER_API aether_head_config aether_head_config_default_aether(void);

/* Validate in the reference order; *message (optional) receives the
 * reference's static text (NULL on success):
 *   1. q_heads, kv_heads or head_dim 0 -> AETHER_ERR_INVALID_CONFIG
 *      "q_heads, kv_heads, head_dim must all be > 0"
 *   2. q_heads % kv_heads != 0 -> AETHER_ERR_GQA_RATIO
 *      "q_heads must be divisible by kv_heads (GQA constraint)"
 *   3. block_size 0 -> AETHER_ERR_BLOCK_SIZE "block_size must be > 0"
 *   4. (aether) unknown backend value -> AETHER_ERR_INVALID_ARG
 *      "unknown backend"
 * window is unchecked (0 is legal). NULL cfg -> AETHER_ERR_NULL_ARG. */
AETHER_API aether_status aether_head_config_validate(const aether_head_config *cfg,
                                                     const char **message);

/* Prefix of the reference's display text for config errors:
 * AETHER_HEAD_ERR_PREFIX + message. */
#define AETHER_HEAD_ERR_PREFIX "temporal head config invalid: "
/* The reference's text for step's single-token rule. */
#define AETHER_HEAD_MSG_SEQ "step() requires single-token q/k/v (seq == 1 each)"

/* The backend AUTO resolves to for cfg (DENSE / SPARSE_GQA are returned as
 * given). */
AETHER_API aether_head_backend aether_head_select_backend(const aether_head_config *cfg);

/* "dense", "sparse_gqa", "auto" (the ADR spellings); NULL for others. */
AETHER_API const char *aether_head_backend_name(aether_head_backend b);
/* Parse those names (also "sparse"); AETHER_ERR_INVALID_ARG otherwise. */
AETHER_API aether_status aether_head_backend_parse(const char *name, aether_head_backend *out);

/* An initialised head. Read-only after init; safe to share between threads. */
typedef struct aether_head {
    uint32_t magic_;
    aether_head_config cfg;      /* as given */
    aether_head_backend backend; /* resolved: DENSE or SPARSE_GQA */
    aether_attn_config attn;     /* kernel pattern, docs/MODEL.md 4.3 */
} aether_head;

/* Validate cfg (as aether_head_config_validate) and build the head. On error
 * *head is unchanged. */
AETHER_API aether_status aether_head_init(aether_head *head, const aether_head_config *cfg);

/* Workspace bytes aether_head_forward needs at this sequence length: the
 * backend kernel's query (aether_attn_dense_workspace_size or
 * aether_attn_forward_workspace_size), per-thread scratch included. */
AETHER_API aether_status aether_head_forward_workspace_size(const aether_head *head, size_t seq,
                                                            size_t *bytes);

/* Window prefill on the kernel path aether/dispatch.h selects (the scalar
 * reference reproduces the goldens bit for bit; optimised paths stay within
 * the dispatch accuracy contract).
 * q [seq, q_heads, head_dim], k/v [seq, kv_heads, head_dim],
 * out shaped like q. Unlike the reference the tensors are checked against
 * the config first (SHAPE_MISMATCH), then the kernel validates as usual.
 * ws: at least aether_head_forward_workspace_size bytes; NULL is an error
 * (AETHER_ERR_NULL_ARG, the rule of aether/core.h). Errors: NULL_ARG,
 * NOT_INITIALIZED (head), SHAPE_MISMATCH, the kernel's statuses (its
 * workspace check included). */
AETHER_API aether_status aether_head_forward(const aether_head *head, const aether_tensor *q,
                                             const aether_tensor *k, const aether_tensor *v,
                                             aether_tensor *out, void *ws, size_t ws_len);

/* Cache parameters matching the head: (capacity, kv_heads, head_dim,
 * block_size) from the config, the head's attention pattern, f32 storage,
 * LM_SUM landmarks, EVICT_NONE. Callers may change storage / eviction before
 * creating the cache. */
AETHER_API aether_status aether_head_cache_params(const aether_head *head, size_t capacity,
                                                  aether_kvcache_params *out);

/* make_cache(capacity): a malloc'd cache with aether_head_cache_params
 * (capacity 0 is accepted; every step then fails with CACHE_FULL). Free with
 * aether_kvcache_destroy. Works for both backends (the dense step reads the
 * same cache). */
AETHER_API aether_status aether_head_make_cache(const aether_head *head, size_t capacity,
                                                aether_kvcache **out);

/* Workspace bytes aether_head_step needs (0 for SPARSE_GQA; the dense step
 * needs 2*kv_heads*head_dim + 2*q_heads floats). */
AETHER_API aether_status aether_head_step_workspace_size(const aether_head *head, size_t *bytes);

/* One streaming step: append (k1, v1) to cache, then attend q1 over it.
 * q1 [1, q_heads, head_dim], k1/v1 [1, kv_heads, head_dim], out like q1.
 * Everything about q1/k1/v1/out and the cache's compatibility (kv heads,
 * head dim, block size) is checked BEFORE appending, so those failures leave
 * the cache unchanged:
 *   NULL_ARG; NOT_INITIALIZED; SEQ_NOT_ONE (any seq != 1, the reference's
 *   AETHER_HEAD_MSG_SEQ); SHAPE_MISMATCH (heads/dims vs the config, out);
 *   KV_HEADS_MISMATCH / HEAD_DIM_MISMATCH / BLOCK_MISMATCH (cache vs
 *   config); INVALID_CONFIG (SPARSE_GQA: a cache created for a pattern
 *   needing fewer candidates than the head's, see aether_kvcache_params);
 *   NONFINITE (q1, k1 or v1); then the append's own statuses
 *   (CACHE_FULL when full without eviction) and the decode's.
 * ws: at least aether_head_step_workspace_size bytes; NULL is an error
 * (NULL_ARG) for a DENSE head and accepted for SPARSE_GQA, whose size is 0
 * (aether/core.h); checked with the arguments, before the append. The
 * sparse step is bit-identical to the corresponding row of
 * aether_head_forward (causal, LM_SUM cache, no
 * eviction, reference kernels selected for the forward); the dense step too
 * (same two-pass order over slots 0..len-1). The step itself is always the
 * scalar reference arithmetic. */
AETHER_API aether_status aether_head_step(const aether_head *head, const aether_tensor *q1,
                                          const aether_tensor *k1, const aether_tensor *v1,
                                          aether_kvcache *cache, aether_tensor *out, void *ws,
                                          size_t ws_len);

/* Workspace bytes of aether_head_dense_decode: 2*kv_heads*head_dim +
 * 2*q_heads floats, for either backend. */
AETHER_API aether_status aether_head_dense_decode_workspace_size(const aether_head *head,
                                                                 size_t *bytes);

/* Dense decode alone: q1 over every token currently in the cache (the
 * newest token must already be appended), two-pass softmax in slot order.
 * Empty cache -> zeros. ws: at least aether_head_dense_decode_workspace_size
 * bytes; NULL is an error (NULL_ARG). */
AETHER_API aether_status aether_head_dense_decode(const aether_head *head,
                                                  const aether_tensor *q1,
                                                  const aether_kvcache *cache, aether_tensor *out,
                                                  void *ws, size_t ws_len);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_HEAD_H */
