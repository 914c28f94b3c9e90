/*
 * aether/attention_tiled.h - tiled ("flash") sparse prefill with scratch
 * memory independent of the sequence length (docs/KERNELS.md section 9).
 *
 * Queries are processed in tiles of T consecutive positions; only that
 * tile's online-softmax states are alive at any time. Within a tile the local
 * windows are visited KV tile by KV tile (each K/V tile is read once for the
 * whole query tile, window keys in ascending order per query), then the
 * scattered candidates (globals, log-stride, landmark blocks) per query.
 * Landmark block means are computed on demand from K/V (sum in token order,
 * divided by the count - the same arithmetic as the prefill landmarks) into a
 * small per-call cache, so no O(seq) landmark table exists.
 *
 * Visit order per (query, head) - the result depends on it at the rounding
 * level, never on T:
 *   AETHER_TILED_ORDER_REFERENCE: window -> landmark blocks -> globals ->
 *     log-stride, exactly the reference forward_flash (golden `out` of the
 *     forward_flash* cases, bit for bit). Like the reference, it ignores
 *     sort_candidates: a "sorted" variant of this order would match neither
 *     the reference nor forward, so FORWARD is the order that honours it.
 *   AETHER_TILED_ORDER_FORWARD: the order of aether_attn_forward (window ->
 *     globals -> log-stride -> landmarks; with sort_candidates the sorted
 *     token list, then the sorted block list), so the output is bit-identical
 *     to aether_attn_forward / _gqa (golden `out_forward`) for every config,
 *     more precisely to their scalar reference path: these tiled kernels are
 *     scalar reference code, and the optimised paths of aether/dispatch.h
 *     agree with the reference only within their tolerance.
 *
 * Workspace (bytes; S = bits in size_t, c = 1 causal / 2 non-causal,
 * G = number of globals, g = q_heads / kv_heads, T' = min(T, seq),
 * T = tile or max(window, 1), P = sizeof(void *)):
 *     T' * g * (4*dim + 8 + 2*P)                 softmax states (acc, m, denom)
 *   + (1 + G + c*S) * sizeof(size_t)             scattered token list
 *   + landmarks on: (2 + c*S) * (2*sizeof(size_t) + 8*dim)
 *                                                block list + block-mean cache
 *   + alignment padding (at most 4*63 + 3*(sizeof(size_t)-1)).
 * Example: default config (W 128, B 64, globals {0}), q 4 / kv 1 heads, dim
 * 32: 96 577 bytes for any seq >= 128 (1k and 64k alike), where
 * aether_attn_forward needs O(seq / block_size * kv_heads * dim) for its
 * landmark table (about 4 kB at 1k, 256 kB at 64k, plus its candidate lists).
 * The softmax states dominate; a smaller tile shrinks them linearly.
 *
 * Validation: as aether_attn_forward (MHA) / aether_attn_forward_gqa (GQA),
 * plus INVALID_ARG for an unknown order, then the workspace (aether/core.h:
 * NULL -> NULL_ARG, short -> BUFFER_TOO_SMALL). seq = 0 is a no-op.
 */
#ifndef AETHER_ATTENTION_TILED_H
#define AETHER_ATTENTION_TILED_H

#include "aether/export.h"
#include "aether/attention.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aether_tiled_order {
    AETHER_TILED_ORDER_REFERENCE = 0, /* window, landmarks, globals, log-stride */
    AETHER_TILED_ORDER_FORWARD = 1    /* bit-identical to aether_attn_forward */
} aether_tiled_order;

/* Tile length actually used: tile, or max(window, 1) when tile is 0. */
AETHER_API size_t aether_attn_tiled_tile(const aether_attn_config *cfg, size_t tile);

/* Workspace bytes for the tiled forwards (formula above). q_heads must be a
 * multiple of kv_heads (GQA_RATIO), dim > 0 (ZERO_HEAD_DIM). In both
 * forwards, ws: at least this many bytes; NULL is an error
 * (AETHER_ERR_NULL_ARG, aether/core.h), checked after the tensors; seq 0
 * needs none. */
AETHER_API aether_status aether_attn_forward_tiled_workspace_size(
    const aether_attn_config *cfg, size_t seq, size_t q_heads, size_t kv_heads, size_t dim,
    size_t tile, aether_tiled_order order, size_t *bytes);

/* MHA tiled prefill: q, k, v identical shapes (validation of forward). */
AETHER_API aether_status aether_attn_forward_tiled(const aether_attn_config *cfg,
                                                   const aether_tensor *q, const aether_tensor *k,
                                                   const aether_tensor *v, aether_tensor *out,
                                                   size_t tile, aether_tiled_order order,
                                                   void *ws, size_t ws_len);

/* GQA/MQA tiled prefill (reference forward_gqa_flash): head h reads kv head
 * h / (q_heads / kv_heads); validation of forward_gqa. */
AETHER_API aether_status aether_attn_forward_gqa_tiled(const aether_attn_config *cfg,
                                                       const aether_tensor *q,
                                                       const aether_tensor *k,
                                                       const aether_tensor *v, aether_tensor *out,
                                                       size_t tile, aether_tiled_order order,
                                                       void *ws, size_t ws_len);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_ATTENTION_TILED_H */
