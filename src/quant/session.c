/* Integer streaming sessions: int8 K/V caches per layer and the step
 * (docs/MODEL.md section 10.4). */
#include <string.h>

#include "quant/quant_internal.h"

struct aether_qsession {
    uint32_t magic;
    const aether_qmodel *m;
    size_t cap, ring, lb, tok_cap, blk_cap, B;
    size_t row, kvh; /* bytes per K (or V) row of all kv heads; kv heads */
    uint32_t seen;   /* frames since reset = next token id */
    int evict, evicted, dense;
    /* per layer l: k + l*cap*row, ke + l*cap*kvh, lk + l*lb*row, lke + l*lb*kvh */
    int8_t *k, *v, *lk, *lv;
    uint8_t *ke, *ve, *lke, *lve;
    int32_t *h, *y, *a;
    /* per layer: the current block's running K and V landmark sums
     * ([kvh][d]) and exponents ([kvh]) */
    int32_t *ksum, *vsum;
    uint8_t *kse, *vse;
    aq_scratch sc;
    int16_t *x16, *q;
    uint8_t *qe;
    size_t *tok, *blk;
    aq_cand *cand;
};

/* *self (optional): where the session itself goes, the arena's first
 * block (aligned whatever the buffer's alignment). */
static aether_status sess_layout(aether_arena *ar, const aether_qmodel *m, size_t cap,
                                 aether_kv_evict evict, aether_qsession *s, aether_qsession **self)
{
    aether_qsession *where;
    const aether_blob_header *hd = &m->header;
    size_t L = hd->n_layers, kvh = hd->n_kv_heads, d = hd->head_dim, rows, lrows, ncand;
    memset(s, 0, sizeof *s);
    s->m = m;
    s->cap = cap;
    s->ring = cap - 1;
    s->B = m->head.cfg.block_size;
    s->kvh = kvh;
    s->row = kvh * d;
    s->evict = (int)evict;
    s->dense = m->head.backend == AETHER_HEAD_DENSE;
    s->lb = s->dense ? 0 : aether_ceil_div(cap, s->B) + 1;
    if (s->dense) {
        s->tok_cap = cap;
        s->blk_cap = 0;
    } else {
        /* SLIDING: positions are token ids, below 2^32 (step's OVERFLOW) */
        size_t bound = evict == AETHER_KV_EVICT_SLIDING ? (size_t)0xFFFFFFFFu : cap;
        s->tok_cap = aether_pattern_max_tokens(&m->head.attn, bound);
        s->blk_cap = aether_pattern_max_blocks(&m->head.attn, bound);
    }
    if (aether_size_mul3(L, cap, s->row, &rows) != AETHER_OK ||
        aether_size_mul3(L, s->lb, s->row, &lrows) != AETHER_OK ||
        aether_size_add(s->tok_cap, s->blk_cap, &ncand) != AETHER_OK || ncand == SIZE_MAX)
        return AETHER_ERR_OVERFLOW;
    if (ncand > AQ_MAX_CANDIDATES)
        return AETHER_ERR_INVALID_ARG; /* the softmax sum would not fit */
    where = (aether_qsession *)aether_arena_alloc(ar, 1, sizeof *s, AETHER_ALIGN);
    if (self)
        *self = where;
    s->k = (int8_t *)aether_arena_alloc(ar, rows, 1, AETHER_ALIGN);
    s->v = (int8_t *)aether_arena_alloc(ar, rows, 1, AETHER_ALIGN);
    s->ke = (uint8_t *)aether_arena_alloc(ar, L * cap, kvh, AETHER_ALIGN);
    s->ve = (uint8_t *)aether_arena_alloc(ar, L * cap, kvh, AETHER_ALIGN);
    s->lk = (int8_t *)aether_arena_alloc(ar, lrows + 1, 1, AETHER_ALIGN);
    s->lv = (int8_t *)aether_arena_alloc(ar, lrows + 1, 1, AETHER_ALIGN);
    s->lke = (uint8_t *)aether_arena_alloc(ar, L * s->lb + 1, kvh, AETHER_ALIGN);
    s->lve = (uint8_t *)aether_arena_alloc(ar, L * s->lb + 1, kvh, AETHER_ALIGN);
    s->h = (int32_t *)aether_arena_alloc(ar, hd->input_dim, sizeof(int32_t), AETHER_ALIGN);
    s->y = (int32_t *)aether_arena_alloc(ar, m->max_width, sizeof(int32_t), AETHER_ALIGN);
    s->a = (int32_t *)aether_arena_alloc(ar, m->layout.q_width, sizeof(int32_t), AETHER_ALIGN);
    if (aq_scratch_alloc_(ar, m, ncand, &s->sc) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    s->ksum = (int32_t *)aether_arena_alloc(ar, L * kvh * d, sizeof(int32_t), AETHER_ALIGN);
    s->vsum = (int32_t *)aether_arena_alloc(ar, L * kvh * d, sizeof(int32_t), AETHER_ALIGN);
    s->kse = (uint8_t *)aether_arena_alloc(ar, L, kvh, AETHER_ALIGN);
    s->vse = (uint8_t *)aether_arena_alloc(ar, L, kvh, AETHER_ALIGN);
    s->x16 = (int16_t *)aether_arena_alloc(ar, m->max_width, sizeof(int16_t), AETHER_ALIGN);
    s->q = (int16_t *)aether_arena_alloc(ar, m->layout.q_width, sizeof(int16_t), AETHER_ALIGN);
    s->qe = (uint8_t *)aether_arena_alloc(ar, hd->n_q_heads, 1, AETHER_ALIGN);
    s->tok = (size_t *)aether_arena_alloc(ar, s->tok_cap + 1, sizeof(size_t), AETHER_ALIGN);
    s->blk = (size_t *)aether_arena_alloc(ar, s->blk_cap + 1, sizeof(size_t), AETHER_ALIGN);
    s->cand = (aq_cand *)aether_arena_alloc(ar, ncand + 1, sizeof(aq_cand), AETHER_ALIGN);
    return ar->status;
}

static aether_status check_params(const aether_qmodel *m, size_t cap, aether_kv_evict evict)
{
    aether_status st = aq_check_model_(m);
    if (st != AETHER_OK)
        return st;
    if (evict != AETHER_KV_EVICT_NONE && evict != AETHER_KV_EVICT_SLIDING)
        return (unsigned)evict <= (unsigned)AETHER_KV_EVICT_H2O_COMPAT ? AETHER_ERR_UNSUPPORTED
                                                                    : AETHER_ERR_INVALID_ARG;
    if (cap == 0)
        return AETHER_ERR_INVALID_ARG;
    if (evict == AETHER_KV_EVICT_SLIDING && cap < 2)
        return AETHER_ERR_INVALID_ARG; /* token 0 stays: a ring of at least one */
    return AETHER_OK;
}

aether_status aether_qsession_size(const aether_qmodel *m, size_t capacity, aether_kv_evict evict,
                                   size_t *bytes)
{
    aether_arena ar;
    aether_qsession s;
    aether_status st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    if ((st = check_params(m, capacity, evict)) != AETHER_OK)
        return st;
    aether_arena_measure(&ar);
    if ((st = sess_layout(&ar, m, capacity, evict, &s, NULL)) != AETHER_OK)
        return st;
    *bytes = ar.used;
    return AETHER_OK;
}

aether_status aether_qsession_init(void *buf, size_t len, const aether_qmodel *m, size_t capacity,
                                   aether_kv_evict evict, aether_qsession **out)
{
    aether_arena ar;
    aether_qsession s, *p;
    aether_status st;
    size_t need;
    if (!buf || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_qsession_size(m, capacity, evict, &need)) != AETHER_OK)
        return st;
    if (len < need)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    aether_arena_init(&ar, buf, len);
    if ((st = sess_layout(&ar, m, capacity, evict, &s, &p)) != AETHER_OK)
        return st;
    s.magic = AQ_SESSION_MAGIC;
    *p = s;
    *out = p;
    return AETHER_OK;
}

static aether_status check_session(const aether_qsession *s)
{
    if (!s)
        return AETHER_ERR_NULL_ARG;
    return s->magic == AQ_SESSION_MAGIC ? AETHER_OK : AETHER_ERR_NOT_INITIALIZED;
}

aether_status aether_qsession_reset(aether_qsession *s)
{
    aether_status st = check_session(s);
    if (st != AETHER_OK)
        return st;
    s->seen = 0;
    s->evicted = 0;
    return AETHER_OK;
}

size_t aether_qsession_frames(const aether_qsession *s)
{
    return check_session(s) == AETHER_OK ? (size_t)s->seen : 0;
}

int aether_qsession_evicted(const aether_qsession *s)
{
    return check_session(s) == AETHER_OK ? s->evicted : 0;
}

static size_t slot_of(const aether_qsession *s, size_t t)
{
    return t == 0 ? 0 : 1 + (t - 1) % s->ring;
}

/* Candidates of the newest token i for layer l. */
static size_t session_cands(const aether_qsession *s, size_t l, size_t i)
{
    const size_t row = s->row, kvh = s->kvh, cap = s->cap, lb = s->lb;
    const int8_t *k = s->k + l * cap * row, *v = s->v + l * cap * row;
    const uint8_t *ke = s->ke + l * cap * kvh, *ve = s->ve + l * cap * kvh;
    size_t nt = 0, nb = 0, j, n = 0, ncomp = (i + 1) / (s->B ? s->B : 1);
    if (s->dense) {
        size_t first = i + 1 > s->ring ? i + 1 - s->ring : 1;
        s->tok[nt++] = 0;
        for (j = first < 1 ? 1 : first; j <= i; ++j)
            s->tok[nt++] = j;
    } else {
        (void)aether_pattern_tokens(&s->m->head.attn, i, i + 1, s->tok, s->tok_cap, &nt);
        (void)aether_pattern_blocks(&s->m->head.attn, i, i + 1, s->blk, s->blk_cap, &nb);
    }
    for (j = 0; j < nt; ++j) {
        size_t t = s->tok[j], sl;
        if (t != 0 && t + s->ring <= i)
            continue; /* evicted */
        sl = slot_of(s, t);
        s->cand[n].k = k + sl * row;
        s->cand[n].v = v + sl * row;
        s->cand[n].ke = ke + sl * kvh;
        s->cand[n].ve = ve + sl * kvh;
        ++n;
    }
    for (j = 0; j < nb; ++j) {
        size_t b = s->blk[j], sl;
        if (b + lb < ncomp)
            continue; /* landmark no longer kept */
        sl = l * lb + b % lb;
        s->cand[n].k = s->lk + sl * row;
        s->cand[n].v = s->lv + sl * row;
        s->cand[n].ke = s->lke + sl * kvh;
        s->cand[n].ve = s->lve + sl * kvh;
        ++n;
    }
    return n;
}

/* Add the new token i's K/V rows (slot) to layer l's running landmark
 * sums; when i completes its block, write the block's landmark. */
static void session_landmark(aether_qsession *s, size_t l, size_t i, size_t slot)
{
    const size_t row = s->row, kvh = s->kvh, cap = s->cap, B = s->B;
    const size_t d = s->m->header.head_dim;
    int32_t *ks = s->ksum + l * row, *vs = s->vsum + l * row;
    uint8_t *kse = s->kse + l * kvh, *vse = s->vse + l * kvh;
    const int first = i % B == 0;
    aq_lm_add_(kvh, d, s->k + (l * cap + slot) * row, s->ke + (l * cap + slot) * kvh, first, ks,
               kse);
    aq_lm_add_(kvh, d, s->v + (l * cap + slot) * row, s->ve + (l * cap + slot) * kvh, first, vs,
               vse);
    if ((i + 1) % B == 0) {
        const size_t sl = l * s->lb + (i / B) % s->lb;
        aq_lm_finish_(kvh, d, B, ks, kse, s->lk + sl * row, s->lke + sl * kvh);
        aq_lm_finish_(kvh, d, B, vs, vse, s->lv + sl * row, s->lve + sl * kvh);
    }
}

static aether_status step_impl(aether_qsession *s, const int32_t *x, int32_t *logits,
                               float *logits_f, int32_t *pooled)
{
    const aether_qmodel *m = s->m;
    const size_t I = m->header.input_dim, row = s->row, kvh = s->kvh, cap = s->cap;
    size_t i = s->seen, slot, l, j;
    aq_mat wc;
    if (s->seen == 0xFFFFFFFFu)
        return AETHER_ERR_OVERFLOW;
    if (s->evict == AETHER_KV_EVICT_NONE && i >= cap)
        return AETHER_ERR_CACHE_FULL;
    slot = slot_of(s, i);
    aq_prepare_frame_(m, x, s->h);
    for (l = 0; l < m->header.n_layers; ++l) {
        size_t nc;
        aq_project_kv_(m, l, s->h, s->k + (l * cap + slot) * row, s->ke + (l * cap + slot) * kvh,
                       s->v + (l * cap + slot) * row, s->ve + (l * cap + slot) * kvh, s->x16,
                       s->y);
        if (!s->dense)
            session_landmark(s, l, i, slot);
        nc = session_cands(s, l, i);
        aq_project_q_(m, l, s->h, s->q, s->qe, s->x16, s->y);
        aq_attend_(m, s->q, s->qe, s->cand, nc, &s->sc, s->a);
        aq_residual_(m, l, s->a, s->h, s->x16, s->y);
    }
    if (i >= cap)
        s->evicted = 1;
    s->seen = (uint32_t)(i + 1);
    aq_mat_of_(m, m->layout.classifier, I, m->header.n_classes, &wc);
    aq_matvec16_(&wc, s->x16, aq_to_i16_(s->h, I, s->x16), s->y);
    for (j = 0; j < m->header.n_classes; ++j) {
        if (logits)
            logits[j] = s->y[j];
        else
            logits_f[j] = aether_q16_to_f32(s->y[j]);
    }
    if (pooled)
        for (j = 0; j < I; ++j)
            pooled[j] = s->h[j];
    return AETHER_OK;
}

aether_status aether_qsession_step_q16(aether_qsession *s, const int32_t *frame_q16,
                                       int32_t *logits_q16, int32_t *pooled_q16)
{
    aether_status st = check_session(s);
    if (st != AETHER_OK)
        return st;
    if (!frame_q16 || !logits_q16)
        return AETHER_ERR_NULL_ARG;
    return step_impl(s, frame_q16, logits_q16, NULL, pooled_q16);
}

aether_status aether_qsession_step(aether_qsession *s, const float *frame, float *logits)
{
    aether_status st = check_session(s);
    size_t j, I;
    if (st != AETHER_OK)
        return st;
    if (!frame || !logits)
        return AETHER_ERR_NULL_ARG;
    I = s->m->header.input_dim;
    /* The frame in Q16 goes through `a` (Q width >= 1; input_dim may be
     * larger, so use y, max_width values, which prepare_frame reads before
     * anything writes it). */
    for (j = 0; j < I; ++j)
        if (aether_q16_from_f32(frame[j], &s->y[j]) != AETHER_OK)
            return AETHER_ERR_NONFINITE;
    return step_impl(s, s->y, NULL, logits, NULL);
}
