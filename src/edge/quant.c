/* ruv_temporal on the integer path: an RVNQ blob (aether/quant.h,
 * docs/FORMATS.md section 9) given to init runs the integer model, for
 * chips without an FPU. STREAMING: an int8-cache session per context;
 * WINDOW: a ring of Q16 frames and the integer window forward at classify.
 * No float arithmetic: frames and logits cross as bit patterns. */
#include "edge/edge_internal.h"

#include "blob/blob_internal.h"

#include <string.h>

esp_err_t ruv_temporal_qplan_(const uint8_t *weights, size_t weights_len, uint32_t input_dim,
                              uint32_t window_len, uint32_t n_classes,
                              const ruv_temporal_config_t *cfg, edge_qplan *q)
{
    aether_status st;
    memset(q, 0, sizeof *q);
    q->n_classes = n_classes;
    st = aether_qblob_parse(weights, weights_len, &q->blob);
    if (st != AETHER_OK)
        return ruv_temporal_err_(st);
    if (q->blob.header.input_dim != input_dim || q->blob.header.n_classes != n_classes)
        return ESP_ERR_INVALID_SIZE;
    /* The calibration keys, checked as for an RVNE blob: the metadata
     * record is the same (aether quantize copies it). */
    {
        aether_blob_metadata md;
        aether_blob_calibration c;
        q->decision = aether_decision_params_default();
        st = aether_qblob_metadata_get(&q->blob, &md);
        if (st == AETHER_OK)
            st = aether_blob_metadata_calibration_(&md, &c);
        if (st != AETHER_OK)
            return ruv_temporal_err_(st);
        if (c.have_temperature)
            q->decision.temperature = c.temperature;
        if (c.have_unknown_below)
            q->decision.unknown_below = c.unknown_below;
        if (c.have_ood_above)
            q->decision.ood_above = c.ood_above;
    }
    /* int8 rows only: f16 / bf16 storage and scored eviction are f32-path
     * features */
    if ((cfg->cache_storage != RUV_TEMPORAL_CACHE_F32 &&
         cfg->cache_storage != RUV_TEMPORAL_CACHE_INT8) ||
        (cfg->mode == RUV_TEMPORAL_MODE_STREAMING &&
                           cfg->cache_policy == RUV_TEMPORAL_CACHE_SCORED))
        return ESP_ERR_NOT_SUPPORTED;
    q->head = aether_head_config_default_aether();
    q->head.q_heads = q->blob.header.n_q_heads;
    q->head.kv_heads = q->blob.header.n_kv_heads;
    q->head.head_dim = q->blob.header.head_dim;
    if (cfg->attn_window != RUV_TEMPORAL_DEFAULT)
        q->head.window = cfg->attn_window;
    if (cfg->attn_block != RUV_TEMPORAL_DEFAULT)
        q->head.block_size = cfg->attn_block;
    q->head.backend =
        cfg->backend == RUV_TEMPORAL_BACKEND_DENSE ? AETHER_HEAD_DENSE : AETHER_HEAD_SPARSE_GQA;
    /* The weights are read in place; COPY puts the blob in the context. */
    q->copy = cfg->weights == RUV_TEMPORAL_WEIGHTS_COPY;
    q->blob_bytes = q->copy ? weights_len : 0;
    st = aether_qmodel_size(&q->blob, &q->head, &q->model_bytes);
    if (st != AETHER_OK)
        return ruv_temporal_err_(st);
    if (cfg->mode == RUV_TEMPORAL_MODE_STREAMING) {
        q->evict = cfg->cache_policy == RUV_TEMPORAL_CACHE_FAIL ? AETHER_KV_EVICT_NONE
                                                                : AETHER_KV_EVICT_SLIDING;
        st = aether_qsession_size_for(&q->blob, &q->head, window_len, q->evict, &q->sess_bytes);
    } else {
        if (aether_size_mul(window_len, input_dim, &q->ring_values) != AETHER_OK)
            return ESP_ERR_NO_MEM;
        st = aether_qmodel_forward_workspace_size_for(&q->blob, &q->head, window_len,
                                                      &q->ws_bytes);
    }
    return ruv_temporal_err_(st);
}

void ruv_temporal_qlayout_(aether_arena *ar, const edge_qplan *q, const ruv_temporal_config_t *cfg,
                           edge_qparts *x)
{
    memset(x, 0, sizeof *x);
    if (q->copy)
        x->blob_mem = aether_arena_alloc(ar, q->blob_bytes, 1, 16);
    x->model_mem = aether_arena_alloc(ar, q->model_bytes, 1, AETHER_ALIGN);
    if (cfg->mode == RUV_TEMPORAL_MODE_STREAMING) {
        x->sess_mem = aether_arena_alloc(ar, q->sess_bytes, 1, AETHER_ALIGN);
    } else {
        x->ring = (int32_t *)aether_arena_alloc(ar, q->ring_values, sizeof(int32_t), 16);
        x->frames = (int32_t *)aether_arena_alloc(ar, q->ring_values, sizeof(int32_t), 16);
        x->ws = aether_arena_alloc(ar, q->ws_bytes, 1, AETHER_ALIGN);
        x->logits = (int32_t *)aether_arena_alloc(ar, q->n_classes, sizeof(int32_t), 16);
    }
}

esp_err_t ruv_temporal_qbuild_(ruv_temporal_ctx_t *ctx, const edge_qplan *q,
                               const uint8_t *weights, const edge_qparts *x)
{
    aether_qblob_view v = q->blob;
    aether_status st;
    if (q->copy) {
        memcpy(x->blob_mem, weights, q->blob_bytes);
        st = aether_qblob_parse(x->blob_mem, q->blob_bytes, &v);
        if (st != AETHER_OK)
            return ruv_temporal_err_(st);
    }
    st = aether_qmodel_init(x->model_mem, q->model_bytes, &v, &q->head, &ctx->qmodel);
    if (st != AETHER_OK)
        return ruv_temporal_err_(st);
    if (ctx->cfg.mode == RUV_TEMPORAL_MODE_STREAMING) {
        st = aether_qsession_init(x->sess_mem, q->sess_bytes, ctx->qmodel, ctx->window_len,
                                  q->evict, &ctx->qsession);
        if (st != AETHER_OK)
            return ruv_temporal_err_(st);
    } else {
        ctx->qring = x->ring;
        ctx->qframes = x->frames;
        ctx->qws = x->ws;
        ctx->qws_len = q->ws_bytes;
        ctx->qlogits = x->logits;
    }
    ctx->quant = 1;
    ctx->qcopied = q->copy;
    ctx->qhead = 0;
    ctx->qheld = 0;
    return ESP_OK;
}

esp_err_t ruv_temporal_qpush_(ruv_temporal_ctx_t *ctx, const float *frame)
{
    aether_status st;
    uint32_t i;
    if (ctx->cfg.mode == RUV_TEMPORAL_MODE_WINDOW) {
        int32_t *slot = ctx->qring + (size_t)ctx->qhead * ctx->input_dim;
        for (i = 0; i < ctx->input_dim; ++i)
            (void)aether_q16_from_f32(frame[i], &slot[i]); /* finite: checked */
        ctx->qhead = ctx->qhead + 1 == ctx->window_len ? 0 : ctx->qhead + 1;
        if (ctx->qheld < ctx->window_len)
            ctx->qheld++;
        return ESP_OK;
    }
    st = aether_qsession_step(ctx->qsession, frame, ctx->last_logits);
    if (st == AETHER_ERR_CACHE_FULL || st == AETHER_ERR_OVERFLOW)
        return ESP_ERR_INVALID_STATE; /* nothing changed; a reset clears it */
    return ruv_temporal_err_(st);
}

esp_err_t ruv_temporal_qclassify_(ruv_temporal_ctx_t *ctx, float *logits)
{
    aether_status st;
    size_t I = ctx->input_dim, n = ctx->qheld, first, t;
    if (ctx->cfg.mode == RUV_TEMPORAL_MODE_STREAMING) {
        if (aether_qsession_frames(ctx->qsession) == 0)
            return ESP_ERR_INVALID_STATE;
        memcpy(logits, ctx->last_logits, (size_t)ctx->n_classes * sizeof(float));
        return ESP_OK;
    }
    if (n == 0)
        return ESP_ERR_INVALID_STATE;
    /* oldest first */
    first = n < ctx->window_len ? 0 : ctx->qhead;
    for (t = 0; t < n; ++t) {
        size_t slot = (first + t) % ctx->window_len;
        memcpy(ctx->qframes + t * I, ctx->qring + slot * I, I * sizeof(int32_t));
    }
    {
        int32_t *lq = ctx->qlogits;
        st = aether_qmodel_forward_q16(ctx->qmodel, ctx->qframes, n,
                                       ctx->cfg.pooling == RUV_TEMPORAL_POOL_MEAN
                                           ? AETHER_POOL_MEAN
                                           : AETHER_POOL_LAST,
                                       lq, NULL, ctx->qws, ctx->qws_len);
        if (st != AETHER_OK)
            return ESP_FAIL;
        for (t = 0; t < ctx->n_classes; ++t) {
            int32_t v = lq[t];
            logits[t] = aether_q16_to_f32(v);
        }
    }
    return ESP_OK;
}

void ruv_temporal_qreset_(ruv_temporal_ctx_t *ctx)
{
    if (ctx->cfg.mode == RUV_TEMPORAL_MODE_STREAMING)
        (void)aether_qsession_reset(ctx->qsession);
    ctx->qhead = 0;
    ctx->qheld = 0;
}
