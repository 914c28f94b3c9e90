/*
 * Internal, for the model session: the head's streaming step on plain rows
 * for callers that validated shapes and configuration once (a cache built
 * from aether_head_cache_params of this head), so a frame pays no per-call
 * tensor checks. aether_head_step is the same step behind the public
 * tensor checks.
 */
#ifndef AETHER_HEAD_HEAD_STEP_H
#define AETHER_HEAD_HEAD_STEP_H

#include "aether/head.h"

/* Append (k, v: kv_heads * head_dim floats each) and decode the q_heads
 * query rows q into out. Non-finite q, k or v -> AETHER_ERR_NONFINITE;
 * a full cache / exhausted token ids -> AETHER_ERR_CACHE_FULL /
 * AETHER_ERR_OVERFLOW; on any failure the cache is untouched. `twin`: a
 * cache with the same parameters and history that took this frame just
 * before (or NULL), whose candidate lists a sparse decode may reuse.
 * ws: aether_head_step_workspace_size bytes (dense heads). */
aether_status aether_head_step_rows_(const aether_head *head, const float *q, const float *k,
                                     const float *v, aether_kvcache *cache,
                                     const aether_kvcache *twin, float *out, void *ws);

/* 1 if every one of the n floats is finite. */
int aether_head_all_finite_(const float *x, size_t n);

#endif /* AETHER_HEAD_HEAD_STEP_H */
