/*
 * Sparse prefill reference (docs/KERNELS.md sections 7 and 8): MHA,
 * GQA/MQA and the head-count dispatch. Candidate lists are head-independent,
 * so each query's lists are built once and reused for every head.
 * Non-finite inputs are not screened: NaN/Inf propagate exactly as in the
 * reference recurrence (docs/KERNELS.md section 4.2).
 */
#include "kernels/fast.h"
#include "kernels/osm.h"
#include "kernels/sparse_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void aether_sparse_query(const float *q, size_t dim, float scale, const aether_rows *tokens,
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

aether_status aether_sparse_candidates(const aether_attn_config *cfg, size_t i, size_t seq,
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

aether_status aether_sparse_ws_layout(aether_arena *a, const aether_attn_config *cfg, size_t seq,
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

aether_status aether_attn_check_tensor(const aether_tensor *t)
{
    size_t n;
    if (aether_tensor_numel(t->seq, t->heads, t->dim, &n) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    if (n > 0 && !t->data)
        return AETHER_ERR_NULL_ARG;
    return AETHER_OK;
}

int aether_attn_overlaps(const aether_tensor *a, const aether_tensor *b)
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
aether_status aether_attn_check_data(const aether_tensor *q, const aether_tensor *k,
                                     const aether_tensor *v, const aether_tensor *out)
{
    aether_status st;
    if ((st = aether_attn_check_tensor(q)) != AETHER_OK ||
        (st = aether_attn_check_tensor(k)) != AETHER_OK ||
        (st = aether_attn_check_tensor(v)) != AETHER_OK ||
        (st = aether_attn_check_tensor(out)) != AETHER_OK)
        return st;
    if ((out->data != q->data && aether_attn_overlaps(out, q)) || aether_attn_overlaps(out, k) ||
        aether_attn_overlaps(out, v))
        return AETHER_ERR_INVALID_ARG;
    return AETHER_OK;
}

/* Scratch of the optimised path, appended to the reference layout so one
 * workspace size serves every kernel mode (single-threaded; more threads
 * malloc their own). */
static aether_status fast_layout(aether_arena *a, const aether_sparse_ws *w, size_t dim,
                                 void **scratch)
{
    size_t bytes = 0;
    void *p;
    if (aether_fast_scratch_bytes(w->tok_cap, w->blk_cap, dim, &bytes) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    p = aether_arena_alloc(a, bytes, 1, AETHER_ALIGN);
    if (scratch)
        *scratch = p;
    return a->status;
}

aether_status aether_attn_forward_workspace_size(const aether_attn_config *cfg, size_t seq,
                                                 size_t q_heads, size_t kv_heads, size_t dim,
                                                 size_t *bytes)
{
    aether_arena a;
    aether_sparse_ws w;
    aether_status st;
    /* Candidate lists are shared by all query heads: q_heads does not matter. */
    (void)q_heads;
    if (!cfg || !bytes)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_attn_config_check(cfg)) != AETHER_OK)
        return st;
    aether_arena_measure(&a);
    if ((st = aether_sparse_ws_layout(&a, cfg, seq, kv_heads, dim, &w)) != AETHER_OK ||
        (st = fast_layout(&a, &w, dim, NULL)) != AETHER_OK)
        return st;
    *bytes = a.used;
    return AETHER_OK;
}

/* Shapes are validated; k->heads > 0 and q->heads is a multiple of it. */
static aether_status run_sparse(const aether_attn_config *cfg, const aether_tensor *q,
                                const aether_tensor *k, const aether_tensor *v, aether_tensor *out,
                                void *ws, size_t ws_len)
{
    size_t seq = q->seq, dim = q->dim, qh = q->heads, kvh = k->heads;
    size_t group, i, h, need;
    aether_arena a;
    aether_sparse_ws w;
    aether_status st;
    void *heap = NULL, *fast_ws = NULL;
    const aether_simd_ops *ops;
    float scale;

    if (seq == 0 || qh == 0)
        return AETHER_OK;
    group = qh / kvh;
    aether_arena_measure(&a);
    if ((st = aether_sparse_ws_layout(&a, cfg, seq, kvh, dim, &w)) != AETHER_OK ||
        (st = fast_layout(&a, &w, dim, NULL)) != AETHER_OK)
        return st;
    need = a.used;
    if (!ws) {
        heap = malloc(need);
        if (!heap)
            return AETHER_ERR_NO_MEM;
        ws = heap;
        ws_len = need;
    } else if (ws_len < need) {
        return AETHER_ERR_BUFFER_TOO_SMALL;
    }
    aether_arena_init(&a, ws, ws_len);
    if ((st = aether_sparse_ws_layout(&a, cfg, seq, kvh, dim, &w)) != AETHER_OK ||
        (st = fast_layout(&a, &w, dim, &fast_ws)) != AETHER_OK) {
        free(heap);
        return st;
    }

    if (w.nb > 0) {
        aether_landmarks_prefill(k->data, seq, kvh, dim, cfg->block_size, w.lm_k);
        aether_landmarks_prefill(v->data, seq, kvh, dim, cfg->block_size, w.lm_v);
    }
    scale = aether_attn_scale(dim);

    ops = aether_simd_active();
    if (ops && aether_fast_sparse(ops, cfg, q, k, v, out, w.lm_k, w.lm_v, w.tok_cap, w.blk_cap,
                                  fast_ws, (size_t)(a.base + a.used - (unsigned char *)fast_ws)) ==
                   AETHER_OK) {
        free(heap);
        return AETHER_OK;
    }

    for (i = 0; i < seq; ++i) {
        size_t n_tok = 0, n_blk = 0;
        st = aether_sparse_candidates(cfg, i, seq, w.tok, w.tok_cap, &n_tok, w.blk, w.blk_cap,
                                      &n_blk);
        if (st != AETHER_OK)
            break; /* cannot happen: capacities are the pattern's bounds */
        for (h = 0; h < qh; ++h) {
            size_t hk = h / group;
            aether_rows toks, blks;
            const float *qrow = q->data + (i * qh + h) * dim;
            toks.k = k->data + hk * dim;
            toks.v = v->data + hk * dim;
            toks.stride = kvh * dim;
            blks.k = w.lm_k ? w.lm_k + hk * dim : NULL;
            blks.v = w.lm_v ? w.lm_v + hk * dim : NULL;
            blks.stride = kvh * dim;
            aether_sparse_query(qrow, dim, scale, &toks, w.tok, n_tok, &blks, w.blk, n_blk, w.acc,
                                out->data + (i * qh + h) * dim);
        }
    }
    free(heap);
    return st;
}

aether_status aether_attn_forward(const aether_attn_config *cfg, const aether_tensor *q,
                                  const aether_tensor *k, const aether_tensor *v,
                                  aether_tensor *out, void *ws, size_t ws_len)
{
    aether_status st;
    if (!cfg || !q || !k || !v || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_attn_config_check(cfg)) != AETHER_OK)
        return st;
    if (q->dim == 0)
        return AETHER_ERR_ZERO_HEAD_DIM;
    if (!aether_tensor_same_shape(q, k) || !aether_tensor_same_shape(k, v))
        return AETHER_ERR_SHAPE_MISMATCH;
    if (cfg->block_size == 0)
        return AETHER_ERR_BLOCK_SIZE;
    if (!aether_tensor_same_shape(out, q))
        return AETHER_ERR_SHAPE_MISMATCH;
    if ((st = aether_attn_check_data(q, k, v, out)) != AETHER_OK)
        return st;
    if (q->heads == 0)
        return AETHER_OK;
    return run_sparse(cfg, q, k, v, out, ws, ws_len);
}

aether_status aether_attn_forward_gqa(const aether_attn_config *cfg, const aether_tensor *q,
                                      const aether_tensor *k, const aether_tensor *v,
                                      aether_tensor *out, void *ws, size_t ws_len)
{
    aether_status st;
    if (!cfg || !q || !k || !v || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_attn_config_check(cfg)) != AETHER_OK)
        return st;
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
    if (cfg->block_size == 0)
        return AETHER_ERR_BLOCK_SIZE;
    if (!aether_tensor_same_shape(out, q))
        return AETHER_ERR_SHAPE_MISMATCH;
    if ((st = aether_attn_check_data(q, k, v, out)) != AETHER_OK)
        return st;
    return run_sparse(cfg, q, k, v, out, ws, ws_len);
}

aether_status aether_attn_forward_auto(const aether_attn_config *cfg, const aether_tensor *q,
                                       const aether_tensor *k, const aether_tensor *v,
                                       aether_tensor *out, void *ws, size_t ws_len)
{
    if (!q || !k)
        return AETHER_ERR_NULL_ARG;
    if (q->heads == k->heads)
        return aether_attn_forward(cfg, q, k, v, out, ws, ws_len);
    return aether_attn_forward_gqa(cfg, q, k, v, out, ws, ws_len);
}
