/* aether_norm_load refuses a saved state whose statistics no sequence of
 * samples can give (aether/features.h): with count 0 every mean and
 * variance term is 0, and after one sample the variance terms are 0 in
 * both modes. Such a state used to load silently and then corrupt the
 * statistics of every later sample; the target is left unchanged. */
#include <stdlib.h>
#include <string.h>

#include "aether/features.h"
#include "check.h"

enum { D = 3 };

static void put_f64(unsigned char *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    aether_store_le64(p, bits);
}

/* Rewrite the CRC after an edit, so only the statistics are wrong. */
static void reseal(unsigned char *s, size_t len)
{
    aether_store_le32(s + len - 4, aether_crc32(s, len - 4));
}

static void test_impossible_statistics_refused(void)
{
    int mode;
    for (mode = 0; mode < 2; ++mode) {
        aether_norm_config cfg = aether_norm_config_default(D);
        aether_feature_norm *src = NULL, *dst = NULL, *fresh = NULL;
        unsigned char s0[36 + 16 * D], s1[36 + 16 * D], bad[36 + 16 * D];
        const float x[D] = {1.0f, -2.0f, 0.5f}, y[D] = {3.0f, 4.0f, -1.0f};
        size_t len = 0, i;
        double mean, var, fmean, fvar;
        cfg.mode = mode ? AETHER_NORM_EMA : AETHER_NORM_WELFORD;
        cfg.alpha = 0.25f;
        CHECK_STATUS(aether_norm_create(&cfg, &src), AETHER_OK);
        CHECK_STATUS(aether_norm_create(&cfg, &dst), AETHER_OK);
        CHECK_STATUS(aether_norm_create(&cfg, &fresh), AETHER_OK);
        if (!src || !dst || !fresh)
            goto next;
        CHECK_EQ_INT((int)aether_norm_state_bytes(D), (int)sizeof s0);
        /* s0: no sample; s1: one sample (x) */
        CHECK_STATUS(aether_norm_save(src, s0, sizeof s0, &len), AETHER_OK);
        CHECK_STATUS(aether_norm_update(src, x, D), AETHER_OK);
        CHECK_STATUS(aether_norm_save(src, s1, sizeof s1, &len), AETHER_OK);
        /* both load as saved */
        CHECK_STATUS(aether_norm_load(dst, s0, sizeof s0), AETHER_OK);
        CHECK_STATUS(aether_norm_load(dst, s1, sizeof s1), AETHER_OK);
        CHECK(aether_norm_count(dst) == 1);
        CHECK_STATUS(aether_norm_reset(dst), AETHER_OK);

        /* count 0 with a mean, count 0 with a variance term, count 1 with a
         * variance term: each refused, dst unchanged (still empty) */
        memcpy(bad, s0, sizeof bad);
        put_f64(bad + 32 + 8 * 1, 5.0); /* mean[1] */
        reseal(bad, sizeof bad);
        CHECK_STATUS(aether_norm_load(dst, bad, sizeof bad), AETHER_ERR_FORMAT);
        memcpy(bad, s0, sizeof bad);
        put_f64(bad + 32 + 8 * (D + 2), 100.0); /* m2[2] */
        reseal(bad, sizeof bad);
        CHECK_STATUS(aether_norm_load(dst, bad, sizeof bad), AETHER_ERR_FORMAT);
        memcpy(bad, s1, sizeof bad);
        put_f64(bad + 32 + 8 * (D + 0), 100.0); /* m2[0] after one sample */
        reseal(bad, sizeof bad);
        CHECK_STATUS(aether_norm_load(dst, bad, sizeof bad), AETHER_ERR_FORMAT);
        CHECK(aether_norm_count(dst) == 0);

        /* a later good sequence gives what a fresh normaliser gives */
        CHECK_STATUS(aether_norm_update(dst, x, D), AETHER_OK);
        CHECK_STATUS(aether_norm_update(dst, y, D), AETHER_OK);
        CHECK_STATUS(aether_norm_update(fresh, x, D), AETHER_OK);
        CHECK_STATUS(aether_norm_update(fresh, y, D), AETHER_OK);
        for (i = 0; i < D; ++i) {
            CHECK_STATUS(aether_norm_stats(dst, i, &mean, &var), AETHER_OK);
            CHECK_STATUS(aether_norm_stats(fresh, i, &fmean, &fvar), AETHER_OK);
            CHECK_MSG(mean == fmean && var == fvar, "mode %d feature %u: %g %g, want %g %g",
                      mode, (unsigned)i, mean, var, fmean, fvar);
        }
        /* two samples x, y: Welford's population variance, or EMA's
         * (1 - a) a d^2 */
        CHECK_STATUS(aether_norm_stats(dst, 0, &mean, &var), AETHER_OK);
        CHECK_NEAR(var, mode ? 0.75 * 0.25 * 4.0 : 1.0, 1e-12);
    next:
        aether_norm_destroy(src);
        aether_norm_destroy(dst);
        aether_norm_destroy(fresh);
    }
}

TEST_MAIN(test_impossible_statistics_refused)
