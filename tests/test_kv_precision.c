/*
 * The reduced K/V cache storages (F16, BF16, I8) against their definitions
 * and against the f32 cache (include/aether/kvcache.h, aether_kv_storage):
 * the stored values are the documented roundings (bf16 nearest even, f16
 * by aether_f32_to_f16 whichever kernels append, int8 the integer path's
 * Q16 -> int8 rows), out-of-range values are refused without a change,
 * the sizes count the documented bytes per token, and over long random
 * histories (every shape kind, eviction policy and landmark mode the
 * storage supports) the decode stays within the accuracy contract of the
 * f32 cache fed the same rows, and is the f32 arithmetic on the widened
 * rows bit for bit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/dispatch.h"
#include "aether/kvcache.h"
#include "aether/quant.h"
#include "check.h"
#include "kv_prec_bound.h"

static const aether_kv_storage k_reduced[3] = {AETHER_KV_F16, AETHER_KV_BF16, AETHER_KV_I8};
static const char *const k_name[4] = {"f32", "f16", "bf16", "int8"};

static unsigned long long g_rng = 0x9E3779B97F4A7C15ull;

static float frand(float scale)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return scale * ((float)(g_rng >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
}

static void make_cfg(aether_attn_config *cfg, size_t window, size_t block, int landmarks)
{
    static const size_t g[] = {0, 5};
    aether_attn_params p = aether_attn_params_default();
    p.window = window;
    p.block_size = block;
    p.globals = g;
    p.n_globals = 2;
    p.use_landmarks = landmarks;
    CHECK_STATUS(aether_attn_config_init(cfg, &p), AETHER_OK);
}

static aether_kvcache *make_cache(const aether_attn_config *cfg, aether_kv_storage st,
                                  size_t capacity, size_t kvh, size_t dim, aether_kv_landmarks lm,
                                  aether_kv_evict ev)
{
    aether_kvcache_params p = aether_kvcache_params_default(cfg, capacity, kvh, dim);
    aether_kvcache *c = NULL;
    p.storage = st;
    p.landmarks = lm;
    p.evict = ev;
    CHECK_STATUS(aether_kvcache_create(&p, &c), AETHER_OK);
    return c;
}

/* ---------- the stored values ---------- */

/* bfloat16 nearest even of x, computed from its two neighbours. */
static float bf16_nearest(float x)
{
    uint32_t b = aether_f32_bits(x), lo = b & 0xFFFF0000u, hi = lo + 0x10000u;
    double dl = fabs((double)aether_f32_from_bits(lo) - (double)x);
    double dh = fabs((double)aether_f32_from_bits(hi) - (double)x);
    if (dl < dh || (dl == dh && ((lo >> 16) & 1u) == 0))
        return aether_f32_from_bits(lo);
    return aether_f32_from_bits(hi);
}

/* round(x / 2^s), halves away from zero, in 64-bit integers. */
static long long rdiv_away(long long x, unsigned s)
{
    long long m = x < 0 ? -x : x;
    if (s)
        m = (m + (1ll << (s - 1))) >> s;
    return x < 0 ? -m : m;
}

/* One row through every storage and back (slot_rows), against the
 * definitions; f16 appended on every kernel path gives the same bits. */
static void check_row(const float *x, size_t n, int with_i8)
{
    aether_attn_config cfg;
    float *got = malloc(n * sizeof(float)), *got2 = malloc(n * sizeof(float));
    int32_t *q = malloc(n * sizeof(int32_t));
    size_t i, s_i;
    make_cfg(&cfg, 4, 4, 1);
    for (s_i = 0; s_i < (with_i8 ? 3u : 2u) && got && got2 && q; ++s_i) {
        aether_kv_storage st = k_reduced[s_i];
        aether_kvcache *c = make_cache(&cfg, st, 2, 1, n, AETHER_KV_LM_SUM, AETHER_KV_EVICT_NONE);
        aether_kvcache *r = make_cache(&cfg, st, 2, 1, n, AETHER_KV_LM_SUM, AETHER_KV_EVICT_NONE);
        int ok = 1;
        if (!c || !r)
            return;
        aether_set_kernel_mode(AETHER_KERNELS_AUTO);
        CHECK_STATUS(aether_kvcache_append_rows(c, x, x), AETHER_OK);
        aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
        CHECK_STATUS(aether_kvcache_append_rows(r, x, x), AETHER_OK);
        aether_set_kernel_mode(AETHER_KERNELS_AUTO);
        CHECK_STATUS(aether_kvcache_slot_rows(c, 0, got, got2), AETHER_OK);
        /* K and V go through the same rounding */
        CHECK(memcmp(got, got2, n * sizeof(float)) == 0);
        CHECK_STATUS(aether_kvcache_slot_rows(r, 0, got2, NULL), AETHER_OK);
        CHECK_MSG(memcmp(got, got2, n * sizeof(float)) == 0, "%s: kernel paths store alike",
                  k_name[st]);
        if (st == AETHER_KV_F16) {
            for (i = 0; i < n; ++i)
                if (aether_f32_bits(got[i]) !=
                    aether_f32_bits(aether_f16_to_f32(aether_f32_to_f16(x[i]))))
                    ok = 0;
        } else if (st == AETHER_KV_BF16) {
            for (i = 0; i < n; ++i)
                if (aether_f32_bits(got[i]) != aether_f32_bits(bf16_nearest(x[i])))
                    ok = 0;
        } else {
            /* The integer path's rule: Q16 values, then the smallest s with
             * every round(|v| / 2^s) <= 127. */
            long long mx = 0;
            unsigned s = 0;
            double xmax = 0.0;
            for (i = 0; i < n; ++i) {
                CHECK_STATUS(aether_q16_from_f32(x[i], &q[i]), AETHER_OK);
                if (llabs((long long)q[i]) > mx)
                    mx = llabs((long long)q[i]);
                if (fabs((double)x[i]) > xmax)
                    xmax = fabs((double)x[i]);
            }
            while (rdiv_away(mx, s) > 127)
                ++s;
            for (i = 0; i < n; ++i) {
                double want = ldexp((double)rdiv_away(q[i], s), (int)s - 16);
                if ((double)got[i] != want)
                    ok = 0;
                /* the per-element part of the contract */
                if (!(fabs((double)got[i] - (double)x[i]) <= xmax / 127.0 + ldexp(1.0, -16)))
                    ok = 0;
            }
        }
        CHECK_MSG(ok, "%s: stored values are the documented rounding", k_name[st]);
        aether_kvcache_destroy(c);
        aether_kvcache_destroy(r);
    }
    free(got);
    free(got2);
    free(q);
}

static void test_stored_values(void)
{
    /* f16's largest values, beyond the int8 rows' range */
    static const float big[] = {65504.0f, 65519.99f, -65519.99f, 40000.5f, 1.0f, -3e-6f};
    static const float edge[] = {0.0f,
                                 -0.0f,
                                 1.0f,
                                 -1.0f,
                                 0.5f,
                                 6.0e-8f,
                                 3.0e-8f,
                                 2.98023224e-8f,
                                 1.0e-30f,
                                 1.00390625f,
                                 1.01171875f,
                                 3.14159265f,
                                 -2.71828183f,
                                 32767.99f,
                                 -32767.99f,
                                 1.52587890625e-5f,
                                 7.62939453125e-6f,
                                 0.0019378662f,
                                 127.5f,
                                 -0.75f,
                                 1e-3f};
    float x[72];
    size_t i, r;
    check_row(big, sizeof big / sizeof big[0], 0);
    check_row(edge, sizeof edge / sizeof edge[0], 1);
    for (r = 0; r < 200; ++r) {
        /* rows of every scale, with odd lengths for the kernels' tails */
        float sc = ldexpf(1.0f, (int)(r % 30) - 15);
        size_t n = 1 + r % 72;
        for (i = 0; i < n; ++i)
            x[i] = frand(sc);
        check_row(x, n, 1);
    }
}

/* Values a storage cannot hold are refused like NaN, with nothing changed. */
static void test_ranges(void)
{
    static const struct {
        aether_kv_storage st;
        uint32_t ok_bits, bad_bits;
    } cases[] = {{AETHER_KV_F16, 0x477FEFFFu, 0x477FF000u},
                 {AETHER_KV_BF16, 0x7F7F7FFFu, 0x7F7F8000u},
                 {AETHER_KV_I8, 0x46FFFFFFu, 0x47000000u},
                 {AETHER_KV_F32, 0x7F7FFFFFu, 0x7F800000u}};
    aether_attn_config cfg;
    size_t i, j;
    make_cfg(&cfg, 4, 4, 1);
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        aether_kvcache *c = make_cache(&cfg, cases[i].st, 4, 1, 3, AETHER_KV_LM_SUM,
                                       AETHER_KV_EVICT_NONE);
        float k[3] = {0.25f, -1.0f, 2.0f}, v[3] = {1.0f, 0.5f, -0.5f}, got[3];
        if (!c)
            return;
        for (j = 0; j < 2; ++j) {
            float big = aether_f32_from_bits(cases[i].bad_bits) * (j ? -1.0f : 1.0f);
            k[1] = big;
            CHECK_STATUS(aether_kvcache_append_rows(c, k, v), AETHER_ERR_NONFINITE);
            k[1] = -1.0f;
            v[2] = big;
            CHECK_STATUS(aether_kvcache_append_rows(c, k, v), AETHER_ERR_NONFINITE);
            v[2] = -0.5f;
        }
        CHECK_EQ_INT(aether_kvcache_len(c), 0);
        /* the batch (drafts) path checks the same range, all rows first */
        {
            float qb[2 * 3] = {1.0f, 0.5f, -1.0f, 0.25f, 0.0f, 2.0f}, ob[2 * 3];
            float kb[2 * 3] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, vb[2 * 3];
            aether_tensor tq, tk, tv, to;
            memcpy(vb, kb, sizeof vb);
            kb[4] = aether_f32_from_bits(cases[i].bad_bits);
            (void)aether_tensor_view(&tq, qb, 6, 2, 1, 3);
            (void)aether_tensor_view(&tk, kb, 6, 2, 1, 3);
            (void)aether_tensor_view(&tv, vb, 6, 2, 1, 3);
            (void)aether_tensor_view(&to, ob, 6, 2, 1, 3);
            CHECK_STATUS(aether_kvcache_decode_batch(&cfg, &tq, &tk, &tv, c, &to),
                         AETHER_ERR_NONFINITE);
            CHECK_EQ_INT(aether_kvcache_len(c), 0);
        }
        k[1] = -aether_f32_from_bits(cases[i].ok_bits);
        CHECK_STATUS(aether_kvcache_append_rows(c, k, v), AETHER_OK);
        CHECK_STATUS(aether_kvcache_slot_rows(c, 0, got, NULL), AETHER_OK);
        CHECK_MSG(isfinite(got[1]) && got[1] < 0.0f,
                  "%s: the largest accepted value stays finite", k_name[cases[i].st]);
        aether_kvcache_destroy(c);
    }
}

/* Sizes: the rows take {4, 2, 2, 1} bytes per element, plus an exponent
 * byte per token and kv head for I8; a reduced storage adds the reference
 * decode's widened value rows (8 x head_dim floats) and I8 a Q16 row. */
static void test_sizes(void)
{
    aether_attn_config cfg;
    aether_kvcache_params p;
    size_t b[4], s;
    make_cfg(&cfg, 8, 8, 1);
    /* 64 tokens x 2 heads x 32: every array a multiple of the alignment */
    p = aether_kvcache_params_default(&cfg, 64, 2, 32);
    for (s = 0; s < 4; ++s) {
        p.storage = (aether_kv_storage)s;
        CHECK_STATUS(aether_kvcache_size(&p, &b[s]), AETHER_OK);
    }
    CHECK_EQ_INT((long)(b[0] - b[1]), 2 * 64 * 64 * 2 - 8 * 32 * 4);
    CHECK_EQ_INT((long)(b[0] - b[2]), 2 * 64 * 64 * 2 - 8 * 32 * 4);
    CHECK_EQ_INT((long)(b[0] - b[3]), 2 * 64 * 64 * 3 - 2 * 64 * 2 - 8 * 32 * 4 - 32 * 4);
    /* H2O_COMPAT rebuilds landmarks from the unrounded rows: f32 only */
    p.evict = AETHER_KV_EVICT_H2O_COMPAT;
    for (s = 1; s < 4; ++s) {
        aether_kvcache *c = NULL;
        p.storage = (aether_kv_storage)s;
        CHECK_STATUS(aether_kvcache_size(&p, &b[s]), AETHER_ERR_UNSUPPORTED);
        CHECK_STATUS(aether_kvcache_create(&p, &c), AETHER_ERR_UNSUPPORTED);
        CHECK(c == NULL);
    }
}

/* ---------- decode against the f32 cache ---------- */

typedef struct pshape {
    size_t qh, kvh, dim, window, block;
} pshape;

typedef struct pstats {
    double worst_ratio; /* max |err| / bound over everything checked */
    double worst_err;
    size_t checked, scored_diverged;
} pstats;

static float max_abs_f(const float *x, size_t n)
{
    float m = 0.0f;
    size_t i;
    for (i = 0; i < n; ++i)
        m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m;
}

/* 1 when both caches hold the same tokens in the same slots. */
static int same_slots(const aether_kvcache *a, const aether_kvcache *b)
{
    size_t j, n = aether_kvcache_len(a), ta, tb;
    if (n != aether_kvcache_len(b))
        return 0;
    for (j = 0; j < n; ++j) {
        if (aether_kvcache_slot_token(a, j, &ta) != AETHER_OK ||
            aether_kvcache_slot_token(b, j, &tb) != AETHER_OK || ta != tb)
            return 0;
    }
    return 1;
}

/* One history: the f32 cache and a cache of storage st fed the same rows
 * (inputs of scale `scale`), decoded after every append: st's reference
 * against f32's reference within the storage's bound, st's optimised
 * kernels against st's reference within the dispatch contract. SCORED
 * caches evict by their own weights: compared until they first part
 * (counted from there). Not again when their slots match later: the rows
 * each evicted went into different landmark sums, so the bound no longer
 * applies (seen as errors of 1.7 times the bound for other random inputs). */
static void run_history(const pshape *s, aether_kv_storage st, aether_kv_evict ev,
                        aether_kv_landmarks lm, size_t steps, float scale, pstats *ps)
{
    aether_attn_config cfg;
    size_t cap = ev == AETHER_KV_EVICT_NONE ? steps : s->window + 8 + steps / 4;
    size_t nq = s->qh * s->dim, nkv = s->kvh * s->dim, t, i, bad = 0, bad_fast = 0;
    aether_kvcache *c32, *cp;
    float *q = malloc(nq * sizeof(float)), *k = malloc(nkv * sizeof(float));
    float *v = malloc(nkv * sizeof(float));
    float *o32 = malloc(nq * sizeof(float)), *oref = malloc(nq * sizeof(float));
    float *ofast = malloc(nq * sizeof(float));
    aether_tensor q1, out;
    double sq = 0.0, sk = 0.0, sv = 0.0;
    make_cfg(&cfg, s->window, s->block, 1);
    c32 = make_cache(&cfg, AETHER_KV_F32, cap, s->kvh, s->dim, lm, ev);
    cp = make_cache(&cfg, st, cap, s->kvh, s->dim, lm, ev);
    if (!c32 || !cp || !q || !k || !v || !o32 || !oref || !ofast)
        return;
    int diverged = 0;
    for (t = 0; t < steps; ++t) {
        double bound, eps_fast;
        /* keys and values of changing scale along the history */
        float ks = scale * (t % 3 == 0 ? 0.25f : 1.0f);
        for (i = 0; i < nkv; ++i) {
            k[i] = frand(ks);
            v[i] = frand(scale);
        }
        for (i = 0; i < nq; ++i)
            q[i] = frand(scale);
        sq = fmax(sq, max_abs_f(q, nq));
        sk = fmax(sk, max_abs_f(k, nkv));
        sv = fmax(sv, max_abs_f(v, nkv));
        CHECK_STATUS(aether_kvcache_append_rows(c32, k, v), AETHER_OK);
        CHECK_STATUS(aether_kvcache_append_rows(cp, k, v), AETHER_OK);
        diverged = diverged || (ev == AETHER_KV_EVICT_SCORED && !same_slots(c32, cp));
        (void)aether_tensor_view(&q1, q, nq, 1, s->qh, s->dim);
        aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
        (void)aether_tensor_view(&out, o32, nq, 1, s->qh, s->dim);
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, c32, &out), AETHER_OK);
        (void)aether_tensor_view(&out, oref, nq, 1, s->qh, s->dim);
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, cp, &out), AETHER_OK);
        aether_set_kernel_mode(AETHER_KERNELS_AUTO);
        /* SCORED: a second decode would credit the scores again; its
         * decode is the reference's anyway. */
        if (ev != AETHER_KV_EVICT_SCORED) {
            (void)aether_tensor_view(&out, ofast, nq, 1, s->qh, s->dim);
            CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, cp, &out), AETHER_OK);
        } else {
            memcpy(ofast, oref, nq * sizeof(float));
        }
        bound = kv_prec_bound(st, s->dim, sq, sk, sv);
        eps_fast = 1e-6 * fmax(sq, fmax(sk, sv)) * fmax(sq, fmax(sk, sv));
        for (i = 0; i < nq; ++i) {
            double e = fabs((double)oref[i] - (double)o32[i]);
            double ef = fabs((double)ofast[i] - (double)oref[i]);
            if (!diverged) {
                if (e / bound > ps->worst_ratio)
                    ps->worst_ratio = e / bound;
                if (e > ps->worst_err)
                    ps->worst_err = e;
                if (!(e <= bound))
                    ++bad;
            }
            if (!(ef <= eps_fast + 2e-6 * fabs((double)oref[i])))
                ++bad_fast;
        }
        if (diverged)
            ps->scored_diverged++;
        else
            ps->checked++;
    }
    CHECK_MSG(bad == 0, "%s q%lu kv%lu d%lu evict %d lm %d: %lu elements beyond the f32 bound",
              k_name[st], (unsigned long)s->qh, (unsigned long)s->kvh, (unsigned long)s->dim,
              (int)ev, (int)lm, (unsigned long)bad);
    CHECK_MSG(bad_fast == 0, "%s q%lu kv%lu d%lu evict %d lm %d: %lu fast elements off contract",
              k_name[st], (unsigned long)s->qh, (unsigned long)s->kvh, (unsigned long)s->dim,
              (int)ev, (int)lm, (unsigned long)bad_fast);
    aether_kvcache_destroy(c32);
    aether_kvcache_destroy(cp);
    free(q);
    free(k);
    free(v);
    free(o32);
    free(oref);
    free(ofast);
}

/* MQA groups of wide heads (the group decode's widened-row scratch at its
 * largest), of groups under four rows and of a head dim of an odd number
 * of vectors, under the policies decoded by the optimised kernels. */
static void test_wide_heads(void)
{
    static const pshape shapes[] = {
        {4, 1, 128, 24, 8}, {3, 1, 256, 40, 8}, {2, 1, 40, 20, 8}, {4, 1, 24, 28, 4}};
    static const aether_kv_evict evs[] = {AETHER_KV_EVICT_NONE, AETHER_KV_EVICT_SLIDING};
    size_t si, e, sti;
    for (sti = 0; sti < 3; ++sti) {
        pstats ps;
        memset(&ps, 0, sizeof ps);
        for (si = 0; si < sizeof shapes / sizeof shapes[0]; ++si)
            for (e = 0; e < 2; ++e)
                run_history(&shapes[si], k_reduced[sti], evs[e], AETHER_KV_LM_SUM, 150, 1.0f,
                            &ps);
        printf("%s cache, wide heads: %lu decodes checked, max |err| / bound %.3g\n",
               k_name[k_reduced[sti]], (unsigned long)ps.checked, ps.worst_ratio);
        CHECK(ps.checked > 0);
    }
}

static void test_long_histories(void)
{
    /* MHA over whole rows (8 kv heads), MQA groups of four, GQA groups of
     * three with a head dim that leaves tails, groups of four over two kv
     * heads */
    static const pshape shapes[] = {{8, 8, 64, 24, 16},
                                    {4, 1, 32, 32, 16},
                                    {6, 2, 20, 16, 8},
                                    {8, 2, 16, 20, 4}};
    static const aether_kv_evict evs[] = {AETHER_KV_EVICT_NONE, AETHER_KV_EVICT_SLIDING,
                                          AETHER_KV_EVICT_SCORED};
    size_t si, e, sti, l;
    for (sti = 0; sti < 3; ++sti) {
        pstats ps;
        memset(&ps, 0, sizeof ps);
        for (si = 0; si < sizeof shapes / sizeof shapes[0]; ++si)
            for (e = 0; e < 3; ++e)
                for (l = 0; l < 2; ++l)
                    run_history(&shapes[si], k_reduced[sti], evs[e],
                                l ? AETHER_KV_LM_WELFORD : AETHER_KV_LM_SUM, 260,
                                si % 2 ? 2.0f : 1.0f, &ps);
        printf("%s cache vs f32 cache over random histories: %lu decodes checked, max |err| "
               "%.3g, max |err| / bound %.3g (SCORED after the caches' evictions parted: %lu "
               "decodes)\n",
               k_name[k_reduced[sti]], (unsigned long)ps.checked, ps.worst_err, ps.worst_ratio,
               (unsigned long)ps.scored_diverged);
        CHECK(ps.checked > 0);
    }
}

/* The reference decode of a reduced cache is the f32 arithmetic on the
 * widened rows: an f32 cache fed the widened rows decodes to the same bits
 * (landmarks off: they are means of the unrounded inputs), every policy
 * including SCORED (the same weights evict the same slots). */
static void test_widened_exact(void)
{
    static const pshape shapes[] = {{4, 1, 32, 16, 8}, {8, 8, 64, 12, 8}, {6, 2, 20, 10, 4}};
    static const aether_kv_evict evs[] = {AETHER_KV_EVICT_NONE, AETHER_KV_EVICT_SLIDING,
                                          AETHER_KV_EVICT_SCORED};
    size_t si, e, sti, t, i, diffs = 0, runs = 0;
    aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
    for (sti = 0; sti < 3; ++sti)
        for (si = 0; si < 3; ++si)
            for (e = 0; e < 3; ++e) {
                const pshape *s = &shapes[si];
                size_t nq = s->qh * s->dim, nkv = s->kvh * s->dim, steps = 120;
                size_t cap = evs[e] == AETHER_KV_EVICT_NONE ? steps : s->window + 30;
                aether_attn_config cfg;
                aether_kvcache *cw, *cp;
                float *q = malloc(nq * sizeof(float)), *k = malloc(nkv * sizeof(float));
                float *v = malloc(nkv * sizeof(float)), *kw = malloc(nkv * sizeof(float));
                float *vw = malloc(nkv * sizeof(float)), *ow = malloc(nq * sizeof(float));
                float *op = malloc(nq * sizeof(float));
                aether_tensor q1, out;
                make_cfg(&cfg, s->window, s->block, 0);
                cw = make_cache(&cfg, AETHER_KV_F32, cap, s->kvh, s->dim, AETHER_KV_LM_SUM,
                                evs[e]);
                cp = make_cache(&cfg, k_reduced[sti], cap, s->kvh, s->dim, AETHER_KV_LM_SUM,
                                evs[e]);
                for (t = 0; t < steps && cw && cp && q && k && v && kw && vw && ow && op; ++t) {
                    size_t slot = aether_kvcache_len(cp) < cap ? aether_kvcache_len(cp) : 0;
                    for (i = 0; i < nkv; ++i) {
                        k[i] = frand(1.5f);
                        v[i] = frand(1.5f);
                    }
                    for (i = 0; i < nq; ++i)
                        q[i] = frand(1.5f);
                    CHECK_STATUS(aether_kvcache_append_rows(cp, k, v), AETHER_OK);
                    /* the slot the token went to: find it by its id */
                    for (slot = 0; slot < aether_kvcache_len(cp); ++slot) {
                        size_t tok = 0;
                        if (aether_kvcache_slot_token(cp, slot, &tok) == AETHER_OK && tok == t)
                            break;
                    }
                    CHECK_STATUS(aether_kvcache_slot_rows(cp, slot, kw, vw), AETHER_OK);
                    CHECK_STATUS(aether_kvcache_append_rows(cw, kw, vw), AETHER_OK);
                    (void)aether_tensor_view(&q1, q, nq, 1, s->qh, s->dim);
                    (void)aether_tensor_view(&out, ow, nq, 1, s->qh, s->dim);
                    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, cw, &out), AETHER_OK);
                    (void)aether_tensor_view(&out, op, nq, 1, s->qh, s->dim);
                    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, cp, &out), AETHER_OK);
                    for (i = 0; i < nq; ++i)
                        if (aether_f32_bits(ow[i]) != aether_f32_bits(op[i]))
                            ++diffs;
                }
                ++runs;
                aether_kvcache_destroy(cw);
                aether_kvcache_destroy(cp);
                free(q);
                free(k);
                free(v);
                free(kw);
                free(vw);
                free(ow);
                free(op);
            }
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
    CHECK_MSG(diffs == 0, "%lu output elements differ from the f32 decode of the widened rows",
              (unsigned long)diffs);
    CHECK_EQ_INT((long)runs, 27);
}

TEST_MAIN(test_stored_values, test_ranges, test_sizes, test_long_histories, test_wide_heads,
          test_widened_exact)
