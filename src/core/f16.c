/* IEEE binary16 <-> binary32, matching the reference's conversion (and x86
 * F16C): round to nearest even, overflow to infinity, subnormals kept, NaNs
 * quietened. */
#include "aether/core.h"

#include <string.h>

/* The conversions below call these static helpers, not the exported
 * functions: a shared library reaches its own exported symbols through
 * the PLT, a call per element that also keeps the loops from vectorising. */
static inline uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float from_bits(uint32_t bits)
{
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

uint32_t aether_f32_bits(float x)
{
    return bits_of(x);
}

float aether_f32_from_bits(uint32_t bits)
{
    return from_bits(bits);
}

int aether_isfinite(float x)
{
    return (bits_of(x) & 0x7F800000u) != 0x7F800000u;
}

static inline uint16_t to_f16(float x)
{
    uint32_t u = bits_of(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t exp = (u >> 23) & 0xFFu;
    uint32_t man = u & 0x7FFFFFu;
    int32_t e;

    if (exp == 0xFFu) {
        if (man == 0)
            return (uint16_t)(sign | 0x7C00u);
        return (uint16_t)(sign | 0x7E00u | (man >> 13));
    }
    e = (int32_t)exp - 127 + 15;
    if (e >= 0x1F)
        return (uint16_t)(sign | 0x7C00u);
    if (e <= 0) {
        /* Subnormal (or zero) half: shift the full significand, round to even. */
        uint32_t m, shift, half_res, rem, halfway;
        if (e < -10)
            return sign; /* below half the smallest subnormal: rounds to zero */
        m = man | 0x800000u;
        shift = (uint32_t)(14 - e);
        half_res = m >> shift;
        rem = m & ((1u << shift) - 1u);
        halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (half_res & 1u)))
            half_res++;
        return (uint16_t)(sign | half_res);
    }
    {
        uint32_t half_res = ((uint32_t)e << 10) | (man >> 13);
        uint32_t rem = man & 0x1FFFu;
        if (rem > 0x1000u || (rem == 0x1000u && (half_res & 1u)))
            half_res++; /* may carry into the exponent, up to infinity: correct */
        return (uint16_t)(sign | half_res);
    }
}

static inline float widen_f16(uint16_t h)
{
    /* Without branches or loops (the array form vectorises): a normal half
     * moves its exponent and mantissa into place and rebiases (+112);
     * infinity and NaN rebias once more to the all-ones exponent, a NaN
     * quietened; zero and subnormals are em * 2^-24, exact in a float. */
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t em = h & 0x7FFFu;
    const float sub = (float)(int32_t)em * 5.9604644775390625e-8f; /* 2^-24 */
    uint32_t bits = (em << 13) + 0x38000000u;
    bits += em >= 0x7C00u ? 0x38000000u : 0u;
    bits |= em > 0x7C00u ? 0x00400000u : 0u;
    if (em < 0x0400u)
        bits = bits_of(sub);
    return from_bits(sign | bits);
}

uint16_t aether_f32_to_f16(float x)
{
    return to_f16(x);
}

float aether_f16_to_f32(uint16_t h)
{
    return widen_f16(h);
}

void aether_f32_to_f16_array(const float *src, uint16_t *dst, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        dst[i] = to_f16(src[i]);
}

void aether_f16_to_f32_array(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0, j;
    /* Blocks of eight with widen_f16's arithmetic as selects: a loop of a
     * constant trip count, which compilers turn into vector code at -O2
     * (the reference decode widens every f16 row it reads). */
    for (; i + 8 <= n; i += 8) {
        for (j = 0; j < 8; ++j) {
            /* masks from the sign bit of differences: no branches */
            const uint32_t h = src[i + j], em = h & 0x7FFFu;
            const float sub = (float)(int32_t)em * 5.9604644775390625e-8f;
            const uint32_t is_sub = 0u - ((em - 0x0400u) >> 31);
            const uint32_t is_inf = (0x7BFFu - em) >> 31, is_nan = (0x7C00u - em) >> 31;
            const uint32_t bits = ((em << 13) + 0x38000000u + is_inf * 0x38000000u) |
                                  (is_nan << 22);
            dst[i + j] = from_bits(((h & 0x8000u) << 16) | (bits_of(sub) & is_sub) |
                                   (bits & ~is_sub));
        }
    }
    for (; i < n; ++i)
        dst[i] = widen_f16(src[i]);
}
