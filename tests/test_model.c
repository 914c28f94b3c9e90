/* Temporal model (docs/MODEL.md): window forward against an independent
 * re-derivation, streaming == window forward, f16 vs f32 blobs, input
 * normalisation, memory modes and error statuses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/dispatch.h"
#include "aether/model.h"
#include "check.h"
#include "test_util.h"
#include "test_ws.h"

/* ---------- fixtures ---------- */

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b[2];
    memcpy(b, &one, 2);
    return b[0] == 1;
}

static aether_blob_demo_params shape(uint16_t in, uint16_t qh, uint16_t kvh, uint16_t d,
                                     uint16_t layers, uint16_t classes, uint64_t seed)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    p.input_dim = in;
    p.n_q_heads = qh;
    p.n_kv_heads = kvh;
    p.head_dim = d;
    p.n_layers = layers;
    p.n_classes = classes;
    p.seed = seed;
    return p;
}

static uint64_t g_rng = 88172645463325252ull;
static float frand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return ((float)(g_rng >> 40) / 16777216.0f) * 2.0f - 1.0f;
}

static float *random_frames(size_t n, size_t in, float scale)
{
    float *x = (float *)malloc(n * in * sizeof(float));
    size_t i;
    for (i = 0; i < n * in; ++i)
        x[i] = frand() * scale;
    return x;
}

/* ---------- independent re-derivation of docs/MODEL.md section 2 ---------- */

/* y[j] = sum_i x[i] W[i][j], written column by column (j outer) */
static void ref_matvec(const float *x, size_t rows, const float *w, size_t cols, float *y)
{
    size_t i, j;
    for (j = 0; j < cols; ++j) {
        float s = 0.0f;
        for (i = 0; i < rows; ++i)
            s += x[i] * w[i * cols + j];
        y[j] = s;
    }
}

static void ref_forward(const aether_blob_view *b, const aether_head_config *hc, const float *x,
                        size_t n, aether_pool pool, float *logits, float *pooled)
{
    const aether_blob_header *hd = &b->header;
    size_t in = hd->input_dim, qw = (size_t)hd->n_q_heads * hd->head_dim,
           kw = (size_t)hd->n_kv_heads * hd->head_dim, per = in * qw * 2 + 2 * in * kw;
    size_t total = hd->weights_len / aether_blob_elem_size(hd), l, t, j;
    float *w = (float *)malloc(total * sizeof(float));
    float *h = (float *)malloc(n * in * sizeof(float)),
          *tmp = (float *)malloc(in * sizeof(float));
    float *pool_v = (float *)calloc(in, sizeof(float));
    aether_tensor q, k, v, a;
    aether_head head;
    aether_blob_read_f32(b, 0, total, w);
    aether_head_init(&head, hc);
    aether_tensor_zeros(&q, n, hd->n_q_heads, hd->head_dim);
    aether_tensor_zeros(&a, n, hd->n_q_heads, hd->head_dim);
    aether_tensor_zeros(&k, n, hd->n_kv_heads, hd->head_dim);
    aether_tensor_zeros(&v, n, hd->n_kv_heads, hd->head_dim);
    for (t = 0; t < n; ++t)
        for (j = 0; j < in; ++j) {
            float xv = x[t * in + j];
            if (hd->flags & AETHER_BLOB_FLAG_INPUT_NORM) {
                size_t base = hd->n_layers * per + in * hd->n_classes;
                xv = (xv - w[base + j]) * w[base + in + j];
            }
            h[t * in + j] = xv;
        }
    for (l = 0; l < hd->n_layers; ++l) {
        const float *wl = w + l * per;
        for (t = 0; t < n; ++t) {
            ref_matvec(h + t * in, in, wl, qw, q.data + t * qw);
            ref_matvec(h + t * in, in, wl + in * qw, kw, k.data + t * kw);
            ref_matvec(h + t * in, in, wl + in * qw + in * kw, kw, v.data + t * kw);
        }
        if (head.backend == AETHER_HEAD_DENSE)
            aether_attn_dense(&q, &k, &v, hc->causal, &a);
        else
            ws_attn_forward_gqa(&head.attn, &q, &k, &v, &a);
        for (t = 0; t < n; ++t) {
            ref_matvec(a.data + t * qw, qw, wl + in * qw + 2 * in * kw, in, tmp);
            for (j = 0; j < in; ++j)
                h[t * in + j] += tmp[j];
        }
    }
    if (pool == AETHER_POOL_LAST) {
        memcpy(pool_v, h + (n - 1) * in, in * sizeof(float));
    } else {
        for (t = 0; t < n; ++t)
            for (j = 0; j < in; ++j)
                pool_v[j] += h[t * in + j];
        for (j = 0; j < in; ++j)
            pool_v[j] *= 1.0f / (float)n;
    }
    ref_matvec(pool_v, in, w + hd->n_layers * per, hd->n_classes, logits);
    if (pooled)
        memcpy(pooled, pool_v, in * sizeof(float));
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&a);
    free(w);
    free(h);
    free(tmp);
    free(pool_v);
}

static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* ---------- tests ---------- */

/* The bit-exact contracts (re-derivation, stream == window forward) are
 * those of the scalar reference kernels; the default selection is checked
 * with the dispatch tolerance at the end. */
static void test_use_reference_kernels(void)
{
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
}

static void test_forward_matches_rederivation(void)
{
    static const aether_head_backend backends[2] = {AETHER_HEAD_SPARSE_GQA, AETHER_HEAD_DENSE};
    test_demo_buf b;
    aether_blob_demo_params p = aether_blob_demo_default();
    size_t bi, pi;
    float *x = random_frames(70, 16, 1.0f);
    CHECK(test_demo_view(&b, &p));
    for (bi = 0; bi < 2; ++bi) {
        aether_head_config hc;
        aether_model *m = NULL;
        aether_model_info info;
        aether_model_default_head_config(&b.view, &hc);
        hc.backend = backends[bi];
        CHECK_STATUS(aether_model_create(&b.view, &hc, AETHER_MODEL_COPY, &m), AETHER_OK);
        CHECK_STATUS(aether_model_get_info(m, &info), AETHER_OK);
        CHECK_EQ_INT(info.n_params, 10304);
        CHECK_EQ_INT(info.n_classes, 4);
        CHECK_EQ_INT(info.backend, backends[bi]);
        for (pi = 0; pi < 2; ++pi) {
            float got[4], want[4], gp[16], wp[16];
            size_t n;
            for (n = 1; n <= 70; n += 23) {
                CHECK_STATUS(ws_model_forward(m, x, n, (aether_pool)pi, got, gp), AETHER_OK);
                ref_forward(&b.view, &hc, x, n, (aether_pool)pi, want, wp);
                CHECK_MSG(same_bits(got, want, 4) && same_bits(gp, wp, 16),
                          "backend %lu pool %lu n %lu: %g vs %g", (unsigned long)bi,
                          (unsigned long)pi, (unsigned long)n, got[0], want[0]);
            }
        }
        aether_model_destroy(m);
    }
    free(x);
    free(b.bytes);
}

/* A model whose attention output projection is zero is a linear classifier
 * of the last (or mean) frame: checks orientation end to end. */
static void test_zero_attention_is_linear_classifier(void)
{
    aether_blob_header h;
    aether_blob_layout l;
    float *w;
    unsigned char *bytes, *payload;
    size_t i, n = 0, len;
    aether_blob_view v;
    aether_model *m = NULL;
    float x[3 * 2] = {1.0f, 2.0f, -3.0f, 0.5f, 4.0f, -1.0f};
    float logits[3];
    memset(&h, 0, sizeof h);
    h.input_dim = 2;
    h.n_q_heads = 1;
    h.n_kv_heads = 1;
    h.head_dim = 2;
    h.n_layers = 1;
    h.n_classes = 3;
    aether_blob_layout_of(&h, &l);
    w = (float *)calloc(l.total_elems, sizeof(float));
    for (i = 0; i < l.wo; ++i)
        w[i] = 0.25f * (float)(i % 5) - 0.5f; /* arbitrary Wq/Wk/Wv */
    /* Wc = [[1, 2, 3], [10, 20, 30]] (I x C, row-major) */
    w[l.classifier + 0] = 1.0f;
    w[l.classifier + 1] = 2.0f;
    w[l.classifier + 2] = 3.0f;
    w[l.classifier + 3] = 10.0f;
    w[l.classifier + 4] = 20.0f;
    w[l.classifier + 5] = 30.0f;
    h.weights_len = (uint32_t)(l.total_elems * 4);
    len = 28 + h.weights_len;
    bytes = (unsigned char *)malloc(len);
    payload = (unsigned char *)malloc(h.weights_len);
    for (i = 0; i < l.total_elems; ++i)
        aether_store_lef32(payload + 4 * i, w[i]);
    CHECK_STATUS(aether_blob_serialize(&h, payload, bytes, len, &n), AETHER_OK);
    CHECK_STATUS(aether_blob_parse(bytes, n, &v), AETHER_OK);
    CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &m), AETHER_OK);
    /* window [x0, x1, x2]: last = (4, -1) -> logits (4-10, 8-20, 12-30) */
    CHECK_STATUS(ws_model_forward(m, x, 3, AETHER_POOL_LAST, logits, NULL), AETHER_OK);
    CHECK(logits[0] == -6.0f && logits[1] == -12.0f && logits[2] == -18.0f);
    /* mean = (5.5/3, -1.5/3): 1.0f/3 * sum, exactly as specified */
    CHECK_STATUS(ws_model_forward(m, x, 3, AETHER_POOL_MEAN, logits, NULL), AETHER_OK);
    {
        float inv = 1.0f / 3.0f;
        float m0 = (((0.0f + 1.0f) + -3.0f) + 4.0f) * inv,
              m1 = (((0.0f + 2.0f) + 0.5f) + -1.0f) * inv;
        CHECK(logits[0] == m0 * 1.0f + m1 * 10.0f);
        CHECK(logits[2] == m0 * 3.0f + m1 * 30.0f);
    }
    aether_model_destroy(m);
    free(w);
    free(bytes);
    free(payload);
}

/* Streaming logits at t == window forward over x_0..x_t (pool last), bit for
 * bit, for both backends and random shapes; mean pooling == mean of the
 * streamed hidden states. */
static void test_streaming_equals_window_forward(void)
{
    static const uint16_t shapes[5][6] = {{16, 4, 1, 32, 2, 4},
                                          {7, 2, 2, 5, 3, 3},
                                          {9, 6, 3, 4, 1, 5},
                                          {5, 3, 1, 8, 2, 2},
                                          {12, 8, 2, 3, 2, 6}};
    static const size_t win_blk[5][2] = {{32, 16}, {3, 4}, {0, 1}, {8, 4}, {5, 2}};
    size_t si, bi;
    for (si = 0; si < 5; ++si) {
        aether_blob_demo_params p = shape(shapes[si][0], shapes[si][1], shapes[si][2],
                                          shapes[si][3], shapes[si][4], shapes[si][5], 1000 + si);
        test_demo_buf b;
        size_t in = shapes[si][0], nc = shapes[si][5], n = 60, t, j;
        float *x = random_frames(n, in, 2.0f);
        p.input_norm = (si % 2) == 1;
        CHECK(test_demo_view(&b, &p));
        for (bi = 0; bi < 2; ++bi) {
            aether_head_config hc;
            aether_model *m = NULL;
            aether_model_session *s = NULL;
            aether_session_params sp = aether_model_session_params_default();
            float *lg = (float *)malloc(nc * sizeof(float)),
                  *lw = (float *)malloc(nc * sizeof(float));
            float *hs = (float *)malloc(in * sizeof(float)),
                  *hw = (float *)malloc(in * sizeof(float));
            float *sum = (float *)calloc(in, sizeof(float));
            int all_equal = 1;
            aether_model_default_head_config(&b.view, &hc);
            hc.backend = bi ? AETHER_HEAD_DENSE : AETHER_HEAD_SPARSE_GQA;
            hc.window = win_blk[si][0];
            hc.block_size = win_blk[si][1];
            CHECK_STATUS(aether_model_create(&b.view, &hc, AETHER_MODEL_COPY, &m), AETHER_OK);
            sp.capacity = 64;
            CHECK_STATUS(aether_model_session_create(m, &sp, &s), AETHER_OK);
            for (t = 0; t < n; ++t) {
                CHECK_STATUS(aether_model_session_step(s, x + t * in, lg, hs), AETHER_OK);
                CHECK_STATUS(ws_model_forward(m, x, t + 1, AETHER_POOL_LAST, lw, hw), AETHER_OK);
                if (!same_bits(lg, lw, nc) || !same_bits(hs, hw, in)) {
                    if (all_equal)
                        fprintf(stderr, "shape %lu backend %lu t %lu: %.9g vs %.9g\n",
                                (unsigned long)si, (unsigned long)bi, (unsigned long)t, lg[0],
                                lw[0]);
                    all_equal = 0;
                }
                for (j = 0; j < in; ++j)
                    sum[j] = sum[j] + hs[j];
            }
            CHECK_MSG(all_equal, "shape %lu backend %lu", (unsigned long)si, (unsigned long)bi);
            CHECK_EQ_INT(aether_model_session_frames(s), n);
            CHECK_EQ_INT(aether_model_session_evicted(s), 0);
            /* mean pooling over the whole window */
            CHECK_STATUS(ws_model_forward(m, x, n, AETHER_POOL_MEAN, lw, hw), AETHER_OK);
            for (j = 0; j < in; ++j)
                sum[j] = sum[j] * (1.0f / (float)n);
            CHECK(same_bits(sum, hw, in));
            aether_model_session_destroy(s);
            aether_model_destroy(m);
            free(lg);
            free(lw);
            free(hs);
            free(hw);
            free(sum);
        }
        free(x);
        free(b.bytes);
    }
}

/* f16 payload: logits equal (bit for bit) those of an f32 blob holding the
 * f16-rounded weights, and are close to the unrounded f32 model. */
static void test_f16_blob_matches_rounded_f32(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    test_demo_buf b16, b32;
    aether_blob_header h;
    aether_blob_layout l;
    unsigned char *rb, *payload;
    size_t i, n = 0;
    aether_blob_view rv;
    aether_model *m16 = NULL, *m32 = NULL, *mr = NULL;
    float *x = random_frames(40, 16, 1.0f);
    float a[4], c[4], r[4];
    p.f16 = 1;
    CHECK(test_demo_view(&b16, &p));
    p.f16 = 0;
    CHECK(test_demo_view(&b32, &p));
    h = b16.view.header;
    h.flags = 0;
    aether_blob_layout_of(&h, &l);
    h.weights_len = (uint32_t)(l.total_elems * 4);
    payload = (unsigned char *)malloc(h.weights_len);
    rb = (unsigned char *)malloc(28 + h.weights_len);
    for (i = 0; i < l.total_elems; ++i)
        aether_store_lef32(payload + 4 * i, aether_blob_weight(&b16.view, i));
    CHECK_STATUS(aether_blob_serialize(&h, payload, rb, 28 + h.weights_len, &n), AETHER_OK);
    CHECK_STATUS(aether_blob_parse(rb, n, &rv), AETHER_OK);
    CHECK_STATUS(aether_model_create(&b16.view, NULL, AETHER_MODEL_COPY, &m16), AETHER_OK);
    /* Borrowing needs a little-endian host (the payload is LE f32). */
    CHECK_STATUS(aether_model_create(&rv, NULL,
                                     host_is_little_endian() ? AETHER_MODEL_BORROW
                                                             : AETHER_MODEL_BORROW_IF_POSSIBLE,
                                     &mr),
                 AETHER_OK);
    CHECK_STATUS(aether_model_create(&b32.view, NULL, AETHER_MODEL_COPY, &m32), AETHER_OK);
    CHECK_STATUS(ws_model_forward(m16, x, 40, AETHER_POOL_LAST, a, NULL), AETHER_OK);
    CHECK_STATUS(ws_model_forward(mr, x, 40, AETHER_POOL_LAST, r, NULL), AETHER_OK);
    CHECK_STATUS(ws_model_forward(m32, x, 40, AETHER_POOL_LAST, c, NULL), AETHER_OK);
    CHECK(same_bits(a, r, 4));
    for (i = 0; i < 4; ++i) {
        /* weights |w| <= 0.1 rounded with relative error 2^-11; a few
         * products of 16 terms each keep the logit error well below 1e-3 */
        CHECK_NEAR(a[i], c[i], 1e-3);
        CHECK(a[i] != 0.0f);
    }
    aether_model_destroy(m16);
    aether_model_destroy(m32);
    aether_model_destroy(mr);
    free(payload);
    free(rb);
    free(x);
    free(b16.bytes);
    free(b32.bytes);
}

/* Flag bit 1: the model normalises frames before layer 0. */
static void test_input_normalisation(void)
{
    aether_blob_demo_params p = shape(6, 2, 1, 4, 2, 3, 77);
    test_demo_buf bn, bp;
    aether_blob_layout l;
    aether_model *mn = NULL, *mp = NULL;
    aether_model_info info;
    float *x = random_frames(20, 6, 3.0f), *xn = (float *)malloc(20 * 6 * sizeof(float));
    float a[3], c[3];
    size_t t, j;
    p.input_norm = 1;
    CHECK(test_demo_view(&bn, &p));
    p.input_norm = 0;
    CHECK(test_demo_view(&bp, &p)); /* same v1 arrays (same stream prefix) */
    CHECK_STATUS(aether_blob_validate_model(&bn.view, &l), AETHER_OK);
    CHECK_STATUS(aether_model_create(&bn.view, NULL, AETHER_MODEL_COPY, &mn), AETHER_OK);
    CHECK_STATUS(aether_model_create(&bp.view, NULL, AETHER_MODEL_COPY, &mp), AETHER_OK);
    CHECK_STATUS(aether_model_get_info(mn, &info), AETHER_OK);
    CHECK_EQ_INT(info.input_norm, 1);
    for (t = 0; t < 20; ++t)
        for (j = 0; j < 6; ++j)
            xn[t * 6 + j] = (x[t * 6 + j] - aether_blob_weight(&bn.view, l.norm_mean + j)) *
                            aether_blob_weight(&bn.view, l.norm_inv_std + j);
    CHECK_STATUS(ws_model_forward(mn, x, 20, AETHER_POOL_MEAN, a, NULL), AETHER_OK);
    CHECK_STATUS(ws_model_forward(mp, xn, 20, AETHER_POOL_MEAN, c, NULL), AETHER_OK);
    CHECK(same_bits(a, c, 3));
    CHECK_STATUS(ws_model_forward(mp, x, 20, AETHER_POOL_MEAN, c, NULL), AETHER_OK);
    CHECK(!same_bits(a, c, 3));
    aether_model_destroy(mn);
    aether_model_destroy(mp);
    free(x);
    free(xn);
    free(bn.bytes);
    free(bp.bytes);
}

static void test_memory_modes(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    test_demo_buf b, b16;
    size_t copy_len = 0, borrow_len = 0, ws_len = 0;
    void *buf, *ws;
    aether_model *m = NULL, *mb = NULL;
    aether_model_info info;
    float *x = random_frames(10, 16, 1.0f), a[4], c[4], pooled[16];
    aether_blob_view shifted;
    unsigned char *odd;
    CHECK(test_demo_view(&b, &p));
    CHECK_STATUS(aether_model_size(&b.view, NULL, AETHER_MODEL_COPY, &copy_len), AETHER_OK);
    if (host_is_little_endian()) {
        CHECK_STATUS(aether_model_size(&b.view, NULL, AETHER_MODEL_BORROW, &borrow_len),
                     AETHER_OK);
        CHECK(copy_len >= borrow_len + 41216);
    } else {
        CHECK_STATUS(aether_model_size(&b.view, NULL, AETHER_MODEL_BORROW, &borrow_len),
                     AETHER_ERR_UNSUPPORTED);
    }
    buf = malloc(copy_len);
    CHECK_STATUS(aether_model_init(buf, copy_len / 2, &b.view, NULL, AETHER_MODEL_COPY, &m),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_model_init(buf, copy_len, &b.view, NULL, AETHER_MODEL_COPY, &m),
                 AETHER_OK);
    CHECK_STATUS(aether_model_create(&b.view, NULL, AETHER_MODEL_BORROW_IF_POSSIBLE, &mb),
                 AETHER_OK);
    CHECK_STATUS(aether_model_get_info(mb, &info), AETHER_OK);
    CHECK_EQ_INT(info.borrowed, host_is_little_endian());
    CHECK_STATUS(aether_model_forward_workspace_size(m, 10, &ws_len), AETHER_OK);
    {
        size_t planned = 0, sess = 0, sess_planned = 0;
        CHECK_STATUS(aether_model_forward_workspace_size_for(&b.view, NULL, 10, &planned),
                     AETHER_OK);
        CHECK_EQ_INT(planned, ws_len);
        CHECK_STATUS(aether_model_session_size(m, NULL, &sess), AETHER_OK);
        CHECK_STATUS(aether_model_session_size_for(&b.view, NULL, NULL, &sess_planned),
                     AETHER_OK);
        CHECK_EQ_INT(sess_planned, sess);
    }
    ws = malloc(ws_len);
    CHECK_STATUS(aether_model_forward(m, x, 10, AETHER_POOL_LAST, a, pooled, ws, ws_len / 2),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_model_forward(m, x, 10, AETHER_POOL_LAST, a, pooled, ws, ws_len),
                 AETHER_OK);
    CHECK_STATUS(ws_model_forward(mb, x, 10, AETHER_POOL_LAST, c, NULL), AETHER_OK);
    CHECK(same_bits(a, c, 4));
    /* misaligned payload: BORROW refused, BORROW_IF_POSSIBLE copies */
    odd = (unsigned char *)malloc(b.len + 1);
    memcpy(odd + 1, b.bytes, b.len);
    CHECK_STATUS(aether_blob_parse(odd + 1, b.len, &shifted), AETHER_OK);
    CHECK_STATUS(aether_model_size(&shifted, NULL, AETHER_MODEL_BORROW, &borrow_len),
                 AETHER_ERR_UNSUPPORTED);
    aether_model_destroy(mb);
    mb = NULL;
    CHECK_STATUS(aether_model_create(&shifted, NULL, AETHER_MODEL_BORROW_IF_POSSIBLE, &mb),
                 AETHER_OK);
    CHECK_STATUS(aether_model_get_info(mb, &info), AETHER_OK);
    CHECK_EQ_INT(info.borrowed, 0);
    memset(odd, 0, b.len + 1); /* a copied model no longer needs the blob */
    CHECK_STATUS(ws_model_forward(mb, x, 10, AETHER_POOL_LAST, c, NULL), AETHER_OK);
    CHECK(same_bits(a, c, 4));
    p.f16 = 1;
    CHECK(test_demo_view(&b16, &p));
    CHECK_STATUS(aether_model_size(&b16.view, NULL, AETHER_MODEL_BORROW, &borrow_len),
                 AETHER_ERR_UNSUPPORTED);
    CHECK_STATUS(aether_model_size(&b16.view, NULL, (aether_model_weights)9, &borrow_len),
                 AETHER_ERR_INVALID_ARG);
    aether_model_destroy(mb);
    aether_model_destroy(NULL);
    free(odd);
    free(ws);
    free(buf);
    free(x);
    free(b.bytes);
    free(b16.bytes);
}

static void test_load_errors(void)
{
    REQUIRE_GOLDEN();
    aether_blob_demo_params p = aether_blob_demo_default();
    test_demo_buf b;
    aether_head_config hc;
    aether_model *m = NULL;
    size_t len = 0, bytes;
    unsigned char *g = test_golden_blob("fp32_small.bin", &len);
    aether_blob_view gv;
    float x[16 * 2], lg[4];
    CHECK(g != NULL);
    if (g) {
        CHECK_STATUS(aether_blob_parse(g, len, &gv), AETHER_OK);
        CHECK_STATUS(aether_model_create(&gv, NULL, AETHER_MODEL_COPY, &m),
                     AETHER_ERR_BLOB_LAYOUT);
        free(g);
    }
    CHECK(test_demo_view(&b, &p));
    aether_model_default_head_config(&b.view, &hc);
    hc.kv_heads = 2;
    CHECK_STATUS(aether_model_size(&b.view, &hc, AETHER_MODEL_COPY, &bytes),
                 AETHER_ERR_BLOB_SHAPE);
    hc.kv_heads = 1;
    hc.head_dim = 16;
    CHECK_STATUS(aether_model_size(&b.view, &hc, AETHER_MODEL_COPY, &bytes),
                 AETHER_ERR_BLOB_SHAPE);
    hc.head_dim = 32;
    hc.block_size = 0;
    CHECK_STATUS(aether_model_size(&b.view, &hc, AETHER_MODEL_COPY, &bytes),
                 AETHER_ERR_BLOCK_SIZE);
    hc.block_size = 16;
    CHECK_STATUS(aether_model_create(&b.view, &hc, AETHER_MODEL_COPY, &m), AETHER_OK);
    memset(x, 0, sizeof x);
    CHECK_STATUS(ws_model_forward(m, x, 0, AETHER_POOL_LAST, lg, NULL), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(ws_model_forward(m, x, 2, (aether_pool)5, lg, NULL), AETHER_ERR_INVALID_ARG);
    x[17] = NAN;
    lg[0] = 42.0f;
    CHECK_STATUS(ws_model_forward(m, x, 2, AETHER_POOL_LAST, lg, NULL), AETHER_ERR_NONFINITE);
    CHECK(lg[0] == 42.0f);
    CHECK_STATUS(ws_model_forward(NULL, x, 2, AETHER_POOL_LAST, lg, NULL), AETHER_ERR_NULL_ARG);
    aether_model_destroy(m);
    /* a NaN weight is a model-level error */
    aether_store_le32(b.bytes + 24 + 400, 0x7FC00000u);
    aether_store_le32(b.bytes + b.len - 4, aether_crc32(b.bytes, b.len - 4));
    CHECK_STATUS(aether_blob_parse(b.bytes, b.len, &b.view), AETHER_OK);
    CHECK_STATUS(aether_model_create(&b.view, NULL, AETHER_MODEL_COPY, &m),
                 AETHER_ERR_BLOB_NONFINITE);
    free(b.bytes);
}

static void test_session_errors_and_eviction(void)
{
    aether_blob_demo_params p = shape(8, 2, 1, 4, 2, 3, 5);
    test_demo_buf b;
    aether_model *m = NULL;
    aether_model_session *s = NULL, *s2 = NULL;
    aether_session_params sp = aether_model_session_params_default();
    float *x = random_frames(30, 8, 1.0f), bad[8], lg[3], l2[3], keep[3];
    size_t t, bytes = 0;
    void *buf;
    CHECK_EQ_INT(sp.capacity, 4096);
    CHECK_EQ_INT(sp.evict, AETHER_KV_EVICT_SLIDING);
    CHECK(test_demo_view(&b, &p));
    CHECK_STATUS(aether_model_create(&b.view, NULL, AETHER_MODEL_COPY, &m), AETHER_OK);
    /* EVICT_NONE, capacity 4: the fifth frame is CACHE_FULL and changes nothing */
    sp.capacity = 4;
    sp.evict = AETHER_KV_EVICT_NONE;
    CHECK_STATUS(aether_model_session_size(m, &sp, &bytes), AETHER_OK);
    buf = malloc(bytes);
    CHECK_STATUS(aether_model_session_init(buf, bytes / 2, m, &sp, &s),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_model_session_init(buf, bytes, m, &sp, &s), AETHER_OK);
    for (t = 0; t < 4; ++t)
        CHECK_STATUS(aether_model_session_step(s, x + t * 8, lg, NULL), AETHER_OK);
    memcpy(keep, lg, sizeof keep);
    CHECK_STATUS(aether_model_session_step(s, x + 4 * 8, lg, NULL), AETHER_ERR_CACHE_FULL);
    CHECK_EQ_INT(aether_model_session_frames(s), 4);
    /* reset, then the same frames give the same logits */
    CHECK_STATUS(aether_model_session_reset(s), AETHER_OK);
    CHECK_EQ_INT(aether_model_session_frames(s), 0);
    for (t = 0; t < 4; ++t)
        CHECK_STATUS(aether_model_session_step(s, x + t * 8, lg, NULL), AETHER_OK);
    CHECK(same_bits(lg, keep, 3));

    /* NaN frame: rejected, state untouched (the next frame's logits equal an
     * uninterrupted run's) */
    sp = aether_model_session_params_default();
    sp.capacity = 10;
    CHECK_STATUS(aether_model_session_create(m, &sp, &s2), AETHER_OK);
    CHECK_STATUS(aether_model_session_reset(s), AETHER_OK);
    memcpy(bad, x, sizeof bad);
    bad[3] = INFINITY;
    CHECK_STATUS(aether_model_session_step(s, x, lg, NULL), AETHER_OK);
    CHECK_STATUS(aether_model_session_step(s2, x, l2, NULL), AETHER_OK);
    CHECK_STATUS(aether_model_session_step(s2, bad, l2, NULL), AETHER_ERR_NONFINITE);
    bad[3] = NAN;
    CHECK_STATUS(aether_model_session_step(s2, bad, l2, NULL), AETHER_ERR_NONFINITE);
    CHECK_EQ_INT(aether_model_session_frames(s2), 1);
    CHECK_STATUS(aether_model_session_step(s, x + 8, lg, NULL), AETHER_OK);
    CHECK_STATUS(aether_model_session_step(s2, x + 8, l2, NULL), AETHER_OK);
    CHECK(same_bits(lg, l2, 3));

    /* sliding eviction keeps going past the capacity */
    for (t = 2; t < 30; ++t)
        CHECK_STATUS(aether_model_session_step(s2, x + t * 8, l2, NULL), AETHER_OK);
    CHECK_EQ_INT(aether_model_session_frames(s2), 30);
    CHECK_EQ_INT(aether_model_session_evicted(s2), 1);
    CHECK(aether_isfinite(l2[0]) && aether_isfinite(l2[2]));
    CHECK_STATUS(aether_model_session_reset(s2), AETHER_OK);
    CHECK_EQ_INT(aether_model_session_evicted(s2), 0);
    CHECK_STATUS(aether_model_session_step(s2, NULL, l2, NULL), AETHER_ERR_NULL_ARG);
    /* a sliding session needs room beyond the protected global */
    sp.capacity = 1;
    CHECK(aether_model_session_size(m, &sp, &bytes) != AETHER_OK);
    aether_model_session_destroy(s2);
    aether_model_session_destroy(NULL);
    aether_model_destroy(m);
    free(buf);
    free(x);
    free(b.bytes);
}

/* Default kernels (possibly SIMD prefill): streaming logits stay within a
 * small tolerance of the window forward. */
static void test_default_kernels_streaming_close(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    test_demo_buf b;
    aether_model *m = NULL;
    aether_model_session *s = NULL;
    float *x = random_frames(80, 16, 1.0f), lg[4], lw[4];
    size_t t, i;
    double worst = 0;
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
    CHECK(test_demo_view(&b, &p));
    CHECK_STATUS(aether_model_create(&b.view, NULL, AETHER_MODEL_COPY, &m), AETHER_OK);
    CHECK_STATUS(aether_model_session_create(m, NULL, &s), AETHER_OK);
    for (t = 0; t < 80; ++t) {
        CHECK_STATUS(aether_model_session_step(s, x + t * 16, lg, NULL), AETHER_OK);
        CHECK_STATUS(ws_model_forward(m, x, t + 1, AETHER_POOL_LAST, lw, NULL), AETHER_OK);
        for (i = 0; i < 4; ++i)
            if (fabs((double)lg[i] - lw[i]) > worst)
                worst = fabs((double)lg[i] - lw[i]);
    }
    CHECK_MSG(worst <= 1e-5, "worst |stream - forward| = %g (%s kernels)", worst,
              aether_kernel_name());
    aether_model_session_destroy(s);
    aether_model_destroy(m);
    free(x);
    free(b.bytes);
}

/* The window forward on a caller workspace only: NULL -> NULL_ARG (after
 * the argument checks), short -> BUFFER_TOO_SMALL, outputs untouched; the
 * queried size gives the same bits as any larger workspace. */
static void test_forward_workspace_required(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    test_demo_buf b;
    aether_model *m = NULL;
    aether_model_info info;
    float x[8 * 64], lg[64], pooled[64], lg2[64];
    size_t i, need = 0;
    unsigned char *ws;
    CHECK(test_demo_view(&b, &p));
    CHECK_STATUS(aether_model_create(&b.view, NULL, AETHER_MODEL_COPY, &m), AETHER_OK);
    if (!m) {
        free(b.bytes);
        return;
    }
    CHECK_STATUS(aether_model_get_info(m, &info), AETHER_OK);
    CHECK(info.input_dim <= 64 && info.n_classes <= 64);
    for (i = 0; i < 8 * info.input_dim; ++i)
        x[i] = (float)((int)(i % 9) - 4) * 0.125f;
    for (i = 0; i < 64; ++i)
        lg[i] = pooled[i] = 7.0f;
    CHECK_STATUS(aether_model_forward_workspace_size(m, 8, &need), AETHER_OK);
    ws = (unsigned char *)test_ws(need + 64);
    CHECK_STATUS(aether_model_forward(m, x, 8, AETHER_POOL_MEAN, lg, pooled, NULL, 0),
                 AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_model_forward(m, x, 8, AETHER_POOL_MEAN, lg, pooled, NULL, need),
                 AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_model_forward(m, x, 8, AETHER_POOL_MEAN, lg, pooled, ws, need - 1),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_model_forward(m, x, 0, AETHER_POOL_MEAN, lg, pooled, NULL, 0),
                 AETHER_ERR_INVALID_ARG);
    CHECK(test_all_equal(lg, 64, 7.0f) && test_all_equal(pooled, 64, 7.0f));
    CHECK_STATUS(aether_model_forward(m, x, 8, AETHER_POOL_MEAN, lg, pooled, ws, need),
                 AETHER_OK);
    /* another placement and a larger length: same bits */
    CHECK_STATUS(aether_model_forward(m, x, 8, AETHER_POOL_MEAN, lg2, NULL, ws + 3, need + 61),
                 AETHER_OK);
    CHECK(memcmp(lg, lg2, info.n_classes * sizeof(float)) == 0);
    free(ws);
    aether_model_destroy(m);
    free(b.bytes);
}

TEST_MAIN(test_use_reference_kernels, test_forward_matches_rederivation,
          test_zero_attention_is_linear_classifier, test_streaming_equals_window_forward,
          test_f16_blob_matches_rounded_f32, test_input_normalisation, test_memory_modes,
          test_load_errors, test_session_errors_and_eviction,
          test_default_kernels_streaming_close, test_forward_workspace_required)
