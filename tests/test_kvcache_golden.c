/*
 * KV cache against the reference goldens: decode_*, decode_f16_*,
 * decode_batch_* and h2o_* cases, bit for bit (Welford landmark mode), plus
 * the LM_SUM claim that causal streaming reproduces forward() exactly, and
 * the reduced storages (f16, bf16, int8) on the decode cases against the
 * f32 cache within their accuracy bound.
 */
#include <stdint.h>
#include <stdlib.h>

#include "aether/dispatch.h"
#include "aether/kvcache.h"
#include "aether/npy.h"
#include "check.h"
#include "kv_prec_bound.h"
#include "test_util.h"

/* The goldens and the decode == forward claims are bit for bit: they hold
 * for the reference arithmetic, so every test here runs on it. */
static void test_pin_reference(void)
{
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
}

/* ---------- tiny case.json reader (the fields these cases use) ---------- */

/* Pointer just past `"key":`, or NULL. */
static const char *json_at(const char *js, const char *key)
{
    char pat[64];
    const char *p;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    p = strstr(js, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        ++p;
    return p;
}

static long json_int(const char *js, const char *key, long def)
{
    const char *p = json_at(js, key);
    return p ? strtol(p, NULL, 10) : def;
}

static int json_bool(const char *js, const char *key)
{
    const char *p = json_at(js, key);
    return p && strncmp(p, "true", 4) == 0;
}

static size_t json_list(const char *js, const char *key, size_t *out, size_t cap)
{
    const char *p = json_at(js, key);
    size_t n = 0;
    char *end;
    if (!p || *p != '[')
        return 0;
    ++p;
    while (*p && *p != ']' && n < cap) {
        while (*p == ' ' || *p == ',')
            ++p;
        if (*p == ']')
            break;
        out[n++] = (size_t)strtoul(p, &end, 10);
        p = end;
    }
    return n;
}

typedef struct gcase {
    char dir[512];
    char *js;
    aether_attn_config cfg;
    size_t q_heads, kv_heads, dim, seq, capacity;
} gcase;

static int load_case(gcase *c, const char *name, int force_sort_off)
{
    char path[600];
    size_t globals[AETHER_MAX_GLOBALS], len = 0;
    aether_attn_params p;
    snprintf(c->dir, sizeof c->dir, "%s/%s", AETHER_GOLDEN_DIR, name);
    snprintf(path, sizeof path, "%s/case.json", c->dir);
    c->js = (char *)test_read_file(path, &len); /* NUL-terminated */
    if (!c->js)
        return -1;
    p = aether_attn_params_default();
    p.window = (size_t)json_int(c->js, "window", 0);
    p.block_size = (size_t)json_int(c->js, "block_size", 0);
    p.n_globals = json_list(c->js, "global_tokens", globals, AETHER_MAX_GLOBALS);
    p.globals = globals;
    p.causal = json_bool(c->js, "causal");
    p.use_log_stride = json_bool(c->js, "use_log_stride");
    p.use_landmarks = json_bool(c->js, "use_landmarks");
    p.sort_candidates = force_sort_off ? 0 : json_bool(c->js, "sort_candidates");
    c->q_heads = (size_t)json_int(c->js, "q_heads", 0);
    c->kv_heads = (size_t)json_int(c->js, "kv_heads", 0);
    c->dim = (size_t)json_int(c->js, "head_dim", 0);
    c->seq = (size_t)json_int(c->js, "seq", 0);
    c->capacity = (size_t)json_int(c->js, "capacity", (long)c->seq);
    return aether_attn_config_init(&c->cfg, &p) == AETHER_OK ? 0 : -1;
}

static int load_npy(const gcase *c, const char *file, aether_npy *a)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s.npy", c->dir, file);
    return aether_npy_load(path, a) == AETHER_OK ? 0 : -1;
}

static int load_t(const gcase *c, const char *file, aether_tensor *t)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s.npy", c->dir, file);
    return aether_npy_load_tensor(path, t) == AETHER_OK ? 0 : -1;
}

static int bits_equal(const float *a, const float *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        if (aether_f32_bits(a[i]) != aether_f32_bits(b[i]))
            return 0;
    return 1;
}

static double max_abs(const float *a, const float *b, size_t n)
{
    double m = 0;
    size_t i;
    for (i = 0; i < n; ++i) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m)
            m = d;
    }
    return m;
}

static aether_kvcache *make_cache(const gcase *c, aether_kv_storage st, aether_kv_landmarks lm,
                                  aether_kv_evict ev)
{
    aether_kvcache_params p = aether_kvcache_params_default(&c->cfg, c->capacity, c->kv_heads,
                                                            c->dim);
    aether_kvcache *kc = NULL;
    p.storage = st;
    p.landmarks = lm;
    p.evict = ev;
    if (aether_kvcache_create(&p, &kc) != AETHER_OK)
        return NULL;
    return kc;
}

static aether_tensor row_view(const aether_tensor *t, size_t s)
{
    aether_tensor v;
    (void)aether_tensor_view(&v, aether_tensor_row(t, s, 0), t->heads * t->dim, 1, t->heads,
                             t->dim);
    return v;
}

/* Stream every token; compare out_steps (and the final landmarks). */
static void run_decode_case(const char *name, aether_kv_storage st, aether_kv_landmarks lm,
                            int force_sort_off, double tol)
{
    gcase c;
    aether_tensor q, k, v, want, out;
    aether_npy lk, lv, kb;
    aether_kvcache *kc;
    float *lrow_k, *lrow_v;
    size_t t, nb, b, row;
    int ok = 1, lm_ok = 1;
    CHECK_MSG(load_case(&c, name, force_sort_off) == 0, "%s", name);
    CHECK(load_t(&c, "q", &q) == 0 && load_t(&c, "k", &k) == 0 && load_t(&c, "v", &v) == 0);
    CHECK(load_t(&c, "out_steps", &want) == 0);
    kc = make_cache(&c, st, lm, AETHER_KV_EVICT_NONE);
    CHECK(kc != NULL);
    if (!kc)
        return;
    CHECK_STATUS(aether_tensor_zeros(&out, 1, c.q_heads, c.dim), AETHER_OK);
    for (t = 0; t < c.seq; ++t) {
        aether_tensor q1 = row_view(&q, t), k1 = row_view(&k, t), v1 = row_view(&v, t);
        const float *w = aether_tensor_row(&want, t, 0);
        CHECK_STATUS(aether_kvcache_append(kc, &k1, &v1), AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&c.cfg, &q1, kc, &out), AETHER_OK);
        if (tol == 0.0 ? !bits_equal(out.data, w, c.q_heads * c.dim)
                       : max_abs(out.data, w, c.q_heads * c.dim) > tol) {
            if (ok)
                fprintf(stderr, "%s: step %zu differs (max %g)\n", name, t,
                        max_abs(out.data, w, c.q_heads * c.dim));
            ok = 0;
        }
    }
    CHECK_MSG(ok, "%s out_steps", name);
    CHECK_EQ_INT(aether_kvcache_len(kc), c.seq);

    /* f16 storage: the stored bits are the reference's */
    if (st == AETHER_KV_F16 && load_npy(&c, "k_f16_bits", &kb) == 0) {
        float *kr = (float *)malloc(c.kv_heads * c.dim * sizeof(float));
        const uint16_t *bits = (const uint16_t *)kb.data;
        int same = 1;
        size_t x;
        for (t = 0; t < c.seq && kr; ++t) {
            CHECK_STATUS(aether_kvcache_slot_rows(kc, t, kr, NULL), AETHER_OK);
            for (x = 0; x < c.kv_heads * c.dim; ++x)
                if (aether_f32_bits(kr[x]) !=
                    aether_f32_bits(aether_f16_to_f32(bits[t * c.kv_heads * c.dim + x])))
                    same = 0;
        }
        CHECK_MSG(same, "%s f16 key bits", name);
        free(kr);
        aether_npy_free(&kb);
    }

    if (lm == AETHER_KV_LM_WELFORD && load_npy(&c, "landmarks_keys_final", &lk) == 0 &&
        load_npy(&c, "landmarks_values_final", &lv) == 0) {
        nb = lk.shape[0];
        row = c.kv_heads * c.dim;
        CHECK_EQ_INT(nb, aether_kvcache_landmark_blocks(kc));
        lrow_k = (float *)malloc(row * sizeof(float));
        lrow_v = (float *)malloc(row * sizeof(float));
        for (b = 0; b < nb && lrow_k && lrow_v; ++b) {
            CHECK_STATUS(aether_kvcache_landmark(kc, b, lrow_k, lrow_v), AETHER_OK);
            if (!bits_equal(lrow_k, (const float *)lk.data + b * row, row) ||
                !bits_equal(lrow_v, (const float *)lv.data + b * row, row))
                lm_ok = 0;
        }
        CHECK_MSG(lm_ok, "%s landmarks_final", name);
        free(lrow_k);
        free(lrow_v);
        aether_npy_free(&lk);
        aether_npy_free(&lv);
    }
    aether_kvcache_destroy(kc);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&want);
    aether_tensor_free(&out);
    free(c.js);
}

/* LM_SUM: causal streaming equals the golden forward output bit for bit. */
static void run_sum_vs_forward(const char *name)
{
    gcase c;
    aether_tensor q, k, v, want, out;
    aether_kvcache *kc;
    size_t t;
    int ok = 1;
    CHECK(load_case(&c, name, 0) == 0);
    CHECK(load_t(&c, "q", &q) == 0 && load_t(&c, "k", &k) == 0 && load_t(&c, "v", &v) == 0);
    CHECK(load_t(&c, "out_forward", &want) == 0 || load_t(&c, "out", &want) == 0);
    kc = make_cache(&c, AETHER_KV_F32, AETHER_KV_LM_SUM, AETHER_KV_EVICT_NONE);
    CHECK(kc != NULL);
    if (!kc)
        return;
    CHECK_STATUS(aether_tensor_zeros(&out, 1, c.q_heads, c.dim), AETHER_OK);
    for (t = 0; t < c.seq; ++t) {
        aether_tensor q1 = row_view(&q, t), k1 = row_view(&k, t), v1 = row_view(&v, t);
        CHECK_STATUS(aether_kvcache_append(kc, &k1, &v1), AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&c.cfg, &q1, kc, &out), AETHER_OK);
        if (!bits_equal(out.data, aether_tensor_row(&want, t, 0), c.q_heads * c.dim))
            ok = 0;
    }
    CHECK_MSG(ok, "%s: LM_SUM decode != forward", name);
    aether_kvcache_destroy(kc);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&want);
    aether_tensor_free(&out);
    free(c.js);
}

static const char *const k_decode[] = {"decode_gqa_c_w32_b16_g0_log_lm_q4kv1_s100",
                                       "decode_gqa_c_w8_b4_g0_log_lm_q4kv2_s64",
                                       "decode_mha_c_w16_b8_g03_log_lm_sort_s300",
                                       "decode_mha_c_w32_b16_g0_log_lm_s300",
                                       "decode_mha_c_w8_b4_g0_log_lm_s16",
                                       "decode_mha_nc_w8_b4_g0_log_lm_s16"};

static void test_decode_goldens(void)
{
    REQUIRE_GOLDEN();
    size_t i;
    for (i = 0; i < sizeof k_decode / sizeof k_decode[0]; ++i)
        run_decode_case(k_decode[i], AETHER_KV_F32, AETHER_KV_LM_WELFORD, 0, 0.0);
}

static void test_decode_sum_equals_forward(void)
{
    REQUIRE_GOLDEN();
    size_t i;
    for (i = 0; i < sizeof k_decode / sizeof k_decode[0]; ++i)
        if (strstr(k_decode[i], "_c_"))
            run_sum_vs_forward(k_decode[i]);
    run_sum_vs_forward("decode_batch_c_w8_b4_g0_log_lm_q4kv2_s100_p40");
}

static void test_decode_f16_goldens(void)
{
    REQUIRE_GOLDEN();
    static const char *const names[] = {"decode_f16_gqa_c_w32_b16_g0_log_lm_q4kv1_s100",
                                        "decode_f16_mha_c_w16_b8_g03_log_lm_sort_s300",
                                        "decode_f16_mha_c_w32_b16_g0_log_lm_s300",
                                        "decode_f16_mha_c_w8_b4_g0_log_lm_s16"};
    size_t i;
    /* The reference never sorts in f16: compare with sorting forced off. */
    for (i = 0; i < 4; ++i)
        run_decode_case(names[i], AETHER_KV_F16, AETHER_KV_LM_WELFORD, 1, 0.0);
    /* Sorting honoured: same set, another order: rounding-level change only. */
    run_decode_case(names[1], AETHER_KV_F16, AETHER_KV_LM_WELFORD, 0, 1e-6);
}

/* A reduced storage on a golden decode case: against the f32 cache fed the
 * same rows, the reference within the storage's accuracy bound
 * (kv_prec_bound.h), its optimised kernels within the dispatch contract of
 * its reference. */
static void run_precision_case(const char *name, aether_kv_storage st, double *worst_ratio,
                               double *worst_err)
{
    gcase c;
    aether_tensor q, k, v, o32, oref, ofast;
    aether_kvcache *k32, *kp;
    size_t t, i, n, bad = 0, bad_fast = 0;
    double sq = 0.0, sk = 0.0, sv = 0.0, bound, s2;
    CHECK_MSG(load_case(&c, name, 0) == 0, "%s", name);
    CHECK(load_t(&c, "q", &q) == 0 && load_t(&c, "k", &k) == 0 && load_t(&c, "v", &v) == 0);
    k32 = make_cache(&c, AETHER_KV_F32, AETHER_KV_LM_WELFORD, AETHER_KV_EVICT_NONE);
    kp = make_cache(&c, st, AETHER_KV_LM_WELFORD, AETHER_KV_EVICT_NONE);
    CHECK(k32 != NULL && kp != NULL);
    if (!k32 || !kp)
        return;
    n = c.q_heads * c.dim;
    for (i = 0; i < aether_tensor_size(&q); ++i)
        sq = fmax(sq, fabs((double)q.data[i]));
    for (i = 0; i < aether_tensor_size(&k); ++i) {
        sk = fmax(sk, fabs((double)k.data[i]));
        sv = fmax(sv, fabs((double)v.data[i]));
    }
    bound = kv_prec_bound(st, c.dim, sq, sk, sv);
    s2 = fmax(sq, fmax(sk, sv)) * fmax(sq, fmax(sk, sv));
    CHECK_STATUS(aether_tensor_zeros(&o32, 1, c.q_heads, c.dim), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&oref, 1, c.q_heads, c.dim), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&ofast, 1, c.q_heads, c.dim), AETHER_OK);
    for (t = 0; t < c.seq; ++t) {
        aether_tensor q1 = row_view(&q, t), k1 = row_view(&k, t), v1 = row_view(&v, t);
        CHECK_STATUS(aether_kvcache_append(k32, &k1, &v1), AETHER_OK);
        CHECK_STATUS(aether_kvcache_append(kp, &k1, &v1), AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&c.cfg, &q1, k32, &o32), AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&c.cfg, &q1, kp, &oref), AETHER_OK);
        aether_set_kernel_mode(AETHER_KERNELS_AUTO);
        CHECK_STATUS(aether_kvcache_decode_step(&c.cfg, &q1, kp, &ofast), AETHER_OK);
        aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
        for (i = 0; i < n; ++i) {
            double e = fabs((double)oref.data[i] - (double)o32.data[i]);
            double ef = fabs((double)ofast.data[i] - (double)oref.data[i]);
            *worst_ratio = fmax(*worst_ratio, e / bound);
            *worst_err = fmax(*worst_err, e);
            if (!(e <= bound))
                ++bad;
            if (!(ef <= 1e-6 * s2 + 2e-6 * fabs((double)oref.data[i])))
                ++bad_fast;
        }
    }
    CHECK_MSG(bad == 0, "%s storage %d: %lu elements beyond the bound %g", name, (int)st,
              (unsigned long)bad, bound);
    CHECK_MSG(bad_fast == 0, "%s storage %d: %lu fast elements off contract", name, (int)st,
              (unsigned long)bad_fast);
    aether_kvcache_destroy(k32);
    aether_kvcache_destroy(kp);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&o32);
    aether_tensor_free(&oref);
    aether_tensor_free(&ofast);
    free(c.js);
}

static void test_decode_precisions(void)
{
    REQUIRE_GOLDEN();
    static const aether_kv_storage st[] = {AETHER_KV_F16, AETHER_KV_BF16, AETHER_KV_I8};
    static const char *const names[] = {"f16", "bf16", "int8"};
    size_t i, s;
    for (s = 0; s < 3; ++s) {
        double ratio = 0.0, err = 0.0;
        for (i = 0; i < sizeof k_decode / sizeof k_decode[0]; ++i)
            run_precision_case(k_decode[i], st[s], &ratio, &err);
        printf("%s cache vs f32 cache on the %lu golden decode cases: max |err| %.3g, "
               "max |err| / bound %.3g\n",
               names[s], (unsigned long)(sizeof k_decode / sizeof k_decode[0]), err, ratio);
    }
}

static void run_batch_case(const char *name)
{
    gcase c;
    aether_tensor q, k, v, want, out, qd, kd, vd, kp, vp;
    aether_kvcache *kc;
    size_t prefill, draft, qrow, krow;
    CHECK(load_case(&c, name, 0) == 0);
    CHECK(load_t(&c, "q", &q) == 0 && load_t(&c, "k", &k) == 0 && load_t(&c, "v", &v) == 0);
    CHECK(load_t(&c, "out", &want) == 0);
    prefill = (size_t)json_int(c.js, "prefill_len", 0);
    draft = (size_t)json_int(c.js, "draft_len", 0);
    CHECK_EQ_INT(prefill + draft, c.seq);
    kc = make_cache(&c, AETHER_KV_F32, AETHER_KV_LM_WELFORD, AETHER_KV_EVICT_NONE);
    CHECK(kc != NULL);
    if (!kc)
        return;
    qrow = c.q_heads * c.dim;
    krow = c.kv_heads * c.dim;
    CHECK_STATUS(aether_tensor_view(&kp, k.data, prefill * krow, prefill, c.kv_heads, c.dim),
                 AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&vp, v.data, prefill * krow, prefill, c.kv_heads, c.dim),
                 AETHER_OK);
    CHECK_STATUS(aether_kvcache_append_all(kc, &kp, &vp), AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&qd, q.data + prefill * qrow, draft * qrow, draft, c.q_heads,
                                    c.dim),
                 AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&kd, k.data + prefill * krow, draft * krow, draft, c.kv_heads,
                                    c.dim),
                 AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&vd, v.data + prefill * krow, draft * krow, draft, c.kv_heads,
                                    c.dim),
                 AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&out, draft, c.q_heads, c.dim), AETHER_OK);
    CHECK_STATUS(aether_kvcache_decode_batch(&c.cfg, &qd, &kd, &vd, kc, &out), AETHER_OK);
    CHECK_MSG(bits_equal(out.data, want.data, draft * qrow), "%s out", name);
    CHECK_EQ_INT(aether_kvcache_len(kc), c.seq);
    aether_kvcache_destroy(kc);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&want);
    aether_tensor_free(&out);
    free(c.js);
}

static void test_decode_batch_goldens(void)
{
    REQUIRE_GOLDEN();
    run_batch_case("decode_batch_c_w8_b4_g0_log_lm_q2kv2_s16_p0");
    run_batch_case("decode_batch_c_w8_b4_g0_log_lm_q4kv2_s100_p40");
}

static void run_h2o_case(const char *name)
{
    gcase c;
    aether_tensor q, k, v, out;
    aether_npy scores, evicted, ids, lens, keys, lmk, lmv, outs;
    aether_kvcache *kc;
    size_t eg[AETHER_MAX_GLOBALS], n_eg, ewin, t, s, nb, row;
    float *kr, *lk, *lv;
    int ok_ev = 1, ok_ids = 1, ok_keys = 1, ok_lm = 1, ok_out = 1;
    CHECK(load_case(&c, name, 0) == 0);
    CHECK(load_t(&c, "q", &q) == 0 && load_t(&c, "k", &k) == 0 && load_t(&c, "v", &v) == 0);
    CHECK(load_npy(&c, "scores_steps", &scores) == 0 &&
          load_npy(&c, "evicted_slot", &evicted) == 0 &&
          load_npy(&c, "slot_token_ids_steps", &ids) == 0 &&
          load_npy(&c, "len_steps", &lens) == 0 && load_npy(&c, "cache_keys_steps", &keys) == 0 &&
          load_npy(&c, "landmarks_keys_steps", &lmk) == 0 &&
          load_npy(&c, "landmarks_values_steps", &lmv) == 0 &&
          load_npy(&c, "out_steps", &outs) == 0);
    n_eg = json_list(c.js, "evict_globals", eg, AETHER_MAX_GLOBALS);
    ewin = (size_t)json_int(c.js, "evict_window", 0);
    kc = make_cache(&c, AETHER_KV_F32, AETHER_KV_LM_WELFORD, AETHER_KV_EVICT_H2O_COMPAT);
    CHECK(kc != NULL);
    if (!kc)
        return;
    row = c.kv_heads * c.dim;
    nb = lmk.shape[1];
    CHECK_EQ_INT(nb, aether_kvcache_landmark_blocks(kc));
    kr = (float *)malloc(row * sizeof(float));
    lk = (float *)malloc(row * sizeof(float));
    lv = (float *)malloc(row * sizeof(float));
    CHECK_STATUS(aether_tensor_zeros(&out, 1, c.q_heads, c.dim), AETHER_OK);
    for (t = 0; t < c.seq; ++t) {
        aether_tensor q1 = row_view(&q, t), k1 = row_view(&k, t), v1 = row_view(&v, t);
        const float *sc = (const float *)scores.data + t * c.capacity;
        const int32_t *want_ids = (const int32_t *)ids.data + t * c.capacity;
        size_t ev = 0, len = aether_kvcache_len(kc), tok;
        int32_t want_ev = ((const int32_t *)evicted.data)[t];
        CHECK_STATUS(aether_kvcache_evict_and_append(kc, &k1, &v1, sc, len, eg, n_eg, ewin, &ev),
                     AETHER_OK);
        if ((want_ev < 0 && ev != AETHER_KVCACHE_NO_SLOT) ||
            (want_ev >= 0 && ev != (size_t)want_ev))
            ok_ev = 0;
        CHECK_EQ_INT(aether_kvcache_len(kc), ((const int32_t *)lens.data)[t]);
        for (s = 0; s < c.capacity; ++s) {
            if (s < aether_kvcache_len(kc)) {
                if (aether_kvcache_slot_token(kc, s, &tok) != AETHER_OK ||
                    (int32_t)tok != want_ids[s])
                    ok_ids = 0;
            } else if (want_ids[s] != -1) {
                ok_ids = 0;
            }
            CHECK_STATUS(aether_kvcache_slot_rows(kc, s, kr, NULL), AETHER_OK);
            if (!bits_equal(kr, (const float *)keys.data + (t * c.capacity + s) * row, row))
                ok_keys = 0;
        }
        for (s = 0; s < nb; ++s) {
            CHECK_STATUS(aether_kvcache_landmark(kc, s, lk, lv), AETHER_OK);
            if (!bits_equal(lk, (const float *)lmk.data + (t * nb + s) * row, row) ||
                !bits_equal(lv, (const float *)lmv.data + (t * nb + s) * row, row))
                ok_lm = 0;
        }
        CHECK_STATUS(aether_kvcache_decode_step(&c.cfg, &q1, kc, &out), AETHER_OK);
        if (!bits_equal(out.data, (const float *)outs.data + t * c.q_heads * c.dim,
                        c.q_heads * c.dim))
            ok_out = 0;
    }
    CHECK_MSG(ok_ev, "%s evicted_slot", name);
    CHECK_MSG(ok_ids, "%s slot_token_ids", name);
    CHECK_MSG(ok_keys, "%s cache_keys", name);
    CHECK_MSG(ok_lm, "%s landmarks", name);
    CHECK_MSG(ok_out, "%s out_steps", name);
    free(kr);
    free(lk);
    free(lv);
    aether_kvcache_destroy(kc);
    aether_npy_free(&scores);
    aether_npy_free(&evicted);
    aether_npy_free(&ids);
    aether_npy_free(&lens);
    aether_npy_free(&keys);
    aether_npy_free(&lmk);
    aether_npy_free(&lmv);
    aether_npy_free(&outs);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&out);
    free(c.js);
}

static void test_h2o_goldens(void)
{
    REQUIRE_GOLDEN();
    run_h2o_case("h2o_cap12_win4_g0_n40");
    run_h2o_case("h2o_cap6_win8_g0_n14_fallback");
    run_h2o_case("h2o_cap10_win3_g02_n30_ties");
}

TEST_MAIN(test_pin_reference, test_decode_goldens, test_decode_sum_equals_forward,
          test_decode_f16_goldens, test_decode_precisions, test_decode_batch_goldens,
          test_h2o_goldens)
