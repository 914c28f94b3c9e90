/*
 * Training: optimiser, schedule, split, metrics, baseline regression, a
 * short deterministic run on a separable synthetic task (same seed -> same
 * bytes, whatever the thread count), and the shipped models.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/model.h"
#include "aether/train.h"
#include "check.h"
#include "test_util.h"
#include "test_ws.h"

static void test_adam_step(void)
{
    aether_adam a;
    float w[2] = {1.0f, -2.0f}, g[2] = {0.5f, -0.25f};
    CHECK_STATUS(aether_adam_init(&a, 2), AETHER_OK);
    CHECK_STATUS(aether_adam_step(&a, w, g, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f), AETHER_OK);
    /* first bias-corrected step moves each weight by lr * sign(g) */
    CHECK_NEAR(w[0], 0.9, 1e-6);
    CHECK_NEAR(w[1], -1.9, 1e-6);
    /* decoupled decay: zero gradient, weight shrinks by lr * wd * w */
    g[0] = g[1] = 0.0f;
    aether_adam_free(&a);
    CHECK_STATUS(aether_adam_init(&a, 2), AETHER_OK);
    w[0] = 1.0f;
    CHECK_STATUS(aether_adam_step(&a, w, g, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f), AETHER_OK);
    CHECK_NEAR(w[0], 0.95, 1e-6);
    CHECK_STATUS(aether_adam_step(&a, w, g, 0.1f, 1.0f, 0.999f, 1e-8f, 0.0f),
                 AETHER_ERR_INVALID_ARG);
    aether_adam_free(&a);
    CHECK_STATUS(aether_adam_init(NULL, 2), AETHER_ERR_NULL_ARG);
}

static void test_schedule(void)
{
    CHECK_NEAR(aether_lr_schedule(1.0f, 0, 10, 110, 0.1f), 0.1, 1e-7);
    CHECK_NEAR(aether_lr_schedule(1.0f, 9, 10, 110, 0.1f), 1.0, 1e-7);
    CHECK_NEAR(aether_lr_schedule(1.0f, 10, 10, 110, 0.1f), 1.0, 1e-7);
    CHECK_NEAR(aether_lr_schedule(1.0f, 60, 10, 110, 0.1f), 0.55, 1e-6);
    CHECK_NEAR(aether_lr_schedule(1.0f, 110, 10, 110, 0.1f), 0.1, 1e-7);
}

static void test_split_by_time(void)
{
    aether_train_recording r[9];
    size_t i, nv0 = 0, nv1 = 0;
    memset(r, 0, sizeof r);
    /* class 0: 8 recordings with times given out of order; class 1: one */
    for (i = 0; i < 8; ++i) {
        r[i].label = 0;
        r[i].time = (double)((i * 5) % 8);
        snprintf(r[i].name, sizeof r[i].name, "c0_%zu", i);
    }
    r[8].label = 1;
    r[8].time = 100.0;
    CHECK_STATUS(aether_train_split_by_time(r, 9, 2, 0.25), AETHER_OK);
    for (i = 0; i < 8; ++i) {
        nv0 += r[i].split == AETHER_SPLIT_VAL;
        /* exactly the two latest recordings (times 6 and 7) */
        CHECK_EQ_INT(r[i].split == AETHER_SPLIT_VAL, r[i].time >= 6.0);
    }
    nv1 = r[8].split == AETHER_SPLIT_VAL;
    CHECK_EQ_INT(nv0, 2);
    CHECK_EQ_INT(nv1, 0); /* a class with one recording keeps it for training */
    CHECK_STATUS(aether_train_split_by_time(r, 9, 2, 1.0), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_train_split_by_time(r, 9, 1, 0.25), AETHER_ERR_INVALID_ARG);
}

static void test_metrics(void)
{
    /* rows true, cols predicted */
    size_t conf[9] = {8, 2, 0, 1, 9, 0, 0, 0, 10};
    aether_metrics m;
    CHECK_STATUS(aether_metrics_compute(conf, 3, &m), AETHER_OK);
    CHECK_EQ_INT(m.total, 30);
    CHECK_NEAR(m.accuracy, 27.0 / 30.0, 1e-12);
    CHECK_NEAR(m.recall[0], 0.8, 1e-12);
    CHECK_NEAR(m.precision[0], 8.0 / 9.0, 1e-12);
    CHECK_NEAR(m.f1[2], 1.0, 1e-12);
    CHECK_NEAR(m.macro_f1,
               (2 * 0.8 * (8.0 / 9) / (0.8 + 8.0 / 9) + 2 * 0.9 * (9.0 / 11) / (0.9 + 9.0 / 11) +
                1) /
                   3,
               1e-12);
    CHECK_STATUS(aether_metrics_compute(conf, 0, &m), AETHER_ERR_INVALID_ARG);
    CHECK_EQ_INT(aether_train_eval_windows(100, 64, 16), 3);
    CHECK_EQ_INT(aether_train_eval_windows(10, 64, 16), 1);
    CHECK_EQ_INT(aether_train_eval_windows(0, 64, 16), 0);
}

static void test_norm_stats(void)
{
    float fr[6] = {1, 10, 3, 10, 5, 10}, mean[2], inv[2];
    unsigned char mask[2] = {1, 0};
    aether_train_recording r;
    memset(&r, 0, sizeof r);
    r.frames = fr;
    r.n_frames = 3;
    CHECK_STATUS(aether_train_norm_stats(&r, 1, 2, NULL, 1e-3f, mean, inv), AETHER_OK);
    CHECK_NEAR(mean[0], 3.0, 1e-6);
    CHECK_NEAR(inv[0], 1.0 / sqrt(8.0 / 3.0), 1e-6);
    CHECK_NEAR(inv[1], 1000.0, 1e-3); /* constant feature: the floor */
    CHECK_STATUS(aether_train_norm_stats(&r, 1, 2, mask, 1e-3f, mean, inv), AETHER_OK);
    CHECK(mean[1] == 0.0f && inv[1] == 0.0f);
}

static void test_logreg(void)
{
    float x[40 * 2];
    size_t y[40], i, ok = 0;
    aether_logreg m;
    for (i = 0; i < 40; ++i) {
        y[i] = i % 2;
        x[2 * i] = (float)((y[i] ? 1.0 : -1.0) + 0.3 * sin((double)i));
        x[2 * i + 1] = (float)cos((double)i * 1.7);
    }
    CHECK_STATUS(aether_logreg_fit(&m, x, y, 40, 2, 2, 1e-3f, 200), AETHER_OK);
    for (i = 0; i < 40; ++i)
        ok += aether_logreg_predict(&m, x + 2 * i) == y[i];
    CHECK_EQ_INT(ok, 40);
    aether_logreg_free(&m);
}

/* ---- synthetic dataset: class c raises feature c's level and makes
 * feature 2 oscillate at a class-specific rate ---- */
enum { SD = 5, SR = 12, SF = 60 };

static void make_synthetic(aether_train_recording *r, float *store)
{
    size_t i, t, k;
    uint64_t s = 0x9E3779B97F4A7C15ull;
    memset(r, 0, SR * sizeof *r);
    for (i = 0; i < SR; ++i) {
        float *f = store + i * SF * SD;
        r[i].label = i % 2;
        r[i].time = (double)i;
        r[i].frames = f;
        r[i].n_frames = SF;
        snprintf(r[i].name, sizeof r[i].name, "rec%02zu", i);
        for (t = 0; t < SF; ++t)
            for (k = 0; k < SD; ++k) {
                double u;
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                u = (double)((s * 2685821657736338717ull) >> 40) / 16777216.0 - 0.5;
                f[t * SD + k] = (float)(u + (k == r[i].label ? 1.5 : 0.0) +
                                        (k == 2 ? sin((double)t * (r[i].label ? 0.9 : 0.2))
                                                : 0.0));
            }
    }
}

static unsigned char *train_opts(const aether_train_recording *r, size_t threads, size_t *len,
                                 double *val_acc, int keep_last, aether_train_result *out)
{
    aether_train_shape sh = {SD, 2, 1, 4, 1, 2, 1};
    aether_head_config hc = aether_head_config_default_aether();
    aether_train_config cfg = aether_train_config_default();
    aether_train_net *net = NULL;
    aether_train_result res;
    float mean[SD], inv[SD];
    size_t conf[4] = {0};
    unsigned char *blob = NULL;
    aether_metrics m;
    hc.q_heads = 2;
    hc.kv_heads = 1;
    hc.head_dim = 4;
    hc.window = 4;
    hc.block_size = 4;
    cfg.window = 16;
    cfg.stride = 8;
    cfg.epochs = 6;
    cfg.batch = 8;
    cfg.lr = 1e-2f;
    cfg.threads = threads;
    cfg.seed = 42;
    cfg.aug_noise = 0.05f;
    cfg.aug_offset = 0.05f;
    cfg.pool = AETHER_POOL_MEAN;
    cfg.keep_last = keep_last;
    if (keep_last)
        cfg.patience = 1; /* ignored: no early stopping */
    CHECK_STATUS(aether_train_net_create(&sh, &hc, &net), AETHER_OK);
    CHECK_STATUS(aether_train_net_randomize(net, 42), AETHER_OK);
    CHECK_STATUS(aether_train_norm_stats(r, SR, SD, NULL, 1e-3f, mean, inv), AETHER_OK);
    CHECK_STATUS(aether_train_net_set_norm(net, mean, inv), AETHER_OK);
    CHECK_STATUS(aether_train_fit(net, r, SR, &cfg, NULL, &res), AETHER_OK);
    CHECK(res.epochs_run >= 1 && res.best_epoch >= 1);
    if (out)
        *out = res;
    {
        size_t need = 0, before[4];
        void *ws;
        CHECK_STATUS(aether_train_example_ws_size(net, 16, &need), AETHER_OK);
        ws = malloc(need);
        memcpy(before, conf, sizeof before);
        /* No workspace: an error, conf untouched. */
        CHECK_STATUS(aether_train_evaluate(net, r, SR, AETHER_SPLIT_VAL, 16, 8, AETHER_POOL_MEAN,
                                           conf, NULL, NULL, NULL, 0),
                     AETHER_ERR_NULL_ARG);
        CHECK_STATUS(aether_train_evaluate(net, r, SR, AETHER_SPLIT_VAL, 16, 8, AETHER_POOL_MEAN,
                                           conf, NULL, NULL, ws, need - 1),
                     AETHER_ERR_BUFFER_TOO_SMALL);
        CHECK(memcmp(before, conf, sizeof before) == 0);
        CHECK_STATUS(aether_train_evaluate(net, r, SR, AETHER_SPLIT_VAL, 16, 8, AETHER_POOL_MEAN,
                                           conf, NULL, NULL, ws, need),
                     AETHER_OK);
        free(ws);
    }
    aether_metrics_compute(conf, 2, &m);
    *val_acc = m.accuracy;
    CHECK_STATUS(aether_train_net_blob_size(net, len), AETHER_OK);
    blob = (unsigned char *)malloc(*len);
    CHECK_STATUS(aether_train_net_serialize(net, blob, *len, NULL), AETHER_OK);
    aether_train_net_destroy(net);
    return blob;
}

static unsigned char *train_once(const aether_train_recording *r, size_t threads, size_t *len,
                                 double *val_acc)
{
    return train_opts(r, threads, len, val_acc, 0, NULL);
}

/* keep_last: every epoch runs and the last is kept; the validation
 * recordings are only scored, so setting them aside changes no byte. */
static void test_keep_last(void)
{
    static float store[SR * SF * SD];
    aether_train_recording r[SR];
    aether_train_result res;
    size_t l1 = 0, l2 = 0, i;
    double a1 = 0, a2 = 0;
    unsigned char *b1, *b2;
    make_synthetic(r, store);
    CHECK_STATUS(aether_train_split_by_time(r, SR, 2, 0.25), AETHER_OK);
    b1 = train_opts(r, 1, &l1, &a1, 1, &res);
    CHECK_EQ_INT(res.epochs_run, 6);
    CHECK_EQ_INT(res.best_epoch, 6);
    for (i = 0; i < SR; ++i)
        if (r[i].split == AETHER_SPLIT_VAL)
            r[i].split = 3; /* neither split: ignored by the fit */
    b2 = train_opts(r, 1, &l2, &a2, 1, &res);
    CHECK_EQ_INT(res.epochs_run, 6);
    CHECK(b1 && b2 && l1 == l2 && memcmp(b1, b2, l1) == 0);
    free(b1);
    free(b2);
}

static void test_train_deterministic(void)
{
    static float store[SR * SF * SD];
    aether_train_recording r[SR];
    size_t l1 = 0, l2 = 0, l3 = 0;
    double a1 = 0, a2 = 0, a3 = 0;
    unsigned char *b1, *b2, *b3;
    make_synthetic(r, store);
    CHECK_STATUS(aether_train_split_by_time(r, SR, 2, 0.25), AETHER_OK);
    b1 = train_once(r, 1, &l1, &a1);
    b2 = train_once(r, 1, &l2, &a2);
    b3 = train_once(r, 3, &l3, &a3);
    printf("  synthetic task: validation accuracy %.4f, blob %zu bytes\n", a1, l1);
    CHECK(a1 >= 0.99);
    CHECK_EQ_INT(l1, l2);
    CHECK(b1 && b2 && l1 == l2 && memcmp(b1, b2, l1) == 0);
    CHECK(b1 && b3 && l1 == l3 && memcmp(b1, b3, l1) == 0); /* thread count changes nothing */
    {
        /* the trained blob loads as a model with input normalisation */
        aether_blob_view v;
        aether_model *model = NULL;
        aether_model_info info;
        CHECK_STATUS(aether_blob_parse(b1, l1, &v), AETHER_OK);
        CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_OK);
        CHECK(v.header.flags & AETHER_BLOB_FLAG_INPUT_NORM);
        CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &model), AETHER_OK);
        CHECK_STATUS(aether_model_get_info(model, &info), AETHER_OK);
        CHECK_EQ_INT(info.input_norm, 1);
        aether_model_destroy(model);
    }
    free(b1);
    free(b2);
    free(b3);
}

static void test_fit_errors(void)
{
    aether_train_shape sh = {SD, 2, 1, 4, 1, 2, 1};
    aether_train_config cfg = aether_train_config_default();
    aether_train_net *net = NULL;
    aether_train_recording r;
    float f[SD] = {0};
    memset(&r, 0, sizeof r);
    r.frames = f;
    r.n_frames = 1;
    r.split = AETHER_SPLIT_VAL; /* no training recording */
    CHECK_STATUS(aether_train_net_create(&sh, NULL, &net), AETHER_OK);
    CHECK_STATUS(aether_train_fit(net, &r, 1, &cfg, NULL, NULL), AETHER_ERR_INVALID_ARG);
    r.split = AETHER_SPLIT_TRAIN;
    cfg.seed = 0;
    CHECK_STATUS(aether_train_fit(net, &r, 1, &cfg, NULL, NULL), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_train_fit(NULL, &r, 1, &cfg, NULL, NULL), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_train_net_randomize(net, 0), AETHER_ERR_INVALID_ARG);
    aether_train_net_destroy(net);
}

/* The models shipped in models/ load at both validity levels and classify
 * a synthetic window. */
static void shipped_model(const char *name, size_t n_classes, const char *labels,
                          const char *window, const char *recipe)
{
    aether_blob_metadata md;
    char val[256];
    int found = 0;
    unsigned char *buf;
    size_t n = 0;
    aether_blob_view v;
    aether_model *model = NULL;
    aether_model_info info;
    float *frames, logits[8], s = 0.0f;
    size_t i, t, D;
    buf = test_shipped_model(name, &n); /* a missing file is a failed CHECK */
    if (!buf)
        return;
    CHECK(n < 64 * 1024); /* small blobs */
    CHECK_STATUS(aether_blob_parse(buf, n, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_OK);
    CHECK_EQ_INT(v.header.n_classes, n_classes);
    CHECK(v.header.flags & AETHER_BLOB_FLAG_INPUT_NORM);
    /* the metadata says how the model was trained (run / eval use it) */
    CHECK(v.header.flags & AETHER_BLOB_FLAG_METADATA);
    CHECK_STATUS(aether_blob_metadata_get(&v, &md), AETHER_OK);
    CHECK_STATUS(aether_blob_metadata_copy(&md, "labels", val, sizeof val, &found), AETHER_OK);
    CHECK(found && !strcmp(val, labels));
    CHECK_STATUS(aether_blob_metadata_copy(&md, "pool", val, sizeof val, &found), AETHER_OK);
    CHECK(found && !strcmp(val, "mean"));
    CHECK_STATUS(aether_blob_metadata_copy(&md, "window_frames", val, sizeof val, &found),
                 AETHER_OK);
    CHECK(found && !strcmp(val, window));
    CHECK_STATUS(aether_blob_metadata_copy(&md, "features", val, sizeof val, &found), AETHER_OK);
    CHECK(found && !strcmp(val, recipe));
    CHECK_STATUS(aether_blob_metadata_copy(&md, "input_dim", val, sizeof val, &found), AETHER_OK);
    CHECK(found && (size_t)atoi(val) == v.header.input_dim);
    CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &model), AETHER_OK);
    if (!model) {
        free(buf);
        return;
    }
    CHECK_STATUS(aether_model_get_info(model, &info), AETHER_OK);
    D = info.input_dim;
    frames = (float *)malloc(64 * D * sizeof(float));
    for (t = 0; t < 64; ++t)
        for (i = 0; i < D; ++i)
            frames[t * D + i] = (float)(0.1 * sin(0.3 * (double)(t + i)));
    CHECK_STATUS(ws_model_forward(model, frames, 64, AETHER_POOL_MEAN, logits, NULL), AETHER_OK);
    CHECK_STATUS(ws_model_forward(model, frames, 64, AETHER_POOL_LAST, logits, NULL), AETHER_OK);
    for (i = 0; i < n_classes; ++i)
        s += logits[i];
    CHECK(aether_isfinite(s));
    free(frames);
    aether_model_destroy(model);
    free(buf);
}

/* A synthetic recording of n packets of 64 pairs, every value even and
 * within +-60, so one x2 step down (halving) is exact. */
static void gs_recording(int8_t *iq, size_t n)
{
    size_t p, i;
    for (p = 0; p < n; ++p)
        for (i = 0; i < 128; ++i)
            iq[p * 128 + i] = (int8_t)(2 * (int)((p * 7 + i * 13) % 61) - 60);
}

static void test_gain_steps(void)
{
    enum { N = 200, L = 128 };
    static int8_t orig[N * L], a[N * L], b[N * L];
    size_t p, i, halved = 0;
    gs_recording(orig, N);
    /* step-free at rate 0: untouched */
    memcpy(a, orig, sizeof a);
    CHECK_STATUS(aether_train_gain_steps(a, N, 64, 0.0, 9), AETHER_OK);
    CHECK(memcmp(a, orig, sizeof a) == 0);
    /* steps inserted (packets 50..59 and 120 one level down): rate 0 brings
     * every packet back to the upper level, exactly */
    memcpy(a, orig, sizeof a);
    for (p = 0; p < N; ++p)
        if ((p >= 50 && p < 60) || p == 120)
            for (i = 0; i < L; ++i)
                a[p * L + i] = (int8_t)(a[p * L + i] / 2);
    CHECK(memcmp(a, orig, sizeof a) != 0);
    CHECK_STATUS(aether_train_gain_steps(a, N, 64, 0.0, 9), AETHER_OK);
    CHECK(memcmp(a, orig, sizeof a) == 0);
    /* rate 0.4: each packet is the original or exactly its half; about 40 %
     * halved; the same seed gives the same bytes, another seed others */
    memcpy(a, orig, sizeof a);
    memcpy(b, orig, sizeof b);
    CHECK_STATUS(aether_train_gain_steps(a, N, 64, 0.4, 3), AETHER_OK);
    CHECK_STATUS(aether_train_gain_steps(b, N, 64, 0.4, 3), AETHER_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);
    for (p = 0; p < N; ++p) {
        int same = memcmp(a + p * L, orig + p * L, L) == 0, half = 1;
        for (i = 0; i < L; ++i)
            half &= a[p * L + i] == orig[p * L + i] / 2;
        CHECK_MSG(same || half, "packet %zu is neither kept nor halved", p);
        halved += !same;
    }
    CHECK_MSG(halved > 55 && halved < 105, "halved %zu of 200 at rate 0.4", halved);
    memcpy(b, orig, sizeof b);
    CHECK_STATUS(aether_train_gain_steps(b, N, 64, 0.4, 4), AETHER_OK);
    CHECK(memcmp(a, b, sizeof a) != 0);
    /* rate 1: every packet halved */
    memcpy(a, orig, sizeof a);
    CHECK_STATUS(aether_train_gain_steps(a, N, 64, 1.0, 3), AETHER_OK);
    for (i = 0; i < N * L; ++i)
        if (a[i] != orig[i] / 2)
            break;
    CHECK_EQ_INT(i, N * L);
    /* errors */
    CHECK_STATUS(aether_train_gain_steps(NULL, 1, 64, 0.1, 1), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_train_gain_steps(NULL, 0, 64, 0.1, 1), AETHER_OK);
    CHECK_STATUS(aether_train_gain_steps(a, N, 0, 0.1, 1), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_train_gain_steps(a, N, 64, 1.5, 1), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_train_gain_steps(a, N, 64, -0.1, 1), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_train_gain_steps(a, N, 64, NAN, 1), AETHER_ERR_INVALID_ARG);
}

static void test_shipped_models(void)
{
    shipped_model("gesture.rvne", 3, "wave,circle_cw,no_gesture", "64", "csi-v4");
    shipped_model("motion.rvne", 2, "baseline,movement", "256", "csi-v3");
}

TEST_MAIN(test_adam_step, test_schedule, test_split_by_time, test_metrics, test_norm_stats,
          test_logreg, test_train_deterministic, test_keep_last, test_fit_errors,
          test_gain_steps, test_shipped_models)
