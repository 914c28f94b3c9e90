/*
 * aether/decision.h - from a model's logits to a decision a person can act
 * on: calibrated class probabilities, and "unknown" when the model is not
 * sure enough or the input is unlike anything it was trained on. The
 * numbers come with the model (aether/blob.h metadata keys `temperature`,
 * `unknown_below` and `ood_above`, fitted by `aether eval --calibrate`).
 *
 *   p_i         = exp((l_i - l_max) / T) / sum_j exp((l_j - l_max) / T)
 *                 (in double, classes in index order; l_max the largest logit)
 *   top         = the argmax rule of aether/packet.h (ties: the lower index)
 *   probability = p_top
 *   distance    = the input distance of the window (below), when known
 *   unknown     = probability < unknown_below
 *                 or (ood_above > 0 and distance > ood_above)
 *
 * Input distance of frames x_t (t < n) for a model with input
 * normalisation (mean_f, inv_std_f; without it mean 0, inv_std 1):
 *   z_f = (mean over t of x_tf - mean_f) * inv_std_f
 *   distance = sqrt(mean of z_f^2 over the features with inv_std_f != 0)
 * in double, feature by feature, frames in order. Windows of the training
 * recordings lie near 1 (the normalisation is fitted on them); a capture of
 * another chip, room or kind of session lies far away, and a softmax can
 * still be sure of itself there: the probability alone cannot tell.
 *
 * T = 1, unknown_below = 0 and ood_above = 0 (no metadata) give the plain
 * softmax and never "unknown". Temperature scaling does not change the
 * argmax: it only makes the probability honest (fitted so that, on held-out
 * data, the mean log-likelihood of the true class is the highest).
 */
#ifndef AETHER_DECISION_H
#define AETHER_DECISION_H

#include "aether/export.h"
#include <stddef.h>

#include "aether/blob.h"
#include "aether/core.h"
#include "aether/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aether_decision_params {
    float temperature;   /* in [1e-6, 1e6] (1: the logits as they are) */
    float unknown_below; /* in [0, 1] (0: never unknown for its probability) */
    float ood_above;     /* >= 0 (0: never unknown for its input distance) */
} aether_decision_params;

typedef struct aether_decision {
    size_t top;              /* the argmax class (also when unknown) */
    float probability;       /* calibrated probability of top */
    float margin;            /* logits[top] minus the runner-up (aether/packet.h) */
    int unknown;             /* unsure or out of distribution */
    int out_of_distribution; /* unknown because distance > ood_above */
} aether_decision;

/* Temperature 1, unknown_below 0, ood_above 0. */
AETHER_API aether_decision_params aether_decision_params_default(void);

/* The model's calibration from its typed metadata (absent keys keep the
 * defaults). Errors: NULL_ARG. */
AETHER_API aether_status aether_decision_params_from_meta(const aether_blob_model_meta *m,
                                                          aether_decision_params *out);

/* The same straight from a blob (aether_blob_model_calibration: only the
 * three calibration keys are read, no 4 KB metadata struct). Errors:
 * NULL_ARG, the blob's validation status, BLOB_TEMPERATURE,
 * BLOB_THRESHOLD. */
AETHER_API aether_status aether_decision_params_from_blob(const aether_blob_view *v,
                                                          aether_decision_params *out);

/* Calibrated probabilities of n logits into probs[n]. Errors: NULL_ARG;
 * INVALID_ARG (n 0, temperature not in [1e-6, 1e6]); NONFINITE (a logit is
 * NaN or Inf; probs untouched). */
AETHER_API aether_status aether_decision_probabilities(const float *logits, size_t n,
                                                       float temperature, float *probs);

/* The decision for n logits under p (NULL: the defaults); distance: the
 * window's input distance, or a negative number when it is not known (the
 * ood_above test is then skipped). Errors as aether_decision_probabilities,
 * plus INVALID_ARG for unknown_below outside [0, 1] or ood_above negative
 * or NaN; *out untouched on error. Never allocates. */
AETHER_API aether_status aether_decide(const float *logits, size_t n,
                                       const aether_decision_params *p, float distance,
                                       aether_decision *out);

/* The input distance (above) of n frames [n, input_dim] for model m.
 * Errors: NULL_ARG; NOT_INITIALIZED (m); INVALID_ARG (n 0); NONFINITE (the
 * frames overflow the sum). No scratch memory. */
AETHER_API aether_status aether_model_input_distance(const aether_model *m, const float *frames,
                                                     size_t n, float *distance);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_DECISION_H */
