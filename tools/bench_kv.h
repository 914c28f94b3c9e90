/*
 * The K/V cache precisions of `aether bench`'s decode sections
 * (bench_kv.c): the streaming decode step over f32, f16, bf16 and int8
 * caches at T = 1k, 15k and 256k, optimised and reference kernels, timed
 * in interleaved rounds so the ratios to f32 are side by side.
 */
#ifndef AETHER_TOOLS_BENCH_KV_H
#define AETHER_TOOLS_BENCH_KV_H

#include <stdio.h>

#define BENCH_KV_NST 4 /* storages: f32, f16, bf16, int8 */
#define BENCH_KV_NT 3  /* cache lengths: T = 1,000, 15,000, 262,144 */

/* The medians of a run, for the picture of `aether bench --png`. */
typedef struct bench_kv_result {
    const char *storage[BENCH_KV_NST]; /* "f32", "f16", "bf16", "int8" */
    unsigned long T[BENCH_KV_NT];
    double fast_s[BENCH_KV_NT][BENCH_KV_NST]; /* seconds per step; 0: not measured */
    double reference_s[BENCH_KV_NT][BENCH_KV_NST];
} bench_kv_result;

/* which: 0 the 8x64 W128 step (q 8, kv 8, d 64), 1 the temporal default
 * (q 4, kv 1, d 32, W32, B16). quick: fewer rounds; wall: wall clock
 * instead of thread CPU time. fc/fj: CSV/JSON outputs or NULL (*first:
 * the JSON row separator state). res: the medians printed and written
 * (a T whose caches could not be built stays 0), or NULL. 0, or 1 when
 * out of memory. */
int bench_kv_run(int which, int quick, int wall, FILE *fc, FILE *fj, int *first,
                 bench_kv_result *res);

#endif
