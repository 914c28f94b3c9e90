/*
 * Shared helpers of the fuzz targets. Each target defines
 * LLVMFuzzerTestOneInput; it is linked either with libFuzzer (clang
 * -fsanitize=fuzzer) or with replay_main.c, a plain driver that feeds files
 * through the same entry point (any C11 compiler).
 *
 * A violated invariant calls fuzz_fail(), which aborts so that both
 * libFuzzer and the replay driver report the input.
 */
#ifndef AETHER_FUZZ_COMMON_H
#define AETHER_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "aether/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_fail_at(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", file, line, what);
    abort();
}

#define FUZZ_ASSERT(cond)                            \
    do {                                             \
        if (!(cond))                                 \
            fuzz_fail_at(__FILE__, __LINE__, #cond); \
    } while (0)

/* Every status a call returns must be a defined code. */
#define FUZZ_VALID_STATUS(s) FUZZ_ASSERT((int)(s) >= 0 && (int)(s) < (int)AETHER_STATUS_COUNT)

/* Sequential reader over the fuzz input; exhausted input reads as zeros. */
typedef struct fuzz_input {
    const uint8_t *p;
    size_t n;
} fuzz_input;

static inline uint8_t fuzz_u8(fuzz_input *in)
{
    uint8_t v = 0;
    if (in->n > 0) {
        v = in->p[0];
        in->p++;
        in->n--;
    }
    return v;
}

static inline uint16_t fuzz_u16(fuzz_input *in)
{
    uint16_t lo = fuzz_u8(in);
    return (uint16_t)(lo | (uint16_t)(fuzz_u8(in) << 8));
}

/* A float from one byte: mostly small finite values, sometimes a special. */
static inline float fuzz_f32(fuzz_input *in)
{
    uint8_t b = fuzz_u8(in);
    switch (b) {
    case 0xFF:
        return aether_f32_from_bits(0x7FC00000u); /* NaN */
    case 0xFE:
        return aether_f32_from_bits(0x7F800000u); /* +Inf */
    case 0xFD:
        return aether_f32_from_bits(0xFF800000u); /* -Inf */
    case 0xFC:
        return 3.0e38f;
    case 0xFB:
        return -3.0e38f;
    case 0xFA:
        return 1.0e-42f; /* subnormal */
    default:
        return ((float)b - 125.0f) * 0.0625f;
    }
}

static inline int fuzz_all_finite(const float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        if (!aether_isfinite(x[i]))
            return 0;
    return 1;
}

#endif /* AETHER_FUZZ_COMMON_H */
