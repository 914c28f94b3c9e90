/*
 * CPU feature detection. x86-64: cpuid for the instruction sets plus xgetbv
 * for the OS enabling the register state (an AVX-512 CPU under an OS that
 * does not save ZMM state must not run AVX-512 code). AArch64: Advanced
 * SIMD is architectural. Only features this build has kernels for count.
 */
#include "aether/dispatch.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

static unsigned long long read_xcr0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static unsigned detect(void)
{
    unsigned a, b, c, d, f = 0;
    unsigned long long xcr0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    /* OSXSAVE (27) and AVX (28) are needed before xgetbv means anything. */
    if (!(c & (1u << 27)) || !(c & (1u << 28)))
        return 0;
    xcr0 = read_xcr0();
    if ((xcr0 & 0x6u) != 0x6u) /* SSE and AVX state saved by the OS */
        return 0;
    {
        /* FMA (12) and F16C (29): every AVX2 part has both; the AVX2
         * kernels use them. */
        int fma = (c & (1u << 12)) != 0, f16c = (c & (1u << 29)) != 0;
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
            return 0;
        if (fma && f16c && (b & (1u << 5)))
            f |= AETHER_CPU_AVX2;
        /* AVX-512F (16) + DQ (17), opmask/ZMM state (XCR0 bits 5-7). */
        if (fma && (b & (1u << 16)) && (b & (1u << 17)) && (xcr0 & 0xE6u) == 0xE6u)
            f |= AETHER_CPU_AVX512;
    }
    return f;
}
#elif defined(__aarch64__)
static unsigned detect(void)
{
    return AETHER_CPU_NEON;
}
#else
static unsigned detect(void)
{
    return 0;
}
#endif

/* Features of the ISA tables this build compiled (the table in mode.c). */
unsigned aether_cpu_built_(void);

/* The answer never changes, so a racing first call only repeats the work
 * and stores the same value; the atomic makes that race well defined. */
#if !defined(__STDC_NO_ATOMICS__)
#include <stdatomic.h>
static atomic_uint g_features = 0;
unsigned aether_cpu_features(void)
{
    unsigned f = atomic_load_explicit(&g_features, memory_order_relaxed);
    if (!(f & 0x80000000u)) {
        f = (detect() & aether_cpu_built_()) | 0x80000000u;
        atomic_store_explicit(&g_features, f, memory_order_relaxed);
    }
    return f & ~0x80000000u;
}
#else
unsigned aether_cpu_features(void)
{
    return detect() & aether_cpu_built_(); /* no atomics: detect on every call */
}
#endif
