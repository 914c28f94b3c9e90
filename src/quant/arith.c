/* The integer kernels of the quantized path (docs/MODEL.md section 10):
 * requantization, matrix-vector products, the table exponential, attention
 * over a candidate list and block landmarks. */
#include <string.h>

#include "quant/quant_internal.h"

unsigned aq_exponent_(const int32_t *v, size_t n, uint32_t lim)
{
    uint32_t mx = 0;
    unsigned s = 0;
    size_t i;
    for (i = 0; i < n; ++i) {
        uint32_t a = aq_mag(v[i]);
        if (a > mx)
            mx = a;
    }
    /* round(mx / 2^s) = (mx + 2^(s-1)) >> s, computed in 64 bits. */
    while (s < 31 && (s == 0 ? (uint64_t)mx : ((uint64_t)mx + (1u << (s - 1))) >> s) > lim)
        ++s;
    return s;
}

unsigned aq_to_i16_(const int32_t *v, size_t n, int16_t *m)
{
    unsigned s = aq_exponent_(v, n, 32767u);
    size_t i;
    for (i = 0; i < n; ++i)
        m[i] = (int16_t)aq_rshift(v[i], s);
    return s;
}

unsigned aq_to_i8_(const int32_t *v, size_t n, int8_t *m)
{
    unsigned s = aq_exponent_(v, n, 127u);
    size_t i;
    for (i = 0; i < n; ++i)
        m[i] = (int8_t)aq_rshift(v[i], s);
    return s;
}

/* round(32768 * 2^(-i/32)) and round(32768 * 2^(-i/1024)), i = 0..31. */
static const uint16_t k_exp_hi[32] = {
    32768, 32066, 31379, 30706, 30048, 29405, 28774, 28158, 27554, 26964, 26386,
    25821, 25268, 24726, 24196, 23678, 23170, 22674, 22188, 21713, 21247, 20792,
    20347, 19911, 19484, 19066, 18658, 18258, 17867, 17484, 17109, 16743};
static const uint16_t k_exp_lo[32] = {
    32768, 32746, 32724, 32702, 32679, 32657, 32635, 32613, 32591, 32569, 32547,
    32525, 32503, 32481, 32459, 32437, 32415, 32393, 32371, 32349, 32327, 32306,
    32284, 32262, 32240, 32218, 32196, 32175, 32153, 32131, 32109, 32088};

uint32_t aq_exp2neg_(uint32_t t)
{
    uint32_t n = t >> 10, f = t & 1023u, w;
    if (n >= 16)
        return 0;
    w = ((uint32_t)k_exp_hi[f >> 5] * k_exp_lo[f & 31u] + (1u << 14)) >> 15;
    return n ? (w + (1u << (n - 1))) >> n : w;
}

void aq_matvec16_(const aq_mat *w, const int16_t *x16, unsigned s, int32_t *y)
{
    size_t r, c, R = w->rows;
    for (c = 0; c < w->cols; ++c) {
        const int8_t *row = w->w + c * R;
        const unsigned char *sc = w->s + c * AETHER_QBLOB_SCALE_BYTES;
        int32_t acc = 0;
        /* |acc| <= R * 32767 * 127 < 2^31 for R <= 512 (the shape bound). */
        for (r = 0; r < R; ++r)
            acc += (int32_t)x16[r] * row[r];
        y[c] = aq_mulsh(acc, aq_scale_m(sc), (int)sc[2] - (int)s);
    }
}

void aq_attend_(const aether_qmodel *m, const int16_t *q, const uint8_t *qe, const aq_cand *c,
                size_t n, int32_t *z, int32_t *out)
{
    const size_t hq = m->header.n_q_heads, d = m->header.head_dim;
    const size_t g = hq / m->header.n_kv_heads;
    size_t h, j, i;
    for (h = 0; h < hq; ++h) {
        const size_t kv = h / g;
        const int16_t *qh = q + h * d;
        int32_t *oh = out + h * d, zmax = -AQ_Z_LIM;
        uint32_t denom = 0, r;
        unsigned sref = 0;
        if (n == 0) {
            for (i = 0; i < d; ++i)
                oh[i] = 0;
            continue;
        }
        /* Scores in Q10 log2 units: dot * 2^(qe + ke - 32) * log2(e)/sqrt(d). */
        for (j = 0; j < n; ++j) {
            const int8_t *kr = c[j].k + kv * d;
            int32_t dot = 0, zj;
            for (i = 0; i < d; ++i)
                dot += (int32_t)qh[i] * kr[i];
            zj = aq_mulsh(dot, m->score_mul, 52 - (int)qe[h] - (int)c[j].ke[kv]);
            if (zj > AQ_Z_LIM)
                zj = AQ_Z_LIM;
            if (zj < -AQ_Z_LIM)
                zj = -AQ_Z_LIM;
            z[j] = zj;
            if (zj > zmax)
                zmax = zj;
            if (c[j].ve[kv] > sref)
                sref = c[j].ve[kv];
        }
        /* Weights 2^(z - zmax) in Q15 (the largest is 32768), normalised by
         * one reciprocal: p = w * round(2^30 / sum) / 2^15. */
        for (j = 0; j < n; ++j) {
            uint32_t w = aq_exp2neg_((uint32_t)(zmax - z[j]));
            z[j] = (int32_t)w;
            denom += w; /* <= n * 32768: n < 65536 candidates */
        }
        r = ((1u << 30) + denom / 2u) / denom;
        for (i = 0; i < d; ++i)
            oh[i] = 0;
        for (j = 0; j < n; ++j) {
            uint32_t p = ((uint32_t)z[j] * r + (1u << 14)) >> 15;
            unsigned sh = sref - c[j].ve[kv];
            const int8_t *vr = c[j].v + kv * d;
            int32_t pj;
            if (sh > 0)
                p = sh > 31 ? 0u : (uint32_t)(((uint64_t)p + (1u << (sh - 1))) >> sh);
            if (p == 0)
                continue;
            pj = (int32_t)p;
            /* sum of p <= 2^15 + n, so |acc| < 2^23. */
            for (i = 0; i < d; ++i)
                oh[i] += pj * vr[i];
        }
        /* acc * 2^(sref - 31) is the value; Q16 is acc * 2^(sref - 15). */
        for (i = 0; i < d; ++i)
            oh[i] = sref >= 15 ? aq_mulsh(oh[i], 1u, 15 - (int)sref)
                               : aq_rshift(oh[i], 15u - sref);
    }
}

void aq_landmark_(size_t kvh, size_t d, size_t B, const int8_t *const *rows,
                  const uint8_t *const *e, int32_t *sum, int8_t *out, uint8_t *oe)
{
    size_t h, t, i;
    for (h = 0; h < kvh; ++h) {
        unsigned smax = 0, u;
        uint32_t mx = 0;
        for (t = 0; t < B; ++t)
            if (e[t][h] > smax)
                smax = e[t][h];
        for (i = 0; i < d; ++i)
            sum[i] = 0;
        /* Each row at exponent smax - 8: |term| <= 127 * 256, B terms. */
        for (t = 0; t < B; ++t) {
            const int8_t *r = rows[t] + h * d;
            unsigned sh = smax - e[t][h];
            for (i = 0; i < d; ++i) {
                int32_t v = (int32_t)r[i] * 256;
                sum[i] += sh > 31 ? 0 : aq_rshift(v, sh);
            }
        }
        /* Mean, rounded half away from zero, at exponent smax - 8. */
        for (i = 0; i < d; ++i) {
            uint32_t a = aq_mag(sum[i]);
            a = (a + (uint32_t)B / 2u) / (uint32_t)B;
            sum[i] = sum[i] < 0 ? -(int32_t)a : (int32_t)a;
            if (a > mx)
                mx = a;
        }
        /* int8 mantissas at exponent smax - 8 + u >= 0. */
        u = smax >= 8 ? 0u : 8u - smax;
        while (u < 31 && (((uint64_t)mx + (u ? (1u << (u - 1)) : 0u)) >> u) > 127u)
            ++u;
        for (i = 0; i < d; ++i)
            out[h * d + i] = (int8_t)aq_rshift(sum[i], u);
        oe[h] = (uint8_t)(smax + u - 8u);
    }
}

aether_status aether_q16_from_f32(float x, int32_t *out)
{
    uint32_t b, e, mant;
    uint64_t v;
    memcpy(&b, &x, sizeof b);
    if (!out)
        return AETHER_ERR_NULL_ARG;
    e = (b >> 23) & 0xFFu;
    if (e == 0xFFu)
        return AETHER_ERR_NONFINITE;
    if (e == 0) { /* zero or subnormal: below 2^-126, rounds to 0 */
        *out = 0;
        return AETHER_OK;
    }
    mant = (b & 0x7FFFFFu) | 0x800000u;
    /* value * 2^16 = mant * 2^(e - 134) */
    if (e >= 134) {
        if (e - 134u >= 8u)
            v = (uint64_t)AQ_SAT + 1u;
        else
            v = (uint64_t)mant << (e - 134u);
    } else {
        unsigned sh = 134u - e;
        v = sh > 25u ? 0u : (((uint64_t)mant >> sh) + (((uint64_t)mant >> (sh - 1u)) & 1u));
    }
    *out = aq_signed(v, (int)(b >> 31));
    return AETHER_OK;
}

float aether_q16_to_f32(int32_t v)
{
    uint32_t mag = aq_mag(v), b, mant;
    unsigned p = 31;
    float f;
    if (mag == 0) {
        b = 0;
    } else {
        while (!(mag >> p))
            --p;
        if (p > 23) {
            unsigned sh = p - 23u;
            uint32_t rem = mag & ((1u << sh) - 1u), half = 1u << (sh - 1u);
            mant = mag >> sh;
            if (rem > half || (rem == half && (mant & 1u)))
                ++mant;
            if (mant >> 24) {
                mant >>= 1;
                ++p;
            }
        } else {
            mant = mag << (23u - p);
        }
        /* value = mag * 2^-16: unbiased exponent p - 16, always normal. */
        b = ((uint32_t)(p - 16u + 127u) << 23) | (mant & 0x7FFFFFu);
        if (v < 0)
            b |= 0x80000000u;
    }
    memcpy(&f, &b, sizeof f);
    return f;
}
