/* ruv_temporal_decide: classify, then the calibrated decision
 * (ruv_temporal.h, aether/decision.h). */
#include "edge_internal.h"

esp_err_t ruv_temporal_decide(ruv_temporal_ctx_t *ctx, float *logits, uint32_t n_classes,
                              ruv_temporal_decision_t *out)
{
    aether_decision d;
    float distance = -1.0f;
    float *l;
    esp_err_t e;
    if (!ctx || ctx->magic != RUV_TEMPORAL_MAGIC || !out)
        return ESP_ERR_INVALID_ARG;
    if (n_classes != ctx->n_classes)
        return ESP_ERR_INVALID_SIZE;
    l = logits ? logits : ctx->scratch_logits;
    e = ruv_temporal_classify(ctx, l, n_classes);
    if (e != ESP_OK)
        return e;
    if (ctx->cfg.mode == RUV_TEMPORAL_MODE_WINDOW &&
        aether_window_input_distance(ctx->window, &distance) != AETHER_OK)
        distance = -1.0f;
    /* the parameters were checked at init; logits are finite (frames are
     * checked at push), so a failure here is internal */
    if (aether_decide(l, n_classes, &ctx->decision, distance, &d) != AETHER_OK)
        return ESP_FAIL;
    out->class_id = (uint32_t)d.top;
    out->probability = d.probability;
    out->margin = d.margin;
    out->distance = distance;
    out->unknown = d.unknown;
    out->out_of_distribution = d.out_of_distribution;
    return ESP_OK;
}
