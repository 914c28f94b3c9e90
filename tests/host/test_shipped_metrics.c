/* The shipped models on the time-based validation split of the ESPectre set:
 * each must reach its documented target macro-F1 (models/README.md) and beat
 * the recipe-independent logistic-regression baseline and level-only probe
 * figures recorded there. Thresholds, not exact bytes (the CTest
 * regen_models checks the bytes). */
#define _POSIX_C_SOURCE 200809L
#include "aether/blob.h"
#include "aether/features.h"
#include "aether/model.h"
#include "aether/train.h"
#include "aether/dataset.h"
#include "check.h"
#include "test_util.h"
#include "test_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ESPECTRE AETHER_DATA_DIR "/espectre"

static size_t meta_size(const aether_blob_metadata *md, const char *key)
{
    char val[64];
    int found = 0;
    CHECK_STATUS(aether_blob_metadata_copy(md, key, val, sizeof val, &found), AETHER_OK);
    CHECK_MSG(found, "metadata %s missing", key);
    return found ? (size_t)strtoul(val, NULL, 10) : 0;
}

/* Macro-F1 of the blob on the validation windows, through the model API
 * with the window, stride, pooling, labels and recipe of its metadata. */
static double validation_f1(const char *name, size_t *n_windows)
{
    aether_blob_view v;
    aether_blob_metadata md;
    aether_model *model = NULL;
    aether_dataset ds;
    aether_metrics m;
    char labels[256], recipe_name[32], *lab[AETHER_TRAIN_MAX_CLASSES], *p;
    size_t len = 0, n_lab = 0, window, stride, r, k, C, conf[64];
    unsigned recipe = 0;
    int found = 0;
    unsigned char *blob = test_shipped_model(name, &len);
    double f1 = 0.0;
    *n_windows = 0;
    if (!blob)
        return 0.0;
    CHECK_STATUS(aether_blob_parse(blob, len, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_metadata_get(&v, &md), AETHER_OK);
    CHECK_STATUS(aether_blob_metadata_copy(&md, "labels", labels, sizeof labels, &found),
                 AETHER_OK);
    CHECK_STATUS(aether_blob_metadata_copy(&md, "features", recipe_name, sizeof recipe_name,
                                           &found),
                 AETHER_OK);
    CHECK_STATUS(aether_features_recipe_parse(recipe_name, &recipe), AETHER_OK);
    window = meta_size(&md, "window_frames");
    stride = meta_size(&md, "window_stride");
    for (p = labels; p && n_lab < AETHER_TRAIN_MAX_CLASSES;) {
        lab[n_lab++] = p;
        p = strchr(p, ',');
        if (p)
            *p++ = '\0';
    }
    C = v.header.n_classes;
    CHECK_EQ_INT(n_lab, C);
    CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &model), AETHER_OK);
    CHECK_STATUS(aether_dataset_load_recipe(ESPECTRE, (const char *const *)lab, n_lab,
                                            v.header.input_dim, recipe, &ds),
                 AETHER_OK);
    CHECK_STATUS(aether_train_split_by_time(ds.recs, ds.n_recs, C, 0.25), AETHER_OK);
    memset(conf, 0, sizeof conf);
    for (r = 0; r < ds.n_recs && model && C * C <= 64; ++r) {
        const aether_train_recording *rec = &ds.recs[r];
        size_t nw = aether_train_eval_windows(rec->n_frames, window, stride);
        if (rec->split != AETHER_SPLIT_VAL)
            continue;
        for (k = 0; k < nw; ++k) {
            float logits[AETHER_TRAIN_MAX_CLASSES];
            size_t n = rec->n_frames < window ? rec->n_frames : window, c, best = 0;
            CHECK_STATUS(ws_model_forward(model, rec->frames + k * stride * ds.dim, n,
                                          AETHER_POOL_MEAN, logits, NULL),
                         AETHER_OK);
            for (c = 1; c < C; ++c)
                if (logits[c] > logits[best])
                    best = c;
            conf[rec->label * C + best]++;
            (*n_windows)++;
        }
    }
    CHECK_STATUS(aether_metrics_compute(conf, C, &m), AETHER_OK);
    f1 = m.macro_f1;
    printf("  %s: %zu validation windows, accuracy %.4f, macro-F1 %.4f\n", name, *n_windows,
           m.accuracy, f1);
    aether_dataset_free(&ds);
    aether_model_destroy(model);
    free(blob);
    return f1;
}

static void test_motion_model(void)
{
    size_t n = 0;
    double f1;
    REQUIRE_PATH(ESPECTRE "/dataset_info.json");
    f1 = validation_f1("motion.rvne", &n);
    CHECK_EQ_INT(n, 48);
    CHECK(f1 >= 0.97); /* target; models/README.md: 0.979 */
    CHECK(f1 > 0.681); /* logistic-regression baseline on this split */
    CHECK(f1 > 0.324); /* level-only probe on this split */
}

static void test_gesture_model(void)
{
    size_t n = 0;
    double f1;
    REQUIRE_PATH(ESPECTRE "/dataset_info.json");
    f1 = validation_f1("gesture.rvne", &n);
    CHECK_EQ_INT(n, 357);
    CHECK(f1 >= 0.90); /* models/README.md: 0.903 */
    CHECK(f1 > 0.705); /* logistic-regression baseline on this split */
    CHECK(f1 > 0.734); /* level-only probe on this split */
}

TEST_MAIN(test_motion_model, test_gesture_model)
