/*
 * The conformance comparator (tools/conf_compare.c) against the accuracy
 * contract it implements, include/aether/dispatch.h:
 *     |fast - ref| <= 1e-6 * s^2 + 2e-6 * |ref|     (inputs of scale s)
 * for the optimised kernels, and bit-for-bit equality for the reference.
 * At scales 0.1, 1 and 4 and several reference magnitudes, the float just
 * inside the bound must pass and the next float out must fail, on both
 * sides of the reference; the reference mode must reject a one-ulp
 * difference and a zero of the other sign.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "aether/core.h"
#include "check.h"
#include "conf_compare.h"

/* conf_compare on one element, from a clean result. */
static int one(float got, float want, int exact, double tol, conf_result *r)
{
    memset(r, 0, sizeof *r);
    return conf_compare(&got, &want, 1, exact, tol, "x", r);
}

static void test_bound_formula(void)
{
    CHECK_NEAR(conf_contract_bound(0.1, 0.04), 1e-8 + 8e-8, 1e-20);
    CHECK_NEAR(conf_contract_bound(1.0, -0.5), 1e-6 + 1e-6, 1e-20);
    CHECK_NEAR(conf_contract_bound(4.0, 3.0), 16e-6 + 6e-6, 1e-20);
    CHECK_NEAR(conf_contract_bound(0.1, 0.0), 1e-8, 1e-22);
}

/* The last float within the bound on the side of `dir` (+1 or -1) from
 * want, and the first beyond it. */
static void edge(float want, double bound, int dir, float *inside, float *outside)
{
    float toward = dir > 0 ? INFINITY : -INFINITY;
    float g = (float)((double)want + dir * bound);
    while (fabs((double)g - (double)want) > bound)
        g = nextafterf(g, want);
    while (fabs((double)nextafterf(g, toward) - (double)want) <= bound)
        g = nextafterf(g, toward);
    *inside = g;
    *outside = nextafterf(g, toward);
}

static void test_contract_edges(void)
{
    static const double scales[] = {0.1, 1.0, 4.0};
    static const float refs[] = {0.04f, -0.7f, 3.0f, 0.0f, 1e-5f, -25.0f};
    size_t a, b;
    int dir;
    for (a = 0; a < sizeof scales / sizeof scales[0]; ++a) {
        conf_set_contract(scales[a]);
        for (b = 0; b < sizeof refs / sizeof refs[0]; ++b) {
            float want = refs[b];
            double bound = 1e-6 * scales[a] * scales[a] + 2e-6 * fabs((double)want);
            for (dir = -1; dir <= 1; dir += 2) {
                float in, out;
                conf_result r;
                edge(want, bound, dir, &in, &out);
                /* really at the edge: one float apart, on either side of it */
                CHECK(fabs((double)in - want) <= bound);
                CHECK(fabs((double)out - want) > bound);
                CHECK(nextafterf(in, dir > 0 ? INFINITY : -INFINITY) == out);
                CHECK_MSG(one(in, want, 1, 0.0, &r) == 1 && r.verdict != CONF_FAIL,
                          "scale %g ref %.9g: %.9g (diff %.3g, bound %.3g) must pass", scales[a],
                          (double)want, (double)in, fabs((double)in - want), bound);
                CHECK_NEAR(r.max_abs_err, fabs((double)in - want), 0.0);
                CHECK_MSG(one(out, want, 1, 0.0, &r) == 0 && r.verdict == CONF_FAIL,
                          "scale %g ref %.9g: %.9g (diff %.3g, bound %.3g) must fail", scales[a],
                          (double)want, (double)out, fabs((double)out - want), bound);
                CHECK(strstr(r.note, "x: 1 of 1 differ") != NULL);
            }
        }
    }
    conf_set_contract(0.0);
}

/* The case that was reported: inputs of scale 0.1, outputs near 0.04, three
 * ulps apart (1.1e-8) - above 1e-6 s^2 alone, well inside the contract. */
static void test_three_ulps_at_scale_tenth(void)
{
    float want = 0.04f, got = want;
    conf_result r;
    int k;
    for (k = 0; k < 3; ++k)
        got = nextafterf(got, 1.0f);
    CHECK(fabs((double)got - want) > 1e-8);
    CHECK(fabs((double)got - want) < 1.2e-8);
    conf_set_contract(0.1);
    CHECK(one(got, want, 1, 0.0, &r) == 1);
    CHECK(r.verdict != CONF_FAIL);
    /* ... and a difference of 1e-7 is outside it (bound 9e-8). */
    CHECK(one(want + 1e-7f, want, 1, 0.0, &r) == 0);
    conf_set_contract(0.0);
}

static void test_reference_mode_is_bit_exact(void)
{
    conf_result r;
    float x = 0.04f, nan1 = aether_f32_from_bits(0x7FC00000u);
    float nan2 = aether_f32_from_bits(0x7FC00001u);
    conf_set_contract(0.0);
    CHECK(one(x, x, 1, 0.0, &r) == 1);
    CHECK(r.max_abs_err == 0.0);
    CHECK(one(nextafterf(x, 1.0f), x, 1, 0.0, &r) == 0);
    CHECK(r.verdict == CONF_FAIL);
    CHECK(one(-0.0f, 0.0f, 1, 0.0, &r) == 0);
    CHECK(one(nan1, nan1, 1, 0.0, &r) == 1);
    CHECK(one(nan2, nan1, 1, 0.0, &r) == 0);
    CHECK(one(INFINITY, INFINITY, 1, 0.0, &r) == 1);
    /* the contract allows the zero of the other sign and another NaN */
    conf_set_contract(1.0);
    CHECK(one(-0.0f, 0.0f, 1, 0.0, &r) == 1);
    CHECK(one(nan2, nan1, 1, 0.0, &r) == 1);
    CHECK(one(nan1, 1.0f, 1, 0.0, &r) == 0);
    CHECK(one(INFINITY, 3.0e38f, 1, 0.0, &r) == 0);
    CHECK(one(INFINITY, -INFINITY, 1, 0.0, &r) == 0);
    /* a scale that is not positive and finite means bit for bit */
    conf_set_contract(-1.0);
    CHECK(one(-0.0f, 0.0f, 1, 0.0, &r) == 0);
    conf_set_contract(NAN);
    CHECK(one(nextafterf(x, 1.0f), x, 1, 0.0, &r) == 0);
    conf_set_contract(0.0);
}

/* Comparisons with their own tolerance ignore the contract. */
static void test_explicit_tolerance(void)
{
    conf_result r;
    conf_set_contract(4.0);
    CHECK(one(1.0f + 1e-6f, 1.0f, 0, 2e-6, &r) == 1);
    CHECK(one(1.0f + 4e-6f, 1.0f, 0, 2e-6, &r) == 0);
    CHECK(one(NAN, NAN, 0, 1.0, &r) == 0);
    conf_set_contract(0.0);
    CHECK(one(1.0f + 1e-6f, 1.0f, 0, 2e-6, &r) == 1);
}

/* An array: the count of differences, the first index, the largest error. */
static void test_array_report(void)
{
    float want[6] = {0.5f, -0.25f, 1.0f, 2.0f, 0.125f, -3.0f}, got[6];
    conf_result r;
    memcpy(got, want, sizeof got);
    got[3] = 2.0f + 3e-6f;   /* bound 1e-6 + 4e-6: inside */
    got[4] = 0.125f + 5e-6f; /* bound 1.25e-6: outside */
    got[5] = -3.0f - 2e-5f;  /* bound 7e-6: outside */
    conf_set_contract(1.0);
    memset(&r, 0, sizeof r);
    CHECK(conf_compare(got, want, 6, 1, 0.0, "out", &r) == 0);
    CHECK(r.verdict == CONF_FAIL);
    CHECK_MSG(strstr(r.note, "out: 2 of 6 differ, first [4]") != NULL, "note: %s", r.note);
    CHECK_NEAR(r.max_abs_err, fabs((double)got[5] - want[5]), 0.0);
    /* the first note stays */
    CHECK(conf_compare(got, want, 6, 1, 0.0, "again", &r) == 0);
    CHECK(strstr(r.note, "out:") == r.note);
    conf_finish(&r);
    CHECK(r.verdict == CONF_FAIL);
    memset(&r, 0, sizeof r);
    CHECK(conf_compare(got, want, 4, 1, 0.0, "out", &r) == 1);
    conf_finish(&r);
    CHECK(r.verdict == CONF_PASS);
    conf_set_contract(0.0);
}

TEST_MAIN(test_bound_formula, test_contract_edges, test_three_ulps_at_scale_tenth,
          test_reference_mode_is_bit_exact, test_explicit_tolerance, test_array_report)
