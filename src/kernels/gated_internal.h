/*
 * Internal: argument validation of the gated forwards, for callers that must
 * report attention errors before doing their own work (the FastGRNN-gated
 * forward computes the mask first).
 */
#ifndef AETHER_KERNELS_GATED_INTERNAL_H
#define AETHER_KERNELS_GATED_INTERNAL_H

#include "aether/attention_gated.h"

/* Every check of aether_attn_forward_gated (gqa = 0) or
 * aether_attn_forward_gqa_gated (gqa = 1) except the mask's. */
aether_status aether_gated_validate(const aether_attn_config *cfg, const aether_tensor *q,
                                    const aether_tensor *k, const aether_tensor *v,
                                    const aether_tensor *out, int gqa);

#endif /* AETHER_KERNELS_GATED_INTERNAL_H */
