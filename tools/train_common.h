/*
 * What `aether train`, `aether eval` and `aether baseline` share: their
 * options (one struct, the option-table entries and the parsing of the
 * options all three take), loading DIR/<label>/ recordings with the
 * time-based validation split, printing the metrics, and the network set-up
 * that training and cross-validation both use.
 */
#ifndef AETHER_TOOLS_TRAIN_COMMON_H
#define AETHER_TOOLS_TRAIN_COMMON_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include "aether/features.h"
#include "aether/model.h"
#include "aether/train.h"
#include "aether/dataset.h"
#include "cli_util.h"

typedef struct train_opts {
    const char *data, *out, *model, *labels_arg, *features_arg;
    char *labels[AETHER_TRAIN_MAX_CLASSES];
    char labels_buf[1024];
    size_t n_labels;
    aether_train_config tc;
    aether_head_config head;
    size_t input_dim, layers, heads, kv_heads, head_dim;
    double val_frac;
    int json, all, quiet, probe_means, have_window, have_stride, per_file;
    int calibrate;             /* eval --calibrate: fit temperature and threshold, write --out */
    double target_accuracy;    /* eval --calibrate: accuracy the threshold aims at (0.95) */
    size_t cv_folds;           /* train --cv K: cross-validation inside the training split */
    long cv_field;             /* --cv-field N: folds by the N-th '_' field of the file name */
    const char *cv_score_data; /* --cv-score-data DIR: held-out copies scored too */
    size_t trim_start; /* --trim-start N: frames dropped from each training recording's start */
    double aug_gain_steps; /* --augment-gain-steps P: copies with x2 gain steps, rate <= P */
    size_t aug_copies;     /* --augment-copies N: gain-step copies per recording (1) */
    int have_pool, have_attn_window, have_block, have_backend, have_recipe;
    unsigned recipe; /* feature recipe, AETHER_FEATURES_V1 / _V2 / _V3 */
    unsigned char mask[AETHER_FEATURES_MAX_DIM];
    int have_mask;
    const char *offset_arg; /* --aug-offset-features */
    unsigned char offset_mask[AETHER_FEATURES_MAX_DIM];
} train_opts;

/* Option values of the three commands (distinct, positive). */
enum {
    /* every command */
    TOPT_DATA = 1,
    TOPT_LABELS,
    TOPT_WINDOW,
    TOPT_STRIDE,
    TOPT_POOL,
    TOPT_INPUT_DIM,
    TOPT_VAL_FRAC,
    TOPT_FEATURES,
    TOPT_BACKEND,
    TOPT_ATTN_WINDOW,
    TOPT_BLOCK,
    TOPT_RECIPE,
    /* train */
    TOPT_OUT,
    TOPT_EPOCHS,
    TOPT_LR,
    TOPT_SEED,
    TOPT_BATCH,
    TOPT_THREADS,
    TOPT_LAYERS,
    TOPT_HEADS,
    TOPT_KV_HEADS,
    TOPT_HEAD_DIM,
    TOPT_WEIGHT_DECAY,
    TOPT_PATIENCE,
    TOPT_AUG_SCALE,
    TOPT_AUG_NOISE,
    TOPT_AUG_OFFSET,
    TOPT_AUG_OFFSET_FEATURES,
    TOPT_NO_SHIFT,
    TOPT_NO_CLASS_WEIGHTS,
    TOPT_TRIM_START,
    TOPT_KEEP_LAST,
    TOPT_CV,
    TOPT_CV_FIELD,
    TOPT_CV_SCORE_DATA,
    TOPT_AUG_GAIN_STEPS,
    TOPT_AUG_COPIES,
    TOPT_QUIET,
    /* eval and baseline */
    TOPT_MODEL,
    TOPT_ALL,
    TOPT_PER_FILE,
    TOPT_JSON,
    TOPT_PROBE_MEANS,
    TOPT_CALIBRATE,
    TOPT_TARGET_ACCURACY
};

/* The option-table entries every one of the three commands takes. */
#define TRAIN_COMMON_OPTIONS                                        \
    {"data", required_argument, NULL, TOPT_DATA},                   \
        {"labels", required_argument, NULL, TOPT_LABELS},           \
        {"window", required_argument, NULL, TOPT_WINDOW},           \
        {"stride", required_argument, NULL, TOPT_STRIDE},           \
        {"pool", required_argument, NULL, TOPT_POOL},               \
        {"input-dim", required_argument, NULL, TOPT_INPUT_DIM},     \
        {"val-frac", required_argument, NULL, TOPT_VAL_FRAC},       \
        {"features", required_argument, NULL, TOPT_FEATURES},       \
        {"backend", required_argument, NULL, TOPT_BACKEND},         \
        {"attn-window", required_argument, NULL, TOPT_ATTN_WINDOW}, \
        {"block", required_argument, NULL, TOPT_BLOCK},             \
    {                                                               \
        "recipe", required_argument, NULL, TOPT_RECIPE              \
    }

/* The options of the command c describes (the caller fills in name,
 * options table, usage, argc and argv): the defaults first (those of
 * aether_train_config_default, the default head, input dim 16, 1 layer of 4
 * query heads, 1 kv head, head dim 8, val-frac 0.25, recipe csi-v1), then
 * every option of c's table, then DIR as the one optional positional
 * argument (same as --data), then the checks that need every option (--data
 * present, --labels when labels_required, window/stride/epochs/... ranges,
 * the --features and --aug-offset-features lists against the input dim).
 * -1 when the command goes on (c stays usable for cli_usage_error), else
 * the exit status to return (0 after --help or --version). */
int train_parse_options(cli_command *c, train_opts *o, int labels_required);

/* Split o->labels_arg into o->labels: 0, or -1 if it is not 2..16 names of
 * 1..31 characters. */
int train_split_labels(train_opts *o);

/* The usage text of the options every command takes, and the exit
 * statuses. */
void train_usage_common(FILE *f);

/* DIR/<label>/ recordings of o's labels with o's feature recipe and input
 * dim, split by recording time. Before reading, checks that DIR and one
 * folder per label exist and names every label folder that does not. 0, or
 * the exit status after a message. */
int train_load_data(const train_opts *o, const char *cmd, aether_dataset *ds);

/* 0 when the training split holds frames, else CLI_EXIT_MISFIT after a
 * message (every label folder empty, or only validation recordings). */
int train_require_training(const train_opts *o, const aether_dataset *ds, const char *cmd);

/* Whole-recording decisions: C x C confusions over recordings (rows true),
 * one decision per recording by majority vote of its windows and by the
 * largest mean probability. */
typedef struct train_rec_metrics {
    size_t vote[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES];
    size_t mean_prob[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES];
    int have_mean_prob; /* 0: the scorer gives classes only (vote alone) */
} train_rec_metrics;

/* Cross-validation folds of the TRAIN recordings (others get (size_t)-1):
 * per class, in (time, name) order, rank i of n goes to fold i * K / n, so
 * every fold is a contiguous block of time of every class. */
void train_cv_assign_folds(const aether_dataset *ds, size_t K, size_t *fold);

/* 0 when K folds can each hold a recording: some class has at least K TRAIN
 * recordings (that class spans every fold). Else CLI_EXIT_MISFIT after a
 * message: the folds beyond would train and score on nothing, K times. */
int train_cv_check_folds(const aether_dataset *ds, size_t K, const char *cmd);

/* Accuracy, macro-F1, recall per class and the confusion matrix (or one
 * JSON line with --json; "split" is "val", "all" or, with o->cv_folds,
 * "cv"). what: "model", "baseline", ... rec (optional):
 * the whole-recording metrics too (JSON keys "recording_vote" and
 * "recording_mean_prob", each with accuracy, macro_f1 and confusion). */
void train_print_metrics(const train_opts *o, const aether_dataset *ds, const char *what,
                         const size_t *conf, size_t n_rec, size_t n_win,
                         const train_rec_metrics *rec);

/* A randomised network of the options' shape with the input normalisation
 * of the TRAIN split of the n_recs recordings recs (the fit view); sets
 * tc->const_feature for odd dims. */
aether_status train_make_net(train_opts *o, const aether_dataset *ds,
                             const aether_train_recording *recs, size_t n_recs,
                             aether_train_config *tc, aether_train_net **out);

/* The recordings as the fit sees them: ds's recordings, then (with
 * --augment-gain-steps P > 0) the gain-step copies of its TRAIN recordings
 * (aether_dataset_gain_step_copies from --data, --augment-copies per
 * recording, seeded by --seed), which *aug receives (free with
 * aether_dataset_free; zeroed without augmentation); TRAIN ones without
 * their first --trim-start frames (at least one window is left). Same
 * order and splits; the frames are shared, not copied. *n_view: the
 * number of recordings. NULL with *st set on failure. */
aether_train_recording *train_fit_view(const train_opts *o, const aether_dataset *ds,
                                       aether_dataset *aug, size_t *n_view, aether_status *st);

/* --cv-field N: N is 0..TRAIN_CV_MAX_FIELD; the training split may hold at
 * most TRAIN_CV_MAX_FIELD_FOLDS distinct values of the field (one fold
 * each; more is exit 5). */
#define TRAIN_CV_MAX_FIELD 16
#define TRAIN_CV_MAX_FIELD_FOLDS 64

/* Cross-validation inside the training split (train --cv / --cv-field),
 * train_cv.c: prints every held-out recording and the pooled metrics. 0, or
 * the exit status after a message. */
int train_run_cv(train_opts *o, aether_dataset *ds);

#endif
