/*
 * aether/attention_gated.h - sparse attention with a per-key keep mask
 * (SPARSE_ATTENTION.md section 10.1, issue 14).
 *
 * For query i the candidate lists of aether/pattern.h are built, then the
 * token list is filtered: j survives iff
 *     j == i  OR  j in window(i)  OR  j is a configured global  OR  keep[j]
 * (window(i) is the section 5.1 range; the global test ignores causality,
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
 * Workspace: as aether_attn_forward (same layout); ws = NULL mallocs.
 */
#ifndef AETHER_ATTENTION_GATED_H
#define AETHER_ATTENTION_GATED_H

#include <stdint.h>

#include "aether/attention.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Workspace bytes for both gated forwards (equal to the plain forward's). */
aether_status aether_attn_forward_gated_workspace_size(const aether_attn_config *cfg, size_t seq,
                                                       size_t q_heads, size_t kv_heads,
                                                       size_t dim, size_t *bytes);

/*
 * MHA gated prefill (reference forward_gated). keep_mask holds n_mask bytes,
 * nonzero = keep. Validation order: NULL arguments; config; q.dim 0 ->
 * ZERO_HEAD_DIM; q/k/v shapes differ -> SHAPE_MISMATCH; out shape !=
 * q shape -> SHAPE_MISMATCH; n_mask != seq -> MASK_LENGTH; seq 0 -> OK, nothing
 * written. keep_mask may be NULL only when n_mask is 0.
 */
aether_status aether_attn_forward_gated(const aether_attn_config *cfg, const aether_tensor *q,
                                        const aether_tensor *k, const aether_tensor *v,
                                        const uint8_t *keep_mask, size_t n_mask,
                                        aether_tensor *out, void *ws, size_t ws_len);

/*
 * GQA/MQA gated prefill (issue 14): query head h reads kv head h / (q_heads /
 * kv_heads). Validation as aether_attn_forward_gqa (q.dim 0; seq mismatch ->
 * SHAPE_MISMATCH; dim mismatch -> HEAD_DIM_MISMATCH; kv heads 0 or not a
 * divisor -> GQA_RATIO; k/v heads differ -> KV_HEADS_MISMATCH; out shape),
 * then n_mask != seq -> MASK_LENGTH. With group 1 it equals the MHA form.
 */
aether_status aether_attn_forward_gqa_gated(const aether_attn_config *cfg, const aether_tensor *q,
                                            const aether_tensor *k, const aether_tensor *v,
                                            const uint8_t *keep_mask, size_t n_mask,
                                            aether_tensor *out, void *ws, size_t ws_len);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_ATTENTION_GATED_H */
