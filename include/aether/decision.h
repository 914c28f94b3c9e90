/*
 * aether/decision.h - from a model's logits to a decision a person can act
 * on: calibrated class probabilities, and "unknown" when the model is not
 * sure enough. The numbers come with the model (aether/blob.h metadata keys
 * `temperature` and `unknown_below`, fitted on held-out recordings by
 * `aether eval --calibrate`).
 *
 *   p_i         = exp((l_i - l_max) / T) / sum_j exp((l_j - l_max) / T)
 *                 (in double, classes in index order; l_max the largest logit)
 *   top         = the argmax rule of aether/packet.h (ties: the lower index)
 *   probability = p_top
 *   unknown     = probability < unknown_below
 *
 * T = 1 and unknown_below = 0 (no metadata) give the plain softmax and never
 * "unknown". Temperature scaling does not change the argmax: it only makes
 * the probability honest (fitted so that, on held-out data, the mean
 * log-likelihood of the true class is the highest).
 */
#ifndef AETHER_DECISION_H
#define AETHER_DECISION_H

#include "aether/export.h"
#include <stddef.h>

#include "aether/blob.h"
#include "aether/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aether_decision_params {
    float temperature;   /* > 0 (1: the logits as they are) */
    float unknown_below; /* in [0, 1] (0: never unknown) */
} aether_decision_params;

typedef struct aether_decision {
    size_t top;        /* the argmax class (also when unknown) */
    float probability; /* calibrated probability of top */
    float margin;      /* logits[top] minus the runner-up (aether/packet.h) */
    int unknown;       /* 1 when probability < unknown_below */
} aether_decision;

/* Temperature 1, unknown_below 0. */
AETHER_API aether_decision_params aether_decision_params_default(void);

/* The model's calibration from its typed metadata (absent keys keep the
 * defaults). Errors: NULL_ARG. */
AETHER_API aether_status aether_decision_params_from_meta(const aether_blob_model_meta *m,
                                                          aether_decision_params *out);

/* Calibrated probabilities of n logits into probs[n]. Errors: NULL_ARG;
 * INVALID_ARG (n 0, temperature not in [1e-6, 1e6]); NONFINITE (a logit is
 * NaN or Inf; probs untouched). */
AETHER_API aether_status aether_decision_probabilities(const float *logits, size_t n,
                                                       float temperature, float *probs);

/* The decision for n logits under p (NULL: the defaults). Errors as
 * aether_decision_probabilities, plus INVALID_ARG for unknown_below outside
 * [0, 1]; *out untouched on error. Never allocates. */
AETHER_API aether_status aether_decide(const float *logits, size_t n,
                                       const aether_decision_params *p, aether_decision *out);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_DECISION_H */
