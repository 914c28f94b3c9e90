/*
 * Template source of an ISA's tables (simd.h): compiled once per ISA with
 * -DAE_ISA=<isa> and that ISA's flags (see simd/kern.h), it defines the
 * getters aether_simd_<isa>_ and aether_simd_probes_<isa>_, which return
 * the ISA's ops and probes tables, or NULL where the compiler does not
 * target the ISA (AE_ISA_ON 0).
 */
#include "simd/kern.h"

#define AE_GETTER2(pre, isa) pre##isa##_
#define AE_GETTER(pre, isa) AE_GETTER2(pre, isa)
#define AE_GETTERS(isa) AETHER_SIMD_GETTERS(isa)

AE_GETTERS(AE_ISA);

#if AE_ISA_ON
static const aether_simd_ops AE_FN(ops) = {
    AE_STR(AE_ISA),
    AE_R,
    AE_XFN(tile),
    AE_XFN(query),
    AE_XFN(exp_array),
    AE_XFN(query_group),
    AE_XFN(matvec),
    AE_XFN(query_heads),
    AE_XFN(prefetch_rows),
    AE_XFN(widen_f16),
    AE_XFN(query_group16),
    AE_XFN(query_heads16),
    AE_XFN(query_group_bf16),
    AE_XFN(query_heads_bf16),
    AE_XFN(query_group_i8),
    AE_XFN(query_heads_i8),
    AE_XFN(narrow_f16),
    AE_XFN(prefetch_bytes),
    AE_VW,
    AE_XFN(matmul),
#ifdef AE_I8ROW
    AE_XFN(to_i8),
#else
    NULL,
#endif
};

static const aether_simd_probes AE_FN(probes) = {
    AE_STR(AE_ISA),
    AE_VW,
    AE_XFN(fma_probe),
    AE_XFN(read_probe),
};

const aether_simd_ops *AE_GETTER(aether_simd_, AE_ISA)(void)
{
    return &AE_FN(ops);
}

const aether_simd_probes *AE_GETTER(aether_simd_probes_, AE_ISA)(void)
{
    return &AE_FN(probes);
}
#else
const aether_simd_ops *AE_GETTER(aether_simd_, AE_ISA)(void)
{
    return NULL;
}

const aether_simd_probes *AE_GETTER(aether_simd_probes_, AE_ISA)(void)
{
    return NULL;
}
#endif
