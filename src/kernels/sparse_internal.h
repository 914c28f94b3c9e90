/*
 * Internal building blocks of the sparse kernels, shared by the reference
 * prefill (forward.c) and the kernels built on it (KV cache decode, tiled,
 * gated): prefill landmarks, per-query candidate lists, the one-query loop
 * and the prefill workspace layout.
 */
#ifndef AETHER_KERNELS_SPARSE_INTERNAL_H
#define AETHER_KERNELS_SPARSE_INTERNAL_H

#include <stddef.h>

#include "aether/attention.h"
#include "aether/pattern.h"
#include "simd/rows.h"

/* Block means of x [seq, heads, dim] into means [ceil(seq/B), heads, dim]
 * (docs/KERNELS.md section 6): per block, head and component, the f32 sum over the block's
 * tokens in ascending order starting from 0, then divided by (float)count.
 * A partial last block is averaged over its own tokens. */
void aether_landmarks_prefill_(const float *x, size_t seq, size_t heads, size_t dim,
                               size_t block_size, float *means);

/* One (query row, head) of the reference loop (docs/KERNELS.md section 4.2): online softmax
 * over the token candidates (rows from `tokens`), then the block candidates
 * (rows from `blocks`, may be NULL when n_blk is 0), in list order.
 * score = dot(q, k) * scale. acc holds dim floats of scratch; out gets dim
 * floats and may not alias acc. */
void aether_sparse_query_(const float *q, size_t dim, float scale, const aether_rows *tokens,
                          const size_t *tok, size_t n_tok, const aether_rows *blocks,
                          const size_t *blk, size_t n_blk, float *acc, float *out);

/* Token and block lists of query i, sorted when cfg->sort_candidates.
 * tok/blk must hold aether_pattern_max_tokens / _max_blocks entries. */
aether_status aether_sparse_candidates_(const aether_attn_config *cfg, size_t i, size_t seq,
                                        size_t *tok, size_t tok_cap, size_t *n_tok, size_t *blk,
                                        size_t blk_cap, size_t *n_blk);

/* Prefill workspace carved from an arena: landmark means (NULL when
 * landmarks are off), candidate arrays and the accumulator. */
typedef struct aether_sparse_ws {
    float *lm_k; /* [nb, kv_heads, dim] */
    float *lm_v; /* [nb, kv_heads, dim] */
    size_t nb;   /* number of landmark blocks (0 when off) */
    size_t *tok; /* tok_cap entries */
    size_t tok_cap;
    size_t *blk; /* blk_cap entries (at least 1 so the pointer is valid) */
    size_t blk_cap;
    float *acc; /* dim floats */
} aether_sparse_ws;

/* Run on a measuring arena for the size, then on the buffer to fill `w`.
 * Returns the arena status (OVERFLOW / BUFFER_TOO_SMALL on failure). */
aether_status aether_sparse_ws_layout_(aether_arena *a, const aether_attn_config *cfg, size_t seq,
                                       size_t kv_heads, size_t dim, aether_sparse_ws *w);

/* The reference prefill loop over validated shapes (q heads a multiple
 * of kv heads, seq and heads > 0): w laid out by aether_sparse_ws_layout_,
 * landmark means already built. */
void aether_sparse_prefill_ref_(const aether_attn_config *cfg, const aether_tensor *q,
                                const aether_tensor *k, const aether_tensor *v,
                                aether_tensor *out, const aether_sparse_ws *w);

/* The reference dense attention (docs/KERNELS.md section 4.3) over validated shapes; out
 * must not share memory with q, k or v. */
void aether_dense_ref_(const aether_tensor *q, const aether_tensor *k, const aether_tensor *v,
                       int causal, aether_tensor *out);

/* AETHER_OK, AETHER_ERR_OVERFLOW (seq*heads*dim) or AETHER_ERR_NULL_ARG
 * (non-empty tensor without data). */
aether_status aether_attn_check_tensor_(const aether_tensor *t);
/* The data checks every attention entry point runs after its shape checks:
 * each tensor's size and data pointer, then aliasing (out may be q itself,
 * never overlap k or v: AETHER_ERR_INVALID_ARG). */
aether_status aether_attn_check_data_(const aether_tensor *q, const aether_tensor *k,
                                      const aether_tensor *v, const aether_tensor *out);

/* 1 when the two tensors' (non-empty) data ranges share memory. */
int aether_attn_overlaps_(const aether_tensor *a, const aether_tensor *b);

#endif /* AETHER_KERNELS_SPARSE_INTERNAL_H */
