/* Temporal head window prefill: shapes against the config, then the
 * resolved backend's kernel. */
#include "head/head_internal.h"

static int shaped(const aether_tensor *t, size_t seq, size_t heads, size_t dim)
{
    return t->seq == seq && t->heads == heads && t->dim == dim;
}

aether_status aether_head_forward_workspace_size(const aether_head *head, size_t seq,
                                                 size_t *bytes)
{
    aether_status st = aether_head_check_(head);
    if (st != AETHER_OK)
        return st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    if (head->backend == AETHER_HEAD_DENSE)
        return aether_attn_dense_workspace_size(head->cfg.q_heads, head->cfg.kv_heads,
                                                head->cfg.head_dim, bytes);
    return aether_attn_forward_workspace_size(&head->attn, seq, head->cfg.q_heads,
                                              head->cfg.kv_heads, head->cfg.head_dim, bytes);
}

aether_status aether_head_forward(const aether_head *head, const aether_tensor *q,
                                  const aether_tensor *k, const aether_tensor *v,
                                  aether_tensor *out, void *ws, size_t ws_len)
{
    const aether_head_config *c;
    aether_status st = aether_head_check_(head);
    if (st != AETHER_OK)
        return st;
    if (!q || !k || !v || !out)
        return AETHER_ERR_NULL_ARG;
    c = &head->cfg;
    if (!shaped(q, q->seq, c->q_heads, c->head_dim) ||
        !shaped(k, q->seq, c->kv_heads, c->head_dim) ||
        !shaped(v, q->seq, c->kv_heads, c->head_dim) || !aether_tensor_same_shape(out, q))
        return AETHER_ERR_SHAPE_MISMATCH;
    if (head->backend == AETHER_HEAD_DENSE)
        return aether_attn_dense_ws(q, k, v, head->cfg.causal, out, ws, ws_len);
    if (c->q_heads == c->kv_heads)
        return aether_attn_forward(&head->attn, q, k, v, out, ws, ws_len);
    return aether_attn_forward_gqa(&head->attn, q, k, v, out, ws, ws_len);
}
