/* Streaming sessions: one KV cache per layer, one frame per step
 * (docs/MODEL.md section 5). Everything lives in one arena block. */
#include "model/model_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/workspace.h"
#include "dispatch/kernels.h"
#include "head/head_step.h"
#include "kvcache/kv_prefetch.h"

#define SESSION_MAGIC 0x53455353u /* "SESS" */

struct aether_model_session {
    uint32_t magic;
    const aether_model *model;
    aether_session_params params;
    aether_kvcache **caches; /* n_layers */
    float *h, *q, *k, *v, *a, *tmp;
    void *step_ws;
    size_t step_ws_len;
    size_t frames;
    int broken;
    /* Projection kernels chosen at init: the active ISA for a sparse head,
     * the reference for a dense one (whose stream must equal the dense
     * window forward bit for bit). The caches hold their own choice. */
    aether_kernel_sel kern;
    void *owned_;
    int batched; /* 1 while aether_model_step_batch holds it (duplicates) */
};

aether_session_params aether_model_session_params_default(void)
{
    aether_session_params p;
    memset(&p, 0, sizeof p); /* padding too: callers may compare structs */
    p.capacity = 4096;
    p.evict = AETHER_KV_EVICT_SLIDING;
    p.storage = AETHER_KV_F32;
    p.landmarks = AETHER_KV_LM_SUM;
    return p;
}

static aether_status cache_params(const aether_model *m, const aether_session_params *p,
                                  aether_kvcache_params *cp)
{
    aether_status st = aether_head_cache_params(&m->head, p->capacity, cp);
    if (st != AETHER_OK)
        return st;
    cp->evict = p->evict;
    cp->storage = p->storage;
    cp->landmarks = p->landmarks;
    return AETHER_OK;
}

typedef struct sess_plan {
    aether_kvcache_params cp;
    size_t cache_bytes;
    size_t step_ws;
} sess_plan;

static aether_status make_plan(const aether_model *m, const aether_session_params *p,
                               sess_plan *sp)
{
    aether_status st = cache_params(m, p, &sp->cp);
    if (st != AETHER_OK)
        return st;
    st = aether_kvcache_size(&sp->cp, &sp->cache_bytes);
    if (st != AETHER_OK)
        return st;
    return aether_head_step_workspace_size(&m->head, &sp->step_ws);
}

/* One layout for measuring and placing. Each cache block's address is
 * parked in caches[l] until aether_kvcache_init turns it into the cache. */
static aether_status layout(aether_arena *ar, const aether_model *m, const sess_plan *sp,
                            aether_model_session **s)
{
    size_t in = m->header.input_dim, qw = m->layout.q_width, kvw = m->layout.kv_width;
    size_t l, n_layers = m->header.n_layers;
    aether_model_session *x;
    aether_kvcache **caches;
    float *h, *tmp, *q, *a, *k, *v;
    void *ws;
    x = (aether_model_session *)aether_arena_alloc(ar, 1, sizeof *x, AETHER_ALIGN);
    caches = (aether_kvcache **)aether_arena_alloc(ar, n_layers, sizeof *caches, AETHER_ALIGN);
    for (l = 0; l < n_layers; ++l) {
        void *mem = aether_arena_alloc(ar, sp->cache_bytes, 1, AETHER_ALIGN);
        if (caches)
            caches[l] = (aether_kvcache *)mem;
    }
    h = (float *)aether_arena_alloc(ar, in, sizeof(float), AETHER_ALIGN);
    tmp = (float *)aether_arena_alloc(ar, in, sizeof(float), AETHER_ALIGN);
    q = (float *)aether_arena_alloc(ar, qw, sizeof(float), AETHER_ALIGN);
    a = (float *)aether_arena_alloc(ar, qw, sizeof(float), AETHER_ALIGN);
    k = (float *)aether_arena_alloc(ar, kvw, sizeof(float), AETHER_ALIGN);
    v = (float *)aether_arena_alloc(ar, kvw, sizeof(float), AETHER_ALIGN);
    ws = aether_arena_alloc(ar, sp->step_ws ? sp->step_ws : 1, 1, AETHER_ALIGN);
    if (x && ar->status == AETHER_OK) {
        x->caches = caches;
        x->h = h;
        x->tmp = tmp;
        x->q = q;
        x->a = a;
        x->k = k;
        x->v = v;
        x->step_ws = ws;
        x->step_ws_len = sp->step_ws;
    }
    *s = x;
    return ar->status;
}

aether_status aether_model_session_size(const aether_model *model, const aether_session_params *p,
                                        size_t *bytes)
{
    aether_session_params def = aether_model_session_params_default();
    aether_model_session *s;
    aether_arena ar;
    sess_plan sp;
    aether_status st = aether_model_check_(model);
    if (st != AETHER_OK)
        return st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    st = make_plan(model, p ? p : &def, &sp);
    if (st != AETHER_OK)
        return st;
    aether_arena_measure(&ar);
    st = layout(&ar, model, &sp, &s);
    if (st == AETHER_OK)
        *bytes = ar.used;
    return st;
}

aether_status aether_model_session_init(void *buf, size_t len, const aether_model *model,
                                        const aether_session_params *p,
                                        aether_model_session **out)
{
    aether_session_params def = aether_model_session_params_default();
    aether_model_session *s;
    aether_arena ar;
    sess_plan sp;
    size_t l, n_layers;
    aether_status st = aether_model_check_(model);
    if (st != AETHER_OK)
        return st;
    if (!buf || !out)
        return AETHER_ERR_NULL_ARG;
    if (!p)
        p = &def;
    st = make_plan(model, p, &sp);
    if (st != AETHER_OK)
        return st;
    n_layers = model->header.n_layers;
    aether_arena_init(&ar, buf, len);
    st = layout(&ar, model, &sp, &s);
    if (st != AETHER_OK)
        return st;
    for (l = 0; l < n_layers; ++l) {
        aether_kvcache *c = NULL;
        st = aether_kvcache_init((void *)s->caches[l], sp.cache_bytes, &sp.cp, &c);
        if (st != AETHER_OK)
            return st;
        s->caches[l] = c;
    }
    s->model = model;
    s->params = *p;
    s->frames = 0;
    s->broken = 0;
    s->owned_ = NULL;
    if (model->head.backend == AETHER_HEAD_SPARSE_GQA)
        aether_kernel_select_(&s->kern);
    else
        aether_kernel_select_reference_(&s->kern);
    s->magic = SESSION_MAGIC;
    *out = s;
    return AETHER_OK;
}

aether_status aether_model_session_create(const aether_model *model,
                                          const aether_session_params *p,
                                          aether_model_session **out)
{
    size_t bytes;
    void *buf;
    aether_status st;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    st = aether_model_session_size(model, p, &bytes);
    if (st != AETHER_OK)
        return st;
    buf = malloc(bytes);
    if (!buf)
        return AETHER_ERR_NO_MEM;
    st = aether_model_session_init(buf, bytes, model, p, out);
    if (st != AETHER_OK) {
        free(buf);
        return st;
    }
    (*out)->owned_ = buf;
    return AETHER_OK;
}

void aether_model_session_destroy(aether_model_session *s)
{
    if (s && s->magic == SESSION_MAGIC && s->owned_) {
        void *buf = s->owned_;
        s->magic = 0;
        free(buf);
    }
}

static aether_status check(const aether_model_session *s)
{
    if (!s)
        return AETHER_ERR_NULL_ARG;
    return s->magic == SESSION_MAGIC ? AETHER_OK : AETHER_ERR_NOT_INITIALIZED;
}

/* y = x . W by the chosen kernel, or the model's reference product. */
static void matvec(const aether_simd_ops *ops, const float *x, size_t rows, const float *w,
                   size_t cols, float *y)
{
    if (ops)
        ops->matvec(x, rows, w, cols, y);
    else
        aether_model_matvec_(x, rows, w, cols, y);
}

/* Run the frame already in s->h through every layer: projections, the
 * head's streaming step, the residual update. */
static aether_status run_layers(aether_model_session *s, const aether_simd_ops *ops)
{
    const aether_model *m = s->model;
    size_t in = m->header.input_dim, qw = m->layout.q_width, kvw = m->layout.kv_width, l, j;
    aether_status st;
    for (l = 0; l < m->header.n_layers; ++l) {
        matvec(ops, s->h, in, aether_model_wq_(m, l), qw, s->q);
        matvec(ops, s->h, in, aether_model_wk_(m, l), kvw, s->k);
        matvec(ops, s->h, in, aether_model_wv_(m, l), kvw, s->v);
        /* The layers' caches share parameters and history: layer l may
         * decode from the candidate lists layer l - 1 just resolved. */
        st = aether_head_step_rows_(&m->head, s->q, s->k, s->v, s->caches[l],
                                    l > 0 ? s->caches[l - 1] : NULL, s->a, s->step_ws);
        if (st != AETHER_OK) {
            /* Nothing of this layer was stored; earlier layers were: the
             * caches are out of step until a reset. */
            if (l > 0)
                s->broken = 1;
            return st;
        }
        matvec(ops, s->a, qw, aether_model_wo_(m, l), in, s->tmp);
        for (j = 0; j < in; ++j)
            s->h[j] = s->h[j] + s->tmp[j];
    }
    return AETHER_OK;
}

/* Whether valid session s can take this frame: not broken, a finite frame,
 * room in a cache that never evicts on append. Policies that never evict
 * fail up front, before any layer has taken the frame (all caches hold the
 * same number of frames). Changes nothing. */
static aether_status frame_check(const aether_model_session *s, const float *frame)
{
    if (s->broken)
        return AETHER_ERR_STATE;
    if (!aether_head_all_finite_(frame, s->model->header.input_dim))
        return AETHER_ERR_NONFINITE;
    if ((s->params.evict == AETHER_KV_EVICT_NONE ||
         s->params.evict == AETHER_KV_EVICT_H2O_COMPAT) &&
        aether_kvcache_is_full(s->caches[0]))
        return AETHER_ERR_CACHE_FULL;
    return AETHER_OK;
}

aether_status aether_model_session_step(aether_model_session *s, const float *frame,
                                        float *logits, float *pooled)
{
    const aether_model *m;
    const aether_simd_ops *ops;
    size_t i, in;
    aether_status st = check(s);
    if (st != AETHER_OK)
        return st;
    if (!frame || !logits)
        return AETHER_ERR_NULL_ARG;
    st = frame_check(s, frame);
    if (st != AETHER_OK)
        return st;
    m = s->model;
    in = m->header.input_dim;
    aether_model_prepare_frame_(m, frame, s->h);
    ops = aether_kernel_sel_ops(&s->kern);
    st = run_layers(s, ops);
    if (st != AETHER_OK)
        return st;
    matvec(ops, s->h, in, aether_model_wc_(m), m->header.n_classes, logits);
    if (pooled)
        for (i = 0; i < in; ++i)
            pooled[i] = s->h[i];
    s->frames++;
    return AETHER_OK;
}

aether_status aether_model_session_reset(aether_model_session *s)
{
    size_t l;
    aether_status st = check(s);
    if (st != AETHER_OK)
        return st;
    for (l = 0; l < s->model->header.n_layers; ++l) {
        st = aether_kvcache_reset(s->caches[l]);
        if (st != AETHER_OK)
            return st;
    }
    s->frames = 0;
    s->broken = 0;
    return AETHER_OK;
}

size_t aether_model_session_frames(const aether_model_session *s)
{
    return check(s) == AETHER_OK ? s->frames : 0;
}

int aether_model_session_evicted(const aether_model_session *s)
{
    if (check(s) != AETHER_OK)
        return 0;
    return aether_kvcache_tokens_seen(s->caches[0]) > aether_kvcache_len(s->caches[0]);
}

int aether_model_session_broken(const aether_model_session *s)
{
    return check(s) == AETHER_OK && s->broken;
}

/* ---------- batched step ---------- */

/* The batch's workspace: the rows of every per-frame vector (h, tmp, q,
 * a, k, v, logits) for n sessions, and the index of each row's session.
 * One layout for measuring and placing, as for the session itself. */
typedef struct batch_rows {
    float *h, *tmp, *q, *a, *k, *v, *lg;
    size_t *act;
} batch_rows;

static aether_status batch_layout(aether_arena *ar, const aether_model *m, size_t n,
                                  batch_rows *br)
{
    size_t in = m->header.input_dim, qw = m->layout.q_width, kvw = m->layout.kv_width;
    size_t nc = m->header.n_classes, in_n, qw_n, kvw_n, nc_n;
    if (aether_size_mul(n, in, &in_n) != AETHER_OK || aether_size_mul(n, qw, &qw_n) != AETHER_OK ||
        aether_size_mul(n, kvw, &kvw_n) != AETHER_OK ||
        aether_size_mul(n, nc, &nc_n) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    br->h = (float *)aether_arena_alloc(ar, in_n, sizeof(float), AETHER_ALIGN);
    br->tmp = (float *)aether_arena_alloc(ar, in_n, sizeof(float), AETHER_ALIGN);
    br->q = (float *)aether_arena_alloc(ar, qw_n, sizeof(float), AETHER_ALIGN);
    br->a = (float *)aether_arena_alloc(ar, qw_n, sizeof(float), AETHER_ALIGN);
    br->k = (float *)aether_arena_alloc(ar, kvw_n, sizeof(float), AETHER_ALIGN);
    br->v = (float *)aether_arena_alloc(ar, kvw_n, sizeof(float), AETHER_ALIGN);
    br->lg = (float *)aether_arena_alloc(ar, nc_n, sizeof(float), AETHER_ALIGN);
    br->act = (size_t *)aether_arena_alloc(ar, n, sizeof(size_t), AETHER_ALIGN);
    return ar->status;
}

aether_status aether_model_step_batch_workspace_size(const aether_model *model, size_t n_max,
                                                     size_t *bytes)
{
    batch_rows br;
    aether_arena ar;
    aether_status st = aether_model_check_(model);
    if (st != AETHER_OK)
        return st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    aether_arena_measure(&ar);
    st = batch_layout(&ar, model, n_max, &br);
    if (st == AETHER_OK)
        *bytes = ar.used;
    return st;
}

/* Y = X . W over n rows, by the ops' batched product or the reference's. */
static void matmul(const aether_simd_ops *ops, const float *x, size_t n, size_t rows,
                   const float *w, size_t cols, float *y)
{
    if (ops)
        ops->matmul(x, n, rows, w, cols, y);
    else
        aether_model_matmul_(x, n, rows, w, cols, y);
}

/* Drop the rows whose act[] entry is (size_t)-1 from the row arrays that
 * are still live after a layer's attention (h and a), keeping the order. */
static size_t batch_compact(size_t *act, size_t na, float *h, size_t in, float *a, size_t qw)
{
    size_t r, w = 0;
    for (r = 0; r < na; ++r) {
        if (act[r] == (size_t)-1)
            continue;
        if (w != r) {
            act[w] = act[r];
            memmove(h + w * in, h + r * in, in * sizeof(float));
            memmove(a + w * qw, a + r * qw, qw * sizeof(float));
        }
        ++w;
    }
    return w;
}

aether_status aether_model_step_batch(const aether_model *model,
                                      aether_model_session *const *sessions, size_t n,
                                      const float *frames, float *logits, float *pooled,
                                      aether_status *statuses, void *ws, size_t ws_len)
{
    size_t in, qw, kvw, nc, i, r, na = 0, l, j, need;
    const aether_simd_ops *ops = NULL;
    float *H, *T, *Q, *A, *K, *V, *LG;
    size_t *act;
    batch_rows br;
    aether_status st = aether_model_check_(model);
    if (st != AETHER_OK)
        return st;
    if (n == 0)
        return AETHER_OK;
    if (!sessions || !frames || !logits || !statuses)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_model_step_batch_workspace_size(model, n, &need)) != AETHER_OK ||
        (st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    {
        aether_arena ar;
        aether_arena_init(&ar, ws, ws_len);
        if ((st = batch_layout(&ar, model, n, &br)) != AETHER_OK)
            return st;
    }
    in = model->header.input_dim;
    qw = model->layout.q_width;
    kvw = model->layout.kv_width;
    nc = model->header.n_classes;
    H = br.h;
    T = br.tmp;
    Q = br.q;
    A = br.a;
    K = br.k;
    V = br.v;
    LG = br.lg;
    act = br.act;

    /* Each session's own checks, in the order of aether_model_session_step;
     * a session that fails one is left as it was. */
    for (i = 0; i < n; ++i) {
        aether_model_session *s = sessions[i];
        const float *frame = frames + i * in;
        st = check(s);
        if (st == AETHER_OK && s->model != model)
            st = AETHER_ERR_INVALID_ARG; /* another model's session */
        else if (st == AETHER_OK && s->batched)
            st = AETHER_ERR_INVALID_ARG; /* listed twice */
        else if (st == AETHER_OK)
            st = frame_check(s, frame);
        statuses[i] = st;
        if (st != AETHER_OK)
            continue;
        s->batched = 1;
        /* Every session of one model makes the same kernel choice (the
         * backend decides between the mode's ops and the reference): read
         * it once, keeping each session's stored choice current. */
        if (na == 0)
            ops = aether_kernel_sel_ops(&s->kern);
        else
            (void)aether_kernel_sel_ops(&s->kern);
        aether_model_prepare_frame_(model, frame, H + na * in);
        act[na++] = i;
    }
    for (r = 0; r < na; ++r)
        sessions[act[r]]->batched = 0;

    for (l = 0; l < model->header.n_layers && na > 0; ++l) {
        size_t dead = 0;
        const aether_kvcache *last = NULL;
        matmul(ops, H, na, in, aether_model_wq_(model, l), qw, Q);
        matmul(ops, H, na, in, aether_model_wk_(model, l), kvw, K);
        matmul(ops, H, na, in, aether_model_wv_(model, l), kvw, V);
        for (r = 0; r < na; ++r) {
            aether_model_session *s = sessions[act[r]];
            /* The candidate lists depend only on the cache's state (length,
             * ring cursor, policy), not on its rows: the layer below of the
             * same session, or this layer of the session stepped before it
             * when that one is in the same state, has resolved them already
             * (the twin check decides; otherwise they are built). */
            const aether_kvcache *twin = l > 0 ? s->caches[l - 1] : last;
            st = aether_head_step_rows_(&model->head, Q + r * qw, K + r * kvw, V + r * kvw,
                                        s->caches[l], twin, A + r * qw, s->step_ws);
            if (st == AETHER_OK) {
                last = s->caches[l];
                /* The session two places on, in the same state, will read
                 * the rows at these lists: start loading them. */
                if (r + 2 < na)
                    aether_kv_prefetch_as_(sessions[act[r + 2]]->caches[l], s->caches[l]);
            } else {
                /* As in run_layers: earlier layers took the frame. */
                if (l > 0)
                    s->broken = 1;
                statuses[act[r]] = st;
                act[r] = (size_t)-1;
                ++dead;
            }
        }
        if (dead)
            na = batch_compact(act, na, H, in, A, qw);
        if (na == 0)
            break;
        matmul(ops, A, na, qw, aether_model_wo_(model, l), in, T);
        for (r = 0; r < na * in; ++r)
            H[r] = H[r] + T[r];
    }
    if (na == 0)
        return AETHER_OK;
    matmul(ops, H, na, in, aether_model_wc_(model), nc, LG);
    for (r = 0; r < na; ++r) {
        i = act[r];
        for (j = 0; j < nc; ++j)
            logits[i * nc + j] = LG[r * nc + j];
        if (pooled)
            for (j = 0; j < in; ++j)
                pooled[i * in + j] = H[r * in + j];
        sessions[i]->frames++;
    }
    return AETHER_OK;
}
