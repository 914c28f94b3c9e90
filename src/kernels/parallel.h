/*
 * Internal: a minimal fork-join loop. Items are handed out through an atomic
 * counter, so which worker runs an item varies between runs; kernels keep
 * results independent of that by giving each item its own fixed arithmetic.
 */
#ifndef AETHER_KERNELS_PARALLEL_H
#define AETHER_KERNELS_PARALLEL_H

#include <stddef.h>

/* fn(ctx, item, worker): worker is 0 for the calling thread, 1..n-1 for
 * helpers; scratch indexed by worker is never shared. */
typedef void (*aether_work_fn)(void *ctx, size_t item, unsigned worker);

/* Runs items 0..n_items-1 on up to `threads` threads (the caller included).
 * Helpers that cannot be created leave their share to the others. */
void aether_parallel_run_(unsigned threads, size_t n_items, aether_work_fn fn, void *ctx);

#endif /* AETHER_KERNELS_PARALLEL_H */
