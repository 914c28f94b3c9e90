/*
 * aether/dataset.h - host-only: labelled recordings from a folder
 * (DIR/<label>/ holding .npz or .csi.jsonl files) as feature-frame
 * sequences for training and evaluation (aether/train.h).
 *
 * Defined in library aether_host (links cJSON and zlib).
 */
#ifndef AETHER_DATASET_H
#define AETHER_DATASET_H

#include "aether/export.h"
#include <stddef.h>

#include "aether/core.h"
#include "aether/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Defined in library aether_host. */

typedef struct aether_dataset {
    aether_train_recording *recs;
    size_t n_recs;
    size_t dim;    /* feature dim (features.h recipe) */
    float **tones; /* per recording: n_frames x AETHER_DATASET_TONES gain-normalised amplitudes */
    size_t n_classes;
    char labels[AETHER_TRAIN_MAX_CLASSES][32];
    unsigned recipe; /* feature recipe used (AETHER_FEATURES_V1 / _V2 / _V3) */
} aether_dataset;

#define AETHER_DATASET_TONES 52u

/* Read DIR/<label>/ *.npz and *.csi.jsonl for each of the n_labels labels
 * (class index = position in `labels`). Each recording is read with a fresh
 * aether_features extractor of input_dim `dim`; frames whose features fail
 * are skipped. time = the npz collected_at (UTC, seconds), else the last
 * 15 digits "YYYYMMDD_HHMMSS" of the file name, else the first frame's
 * timestamp. Errors: NULL_ARG, INVALID_ARG, IO (missing folder), the
 * readers' errors, NO_MEM. */
AETHER_API aether_status aether_dataset_load(const char *dir, const char *const *labels,
                                             size_t n_labels, size_t dim, aether_dataset *out);
/* The same with a feature recipe (AETHER_FEATURES_V1, _V2 or _V3; 0 = v1;
 * others INVALID_ARG). aether_dataset_load is this with recipe v1. */
AETHER_API aether_status aether_dataset_load_recipe(const char *dir, const char *const *labels,
                                                    size_t n_labels, size_t dim, unsigned recipe,
                                                    aether_dataset *out);
AETHER_API void aether_dataset_free(aether_dataset *ds);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_DATASET_H */
