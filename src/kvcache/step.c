/*
 * The KV cache step: append one token and decode the newest position, for
 * the tensor batch (aether_kvcache_decode_batch: one step per token) and
 * for the streaming callers that hold plain rows (kv_step.h: the model
 * session's heads). Every entry point validates its whole input before the
 * first append, so a failure changes nothing.
 */
#include <stdint.h>

#include "kvcache/kv_append.h"
#include "kvcache/kv_checks.h"
#include "kvcache/kv_decode.h"
#include "kvcache/kv_step.h"

aether_status aether_kvcache_decode_batch(const aether_attn_config *cfg, const aether_tensor *q,
                                          const aether_tensor *k_new, const aether_tensor *v_new,
                                          aether_kvcache *cache, aether_tensor *out)
{
    size_t n, t, qrow;
    aether_status st;
    if (!cfg || !q || !k_new || !v_new || !out)
        return AETHER_ERR_NULL_ARG;
    st = aether_kv_check_(cache);
    if (st != AETHER_OK)
        return st;
    st = aether_kv_check_cfg_(cfg, cache);
    if (st != AETHER_OK)
        return st;
    n = q->seq;
    if (k_new->seq != n || v_new->seq != n || !aether_tensor_same_shape(q, out))
        return AETHER_ERR_SHAPE_MISMATCH;
    if (n == 0)
        return AETHER_OK;
    if (q->dim == 0)
        return AETHER_ERR_ZERO_HEAD_DIM;
    if (q->dim != cache->head_dim || k_new->dim != cache->head_dim ||
        v_new->dim != cache->head_dim)
        return AETHER_ERR_HEAD_DIM_MISMATCH;
    if (k_new->heads != cache->kv_heads || v_new->heads != cache->kv_heads)
        return AETHER_ERR_KV_HEADS_MISMATCH;
    if (q->heads == 0 || q->heads % cache->kv_heads != 0)
        return AETHER_ERR_GQA_RATIO;
    if (!q->data || !k_new->data || !v_new->data || !out->data)
        return AETHER_ERR_NULL_ARG;
    /* Tensors exist, so seq * heads * dim did not overflow. */
    qrow = q->heads * q->dim;
    if (!aether_kv_rows_finite_(q->data, n * qrow))
        return AETHER_ERR_NONFINITE;
    /* K/V rows: finite and within the storage's range */
    for (t = 0; t < n; ++t)
        if (aether_kv_check_rows_(cache, k_new->data + t * cache->row,
                                  v_new->data + t * cache->row) != AETHER_OK)
            return AETHER_ERR_NONFINITE;
    if (n > SIZE_MAX - cache->next_token)
        return AETHER_ERR_OVERFLOW;
    if (!aether_kv_logical_(cache) && n > cache->capacity - cache->len)
        return AETHER_ERR_CACHE_FULL;
    /* From here nothing can fail: the batch is atomic. */
    for (t = 0; t < n; ++t) {
        aether_kv_push_(cache, k_new->data + t * cache->row, v_new->data + t * cache->row);
        aether_kv_decode_(cfg, q->data + t * qrow, q->heads, cache, NULL, out->data + t * qrow);
    }
    return AETHER_OK;
}

/* The checks of aether_kvcache_append_rows after the finite rows (a
 * reduced storage also checks its range), then the append and the
 * decode. */
static aether_status step_rows(const aether_attn_config *cfg, const float *q, size_t q_heads,
                               const float *k, const float *v, aether_kvcache *c,
                               const aether_kvcache *twin, float *out)
{
    if (c->storage != AETHER_KV_F32 && aether_kv_check_rows_(c, k, v) != AETHER_OK)
        return AETHER_ERR_NONFINITE;
    if (c->next_token == SIZE_MAX)
        return AETHER_ERR_OVERFLOW;
    if (c->len >= c->capacity && !aether_kv_logical_(c))
        return AETHER_ERR_CACHE_FULL;
    aether_kv_push_(c, k, v);
    aether_kv_decode_(cfg, q, q_heads, c, twin, out);
    return AETHER_OK;
}

aether_status aether_kv_step_rows_(const aether_attn_config *cfg, const float *q, size_t q_heads,
                                   const float *k, const float *v, aether_kvcache *c, float *out)
{
    return step_rows(cfg, q, q_heads, k, v, c, NULL, out);
}

aether_status aether_kv_step_rows_twin_(const aether_attn_config *cfg, const float *q,
                                        size_t q_heads, const float *k, const float *v,
                                        aether_kvcache *c, const aether_kvcache *prev, float *out)
{
    return step_rows(cfg, q, q_heads, k, v, c, prev, out);
}
