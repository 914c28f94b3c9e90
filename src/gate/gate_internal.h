/*
 * Internal layout of the FastGRNN gate and the helpers the gate files share.
 */
#ifndef AETHER_GATE_INTERNAL_H
#define AETHER_GATE_INTERNAL_H

#include "aether/gate.h"

#define AETHER_FASTGRNN_MAGIC 0x46475255u /* "FGRU" */

struct aether_fastgrnn {
    uint32_t magic;
    void *heap; /* malloc'd block to free (create), NULL on caller memory */
    size_t in, hid;
    float *w_g, *u_g; /* [hid][in], [hid][hid] */
    float *w_u, *u_u;
    float *b_g, *b_u; /* [hid] */
    float zeta, nu;
};

/* AETHER_OK for an initialised gate, else NULL_ARG / NOT_INITIALIZED. */
aether_status aether_fastgrnn_check_(const aether_fastgrnn *g);

/* The recurrence without argument checks (h_out distinct from h); returns
 * the salience of h_out. */
float aether_fastgrnn_step_raw_(const aether_fastgrnn *g, const float *x, const float *h,
                                float *h_out);

/* Mean of `heads` rows of `dim` floats (row r at rows + r * dim) as score_kv
 * pools them: per component, ascending heads, each term times 1/heads. */
void aether_fastgrnn_pool_(const float *rows, size_t heads, size_t dim, float *out);

/* 1 when a ranks strictly above b in the salience total order (NaN lowest;
 * equal values do not rank above each other - the caller breaks ties). */
int aether_salience_above_(float a, float b);

/* Prefix top-k decision state over a caller array of k floats: a min-heap of
 * the k best saliences seen so far. */
typedef struct aether_prefix_topk {
    float *heap;
    size_t k;
    size_t n; /* entries in use (<= k) */
} aether_prefix_topk;

/* AETHER_OK for a known rule with its parameter valid, else NULL_ARG /
 * INVALID_ARG. */
aether_status aether_causal_check_params_(const aether_causal_params *p);

/* Decide for the next salience s (ties go to the earlier positions) and
 * record it; returns 1 to keep. */
int aether_prefix_topk_push_(aether_prefix_topk *t, float s);

/* The keep decision for the next salience s under rule p (t: the
 * PREFIX_TOP_K state, unused by THRESHOLD). Shared by the window mask and the
 * streaming gate so both decide identically. */
int aether_causal_decide_(const aether_causal_params *p, aether_prefix_topk *t, float s);

#endif /* AETHER_GATE_INTERNAL_H */
