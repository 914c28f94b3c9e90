/*
 * aether/features.h - CSI frame -> fixed-length feature vector, and running
 * feature normalisation. Portable (library `aether`), no allocation after
 * init, deterministic for a given libm.
 *
 * Recipe (all sums in double, in the order written, stored as float):
 *  1. Tones. Only the first 64-pair block is used (the L-LTF for raw frames;
 *     the 56 amplitudes of amplitude frames are that block's first 56 pairs).
 *     The DC/guard pairs 0 and 27..37 are always zero and are dropped, which
 *     leaves 52 "canonical" tones, in storage order: block indices 1..26 then
 *     38..63. A tone is available if its index < n_pairs (an amplitude frame
 *     of 56 has 44). Indices are the chip's storage order: ESP32-C5/C6 order
 *     subcarriers differently from C3/S3, so group features compare only
 *     within one chip family.
 *  2. Amplitude a_k = sqrt(imag^2 + real^2) (raw) or the given value.
 *  3. P = mean of a_k^2 over available tones; energy = ln(1 + P), computed
 *     before normalisation.
 *  4. Per-packet gain normalisation: n_k = a_k / mean(a_k) (0 if the mean is
 *     0). ESP32-C3 recordings switch gain by exactly x2 between packets; this
 *     cancels it, so a gain-doubled frame gives the same features except
 *     the energy.
 *  5. Groups: G = (input_dim - 6) / 2 groups of contiguous canonical tones;
 *     group g holds canonical positions [floor(52 g / G), floor(52 (g+1) / G)).
 *     Group mean = mean of n_k over its available tones (0 if none).
 *  6. Temporal differences against the previous frame of the same node_id
 *     (0 for a node's first frame, after a kind change, or where either frame
 *     lacks the tone/group).
 *  7. Phase (raw frames only; 0 for amplitude frames): phi_k = atan2(imag,
 *     real) (Espressif order); d_k = wrap(phi_{k+1} - phi_k) into (-pi, pi]
 *     for adjacent available tones of the same run (1..25 and 38..62: 50
 *     differences). A constant phase ramp of s rad/tone gives mean wrap(s),
 *     std 0. Adjacent-tone differences cancel the per-packet phase offset.
 *
 * Layout of the vector of D = input_dim floats (AETHER_FEATURES_MIN_DIM <= D
 * <= AETHER_FEATURES_MAX_DIM):
 *   [0] energy           ln(1 + mean power)
 *   [1] dispersion       population std of n_k (spectral shape flatness)
 *   [2] motion           mean |n_k - n_k(prev)| over tones in both frames
 *   [3] phase_mean       mean of d_k
 *   [4] phase_std        population std of d_k
 *   [5] phase_motion     mean |wrap(d_k - d_k(prev))| over diffs in both frames
 *   [6 .. 6+G)           group means
 *   [6+G .. 6+2G)        group mean minus the previous frame's group mean
 *   [6+2G]               only when D is odd: always 0 (reserved)
 * D = 16 (the default) gives G = 5.
 *
 * Recipes. The layout above is recipe v1 ("csi-v1", the default). Recipe v2
 * ("csi-v2") keeps every slot of v1 except the first min(G, 5) group-delta
 * slots [6+G .. 6+G+min(G,5)), which carry temporal-variability features
 * instead. They do not depend on which tone sits at which index (each pools
 * over tones with a mean), so chips that order subcarriers differently give
 * comparable values, and they use the gain-normalised n_k, so gain steps
 * cancel. Per node and tone, exponential moving statistics (EMS) with weight
 * a: the first sample sets m = x, v = 0, then d = x - m, m += a d,
 * v = (1 - a)(v + a d^2) (for phases d and m are wrapped into (-pi, pi]).
 * A tone's EMS restart when it was missing in the node's previous frame,
 * and all of a node's restart with its first frame or a kind change. With
 * F = AETHER_FEATURES_V2_FLOOR (1e-3):
 *   [6+G+0] ln(F + mean_k sqrt(v_k))  EMS of n_k, a = 1/8 (~16 frames)
 *   [6+G+1] ln(F + mean_k sqrt(v_k))  EMS of n_k, a = 1/32 (~64 frames)
 *   [6+G+2] ln(F + max(0, 1 - r)), r = Pearson correlation of the n_k of
 *           this and the previous frame over tones in both (r = 1 when
 *           either vector is constant or fewer than 2 tones are shared;
 *           a node's first frame gives ln F)
 *   [6+G+3] ln(F + mean_k sqrt(v_k))  EMS of the phase differences d_k,
 *           a = 1/8 (0 for frames without phase differences)
 *   [6+G+4] ln(F + e), e = EMA of the motion feature [2], a = 1/8, started at
 *           the node's first frame's value
 * The means run over the tones available in the current frame, in
 * canonical order, in double. Slots 6+G+5.. (G > 5) keep the v1 deltas.
 *
 * Recipe v3 ("csi-v3") uses the same slots as v2 for features that do not
 * depend on a chip's noise level and have no warm-up bias. Its EMS use the
 * weight max(a, 1/(c+1)) for the c-th sample since a tone's restart
 * (c = 0, 1, ...), which is the exact running mean / population variance
 * until 1/(c+1) falls to a (v2's weight-a start underestimates the
 * variance over the first ~2/a frames). Per tone, white_a = the same kind
 * of moving average (weight max(a, 1/c) for the c-th difference) of
 * (n_k - n_k(prev))^2 / 2, the variance that frame-to-frame noise alone
 * would give. With E = AETHER_FEATURES_V3_EPS (1e-6):
 *   [6+G+0] ln(F + mean_k sqrt(v_k))  EMS of n_k, a = 1/8
 *   [6+G+1] ln(F + mean_k sqrt(v_k))  EMS of n_k, a = 1/32
 *   [6+G+2] ln((E + mean_k v_k) / (E + mean_k white_k)), a = 1/32: about 0
 *           for white noise of any level, larger when the amplitudes change
 *           slowly over many frames (a moving body)
 *   [6+G+3] the same with a = 1/8
 *   [6+G+4] coherence of the deviations e_k = n_k - m_k (m_k the a = 1/32
 *           mean before this frame) between adjacent tones p, p+1 of one
 *           run (both with an earlier sample): P = sum e_p e_{p+1},
 *           Q = sum (e_p^2 + e_{p+1}^2) / 2, each averaged over frames with
 *           weight max(1/8, 1/(c+1)) (c = the node's earlier frames);
 *           the slot is P / Q in [-1, 1] (0 when Q is 0). Noise is
 *           independent between tones (about 0), multipath changes are not.
 * A tone's statistics restart when it was missing in the previous frame,
 * and all of a node's with its first frame or a kind change. Slots
 * 6+G+5.. (G > 5) keep the v1 deltas.
 *
 * Recipe v4 ("csi-v4") is v1 computed on gain-equalised packets, with a
 * gain-free energy slot [0]. The ESP32-C3 receiver switches its gain by
 * exactly x2 between packets (up to ~48 % of packets in some sessions).
 * v1's per-packet normalisation n_k cancels the scale of a step, but not
 * all of it: the energy ln(1 + P) jumps by about ln 4, and a packet at the
 * lower level carries twice the relative quantisation noise of int8 I/Q,
 * which the frame-to-frame slots ([2], [5], the group deltas) read as
 * movement. A model reading v1 therefore learns each session's step rate
 * and level, not the activity. v4 follows the gain per node:
 *   P as in step 3 on the frame as received; L = ln P; d = L - L_prev,
 *     L_prev of the node's last frame with P > 0 (a frame with P = 0
 *     changes nothing below);
 *   gain steps: k = floor(d / ln 4 + 1/2); when k is +-1 or +-2 and
 *     |d - k ln 4| <= T, T = AETHER_FEATURES_V4_STEP_TOL (0.45; in the C3
 *     recordings consecutive packets differ by |d| < 0.5 or 0.9 < |d| <
 *     1.9, nothing between), the packet is |k| x2 steps up (k > 0) or down:
 *     d -= k ln 4, and the gain level g (0 at the node's first frame) moves
 *     by one per step within 0..AETHER_FEATURES_V4_MAX_LEVEL (3); a step
 *     down at g = 0 is a new lowest level (g stays 0);
 *   L_c += d (L_c = 0 at the node's first frame: the session's absolute
 *     level is gone);
 *   raw frames with g > 0: every I/Q value of the first 64 pairs is
 *     divided by 2^g, rounded half away from zero, before steps 2-7, so
 *     each packet has the quantisation of the lowest level (amplitude
 *     frames are used as given: the normalisation removes their scale);
 *   slots [1..D) are v1's arithmetic on that frame;
 *   m = moving mean of L_c with weight max(a, 1/(c+1)) for the c-th frame
 *     since the node's restart (c = 0, 1, ...; exact running mean at the
 *     start, like v3), a = AETHER_FEATURES_V4_ALPHA (1/64, ~0.6 s at 100
 *     packets/s), updated with this frame;
 *   [0] = L_c - m: how far the gain-corrected power stands from its recent
 *     level (0 on a node's first frame).
 * What it costs: a real power change of about x4 between two consecutive
 * packets (10 ms) is taken for a step; high-gain packets lose one bit. With
 * exact x2 steps inserted into a sequence (doubled I/Q), every v4 slot is
 * unchanged (the energy slot up to the rounding of ln; tests/test_features.c
 * checks 1e-5).
 *
 * Recipe v5 ("csi-v5") is v4 with no static level left in any slot: only
 * how the spectrum moves. v4's group means and its dispersion and phase
 * slope describe the channel's standing shape (the room, the node's place,
 * the session), which identifies a recording session rather than what
 * happens in it. v5 follows the gain steps and requantises exactly as v4,
 * computes every v4 slot x_j, then, per node, for the level slots
 * j = [1] dispersion, [3] phase_mean, [4] phase_std and the G group means
 * [6 .. 6+G):
 *   m_j = moving mean of x_j with weight max(a, 1/(c+1)) for the c-th frame
 *     since the node's restart (c = 0, 1, ...; the first frame sets
 *     m_j = x_j), a = AETHER_FEATURES_V5_ALPHA (1/64), updated with this
 *     frame (in double);
 *   slot j = x_j - m_j (0 on a node's first frame).
 * [0] is v4's (already the corrected level minus its slow mean); [2], [5]
 * and the group deltas [6+G .. 6+2G) are v4's (frame-to-frame changes, no
 * level). It is meant for many groups (D = 39: 16 groups of 3-4 tones;
 * D = 111: one group per tone), whose slots then follow each part of the
 * spectrum. A constant gain and exact x2 steps leave every slot as v4
 * leaves it (unchanged up to the float rounding); a standing channel shape
 * gives 0 after the first frame.
 */
#ifndef AETHER_FEATURES_H
#define AETHER_FEATURES_H

#include "aether/export.h"
#include <stddef.h>
#include <stdint.h>

#include "aether/core.h"
#include "aether/csi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AETHER_FEATURES_TONES 52u    /* canonical tones of the 64-pair block */
#define AETHER_FEATURES_FIXED 6u     /* scalar features before the groups */
#define AETHER_FEATURES_MIN_DIM 8u   /* 6 + 2 x 1 group */
#define AETHER_FEATURES_MAX_DIM 111u /* 6 + 2 x 52 groups + reserved slot */
#define AETHER_FEATURES_DEFAULT_DIM 16u
#define AETHER_FEATURES_DEFAULT_NODES 8u
#define AETHER_FEATURES_MAX_NODES 65536u /* max_nodes bound (it was 256) */

/* Feature indices of the fixed part. */
enum {
    AETHER_FEAT_ENERGY = 0,
    AETHER_FEAT_DISPERSION = 1,
    AETHER_FEAT_MOTION = 2,
    AETHER_FEAT_PHASE_MEAN = 3,
    AETHER_FEAT_PHASE_STD = 4,
    AETHER_FEAT_PHASE_MOTION = 5
};

/* Recipe selectors (aether_features_config.recipe); 0 means v1. */
#define AETHER_FEATURES_V1 1u
#define AETHER_FEATURES_V2 2u
#define AETHER_FEATURES_V2_SLOTS 5u   /* variability slots of recipe v2 */
#define AETHER_FEATURES_V2_FLOOR 1e-3 /* log floor of the v2 features */
#define AETHER_FEATURES_V3 3u
#define AETHER_FEATURES_V3_EPS 1e-6 /* variance floor of the v3 ratios */
#define AETHER_FEATURES_V4 4u
#define AETHER_FEATURES_V4_STEP_TOL 0.45      /* |d -+ ln 4| of a gain step */
#define AETHER_FEATURES_V4_MAX_LEVEL 3u       /* highest gain level g followed */
#define AETHER_FEATURES_V4_ALPHA (1.0 / 64.0) /* slow mean of the v4 level */
#define AETHER_FEATURES_V5 5u
#define AETHER_FEATURES_V5_ALPHA (1.0 / 64.0) /* slow means of the v5 level slots */

typedef struct aether_features_config {
    size_t input_dim; /* D, AETHER_FEATURES_MIN_DIM..AETHER_FEATURES_MAX_DIM */
    size_t max_nodes; /* distinct node_ids tracked at once, 1..AETHER_FEATURES_MAX_NODES */
    unsigned recipe;  /* 0 or AETHER_FEATURES_V1 .. _V5 */
} aether_features_config;

/* {AETHER_FEATURES_DEFAULT_DIM, AETHER_FEATURES_DEFAULT_NODES,
 * AETHER_FEATURES_V1}. */
AETHER_API aether_features_config aether_features_config_default(void);

/* Recipe name <-> selector: "csi-v1" .. "csi-v5" (names blob metadata stores
 * under `features`). parse: INVALID_ARG for other names, NULL_ARG.
 * name: "csi-v1" for 0 and 1, "csi-v2" .. "csi-v5", NULL for unknown
 * values. */
AETHER_API aether_status aether_features_recipe_parse(const char *name, unsigned *recipe);
AETHER_API const char *aether_features_recipe_name(unsigned recipe);

/* Number of groups G for input_dim (0 if input_dim is out of range). */
AETHER_API size_t aether_features_groups(size_t input_dim);

/* Extractor with per-node previous-frame state; opaque, lives in caller memory.
 * Memory: max_nodes node states (about 3.2 KiB each) and an index of
 * 4 x (2 to 4) x max_nodes + 4 x max_nodes bytes, all fixed at init.
 * Cost: a node_id is found through a hash index in O(1) on average (a
 * frame of a new node_id, aether_features_forget and the lookup alike),
 * so the per-frame cost does not grow with max_nodes; reset is
 * O(max_nodes). */
typedef struct aether_features aether_features;

/* Bytes needed by aether_features_init (AETHER_ERR_INVALID_ARG for a bad config). */
AETHER_API aether_status aether_features_size(const aether_features_config *cfg, size_t *bytes);
/* Build an extractor in buf (any alignment; len from aether_features_size). */
AETHER_API aether_status aether_features_init(void *buf, size_t len,
                                              const aether_features_config *cfg,
                                              aether_features **out);
/* malloc convenience; release with aether_features_destroy. */
AETHER_API aether_status aether_features_create(const aether_features_config *cfg,
                                                aether_features **out);
AETHER_API void aether_features_destroy(aether_features *f);

/* Recipe of this extractor, AETHER_FEATURES_V1 .. _V5 (0 for NULL). */
AETHER_API unsigned aether_features_recipe(const aether_features *f);
/* D of this extractor (0 for NULL). */
AETHER_API size_t aether_features_dim(const aether_features *f);
/* Forget every node's previous frame. */
AETHER_API aether_status aether_features_reset(aether_features *f);
/* Forget one node (AETHER_ERR_TRACK_NOT_FOUND if it is not tracked). */
AETHER_API aether_status aether_features_forget(aether_features *f, uint32_t node_id);

/*
 * Features of one frame into out[0..D) (out_len must equal D), then remember
 * the frame as its node's previous one. Errors (state and out unchanged):
 * AETHER_ERR_NULL_ARG; AETHER_ERR_SHAPE_MISMATCH (out_len != D);
 * AETHER_ERR_INVALID_ARG (bad kind, n_pairs outside 1..1024, missing
 * samples); AETHER_ERR_NONFINITE (NaN/Inf or negative amplitude);
 * AETHER_ERR_TRACKS_FULL (a new node_id and max_nodes already tracked).
 */
AETHER_API aether_status aether_features_compute(aether_features *f,
                                                 const aether_csi_frame *frame, float *out,
                                                 size_t out_len);

/* ---------------- running normalisation ----------------
 * y = (x - mean) / sqrt(var + eps) per feature. WELFORD: exact running mean
 * and population variance of every sample seen; EMA: exponentially weighted,
 * mean += alpha (x - mean), var = (1 - alpha) (var + alpha (x - mean_old)^2),
 * the first sample setting mean = x, var = 0. Before any sample the
 * transform is the identity (mean 0, var 1, eps ignored).
 *
 * Saved state, little-endian, 36 + 16 D bytes:
 *   0 u32 magic 0x4D524E41 ("ANRM")   4 u16 version 1   6 u8 mode   7 u8 0
 *   8 u32 D   12 f32 alpha   16 f32 eps   20 u32 0   24 u64 count
 *   32 f64 mean[D]   32+8D f64 m2[D] (WELFORD: sum of squared deviations;
 *   EMA: variance)   32+16D u32 CRC-32 of bytes [0, 32+16D).
 */
typedef enum aether_norm_mode { AETHER_NORM_WELFORD = 0, AETHER_NORM_EMA = 1 } aether_norm_mode;

typedef struct aether_norm_config {
    size_t dim; /* 1..4096 */
    aether_norm_mode mode;
    float alpha; /* EMA weight in (0, 1]; ignored by WELFORD */
    float eps;   /* > 0, added to the variance */
} aether_norm_config;

typedef struct aether_feature_norm aether_feature_norm; /* opaque */

#define AETHER_NORM_STATE_MAGIC 0x4D524E41u
#define AETHER_NORM_STATE_VERSION 1u

/* {dim, WELFORD, alpha 0.01, eps 1e-6}. */
AETHER_API aether_norm_config aether_norm_config_default(size_t dim);
AETHER_API aether_status aether_norm_size(const aether_norm_config *cfg, size_t *bytes);
AETHER_API aether_status aether_norm_init(void *buf, size_t len, const aether_norm_config *cfg,
                                          aether_feature_norm **out);
AETHER_API aether_status aether_norm_create(const aether_norm_config *cfg,
                                            aether_feature_norm **out);
AETHER_API void aether_norm_destroy(aether_feature_norm *n);
/* Forget all samples. */
AETHER_API aether_status aether_norm_reset(aether_feature_norm *n);
/* Samples accumulated so far (0 for NULL). */
AETHER_API uint64_t aether_norm_count(const aether_feature_norm *n);
/* Accumulate one sample (AETHER_ERR_NONFINITE leaves the state unchanged). */
AETHER_API aether_status aether_norm_update(aether_feature_norm *n, const float *x, size_t dim);
/* y = normalised x with the current statistics (x == y allowed). */
AETHER_API aether_status aether_norm_apply(const aether_feature_norm *n, const float *x, float *y,
                                           size_t dim);
/* Current mean / variance of feature i (for inspection). */
AETHER_API aether_status aether_norm_stats(const aether_feature_norm *n, size_t i, double *mean,
                                           double *var);
/* Bytes of the saved state: 36 + 16 D. */
AETHER_API size_t aether_norm_state_bytes(size_t dim);
/* Save into buf (AETHER_ERR_BUFFER_TOO_SMALL if cap is short; *out_len set). */
AETHER_API aether_status aether_norm_save(const aether_feature_norm *n, void *buf, size_t cap,
                                          size_t *out_len);
/* Load a saved state into n: AETHER_ERR_FORMAT (magic/version/mode, or
 * statistics no samples give: count 0 with a non-zero mean or variance
 * term, count 1 with a non-zero variance term),
 * AETHER_ERR_SHAPE_MISMATCH (D differs from n's), AETHER_ERR_INVALID_ARG
 * (len wrong, bad alpha/eps), AETHER_ERR_PARSE (CRC mismatch),
 * AETHER_ERR_NONFINITE. The state is unchanged on error. */
AETHER_API aether_status aether_norm_load(aether_feature_norm *n, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_FEATURES_H */
