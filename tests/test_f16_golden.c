/* Core binary16 conversions against the reference's f16_conversions golden:
 * every comparison is bitwise, so NaN payloads and signed zeros count. */
#include "aether/core.h"
#include "aether/npy.h"
#include "check.h"

#include <stdlib.h>

#define F16_DIR AETHER_GOLDEN_DIR "/f16_conversions/"

static int load(const char *path, aether_dtype dt, size_t count, aether_npy *a)
{
    aether_status s = aether_npy_load(path, a);
    CHECK_MSG(s == AETHER_OK, "%s: %s", path, aether_strerror(s));
    if (s != AETHER_OK)
        return 0;
    CHECK(a->dtype == dt);
    CHECK_EQ_INT(a->ndim, 1);
    CHECK_EQ_INT(a->count, count);
    return a->dtype == dt && a->count == count;
}

static void test_from_f32(void)
{
    REQUIRE_GOLDEN();
    aether_npy in, bits;
    size_t i, n, bad = 0, nan_inputs = 0;
    uint16_t *arr;
    if (!load(F16_DIR "f32_in.npy", AETHER_DTYPE_F32, 8231, &in) ||
        !load(F16_DIR "f16_bits.npy", AETHER_DTYPE_U16, 8231, &bits)) {
        aether_npy_free(&in);
        aether_npy_free(&bits);
        return;
    }
    n = in.count;
    {
        const float *x = (const float *)in.data;
        const uint16_t *want = (const uint16_t *)bits.data;
        for (i = 0; i < n; ++i) {
            uint16_t got = aether_f32_to_f16(x[i]);
            if (!aether_isfinite(x[i]) && (aether_f32_bits(x[i]) & 0x7FFFFFu))
                nan_inputs++;
            if (got != want[i]) {
                if (bad++ < 5)
                    fprintf(stderr, "f32_to_f16(0x%08lx) = 0x%04x, want 0x%04x\n",
                            (unsigned long)aether_f32_bits(x[i]), got, want[i]);
            }
        }
        CHECK_EQ_INT(bad, 0);
        /* The raw-bit-pattern inputs include NaNs with payloads. */
        CHECK(nan_inputs > 0);
        /* The array form agrees with the scalar one. */
        arr = (uint16_t *)malloc(n * sizeof *arr);
        if (arr) {
            aether_f32_to_f16_array(x, arr, n);
            CHECK(memcmp(arr, want, n * sizeof *arr) == 0);
            free(arr);
        }
    }
    aether_npy_free(&in);
    aether_npy_free(&bits);
}

static void test_roundtrip(void)
{
    REQUIRE_GOLDEN();
    aether_npy bits, rt;
    size_t i, bad = 0;
    float *arr;
    if (!load(F16_DIR "f16_bits.npy", AETHER_DTYPE_U16, 8231, &bits) ||
        !load(F16_DIR "f32_roundtrip.npy", AETHER_DTYPE_F32, 8231, &rt)) {
        aether_npy_free(&bits);
        aether_npy_free(&rt);
        return;
    }
    {
        const uint16_t *h = (const uint16_t *)bits.data;
        const float *want = (const float *)rt.data;
        for (i = 0; i < bits.count; ++i)
            if (aether_f32_bits(aether_f16_to_f32(h[i])) != aether_f32_bits(want[i]))
                bad++;
        CHECK_EQ_INT(bad, 0);
        arr = (float *)malloc(bits.count * sizeof *arr);
        if (arr) {
            aether_f16_to_f32_array(h, arr, bits.count);
            CHECK(memcmp(arr, want, bits.count * sizeof *arr) == 0);
            free(arr);
        }
    }
    aether_npy_free(&bits);
    aether_npy_free(&rt);
}

static void test_all_patterns(void)
{
    REQUIRE_GOLDEN();
    aether_npy all;
    size_t bad = 0, nans = 0;
    uint32_t h;
    if (!load(F16_DIR "all_f16_to_f32.npy", AETHER_DTYPE_F32, 65536, &all)) {
        aether_npy_free(&all);
        return;
    }
    {
        const float *want = (const float *)all.data;
        for (h = 0; h < 65536u; ++h) {
            uint32_t got = aether_f32_bits(aether_f16_to_f32((uint16_t)h));
            uint32_t w = aether_f32_bits(want[h]);
            if ((h & 0x7C00u) == 0x7C00u && (h & 0x3FFu))
                nans++;
            if (got != w && bad++ < 5)
                fprintf(stderr, "f16_to_f32(0x%04lx) = 0x%08lx, want 0x%08lx\n", (unsigned long)h,
                        (unsigned long)got, (unsigned long)w);
        }
        CHECK_EQ_INT(bad, 0);
        CHECK_EQ_INT(nans, 2 * 1023);
        /* Spot values: quietened NaN payload, signed zero, largest finite. */
        CHECK_EQ_INT(aether_f32_bits(want[0x7C01]), 0x7FC02000u);
        CHECK_EQ_INT(aether_f32_bits(want[0x8000]), 0x80000000u);
        CHECK(want[0x7BFF] == 65504.0f);
        /* Every non-NaN pattern survives f16 -> f32 -> f16 unchanged. */
        bad = 0;
        for (h = 0; h < 65536u; ++h)
            if (!((h & 0x7C00u) == 0x7C00u && (h & 0x3FFu)) &&
                aether_f32_to_f16(want[h]) != (uint16_t)h)
                bad++;
        CHECK_EQ_INT(bad, 0);
    }
    aether_npy_free(&all);
}

TEST_MAIN(test_from_f32, test_roundtrip, test_all_patterns)
