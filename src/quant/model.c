/* The integer model: init from a parsed RVNQ blob, the per-frame steps
 * shared by the window forward and the session, and the window forward
 * (docs/MODEL.md section 10). */
#include <string.h>

#include "core/workspace.h"
#include "quant/quant_internal.h"

aether_status aq_check_model_(const aether_qmodel *m)
{
    if (!m)
        return AETHER_ERR_NULL_ARG;
    return m->magic == AQ_MODEL_MAGIC ? AETHER_OK : AETHER_ERR_NOT_INITIALIZED;
}

/* floor(sqrt(x)) */
static uint64_t isqrt64(uint64_t x)
{
    uint64_t r = 0, bit = (uint64_t)1 << 62;
    while (bit > x)
        bit >>= 2;
    while (bit) {
        if (x >= r + bit) {
            x -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

static aether_status resolve_head(const aether_qblob_view *v, const aether_head_config *cfg,
                                  aether_head *head)
{
    aether_head_config c;
    aether_status st;
    if (cfg) {
        c = *cfg;
    } else {
        c = aether_head_config_default_aether();
        c.q_heads = v->header.n_q_heads;
        c.kv_heads = v->header.n_kv_heads;
        c.head_dim = v->header.head_dim;
    }
    if ((st = aether_head_config_validate(&c, NULL)) != AETHER_OK)
        return st;
    if (c.q_heads != v->header.n_q_heads || c.kv_heads != v->header.n_kv_heads ||
        c.head_dim != v->header.head_dim)
        return AETHER_ERR_BLOB_SHAPE;
    if (!c.causal)
        return AETHER_ERR_UNSUPPORTED;
    if (c.block_size > AQ_MAX_BLOCK)
        return AETHER_ERR_INVALID_CONFIG;
    return aether_head_init(head, &c);
}

/* The model's place in caller memory of any alignment: one aligned block
 * (measuring counts the worst-case padding). */
static aether_qmodel *model_block(aether_arena *ar)
{
    return (aether_qmodel *)aether_arena_alloc(ar, 1, sizeof(aether_qmodel), AETHER_ALIGN);
}

aether_status aether_qmodel_size(const aether_qblob_view *v, const aether_head_config *cfg,
                                 size_t *bytes)
{
    aether_head head;
    aether_arena ar;
    aether_status st;
    if (!v || !bytes || !v->payload)
        return AETHER_ERR_NULL_ARG;
    if ((st = resolve_head(v, cfg, &head)) != AETHER_OK)
        return st;
    aether_arena_measure(&ar);
    (void)model_block(&ar);
    if (ar.status != AETHER_OK)
        return ar.status;
    *bytes = ar.used;
    return AETHER_OK;
}

/* The model for (v, cfg) in *mp (validated as aether_qmodel_size). */
static aether_status fill_model(const aether_qblob_view *v, const aether_head_config *cfg,
                                aether_qmodel *mp)
{
    aether_qmodel m;
    aether_status st;
    size_t need, w;
    uint64_t r;
    if ((st = aether_qmodel_size(v, cfg, &need)) != AETHER_OK)
        return st;
    memset(&m, 0, sizeof m);
    if ((st = resolve_head(v, cfg, &m.head)) != AETHER_OK ||
        (st = aether_qblob_layout_of(&v->header, &m.layout)) != AETHER_OK)
        return st;
    m.header = v->header;
    m.payload = v->payload;
    /* log2(e) / sqrt(d) in Q30: sqrt(d) * 2^20 = isqrt(d * 2^40). */
    r = isqrt64((uint64_t)v->header.head_dim << 40);
    m.score_mul = (uint32_t)((((uint64_t)AQ_LOG2E_Q30 << 20) + r / 2u) / r);
    w = v->header.input_dim;
    if (m.layout.q_width > w)
        w = m.layout.q_width;
    if (m.layout.kv_width > w)
        w = m.layout.kv_width;
    if (v->header.n_classes > w)
        w = v->header.n_classes;
    m.max_width = w;
    m.magic = AQ_MODEL_MAGIC;
    *mp = m;
    return AETHER_OK;
}

aether_status aether_qmodel_init(void *buf, size_t len, const aether_qblob_view *v,
                                 const aether_head_config *cfg, aether_qmodel **out)
{
    aether_qmodel m, *p;
    aether_arena ar;
    aether_status st;
    size_t need;
    if (!buf || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = fill_model(v, cfg, &m)) != AETHER_OK ||
        (st = aether_qmodel_size(v, cfg, &need)) != AETHER_OK)
        return st;
    if (len < need)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    aether_arena_init(&ar, buf, len);
    if (!(p = model_block(&ar)))
        return ar.status;
    *p = m;
    *out = p;
    return AETHER_OK;
}

aether_status aether_qmodel_forward_workspace_size_for(const aether_qblob_view *v,
                                                       const aether_head_config *cfg,
                                                       size_t n_frames, size_t *bytes)
{
    aether_qmodel m;
    aether_status st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    if ((st = fill_model(v, cfg, &m)) != AETHER_OK)
        return st;
    return aether_qmodel_forward_workspace_size(&m, n_frames, bytes);
}

aether_status aether_qsession_size_for(const aether_qblob_view *v, const aether_head_config *cfg,
                                       size_t capacity, aether_kv_evict evict, size_t *bytes)
{
    aether_qmodel m;
    aether_status st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    if ((st = fill_model(v, cfg, &m)) != AETHER_OK)
        return st;
    return aether_qsession_size(&m, capacity, evict, bytes);
}

const aether_blob_header *aether_qmodel_header(const aether_qmodel *m)
{
    return aq_check_model_(m) == AETHER_OK ? &m->header : NULL;
}

const aether_head *aether_qmodel_head(const aether_qmodel *m)
{
    return aq_check_model_(m) == AETHER_OK ? &m->head : NULL;
}

void aq_mat_of_(const aether_qmodel *m, size_t offset, size_t rows, size_t cols, aq_mat *out)
{
    out->s = m->payload + offset;
    out->w = (const int8_t *)(const void *)(m->payload + offset + cols * AETHER_QBLOB_SCALE_BYTES);
    out->rows = rows;
    out->cols = cols;
}

void aq_prepare_frame_(const aether_qmodel *m, const int32_t *x, int32_t *h)
{
    size_t i, n = m->header.input_dim;
    if (m->header.flags & AETHER_BLOB_FLAG_INPUT_NORM) {
        const unsigned char *mean = m->payload + m->layout.norm_mean;
        const unsigned char *inv = m->payload + m->layout.norm_inv_std;
        for (i = 0; i < n; ++i) {
            int32_t mu = (int32_t)aether_load_le32(mean + 4 * i);
            const unsigned char *sc = inv + 4 * i;
            h[i] = aq_mulsh(aq_add(x[i], -mu), aq_scale_m(sc), (int)sc[2]);
        }
    } else {
        for (i = 0; i < n; ++i)
            h[i] = x[i];
    }
}

void aq_project_q_(const aether_qmodel *m, size_t l, const int32_t *h, int16_t *q, uint8_t *qe,
                   int16_t *x16, int32_t *y)
{
    size_t hd, i, I = m->header.input_dim, d = m->header.head_dim;
    size_t g = m->header.n_q_heads / m->header.n_kv_heads;
    aq_mat w;
    unsigned s = aq_to_i16_(h, I, x16);
    aq_mat_of_(m, l * m->layout.layer_bytes + m->layout.wq, I, m->layout.q_width, &w);
    aq_matvec16_(&w, x16, s, y);
    /* head h = kv * g + hh goes to q[(kv * d + i) * g + hh] */
    for (hd = 0; hd < m->header.n_q_heads; ++hd) {
        const unsigned e = aq_exponent_(y + hd * d, d, 32767u);
        int16_t *qh = q + (hd / g) * d * g + hd % g;
        qe[hd] = (uint8_t)e;
        for (i = 0; i < d; ++i)
            qh[i * g] = (int16_t)aq_rshift(y[hd * d + i], e);
    }
}

void aq_project_kv_(const aether_qmodel *m, size_t l, const int32_t *h, int8_t *k, uint8_t *ke,
                    int8_t *v, uint8_t *ve, int16_t *x16, int32_t *y)
{
    size_t hh, I = m->header.input_dim, d = m->header.head_dim, base = l * m->layout.layer_bytes;
    aq_mat w;
    unsigned s = aq_to_i16_(h, I, x16);
    aq_mat_of_(m, base + m->layout.wk, I, m->layout.kv_width, &w);
    aq_matvec16_(&w, x16, s, y);
    for (hh = 0; hh < m->header.n_kv_heads; ++hh)
        ke[hh] = (uint8_t)aq_to_i8_(y + hh * d, d, k + hh * d);
    aq_mat_of_(m, base + m->layout.wv, I, m->layout.kv_width, &w);
    aq_matvec16_(&w, x16, s, y);
    for (hh = 0; hh < m->header.n_kv_heads; ++hh)
        ve[hh] = (uint8_t)aq_to_i8_(y + hh * d, d, v + hh * d);
}

void aq_residual_(const aether_qmodel *m, size_t l, const int32_t *a, int32_t *h, int16_t *x16,
                  int32_t *y)
{
    size_t j, I = m->header.input_dim;
    aq_mat w;
    unsigned s = aq_to_i16_(a, m->layout.q_width, x16);
    aq_mat_of_(m, l * m->layout.layer_bytes + m->layout.wo, m->layout.q_width, I, &w);
    aq_matvec16_(&w, x16, s, y);
    for (j = 0; j < I; ++j)
        h[j] = aq_add(h[j], y[j]);
}

aether_status aq_scratch_alloc_(aether_arena *ar, const aether_qmodel *m, size_t ncand,
                               aq_scratch *sc)
{
    size_t g = m->header.n_q_heads / m->header.n_kv_heads, nz;
    if (aether_size_mul(ncand + 1, g, &nz) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    sc->z = (int32_t *)aether_arena_alloc(ar, nz, sizeof(int32_t), AETHER_ALIGN);
    sc->vp = (const int8_t **)aether_arena_alloc(ar, ncand + 1, sizeof(int8_t *), AETHER_ALIGN);
    sc->zmax = (int32_t *)aether_arena_alloc(ar, g, sizeof(int32_t), AETHER_ALIGN);
    sc->denom = (uint32_t *)aether_arena_alloc(ar, g, sizeof(uint32_t), AETHER_ALIGN);
    sc->r = (uint32_t *)aether_arena_alloc(ar, g, sizeof(uint32_t), AETHER_ALIGN);
    return AETHER_OK;
}

/* ---------- window forward ---------- */

typedef struct qfwd_ws {
    int32_t *h, *y, *a, *pooled, *lsum;
    uint8_t *lse;
    aq_scratch sc;
    int16_t *x16, *q;
    uint8_t *qe, *ke, *ve, *lke, *lve;
    int8_t *k, *v, *lk, *lv;
    size_t *tok, *blk;
    aq_cand *cand;
    size_t tok_cap, blk_cap, nb;
} qfwd_ws;

static aether_status ws_layout(aether_arena *ar, const aether_qmodel *m, size_t n, qfwd_ws *w)
{
    size_t I = m->header.input_dim, kvh = m->header.n_kv_heads, d = m->header.head_dim;
    size_t B = m->head.cfg.block_size, rows, nn, ncand;
    const int dense = m->head.backend == AETHER_HEAD_DENSE;
    w->tok_cap = dense ? n : aether_pattern_max_tokens(&m->head.attn, n);
    w->blk_cap = dense ? 0 : aether_pattern_max_blocks(&m->head.attn, n);
    w->nb = dense ? 0 : n / B;
    if (aether_size_mul(n, I, &nn) != AETHER_OK || aether_size_mul(n, kvh * d, &rows) != AETHER_OK ||
        aether_size_add(w->tok_cap, w->blk_cap, &ncand) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    if (ncand > AQ_MAX_CANDIDATES)
        return AETHER_ERR_INVALID_ARG; /* the softmax sum would not fit */
    w->h = (int32_t *)aether_arena_alloc(ar, nn, sizeof(int32_t), AETHER_ALIGN);
    w->k = (int8_t *)aether_arena_alloc(ar, rows, 1, AETHER_ALIGN);
    w->v = (int8_t *)aether_arena_alloc(ar, rows, 1, AETHER_ALIGN);
    w->ke = (uint8_t *)aether_arena_alloc(ar, n, kvh, AETHER_ALIGN);
    w->ve = (uint8_t *)aether_arena_alloc(ar, n, kvh, AETHER_ALIGN);
    w->lk = (int8_t *)aether_arena_alloc(ar, w->nb + 1, kvh * d, AETHER_ALIGN);
    w->lv = (int8_t *)aether_arena_alloc(ar, w->nb + 1, kvh * d, AETHER_ALIGN);
    w->lke = (uint8_t *)aether_arena_alloc(ar, w->nb + 1, kvh, AETHER_ALIGN);
    w->lve = (uint8_t *)aether_arena_alloc(ar, w->nb + 1, kvh, AETHER_ALIGN);
    w->tok = (size_t *)aether_arena_alloc(ar, w->tok_cap + 1, sizeof(size_t), AETHER_ALIGN);
    w->blk = (size_t *)aether_arena_alloc(ar, w->blk_cap + 1, sizeof(size_t), AETHER_ALIGN);
    w->cand = (aq_cand *)aether_arena_alloc(ar, ncand + 1, sizeof(aq_cand), AETHER_ALIGN);
    if (aq_scratch_alloc_(ar, m, ncand, &w->sc) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    w->lsum = (int32_t *)aether_arena_alloc(ar, kvh * d, sizeof(int32_t), AETHER_ALIGN);
    w->lse = (uint8_t *)aether_arena_alloc(ar, kvh, 1, AETHER_ALIGN);
    w->y = (int32_t *)aether_arena_alloc(ar, m->max_width, sizeof(int32_t), AETHER_ALIGN);
    w->a = (int32_t *)aether_arena_alloc(ar, m->layout.q_width, sizeof(int32_t), AETHER_ALIGN);
    w->x16 = (int16_t *)aether_arena_alloc(ar, m->max_width, sizeof(int16_t), AETHER_ALIGN);
    w->q = (int16_t *)aether_arena_alloc(ar, m->layout.q_width, sizeof(int16_t), AETHER_ALIGN);
    w->qe = (uint8_t *)aether_arena_alloc(ar, m->header.n_q_heads, 1, AETHER_ALIGN);
    w->pooled = (int32_t *)aether_arena_alloc(ar, I, sizeof(int32_t), AETHER_ALIGN);
    return ar->status;
}

aether_status aether_qmodel_forward_workspace_size(const aether_qmodel *m, size_t n_frames,
                                                   size_t *bytes)
{
    aether_arena ar;
    qfwd_ws w;
    aether_status st = aq_check_model_(m);
    if (st != AETHER_OK)
        return st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    if (n_frames == 0)
        return AETHER_ERR_INVALID_ARG;
    aether_arena_measure(&ar);
    st = ws_layout(&ar, m, n_frames, &w);
    if (st == AETHER_OK)
        *bytes = ar.used;
    return st;
}

/* Landmark b of the rows k/v (one per frame), into slot b of lk/lv: the
 * block's rows added in token order, as a session adds them. */
static void window_landmark(const aether_qmodel *m, const qfwd_ws *w, size_t b)
{
    size_t kvh = m->header.n_kv_heads, d = m->header.head_dim, B = m->head.cfg.block_size, t;
    for (t = 0; t < B; ++t)
        aq_lm_add_(kvh, d, w->k + (b * B + t) * kvh * d, w->ke + (b * B + t) * kvh, t == 0,
                   w->lsum, w->lse);
    aq_lm_finish_(kvh, d, B, w->lsum, w->lse, w->lk + b * kvh * d, w->lke + b * kvh);
    for (t = 0; t < B; ++t)
        aq_lm_add_(kvh, d, w->v + (b * B + t) * kvh * d, w->ve + (b * B + t) * kvh, t == 0,
                   w->lsum, w->lse);
    aq_lm_finish_(kvh, d, B, w->lsum, w->lse, w->lv + b * kvh * d, w->lve + b * kvh);
}

/* Candidates of query i (all frames 0..i present). */
static size_t window_cands(const aether_qmodel *m, const qfwd_ws *w, size_t i)
{
    size_t kvh = m->header.n_kv_heads, d = m->header.head_dim, nt = 0, nb = 0, j, n = 0;
    if (m->head.backend == AETHER_HEAD_DENSE) {
        for (j = 0; j <= i; ++j)
            w->tok[j] = j;
        nt = i + 1;
    } else {
        (void)aether_pattern_tokens(&m->head.attn, i, i + 1, w->tok, w->tok_cap, &nt);
        (void)aether_pattern_blocks(&m->head.attn, i, i + 1, w->blk, w->blk_cap, &nb);
    }
    for (j = 0; j < nt; ++j, ++n) {
        size_t t = w->tok[j];
        w->cand[n].k = w->k + t * kvh * d;
        w->cand[n].v = w->v + t * kvh * d;
        w->cand[n].ke = w->ke + t * kvh;
        w->cand[n].ve = w->ve + t * kvh;
    }
    for (j = 0; j < nb; ++j, ++n) {
        size_t b = w->blk[j];
        w->cand[n].k = w->lk + b * kvh * d;
        w->cand[n].v = w->lv + b * kvh * d;
        w->cand[n].ke = w->lke + b * kvh;
        w->cand[n].ve = w->lve + b * kvh;
    }
    return n;
}

static aether_status forward_impl(const aether_qmodel *m, const float *ff, const int32_t *fq,
                                  size_t n, aether_pool pool, int32_t *logits, float *logits_f,
                                  int32_t *pooled, void *ws, size_t ws_len)
{
    aether_arena ar;
    qfwd_ws w;
    size_t I, total, need, t, j, l, kvh, d;
    aether_status st = aq_check_model_(m);
    aq_mat wc;
    if (st != AETHER_OK)
        return st;
    if ((!ff && !fq) || (!logits && !logits_f))
        return AETHER_ERR_NULL_ARG;
    if (n == 0 || (pool != AETHER_POOL_LAST && pool != AETHER_POOL_MEAN))
        return AETHER_ERR_INVALID_ARG;
    I = m->header.input_dim;
    kvh = m->header.n_kv_heads;
    d = m->header.head_dim;
    if (aether_size_mul(n, I, &total) != AETHER_OK || n > 0xFFFFFFFFu)
        return AETHER_ERR_OVERFLOW;
    if (ff) {
        int32_t tmp;
        for (t = 0; t < total; ++t)
            if (aether_q16_from_f32(ff[t], &tmp) != AETHER_OK)
                return AETHER_ERR_NONFINITE;
    }
    if ((st = aether_qmodel_forward_workspace_size(m, n, &need)) != AETHER_OK)
        return st;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    aether_arena_init(&ar, ws, ws_len);
    if ((st = ws_layout(&ar, m, n, &w)) != AETHER_OK)
        return st;

    for (t = 0; t < n; ++t) {
        int32_t *ht = w.h + t * I;
        if (ff) {
            for (j = 0; j < I; ++j)
                (void)aether_q16_from_f32(ff[t * I + j], &w.y[j]);
            aq_prepare_frame_(m, w.y, ht);
        } else {
            aq_prepare_frame_(m, fq + t * I, ht);
        }
    }
    for (l = 0; l < m->header.n_layers; ++l) {
        for (t = 0; t < n; ++t)
            aq_project_kv_(m, l, w.h + t * I, w.k + t * kvh * d, w.ke + t * kvh,
                           w.v + t * kvh * d, w.ve + t * kvh, w.x16, w.y);
        for (t = 0; t < w.nb; ++t)
            window_landmark(m, &w, t);
        for (t = 0; t < n; ++t) {
            size_t nc = window_cands(m, &w, t);
            aq_project_q_(m, l, w.h + t * I, w.q, w.qe, w.x16, w.y);
            aq_attend_(m, w.q, w.qe, w.cand, nc, &w.sc, w.a);
            aq_residual_(m, l, w.a, w.h + t * I, w.x16, w.y);
        }
    }
    if (pool == AETHER_POOL_LAST) {
        for (j = 0; j < I; ++j)
            w.pooled[j] = w.h[(n - 1) * I + j];
    } else {
        for (j = 0; j < I; ++j) {
            int64_t sum = 0;
            uint64_t mag;
            for (t = 0; t < n; ++t)
                sum += w.h[t * I + j];
            mag = sum < 0 ? (uint64_t)0 - (uint64_t)sum : (uint64_t)sum;
            mag = (mag + n / 2u) / (uint64_t)n;
            w.pooled[j] = aq_signed(mag, sum < 0);
        }
    }
    aq_mat_of_(m, m->layout.classifier, I, m->header.n_classes, &wc);
    aq_matvec16_(&wc, w.x16, aq_to_i16_(w.pooled, I, w.x16), w.y);
    for (j = 0; j < m->header.n_classes; ++j) {
        if (logits)
            logits[j] = w.y[j];
        else
            logits_f[j] = aether_q16_to_f32(w.y[j]);
    }
    if (pooled)
        for (j = 0; j < I; ++j)
            pooled[j] = w.pooled[j];
    return AETHER_OK;
}

aether_status aether_qmodel_forward_q16(const aether_qmodel *m, const int32_t *frames_q16,
                                        size_t n_frames, aether_pool pool, int32_t *logits_q16,
                                        int32_t *pooled_q16, void *ws, size_t ws_len)
{
    if (!frames_q16)
        return aq_check_model_(m) != AETHER_OK ? aq_check_model_(m) : AETHER_ERR_NULL_ARG;
    return forward_impl(m, NULL, frames_q16, n_frames, pool, logits_q16, NULL, pooled_q16, ws,
                        ws_len);
}

aether_status aether_qmodel_forward(const aether_qmodel *m, const float *frames, size_t n_frames,
                                    aether_pool pool, float *logits, void *ws, size_t ws_len)
{
    if (!frames || !logits)
        return aq_check_model_(m) != AETHER_OK ? aq_check_model_(m) : AETHER_ERR_NULL_ARG;
    return forward_impl(m, frames, NULL, n_frames, pool, NULL, logits, NULL, ws, ws_len);
}
