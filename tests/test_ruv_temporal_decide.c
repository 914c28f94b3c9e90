/* ruv_temporal_decide: the firmware ABI's calibrated decision equals
 * aether_decide on the logits classify gives, with the blob's temperature,
 * unknown_below and (WINDOW mode) ood_above against the window's input
 * distance; bad calibration metadata fails init with a clear code. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/decision.h"
#include "check.h"
#include "ruv_temporal.h"

#define IN 16u
#define NC 4u
#define W 8u

/* The demo blob (input normalisation on) with `meta` as its metadata. */
static unsigned char *calibrated_blob(const char *meta, size_t *len)
{
    aether_blob_demo_params dp = aether_blob_demo_default();
    size_t n = 0, need = 0;
    unsigned char *raw, *out = NULL;
    aether_blob_view v;
    dp.input_norm = 1;
    if (aether_blob_demo_size(&dp, &n) != AETHER_OK || !(raw = (unsigned char *)malloc(n)))
        return NULL;
    if (aether_blob_demo_write(&dp, raw, n, NULL) == AETHER_OK &&
        aether_blob_parse(raw, n, &v) == AETHER_OK &&
        aether_blob_with_metadata_size(&v, strlen(meta), &need) == AETHER_OK &&
        (out = (unsigned char *)malloc(need)) != NULL &&
        aether_blob_with_metadata(&v, meta, strlen(meta), out, need, len) != AETHER_OK) {
        free(out);
        out = NULL;
    }
    free(raw);
    return out;
}

static void frames_at(float *f, float offset, unsigned seed)
{
    size_t i;
    for (i = 0; i < IN; ++i)
        f[i] = offset + 0.01f * (float)((i * 13u + seed * 7u) % 17u);
}

static void test_window_decide(void)
{
    const char *meta = "temperature=2.5\nunknown_below=0.3\nood_above=3\n";
    size_t len = 0;
    unsigned char *blob = calibrated_blob(meta, &len);
    ruv_temporal_ctx_t *ctx = NULL;
    ruv_temporal_config_t cfg = ruv_temporal_config_default();
    ruv_temporal_decision_t d;
    aether_decision ref;
    aether_decision_params p;
    float frame[IN], logits[NC];
    unsigned t;
    CHECK(blob != NULL);
    if (!blob)
        return;
    cfg.mode = RUV_TEMPORAL_MODE_WINDOW;
    cfg.pooling = RUV_TEMPORAL_POOL_MEAN;
    CHECK_EQ_INT(ruv_temporal_init_ex(blob, len, IN, W, NC, &cfg, &ctx), ESP_OK);
    CHECK_EQ_INT(ruv_temporal_decide(ctx, logits, NC, &d), ESP_ERR_INVALID_STATE); /* empty */
    for (t = 0; t < W; ++t) {
        frames_at(frame, 0.0f, t);
        CHECK_EQ_INT(ruv_temporal_push(ctx, frame), ESP_OK);
    }
    CHECK_EQ_INT(ruv_temporal_decide(ctx, logits, NC, &d), ESP_OK);
    p.temperature = 2.5f;
    p.unknown_below = 0.3f;
    p.ood_above = 3.0f;
    CHECK_STATUS(aether_decide(logits, NC, &p, d.distance, &ref), AETHER_OK);
    CHECK(d.distance >= 0.0f);
    CHECK_EQ_INT((int)d.class_id, (int)ref.top);
    CHECK(d.probability == ref.probability && d.margin == ref.margin);
    CHECK_EQ_INT(d.unknown, ref.unknown);
    CHECK_EQ_INT(d.out_of_distribution, d.distance > 3.0f);
    /* frames far off: out of distribution whatever the probability */
    for (t = 0; t < W; ++t) {
        frames_at(frame, 1000.0f, t);
        CHECK_EQ_INT(ruv_temporal_push(ctx, frame), ESP_OK);
    }
    CHECK_EQ_INT(ruv_temporal_decide(ctx, NULL, NC, &d), ESP_OK); /* logits not wanted */
    CHECK(d.distance > 3.0f && d.unknown && d.out_of_distribution);
    CHECK_EQ_INT(ruv_temporal_decide(ctx, logits, NC + 1, &d), ESP_ERR_INVALID_SIZE);
    CHECK_EQ_INT(ruv_temporal_decide(ctx, logits, NC, NULL), ESP_ERR_INVALID_ARG);
    CHECK_EQ_INT(ruv_temporal_decide(NULL, logits, NC, &d), ESP_ERR_INVALID_ARG);
    ruv_temporal_destroy(ctx);
    free(blob);
}

static void test_streaming_decide(void)
{
    size_t len = 0;
    unsigned char *blob = calibrated_blob("temperature=0.5\n", &len);
    ruv_temporal_ctx_t *ctx = NULL;
    ruv_temporal_config_t cfg = ruv_temporal_config_default();
    ruv_temporal_decision_t d;
    float frame[IN], logits[NC], probs[NC];
    CHECK(blob != NULL);
    if (!blob)
        return;
    cfg.mode = RUV_TEMPORAL_MODE_STREAMING;
    CHECK_EQ_INT(ruv_temporal_init_ex(blob, len, IN, W, NC, &cfg, &ctx), ESP_OK);
    frames_at(frame, 0.5f, 3);
    CHECK_EQ_INT(ruv_temporal_push(ctx, frame), ESP_OK);
    CHECK_EQ_INT(ruv_temporal_decide(ctx, logits, NC, &d), ESP_OK);
    CHECK(d.distance == -1.0f && !d.out_of_distribution && !d.unknown);
    CHECK_STATUS(aether_decision_probabilities(logits, NC, 0.5f, probs), AETHER_OK);
    CHECK(d.probability == probs[d.class_id]);
    ruv_temporal_destroy(ctx);
    free(blob);
}

static void test_bad_calibration(void)
{
    static const char *const bad[] = {"temperature=0\n", "unknown_below=1.5\n", "ood_above=-2\n"};
    size_t i, len = 0;
    for (i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        unsigned char *blob = calibrated_blob(bad[i], &len);
        ruv_temporal_ctx_t *ctx = NULL;
        CHECK(blob != NULL);
        if (!blob)
            continue;
        CHECK_MSG(ruv_temporal_init(blob, len, IN, W, NC, &ctx) == ESP_ERR_INVALID_ARG, "%s",
                  bad[i]);
        CHECK(ctx == NULL);
        free(blob);
    }
}

TEST_MAIN(test_window_decide, test_streaming_decide, test_bad_calibration)
