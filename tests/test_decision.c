/* aether/decision.h: calibrated probabilities and "unknown". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aether/decision.h"
#include "check.h"

static void test_probabilities(void)
{
    const float logits[3] = {2.0f, 0.0f, -1.0f};
    float p[3], q[3];
    double z = exp(0.0) + exp(-2.0) + exp(-3.0), s;
    CHECK_STATUS(aether_decision_probabilities(logits, 3, 1.0f, p), AETHER_OK);
    CHECK_NEAR(p[0], 1.0 / z, 1e-7);
    CHECK_NEAR(p[1], exp(-2.0) / z, 1e-7);
    CHECK_NEAR(p[2], exp(-3.0) / z, 1e-7);
    s = (double)p[0] + p[1] + p[2];
    CHECK_NEAR(s, 1.0, 1e-6);
    /* T = 2: the same as halving the logits */
    {
        const float half[3] = {1.0f, 0.0f, -0.5f};
        CHECK_STATUS(aether_decision_probabilities(logits, 3, 2.0f, p), AETHER_OK);
        CHECK_STATUS(aether_decision_probabilities(half, 3, 1.0f, q), AETHER_OK);
        CHECK(!memcmp(p, q, sizeof p));
    }
    /* huge logits do not overflow */
    {
        const float big[2] = {3e38f, -3e38f};
        CHECK_STATUS(aether_decision_probabilities(big, 2, 1.0f, p), AETHER_OK);
        CHECK(p[0] == 1.0f && p[1] == 0.0f);
    }
}

static void test_decide(void)
{
    const float logits[3] = {0.5f, 3.0f, 1.0f};
    aether_decision d;
    aether_decision_params prm = aether_decision_params_default();
    float p[3];
    CHECK(prm.temperature == 1.0f && prm.unknown_below == 0.0f);
    CHECK_STATUS(aether_decide(logits, 3, NULL, -1.0f, &d), AETHER_OK);
    CHECK_EQ_INT((int)d.top, 1);
    CHECK(d.margin == 2.0f);
    CHECK(!d.unknown);
    CHECK_STATUS(aether_decision_probabilities(logits, 3, 1.0f, p), AETHER_OK);
    CHECK_NEAR(d.probability, p[1], 1e-7);
    /* a higher temperature lowers the probability, never the argmax */
    prm.temperature = 10.0f;
    CHECK_STATUS(aether_decide(logits, 3, &prm, -1.0f, &d), AETHER_OK);
    CHECK_EQ_INT((int)d.top, 1);
    CHECK(d.probability < p[1] && d.probability > 1.0f / 3.0f);
    /* unknown below the threshold, exactly at it not */
    prm.unknown_below = d.probability;
    CHECK_STATUS(aether_decide(logits, 3, &prm, -1.0f, &d), AETHER_OK);
    CHECK(!d.unknown);
    prm.unknown_below = d.probability + 1e-6f;
    CHECK_STATUS(aether_decide(logits, 3, &prm, -1.0f, &d), AETHER_OK);
    CHECK(d.unknown && d.top == 1);
    /* ties: the lower index, probability 1/2 */
    {
        const float tie[2] = {1.0f, 1.0f};
        CHECK_STATUS(aether_decide(tie, 2, NULL, -1.0f, &d), AETHER_OK);
        CHECK(d.top == 0 && d.probability == 0.5f && d.margin == 0.0f);
    }
}

static void test_errors(void)
{
    const float ok[2] = {1.0f, 0.0f};
    float bad[2] = {1.0f, 0.0f}, p[2] = {7.0f, 7.0f};
    aether_decision d, keep;
    aether_decision_params prm = aether_decision_params_default();
    aether_blob_model_meta m;
    memset(&keep, 0x5A, sizeof keep);
    d = keep;
    bad[1] = NAN;
    CHECK_STATUS(aether_decide(NULL, 2, NULL, -1.0f, &d), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_decide(ok, 2, NULL, -1.0f, NULL), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_decide(ok, 0, NULL, -1.0f, &d), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_decide(bad, 2, NULL, -1.0f, &d), AETHER_ERR_NONFINITE);
    bad[1] = INFINITY;
    CHECK_STATUS(aether_decide(bad, 2, NULL, -1.0f, &d), AETHER_ERR_NONFINITE);
    prm.temperature = 0.0f;
    CHECK_STATUS(aether_decide(ok, 2, &prm, -1.0f, &d), AETHER_ERR_INVALID_ARG);
    prm.temperature = NAN;
    CHECK_STATUS(aether_decide(ok, 2, &prm, -1.0f, &d), AETHER_ERR_INVALID_ARG);
    prm.temperature = 1.0f;
    prm.unknown_below = 1.5f;
    CHECK_STATUS(aether_decide(ok, 2, &prm, -1.0f, &d), AETHER_ERR_INVALID_ARG);
    prm.unknown_below = NAN;
    CHECK_STATUS(aether_decide(ok, 2, &prm, -1.0f, &d), AETHER_ERR_INVALID_ARG);
    CHECK(!memcmp(&d, &keep, sizeof d)); /* untouched on error */
    CHECK_STATUS(aether_decision_probabilities(bad, 2, 1.0f, p), AETHER_ERR_NONFINITE);
    CHECK(p[0] == 7.0f && p[1] == 7.0f);
    CHECK_STATUS(aether_decision_probabilities(ok, 2, -1.0f, p), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_decision_params_from_meta(NULL, &prm), AETHER_ERR_NULL_ARG);
    memset(&m, 0, sizeof m);
    m.have_temperature = 1;
    m.temperature = 3.0f;
    CHECK_STATUS(aether_decision_params_from_meta(&m, &prm), AETHER_OK);
    CHECK(prm.temperature == 3.0f && prm.unknown_below == 0.0f);
}

/* ood_above: unknown for a distance above it, whatever the probability. */
static void test_out_of_distribution(void)
{
    const float logits[2] = {50.0f, -50.0f};
    aether_decision d;
    aether_decision_params prm = aether_decision_params_default();
    prm.ood_above = 2.0f;
    CHECK_STATUS(aether_decide(logits, 2, &prm, 1.5f, &d), AETHER_OK);
    CHECK(!d.unknown && !d.out_of_distribution && d.probability == 1.0f);
    CHECK_STATUS(aether_decide(logits, 2, &prm, 2.0f, &d), AETHER_OK);
    CHECK(!d.unknown); /* at the bound: still in */
    CHECK_STATUS(aether_decide(logits, 2, &prm, 2.5f, &d), AETHER_OK);
    CHECK(d.unknown && d.out_of_distribution && d.top == 0);
    CHECK_STATUS(aether_decide(logits, 2, &prm, -1.0f, &d), AETHER_OK);
    CHECK(!d.unknown); /* distance not known */
    prm.ood_above = 0.0f;
    CHECK_STATUS(aether_decide(logits, 2, &prm, 1e9f, &d), AETHER_OK);
    CHECK(!d.unknown); /* 0: off */
    prm.ood_above = -1.0f;
    CHECK_STATUS(aether_decide(logits, 2, &prm, 1.0f, &d), AETHER_ERR_INVALID_ARG);
}

/* The input distance: z-scores of the window mean against the model's
 * normalisation, over the features it reads. */
static void test_input_distance(void)
{
    aether_blob_demo_params dp = aether_blob_demo_default();
    size_t len = 0, i, f;
    unsigned char *buf;
    aether_blob_view v;
    aether_model *m = NULL;
    aether_blob_layout lay;
    float frames[3 * 16], dist = -1.0f, want;
    double acc = 0.0;
    dp.input_norm = 1;
    CHECK_STATUS(aether_blob_demo_size(&dp, &len), AETHER_OK);
    buf = (unsigned char *)malloc(len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    CHECK_STATUS(aether_blob_demo_write(&dp, buf, len, NULL), AETHER_OK);
    CHECK_STATUS(aether_blob_parse(buf, len, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_validate_model(&v, &lay), AETHER_OK);
    CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &m), AETHER_OK);
    for (i = 0; i < 3 * 16; ++i)
        frames[i] = (float)((int)(i * 7 % 11) - 5) * 0.25f;
    CHECK_STATUS(aether_model_input_distance(m, frames, 3, &dist), AETHER_OK);
    for (f = 0; f < 16; ++f) {
        double mean = aether_blob_weight(&v, lay.norm_mean + f);
        double s = aether_blob_weight(&v, lay.norm_inv_std + f);
        double x = ((double)frames[f] + frames[16 + f] + frames[32 + f]) / 3.0,
               z = (x - mean) * s;
        acc += z * z;
    }
    want = (float)sqrt(acc / 16.0);
    CHECK_NEAR(dist, want, 1e-5 * want + 1e-6);
    CHECK_STATUS(aether_model_input_distance(m, frames, 0, &dist), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_model_input_distance(m, NULL, 3, &dist), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_model_input_distance(NULL, frames, 3, &dist), AETHER_ERR_NULL_ARG);
    aether_model_destroy(m);
    free(buf);
}

TEST_MAIN(test_probabilities, test_decide, test_errors, test_out_of_distribution,
          test_input_distance)
