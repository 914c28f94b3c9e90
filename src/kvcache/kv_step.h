/*
 * Internal: the streaming hot path of the KV cache (step.c) for callers
 * that hold their rows as plain arrays and validated shapes and
 * configuration once (the model session), so a frame pays no per-call
 * tensor checks.
 */
#ifndef AETHER_KVCACHE_KV_STEP_H
#define AETHER_KVCACHE_KV_STEP_H

#include "aether/kvcache.h"
/* aether_kv_rows_finite_, for the callers' own checks of q, k, v. */
#include "kvcache/kv_checks.h"

/* Append one token (k, v: kv_heads * head_dim floats each) and decode the
 * q_heads query rows q against the cache into out, as aether_head_step
 * does with a sparse head. cfg must be the configuration the cache was
 * built for; q_heads a multiple of kv_heads; q, k, v finite. Fails with
 * AETHER_ERR_NONFINITE (k or v beyond a reduced storage's range),
 * AETHER_ERR_OVERFLOW / AETHER_ERR_CACHE_FULL before touching the cache. */
aether_status aether_kv_step_rows_(const aether_attn_config *cfg, const float *q, size_t q_heads,
                                   const float *k, const float *v, aether_kvcache *c, float *out);

/* aether_kv_step_rows_ for a cache `c` whose twin `prev` (same
 * parameters, same appended history, so the same slots and landmarks; a
 * NONE or SLIDING policy) took this frame's token and was decoded with the
 * same cfg just before: c's decode reuses prev's resolved candidate lists
 * when prev still holds them for this token count (e.g. the layers of a
 * model session), else builds its own. Results are those of
 * aether_kv_step_rows_. */
aether_status aether_kv_step_rows_twin_(const aether_attn_config *cfg, const float *q,
                                        size_t q_heads, const float *k, const float *v,
                                        aether_kvcache *c, const aether_kvcache *prev,
                                        float *out);

#endif /* AETHER_KVCACHE_KV_STEP_H */
