/*
 * Non-finite and out-of-range inputs of the training statistics and of the
 * logistic-regression baseline: rejected with a status before any output
 * is written, and a later good call gives what it gives on its own.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "aether/train.h"
#include "check.h"

static void test_norm_stats_nonfinite(void)
{
    float fr[6] = {1, 10, 3, 10, 5, 10}, mean[2] = {-7.0f, -7.0f}, inv[2] = {-7.0f, -7.0f};
    float held[6] = {1, 2, 3, 4, 5, 6};
    aether_train_recording r[2];
    memset(r, 0, sizeof r);
    r[0].frames = fr;
    r[0].n_frames = 3;
    r[0].split = AETHER_SPLIT_TRAIN;
    r[1].frames = held;
    r[1].n_frames = 3;
    r[1].split = AETHER_SPLIT_VAL;

    fr[3] = NAN;
    CHECK_STATUS(aether_train_norm_stats(r, 2, 2, NULL, 1e-3f, mean, inv), AETHER_ERR_NONFINITE);
    CHECK(mean[0] == -7.0f && mean[1] == -7.0f && inv[0] == -7.0f && inv[1] == -7.0f);
    fr[3] = INFINITY;
    CHECK_STATUS(aether_train_norm_stats(r, 2, 2, NULL, 1e-3f, mean, inv), AETHER_ERR_NONFINITE);
    fr[3] = -INFINITY;
    CHECK_STATUS(aether_train_norm_stats(r, 2, 2, NULL, 1e-3f, mean, inv), AETHER_ERR_NONFINITE);
    CHECK(mean[0] == -7.0f && inv[1] == -7.0f);

    /* A non-finite value outside the TRAIN split is not read. */
    fr[3] = 10.0f;
    held[2] = NAN;
    CHECK_STATUS(aether_train_norm_stats(r, 2, 2, NULL, 1e-3f, mean, inv), AETHER_OK);
    CHECK(mean[0] == 3.0f);
    CHECK_NEAR(inv[0], 1.0 / sqrt(8.0 / 3.0), 1e-6);
    CHECK_NEAR(inv[1], 1000.0, 1e-3);
}

static void fill_rows(float *x, size_t *y, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        y[i] = i % 2;
        x[2 * i] = (float)((y[i] ? 1.0 : -1.0) + 0.3 * sin((double)i));
        x[2 * i + 1] = (float)cos((double)i * 1.7);
    }
}

static int logreg_same(const aether_logreg *a, const aether_logreg *b)
{
    size_t nw = (a->dim + 1) * a->n_classes;
    return a->dim == b->dim && a->n_classes == b->n_classes &&
           memcmp(a->w, b->w, nw * sizeof(float)) == 0 &&
           memcmp(a->mean, b->mean, a->dim * sizeof(float)) == 0 &&
           memcmp(a->inv_std, b->inv_std, a->dim * sizeof(float)) == 0;
}

static void test_logreg_nonfinite(void)
{
    float x[40 * 2];
    size_t y[40], i, ok = 0;
    aether_logreg ref, m, untouched;
    fill_rows(x, y, 40);
    CHECK_STATUS(aether_logreg_fit(&ref, x, y, 40, 2, 2, 1e-3f, 200), AETHER_OK);

    memset(&untouched, 0x5A, sizeof untouched);
    m = untouched;
    x[13] = NAN;
    CHECK_STATUS(aether_logreg_fit(&m, x, y, 40, 2, 2, 1e-3f, 200), AETHER_ERR_NONFINITE);
    CHECK(memcmp(&m, &untouched, sizeof m) == 0);
    x[13] = INFINITY;
    CHECK_STATUS(aether_logreg_fit(&m, x, y, 40, 2, 2, 1e-3f, 200), AETHER_ERR_NONFINITE);
    x[79] = -INFINITY; /* the very last value */
    fill_rows(x, y, 39);
    CHECK_STATUS(aether_logreg_fit(&m, x, y, 40, 2, 2, 1e-3f, 200), AETHER_ERR_NONFINITE);
    CHECK(memcmp(&m, &untouched, sizeof m) == 0);

    /* l2: NaN, infinite or negative. */
    fill_rows(x, y, 40);
    CHECK_STATUS(aether_logreg_fit(&m, x, y, 40, 2, 2, NAN, 200), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_logreg_fit(&m, x, y, 40, 2, 2, INFINITY, 200), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_logreg_fit(&m, x, y, 40, 2, 2, -1.0f, 200), AETHER_ERR_INVALID_ARG);
    CHECK(memcmp(&m, &untouched, sizeof m) == 0);

    /* (dim + 1) * n_classes and n * dim beyond size_t. */
    CHECK_STATUS(aether_logreg_fit(&m, x, y, 1, SIZE_MAX, 2, 1e-3f, 1), AETHER_ERR_OVERFLOW);
    CHECK_STATUS(aether_logreg_fit(&m, x, y, 2, SIZE_MAX / 2 + 1, 2, 1e-3f, 1),
                 AETHER_ERR_OVERFLOW);
    CHECK(memcmp(&m, &untouched, sizeof m) == 0);

    /* After the failures, the good fit is the one of a fresh start. */
    CHECK_STATUS(aether_logreg_fit(&m, x, y, 40, 2, 2, 1e-3f, 200), AETHER_OK);
    CHECK(logreg_same(&m, &ref));
    for (i = 0; i < 40; ++i)
        ok += aether_logreg_predict(&m, x + 2 * i) == y[i];
    CHECK_EQ_INT(ok, 40);
    aether_logreg_free(&m);
    aether_logreg_free(&ref);
}

TEST_MAIN(test_norm_stats_nonfinite, test_logreg_nonfinite)
