/* Temporal head: the original's smoke.rs / streaming.rs tests, the
 * dense-vs-sparse A/B (docs/MODEL.md section 9.3), validation messages, step
 * atomicity, and the temporal_* goldens. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/dispatch.h"
#include "aether/head.h"
#include "aether/npy.h"
#include "check.h"
#include "test_ws.h"

/* make_qkv of the original tests: q = sin(s*31+h*7+d)*0.1,
 * k = cos(s*17+h*3+d)*0.1, v = 0.5*k. */
static void make_qkv(size_t seq, size_t qh, size_t kvh, size_t dim, aether_tensor *q,
                     aether_tensor *k, aether_tensor *v)
{
    size_t s, h, d;
    aether_tensor_zeros(q, seq, qh, dim);
    aether_tensor_zeros(k, seq, kvh, dim);
    aether_tensor_zeros(v, seq, kvh, dim);
    for (s = 0; s < seq; ++s)
        for (h = 0; h < qh; ++h)
            for (d = 0; d < dim; ++d)
                aether_tensor_row(q, s, h)[d] = sinf((float)(s * 31 + h * 7 + d)) * 0.1f;
    for (s = 0; s < seq; ++s)
        for (h = 0; h < kvh; ++h)
            for (d = 0; d < dim; ++d) {
                float x = cosf((float)(s * 17 + h * 3 + d)) * 0.1f;
                aether_tensor_row(k, s, h)[d] = x;
                aether_tensor_row(v, s, h)[d] = x * 0.5f;
            }
}

/* splitmix64 inputs in [-scale, scale) */
static uint64_t g_sm;
static float rnd(float scale)
{
    uint64_t z = (g_sm += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((float)(z >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f) * scale;
}

static void random_qkv(size_t seq, size_t qh, size_t kvh, size_t dim, uint64_t seed,
                       aether_tensor *q, aether_tensor *k, aether_tensor *v)
{
    size_t i;
    g_sm = seed;
    aether_tensor_zeros(q, seq, qh, dim);
    aether_tensor_zeros(k, seq, kvh, dim);
    aether_tensor_zeros(v, seq, kvh, dim);
    for (i = 0; i < aether_tensor_size(q); ++i)
        q->data[i] = rnd(1.0f);
    for (i = 0; i < aether_tensor_size(k); ++i)
        k->data[i] = rnd(1.0f);
    for (i = 0; i < aether_tensor_size(v); ++i)
        v->data[i] = rnd(1.0f);
}

static aether_head_config cfg_of(aether_head_backend b, size_t qh, size_t kvh, size_t dim,
                                 size_t window, size_t block)
{
    aether_head_config c = aether_head_config_default_aether();
    c.backend = b;
    c.q_heads = qh;
    c.kv_heads = kvh;
    c.head_dim = dim;
    c.window = window;
    c.block_size = block;
    return c;
}

static double max_abs(const float *a, const float *b, size_t n)
{
    double m = 0;
    size_t i;
    for (i = 0; i < n; ++i) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d != d)
            return HUGE_VAL;
        if (d > m)
            m = d;
    }
    return m;
}

static void free3(aether_tensor *a, aether_tensor *b, aether_tensor *c)
{
    aether_tensor_free(a);
    aether_tensor_free(b);
    aether_tensor_free(c);
}

/* Step every token through a fresh cache; returns the status of the first
 * failing step. out_steps is [seq, q_heads, dim]. */
static aether_status stream_lm(const aether_head *h, const aether_tensor *q,
                               const aether_tensor *k, const aether_tensor *v, size_t capacity,
                               aether_kv_landmarks lm, aether_tensor *out_steps)
{
    aether_kvcache *cache = NULL;
    aether_kvcache_params p;
    aether_status st = aether_head_cache_params(h, capacity, &p);
    size_t t;
    if (st != AETHER_OK)
        return st;
    p.landmarks = lm;
    st = aether_kvcache_create(&p, &cache);
    if (st != AETHER_OK)
        return st;
    for (t = 0; t < q->seq && st == AETHER_OK; ++t) {
        aether_tensor q1, k1, v1, o1;
        aether_tensor_view(&q1, aether_tensor_row(q, t, 0), q->heads * q->dim, 1, q->heads,
                           q->dim);
        aether_tensor_view(&k1, aether_tensor_row(k, t, 0), k->heads * k->dim, 1, k->heads,
                           k->dim);
        aether_tensor_view(&v1, aether_tensor_row(v, t, 0), v->heads * v->dim, 1, v->heads,
                           v->dim);
        aether_tensor_view(&o1, aether_tensor_row(out_steps, t, 0), q->heads * q->dim, 1,
                           q->heads, q->dim);
        st = ws_head_step(h, &q1, &k1, &v1, cache, &o1);
    }
    aether_kvcache_destroy(cache);
    return st;
}

static aether_status stream_all(const aether_head *h, const aether_tensor *q,
                                const aether_tensor *k, const aether_tensor *v, size_t capacity,
                                aether_tensor *out_steps)
{
    return stream_lm(h, q, k, v, capacity, AETHER_KV_LM_SUM, out_steps);
}

/* Bit-exact expectations (goldens, stream == forward) hold for the scalar
 * reference kernels; the optimised prefill is checked against its accuracy
 * contract at the end. */
static void test_use_reference_kernels(void)
{
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
    CHECK(!strcmp(aether_kernel_name(), "reference"));
}

/* ---- smoke.rs ---- */

static void test_sparse_gqa_forward_runs_at_aether_default(void)
{
    aether_head_config c = aether_head_config_default_aether();
    aether_head h;
    aether_tensor q, k, v, out;
    size_t i;
    int finite = 1;
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
    CHECK_EQ_INT(h.backend, AETHER_HEAD_SPARSE_GQA);
    make_qkv(64, 4, 1, 32, &q, &k, &v);
    aether_tensor_zeros(&out, 64, 4, 32);
    CHECK_STATUS(ws_head_forward(&h, &q, &k, &v, &out), AETHER_OK);
    CHECK(out.seq == 64 && out.heads == 4 && out.dim == 32);
    for (i = 0; i < aether_tensor_size(&out); ++i)
        finite &= aether_isfinite(out.data[i]);
    CHECK(finite);
    CHECK(out.data[0] != 0.0f);
    free3(&q, &k, &v);
    aether_tensor_free(&out);
}

static void test_sparse_mha_path_runs_when_qkv_heads_match(void)
{
    aether_head_config c = cfg_of(AETHER_HEAD_SPARSE_GQA, 2, 2, 16, 8, 4);
    aether_head h;
    aether_tensor q, k, v, out, ref;
    size_t ws = 0;
    void *buf;
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
    make_qkv(32, 2, 2, 16, &q, &k, &v);
    aether_tensor_zeros(&out, 32, 2, 16);
    aether_tensor_zeros(&ref, 32, 2, 16);
    CHECK_STATUS(aether_head_forward_workspace_size(&h, 32, &ws), AETHER_OK);
    buf = malloc(ws ? ws : 1);
    CHECK_STATUS(aether_head_forward(&h, &q, &k, &v, &out, buf, ws), AETHER_OK);
    CHECK(out.seq == 32 && out.heads == 2 && out.dim == 16);
    /* MHA dispatch = the kernel's forward with the head's fixed pattern */
    CHECK_STATUS(ws_attn_forward(&h.attn, &q, &k, &v, &ref), AETHER_OK);
    CHECK(memcmp(out.data, ref.data, aether_tensor_size(&out) * sizeof(float)) == 0);
    CHECK_EQ_INT(h.attn.n_globals, 1);
    CHECK_EQ_INT(h.attn.globals[0], 0);
    CHECK(h.attn.use_log_stride && h.attn.use_landmarks && !h.attn.sort_candidates);
    free(buf);
    free3(&q, &k, &v);
    aether_tensor_free(&out);
    aether_tensor_free(&ref);
}

/* Replaces dense_backend_returns_typed_error (aether implements Dense): the
 * dense head forward is the kernel's dense attention, MHA and GQA. */
static void test_dense_forward_matches_kernel_dense(void)
{
    size_t cfgs[2][2] = {{4, 4}, {4, 1}};
    size_t n;
    for (n = 0; n < 2; ++n) {
        aether_head_config c = cfg_of(AETHER_HEAD_DENSE, cfgs[n][0], cfgs[n][1], 16, 8, 4);
        aether_head h;
        aether_tensor q, k, v, out, ref;
        size_t ws = 99, dws = 0;
        CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
        CHECK_EQ_INT(h.backend, AETHER_HEAD_DENSE);
        /* The dense kernel's own query: its per-thread scratch. */
        CHECK_STATUS(aether_head_forward_workspace_size(&h, 32, &ws), AETHER_OK);
        CHECK_STATUS(aether_attn_dense_workspace_size(cfgs[n][0], cfgs[n][1], 16, &dws),
                     AETHER_OK);
        CHECK_EQ_INT(ws, dws);
        make_qkv(32, cfgs[n][0], cfgs[n][1], 16, &q, &k, &v);
        aether_tensor_zeros(&out, 32, cfgs[n][0], 16);
        aether_tensor_zeros(&ref, 32, cfgs[n][0], 16);
        CHECK_STATUS(ws_head_forward(&h, &q, &k, &v, &out), AETHER_OK);
        CHECK_STATUS(aether_attn_dense(&q, &k, &v, 1, &ref), AETHER_OK);
        CHECK(memcmp(out.data, ref.data, aether_tensor_size(&out) * sizeof(float)) == 0);
        free3(&q, &k, &v);
        aether_tensor_free(&out);
        aether_tensor_free(&ref);
    }
}

static void test_invalid_gqa_ratio_rejected_at_construction(void)
{
    aether_head_config c = cfg_of(AETHER_HEAD_SPARSE_GQA, 5, 2, 16, 8, 4);
    aether_head h;
    const char *msg = NULL;
    memset(&h, 0x77, sizeof h);
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_ERR_GQA_RATIO);
    CHECK_EQ_INT(h.magic_, 0x77777777u); /* unchanged */
    CHECK_STATUS(aether_head_config_validate(&c, &msg), AETHER_ERR_GQA_RATIO);
    CHECK(msg && !strcmp(msg, "q_heads must be divisible by kv_heads (GQA constraint)"));
}

static void test_long_window_at_aether_roadmap_target(void)
{
    aether_head_config c = cfg_of(AETHER_HEAD_SPARSE_GQA, 4, 1, 16, 64, 32);
    aether_head h;
    aether_tensor q, k, v, out;
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
    make_qkv(1000, 4, 1, 16, &q, &k, &v);
    aether_tensor_zeros(&out, 1000, 4, 16);
    CHECK_STATUS(ws_head_forward(&h, &q, &k, &v, &out), AETHER_OK);
    CHECK(out.seq == 1000 && out.heads == 4 && out.dim == 16);
    CHECK(aether_isfinite(out.data[aether_tensor_size(&out) - 1]));
    free3(&q, &k, &v);
    aether_tensor_free(&out);
}

/* ---- streaming.rs ---- */

static void test_streaming_step_matches_forward_at_last_position(void)
{
    aether_head_config c = cfg_of(AETHER_HEAD_SPARSE_GQA, 2, 2, 16, 8, 4);
    aether_head h;
    aether_tensor q, k, v, fwd, steps;
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
    make_qkv(16, 2, 2, 16, &q, &k, &v);
    aether_tensor_zeros(&fwd, 16, 2, 16);
    aether_tensor_zeros(&steps, 16, 2, 16);
    CHECK_STATUS(ws_head_forward(&h, &q, &k, &v, &fwd), AETHER_OK);
    CHECK_STATUS(stream_all(&h, &q, &k, &v, 16, &steps), AETHER_OK);
    CHECK(max_abs(aether_tensor_row(&steps, 15, 0), aether_tensor_row(&fwd, 15, 0), 32) < 1e-3);
    /* aether keeps landmark sums: every step is bit-identical to its row */
    CHECK(memcmp(steps.data, fwd.data, aether_tensor_size(&fwd) * sizeof(float)) == 0);
    free3(&q, &k, &v);
    aether_tensor_free(&fwd);
    aether_tensor_free(&steps);
}

static void test_step_rejects_multi_token_q(void)
{
    aether_head_config c = aether_head_config_default_aether();
    aether_head h;
    aether_kvcache *cache = NULL;
    aether_tensor q, k, v, out;
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
    CHECK_STATUS(aether_head_make_cache(&h, 8, &cache), AETHER_OK);
    make_qkv(2, 4, 1, 32, &q, &k, &v);
    aether_tensor_zeros(&out, 2, 4, 32);
    CHECK_STATUS(ws_head_step(&h, &q, &k, &v, cache, &out), AETHER_ERR_SEQ_NOT_ONE);
    CHECK(strstr(AETHER_HEAD_MSG_SEQ, "single-token") != NULL);
    CHECK_EQ_INT(aether_kvcache_len(cache), 0);
    aether_kvcache_destroy(cache);
    free3(&q, &k, &v);
    aether_tensor_free(&out);
}

static void test_make_cache_returns_kvcache_with_correct_shape(void)
{
    aether_head_config c = aether_head_config_default_aether();
    aether_head h;
    aether_kvcache *cache = NULL;
    aether_tensor q, k, v;
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
    CHECK_STATUS(aether_head_make_cache(&h, 32, &cache), AETHER_OK);
    CHECK_EQ_INT(aether_kvcache_capacity(cache), 32);
    CHECK_EQ_INT(aether_kvcache_kv_heads(cache), 1);
    CHECK_EQ_INT(aether_kvcache_head_dim(cache), 32);
    CHECK_EQ_INT(aether_kvcache_block_size(cache), 16);
    make_qkv(1, 4, 1, 32, &q, &k, &v);
    CHECK_STATUS(aether_kvcache_append(cache, &k, &v), AETHER_OK);
    CHECK_EQ_INT(aether_kvcache_len(cache), 1);
    aether_kvcache_destroy(cache);
    free3(&q, &k, &v);
}

/* ---- config, validation, backend rule ---- */

static void test_default_aether(void)
{
    aether_head_config c = aether_head_config_default_aether();
    CHECK_EQ_INT(c.backend, AETHER_HEAD_SPARSE_GQA);
    CHECK_EQ_INT(c.q_heads, 4);
    CHECK_EQ_INT(c.kv_heads, 1);
    CHECK_EQ_INT(c.head_dim, 32);
    CHECK_EQ_INT(c.window, 32);
    CHECK_EQ_INT(c.block_size, 16);
    CHECK_EQ_INT(c.causal, 1);
}

static void test_validation_order_and_messages(void)
{
    aether_head_config c = aether_head_config_default_aether();
    const char *msg = "x";
    aether_head h;
    char display[160];
    CHECK_STATUS(aether_head_config_validate(&c, &msg), AETHER_OK);
    CHECK(msg == NULL);
    /* every rule broken at once: the first one reports */
    c.head_dim = 0;
    c.q_heads = 5;
    c.kv_heads = 2;
    c.block_size = 0;
    CHECK_STATUS(aether_head_config_validate(&c, &msg), AETHER_ERR_INVALID_CONFIG);
    snprintf(display, sizeof display, "%s%s", AETHER_HEAD_ERR_PREFIX, msg);
    CHECK(!strcmp(display,
                  "temporal head config invalid: q_heads, kv_heads, head_dim must all be > 0"));
    c.head_dim = 32;
    CHECK_STATUS(aether_head_config_validate(&c, &msg), AETHER_ERR_GQA_RATIO);
    snprintf(display, sizeof display, "%s%s", AETHER_HEAD_ERR_PREFIX, msg);
    CHECK(!strcmp(display, "temporal head config invalid: q_heads must be divisible by "
                           "kv_heads (GQA constraint)"));
    c.q_heads = 4;
    CHECK_STATUS(aether_head_config_validate(&c, &msg), AETHER_ERR_BLOCK_SIZE);
    snprintf(display, sizeof display, "%s%s", AETHER_HEAD_ERR_PREFIX, msg);
    CHECK(!strcmp(display, "temporal head config invalid: block_size must be > 0"));
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_ERR_BLOCK_SIZE);
    c.block_size = 16;
    c.window = 0; /* unchecked, legal */
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
    c.kv_heads = 0;
    CHECK_STATUS(aether_head_config_validate(&c, &msg), AETHER_ERR_INVALID_CONFIG);
    c.kv_heads = 1;
    c.backend = (aether_head_backend)7;
    CHECK_STATUS(aether_head_config_validate(&c, &msg), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_head_config_validate(NULL, &msg), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_head_init(NULL, &c), AETHER_ERR_NULL_ARG);
}

static void test_auto_backend_rule(void)
{
    aether_head_config c = aether_head_config_default_aether();
    aether_head_backend b;
    aether_head h;
    c.backend = AETHER_HEAD_AUTO;
    CHECK_EQ_INT(aether_head_select_backend(&c), AETHER_HEAD_SPARSE_GQA); /* q != kv */
    c.kv_heads = 4;
    CHECK_EQ_INT(aether_head_select_backend(&c), AETHER_HEAD_SPARSE_GQA); /* forward */
    c.checkpoint_dense_mha = 1;
    c.window = 64;
    CHECK_EQ_INT(aether_head_select_backend(&c), AETHER_HEAD_DENSE);
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
    CHECK_EQ_INT(h.backend, AETHER_HEAD_DENSE);
    CHECK_EQ_INT(h.cfg.backend, AETHER_HEAD_AUTO);
    c.window = 65;
    CHECK_EQ_INT(aether_head_select_backend(&c), AETHER_HEAD_SPARSE_GQA);
    c.backend = AETHER_HEAD_SPARSE_GQA;
    c.window = 8;
    CHECK_EQ_INT(aether_head_select_backend(&c), AETHER_HEAD_SPARSE_GQA); /* explicit wins */
    CHECK_STATUS(aether_head_backend_parse("dense", &b), AETHER_OK);
    CHECK_EQ_INT(b, AETHER_HEAD_DENSE);
    CHECK_STATUS(aether_head_backend_parse("sparse_gqa", &b), AETHER_OK);
    CHECK_EQ_INT(b, AETHER_HEAD_SPARSE_GQA);
    CHECK_STATUS(aether_head_backend_parse("auto", &b), AETHER_OK);
    CHECK_EQ_INT(b, AETHER_HEAD_AUTO);
    CHECK_STATUS(aether_head_backend_parse("flash", &b), AETHER_ERR_INVALID_ARG);
    CHECK(!strcmp(aether_head_backend_name(AETHER_HEAD_SPARSE_GQA), "sparse_gqa"));
}

/* Every rejection happens before the append: the cache is untouched. */
static void test_step_is_atomic(void)
{
    aether_head_config c = aether_head_config_default_aether();
    aether_head h, other;
    aether_kvcache *cache = NULL, *small = NULL;
    aether_tensor q, k, v, out, q3, o3;
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
    CHECK_STATUS(aether_head_make_cache(&h, 4, &cache), AETHER_OK);
    make_qkv(1, 4, 1, 32, &q, &k, &v);
    aether_tensor_zeros(&out, 1, 4, 32);
    aether_tensor_zeros(&q3, 1, 3, 32);
    aether_tensor_zeros(&o3, 1, 3, 32);
    /* the reference appended, then failed on a 3-head query */
    CHECK_STATUS(ws_head_step(&h, &q3, &k, &v, cache, &o3), AETHER_ERR_SHAPE_MISMATCH);
    CHECK_EQ_INT(aether_kvcache_len(cache), 0);
    q.data[5] = NAN;
    CHECK_STATUS(ws_head_step(&h, &q, &k, &v, cache, &out), AETHER_ERR_NONFINITE);
    CHECK_EQ_INT(aether_kvcache_len(cache), 0);
    q.data[5] = 0.0f;
    v.data[3] = INFINITY;
    CHECK_STATUS(ws_head_step(&h, &q, &k, &v, cache, &out), AETHER_ERR_NONFINITE);
    CHECK_EQ_INT(aether_kvcache_len(cache), 0);
    v.data[3] = 0.0f;
    CHECK_STATUS(ws_head_step(&h, &q, &k, &v, cache, &q3), AETHER_ERR_SHAPE_MISMATCH);
    /* a cache built for another block size */
    c.block_size = 8;
    CHECK_STATUS(aether_head_init(&other, &c), AETHER_OK);
    CHECK_STATUS(ws_head_step(&other, &q, &k, &v, cache, &out), AETHER_ERR_BLOCK_MISMATCH);
    CHECK_EQ_INT(aether_kvcache_len(cache), 0);
    CHECK_STATUS(ws_head_step(&h, &q, &k, &v, cache, &out), AETHER_OK);
    CHECK_EQ_INT(aether_kvcache_len(cache), 1);
    /* capacity 0 is accepted, every step is CACHE_FULL */
    CHECK_STATUS(aether_head_make_cache(&h, 0, &small), AETHER_OK);
    CHECK_STATUS(ws_head_step(&h, &q, &k, &v, small, &out), AETHER_ERR_CACHE_FULL);
    aether_kvcache_destroy(small);
    aether_kvcache_destroy(cache);
    free3(&q, &k, &v);
    aether_tensor_free(&out);
    aether_tensor_free(&q3);
    aether_tensor_free(&o3);
}

/* Capacity 1: the second step fails "capacity exceeded" and changes nothing. */
static void test_step_on_full_cache(void)
{
    aether_head_config c = aether_head_config_default_aether();
    aether_head h;
    aether_kvcache *cache = NULL;
    aether_tensor q, k, v, out;
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
    CHECK_STATUS(aether_head_make_cache(&h, 1, &cache), AETHER_OK);
    make_qkv(1, 4, 1, 32, &q, &k, &v);
    aether_tensor_zeros(&out, 1, 4, 32);
    CHECK_STATUS(ws_head_step(&h, &q, &k, &v, cache, &out), AETHER_OK);
    CHECK_STATUS(ws_head_step(&h, &q, &k, &v, cache, &out), AETHER_ERR_CACHE_FULL);
    CHECK_EQ_INT(aether_kvcache_len(cache), 1);
    aether_kvcache_destroy(cache);
    free3(&q, &k, &v);
    aether_tensor_free(&out);
}

/* Dense streaming == dense forward rows, bit for bit (MHA and GQA, with a
 * caller workspace and with ws = NULL). */
static void test_dense_step_matches_dense_forward(void)
{
    size_t cfgs[2][2] = {{2, 2}, {4, 1}};
    size_t n;
    for (n = 0; n < 2; ++n) {
        aether_head_config c = cfg_of(AETHER_HEAD_DENSE, cfgs[n][0], cfgs[n][1], 8, 4, 4);
        aether_head h;
        aether_tensor q, k, v, fwd, steps;
        aether_kvcache *cache = NULL;
        size_t ws_len = 0, t;
        void *ws;
        CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
        random_qkv(40, cfgs[n][0], cfgs[n][1], 8, 1234 + n, &q, &k, &v);
        aether_tensor_zeros(&fwd, 40, cfgs[n][0], 8);
        aether_tensor_zeros(&steps, 40, cfgs[n][0], 8);
        CHECK_STATUS(ws_head_forward(&h, &q, &k, &v, &fwd), AETHER_OK);
        CHECK_STATUS(aether_head_step_workspace_size(&h, &ws_len), AETHER_OK);
        CHECK_EQ_INT(ws_len, (2 * cfgs[n][1] * 8 + 2 * cfgs[n][0]) * sizeof(float));
        ws = malloc(ws_len);
        CHECK_STATUS(aether_head_make_cache(&h, 40, &cache), AETHER_OK);
        for (t = 0; t < 40; ++t) {
            aether_tensor q1, k1, v1, o1;
            size_t qw = cfgs[n][0] * 8, kw = cfgs[n][1] * 8;
            aether_tensor_view(&q1, q.data + t * qw, qw, 1, cfgs[n][0], 8);
            aether_tensor_view(&k1, k.data + t * kw, kw, 1, cfgs[n][1], 8);
            aether_tensor_view(&v1, v.data + t * kw, kw, 1, cfgs[n][1], 8);
            aether_tensor_view(&o1, steps.data + t * qw, qw, 1, cfgs[n][0], 8);
            if (t == 3) {
                /* No or a short workspace: an error before the append. */
                size_t len0 = aether_kvcache_len(cache);
                memset(o1.data, 0x7f, qw * sizeof(float));
                CHECK_STATUS(aether_head_step(&h, &q1, &k1, &v1, cache, &o1, NULL, 0),
                             AETHER_ERR_NULL_ARG);
                CHECK_STATUS(aether_head_step(&h, &q1, &k1, &v1, cache, &o1, NULL, ws_len),
                             AETHER_ERR_NULL_ARG);
                CHECK_STATUS(aether_head_step(&h, &q1, &k1, &v1, cache, &o1, ws, ws_len / 2),
                             AETHER_ERR_BUFFER_TOO_SMALL);
                CHECK_STATUS(aether_head_dense_decode(&h, &q1, cache, &o1, NULL, 0),
                             AETHER_ERR_NULL_ARG);
                CHECK_EQ_INT(aether_kvcache_len(cache), len0);
                CHECK(test_all_equal(o1.data, qw, o1.data[0]) && o1.data[0] > 1e38f);
            }
            CHECK_STATUS(aether_head_step(&h, &q1, &k1, &v1, cache, &o1, ws, ws_len), AETHER_OK);
        }
        CHECK(memcmp(steps.data, fwd.data, aether_tensor_size(&fwd) * sizeof(float)) == 0);
        free(ws);
        aether_kvcache_destroy(cache);
        free3(&q, &k, &v);
        aether_tensor_free(&fwd);
        aether_tensor_free(&steps);
    }
}

/* Sparse streaming == sparse forward, bit for bit, GQA and MHA, random data. */
static void test_sparse_step_matches_forward_random(void)
{
    /* q_heads, kv_heads, dim, window, block. GQA groups of 4 and 8 take the
     * grouped decode (four heads at a time; dims not a multiple of four
     * take its remainder loops), the others the one-head decode (dims
     * below and above eight, with remainders). */
    size_t cases[][5] = {{4, 1, 32, 32, 16}, {6, 3, 8, 3, 4},  {2, 2, 16, 0, 1},
                         {8, 1, 16, 8, 4},   {8, 2, 12, 5, 4}, {4, 1, 10, 6, 4},
                         {12, 3, 7, 4, 2},   {4, 4, 8, 32, 16}, {3, 3, 13, 5, 4}};
    size_t n;
    for (n = 0; n < sizeof cases / sizeof cases[0]; ++n) {
        aether_head_config c = cfg_of(AETHER_HEAD_SPARSE_GQA, cases[n][0], cases[n][1],
                                      cases[n][2], cases[n][3], cases[n][4]);
        aether_head h;
        aether_tensor q, k, v, fwd, steps;
        CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
        random_qkv(150, cases[n][0], cases[n][1], cases[n][2], 99 + n, &q, &k, &v);
        aether_tensor_zeros(&fwd, 150, cases[n][0], cases[n][2]);
        aether_tensor_zeros(&steps, 150, cases[n][0], cases[n][2]);
        CHECK_STATUS(ws_head_forward(&h, &q, &k, &v, &fwd), AETHER_OK);
        CHECK_STATUS(stream_all(&h, &q, &k, &v, 150, &steps), AETHER_OK);
        CHECK_MSG(memcmp(steps.data, fwd.data, aether_tensor_size(&fwd) * sizeof(float)) == 0,
                  "case %lu max diff %g", (unsigned long)n,
                  max_abs(steps.data, fwd.data, aether_tensor_size(&fwd)));
        free3(&q, &k, &v);
        aether_tensor_free(&fwd);
        aether_tensor_free(&steps);
    }
}

/* ---- dense_vs_sparse.rs (docs/MODEL.md section 9.3) ---- */

static void test_dense_vs_sparse_saturated(void)
{
    aether_head_config cd = cfg_of(AETHER_HEAD_DENSE, 4, 4, 16, 32, 32);
    aether_head_config cs = cfg_of(AETHER_HEAD_SPARSE_GQA, 4, 4, 16, 32, 32);
    aether_head hd, hs;
    aether_tensor q, k, v, od, os;
    double d;
    CHECK_STATUS(aether_head_init(&hd, &cd), AETHER_OK);
    CHECK_STATUS(aether_head_init(&hs, &cs), AETHER_OK);
    make_qkv(32, 4, 4, 16, &q, &k, &v);
    aether_tensor_zeros(&od, 32, 4, 16);
    aether_tensor_zeros(&os, 32, 4, 16);
    CHECK_STATUS(ws_head_forward(&hd, &q, &k, &v, &od), AETHER_OK);
    CHECK_STATUS(ws_head_forward(&hs, &q, &k, &v, &os), AETHER_OK);
    d = max_abs(od.data, os.data, aether_tensor_size(&od));
    CHECK_MSG(d < 1e-4, "max |dense - sparse| = %g", d);
    /* not truly saturated: query 31 also sees the complete block-0 landmark,
     * so only rows 0..30 agree to rounding level */
    d = max_abs(od.data, os.data, 31 * 4 * 16);
    CHECK_MSG(d < 1e-6, "rows 0..30: %g", d);
    free3(&q, &k, &v);
    aether_tensor_free(&od);
    aether_tensor_free(&os);
}

static void test_dense_vs_sparse_realistic(void)
{
    aether_head_config cd = cfg_of(AETHER_HEAD_DENSE, 4, 4, 16, 16, 32);
    aether_head_config cs = cfg_of(AETHER_HEAD_SPARSE_GQA, 4, 4, 16, 16, 32);
    aether_head hd, hs;
    aether_tensor q, k, v, od, os;
    size_t i;
    int finite = 1;
    double d;
    CHECK_STATUS(aether_head_init(&hd, &cd), AETHER_OK);
    CHECK_STATUS(aether_head_init(&hs, &cs), AETHER_OK);
    make_qkv(256, 4, 4, 16, &q, &k, &v);
    aether_tensor_zeros(&od, 256, 4, 16);
    aether_tensor_zeros(&os, 256, 4, 16);
    CHECK_STATUS(ws_head_forward(&hd, &q, &k, &v, &od), AETHER_OK);
    CHECK_STATUS(ws_head_forward(&hs, &q, &k, &v, &os), AETHER_OK);
    for (i = 0; i < aether_tensor_size(&od); ++i)
        finite &= aether_isfinite(od.data[i]) && aether_isfinite(os.data[i]);
    CHECK(finite);
    d = max_abs(od.data, os.data, aether_tensor_size(&od));
    CHECK_MSG(d < 1.0 && d > 0.0, "max |dense - sparse| = %g", d);
    /* recorded baseline of the original: max 5.22e-3 */
    CHECK_MSG(d < 2e-2, "max |dense - sparse| = %g", d);
    free3(&q, &k, &v);
    aether_tensor_free(&od);
    aether_tensor_free(&os);
}

/* ---- temporal_* goldens ---- */

static int load(const char *cs, const char *name, aether_tensor *t)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s.npy", AETHER_GOLDEN_DIR, cs, name);
    return aether_npy_load_tensor(path, t) == AETHER_OK;
}

static void golden_case(const char *cs, size_t window, size_t block, int with_steps)
{
    aether_tensor q, k, v, want, want_steps, out, steps;
    aether_head_config c;
    aether_head h;
    double d;
    memset(&want_steps, 0, sizeof want_steps);
    if (!load(cs, "q", &q) || !load(cs, "k", &k) || !load(cs, "v", &v) ||
        !load(cs, "out", &want)) {
        CHECK_MSG(0, "%s: cannot load", cs);
        return;
    }
    c = cfg_of(AETHER_HEAD_SPARSE_GQA, q.heads, k.heads, q.dim, window, block);
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
    aether_tensor_zeros(&out, q.seq, q.heads, q.dim);
    CHECK_STATUS(ws_head_forward(&h, &q, &k, &v, &out), AETHER_OK);
    CHECK_MSG(memcmp(out.data, want.data, aether_tensor_size(&out) * sizeof(float)) == 0,
              "%s forward max diff %g", cs,
              max_abs(out.data, want.data, aether_tensor_size(&out)));
    if (with_steps) {
        CHECK(load(cs, "out_steps", &want_steps));
        aether_tensor_zeros(&steps, q.seq, q.heads, q.dim);
        CHECK_STATUS(stream_all(&h, &q, &k, &v, q.seq, &steps), AETHER_OK);
        /* the reference's Welford landmarks vs our sums: ~1.2e-7 */
        d = max_abs(steps.data, want_steps.data, aether_tensor_size(&steps));
        CHECK_MSG(d <= 1e-6, "%s steps max diff %g", cs, d);
        CHECK(memcmp(steps.data, out.data, aether_tensor_size(&out) * sizeof(float)) == 0);
        /* a cache in the reference's Welford mode reproduces its steps exactly */
        CHECK_STATUS(stream_lm(&h, &q, &k, &v, q.seq, AETHER_KV_LM_WELFORD, &steps), AETHER_OK);
        CHECK(memcmp(steps.data, want_steps.data, aether_tensor_size(&steps) * sizeof(float)) ==
              0);
        aether_tensor_free(&steps);
        aether_tensor_free(&want_steps);
    }
    free3(&q, &k, &v);
    aether_tensor_free(&want);
    aether_tensor_free(&out);
}

static void test_golden_temporal(void)
{
    REQUIRE_GOLDEN();
    golden_case("temporal_aether_default_prng_s100", 32, 16, 1);
    golden_case("temporal_aether_default_prng_s1000", 32, 16, 1);
    golden_case("temporal_aether_default_testinputs_s64", 32, 16, 1);
    golden_case("temporal_mha_small_prng_s300", 8, 4, 1);
    golden_case("temporal_mha_small_testinputs_s16", 8, 4, 1);
    golden_case("temporal_long_window_prng_s1000", 64, 32, 0);
}

/* Default kernel selection (possibly SIMD prefill): forward within the
 * dispatch contract |fast - ref| <= 1e-6*s^2 + 2e-6*|ref| of the goldens, and
 * streaming (scalar decode) within the same bound of the forward. */
static void fast_case(const char *cs, size_t window, size_t block)
{
    aether_tensor q, k, v, want, out, steps;
    aether_head_config c;
    aether_head h;
    size_t i, n, bad = 0;
    if (!load(cs, "q", &q) || !load(cs, "k", &k) || !load(cs, "v", &v) ||
        !load(cs, "out", &want)) {
        CHECK_MSG(0, "%s: cannot load", cs);
        return;
    }
    c = cfg_of(AETHER_HEAD_SPARSE_GQA, q.heads, k.heads, q.dim, window, block);
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
    aether_tensor_zeros(&out, q.seq, q.heads, q.dim);
    aether_tensor_zeros(&steps, q.seq, q.heads, q.dim);
    CHECK_STATUS(ws_head_forward(&h, &q, &k, &v, &out), AETHER_OK);
    CHECK_STATUS(stream_all(&h, &q, &k, &v, q.seq, &steps), AETHER_OK);
    n = aether_tensor_size(&out);
    for (i = 0; i < n; ++i) {
        double tol = 1e-6 + 2e-6 * fabs((double)want.data[i]);
        if (fabs((double)out.data[i] - want.data[i]) > tol ||
            fabs((double)steps.data[i] - out.data[i]) > 2 * tol)
            bad++;
    }
    CHECK_MSG(bad == 0, "%s (%s kernels): %lu elements outside the contract", cs,
              aether_kernel_name(), (unsigned long)bad);
    free3(&q, &k, &v);
    aether_tensor_free(&want);
    aether_tensor_free(&out);
    aether_tensor_free(&steps);
}

static void test_default_kernels_within_contract(void)
{
    REQUIRE_GOLDEN();
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
    fast_case("temporal_aether_default_prng_s1000", 32, 16);
    fast_case("temporal_mha_small_prng_s300", 8, 4);
    fast_case("temporal_long_window_prng_s1000", 64, 32);
}

/* head_forward on both backends: NULL -> NULL_ARG after the shape checks,
 * short -> BUFFER_TOO_SMALL, nothing written; the query's size works. */
static void test_forward_workspace_required(void)
{
    aether_head_backend backends[2] = {AETHER_HEAD_SPARSE_GQA, AETHER_HEAD_DENSE};
    size_t n;
    for (n = 0; n < 2; ++n) {
        aether_head_config c = cfg_of(backends[n], 4, 2, 8, 8, 4);
        aether_head h;
        aether_tensor q, k, v, out, bad;
        size_t need = 0, len = 0;
        void *ws;
        CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
        make_qkv(12, 4, 2, 8, &q, &k, &v);
        aether_tensor_zeros(&out, 12, 4, 8);
        aether_tensor_zeros(&bad, 12, 3, 8);
        len = aether_tensor_size(&out);
        memset(out.data, 0x7f, len * sizeof(float));
        CHECK_STATUS(aether_head_forward_workspace_size(&h, 12, &need), AETHER_OK);
        CHECK(need > 1);
        ws = test_ws(need);
        CHECK_STATUS(aether_head_forward(&h, &q, &k, &v, &bad, NULL, 0),
                     AETHER_ERR_SHAPE_MISMATCH);
        CHECK_STATUS(aether_head_forward(&h, &q, &k, &v, &out, NULL, 0), AETHER_ERR_NULL_ARG);
        CHECK_STATUS(aether_head_forward(&h, &q, &k, &v, &out, ws, 1),
                     AETHER_ERR_BUFFER_TOO_SMALL);
        CHECK(test_all_equal(out.data, len, out.data[0]) && out.data[0] > 1e38f);
        CHECK_STATUS(aether_head_forward(&h, &q, &k, &v, &out, ws, need), AETHER_OK);
        CHECK(out.data[0] < 1e38f);
        free(ws);
        free3(&q, &k, &v);
        aether_tensor_free(&out);
        aether_tensor_free(&bad);
    }
}

TEST_MAIN(test_use_reference_kernels, test_sparse_gqa_forward_runs_at_aether_default,
          test_sparse_mha_path_runs_when_qkv_heads_match, test_dense_forward_matches_kernel_dense,
          test_forward_workspace_required, test_invalid_gqa_ratio_rejected_at_construction,
          test_long_window_at_aether_roadmap_target,
          test_streaming_step_matches_forward_at_last_position, test_step_rejects_multi_token_q,
          test_make_cache_returns_kvcache_with_correct_shape, test_default_aether,
          test_validation_order_and_messages, test_auto_backend_rule, test_step_is_atomic,
          test_step_on_full_cache, test_dense_step_matches_dense_forward,
          test_sparse_step_matches_forward_random, test_dense_vs_sparse_saturated,
          test_dense_vs_sparse_realistic, test_golden_temporal,
          test_default_kernels_within_contract)
