/*
 * Gain-step augmentation for training (aether_train_gain_steps, train.h):
 * the ESP32-C3's exact x2 gain steps inserted into a recording's raw int8
 * packets, before any feature is computed, so that a model cannot learn a
 * session's step rate in place of the activity.
 */
#include "train/train_internal.h"

#include <math.h>

#define GS_LN4 1.3862943611198906
#define GS_TOL 0.45    /* as AETHER_FEATURES_V4_STEP_TOL */
#define GS_MAX_SHIFT 7 /* x2^7 saturates every int8 */

/* Mean power of the canonical tones (1..26, 38..63) present; 0 if none. */
static double packet_power(const int8_t *iq, size_t n_pairs)
{
    double s = 0.0;
    size_t k, n = 0;
    for (k = 0; k < 52; ++k) {
        size_t idx = k < 26 ? k + 1 : k + 12;
        double im, re;
        if (idx >= n_pairs)
            continue;
        im = (double)iq[2 * idx];
        re = (double)iq[2 * idx + 1];
        s += im * im + re * re;
        n++;
    }
    return n ? s / (double)n : 0.0;
}

static int8_t twice(int v, int shift)
{
    long x = (long)v * (1L << shift);
    return (int8_t)(x > 127 ? 127 : (x < -128 ? -128 : x));
}

static int8_t half(int v)
{
    return (int8_t)(v >= 0 ? (v + 1) / 2 : -((-v + 1) / 2));
}

/* The gain level of a packet sequence, counted in x2 steps from the first
 * packet: a jump of ln P by k * ln 4 (|k| <= 2, within GS_TOL) is k steps. */
typedef struct gain_track {
    double lp; /* ln P of the last packet with power */
    long g;    /* level of the last packet */
    int have_lp;
} gain_track;

static long gain_next(gain_track *t, double pw)
{
    if (pw > 0.0) {
        double lv = log(pw);
        if (t->have_lp) {
            double d = lv - t->lp, k = floor(d / GS_LN4 + 0.5);
            if (k != 0.0 && fabs(k) <= 2.0 && fabs(d - k * GS_LN4) <= GS_TOL)
                t->g += (long)k;
        }
        t->lp = lv;
        t->have_lp = 1;
    }
    return t->g;
}

aether_status aether_train_gain_steps(int8_t *iq, size_t n_packets, size_t n_pairs, double rate,
                                      uint64_t seed)
{
    aether_train_rng rng;
    gain_track gt = {0.0, 0, 0};
    long g, top = 0;
    size_t p, i, len = 2 * n_pairs;
    if (!iq && n_packets > 0)
        return AETHER_ERR_NULL_ARG;
    if (n_pairs == 0 || !(rate >= 0.0 && rate <= 1.0))
        return AETHER_ERR_INVALID_ARG;
    /* pass 1: the upper gain level (levels counted in x2 steps) */
    for (p = 0; p < n_packets; ++p) {
        g = gain_next(&gt, packet_power(iq + p * len, n_pairs));
        if (p == 0 || g > top)
            top = g;
    }
    /* pass 2: every packet to the upper level, then halved at `rate` */
    gt.g = 0;
    gt.have_lp = 0;
    aether_train_rng_seed_(&rng, seed ^ 0x6A09E667F3BCC908ull);
    for (p = 0; p < n_packets; ++p) {
        int8_t *q = iq + p * len;
        g = gain_next(&gt, packet_power(q, n_pairs));
        if (g < top) {
            int shift = top - g > GS_MAX_SHIFT ? GS_MAX_SHIFT : (int)(top - g);
            for (i = 0; i < len; ++i)
                q[i] = twice(q[i], shift);
        }
        if (rate > 0.0 && aether_train_rng_unit_(&rng) < rate)
            for (i = 0; i < len; ++i)
                q[i] = half(q[i]);
    }
    return AETHER_OK;
}
