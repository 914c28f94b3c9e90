/* The shipped quantized models (models/gesture.q8, motion.q8; docs/FORMATS.md section 9):
 * `aether quantize` of the shipped RVNE blob gives the committed bytes, and
 * on the time-based validation split of the ESPectre set the integer model's
 * macro-F1 is within 0.01 of the f32 model's (models/README.md). */
#define _POSIX_C_SOURCE 200809L
#include "aether/blob.h"
#include "aether/dataset.h"
#include "aether/features.h"
#include "aether/model.h"
#include "aether/quant.h"
#include "aether/train.h"
#include "check.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ESPECTRE AETHER_DATA_DIR "/espectre"

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

/* Macro-F1 of the f32 and the integer model on the validation windows (the
 * window, stride, labels and recipe of the metadata, MEAN pooling), and the
 * windows where their decisions differ. */
static void compare(const char *rvne, const char *q8, size_t want_windows)
{
    size_t flen = 0, qlen = 0, mn = 0, fneed = 0, qneed = 0, r, k, C, nw_all = 0, differ = 0;
    unsigned char *f = test_shipped_model(rvne, &flen), *q = test_shipped_model(q8, &qlen);
    aether_blob_view v;
    aether_qblob_view qv;
    aether_blob_model_meta *meta = (aether_blob_model_meta *)malloc(sizeof *meta);
    aether_model *fm = NULL;
    aether_qmodel *qm = NULL;
    aether_dataset ds;
    aether_metrics mf, mq;
    const char *lab[AETHER_TRAIN_MAX_CLASSES];
    unsigned recipe = 0;
    size_t conf_f[64], conf_q[64];
    void *mb = NULL, *fws = NULL, *qws = NULL;
    if (!f || !q || !meta)
        goto out;
    CHECK_STATUS(aether_blob_parse(f, flen, &v), AETHER_OK);
    CHECK_STATUS(aether_qblob_parse(q, qlen, &qv), AETHER_OK);
    CHECK_STATUS(aether_qblob_model_meta_read(&qv, meta), AETHER_OK);
    CHECK_STATUS(aether_features_recipe_parse(meta->features, &recipe), AETHER_OK);
    C = v.header.n_classes;
    for (k = 0; k < meta->n_labels && k < AETHER_TRAIN_MAX_CLASSES; ++k)
        lab[k] = aether_blob_model_meta_label(meta, k);
    CHECK_EQ_INT(meta->n_labels, C);
    CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &fm), AETHER_OK);
    CHECK_STATUS(aether_qmodel_size(&qv, NULL, &mn), AETHER_OK);
    mb = malloc(mn);
    CHECK_STATUS(aether_qmodel_init(mb, mn, &qv, NULL, &qm), AETHER_OK);
    if (!fm || !qm || C * C > 64)
        goto out;
    CHECK_STATUS(aether_model_forward_workspace_size(fm, meta->window_frames, &fneed), AETHER_OK);
    CHECK_STATUS(aether_qmodel_forward_workspace_size(qm, meta->window_frames, &qneed),
                 AETHER_OK);
    fws = malloc(fneed);
    qws = malloc(qneed);
    CHECK_STATUS(aether_dataset_load_recipe(ESPECTRE, lab, meta->n_labels, v.header.input_dim,
                                            recipe, &ds),
                 AETHER_OK);
    CHECK_STATUS(aether_train_split_by_time(ds.recs, ds.n_recs, C, 0.25), AETHER_OK);
    memset(conf_f, 0, sizeof conf_f);
    memset(conf_q, 0, sizeof conf_q);
    for (r = 0; r < ds.n_recs; ++r) {
        const aether_train_recording *rec = &ds.recs[r];
        size_t nw = aether_train_eval_windows(rec->n_frames, meta->window_frames,
                                              meta->window_stride);
        for (k = 0; k < nw; ++k) {
            float lf[AETHER_TRAIN_MAX_CLASSES], lq[AETHER_TRAIN_MAX_CLASSES];
            const float *x = rec->frames + k * meta->window_stride * ds.dim;
            size_t n = rec->n_frames < meta->window_frames ? rec->n_frames : meta->window_frames;
            size_t c, bf = 0, bq = 0;
            CHECK_STATUS(aether_model_forward(fm, x, n, AETHER_POOL_MEAN, lf, NULL, fws, fneed),
                         AETHER_OK);
            CHECK_STATUS(aether_qmodel_forward(qm, x, n, AETHER_POOL_MEAN, lq, qws, qneed),
                         AETHER_OK);
            for (c = 1; c < C; ++c) {
                if (lf[c] > lf[bf])
                    bf = c;
                if (lq[c] > lq[bq])
                    bq = c;
            }
            nw_all++;
            differ += bf != bq;
            if (rec->split == AETHER_SPLIT_VAL) {
                conf_f[rec->label * C + bf]++;
                conf_q[rec->label * C + bq]++;
            }
        }
    }
    CHECK_STATUS(aether_metrics_compute(conf_f, C, &mf), AETHER_OK);
    CHECK_STATUS(aether_metrics_compute(conf_q, C, &mq), AETHER_OK);
    k = 0;
    for (r = 0; r < C * C; ++r)
        k += conf_q[r];
    CHECK_EQ_INT(k, want_windows);
    printf("  %s: validation macro-F1 f32 %.4f, int8 %.4f; decisions differ on %zu of %zu "
           "windows (all recordings)\n",
           q8, mf.macro_f1, mq.macro_f1, differ, nw_all);
    CHECK_MSG(fabs(mf.macro_f1 - mq.macro_f1) <= 0.01, "%s: f32 %.4f, int8 %.4f", q8, mf.macro_f1,
              mq.macro_f1);
    aether_dataset_free(&ds);
out:
    free(fws);
    free(qws);
    aether_model_destroy(fm);
    free(mb);
    free(meta);
    free(f);
    free(q);
}

static void test_gesture_accuracy(void)
{
    REQUIRE_PATH(ESPECTRE "/dataset_info.json");
    compare("gesture.rvne", "gesture.q8", 357);
}

static void test_motion_accuracy(void)
{
    REQUIRE_PATH(ESPECTRE "/dataset_info.json");
    compare("motion.rvne", "motion.q8", 48);
}

TEST_MAIN(test_regenerate, test_gesture_accuracy, test_motion_accuracy)
