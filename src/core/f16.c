/* IEEE binary16 <-> binary32, matching the reference's conversion (and x86
 * F16C): round to nearest even, overflow to infinity, subnormals kept, NaNs
 * quietened. */
#include "aether/core.h"

#include <string.h>

uint32_t aether_f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

float aether_f32_from_bits(uint32_t bits)
{
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

int aether_isfinite(float x)
{
    return (aether_f32_bits(x) & 0x7F800000u) != 0x7F800000u;
}

uint16_t aether_f32_to_f16(float x)
{
    uint32_t u = aether_f32_bits(x);
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

float aether_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    uint32_t bits;

    if (exp == 0x1Fu) {
        bits = man ? (sign | 0x7FC00000u | (man << 13)) : (sign | 0x7F800000u);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {
        /* Subnormal half: normalise into an f32 normal. */
        uint32_t e = 113u;
        while ((man & 0x400u) == 0) {
            man <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((man & 0x3FFu) << 13);
    }
    return aether_f32_from_bits(bits);
}

void aether_f32_to_f16_array(const float *src, uint16_t *dst, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        dst[i] = aether_f32_to_f16(src[i]);
}

void aether_f16_to_f32_array(const uint16_t *src, float *dst, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        dst[i] = aether_f16_to_f32(src[i]);
}
