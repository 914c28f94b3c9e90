/*
 * Tiled sparse prefill (docs/KERNELS.md section 9): per kv head, query
 * tiles of T positions share one pass over the K/V tiles of their windows;
 * everything else is per query. Only the current tile's softmax states and a
 * handful of block means are ever held, so scratch does not grow with seq.
 */
#include "core/workspace.h"
#include "aether/attention_tiled.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels/osm.h"
#include "kernels/sparse_internal.h"

#define SIZE_BITS (sizeof(size_t) * CHAR_BIT)
#define NO_BLOCK ((size_t)-1)

typedef struct tiled_ws {
    aether_osm *st; /* [tile][group] softmax states */
    float *acc;     /* [tile][group][dim] */
    size_t *tok;    /* scattered token candidates of one query */
    size_t tok_cap;
    size_t *blk; /* block candidates of one query */
    size_t blk_cap;
    float *mk, *mv; /* [blk_cap][dim] block-mean cache, slot = list index */
    size_t *tag;    /* [blk_cap] block held by a slot, NO_BLOCK if none */
    size_t tile;
} tiled_ws;

size_t aether_attn_tiled_tile(const aether_attn_config *cfg, size_t tile)
{
    if (tile)
        return tile;
    if (!cfg)
        return 1;
    return cfg->window > 1 ? cfg->window : 1;
}

/* List capacities that hold for every seq: a stride loop runs at most once
 * per bit of size_t, in one direction (causal) or two. */
static size_t strides_bound(const aether_attn_config *cfg)
{
    return cfg->causal ? SIZE_BITS : 2 * SIZE_BITS;
}

static aether_status layout(aether_arena *a, const aether_attn_config *cfg, size_t seq,
                            size_t group, size_t dim, size_t tile, tiled_ws *w)
{
    size_t states, accs;
    w->tile = tile < seq ? tile : seq;
    if (w->tile == 0)
        w->tile = 1;
    if (aether_size_mul(w->tile, group, &states) != AETHER_OK ||
        aether_size_mul(states, dim, &accs) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    w->st = (aether_osm *)aether_arena_alloc(a, states, sizeof(aether_osm), AETHER_ALIGN);
    w->acc = (float *)aether_arena_alloc(a, accs, sizeof(float), AETHER_ALIGN);
    /* The scattered list is built with window 0: the query itself, then
     * globals and log-stride positions. */
    w->tok_cap = 1 + cfg->n_globals + strides_bound(cfg);
    w->tok = (size_t *)aether_arena_alloc(a, w->tok_cap, sizeof(size_t), sizeof(size_t));
    w->blk_cap = 0;
    w->blk = NULL;
    w->mk = w->mv = NULL;
    w->tag = NULL;
    if (cfg->use_landmarks) {
        size_t means;
        w->blk_cap = 2 + strides_bound(cfg);
        if (aether_size_mul(w->blk_cap, dim, &means) != AETHER_OK)
            return AETHER_ERR_OVERFLOW;
        w->blk = (size_t *)aether_arena_alloc(a, w->blk_cap, sizeof(size_t), sizeof(size_t));
        w->tag = (size_t *)aether_arena_alloc(a, w->blk_cap, sizeof(size_t), sizeof(size_t));
        w->mk = (float *)aether_arena_alloc(a, means, sizeof(float), AETHER_ALIGN);
        w->mv = (float *)aether_arena_alloc(a, means, sizeof(float), AETHER_ALIGN);
    }
    return a->status;
}

static aether_status measure(const aether_attn_config *cfg, size_t seq, size_t group, size_t dim,
                             size_t tile, size_t *bytes)
{
    aether_arena a;
    tiled_ws w;
    aether_status st;
    aether_arena_measure(&a);
    if ((st = layout(&a, cfg, seq, group, dim, tile, &w)) != AETHER_OK)
        return st;
    *bytes = a.used;
    return AETHER_OK;
}

aether_status aether_attn_forward_tiled_workspace_size(const aether_attn_config *cfg, size_t seq,
                                                       size_t q_heads, size_t kv_heads,
                                                       size_t dim, size_t tile,
                                                       aether_tiled_order order, size_t *bytes)
{
    aether_status st;
    if (!cfg || !bytes)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_attn_config_check(cfg)) != AETHER_OK)
        return st;
    if (order != AETHER_TILED_ORDER_REFERENCE && order != AETHER_TILED_ORDER_FORWARD)
        return AETHER_ERR_INVALID_ARG;
    if (dim == 0)
        return AETHER_ERR_ZERO_HEAD_DIM;
    if (kv_heads == 0 || q_heads % kv_heads != 0)
        return AETHER_ERR_GQA_RATIO;
    return measure(cfg, seq, q_heads / kv_heads, dim, aether_attn_tiled_tile(cfg, tile), bytes);
}

/* ---- per-call state shared by the phases ---- */

typedef struct tiled_run {
    const aether_attn_config *cfg;
    const aether_attn_config *cfg0; /* cfg with window 0: scattered list */
    const aether_tensor *q, *k, *v;
    aether_tensor *out;
    size_t seq, dim, qh, kvh, group, hk;
    float scale;
    aether_tiled_order order;
    tiled_ws *w;
} tiled_run;

static size_t win_lo(const tiled_run *r, size_t i)
{
    return i >= r->cfg->window ? i - r->cfg->window : 0;
}

static size_t win_hi(const tiled_run *r, size_t i)
{
    if (r->cfg->causal)
        return i;
    return r->cfg->window >= r->seq - 1 - i ? r->seq - 1 : i + r->cfg->window;
}

static const float *q_row(const tiled_run *r, size_t i, size_t h)
{
    return r->q->data + (i * r->qh + h) * r->dim;
}

/* Softmax states of query i (relative index t in the tile): group entries. */
static aether_osm *states(const tiled_run *r, size_t t)
{
    return r->w->st + t * r->group;
}

/* Visit token j for every query head of the current kv head. */
static void visit_token(const tiled_run *r, size_t i, size_t t, size_t j)
{
    size_t off = (j * r->kvh + r->hk) * r->dim, g;
    aether_osm *s = states(r, t);
    for (g = 0; g < r->group; ++g) {
        const float *qr = q_row(r, i, r->hk * r->group + g);
        float score = aether_dot_ref(qr, r->k->data + off, r->dim) * r->scale;
        aether_osm_push(&s[g], score, r->v->data + off);
    }
}

/* Scattered token candidates of query i (globals, then log-stride, first
 * occurrence wins, none inside the window), in push order. The window-0
 * config yields [i, globals, strides] deduplicated against i and against the
 * globals; dropping what falls in the real window gives exactly the tail of
 * the full list after its window prefix. */
static size_t scattered(const tiled_run *r, size_t i)
{
    size_t n = 0, a, m = 0, lo = win_lo(r, i), hi = win_hi(r, i);
    if (aether_pattern_tokens(r->cfg0, i, r->seq, r->w->tok, r->w->tok_cap, &n) != AETHER_OK)
        return 0; /* cannot happen: tok_cap is a bound for every seq */
    for (a = 0; a < n; ++a)
        if (r->w->tok[a] < lo || r->w->tok[a] > hi)
            r->w->tok[m++] = r->w->tok[a];
    if (r->order == AETHER_TILED_ORDER_FORWARD && r->cfg->sort_candidates)
        aether_pattern_sort(r->w->tok, m);
    return m;
}

/* Mean rows of block b for the current kv head, cached in slot `slot`:
 * consecutive queries mostly share their block lists, so a slot keyed by list
 * position hits until the pivot block moves. Same arithmetic as
 * aether_landmarks_prefill_ (per component: ascending sum, then / count). */
static void block_means(const tiled_run *r, size_t slot, size_t b, const float **mk,
                        const float **mv)
{
    tiled_ws *w = r->w;
    float *ck = w->mk + slot * r->dim, *cv = w->mv + slot * r->dim;
    if (w->tag[slot] != b) {
        size_t bs = r->cfg->block_size, start = b * bs;
        size_t end = r->seq - start > bs ? start + bs : r->seq;
        size_t stride = r->kvh * r->dim, t, d;
        const float *kb = r->k->data + r->hk * r->dim, *vb = r->v->data + r->hk * r->dim;
        float count = (float)(end - start);
        for (d = 0; d < r->dim; ++d)
            ck[d] = cv[d] = 0.0f;
        for (t = start; t < end; ++t) {
            const float *kt = kb + t * stride, *vt = vb + t * stride;
            for (d = 0; d < r->dim; ++d) {
                ck[d] = ck[d] + kt[d];
                cv[d] = cv[d] + vt[d];
            }
        }
        for (d = 0; d < r->dim; ++d) {
            ck[d] = ck[d] / count;
            cv[d] = cv[d] / count;
        }
        w->tag[slot] = b;
    }
    *mk = ck;
    *mv = cv;
}

static void visit_blocks(const tiled_run *r, size_t i, size_t t)
{
    size_t n = 0, a, g;
    aether_osm *s = states(r, t);
    if (!r->cfg->use_landmarks)
        return;
    if (aether_pattern_blocks(r->cfg, i, r->seq, r->w->blk, r->w->blk_cap, &n) != AETHER_OK)
        return; /* cannot happen: blk_cap is a bound for every seq */
    if (r->order == AETHER_TILED_ORDER_FORWARD && r->cfg->sort_candidates)
        aether_pattern_sort(r->w->blk, n);
    for (a = 0; a < n; ++a) {
        const float *mk, *mv;
        block_means(r, a, r->w->blk[a], &mk, &mv);
        for (g = 0; g < r->group; ++g) {
            const float *qr = q_row(r, i, r->hk * r->group + g);
            float score = aether_dot_ref(qr, mk, r->dim) * r->scale;
            aether_osm_push(&s[g], score, mv);
        }
    }
}

/* Window keys of the tile's queries, one K/V tile at a time. Windows start
 * and end monotonically in i, so the tile's union is [lo(q0), hi(q1-1)]. */
static void window_phase(const tiled_run *r, size_t q0, size_t q1)
{
    size_t T = r->w->tile, hi = win_hi(r, q1 - 1), t0 = win_lo(r, q0);
    for (;;) {
        size_t t1 = hi - t0 < T ? hi : t0 + T - 1; /* inclusive end of the K/V tile */
        size_t i, j;
        for (i = q0; i < q1; ++i) {
            size_t a = win_lo(r, i), b = win_hi(r, i);
            if (a < t0)
                a = t0;
            if (b > t1)
                b = t1;
            for (j = a; a <= b && j <= b; ++j)
                visit_token(r, i, i - q0, j);
        }
        if (t1 == hi)
            return;
        t0 = t1 + 1;
    }
}

static void run_tile(const tiled_run *r, size_t q0, size_t q1)
{
    size_t i, g, a, n;
    int fwd = r->order == AETHER_TILED_ORDER_FORWARD;
    int sorted = fwd && r->cfg->sort_candidates;

    for (i = q0; i < q1; ++i)
        for (g = 0; g < r->group; ++g)
            aether_osm_begin(&states(r, i - q0)[g],
                             r->w->acc + ((i - q0) * r->group + g) * r->dim, r->dim);

    /* Sorted forward order: scattered keys before the window come first. */
    if (sorted)
        for (i = q0; i < q1; ++i) {
            size_t lo = win_lo(r, i);
            n = scattered(r, i);
            for (a = 0; a < n && r->w->tok[a] < lo; ++a)
                visit_token(r, i, i - q0, r->w->tok[a]);
        }

    window_phase(r, q0, q1);

    for (i = q0; i < q1; ++i) {
        size_t t = i - q0;
        if (!fwd)
            visit_blocks(r, i, t);
        n = scattered(r, i);
        for (a = 0; a < n; ++a)
            if (!sorted || r->w->tok[a] > win_hi(r, i))
                visit_token(r, i, t, r->w->tok[a]);
        if (fwd)
            visit_blocks(r, i, t);
        for (g = 0; g < r->group; ++g)
            aether_osm_end(&states(r, t)[g],
                           r->out->data + (i * r->qh + r->hk * r->group + g) * r->dim);
    }
}

static aether_status window0_config(const aether_attn_config *cfg, aether_attn_config *c0)
{
    aether_attn_params p;
    p.window = 0;
    p.block_size = cfg->block_size;
    p.globals = cfg->globals;
    p.n_globals = cfg->n_globals;
    p.causal = cfg->causal;
    p.use_log_stride = cfg->use_log_stride;
    p.use_landmarks = 0;
    p.sort_candidates = 0;
    return aether_attn_config_init(c0, &p);
}

/* Shapes validated; k->heads > 0 divides q->heads. */
static aether_status run_tiled(const aether_attn_config *cfg, const aether_tensor *q,
                               const aether_tensor *k, const aether_tensor *v, aether_tensor *out,
                               size_t tile, aether_tiled_order order, void *ws, size_t ws_len)
{
    aether_attn_config cfg0;
    tiled_run r;
    tiled_ws w;
    aether_arena a;
    aether_status st;
    size_t need, q0, b;

    if (q->seq == 0 || q->heads == 0)
        return AETHER_OK;
    if ((st = window0_config(cfg, &cfg0)) != AETHER_OK)
        return st;
    r.cfg = cfg;
    r.cfg0 = &cfg0;
    r.q = q;
    r.k = k;
    r.v = v;
    r.out = out;
    r.seq = q->seq;
    r.dim = q->dim;
    r.qh = q->heads;
    r.kvh = k->heads;
    r.group = q->heads / k->heads;
    r.scale = aether_attn_scale(q->dim);
    r.order = order;
    r.w = &w;
    tile = aether_attn_tiled_tile(cfg, tile);

    if ((st = measure(cfg, r.seq, r.group, r.dim, tile, &need)) != AETHER_OK)
        return st;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    aether_arena_init(&a, ws, ws_len);
    if ((st = layout(&a, cfg, r.seq, r.group, r.dim, tile, &w)) != AETHER_OK)
        return st;

    for (r.hk = 0; r.hk < r.kvh; ++r.hk) {
        for (b = 0; b < w.blk_cap; ++b)
            w.tag[b] = NO_BLOCK; /* cached means belong to one kv head */
        for (q0 = 0; q0 < r.seq; q0 += w.tile) {
            size_t q1 = r.seq - q0 > w.tile ? q0 + w.tile : r.seq;
            run_tile(&r, q0, q1);
        }
    }
    return AETHER_OK;
}


static int order_ok(aether_tiled_order order)
{
    return order == AETHER_TILED_ORDER_REFERENCE || order == AETHER_TILED_ORDER_FORWARD;
}

aether_status aether_attn_forward_tiled(const aether_attn_config *cfg, const aether_tensor *q,
                                        const aether_tensor *k, const aether_tensor *v,
                                        aether_tensor *out, size_t tile, aether_tiled_order order,
                                        void *ws, size_t ws_len)
{
    aether_status st;
    if (!cfg || !q || !k || !v || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_attn_config_check(cfg)) != AETHER_OK)
        return st;
    if (!order_ok(order))
        return AETHER_ERR_INVALID_ARG;
    if (q->dim == 0)
        return AETHER_ERR_ZERO_HEAD_DIM;
    if (!aether_tensor_same_shape(q, k) || !aether_tensor_same_shape(k, v))
        return AETHER_ERR_SHAPE_MISMATCH;
    if (!aether_tensor_same_shape(out, q))
        return AETHER_ERR_SHAPE_MISMATCH;
    if ((st = aether_attn_check_data_(q, k, v, out)) != AETHER_OK)
        return st;
    return run_tiled(cfg, q, k, v, out, tile, order, ws, ws_len);
}

aether_status aether_attn_forward_gqa_tiled(const aether_attn_config *cfg, const aether_tensor *q,
                                            const aether_tensor *k, const aether_tensor *v,
                                            aether_tensor *out, size_t tile,
                                            aether_tiled_order order, void *ws, size_t ws_len)
{
    aether_status st;
    if (!cfg || !q || !k || !v || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_attn_config_check(cfg)) != AETHER_OK)
        return st;
    if (!order_ok(order))
        return AETHER_ERR_INVALID_ARG;
    if (q->dim == 0)
        return AETHER_ERR_ZERO_HEAD_DIM;
    if (q->seq != k->seq || k->seq != v->seq)
        return AETHER_ERR_SHAPE_MISMATCH;
    if (q->dim != k->dim || k->dim != v->dim)
        return AETHER_ERR_HEAD_DIM_MISMATCH;
    if (k->heads == 0 || q->heads % k->heads != 0)
        return AETHER_ERR_GQA_RATIO;
    if (k->heads != v->heads)
        return AETHER_ERR_KV_HEADS_MISMATCH;
    if (!aether_tensor_same_shape(out, q))
        return AETHER_ERR_SHAPE_MISMATCH;
    if ((st = aether_attn_check_data_(q, k, v, out)) != AETHER_OK)
        return st;
    return run_tiled(cfg, q, k, v, out, tile, order, ws, ws_len);
}
