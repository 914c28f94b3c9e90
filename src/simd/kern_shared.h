/*
 * Helpers both tile.c and decode.c use, compiled into each (static: the
 * compiler inlines or specialises them per caller as before). Internal to
 * the template sources; included after simd/kern.h.
 */
#ifndef AETHER_SIMD_KERN_SHARED_H
#define AETHER_SIMD_KERN_SHARED_H

#include <float.h>

#include "simd/kern.h"

#if AE_ISA_ON
/* Initial running max: finite, so fully masked chunks give exp(-inf) = 0
 * instead of exp(-inf - -inf) = NaN. */
#define AE_MINIT (-FLT_MAX)

/* acc[0..dim) = acc * c */
static void AE_FN(scale_row)(float *acc, size_t dim, float c)
{
    AE_V cv = AE_SET1(c);
    size_t d = 0;
    for (; d + AE_VW <= dim; d += AE_VW)
        AE_STOREU(acc + d, AE_MUL(AE_LOADU(acc + d), cv));
    for (; d < dim; ++d)
        acc[d] *= c;
}

/* acc[d0..dim) += sum over a < n of w[a * wstride] * row_a[d0..dim), with
 * row_a = base + (idx ? idx[a] : a) * stride. The accumulator stays in
 * registers across the rows (4 vectors at a time). */
static void AE_FN(accum)(float *acc, size_t d0, size_t dim, const float *base, size_t stride,
                         const size_t *idx, size_t n, const float *w, size_t wstride)
{
    size_t d = d0, a;
    for (; d + 4 * AE_VW <= dim; d += 4 * AE_VW) {
        AE_V a0 = AE_LOADU(acc + d), a1 = AE_LOADU(acc + d + AE_VW);
        AE_V a2 = AE_LOADU(acc + d + 2 * AE_VW), a3 = AE_LOADU(acc + d + 3 * AE_VW);
        for (a = 0; a < n; ++a) {
            const float *r = base + (idx ? idx[a] : a) * stride + d;
            AE_V wv = AE_SET1(w[a * wstride]);
            a0 = AE_FMA(wv, AE_LOADU(r), a0);
            a1 = AE_FMA(wv, AE_LOADU(r + AE_VW), a1);
            a2 = AE_FMA(wv, AE_LOADU(r + 2 * AE_VW), a2);
            a3 = AE_FMA(wv, AE_LOADU(r + 3 * AE_VW), a3);
        }
        AE_STOREU(acc + d, a0);
        AE_STOREU(acc + d + AE_VW, a1);
        AE_STOREU(acc + d + 2 * AE_VW, a2);
        AE_STOREU(acc + d + 3 * AE_VW, a3);
    }
    for (; d + AE_VW <= dim; d += AE_VW) {
        AE_V a0 = AE_LOADU(acc + d);
        for (a = 0; a < n; ++a)
            a0 = AE_FMA(AE_SET1(w[a * wstride]), AE_LOADU(base + (idx ? idx[a] : a) * stride + d),
                        a0);
        AE_STOREU(acc + d, a0);
    }
    for (; d < dim; ++d) {
        float x = acc[d];
        for (a = 0; a < n; ++a)
            x += w[a * wstride] * base[(idx ? idx[a] : a) * stride + d];
        acc[d] = x;
    }
}

static void AE_FN(finish_row)(const float *acc, size_t dim, float l, float *out)
{
    float inv = l > 0.0f ? 1.0f / l : 0.0f;
    size_t d;
    if (l != l) /* NaN weights make the whole row NaN, as the reference */
        inv = l;
    for (d = 0; d < dim; ++d)
        out[d] = acc[d] * inv;
}
#endif /* AE_ISA_ON */

#endif /* AETHER_SIMD_KERN_SHARED_H */
