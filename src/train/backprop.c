/*
 * Forward and backward of one window (docs/MODEL.md sections 2, 7) with a weighted
 * cross-entropy loss. The forward is the model's own arithmetic (same
 * vector-matrix order, the head's attention kernel, same pooling), so the
 * logits equal aether_model_forward's on the serialised weights. The
 * backward recomputes each query's softmax over the candidates the kernel
 * used (in double) and differentiates through it.
 */
#include "core/workspace.h"
#include "train/train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/osm.h"
#include "kernels/sparse_internal.h"

typedef struct ex_ws {
    float *h;             /* (L + 1) x N x I: h_0 (normalised input) .. h_L */
    float *q, *k, *v, *a; /* per layer: N x QW, N x KVW, N x KVW, N x QW */
    void *attn;
    size_t attn_len;
    float *lm_k, *lm_v, *dlm_k, *dlm_v; /* nb x KVW */
    size_t nb;
    float *dh, *da, *dq, *dk, *dv;
    float *tmp, *pooled, *dpooled, *logits;
    size_t *tok, *blk;
    size_t tok_cap, blk_cap;
    double *p; /* softmax weights of one query */
    size_t p_cap;
} ex_ws;

static float *falloc(aether_arena *ar, size_t a, size_t b)
{
    size_t n;
    if (aether_size_mul(a, b, &n) != AETHER_OK) {
        ar->status = AETHER_ERR_OVERFLOW;
        return NULL;
    }
    return (float *)aether_arena_alloc(ar, n ? n : 1, sizeof(float), AETHER_ALIGN);
}

static int is_dense(const aether_train_net *net)
{
    return net->head.backend == AETHER_HEAD_DENSE;
}

static aether_status ws_layout(aether_arena *ar, const aether_train_net *net, size_t n, ex_ws *w)
{
    size_t I = net->header.input_dim, L = net->header.n_layers, C = net->header.n_classes;
    size_t QW = net->layout.q_width, KVW = net->layout.kv_width;
    const aether_attn_config *cfg = &net->head.attn;
    aether_status st;

    memset(w, 0, sizeof *w);
    st = aether_head_forward_workspace_size(&net->head, n, &w->attn_len);
    if (st != AETHER_OK)
        return st;
    w->h = falloc(ar, (L + 1) * n, I);
    w->q = falloc(ar, L * n, QW);
    w->a = falloc(ar, L * n, QW);
    w->k = falloc(ar, L * n, KVW);
    w->v = falloc(ar, L * n, KVW);
    w->attn = aether_arena_alloc(ar, w->attn_len ? w->attn_len : 1, 1, AETHER_ALIGN);
    if (is_dense(net)) {
        w->nb = 0;
        w->tok_cap = n; /* dense candidates: keys 0..last in order */
        w->blk_cap = 1;
        w->p_cap = n;
    } else {
        w->nb = cfg->use_landmarks ? aether_ceil_div(n, cfg->block_size) : 0;
        w->tok_cap = aether_pattern_max_tokens(cfg, n);
        w->blk_cap = aether_pattern_max_blocks(cfg, n);
        w->p_cap = w->tok_cap + w->blk_cap;
    }
    w->lm_k = falloc(ar, w->nb, KVW);
    w->lm_v = falloc(ar, w->nb, KVW);
    w->dlm_k = falloc(ar, w->nb, KVW);
    w->dlm_v = falloc(ar, w->nb, KVW);
    w->dh = falloc(ar, n, I);
    w->da = falloc(ar, n, QW);
    w->dq = falloc(ar, n, QW);
    w->dk = falloc(ar, n, KVW);
    w->dv = falloc(ar, n, KVW);
    w->tmp = falloc(ar, I, 1);
    w->pooled = falloc(ar, I, 1);
    w->dpooled = falloc(ar, I, 1);
    w->logits = falloc(ar, C, 1);
    w->tok = (size_t *)aether_arena_alloc(ar, w->tok_cap ? w->tok_cap : 1, sizeof(size_t),
                                          sizeof(size_t));
    w->blk = (size_t *)aether_arena_alloc(ar, w->blk_cap ? w->blk_cap : 1, sizeof(size_t),
                                          sizeof(size_t));
    w->p = (double *)aether_arena_alloc(ar, w->p_cap ? w->p_cap : 1, sizeof(double),
                                        sizeof(double));
    return ar->status;
}

aether_status aether_train_example_ws_size(const aether_train_net *net, size_t n_frames,
                                           size_t *bytes)
{
    aether_arena ar;
    ex_ws w;
    aether_status st;
    if (!net || !bytes)
        return AETHER_ERR_NULL_ARG;
    if (n_frames == 0)
        return AETHER_ERR_INVALID_ARG;
    aether_arena_measure(&ar);
    st = ws_layout(&ar, net, n_frames, &w);
    if (st == AETHER_OK)
        *bytes = ar.used;
    return st;
}

/* ---------------- forward ---------------- */

static aether_status forward(const aether_train_net *net, const float *frames, size_t n,
                             aether_pool pool, ex_ws *w)
{
    size_t I = net->header.input_dim, L = net->header.n_layers, C = net->header.n_classes;
    size_t QW = net->layout.q_width, KVW = net->layout.kv_width;
    size_t qh = net->header.n_q_heads, kvh = net->header.n_kv_heads, d = net->header.head_dim;
    const float *W = net->w;
    size_t l, t, j;
    aether_status st;

    if (net->header.flags & AETHER_BLOB_FLAG_INPUT_NORM) {
        const float *mean = W + net->layout.norm_mean, *inv = W + net->layout.norm_inv_std;
        for (t = 0; t < n; ++t)
            for (j = 0; j < I; ++j)
                w->h[t * I + j] = (frames[t * I + j] - mean[j]) * inv[j];
    } else {
        memcpy(w->h, frames, n * I * sizeof(float));
    }
    for (l = 0; l < L; ++l) {
        const float *wl = W + l * net->layout.layer_elems;
        const float *hin = w->h + l * n * I;
        float *hout = w->h + (l + 1) * n * I;
        float *ql = w->q + l * n * QW, *kl = w->k + l * n * KVW, *vl = w->v + l * n * KVW;
        float *al = w->a + l * n * QW;
        aether_tensor tq, tk, tv, ta;
        for (t = 0; t < n; ++t) {
            aether_train_matvec_(hin + t * I, I, wl + net->layout.wq, QW, ql + t * QW);
            aether_train_matvec_(hin + t * I, I, wl + net->layout.wk, KVW, kl + t * KVW);
            aether_train_matvec_(hin + t * I, I, wl + net->layout.wv, KVW, vl + t * KVW);
        }
        if ((st = aether_tensor_view(&tq, ql, n * QW, n, qh, d)) != AETHER_OK ||
            (st = aether_tensor_view(&tk, kl, n * KVW, n, kvh, d)) != AETHER_OK ||
            (st = aether_tensor_view(&tv, vl, n * KVW, n, kvh, d)) != AETHER_OK ||
            (st = aether_tensor_view(&ta, al, n * QW, n, qh, d)) != AETHER_OK)
            return st;
        st = aether_head_forward(&net->head, &tq, &tk, &tv, &ta, w->attn, w->attn_len);
        if (st != AETHER_OK)
            return st;
        for (t = 0; t < n; ++t) {
            aether_train_matvec_(al + t * QW, QW, wl + net->layout.wo, I, w->tmp);
            for (j = 0; j < I; ++j)
                hout[t * I + j] = hin[t * I + j] + w->tmp[j];
        }
    }
    {
        const float *hl = w->h + L * n * I;
        if (pool == AETHER_POOL_LAST) {
            for (j = 0; j < I; ++j)
                w->pooled[j] = hl[(n - 1) * I + j];
        } else {
            const float scale = 1.0f / (float)n;
            for (j = 0; j < I; ++j)
                w->pooled[j] = 0.0f;
            for (t = 0; t < n; ++t)
                for (j = 0; j < I; ++j)
                    w->pooled[j] = w->pooled[j] + hl[t * I + j];
            for (j = 0; j < I; ++j)
                w->pooled[j] = w->pooled[j] * scale;
        }
    }
    aether_train_matvec_(w->pooled, I, W + net->layout.classifier, C, w->logits);
    for (j = 0; j < C; ++j)
        if (!aether_isfinite(w->logits[j]))
            return AETHER_ERR_NONFINITE;
    return AETHER_OK;
}

/* ---------------- backward helpers ---------------- */

/* gW[i][j] += x[i] * dy[j]; dx[i] += sum_j W[i][j] dy[j] (dx may be NULL). */
static void matvec_back(const float *x, size_t rows, const float *W, size_t cols, const float *dy,
                        float *gW, float *dx)
{
    size_t i, j;
    for (i = 0; i < rows; ++i) {
        const float *wr = W + i * cols;
        float *gr = gW + i * cols;
        const float xi = x[i];
        double s = 0.0;
        for (j = 0; j < cols; ++j) {
            gr[j] += xi * dy[j];
            s += (double)wr[j] * (double)dy[j];
        }
        if (dx)
            dx[i] += (float)s;
    }
}

static double dot_d(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    size_t i;
    for (i = 0; i < n; ++i)
        s += (double)a[i] * (double)b[i];
    return s;
}

/* Row c of the candidate set: token (c < n_tok) or landmark block. */
typedef struct cand_rows {
    const float *k, *v;   /* token rows base (head offset applied) */
    const float *lk, *lv; /* landmark rows base */
    float *dk, *dv, *dlk, *dlv;
    size_t stride;
} cand_rows;

/* Backward of one (query, head) softmax over its candidates: scores
 * s_c = scale * q.k_c, out = sum p_c v_c. Accumulates dq, dk_c, dv_c. */
static void attn_query_back(const float *q, const float *dout, size_t d, float scale,
                            const cand_rows *r, const size_t *tok, size_t n_tok,
                            const size_t *blk, size_t n_blk, double *p, float *dq)
{
    size_t c, e, n_c = n_tok + n_blk;
    double m = -INFINITY, z = 0.0, dd = 0.0;
    if (n_c == 0)
        return;
    for (c = 0; c < n_c; ++c) {
        const float *kc = c < n_tok ? r->k + tok[c] * r->stride
                                    : r->lk + blk[c - n_tok] * r->stride;
        p[c] = (double)scale * dot_d(q, kc, d);
        if (p[c] > m)
            m = p[c];
    }
    for (c = 0; c < n_c; ++c) {
        p[c] = exp(p[c] - m);
        z += p[c];
    }
    for (c = 0; c < n_c; ++c) {
        const float *vc = c < n_tok ? r->v + tok[c] * r->stride
                                    : r->lv + blk[c - n_tok] * r->stride;
        p[c] /= z;
        dd += p[c] * dot_d(dout, vc, d);
    }
    for (c = 0; c < n_c; ++c) {
        size_t off = c < n_tok ? tok[c] * r->stride : blk[c - n_tok] * r->stride;
        const float *kc = (c < n_tok ? r->k : r->lk) + off;
        const float *vc = (c < n_tok ? r->v : r->lv) + off;
        float *gk = (c < n_tok ? r->dk : r->dlk) + off;
        float *gv = (c < n_tok ? r->dv : r->dlv) + off;
        double ds = p[c] * (dot_d(dout, vc, d) - dd) * (double)scale;
        float pc = (float)p[c], dsf = (float)ds;
        for (e = 0; e < d; ++e) {
            dq[e] += dsf * kc[e];
            gk[e] += dsf * q[e];
            gv[e] += pc * dout[e];
        }
    }
}

/* Attention backward of one layer: dA -> dQ, dK, dV (zeroed here). */
static aether_status attn_back(const aether_train_net *net, size_t n, size_t l, ex_ws *w)
{
    size_t qh = net->header.n_q_heads, kvh = net->header.n_kv_heads, d = net->header.head_dim;
    size_t QW = net->layout.q_width, KVW = net->layout.kv_width, group = qh / kvh;
    const float *ql = w->q + l * n * QW, *kl = w->k + l * n * KVW, *vl = w->v + l * n * KVW;
    const aether_attn_config *cfg = &net->head.attn;
    float scale = aether_attn_scale(d);
    size_t i, h, b, t, e;
    aether_status st;

    memset(w->dq, 0, n * QW * sizeof(float));
    memset(w->dk, 0, n * KVW * sizeof(float));
    memset(w->dv, 0, n * KVW * sizeof(float));
    if (is_dense(net))
        for (i = 0; i < n; ++i)
            w->tok[i] = i;
    if (w->nb > 0) {
        aether_landmarks_prefill_(kl, n, kvh, d, cfg->block_size, w->lm_k);
        aether_landmarks_prefill_(vl, n, kvh, d, cfg->block_size, w->lm_v);
        memset(w->dlm_k, 0, w->nb * KVW * sizeof(float));
        memset(w->dlm_v, 0, w->nb * KVW * sizeof(float));
    }
    for (i = 0; i < n; ++i) {
        size_t n_tok = 0, n_blk = 0;
        if (is_dense(net)) {
            n_tok = net->head.cfg.causal ? i + 1 : n;
        } else {
            st = aether_sparse_candidates_(cfg, i, n, w->tok, w->tok_cap, &n_tok, w->blk,
                                           w->blk_cap, &n_blk);
            if (st != AETHER_OK)
                return st;
        }
        for (h = 0; h < qh; ++h) {
            size_t hk = h / group;
            cand_rows r;
            r.k = kl + hk * d;
            r.v = vl + hk * d;
            r.lk = w->lm_k + hk * d;
            r.lv = w->lm_v + hk * d;
            r.dk = w->dk + hk * d;
            r.dv = w->dv + hk * d;
            r.dlk = w->dlm_k + hk * d;
            r.dlv = w->dlm_v + hk * d;
            r.stride = KVW;
            attn_query_back(ql + (i * qh + h) * d, w->da + (i * qh + h) * d, d, scale, &r, w->tok,
                            n_tok, w->blk, n_blk, w->p, w->dq + (i * qh + h) * d);
        }
    }
    /* a landmark is its block's mean: spread its gradient equally */
    for (b = 0; b < w->nb; ++b) {
        size_t start = b * cfg->block_size;
        size_t end = start + cfg->block_size < n ? start + cfg->block_size : n;
        float inv = 1.0f / (float)(end - start);
        for (t = start; t < end; ++t)
            for (e = 0; e < KVW; ++e) {
                w->dk[t * KVW + e] += w->dlm_k[b * KVW + e] * inv;
                w->dv[t * KVW + e] += w->dlm_v[b * KVW + e] * inv;
            }
    }
    return AETHER_OK;
}

aether_status aether_train_example(const aether_train_net *net, const float *frames,
                                   size_t n_frames, aether_pool pool, size_t label, float weight,
                                   float *grad, float *logits, double *loss, void *ws,
                                   size_t ws_len)
{
    size_t I, L, C, QW, KVW, n = n_frames, need, total, t, j, l;
    aether_arena ar;
    ex_ws w;
    aether_status st;
    double m, z, lse;

    if (!net || !frames)
        return AETHER_ERR_NULL_ARG;
    I = net->header.input_dim;
    L = net->header.n_layers;
    C = net->header.n_classes;
    QW = net->layout.q_width;
    KVW = net->layout.kv_width;
    /* The backward pass holds the class gradient on the stack: more classes
     * are refused here, before logits or loss are written. */
    if (n == 0 || label >= C || (pool != AETHER_POOL_LAST && pool != AETHER_POOL_MEAN) ||
        !aether_isfinite(weight) || weight < 0.0f || (grad && C > AETHER_TRAIN_MAX_CLASSES))
        return AETHER_ERR_INVALID_ARG;
    if (aether_size_mul(n, I, &total) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    for (t = 0; t < total; ++t)
        if (!aether_isfinite(frames[t]))
            return AETHER_ERR_NONFINITE;
    st = aether_train_example_ws_size(net, n, &need);
    if (st != AETHER_OK)
        return st;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    aether_arena_init(&ar, ws, ws_len);
    st = ws_layout(&ar, net, n, &w);
    if (st != AETHER_OK)
        goto done;
    st = forward(net, frames, n, pool, &w);
    if (st != AETHER_OK)
        goto done;

    /* stable log-sum-exp in double */
    m = w.logits[0];
    for (j = 1; j < C; ++j)
        if (w.logits[j] > m)
            m = w.logits[j];
    z = 0.0;
    for (j = 0; j < C; ++j)
        z += exp((double)w.logits[j] - m);
    lse = m + log(z);
    if (loss)
        *loss = (double)weight * (lse - (double)w.logits[label]);
    if (logits)
        memcpy(logits, w.logits, C * sizeof(float));
    if (!grad)
        goto done;

    {
        const float *W = net->w;
        float dl[AETHER_TRAIN_MAX_CLASSES];
        for (j = 0; j < C; ++j)
            dl[j] = (float)((double)weight * (exp((double)w.logits[j] - lse) - (j == label)));
        for (j = 0; j < I; ++j)
            w.dpooled[j] = 0.0f;
        matvec_back(w.pooled, I, W + net->layout.classifier, C, dl, grad + net->layout.classifier,
                    w.dpooled);
        memset(w.dh, 0, n * I * sizeof(float));
        if (pool == AETHER_POOL_LAST) {
            for (j = 0; j < I; ++j)
                w.dh[(n - 1) * I + j] = w.dpooled[j];
        } else {
            const float scale = 1.0f / (float)n;
            for (t = 0; t < n; ++t)
                for (j = 0; j < I; ++j)
                    w.dh[t * I + j] = w.dpooled[j] * scale;
        }
        for (l = L; l-- > 0;) {
            const float *wl = W + l * net->layout.layer_elems;
            float *gl = grad + l * net->layout.layer_elems;
            const float *hin = w.h + l * n * I;
            const float *al = w.a + l * n * QW;
            /* h_out = h_in + A.Wo: dh flows through unchanged (residual) */
            memset(w.da, 0, n * QW * sizeof(float));
            for (t = 0; t < n; ++t)
                matvec_back(al + t * QW, QW, wl + net->layout.wo, I, w.dh + t * I,
                            gl + net->layout.wo, w.da + t * QW);
            st = attn_back(net, n, l, &w);
            if (st != AETHER_OK)
                goto done;
            for (t = 0; t < n; ++t) {
                matvec_back(hin + t * I, I, wl + net->layout.wq, QW, w.dq + t * QW,
                            gl + net->layout.wq, w.dh + t * I);
                matvec_back(hin + t * I, I, wl + net->layout.wk, KVW, w.dk + t * KVW,
                            gl + net->layout.wk, w.dh + t * I);
                matvec_back(hin + t * I, I, wl + net->layout.wv, KVW, w.dv + t * KVW,
                            gl + net->layout.wv, w.dh + t * I);
            }
        }
    }
done:
    return st;
}
