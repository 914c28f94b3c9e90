/*
 * Causal keep masks (docs/KERNELS.md section 11.7): keep[j] is fixed when key j arrives, from the
 * saliences 0..j, so a window forward with the mask and a streaming decode
 * that gates each key as it arrives (causal_gate.c) see the same candidates.
 */
#include "core/workspace.h"
#include "gate/gate_internal.h"

#include <math.h>
#include <stdlib.h>

/* ---- prefix top-k: min-heap of floats in the total order ---- */

static void heap_sift_down(float *a, size_t n, size_t r)
{
    for (;;) {
        size_t c = 2 * r + 1;
        float t;
        if (c >= n)
            return;
        if (c + 1 < n && aether_salience_above_(a[c], a[c + 1]))
            ++c;
        if (!aether_salience_above_(a[r], a[c]))
            return;
        t = a[r];
        a[r] = a[c];
        a[c] = t;
        r = c;
    }
}

static void heap_sift_up(float *a, size_t r)
{
    while (r > 0) {
        size_t p = (r - 1) / 2;
        float t;
        if (!aether_salience_above_(a[p], a[r]))
            return;
        t = a[p];
        a[p] = a[r];
        a[r] = t;
        r = p;
    }
}

/* The heap holds the k best earlier saliences. A newcomer is in the prefix
 * top k iff fewer than k earlier values are >= it; earlier equal values win
 * the tie, so it must beat the weakest of them strictly. Dropped values are
 * never among the k best, so the heap stays exact. */
int aether_prefix_topk_push_(aether_prefix_topk *t, float s)
{
    if (t->k == 0)
        return 0;
    if (t->n < t->k) {
        t->heap[t->n] = s;
        heap_sift_up(t->heap, t->n++);
        return 1;
    }
    if (!aether_salience_above_(s, t->heap[0]))
        return 0;
    t->heap[0] = s;
    heap_sift_down(t->heap, t->k, 0);
    return 1;
}

int aether_causal_decide_(const aether_causal_params *p, aether_prefix_topk *t, float s)
{
    if (p->rule == AETHER_CAUSAL_THRESHOLD)
        return s >= p->threshold; /* false for a NaN salience */
    return aether_prefix_topk_push_(t, s);
}

aether_status aether_causal_check_params_(const aether_causal_params *p)
{
    if (!p)
        return AETHER_ERR_NULL_ARG;
    if (p->rule == AETHER_CAUSAL_PREFIX_TOP_K)
        return AETHER_OK;
    if (p->rule == AETHER_CAUSAL_THRESHOLD)
        return isnan(p->threshold) ? AETHER_ERR_INVALID_ARG : AETHER_OK;
    return AETHER_ERR_INVALID_ARG;
}

/* Heap entries a rule needs for a stream of at most n keys. */
static size_t heap_len(const aether_causal_params *p, size_t n)
{
    if (p->rule != AETHER_CAUSAL_PREFIX_TOP_K)
        return 0;
    return p->top_k < n ? p->top_k : n;
}

/* The heap carved from ws (aligned, whatever ws's alignment), or measured
 * when ws is NULL. */
static float *heap_layout(const aether_causal_params *p, size_t n, void *ws, size_t ws_len,
                          size_t *need, aether_status *st)
{
    aether_arena a;
    float *h;
    size_t m = heap_len(p, n);
    if (ws)
        aether_arena_init(&a, ws, ws_len);
    else
        aether_arena_measure(&a);
    h = (float *)aether_arena_alloc(&a, m ? m : 1, sizeof(float), sizeof(float));
    *need = a.used;
    *st = a.status;
    return h;
}

aether_status aether_keep_mask_causal_workspace_size(const aether_causal_params *p, size_t n,
                                                     size_t *bytes)
{
    aether_status st = aether_causal_check_params_(p);
    if (st != AETHER_OK)
        return st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    (void)heap_layout(p, n, NULL, 0, bytes, &st);
    return st;
}

aether_status aether_keep_mask_causal(const aether_causal_params *p, const float *s, size_t n,
                                      uint8_t *mask, void *ws, size_t ws_len)
{
    aether_prefix_topk t;
    size_t need, i;
    aether_status st;
    if ((st = aether_keep_mask_causal_workspace_size(p, n, &need)) != AETHER_OK)
        return st;
    if (n == 0)
        return AETHER_OK;
    if (!s || !mask)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    t.heap = heap_layout(p, n, ws, ws_len, &need, &st);
    t.k = heap_len(p, n);
    t.n = 0;
    /* With k >= n every position is kept, and k entries are never needed. */
    if (p->rule == AETHER_CAUSAL_PREFIX_TOP_K && p->top_k >= n) {
        for (i = 0; i < n; ++i)
            mask[i] = 1;
    } else {
        for (i = 0; i < n; ++i)
            mask[i] = (uint8_t)aether_causal_decide_(p, &t, s[i]);
    }
    return AETHER_OK;
}

/* ---- window form ---- */

static aether_status window_layout(aether_arena *a, const aether_fastgrnn *g,
                                   const aether_causal_params *p, size_t seq, float **sal,
                                   void **gws, size_t *gws_len, void **cws, size_t *cws_len)
{
    aether_status st;
    if ((st = aether_fastgrnn_workspace_size(g, gws_len)) != AETHER_OK ||
        (st = aether_keep_mask_causal_workspace_size(p, seq, cws_len)) != AETHER_OK)
        return st;
    *sal = (float *)aether_arena_alloc(a, seq ? seq : 1, sizeof(float), AETHER_ALIGN);
    *gws = aether_arena_alloc(a, *gws_len, 1, AETHER_ALIGN);
    *cws = aether_arena_alloc(a, *cws_len, 1, AETHER_ALIGN);
    return a->status;
}

aether_status aether_causal_gate_window_workspace_size(const aether_fastgrnn *g,
                                                       const aether_causal_params *p, size_t seq,
                                                       size_t *bytes)
{
    aether_arena a;
    float *sal;
    void *gws, *cws;
    size_t gl, cl;
    aether_status st;
    if ((st = aether_fastgrnn_check_(g)) != AETHER_OK ||
        (st = aether_causal_check_params_(p)) != AETHER_OK)
        return st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    aether_arena_measure(&a);
    if ((st = window_layout(&a, g, p, seq, &sal, &gws, &gl, &cws, &cl)) != AETHER_OK)
        return st;
    *bytes = a.used;
    return AETHER_OK;
}

aether_status aether_causal_gate_window(const aether_fastgrnn *g, const aether_causal_params *p,
                                        const aether_tensor *k, uint8_t *mask, size_t n_mask,
                                        float *salience_out, void *ws, size_t ws_len)
{
    aether_arena a;
    float *sal;
    void *gws, *cws;
    size_t gl, cl, need;
    aether_status st;
    if ((st = aether_fastgrnn_check_(g)) != AETHER_OK ||
        (st = aether_causal_check_params_(p)) != AETHER_OK)
        return st;
    if (!k)
        return AETHER_ERR_NULL_ARG;
    if (k->dim != g->in)
        return AETHER_ERR_SHAPE_MISMATCH;
    if (n_mask != k->seq)
        return AETHER_ERR_MASK_LENGTH;
    if (k->seq == 0)
        return AETHER_OK;
    if (!mask)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_causal_gate_window_workspace_size(g, p, k->seq, &need)) != AETHER_OK)
        return st;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    aether_arena_init(&a, ws, ws_len);
    if ((st = window_layout(&a, g, p, k->seq, &sal, &gws, &gl, &cws, &cl)) != AETHER_OK ||
        (st = aether_fastgrnn_score_kv(g, k, sal, k->seq, gws, gl)) != AETHER_OK ||
        (st = aether_keep_mask_causal(p, sal, k->seq, mask, cws, cl)) != AETHER_OK)
        return st;
    if (salience_out) {
        size_t i;
        for (i = 0; i < k->seq; ++i)
            salience_out[i] = sal[i];
    }
    return AETHER_OK;
}
