/* The int8 K/V row format (core/int8row.h): one implementation for the
 * integer path and the I8 cache storage. */
#include "core/int8row.h"

static uint32_t mag(int32_t v)
{
    return v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
}

unsigned aether_q16_exponent_(const int32_t *v, size_t n, uint32_t lim)
{
    uint32_t mx = 0;
    unsigned s = 0;
    size_t i;
    for (i = 0; i < n; ++i) {
        uint32_t a = mag(v[i]);
        if (a > mx)
            mx = a;
    }
    /* round(mx / 2^s) = (mx + 2^(s-1)) >> s; mx <= 2^31: no wrap */
    while (s < 31 && (s == 0 ? mx : (mx + (1u << (s - 1))) >> s) > lim)
        ++s;
    return s;
}

void aether_q16_mantissas_(const int32_t *v, size_t n, unsigned s, int8_t *m)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        /* v / 2^s rounded half away from zero (|v| <= 2^31: no wrap) */
        uint32_t a = mag(v[i]);
        if (s)
            a = (a + (1u << (s - 1))) >> s;
        m[i] = (int8_t)(v[i] < 0 ? -(int32_t)a : (int32_t)a);
    }
}

unsigned aether_q16_to_i8_(const int32_t *v, size_t n, int8_t *m)
{
    unsigned s = aether_q16_exponent_(v, n, 127u);
    aether_q16_mantissas_(v, n, s, m);
    return s;
}
