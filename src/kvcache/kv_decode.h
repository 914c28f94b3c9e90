/*
 * Internal to src/kvcache: decode of the newest position over the cached
 * rows (decode.c), for the step (step.c); the head step (src/head/step.c)
 * checks its configuration against a cache with aether_kv_check_cfg_.
 */
#ifndef AETHER_KVCACHE_KV_DECODE_H
#define AETHER_KVCACHE_KV_DECODE_H

#include "kvcache/kvcache_internal.h"

/* cfg against the cache: a valid configuration with the cache's block
 * size whose candidate bounds fit the scratch sized at init. */
aether_status aether_kv_check_cfg_(const aether_attn_config *cfg, const aether_kvcache *c);

/* Decode the q_heads query rows q at the newest position of the non-empty
 * cache c into out; every argument already validated. twin (or NULL): a
 * cache that decoded this same position just before (kv_step.h). */
void aether_kv_decode_(const aether_attn_config *cfg, const float *q, size_t q_heads,
                       aether_kvcache *c, const aether_kvcache *twin, float *out);

#endif /* AETHER_KVCACHE_KV_DECODE_H */
