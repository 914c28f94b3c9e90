/*
 * Calibration of a model's probabilities on held-out windows (`aether eval
 * --calibrate`), and the coverage / accuracy report of `aether eval`:
 *
 *   temperature  T = argmin over T of the mean negative log-likelihood of
 *                the true class under softmax(logits / T) (a golden-section
 *                search over ln T in [ln 0.01, ln 1000], 80 steps: the same
 *                windows give the same T on every machine that computes the
 *                same logits)
 *   threshold    unknown_below = the smallest of 0, 0.01, ..., 0.99 that
 *                keeps at least the minimum coverage (0.8) and whose
 *                decisions that are not "unknown" reach the target accuracy
 *                (0 when every decision already does); when none does, the
 *                one of them with the best accuracy (the lowest on ties)
 *   range        ood_above = 2 x the 99th percentile (nearest rank) of the
 *                windows' input distances (aether/decision.h): held-out
 *                windows of the training sessions lie near 1, so twice
 *                their far tail is still "like the training data"
 *   coverage     the share of windows that are not "unknown"; accuracy is
 *                over those windows
 *   ECE          expected calibration error: windows binned by probability
 *                into 10 equal bins, the window-weighted mean of
 *                |accuracy - mean probability| per bin
 */
#ifndef AETHER_TOOLS_CALIBRATE_H
#define AETHER_TOOLS_CALIBRATE_H

#include <stddef.h>

#include "aether/decision.h"

typedef struct calib_set {
    float *logits;    /* n x C */
    size_t *labels;   /* n true classes */
    float *distances; /* n input distances (-1: not known) */
    size_t n, cap, C;
} calib_set;

/* 0, or -1 when out of memory. */
int calib_set_init(calib_set *s, size_t C, size_t cap);
/* 0, or -1 when full or the logits are not finite (skipped, counted by the caller). */
int calib_set_add(calib_set *s, const float *logits, size_t label, float distance);
void calib_set_free(calib_set *s);

float calib_fit_temperature(const calib_set *s);
double calib_nll(const calib_set *s, float temperature);
double calib_ece(const calib_set *s, float temperature);
/* Share of windows not "unknown" under p, and accuracy over them (0 when none). */
void calib_coverage(const calib_set *s, const aether_decision_params *p, double *coverage,
                    double *accuracy);
float calib_pick_threshold(const calib_set *s, float temperature, double target_accuracy,
                           double min_coverage);
/* 0 when no window has a known distance. */
float calib_fit_ood(const calib_set *s);

/* The report: NLL and ECE at T = 1 and at p's temperature, then coverage and
 * accuracy at thresholds 0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99 and at p's own;
 * as text, or as one JSON object line when json. */
void calib_print_report(const calib_set *s, const aether_decision_params *p, int json);

#endif
