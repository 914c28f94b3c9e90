/*
 * Internal pieces of the gated kernels shared with the gated decode and the
 * FastGRNN-gated forward: argument validation (callers that compute the mask
 * first must still report attention errors first) and the token filter.
 */
#ifndef AETHER_GATE_GATED_INTERNAL_H
#define AETHER_GATE_GATED_INTERNAL_H

#include "aether/attention_gated.h"

/* Every check of aether_attn_forward_gated (gqa = 0) or
 * aether_attn_forward_gqa_gated (gqa = 1) except the mask's. */
aether_status aether_gated_validate_(const aether_attn_config *cfg, const aether_tensor *q,
                                     const aether_tensor *k, const aether_tensor *v,
                                     const aether_tensor *out, int gqa);

/* Filter token candidates of query i in place (docs/KERNELS.md section 10.1): keep j iff
 * j is in the window of i (which holds i), j is a configured global, or
 * keep[j] != 0. Order is preserved; returns the new count. */
size_t aether_gated_filter_(const aether_attn_config *cfg, size_t i, size_t seq,
                            const uint8_t *keep, size_t *tok, size_t n);

#endif /* AETHER_GATE_GATED_INTERNAL_H */
