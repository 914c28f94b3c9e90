/*
 * Decode part of the shared optimised kernels (GQA group queries over
 * gathered candidates, the projection matvec) and the ops table. Included
 * at the end of tile_impl.h, after the helpers it uses; no include guard.
 */


#ifdef AE_DOTS_G4
#define AE_G4_DMAX 128u /* largest head dim of the packed 4 x 4 path */
#endif

/* Pads nh score rows s + h * AE_QB of c candidates to whole vectors with
 * -inf (weight 0), so the max and exp passes have no tails. Called before
 * the scores are computed: the vector loads of the padding come long after
 * these scalar stores, which then cannot stall them. */
static void AE_FN(pad_rows)(float *s, size_t nh, size_t c)
{
    size_t cv = (c + AE_VW - 1) / AE_VW * AE_VW, h, i;
    for (h = 0; h < nh; ++h)
        for (i = c; i < cv; ++i)
            s[h * AE_QB + i] = -INFINITY;
}

/* max / sum of the AE_VW lanes of t, as a tree (short dependency chains). */
static float AE_FN(lanes_max)(float *t)
{
    size_t w, i;
    for (w = AE_VW / 2; w > 0; w /= 2)
        for (i = 0; i < w; ++i)
            t[i] = t[i + w] > t[i] ? t[i + w] : t[i];
    return t[0];
}

static float AE_FN(lanes_sum)(float *t)
{
    size_t w, i;
    for (w = AE_VW / 2; w > 0; w /= 2)
        for (i = 0; i < w; ++i)
            t[i] += t[i + w];
    return t[0];
}

/* Online-softmax update of nh (<= AETHER_QHEADS_MAX) padded score rows
 * s + h * AE_QB of c candidates: maxima and rescales of (l, acc rows) as in
 * query, then the weights exp(s - m) in place. Phase by phase over all
 * rows, so the rows' short reductions and exp chains overlap. */
static void AE_FN(softmax_rows)(float *s, size_t nh, size_t c, float *m, float *l, float *acc,
                                size_t dim)
{
    size_t cv = (c + AE_VW - 1) / AE_VW * AE_VW, h, i;
    float t[AETHER_QHEADS_MAX][AE_VW];
    for (h = 0; h < nh; ++h) {
        const float *sh = s + h * AE_QB;
        AE_V v = AE_SET1(m[h]);
        for (i = 0; i < cv; i += AE_VW)
            v = AE_MAX(v, AE_LOADU(sh + i));
        AE_STOREU(t[h], v);
    }
    for (h = 0; h < nh; ++h) {
        float mx = AE_FN(lanes_max)(t[h]);
        if (mx > m[h]) {
            if (m[h] != AE_MINIT) {
                float al = expf(m[h] - mx);
                AE_FN(scale_row)(acc + h * dim, dim, al);
                l[h] *= al;
            }
            m[h] = mx;
        }
    }
    for (h = 0; h < nh; ++h) {
        float *sh = s + h * AE_QB;
        AE_V mv = AE_SET1(m[h]), sv = AE_ZERO();
        for (i = 0; i < cv; i += AE_VW) {
            AE_V e = ae_vexp(AE_SUB(AE_LOADU(sh + i), mv));
            AE_STOREU(sh + i, e);
            sv = AE_ADD(sv, e);
        }
        AE_STOREU(t[h], sv);
    }
    for (h = 0; h < nh; ++h)
        l[h] += AE_FN(lanes_sum)(t[h]);
}

#define AE_RF32 1
#define AE_RT float
#define AE_RLD(p) AE_LOADU(p)
#define AE_RSC(x) (x)
#define AE_RROWS aether_rows
#define AE_RN(n) AE_FN(n)
#include "simd/decode_rows_impl.h"

#define AE_RF32 0
#define AE_RT uint16_t
#define AE_RLD(p) AE_WIDEN16(p)
#define AE_RSC(x) aether_f16_to_f32(x)
#define AE_RROWS aether_rows16
#define AE_RN16(n) AE_CAT(AE_CAT2(n, h), AE_ISA)
#define AE_RN(n) AE_RN16(n)
#include "simd/decode_rows_impl.h"

/* y = x . W, columns in the lanes, up to eight vectors of columns per pass. */
static void AE_FN(matvec)(const float *x, size_t rows, const float *w, size_t cols, float *y)
{
    size_t i, j = 0;
    for (; j + 8 * AE_VW <= cols; j += 8 * AE_VW) {
        AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
        AE_V a4 = AE_ZERO(), a5 = AE_ZERO(), a6 = AE_ZERO(), a7 = AE_ZERO();
        for (i = 0; i < rows; ++i) {
            const float *wr = w + i * cols + j;
            AE_V xv = AE_SET1(x[i]);
            a0 = AE_FMA(xv, AE_LOADU(wr), a0);
            a1 = AE_FMA(xv, AE_LOADU(wr + AE_VW), a1);
            a2 = AE_FMA(xv, AE_LOADU(wr + 2 * AE_VW), a2);
            a3 = AE_FMA(xv, AE_LOADU(wr + 3 * AE_VW), a3);
            a4 = AE_FMA(xv, AE_LOADU(wr + 4 * AE_VW), a4);
            a5 = AE_FMA(xv, AE_LOADU(wr + 5 * AE_VW), a5);
            a6 = AE_FMA(xv, AE_LOADU(wr + 6 * AE_VW), a6);
            a7 = AE_FMA(xv, AE_LOADU(wr + 7 * AE_VW), a7);
        }
        AE_STOREU(y + j, a0);
        AE_STOREU(y + j + AE_VW, a1);
        AE_STOREU(y + j + 2 * AE_VW, a2);
        AE_STOREU(y + j + 3 * AE_VW, a3);
        AE_STOREU(y + j + 4 * AE_VW, a4);
        AE_STOREU(y + j + 5 * AE_VW, a5);
        AE_STOREU(y + j + 6 * AE_VW, a6);
        AE_STOREU(y + j + 7 * AE_VW, a7);
    }
    for (; j + 4 * AE_VW <= cols; j += 4 * AE_VW) {
        AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
        for (i = 0; i < rows; ++i) {
            const float *wr = w + i * cols + j;
            AE_V xv = AE_SET1(x[i]);
            a0 = AE_FMA(xv, AE_LOADU(wr), a0);
            a1 = AE_FMA(xv, AE_LOADU(wr + AE_VW), a1);
            a2 = AE_FMA(xv, AE_LOADU(wr + 2 * AE_VW), a2);
            a3 = AE_FMA(xv, AE_LOADU(wr + 3 * AE_VW), a3);
        }
        AE_STOREU(y + j, a0);
        AE_STOREU(y + j + AE_VW, a1);
        AE_STOREU(y + j + 2 * AE_VW, a2);
        AE_STOREU(y + j + 3 * AE_VW, a3);
    }
    /* Narrow blocks: eight partial sums over the rows, so the adds do not
     * wait on one another (Wo has few columns and many rows). */
    for (; j + AE_VW <= cols; j += AE_VW) {
        AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
        AE_V a4 = AE_ZERO(), a5 = AE_ZERO(), a6 = AE_ZERO(), a7 = AE_ZERO();
        for (i = 0; i + 8 <= rows; i += 8) {
            const float *wr = w + i * cols + j;
            a0 = AE_FMA(AE_SET1(x[i]), AE_LOADU(wr), a0);
            a1 = AE_FMA(AE_SET1(x[i + 1]), AE_LOADU(wr + cols), a1);
            a2 = AE_FMA(AE_SET1(x[i + 2]), AE_LOADU(wr + 2 * cols), a2);
            a3 = AE_FMA(AE_SET1(x[i + 3]), AE_LOADU(wr + 3 * cols), a3);
            a4 = AE_FMA(AE_SET1(x[i + 4]), AE_LOADU(wr + 4 * cols), a4);
            a5 = AE_FMA(AE_SET1(x[i + 5]), AE_LOADU(wr + 5 * cols), a5);
            a6 = AE_FMA(AE_SET1(x[i + 6]), AE_LOADU(wr + 6 * cols), a6);
            a7 = AE_FMA(AE_SET1(x[i + 7]), AE_LOADU(wr + 7 * cols), a7);
        }
        for (; i < rows; ++i)
            a0 = AE_FMA(AE_SET1(x[i]), AE_LOADU(w + i * cols + j), a0);
        a0 = AE_ADD(AE_ADD(a0, a1), AE_ADD(a2, a3));
        a4 = AE_ADD(AE_ADD(a4, a5), AE_ADD(a6, a7));
        AE_STOREU(y + j, AE_ADD(a0, a4));
    }
    for (; j < cols; ++j) {
        float t = 0.0f;
        for (i = 0; i < rows; ++i)
            t += x[i] * w[i * cols + j];
        y[j] = t;
    }
}

/* Binary16 to float: the conversion is exact, so the hardware's result is
 * the scalar one; the tail goes through the scalar routine itself. */
static void AE_FN(widen_f16)(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 4 * AE_VW <= n; i += 4 * AE_VW) {
        AE_V a = AE_WIDEN16(src + i), b = AE_WIDEN16(src + i + AE_VW);
        AE_V c = AE_WIDEN16(src + i + 2 * AE_VW), d = AE_WIDEN16(src + i + 3 * AE_VW);
        AE_STOREU(dst + i, a);
        AE_STOREU(dst + i + AE_VW, b);
        AE_STOREU(dst + i + 2 * AE_VW, c);
        AE_STOREU(dst + i + 3 * AE_VW, d);
    }
    for (; i + AE_VW <= n; i += AE_VW)
        AE_STOREU(dst + i, AE_WIDEN16(src + i));
    for (; i < n; ++i)
        dst[i] = aether_f16_to_f32(src[i]);
}

#include "simd/probe_impl.h"

static const aether_simd_ops AE_FN(ops) = {
    AE_OPS_NAME,          AE_R,
    AE_FN(tile),          AE_FN(query),
    AE_FN(exp_array),     AE_FN(query_group),
    AE_FN(matvec),        AE_FN(query_heads),
    AE_FN(prefetch_rows), AE_FN(widen_f16),
    AE_RN16(query_group), AE_RN16(query_heads),
    AE_VW,
};

static const aether_simd_probes AE_FN(probes) = {
    AE_OPS_NAME, AE_VW, AE_FN(fma_probe), AE_FN(read_probe),
};
