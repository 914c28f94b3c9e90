/*
 * Probes of the machine for `aether bench`: the floors the performance
 * targets are measured against. Memory figures use thread CPU time, like
 * the rest of the benchmark (a core waiting on memory is busy).
 */
#define _GNU_SOURCE
#include "bench_bounds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dispatch/kernels.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Size in bytes of the level-`level` data cache of cpu0 as Linux's sysfs
 * gives it ("32768K"), else what sysconf reports, else 0. (sysconf alone
 * can report the host's figure inside a virtual machine.) */
static size_t cache_bytes(int level)
{
    char path[80], buf[32];
    int i;
    for (i = 0; i < 8; ++i) {
        FILE *f;
        int lv = 0;
        unsigned long v = 0;
        char unit = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        f = fopen(path, "r");
        if (!f)
            break;
        if (fscanf(f, "%d", &lv) != 1)
            lv = 0;
        fclose(f);
        if (lv != level)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        f = fopen(path, "r");
        if (!f)
            break;
        if (fgets(buf, sizeof buf, f) && sscanf(buf, "%lu%c", &v, &unit) >= 1) {
            fclose(f);
            return (size_t)v * (unit == 'K' ? 1024u : unit == 'M' ? 1048576u : 1u);
        }
        fclose(f);
    }
#if defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
    {
        long c = sysconf(level == 2 ? _SC_LEVEL2_CACHE_SIZE : _SC_LEVEL3_CACHE_SIZE);
        return c > 0 ? (size_t)c : 0;
    }
#else
    return 0;
#endif
}

/* Keeps the probes' results alive. */
static volatile float g_sink;

static double best_fma(const aether_simd_probes *ops)
{
    const size_t iters = 20u * 1000u * 1000u;
    double best = 0.0;
    int r;
    for (r = 0; r < 5; ++r) {
        double t0 = cpu_s(), t;
        g_sink += ops->fma_probe(iters, (float)r * 0.5f);
        t = cpu_s() - t0;
        if (t > 0.0 && 24.0 * (double)ops->lanes * (double)iters / t > best)
            best = 24.0 * (double)ops->lanes * (double)iters / t;
    }
    return best * 1e-9;
}

/* Best GB/s of `passes` sweeps over n floats (already touched). */
static double best_read(const aether_simd_probes *ops, const float *p, size_t n, int passes)
{
    double best = 0.0;
    int r, k;
    for (r = 0; r < 5; ++r) {
        double t0 = cpu_s(), t;
        for (k = 0; k < passes; ++k)
            g_sink += ops->read_probe(p, n);
        t = cpu_s() - t0;
        if (t > 0.0 && (double)n * 4.0 * passes / t > best)
            best = (double)n * 4.0 * passes / t;
    }
    return best * 1e-9;
}

int bench_bounds_measure(int quick, bench_bounds *b)
{
    const aether_simd_probes *ops = aether_simd_probes_active_();
    const size_t row = 1024;
    size_t n, rows, i, l2, l3;
    unsigned long long rng = 0x2545F4914F6CDD1Dull;
    float *big;
    double t0;
    memset(b, 0, sizeof *b);
    if (!ops)
        return -1;
    b->dram_mib = quick ? 256 : 1024;
    n = b->dram_mib << 18; /* floats */
    big = malloc(n * sizeof *big);
    if (!big)
        return -1;
    /* Distinct pages, all touched: no zero-page sharing, no first faults. */
    for (i = 0; i < n; ++i)
        big[i] = (float)(i & 1023u) * 1e-3f;
    b->l2_bytes = cache_bytes(2);
    b->llc_bytes = cache_bytes(3);
    if (!b->l2_bytes)
        b->l2_bytes = (size_t)1 << 20;
    if (!b->llc_bytes)
        b->llc_bytes = (size_t)32 << 20;
    /* Half of each level (bytes / 8 floats): the buffer stays in it with
     * room to spare. */
    l2 = b->l2_bytes / 8;
    l3 = b->llc_bytes / 8;
    b->isa = ops->name;
    b->fma_gflops = best_fma(ops);
    b->read_l2_gbs = best_read(ops, big, l2, 64);
    b->read_l3_gbs = best_read(ops, big, l3, 4);
    /* One pass each, from the far end of the buffer: not what l3 read. */
    {
        double t;
        t0 = cpu_s();
        g_sink += ops->read_probe(big + n / 2, n / 2);
        t = cpu_s() - t0;
        b->read_dram_gbs = t > 0.0 ? (double)(n / 2) * 4.0 / t * 1e-9 : 0.0;
    }
    /* Rows at random 4 KiB places of the whole buffer, one after another,
     * as a decode step reads rows far back in a long cache. */
    rows = quick ? 2000 : 8000;
    t0 = cpu_s();
    for (i = 0; i < rows; ++i) {
        size_t at;
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        at = (size_t)(rng % (n / row)) * row;
        g_sink += ops->read_probe(big + at, row);
    }
    b->cold_row_s = (cpu_s() - t0) / (double)rows;
    free(big);
    return 0;
}
