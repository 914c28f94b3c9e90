/*
 * aether/attention_gated.h - sparse attention with a per-key keep mask
 * (docs/KERNELS.md section 10).
 *
 * For query i the candidate lists of aether/pattern.h are built, then the
 * token list is filtered: j survives iff
 *     j == i  OR  j in window(i)  OR  j is a configured global  OR  keep[j]
 * (window(i) is the docs/KERNELS.md section 5.1 range; the global test ignores causality,
 * which changes nothing because causal lists never hold future globals).
 * Survivors keep their order; landmark blocks are never filtered. Then
 * sort_candidates, if set, sorts the surviving tokens and the blocks
 * separately (tokens still first), and the online softmax runs as in
 * aether_attn_forward. With an all-ones mask the result is bit-identical to
 * aether_attn_forward / aether_attn_forward_gqa.
 *
 * The mask can only remove keys (log-stride ones, in effect); it never adds a
 * position that is not already a candidate.
 *
 * Workspace: the reference forward's layout (landmark table, candidate lists,
 * one accumulator); NULL is an error (aether/core.h). These kernels are scalar reference
 * code: the optimised paths of aether/dispatch.h do not apply to them.
 */
#ifndef AETHER_ATTENTION_GATED_H
#define AETHER_ATTENTION_GATED_H

#include "aether/export.h"
#include <stdint.h>

#include "aether/attention.h"
#include "aether/kvcache.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Workspace bytes for both gated forwards. In each, ws: at least this many
 * bytes; NULL is an error (AETHER_ERR_NULL_ARG, aether/core.h), checked
 * after the other arguments; seq 0 needs none. */
AETHER_API aether_status aether_attn_forward_gated_workspace_size(const aether_attn_config *cfg,
                                                                  size_t seq, size_t q_heads,
                                                                  size_t kv_heads, size_t dim,
                                                                  size_t *bytes);

/*
 * MHA gated prefill (reference forward_gated). keep_mask holds n_mask bytes,
 * nonzero = keep. Validation order: NULL arguments; config; q.dim 0 ->
 * ZERO_HEAD_DIM; q/k/v shapes differ -> SHAPE_MISMATCH; out shape !=
 * q shape -> SHAPE_MISMATCH; n_mask != seq -> MASK_LENGTH; seq 0 -> OK, nothing
 * written. keep_mask may be NULL only when n_mask is 0.
 */
AETHER_API aether_status aether_attn_forward_gated(const aether_attn_config *cfg,
                                                   const aether_tensor *q, const aether_tensor *k,
                                                   const aether_tensor *v,
                                                   const uint8_t *keep_mask, size_t n_mask,
                                                   aether_tensor *out, void *ws, size_t ws_len);

/*
 * GQA/MQA gated prefill (docs/KERNELS.md section 10.1): query head h reads kv head h / (q_heads /
 * kv_heads). Validation as aether_attn_forward_gqa (q.dim 0; seq mismatch ->
 * SHAPE_MISMATCH; dim mismatch -> HEAD_DIM_MISMATCH; kv heads 0 or not a
 * divisor -> GQA_RATIO; k/v heads differ -> KV_HEADS_MISMATCH; out shape),
 * then n_mask != seq -> MASK_LENGTH. With group 1 it equals the MHA form.
 */
AETHER_API aether_status aether_attn_forward_gqa_gated(
    const aether_attn_config *cfg, const aether_tensor *q, const aether_tensor *k,
    const aether_tensor *v, const uint8_t *keep_mask, size_t n_mask, aether_tensor *out, void *ws,
    size_t ws_len);

/* ---------- gated streaming decode over a KV cache ---------- */

/* Workspace bytes of aether_kvcache_decode_gated for queries with q_heads
 * heads over this cache (bounded by the cache capacity, so one buffer serves
 * every step). */
AETHER_API aether_status aether_kvcache_decode_gated_workspace_size(const aether_attn_config *cfg,
                                                                    const aether_kvcache *cache,
                                                                    size_t q_heads,
                                                                    size_t *bytes);

/*
 * aether_kvcache_decode_step with the docs/KERNELS.md section 10.1 filter: the newest
 * position i = len - 1 attends to its window, globals, landmark blocks and
 * those log-stride keys j with keep[j] != 0. keep holds n_keep == len bytes,
 * one per cached position (MASK_LENGTH otherwise). With a causal config and a
 * causal mask (keep[j] fixed when j arrived, see aether_causal_gate_step in
 * aether/gate.h), step t equals row t of the gated forward over the whole
 * window - bit for bit with the cache's LM_SUM landmarks - and with an
 * all-ones mask it equals aether_kvcache_decode_step.
 * Positions must be slots: a cache that has evicted or compacted tokens
 * (tokens_seen != len) gives UNSUPPORTED. The cache is only read.
 * Errors, in order: NULL_ARG; NOT_INITIALIZED; BLOCK_MISMATCH; SEQ_NOT_ONE;
 * ZERO_HEAD_DIM; HEAD_DIM_MISMATCH; GQA_RATIO; SHAPE_MISMATCH (out);
 * MASK_LENGTH; UNSUPPORTED; NONFINITE (q); BUFFER_TOO_SMALL. An empty cache
 * gives zeros (no workspace needed). ws: at least
 * aether_kvcache_decode_gated_workspace_size bytes; NULL is an error
 * (NULL_ARG, aether/core.h), checked after NONFINITE.
 */
AETHER_API aether_status aether_kvcache_decode_gated(const aether_attn_config *cfg,
                                                     const aether_tensor *q1,
                                                     const aether_kvcache *cache,
                                                     const uint8_t *keep, size_t n_keep,
                                                     aether_tensor *out, void *ws, size_t ws_len);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_ATTENTION_GATED_H */
