/*
 * Internal: the optimised prefill and dense drivers (tiling, candidate
 * extras, threads) on top of an aether_simd_ops table, and the decode hook.
 */
#ifndef AETHER_KERNELS_FAST_H
#define AETHER_KERNELS_FAST_H

#include "kernels/sparse_internal.h"
#include "simd/simd.h"

/* Scratch bytes of one worker of the sparse/dense drivers (tok_cap/blk_cap
 * as in aether_sparse_ws; 0 for dense). AETHER_ERR_OVERFLOW if too big. */
aether_status aether_fast_scratch_bytes(size_t tok_cap, size_t blk_cap, size_t dim, size_t *bytes);

/* Sparse prefill with validated shapes (q heads a multiple of kv heads),
 * landmark means already built (lm_k/lm_v NULL when off). `scratch` serves
 * worker 0; further workers (aether_set_num_threads) get malloc'ed scratch.
 * AETHER_ERR_NO_MEM only if not even one worker's scratch exists. */
aether_status aether_fast_sparse(const aether_simd_ops *ops, const aether_attn_config *cfg,
                                 const aether_tensor *q, const aether_tensor *k,
                                 const aether_tensor *v, aether_tensor *out, const float *lm_k,
                                 const float *lm_v, size_t tok_cap, size_t blk_cap,
                                 void *scratch, size_t scratch_len);

/* Dense attention with validated shapes; mallocs its scratch. */
aether_status aether_fast_dense(const aether_simd_ops *ops, const aether_tensor *q,
                                const aether_tensor *k, const aether_tensor *v, int causal,
                                aether_tensor *out);

/* Decode hook: same contract and arguments as aether_sparse_query (one
 * query row, one head; gathered token rows, then landmark rows), computed
 * by the active SIMD path, or by aether_sparse_query in REFERENCE mode. */
void aether_sparse_query_fast(const float *q, size_t dim, float scale, const aether_rows *tokens,
                              const size_t *tok, size_t n_tok, const aether_rows *blocks,
                              const size_t *blk, size_t n_blk, float *acc, float *out);

#endif /* AETHER_KERNELS_FAST_H */
