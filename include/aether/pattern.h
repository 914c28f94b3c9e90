/*
 * aether/pattern.h - the log-sparse attention configuration and the candidate
 * set of a query (docs/KERNELS.md sections 3, 5 and 12).
 *
 * A query i in a sequence of length seq attends to two ordered, duplicate-free
 * lists ("first occurrence wins"):
 *   tokens: local window (ascending), globals (config order), log-stride
 *           (i-1, [i+1], i-2, [i+2], i-4, ...; the bracketed ones non-causal);
 *   blocks: landmark blocks (block means), local then log-stride.
 * The "window" is a radius: W+1 keys causal, up to 2W+1 non-causal.
 * Causal candidate sets never look past i, so they do not depend on seq > i.
 */
#ifndef AETHER_PATTERN_H
#define AETHER_PATTERN_H

#include "aether/export.h"
#include "aether/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AETHER_MAX_GLOBALS 64

/* What a caller fills in. Use aether_attn_params_default() as a start. */
typedef struct aether_attn_params {
    size_t window;         /* local window radius W (default 128) */
    size_t block_size;     /* landmark block length B, > 0 (default 64) */
    const size_t *globals; /* global token positions (default {0}) */
    size_t n_globals;      /* <= AETHER_MAX_GLOBALS */
    int causal;            /* default 1 */
    int use_log_stride;    /* default 1 */
    int use_landmarks;     /* default 1 */
    int sort_candidates;   /* default 0: visit in push order */
} aether_attn_params;

/* A validated, self-contained configuration (globals copied in). Treat as
 * read-only after aether_attn_config_init: every kernel checks the magic. */
typedef struct aether_attn_config {
    uint32_t magic_;
    size_t window;
    size_t block_size;
    size_t globals[AETHER_MAX_GLOBALS];
    size_t n_globals;
    int causal;
    int use_log_stride;
    int use_landmarks;
    int sort_candidates;
} aether_attn_config;

/* Upstream defaults: W 128, B 64, globals {0}, causal, log-stride, landmarks. */
AETHER_API aether_attn_params aether_attn_params_default(void);

/* Validate and copy. Errors: NULL_ARG, BLOCK_SIZE (block_size 0),
 * TOO_MANY_GLOBALS, NULL_ARG (globals NULL with n_globals > 0).
 * Out-of-range or duplicate globals are legal (skipped / deduplicated). */
AETHER_API aether_status aether_attn_config_init(aether_attn_config *cfg,
                                                 const aether_attn_params *p);

/* AETHER_OK if cfg was produced by aether_attn_config_init, else
 * AETHER_ERR_NOT_INITIALIZED (or NULL_ARG). */
AETHER_API aether_status aether_attn_config_check(const aether_attn_config *cfg);

/* Upper bounds on list lengths for any query of a sequence of length seq
 * (use them to size caller arrays). */
AETHER_API size_t aether_pattern_max_tokens(const aether_attn_config *cfg, size_t seq);
AETHER_API size_t aether_pattern_max_blocks(const aether_attn_config *cfg, size_t seq);

/* Token candidates of query i (< seq) in push order. `out` holds `cap`
 * entries; AETHER_ERR_BUFFER_TOO_SMALL if cap is below the need.
 * No scratch memory: de-duplication uses the structure of the pattern, so
 * cost is O(W + G*(G + log seq)) and independent of seq otherwise. */
AETHER_API aether_status aether_pattern_tokens(const aether_attn_config *cfg, size_t i,
                                               size_t seq, size_t *out, size_t cap,
                                               size_t *n_out);
/* Landmark block candidates of query i in push order (empty when landmarks
 * are off). */
AETHER_API aether_status aether_pattern_blocks(const aether_attn_config *cfg, size_t i,
                                               size_t seq, size_t *out, size_t cap,
                                               size_t *n_out);

/* Ascending in-place sort (for sort_candidates). */
AETHER_API void aether_pattern_sort(size_t *idx, size_t n);

/* Sum over i < seq of |tokens(i)| + |blocks(i)| for one head (docs/KERNELS.md section 12).
 * Returns 0 for seq 0 or an invalid config. */
AETHER_API uint64_t aether_estimate_sparse_edges(const aether_attn_config *cfg, size_t seq);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_PATTERN_H */
