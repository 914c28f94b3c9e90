/* ruv_temporal hot path: push, classify, reset, packet, info. Nothing here
 * allocates; every call validates before changing the context. */
#include "edge/edge_internal.h"

#include "aether/packet.h"

#include <string.h>

static int live(const ruv_temporal_ctx_t *ctx)
{
    return ctx && ctx->magic == RUV_TEMPORAL_MAGIC;
}

static int frame_finite(const float *frame, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; ++i)
        if (!aether_isfinite(frame[i]))
            return 0;
    return 1;
}

/* frames_total saturates instead of wrapping, so it never reads as "no frames" again. */
static void count_frame(ruv_temporal_ctx_t *ctx)
{
    if (ctx->frames_total != UINT64_MAX)
        ctx->frames_total++;
}

esp_err_t ruv_temporal_push(ruv_temporal_ctx_t *ctx, const float *frame)
{
    aether_status st;
    if (!live(ctx) || !frame)
        return ESP_ERR_INVALID_ARG;
    if (!frame_finite(frame, ctx->input_dim))
        return ESP_ERR_INVALID_ARG;
    if (ctx->quant) {
        esp_err_t e = ruv_temporal_qpush_(ctx, frame);
        if (e == ESP_OK)
            count_frame(ctx);
        return e;
    }
    if (ctx->cfg.mode == RUV_TEMPORAL_MODE_WINDOW) {
        st = aether_window_push(ctx->window, frame);
        if (st != AETHER_OK)
            return ruv_temporal_err_(st);
        count_frame(ctx);
        return ESP_OK;
    }
    if (ctx->broken)
        return ESP_ERR_INVALID_STATE;
    st = aether_model_session_step(ctx->session, frame, ctx->last_logits, NULL);
    if (st == AETHER_OK) {
        count_frame(ctx);
        return ESP_OK;
    }
    /* A failure before any layer took the frame (a full cache under policy
     * FAIL, or an overflow in the first layer) changes nothing and keeps the
     * documented "state unchanged" meaning of the code. If an earlier layer
     * already took the frame the context needs a reset: INVALID_STATE. */
    if (aether_model_session_broken(ctx->session)) {
        ctx->broken = 1;
        return ESP_ERR_INVALID_STATE;
    }
    /* A full cache, or token ids used up (SIZE_MAX - 1 frames since reset:
     * about 497 days at 100 Hz with a 32-bit size_t), is a state only a
     * reset clears, not a lack of memory. */
    if (st == AETHER_ERR_CACHE_FULL || st == AETHER_ERR_OVERFLOW)
        return ESP_ERR_INVALID_STATE;
    return ruv_temporal_err_(st);
}

static esp_err_t classify_into(ruv_temporal_ctx_t *ctx, float *logits)
{
    aether_status st;
    if (ctx->quant)
        return ruv_temporal_qclassify_(ctx, logits);
    if (ctx->cfg.mode == RUV_TEMPORAL_MODE_STREAMING) {
        if (ctx->broken)
            return ESP_ERR_INVALID_STATE;
        if (aether_model_session_frames(ctx->session) == 0)
            return ESP_ERR_INVALID_STATE;
        memcpy(logits, ctx->last_logits, (size_t)ctx->n_classes * sizeof(float));
        return ESP_OK;
    }
    if (aether_window_held(ctx->window) == 0)
        return ESP_ERR_INVALID_STATE;
    st = aether_window_classify(ctx->window, logits, NULL);
    /* Frames were checked at push, so any failure here is internal. */
    return st == AETHER_OK ? ESP_OK : ESP_FAIL;
}

esp_err_t ruv_temporal_classify(ruv_temporal_ctx_t *ctx, float *logits, uint32_t n_classes)
{
    if (!live(ctx) || !logits)
        return ESP_ERR_INVALID_ARG;
    if (n_classes != ctx->n_classes)
        return ESP_ERR_INVALID_SIZE;
    return classify_into(ctx, logits);
}

esp_err_t ruv_temporal_reset(ruv_temporal_ctx_t *ctx)
{
    if (!live(ctx))
        return ESP_ERR_INVALID_ARG;
    if (ctx->quant) {
        ruv_temporal_qreset_(ctx);
    } else if (ctx->cfg.mode == RUV_TEMPORAL_MODE_STREAMING) {
        aether_status st = aether_model_session_reset(ctx->session);
        if (st != AETHER_OK)
            return ruv_temporal_err_(st);
        ctx->broken = 0;
    } else {
        aether_status st = aether_window_reset(ctx->window);
        if (st != AETHER_OK)
            return ruv_temporal_err_(st);
    }
    ctx->frames_total = 0;
    return ESP_OK;
}

esp_err_t ruv_temporal_make_packet(ruv_temporal_ctx_t *ctx, uint8_t node_id, uint64_t ts_us,
                                   uint32_t seq, uint8_t out[RUV_TEMPORAL_PACKET_LEN])
{
    aether_class_packet pkt;
    aether_status st;
    esp_err_t e;
    if (!live(ctx) || !out)
        return ESP_ERR_INVALID_ARG;
    e = classify_into(ctx, ctx->scratch_logits);
    if (e != ESP_OK)
        return e;
    st = aether_packet_from_logits(&pkt, ctx->scratch_logits, ctx->n_classes, node_id, ts_us,
                                   seq);
    if (st == AETHER_OK)
        st = aether_packet_encode(&pkt, out, RUV_TEMPORAL_PACKET_LEN);
    /* n_classes too large for the packet's u8 argmax / u16 count. */
    return st == AETHER_OK ? ESP_OK : ESP_ERR_INVALID_SIZE;
}

esp_err_t ruv_temporal_get_info(const ruv_temporal_ctx_t *ctx, ruv_temporal_info_t *out)
{
    aether_model_info mi;
    if (!live(ctx) || !out)
        return ESP_ERR_INVALID_ARG;
    if (ctx->quant) {
        const aether_blob_header *h = aether_qmodel_header(ctx->qmodel);
        if (!h)
            return ESP_FAIL;
        memset(&mi, 0, sizeof mi);
        mi.n_q_heads = h->n_q_heads;
        mi.n_kv_heads = h->n_kv_heads;
        mi.head_dim = h->head_dim;
        mi.n_layers = h->n_layers;
        mi.borrowed = !ctx->qcopied;
    } else if (aether_model_get_info(ctx->model, &mi) != AETHER_OK) {
        return ESP_FAIL;
    }
    memset(out, 0, sizeof *out);
    out->mode = ctx->cfg.mode;
    out->pooling = ctx->cfg.pooling;
    out->input_dim = ctx->input_dim;
    out->window_len = ctx->window_len;
    out->n_classes = ctx->n_classes;
    out->n_q_heads = (uint32_t)mi.n_q_heads;
    out->n_kv_heads = (uint32_t)mi.n_kv_heads;
    out->head_dim = (uint32_t)mi.head_dim;
    out->n_layers = (uint32_t)mi.n_layers;
    out->weights_borrowed = mi.borrowed;
    out->frames_total = ctx->frames_total;
    if (ctx->cfg.mode == RUV_TEMPORAL_MODE_STREAMING) {
        uint64_t held = ctx->frames_total < ctx->window_len ? ctx->frames_total : ctx->window_len;
        out->frames_held = (uint32_t)held;
        out->evicted = ctx->quant ? aether_qsession_evicted(ctx->qsession)
                                  : aether_model_session_evicted(ctx->session);
    } else {
        out->frames_held =
            ctx->quant ? ctx->qheld : (uint32_t)aether_window_held(ctx->window);
    }
    out->ctx_bytes = ctx->bytes;
    return ESP_OK;
}
