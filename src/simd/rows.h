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

/* Token rows stored as 16-bit floats (IEEE binary16 for F16 caches,
 * bfloat16 for BF16 caches): as aether_rows. */
typedef struct aether_rows16 {
    const uint16_t *k;
    const uint16_t *v;
    size_t stride; /* elements between consecutive rows */
} aether_rows16;

/* Token rows stored as int8 mantissas with one exponent byte per row (I8
 * caches, the integer path's K/V row format): element d of row j is
 * k[j * stride + d] * 2^(ke[j * estride] - 16). */
typedef struct aether_rows8 {
    const int8_t *k;
    const int8_t *v;
    const uint8_t *ke;
    const uint8_t *ve;
    size_t stride;  /* mantissas between consecutive rows */
    size_t estride; /* exponent bytes between consecutive rows */
} aether_rows8;

/* A bfloat16 value (the high half of a binary32) widened exactly. */
static inline float aether_bf16_widen(uint16_t h)
{
    union {
        uint32_t u;
        float f;
    } b;
    b.u = (uint32_t)h << 16;
    return b.f;
}

/* 2^(e - 16), the scale of an int8 row with exponent byte e (e <= 143:
 * every exponent a finite f32 row gets), built from its bits. */
static inline float aether_i8_scale(uint8_t e)
{
    union {
        uint32_t u;
        float f;
    } b;
    b.u = ((uint32_t)e + 111u) << 23;
    return b.f;
}

#endif /* AETHER_SIMD_ROWS_H */
