/*
 * aether/train.h - learning a temporal head from labelled feature windows.
 *
 * Portable part (library `aether`, no dependencies beyond libm and, when the
 * platform has them, POSIX threads):
 *  - aether_train_net: the weights of the model (docs/MODEL.md section 7) as one float array in
 *    the RVNE payload order (aether_blob_layout), plus the head config. It
 *    serialises to a blob that aether_model_* loads and that gives the same
 *    logits as aether_train_example's forward (same arithmetic: the model's
 *    vector-matrix order, the head's attention kernel, the same pooling).
 *  - aether_train_example: forward + backward of one window with a weighted
 *    cross-entropy loss. Gradients flow through the attention candidates
 *    actually used: dense over every visible key; sparse over the query's
 *    token candidates and landmark blocks, a landmark being the mean of its
 *    block's keys/values, so its gradient is spread equally over the block.
 *  - Adam with decoupled weight decay, warmup + cosine schedule, and
 *    aether_train_fit: mini-batches of windows from in-memory recordings,
 *    time-based validation split, class weighting, time-shift and amplitude
 *    augmentation, early stopping, optional threads with a reduction order
 *    that does not depend on the thread count (same seed -> same bytes).
 *  - metrics (confusion matrix, accuracy, macro-F1, recall) and a small
 *    multinomial logistic regression used as the baseline.
 *
 * Loading labelled recordings from a folder is host-only: aether/dataset.h.
 */
#ifndef AETHER_TRAIN_H
#define AETHER_TRAIN_H

#include "aether/export.h"
#include <stddef.h>
#include <stdint.h>

#include "aether/blob.h"
#include "aether/head.h"
#include "aether/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------- network ---------------------------- */

typedef struct aether_train_shape {
    size_t input_dim, n_q_heads, n_kv_heads, head_dim, n_layers, n_classes;
    int input_norm; /* 1: blob flag bit 1 (mean / inv_std arrays) */
} aether_train_shape;

typedef struct aether_train_net aether_train_net; /* opaque, malloc'd */

/* New zero-weight network. head NULL means aether_model_default_head_config
 * for this shape (default_aether with the shape's heads). Input-norm arrays
 * start as mean 0, inv_std 1. Errors: NULL_ARG, the blob header checks
 * (ZERO_DIM, GQA, DEGENERATE; dims above 65535 -> INVALID_ARG), BLOB_SHAPE
 * (head heads/dim differ from the shape), the head config's errors,
 * OVERFLOW, NO_MEM. */
AETHER_API aether_status aether_train_net_create(const aether_train_shape *shape,
                                                 const aether_head_config *head,
                                                 aether_train_net **out);
/* Network holding a blob's weights (model-level valid blob; f16 converted).
 * head NULL as above. */
AETHER_API aether_status aether_train_net_from_blob(const aether_blob_view *blob,
                                                    const aether_head_config *head,
                                                    aether_train_net **out);
AETHER_API void aether_train_net_destroy(aether_train_net *net);

/* Seeded initialisation (xorshift64*, seed 0 rejected): Wq/Wk/Wv uniform
 * with variance 1/input_dim, Wo and Wc uniform with variance
 * 0.25/fan_in; the norm arrays are left as they are. */
AETHER_API aether_status aether_train_net_randomize(aether_train_net *net, uint64_t seed);

/* Blob header / payload layout / head of the network (NULL for NULL). */
AETHER_API const aether_blob_header *aether_train_net_header(const aether_train_net *net);
AETHER_API const aether_blob_layout *aether_train_net_layout(const aether_train_net *net);
AETHER_API const aether_head *aether_train_net_head(const aether_train_net *net);
/* All payload elements in layout order (layout->total_elems floats). The
 * first layout->v1_elems are the trainable weights. */
AETHER_API float *aether_train_net_params(aether_train_net *net);
AETHER_API const float *aether_train_net_params_const(const aether_train_net *net);

/* Set the input normalisation (INVALID_ARG if the net has none, NONFINITE
 * for NaN/Inf). inv_std 0 masks a feature (the model then sees 0). */
AETHER_API aether_status aether_train_net_set_norm(aether_train_net *net, const float *mean,
                                                   const float *inv_std);

/* Serialised f32 blob bytes, and the blob itself (BUFFER_TOO_SMALL). */
AETHER_API aether_status aether_train_net_blob_size(const aether_train_net *net, size_t *bytes);
AETHER_API aether_status aether_train_net_serialize(const aether_train_net *net, void *out,
                                                    size_t cap, size_t *written);

/* ----------------------- one window: forward/backward ----------------------- */

/* Workspace bytes of aether_train_example for windows of n_frames. */
AETHER_API aether_status aether_train_example_ws_size(const aether_train_net *net,
                                                      size_t n_frames, size_t *bytes);

/*
 * Forward (and backward when grad != NULL) of one window of raw frames
 * (n_frames x input_dim; the net's input normalisation is applied as the
 * model does). loss = -weight * log softmax(logits)[label], softmax computed
 * stably in double. grad (layout->v1_elems floats) is ACCUMULATED into.
 * logits (optional) receives n_classes floats, loss (optional) the loss.
 * ws: at least aether_train_example_ws_size(net, n_frames) bytes; NULL is
 * an error (aether/core.h). Errors: NULL_ARG, INVALID_ARG (n_frames 0,
 * label >= n_classes, bad pool, weight < 0 or non-finite, grad with more
 * than AETHER_TRAIN_MAX_CLASSES classes), NONFINITE (frame values), then
 * the workspace (NULL_ARG, BUFFER_TOO_SMALL), the kernel's errors; logits
 * and loss are written only when the call succeeds.
 */
AETHER_API aether_status aether_train_example(const aether_train_net *net, const float *frames,
                                              size_t n_frames, aether_pool pool, size_t label,
                                              float weight, float *grad, float *logits,
                                              double *loss, void *ws, size_t ws_len);

/* ------------------------------ optimiser ------------------------------ */

typedef struct aether_adam {
    size_t n;
    uint64_t t;   /* steps taken */
    float *m, *v; /* first / second moments (malloc'd) */
} aether_adam;

AETHER_API aether_status aether_adam_init(aether_adam *a, size_t n);
AETHER_API void aether_adam_free(aether_adam *a);
/* One step on w[0..n): Adam with bias correction, then decoupled weight
 * decay w -= lr * wd * w (AdamW). */
AETHER_API aether_status aether_adam_step(aether_adam *a, float *w, const float *grad, float lr,
                                          float beta1, float beta2, float eps,
                                          float weight_decay);

/* Learning rate at `step` of `total`: linear warmup over `warmup` steps to
 * base, then cosine decay to base * min_frac at total. */
AETHER_API float aether_lr_schedule(float base, size_t step, size_t warmup, size_t total,
                                    float min_frac);

/* ------------------------------ data ------------------------------ */

#define AETHER_SPLIT_TRAIN 0
#define AETHER_SPLIT_VAL 1

/* One labelled recording of feature frames (n_frames x dim). */
typedef struct aether_train_recording {
    float *frames;
    size_t n_frames;
    size_t label;
    double time;    /* recording time (seconds) for the time-based split */
    int split;      /* AETHER_SPLIT_TRAIN / _VAL */
    char name[128]; /* file name, for reports and tie-breaks */
} aether_train_recording;

/* Gain-step augmentation (`aether train --augment-gain-steps`), applied to a
 * recording's raw packets before its features are computed. iq holds
 * n_packets packets of 2 * n_pairs int8 values each (pair k = imag, real),
 * rewritten in place. First every packet that sits one or more exact x2
 * steps below the recording's upper gain level is doubled once per step
 * (saturating to -128..127); the levels are followed through the steps of
 * ln P, P the mean power of the canonical tones 1..26, 38..63 present, a
 * step being |d - k ln 4| <= 0.45 for k = +-1 or +-2 (as recipe csi-v4
 * finds them). Then each packet independently is halved (rounded half away
 * from zero) with probability `rate`, drawn from a stream seeded by `seed`
 * alone. A recording without steps is left unchanged at rate 0. Errors:
 * NULL_ARG (iq NULL with packets), INVALID_ARG (n_pairs 0, rate outside
 * [0, 1] or NaN). */
AETHER_API aether_status aether_train_gain_steps(int8_t *iq, size_t n_packets, size_t n_pairs,
                                                 double rate, uint64_t seed);

/* Time-based split: per class, recordings sorted by (time, name); the last
 * round(val_fraction * n) of them (at least 1 when the class has >= 2, none
 * when it has 1) become validation. val_fraction in [0, 1). Errors (recs
 * unchanged): NULL_ARG; INVALID_ARG (val_fraction outside [0, 1), a label
 * >= n_classes, a NaN time); NO_MEM. */
AETHER_API aether_status aether_train_split_by_time(aether_train_recording *recs, size_t n_recs,
                                                    size_t n_classes, double val_fraction);

/* Per-feature training statistics: mean and inv_std = 1/max(std, floor)
 * over every frame of the TRAIN split (double sums in recording/frame
 * order). mask (optional, dim bytes): features with mask 0 get mean 0,
 * inv_std 0. Errors: NULL_ARG, INVALID_ARG (dim 0, std_floor not > 0),
 * NONFINITE (a NaN/Inf value in a TRAIN frame: mean and inv_std are left
 * as they were), NO_MEM. */
AETHER_API aether_status aether_train_norm_stats(const aether_train_recording *recs,
                                                 size_t n_recs, size_t dim,
                                                 const unsigned char *mask, float std_floor,
                                                 float *mean, float *inv_std);

/* ------------------------------ metrics ------------------------------ */

#define AETHER_TRAIN_MAX_CLASSES 32u

typedef struct aether_metrics {
    size_t n_classes, total;
    double accuracy, macro_f1;
    double recall[AETHER_TRAIN_MAX_CLASSES];
    double precision[AETHER_TRAIN_MAX_CLASSES];
    double f1[AETHER_TRAIN_MAX_CLASSES];
} aether_metrics;

/* From a confusion matrix conf[true * C + predicted]. Classes with no true
 * and no predicted sample are left out of the macro average. */
AETHER_API aether_status aether_metrics_compute(const size_t *conf, size_t n_classes,
                                                aether_metrics *out);

/* Windows of one recording for evaluation: offsets 0, stride, ... while
 * offset + window <= n_frames (a recording shorter than window gives one
 * window of all its frames). */
AETHER_API size_t aether_train_eval_windows(size_t n_frames, size_t window, size_t stride);

/* Classify every evaluation window of the recordings whose split matches
 * (split -1: all) and add to conf (C x C, not cleared). loss_sum
 * (optional) receives the summed unweighted loss, n_windows the count.
 * ws: at least aether_train_example_ws_size(net, window) bytes; NULL is an
 * error (AETHER_ERR_NULL_ARG, the rule of aether/core.h), checked after the
 * other arguments. Runs the scalar reference kernels, as aether_train_fit
 * does. Every recording to be scored is checked before the first window
 * (INVALID_ARG: label >= n_classes; NULL_ARG: frames NULL; NONFINITE: a
 * NaN/Inf in the frames its windows read), so on those errors conf,
 * loss_sum and n_windows are unchanged. */
AETHER_API aether_status aether_train_evaluate(const aether_train_net *net,
                                               const aether_train_recording *recs, size_t n_recs,
                                               int split, size_t window, size_t stride,
                                               aether_pool pool, size_t *conf, double *loss_sum,
                                               size_t *n_windows, void *ws, size_t ws_len);

/* ------------------------------ training ------------------------------ */

typedef struct aether_train_config {
    size_t window; /* frames per training window */
    size_t stride; /* frames between windows (epoch size, eval) */
    aether_pool pool;
    size_t epochs;
    size_t batch;
    float lr, min_lr_frac, warmup_frac, weight_decay, beta1, beta2, eps;
    float grad_clip; /* global L2 norm clip, 0 = off */
    uint64_t seed;
    size_t threads;      /* 1 = none */
    size_t patience;     /* epochs without val improvement before stop; 0 = off */
    int class_weighting; /* 1: weight_c = n_windows / (C * n_windows_c) */
    int aug_shift;       /* 1: random window offsets within the recording */
    float aug_scale;     /* max |ln s| of a random amplitude scale s; 0 = off */
    long energy_feature; /* feature index holding ln(1 + P) (scaled by s^2), -1 none */
    float aug_noise;     /* std of Gaussian noise added to normalised features */
    float aug_offset;    /* std of a random per-window constant added to each
                             * normalised feature (level invariance); 0 = off */
    long const_feature;  /* feature held constant (bias input): no noise; -1 none */
    const unsigned char *aug_offset_mask; /* input_dim bytes: 0 = no offset for that
                             * feature (variability features, whose level is
                             * the signal); NULL = every feature */
    int keep_last;                        /* 1: keep the last epoch's weights; validation is
                             * only reported, never used to choose (no early
                             * stopping), so its score is an unbiased estimate */
} aether_train_config;

/* Defaults: window 64, stride 16, pool LAST, 30 epochs, batch 32, lr 3e-3,
 * min_lr_frac 0.05, warmup_frac 0.05, weight_decay 1e-2, Adam (0.9, 0.999,
 * 1e-8), clip 1, seed 1, threads 1, patience 8, class weighting on, shift
 * on, aug_scale 0.7, energy_feature 0, aug_noise 0, aug_offset 0,
 * const_feature -1, aug_offset_mask NULL, keep_last 0. */
AETHER_API aether_train_config aether_train_config_default(void);

typedef struct aether_train_epoch {
    size_t epoch, epochs, steps;
    double train_loss, train_acc, val_loss, val_acc, val_macro_f1;
    int best; /* this epoch improved the validation score */
    double lr;
} aether_train_epoch;

/* Progress callbacks (each may be NULL): on_epoch after every epoch with
 * its summary, on_batch after every optimiser step. */
typedef struct aether_train_callbacks {
    void (*on_epoch)(void *user, const aether_train_epoch *e);
    void (*on_batch)(void *user, size_t epoch, size_t batch, size_t n_batches);
    void *user;
} aether_train_callbacks;

typedef struct aether_train_result {
    size_t epochs_run, best_epoch;
    double best_val_macro_f1, best_val_loss;
} aether_train_result;

/*
 * Train net (already randomised, norm already set) on the TRAIN recordings;
 * after every epoch, evaluate on VAL; keep the weights of the best epoch
 * (highest val macro-F1, then lowest val loss) and stop after `patience`
 * epochs without improvement. Without VAL recordings, or with
 * cfg->keep_last, every epoch runs and the last one is kept. Recordings
 * whose split is neither TRAIN nor VAL are ignored (cross-validation folds
 * held out by the caller).
 * Deterministic for a given config and data, whatever `threads` and
 * whatever the CPU: the optimised kernels round differently on each ISA,
 * so this call (like aether_train_evaluate) runs the scalar reference
 * kernels, switching the process kernel mode (aether/dispatch.h) to
 * AETHER_KERNELS_REFERENCE for its duration and restoring it after; do not
 * change the kernel mode from another thread meanwhile. On error the
 * weights are restored to their values at entry. A batch larger than the
 * number of training windows is one full batch per epoch. Config values
 * out of range are INVALID_ARG before anything runs (among them lr not
 * finite and > 0, warmup_frac outside [0, 1]); sizes beyond size_t are
 * OVERFLOW.
 */
AETHER_API aether_status aether_train_fit(aether_train_net *net,
                                          const aether_train_recording *recs, size_t n_recs,
                                          const aether_train_config *cfg,
                                          const aether_train_callbacks *cb,
                                          aether_train_result *out);

/* ------------------- baseline: multinomial logistic regression ------------------- */

typedef struct aether_logreg {
    size_t dim, n_classes;
    float *w;              /* (dim + 1) x n_classes, last row the bias */
    float *mean, *inv_std; /* standardisation fitted on the training rows */
} aether_logreg;

/* Fit on rows x (n x dim) with labels y: standardise, then full-batch
 * gradient descent with L2 (`l2`), `iters` iterations, class-weighted.
 * Deterministic. Errors (m untouched): NULL_ARG; INVALID_ARG (n or dim 0,
 * n_classes outside 2..AETHER_TRAIN_MAX_CLASSES, l2 negative, NaN or
 * infinite, a label >= n_classes); OVERFLOW; NONFINITE (a NaN/Inf in x);
 * NO_MEM. */
AETHER_API aether_status aether_logreg_fit(aether_logreg *m, const float *x, const size_t *y,
                                           size_t n, size_t dim, size_t n_classes, float l2,
                                           size_t iters);
/* Predicted class of one row. */
AETHER_API size_t aether_logreg_predict(const aether_logreg *m, const float *row);
AETHER_API void aether_logreg_free(aether_logreg *m);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_TRAIN_H */
