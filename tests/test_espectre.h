/*
 * The time-based validation split of the ESPectre set (../shared/data), as
 * the tests of the shipped models score them (models/README.md): the
 * recordings loaded with a model's labels, input width and feature recipe,
 * each class's recordings split by time (the last quarter for validation,
 * as `aether eval` splits them), and every evaluation window (the model's
 * window and stride) handed to a callback in recording order. Include after
 * check.h: a failed load or split is a failed CHECK.
 */
#ifndef AETHER_TESTS_TEST_ESPECTRE_H
#define AETHER_TESTS_TEST_ESPECTRE_H

#include <stddef.h>

#include "aether/dataset.h"
#include "aether/train.h"
#include "check.h"

#define TEST_ESPECTRE AETHER_DATA_DIR "/espectre"

/* One window: n frames of input_dim features at x, the recording's label,
 * and whether the recording is in the validation split. */
typedef void (*test_espectre_fn)(void *ctx, const float *x, size_t n, size_t label, int val);

/* Every window of the split through fn; 1, or 0 after a failed CHECK. */
static inline int test_espectre_windows(const char *const *labels, size_t n_labels,
                                        size_t input_dim, unsigned recipe, size_t window,
                                        size_t stride, test_espectre_fn fn, void *ctx)
{
    aether_dataset ds;
    aether_status st;
    size_t r, k;
    st = aether_dataset_load_recipe(TEST_ESPECTRE, labels, n_labels, input_dim, recipe, &ds);
    CHECK_MSG(st == AETHER_OK, "loading %s: %s", TEST_ESPECTRE, aether_status_name(st));
    if (st != AETHER_OK)
        return 0;
    st = aether_train_split_by_time(ds.recs, ds.n_recs, n_labels, 0.25);
    CHECK_MSG(st == AETHER_OK, "splitting %s by time: %s", TEST_ESPECTRE, aether_status_name(st));
    for (r = 0; r < ds.n_recs && st == AETHER_OK; ++r) {
        const aether_train_recording *rec = &ds.recs[r];
        size_t nw = aether_train_eval_windows(rec->n_frames, window, stride);
        size_t n = rec->n_frames < window ? rec->n_frames : window;
        for (k = 0; k < nw; ++k)
            fn(ctx, rec->frames + k * stride * ds.dim, n, rec->label,
               rec->split == AETHER_SPLIT_VAL);
    }
    aether_dataset_free(&ds);
    return st == AETHER_OK;
}

/* The index of the largest of the n values (the first of equal ones). */
static inline size_t test_argmax(const float *v, size_t n)
{
    size_t c, best = 0;
    for (c = 1; c < n; ++c)
        if (v[c] > v[best])
            best = c;
    return best;
}

#endif
