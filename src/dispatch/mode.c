/*
 * Kernel mode selection and the thread-count setting. The requested mode
 * starts as AETHER_KERNELS from the environment (read once, at first use)
 * and can be changed by aether_set_kernel_mode. State is held in C11
 * atomics so concurrent callers never race.
 */
#include <stdlib.h>
#include <string.h>

#include "aether/dispatch.h"
#include "simd/simd.h"

#if !defined(__STDC_NO_ATOMICS__)
#include <stdatomic.h>
#define AE_ATOMIC_INT atomic_int
#define AE_LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define AE_STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)
#else
#define AE_ATOMIC_INT volatile int
#define AE_LOAD(x) (x)
#define AE_STORE(x, v) ((x) = (v))
#endif

#define MODE_UNSET (-1)

static AE_ATOMIC_INT g_mode = MODE_UNSET;
static AE_ATOMIC_INT g_threads = 1;

aether_status aether_kernel_mode_parse(const char *name, aether_kernel_mode *mode)
{
    static const struct {
        const char *name;
        aether_kernel_mode mode;
    } names[] = {{"auto", AETHER_KERNELS_AUTO},
                 {"reference", AETHER_KERNELS_REFERENCE},
                 {"avx2", AETHER_KERNELS_AVX2},
                 {"avx512", AETHER_KERNELS_AVX512},
                 {"neon", AETHER_KERNELS_NEON}};
    size_t i;
    if (!name || !mode)
        return AETHER_ERR_NULL_ARG;
    for (i = 0; i < sizeof names / sizeof names[0]; ++i)
        if (!strcmp(name, names[i].name)) {
            *mode = names[i].mode;
            return AETHER_OK;
        }
    return AETHER_ERR_INVALID_ARG;
}

static int supported(aether_kernel_mode m)
{
    unsigned f = aether_cpu_features();
    switch (m) {
    case AETHER_KERNELS_AUTO:
    case AETHER_KERNELS_REFERENCE:
        return 1;
    case AETHER_KERNELS_AVX2:
        return (f & AETHER_CPU_AVX2) != 0;
    case AETHER_KERNELS_AVX512:
        return (f & AETHER_CPU_AVX512) != 0;
    case AETHER_KERNELS_NEON:
        return (f & AETHER_CPU_NEON) != 0;
    }
    return 0;
}

aether_kernel_mode aether_get_kernel_mode(void)
{
    int m = AE_LOAD(g_mode);
    if (m == MODE_UNSET) {
        /* An unknown or unsupported AETHER_KERNELS value means AUTO. */
        aether_kernel_mode env = AETHER_KERNELS_AUTO;
        const char *s = getenv("AETHER_KERNELS");
        if (!s || aether_kernel_mode_parse(s, &env) != AETHER_OK || !supported(env))
            env = AETHER_KERNELS_AUTO;
#if !defined(__STDC_NO_ATOMICS__)
        {
            int expect = MODE_UNSET;
            /* Losing the race means aether_set_kernel_mode got there first. */
            atomic_compare_exchange_strong(&g_mode, &expect, (int)env);
        }
#else
        g_mode = (int)env;
#endif
        m = AE_LOAD(g_mode);
    }
    return (aether_kernel_mode)m;
}

aether_status aether_set_kernel_mode(aether_kernel_mode mode)
{
    switch (mode) {
    case AETHER_KERNELS_AUTO:
    case AETHER_KERNELS_REFERENCE:
    case AETHER_KERNELS_AVX2:
    case AETHER_KERNELS_AVX512:
    case AETHER_KERNELS_NEON:
        break;
    default:
        return AETHER_ERR_INVALID_ARG;
    }
    if (!supported(mode))
        return AETHER_ERR_UNSUPPORTED;
    AE_STORE(g_mode, (int)mode);
    return AETHER_OK;
}

const aether_simd_ops *aether_simd_active(void)
{
    unsigned f;
    switch (aether_get_kernel_mode()) {
    case AETHER_KERNELS_REFERENCE:
        return NULL;
    case AETHER_KERNELS_AVX2:
        return aether_simd_avx2();
    case AETHER_KERNELS_AVX512:
        return aether_simd_avx512();
    case AETHER_KERNELS_NEON:
        return aether_simd_neon();
    case AETHER_KERNELS_AUTO:
        break;
    }
    f = aether_cpu_features();
    if (f & AETHER_CPU_AVX512)
        return aether_simd_avx512();
    if (f & AETHER_CPU_AVX2)
        return aether_simd_avx2();
    if (f & AETHER_CPU_NEON)
        return aether_simd_neon();
    return NULL;
}

const char *aether_kernel_name(void)
{
    const aether_simd_ops *ops = aether_simd_active();
    return ops ? ops->name : "reference";
}

aether_status aether_set_num_threads(unsigned n)
{
    if (n < 1 || n > 256)
        return AETHER_ERR_INVALID_ARG;
    AE_STORE(g_threads, (int)n);
    return AETHER_OK;
}

unsigned aether_get_num_threads(void)
{
    return (unsigned)AE_LOAD(g_threads);
}

size_t aether_tile_scratch_floats(size_t dim)
{
    /* Q^T, scores, accumulators, then m, l, alpha per row. */
    return dim * AETHER_TILE_RMAX + AETHER_TILE_KC * AETHER_TILE_RMAX +
           AETHER_TILE_RMAX * dim + 3 * AETHER_TILE_RMAX;
}
