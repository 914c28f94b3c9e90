/*
 * Internal leaf: the int8 K/V row format shared by the integer path
 * (src/quant, docs/MODEL.md section 10.1) and the I8 K/V cache storage
 * (src/kvcache): a vector of Q16 values v (int32, value v / 65536) stored as
 * int8 mantissas round(v / 2^s), halves away from zero, with the smallest
 * s >= 0 that keeps every mantissa within +-127; the value is m * 2^(s - 16).
 * Integer arithmetic only (the integer path runs on cores without an FPU).
 */
#ifndef AETHER_CORE_INT8ROW_H
#define AETHER_CORE_INT8ROW_H

#include <stddef.h>
#include <stdint.h>

/* The smallest s >= 0 with round(max |v| / 2^s) <= lim. */
unsigned aether_q16_exponent_(const int32_t *v, size_t n, uint32_t lim);

/* v[0, n) to int8 mantissas m with the exponent s given: round(v / 2^s),
 * halves away from zero. */
void aether_q16_mantissas_(const int32_t *v, size_t n, unsigned s, int8_t *m);

/* v[0, n) to int8 mantissas m (the row format above); returns s. */
unsigned aether_q16_to_i8_(const int32_t *v, size_t n, int8_t *m);

#endif /* AETHER_CORE_INT8ROW_H */
