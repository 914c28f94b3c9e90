/*
 * aether/gate.h - FastGRNN salience gate, keep masks and gated attention
 * driven by the gate (docs/KERNELS.md sections 10.2 and 11).
 *
 * The gate is a tiny recurrent cell run over one feature vector per key
 * position (the key rows averaged over the kv heads); the L2 norm of its
 * hidden state is the position's "salience". A keep mask derived from the
 * saliences decides which log-stride keys survive in aether_attn_forward_gated
 * (aether/attention_gated.h).
 *
 * Two mask families:
 *   - reference (acausal): keep_mask_top_k / keep_mask_quantile rank the whole
 *     sequence, so whether a past key survives depends on later keys;
 *   - causal: aether_causal_gate_* decides keep[j] once, when key j arrives,
 *     from the saliences 0..j only, and never revises it. A window forward with
 *     the causal mask therefore equals streaming decode frame by frame.
 *
 * Ordering of saliences everywhere (docs/KERNELS.md section 11.8): a total order in which NaN is
 * below every number (NaNs equal to each other), -0 == +0, and ties are broken
 * towards the lower index ("ranks higher").
 *
 * Objects follow the library pattern: *_size() for the bytes, *_init() on
 * caller memory (the returned object lives inside that buffer, so the buffer
 * must outlive it and must not be moved), *_create() and *_destroy() as malloc
 * convenience. Functions that need scratch take (ws, ws_len) and make no heap
 * call. ws: at least the *_workspace_size bytes for the same arguments; NULL
 * is an error (AETHER_ERR_NULL_ARG), accepted only where the call uses no
 * bytes (the rule of aether/core.h); checked after the other arguments.
 */
#ifndef AETHER_GATE_H
#define AETHER_GATE_H

#include "aether/export.h"
#include <stdint.h>

#include "aether/attention_gated.h"
#include "aether/core.h"
#include "aether/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hidden width the reference uses when none is given. */
#define AETHER_FASTGRNN_DEFAULT_HIDDEN 32

/* ------------------------------------------------------------------------ */
/* FastGRNN parameters                                                       */
/* ------------------------------------------------------------------------ */

/* Opaque; lives inside the caller's buffer (or a malloc'd one). */
typedef struct aether_fastgrnn aether_fastgrnn;

/*
 * Seed layout of the deterministic initialisation (docs/KERNELS.md 11.2). Element e of
 * matrix m (order W_g, U_g, W_u, U_u) uses seed index e + offset[m].
 *   REFERENCE: offsets 0, 1000, 2000, 3000 - bit-exact with the reference,
 *              including its overlap (identical weights across matrices) when a
 *              matrix has more than 1000 elements.
 *   DISJOINT:  offset[0] = 0, offset[m+1] = offset[m] + max(1000, len[m]).
 *              Equal to REFERENCE whenever its ranges do not overlap, and never
 *              overlapping otherwise (seed indices are distinct, and the 32-bit
 *              hash is a bijection, as long as the total stays below 2^32).
 */
typedef enum aether_fastgrnn_seeding {
    AETHER_FASTGRNN_SEED_REFERENCE = 0,
    AETHER_FASTGRNN_SEED_DISJOINT = 1
} aether_fastgrnn_seeding;

/* Caller arrays for aether_fastgrnn_init_from_weights. Matrices are row-major
 * with one row per hidden unit: W_* are [hidden, input], U_* [hidden, hidden].
 * Every *_len is the caller's element count and is checked. */
typedef struct aether_fastgrnn_weights {
    size_t input_dim;
    size_t hidden_dim;
    const float *w_gate;
    size_t w_gate_len;
    const float *u_gate;
    size_t u_gate_len;
    const float *w_update;
    size_t w_update_len;
    const float *u_update;
    size_t u_update_len;
    const float *b_gate;
    size_t b_gate_len;
    const float *b_update;
    size_t b_update_len;
    float zeta;
    float nu;
} aether_fastgrnn_weights;

/* Bytes for a gate of these dimensions. INVALID_ARG if a dim is 0,
 * OVERFLOW if the size does not fit. */
AETHER_API aether_status aether_fastgrnn_size(size_t input_dim, size_t hidden_dim, size_t *bytes);

/* Deterministic initialisation of docs/KERNELS.md section 11.2 on caller memory: weights
 * from the seed hash, biases 0, zeta 1, nu 0. Errors: NULL_ARG, INVALID_ARG
 * (dim 0 or unknown seeding), OVERFLOW, BUFFER_TOO_SMALL. */
AETHER_API aether_status aether_fastgrnn_init(void *buf, size_t len, size_t input_dim,
                                              size_t hidden_dim, aether_fastgrnn_seeding seeding,
                                              aether_fastgrnn **out);

/* Copy caller weights (reference from_weights). Lengths are checked in the
 * reference order W_g (in*hid), U_g (hid^2), W_u, U_u, b_g (hid), b_u (hid):
 * the first mismatch gives SHAPE_MISMATCH. Unlike the reference, 0 dims are
 * rejected (INVALID_ARG). A NULL array with a nonzero expected length is
 * NULL_ARG. */
AETHER_API aether_status aether_fastgrnn_init_from_weights(void *buf, size_t len,
                                                           const aether_fastgrnn_weights *w,
                                                           aether_fastgrnn **out);

/* malloc convenience for the two initialisers; release with _destroy. */
AETHER_API aether_status aether_fastgrnn_create(size_t input_dim, size_t hidden_dim,
                                                aether_fastgrnn_seeding seeding,
                                                aether_fastgrnn **out);
AETHER_API aether_status aether_fastgrnn_create_from_weights(const aether_fastgrnn_weights *w,
                                                             aether_fastgrnn **out);
/* Frees a gate made by a _create function (NULL is a no-op). Gates
 * initialised on caller memory need no release. */
AETHER_API void aether_fastgrnn_destroy(aether_fastgrnn *g);

AETHER_API size_t aether_fastgrnn_input_dim(const aether_fastgrnn *g);  /* 0 for NULL */
AETHER_API size_t aether_fastgrnn_hidden_dim(const aether_fastgrnn *g); /* 0 for NULL */
/* Read-only views of the parameters (row-major, see aether_fastgrnn_weights).
 * Any pointer argument may be NULL when that item is not wanted. */
AETHER_API aether_status aether_fastgrnn_params(const aether_fastgrnn *g, const float **w_gate,
                                                const float **u_gate, const float **w_update,
                                                const float **u_update, const float **b_gate,
                                                const float **b_update, float *zeta, float *nu);

/*
 * One recurrence step (docs/KERNELS.md section 11.3). x has input_dim floats, h and h_out
 * hidden_dim floats; h_out must not overlap h (every row reads the whole old
 * state) - INVALID_ARG otherwise. Per hidden unit r the products accumulate in
 * one running f32 sum, left to right from 0: the W x terms, then the U h terms.
 * salience (may be NULL) receives the L2 norm of h_out, summed left to right.
 */
AETHER_API aether_status aether_fastgrnn_step(const aether_fastgrnn *g, const float *x,
                                              size_t x_len, const float *h, float *h_out,
                                              float *salience);

/* Salience of a hidden state h (hidden_dim floats, h_len checked): its L2
 * norm, squares summed left to right in f32, then sqrtf - the value
 * aether_fastgrnn_step reports for its new state. */
AETHER_API aether_status aether_fastgrnn_salience(const aether_fastgrnn *g, const float *h,
                                                  size_t h_len, float *salience);

/* Scratch bytes of aether_fastgrnn_score_sequence / _score_kv (two hidden
 * states and one pooled row). ws: at least this many bytes; NULL is an
 * error (n 0 needs none). */
AETHER_API aether_status aether_fastgrnn_workspace_size(const aether_fastgrnn *g, size_t *bytes);

/* Salience of each of n tokens (x is n rows of input_dim floats), starting
 * from h = 0; stateless across calls. x_len must equal n * input_dim. */
AETHER_API aether_status aether_fastgrnn_score_sequence(const aether_fastgrnn *g, const float *x,
                                                        size_t x_len, size_t n, float *salience,
                                                        size_t n_salience, void *ws,
                                                        size_t ws_len);

/* score_kv (docs/KERNELS.md section 11.4): position i's input is the mean of k[i, :, :] over
 * heads, accumulated in head order from 0 with each term multiplied by the
 * float reciprocal of k->heads; then score_sequence. n_salience must equal
 * k->seq (SHAPE_MISMATCH); k->dim != input_dim is SHAPE_MISMATCH (the
 * reference aborts). */
AETHER_API aether_status aether_fastgrnn_score_kv(const aether_fastgrnn *g,
                                                  const aether_tensor *k, float *salience,
                                                  size_t n_salience, void *ws, size_t ws_len);

/* ------------------------------------------------------------------------ */
/* Keep masks (mask[i] = 1 keep, 0 drop)                                     */
/* ------------------------------------------------------------------------ */

/* Scratch bytes for keep_mask_top_k over n values with budget k. ws: at
 * least this many; NULL is an error unless nothing is ranked (n 0, k 0,
 * k >= n). */
AETHER_API aether_status aether_keep_mask_top_k_workspace_size(size_t n, size_t k, size_t *bytes);

/* Section 11.6 with the total order above: the k highest saliences, ties to
 * the lower index, NaN lowest. k = 0 keeps none, k >= n keeps all. O(n log k).
 * n == 0 is a no-op (s and mask may then be NULL). */
AETHER_API aether_status aether_keep_mask_top_k(const float *s, size_t n, size_t k, uint8_t *mask,
                                                void *ws, size_t ws_len);

/* Scratch bytes for keep_mask_quantile over n values. ws: at least this
 * many; NULL is an error (n 0 needs none). */
AETHER_API aether_status aether_keep_mask_quantile_workspace_size(size_t n, size_t *bytes);

/* Section 11.5: q clamped to [0, 1] (NaN q is INVALID_ARG); threshold =
 * ascending-sorted s at index min((size_t)((float)n * q), n-1); keep
 * s[i] >= threshold in the total order (so a NaN threshold keeps all, and a
 * NaN value is kept only when the threshold is NaN). */
AETHER_API aether_status aether_keep_mask_quantile(const float *s, size_t n, float q,
                                                   uint8_t *mask, void *ws, size_t ws_len);

/* ------------------------------------------------------------------------ */
/* Causal gate (streaming, docs/KERNELS.md section 11.7)                     */
/* ------------------------------------------------------------------------ */

/*
 * Decision rules. Each decides keep[j] from saliences s_0..s_j only, at the
 * moment j arrives, and never revises it.
 *   PREFIX_TOP_K (budget k): keep j iff fewer than k earlier positions rank
 *     at or above s_j in the total order (ties go to the earlier position),
 *     i.e. j is among the top k of the prefix 0..j. The first k positions are
 *     always kept. Every key kept by the reference keep_mask_top_k(s, k) over
 *     any sequence extending the prefix is also kept here (the causal mask is
 *     a superset), so it prunes less but never something the reference keeps.
 *     For exchangeable saliences about k * (1 + ln(n / k)) of n positions are
 *     kept (position j >= k survives with probability k / (j + 1)).
 *     State: the k best saliences seen so far (a min-heap), O(k).
 *   THRESHOLD (tau): keep j iff s_j >= tau (a NaN salience is never kept).
 *     State: none beyond the recurrence.
 */
typedef enum aether_causal_rule {
    AETHER_CAUSAL_PREFIX_TOP_K = 0,
    AETHER_CAUSAL_THRESHOLD = 1
} aether_causal_rule;

typedef struct aether_causal_params {
    aether_causal_rule rule;
    size_t top_k;    /* PREFIX_TOP_K budget (0 keeps nothing) */
    float threshold; /* THRESHOLD tau (NaN is INVALID_ARG) */
} aether_causal_params;

/* Causal mask over n saliences already computed: mask[j] as the streaming
 * state would decide it. ws: at least aether_keep_mask_causal_workspace_size
 * bytes; NULL is an error (n 0 needs none). Errors: NULL_ARG, INVALID_ARG (unknown rule, NaN threshold),
 * then the workspace (NULL_ARG, BUFFER_TOO_SMALL). */
AETHER_API aether_status aether_keep_mask_causal_workspace_size(const aether_causal_params *p,
                                                                size_t n, size_t *bytes);
AETHER_API aether_status aether_keep_mask_causal(const aether_causal_params *p, const float *s,
                                                 size_t n, uint8_t *mask, void *ws,
                                                 size_t ws_len);

/* Window form: saliences of k (score_kv) then the causal rule. salience_out
 * may be NULL; otherwise it receives k->seq values. n_mask must equal k->seq
 * (MASK_LENGTH). ws: at least aether_causal_gate_window_workspace_size
 * bytes; NULL is an error (seq 0 needs none). */
AETHER_API aether_status aether_causal_gate_window_workspace_size(const aether_fastgrnn *g,
                                                                  const aether_causal_params *p,
                                                                  size_t seq, size_t *bytes);
AETHER_API aether_status aether_causal_gate_window(const aether_fastgrnn *g,
                                                   const aether_causal_params *p,
                                                   const aether_tensor *k, uint8_t *mask,
                                                   size_t n_mask, float *salience_out, void *ws,
                                                   size_t ws_len);

/* Streaming state: hidden state, the rule's state and the position. Borrows
 * the gate, which must outlive it and stay unchanged. */
typedef struct aether_causal_gate aether_causal_gate;

AETHER_API aether_status aether_causal_gate_size(const aether_fastgrnn *g,
                                                 const aether_causal_params *p, size_t kv_heads,
                                                 size_t *bytes);
/* kv_heads is the number of key rows pooled per step (>= 1). */
AETHER_API aether_status aether_causal_gate_init(void *buf, size_t len, const aether_fastgrnn *g,
                                                 const aether_causal_params *p, size_t kv_heads,
                                                 aether_causal_gate **out);
AETHER_API aether_status aether_causal_gate_create(const aether_fastgrnn *g,
                                                   const aether_causal_params *p, size_t kv_heads,
                                                   aether_causal_gate **out);
AETHER_API void aether_causal_gate_destroy(aether_causal_gate *cg);
/* Back to position 0 with h = 0 and an empty history. */
AETHER_API aether_status aether_causal_gate_reset(aether_causal_gate *cg);
/* Number of steps taken since init/reset. */
AETHER_API size_t aether_causal_gate_position(const aether_causal_gate *cg);

/*
 * One key arrives: k_row holds its kv_heads rows of input_dim floats
 * (k_len = kv_heads * input_dim, SHAPE_MISMATCH otherwise). They are pooled
 * as score_kv does, the recurrence advances, and *keep (0/1) is the final
 * decision for this position. salience may be NULL. On error the state is
 * unchanged.
 */
AETHER_API aether_status aether_causal_gate_step(aether_causal_gate *cg, const float *k_row,
                                                 size_t k_len, uint8_t *keep, float *salience);

/* ------------------------------------------------------------------------ */
/* Gated attention with the FastGRNN gate (docs/KERNELS.md section 10.2)     */
/* ------------------------------------------------------------------------ */

/* Workspace for aether_attn_forward_gated_fastgrnn at these shapes. ws: at
 * least this many bytes; NULL is an error (seq 0 needs none), checked after
 * the other arguments. */
AETHER_API aether_status aether_attn_forward_gated_fastgrnn_workspace_size(
    const aether_attn_config *cfg, const aether_fastgrnn *g, size_t seq, size_t q_heads,
    size_t kv_heads, size_t dim, size_t top_k, size_t *bytes);

/*
 * salience = score_kv(k); mask = keep_mask_top_k(salience, top_k);
 * out = forward_gated(q, k, v, mask). MHA when q.heads == k.heads (reference
 * semantics), otherwise the GQA gated forward. The attention arguments are
 * validated first (as aether_attn_forward_gated / _gqa_gated), then
 * gate input_dim != k.dim gives SHAPE_MISMATCH (the reference aborts).
 * salience_out / mask_out (may be NULL) receive the seq intermediate values.
 */
AETHER_API aether_status aether_attn_forward_gated_fastgrnn(
    const aether_attn_config *cfg, const aether_fastgrnn *g, const aether_tensor *q,
    const aether_tensor *k, const aether_tensor *v, size_t top_k, aether_tensor *out,
    float *salience_out, uint8_t *mask_out, void *ws, size_t ws_len);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_GATE_H */
