/*
 * Gated single-token decode over a KV cache, through the cache's public
 * accessors only: the candidate lists of the newest position, the section
 * 10.1 token filter, then the reference online softmax per query head.
 */
#include "core/workspace.h"
#include "aether/attention_gated.h"

#include <stdlib.h>

#include "gate/gated_internal.h"
#include "kernels/osm.h"
#include "kernels/sparse_internal.h"

typedef struct gd_ws {
    size_t *tok, *blk;
    size_t tok_cap, blk_cap;
    float *krow, *vrow; /* all kv heads of one candidate */
    aether_osm *st;     /* one state per query head */
    float *acc;         /* [q_heads][dim] */
} gd_ws;

static aether_status gd_layout(aether_arena *a, const aether_attn_config *cfg, size_t capacity,
                               size_t q_heads, size_t kv_heads, size_t dim, gd_ws *w)
{
    size_t row, accs;
    if (aether_size_mul(kv_heads, dim, &row) != AETHER_OK ||
        aether_size_mul(q_heads, dim, &accs) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    w->tok_cap = aether_pattern_max_tokens(cfg, capacity);
    w->blk_cap = aether_pattern_max_blocks(cfg, capacity);
    w->tok = (size_t *)aether_arena_alloc(a, w->tok_cap ? w->tok_cap : 1, sizeof(size_t),
                                          sizeof(size_t));
    w->blk = (size_t *)aether_arena_alloc(a, w->blk_cap ? w->blk_cap : 1, sizeof(size_t),
                                          sizeof(size_t));
    w->krow = (float *)aether_arena_alloc(a, row ? row : 1, sizeof(float), AETHER_ALIGN);
    w->vrow = (float *)aether_arena_alloc(a, row ? row : 1, sizeof(float), AETHER_ALIGN);
    w->st = (aether_osm *)aether_arena_alloc(a, q_heads ? q_heads : 1, sizeof(aether_osm),
                                             AETHER_ALIGN);
    w->acc = (float *)aether_arena_alloc(a, accs ? accs : 1, sizeof(float), AETHER_ALIGN);
    return a->status;
}

static aether_status measure(const aether_attn_config *cfg, const aether_kvcache *cache,
                             size_t q_heads, size_t *bytes)
{
    aether_arena a;
    gd_ws w;
    aether_status st;
    aether_arena_measure(&a);
    st = gd_layout(&a, cfg, aether_kvcache_capacity(cache), q_heads,
                   aether_kvcache_kv_heads(cache), aether_kvcache_head_dim(cache), &w);
    if (st == AETHER_OK)
        *bytes = a.used;
    return st;
}

aether_status aether_kvcache_decode_gated_workspace_size(const aether_attn_config *cfg,
                                                         const aether_kvcache *cache,
                                                         size_t q_heads, size_t *bytes)
{
    aether_status st;
    if (!cfg || !cache || !bytes)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_attn_config_check(cfg)) != AETHER_OK)
        return st;
    return measure(cfg, cache, q_heads, bytes);
}

static aether_status validate(const aether_attn_config *cfg, const aether_tensor *q1,
                              const aether_kvcache *cache, const uint8_t *keep, size_t n_keep,
                              const aether_tensor *out)
{
    size_t kvh, len, n, i;
    aether_status st;
    if (!cfg || !q1 || !cache || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_attn_config_check(cfg)) != AETHER_OK)
        return st;
    if (aether_kvcache_kv_heads(cache) == 0)
        return AETHER_ERR_NOT_INITIALIZED; /* a live cache has kv_heads > 0 */
    if (cfg->block_size != aether_kvcache_block_size(cache))
        return AETHER_ERR_BLOCK_MISMATCH;
    if (q1->seq != 1)
        return AETHER_ERR_SEQ_NOT_ONE;
    if (q1->dim == 0)
        return AETHER_ERR_ZERO_HEAD_DIM;
    if (q1->dim != aether_kvcache_head_dim(cache))
        return AETHER_ERR_HEAD_DIM_MISMATCH;
    kvh = aether_kvcache_kv_heads(cache);
    if (kvh == 0 || q1->heads % kvh != 0)
        return AETHER_ERR_GQA_RATIO;
    if (!aether_tensor_same_shape(out, q1))
        return AETHER_ERR_SHAPE_MISMATCH;
    if ((st = aether_attn_check_tensor_(q1)) != AETHER_OK ||
        (st = aether_attn_check_tensor_(out)) != AETHER_OK)
        return st;
    /* out == q1 is fine (all scores are taken before any output row). */
    if (out->data != q1->data && aether_attn_overlaps_(out, q1))
        return AETHER_ERR_INVALID_ARG;
    len = aether_kvcache_len(cache);
    if (n_keep != len)
        return AETHER_ERR_MASK_LENGTH;
    if (len > 0 && !keep)
        return AETHER_ERR_NULL_ARG;
    if (aether_kvcache_tokens_seen(cache) != len)
        return AETHER_ERR_UNSUPPORTED;
    n = aether_tensor_size(q1);
    for (i = 0; i < n; ++i)
        if (!aether_isfinite(q1->data[i]))
            return AETHER_ERR_NONFINITE;
    return AETHER_OK;
}

aether_status aether_kvcache_decode_gated(const aether_attn_config *cfg, const aether_tensor *q1,
                                          const aether_kvcache *cache, const uint8_t *keep,
                                          size_t n_keep, aether_tensor *out, void *ws,
                                          size_t ws_len)
{
    size_t len, qh, kvh, dim, group, i, n_tok = 0, n_blk = 0, a, h, need;
    aether_arena ar;
    gd_ws w;
    float scale;
    aether_status st = validate(cfg, q1, cache, keep, n_keep, out);
    if (st != AETHER_OK)
        return st;
    len = aether_kvcache_len(cache);
    qh = q1->heads;
    if (len == 0 || qh == 0) {
        for (a = 0; a < aether_tensor_size(out); ++a)
            out->data[a] = 0.0f;
        return AETHER_OK;
    }
    kvh = aether_kvcache_kv_heads(cache);
    dim = q1->dim;
    group = qh / kvh;

    if ((st = measure(cfg, cache, qh, &need)) != AETHER_OK)
        return st;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    aether_arena_init(&ar, ws, ws_len);
    if ((st = gd_layout(&ar, cfg, aether_kvcache_capacity(cache), qh, kvh, dim, &w)) != AETHER_OK)
        goto done;

    i = len - 1;
    if ((st = aether_sparse_candidates_(cfg, i, len, w.tok, w.tok_cap, &n_tok, w.blk, w.blk_cap,
                                        &n_blk)) != AETHER_OK)
        goto done;
    n_tok = aether_gated_filter_(cfg, i, len, keep, w.tok, n_tok);
    scale = aether_attn_scale(dim);
    for (h = 0; h < qh; ++h)
        aether_osm_begin(&w.st[h], w.acc + h * dim, dim);

    /* Candidate-major, so each cached row is fetched once for all heads;
     * every head still sees its candidates in list order. */
    for (a = 0; a < n_tok + n_blk; ++a) {
        if (a < n_tok)
            st = aether_kvcache_slot_rows(cache, w.tok[a], w.krow, w.vrow);
        else
            st = aether_kvcache_landmark(cache, w.blk[a - n_tok], w.krow, w.vrow);
        if (st != AETHER_OK)
            goto done;
        for (h = 0; h < qh; ++h) {
            size_t off = (h / group) * dim;
            float score = aether_dot_ref(q1->data + h * dim, w.krow + off, dim) * scale;
            aether_osm_push(&w.st[h], score, w.vrow + off);
        }
    }
    for (h = 0; h < qh; ++h)
        aether_osm_end(&w.st[h], out->data + h * dim);
done:
    return st;
}
