/* Gated sparse prefill: goldens, all-true == forward, GQA == expanded MHA,
 * filtering semantics, errors. */
#include "aether/attention_gated.h"
#include "aether/npy.h"
#include "aether/dispatch.h"
#include "check.h"
#include "test_util.h"
#include "test_ws.h"

#include <stdint.h>
#include <stdlib.h>

typedef struct gated_case {
    const char *name;
    size_t window, block;
    size_t globals[2];
    size_t n_globals;
    int causal, log, lm, sort;
} gated_case;

static const gated_case k_cases[] = {
    {"forward_gated_c_w4_b4_g03_log_nolm_sort_s257_rand30", 4, 4, {0, 3}, 2, 1, 1, 0, 1},
    {"forward_gated_c_w8_b16_g0_log_lm_s100_all_false", 8, 16, {0, 0}, 1, 1, 1, 1, 0},
    {"forward_gated_c_w8_b16_g0_log_lm_s100_all_true", 8, 16, {0, 0}, 1, 1, 1, 1, 0},
    {"forward_gated_c_w8_b16_g0_log_lm_s100_every4", 8, 16, {0, 0}, 1, 1, 1, 1, 0},
    {"forward_gated_c_w8_b16_g0_log_lm_s100_rand30", 8, 16, {0, 0}, 1, 1, 1, 1, 0},
    {"forward_gated_nc_w4_b4_g03_log_lm_s64_every4", 4, 4, {0, 3}, 2, 0, 1, 1, 0},
    {"forward_gated_nc_w8_b16_g0_log_lm_s100_rand30", 8, 16, {0, 0}, 1, 0, 1, 1, 0},
};

static void test_gated_goldens(void)
{
    REQUIRE_GOLDEN();
    size_t c;
    for (c = 0; c < sizeof k_cases / sizeof k_cases[0]; ++c) {
        const gated_case *gc = &k_cases[c];
        aether_attn_config cfg;
        aether_tensor q, k, v, want, got;
        aether_npy mask;
        char path[512];
        test_make_config(&cfg, gc->window, gc->block, gc->globals, gc->n_globals, gc->causal,
                         gc->log, gc->lm, gc->sort);
        snprintf(path, sizeof path, "%s/%s/keep_mask.npy", AETHER_GOLDEN_DIR, gc->name);
        CHECK_STATUS(aether_npy_load(path, &mask), AETHER_OK);
        CHECK(mask.dtype == AETHER_DTYPE_U8);
        if (test_load_golden(gc->name, "q.npy", &q) || test_load_golden(gc->name, "k.npy", &k) ||
            test_load_golden(gc->name, "v.npy", &v) ||
            test_load_golden(gc->name, "out.npy", &want))
            continue;
        CHECK_STATUS(aether_tensor_zeros(&got, q.seq, q.heads, q.dim), AETHER_OK);
        CHECK_STATUS(ws_attn_forward_gated(&cfg, &q, &k, &v, (const uint8_t *)mask.data,
                                           mask.count, &got),
                     AETHER_OK);
        CHECK_MSG(test_count_bit_diffs(&got, &want) == 0, "%s: gated != golden", gc->name);
        /* the GQA entry point with group 1 is the same computation */
        CHECK_STATUS(ws_attn_forward_gqa_gated(&cfg, &q, &k, &v, (const uint8_t *)mask.data,
                                               mask.count, &got),
                     AETHER_OK);
        CHECK_MSG(test_count_bit_diffs(&got, &want) == 0, "%s: gqa gated != golden", gc->name);
        aether_npy_free(&mask);
        aether_tensor_free(&q);
        aether_tensor_free(&k);
        aether_tensor_free(&v);
        aether_tensor_free(&want);
        aether_tensor_free(&got);
    }
}

/* All-ones mask == forward, for MHA and GQA, every flag combination
 * (including sort + landmarks, which no golden covers). */
static void test_all_true_equals_forward(void)
{
    static const size_t globals[3] = {0, 9, 4};
    uint64_t seed = 99;
    int causal, sort, lm, log;
    for (causal = 0; causal <= 1; ++causal)
        for (sort = 0; sort <= 1; ++sort)
            for (lm = 0; lm <= 1; ++lm)
                for (log = 0; log <= 1; ++log) {
                    aether_attn_config cfg;
                    aether_tensor q, k, v, a, b;
                    size_t seq = 130, qh = 6, kvh = 3, dim = 8, i;
                    uint8_t mask[130];
                    test_make_config(&cfg, 3, 5, globals, 3, causal, log, lm, sort);
                    aether_tensor_zeros(&q, seq, qh, dim);
                    aether_tensor_zeros(&k, seq, kvh, dim);
                    aether_tensor_zeros(&v, seq, kvh, dim);
                    aether_tensor_zeros(&a, seq, qh, dim);
                    aether_tensor_zeros(&b, seq, qh, dim);
                    test_fill(&q, &seed, 2.0f);
                    test_fill(&k, &seed, 2.0f);
                    test_fill(&v, &seed, 1.0f);
                    for (i = 0; i < seq; ++i)
                        mask[i] = (uint8_t)(1 + i % 3); /* any nonzero byte keeps */
                    CHECK_STATUS(ws_attn_forward_gqa(&cfg, &q, &k, &v, &a), AETHER_OK);
                    CHECK_STATUS(ws_attn_forward_gqa_gated(&cfg, &q, &k, &v, mask, seq, &b),
                                 AETHER_OK);
                    CHECK_MSG(test_count_bit_diffs(&a, &b) == 0, "causal %d sort %d lm %d log %d",
                              causal, sort, lm, log);
                    aether_tensor_free(&q);
                    aether_tensor_free(&k);
                    aether_tensor_free(&v);
                    aether_tensor_free(&a);
                    aether_tensor_free(&b);
                }
}

/* GQA gated == MHA gated over K/V expanded to the query heads. */
static void test_gqa_equals_expanded(void)
{
    static const size_t globals[2] = {0, 3};
    aether_attn_config cfg;
    aether_tensor q, k, v, ke, ve, a, b;
    uint64_t seed = 5;
    size_t seq = 200, qh = 8, kvh = 2, dim = 16, t, h;
    uint8_t mask[200];
    test_make_config(&cfg, 6, 8, globals, 2, 1, 1, 1, 1);
    aether_tensor_zeros(&q, seq, qh, dim);
    aether_tensor_zeros(&k, seq, kvh, dim);
    aether_tensor_zeros(&v, seq, kvh, dim);
    aether_tensor_zeros(&ke, seq, qh, dim);
    aether_tensor_zeros(&ve, seq, qh, dim);
    aether_tensor_zeros(&a, seq, qh, dim);
    aether_tensor_zeros(&b, seq, qh, dim);
    test_fill(&q, &seed, 1.0f);
    test_fill(&k, &seed, 1.0f);
    test_fill(&v, &seed, 1.0f);
    for (t = 0; t < seq; ++t) {
        mask[t] = (uint8_t)((test_splitmix(&seed) >> 62) == 0);
        for (h = 0; h < qh; ++h) {
            memcpy(aether_tensor_row(&ke, t, h), aether_tensor_row(&k, t, h / (qh / kvh)),
                   dim * sizeof(float));
            memcpy(aether_tensor_row(&ve, t, h), aether_tensor_row(&v, t, h / (qh / kvh)),
                   dim * sizeof(float));
        }
    }
    CHECK_STATUS(ws_attn_forward_gqa_gated(&cfg, &q, &k, &v, mask, seq, &a), AETHER_OK);
    CHECK_STATUS(ws_attn_forward_gated(&cfg, &q, &ke, &ve, mask, seq, &b), AETHER_OK);
    CHECK(test_count_bit_diffs(&a, &b) == 0);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&ke);
    aether_tensor_free(&ve);
    aether_tensor_free(&a);
    aether_tensor_free(&b);
}

/* Semantics on a one-hot value setup: with V = identity rows the output of
 * query i is the softmax weight of each key, so the set of attended keys is
 * visible. All-false keeps window + globals + landmarks only. */
static void test_filter_semantics(void)
{
    static const size_t globals[1] = {2};
    aether_attn_config cfg;
    aether_tensor q, k, v, o;
    size_t seq = 40, dim = 40, i, j;
    uint8_t mask[40];
    test_make_config(&cfg, 3, 4, globals, 1, 1, 1, 0, 0);
    aether_tensor_zeros(&q, seq, 1, dim);
    aether_tensor_zeros(&k, seq, 1, dim);
    aether_tensor_zeros(&v, seq, 1, dim);
    aether_tensor_zeros(&o, seq, 1, dim);
    for (i = 0; i < seq; ++i)
        aether_tensor_row(&v, i, 0)[i] = 1.0f; /* q, k zero: uniform weights */
    for (i = 0; i < seq; ++i)
        mask[i] = (uint8_t)(i == 7);
    CHECK_STATUS(ws_attn_forward_gated(&cfg, &q, &k, &v, mask, seq, &o), AETHER_OK);
    {
        /* query 39: window 36..39, global 2, log-stride 38,37,35,31,23,7 -> kept: 7 only */
        const float *r = aether_tensor_row(&o, 39, 0);
        for (j = 0; j < seq; ++j) {
            int expect = (j >= 36) || j == 2 || j == 7;
            CHECK_MSG((r[j] > 0.0f) == expect, "key %zu weight %g", j, (double)r[j]);
        }
        CHECK_NEAR(r[7], 1.0 / 6.0, 1e-6);
    }
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&o);
}

static void test_errors(void)
{
    static const size_t globals[1] = {0};
    aether_attn_config cfg, bad;
    aether_tensor q, k, v, o, k2;
    float qb[4 * 2 * 8], kb[4 * 2 * 8], vb[4 * 2 * 8], ob[4 * 2 * 8], k2b[4 * 3 * 8];
    uint8_t mask[5] = {1, 1, 1, 1, 1};
    size_t need = 0;
    unsigned char *ws;
    test_make_config(&cfg, 2, 2, globals, 1, 1, 1, 1, 0);
    memset(&bad, 0, sizeof bad);
    memset(qb, 0, sizeof qb);
    memset(kb, 0, sizeof kb);
    memset(vb, 0, sizeof vb);
    memset(k2b, 0, sizeof k2b);
    aether_tensor_view(&q, qb, 64, 4, 2, 8);
    aether_tensor_view(&k, kb, 64, 4, 2, 8);
    aether_tensor_view(&v, vb, 64, 4, 2, 8);
    aether_tensor_view(&o, ob, 64, 4, 2, 8);
    aether_tensor_view(&k2, k2b, 96, 4, 3, 8);
    CHECK_STATUS(ws_attn_forward_gated(&cfg, &q, &k, &v, mask, 5, &o), AETHER_ERR_MASK_LENGTH);
    CHECK_STATUS(ws_attn_forward_gated(&cfg, &q, &k, &v, mask, 3, &o), AETHER_ERR_MASK_LENGTH);
    CHECK_STATUS(ws_attn_forward_gqa_gated(&cfg, &q, &k, &v, mask, 5, &o),
                 AETHER_ERR_MASK_LENGTH);
    CHECK_STATUS(ws_attn_forward_gated(&cfg, &q, &k, &v, NULL, 4, &o), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(ws_attn_forward_gated(&bad, &q, &k, &v, mask, 4, &o),
                 AETHER_ERR_NOT_INITIALIZED);
    /* shape errors come before the mask check */
    CHECK_STATUS(ws_attn_forward_gated(&cfg, &q, &k2, &v, mask, 5, &o),
                 AETHER_ERR_SHAPE_MISMATCH);
    CHECK_STATUS(ws_attn_forward_gqa_gated(&cfg, &q, &k2, &k2, mask, 5, &o),
                 AETHER_ERR_GQA_RATIO);
    CHECK_STATUS(ws_attn_forward_gated(&cfg, &q, &k, &v, mask, 4, &k), AETHER_ERR_INVALID_ARG);
    {
        aether_tensor z, zo;
        aether_tensor_view(&z, NULL, 0, 0, 2, 8);
        aether_tensor_view(&zo, NULL, 0, 0, 2, 8);
        CHECK_STATUS(ws_attn_forward_gated(&cfg, &z, &z, &z, NULL, 0, &zo), AETHER_OK);
        CHECK_STATUS(ws_attn_forward_gated(&cfg, &z, &z, &z, mask, 1, &zo),
                     AETHER_ERR_MASK_LENGTH);
    }
    CHECK_STATUS(aether_attn_forward_gated_workspace_size(&cfg, 4, 2, 2, 8, &need), AETHER_OK);
    ws = (unsigned char *)malloc(need);
    CHECK_STATUS(aether_attn_forward_gated(&cfg, &q, &k, &v, mask, 4, &o, ws, need - 1),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_attn_forward_gated(&cfg, &q, &k, &v, mask, 4, &o, ws, need), AETHER_OK);
    free(ws);
}

/* The comparisons against aether_attn_forward / decode_step are bitwise:
 * pin the scalar reference kernels (the optimised paths are only within
 * tolerance). The kernels under test here are reference-only anyway. */
static void use_reference_kernels(void)
{
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
}

/* No workspace: NULL_ARG after the argument checks, 1 byte:
 * BUFFER_TOO_SMALL, output untouched; seq 0 needs none. */
static void test_workspace_required(void)
{
    aether_attn_params ap = aether_attn_params_default();
    aether_attn_config cfg;
    aether_kvcache_params kp;
    aether_kvcache *kc = NULL;
    float qd[6 * 2 * 4], kd[6 * 1 * 4], od[6 * 2 * 4];
    uint8_t keep[6] = {1, 0, 1, 1, 0, 1};
    unsigned char one[1];
    aether_tensor q, k, out, q1, o1, e;
    size_t i, need = 0;
    void *ws;
    ap.window = 2;
    ap.block_size = 2;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    for (i = 0; i < 48; ++i) {
        qd[i] = (float)((int)(i % 5) - 2) * 0.25f;
        od[i] = 7.0f;
    }
    for (i = 0; i < 24; ++i)
        kd[i] = (float)((int)(i % 7) - 3) * 0.125f;
    CHECK_STATUS(aether_tensor_view(&q, qd, 48, 6, 2, 4), AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&k, kd, 24, 6, 1, 4), AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&out, od, 48, 6, 2, 4), AETHER_OK);
    CHECK_STATUS(aether_attn_forward_gqa_gated(&cfg, &q, &k, &k, keep, 6, &out, NULL, 0),
                 AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_attn_forward_gqa_gated(&cfg, &q, &k, &k, keep, 6, &out, one, sizeof one),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    /* argument errors come first */
    CHECK_STATUS(aether_attn_forward_gqa_gated(&cfg, &q, &k, &k, keep, 5, &out, NULL, 0),
                 AETHER_ERR_MASK_LENGTH);
    CHECK_STATUS(aether_attn_forward_gated(&cfg, &q, &q, &q, keep, 6, &out, NULL, 0),
                 AETHER_ERR_NULL_ARG);
    CHECK(test_all_equal(od, 48, 7.0f));
    CHECK_STATUS(aether_attn_forward_gated_workspace_size(&cfg, 6, 2, 1, 4, &need), AETHER_OK);
    ws = test_ws(need);
    CHECK_STATUS(aether_attn_forward_gqa_gated(&cfg, &q, &k, &k, keep, 6, &out, ws, need),
                 AETHER_OK);
    CHECK(!test_all_equal(od, 48, 7.0f));
    free(ws);
    CHECK_STATUS(aether_tensor_view(&e, qd, 0, 0, 2, 4), AETHER_OK);
    CHECK_STATUS(aether_attn_forward_gated(&cfg, &e, &e, &e, NULL, 0, &e, NULL, 0), AETHER_OK);

    /* gated decode over a cache */
    kp = aether_kvcache_params_default(&cfg, 8, 1, 4);
    CHECK_STATUS(aether_kvcache_create(&kp, &kc), AETHER_OK);
    if (!kc)
        return;
    for (i = 0; i < 6; ++i)
        CHECK_STATUS(aether_kvcache_append_rows(kc, kd + i * 4, kd + i * 4), AETHER_OK);
    for (i = 0; i < 8; ++i)
        od[i] = 7.0f;
    CHECK_STATUS(aether_tensor_view(&q1, qd, 8, 1, 2, 4), AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&o1, od, 8, 1, 2, 4), AETHER_OK);
    CHECK_STATUS(aether_kvcache_decode_gated(&cfg, &q1, kc, keep, 6, &o1, NULL, 0),
                 AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_kvcache_decode_gated(&cfg, &q1, kc, keep, 6, &o1, one, sizeof one),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK(test_all_equal(od, 8, 7.0f));
    CHECK_STATUS(aether_kvcache_decode_gated_workspace_size(&cfg, kc, 2, &need), AETHER_OK);
    ws = test_ws(need);
    CHECK_STATUS(aether_kvcache_decode_gated(&cfg, &q1, kc, keep, 6, &o1, ws, need), AETHER_OK);
    CHECK(!test_all_equal(od, 8, 7.0f));
    free(ws);
    aether_kvcache_destroy(kc);
}

TEST_MAIN(use_reference_kernels, test_gated_goldens, test_all_true_equals_forward,
          test_gqa_equals_expanded, test_filter_semantics, test_errors, test_workspace_required)
