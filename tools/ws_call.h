/*
 * One call of the workspace-taking API the way a one-off caller makes it:
 * the size query for the call's arguments, a malloc'd buffer of that size,
 * the call, free. Used where a call runs once (the conformance runner, the
 * attn command, tests); loops query once and keep the buffer instead. When
 * the arguments are too broken for the query (NULL pointers, shapes the
 * query rejects) the call gets ws NULL and reports its own argument error,
 * which precedes the workspace check (aether/core.h); an allocation failure
 * likewise reaches the call as ws NULL (AETHER_ERR_NULL_ARG).
 *
 * static inline: a program uses only some of them.
 */
#ifndef AETHER_TOOLS_WS_CALL_H
#define AETHER_TOOLS_WS_CALL_H

#include <stdlib.h>

#include "aether/attention.h"
#include "aether/attention_gated.h"
#include "aether/attention_tiled.h"
#include "aether/gate.h"
#include "aether/head.h"
#include "aether/model.h"

/* The shared tail: call with the buffer when the query succeeded. */
#define WS_RUN(query_ok, need, call_with)                            \
    do {                                                             \
        void *ws_ = (query_ok) ? malloc((need) ? (need) : 1) : NULL; \
        size_t len_ = ws_ ? (need) : 0;                              \
        aether_status st_ = call_with(ws_, len_);                    \
        free(ws_);                                                   \
        return st_;                                                  \
    } while (0)

static inline aether_status ws_attn_dense(const aether_tensor *q, const aether_tensor *k,
                                          const aether_tensor *v, int causal, aether_tensor *out)
{
    size_t need = 0;
    int ok = q && k &&
             aether_attn_dense_workspace_size(q->heads, k->heads, q->dim, &need) == AETHER_OK;
#define WS_CALL(w, l) aether_attn_dense_ws(q, k, v, causal, out, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline int ws_attn_size(const aether_attn_config *cfg, const aether_tensor *q,
                               const aether_tensor *k, size_t *need)
{
    return cfg && q && k &&
           aether_attn_forward_workspace_size(cfg, q->seq, q->heads, k->heads, q->dim, need) ==
               AETHER_OK;
}

static inline aether_status ws_attn_forward(const aether_attn_config *cfg, const aether_tensor *q,
                                            const aether_tensor *k, const aether_tensor *v,
                                            aether_tensor *out)
{
    size_t need = 0;
    int ok = ws_attn_size(cfg, q, k, &need);
#define WS_CALL(w, l) aether_attn_forward(cfg, q, k, v, out, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_attn_forward_gqa(const aether_attn_config *cfg,
                                                const aether_tensor *q, const aether_tensor *k,
                                                const aether_tensor *v, aether_tensor *out)
{
    size_t need = 0;
    int ok = ws_attn_size(cfg, q, k, &need);
#define WS_CALL(w, l) aether_attn_forward_gqa(cfg, q, k, v, out, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_attn_forward_auto(const aether_attn_config *cfg,
                                                 const aether_tensor *q, const aether_tensor *k,
                                                 const aether_tensor *v, aether_tensor *out)
{
    size_t need = 0;
    int ok = ws_attn_size(cfg, q, k, &need);
#define WS_CALL(w, l) aether_attn_forward_auto(cfg, q, k, v, out, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline int ws_gated_size(const aether_attn_config *cfg, const aether_tensor *q,
                                const aether_tensor *k, size_t *need)
{
    return cfg && q && k &&
           aether_attn_forward_gated_workspace_size(cfg, q->seq, q->heads, k->heads, q->dim,
                                                    need) == AETHER_OK;
}

static inline aether_status ws_attn_forward_gated(const aether_attn_config *cfg,
                                                  const aether_tensor *q, const aether_tensor *k,
                                                  const aether_tensor *v, const uint8_t *keep,
                                                  size_t n_mask, aether_tensor *out)
{
    size_t need = 0;
    int ok = ws_gated_size(cfg, q, k, &need);
#define WS_CALL(w, l) aether_attn_forward_gated(cfg, q, k, v, keep, n_mask, out, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_attn_forward_gqa_gated(const aether_attn_config *cfg,
                                                      const aether_tensor *q,
                                                      const aether_tensor *k,
                                                      const aether_tensor *v, const uint8_t *keep,
                                                      size_t n_mask, aether_tensor *out)
{
    size_t need = 0;
    int ok = ws_gated_size(cfg, q, k, &need);
#define WS_CALL(w, l) aether_attn_forward_gqa_gated(cfg, q, k, v, keep, n_mask, out, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_kvcache_decode_gated(const aether_attn_config *cfg,
                                                    const aether_tensor *q1,
                                                    const aether_kvcache *cache,
                                                    const uint8_t *keep, size_t n_keep,
                                                    aether_tensor *out)
{
    size_t need = 0;
    int ok = cfg && q1 && cache &&
             aether_kvcache_decode_gated_workspace_size(cfg, cache, q1->heads, &need) ==
                 AETHER_OK;
#define WS_CALL(w, l) aether_kvcache_decode_gated(cfg, q1, cache, keep, n_keep, out, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline int ws_tiled_size(const aether_attn_config *cfg, const aether_tensor *q,
                                const aether_tensor *k, size_t tile, aether_tiled_order order,
                                size_t *need)
{
    return cfg && q && k &&
           aether_attn_forward_tiled_workspace_size(cfg, q->seq, q->heads, k->heads, q->dim, tile,
                                                    order, need) == AETHER_OK;
}

static inline aether_status ws_attn_forward_tiled(const aether_attn_config *cfg,
                                                  const aether_tensor *q, const aether_tensor *k,
                                                  const aether_tensor *v, aether_tensor *out,
                                                  size_t tile, aether_tiled_order order)
{
    size_t need = 0;
    int ok = ws_tiled_size(cfg, q, k, tile, order, &need);
#define WS_CALL(w, l) aether_attn_forward_tiled(cfg, q, k, v, out, tile, order, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_attn_forward_gqa_tiled(const aether_attn_config *cfg,
                                                      const aether_tensor *q,
                                                      const aether_tensor *k,
                                                      const aether_tensor *v, aether_tensor *out,
                                                      size_t tile, aether_tiled_order order)
{
    size_t need = 0;
    int ok = ws_tiled_size(cfg, q, k, tile, order, &need);
#define WS_CALL(w, l) aether_attn_forward_gqa_tiled(cfg, q, k, v, out, tile, order, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_fastgrnn_score_sequence(const aether_fastgrnn *g, const float *x,
                                                       size_t x_len, size_t n, float *salience,
                                                       size_t n_salience)
{
    size_t need = 0;
    int ok = aether_fastgrnn_workspace_size(g, &need) == AETHER_OK;
#define WS_CALL(w, l) aether_fastgrnn_score_sequence(g, x, x_len, n, salience, n_salience, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_fastgrnn_score_kv(const aether_fastgrnn *g, const aether_tensor *k,
                                                 float *salience, size_t n_salience)
{
    size_t need = 0;
    int ok = aether_fastgrnn_workspace_size(g, &need) == AETHER_OK;
#define WS_CALL(w, l) aether_fastgrnn_score_kv(g, k, salience, n_salience, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_keep_mask_top_k(const float *s, size_t n, size_t k, uint8_t *mask)
{
    size_t need = 0;
    int ok = aether_keep_mask_top_k_workspace_size(n, k, &need) == AETHER_OK;
#define WS_CALL(w, l) aether_keep_mask_top_k(s, n, k, mask, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_keep_mask_quantile(const float *s, size_t n, float q,
                                                  uint8_t *mask)
{
    size_t need = 0;
    int ok = aether_keep_mask_quantile_workspace_size(n, &need) == AETHER_OK;
#define WS_CALL(w, l) aether_keep_mask_quantile(s, n, q, mask, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_keep_mask_causal(const aether_causal_params *p, const float *s,
                                                size_t n, uint8_t *mask)
{
    size_t need = 0;
    int ok = aether_keep_mask_causal_workspace_size(p, n, &need) == AETHER_OK;
#define WS_CALL(w, l) aether_keep_mask_causal(p, s, n, mask, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_causal_gate_window(const aether_fastgrnn *g,
                                                  const aether_causal_params *p,
                                                  const aether_tensor *k, uint8_t *mask,
                                                  size_t n_mask, float *salience_out)
{
    size_t need = 0;
    int ok = k && aether_causal_gate_window_workspace_size(g, p, k->seq, &need) == AETHER_OK;
#define WS_CALL(w, l) aether_causal_gate_window(g, p, k, mask, n_mask, salience_out, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status
ws_attn_forward_gated_fastgrnn(const aether_attn_config *cfg, const aether_fastgrnn *g,
                               const aether_tensor *q, const aether_tensor *k,
                               const aether_tensor *v, size_t top_k, aether_tensor *out,
                               float *salience_out, uint8_t *mask_out)
{
    size_t need = 0;
    int ok = q && k &&
             aether_attn_forward_gated_fastgrnn_workspace_size(cfg, g, q->seq, q->heads, k->heads,
                                                               q->dim, top_k, &need) == AETHER_OK;
#define WS_CALL(w, l) \
    aether_attn_forward_gated_fastgrnn(cfg, g, q, k, v, top_k, out, salience_out, mask_out, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_model_forward(const aether_model *model, const float *frames,
                                             size_t n_frames, aether_pool pool, float *logits,
                                             float *pooled)
{
    size_t need = 0;
    int ok = aether_model_forward_workspace_size(model, n_frames, &need) == AETHER_OK;
#define WS_CALL(w, l) aether_model_forward(model, frames, n_frames, pool, logits, pooled, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_head_forward(const aether_head *head, const aether_tensor *q,
                                            const aether_tensor *k, const aether_tensor *v,
                                            aether_tensor *out)
{
    size_t need = 0;
    int ok = q && aether_head_forward_workspace_size(head, q->seq, &need) == AETHER_OK;
#define WS_CALL(w, l) aether_head_forward(head, q, k, v, out, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_head_step(const aether_head *head, const aether_tensor *q1,
                                         const aether_tensor *k1, const aether_tensor *v1,
                                         aether_kvcache *cache, aether_tensor *out)
{
    size_t need = 0;
    int ok = aether_head_step_workspace_size(head, &need) == AETHER_OK;
#define WS_CALL(w, l) aether_head_step(head, q1, k1, v1, cache, out, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

static inline aether_status ws_head_dense_decode(const aether_head *head, const aether_tensor *q1,
                                                 const aether_kvcache *cache, aether_tensor *out)
{
    size_t need = 0;
    int ok = aether_head_dense_decode_workspace_size(head, &need) == AETHER_OK;
#define WS_CALL(w, l) aether_head_dense_decode(head, q1, cache, out, w, l)
    WS_RUN(ok, need, WS_CALL);
#undef WS_CALL
}

#undef WS_RUN
#endif /* AETHER_TOOLS_WS_CALL_H */
