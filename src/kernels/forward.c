/*
 * Sparse prefill reference (docs/KERNELS.md sections 7 and 8): MHA and
 * GQA/MQA. Candidate lists are head-independent, so each query's lists are
 * built once and reused for every head. Scalar code only: the public entry
 * points (validation, workspace, kernel choice) are in src/dispatch.
 * Non-finite inputs are not screened: NaN/Inf propagate exactly as in the
 * reference recurrence (docs/KERNELS.md section 4.2).
 */
#include "kernels/osm.h"
#include "kernels/sparse_internal.h"

#include <stdint.h>
#include <string.h>

void aether_sparse_query_(const float *q, size_t dim, float scale, const aether_rows *tokens,
                          const size_t *tok, size_t n_tok, const aether_rows *blocks,
                          const size_t *blk, size_t n_blk, float *acc, float *out)
{
    aether_osm s;
    size_t a;
    aether_osm_begin(&s, acc, dim);
    for (a = 0; a < n_tok; ++a) {
        size_t off = tok[a] * tokens->stride;
        float score = aether_dot_ref(q, tokens->k + off, dim) * scale;
        aether_osm_push(&s, score, tokens->v + off);
    }
    for (a = 0; a < n_blk; ++a) {
        size_t off = blk[a] * blocks->stride;
        float score = aether_dot_ref(q, blocks->k + off, dim) * scale;
        aether_osm_push(&s, score, blocks->v + off);
    }
    aether_osm_end(&s, out);
}

aether_status aether_sparse_candidates_(const aether_attn_config *cfg, size_t i, size_t seq,
                                        size_t *tok, size_t tok_cap, size_t *n_tok, size_t *blk,
                                        size_t blk_cap, size_t *n_blk)
{
    aether_status st = aether_pattern_tokens(cfg, i, seq, tok, tok_cap, n_tok);
    if (st != AETHER_OK)
        return st;
    st = aether_pattern_blocks(cfg, i, seq, blk, blk_cap, n_blk);
    if (st != AETHER_OK)
        return st;
    if (cfg->sort_candidates) {
        aether_pattern_sort(tok, *n_tok);
        aether_pattern_sort(blk, *n_blk);
    }
    return AETHER_OK;
}

aether_status aether_sparse_ws_layout_(aether_arena *a, const aether_attn_config *cfg, size_t seq,
                                       size_t kv_heads, size_t dim, aether_sparse_ws *w)
{
    size_t lm = 0;
    memset(w, 0, sizeof *w);
    w->nb = cfg->use_landmarks ? aether_ceil_div(seq, cfg->block_size) : 0;
    if (aether_size_mul3(w->nb, kv_heads, dim, &lm) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    w->tok_cap = aether_pattern_max_tokens(cfg, seq);
    w->blk_cap = aether_pattern_max_blocks(cfg, seq);
    if (lm > 0) {
        w->lm_k = (float *)aether_arena_alloc(a, lm, sizeof(float), AETHER_ALIGN);
        w->lm_v = (float *)aether_arena_alloc(a, lm, sizeof(float), AETHER_ALIGN);
    }
    /* Never zero-length, so every pointer is valid even for empty lists. */
    w->tok = (size_t *)aether_arena_alloc(a, w->tok_cap ? w->tok_cap : 1, sizeof(size_t),
                                          sizeof(size_t));
    w->blk = (size_t *)aether_arena_alloc(a, w->blk_cap ? w->blk_cap : 1, sizeof(size_t),
                                          sizeof(size_t));
    w->acc = (float *)aether_arena_alloc(a, dim ? dim : 1, sizeof(float), AETHER_ALIGN);
    return a->status;
}

aether_status aether_attn_check_tensor_(const aether_tensor *t)
{
    size_t n;
    if (aether_tensor_numel(t->seq, t->heads, t->dim, &n) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    if (n > 0 && !t->data)
        return AETHER_ERR_NULL_ARG;
    return AETHER_OK;
}

int aether_attn_overlaps_(const aether_tensor *a, const aether_tensor *b)
{
    uintptr_t a0 = (uintptr_t)a->data, b0 = (uintptr_t)b->data;
    uintptr_t a1 = a0 + aether_tensor_size(a) * sizeof(float);
    uintptr_t b1 = b0 + aether_tensor_size(b) * sizeof(float);
    if (a0 == a1 || b0 == b1)
        return 0;
    return a0 < b1 && b0 < a1;
}

/* Data pointers, sizes and aliasing, after the shape checks have passed.
 * out may share memory with q (row (i,h) of q is read before the same row
 * of out is written, and by nobody else) but never with k or v. */
aether_status aether_attn_check_data_(const aether_tensor *q, const aether_tensor *k,
                                      const aether_tensor *v, const aether_tensor *out)
{
    aether_status st;
    if ((st = aether_attn_check_tensor_(q)) != AETHER_OK ||
        (st = aether_attn_check_tensor_(k)) != AETHER_OK ||
        (st = aether_attn_check_tensor_(v)) != AETHER_OK ||
        (st = aether_attn_check_tensor_(out)) != AETHER_OK)
        return st;
    if ((out->data != q->data && aether_attn_overlaps_(out, q)) ||
        aether_attn_overlaps_(out, k) || aether_attn_overlaps_(out, v))
        return AETHER_ERR_INVALID_ARG;
    return AETHER_OK;
}

void aether_sparse_prefill_ref_(const aether_attn_config *cfg, const aether_tensor *q,
                                const aether_tensor *k, const aether_tensor *v,
                                aether_tensor *out, const aether_sparse_ws *w)
{
    size_t seq = q->seq, dim = q->dim, qh = q->heads, kvh = k->heads;
    size_t group = qh / kvh, i, h;
    float scale = aether_attn_scale(dim);
    for (i = 0; i < seq; ++i) {
        size_t n_tok = 0, n_blk = 0;
        if (aether_sparse_candidates_(cfg, i, seq, w->tok, w->tok_cap, &n_tok, w->blk, w->blk_cap,
                                      &n_blk) != AETHER_OK)
            return; /* cannot happen: capacities are the pattern's bounds */
        for (h = 0; h < qh; ++h) {
            size_t hk = h / group;
            aether_rows toks, blks;
            const float *qrow = q->data + (i * qh + h) * dim;
            toks.k = k->data + hk * dim;
            toks.v = v->data + hk * dim;
            toks.stride = kvh * dim;
            blks.k = w->lm_k ? w->lm_k + hk * dim : NULL;
            blks.v = w->lm_v ? w->lm_v + hk * dim : NULL;
            blks.stride = kvh * dim;
            aether_sparse_query_(qrow, dim, scale, &toks, w->tok, n_tok, &blks, w->blk, n_blk,
                                 w->acc, out->data + (i * qh + h) * dim);
        }
    }
}
