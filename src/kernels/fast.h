/*
 * Internal: the optimised prefill and dense drivers (tiling, candidate
 * extras, threads) on top of an aether_simd_ops table.
 */
#ifndef AETHER_KERNELS_FAST_H
#define AETHER_KERNELS_FAST_H

#include "kernels/sparse_internal.h"
#include "simd/simd.h"

/* Scratch bytes of one worker of the sparse/dense drivers (tok_cap/blk_cap
 * as in aether_sparse_ws; 0 for dense). AETHER_ERR_OVERFLOW if too big. */
aether_status aether_fast_scratch_bytes_(size_t tok_cap, size_t blk_cap, size_t dim,
                                         size_t *bytes);

/* The drivers never allocate: `workers` (1..256) threads each take a block
 * of `each` bytes (aether_fast_scratch_bytes_) from `scratch`, consecutive;
 * the caller's workspace holds them. Work is split the same way whatever
 * the worker count, so results do not depend on it. */

/* Sparse prefill with validated shapes (q heads a multiple of kv heads),
 * landmark means already built (lm_k/lm_v NULL when off). */
void aether_fast_sparse_(const aether_simd_ops *ops, const aether_attn_config *cfg,
                         const aether_tensor *q, const aether_tensor *k, const aether_tensor *v,
                         aether_tensor *out, const float *lm_k, const float *lm_v, size_t tok_cap,
                         size_t blk_cap, unsigned workers, void *scratch, size_t each);

/* Dense attention with validated shapes (scratch blocks of
 * aether_fast_scratch_bytes_(0, 0, dim)). */
void aether_fast_dense_(const aether_simd_ops *ops, const aether_tensor *q,
                        const aether_tensor *k, const aether_tensor *v, int causal,
                        aether_tensor *out, unsigned workers, void *scratch, size_t each);

#endif /* AETHER_KERNELS_FAST_H */
