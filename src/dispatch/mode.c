/*
 * Kernel mode selection and the thread-count setting. The requested mode
 * starts as AETHER_KERNELS from the environment (read once, at first use)
 * and can be changed by aether_set_kernel_mode. State is held in C11
 * atomics so concurrent callers never race (plain words on single-core
 * targets without lock-free atomics: see below).
 *
 * The table below is the only place that knows the ISA tables: one row
 * per kernel path {name, mode, CPU feature, ops getter, probes getter}, in
 * AUTO's order of preference, with its getters declared above it. Adding
 * an ISA is its primitives header src/simd/isa_<isa>.h, its entry in
 * cmake/aether_simd.cmake, one row here (and its feature bit in cpu.c's
 * detection).
 */
#include <stdlib.h>
#include <string.h>

#include "dispatch/kernels.h"

/*
 * C11 atomics where the target has lock-free 32-bit ones. Elsewhere - no
 * <stdatomic.h> (__STDC_NO_ATOMICS__), or ATOMIC_INT_LOCK_FREE != 2, as on
 * RV32IMC (no A extension: the ESP32-C3), Cortex-M0 or the LX106, where the
 * compiler would call libatomic's __atomic_*_4 and bare-metal C libraries
 * have none - the three words below are plain volatile ints. That is safe
 * on those targets:
 *   - an aligned 32-bit load or store is one instruction, so no reader
 *     (another task, an interrupt) ever sees a torn value;
 *   - the only read-modify-writes are the first-use initialisation of
 *     g_mode (a compare-and-swap here) and the increment of g_generation;
 *     racing, they can lose one update. Those targets compile no SIMD table
 *     (the ISA rows below hold getters returning NULL), so every mode that
 *     can be stored - AUTO, or the reference, the only one aether_set_kernel_mode
 *     accepts there - selects the same scalar kernels: a lost update changes
 *     no kernel choice, and a stale generation only makes a cached choice be
 *     made again.
 */
#if !defined(__STDC_NO_ATOMICS__)
#include <stdatomic.h>
#if ATOMIC_INT_LOCK_FREE == 2
#define AE_HAVE_ATOMICS 1
#endif
#endif
#if defined(AE_HAVE_ATOMICS)
#define AE_ATOMIC_INT atomic_int
#define AE_ATOMIC_UINT atomic_uint
#define AE_LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define AE_STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)
#define AE_INC(x) atomic_fetch_add_explicit(&(x), 1u, memory_order_relaxed)
#else
#define AE_ATOMIC_INT volatile int
#define AE_ATOMIC_UINT volatile unsigned
#define AE_LOAD(x) (x)
#define AE_STORE(x, v) ((x) = (v))
#define AE_INC(x) ((x)++)
#endif

#define MODE_UNSET (-1)

typedef struct kernel_row {
    const char *name;
    aether_kernel_mode mode;
    unsigned cpu_feature;                      /* AETHER_CPU_* bit, 0: always there */
    const aether_simd_ops *(*ops)(void);       /* NULL: the scalar reference */
    const aether_simd_probes *(*probes)(void); /* the benchmark's probes */
} kernel_row;

AETHER_SIMD_GETTERS(avx512);
AETHER_SIMD_GETTERS(avx2);
AETHER_SIMD_GETTERS(neon);

static const kernel_row k_rows[] = {
    {"avx512", AETHER_KERNELS_AVX512, AETHER_CPU_AVX512, aether_simd_avx512_,
     aether_simd_probes_avx512_},
    {"avx2", AETHER_KERNELS_AVX2, AETHER_CPU_AVX2, aether_simd_avx2_, aether_simd_probes_avx2_},
    {"neon", AETHER_KERNELS_NEON, AETHER_CPU_NEON, aether_simd_neon_, aether_simd_probes_neon_},
    {"reference", AETHER_KERNELS_REFERENCE, 0, NULL, NULL},
};
#define N_ROWS (sizeof k_rows / sizeof k_rows[0])

static AE_ATOMIC_INT g_mode = MODE_UNSET;
static AE_ATOMIC_INT g_threads = 1;
static AE_ATOMIC_UINT g_generation = 1;

unsigned aether_cpu_built_(void);

/* Feature bits of the ISA tables this build compiled (cpu.c asks). */
unsigned aether_cpu_built_(void)
{
    unsigned f = 0;
    size_t i;
    for (i = 0; i < N_ROWS; ++i)
        if (k_rows[i].ops && k_rows[i].ops())
            f |= k_rows[i].cpu_feature;
    return f;
}

static const kernel_row *row_of(aether_kernel_mode m)
{
    size_t i;
    for (i = 0; i < N_ROWS; ++i)
        if (k_rows[i].mode == m)
            return &k_rows[i];
    return NULL;
}

aether_status aether_kernel_mode_parse(const char *name, aether_kernel_mode *mode)
{
    size_t i;
    if (!name || !mode)
        return AETHER_ERR_NULL_ARG;
    if (!strcmp(name, "auto")) {
        *mode = AETHER_KERNELS_AUTO;
        return AETHER_OK;
    }
    for (i = 0; i < N_ROWS; ++i)
        if (!strcmp(name, k_rows[i].name)) {
            *mode = k_rows[i].mode;
            return AETHER_OK;
        }
    return AETHER_ERR_INVALID_ARG;
}

/* -1: not a mode; 0: known but not supported here; 1: supported. */
static int support(aether_kernel_mode m)
{
    const kernel_row *r;
    if (m == AETHER_KERNELS_AUTO)
        return 1;
    r = row_of(m);
    if (!r)
        return -1;
    return r->cpu_feature == 0 || (aether_cpu_features() & r->cpu_feature) != 0;
}

aether_kernel_mode aether_get_kernel_mode(void)
{
    int m = AE_LOAD(g_mode);
    if (m == MODE_UNSET) {
        /* An unknown or unsupported AETHER_KERNELS value means AUTO. */
        aether_kernel_mode env = AETHER_KERNELS_AUTO;
        const char *s = getenv("AETHER_KERNELS");
        if (!s || aether_kernel_mode_parse(s, &env) != AETHER_OK || support(env) != 1)
            env = AETHER_KERNELS_AUTO;
#if defined(AE_HAVE_ATOMICS)
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
    int s = support(mode);
    if (s < 0)
        return AETHER_ERR_INVALID_ARG;
    if (s == 0)
        return AETHER_ERR_UNSUPPORTED;
    AE_STORE(g_mode, (int)mode);
    AE_INC(g_generation);
    return AETHER_OK;
}

unsigned aether_kernel_generation_(void)
{
    unsigned g = AE_LOAD(g_generation);
    return g;
}

/* The table row the current mode runs: the requested row, or under AUTO the
 * first row (in preference order) the CPU supports. */
static const kernel_row *active_row(void)
{
    aether_kernel_mode m = aether_get_kernel_mode();
    unsigned f;
    size_t i;
    if (m != AETHER_KERNELS_AUTO)
        return row_of(m);
    f = aether_cpu_features();
    for (i = 0; i < N_ROWS; ++i)
        if (k_rows[i].cpu_feature == 0 || (f & k_rows[i].cpu_feature))
            return &k_rows[i];
    return &k_rows[N_ROWS - 1];
}

const aether_simd_ops *aether_simd_active_(void)
{
    const kernel_row *r = active_row();
    return r && r->ops ? r->ops() : NULL;
}

const aether_simd_probes *aether_simd_probes_active_(void)
{
    const kernel_row *r = active_row();
    return r && r->probes ? r->probes() : NULL;
}

void aether_kernel_select_(aether_kernel_sel *s)
{
    /* Generation first: a change racing with this choice re-chooses. */
    unsigned g = aether_kernel_generation_();
    s->ops = aether_simd_active_();
    s->gen = g;
}

void aether_kernel_select_reference_(aether_kernel_sel *s)
{
    s->ops = NULL;
    s->gen = 0;
}

const char *aether_kernel_name(void)
{
    const aether_simd_ops *ops = aether_simd_active_();
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
