/* Calibrated probabilities and "unknown" (aether/decision.h). */
#include "aether/decision.h"

#include <math.h>

#include "aether/packet.h"

aether_decision_params aether_decision_params_default(void)
{
    aether_decision_params p;
    p.temperature = 1.0f;
    p.unknown_below = 0.0f;
    p.ood_above = 0.0f;
    return p;
}

aether_status aether_decision_params_from_meta(const aether_blob_model_meta *m,
                                               aether_decision_params *out)
{
    if (!m || !out)
        return AETHER_ERR_NULL_ARG;
    *out = aether_decision_params_default();
    if (m->have_temperature)
        out->temperature = m->temperature;
    if (m->have_unknown_below)
        out->unknown_below = m->unknown_below;
    if (m->have_ood_above)
        out->ood_above = m->ood_above;
    return AETHER_OK;
}

aether_status aether_decision_params_from_blob(const aether_blob_view *v,
                                               aether_decision_params *out)
{
    aether_blob_calibration c;
    aether_status st;
    if (!v || !out)
        return AETHER_ERR_NULL_ARG;
    st = aether_blob_model_calibration(v, &c);
    if (st != AETHER_OK)
        return st;
    *out = aether_decision_params_default();
    if (c.have_temperature)
        out->temperature = c.temperature;
    if (c.have_unknown_below)
        out->unknown_below = c.unknown_below;
    if (c.have_ood_above)
        out->ood_above = c.ood_above;
    return AETHER_OK;
}

static int temperature_ok(float t)
{
    return t >= 1e-6f && t <= 1e6f;
}

aether_status aether_decision_probabilities(const float *logits, size_t n, float temperature,
                                            float *probs)
{
    double mx, sum = 0.0, inv_t;
    size_t i;
    if (!logits || !probs)
        return AETHER_ERR_NULL_ARG;
    if (n == 0 || !temperature_ok(temperature))
        return AETHER_ERR_INVALID_ARG;
    mx = logits[0];
    for (i = 0; i < n; ++i) {
        if (!aether_isfinite(logits[i]))
            return AETHER_ERR_NONFINITE;
        if (logits[i] > mx)
            mx = logits[i];
    }
    /* exp of values <= 0: no overflow; the largest term is exp(0) = 1, so
     * the sum is in [1, n] */
    inv_t = 1.0 / (double)temperature;
    for (i = 0; i < n; ++i)
        sum += exp(((double)logits[i] - mx) * inv_t);
    for (i = 0; i < n; ++i)
        probs[i] = (float)(exp(((double)logits[i] - mx) * inv_t) / sum);
    return AETHER_OK;
}

aether_status aether_decide(const float *logits, size_t n, const aether_decision_params *p,
                            float distance, aether_decision *out)
{
    aether_decision_params d = p ? *p : aether_decision_params_default();
    aether_decision r;
    double mx, sum = 0.0, inv_t;
    size_t i;
    float top = 0.0f;
    if (!logits || !out)
        return AETHER_ERR_NULL_ARG;
    if (n == 0 || !temperature_ok(d.temperature) || !(d.unknown_below >= 0.0f) ||
        !(d.unknown_below <= 1.0f) || !(d.ood_above >= 0.0f))
        return AETHER_ERR_INVALID_ARG;
    for (i = 0; i < n; ++i)
        if (!aether_isfinite(logits[i]))
            return AETHER_ERR_NONFINITE;
    aether_packet_argmax(logits, n, &r.top, &top, &r.margin);
    mx = top;
    inv_t = 1.0 / (double)d.temperature;
    for (i = 0; i < n; ++i)
        sum += exp(((double)logits[i] - mx) * inv_t);
    r.probability = (float)(1.0 / sum); /* the top term is exp(0) = 1 */
    r.out_of_distribution = d.ood_above > 0.0f && distance > d.ood_above;
    r.unknown = r.probability < d.unknown_below || r.out_of_distribution;
    *out = r;
    return AETHER_OK;
}
