/* The shipped quantized models (models/gesture.q8, motion.q8; docs/FORMATS.md section 9):
 * `aether quantize` of the shipped RVNE blob gives the committed bytes, and
 * on the time-based validation split of the ESPectre set the integer model's
 * macro-F1 is within 0.01 of the f32 model's (models/README.md). */
#define _POSIX_C_SOURCE 200809L
#include "aether/blob.h"
#include "aether/features.h"
#include "aether/model.h"
#include "aether/quant.h"
#include "aether/train.h"
#include "check.h"
#include "test_espectre.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_regenerates(const char *rvne, const char *q8)
{
    size_t flen = 0, qlen = 0, need = 0, n = 0;
    unsigned char *f = test_shipped_model(rvne, &flen), *q = test_shipped_model(q8, &qlen), *out;
    aether_blob_view v;
    aether_qblob_view qv;
    if (!f || !q) {
        free(f);
        free(q);
        return;
    }
    CHECK_STATUS(aether_blob_parse(f, flen, &v), AETHER_OK);
    CHECK_STATUS(aether_qblob_quantize_size(&v, &need), AETHER_OK);
    out = (unsigned char *)malloc(need);
    CHECK_STATUS(aether_qblob_quantize(&v, out, need, &n), AETHER_OK);
    CHECK_MSG(n == qlen && memcmp(out, q, n) == 0, "%s is not the quantized %s", q8, rvne);
    CHECK_STATUS(aether_qblob_parse(q, qlen, &qv), AETHER_OK);
    free(out);
    free(f);
    free(q);
}

static void test_regenerate(void)
{
    check_regenerates("gesture.rvne", "gesture.q8");
    check_regenerates("motion.rvne", "motion.q8");
}

/* Both models' decisions on every window: the validation windows'
 * confusion matrices, and the windows where the decisions differ. */
typedef struct comparison {
    aether_model *fm;
    aether_qmodel *qm;
    void *fws, *qws;
    size_t fneed, qneed, n_classes, conf_f[64], conf_q[64], n_windows, differ;
} comparison;

static void compare_window(void *ctx, const float *x, size_t n, size_t label, int val)
{
    comparison *c = (comparison *)ctx;
    float lf[AETHER_TRAIN_MAX_CLASSES], lq[AETHER_TRAIN_MAX_CLASSES];
    size_t bf, bq;
    CHECK_STATUS(aether_model_forward(c->fm, x, n, AETHER_POOL_MEAN, lf, NULL, c->fws, c->fneed),
                 AETHER_OK);
    CHECK_STATUS(aether_qmodel_forward(c->qm, x, n, AETHER_POOL_MEAN, lq, c->qws, c->qneed),
                 AETHER_OK);
    bf = test_argmax(lf, c->n_classes);
    bq = test_argmax(lq, c->n_classes);
    c->n_windows++;
    c->differ += bf != bq;
    if (val) {
        c->conf_f[label * c->n_classes + bf]++;
        c->conf_q[label * c->n_classes + bq]++;
    }
}

/* Macro-F1 of the f32 and the integer model on the validation windows (the
 * window, stride, labels and recipe of the metadata, MEAN pooling), and the
 * windows where their decisions differ. */
static void compare(const char *rvne, const char *q8, size_t want_windows)
{
    size_t flen = 0, qlen = 0, mn = 0, r, k, C;
    unsigned char *f = test_shipped_model(rvne, &flen), *q = test_shipped_model(q8, &qlen);
    aether_blob_view v;
    aether_qblob_view qv;
    aether_blob_model_meta *meta = (aether_blob_model_meta *)malloc(sizeof *meta);
    comparison c;
    aether_metrics mf, mq;
    const char *lab[AETHER_TRAIN_MAX_CLASSES];
    unsigned recipe = 0;
    void *mb = NULL;
    memset(&c, 0, sizeof c);
    if (!f || !q || !meta)
        goto out;
    CHECK_STATUS(aether_blob_parse(f, flen, &v), AETHER_OK);
    CHECK_STATUS(aether_qblob_parse(q, qlen, &qv), AETHER_OK);
    CHECK_STATUS(aether_qblob_model_meta_read(&qv, meta), AETHER_OK);
    CHECK_STATUS(aether_features_recipe_parse(meta->features, &recipe), AETHER_OK);
    C = c.n_classes = v.header.n_classes;
    for (k = 0; k < meta->n_labels && k < AETHER_TRAIN_MAX_CLASSES; ++k)
        lab[k] = aether_blob_model_meta_label(meta, k);
    CHECK_EQ_INT(meta->n_labels, C);
    CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &c.fm), AETHER_OK);
    CHECK_STATUS(aether_qmodel_size(&qv, NULL, &mn), AETHER_OK);
    mb = malloc(mn);
    CHECK_STATUS(aether_qmodel_init(mb, mn, &qv, NULL, &c.qm), AETHER_OK);
    if (!c.fm || !c.qm || C * C > 64)
        goto out;
    CHECK_STATUS(aether_model_forward_workspace_size(c.fm, meta->window_frames, &c.fneed),
                 AETHER_OK);
    CHECK_STATUS(aether_qmodel_forward_workspace_size(c.qm, meta->window_frames, &c.qneed),
                 AETHER_OK);
    c.fws = malloc(c.fneed);
    c.qws = malloc(c.qneed);
    if (!test_espectre_windows(lab, meta->n_labels, v.header.input_dim, recipe,
                               meta->window_frames, meta->window_stride, compare_window, &c))
        goto out;
    CHECK_STATUS(aether_metrics_compute(c.conf_f, C, &mf), AETHER_OK);
    CHECK_STATUS(aether_metrics_compute(c.conf_q, C, &mq), AETHER_OK);
    k = 0;
    for (r = 0; r < C * C; ++r)
        k += c.conf_q[r];
    CHECK_EQ_INT(k, want_windows);
    printf("  %s: validation macro-F1 f32 %.4f, int8 %.4f; decisions differ on %zu of %zu "
           "windows (all recordings)\n",
           q8, mf.macro_f1, mq.macro_f1, c.differ, c.n_windows);
    CHECK_MSG(fabs(mf.macro_f1 - mq.macro_f1) <= 0.01, "%s: f32 %.4f, int8 %.4f", q8, mf.macro_f1,
              mq.macro_f1);
out:
    free(c.fws);
    free(c.qws);
    aether_model_destroy(c.fm);
    free(mb);
    free(meta);
    free(f);
    free(q);
}

static void test_gesture_accuracy(void)
{
    REQUIRE_PATH(TEST_ESPECTRE "/dataset_info.json");
    compare("gesture.rvne", "gesture.q8", 357);
}

static void test_motion_accuracy(void)
{
    REQUIRE_PATH(TEST_ESPECTRE "/dataset_info.json");
    compare("motion.rvne", "motion.q8", 48);
}

TEST_MAIN(test_regenerate, test_gesture_accuracy, test_motion_accuracy)
