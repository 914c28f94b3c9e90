/*
 * forward_gated_with_fastgrnn (docs/KERNELS.md section 10.2): saliences
 * of the keys, the reference top-k mask, then the gated forward.
 */
#include "core/workspace.h"
#include "gate/gate_internal.h"

#include <stdlib.h>

#include "gate/gated_internal.h"

typedef struct gf_ws {
    float *sal;
    uint8_t *mask;
    void *gws, *tws, *fws;
    size_t gws_len, tws_len, fws_len;
} gf_ws;

static aether_status gf_layout(aether_arena *a, const aether_attn_config *cfg,
                               const aether_fastgrnn *g, size_t seq, size_t q_heads,
                               size_t kv_heads, size_t dim, size_t top_k, gf_ws *w)
{
    aether_status st;
    if ((st = aether_fastgrnn_workspace_size(g, &w->gws_len)) != AETHER_OK ||
        (st = aether_keep_mask_top_k_workspace_size(seq, top_k, &w->tws_len)) != AETHER_OK ||
        (st = aether_attn_forward_gated_workspace_size(cfg, seq, q_heads, kv_heads, dim,
                                                       &w->fws_len)) != AETHER_OK)
        return st;
    w->sal = (float *)aether_arena_alloc(a, seq ? seq : 1, sizeof(float), AETHER_ALIGN);
    w->mask = (uint8_t *)aether_arena_alloc(a, seq ? seq : 1, 1, AETHER_ALIGN);
    w->gws = aether_arena_alloc(a, w->gws_len, 1, AETHER_ALIGN);
    w->tws = aether_arena_alloc(a, w->tws_len, 1, AETHER_ALIGN);
    w->fws = aether_arena_alloc(a, w->fws_len, 1, AETHER_ALIGN);
    return a->status;
}

aether_status aether_attn_forward_gated_fastgrnn_workspace_size(const aether_attn_config *cfg,
                                                                const aether_fastgrnn *g,
                                                                size_t seq, size_t q_heads,
                                                                size_t kv_heads, size_t dim,
                                                                size_t top_k, size_t *bytes)
{
    aether_arena a;
    gf_ws w;
    aether_status st;
    if (!cfg || !bytes)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_fastgrnn_check_(g)) != AETHER_OK)
        return st;
    aether_arena_measure(&a);
    if ((st = gf_layout(&a, cfg, g, seq, q_heads, kv_heads, dim, top_k, &w)) != AETHER_OK)
        return st;
    *bytes = a.used;
    return AETHER_OK;
}

aether_status aether_attn_forward_gated_fastgrnn(const aether_attn_config *cfg,
                                                 const aether_fastgrnn *g, const aether_tensor *q,
                                                 const aether_tensor *k, const aether_tensor *v,
                                                 size_t top_k, aether_tensor *out,
                                                 float *salience_out, uint8_t *mask_out, void *ws,
                                                 size_t ws_len)
{
    aether_arena a;
    gf_ws w;
    size_t need, seq, i;
    int gqa;
    aether_status st;

    if (!q || !k)
        return AETHER_ERR_NULL_ARG;
    gqa = q->heads != k->heads;
    if ((st = aether_gated_validate_(cfg, q, k, v, out, gqa)) != AETHER_OK)
        return st;
    if ((st = aether_fastgrnn_check_(g)) != AETHER_OK)
        return st;
    if (k->dim != g->in)
        return AETHER_ERR_SHAPE_MISMATCH;
    seq = q->seq;
    if (seq == 0)
        return AETHER_OK;

    aether_arena_measure(&a);
    if ((st = gf_layout(&a, cfg, g, seq, q->heads, k->heads, q->dim, top_k, &w)) != AETHER_OK)
        return st;
    need = a.used;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    aether_arena_init(&a, ws, ws_len);
    if ((st = gf_layout(&a, cfg, g, seq, q->heads, k->heads, q->dim, top_k, &w)) != AETHER_OK ||
        (st = aether_fastgrnn_score_kv(g, k, w.sal, seq, w.gws, w.gws_len)) != AETHER_OK ||
        (st = aether_keep_mask_top_k(w.sal, seq, top_k, w.mask, w.tws, w.tws_len)) != AETHER_OK)
        goto done;
    if (gqa)
        st = aether_attn_forward_gqa_gated(cfg, q, k, v, w.mask, seq, out, w.fws, w.fws_len);
    else
        st = aether_attn_forward_gated(cfg, q, k, v, w.mask, seq, out, w.fws, w.fws_len);
    if (st != AETHER_OK)
        goto done;
    for (i = 0; i < seq; ++i) {
        if (salience_out)
            salience_out[i] = w.sal[i];
        if (mask_out)
            mask_out[i] = w.mask[i];
    }
done:
    return st;
}
