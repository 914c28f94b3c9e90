/*
 * Exact dense attention (docs/KERNELS.md section 4.3): two-pass softmax,
 * max first, then weights summed in ascending key order. MHA or GQA shapes
 * (query head h reads kv head h / group, docs/KERNELS.md section 8.1).
 */
#include "kernels/fast.h"
#include "kernels/osm.h"
#include "kernels/sparse_internal.h"

/* The output row doubles as the accumulator, so out must not share memory
 * with q, k or v (AETHER_ERR_INVALID_ARG). */
static void dense_row(const float *q, const float *k, const float *v, size_t stride, size_t dim,
                      size_t last, float scale, float *out)
{
    float m = -INFINITY, denom = 0.0f, inv;
    size_t j, d;
    for (j = 0; j <= last; ++j) {
        float s = aether_dot_ref(q, k + j * stride, dim) * scale;
        if (s > m)
            m = s;
    }
    for (d = 0; d < dim; ++d)
        out[d] = 0.0f;
    for (j = 0; j <= last; ++j) {
        float s = aether_dot_ref(q, k + j * stride, dim) * scale;
        float w = expf(s - m);
        const float *vr = v + j * stride;
        denom = denom + w;
        for (d = 0; d < dim; ++d)
            out[d] = out[d] + w * vr[d];
    }
    inv = denom > 0.0f ? 1.0f / denom : 0.0f;
    for (d = 0; d < dim; ++d)
        out[d] = out[d] * inv;
}

aether_status aether_attn_dense(const aether_tensor *q, const aether_tensor *k,
                                const aether_tensor *v, int causal, aether_tensor *out)
{
    size_t seq, qh, kvh, dim, group, h, i;
    aether_status st;
    float scale;

    if (!q || !k || !v || !out)
        return AETHER_ERR_NULL_ARG;
    if (q->dim == 0)
        return AETHER_ERR_ZERO_HEAD_DIM;
    if (q->seq != k->seq || k->seq != v->seq || q->dim != k->dim || k->dim != v->dim ||
        k->heads != v->heads)
        return AETHER_ERR_SHAPE_MISMATCH;
    /* Equal head counts are plain MHA (even 0); otherwise a whole ratio. */
    if (q->heads != k->heads && (k->heads == 0 || q->heads % k->heads != 0))
        return AETHER_ERR_GQA_RATIO;
    if (!aether_tensor_same_shape(out, q))
        return AETHER_ERR_SHAPE_MISMATCH;
    if ((st = aether_attn_check_tensor(q)) != AETHER_OK ||
        (st = aether_attn_check_tensor(k)) != AETHER_OK ||
        (st = aether_attn_check_tensor(v)) != AETHER_OK ||
        (st = aether_attn_check_tensor(out)) != AETHER_OK)
        return st;
    if (aether_attn_overlaps(out, q) || aether_attn_overlaps(out, k) ||
        aether_attn_overlaps(out, v))
        return AETHER_ERR_INVALID_ARG;

    seq = q->seq;
    qh = q->heads;
    kvh = k->heads;
    dim = q->dim;
    if (seq == 0 || qh == 0)
        return AETHER_OK;
    {
        /* Optimised path; its only failure (no memory) falls back here. */
        const aether_simd_ops *ops = aether_simd_active();
        if (ops && aether_fast_dense(ops, q, k, v, causal, out) == AETHER_OK)
            return AETHER_OK;
    }
    group = qh / kvh;
    scale = aether_attn_scale(dim);
    for (h = 0; h < qh; ++h) {
        size_t hk = h / group;
        const float *kb = k->data + hk * dim, *vb = v->data + hk * dim;
        for (i = 0; i < seq; ++i)
            dense_row(q->data + (i * qh + h) * dim, kb, vb, kvh * dim, dim,
                      causal ? i : seq - 1, scale, out->data + (i * qh + h) * dim);
    }
    return AETHER_OK;
}
