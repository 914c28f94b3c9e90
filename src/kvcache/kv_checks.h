/*
 * Internal leaf of src/kvcache: the checks every entry point shares.
 */
#ifndef AETHER_KVCACHE_KV_CHECKS_H
#define AETHER_KVCACHE_KV_CHECKS_H

#include "aether/kvcache.h"

/* AETHER_OK for a live cache, else NULL_ARG / NOT_INITIALIZED. */
aether_status aether_kv_check_(const aether_kvcache *c);

/* 1 when the cache uses logical (token id) positions. */
int aether_kv_logical_(const aether_kvcache *c);

/* 1 when all n floats are finite (exponent test on the bits: no calls). */
int aether_kv_rows_finite_(const float *x, size_t n);

/* Rows of a token must be finite and the id space not exhausted. */
aether_status aether_kv_check_rows_(const aether_kvcache *c, const float *k, const float *v);

/* Validation shared by the tensor entry points: [1, kv_heads, dim]. */
aether_status aether_kv_check_token_tensor_(const aether_kvcache *c, const aether_tensor *t);

#endif /* AETHER_KVCACHE_KV_CHECKS_H */
