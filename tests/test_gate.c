/* FastGRNN gate: init bit-exactness, recurrence test vector, goldens of
 * forward_gated_with_fastgrnn, keep masks (total order), causal gate. */
#include "aether/gate.h"
#include "aether/kvcache.h"
#include "aether/npy.h"
#include "aether/dispatch.h"
#include "check.h"
#include "test_util.h"
#include "test_ws.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The goldens were produced with x86-64 glibc's expf/tanhf. */
static int same_libm_as_goldens(void)
{
#if defined(__x86_64__) && defined(__GLIBC__)
    return 1;
#else
    return 0;
#endif
}

static int load_npy(const char *dir, const char *file, aether_npy *a)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", AETHER_GOLDEN_DIR, dir, file);
    if (aether_npy_load(path, a) != AETHER_OK) {
        CHECK_MSG(0, "cannot load %s", path);
        return -1;
    }
    return 0;
}

static size_t bit_diffs(const float *a, const float *b, size_t n)
{
    size_t i, d = 0;
    for (i = 0; i < n; ++i)
        if (aether_f32_bits(a[i]) != aether_f32_bits(b[i]))
            d++;
    return d;
}

static void test_init_vector(void)
{
    aether_fastgrnn *g = NULL;
    const float *wg, *ug, *wu, *uu, *bg, *bu;
    float zeta, nu;
    size_t bytes = 0, r;
    unsigned char *buf;
    CHECK_STATUS(aether_fastgrnn_size(4, 8, &bytes), AETHER_OK);
    buf = (unsigned char *)malloc(bytes + 3);
    CHECK_STATUS(aether_fastgrnn_init(buf + 3, bytes - 1, 4, 8, AETHER_FASTGRNN_SEED_REFERENCE,
                                      &g),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK(g == NULL);
    CHECK_STATUS(aether_fastgrnn_init(buf + 3, bytes, 4, 8, AETHER_FASTGRNN_SEED_REFERENCE, &g),
                 AETHER_OK);
    CHECK_EQ_INT(aether_fastgrnn_input_dim(g), 4);
    CHECK_EQ_INT(aether_fastgrnn_hidden_dim(g), 8);
    CHECK_STATUS(aether_fastgrnn_params(g, &wg, &ug, &wu, &uu, &bg, &bu, &zeta, &nu), AETHER_OK);
    CHECK_EQ_INT(aether_f32_bits(wg[0]), 0x3C1DE657u);
    CHECK_EQ_INT(aether_f32_bits(wg[1]), 0xBCB0898Bu);
    CHECK(wg[0] == 0.009637437f);
    CHECK(wg[1] == -0.02154996f);
    CHECK(wg[2] == 0.028912306f);
    CHECK(wg[3] == -0.0022750895f);
    CHECK(ug[0] == 0.012412443f);
    CHECK(ug[1] == -0.01877495f);
    CHECK(wu[0] == 0.015187454f);
    CHECK(uu[0] == 0.017962461f);
    for (r = 0; r < 8; ++r)
        CHECK(bg[r] == 0.0f && bu[r] == 0.0f);
    CHECK(zeta == 1.0f && nu == 0.0f);
    free(buf);
}

static void test_salience_vector(void)
{
    static const float want[6] = {0.04931711f,  0.05898581f,  0.052921593f,
                                  0.047916025f, 0.056698654f, 0.07849147f};
    aether_fastgrnn *g = NULL;
    float x[6 * 4], s[6], h[8], h2[8], sal;
    size_t t, r;
    CHECK_STATUS(aether_fastgrnn_create(4, 8, AETHER_FASTGRNN_SEED_REFERENCE, &g), AETHER_OK);
    for (t = 0; t < 6; ++t) {
        x[t * 4 + 0] = (float)t * 0.5f - 1.0f;
        x[t * 4 + 1] = 0.25f;
        x[t * 4 + 2] = -0.5f;
        x[t * 4 + 3] = (float)t * 0.1f;
    }
    CHECK_STATUS(ws_fastgrnn_score_sequence(g, x, 24, 6, s, 6), AETHER_OK);
    for (t = 0; t < 6; ++t)
        CHECK_NEAR(s[t], want[t], 1e-6);
    /* step-by-step equals score_sequence */
    for (r = 0; r < 8; ++r)
        h[r] = 0.0f;
    for (t = 0; t < 6; ++t) {
        CHECK_STATUS(aether_fastgrnn_step(g, x + t * 4, 4, h, h2, &sal), AETHER_OK);
        CHECK(aether_f32_bits(sal) == aether_f32_bits(s[t]));
        memcpy(h, h2, sizeof h);
        CHECK_STATUS(aether_fastgrnn_salience(g, h, 8, &sal), AETHER_OK);
        CHECK(aether_f32_bits(sal) == aether_f32_bits(s[t]));
    }
    /* errors */
    CHECK_STATUS(aether_fastgrnn_step(g, x, 4, h, h, &sal), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_fastgrnn_step(g, x, 4, h, h + 1, &sal), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_fastgrnn_step(g, x, 3, h, h2, &sal), AETHER_ERR_SHAPE_MISMATCH);
    CHECK_STATUS(aether_fastgrnn_step(NULL, x, 4, h, h2, &sal), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_fastgrnn_salience(g, h, 7, &sal), AETHER_ERR_SHAPE_MISMATCH);
    CHECK_STATUS(ws_fastgrnn_score_sequence(g, x, 23, 6, s, 6), AETHER_ERR_SHAPE_MISMATCH);
    CHECK_STATUS(ws_fastgrnn_score_sequence(g, x, 24, 6, s, 5), AETHER_ERR_SHAPE_MISMATCH);
    {
        size_t need = 0;
        unsigned char wsb[512];
        CHECK_STATUS(aether_fastgrnn_workspace_size(g, &need), AETHER_OK);
        CHECK(need <= sizeof wsb);
        CHECK_STATUS(aether_fastgrnn_score_sequence(g, x, 24, 6, s, 6, wsb, need - 1),
                     AETHER_ERR_BUFFER_TOO_SMALL);
        CHECK_STATUS(aether_fastgrnn_score_sequence(g, x, 24, 6, s, 6, wsb, need), AETHER_OK);
        CHECK_NEAR(s[5], want[5], 1e-6);
    }
    aether_fastgrnn_destroy(g);
}

static void test_seeding_and_weights(void)
{
    aether_fastgrnn *ref = NULL, *dis = NULL, *small_ref = NULL, *small_dis = NULL, *fw = NULL;
    const float *a[4], *b[4];
    aether_fastgrnn_weights w;
    float zeros[32];
    size_t i, m, same = 0;
    memset(zeros, 0, sizeof zeros);
    CHECK_STATUS(aether_fastgrnn_create(32, 32, AETHER_FASTGRNN_SEED_REFERENCE, &ref), AETHER_OK);
    CHECK_STATUS(aether_fastgrnn_create(32, 32, AETHER_FASTGRNN_SEED_DISJOINT, &dis), AETHER_OK);
    CHECK_STATUS(aether_fastgrnn_params(ref, &a[0], &a[1], &a[2], &a[3], NULL, NULL, NULL, NULL),
                 AETHER_OK);
    CHECK_STATUS(aether_fastgrnn_params(dis, &b[0], &b[1], &b[2], &b[3], NULL, NULL, NULL, NULL),
                 AETHER_OK);
    /* Seed overlap (docs/KERNELS.md 11.2): W_g[1000 + e] == U_g[e] for 1024-element matrices. */
    for (i = 0; i < 24; ++i)
        CHECK(aether_f32_bits(a[0][1000 + i]) == aether_f32_bits(a[1][i]));
    /* Disjoint seeding: W_g is the same; no weight repeats across matrices. */
    CHECK(bit_diffs(a[0], b[0], 1024) == 0);
    for (m = 1; m < 4; ++m)
        for (i = 0; i < 1024; ++i)
            if (aether_f32_bits(b[0][i]) == aether_f32_bits(b[m][i]) ||
                aether_f32_bits(b[0][1000 + (i % 24)]) == aether_f32_bits(b[m][i % 24]))
                same++;
    CHECK_EQ_INT(same, 0);
    /* Without overlap both seedings agree. */
    CHECK_STATUS(aether_fastgrnn_create(4, 8, AETHER_FASTGRNN_SEED_REFERENCE, &small_ref),
                 AETHER_OK);
    CHECK_STATUS(aether_fastgrnn_create(4, 8, AETHER_FASTGRNN_SEED_DISJOINT, &small_dis),
                 AETHER_OK);
    CHECK_STATUS(aether_fastgrnn_params(small_ref, &a[0], &a[1], &a[2], &a[3], NULL, NULL, NULL,
                                        NULL),
                 AETHER_OK);
    CHECK_STATUS(aether_fastgrnn_params(small_dis, &b[0], &b[1], &b[2], &b[3], NULL, NULL, NULL,
                                        NULL),
                 AETHER_OK);
    CHECK(bit_diffs(a[0], b[0], 32) == 0 && bit_diffs(a[1], b[1], 64) == 0 &&
          bit_diffs(a[2], b[2], 32) == 0 && bit_diffs(a[3], b[3], 64) == 0);

    /* from_weights: length checks in reference order, then a faithful copy */
    memset(&w, 0, sizeof w);
    w.input_dim = 4;
    w.hidden_dim = 8;
    w.w_gate = a[0];
    w.w_gate_len = 32;
    w.u_gate = a[1];
    w.u_gate_len = 64;
    w.w_update = a[2];
    w.w_update_len = 32;
    w.u_update = a[3];
    w.u_update_len = 64;
    w.b_gate = zeros;
    w.b_gate_len = 8;
    w.b_update = zeros;
    w.b_update_len = 8;
    w.zeta = 1.0f;
    w.nu = 0.0f;
    w.u_gate_len = 63;
    w.b_update_len = 7;
    CHECK_STATUS(aether_fastgrnn_create_from_weights(&w, &fw), AETHER_ERR_SHAPE_MISMATCH);
    w.u_gate_len = 64;
    CHECK_STATUS(aether_fastgrnn_create_from_weights(&w, &fw), AETHER_ERR_SHAPE_MISMATCH);
    w.b_update_len = 8;
    w.hidden_dim = 0;
    CHECK_STATUS(aether_fastgrnn_create_from_weights(&w, &fw), AETHER_ERR_INVALID_ARG);
    w.hidden_dim = 8;
    w.b_gate = NULL;
    CHECK_STATUS(aether_fastgrnn_create_from_weights(&w, &fw), AETHER_ERR_NULL_ARG);
    w.b_gate = zeros;
    CHECK(fw == NULL);
    CHECK_STATUS(aether_fastgrnn_create_from_weights(&w, &fw), AETHER_OK);
    {
        float x[4] = {0.5f, -1.0f, 0.25f, 2.0f}, s1[1], s2[1];
        CHECK_STATUS(ws_fastgrnn_score_sequence(fw, x, 4, 1, s1, 1), AETHER_OK);
        CHECK_STATUS(ws_fastgrnn_score_sequence(small_ref, x, 4, 1, s2, 1), AETHER_OK);
        CHECK(aether_f32_bits(s1[0]) == aether_f32_bits(s2[0]));
    }
    {
        aether_fastgrnn *g = NULL;
        size_t bytes;
        CHECK_STATUS(aether_fastgrnn_size(0, 8, &bytes), AETHER_ERR_INVALID_ARG);
        CHECK_STATUS(aether_fastgrnn_size((size_t)-1, (size_t)-1, &bytes), AETHER_ERR_OVERFLOW);
        CHECK_STATUS(aether_fastgrnn_create(4, 8, (aether_fastgrnn_seeding)9, &g),
                     AETHER_ERR_INVALID_ARG);
        CHECK_EQ_INT(aether_fastgrnn_input_dim(NULL), 0);
    }
    aether_fastgrnn_destroy(ref);
    aether_fastgrnn_destroy(dis);
    aether_fastgrnn_destroy(small_ref);
    aether_fastgrnn_destroy(small_dis);
    aether_fastgrnn_destroy(fw);
    aether_fastgrnn_destroy(NULL);
}

typedef struct fg_case {
    const char *name;
    size_t window, block;
    size_t globals[2];
    size_t n_globals;
    int causal;
    size_t hidden, top_k;
} fg_case;

static const fg_case k_fg[] = {
    {"forward_gated_fastgrnn_c_w32_b16_g01_s1000_h32_top8", 32, 16, {0, 1}, 2, 1, 32, 8},
    {"forward_gated_fastgrnn_c_w8_b16_s100_h16_top2", 8, 16, {0, 0}, 1, 1, 16, 2},
    {"forward_gated_fastgrnn_c_w8_b16_s100_h16_top8", 8, 16, {0, 0}, 1, 1, 16, 8},
    {"forward_gated_fastgrnn_nc_w8_b16_s100_h8_top2", 8, 16, {0, 0}, 1, 0, 8, 2},
};

static void make_config(aether_attn_config *cfg, size_t window, size_t block,
                        const size_t *globals, size_t n_globals, int causal)
{
    aether_attn_params p = aether_attn_params_default();
    p.window = window;
    p.block_size = block;
    p.globals = globals;
    p.n_globals = n_globals;
    p.causal = causal;
    CHECK_STATUS(aether_attn_config_init(cfg, &p), AETHER_OK);
}

static void test_fastgrnn_goldens(void)
{
    REQUIRE_GOLDEN();
    size_t c;
    for (c = 0; c < sizeof k_fg / sizeof k_fg[0]; ++c) {
        const fg_case *fc = &k_fg[c];
        static const char *mats[4] = {"gate_w_gate.npy", "gate_u_gate.npy", "gate_w_update.npy",
                                      "gate_u_update.npy"};
        aether_attn_config cfg;
        aether_fastgrnn *g = NULL;
        aether_tensor q, k, v, want, got;
        aether_npy sal, mask, mat;
        const float *p[4];
        float *s;
        uint8_t *m;
        size_t i, mi;
        make_config(&cfg, fc->window, fc->block, fc->globals, fc->n_globals, fc->causal);
        if (test_load_golden(fc->name, "q.npy", &q) || test_load_golden(fc->name, "k.npy", &k) ||
            test_load_golden(fc->name, "v.npy", &v) ||
            test_load_golden(fc->name, "out.npy", &want) ||
            load_npy(fc->name, "salience.npy", &sal) ||
            load_npy(fc->name, "keep_mask.npy", &mask))
            continue;
        CHECK_STATUS(aether_fastgrnn_create(k.dim, fc->hidden, AETHER_FASTGRNN_SEED_REFERENCE,
                                            &g),
                     AETHER_OK);
        CHECK_STATUS(aether_fastgrnn_params(g, &p[0], &p[1], &p[2], &p[3], NULL, NULL, NULL,
                                            NULL),
                     AETHER_OK);
        for (mi = 0; mi < 4; ++mi) {
            if (load_npy(fc->name, mats[mi], &mat))
                continue;
            CHECK_MSG(bit_diffs(p[mi], (const float *)mat.data, mat.count) == 0, "%s %s",
                      fc->name, mats[mi]);
            aether_npy_free(&mat);
        }
        s = (float *)malloc(k.seq * sizeof(float));
        m = (uint8_t *)malloc(k.seq);
        CHECK_STATUS(aether_tensor_zeros(&got, q.seq, q.heads, q.dim), AETHER_OK);
        CHECK_STATUS(ws_attn_forward_gated_fastgrnn(&cfg, g, &q, &k, &v, fc->top_k, &got, s, m),
                     AETHER_OK);
        /* Saliences go through tanhf/expf: bit-exact with the x86-64 glibc
         * the goldens came from, within 1e-6 (docs/KERNELS.md section 11.4) with
         * another libm. */
        if (same_libm_as_goldens())
            CHECK_MSG(bit_diffs(s, (const float *)sal.data, k.seq) == 0, "%s salience", fc->name);
        for (i = 0; i < k.seq; ++i) {
            double d = fabs((double)s[i] - ((const float *)sal.data)[i]);
            CHECK_MSG(d <= 1e-6, "%s salience[%zu] off by %g", fc->name, i, d);
            if (d > 1e-6)
                break;
        }
        CHECK_MSG(memcmp(m, mask.data, k.seq) == 0, "%s keep_mask", fc->name);
        CHECK_MSG(bit_diffs(got.data, want.data, aether_tensor_size(&got)) == 0, "%s out",
                  fc->name);
        /* the pieces separately give the same */
        CHECK_STATUS(ws_fastgrnn_score_kv(g, &k, s, k.seq), AETHER_OK);
        CHECK(!same_libm_as_goldens() || bit_diffs(s, (const float *)sal.data, k.seq) == 0);
        CHECK_STATUS(ws_keep_mask_top_k(s, k.seq, fc->top_k, m), AETHER_OK);
        CHECK(memcmp(m, mask.data, k.seq) == 0);
        free(s);
        free(m);
        aether_fastgrnn_destroy(g);
        aether_npy_free(&sal);
        aether_npy_free(&mask);
        aether_tensor_free(&q);
        aether_tensor_free(&k);
        aether_tensor_free(&v);
        aether_tensor_free(&want);
        aether_tensor_free(&got);
    }
}

static void test_fastgrnn_forward_errors(void)
{
    static const size_t globals[1] = {0};
    aether_attn_config cfg;
    aether_fastgrnn *g = NULL;
    aether_tensor q, k, v, o, kq;
    float qb[5 * 2 * 8], kb[5 * 2 * 8], vb[5 * 2 * 8], ob[5 * 2 * 8], s[5];
    memset(qb, 0, sizeof qb);
    memset(kb, 0, sizeof kb);
    memset(vb, 0, sizeof vb);
    make_config(&cfg, 2, 2, globals, 1, 1);
    aether_tensor_view(&q, qb, 80, 5, 2, 8);
    aether_tensor_view(&k, kb, 80, 5, 2, 8);
    aether_tensor_view(&v, vb, 80, 5, 2, 8);
    aether_tensor_view(&o, ob, 80, 5, 2, 8);
    aether_tensor_view(&kq, kb, 80, 5, 4, 4);
    CHECK_STATUS(aether_fastgrnn_create(4, 8, AETHER_FASTGRNN_SEED_REFERENCE, &g), AETHER_OK);
    /* gate input_dim 4 != head dim 8: an error, not an abort */
    CHECK_STATUS(ws_attn_forward_gated_fastgrnn(&cfg, g, &q, &k, &v, 2, &o, NULL, NULL),
                 AETHER_ERR_SHAPE_MISMATCH);
    CHECK_STATUS(ws_fastgrnn_score_kv(g, &k, s, 5), AETHER_ERR_SHAPE_MISMATCH);
    /* attention validation first */
    CHECK_STATUS(ws_attn_forward_gated_fastgrnn(&cfg, g, &q, &kq, &v, 2, &o, NULL, NULL),
                 AETHER_ERR_HEAD_DIM_MISMATCH);
    CHECK_STATUS(ws_attn_forward_gated_fastgrnn(&cfg, NULL, &q, &k, &v, 2, &o, NULL, NULL),
                 AETHER_ERR_NULL_ARG);
    CHECK_STATUS(ws_fastgrnn_score_kv(g, &kq, s, 4), AETHER_ERR_SHAPE_MISMATCH);
    CHECK_STATUS(ws_fastgrnn_score_kv(g, &kq, s, 5), AETHER_OK);
    aether_fastgrnn_destroy(g);
}

static void mask_from(const uint8_t *m, size_t n, char *out)
{
    size_t i;
    for (i = 0; i < n; ++i)
        out[i] = m[i] ? 'T' : 'F';
    out[n] = '\0';
}

static void test_keep_masks(void)
{
    static const float crate[8] = {0.1f, 0.5f, 0.9f, 0.2f, 0.8f, 0.3f, 0.7f, 0.4f};
    static const float small[4] = {0.3f, 0.1f, 0.3f, 0.2f};
    float withnan[6] = {0.3f, 0.1f, 0.3f, 0.2f, 0.0f, 0.3f};
    uint8_t m[8];
    char str[9];
    size_t need = 0;
    unsigned char ws[64];
    withnan[4] = NAN;

    CHECK_STATUS(ws_keep_mask_top_k(crate, 8, 3, m), AETHER_OK);
    mask_from(m, 8, str);
    CHECK(strcmp(str, "FFTFTFTF") == 0);
    CHECK_STATUS(ws_keep_mask_top_k(withnan, 6, 3, m), AETHER_OK);
    mask_from(m, 6, str);
    CHECK_MSG(strcmp(str, "TFTFFT") == 0, "NaN top-3 gave %s", str);
    CHECK_STATUS(ws_keep_mask_top_k(withnan, 6, 5, m), AETHER_OK);
    mask_from(m, 6, str);
    CHECK(strcmp(str, "TTTTFT") == 0); /* NaN is the lowest */
    CHECK_STATUS(ws_keep_mask_top_k(small, 4, 0, m), AETHER_OK);
    mask_from(m, 4, str);
    CHECK(strcmp(str, "FFFF") == 0);
    CHECK_STATUS(ws_keep_mask_top_k(small, 4, 4, m), AETHER_OK);
    mask_from(m, 4, str);
    CHECK(strcmp(str, "TTTT") == 0);
    CHECK_STATUS(ws_keep_mask_top_k(small, 4, 1, m), AETHER_OK);
    mask_from(m, 4, str);
    CHECK(strcmp(str, "TFFF") == 0); /* tie 0.3/0.3 -> lower index */
    CHECK_STATUS(aether_keep_mask_top_k_workspace_size(8, 3, &need), AETHER_OK);
    CHECK(need <= sizeof ws);
    CHECK_STATUS(aether_keep_mask_top_k(crate, 8, 3, m, ws, need - 1),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    /* any buffer alignment works */
    CHECK_STATUS(aether_keep_mask_top_k(crate, 8, 3, m, ws + 1, need), AETHER_OK);
    mask_from(m, 8, str);
    CHECK(strcmp(str, "FFTFTFTF") == 0);
    CHECK_STATUS(ws_keep_mask_top_k(NULL, 0, 3, NULL), AETHER_OK);
    CHECK_STATUS(ws_keep_mask_top_k(NULL, 2, 1, m), AETHER_ERR_NULL_ARG);

    CHECK_STATUS(ws_keep_mask_quantile(small, 4, 0.5f, m), AETHER_OK);
    mask_from(m, 4, str);
    CHECK(strcmp(str, "TFTF") == 0);
    CHECK_STATUS(ws_keep_mask_quantile(small, 4, 1.0f, m), AETHER_OK);
    mask_from(m, 4, str);
    CHECK(strcmp(str, "TFTF") == 0);
    CHECK_STATUS(ws_keep_mask_quantile(small, 4, 0.0f, m), AETHER_OK);
    mask_from(m, 4, str);
    CHECK(strcmp(str, "TTTT") == 0);
    CHECK_STATUS(ws_keep_mask_quantile(small, 4, 7.0f, m), AETHER_OK); /* clamped */
    mask_from(m, 4, str);
    CHECK(strcmp(str, "TFTF") == 0);
    CHECK_STATUS(ws_keep_mask_quantile(crate, 8, 0.75f, m), AETHER_OK);
    mask_from(m, 8, str);
    CHECK(strcmp(str, "FFTFTFFF") == 0);
    /* NaN: sorted first; q 0 -> NaN threshold keeps all; q 0.5 -> NaN dropped */
    CHECK_STATUS(ws_keep_mask_quantile(withnan, 6, 0.0f, m), AETHER_OK);
    mask_from(m, 6, str);
    CHECK(strcmp(str, "TTTTTT") == 0);
    CHECK_STATUS(ws_keep_mask_quantile(withnan, 6, 0.5f, m), AETHER_OK);
    mask_from(m, 6, str);
    CHECK(strcmp(str, "TFTFFT") == 0);
    CHECK_STATUS(ws_keep_mask_quantile(small, 4, NAN, m), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_keep_mask_quantile_workspace_size(4, &need), AETHER_OK);
    CHECK_STATUS(aether_keep_mask_quantile(small, 4, 0.5f, m, ws, need - 1),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_keep_mask_quantile(crate, 8, 0.75f, m, ws + 3, 60), AETHER_OK);
    mask_from(m, 8, str);
    CHECK(strcmp(str, "FFTFTFFF") == 0);
}

static float urand(uint64_t *s)
{
    return (float)(test_splitmix(s) >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
}

/* Prefix top-k against a direct O(n^2) definition, the superset property,
 * NaN and ties, and the threshold rule. */
static void test_causal_masks(void)
{
    uint64_t seed = 11;
    float s[300];
    uint8_t mc[300], mg[300];
    size_t n = 300, i, j, k;
    aether_causal_params p;
    for (i = 0; i < n; ++i)
        s[i] = (float)(int)(urand(&seed) * 20.0f) / 20.0f; /* many ties */
    s[17] = NAN;
    s[150] = NAN;
    p.rule = AETHER_CAUSAL_PREFIX_TOP_K;
    p.threshold = 0.0f;
    for (k = 0; k <= 12; k += 3) {
        p.top_k = k;
        CHECK_STATUS(ws_keep_mask_causal(&p, s, n, mc), AETHER_OK);
        CHECK_STATUS(ws_keep_mask_top_k(s, n, k, mg), AETHER_OK);
        for (j = 0; j < n; ++j) {
            size_t above = 0;
            for (i = 0; i < j; ++i) {
                int ge = isnan(s[j]) ? 1 : (!isnan(s[i]) && s[i] >= s[j]);
                above += (size_t)ge;
            }
            CHECK_MSG(mc[j] == (above < k), "k %zu j %zu", k, j);
            CHECK(!mg[j] || mc[j]); /* superset of the reference top-k */
        }
    }
    p.top_k = 1000;
    CHECK_STATUS(ws_keep_mask_causal(&p, s, n, mc), AETHER_OK);
    for (j = 0; j < n; ++j)
        CHECK(mc[j] == 1);
    p.rule = AETHER_CAUSAL_THRESHOLD;
    p.threshold = 0.25f;
    CHECK_STATUS(ws_keep_mask_causal(&p, s, n, mc), AETHER_OK);
    for (j = 0; j < n; ++j)
        CHECK(mc[j] == (s[j] >= 0.25f));
    p.threshold = NAN;
    CHECK_STATUS(ws_keep_mask_causal(&p, s, n, mc), AETHER_ERR_INVALID_ARG);
    p.rule = (aether_causal_rule)5;
    CHECK_STATUS(ws_keep_mask_causal(&p, s, n, mc), AETHER_ERR_INVALID_ARG);
}

/* The streaming state decides exactly what the window function decides. */
static void test_causal_stream_matches_window(void)
{
    uint64_t seed = 23;
    aether_fastgrnn *g = NULL;
    aether_causal_gate *cg = NULL;
    aether_causal_params p;
    aether_tensor k;
    size_t seq = 400, kvh = 3, dim = 8, t, rule;
    uint8_t mask[400], keep;
    float sal[400], s1;
    CHECK_STATUS(aether_fastgrnn_create(dim, 16, AETHER_FASTGRNN_SEED_REFERENCE, &g), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&k, seq, kvh, dim), AETHER_OK);
    for (t = 0; t < aether_tensor_size(&k); ++t)
        k.data[t] = urand(&seed) * 3.0f;
    for (rule = 0; rule < 2; ++rule) {
        p.rule = rule ? AETHER_CAUSAL_THRESHOLD : AETHER_CAUSAL_PREFIX_TOP_K;
        p.top_k = 6;
        p.threshold = 0.2f;
        CHECK_STATUS(ws_causal_gate_window(g, &p, &k, mask, seq, sal), AETHER_OK);
        CHECK_STATUS(aether_causal_gate_create(g, &p, kvh, &cg), AETHER_OK);
        for (t = 0; t < seq; ++t) {
            CHECK_STATUS(aether_causal_gate_step(cg, aether_tensor_row(&k, t, 0), kvh * dim,
                                                 &keep, &s1),
                         AETHER_OK);
            CHECK(keep == mask[t]);
            CHECK(aether_f32_bits(s1) == aether_f32_bits(sal[t]));
        }
        CHECK_EQ_INT(aether_causal_gate_position(cg), seq);
        /* errors leave the state alone; reset restarts */
        CHECK_STATUS(aether_causal_gate_step(cg, k.data, kvh * dim - 1, &keep, NULL),
                     AETHER_ERR_SHAPE_MISMATCH);
        CHECK_EQ_INT(aether_causal_gate_position(cg), seq);
        CHECK_STATUS(aether_causal_gate_reset(cg), AETHER_OK);
        CHECK_STATUS(aether_causal_gate_step(cg, k.data, kvh * dim, &keep, &s1), AETHER_OK);
        CHECK(keep == mask[0] && aether_f32_bits(s1) == aether_f32_bits(sal[0]));
        aether_causal_gate_destroy(cg);
        cg = NULL;
    }
    CHECK_STATUS(ws_causal_gate_window(g, &p, &k, mask, seq - 1, NULL), AETHER_ERR_MASK_LENGTH);
    CHECK_STATUS(aether_causal_gate_create(g, &p, 0, &cg), AETHER_ERR_INVALID_ARG);
    {
        size_t bytes = 0;
        unsigned char *buf;
        p.rule = AETHER_CAUSAL_PREFIX_TOP_K;
        CHECK_STATUS(aether_causal_gate_size(g, &p, kvh, &bytes), AETHER_OK);
        buf = (unsigned char *)malloc(bytes);
        CHECK_STATUS(aether_causal_gate_init(buf, bytes - 1, g, &p, kvh, &cg),
                     AETHER_ERR_BUFFER_TOO_SMALL);
        CHECK_STATUS(aether_causal_gate_init(buf, bytes, g, &p, kvh, &cg), AETHER_OK);
        CHECK_EQ_INT(aether_causal_gate_position(cg), 0);
        free(buf);
    }
    aether_tensor_free(&k);
    aether_fastgrnn_destroy(g);
}

/* Streaming: append each token to a KV cache, let the causal gate decide its
 * keep bit as it arrives, decode with the gated decode step - and get, at
 * every position, exactly the row of the gated window forward that uses the
 * causal mask of the whole window. */
static void stream_case(int sort, int lm, size_t q_heads, size_t kv_heads,
                        aether_causal_rule rule)
{
    static const size_t globals[2] = {0, 3};
    uint64_t seed = 1234 + (uint64_t)(sort * 2 + lm);
    aether_attn_params ap = aether_attn_params_default();
    aether_attn_config cfg;
    aether_fastgrnn *g = NULL;
    aether_causal_gate *cg = NULL;
    aether_causal_params p;
    aether_kvcache_params kp;
    aether_kvcache *cache = NULL;
    aether_tensor q, k, v, win, q1, o1, o2;
    size_t seq = 300, dim = 16, t, d, bad = 0, bad_plain = 0, need = 0, kept = 0;
    uint8_t mask[300], stream_mask[300], ones[300];
    unsigned char *ws;

    ap.window = 6;
    ap.block_size = 8;
    ap.globals = globals;
    ap.n_globals = 2;
    ap.sort_candidates = sort;
    ap.use_landmarks = lm;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    CHECK_STATUS(aether_fastgrnn_create(dim, 16, AETHER_FASTGRNN_SEED_REFERENCE, &g), AETHER_OK);
    aether_tensor_zeros(&q, seq, q_heads, dim);
    aether_tensor_zeros(&k, seq, kv_heads, dim);
    aether_tensor_zeros(&v, seq, kv_heads, dim);
    aether_tensor_zeros(&win, seq, q_heads, dim);
    aether_tensor_zeros(&o1, 1, q_heads, dim);
    aether_tensor_zeros(&o2, 1, q_heads, dim);
    for (t = 0; t < aether_tensor_size(&q); ++t)
        q.data[t] = urand(&seed);
    for (t = 0; t < aether_tensor_size(&k); ++t) {
        k.data[t] = urand(&seed);
        v.data[t] = urand(&seed);
    }
    p.rule = rule;
    p.top_k = 10;
    {
        /* a threshold inside the salience range of this data */
        float sal[300];
        CHECK_STATUS(ws_fastgrnn_score_kv(g, &k, sal, seq), AETHER_OK);
        p.threshold = sal[seq / 2];
    }

    /* window: causal mask, then the gated forward */
    CHECK_STATUS(ws_causal_gate_window(g, &p, &k, mask, seq, NULL), AETHER_OK);
    CHECK_STATUS(ws_attn_forward_gqa_gated(&cfg, &q, &k, &v, mask, seq, &win), AETHER_OK);

    /* stream */
    kp = aether_kvcache_params_default(&cfg, seq, kv_heads, dim);
    CHECK_STATUS(aether_kvcache_create(&kp, &cache), AETHER_OK);
    CHECK_STATUS(aether_causal_gate_create(g, &p, kv_heads, &cg), AETHER_OK);
    CHECK_STATUS(aether_kvcache_decode_gated_workspace_size(&cfg, cache, q_heads, &need),
                 AETHER_OK);
    ws = (unsigned char *)malloc(need);
    for (t = 0; t < seq; ++t) {
        float *kr = aether_tensor_row(&k, t, 0), *vr = aether_tensor_row(&v, t, 0);
        CHECK_STATUS(aether_kvcache_append_rows(cache, kr, vr), AETHER_OK);
        CHECK_STATUS(aether_causal_gate_step(cg, kr, kv_heads * dim, &stream_mask[t], NULL),
                     AETHER_OK);
        ones[t] = 1;
        kept += stream_mask[t];
        aether_tensor_view(&q1, aether_tensor_row(&q, t, 0), q_heads * dim, 1, q_heads, dim);
        CHECK_STATUS(aether_kvcache_decode_gated(&cfg, &q1, cache, stream_mask, t + 1, &o1, ws,
                                                 need),
                     AETHER_OK);
        for (d = 0; d < q_heads * dim; ++d)
            if (aether_f32_bits(o1.data[d]) != aether_f32_bits(aether_tensor_row(&win, t, 0)[d]))
                bad++;
        /* all-ones mask == the cache's own decode step */
        CHECK_STATUS(aether_kvcache_decode_gated(&cfg, &q1, cache, ones, t + 1, &o1, ws, need),
                     AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, cache, &o2), AETHER_OK);
        for (d = 0; d < q_heads * dim; ++d)
            if (aether_f32_bits(o1.data[d]) != aether_f32_bits(o2.data[d]))
                bad_plain++;
    }
    CHECK(memcmp(mask, stream_mask, seq) == 0);
    CHECK_MSG(bad == 0, "sort %d lm %d q%zu kv%zu rule %d: %zu values differ from the window",
              sort, lm, q_heads, kv_heads, (int)rule, bad);
    CHECK_MSG(bad_plain == 0, "all-ones gated decode != decode_step (%zu values)", bad_plain);
    CHECK_MSG(kept > 0 && kept < seq, "rule %d kept %zu of %zu", (int)rule, kept, seq);

    /* errors */
    aether_tensor_view(&q1, q.data, q_heads * dim, 1, q_heads, dim);
    CHECK_STATUS(aether_kvcache_decode_gated(&cfg, &q1, cache, stream_mask, seq - 1, &o1, ws,
                                             need),
                 AETHER_ERR_MASK_LENGTH);
    CHECK_STATUS(aether_kvcache_decode_gated(&cfg, &q1, cache, stream_mask, seq, &o1, ws,
                                             need - 1),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_kvcache_decode_gated(&cfg, &q, cache, stream_mask, seq, &o1, ws, need),
                 AETHER_ERR_SEQ_NOT_ONE);
    free(ws);
    aether_kvcache_destroy(cache);
    aether_causal_gate_destroy(cg);
    aether_fastgrnn_destroy(g);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&win);
    aether_tensor_free(&o1);
    aether_tensor_free(&o2);
}

static void test_stream_gated_decode(void)
{
    int sort, lm;
    for (sort = 0; sort <= 1; ++sort)
        for (lm = 0; lm <= 1; ++lm)
            stream_case(sort, lm, 4, 2, AETHER_CAUSAL_PREFIX_TOP_K);
    stream_case(0, 1, 3, 3, AETHER_CAUSAL_THRESHOLD);
    stream_case(1, 1, 2, 1, AETHER_CAUSAL_THRESHOLD);
}

/* The comparisons against aether_attn_forward / decode_step are bitwise:
 * pin the scalar reference kernels (the optimised paths are only within
 * tolerance). The kernels under test here are reference-only anyway. */
static void use_reference_kernels(void)
{
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
}

/* Every workspace call of this header: NULL -> NULL_ARG, 1 byte ->
 * BUFFER_TOO_SMALL, outputs untouched; calls with nothing to compute
 * accept NULL; the queried size works. */
static void test_workspace_required(void)
{
    aether_fastgrnn *g = NULL;
    aether_attn_params ap = aether_attn_params_default();
    aether_attn_config cfg;
    aether_causal_params cp = {AETHER_CAUSAL_PREFIX_TOP_K, 2, 0.0f};
    aether_causal_params ct = {AETHER_CAUSAL_THRESHOLD, 0, 0.5f};
    float x[6 * 4], kd[6 * 2 * 4], od[6 * 2 * 4], sal[6], salx[6];
    uint8_t mask[6];
    unsigned char one[1];
    aether_tensor k, out;
    size_t i, need = 0;
    void *ws;
    CHECK_STATUS(aether_fastgrnn_create(4, 8, AETHER_FASTGRNN_SEED_REFERENCE, &g), AETHER_OK);
    if (!g)
        return;
    for (i = 0; i < 24; ++i)
        x[i] = (float)((int)(i % 5) - 2) * 0.25f;
    for (i = 0; i < 48; ++i)
        kd[i] = (float)((int)(i % 7) - 3) * 0.125f;
    CHECK_STATUS(aether_tensor_view(&k, kd, 48, 6, 2, 4), AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&out, od, 48, 6, 2, 4), AETHER_OK);

    /* FastGRNN scorers */
    for (i = 0; i < 6; ++i)
        sal[i] = 7.0f;
    CHECK_STATUS(aether_fastgrnn_workspace_size(g, &need), AETHER_OK);
    CHECK(need > sizeof one);
    CHECK_STATUS(aether_fastgrnn_score_sequence(g, x, 24, 6, sal, 6, NULL, 0),
                 AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_fastgrnn_score_sequence(g, x, 24, 6, sal, 6, one, sizeof one),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_fastgrnn_score_kv(g, &k, sal, 6, NULL, 0), AETHER_ERR_NULL_ARG);
    CHECK(test_all_equal(sal, 6, 7.0f));
    ws = test_ws(need);
    CHECK_STATUS(aether_fastgrnn_score_kv(g, &k, sal, 6, ws, need), AETHER_OK);
    CHECK(!test_all_equal(sal, 6, 7.0f));
    free(ws);

    /* keep masks */
    memset(mask, 9, sizeof mask);
    CHECK_STATUS(aether_keep_mask_top_k(sal, 6, 2, mask, NULL, 0), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_keep_mask_top_k(sal, 6, 2, mask, one, sizeof one),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_keep_mask_quantile(sal, 6, 0.5f, mask, NULL, 0), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_keep_mask_causal(&cp, sal, 6, mask, NULL, 0), AETHER_ERR_NULL_ARG);
    for (i = 0; i < 6; ++i)
        CHECK_EQ_INT(mask[i], 9);
    /* nothing ranked: no workspace used */
    CHECK_STATUS(aether_keep_mask_top_k(sal, 6, 6, mask, NULL, 0), AETHER_OK);
    CHECK_EQ_INT(mask[0] + mask[5], 2);
    CHECK_STATUS(aether_keep_mask_causal(&ct, sal, 6, mask, NULL, 0), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_keep_mask_causal(&ct, NULL, 0, NULL, NULL, 0), AETHER_OK);
    CHECK_STATUS(aether_keep_mask_quantile(NULL, 0, 0.5f, NULL, NULL, 0), AETHER_OK);

    /* window gate */
    memset(mask, 9, sizeof mask);
    for (i = 0; i < 6; ++i)
        salx[i] = 7.0f;
    CHECK_STATUS(aether_causal_gate_window(g, &cp, &k, mask, 6, salx, NULL, 0),
                 AETHER_ERR_NULL_ARG);
    CHECK(test_all_equal(salx, 6, 7.0f) && mask[0] == 9 && mask[5] == 9);
    CHECK_STATUS(aether_causal_gate_window_workspace_size(g, &cp, 6, &need), AETHER_OK);
    ws = test_ws(need);
    CHECK_STATUS(aether_causal_gate_window(g, &cp, &k, mask, 6, salx, ws, need), AETHER_OK);
    CHECK(mask[0] == 1 && salx[0] == sal[0]);
    free(ws);

    /* gated attention with the gate */
    ap.window = 2;
    ap.block_size = 2;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    for (i = 0; i < 48; ++i)
        od[i] = 7.0f;
    CHECK_STATUS(aether_attn_forward_gated_fastgrnn(&cfg, g, &k, &k, &k, 3, &out, salx, mask,
                                                    NULL, 0),
                 AETHER_ERR_NULL_ARG);
    CHECK(test_all_equal(od, 48, 7.0f));
    CHECK_STATUS(aether_attn_forward_gated_fastgrnn_workspace_size(&cfg, g, 6, 2, 2, 4, 3, &need),
                 AETHER_OK);
    ws = test_ws(need);
    CHECK_STATUS(aether_attn_forward_gated_fastgrnn(&cfg, g, &k, &k, &k, 3, &out, salx, mask, ws,
                                                    need - 1),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK(test_all_equal(od, 48, 7.0f));
    CHECK_STATUS(aether_attn_forward_gated_fastgrnn(&cfg, g, &k, &k, &k, 3, &out, salx, mask, ws,
                                                    need),
                 AETHER_OK);
    CHECK(!test_all_equal(od, 48, 7.0f));
    free(ws);
    aether_fastgrnn_destroy(g);
}

TEST_MAIN(use_reference_kernels, test_init_vector, test_salience_vector, test_seeding_and_weights,
          test_fastgrnn_goldens, test_fastgrnn_forward_errors, test_keep_masks, test_causal_masks,
          test_causal_stream_matches_window, test_stream_gated_decode, test_workspace_required)
