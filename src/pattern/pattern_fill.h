/*
 * Internal: candidate lists in one pass, for callers that sized `out` from
 * aether_pattern_max_tokens / aether_pattern_max_blocks with a validated
 * configuration and 0 <= i < seq (the KV cache decode). The public calls
 * count before they write, which doubles the work of a streaming step.
 */
#ifndef AETHER_PATTERN_PATTERN_FILL_H
#define AETHER_PATTERN_PATTERN_FILL_H

#include "aether/pattern.h"

/* The list aether_pattern_tokens returns; *n_out its length, at most cap
 * entries written. */
void aether_pattern_tokens_fill_(const aether_attn_config *cfg, size_t i, size_t seq, size_t *out,
                                 size_t cap, size_t *n_out);

/* The list aether_pattern_blocks returns, likewise. */
void aether_pattern_blocks_fill_(const aether_attn_config *cfg, size_t i, size_t seq, size_t *out,
                                 size_t cap, size_t *n_out);

#endif /* AETHER_PATTERN_PATTERN_FILL_H */
