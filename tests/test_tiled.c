/* Tiled (flash) sparse prefill: goldens, order equivalences, tile
 * independence, seq-independent workspace, errors. */
#include "aether/attention_tiled.h"
#include "aether/npy.h"
#include "aether/dispatch.h"
#include "check.h"
#include "test_util.h"
#include "test_ws.h"

#include <stdint.h>
#include <stdlib.h>

typedef struct flash_case {
    const char *name;
    size_t window, block;
    size_t globals[2];
    size_t n_globals;
    int causal, log, lm, sort;
    size_t tile;
    int gqa;
} flash_case;

static const flash_case k_cases[] = {
    {"forward_flash_c_w0_b16_self_s16_t0", 0, 16, {0, 0}, 0, 1, 0, 0, 0, 0, 0},
    {"forward_flash_c_w128_b64_g0_log_lm_s1000_t128", 128, 64, {0, 0}, 1, 1, 1, 1, 0, 128, 0},
    {"forward_flash_c_w2_b4_g03_log_s257_t3", 2, 4, {0, 3}, 2, 1, 1, 0, 0, 3, 0},
    {"forward_flash_c_w3_b4_g0_log_lm_x4_s100_t0", 3, 4, {0, 0}, 1, 1, 1, 1, 0, 0, 0},
    {"forward_flash_c_w4_b16_g03_log_lm_sort_s257_t16", 4, 16, {0, 3}, 2, 1, 1, 1, 1, 16, 0},
    {"forward_flash_c_w8_b4_g0_log_lm_s100_t0", 8, 4, {0, 0}, 1, 1, 1, 1, 0, 0, 0},
    {"forward_flash_c_w8_b4_g0_log_lm_s100_t5", 8, 4, {0, 0}, 1, 1, 1, 1, 0, 5, 0},
    {"forward_flash_c_w8_b4_g0_log_lm_s1_t1", 8, 4, {0, 0}, 1, 1, 1, 1, 0, 1, 0},
    {"forward_flash_nc_w64_b64_gnone_lm_s257_t32", 64, 64, {0, 0}, 0, 0, 0, 1, 0, 32, 0},
    {"forward_flash_nc_w8_b4_g0_log_lm_s100_t0", 8, 4, {0, 0}, 1, 0, 1, 1, 0, 0, 0},
    {"forward_gqa_flash_c_aether_w32_b16_g0_log_lm_q4kv1_s257_t0",
     32,
     16,
     {0, 0},
     1,
     1,
     1,
     1,
     0,
     0,
     1},
    {"forward_gqa_flash_c_w3_b4_g0_log_lm_x4_q6kv3_s37_t7", 3, 4, {0, 0}, 1, 1, 1, 1, 0, 7, 1},
    {"forward_gqa_flash_c_w8_b4_g0_log_lm_q4kv1_s100_t0", 8, 4, {0, 0}, 1, 1, 1, 1, 0, 0, 1},
    {"forward_gqa_flash_nc_w8_b4_g0_log_lm_q8kv2_s100_t4", 8, 4, {0, 0}, 1, 0, 1, 1, 0, 4, 1},
};

static aether_status run(const aether_attn_config *cfg, int gqa, const aether_tensor *q,
                         const aether_tensor *k, const aether_tensor *v, aether_tensor *out,
                         size_t tile, aether_tiled_order order)
{
    if (gqa)
        return ws_attn_forward_gqa_tiled(cfg, q, k, v, out, tile, order);
    return ws_attn_forward_tiled(cfg, q, k, v, out, tile, order);
}

static void test_flash_goldens(void)
{
    REQUIRE_GOLDEN();
    size_t c;
    for (c = 0; c < sizeof k_cases / sizeof k_cases[0]; ++c) {
        const flash_case *fc = &k_cases[c];
        aether_attn_config cfg;
        aether_tensor q, k, v, want, want_fwd, got, ref;
        static const size_t tiles[] = {1, 2, 7, 64, 100000};
        size_t t;
        test_make_config(&cfg, fc->window, fc->block, fc->globals, fc->n_globals, fc->causal,
                         fc->log, fc->lm, fc->sort);
        if (test_load_golden(fc->name, "q.npy", &q) || test_load_golden(fc->name, "k.npy", &k) ||
            test_load_golden(fc->name, "v.npy", &v) ||
            test_load_golden(fc->name, "out.npy", &want) ||
            test_load_golden(fc->name, "out_forward.npy", &want_fwd))
            continue;
        CHECK_STATUS(aether_tensor_zeros(&got, q.seq, q.heads, q.dim), AETHER_OK);
        CHECK_STATUS(aether_tensor_zeros(&ref, q.seq, q.heads, q.dim), AETHER_OK);

        CHECK_STATUS(run(&cfg, fc->gqa, &q, &k, &v, &got, fc->tile, AETHER_TILED_ORDER_REFERENCE),
                     AETHER_OK);
        CHECK_MSG(test_count_bit_diffs(&got, &want) == 0, "%s: REFERENCE order != golden out",
                  fc->name);
        CHECK_STATUS(run(&cfg, fc->gqa, &q, &k, &v, &got, fc->tile, AETHER_TILED_ORDER_FORWARD),
                     AETHER_OK);
        CHECK_MSG(test_count_bit_diffs(&got, &want_fwd) == 0, "%s: FORWARD order != out_forward",
                  fc->name);
        /* and the library's own forward agrees */
        CHECK_STATUS(ws_attn_forward_auto(&cfg, &q, &k, &v, &ref), AETHER_OK);
        CHECK_MSG(test_count_bit_diffs(&got, &ref) == 0,
                  "%s: FORWARD order != aether_attn_forward", fc->name);

        /* The tile length never changes a bit. */
        for (t = 0; t < sizeof tiles / sizeof tiles[0]; ++t) {
            CHECK_STATUS(run(&cfg, fc->gqa, &q, &k, &v, &got, tiles[t],
                             AETHER_TILED_ORDER_REFERENCE),
                         AETHER_OK);
            CHECK_MSG(test_count_bit_diffs(&got, &want) == 0, "%s tile %zu: REFERENCE differs",
                      fc->name, tiles[t]);
        }
        aether_tensor_free(&q);
        aether_tensor_free(&k);
        aether_tensor_free(&v);
        aether_tensor_free(&want);
        aether_tensor_free(&want_fwd);
        aether_tensor_free(&got);
        aether_tensor_free(&ref);
    }
}

/* FORWARD order equals aether_attn_forward bit for bit over a grid of
 * configurations (sort on/off, causal/non-causal, GQA, odd block sizes) and
 * tile lengths; REFERENCE order is tile-independent and within 1e-5. */
static void test_forward_order_matches_forward(void)
{
    static const size_t globals[3] = {0, 5, 2};
    uint64_t seed = 42;
    int causal, sort, lm, log;
    for (causal = 0; causal <= 1; ++causal)
        for (sort = 0; sort <= 1; ++sort)
            for (lm = 0; lm <= 1; ++lm)
                for (log = 0; log <= 1; ++log) {
                    aether_attn_config cfg;
                    aether_tensor q, k, v, a, b, r;
                    size_t seq = 150, qh = 4, kvh = 2, dim = 8, t;
                    static const size_t tiles[] = {0, 1, 3, 16, 149, 150, 151};
                    test_make_config(&cfg, 5, 7, globals, 3, causal, log, lm, sort);
                    aether_tensor_zeros(&q, seq, qh, dim);
                    aether_tensor_zeros(&k, seq, kvh, dim);
                    aether_tensor_zeros(&v, seq, kvh, dim);
                    aether_tensor_zeros(&a, seq, qh, dim);
                    aether_tensor_zeros(&b, seq, qh, dim);
                    aether_tensor_zeros(&r, seq, qh, dim);
                    test_fill(&q, &seed, 2.0f);
                    test_fill(&k, &seed, 2.0f);
                    test_fill(&v, &seed, 1.0f);
                    CHECK_STATUS(ws_attn_forward_gqa(&cfg, &q, &k, &v, &b), AETHER_OK);
                    CHECK_STATUS(ws_attn_forward_gqa_tiled(&cfg, &q, &k, &v, &r, 0,
                                                           AETHER_TILED_ORDER_REFERENCE),
                                 AETHER_OK);
                    for (t = 0; t < sizeof tiles / sizeof tiles[0]; ++t) {
                        size_t i, n = aether_tensor_size(&a);
                        double md = 0;
                        CHECK_STATUS(ws_attn_forward_gqa_tiled(&cfg, &q, &k, &v, &a, tiles[t],
                                                               AETHER_TILED_ORDER_FORWARD),
                                     AETHER_OK);
                        CHECK_MSG(test_count_bit_diffs(&a, &b) == 0,
                                  "causal %d sort %d lm %d log %d tile %zu", causal, sort, lm,
                                  log, tiles[t]);
                        CHECK_STATUS(ws_attn_forward_gqa_tiled(&cfg, &q, &k, &v, &a, tiles[t],
                                                               AETHER_TILED_ORDER_REFERENCE),
                                     AETHER_OK);
                        CHECK(test_count_bit_diffs(&a, &r) == 0);
                        for (i = 0; i < n; ++i)
                            if (fabs((double)a.data[i] - b.data[i]) > md)
                                md = fabs((double)a.data[i] - b.data[i]);
                        CHECK_MSG(md < 1e-5, "reference order deviates by %g", md);
                    }
                    aether_tensor_free(&q);
                    aether_tensor_free(&k);
                    aether_tensor_free(&v);
                    aether_tensor_free(&a);
                    aether_tensor_free(&b);
                    aether_tensor_free(&r);
                }
}

/* MHA entry point equals the GQA one with group 1, and out may alias q. */
static void test_mha_and_alias(void)
{
    static const size_t globals[1] = {0};
    aether_attn_config cfg;
    aether_tensor q, k, v, a, b;
    uint64_t seed = 7;
    size_t seq = 90, h = 3, dim = 12;
    test_make_config(&cfg, 6, 4, globals, 1, 1, 1, 1, 0);
    aether_tensor_zeros(&q, seq, h, dim);
    aether_tensor_zeros(&k, seq, h, dim);
    aether_tensor_zeros(&v, seq, h, dim);
    aether_tensor_zeros(&a, seq, h, dim);
    aether_tensor_zeros(&b, seq, h, dim);
    test_fill(&q, &seed, 1.0f);
    test_fill(&k, &seed, 1.0f);
    test_fill(&v, &seed, 1.0f);
    CHECK_STATUS(ws_attn_forward_tiled(&cfg, &q, &k, &v, &a, 5, AETHER_TILED_ORDER_REFERENCE),
                 AETHER_OK);
    CHECK_STATUS(ws_attn_forward_gqa_tiled(&cfg, &q, &k, &v, &b, 5, AETHER_TILED_ORDER_REFERENCE),
                 AETHER_OK);
    CHECK(test_count_bit_diffs(&a, &b) == 0);
    /* in place: out == q */
    CHECK_STATUS(ws_attn_forward_tiled(&cfg, &q, &k, &v, &q, 5, AETHER_TILED_ORDER_REFERENCE),
                 AETHER_OK);
    CHECK(test_count_bit_diffs(&q, &a) == 0);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&a);
    aether_tensor_free(&b);
}

static void test_workspace_bound(void)
{
    aether_attn_params p = aether_attn_params_default(); /* W 128, B 64, globals {0} */
    aether_attn_config cfg;
    size_t s1 = 0, s64 = 0, s1m = 0, fwd1 = 0, fwd64 = 0, small = 0, big = 0;
    CHECK_STATUS(aether_attn_config_init(&cfg, &p), AETHER_OK);
    CHECK_STATUS(aether_attn_forward_tiled_workspace_size(&cfg, 1024, 4, 1, 32, 0,
                                                          AETHER_TILED_ORDER_FORWARD, &s1),
                 AETHER_OK);
    CHECK_STATUS(aether_attn_forward_tiled_workspace_size(&cfg, 65536, 4, 1, 32, 0,
                                                          AETHER_TILED_ORDER_FORWARD, &s64),
                 AETHER_OK);
    CHECK_STATUS(aether_attn_forward_tiled_workspace_size(&cfg, (size_t)1 << 30, 4, 1, 32, 0,
                                                          AETHER_TILED_ORDER_REFERENCE, &s1m),
                 AETHER_OK);
    CHECK_EQ_INT(s1, s64);
    CHECK_EQ_INT(s1, s1m);
    /* the plain forward's landmark table grows with seq */
    CHECK_STATUS(aether_attn_forward_workspace_size(&cfg, 1024, 4, 1, 32, &fwd1), AETHER_OK);
    CHECK_STATUS(aether_attn_forward_workspace_size(&cfg, 65536, 4, 1, 32, &fwd64), AETHER_OK);
    CHECK(fwd64 > fwd1);
    CHECK(s64 < fwd64);
    /* the bound is linear in the tile length */
    CHECK_STATUS(aether_attn_forward_tiled_workspace_size(&cfg, 65536, 4, 1, 32, 16,
                                                          AETHER_TILED_ORDER_FORWARD, &small),
                 AETHER_OK);
    CHECK_STATUS(aether_attn_forward_tiled_workspace_size(&cfg, 65536, 4, 1, 32, 32,
                                                          AETHER_TILED_ORDER_FORWARD, &big),
                 AETHER_OK);
    CHECK(big > small);
    CHECK(big - small >= 16 * 4 * 32 * sizeof(float));
    /* the header's formula, term by term (worst-case padding included) */
    {
        size_t S = sizeof(size_t) * 8, P = sizeof(void *), T = 128, g = 4, dim = 32, G = 1;
        size_t formula = T * g * (4 * dim + 8 + 2 * P) + (1 + G + S) * sizeof(size_t) +
                         (2 + S) * (2 * sizeof(size_t) + 8 * dim) + 4 * 63 +
                         3 * (sizeof(size_t) - 1);
        CHECK_EQ_INT(s64, formula);
    }
    printf("tiled workspace: seq 1k %zu B, 64k %zu B; forward: 1k %zu B, 64k %zu B\n", s1, s64,
           fwd1, fwd64);
}

/* A caller buffer of exactly the queried size works, one byte less does not,
 * and a large sequence runs in it. */
static void test_workspace_exact(void)
{
    static const size_t globals[1] = {0};
    aether_attn_config cfg;
    aether_tensor q, k, v, a, b;
    uint64_t seed = 3;
    size_t seq = 5000, dim = 8, need = 0;
    unsigned char *ws;
    test_make_config(&cfg, 16, 8, globals, 1, 1, 1, 1, 0);
    aether_tensor_zeros(&q, seq, 2, dim);
    aether_tensor_zeros(&k, seq, 1, dim);
    aether_tensor_zeros(&v, seq, 1, dim);
    aether_tensor_zeros(&a, seq, 2, dim);
    aether_tensor_zeros(&b, seq, 2, dim);
    test_fill(&q, &seed, 1.0f);
    test_fill(&k, &seed, 1.0f);
    test_fill(&v, &seed, 1.0f);
    CHECK_STATUS(aether_attn_forward_tiled_workspace_size(&cfg, seq, 2, 1, dim, 0,
                                                          AETHER_TILED_ORDER_FORWARD, &need),
                 AETHER_OK);
    ws = (unsigned char *)malloc(need + 1);
    CHECK_STATUS(aether_attn_forward_gqa_tiled(&cfg, &q, &k, &v, &a, 0,
                                               AETHER_TILED_ORDER_FORWARD, ws + 1, need - 1),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_attn_forward_gqa_tiled(&cfg, &q, &k, &v, &a, 0,
                                               AETHER_TILED_ORDER_FORWARD, ws + 1, need),
                 AETHER_OK);
    CHECK_STATUS(ws_attn_forward_gqa(&cfg, &q, &k, &v, &b), AETHER_OK);
    CHECK(test_count_bit_diffs(&a, &b) == 0);
    free(ws);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&a);
    aether_tensor_free(&b);
}

static void test_errors(void)
{
    static const size_t globals[1] = {0};
    aether_attn_config cfg, bad;
    aether_tensor q, k, v, o, k2, o2;
    float buf[4 * 2 * 8], kb[4 * 2 * 8], vb[4 * 2 * 8], ob[4 * 2 * 8], k2b[4 * 3 * 8];
    float ob2[4 * 2 * 4];
    size_t bytes;
    test_make_config(&cfg, 2, 2, globals, 1, 1, 1, 1, 0);
    memset(&bad, 0, sizeof bad);
    memset(buf, 0, sizeof buf);
    memset(kb, 0, sizeof kb);
    memset(vb, 0, sizeof vb);
    memset(k2b, 0, sizeof k2b);
    aether_tensor_view(&q, buf, 64, 4, 2, 8);
    aether_tensor_view(&k, kb, 64, 4, 2, 8);
    aether_tensor_view(&v, vb, 64, 4, 2, 8);
    aether_tensor_view(&o, ob, 64, 4, 2, 8);
    aether_tensor_view(&k2, k2b, 96, 4, 3, 8);
    aether_tensor_view(&o2, ob2, 32, 4, 2, 4);

    CHECK_STATUS(ws_attn_forward_tiled(NULL, &q, &k, &v, &o, 0, 0), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(ws_attn_forward_tiled(&cfg, &q, NULL, &v, &o, 0, 0), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(ws_attn_forward_tiled(&bad, &q, &k, &v, &o, 0, 0), AETHER_ERR_NOT_INITIALIZED);
    CHECK_STATUS(ws_attn_forward_tiled(&cfg, &q, &k, &v, &o, 0, (aether_tiled_order)7),
                 AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(ws_attn_forward_tiled(&cfg, &q, &k2, &v, &o, 0, 0), AETHER_ERR_SHAPE_MISMATCH);
    CHECK_STATUS(ws_attn_forward_tiled(&cfg, &q, &k, &v, &o2, 0, 0), AETHER_ERR_SHAPE_MISMATCH);
    CHECK_STATUS(ws_attn_forward_tiled(&cfg, &q, &k, &v, &k, 0, 0), AETHER_ERR_INVALID_ARG);
    /* GQA: 2 query heads over 3 kv heads */
    CHECK_STATUS(ws_attn_forward_gqa_tiled(&cfg, &q, &k2, &k2, &o, 0, 0), AETHER_ERR_GQA_RATIO);
    CHECK_STATUS(ws_attn_forward_gqa_tiled(&cfg, &q, &o2, &o2, &o, 0, 0),
                 AETHER_ERR_HEAD_DIM_MISMATCH);
    {
        aether_tensor k1, v1;
        aether_tensor_view(&k1, kb, 32, 4, 1, 8);
        CHECK_STATUS(ws_attn_forward_gqa_tiled(&cfg, &q, &k1, &v, &o, 0, 0),
                     AETHER_ERR_KV_HEADS_MISMATCH);
        aether_tensor_view(&v1, vb, 24, 3, 1, 8);
        CHECK_STATUS(ws_attn_forward_gqa_tiled(&cfg, &q, &k1, &v1, &o, 0, 0),
                     AETHER_ERR_SHAPE_MISMATCH);
    }
    {
        aether_tensor z;
        aether_tensor_view(&z, NULL, 0, 4, 2, 0);
        CHECK_STATUS(ws_attn_forward_tiled(&cfg, &z, &z, &z, &z, 0, 0), AETHER_ERR_ZERO_HEAD_DIM);
        aether_tensor_view(&z, NULL, 0, 0, 2, 8);
        CHECK_STATUS(ws_attn_forward_tiled(&cfg, &z, &z, &z, &z, 0, 0), AETHER_OK);
    }
    CHECK_STATUS(aether_attn_forward_tiled_workspace_size(&cfg, 10, 3, 2, 8, 0, 0, &bytes),
                 AETHER_ERR_GQA_RATIO);
    CHECK_STATUS(aether_attn_forward_tiled_workspace_size(&cfg, 10, 2, 2, 0, 0, 0, &bytes),
                 AETHER_ERR_ZERO_HEAD_DIM);
    CHECK_STATUS(aether_attn_forward_tiled_workspace_size(&cfg, 10, 2, 2, 8, (size_t)-1, 0,
                                                          &bytes),
                 AETHER_OK); /* tile clipped to seq */
    CHECK_STATUS(aether_attn_forward_tiled_workspace_size(&cfg, (size_t)-1, 2, 2, 8, (size_t)-1,
                                                          0, &bytes),
                 AETHER_ERR_OVERFLOW);
    CHECK_EQ_INT(aether_attn_tiled_tile(&cfg, 0), 2);
    CHECK_EQ_INT(aether_attn_tiled_tile(&cfg, 9), 9);
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
    float qd[6 * 2 * 4], kd[6 * 1 * 4], od[6 * 2 * 4];
    unsigned char one[1];
    aether_tensor q, k, out, e;
    size_t i, o, need = 0;
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
    for (o = 0; o < 2; ++o) {
        aether_tiled_order order = (aether_tiled_order)o;
        CHECK_STATUS(aether_attn_forward_gqa_tiled(&cfg, &q, &k, &k, &out, 0, order, NULL, 0),
                     AETHER_ERR_NULL_ARG);
        CHECK_STATUS(aether_attn_forward_gqa_tiled(&cfg, &q, &k, &k, &out, 0, order, one,
                                                   sizeof one),
                     AETHER_ERR_BUFFER_TOO_SMALL);
        CHECK_STATUS(aether_attn_forward_tiled(&cfg, &q, &q, &q, &out, 0, order, NULL, 0),
                     AETHER_ERR_NULL_ARG);
        /* argument errors come first */
        CHECK_STATUS(aether_attn_forward_tiled(&cfg, &q, &k, &k, &out, 0, order, NULL, 0),
                     AETHER_ERR_SHAPE_MISMATCH);
        CHECK(test_all_equal(od, 48, 7.0f));
    }
    CHECK_STATUS(aether_attn_forward_tiled_workspace_size(&cfg, 6, 2, 1, 4, 0,
                                                          AETHER_TILED_ORDER_FORWARD, &need),
                 AETHER_OK);
    ws = test_ws(need);
    CHECK_STATUS(aether_attn_forward_gqa_tiled(&cfg, &q, &k, &k, &out, 0,
                                               AETHER_TILED_ORDER_FORWARD, ws, need),
                 AETHER_OK);
    CHECK(!test_all_equal(od, 48, 7.0f));
    free(ws);
    CHECK_STATUS(aether_tensor_view(&e, qd, 0, 0, 2, 4), AETHER_OK);
    CHECK_STATUS(aether_attn_forward_tiled(&cfg, &e, &e, &e, &e, 0, AETHER_TILED_ORDER_FORWARD,
                                           NULL, 0),
                 AETHER_OK);
}

TEST_MAIN(use_reference_kernels, test_flash_goldens, test_forward_order_matches_forward,
          test_mha_and_alias, test_workspace_bound, test_workspace_exact, test_errors,
          test_workspace_required)
