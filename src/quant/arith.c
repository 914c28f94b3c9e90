/* The integer kernels of the quantized path (docs/MODEL.md section 10):
 * requantization, matrix-vector products, the table exponential, attention
 * over a candidate list and block landmarks. */
#include <string.h>

#include "core/int8row.h"
#include "quant/quant_internal.h"

unsigned aq_exponent_(const int32_t *v, size_t n, uint32_t lim)
{
    return aether_q16_exponent_(v, n, lim);
}

unsigned aq_to_i16_(const int32_t *v, size_t n, int16_t *m)
{
    unsigned s = aq_exponent_(v, n, 32767u);
    size_t i;
    for (i = 0; i < n; ++i)
        m[i] = (int16_t)aq_rshift(v[i], s);
    return s;
}

/* The int8 row format the I8 K/V cache storage shares (core/int8row.h). */
unsigned aq_to_i8_(const int32_t *v, size_t n, int8_t *m)
{
    return aether_q16_to_i8_(v, n, m);
}

/* round(32768 * 2^(-i/32)) and round(32768 * 2^(-i/1024)), i = 0..31. */
const uint16_t aq_exp_hi_[32] = {
    32768, 32066, 31379, 30706, 30048, 29405, 28774, 28158, 27554, 26964, 26386,
    25821, 25268, 24726, 24196, 23678, 23170, 22674, 22188, 21713, 21247, 20792,
    20347, 19911, 19484, 19066, 18658, 18258, 17867, 17484, 17109, 16743};
const uint16_t aq_exp_lo_[32] = {
    32768, 32746, 32724, 32702, 32679, 32657, 32635, 32613, 32591, 32569, 32547,
    32525, 32503, 32481, 32459, 32437, 32415, 32393, 32371, 32349, 32327, 32306,
    32284, 32262, 32240, 32218, 32196, 32175, 32153, 32131, 32109, 32088};

uint32_t aq_exp2neg_(uint32_t t)
{
    return aq_exp2neg(t);
}

void aq_matvec16_(const aq_mat *w, const int16_t *x16, unsigned s, int32_t *y)
{
    const size_t R = w->rows, C = w->cols;
    size_t c, r0, r;
    /* Input-stationary: eight inputs at a time stay in registers while every
     * output row's eight weights pass by; y holds the partial sums. |sum| <=
     * R * 32767 * 127 < 2^31 for R <= 512 (the shape bound), and so is every
     * partial sum. */
    for (c = 0; c < C; ++c)
        y[c] = 0;
    for (r0 = 0; r0 + 8 <= R; r0 += 8) {
        const int32_t x0 = x16[r0], x1 = x16[r0 + 1], x2 = x16[r0 + 2], x3 = x16[r0 + 3];
        const int32_t x4 = x16[r0 + 4], x5 = x16[r0 + 5], x6 = x16[r0 + 6], x7 = x16[r0 + 7];
        const int8_t *wc = w->w + r0;
        for (c = 0; c < C; ++c, wc += R)
            y[c] += x0 * wc[0] + x1 * wc[1] + x2 * wc[2] + x3 * wc[3] + x4 * wc[4] +
                    x5 * wc[5] + x6 * wc[6] + x7 * wc[7];
    }
    if (r0 < R)
        for (c = 0; c < C; ++c) {
            const int8_t *wc = w->w + c * R;
            int32_t a = y[c];
            for (r = r0; r < R; ++r)
                a += x16[r] * wc[r];
            y[c] = a;
        }
    for (c = 0; c < C; ++c) {
        const unsigned char *sc = w->s + c * AETHER_QBLOB_SCALE_BYTES;
        y[c] = aq_mulsh(y[c], aq_scale_m(sc), (int)sc[2] - (int)s);
    }
}

/* dot[hh] = sum_i q[i*g + hh] * k[i] for the g heads of one group (q
 * interleaved). Every partial sum is bounded by the full one (< 2^31 for
 * d <= 256), so the order of the terms does not matter. */
static void group_dots(const int16_t *q, size_t g, size_t d, const int8_t *k, int32_t *dot)
{
    size_t i, hh;
    if (g == 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (i = 0; i + 2 <= d; i += 2, q += 8) {
            const int32_t k0 = k[i], k1 = k[i + 1];
            a0 += q[0] * k0 + q[4] * k1;
            a1 += q[1] * k0 + q[5] * k1;
            a2 += q[2] * k0 + q[6] * k1;
            a3 += q[3] * k0 + q[7] * k1;
        }
        if (i < d) {
            const int32_t k0 = k[i];
            a0 += q[0] * k0;
            a1 += q[1] * k0;
            a2 += q[2] * k0;
            a3 += q[3] * k0;
        }
        dot[0] = a0;
        dot[1] = a1;
        dot[2] = a2;
        dot[3] = a3;
    } else if (g == 1) {
        int32_t a0 = 0, a1 = 0;
        for (i = 0; i + 4 <= d; i += 4) {
            a0 += q[i] * k[i] + q[i + 2] * k[i + 2];
            a1 += q[i + 1] * k[i + 1] + q[i + 3] * k[i + 3];
        }
        for (; i < d; ++i)
            a0 += q[i] * k[i];
        dot[0] = a0 + a1;
    } else {
        for (hh = 0; hh < g; ++hh)
            dot[hh] = 0;
        for (i = 0; i < d; ++i, q += g)
            for (hh = 0; hh < g; ++hh)
                dot[hh] += q[hh] * k[i];
    }
}

/* out[hh*d + i] = sum_j p[j*g + hh] * v_j[i] (|sum| < 2^23: the p sum to
 * about 2^15, |v| <= 127). */
static void group_pv(const int32_t *p, const int8_t *const *vp, size_t n, size_t g, size_t d,
                     int32_t *out)
{
    size_t i, j, hh;
    if (g == 4) {
        for (i = 0; i + 2 <= d; i += 2) {
            int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0, a20 = 0, a21 = 0, a30 = 0, a31 = 0;
            const int32_t *pj = p;
            for (j = 0; j < n; ++j, pj += 4) {
                const int32_t v0 = vp[j][i], v1 = vp[j][i + 1];
                a00 += pj[0] * v0;
                a01 += pj[0] * v1;
                a10 += pj[1] * v0;
                a11 += pj[1] * v1;
                a20 += pj[2] * v0;
                a21 += pj[2] * v1;
                a30 += pj[3] * v0;
                a31 += pj[3] * v1;
            }
            out[i] = a00;
            out[i + 1] = a01;
            out[d + i] = a10;
            out[d + i + 1] = a11;
            out[2 * d + i] = a20;
            out[2 * d + i + 1] = a21;
            out[3 * d + i] = a30;
            out[3 * d + i + 1] = a31;
        }
        for (; i < d; ++i)
            for (hh = 0; hh < 4; ++hh) {
                int32_t a = 0;
                for (j = 0; j < n; ++j)
                    a += p[j * 4 + hh] * vp[j][i];
                out[hh * d + i] = a;
            }
    } else if (g == 1) {
        for (i = 0; i + 4 <= d; i += 4) {
            int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            for (j = 0; j < n; ++j) {
                const int8_t *v = vp[j] + i;
                const int32_t pj = p[j];
                a0 += pj * v[0];
                a1 += pj * v[1];
                a2 += pj * v[2];
                a3 += pj * v[3];
            }
            out[i] = a0;
            out[i + 1] = a1;
            out[i + 2] = a2;
            out[i + 3] = a3;
        }
        for (; i < d; ++i) {
            int32_t a = 0;
            for (j = 0; j < n; ++j)
                a += p[j] * vp[j][i];
            out[i] = a;
        }
    } else {
        for (hh = 0; hh < g; ++hh)
            for (i = 0; i < d; ++i) {
                int32_t a = 0;
                for (j = 0; j < n; ++j)
                    a += p[j * g + hh] * vp[j][i];
                out[hh * d + i] = a;
            }
    }
}

void aq_attend_(const aether_qmodel *m, const int16_t *q, const uint8_t *qe, const aq_cand *c,
                size_t n, const aq_scratch *sc, int32_t *out)
{
    const size_t hq = m->header.n_q_heads, kvh = m->header.n_kv_heads, d = m->header.head_dim;
    const size_t g = hq / kvh;
    int32_t *z = sc->z;
    const int8_t **vp = sc->vp;
    size_t kv, hh, j, i;
    if (n == 0) {
        for (i = 0; i < hq * d; ++i)
            out[i] = 0;
        return;
    }
    for (kv = 0; kv < kvh; ++kv) {
        const int16_t *qg = q + kv * d * g;
        const uint8_t *qeg = qe + kv * g;
        int32_t *og = out + kv * g * d;
        int32_t *zmax = sc->zmax;
        uint32_t *denom = sc->denom, *r = sc->r;
        unsigned sref = 0;
        for (hh = 0; hh < g; ++hh) {
            zmax[hh] = -AQ_Z_LIM;
            denom[hh] = 0;
        }
        /* Scores in Q10 log2 units: dot * 2^(qe + ke - 32) * log2(e)/sqrt(d). */
        for (j = 0; j < n; ++j) {
            int32_t *zj = z + j * g;
            const unsigned ke = c[j].ke[kv], ve = c[j].ve[kv];
            group_dots(qg, g, d, c[j].k + kv * d, zj);
            for (hh = 0; hh < g; ++hh) {
                int32_t v = aq_mulsh(zj[hh], m->score_mul, 52 - (int)qeg[hh] - (int)ke);
                v = v > AQ_Z_LIM ? AQ_Z_LIM : v < -AQ_Z_LIM ? -AQ_Z_LIM : v;
                zj[hh] = v;
                if (v > zmax[hh])
                    zmax[hh] = v;
            }
            if (ve > sref)
                sref = ve;
            vp[j] = c[j].v + kv * d;
        }
        /* Weights 2^(z - zmax) in Q15 (the largest is 32768), normalised by
         * one reciprocal per head: p = w * round(2^30 / sum) / 2^15. */
        for (j = 0; j < n; ++j)
            for (hh = 0; hh < g; ++hh) {
                uint32_t w = aq_exp2neg((uint32_t)(zmax[hh] - z[j * g + hh]));
                z[j * g + hh] = (int32_t)w;
                denom[hh] += w; /* <= n * 32768: n < 65536 candidates */
            }
        for (hh = 0; hh < g; ++hh)
            r[hh] = ((1u << 30) + denom[hh] / 2u) / denom[hh];
        /* p aligned to the largest V exponent: p' = round(p / 2^(sref - ve)). */
        for (j = 0; j < n; ++j) {
            const unsigned sh = sref - c[j].ve[kv];
            for (hh = 0; hh < g; ++hh) {
                uint32_t p = ((uint32_t)z[j * g + hh] * r[hh] + (1u << 14)) >> 15;
                if (sh > 0) /* p <= 2^16: no wrap */
                    p = sh > 31 ? 0u : (p + (1u << (sh - 1))) >> sh;
                z[j * g + hh] = (int32_t)p;
            }
        }
        group_pv(z, vp, n, g, d, og);
        /* acc * 2^(sref - 31) is the value; Q16 is acc * 2^(sref - 15). */
        for (i = 0; i < g * d; ++i)
            og[i] = sref >= 15 ? aq_lshift(og[i], sref - 15u) : aq_rshift(og[i], 15u - sref);
    }
}

void aq_lm_add_(size_t kvh, size_t d, const int8_t *row, const uint8_t *re, int first,
                int32_t *sum, uint8_t *se)
{
    size_t h, i;
    for (h = 0; h < kvh; ++h) {
        const int8_t *r = row + h * d;
        int32_t *sh_sum = sum + h * d;
        unsigned s = re[h], e, sh;
        if (first) {
            se[h] = (uint8_t)s;
            for (i = 0; i < d; ++i)
                sh_sum[i] = (int32_t)r[i] * 256;
            continue;
        }
        e = se[h];
        if (s > e) { /* the sum moves to the larger exponent */
            const unsigned up = s - e;
            for (i = 0; i < d; ++i)
                sh_sum[i] = up > 31 ? 0 : aq_rshift(sh_sum[i], up);
            se[h] = (uint8_t)s;
            e = s;
        }
        sh = e - s;
        if (sh == 0) {
            for (i = 0; i < d; ++i)
                sh_sum[i] += (int32_t)r[i] * 256;
        } else if (sh < 16) {
            for (i = 0; i < d; ++i)
                sh_sum[i] += aq_rshift((int32_t)r[i] * 256, sh);
        } /* sh >= 16: |r| * 256 / 2^sh < 0.5, every term rounds to 0 */
    }
}

void aq_lm_finish_(size_t kvh, size_t d, size_t B, const int32_t *sum, const uint8_t *se,
                   int8_t *out, uint8_t *oe)
{
    size_t h, i;
    for (h = 0; h < kvh; ++h) {
        const int32_t *hs = sum + h * d;
        const unsigned smax = se[h];
        uint32_t mx = 0;
        unsigned u;
        /* |sum| <= B * 127 * 256 < 2^31 (B <= 65536); the mean, rounded half
         * away from zero, is at exponent smax - 8 */
        for (i = 0; i < d; ++i) {
            uint32_t a = (aq_mag(hs[i]) + (uint32_t)B / 2u) / (uint32_t)B;
            if (a > mx)
                mx = a;
        }
        /* int8 mantissas at exponent smax - 8 + u >= 0 (mx < 2^15) */
        u = smax >= 8 ? 0u : 8u - smax;
        while (u < 31 && ((mx + (u ? (1u << (u - 1)) : 0u)) >> u) > 127u)
            ++u;
        for (i = 0; i < d; ++i) {
            uint32_t a = (aq_mag(hs[i]) + (uint32_t)B / 2u) / (uint32_t)B;
            int32_t m = hs[i] < 0 ? -(int32_t)a : (int32_t)a;
            out[h * d + i] = (int8_t)aq_rshift(m, u);
        }
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
