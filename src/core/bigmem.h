/*
 * Internal: heap blocks for the malloc convenience constructors of large
 * objects (tensors, KV caches).
 *
 * The sparse kernels gather rows thousands of positions apart, so with
 * 4 KiB pages a long sequence spends a measurable part of its time in TLB
 * misses. Where the platform offers transparent huge pages (Linux), blocks
 * of at least AETHER_BIG_MIN bytes are placed at a 2 MiB boundary and
 * advised as huge pages; elsewhere, and for small blocks, this is plain
 * malloc. Either way the block comes from malloc, so allocation hooks and
 * failure injection see every byte.
 */
#ifndef AETHER_CORE_BIGMEM_H
#define AETHER_CORE_BIGMEM_H

#include <stddef.h>

#define AETHER_BIG_MIN ((size_t)4 << 20)

/* A block of `bytes` usable bytes (zeroed if `zero`), or NULL. *base gets
 * the pointer to pass to free(); the result may lie past it. */
void *aether_big_alloc_(size_t bytes, int zero, void **base);

#endif /* AETHER_CORE_BIGMEM_H */
