/*
 * Internal leaf header: row views over K/V storage, shared by the scalar
 * kernels (src/kernels), the ISA kernels (src/simd) and their callers. It
 * includes nothing of the library, so any folder may include it.
 */
#ifndef AETHER_SIMD_ROWS_H
#define AETHER_SIMD_ROWS_H

#include <stddef.h>
#include <stdint.h>

/* Rows of one head: index j's row starts at base + j * stride. */
typedef struct aether_rows {
    const float *k;
    const float *v;
    size_t stride; /* floats between consecutive indices (heads * dim) */
} aether_rows;

/* Token rows stored as IEEE binary16 (F16 caches): as aether_rows. */
typedef struct aether_rows16 {
    const uint16_t *k;
    const uint16_t *v;
    size_t stride; /* elements between consecutive rows */
} aether_rows16;

#endif /* AETHER_SIMD_ROWS_H */
