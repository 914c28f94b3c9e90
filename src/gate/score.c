/*
 * FastGRNN recurrence and saliences (docs/KERNELS.md sections 11.3-11.4),
 * in the reference's exact accumulation order.
 */
#include "core/workspace.h"
#include "gate/gate_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static float l2norm(const float *h, size_t n)
{
    float norm2 = 0.0f;
    size_t r;
    for (r = 0; r < n; ++r)
        norm2 += h[r] * h[r];
    return sqrtf(norm2);
}

aether_status aether_fastgrnn_salience(const aether_fastgrnn *g, const float *h, size_t h_len,
                                       float *salience)
{
    aether_status st = aether_fastgrnn_check_(g);
    if (st != AETHER_OK)
        return st;
    if (!h || !salience)
        return AETHER_ERR_NULL_ARG;
    if (h_len != g->hid)
        return AETHER_ERR_SHAPE_MISMATCH;
    *salience = l2norm(h, h_len);
    return AETHER_OK;
}

float aether_fastgrnn_step_raw_(const aether_fastgrnn *g, const float *x, const float *h,
                                float *h_out)
{
    size_t in = g->in, hid = g->hid, r, c;
    for (r = 0; r < hid; ++r) {
        const float *wg = g->w_g + r * in, *wu = g->w_u + r * in;
        const float *ug = g->u_g + r * hid, *uu = g->u_u + r * hid;
        float ag = 0.0f, au = 0.0f, gate, cand, gf;
        /* One running sum per unit: the W x terms, then the U h terms. */
        for (c = 0; c < in; ++c) {
            ag += wg[c] * x[c];
            au += wu[c] * x[c];
        }
        for (c = 0; c < hid; ++c) {
            ag += ug[c] * h[c];
            au += uu[c] * h[c];
        }
        gate = 1.0f / (1.0f + expf(-(ag + g->b_g[r])));
        cand = tanhf(au + g->b_u[r]);
        gf = g->zeta * gate + g->nu;
        /* clamp to [0, 1]; NaN passes through as in the reference */
        if (gf < 0.0f)
            gf = 0.0f;
        else if (gf > 1.0f)
            gf = 1.0f;
        h_out[r] = gf * h[r] + (1.0f - gf) * cand;
    }
    return l2norm(h_out, hid);
}

static int overlaps(const float *a, size_t na, const float *b, size_t nb)
{
    uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
    uintptr_t a1 = a0 + na * sizeof(float), b1 = b0 + nb * sizeof(float);
    return a0 < b1 && b0 < a1;
}

aether_status aether_fastgrnn_step(const aether_fastgrnn *g, const float *x, size_t x_len,
                                   const float *h, float *h_out, float *salience)
{
    aether_status st = aether_fastgrnn_check_(g);
    float s;
    if (st != AETHER_OK)
        return st;
    if (!x || !h || !h_out)
        return AETHER_ERR_NULL_ARG;
    if (x_len != g->in)
        return AETHER_ERR_SHAPE_MISMATCH;
    if (overlaps(h, g->hid, h_out, g->hid))
        return AETHER_ERR_INVALID_ARG;
    s = aether_fastgrnn_step_raw_(g, x, h, h_out);
    if (salience)
        *salience = s;
    return AETHER_OK;
}

void aether_fastgrnn_pool_(const float *rows, size_t heads, size_t dim, float *out)
{
    float inv = 1.0f / (float)heads;
    size_t d, h;
    for (d = 0; d < dim; ++d) {
        float p = 0.0f;
        for (h = 0; h < heads; ++h)
            p += rows[h * dim + d] * inv;
        out[d] = p;
    }
}

/* Scratch: two hidden states and one pooled input row. */
static aether_status ws_layout(aether_arena *a, const aether_fastgrnn *g, float **h0, float **h1,
                               float **px)
{
    *h0 = (float *)aether_arena_alloc(a, g->hid, sizeof(float), AETHER_ALIGN);
    *h1 = (float *)aether_arena_alloc(a, g->hid, sizeof(float), AETHER_ALIGN);
    *px = (float *)aether_arena_alloc(a, g->in, sizeof(float), AETHER_ALIGN);
    return a->status;
}

aether_status aether_fastgrnn_workspace_size(const aether_fastgrnn *g, size_t *bytes)
{
    aether_arena a;
    float *h0, *h1, *px;
    aether_status st = aether_fastgrnn_check_(g);
    if (st != AETHER_OK)
        return st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    aether_arena_measure(&a);
    if ((st = ws_layout(&a, g, &h0, &h1, &px)) != AETHER_OK)
        return st;
    *bytes = a.used;
    return AETHER_OK;
}

/* Runs the recurrence over n inputs: rows of `in` floats, or (pooled) groups
 * of `heads` rows averaged first. */
static aether_status run_scores(const aether_fastgrnn *g, const float *x, size_t n, size_t heads,
                                int pooled, float *salience, void *ws, size_t ws_len)
{
    aether_arena a;
    float *h0, *h1, *px, *t;
    size_t need, i;
    aether_status st;

    if (n == 0)
        return AETHER_OK;
    if ((st = aether_fastgrnn_workspace_size(g, &need)) != AETHER_OK)
        return st;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    aether_arena_init(&a, ws, ws_len);
    if ((st = ws_layout(&a, g, &h0, &h1, &px)) != AETHER_OK)
        return st;
    /* arena blocks are zero-filled: h0 is the initial state */
    for (i = 0; i < n; ++i) {
        const float *xi;
        if (pooled) {
            /* heads 0: px stays zero, the reference's empty sum */
            if (heads > 0)
                aether_fastgrnn_pool_(x + i * heads * g->in, heads, g->in, px);
            xi = px;
        } else {
            xi = x + i * g->in;
        }
        salience[i] = aether_fastgrnn_step_raw_(g, xi, h0, h1);
        t = h0;
        h0 = h1;
        h1 = t;
    }
    return AETHER_OK;
}

aether_status aether_fastgrnn_score_sequence(const aether_fastgrnn *g, const float *x,
                                             size_t x_len, size_t n, float *salience,
                                             size_t n_salience, void *ws, size_t ws_len)
{
    size_t want;
    aether_status st = aether_fastgrnn_check_(g);
    if (st != AETHER_OK)
        return st;
    if (aether_size_mul(n, g->in, &want) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    if (x_len != want || n_salience != n)
        return AETHER_ERR_SHAPE_MISMATCH;
    if (n > 0 && (!x || !salience))
        return AETHER_ERR_NULL_ARG;
    return run_scores(g, x, n, 0, 0, salience, ws, ws_len);
}

aether_status aether_fastgrnn_score_kv(const aether_fastgrnn *g, const aether_tensor *k,
                                       float *salience, size_t n_salience, void *ws,
                                       size_t ws_len)
{
    size_t numel;
    aether_status st = aether_fastgrnn_check_(g);
    if (st != AETHER_OK)
        return st;
    if (!k)
        return AETHER_ERR_NULL_ARG;
    if (aether_tensor_numel(k->seq, k->heads, k->dim, &numel) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    if (k->dim != g->in || n_salience != k->seq)
        return AETHER_ERR_SHAPE_MISMATCH;
    if ((numel > 0 && !k->data) || (k->seq > 0 && !salience))
        return AETHER_ERR_NULL_ARG;
    return run_scores(g, k->data, k->seq, k->heads, 1, salience, ws, ws_len);
}
