/* Window forward over N frames (docs/MODEL.md section 2). */
#include "core/workspace.h"
#include "model/model_internal.h"


typedef struct fwd_ws {
    float *h, *q, *k, *v, *a, *tmp, *pooled;
    void *attn;
    size_t attn_len;
} fwd_ws;

static aether_status ws_layout(aether_arena *ar, const aether_model *m, size_t n, fwd_ws *w)
{
    size_t in = m->header.input_dim, qw = m->layout.q_width, kvw = m->layout.kv_width, nn;
    aether_status st = aether_head_forward_workspace_size(&m->head, n, &w->attn_len);
    if (st != AETHER_OK)
        return st;
    if (aether_size_mul(n, in, &nn) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    w->h = (float *)aether_arena_alloc(ar, nn, sizeof(float), AETHER_ALIGN);
    if (aether_size_mul(n, qw, &nn) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    w->q = (float *)aether_arena_alloc(ar, nn, sizeof(float), AETHER_ALIGN);
    w->a = (float *)aether_arena_alloc(ar, nn, sizeof(float), AETHER_ALIGN);
    if (aether_size_mul(n, kvw, &nn) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    w->k = (float *)aether_arena_alloc(ar, nn, sizeof(float), AETHER_ALIGN);
    w->v = (float *)aether_arena_alloc(ar, nn, sizeof(float), AETHER_ALIGN);
    w->tmp = (float *)aether_arena_alloc(ar, in, sizeof(float), AETHER_ALIGN);
    w->pooled = (float *)aether_arena_alloc(ar, in, sizeof(float), AETHER_ALIGN);
    w->attn = aether_arena_alloc(ar, w->attn_len ? w->attn_len : 1, 1, AETHER_ALIGN);
    return ar->status;
}

aether_status aether_model_forward_workspace_size(const aether_model *model, size_t n_frames,
                                                  size_t *bytes)
{
    aether_arena ar;
    fwd_ws w;
    aether_status st = aether_model_check_(model);
    if (st != AETHER_OK)
        return st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    aether_arena_measure(&ar);
    st = ws_layout(&ar, model, n_frames, &w);
    if (st == AETHER_OK)
        *bytes = ar.used;
    return st;
}

static aether_status run_layers(const aether_model *m, size_t n, const fwd_ws *w)
{
    size_t in = m->header.input_dim, qw = m->layout.q_width, kvw = m->layout.kv_width;
    size_t qh = m->header.n_q_heads, kvh = m->header.n_kv_heads, d = m->header.head_dim;
    size_t l, t;
    aether_tensor q, k, v, a;
    aether_status st;

    if ((st = aether_tensor_view(&q, w->q, n * qw, n, qh, d)) != AETHER_OK ||
        (st = aether_tensor_view(&k, w->k, n * kvw, n, kvh, d)) != AETHER_OK ||
        (st = aether_tensor_view(&v, w->v, n * kvw, n, kvh, d)) != AETHER_OK ||
        (st = aether_tensor_view(&a, w->a, n * qw, n, qh, d)) != AETHER_OK)
        return st;
    for (l = 0; l < m->header.n_layers; ++l) {
        for (t = 0; t < n; ++t) {
            const float *ht = w->h + t * in;
            aether_model_matvec_(ht, in, aether_model_wq_(m, l), qw, w->q + t * qw);
            aether_model_matvec_(ht, in, aether_model_wk_(m, l), kvw, w->k + t * kvw);
            aether_model_matvec_(ht, in, aether_model_wv_(m, l), kvw, w->v + t * kvw);
        }
        st = aether_head_forward(&m->head, &q, &k, &v, &a, w->attn, w->attn_len);
        if (st != AETHER_OK)
            return st;
        for (t = 0; t < n; ++t)
            aether_model_residual_(m, l, w->a + t * qw, w->tmp, w->h + t * in);
    }
    return AETHER_OK;
}

aether_status aether_model_forward(const aether_model *model, const float *frames,
                                   size_t n_frames, aether_pool pool, float *logits,
                                   float *pooled, void *ws, size_t ws_len)
{
    aether_arena ar;
    fwd_ws w;
    size_t in, need, t, j, total;
    aether_status st = aether_model_check_(model);

    if (st != AETHER_OK)
        return st;
    if (!frames || !logits)
        return AETHER_ERR_NULL_ARG;
    if (n_frames == 0 || (pool != AETHER_POOL_LAST && pool != AETHER_POOL_MEAN))
        return AETHER_ERR_INVALID_ARG;
    in = model->header.input_dim;
    if (aether_size_mul(n_frames, in, &total) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    for (t = 0; t < total; ++t)
        if (!aether_isfinite(frames[t]))
            return AETHER_ERR_NONFINITE;
    st = aether_model_forward_workspace_size(model, n_frames, &need);
    if (st != AETHER_OK)
        return st;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    aether_arena_init(&ar, ws, ws_len);
    st = ws_layout(&ar, model, n_frames, &w);
    if (st != AETHER_OK)
        goto done;

    for (t = 0; t < n_frames; ++t)
        aether_model_prepare_frame_(model, frames + t * in, w.h + t * in);
    st = run_layers(model, n_frames, &w);
    if (st != AETHER_OK)
        goto done;
    if (pool == AETHER_POOL_LAST) {
        for (j = 0; j < in; ++j)
            w.pooled[j] = w.h[(n_frames - 1) * in + j];
    } else {
        const float scale = 1.0f / (float)n_frames;
        for (j = 0; j < in; ++j)
            w.pooled[j] = 0.0f;
        for (t = 0; t < n_frames; ++t)
            for (j = 0; j < in; ++j)
                w.pooled[j] = w.pooled[j] + w.h[t * in + j];
        for (j = 0; j < in; ++j)
            w.pooled[j] = w.pooled[j] * scale;
    }
    aether_model_matvec_(w.pooled, in, aether_model_wc_(model), model->header.n_classes, logits);
    if (pooled)
        for (j = 0; j < in; ++j)
            pooled[j] = w.pooled[j];
done:
    return st;
}
