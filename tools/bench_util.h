/*
 * Timing helpers shared by the benchmark sections of `aether bench`.
 */
#ifndef AETHER_TOOLS_BENCH_UTIL_H
#define AETHER_TOOLS_BENCH_UTIL_H

/* Seconds: the calling thread's CPU time (other load on the machine does
 * not count), or the monotonic wall clock when `wall` is non-zero. */
double bench_clock_s(int wall);

/* Median of t[0..n) (sorts t in place; the mean of the two middle values
 * for an even n); -1 for n <= 0. */
double bench_median(double *t, int n);

#endif
