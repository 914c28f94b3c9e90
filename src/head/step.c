/* Temporal head streaming: cache creation, the atomic step, and the dense
 * decode over every cached token. */
#include "core/workspace.h"
#include "head/head_internal.h"
#include "head/head_step.h"
#include "kvcache/kv_decode.h"
#include "kvcache/kv_step.h"
#include "kernels/osm.h"


aether_status aether_head_cache_params(const aether_head *head, size_t capacity,
                                       aether_kvcache_params *out)
{
    aether_status st = aether_head_check_(head);
    if (st != AETHER_OK)
        return st;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    *out = aether_kvcache_params_default(&head->attn, capacity, head->cfg.kv_heads,
                                         head->cfg.head_dim);
    out->block_size = head->cfg.block_size;
    out->storage = AETHER_KV_F32;
    out->landmarks = AETHER_KV_LM_SUM;
    out->evict = AETHER_KV_EVICT_NONE;
    return AETHER_OK;
}

aether_status aether_head_make_cache(const aether_head *head, size_t capacity,
                                     aether_kvcache **out)
{
    aether_kvcache_params p;
    aether_status st;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    st = aether_head_cache_params(head, capacity, &p);
    if (st != AETHER_OK)
        return st;
    return aether_kvcache_create(&p, out);
}

static aether_status dense_ws_bytes(const aether_head_config *c, size_t *bytes)
{
    size_t rows, all;
    if (aether_size_mul3(2, c->kv_heads, c->head_dim, &rows) != AETHER_OK ||
        aether_size_mul(2, c->q_heads, &all) != AETHER_OK ||
        aether_size_add(rows, all, &all) != AETHER_OK ||
        aether_size_mul(all, sizeof(float), bytes) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    return AETHER_OK;
}

aether_status aether_head_step_workspace_size(const aether_head *head, size_t *bytes)
{
    aether_status st = aether_head_check_(head);
    if (st != AETHER_OK)
        return st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    if (head->backend != AETHER_HEAD_DENSE) {
        *bytes = 0;
        return AETHER_OK;
    }
    return dense_ws_bytes(&head->cfg, bytes);
}

aether_status aether_head_dense_decode_workspace_size(const aether_head *head, size_t *bytes)
{
    aether_status st = aether_head_check_(head);
    if (st != AETHER_OK)
        return st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    return dense_ws_bytes(&head->cfg, bytes);
}

static aether_status check_q1(const aether_head *head, const aether_tensor *q1,
                              const aether_tensor *out)
{
    const aether_head_config *c = &head->cfg;
    if (q1->seq != 1)
        return AETHER_ERR_SEQ_NOT_ONE;
    if (q1->heads != c->q_heads || q1->dim != c->head_dim || !aether_tensor_same_shape(out, q1))
        return AETHER_ERR_SHAPE_MISMATCH;
    return AETHER_OK;
}

static aether_status check_cache(const aether_head *head, const aether_kvcache *cache)
{
    if (aether_kvcache_kv_heads(cache) != head->cfg.kv_heads)
        return AETHER_ERR_KV_HEADS_MISMATCH;
    if (aether_kvcache_head_dim(cache) != head->cfg.head_dim)
        return AETHER_ERR_HEAD_DIM_MISMATCH;
    if (aether_kvcache_block_size(cache) != head->cfg.block_size)
        return AETHER_ERR_BLOCK_MISMATCH;
    return AETHER_OK;
}

/* Two passes over the slots, reproducing aether_attn_dense's per-row order
 * (max first, then weights in ascending key order, multiply by 1/denom), so
 * a causal dense stream equals the dense window forward bit for bit. */
static void dense_decode(const aether_head *head, const float *q, const aether_kvcache *cache,
                         float *out, float *ws)
{
    const aether_head_config *c = &head->cfg;
    size_t dim = c->head_dim, qh = c->q_heads, group = c->q_heads / c->kv_heads;
    size_t len = aether_kvcache_len(cache), row = c->kv_heads * dim, j, h, d;
    float *kr = ws, *vr = ws + row, *m = ws + 2 * row, *denom = m + qh;
    float scale = aether_attn_scale(dim);

    for (h = 0; h < qh; ++h) {
        m[h] = -INFINITY;
        denom[h] = 0.0f;
        for (d = 0; d < dim; ++d)
            out[h * dim + d] = 0.0f;
    }
    if (len == 0)
        return; /* reference: an empty cache attends to nothing -> zeros */
    for (j = 0; j < len; ++j) {
        aether_kvcache_slot_rows(cache, j, kr, NULL);
        for (h = 0; h < qh; ++h) {
            float s = aether_dot_ref(q + h * dim, kr + (h / group) * dim, dim) * scale;
            if (s > m[h])
                m[h] = s;
        }
    }
    for (j = 0; j < len; ++j) {
        aether_kvcache_slot_rows(cache, j, kr, vr);
        for (h = 0; h < qh; ++h) {
            float s = aether_dot_ref(q + h * dim, kr + (h / group) * dim, dim) * scale;
            float w = expf(s - m[h]);
            const float *v = vr + (h / group) * dim;
            float *o = out + h * dim;
            denom[h] = denom[h] + w;
            for (d = 0; d < dim; ++d)
                o[d] = o[d] + w * v[d];
        }
    }
    for (h = 0; h < qh; ++h) {
        float inv = denom[h] > 0.0f ? 1.0f / denom[h] : 0.0f;
        for (d = 0; d < dim; ++d)
            out[h * dim + d] = out[h * dim + d] * inv;
    }
}

/* The dense scratch: the caller's workspace, checked (aether/core.h). */
static aether_status dense_scratch(const aether_head *head, void *ws, size_t ws_len,
                                   float **scratch)
{
    size_t need;
    aether_status st = dense_ws_bytes(&head->cfg, &need);
    if (st != AETHER_OK)
        return st;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    *scratch = (float *)ws;
    return AETHER_OK;
}

aether_status aether_head_dense_decode(const aether_head *head, const aether_tensor *q1,
                                       const aether_kvcache *cache, aether_tensor *out, void *ws,
                                       size_t ws_len)
{
    float *scratch;
    aether_status st = aether_head_check_(head);
    if (st != AETHER_OK)
        return st;
    if (!q1 || !cache || !out || !q1->data || !out->data)
        return AETHER_ERR_NULL_ARG;
    if ((st = check_q1(head, q1, out)) != AETHER_OK ||
        (st = check_cache(head, cache)) != AETHER_OK)
        return st;
    if (!aether_head_all_finite_(q1->data, aether_tensor_size(q1)))
        return AETHER_ERR_NONFINITE;
    if ((st = dense_scratch(head, ws, ws_len, &scratch)) != AETHER_OK)
        return st;
    dense_decode(head, q1->data, cache, out->data, scratch);
    return AETHER_OK;
}

aether_status aether_head_step(const aether_head *head, const aether_tensor *q1,
                               const aether_tensor *k1, const aether_tensor *v1,
                               aether_kvcache *cache, aether_tensor *out, void *ws, size_t ws_len)
{
    const aether_head_config *c;
    float *scratch = NULL;
    aether_status st = aether_head_check_(head);
    if (st != AETHER_OK)
        return st;
    if (!q1 || !k1 || !v1 || !cache || !out || !q1->data || !k1->data || !v1->data || !out->data)
        return AETHER_ERR_NULL_ARG;
    c = &head->cfg;
    /* Everything is validated before the append (the reference appended
     * first, leaving the token behind when the query was bad). */
    if (q1->seq != 1 || k1->seq != 1 || v1->seq != 1)
        return AETHER_ERR_SEQ_NOT_ONE;
    if ((st = check_q1(head, q1, out)) != AETHER_OK)
        return st;
    if (k1->heads != c->kv_heads || v1->heads != c->kv_heads || k1->dim != c->head_dim ||
        v1->dim != c->head_dim)
        return AETHER_ERR_SHAPE_MISMATCH;
    if ((st = check_cache(head, cache)) != AETHER_OK)
        return st;
    /* The sparse decode also needs the candidate scratch the cache was
     * sized for (a cache made for a narrower pattern): checked here, not
     * after the append, so the token is not left behind. */
    if (head->backend != AETHER_HEAD_DENSE &&
        (st = aether_kv_check_cfg_(&head->attn, cache)) != AETHER_OK)
        return st;
    if (!aether_head_all_finite_(q1->data, aether_tensor_size(q1)) ||
        !aether_head_all_finite_(k1->data, aether_tensor_size(k1)) ||
        !aether_head_all_finite_(v1->data, aether_tensor_size(v1)))
        return AETHER_ERR_NONFINITE;
    if (head->backend == AETHER_HEAD_DENSE &&
        (st = dense_scratch(head, ws, ws_len, &scratch)) != AETHER_OK)
        return st;
    st = aether_kvcache_append(cache, k1, v1);
    if (st == AETHER_OK) {
        if (head->backend == AETHER_HEAD_DENSE)
            dense_decode(head, q1->data, cache, out->data, scratch);
        else
            st = aether_kvcache_decode_step(&head->attn, q1, cache, out);
    }
    return st;
}

aether_status aether_head_step_rows_(const aether_head *head, const float *q, const float *k,
                                     const float *v, aether_kvcache *cache,
                                     const aether_kvcache *twin, float *out, void *ws)
{
    const aether_head_config *c = &head->cfg;
    size_t qw = c->q_heads * c->head_dim, kvw = c->kv_heads * c->head_dim;
    aether_status st;
    if (!aether_kv_rows_finite_(q, qw) || !aether_kv_rows_finite_(k, kvw) ||
        !aether_kv_rows_finite_(v, kvw))
        return AETHER_ERR_NONFINITE;
    if (head->backend != AETHER_HEAD_DENSE)
        return aether_kv_step_rows_twin_(&head->attn, q, c->q_heads, k, v, cache, twin, out);
    st = aether_kvcache_append_rows(cache, k, v);
    if (st == AETHER_OK)
        dense_decode(head, q, cache, out, (float *)ws);
    return st;
}
