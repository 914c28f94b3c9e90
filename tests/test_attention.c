/* Attention kernels: golden outputs (bit-exact), validation order and
 * statuses, workspace handling, GQA head mapping, dispatch and the
 * dense-equivalence property of a saturated window. */
#include "aether/attention.h"
#include "aether/dispatch.h"
#include "aether/npy.h"
#include "check.h"
#include "test_ws.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static aether_tensor view(float *data, size_t seq, size_t heads, size_t dim)
{
    aether_tensor t;
    t.data = data;
    t.seq = seq;
    t.heads = heads;
    t.dim = dim;
    t.owned_ = NULL;
    return t;
}

static uint64_t g_rng = 0x1234567u;

static float rnd(void)
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((float)(z >> 40) * (1.0f / 16777216.0f)) * 2.0f - 1.0f;
}

static float *rnd_buf(size_t n)
{
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    size_t i;
    for (i = 0; i < n; ++i)
        p[i] = rnd();
    return p;
}

static aether_attn_config make_cfg(size_t window, size_t block, const size_t *g, size_t ng,
                                   int causal, int log_stride, int landmarks, int sort)
{
    aether_attn_params p = aether_attn_params_default();
    aether_attn_config c;
    p.window = window;
    p.block_size = block;
    p.globals = g;
    p.n_globals = ng;
    p.causal = causal;
    p.use_log_stride = log_stride;
    p.use_landmarks = landmarks;
    p.sort_candidates = sort;
    CHECK_STATUS(aether_attn_config_init(&c, &p), AETHER_OK);
    return c;
}

/* Number of floats that differ bitwise. */
static size_t bit_diffs(const float *a, const float *b, size_t n)
{
    size_t i, d = 0;
    for (i = 0; i < n; ++i)
        d += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return d;
}

static int load(const char *cs, const char *file, aether_tensor *t)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", AETHER_GOLDEN_DIR, cs, file);
    if (aether_npy_load_tensor(path, t) != AETHER_OK) {
        CHECK_MSG(0, "cannot load %s", path);
        return -1;
    }
    return 0;
}

enum { OP_FORWARD, OP_GQA, OP_DENSE };

typedef struct golden {
    const char *name;
    int op;
    size_t window, block;
    size_t globals[2];
    size_t ng;
    int causal, log_stride, landmarks, sort;
} golden;

static void run_golden(const golden *g)
{
    aether_tensor q, k, v, want, out;
    aether_attn_config c;
    aether_status st;
    memset(&q, 0, sizeof q);
    k = v = want = out = q;
    if (load(g->name, "q.npy", &q) || load(g->name, "k.npy", &k) || load(g->name, "v.npy", &v) ||
        load(g->name, "out.npy", &want))
        goto done;
    CHECK_STATUS(aether_tensor_zeros(&out, q.seq, q.heads, q.dim), AETHER_OK);
    if (g->op == OP_DENSE) {
        st = aether_attn_dense(&q, &k, &v, g->causal, &out);
    } else {
        c = make_cfg(g->window, g->block, g->globals, g->ng, g->causal, g->log_stride,
                     g->landmarks, g->sort);
        st = g->op == OP_GQA ? ws_attn_forward_gqa(&c, &q, &k, &v, &out)
                             : ws_attn_forward(&c, &q, &k, &v, &out);
    }
    CHECK_STATUS(st, AETHER_OK);
    CHECK(aether_tensor_same_shape(&out, &want));
    CHECK_MSG(bit_diffs(out.data, want.data, aether_tensor_size(&want)) == 0,
              "%s: %zu of %zu differ", g->name,
              bit_diffs(out.data, want.data, aether_tensor_size(&want)),
              aether_tensor_size(&want));
done:
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&want);
    aether_tensor_free(&out);
}

static void test_goldens(void)
{
    REQUIRE_GOLDEN();
    static const golden cases[] = {
        {"forward_c_w8_b4_g0_log_lm_s100", OP_FORWARD, 8, 4, {0, 0}, 1, 1, 1, 1, 0},
        {"forward_c_w8_b4_g0_log_lm_s1000", OP_FORWARD, 8, 4, {0, 0}, 1, 1, 1, 1, 0},
        {"forward_nc_w8_b4_g0_log_lm_s257", OP_FORWARD, 8, 4, {0, 0}, 1, 0, 1, 1, 0},
        {"forward_nc_w4_b16_g03_log_lm_sort_s257", OP_FORWARD, 4, 16, {0, 3}, 2, 0, 1, 1, 1},
        {"forward_c_w16_b16_g0_log_lm_sort_s257", OP_FORWARD, 16, 16, {0, 0}, 1, 1, 1, 1, 1},
        {"forward_c_w2_b4_g03_log_s257", OP_FORWARD, 2, 4, {0, 3}, 2, 1, 1, 0, 0},
        {"forward_c_w0_b16_self_s100", OP_FORWARD, 0, 16, {0, 0}, 0, 1, 0, 0, 0},
        {"forward_nc_w64_b64_gnone_lm_s257", OP_FORWARD, 64, 64, {0, 0}, 0, 0, 0, 1, 0},
        {"forward_c_w128_b64_g0_log_lm_s257", OP_FORWARD, 128, 64, {0, 0}, 1, 1, 1, 1, 0},
        {"forward_nc_w3_b4_g0_log_lm_x4_s100", OP_FORWARD, 3, 4, {0, 0}, 1, 0, 1, 1, 0},
        {"forward_c_w8_b4_g0_log_lm_s1", OP_FORWARD, 8, 4, {0, 0}, 1, 1, 1, 1, 0},
        {"forward_gqa_c_w8_b4_g0_log_lm_q4kv2_s100", OP_GQA, 8, 4, {0, 0}, 1, 1, 1, 1, 0},
        {"forward_gqa_nc_w8_b4_g0_log_lm_q8kv2_s100", OP_GQA, 8, 4, {0, 0}, 1, 0, 1, 1, 0},
        {"forward_gqa_c_w3_b4_g0_log_lm_x4_q6kv3_s37", OP_GQA, 3, 4, {0, 0}, 1, 1, 1, 1, 0},
        {"forward_gqa_c_aether_w32_b16_g0_log_lm_q4kv1_s257",
         OP_GQA,
         32,
         16,
         {0, 0},
         1,
         1,
         1,
         1,
         0},
        {"dense_c_s64", OP_DENSE, 0, 0, {0, 0}, 0, 1, 0, 0, 0},
        {"dense_nc_s64", OP_DENSE, 0, 0, {0, 0}, 0, 0, 0, 0, 0},
        {"dense_c_s1", OP_DENSE, 0, 0, {0, 0}, 0, 1, 0, 0, 0},
        {"dense_nc_s5", OP_DENSE, 0, 0, {0, 0}, 0, 0, 0, 0, 0},
    };
    size_t i;
    /* Bit-exact goldens are the reference kernels' contract. */
    aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        run_golden(&cases[i]);
}

static void test_forward_errors(void)
{
    static float buf[6][2 * 3 * 4];
    aether_attn_config c = make_cfg(2, 2, NULL, 0, 1, 1, 1, 0), z;
    aether_tensor q = view(buf[0], 2, 3, 4), k = view(buf[1], 2, 3, 4), v = view(buf[2], 2, 3, 4);
    aether_tensor out = view(buf[3], 2, 3, 4), bad;
    float keep[2 * 3 * 4];
    size_t i;
    for (i = 0; i < 24; ++i)
        buf[0][i] = buf[1][i] = buf[2][i] = 0.1f * (float)i;
    memset(&z, 0, sizeof z);

    CHECK_STATUS(ws_attn_forward(NULL, &q, &k, &v, &out), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(ws_attn_forward(&c, NULL, &k, &v, &out), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(ws_attn_forward(&c, &q, &k, &v, NULL), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(ws_attn_forward(&z, &q, &k, &v, &out), AETHER_ERR_NOT_INITIALIZED);
    CHECK_STATUS(ws_attn_forward_gqa(&z, &q, &k, &v, &out), AETHER_ERR_NOT_INITIALIZED);

    /* Zero head dim is reported before any shape difference. */
    bad = view(buf[4], 2, 3, 0);
    CHECK_STATUS(ws_attn_forward(&c, &bad, &k, &v, &out), AETHER_ERR_ZERO_HEAD_DIM);
    CHECK_STATUS(ws_attn_forward_gqa(&c, &bad, &k, &v, &out), AETHER_ERR_ZERO_HEAD_DIM);
    /* forward: any difference is a shape mismatch. */
    bad = view(buf[4], 2, 3, 2);
    CHECK_STATUS(ws_attn_forward(&c, &q, &bad, &v, &out), AETHER_ERR_SHAPE_MISMATCH);
    bad = view(buf[4], 2, 1, 4);
    CHECK_STATUS(ws_attn_forward(&c, &q, &k, &bad, &out), AETHER_ERR_SHAPE_MISMATCH);
    bad = view(buf[4], 1, 3, 4);
    CHECK_STATUS(ws_attn_forward(&c, &q, &k, &v, &bad), AETHER_ERR_SHAPE_MISMATCH);

    /* forward_gqa: the reference order of checks, each with its own status. */
    {
        aether_tensor k1 = view(buf[4], 1, 1, 4), v1 = view(buf[5], 2, 1, 4);
        aether_tensor kd = view(buf[4], 2, 1, 2), k2 = view(buf[4], 2, 2, 4);
        aether_tensor k0 = view(NULL, 2, 0, 4), v0 = view(NULL, 2, 0, 4);
        aether_tensor kk = view(buf[4], 2, 3, 4), vv = view(buf[5], 2, 1, 4);
        /* seq mismatch beats the dim mismatch */
        kd.seq = 1;
        CHECK_STATUS(ws_attn_forward_gqa(&c, &q, &kd, &v1, &out), AETHER_ERR_SHAPE_MISMATCH);
        CHECK_STATUS(ws_attn_forward_gqa(&c, &q, &k1, &v1, &out), AETHER_ERR_SHAPE_MISMATCH);
        kd.seq = 2;
        CHECK_STATUS(ws_attn_forward_gqa(&c, &q, &kd, &v1, &out), AETHER_ERR_HEAD_DIM_MISMATCH);
        CHECK_STATUS(ws_attn_forward_gqa(&c, &q, &k0, &v0, &out), AETHER_ERR_GQA_RATIO);
        CHECK_STATUS(ws_attn_forward_gqa(&c, &q, &k2, &v1, &out), AETHER_ERR_GQA_RATIO);
        CHECK_STATUS(ws_attn_forward_gqa(&c, &q, &kk, &vv, &out), AETHER_ERR_KV_HEADS_MISMATCH);
        k1.seq = 2;
        bad = view(buf[3], 2, 1, 4);
        CHECK_STATUS(ws_attn_forward_gqa(&c, &q, &k1, &v1, &bad), AETHER_ERR_SHAPE_MISMATCH);
        /* Output overlapping K is refused. */
        out = view(buf[4], 2, 3, 4);
        CHECK_STATUS(ws_attn_forward_gqa(&c, &q, &k1, &v1, &out), AETHER_ERR_INVALID_ARG);
        out = view(buf[3], 2, 3, 4);
    }

    /* Non-empty tensor without data. */
    bad = view(NULL, 2, 3, 4);
    CHECK_STATUS(ws_attn_forward(&c, &q, &bad, &v, &out), AETHER_ERR_NULL_ARG);

    /* Workspace too small: an error, and the output is untouched. */
    for (i = 0; i < 24; ++i)
        buf[3][i] = 42.0f;
    memcpy(keep, buf[3], sizeof keep);
    {
        size_t need = 0;
        unsigned char small[8];
        CHECK_STATUS(aether_attn_forward_workspace_size(&c, 2, 3, 3, 4, &need), AETHER_OK);
        CHECK(need > sizeof small);
        CHECK_STATUS(aether_attn_forward(&c, &q, &k, &v, &out, small, sizeof small),
                     AETHER_ERR_BUFFER_TOO_SMALL);
        CHECK(memcmp(keep, buf[3], sizeof keep) == 0);
    }

    /* Config validation lives in init: block_size 0 never reaches a kernel. */
    {
        aether_attn_params p = aether_attn_params_default();
        p.block_size = 0;
        CHECK_STATUS(aether_attn_config_init(&z, &p), AETHER_ERR_BLOCK_SIZE);
        CHECK_STATUS(ws_attn_forward(&z, &q, &k, &v, &out), AETHER_ERR_NOT_INITIALIZED);
    }
}

static void test_workspace_size(void)
{
    aether_attn_config c = make_cfg(8, 4, NULL, 0, 1, 1, 1, 0);
    size_t a = 0, b = 0;
    CHECK_STATUS(aether_attn_forward_workspace_size(NULL, 1, 1, 1, 1, &a), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_attn_forward_workspace_size(&c, 1, 1, 1, 1, NULL), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_attn_forward_workspace_size(&c, SIZE_MAX, 1, SIZE_MAX, SIZE_MAX, &a),
                 AETHER_ERR_OVERFLOW);
    CHECK_STATUS(aether_attn_forward_workspace_size(&c, 10, 1, 1, SIZE_MAX / 2, &a),
                 AETHER_ERR_OVERFLOW);
    /* Landmarks dominate: 2 * ceil(100/4) * kv_heads * dim floats at least. */
    CHECK_STATUS(aether_attn_forward_workspace_size(&c, 100, 4, 2, 16, &a), AETHER_OK);
    CHECK(a >= 2 * 25 * 2 * 16 * sizeof(float));
    CHECK_STATUS(aether_attn_forward_workspace_size(&c, 100, 8, 2, 16, &b), AETHER_OK);
    CHECK_EQ_INT(a, b); /* lists are shared by query heads */
}

static void test_seq_zero(void)
{
    aether_attn_config c = make_cfg(8, 4, NULL, 0, 1, 1, 1, 0);
    aether_tensor q = view(NULL, 0, 4, 8), k = view(NULL, 0, 2, 8), v = view(NULL, 0, 2, 8);
    aether_tensor out = view(NULL, 0, 4, 8);
    CHECK_STATUS(ws_attn_forward_gqa(&c, &q, &k, &v, &out), AETHER_OK);
    CHECK_STATUS(ws_attn_forward_auto(&c, &q, &k, &v, &out), AETHER_OK);
    CHECK_STATUS(aether_attn_dense(&q, &k, &v, 1, &out), AETHER_OK);
    q.heads = out.heads = 2;
    CHECK_STATUS(ws_attn_forward(&c, &q, &k, &v, &out), AETHER_OK);
}

static void test_dense_errors(void)
{
    static float b[5][64];
    aether_tensor q = view(b[0], 2, 4, 8), k = view(b[1], 2, 2, 8), v = view(b[2], 2, 2, 8);
    aether_tensor out = view(b[3], 2, 4, 8), bad;
    CHECK_STATUS(aether_attn_dense(NULL, &k, &v, 1, &out), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_attn_dense(&q, &k, &v, 1, NULL), AETHER_ERR_NULL_ARG);
    bad = view(b[4], 2, 4, 0);
    CHECK_STATUS(aether_attn_dense(&bad, &k, &v, 1, &out), AETHER_ERR_ZERO_HEAD_DIM);
    bad = view(b[4], 1, 2, 8);
    CHECK_STATUS(aether_attn_dense(&q, &bad, &v, 1, &out), AETHER_ERR_SHAPE_MISMATCH);
    bad = view(b[4], 2, 2, 4);
    CHECK_STATUS(aether_attn_dense(&q, &k, &bad, 1, &out), AETHER_ERR_SHAPE_MISMATCH);
    bad = view(b[4], 2, 1, 8);
    CHECK_STATUS(aether_attn_dense(&q, &k, &bad, 1, &out), AETHER_ERR_SHAPE_MISMATCH);
    {
        aether_tensor k3 = view(b[1], 2, 3, 8), v3 = view(b[2], 2, 3, 8);
        CHECK_STATUS(aether_attn_dense(&q, &k3, &v3, 1, &out), AETHER_ERR_GQA_RATIO);
    }
    bad = view(b[4], 2, 2, 8);
    CHECK_STATUS(aether_attn_dense(&q, &k, &v, 1, &bad), AETHER_ERR_SHAPE_MISMATCH);
    CHECK_STATUS(aether_attn_dense(&q, &k, &v, 1, &q), AETHER_ERR_INVALID_ARG);
    /* The workspace form: argument errors first, then NULL -> NULL_ARG and
     * a short one -> BUFFER_TOO_SMALL, nothing written. */
    {
        size_t need = 0;
        void *ws;
        CHECK_STATUS(aether_attn_dense_workspace_size(q.heads, k.heads, q.dim, &need), AETHER_OK);
        ws = test_ws(need);
        CHECK_STATUS(aether_attn_dense_ws(&q, &k, &v, 1, &bad, NULL, 0),
                     AETHER_ERR_SHAPE_MISMATCH);
        memset(out.data, 0x7f, aether_tensor_size(&out) * sizeof(float));
        CHECK_STATUS(aether_attn_dense_ws(&q, &k, &v, 1, &out, NULL, 0), AETHER_ERR_NULL_ARG);
        CHECK_STATUS(aether_attn_dense_ws(&q, &k, &v, 1, &out, ws, 1),
                     AETHER_ERR_BUFFER_TOO_SMALL);
        CHECK(test_all_equal(out.data, aether_tensor_size(&out), out.data[0]) &&
              out.data[0] > 1e38f);
        CHECK_STATUS(aether_attn_dense_ws(&q, &k, &v, 1, &out, ws, need), AETHER_OK);
        free(ws);
    }
    CHECK_STATUS(aether_attn_dense(&q, &k, &v, 1, &out), AETHER_OK);
}

/* K/V with each kv head repeated `group` times, as MHA inputs. */
static float *expand(const float *x, size_t seq, size_t kvh, size_t group, size_t dim)
{
    float *e = (float *)malloc(seq * kvh * group * dim * sizeof(float));
    size_t t, h, r;
    for (t = 0; t < seq; ++t)
        for (h = 0; h < kvh; ++h)
            for (r = 0; r < group; ++r)
                memcpy(e + ((t * kvh + h) * group + r) * dim, x + (t * kvh + h) * dim,
                       dim * sizeof(float));
    return e;
}

static void test_gqa_properties(void)
{
    static const size_t g[2] = {0, 5};
    const size_t seq = 77, qh = 6, kvh = 2, dim = 12, group = 3;
    size_t n = seq * qh * dim, mode;
    float *qb = rnd_buf(n), *kb = rnd_buf(seq * kvh * dim), *vb = rnd_buf(seq * kvh * dim);
    float *ke = expand(kb, seq, kvh, group, dim), *ve = expand(vb, seq, kvh, group, dim);
    float *o1 = (float *)calloc(n, sizeof(float)), *o2 = (float *)calloc(n, sizeof(float));
    aether_tensor q = view(qb, seq, qh, dim), k = view(kb, seq, kvh, dim),
                  v = view(vb, seq, kvh, dim);
    aether_tensor kx = view(ke, seq, qh, dim), vx = view(ve, seq, qh, dim);
    aether_tensor out1 = view(o1, seq, qh, dim), out2 = view(o2, seq, qh, dim);

    /* GQA = MHA on repeated K/V bit for bit is a property of the reference
     * definition (the optimised paths only promise the accuracy contract):
     * select it here rather than inherit whatever an earlier test left. */
    aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
    for (mode = 0; mode < 4; ++mode) {
        aether_attn_config c = make_cfg(5, 4, g, 2, (int)(mode & 1), 1, 1, (int)(mode >> 1));
        size_t need = 0;
        void *ws;
        CHECK_STATUS(ws_attn_forward_gqa(&c, &q, &k, &v, &out1), AETHER_OK);
        CHECK_STATUS(ws_attn_forward(&c, &q, &kx, &vx, &out2), AETHER_OK);
        CHECK_EQ_INT(bit_diffs(o1, o2, n), 0);
        /* auto dispatches on head counts */
        memset(o2, 0, n * sizeof(float));
        CHECK_STATUS(ws_attn_forward_auto(&c, &q, &k, &v, &out2), AETHER_OK);
        CHECK_EQ_INT(bit_diffs(o1, o2, n), 0);
        /* caller workspace gives the same bits */
        CHECK_STATUS(aether_attn_forward_workspace_size(&c, seq, qh, kvh, dim, &need), AETHER_OK);
        ws = malloc(need);
        memset(o2, 0, n * sizeof(float));
        CHECK_STATUS(aether_attn_forward_gqa(&c, &q, &k, &v, &out2, ws, need), AETHER_OK);
        CHECK_EQ_INT(bit_diffs(o1, o2, n), 0);
        /* Short (here below even the reference layout) or NULL: an error
         * after the argument checks, nothing written. */
        memset(o2, 0, n * sizeof(float));
        CHECK_STATUS(aether_attn_forward_gqa(&c, &q, &k, &v, &out2, ws, 16),
                     AETHER_ERR_BUFFER_TOO_SMALL);
        CHECK_STATUS(aether_attn_forward_gqa(&c, &q, &k, &v, &out2, NULL, 0),
                     AETHER_ERR_NULL_ARG);
        CHECK_STATUS(aether_attn_forward_gqa(&c, &q, &k, &v, &out2, NULL, need),
                     AETHER_ERR_NULL_ARG);
        CHECK_STATUS(aether_attn_forward_auto(&c, &q, &k, &v, &out2, NULL, 0),
                     AETHER_ERR_NULL_ARG);
        CHECK_STATUS(aether_attn_forward(&c, &q, &kx, &vx, &out2, NULL, 0), AETHER_ERR_NULL_ARG);
        CHECK(test_all_equal(o2, n, 0.0f));
        free(ws);
    }

    /* dense GQA = dense MHA on expanded K/V */
    CHECK_STATUS(aether_attn_dense(&q, &k, &v, 1, &out1), AETHER_OK);
    CHECK_STATUS(aether_attn_dense(&q, &kx, &vx, 1, &out2), AETHER_OK);
    CHECK_EQ_INT(bit_diffs(o1, o2, n), 0);
    CHECK_STATUS(aether_attn_dense(&q, &k, &v, 0, &out1), AETHER_OK);
    CHECK_STATUS(aether_attn_dense(&q, &kx, &vx, 0, &out2), AETHER_OK);
    CHECK_EQ_INT(bit_diffs(o1, o2, n), 0);

    /* auto with equal head counts is forward, which insists on V's shape. */
    {
        aether_attn_config c = make_cfg(5, 4, g, 2, 1, 1, 1, 0);
        aether_tensor vbad = view(vb, seq, kvh, dim);
        CHECK_STATUS(ws_attn_forward_auto(&c, &q, &kx, &vbad, &out2), AETHER_ERR_SHAPE_MISMATCH);
        CHECK_STATUS(ws_attn_forward_gqa(&c, &q, &kx, &vbad, &out2),
                     AETHER_ERR_KV_HEADS_MISMATCH);
    }
    free(qb);
    free(kb);
    free(vb);
    free(ke);
    free(ve);
    free(o1);
    free(o2);
}

/* group 1: forward_gqa is forward, bit for bit. */
static void test_gqa_group_one(void)
{
    const size_t seq = 61, h = 3, dim = 8;
    size_t n = seq * h * dim;
    float *qb = rnd_buf(n), *kb = rnd_buf(n), *vb = rnd_buf(n);
    float *o1 = (float *)calloc(n, sizeof(float)), *o2 = (float *)calloc(n, sizeof(float));
    aether_tensor q = view(qb, seq, h, dim), k = view(kb, seq, h, dim), v = view(vb, seq, h, dim);
    aether_tensor out1 = view(o1, seq, h, dim), out2 = view(o2, seq, h, dim);
    aether_attn_config c = make_cfg(4, 8, NULL, 0, 0, 1, 1, 1);
    CHECK_STATUS(ws_attn_forward(&c, &q, &k, &v, &out1), AETHER_OK);
    CHECK_STATUS(ws_attn_forward_gqa(&c, &q, &k, &v, &out2), AETHER_OK);
    CHECK_EQ_INT(bit_diffs(o1, o2, n), 0);
    /* out may be q itself (each query row is read before it is written) */
    CHECK_STATUS(ws_attn_forward(&c, &q, &k, &v, &q), AETHER_OK);
    CHECK_EQ_INT(bit_diffs(qb, o1, n), 0);
    free(qb);
    free(kb);
    free(vb);
    free(o1);
    free(o2);
}

/* A window covering the sequence with landmarks and log-stride off visits
 * exactly the dense key set in ascending order: equal up to the one-pass vs
 * two-pass rounding (docs/KERNELS.md section 5.5). */
static void test_saturated_window_is_dense(void)
{
    const size_t seq = 50, h = 2, dim = 16;
    size_t n = seq * h * dim, i, causal;
    float *qb = rnd_buf(n), *kb = rnd_buf(n), *vb = rnd_buf(n);
    float *o1 = (float *)calloc(n, sizeof(float)), *o2 = (float *)calloc(n, sizeof(float));
    aether_tensor q = view(qb, seq, h, dim), k = view(kb, seq, h, dim), v = view(vb, seq, h, dim);
    aether_tensor out1 = view(o1, seq, h, dim), out2 = view(o2, seq, h, dim);
    for (causal = 0; causal < 2; ++causal) {
        static const size_t g0[1] = {0};
        aether_attn_config c = make_cfg(seq, 4, g0, 1, (int)causal, 0, 0, 0);
        double worst = 0.0;
        CHECK_STATUS(ws_attn_forward(&c, &q, &k, &v, &out1), AETHER_OK);
        CHECK_STATUS(aether_attn_dense(&q, &k, &v, (int)causal, &out2), AETHER_OK);
        for (i = 0; i < n; ++i)
            if (fabs((double)o1[i] - (double)o2[i]) > worst)
                worst = fabs((double)o1[i] - (double)o2[i]);
        CHECK_MSG(worst <= 1e-6, "max diff %g", worst);
        /* With landmarks on it is no longer dense (docs/KERNELS.md section 5.5). */
        c = make_cfg(seq, 4, g0, 1, (int)causal, 0, 1, 0);
        CHECK_STATUS(ws_attn_forward(&c, &q, &k, &v, &out1), AETHER_OK);
        CHECK(bit_diffs(o1, o2, n) > 0);
    }
    /* Query 0 in causal mode sees only itself: the output is v[0]. */
    {
        aether_attn_config c = make_cfg(0, 4, NULL, 0, 1, 1, 1, 0);
        CHECK_STATUS(ws_attn_forward(&c, &q, &k, &v, &out1), AETHER_OK);
        CHECK_EQ_INT(bit_diffs(o1, vb, h * dim), 0);
    }
    free(qb);
    free(kb);
    free(vb);
    free(o1);
    free(o2);
}

/* Landmark P.V of the fast tile: rows of consecutive queries with the same
 * block list share each mean row's loads, in groups of up to four; block
 * sizes that are not multiples of the tile's rows make groups of every
 * size, and odd head dimensions take the tail path. Every fast path the
 * CPU has against the reference, within the contract of aether/dispatch.h.
 * An infinite value in one token's V row makes that block's mean infinite:
 * rows whose list does not hold the block must stay finite, as in the
 * reference (no row ever reads a block outside its own list). */
static void test_landmark_groups(void)
{
    static const aether_kernel_mode fast[] = {AETHER_KERNELS_AVX2, AETHER_KERNELS_AVX512,
                                              AETHER_KERNELS_NEON};
    static const size_t blocks[] = {1, 2, 3, 5, 6, 7, 9, 13};
    static const size_t dims[] = {8, 20, 64};
    const size_t seq = 300, h = 2;
    size_t bi, di, p, i, runs = 0;
    for (bi = 0; bi < sizeof blocks / sizeof blocks[0]; ++bi)
        for (di = 0; di < sizeof dims / sizeof dims[0]; ++di) {
            size_t dim = dims[di], n = seq * h * dim;
            float *qb = rnd_buf(n), *kb = rnd_buf(n), *vb = rnd_buf(n);
            float *ref = (float *)calloc(n, sizeof(float)), *got = (float *)calloc(n, sizeof(float));
            aether_tensor q = view(qb, seq, h, dim), k = view(kb, seq, h, dim);
            aether_tensor v = view(vb, seq, h, dim);
            aether_tensor o_ref = view(ref, seq, h, dim), o_got = view(got, seq, h, dim);
            static const size_t g0[1] = {0};
            aether_attn_config c = make_cfg(4, blocks[bi], g0, 1, 1, 1, 1, 0);
            int inf = di == 1;
            if (inf) /* token 40, head 1, component 3 */
                vb[(40 * h + 1) * dim + 3] = INFINITY;
            CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
            CHECK_STATUS(ws_attn_forward(&c, &q, &k, &v, &o_ref), AETHER_OK);
            for (p = 0; p < sizeof fast / sizeof fast[0]; ++p) {
                size_t finite_ref = 0;
                if (aether_set_kernel_mode(fast[p]) != AETHER_OK)
                    continue;
                ++runs;
                for (i = 0; i < n; ++i)
                    got[i] = -1.0f;
                CHECK_STATUS(ws_attn_forward(&c, &q, &k, &v, &o_got), AETHER_OK);
                for (i = 0; i < n; ++i) {
                    double d = fabs((double)got[i] - (double)ref[i]);
                    CHECK_MSG(isfinite(ref[i]) == isfinite(got[i]),
                              "block %lu dim %lu [%lu]: ref %g fast %g",
                              (unsigned long)blocks[bi], (unsigned long)dim, (unsigned long)i,
                              (double)ref[i], (double)got[i]);
                    if (!isfinite(ref[i]))
                        continue;
                    ++finite_ref;
                    CHECK_MSG(d <= 1e-6 + 2e-6 * fabs((double)ref[i]),
                              "block %lu dim %lu [%lu]: ref %g fast %g",
                              (unsigned long)blocks[bi], (unsigned long)dim, (unsigned long)i,
                              (double)ref[i], (double)got[i]);
                }
                /* The infinite block reaches some rows, not all of them. */
                CHECK(finite_ref > 0);
                if (inf)
                    CHECK(finite_ref < n);
            }
            free(qb);
            free(kb);
            free(vb);
            free(ref);
            free(got);
        }
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
    if (runs == 0)
        printf("landmark groups: no fast path on this CPU (reference only)\n");
}

TEST_MAIN(test_goldens, test_forward_errors, test_workspace_size, test_seq_zero,
          test_dense_errors, test_gqa_properties, test_gqa_group_one,
          test_saturated_window_is_dense, test_landmark_groups)
