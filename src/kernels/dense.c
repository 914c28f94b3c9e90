/*
 * Exact dense attention (docs/KERNELS.md section 4.3): two-pass softmax,
 * max first, then weights summed in ascending key order. MHA or GQA shapes
 * (query head h reads kv head h / group, docs/KERNELS.md section 8.1). Scalar code only: the
 * public entry point is in src/dispatch.
 */
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

void aether_dense_ref_(const aether_tensor *q, const aether_tensor *k, const aether_tensor *v,
                       int causal, aether_tensor *out)
{
    size_t seq = q->seq, qh = q->heads, kvh = k->heads, dim = q->dim, group, h, i;
    float scale = aether_attn_scale(dim);
    if (seq == 0 || qh == 0)
        return;
    group = qh / kvh;
    for (h = 0; h < qh; ++h) {
        size_t hk = h / group;
        const float *kb = k->data + hk * dim, *vb = v->data + hk * dim;
        for (i = 0; i < seq; ++i)
            dense_row(q->data + (i * qh + h) * dim, kb, vb, kvh * dim, dim, causal ? i : seq - 1,
                      scale, out->data + (i * qh + h) * dim);
    }
}
