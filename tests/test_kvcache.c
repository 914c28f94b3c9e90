/*
 * KV cache: streaming equals prefill (LM_SUM, MHA and GQA, every position),
 * validation and atomicity (a failed call leaves every byte unchanged),
 * eviction policies, batch decode, the docs/KERNELS.md section 14.6 test vectors.
 */
#include <stdint.h>
#include <stdlib.h>

#include "aether/attention.h"
#include "aether/dispatch.h"
#include "aether/kvcache.h"
#include "check.h"
#include "test_ws.h"

static uint64_t g_rng = 12345;

static float rnd(void)
{
    uint64_t z = (g_rng += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
}

static void fill(aether_tensor *t)
{
    size_t i, n = aether_tensor_size(t);
    for (i = 0; i < n; ++i)
        t->data[i] = rnd();
}

static int bits_equal(const float *a, const float *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        if (aether_f32_bits(a[i]) != aether_f32_bits(b[i]))
            return 0;
    return 1;
}

static aether_tensor row_of(const aether_tensor *t, size_t s)
{
    aether_tensor v;
    (void)aether_tensor_view(&v, aether_tensor_row(t, s, 0), t->heads * t->dim, 1, t->heads,
                             t->dim);
    return v;
}

typedef struct rcfg {
    size_t window, block, n_glob, g0, g1;
    int log, lm, sort;
    size_t qh, kvh, dim, seq;
} rcfg;

static void make_cfg(aether_attn_config *cfg, const rcfg *r)
{
    size_t g[2];
    aether_attn_params p = aether_attn_params_default();
    g[0] = r->g0;
    g[1] = r->g1;
    p.window = r->window;
    p.block_size = r->block;
    p.globals = g;
    p.n_globals = r->n_glob;
    p.causal = 1;
    p.use_log_stride = r->log;
    p.use_landmarks = r->lm;
    p.sort_candidates = r->sort;
    CHECK_STATUS(aether_attn_config_init(cfg, &p), AETHER_OK);
}

/* Stream r->seq tokens through a cache with `ev`; every decode must equal
 * the matching forward row bit for bit. */
static void stream_vs_forward(const rcfg *r, aether_kv_evict ev, size_t capacity)
{
    aether_attn_config cfg;
    aether_tensor q, k, v, ref, out;
    aether_kvcache_params p;
    aether_kvcache *kc = NULL;
    size_t t, bad = 0;
    /* The decode step is the scalar reference; compare with the reference
     * forward (optimised kernels only agree within their accuracy bound). */
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
    make_cfg(&cfg, r);
    CHECK_STATUS(aether_tensor_zeros(&q, r->seq, r->qh, r->dim), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&k, r->seq, r->kvh, r->dim), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&v, r->seq, r->kvh, r->dim), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&ref, r->seq, r->qh, r->dim), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&out, 1, r->qh, r->dim), AETHER_OK);
    fill(&q);
    fill(&k);
    fill(&v);
    CHECK_STATUS(ws_attn_forward_auto(&cfg, &q, &k, &v, &ref), AETHER_OK);
    p = aether_kvcache_params_default(&cfg, capacity, r->kvh, r->dim);
    p.evict = ev;
    CHECK_STATUS(aether_kvcache_create(&p, &kc), AETHER_OK);
    for (t = 0; kc && t < r->seq; ++t) {
        aether_tensor q1 = row_of(&q, t), k1 = row_of(&k, t), v1 = row_of(&v, t);
        CHECK_STATUS(aether_kvcache_append(kc, &k1, &v1), AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, kc, &out), AETHER_OK);
        if (!bits_equal(out.data, aether_tensor_row(&ref, t, 0), r->qh * r->dim))
            ++bad;
    }
    CHECK_MSG(bad == 0, "W%zu B%zu qh%zu kvh%zu ev%d: %zu of %zu positions differ", r->window,
              r->block, r->qh, r->kvh, (int)ev, bad, r->seq);
    aether_kvcache_destroy(kc);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&ref);
    aether_tensor_free(&out);
}

static void test_stream_equals_forward(void)
{
    static const rcfg cases[] =
        {{8, 4, 1, 0, 0, 1, 1, 0, 2, 2, 16, 200},   {4, 16, 2, 0, 3, 1, 1, 1, 3, 3, 8, 257},
         {64, 64, 0, 0, 0, 0, 1, 0, 2, 2, 32, 150}, {2, 4, 2, 0, 3, 1, 0, 0, 1, 1, 12, 100},
         {0, 16, 0, 0, 0, 0, 0, 0, 2, 2, 8, 64},    {32, 16, 1, 0, 0, 1, 1, 0, 4, 1, 32, 300},
         {8, 4, 1, 0, 0, 1, 1, 1, 4, 2, 16, 120},   {16, 8, 2, 0, 5, 1, 1, 0, 8, 2, 8, 200},
         {3, 4, 1, 0, 0, 1, 1, 0, 6, 3, 16, 97},    {5, 1, 1, 2, 0, 1, 1, 1, 2, 1, 4, 70}};
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        stream_vs_forward(&cases[i], AETHER_KV_EVICT_NONE, cases[i].seq);
    /* Bounded policies behave exactly like NONE until the first eviction. */
    stream_vs_forward(&cases[0], AETHER_KV_EVICT_SLIDING, cases[0].seq + 3);
    stream_vs_forward(&cases[5], AETHER_KV_EVICT_SCORED, cases[5].seq);
}

/* Log-stride off: every candidate lies in the window, the globals or the
 * two newest complete blocks, which SLIDING and SCORED always keep - so
 * even after evictions they still equal forward exactly. */
static void test_bounded_policies_keep_window(void)
{
    static const rcfg a = {6, 4, 1, 0, 0, 0, 1, 0, 2, 1, 8, 300};
    static const rcfg b = {5, 4, 2, 0, 2, 0, 1, 1, 4, 2, 8, 300};
    stream_vs_forward(&a, AETHER_KV_EVICT_SLIDING, 12);
    stream_vs_forward(&b, AETHER_KV_EVICT_SLIDING, 9);
    stream_vs_forward(&a, AETHER_KV_EVICT_SCORED, 16);
    stream_vs_forward(&b, AETHER_KV_EVICT_SCORED, 10);
}

static aether_kvcache *small_cache(aether_attn_config *cfg, void **mem, size_t *bytes,
                                   size_t capacity, aether_kv_evict ev, aether_kv_storage st)
{
    aether_attn_params ap = aether_attn_params_default();
    aether_kvcache_params p;
    aether_kvcache *kc = NULL;
    ap.window = 4;
    ap.block_size = 2;
    CHECK_STATUS(aether_attn_config_init(cfg, &ap), AETHER_OK);
    p = aether_kvcache_params_default(cfg, capacity, 2, 4);
    p.evict = ev;
    p.storage = st;
    p.protect_recent = 2;
    CHECK_STATUS(aether_kvcache_size(&p, bytes), AETHER_OK);
    *mem = calloc(1, *bytes); /* padding bytes are compared too */
    CHECK_STATUS(aether_kvcache_init(*mem, *bytes, &p, &kc), AETHER_OK);
    CHECK_EQ_INT(aether_kvcache_bytes(kc), *bytes);
    return kc;
}

/* Every failing call must leave the object's bytes exactly as they were. */
static void check_errors_atomic(aether_kv_evict ev, aether_kv_storage stg)
{
    aether_attn_config cfg, other;
    aether_attn_params ap = aether_attn_params_default();
    void *mem;
    unsigned char *snap;
    size_t bytes, i, slot;
    float kb[8], vb[8], qb[16], ob[16], big[64], bigq[128], bigo[128], sc[8];
    aether_tensor k1, v1, q1, o1, bad, kn, vn, qn, on;
    aether_kvcache *kc = small_cache(&cfg, &mem, &bytes, 6, ev, stg);
    for (i = 0; i < 8; ++i) {
        kb[i] = rnd();
        vb[i] = rnd();
    }
    for (i = 0; i < 16; ++i)
        qb[i] = rnd();
    for (i = 0; i < 64; ++i)
        big[i] = rnd();
    for (i = 0; i < 128; ++i)
        bigq[i] = rnd();
    (void)aether_tensor_view(&k1, kb, 8, 1, 2, 4);
    (void)aether_tensor_view(&v1, vb, 8, 1, 2, 4);
    (void)aether_tensor_view(&q1, qb, 16, 1, 4, 4);
    (void)aether_tensor_view(&o1, ob, 16, 1, 4, 4);
    for (i = 0; i < 6; ++i) {
        CHECK_STATUS(aether_kvcache_append(kc, &k1, &v1), AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, kc, &o1), AETHER_OK);
    }
    snap = (unsigned char *)malloc(bytes);
    memcpy(snap, mem, bytes);

    /* append */
    (void)aether_tensor_view(&bad, big, 16, 2, 2, 4);
    CHECK_STATUS(aether_kvcache_append(kc, &bad, &v1), AETHER_ERR_SEQ_NOT_ONE);
    (void)aether_tensor_view(&bad, big, 12, 1, 3, 4);
    CHECK_STATUS(aether_kvcache_append(kc, &k1, &bad), AETHER_ERR_KV_HEADS_MISMATCH);
    (void)aether_tensor_view(&bad, big, 10, 1, 2, 5);
    CHECK_STATUS(aether_kvcache_append(kc, &bad, &v1), AETHER_ERR_HEAD_DIM_MISMATCH);
    CHECK_STATUS(aether_kvcache_append(kc, NULL, &v1), AETHER_ERR_NULL_ARG);
    kb[5] = NAN;
    CHECK_STATUS(aether_kvcache_append(kc, &k1, &v1), AETHER_ERR_NONFINITE);
    kb[5] = INFINITY;
    CHECK_STATUS(aether_kvcache_append_rows(kc, kb, vb), AETHER_ERR_NONFINITE);
    kb[5] = 0.25f;
    if (ev == AETHER_KV_EVICT_NONE || ev == AETHER_KV_EVICT_H2O_COMPAT)
        CHECK_STATUS(aether_kvcache_append(kc, &k1, &v1), AETHER_ERR_CACHE_FULL);
    /* prefill never evicts and is all-or-nothing */
    (void)aether_tensor_view(&kn, big, 16, 2, 2, 4);
    (void)aether_tensor_view(&vn, big + 16, 16, 2, 2, 4);
    CHECK_STATUS(aether_kvcache_append_all(kc, &kn, &vn), AETHER_ERR_CACHE_FULL);
    (void)aether_tensor_view(&vn, big + 16, 8, 1, 2, 4);
    CHECK_STATUS(aether_kvcache_append_all(kc, &kn, &vn), AETHER_ERR_SHAPE_MISMATCH);

    /* decode */
    ap.window = 4;
    ap.block_size = 4;
    CHECK_STATUS(aether_attn_config_init(&other, &ap), AETHER_OK);
    CHECK_STATUS(aether_kvcache_decode_step(&other, &q1, kc, &o1), AETHER_ERR_BLOCK_MISMATCH);
    ap.block_size = 2;
    ap.window = 100; /* needs more candidate scratch than sized */
    CHECK_STATUS(aether_attn_config_init(&other, &ap), AETHER_OK);
    if (ev == AETHER_KV_EVICT_SLIDING || ev == AETHER_KV_EVICT_SCORED)
        CHECK_STATUS(aether_kvcache_decode_step(&other, &q1, kc, &o1), AETHER_ERR_INVALID_CONFIG);
    (void)aether_tensor_view(&bad, bigq, 32, 2, 4, 4);
    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &bad, kc, &o1), AETHER_ERR_SEQ_NOT_ONE);
    (void)aether_tensor_view(&bad, bigq, 15, 1, 3, 5);
    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &bad, kc, &o1), AETHER_ERR_HEAD_DIM_MISMATCH);
    (void)aether_tensor_view(&bad, bigq, 12, 1, 3, 4);
    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &bad, kc, &o1), AETHER_ERR_GQA_RATIO);
    (void)aether_tensor_view(&bad, bigq, 0, 1, 0, 4);
    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &bad, kc, &o1), AETHER_ERR_GQA_RATIO);
    (void)aether_tensor_view(&bad, bigq, 8, 1, 2, 4);
    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, kc, &bad), AETHER_ERR_SHAPE_MISMATCH);
    qb[3] = NAN;
    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, kc, &o1), AETHER_ERR_NONFINITE);
    qb[3] = 0.5f;
    CHECK_STATUS(aether_kvcache_decode_step(NULL, &q1, kc, &o1), AETHER_ERR_NULL_ARG);

    /* batch: validated as a whole */
    (void)aether_tensor_view(&qn, bigq, 32, 2, 4, 4);
    (void)aether_tensor_view(&on, bigo, 32, 2, 4, 4);
    (void)aether_tensor_view(&kn, big, 16, 2, 2, 4);
    (void)aether_tensor_view(&vn, big + 16, 16, 2, 2, 4);
    if (ev == AETHER_KV_EVICT_NONE || ev == AETHER_KV_EVICT_H2O_COMPAT)
        CHECK_STATUS(aether_kvcache_decode_batch(&cfg, &qn, &kn, &vn, kc, &on),
                     AETHER_ERR_CACHE_FULL);
    big[31] = NAN; /* the last v row of the last draft */
    CHECK_STATUS(aether_kvcache_decode_batch(&cfg, &qn, &kn, &vn, kc, &on), AETHER_ERR_NONFINITE);
    big[31] = 0.0f;
    bigq[127] = INFINITY;
    (void)aether_tensor_view(&qn, bigq, 128, 8, 4, 4);
    CHECK_STATUS(aether_kvcache_decode_batch(&cfg, &qn, &kn, &vn, kc, &on),
                 AETHER_ERR_SHAPE_MISMATCH);
    (void)aether_tensor_view(&vn, big + 16, 8, 1, 2, 4);
    (void)aether_tensor_view(&qn, bigq, 32, 2, 4, 4);
    CHECK_STATUS(aether_kvcache_decode_batch(&cfg, &qn, &kn, &vn, kc, &on),
                 AETHER_ERR_SHAPE_MISMATCH);

    /* reference eviction */
    for (i = 0; i < 8; ++i)
        sc[i] = (float)i;
    if (ev != AETHER_KV_EVICT_H2O_COMPAT) {
        CHECK_STATUS(aether_kvcache_evict_and_append(kc, &k1, &v1, sc, 6, NULL, 0, 1, &slot),
                     AETHER_ERR_STATE);
    } else {
        CHECK_STATUS(aether_kvcache_evict_and_append(kc, &k1, &v1, sc, 5, NULL, 0, 1, &slot),
                     AETHER_ERR_SCORES_LENGTH);
        kb[0] = NAN;
        CHECK_STATUS(aether_kvcache_evict_and_append(kc, &k1, &v1, sc, 6, NULL, 0, 1, &slot),
                     AETHER_ERR_NONFINITE);
        kb[0] = 0.0f;
        (void)aether_tensor_view(&bad, big, 10, 1, 2, 5);
        CHECK_STATUS(aether_kvcache_evict_and_append(kc, &bad, &v1, sc, 6, NULL, 0, 1, &slot),
                     AETHER_ERR_HEAD_DIM_MISMATCH);
    }
    CHECK_MSG(memcmp(snap, mem, bytes) == 0,
              "policy %d storage %d: state changed by a failed call", (int)ev, (int)stg);
    CHECK_EQ_INT(aether_kvcache_bytes(kc), bytes);
    free(snap);
    free(mem);
}

static void test_errors_leave_state_unchanged(void)
{
    check_errors_atomic(AETHER_KV_EVICT_NONE, AETHER_KV_F32);
    check_errors_atomic(AETHER_KV_EVICT_NONE, AETHER_KV_F16);
    check_errors_atomic(AETHER_KV_EVICT_SLIDING, AETHER_KV_F32);
    check_errors_atomic(AETHER_KV_EVICT_SCORED, AETHER_KV_F16);
    check_errors_atomic(AETHER_KV_EVICT_H2O_COMPAT, AETHER_KV_F32);
}

static void test_params_and_lifecycle(void)
{
    aether_attn_config cfg;
    aether_attn_params ap = aether_attn_params_default();
    aether_kvcache_params p;
    aether_kvcache *kc = NULL;
    size_t bytes = 0, bytes2 = 0;
    unsigned char *buf;
    float q[4] = {1, 2, 3, 4}, o[4] = {9, 9, 9, 9};
    aether_tensor q1, o1;
    ap.block_size = 8;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    p = aether_kvcache_params_default(&cfg, 100, 1, 4);
    CHECK_EQ_INT(p.protect_recent, 128);
    CHECK_EQ_INT(p.n_protect, 1);
    CHECK_STATUS(aether_kvcache_size(&p, &bytes), AETHER_OK);
    CHECK(bytes > 100 * 4 * 2 * sizeof(float));
    CHECK_STATUS(aether_kvcache_size(NULL, &bytes2), AETHER_ERR_NULL_ARG);
    p.block_size = 4;
    CHECK_STATUS(aether_kvcache_size(&p, &bytes2), AETHER_ERR_BLOCK_MISMATCH);
    p.block_size = 8;
    p.head_dim = 0;
    CHECK_STATUS(aether_kvcache_size(&p, &bytes2), AETHER_ERR_ZERO_HEAD_DIM);
    p.head_dim = 4;
    p.kv_heads = 0;
    CHECK_STATUS(aether_kvcache_size(&p, &bytes2), AETHER_ERR_GQA_RATIO);
    p.kv_heads = 1;
    p.capacity = SIZE_MAX / 2;
    CHECK_STATUS(aether_kvcache_size(&p, &bytes2), AETHER_ERR_OVERFLOW);
    p.capacity = 100;
    p.evict = (aether_kv_evict)7;
    CHECK_STATUS(aether_kvcache_size(&p, &bytes2), AETHER_ERR_INVALID_ARG);
    p.evict = AETHER_KV_EVICT_SCORED; /* 100 <= 1 + 128 protected */
    CHECK_STATUS(aether_kvcache_size(&p, &bytes2), AETHER_ERR_INVALID_ARG);
    p.protect_recent = 98;
    CHECK_STATUS(aether_kvcache_size(&p, &bytes2), AETHER_OK);
    p.evict = AETHER_KV_EVICT_H2O_COMPAT;
    /* The compat rebuild needs the unrounded rows: no reduced storage. */
    p.storage = AETHER_KV_F16;
    CHECK_STATUS(aether_kvcache_size(&p, &bytes2), AETHER_ERR_UNSUPPORTED);
    p.storage = AETHER_KV_BF16;
    CHECK_STATUS(aether_kvcache_size(&p, &bytes2), AETHER_ERR_UNSUPPORTED);
    p.storage = AETHER_KV_I8;
    CHECK_STATUS(aether_kvcache_size(&p, &bytes2), AETHER_ERR_UNSUPPORTED);
    p.storage = (aether_kv_storage)4;
    CHECK_STATUS(aether_kvcache_size(&p, &bytes2), AETHER_ERR_INVALID_ARG);
    p.storage = AETHER_KV_F32;
    p.evict = AETHER_KV_EVICT_NONE;
    p.attn = NULL;
    CHECK_STATUS(aether_kvcache_size(&p, &bytes2), AETHER_ERR_NULL_ARG);
    p.attn = &cfg;

    buf = (unsigned char *)malloc(bytes + 64);
    CHECK_STATUS(aether_kvcache_init(buf, bytes - 1, &p, &kc), AETHER_ERR_BUFFER_TOO_SMALL);
    /* any alignment of the caller's buffer works */
    CHECK_STATUS(aether_kvcache_init(buf + 3, bytes, &p, &kc), AETHER_OK);
    CHECK_EQ_INT(aether_kvcache_capacity(kc), 100);
    CHECK_EQ_INT(aether_kvcache_len(kc), 0);
    CHECK_EQ_INT(aether_kvcache_block_size(kc), 8);
    CHECK_EQ_INT(aether_kvcache_landmark_blocks(kc), 13);
    CHECK(!aether_kvcache_is_full(kc));
    /* empty cache: zeros, no error */
    (void)aether_tensor_view(&q1, q, 4, 1, 1, 4);
    (void)aether_tensor_view(&o1, o, 4, 1, 1, 4);
    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, kc, &o1), AETHER_OK);
    CHECK(o[0] == 0.0f && o[1] == 0.0f && o[2] == 0.0f && o[3] == 0.0f);
    /* one token: the output is its value row */
    CHECK_STATUS(aether_kvcache_append_rows(kc, q, q), AETHER_OK);
    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, kc, &o1), AETHER_OK);
    CHECK(bits_equal(o, q, 4));
    CHECK_EQ_INT(aether_kvcache_tokens_seen(kc), 1);
    CHECK_STATUS(aether_kvcache_reset(kc), AETHER_OK);
    CHECK_EQ_INT(aether_kvcache_len(kc), 0);
    CHECK_EQ_INT(aether_kvcache_tokens_seen(kc), 0);
    free(buf);

    /* capacity 0: always full */
    p.capacity = 0;
    CHECK_STATUS(aether_kvcache_create(&p, &kc), AETHER_OK);
    CHECK(aether_kvcache_is_full(kc));
    CHECK_STATUS(aether_kvcache_append_rows(kc, q, q), AETHER_ERR_CACHE_FULL);
    aether_kvcache_destroy(kc);
    aether_kvcache_destroy(NULL);
    CHECK_EQ_INT(aether_kvcache_len(NULL), 0);
    CHECK_STATUS(aether_kvcache_reset(NULL), AETHER_ERR_NULL_ARG);
}

/* docs/KERNELS.md section 14.6 vectors (reference eviction). */
static void test_h2o_spec_vectors(void)
{
    aether_attn_config cfg;
    aether_attn_params ap = aether_attn_params_default();
    aether_kvcache_params p;
    aether_kvcache *kc = NULL;
    float row[2], kr[2], lk[2], lv[2];
    float scores[4] = {0.5f, 0.1f, 0.3f, 0.9f}, sc3[3] = {0.1f, 0.2f, 0.3f};
    size_t g0 = 0, t, slot = 0;
    aether_tensor k1;
    static const float want_k[4][2] = {{0, 10}, {2, 12}, {3, 13}, {99, 99}};
    ap.block_size = 2;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    p = aether_kvcache_params_default(&cfg, 4, 1, 2);
    p.evict = AETHER_KV_EVICT_H2O_COMPAT;
    CHECK_STATUS(aether_kvcache_create(&p, &kc), AETHER_OK);
    (void)aether_tensor_view(&k1, row, 2, 1, 1, 2);
    for (t = 0; t < 4; ++t) {
        row[0] = (float)t;
        row[1] = 10.0f + (float)t;
        CHECK_STATUS(aether_kvcache_evict_and_append(kc, &k1, &k1, NULL, 0, NULL, 0, 1, &slot),
                     AETHER_OK);
        CHECK(slot == AETHER_KVCACHE_NO_SLOT);
    }
    row[0] = row[1] = 99.0f;
    CHECK_STATUS(aether_kvcache_evict_and_append(kc, &k1, &k1, scores, 4, &g0, 1, 1, &slot),
                 AETHER_OK);
    CHECK_EQ_INT(slot, 1);
    for (t = 0; t < 4; ++t) {
        CHECK_STATUS(aether_kvcache_slot_rows(kc, t, kr, NULL), AETHER_OK);
        CHECK(kr[0] == want_k[t][0] && kr[1] == want_k[t][1]);
    }
    CHECK_STATUS(aether_kvcache_landmark(kc, 0, lk, lv), AETHER_OK);
    CHECK(lk[0] == 1.0f && lk[1] == 11.0f);
    CHECK_STATUS(aether_kvcache_landmark(kc, 1, lk, lv), AETHER_OK);
    CHECK(lk[0] == 51.0f && lk[1] == 56.0f && lv[0] == 51.0f);
    aether_kvcache_destroy(kc);

    /* fallback: every slot protected -> slot 0 goes, even though global */
    ap.block_size = 1;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    p = aether_kvcache_params_default(&cfg, 3, 1, 1);
    p.evict = AETHER_KV_EVICT_H2O_COMPAT;
    CHECK_STATUS(aether_kvcache_create(&p, &kc), AETHER_OK);
    (void)aether_tensor_view(&k1, row, 1, 1, 1, 1);
    for (t = 0; t < 3; ++t) {
        row[0] = (float)t;
        CHECK_STATUS(aether_kvcache_append(kc, &k1, &k1), AETHER_OK);
    }
    row[0] = 7.0f;
    CHECK_STATUS(aether_kvcache_evict_and_append(kc, &k1, &k1, sc3, 3, &g0, 1, 5, &slot),
                 AETHER_OK);
    CHECK_EQ_INT(slot, 0);
    for (t = 0; t < 3; ++t) {
        static const float want[3] = {1, 2, 7};
        CHECK_STATUS(aether_kvcache_slot_rows(kc, t, kr, NULL), AETHER_OK);
        CHECK(kr[0] == want[t]);
    }
    aether_kvcache_destroy(kc);
}

/* SLIDING keeps the protected ids plus the newest tokens, whatever order the
 * ring replaced them in. */
static void test_sliding_retention(void)
{
    aether_attn_config cfg;
    aether_attn_params ap = aether_attn_params_default();
    aether_kvcache_params p;
    aether_kvcache *kc = NULL;
    size_t prot[2] = {0, 13}, t, s, tok, seen[64];
    float row[2];
    ap.window = 2;
    ap.block_size = 2;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    p = aether_kvcache_params_default(&cfg, 8, 1, 2);
    p.evict = AETHER_KV_EVICT_SLIDING;
    p.protect_tokens = prot;
    p.n_protect = 2;
    CHECK_STATUS(aether_kvcache_create(&p, &kc), AETHER_OK);
    for (t = 0; t < 40; ++t) {
        row[0] = (float)t;
        row[1] = -(float)t;
        CHECK_STATUS(aether_kvcache_append_rows(kc, row, row), AETHER_OK);
        CHECK(aether_kvcache_len(kc) == (t < 8 ? t + 1 : 8));
    }
    memset(seen, 0, sizeof seen);
    for (s = 0; s < 8; ++s) {
        float kr[2];
        CHECK_STATUS(aether_kvcache_slot_token(kc, s, &tok), AETHER_OK);
        CHECK_STATUS(aether_kvcache_slot_rows(kc, s, kr, NULL), AETHER_OK);
        CHECK(kr[0] == (float)tok); /* rows follow their token */
        if (tok < 64)
            seen[tok] = 1;
    }
    CHECK(seen[0] && seen[13]);
    for (t = 34; t < 40; ++t)
        CHECK(seen[t]);
    aether_kvcache_destroy(kc);
}

/* SCORED: scores are normalised weights, and the weakest unprotected slot
 * is the one replaced. */
static void test_scored_eviction(void)
{
    aether_attn_config cfg;
    aether_attn_params ap = aether_attn_params_default();
    aether_kvcache_params p;
    aether_kvcache *kc = NULL;
    size_t t, s, tok, victim_tok = 0;
    float kv[4], q[8], o[8], sc, best = 0.0f, total;
    aether_tensor q1, o1;
    int first = 1;
    ap.window = 2;
    ap.block_size = 4;
    ap.use_landmarks = 0;
    ap.use_log_stride = 1;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    p = aether_kvcache_params_default(&cfg, 10, 1, 4);
    p.evict = AETHER_KV_EVICT_SCORED;
    CHECK_STATUS(aether_kvcache_create(&p, &kc), AETHER_OK);
    (void)aether_tensor_view(&q1, q, 8, 1, 2, 4);
    (void)aether_tensor_view(&o1, o, 8, 1, 2, 4);
    for (t = 0; t < 10; ++t) {
        size_t x;
        for (x = 0; x < 4; ++x)
            kv[x] = rnd();
        for (x = 0; x < 8; ++x)
            q[x] = rnd();
        CHECK_STATUS(aether_kvcache_append_rows(kc, kv, kv), AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, kc, &o1), AETHER_OK);
    }
    /* landmarks off: each of the 2 query heads spreads exactly weight 1 */
    total = 0.0f;
    for (s = 0; s < 10; ++s) {
        CHECK_STATUS(aether_kvcache_slot_score(kc, s, &sc), AETHER_OK);
        CHECK(sc >= 0.0f);
        total += sc;
        CHECK_STATUS(aether_kvcache_slot_token(kc, s, &tok), AETHER_OK);
        /* protected: token 0 (global) and the 2 newest (8, 9) */
        if (tok != 0 && tok < 8 && (first || sc < best)) {
            best = sc;
            victim_tok = tok;
            first = 0;
        }
    }
    CHECK_NEAR(total, 10.0 * 2.0, 1e-4);
    CHECK_STATUS(aether_kvcache_append_rows(kc, kv, kv), AETHER_OK);
    CHECK_EQ_INT(aether_kvcache_len(kc), 10);
    for (s = 0; s < 10; ++s) {
        CHECK_STATUS(aether_kvcache_slot_token(kc, s, &tok), AETHER_OK);
        CHECK(tok != victim_tok);
        if (tok == 10) {
            CHECK_STATUS(aether_kvcache_slot_score(kc, s, &sc), AETHER_OK);
            CHECK(sc == 0.0f);
        }
    }
    aether_kvcache_destroy(kc);
}

/* The tournament tree picks exactly what a full scan would: the lowest score
 * among unprotected, non-recent slots, ties to the oldest token. */
static void test_scored_tree_matches_scan(void)
{
    aether_attn_config cfg;
    aether_attn_params ap = aether_attn_params_default();
    aether_kvcache_params p;
    aether_kvcache *kc = NULL;
    size_t prot[2] = {0, 5}, t, s, x, tok, mism = 0, evictions = 0;
    float kv[4], q[4], o[4];
    aether_tensor q1, o1;
    ap.window = 3;
    ap.block_size = 4;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    p = aether_kvcache_params_default(&cfg, 16, 1, 4);
    p.evict = AETHER_KV_EVICT_SCORED;
    p.protect_tokens = prot;
    p.n_protect = 2;
    p.protect_recent = 3;
    CHECK_STATUS(aether_kvcache_create(&p, &kc), AETHER_OK);
    (void)aether_tensor_view(&q1, q, 4, 1, 1, 4);
    (void)aether_tensor_view(&o1, o, 4, 1, 1, 4);
    for (t = 0; kc && t < 600; ++t) {
        size_t want = SIZE_MAX, seen = aether_kvcache_tokens_seen(kc), found = 0;
        float best = 0.0f, sc;
        for (x = 0; x < 4; ++x) {
            kv[x] = rnd();
            q[x] = rnd() * 3.0f;
        }
        if (aether_kvcache_is_full(kc)) {
            for (s = 0; s < 16; ++s) {
                (void)aether_kvcache_slot_token(kc, s, &tok);
                (void)aether_kvcache_slot_score(kc, s, &sc);
                if (tok == 0 || tok == 5 || seen - tok <= 3)
                    continue;
                if (want == SIZE_MAX || sc < best || (sc == best && tok < want)) {
                    want = tok;
                    best = sc;
                }
            }
            ++evictions;
        }
        CHECK_STATUS(aether_kvcache_append_rows(kc, kv, kv), AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, kc, &o1), AETHER_OK);
        for (s = 0; s < aether_kvcache_len(kc); ++s) {
            (void)aether_kvcache_slot_token(kc, s, &tok);
            found += tok == want;
        }
        mism += want != SIZE_MAX && found != 0;
    }
    CHECK_EQ_INT(evictions, 600 - 16);
    CHECK_EQ_INT(mism, 0);
    aether_kvcache_destroy(kc);
}

/* decode_batch == the sequential loop, bit for bit, for every policy. */
static void check_batch_equals_loop(aether_kv_evict ev, aether_kv_storage st)
{
    aether_attn_config cfg;
    aether_attn_params ap = aether_attn_params_default();
    aether_kvcache_params p;
    aether_kvcache *a = NULL, *b = NULL;
    aether_tensor q, k, v, out, one;
    size_t t, n = 40, g = 0;
    float buf[16];
    ap.window = 3;
    ap.block_size = 2;
    ap.globals = &g;
    ap.n_globals = 1;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    p = aether_kvcache_params_default(&cfg, ev == AETHER_KV_EVICT_NONE ? n : 12, 2, 4);
    p.evict = ev;
    p.storage = st;
    CHECK_STATUS(aether_kvcache_create(&p, &a), AETHER_OK);
    CHECK_STATUS(aether_kvcache_create(&p, &b), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&q, n, 4, 4), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&k, n, 2, 4), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&v, n, 2, 4), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&out, n, 4, 4), AETHER_OK);
    fill(&q);
    fill(&k);
    fill(&v);
    CHECK_STATUS(aether_kvcache_decode_batch(&cfg, &q, &k, &v, a, &out), AETHER_OK);
    (void)aether_tensor_view(&one, buf, 16, 1, 4, 4);
    for (t = 0; t < n; ++t) {
        aether_tensor q1 = row_of(&q, t), k1 = row_of(&k, t), v1 = row_of(&v, t);
        CHECK_STATUS(aether_kvcache_append(b, &k1, &v1), AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, b, &one), AETHER_OK);
        CHECK(bits_equal(buf, aether_tensor_row(&out, t, 0), 16));
    }
    CHECK_EQ_INT(aether_kvcache_len(a), aether_kvcache_len(b));
    aether_kvcache_destroy(a);
    aether_kvcache_destroy(b);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&out);
}

static void test_batch_equals_loop(void)
{
    check_batch_equals_loop(AETHER_KV_EVICT_NONE, AETHER_KV_F32);
    check_batch_equals_loop(AETHER_KV_EVICT_NONE, AETHER_KV_F16);
    check_batch_equals_loop(AETHER_KV_EVICT_SLIDING, AETHER_KV_F32);
    check_batch_equals_loop(AETHER_KV_EVICT_SCORED, AETHER_KV_F16);
}

/* f16 storage honours sort_candidates: same candidate set, so the result
 * moves only at rounding level, and the unsorted run is bit-stable. */
static void test_f16_sort_and_rounding(void)
{
    aether_attn_config c0, c1;
    aether_attn_params ap = aether_attn_params_default();
    aether_kvcache_params p;
    aether_kvcache *a = NULL, *b = NULL;
    size_t g[2] = {0, 3}, t, x;
    float kv[8], q[8], o0[8], o1[8], kr[8];
    aether_tensor q1, t0, t1;
    double md = 0;
    ap.window = 4;
    ap.block_size = 4;
    ap.globals = g;
    ap.n_globals = 2;
    CHECK_STATUS(aether_attn_config_init(&c0, &ap), AETHER_OK);
    ap.sort_candidates = 1;
    CHECK_STATUS(aether_attn_config_init(&c1, &ap), AETHER_OK);
    p = aether_kvcache_params_default(&c0, 64, 2, 4);
    p.storage = AETHER_KV_F16;
    CHECK_STATUS(aether_kvcache_create(&p, &a), AETHER_OK);
    CHECK_STATUS(aether_kvcache_create(&p, &b), AETHER_OK);
    (void)aether_tensor_view(&q1, q, 8, 1, 2, 4);
    (void)aether_tensor_view(&t0, o0, 8, 1, 2, 4);
    (void)aether_tensor_view(&t1, o1, 8, 1, 2, 4);
    for (t = 0; t < 64; ++t) {
        for (x = 0; x < 8; ++x) {
            kv[x] = rnd();
            q[x] = rnd();
        }
        CHECK_STATUS(aether_kvcache_append_rows(a, kv, kv), AETHER_OK);
        CHECK_STATUS(aether_kvcache_append_rows(b, kv, kv), AETHER_OK);
        CHECK_STATUS(aether_kvcache_slot_rows(a, t, kr, NULL), AETHER_OK);
        for (x = 0; x < 8; ++x)
            CHECK(aether_f32_bits(kr[x]) ==
                  aether_f32_bits(aether_f16_to_f32(aether_f32_to_f16(kv[x]))));
        CHECK_STATUS(aether_kvcache_decode_step(&c0, &q1, a, &t0), AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&c1, &q1, b, &t1), AETHER_OK);
        for (x = 0; x < 8; ++x) {
            double d = fabs((double)o0[x] - (double)o1[x]);
            if (d > md)
                md = d;
        }
    }
    CHECK(md < 1e-6);
    aether_kvcache_destroy(a);
    aether_kvcache_destroy(b);
}

TEST_MAIN(test_stream_equals_forward, test_bounded_policies_keep_window,
          test_errors_leave_state_unchanged, test_params_and_lifecycle, test_h2o_spec_vectors,
          test_sliding_retention, test_scored_eviction, test_scored_tree_matches_scan,
          test_batch_equals_loop, test_f16_sort_and_rounding)
