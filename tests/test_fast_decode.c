/* The optimised KV cache decode and model session step against the
 * reference arithmetic: the same cache fed the same rows decodes within the
 * accuracy contract on every SIMD path this CPU runs (MHA and GQA groups,
 * odd head dims, sorted and unsorted candidates, every storage, both
 * landmark modes, every eviction policy), and the streaming temporal model
 * stays within tolerance of its REFERENCE-mode twin. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/dispatch.h"
#include "aether/kvcache.h"
#include "aether/model.h"
#include "check.h"
#include "kernels/osm.h"
#include "kernels/sparse_internal.h"
#include "kvcache/kv_step.h"
#include "kvcache/kvcache_internal.h"

static unsigned long long g_rng = 0x2545F4914F6CDD1Dull;

static float frand(float scale)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return scale * ((float)(g_rng >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
}

static const aether_kernel_mode k_fast[] = {AETHER_KERNELS_AVX2, AETHER_KERNELS_AVX512,
                                            AETHER_KERNELS_NEON};

typedef struct dshape {
    size_t qh, kvh, dim, window, block;
} dshape;

static void make_cfg(aether_attn_config *cfg, size_t window, size_t block, int sort)
{
    static const size_t g[] = {0, 3};
    aether_attn_params p = aether_attn_params_default();
    p.window = window;
    p.block_size = block;
    p.globals = g;
    p.n_globals = 2;
    p.sort_candidates = sort;
    aether_attn_config_init(cfg, &p);
}

/* Contract of aether/dispatch.h: |got - ref| <= 1e-6 * scale + 2e-6 * |ref|. */
static int within(const float *got, const float *ref, size_t n, float scale, double *worst)
{
    size_t i;
    int ok = 1;
    for (i = 0; i < n; ++i) {
        double d = fabs((double)got[i] - (double)ref[i]);
        if (d > *worst)
            *worst = d;
        if (!(d <= 1e-6 * scale + 2e-6 * fabs((double)ref[i])))
            ok = 0;
    }
    return ok;
}

/* One configuration: two identical caches, one decoded on the reference,
 * one on `fast`; steps appends with a decode after each. */
static void run_case(aether_kernel_mode fast, const dshape *s, int sort, aether_kv_storage st,
                     aether_kv_landmarks lm, aether_kv_evict ev, size_t steps, float scale,
                     double *worst)
{
    aether_attn_config cfg;
    aether_kvcache_params p;
    aether_kvcache *cr = NULL, *cf = NULL;
    aether_tensor k1, v1, q1, oref, ofast;
    size_t t, i, bad = 0;
    make_cfg(&cfg, s->window, s->block, sort);
    p = aether_kvcache_params_default(&cfg, steps, s->kvh, s->dim);
    p.storage = st;
    p.landmarks = lm;
    p.evict = ev;
    if (ev == AETHER_KV_EVICT_SLIDING || ev == AETHER_KV_EVICT_SCORED)
        p.capacity = s->window + 2 + 4 + steps / 3; /* evicts along the way */
    CHECK_STATUS(aether_kvcache_create(&p, &cr), AETHER_OK);
    CHECK_STATUS(aether_kvcache_create(&p, &cf), AETHER_OK);
    aether_tensor_zeros(&k1, 1, s->kvh, s->dim);
    aether_tensor_zeros(&v1, 1, s->kvh, s->dim);
    aether_tensor_zeros(&q1, 1, s->qh, s->dim);
    aether_tensor_zeros(&oref, 1, s->qh, s->dim);
    aether_tensor_zeros(&ofast, 1, s->qh, s->dim);
    for (t = 0; t < steps && cr && cf; ++t) {
        for (i = 0; i < s->kvh * s->dim; ++i) {
            k1.data[i] = frand(scale);
            v1.data[i] = frand(scale);
        }
        for (i = 0; i < s->qh * s->dim; ++i)
            q1.data[i] = frand(scale);
        CHECK_STATUS(aether_kvcache_append(cr, &k1, &v1), AETHER_OK);
        CHECK_STATUS(aether_kvcache_append(cf, &k1, &v1), AETHER_OK);
        aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, cr, &oref), AETHER_OK);
        aether_set_kernel_mode(fast);
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, cf, &ofast), AETHER_OK);
        /* The decode contract of aether/dispatch.h, 1e-6 s^2 + 2e-6 |ref|:
         * the kernels fuse and lane-split the q.k sums, an error that grows
         * with |q||k| (at s = 4 the forward's 1e-6 s bound fails). */
        if (!within(ofast.data, oref.data, s->qh * s->dim, scale * scale, worst))
            ++bad;
    }
    CHECK_MSG(bad == 0,
              "%s q%lu kv%lu dim %lu sort %d storage %d lm %d evict %d: %lu steps off contract",
              aether_kernel_name(), (unsigned long)s->qh, (unsigned long)s->kvh,
              (unsigned long)s->dim, sort, (int)st, (int)lm, (int)ev, (unsigned long)bad);
    /* Same rows, same policy: the two caches hold the same tokens. */
    CHECK_EQ_INT((long)aether_kvcache_len(cf), (long)aether_kvcache_len(cr));
    aether_kvcache_destroy(cr);
    aether_kvcache_destroy(cf);
    aether_tensor_free(&k1);
    aether_tensor_free(&v1);
    aether_tensor_free(&q1);
    aether_tensor_free(&oref);
    aether_tensor_free(&ofast);
}

static void test_decode_vs_reference(void)
{
    static const dshape shapes[] = {{1, 1, 1, 2, 2},  {3, 3, 7, 4, 4},   {4, 1, 32, 8, 4},
                                    {8, 2, 33, 5, 3}, {6, 2, 17, 6, 4},  {5, 1, 64, 7, 8},
                                    {8, 8, 64, 9, 4}, {12, 3, 40, 3, 2}, {2, 1, 65, 4, 5}};
    static const aether_kv_evict evs[] = {AETHER_KV_EVICT_NONE, AETHER_KV_EVICT_SLIDING,
                                          AETHER_KV_EVICT_SCORED, AETHER_KV_EVICT_H2O_COMPAT};
    size_t p, si, e, ran = 0;
    double worst = 0.0;
    for (p = 0; p < 3; ++p) {
        if (aether_set_kernel_mode(k_fast[p]) != AETHER_OK)
            continue;
        for (si = 0; si < sizeof shapes / sizeof shapes[0]; ++si)
            for (e = 0; e < 4; ++e) {
                int sort = (int)((si + e) % 2);
                float scale = si % 3 == 1 ? 4.0f : 1.0f;
                aether_kv_landmarks lm = (si + e) % 3 ? AETHER_KV_LM_SUM : AETHER_KV_LM_WELFORD;
                run_case(k_fast[p], &shapes[si], sort, AETHER_KV_F32, lm, evs[e], 70, scale,
                         &worst);
                /* F16 storage: the kernels' binary16 twins (SCORED decodes
                 * on the reference; H2O_COMPAT needs f32). */
                if (evs[e] != AETHER_KV_EVICT_H2O_COMPAT) {
                    run_case(k_fast[p], &shapes[si], !sort, AETHER_KV_F16, lm, evs[e], 40, scale,
                             &worst);
                    /* bfloat16 and int8 rows: their kernels' twins. */
                    run_case(k_fast[p], &shapes[si], sort, AETHER_KV_BF16, lm, evs[e], 40, scale,
                             &worst);
                    run_case(k_fast[p], &shapes[si], !sort, AETHER_KV_I8, lm, evs[e], 40, scale,
                             &worst);
                }
                ++ran;
            }
    }
    printf("fast decode vs reference: %lu configurations, max abs diff %.3g\n",
           (unsigned long)ran, worst);
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

/* Windows wider than one softmax batch of the decode kernels, with several
 * kv heads (the whole-row multi-head kernel) and one (the GQA group
 * kernel): the online rescale between batches, sets of more than eight
 * query rows, head dims with tails, evicting or not. */
static void test_decode_long_lists(void)
{
    static const dshape shapes[] = {{8, 8, 64, 300, 64}, {10, 5, 20, 270, 16},
                                    {12, 3, 33, 290, 8}, {3, 3, 9, 260, 32},
                                    {4, 1, 32, 280, 16}, {6, 1, 17, 265, 4}};
    static const aether_kv_evict evs[] = {AETHER_KV_EVICT_NONE, AETHER_KV_EVICT_SLIDING};
    size_t p, si, e, ran = 0;
    double worst = 0.0;
    for (p = 0; p < 3; ++p) {
        if (aether_set_kernel_mode(k_fast[p]) != AETHER_OK)
            continue;
        for (si = 0; si < sizeof shapes / sizeof shapes[0]; ++si)
            for (e = 0; e < 2; ++e) {
                float scale = si % 2 ? 4.0f : 1.0f;
                aether_kv_landmarks lm = (si + e) % 2 ? AETHER_KV_LM_SUM : AETHER_KV_LM_WELFORD;
                run_case(k_fast[p], &shapes[si], (int)(si % 2), AETHER_KV_F32, lm, evs[e], 420,
                         scale, &worst);
                run_case(k_fast[p], &shapes[si], (int)(si % 2), AETHER_KV_F16, lm, evs[e], 300,
                         scale, &worst);
                run_case(k_fast[p], &shapes[si], (int)(si % 2),
                         si % 2 ? AETHER_KV_BF16 : AETHER_KV_I8, lm, evs[e], 300, scale, &worst);
                ++ran;
            }
    }
    printf("fast decode, long lists: %lu configurations, max abs diff %.3g\n", (unsigned long)ran,
           worst);
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

/* A cache decoding from its twin's candidate lists (the model session's
 * layers) gives exactly what it gives building its own; a twin that is not
 * in the same state (one more token, another policy, reset) is ignored. */
static void twin_case(aether_kvcache_params p, const aether_attn_config *cfg, size_t qh,
                      size_t steps)
{
    aether_kvcache *a = NULL, *b = NULL, *own = NULL, *odd = NULL;
    size_t row = p.kv_heads * p.head_dim, t, i, diff = 0;
    float *k = malloc(row * sizeof(float)), *v = malloc(row * sizeof(float));
    float *q = malloc(qh * p.head_dim * sizeof(float)),
          *q2 = malloc(qh * p.head_dim * sizeof(float));
    float *oa = malloc(qh * p.head_dim * sizeof(float)),
          *ob = malloc(qh * p.head_dim * sizeof(float));
    float *oo = malloc(qh * p.head_dim * sizeof(float)),
          *od = malloc(qh * p.head_dim * sizeof(float));
    CHECK(k && v && q && q2 && oa && ob && oo && od);
    CHECK_STATUS(aether_kvcache_create(&p, &a), AETHER_OK);
    CHECK_STATUS(aether_kvcache_create(&p, &b), AETHER_OK);
    CHECK_STATUS(aether_kvcache_create(&p, &own), AETHER_OK);
    CHECK_STATUS(aether_kvcache_create(&p, &odd), AETHER_OK);
    for (t = 0; t < steps && k && v && q && q2 && oa && ob && oo && od && a && b && own && odd;
         ++t) {
        for (i = 0; i < row; ++i) {
            k[i] = frand(1.0f);
            v[i] = frand(1.0f);
        }
        for (i = 0; i < qh * p.head_dim; ++i) {
            q[i] = frand(1.0f);
            q2[i] = frand(1.0f);
        }
        /* odd runs one token ahead from the start, on its own lists. */
        if (t == 0)
            CHECK_STATUS(aether_kv_step_rows_(cfg, q, qh, k, v, odd, od), AETHER_OK);
        CHECK_STATUS(aether_kv_step_rows_(cfg, q, qh, k, v, a, oa), AETHER_OK);
        CHECK_STATUS(aether_kv_step_rows_(cfg, q, qh, k, v, odd, od), AETHER_OK);
        /* Every other step b is offered odd, one token ahead (and after the
         * reset, far apart): b must build its own lists then. */
        CHECK_STATUS(aether_kv_step_rows_twin_(cfg, q2, qh, k, v, b, t % 2 ? odd : a, ob),
                     AETHER_OK);
        CHECK_STATUS(aether_kv_step_rows_(cfg, q2, qh, k, v, own, oo), AETHER_OK);
        diff += memcmp(ob, oo, qh * p.head_dim * sizeof(float)) != 0;
        if (t == steps / 2) {
            CHECK_STATUS(aether_kvcache_reset(a), AETHER_OK);
            CHECK_STATUS(aether_kvcache_reset(b), AETHER_OK);
            CHECK_STATUS(aether_kvcache_reset(own), AETHER_OK);
        }
    }
    CHECK_MSG(diff == 0, "%s evict %d: %lu twin decodes differ from the cache's own",
              aether_kernel_name(), (int)p.evict, (unsigned long)diff);
    aether_kvcache_destroy(a);
    aether_kvcache_destroy(b);
    aether_kvcache_destroy(own);
    aether_kvcache_destroy(odd);
    free(k);
    free(v);
    free(q);
    free(q2);
    free(oa);
    free(ob);
    free(oo);
    free(od);
}

static void test_twin_lists(void)
{
    static const size_t prot[] = {2, 5};
    static const aether_kv_evict evs[] = {AETHER_KV_EVICT_NONE, AETHER_KV_EVICT_SLIDING,
                                          AETHER_KV_EVICT_SCORED};
    static const dshape shapes[] = {{4, 1, 32, 8, 4}, {8, 8, 16, 6, 4}, {6, 2, 9, 5, 3}};
    size_t pth, si, e;
    for (pth = 0; pth < 4; ++pth) {
        if (pth < 3 && aether_set_kernel_mode(k_fast[pth]) != AETHER_OK)
            continue;
        if (pth == 3)
            aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
        for (si = 0; si < sizeof shapes / sizeof shapes[0]; ++si)
            for (e = 0; e < 3; ++e) {
                aether_attn_config cfg;
                aether_kvcache_params p;
                make_cfg(&cfg, shapes[si].window, shapes[si].block, (int)(si % 2));
                p = aether_kvcache_params_default(&cfg, 200, shapes[si].kvh, shapes[si].dim);
                p.evict = evs[e];
                p.landmarks = si % 2 ? AETHER_KV_LM_WELFORD : AETHER_KV_LM_SUM;
                if (evs[e] != AETHER_KV_EVICT_NONE) {
                    p.capacity = shapes[si].window + 9;
                    p.protect_tokens = prot;
                    p.n_protect = 2;
                }
                twin_case(p, &cfg, shapes[si].qh, 120);
                /* F16 caches share lists the same way (binary16 kernels). */
                p.storage = AETHER_KV_F16;
                twin_case(p, &cfg, shapes[si].qh, 120);
            }
    }
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

/* REFERENCE mode keeps the reference arithmetic: two caches decoded in
 * that mode agree bit for bit with the reference decode of either. */
static void test_reference_mode_exact(void)
{
    static const dshape s = {8, 2, 16, 6, 4};
    aether_attn_config cfg;
    aether_kvcache_params p;
    aether_kvcache *c = NULL;
    aether_tensor k1, v1, q1, o1, o2;
    size_t t, i;
    make_cfg(&cfg, s.window, s.block, 0);
    p = aether_kvcache_params_default(&cfg, 64, s.kvh, s.dim);
    CHECK_STATUS(aether_kvcache_create(&p, &c), AETHER_OK);
    aether_tensor_zeros(&k1, 1, s.kvh, s.dim);
    aether_tensor_zeros(&v1, 1, s.kvh, s.dim);
    aether_tensor_zeros(&q1, 1, s.qh, s.dim);
    aether_tensor_zeros(&o1, 1, s.qh, s.dim);
    aether_tensor_zeros(&o2, 1, s.qh, s.dim);
    for (t = 0; t < 40; ++t) {
        for (i = 0; i < s.kvh * s.dim; ++i) {
            k1.data[i] = frand(1.0f);
            v1.data[i] = frand(1.0f);
        }
        for (i = 0; i < s.qh * s.dim; ++i)
            q1.data[i] = frand(1.0f);
        CHECK_STATUS(aether_kvcache_append(c, &k1, &v1), AETHER_OK);
    }
    aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, c, &o1), AETHER_OK);
    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, c, &o2), AETHER_OK);
    CHECK(memcmp(o1.data, o2.data, s.qh * s.dim * sizeof(float)) == 0);
    /* The fast path differs from the reference only by rounding. */
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, c, &o2), AETHER_OK);
    for (i = 0; i < s.qh * s.dim; ++i)
        CHECK_NEAR(o2.data[i], o1.data[i], 1e-6 + 2e-6 * fabs(o1.data[i]));
    aether_kvcache_destroy(c);
    aether_tensor_free(&k1);
    aether_tensor_free(&v1);
    aether_tensor_free(&q1);
    aether_tensor_free(&o1);
    aether_tensor_free(&o2);
}

/* The slot resolution shortcuts of an evicting cache (in-order guesses
 * past protected slots, checked against the slot's token) find exactly the
 * tokens the position map holds: a SLIDING cache's decode equals the
 * reference recurrence over rows looked up by scanning every slot. The
 * protected ids g[0..ng) may repeat or arrive only after the cache first
 * evicted; the cache is reset once at frame reset_at, after which the ids
 * start again from 0. */
static void sliding_slots_exact(const size_t *g, size_t ng, size_t reset_at)
{
    enum { DIM = 8, CAP = 23 };
    aether_attn_params ap = aether_attn_params_default();
    aether_attn_config cfg;
    aether_kvcache_params p;
    aether_kvcache *c = NULL;
    aether_tensor k1, v1, q1, o1;
    size_t t, i, j, a, tok[256], n_tok = 0, s, id, bad = 0, pos = 0;
    float kr[DIM], vr[DIM], ks[256 * DIM], vs[256 * DIM], acc[DIM], want[DIM];
    ap.window = 4;
    ap.block_size = 4;
    ap.globals = g;
    ap.n_globals = ng;
    ap.use_landmarks = 0;
    aether_attn_config_init(&cfg, &ap);
    p = aether_kvcache_params_default(&cfg, CAP, 1, DIM);
    p.evict = AETHER_KV_EVICT_SLIDING;
    CHECK_STATUS(aether_kvcache_create(&p, &c), AETHER_OK);
    aether_tensor_zeros(&k1, 1, 1, DIM);
    aether_tensor_zeros(&v1, 1, 1, DIM);
    aether_tensor_zeros(&q1, 1, 1, DIM);
    aether_tensor_zeros(&o1, 1, 1, DIM);
    aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
    for (t = 0; t < 300 && c; ++t, ++pos) {
        aether_rows rows;
        size_t n = 0;
        if (t == reset_at) {
            CHECK_STATUS(aether_kvcache_reset(c), AETHER_OK);
            pos = 0;
        }
        for (i = 0; i < DIM; ++i) {
            k1.data[i] = frand(1.0f);
            v1.data[i] = frand(1.0f);
            q1.data[i] = frand(1.0f);
        }
        CHECK_STATUS(aether_kvcache_append(c, &k1, &v1), AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, c, &o1), AETHER_OK);
        CHECK_STATUS(aether_pattern_tokens(&cfg, pos, pos + 1, tok, 256, &n_tok), AETHER_OK);
        for (j = 0; j < n_tok; ++j)
            for (s = 0; s < aether_kvcache_len(c); ++s)
                if (aether_kvcache_slot_token(c, s, &id) == AETHER_OK && id == tok[j]) {
                    aether_kvcache_slot_rows(c, s, kr, vr);
                    memcpy(ks + n * DIM, kr, sizeof kr);
                    memcpy(vs + n * DIM, vr, sizeof vr);
                    ++n;
                    break;
                }
        for (a = 0; a < n; ++a)
            tok[a] = a;
        rows.k = ks;
        rows.v = vs;
        rows.stride = DIM;
        aether_sparse_query_(q1.data, DIM, aether_attn_scale(DIM), &rows, tok, n, &rows, NULL, 0,
                             acc, want);
        if (memcmp(want, o1.data, sizeof want) != 0)
            ++bad;
    }
    CHECK_EQ_INT((long)bad, 0);
    CHECK_EQ_INT((long)aether_kvcache_len(c), CAP);
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
    aether_kvcache_destroy(c);
    aether_tensor_free(&k1);
    aether_tensor_free(&v1);
    aether_tensor_free(&q1);
    aether_tensor_free(&o1);
}

static void test_sliding_slots_exact(void)
{
    static const size_t g[] = {0, 5, 9};
    /* 5 twice; the others arrive after the first eviction (capacity 23);
     * 46 and 130 share their entries of the position map (64 of them)
     * with the later unprotected tokens 110 and 194 */
    static const size_t late[] = {5, 40, 5, 41, 100, 46, 130};
    sliding_slots_exact(g, 3, SIZE_MAX);
    sliding_slots_exact(late, sizeof late / sizeof late[0], SIZE_MAX);
    sliding_slots_exact(late, sizeof late / sizeof late[0], 170);
}

/* The demo model streamed on the reference and on the active fast path:
 * logits and pooled state stay close frame after frame (the hidden state
 * carries the rounding differences through the layers and the cache). */
static void test_model_step(void)
{
    aether_blob_demo_params dp = aether_blob_demo_default();
    aether_blob_view bv;
    aether_model *m = NULL;
    aether_model_session *sr = NULL, *sf = NULL;
    aether_session_params sp = aether_model_session_params_default();
    size_t bytes = 0, i, f, n_cls, in;
    void *blob;
    float frame[64], lr[64], lf[64], pr[64], pf[64];
    double worst = 0.0;
    aether_model_info info;
    CHECK_STATUS(aether_blob_demo_size(&dp, &bytes), AETHER_OK);
    blob = malloc(bytes);
    CHECK(blob != NULL);
    if (!blob)
        return;
    sp.capacity = 150; /* SLIDING: evicts during the run */
    CHECK_STATUS(aether_blob_demo_write(&dp, blob, bytes, &bytes), AETHER_OK);
    CHECK_STATUS(aether_blob_parse(blob, bytes, &bv), AETHER_OK);
    CHECK_STATUS(aether_model_create(&bv, NULL, AETHER_MODEL_COPY, &m), AETHER_OK);
    CHECK_STATUS(aether_model_session_create(m, &sp, &sr), AETHER_OK);
    CHECK_STATUS(aether_model_session_create(m, &sp, &sf), AETHER_OK);
    CHECK_STATUS(aether_model_get_info(m, &info), AETHER_OK);
    in = info.input_dim;
    n_cls = info.n_classes;
    CHECK(in <= 64 && n_cls <= 64);
    for (f = 0; f < 400 && sr && sf && in <= 64 && n_cls <= 64; ++f) {
        for (i = 0; i < in; ++i)
            frame[i] = frand(2.0f);
        aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
        CHECK_STATUS(aether_model_session_step(sr, frame, lr, pr), AETHER_OK);
        aether_set_kernel_mode(AETHER_KERNELS_AUTO);
        CHECK_STATUS(aether_model_session_step(sf, frame, lf, pf), AETHER_OK);
        for (i = 0; i < n_cls; ++i) {
            double d = fabs((double)lf[i] - (double)lr[i]);
            worst = d > worst ? d : worst;
            CHECK_NEAR(lf[i], lr[i], 1e-4 + 1e-4 * fabs(lr[i]));
        }
        for (i = 0; i < in; ++i)
            CHECK_NEAR(pf[i], pr[i], 1e-4 + 1e-4 * fabs(pr[i]));
    }
    printf("model step (%s) vs reference: max logit diff %.3g over 400 frames\n",
           aether_kernel_name(), worst);
    /* A non-finite frame fails on both paths, before any layer took it. */
    frame[0] = NAN;
    CHECK_STATUS(aether_model_session_step(sf, frame, lf, NULL), AETHER_ERR_NONFINITE);
    CHECK_EQ_INT((long)aether_model_session_frames(sf), 400);
    frame[0] = 0.5f;
    CHECK_STATUS(aether_model_session_step(sf, frame, lf, NULL), AETHER_OK);
    aether_model_session_destroy(sr);
    aether_model_session_destroy(sf);
    aether_model_destroy(m);
    free(blob);
}

/* An F16 cache decodes on the optimised kernels (their binary16 twins),
 * not on the reference: every decode leaves the final lists of a fast
 * decode behind (fast_token). Against an F32 cache holding the same
 * (f16-representable) rows on the same path: bit for bit through the
 * multi-head kernel (the f32 and f16 twins share their arithmetic), within
 * the contract through the group kernel (whose f32 side has its own score
 * kernels for one row and for groups of four). */
typedef struct f16shape {
    size_t qh, kvh, dim;
    int exact;
} f16shape;

static void test_f16_takes_fast_path(void)
{
    static const f16shape shapes[] = {{4, 2, 40, 1}, {8, 8, 16, 1}, {6, 3, 33, 1},
                                      {4, 1, 32, 0}, {1, 1, 33, 0}, {8, 2, 17, 0}};
    aether_attn_config cfg;
    aether_kvcache_params p;
    aether_kvcache *c16 = NULL, *c32 = NULL;
    aether_tensor k1, v1, q1, o16, o32;
    size_t p_i, si, t, i, same, bad, steps = 150;
    double worst = 0.0;
    make_cfg(&cfg, 24, 8, 0);
    for (p_i = 0; p_i < 3; ++p_i) {
        if (aether_set_kernel_mode(k_fast[p_i]) != AETHER_OK)
            continue;
        for (si = 0; si < sizeof shapes / sizeof shapes[0]; ++si) {
            const f16shape *sh = &shapes[si];
            size_t nkv = sh->kvh * sh->dim, nq = sh->qh * sh->dim;
            p = aether_kvcache_params_default(&cfg, steps, sh->kvh, sh->dim);
            p.storage = AETHER_KV_F16;
            CHECK_STATUS(aether_kvcache_create(&p, &c16), AETHER_OK);
            p.storage = AETHER_KV_F32;
            CHECK_STATUS(aether_kvcache_create(&p, &c32), AETHER_OK);
            aether_tensor_zeros(&k1, 1, sh->kvh, sh->dim);
            aether_tensor_zeros(&v1, 1, sh->kvh, sh->dim);
            aether_tensor_zeros(&q1, 1, sh->qh, sh->dim);
            aether_tensor_zeros(&o16, 1, sh->qh, sh->dim);
            aether_tensor_zeros(&o32, 1, sh->qh, sh->dim);
            for (t = 0, same = 0, bad = 0; c16 && c32 && t < steps; ++t) {
                for (i = 0; i < nkv; ++i) {
                    /* Values an f16 holds exactly: both caches see the same. */
                    k1.data[i] = aether_f16_to_f32(aether_f32_to_f16(frand(2.0f)));
                    v1.data[i] = aether_f16_to_f32(aether_f32_to_f16(frand(2.0f)));
                }
                for (i = 0; i < nq; ++i)
                    q1.data[i] = frand(1.0f);
                CHECK_STATUS(aether_kvcache_append(c16, &k1, &v1), AETHER_OK);
                CHECK_STATUS(aether_kvcache_append(c32, &k1, &v1), AETHER_OK);
                CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, c16, &o16), AETHER_OK);
                CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, c32, &o32), AETHER_OK);
                same += memcmp(o16.data, o32.data, nq * sizeof(float)) == 0;
                bad += !within(o16.data, o32.data, nq, 4.0f, &worst);
                CHECK(c16->fast_token == c16->next_token);
            }
            if (sh->exact)
                CHECK_MSG(same == steps, "%s q%lu kv%lu dim %lu: %lu of %lu steps bit-equal",
                          aether_kernel_name(), (unsigned long)sh->qh, (unsigned long)sh->kvh,
                          (unsigned long)sh->dim, (unsigned long)same, (unsigned long)steps);
            CHECK_MSG(bad == 0, "%s q%lu kv%lu dim %lu: %lu steps off contract",
                      aether_kernel_name(), (unsigned long)sh->qh, (unsigned long)sh->kvh,
                      (unsigned long)sh->dim, (unsigned long)bad);
            aether_kvcache_destroy(c16);
            aether_kvcache_destroy(c32);
            c16 = c32 = NULL;
            aether_tensor_free(&k1);
            aether_tensor_free(&v1);
            aether_tensor_free(&q1);
            aether_tensor_free(&o16);
            aether_tensor_free(&o32);
        }
    }
    printf("f16 cache vs f32 cache on the fast path: max abs diff %.3g\n", worst);
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

TEST_MAIN(test_f16_takes_fast_path, test_decode_vs_reference, test_decode_long_lists,
          test_twin_lists, test_reference_mode_exact, test_sliding_slots_exact, test_model_step)
