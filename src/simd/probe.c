/*
 * Template source of the machine probes for the benchmark's bounds (aether
 * bench): the core's multiply-add throughput and its read bandwidth,
 * measured with the same vector primitives as the kernels. No kernel calls
 * them. Compiled once per ISA with -DAE_ISA=<isa> and that ISA's flags
 * (see simd/kern.h).
 */
#include "simd/kern.h"

#if AE_ISA_ON
/* iters steps of 12 independent multiply-add chains (24 * AE_VW * iters
 * flops): enough chains to cover the FMA latency on every supported core.
 * The chains contract towards 0.1, so no value grows or goes subnormal;
 * the result depends on every chain, so none can be dropped. */
float AE_XFN(fma_probe)(size_t iters, float x)
{
    const AE_V m = AE_SET1(0.999999f), c = AE_SET1(1e-7f);
    AE_V a0 = AE_SET1(x), a1 = AE_SET1(x + 1.0f), a2 = AE_SET1(x + 2.0f);
    AE_V a3 = AE_SET1(x + 3.0f), a4 = AE_SET1(x + 4.0f), a5 = AE_SET1(x + 5.0f);
    AE_V a6 = AE_SET1(x + 6.0f), a7 = AE_SET1(x + 7.0f), a8 = AE_SET1(x + 8.0f);
    AE_V a9 = AE_SET1(x + 9.0f), a10 = AE_SET1(x + 10.0f), a11 = AE_SET1(x + 11.0f);
    size_t i;
    for (i = 0; i < iters; ++i) {
        a0 = AE_FMA(a0, m, c);
        a1 = AE_FMA(a1, m, c);
        a2 = AE_FMA(a2, m, c);
        a3 = AE_FMA(a3, m, c);
        a4 = AE_FMA(a4, m, c);
        a5 = AE_FMA(a5, m, c);
        a6 = AE_FMA(a6, m, c);
        a7 = AE_FMA(a7, m, c);
        a8 = AE_FMA(a8, m, c);
        a9 = AE_FMA(a9, m, c);
        a10 = AE_FMA(a10, m, c);
        a11 = AE_FMA(a11, m, c);
    }
    a0 = AE_ADD(AE_ADD(AE_ADD(a0, a1), AE_ADD(a2, a3)), AE_ADD(AE_ADD(a4, a5), AE_ADD(a6, a7)));
    a8 = AE_ADD(AE_ADD(a8, a9), AE_ADD(a10, a11));
    return AE_HSUM(AE_ADD(a0, a8));
}

/* Sum of p[0..n), four vectors per step (streaming read of n floats). */
float AE_XFN(read_probe)(const float *p, size_t n)
{
    AE_V s0 = AE_ZERO(), s1 = AE_ZERO(), s2 = AE_ZERO(), s3 = AE_ZERO();
    float t;
    size_t i = 0;
    for (; i + 4 * AE_VW <= n; i += 4 * AE_VW) {
        s0 = AE_ADD(s0, AE_LOADU(p + i));
        s1 = AE_ADD(s1, AE_LOADU(p + i + AE_VW));
        s2 = AE_ADD(s2, AE_LOADU(p + i + 2 * AE_VW));
        s3 = AE_ADD(s3, AE_LOADU(p + i + 3 * AE_VW));
    }
    t = AE_HSUM(AE_ADD(AE_ADD(s0, s1), AE_ADD(s2, s3)));
    for (; i < n; ++i)
        t += p[i];
    return t;
}
#endif /* AE_ISA_ON */
