/*
 * Gated sparse prefill (docs/KERNELS.md section 10.1): the reference
 * forward loop with the token list filtered by a keep mask.
 */
#include "core/workspace.h"
#include "aether/attention_gated.h"

#include <stdlib.h>

#include "gate/gated_internal.h"
#include "kernels/osm.h"
#include "kernels/sparse_internal.h"

/* The list may already be sorted: filtering and sorting commute, so this
 * equals "filter, then sort". */
size_t aether_gated_filter_(const aether_attn_config *cfg, size_t i, size_t seq,
                            const uint8_t *keep, size_t *tok, size_t n)
{
    size_t lo = i >= cfg->window ? i - cfg->window : 0, hi, a, m = 0;
    if (cfg->causal)
        hi = i;
    else
        hi = cfg->window >= seq - 1 - i ? seq - 1 : i + cfg->window;
    for (a = 0; a < n; ++a) {
        size_t j = tok[a], g;
        int ok = (j >= lo && j <= hi) || keep[j];
        for (g = 0; !ok && g < cfg->n_globals; ++g)
            ok = cfg->globals[g] == j;
        if (ok)
            tok[m++] = j;
    }
    return m;
}

/* Shapes validated; k->heads > 0 divides q->heads; keep has seq bytes. */
static aether_status run_gated(const aether_attn_config *cfg, const aether_tensor *q,
                               const aether_tensor *k, const aether_tensor *v,
                               const uint8_t *keep, aether_tensor *out, void *ws, size_t ws_len)
{
    size_t seq = q->seq, dim = q->dim, qh = q->heads, kvh = k->heads;
    size_t group, i, h, need;
    aether_arena a;
    aether_sparse_ws w;
    aether_status st = AETHER_OK;
    float scale;

    if (seq == 0 || qh == 0)
        return AETHER_OK;
    group = qh / kvh;
    aether_arena_measure(&a);
    if ((st = aether_sparse_ws_layout_(&a, cfg, seq, kvh, dim, &w)) != AETHER_OK)
        return st;
    need = a.used;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    aether_arena_init(&a, ws, ws_len);
    if ((st = aether_sparse_ws_layout_(&a, cfg, seq, kvh, dim, &w)) != AETHER_OK)
        return st;
    if (w.nb > 0) {
        aether_landmarks_prefill_(k->data, seq, kvh, dim, cfg->block_size, w.lm_k);
        aether_landmarks_prefill_(v->data, seq, kvh, dim, cfg->block_size, w.lm_v);
    }
    scale = aether_attn_scale(dim);

    for (i = 0; i < seq; ++i) {
        size_t n_tok = 0, n_blk = 0;
        st = aether_sparse_candidates_(cfg, i, seq, w.tok, w.tok_cap, &n_tok, w.blk, w.blk_cap,
                                       &n_blk);
        if (st != AETHER_OK)
            break; /* cannot happen: capacities are the pattern's bounds */
        n_tok = aether_gated_filter_(cfg, i, seq, keep, w.tok, n_tok);
        for (h = 0; h < qh; ++h) {
            size_t hk = h / group;
            aether_rows toks, blks;
            toks.k = k->data + hk * dim;
            toks.v = v->data + hk * dim;
            toks.stride = kvh * dim;
            blks.k = w.lm_k ? w.lm_k + hk * dim : NULL;
            blks.v = w.lm_v ? w.lm_v + hk * dim : NULL;
            blks.stride = kvh * dim;
            aether_sparse_query_(q->data + (i * qh + h) * dim, dim, scale, &toks, w.tok, n_tok,
                                 &blks, w.blk, n_blk, w.acc, out->data + (i * qh + h) * dim);
        }
    }
    return st;
}


static aether_status check_mask(const aether_tensor *q, const uint8_t *keep, size_t n_mask)
{
    if (n_mask != q->seq)
        return AETHER_ERR_MASK_LENGTH;
    if (n_mask > 0 && !keep)
        return AETHER_ERR_NULL_ARG;
    return AETHER_OK;
}

aether_status aether_attn_forward_gated_workspace_size(const aether_attn_config *cfg, size_t seq,
                                                       size_t q_heads, size_t kv_heads,
                                                       size_t dim, size_t *bytes)
{
    aether_arena a;
    aether_sparse_ws w;
    aether_status st;
    (void)q_heads; /* candidate lists and landmarks are per kv head */
    if (!cfg || !bytes)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_attn_config_check(cfg)) != AETHER_OK)
        return st;
    aether_arena_measure(&a);
    if ((st = aether_sparse_ws_layout_(&a, cfg, seq, kv_heads, dim, &w)) != AETHER_OK)
        return st;
    *bytes = a.used;
    return AETHER_OK;
}

aether_status aether_gated_validate_(const aether_attn_config *cfg, const aether_tensor *q,
                                     const aether_tensor *k, const aether_tensor *v,
                                     const aether_tensor *out, int gqa)
{
    aether_status st;
    if (!cfg || !q || !k || !v || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_attn_config_check(cfg)) != AETHER_OK)
        return st;
    if (q->dim == 0)
        return AETHER_ERR_ZERO_HEAD_DIM;
    if (!gqa) {
        if (!aether_tensor_same_shape(q, k) || !aether_tensor_same_shape(k, v))
            return AETHER_ERR_SHAPE_MISMATCH;
    } else {
        if (q->seq != k->seq || k->seq != v->seq)
            return AETHER_ERR_SHAPE_MISMATCH;
        if (q->dim != k->dim || k->dim != v->dim)
            return AETHER_ERR_HEAD_DIM_MISMATCH;
        if (k->heads == 0 || q->heads % k->heads != 0)
            return AETHER_ERR_GQA_RATIO;
        if (k->heads != v->heads)
            return AETHER_ERR_KV_HEADS_MISMATCH;
    }
    if (!aether_tensor_same_shape(out, q))
        return AETHER_ERR_SHAPE_MISMATCH;
    return aether_attn_check_data_(q, k, v, out);
}

aether_status aether_attn_forward_gated(const aether_attn_config *cfg, const aether_tensor *q,
                                        const aether_tensor *k, const aether_tensor *v,
                                        const uint8_t *keep_mask, size_t n_mask,
                                        aether_tensor *out, void *ws, size_t ws_len)
{
    aether_status st = aether_gated_validate_(cfg, q, k, v, out, 0);
    if (st != AETHER_OK)
        return st;
    if ((st = check_mask(q, keep_mask, n_mask)) != AETHER_OK)
        return st;
    return run_gated(cfg, q, k, v, keep_mask, out, ws, ws_len);
}

aether_status aether_attn_forward_gqa_gated(const aether_attn_config *cfg, const aether_tensor *q,
                                            const aether_tensor *k, const aether_tensor *v,
                                            const uint8_t *keep_mask, size_t n_mask,
                                            aether_tensor *out, void *ws, size_t ws_len)
{
    aether_status st = aether_gated_validate_(cfg, q, k, v, out, 1);
    if (st != AETHER_OK)
        return st;
    if ((st = check_mask(q, keep_mask, n_mask)) != AETHER_OK)
        return st;
    return run_gated(cfg, q, k, v, keep_mask, out, ws, ws_len);
}
