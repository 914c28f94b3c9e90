/* Conformance op "f16_convert": the core binary16 conversions must match the
 * reference bit for bit, NaN payloads included. */
#include "conformance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int expect(const aether_npy *a, const char *key, aether_dtype dt, size_t count,
                  conf_result *r)
{
    if (a->dtype == dt && a->ndim == 1 && a->count == count)
        return 1;
    r->verdict = CONF_FAIL;
    snprintf(r->note, sizeof r->note, "%s: expected a 1-D %s array of %lu", key,
             aether_dtype_descr(dt), (unsigned long)count);
    return 0;
}

/* f32 -> f16 compared as bit patterns; the error is measured in f32. */
static void check_from_f32(const float *in, const uint16_t *want, size_t n, conf_result *r)
{
    size_t i, bad = 0, first = 0;
    for (i = 0; i < n; ++i) {
        uint16_t got = aether_f32_to_f16(in[i]);
        if (got != want[i]) {
            float g = aether_f16_to_f32(got), w = aether_f16_to_f32(want[i]);
            double d = (g != g || w != w) ? HUGE_VAL : fabs((double)g - (double)w);
            if (d > r->max_abs_err)
                r->max_abs_err = d;
            if (bad++ == 0)
                first = i;
        }
    }
    if (bad && !r->note[0]) {
        r->verdict = CONF_FAIL;
        snprintf(r->note, sizeof r->note,
                 "f16_bits: %lu of %lu differ, first [%lu] 0x%08lx -> 0x%04x want 0x%04x",
                 (unsigned long)bad, (unsigned long)n, (unsigned long)first,
                 (unsigned long)aether_f32_bits(in[first]), aether_f32_to_f16(in[first]),
                 want[first]);
    }
}

void conf_op_f16_convert(const conf_case *c, conf_result *r)
{
    aether_npy in, bits, rt, all;
    float *tmp = NULL;
    size_t n, i;

    memset(&in, 0, sizeof in);
    memset(&bits, 0, sizeof bits);
    memset(&rt, 0, sizeof rt);
    memset(&all, 0, sizeof all);
    if (conf_load(c, "f32_in", &in, r) || conf_load(c, "f16_bits", &bits, r) ||
        conf_load(c, "f32_roundtrip", &rt, r) || conf_load(c, "all_f16_to_f32", &all, r))
        goto done;
    n = in.count;
    if (!expect(&in, "f32_in", AETHER_DTYPE_F32, n, r) ||
        !expect(&bits, "f16_bits", AETHER_DTYPE_U16, n, r) ||
        !expect(&rt, "f32_roundtrip", AETHER_DTYPE_F32, n, r) ||
        !expect(&all, "all_f16_to_f32", AETHER_DTYPE_F32, 65536, r))
        goto done;
    tmp = (float *)malloc((n > 65536 ? n : 65536) * sizeof *tmp);
    if (!tmp) {
        r->verdict = CONF_FAIL;
        snprintf(r->note, sizeof r->note, "out of memory");
        goto done;
    }

    check_from_f32((const float *)in.data, (const uint16_t *)bits.data, n, r);
    for (i = 0; i < n; ++i)
        tmp[i] = aether_f16_to_f32(((const uint16_t *)bits.data)[i]);
    conf_compare(tmp, (const float *)rt.data, n, 1, 0.0, "f32_roundtrip", r);
    for (i = 0; i < 65536; ++i)
        tmp[i] = aether_f16_to_f32((uint16_t)i);
    conf_compare(tmp, (const float *)all.data, 65536, 1, 0.0, "all_f16_to_f32", r);
    if (r->verdict != CONF_FAIL)
        r->verdict = CONF_PASS;
done:
    free(tmp);
    aether_npy_free(&in);
    aether_npy_free(&bits);
    aether_npy_free(&rt);
    aether_npy_free(&all);
}
