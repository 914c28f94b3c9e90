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
#include <stdint.h>

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
/* Training copies with x2 gain steps (`aether train --augment-gain-steps`):
 * for every recording of ds in the TRAIN split, `copies` copies read again
 * from dir/<label>/<name>, their raw packets passed through
 * aether_train_gain_steps before the features are computed (ds's recipe and
 * dim, a fresh extractor per copy). Each copy's step rate is drawn
 * uniformly in [0, max_rate], and its packet draws are seeded, from seed,
 * the label, the file name and the copy's number only, so a recording's
 * copies are the same whatever else is in ds. Copies are TRAIN, with the
 * label and time of their recording and its name + "+gainK" (K = 1..);
 * recordings that are not raw I/Q packets of one size get none. *out (free
 * with aether_dataset_free) holds only the copies. Errors: NULL_ARG,
 * INVALID_ARG (max_rate outside [0, 1], copies > 64), the readers'
 * errors, NO_MEM. */
AETHER_API aether_status aether_dataset_gain_step_copies(const char *dir, const aether_dataset *ds,
                                                         double max_rate, size_t copies,
                                                         uint64_t seed, aether_dataset *out);
AETHER_API void aether_dataset_free(aether_dataset *ds);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_DATASET_H */
