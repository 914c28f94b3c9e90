/*
 * Optimised prefill/dense drivers. Work is cut into items of (kv head,
 * subgroup of its query heads, block of consecutive queries); the rows of
 * an item (queries x heads) share every K/V row load. The cut depends only
 * on the shapes and the ISA, never on the thread count, so every row sees
 * the same arithmetic whichever worker computes it.
 */
#include <stdint.h>
#include <string.h>

#include "kernels/parallel.h"
#include "kernels/fast.h"
#include "kernels/osm.h"

#define ALIGN_UP(x) (((x) + (AETHER_ALIGN - 1)) & ~(size_t)(AETHER_ALIGN - 1))

aether_status aether_fast_scratch_bytes_(size_t tok_cap, size_t blk_cap, size_t dim,
                                         size_t *bytes)
{
    size_t f = 0, lists = 0, per = 0, total = 0;
    if (aether_size_mul(dim, 2 * AETHER_TILE_RMAX, &f) != AETHER_OK ||
        aether_size_add(f, AETHER_TILE_KC * AETHER_TILE_RMAX + 3 * AETHER_TILE_RMAX, &f) !=
            AETHER_OK ||
        aether_size_mul(f, sizeof(float), &f) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    /* Per query of an item: its token and block lists (extras). */
    if (aether_size_add(tok_cap, blk_cap, &per) != AETHER_OK ||
        aether_size_add(per, 2, &per) != AETHER_OK ||
        aether_size_mul3(per, AETHER_TILE_RMAX + 1, sizeof(size_t), &lists) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    if (aether_size_add(ALIGN_UP(f), lists, &total) != AETHER_OK ||
        aether_size_add(total, 2 * AETHER_ALIGN, &total) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    *bytes = total;
    return AETHER_OK;
}

typedef struct job {
    const aether_simd_ops *ops;
    const aether_attn_config *cfg;  /* NULL: dense */
    const aether_attn_config *cfg0; /* cfg with window 0 and no landmarks */
    int causal;
    const float *q, *k, *v, *lm_k, *lm_v;
    float *out;
    size_t seq, qh, kvh, dim, group;
    size_t gsub, n_sub; /* heads per item, subgroups per kv head */
    size_t qt, n_qt;    /* queries per item, query blocks */
    size_t tok_cap, blk_cap;
    float scale;
    unsigned char **scratch; /* per worker, 64-byte aligned */
} job;

/* The window of query i as the pattern emits it (docs/KERNELS.md section 5.1). */
static void window_of(const job *j, size_t i, size_t *lo, size_t *hi)
{
    size_t w;
    if (!j->cfg) {
        *lo = 0;
        *hi = j->causal ? i : j->seq - 1;
        return;
    }
    w = j->cfg->window;
    *lo = i >= w ? i - w : 0;
    if (j->cfg->causal)
        *hi = i;
    else
        *hi = w >= j->seq - 1 - i ? j->seq - 1 : i + w;
}

/* One item: a block of queries and one subgroup of heads per kv head, for
 * every kv head in turn (the candidate lists are head-independent, so they
 * are built once per item). */
static void run_item(void *ctx, size_t item, unsigned worker)
{
    const job *j = (const job *)ctx;
    size_t qb = item % j->n_qt, sg = item / j->n_qt;
    size_t i0 = qb * j->qt, nq = j->seq - i0 < j->qt ? j->seq - i0 : j->qt;
    size_t nh = j->group - sg * j->gsub < j->gsub ? j->group - sg * j->gsub : j->gsub;
    unsigned char *base = j->scratch[worker];
    size_t fl = ALIGN_UP(aether_tile_scratch_floats(j->dim) * sizeof(float));
    size_t *lists = (size_t *)(void *)(base + fl);
    size_t per = j->tok_cap + j->blk_cap + 2;
    const float *qp[AETHER_TILE_RMAX];
    float *op[AETHER_TILE_RMAX];
    size_t lo[AETHER_TILE_RMAX], hi[AETHER_TILE_RMAX];
    const size_t *et[AETHER_TILE_RMAX], *eb[AETHER_TILE_RMAX];
    size_t net[AETHER_TILE_RMAX], neb[AETHER_TILE_RMAX];
    size_t a, hh, hk, r = 0, n_prev = 0;
    size_t *prev = NULL;
    aether_tile t;

    for (a = 0; a < nq; ++a) {
        size_t i = i0 + a, wlo, whi, n_tok = 0, n_blk = 0, n_x = 0, b;
        size_t *tok = lists + a * per, *blk = tok + j->tok_cap + 1;
        window_of(j, i, &wlo, &whi);
        if (j->cfg) {
            /* Capacities are the pattern's bounds: these cannot fail. */
            (void)aether_pattern_tokens(j->cfg0, i, j->seq, tok, j->tok_cap, &n_tok);
            if (j->lm_k)
                (void)aether_pattern_blocks(j->cfg, i, j->seq, blk, j->blk_cap, &n_blk);
            /* The window-0 list is the query, the globals and the
             * log-stride keys; dropping what falls in the window leaves
             * exactly the full list's tail after its window
             * (docs/KERNELS.md section 5.1), never writing the window. */
            for (b = 0; b < n_tok; ++b)
                if (tok[b] < wlo || tok[b] > whi)
                    tok[n_x++] = tok[b];
        }
        /* Consecutive queries mostly have the same landmark list: share
         * the pointer, so the tile sees the rows' lists as one. */
        if (prev && n_blk == n_prev && !memcmp(prev, blk, n_blk * sizeof *blk))
            blk = prev;
        prev = blk;
        n_prev = n_blk;
        for (hh = 0; hh < nh; ++hh, ++r) {
            lo[r] = wlo;
            hi[r] = whi;
            et[r] = tok;
            net[r] = n_x;
            eb[r] = blk;
            neb[r] = n_blk;
        }
    }
    t.rows = r;
    t.dim = j->dim;
    t.scale = j->scale;
    t.q = qp;
    t.out = op;
    t.lo = lo;
    t.hi = hi;
    t.ext_tok = et;
    t.n_ext_tok = net;
    t.ext_blk = eb;
    t.n_ext_blk = neb;
    t.scratch = (float *)(void *)base;
    for (hk = 0; hk < j->kvh; ++hk) {
        size_t h0 = hk * j->group + sg * j->gsub;
        for (a = 0, r = 0; a < nq; ++a)
            for (hh = 0; hh < nh; ++hh, ++r) {
                size_t row = (i0 + a) * j->qh + h0 + hh;
                qp[r] = j->q + row * j->dim;
                op[r] = j->out + row * j->dim;
            }
        t.tokens.k = j->k + hk * j->dim;
        t.tokens.v = j->v + hk * j->dim;
        t.tokens.stride = j->kvh * j->dim;
        t.blocks.k = j->lm_k ? j->lm_k + hk * j->dim : NULL;
        t.blocks.v = j->lm_v ? j->lm_v + hk * j->dim : NULL;
        t.blocks.stride = j->kvh * j->dim;
        j->ops->tile(&t);
    }
}

static unsigned char *align64(void *p)
{
    uintptr_t u = (uintptr_t)p;
    return (unsigned char *)p + ((AETHER_ALIGN - u % AETHER_ALIGN) % AETHER_ALIGN);
}

/* Workers take consecutive blocks of `each` bytes from scratch. */
static void run(job *j, unsigned workers, unsigned char *scratch, size_t each)
{
    size_t items;
    unsigned t;
    unsigned char *ptrs[256];
    j->group = j->qh / j->kvh;
    j->scale = aether_attn_scale(j->dim);
    if (j->group >= j->ops->rows) {
        j->gsub = j->ops->rows;
        j->qt = 1;
    } else {
        j->gsub = j->group;
        j->qt = j->ops->rows / j->group;
    }
    j->n_sub = aether_ceil_div(j->group, j->gsub);
    j->n_qt = aether_ceil_div(j->seq, j->qt);
    items = j->n_sub * j->n_qt;
    if (workers > 256)
        workers = 256;
    if (workers < 1)
        workers = 1;
    for (t = 0; t < workers; ++t)
        ptrs[t] = align64(scratch + (size_t)t * each);
    j->scratch = ptrs;
    aether_parallel_run_(workers, items, run_item, j);
}

void aether_fast_sparse_(const aether_simd_ops *ops, const aether_attn_config *cfg,
                         const aether_tensor *q, const aether_tensor *k, const aether_tensor *v,
                         aether_tensor *out, const float *lm_k, const float *lm_v, size_t tok_cap,
                         size_t blk_cap, unsigned workers, void *scratch, size_t each)
{
    job j;
    aether_attn_config cfg0;
    aether_attn_params p;
    memset(&j, 0, sizeof j);
    p.window = 0;
    p.block_size = cfg->block_size;
    p.globals = cfg->globals;
    p.n_globals = cfg->n_globals;
    p.causal = cfg->causal;
    p.use_log_stride = cfg->use_log_stride;
    p.use_landmarks = 0;
    p.sort_candidates = 0;
    /* Valid whenever cfg is (a window of 0 is legal, nothing else changed). */
    (void)aether_attn_config_init(&cfg0, &p);
    j.ops = ops;
    j.cfg = cfg;
    j.cfg0 = &cfg0;
    j.causal = cfg->causal;
    j.q = q->data;
    j.k = k->data;
    j.v = v->data;
    j.lm_k = lm_k;
    j.lm_v = lm_v;
    j.out = out->data;
    j.seq = q->seq;
    j.qh = q->heads;
    j.kvh = k->heads;
    j.dim = q->dim;
    j.tok_cap = tok_cap;
    j.blk_cap = blk_cap;
    run(&j, workers, (unsigned char *)scratch, each);
}

void aether_fast_dense_(const aether_simd_ops *ops, const aether_tensor *q,
                        const aether_tensor *k, const aether_tensor *v, int causal,
                        aether_tensor *out, unsigned workers, void *scratch, size_t each)
{
    job j;
    memset(&j, 0, sizeof j);
    j.ops = ops;
    j.causal = causal;
    j.q = q->data;
    j.k = k->data;
    j.v = v->data;
    j.out = out->data;
    j.seq = q->seq;
    j.qh = q->heads;
    j.kvh = k->heads;
    j.dim = q->dim;
    run(&j, workers, (unsigned char *)scratch, each);
}
