/* ruv_temporal_kernel_self_test: the tolerance accepts every C library and
 * rejects every kernel defect. Each defect is injected through the real
 * kernel (inputs or parameters changed the way the defective code would
 * read them) and must move some output by at least 100x the tolerance, so
 * that the check fails; outputs moved by up to the C-library bound of
 * src/edge/selftest.c must still pass. (A local window one token short is
 * no defect this case can show: with window 2 the log-stride candidates
 * i-1, i-2 cover the same tokens, so only the visit order changes.) */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "aether/dispatch.h"
#include "check.h"
#include "edge/edge_internal.h"

#define N 64u
#define SEQ 8u
#define HEADS 2u
#define DIM 4u

static float recorded[N];

/* The recorded outputs: the reference run passes the check, so within the
 * tolerance of them; on this host's reference they are what it computes. */
static void run(const aether_attn_params *ap, const float *q, const float *k, const float *v,
                float *out)
{
    CHECK_EQ_INT(ruv_temporal_self_test_forward_(ap, q, k, v, out), ESP_OK);
}

static double max_dev(const float *out)
{
    double m = 0.0;
    uint32_t i;
    for (i = 0; i < N; ++i) {
        double d = fabs((double)out[i] - (double)recorded[i]);
        if (d > m || d != d)
            m = d;
    }
    return m;
}

static void test_reference_passes(void)
{
    float q[N], k[N], v[N];
    size_t g[1];
    aether_attn_params ap = ruv_temporal_self_test_params_(g);
    double tol = ruv_temporal_self_test_tolerance_();
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
    ruv_temporal_self_test_inputs_(q, k, v);
    run(&ap, q, k, v, recorded);
    CHECK_EQ_INT(ruv_temporal_self_test_check_(recorded), ESP_OK);
    CHECK_EQ_INT(ruv_temporal_kernel_self_test(), ESP_OK);
    /* the tolerance is 2^-14 */
    CHECK(tol == 1.0 / 16384.0);
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
    CHECK_EQ_INT(ruv_temporal_kernel_self_test(), ESP_OK);
}

/* A C library whose expf rounds differently moves outputs by less than the
 * bound derived in selftest.c (1.3e-5 + 1.5e-6): such outputs pass; outputs
 * beyond the tolerance do not. */
static void test_tolerance_edges(void)
{
    float out[N];
    uint32_t i;
    float tol = ruv_temporal_self_test_tolerance_();
    for (i = 0; i < N; ++i)
        out[i] = recorded[i] + ((i & 1u) ? 1.45e-5f : -1.45e-5f);
    CHECK_EQ_INT(ruv_temporal_self_test_check_(out), ESP_OK);
    for (i = 0; i < N; ++i) {
        memcpy(out, recorded, sizeof out);
        out[i] += 2.0f * tol;
        CHECK_EQ_INT(ruv_temporal_self_test_check_(out), ESP_FAIL);
    }
    memcpy(out, recorded, sizeof out);
    out[17] = NAN;
    CHECK_EQ_INT(ruv_temporal_self_test_check_(out), ESP_FAIL);
}

enum defect {
    D_NO_SCALE,      /* scores not multiplied by 1/sqrt(dim) */
    D_SCALE_1_DIM,   /* 1/dim instead of 1/sqrt(dim) */
    D_KEY_PREV,      /* key row t-1 read for token t */
    D_VALUE_PREV,    /* value row t-1 read for token t */
    D_KEY_HEAD,      /* the other head's key */
    D_VALUE_HEAD,    /* the other head's value */
    D_DOT_SHORT,     /* q.k stops one element early */
    D_PV_SHORT,      /* the weighted value sum skips the last element */
    D_NO_LANDMARKS,  /* candidate loop stops before the landmark blocks */
    D_NO_GLOBAL,     /* global token skipped */
    D_NOT_CAUSAL,    /* causal mask lost: later tokens attended */
    D_NO_LOG_STRIDE, /* log-stride candidates skipped */
    D_COUNT
};

static const char *const defect_names[D_COUNT] = {
    "no scale",       "scale 1/dim",         "key t-1",          "value t-1",
    "key other head", "value other head",    "dot stops early",  "P.V stops early",
    "no landmarks",   "global token skipped", "causal mask lost", "no log-stride",
};

static void inject(enum defect d, float *q, float *k, float *v, aether_attn_params *ap)
{
    uint32_t t, h, e;
    switch (d) {
    case D_NO_SCALE:
        for (e = 0; e < N; ++e)
            q[e] *= 2.0f; /* (q * 2) . k * 0.5 = q . k */
        break;
    case D_SCALE_1_DIM:
        for (e = 0; e < N; ++e)
            q[e] *= 0.5f; /* q . k * 0.25 */
        break;
    case D_KEY_PREV:
    case D_VALUE_PREV: {
        float *x = d == D_KEY_PREV ? k : v;
        for (t = SEQ - 1; t > 0; --t)
            memcpy(x + t * HEADS * DIM, x + (t - 1) * HEADS * DIM, HEADS * DIM * sizeof *x);
        break;
    }
    case D_KEY_HEAD:
    case D_VALUE_HEAD: {
        float *x = d == D_KEY_HEAD ? k : v;
        for (t = 0; t < SEQ; ++t)
            for (e = 0; e < DIM; ++e) {
                float tmp = x[(t * HEADS + 0) * DIM + e];
                x[(t * HEADS + 0) * DIM + e] = x[(t * HEADS + 1) * DIM + e];
                x[(t * HEADS + 1) * DIM + e] = tmp;
            }
        break;
    }
    case D_DOT_SHORT:
    case D_PV_SHORT: {
        float *x = d == D_DOT_SHORT ? q : v;
        for (t = 0; t < SEQ; ++t)
            for (h = 0; h < HEADS; ++h)
                x[(t * HEADS + h) * DIM + DIM - 1] = 0.0f;
        break;
    }
    case D_NO_LANDMARKS:
        ap->use_landmarks = 0;
        break;
    case D_NO_GLOBAL:
        ap->n_globals = 0;
        break;
    case D_NOT_CAUSAL:
        ap->causal = 0;
        break;
    case D_NO_LOG_STRIDE:
        ap->use_log_stride = 0;
        break;
    default:
        break;
    }
}

static void test_defects_caught(void)
{
    int mode, d;
    double tol = ruv_temporal_self_test_tolerance_();
    /* on the reference and on the host's optimised path (if any) */
    for (mode = 0; mode < 2; ++mode) {
        CHECK_STATUS(aether_set_kernel_mode(mode ? AETHER_KERNELS_AUTO
                                                 : AETHER_KERNELS_REFERENCE),
                     AETHER_OK);
        for (d = 0; d < D_COUNT; ++d) {
            float q[N], k[N], v[N], out[N];
            size_t g[1];
            aether_attn_params ap = ruv_temporal_self_test_params_(g);
            double dev;
            ruv_temporal_self_test_inputs_(q, k, v);
            inject((enum defect)d, q, k, v, &ap);
            run(&ap, q, k, v, out);
            dev = max_dev(out);
            if (mode == 0)
                printf("defect %-22s moves an output by %.4f (%.0fx the tolerance)\n",
                       defect_names[d], dev, dev / tol);
            CHECK_MSG(dev >= 100.0 * tol, "defect '%s' moves the outputs by only %g",
                      defect_names[d], dev);
            CHECK_EQ_INT(ruv_temporal_self_test_check_(out), ESP_FAIL);
        }
    }
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
}

TEST_MAIN(test_reference_passes, test_tolerance_edges, test_defects_caught)
