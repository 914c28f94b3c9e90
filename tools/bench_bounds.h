/* Measured limits of the core the benchmark runs on, against which
 * `aether bench` states the floor of each target it cannot reach. */
#ifndef AETHER_TOOLS_BENCH_BOUNDS_H
#define AETHER_TOOLS_BENCH_BOUNDS_H

#include <stddef.h>

typedef struct bench_bounds {
    const char *isa;      /* vector kernels probed ("" when the reference runs) */
    double fma_gflops;    /* 12 independent vector multiply-add chains, one thread */
    double read_l2_gbs;   /* streaming sum of half the L2 cache, repeated */
    double read_l3_gbs;   /* the same over half the last-level cache */
    double read_dram_gbs; /* one pass over a buffer of dram_mib MiB */
    double cold_row_s;    /* one 4 KiB row at a random place of that buffer */
    size_t dram_mib;
    size_t l2_bytes;  /* cache sizes the system reports (1 MiB and */
    size_t llc_bytes; /* 32 MiB assumed when it does not say) */
} bench_bounds;

/* Fills b; quick uses a 256 MiB buffer instead of 1 GiB. Returns 0, or -1
 * when the vector kernels are not active or memory is short (b zeroed). */
int bench_bounds_measure(int quick, bench_bounds *b);

#endif
