/*
 * Non-finite and out-of-range inputs of the training statistics and of the
 * logistic-regression baseline: rejected with a status before any output
 * is written, and a later good call gives what it gives on its own.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
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

/* A network of more classes than the backward pass holds: with grad the
 * call is INVALID_ARG and writes neither logits nor loss nor grad; without
 * grad (forward only) it runs. */
static void test_example_many_classes(void)
{
    aether_train_shape sh = {3, 2, 1, 4, 1, AETHER_TRAIN_MAX_CLASSES + 8, 0};
    aether_head_config hc = aether_head_config_default_aether();
    aether_train_net *net = NULL;
    float frames[4 * 3], logits[AETHER_TRAIN_MAX_CLASSES + 8], *grad;
    size_t i, need = 0, n;
    double loss = -5.0;
    void *ws;
    hc.q_heads = 2;
    hc.kv_heads = 1;
    hc.head_dim = 4;
    CHECK_STATUS(aether_train_net_create(&sh, &hc, &net), AETHER_OK);
    if (!net)
        return;
    CHECK_STATUS(aether_train_net_randomize(net, 5), AETHER_OK);
    n = aether_train_net_layout(net)->v1_elems;
    grad = (float *)calloc(n, sizeof(float));
    CHECK_STATUS(aether_train_example_ws_size(net, 4, &need), AETHER_OK);
    ws = malloc(need);
    CHECK(grad && ws);
    for (i = 0; i < 12; ++i)
        frames[i] = 0.1f * (float)i - 0.5f;
    for (i = 0; i < sh.n_classes; ++i)
        logits[i] = -7.0f;
    CHECK_STATUS(aether_train_example(net, frames, 4, AETHER_POOL_LAST, 1, 1.0f, grad, logits,
                                      &loss, ws, need),
                 AETHER_ERR_INVALID_ARG);
    CHECK(loss == -5.0);
    for (i = 0; i < sh.n_classes; ++i)
        CHECK(logits[i] == -7.0f);
    for (i = 0; i < n; ++i)
        CHECK(grad[i] == 0.0f);
    CHECK_STATUS(aether_train_example(net, frames, 4, AETHER_POOL_LAST, 1, 1.0f, NULL, logits,
                                      &loss, ws, need),
                 AETHER_OK);
    CHECK(loss > 0.0 && logits[0] != -7.0f);
    free(grad);
    free(ws);
    aether_train_net_destroy(net);
}

/* aether_train_evaluate over VAL recordings of which a later one is bad:
 * the error comes before any window is counted. */
static void test_evaluate_bad_recording(void)
{
    enum { F = 20, DIM = 3 };
    aether_train_shape sh = {DIM, 2, 1, 4, 1, 2, 0};
    aether_head_config hc = aether_head_config_default_aether();
    aether_train_net *net = NULL;
    aether_train_recording r[3];
    static float fr[3][F * DIM];
    size_t conf[4] = {0}, ref[4] = {0}, i, need = 0, nw = 99, nw_ref = 0;
    double loss = -1.0, loss_ref = 0.0;
    void *ws;
    hc.q_heads = 2;
    hc.kv_heads = 1;
    hc.head_dim = 4;
    CHECK_STATUS(aether_train_net_create(&sh, &hc, &net), AETHER_OK);
    if (!net)
        return;
    CHECK_STATUS(aether_train_net_randomize(net, 9), AETHER_OK);
    CHECK_STATUS(aether_train_example_ws_size(net, 8, &need), AETHER_OK);
    ws = malloc(need);
    CHECK(ws != NULL);
    memset(r, 0, sizeof r);
    for (i = 0; i < 3; ++i) {
        size_t t;
        for (t = 0; t < F * DIM; ++t)
            fr[i][t] = (float)sin((double)(t * 3 + i * 17));
        r[i].frames = fr[i];
        r[i].n_frames = F;
        r[i].label = i % 2;
        r[i].split = AETHER_SPLIT_VAL;
    }
    /* windows of 8 frames, stride 8: offsets 0 and 8; frames 16..19 unread */
    CHECK_STATUS(aether_train_evaluate(net, r, 3, AETHER_SPLIT_VAL, 8, 8, AETHER_POOL_LAST, ref,
                                       &loss_ref, &nw_ref, ws, need),
                 AETHER_OK);
    CHECK_EQ_INT(nw_ref, 6);
    CHECK_EQ_INT(ref[0] + ref[1] + ref[2] + ref[3], 6);

    r[2].label = 2;
    CHECK_STATUS(aether_train_evaluate(net, r, 3, AETHER_SPLIT_VAL, 8, 8, AETHER_POOL_LAST, conf,
                                       &loss, &nw, ws, need),
                 AETHER_ERR_INVALID_ARG);
    CHECK(conf[0] == 0 && conf[1] == 0 && conf[2] == 0 && conf[3] == 0);
    CHECK(loss == -1.0 && nw == 99);
    r[2].label = 0;
    fr[2][15 * DIM + 1] = NAN; /* in the second window */
    CHECK_STATUS(aether_train_evaluate(net, r, 3, AETHER_SPLIT_VAL, 8, 8, AETHER_POOL_LAST, conf,
                                       &loss, &nw, ws, need),
                 AETHER_ERR_NONFINITE);
    CHECK(conf[0] == 0 && conf[1] == 0 && conf[2] == 0 && conf[3] == 0);
    CHECK(loss == -1.0 && nw == 99);
    /* A NaN no window reads changes nothing: the counts of the clean run. */
    fr[2][15 * DIM + 1] = (float)sin((double)((15 * DIM + 1) * 3 + 2 * 17));
    fr[2][17 * DIM] = NAN;
    CHECK_STATUS(aether_train_evaluate(net, r, 3, AETHER_SPLIT_VAL, 8, 8, AETHER_POOL_LAST, conf,
                                       &loss, &nw, ws, need),
                 AETHER_OK);
    CHECK(memcmp(conf, ref, sizeof conf) == 0);
    CHECK(loss == loss_ref && nw == nw_ref);
    free(ws);
    aether_train_net_destroy(net);
}

/* aether_train_split_by_time: the latest recording of a class becomes
 * validation; a NaN time, which has no place in that order (the earliest
 * recording went to validation for times {2, NaN, 1}), is refused with the
 * splits unchanged. */
static void test_split_nan_time(void)
{
    aether_train_recording r[3];
    const double times[3] = {2.0, NAN, 1.0};
    size_t i;
    memset(r, 0, sizeof r);
    for (i = 0; i < 3; ++i) {
        r[i].label = 0;
        r[i].time = times[i];
        r[i].split = 7;
        r[i].name[0] = (char)('a' + i);
    }
    CHECK_STATUS(aether_train_split_by_time(r, 3, 1, 0.34), AETHER_ERR_INVALID_ARG);
    for (i = 0; i < 3; ++i)
        CHECK_EQ_INT(r[i].split, 7);
    r[1].time = 1.5;
    CHECK_STATUS(aether_train_split_by_time(r, 3, 1, 0.34), AETHER_OK);
    CHECK_EQ_INT(r[0].split, AETHER_SPLIT_VAL);
    CHECK_EQ_INT(r[1].split, AETHER_SPLIT_TRAIN);
    CHECK_EQ_INT(r[2].split, AETHER_SPLIT_TRAIN);
}

TEST_MAIN(test_norm_stats_nonfinite, test_logreg_nonfinite, test_example_many_classes,
          test_evaluate_bad_recording, test_split_nan_time)
