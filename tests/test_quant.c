/* The integer path (aether/quant.h, docs/MODEL.md section 10): fixed-point
 * helpers and their saturation, the quantizer's round trip, the integer
 * model against the f32 model within the stated contract, streaming equal to
 * the window forward bit for bit, eviction, and memory. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aether/dispatch.h"
#include "aether/quant.h"
#include "check.h"
#include "quant/quant_internal.h"

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static float urand(void) /* [-1, 1) */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

/* ---------- fixed point ---------- */

static void test_q16_conversions(void)
{
    static const float xs[] = {0.0f,        -0.0f,      1.0f,       -1.0f,      0.5f / 65536.0f,
                               -0.5f / 65536.0f, 1.5f / 65536.0f, 3.14159f, -2.71828f, 32767.99f,
                               -32767.99f,  1e-30f,     1e30f,      -1e30f,     65536.0f,
                               32768.0f,    -32768.0f,  1234.5678f};
    size_t i;
    int32_t q = 7;
    for (i = 0; i < sizeof xs / sizeof xs[0]; ++i) {
        double want = (double)xs[i] * 65536.0;
        want = want < 0 ? -floor(-want + 0.5) : floor(want + 0.5);
        if (want > 2147483647.0)
            want = 2147483647.0;
        if (want < -2147483647.0)
            want = -2147483647.0;
        CHECK_STATUS(aether_q16_from_f32(xs[i], &q), AETHER_OK);
        CHECK_MSG((double)q == want, "x %.9g: %ld, want %.0f", (double)xs[i], (long)q, want);
    }
    for (i = 0; i < 20000; ++i) {
        float x = urand() * (float)(1u << (i % 20));
        double want = (double)x * 65536.0;
        want = want < 0 ? -floor(-want + 0.5) : floor(want + 0.5);
        want = want > 2147483647.0 ? 2147483647.0 : want < -2147483647.0 ? -2147483647.0 : want;
        CHECK_STATUS(aether_q16_from_f32(x, &q), AETHER_OK);
        if ((double)q != want) {
            CHECK_MSG(0, "x %.9g: %ld, want %.0f", (double)x, (long)q, want);
            break;
        }
    }
    q = 5;
    CHECK_STATUS(aether_q16_from_f32(NAN, &q), AETHER_ERR_NONFINITE);
    CHECK_STATUS(aether_q16_from_f32(-INFINITY, &q), AETHER_ERR_NONFINITE);
    CHECK_EQ_INT(q, 5);
    CHECK_STATUS(aether_q16_from_f32(1.0f, NULL), AETHER_ERR_NULL_ARG);
    /* to float: exactly (float)v / 65536 (int -> float rounds to nearest even) */
    {
        static const int32_t vs[] = {0, 1, -1, 65536, -65536, 16777217, -16777219, 2147483647,
                                     -2147483647, (int32_t)0x80000000u, 123456789, 33554431};
        for (i = 0; i < sizeof vs / sizeof vs[0]; ++i) {
            float want = (float)vs[i] / 65536.0f, got = aether_q16_to_f32(vs[i]);
            CHECK_MSG(memcmp(&want, &got, 4) == 0, "v %ld: %.9g, want %.9g", (long)vs[i],
                      (double)got, (double)want);
        }
        for (i = 0; i < 20000; ++i) {
            int32_t v = (int32_t)(uint32_t)(g_rng = g_rng * 6364136223846793005ull + 1) >> (i % 31);
            float want = (float)v / 65536.0f, got = aether_q16_to_f32(v);
            if (memcmp(&want, &got, 4) != 0) {
                CHECK_MSG(0, "v %ld", (long)v);
                break;
            }
        }
    }
}

static void test_saturating_helpers(void)
{
    /* round half away from zero, saturation at +-(2^31 - 1), no UB at the ends */
    CHECK_EQ_INT(aq_rshift(5, 1), 3);
    CHECK_EQ_INT(aq_rshift(-5, 1), -3);
    CHECK_EQ_INT(aq_rshift(-4, 1), -2);
    CHECK_EQ_INT(aq_rshift((int32_t)0x80000000u, 31), -1);
    CHECK_EQ_INT(aq_rshift(2147483647, 31), 1);
    CHECK_EQ_INT(aq_mulsh(3, 1, 1), 2);
    CHECK_EQ_INT(aq_mulsh(-3, 1, 1), -2);
    CHECK_EQ_INT(aq_mulsh(2147483647, 32767, -20), 2147483647);
    CHECK_EQ_INT(aq_mulsh((int32_t)0x80000000u, 32767, 0), -2147483647);
    CHECK_EQ_INT(aq_mulsh(-1, 1, -40), -2147483647);
    CHECK_EQ_INT(aq_mulsh(12345, 32767, 70), 0);
    CHECK_EQ_INT(aq_mulsh(0, 32767, -40), 0);
    CHECK_EQ_INT(aq_mulsh(1 << 20, 1 << 14, 20), 1 << 14);
    CHECK_EQ_INT(aq_add(2147483647, 1), 2147483647);
    CHECK_EQ_INT(aq_add(-2147483647, -5), -2147483647);
    CHECK_EQ_INT(aq_add((int32_t)0x80000000u, 0), -2147483647);
    /* requantization exponents: round(max / 2^s) <= lim, s smallest */
    {
        int32_t v[3] = {127, -128, 3};
        int8_t m8[3];
        int16_t m16[3];
        CHECK_EQ_INT(aq_to_i8_(v, 3, m8), 1);
        CHECK_EQ_INT(m8[0], 64);
        CHECK_EQ_INT(m8[1], -64);
        CHECK_EQ_INT(m8[2], 2);
        v[1] = (int32_t)0x80000000u;
        /* 2^31 / 2^16 rounds to 32768 > 32767: one more bit */
        CHECK_EQ_INT(aq_to_i16_(v, 3, m16), 17);
        CHECK_EQ_INT(m16[1], -16384);
        CHECK_EQ_INT(m16[0], 0);
        v[0] = v[1] = v[2] = 0;
        CHECK_EQ_INT(aq_to_i8_(v, 3, m8), 0);
    }
    /* the table exponential: 2^(-t/1024) in Q15 within 1.5 units */
    {
        uint32_t t;
        double worst = 0;
        for (t = 0; t < 17 * 1024; t += 7) {
            double want = 32768.0 * pow(2.0, -(double)t / 1024.0), d;
            if (t >= 16 * 1024)
                want = 0;
            d = fabs((double)aq_exp2neg_(t) - want);
            if (d > worst)
                worst = d;
        }
        CHECK_MSG(worst <= 1.5, "worst %g", worst);
        CHECK_EQ_INT(aq_exp2neg_(0), 32768);
        CHECK_EQ_INT(aq_exp2neg_(1024), 16384);
        CHECK_EQ_INT(aq_exp2neg_(0xFFFFFFFFu), 0);
    }
}

/* ---------- models ---------- */

typedef struct qfix {
    unsigned char *f32, *q;
    size_t f32_len, q_len;
    aether_blob_view fv;
    aether_qblob_view qv;
    aether_model *fm;
    aether_qmodel *qm;
    void *qm_buf;
} qfix;

static int fix_open(qfix *x, const aether_blob_demo_params *p, const aether_head_config *cfg)
{
    size_t n;
    memset(x, 0, sizeof *x);
    if (aether_blob_demo_size(p, &x->f32_len) != AETHER_OK)
        return -1;
    x->f32 = (unsigned char *)malloc(x->f32_len);
    if (!x->f32 || aether_blob_demo_write(p, x->f32, x->f32_len, NULL) != AETHER_OK ||
        aether_blob_parse(x->f32, x->f32_len, &x->fv) != AETHER_OK ||
        aether_qblob_quantize_size(&x->fv, &x->q_len) != AETHER_OK)
        return -1;
    x->q = (unsigned char *)malloc(x->q_len);
    if (!x->q || aether_qblob_quantize(&x->fv, x->q, x->q_len, &n) != AETHER_OK ||
        n != x->q_len || aether_qblob_parse(x->q, x->q_len, &x->qv) != AETHER_OK ||
        aether_model_create(&x->fv, cfg, AETHER_MODEL_COPY, &x->fm) != AETHER_OK ||
        aether_qmodel_size(&x->qv, cfg, &n) != AETHER_OK)
        return -1;
    x->qm_buf = malloc(n);
    if (!x->qm_buf || aether_qmodel_init(x->qm_buf, n, &x->qv, cfg, &x->qm) != AETHER_OK)
        return -1;
    return 0;
}

static void fix_close(qfix *x)
{
    aether_model_destroy(x->fm);
    free(x->qm_buf);
    free(x->q);
    free(x->f32);
}

static void test_quantize_round_trip(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    qfix x;
    size_t l, i, r, c, n;
    unsigned char *again;
    p.input_norm = 1;
    if (fix_open(&x, &p, NULL) != 0) {
        CHECK_MSG(0, "fixture");
        fix_close(&x);
        return;
    }
    /* 4x smaller (int8 plus 4 bytes per output row), deterministic */
    CHECK_MSG(x.q_len * 3 < x.f32_len, "%zu vs %zu", x.q_len, x.f32_len);
    again = (unsigned char *)malloc(x.q_len);
    CHECK(again && aether_qblob_quantize(&x.fv, again, x.q_len, &n) == AETHER_OK &&
          memcmp(again, x.q, n) == 0);
    CHECK_STATUS(aether_qblob_quantize(&x.fv, again, x.q_len - 1, &n),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    free(again);
    /* each weight within half a step of its row's scale, and the row's
     * largest magnitude maps to 127 */
    {
        aether_blob_layout fl;
        aether_qblob_layout ql;
        const size_t I = p.input_dim, Q = (size_t)p.n_q_heads * p.head_dim;
        aether_blob_validate_model(&x.fv, &fl);
        aether_qblob_layout_of(&x.qv.header, &ql);
        for (l = 0; l < p.n_layers; ++l) {
            const unsigned char *rec = x.qv.payload + l * ql.layer_bytes + ql.wq;
            const int8_t *w = (const int8_t *)(const void *)(rec + 4 * Q);
            for (c = 0; c < Q; ++c) {
                double sc = ldexp((double)aq_scale_m(rec + 4 * c), -(int)rec[4 * c + 2]);
                int maxq = 0;
                for (r = 0; r < I; ++r) {
                    double f = aether_blob_weight(&x.fv, l * fl.layer_elems + fl.wq + r * Q + c);
                    double back = (double)w[c * I + r] * sc;
                    if (fabs(back - f) > 0.5 * sc + 1e-12) {
                        CHECK_MSG(0, "layer %zu row %zu col %zu: %g vs %g", l, r, c, back, f);
                        l = p.n_layers;
                        break;
                    }
                    if (abs(w[c * I + r]) > maxq)
                        maxq = abs(w[c * I + r]);
                }
                if (maxq != 127) {
                    CHECK_MSG(0, "row %zu max %d", c, maxq);
                    break;
                }
            }
        }
        for (i = 0; i < I; ++i) {
            double mean = aether_blob_weight(&x.fv, fl.norm_mean + i);
            int32_t mq = (int32_t)aether_load_le32(x.qv.payload + ql.norm_mean + 4 * i);
            CHECK(fabs((double)mq / 65536.0 - mean) <= 0.5 / 65536.0);
        }
    }
    /* metadata survives quantization */
    {
        aether_blob_metadata m;
        CHECK_STATUS(aether_qblob_metadata_get(&x.qv, &m), AETHER_OK);
        CHECK_EQ_INT(m.present, 0);
    }
    fix_close(&x);
}

/* The integer forward against the f32 model (reference kernels): on the demo
 * model (weights in [-0.1, 0.1], 2 layers) with frames in [-3, 3] every logit
 * is within 0.01 + 0.01 * max|logit| of f32 (measured: below 0.004 at
 * max|logit| about 1), for LAST and MEAN pooling, sparse and dense. */
static void test_forward_vs_f32(void)
{
    static const aether_head_backend backends[] = {AETHER_HEAD_SPARSE_GQA, AETHER_HEAD_DENSE};
    aether_blob_demo_params p = aether_blob_demo_default();
    aether_kernel_mode before = aether_get_kernel_mode();
    size_t b, trial, i, c, N = 80;
    p.input_norm = 1;
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
    for (b = 0; b < 2; ++b) {
        aether_head_config cfg = aether_head_config_default_aether();
        qfix x;
        float *fr = (float *)malloc(N * p.input_dim * sizeof(float));
        void *fws = NULL, *qws = NULL;
        size_t fneed = 0, qneed = 0;
        double worst = 0, lmax = 0;
        cfg.backend = backends[b];
        if (!fr || fix_open(&x, &p, &cfg) != 0) {
            CHECK_MSG(0, "fixture");
            free(fr);
            fix_close(&x);
            continue;
        }
        CHECK_STATUS(aether_model_forward_workspace_size(x.fm, N, &fneed), AETHER_OK);
        CHECK_STATUS(aether_qmodel_forward_workspace_size(x.qm, N, &qneed), AETHER_OK);
        fws = malloc(fneed);
        qws = malloc(qneed);
        for (trial = 0; trial < 8 && fws && qws; ++trial) {
            float lf[8], lq[8];
            aether_pool pool = trial % 2 ? AETHER_POOL_MEAN : AETHER_POOL_LAST;
            size_t n = 1 + (trial * 37) % N;
            for (i = 0; i < N * p.input_dim; ++i)
                fr[i] = 3.0f * urand();
            CHECK_STATUS(aether_model_forward(x.fm, fr, n, pool, lf, NULL, fws, fneed), AETHER_OK);
            CHECK_STATUS(aether_qmodel_forward(x.qm, fr, n, pool, lq, qws, qneed), AETHER_OK);
            for (c = 0; c < p.n_classes; ++c) {
                if (fabs(lf[c]) > lmax)
                    lmax = fabs(lf[c]);
                if (fabs(lf[c] - lq[c]) > worst)
                    worst = fabs(lf[c] - lq[c]);
            }
        }
        CHECK_MSG(lmax > 0.1, "logits too small to compare: %g", lmax);
        CHECK_MSG(worst <= 0.01 + 0.01 * lmax, "backend %zu: max |int - f32| %g (max |logit| %g)",
                  b, worst, lmax);
        free(fws);
        free(qws);
        free(fr);
        fix_close(&x);
    }
    (void)aether_set_kernel_mode(before);
}

/* Streaming equals the window forward with LAST pooling, bit for bit, until
 * the first eviction; for both backends, both policies, 1..N frames (the
 * landmark blocks complete on the way). */
static void test_stream_equals_window(void)
{
    static const aether_head_backend backends[] = {AETHER_HEAD_SPARSE_GQA, AETHER_HEAD_DENSE};
    aether_blob_demo_params p = aether_blob_demo_default();
    const size_t N = 70;
    size_t b, e;
    p.input_norm = 1;
    p.n_kv_heads = 2; /* GQA 4/2 */
    p.head_dim = 16;
    for (b = 0; b < 2; ++b) {
        for (e = 0; e < 2; ++e) {
            aether_head_config cfg = aether_head_config_default_aether();
            aether_kv_evict ev = e ? AETHER_KV_EVICT_SLIDING : AETHER_KV_EVICT_NONE;
            qfix x;
            int32_t *fr = (int32_t *)malloc(N * p.input_dim * sizeof(int32_t));
            void *ws = NULL, *sb = NULL;
            size_t need = 0, sneed = 0, t, i, mism = 0;
            aether_qsession *s = NULL;
            cfg.backend = backends[b];
            cfg.kv_heads = 2;
            cfg.head_dim = 16;
            cfg.window = 8;
            cfg.block_size = 4;
            if (!fr || fix_open(&x, &p, &cfg) != 0) {
                CHECK_MSG(0, "fixture");
                free(fr);
                fix_close(&x);
                continue;
            }
            for (i = 0; i < N * p.input_dim; ++i)
                fr[i] = (int32_t)(urand() * 2.5f * 65536.0f);
            CHECK_STATUS(aether_qmodel_forward_workspace_size(x.qm, N, &need), AETHER_OK);
            CHECK_STATUS(aether_qsession_size(x.qm, N, ev, &sneed), AETHER_OK);
            ws = malloc(need);
            sb = malloc(sneed);
            CHECK_STATUS(aether_qsession_init(sb, sneed, x.qm, N, ev, &s), AETHER_OK);
            for (t = 0; t < N && ws && s; ++t) {
                int32_t ls[8], lw[8], ps[32], pw[32];
                CHECK_STATUS(aether_qsession_step_q16(s, fr + t * p.input_dim, ls, ps), AETHER_OK);
                CHECK_STATUS(aether_qmodel_forward_q16(x.qm, fr, t + 1, AETHER_POOL_LAST, lw, pw,
                                                       ws, need),
                             AETHER_OK);
                if (memcmp(ls, lw, p.n_classes * sizeof(int32_t)) != 0 ||
                    memcmp(ps, pw, p.input_dim * sizeof(int32_t)) != 0)
                    ++mism;
            }
            CHECK_MSG(mism == 0, "backend %zu evict %zu: %zu of %zu frames differ", b, e, mism, N);
            CHECK_EQ_INT(aether_qsession_frames(s), N);
            CHECK_EQ_INT(aether_qsession_evicted(s), 0);
            /* NONE: full; SLIDING: evicts and goes on */
            {
                int32_t ls[8];
                CHECK_STATUS(aether_qsession_step_q16(s, fr, ls, NULL),
                             e ? AETHER_OK : AETHER_ERR_CACHE_FULL);
                CHECK_EQ_INT(aether_qsession_frames(s), e ? N + 1 : N);
                CHECK_EQ_INT(aether_qsession_evicted(s), e ? 1 : 0);
            }
            /* reset replays the same bits */
            {
                int32_t l1[8], l2[8];
                CHECK_STATUS(aether_qsession_reset(s), AETHER_OK);
                CHECK_STATUS(aether_qsession_step_q16(s, fr, l1, NULL), AETHER_OK);
                CHECK_STATUS(aether_qmodel_forward_q16(x.qm, fr, 1, AETHER_POOL_LAST, l2, NULL, ws,
                                                       need),
                             AETHER_OK);
                CHECK(memcmp(l1, l2, sizeof(int32_t) * p.n_classes) == 0);
            }
            free(ws);
            free(sb);
            free(fr);
            fix_close(&x);
        }
    }
}

/* A long SLIDING stream (many evictions, landmarks dropped from the ring):
 * every step succeeds, the result after the stream depends only on the
 * frames (two sessions agree), and the cache is int8: at most 1/3.5 of the
 * f32 session's bytes for the default model at capacity 256. */
static void test_sliding_long_and_memory(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    qfix x;
    size_t cap = 40, t, i, qb = 0, fb = 0;
    void *b1 = NULL, *b2 = NULL;
    aether_qsession *s1 = NULL, *s2 = NULL;
    int32_t frame[16], l1[4], l2[4];
    if (fix_open(&x, &p, NULL) != 0) {
        CHECK_MSG(0, "fixture");
        fix_close(&x);
        return;
    }
    CHECK_STATUS(aether_qsession_size(x.qm, cap, AETHER_KV_EVICT_SLIDING, &qb), AETHER_OK);
    b1 = malloc(qb);
    b2 = malloc(qb);
    CHECK_STATUS(aether_qsession_init(b1, qb, x.qm, cap, AETHER_KV_EVICT_SLIDING, &s1), AETHER_OK);
    CHECK_STATUS(aether_qsession_init(b2, qb, x.qm, cap, AETHER_KV_EVICT_SLIDING, &s2), AETHER_OK);
    for (t = 0; t < 1000 && s1 && s2; ++t) {
        for (i = 0; i < 16; ++i)
            frame[i] = (int32_t)(urand() * 3.0f * 65536.0f);
        CHECK_STATUS(aether_qsession_step_q16(s1, frame, l1, NULL), AETHER_OK);
        CHECK_STATUS(aether_qsession_step_q16(s2, frame, l2, NULL), AETHER_OK);
    }
    CHECK(memcmp(l1, l2, sizeof l1) == 0);
    CHECK_EQ_INT(aether_qsession_evicted(s1), 1);
    /* memory */
    {
        aether_session_params sp = aether_model_session_params_default();
        sp.capacity = 256;
        CHECK_STATUS(aether_model_session_size(x.fm, &sp, &fb), AETHER_OK);
        CHECK_STATUS(aether_qsession_size(x.qm, 256, AETHER_KV_EVICT_SLIDING, &qb), AETHER_OK);
        CHECK_MSG(qb * 7 < fb * 2, "int8 session %zu bytes, f32 %zu", qb, fb);
        printf("session bytes at capacity 256, default model: int8 %zu, f32 %zu\n", qb, fb);
    }
    free(b1);
    free(b2);
    fix_close(&x);
}

/* Saturation is defined: frames at the ends of float and Q16 give the same
 * bits every time, no error, and streaming still equals the window. */
static void test_saturation(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    qfix x;
    int32_t fr[4 * 16], l1[4], l2[4];
    float ff[16], lf[4];
    size_t i, need = 0, sb = 0;
    void *ws, *buf;
    aether_qsession *s = NULL;
    p.input_norm = 1;
    if (fix_open(&x, &p, NULL) != 0) {
        CHECK_MSG(0, "fixture");
        fix_close(&x);
        return;
    }
    for (i = 0; i < 4 * 16; ++i)
        fr[i] = i % 3 == 0 ? 2147483647 : i % 3 == 1 ? (int32_t)0x80000000u : -2147483647;
    aether_qmodel_forward_workspace_size(x.qm, 4, &need);
    aether_qsession_size(x.qm, 8, AETHER_KV_EVICT_NONE, &sb);
    ws = malloc(need);
    buf = malloc(sb);
    CHECK_STATUS(aether_qsession_init(buf, sb, x.qm, 8, AETHER_KV_EVICT_NONE, &s), AETHER_OK);
    for (i = 0; i < 4; ++i)
        CHECK_STATUS(aether_qsession_step_q16(s, fr + i * 16, l1, NULL), AETHER_OK);
    CHECK_STATUS(aether_qmodel_forward_q16(x.qm, fr, 4, AETHER_POOL_LAST, l2, NULL, ws, need),
                 AETHER_OK);
    CHECK(memcmp(l1, l2, sizeof l1) == 0);
    for (i = 0; i < 16; ++i)
        ff[i] = i % 2 ? 3e38f : -3e38f;
    CHECK_STATUS(aether_qmodel_forward(x.qm, ff, 1, AETHER_POOL_MEAN, lf, ws, need), AETHER_OK);
    for (i = 0; i < 4; ++i)
        CHECK(isfinite(lf[i]));
    ff[3] = NAN;
    CHECK_STATUS(aether_qmodel_forward(x.qm, ff, 1, AETHER_POOL_MEAN, lf, ws, need),
                 AETHER_ERR_NONFINITE);
    CHECK_STATUS(aether_qsession_step(s, ff, lf), AETHER_ERR_NONFINITE);
    CHECK_EQ_INT(aether_qsession_frames(s), 4);
    free(ws);
    free(buf);
    fix_close(&x);
}

static void test_api_errors(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    qfix x;
    size_t n = 0;
    char buf[64];
    int32_t f[16] = {0}, l[4];
    aether_head_config cfg = aether_head_config_default_aether();
    aether_qmodel *qm = NULL;
    if (fix_open(&x, &p, NULL) != 0) {
        CHECK_MSG(0, "fixture");
        fix_close(&x);
        return;
    }
    CHECK_STATUS(aether_qmodel_size(NULL, NULL, &n), AETHER_ERR_NULL_ARG);
    cfg.head_dim = 16;
    CHECK_STATUS(aether_qmodel_size(&x.qv, &cfg, &n), AETHER_ERR_BLOB_SHAPE);
    cfg = aether_head_config_default_aether();
    cfg.causal = 0;
    CHECK_STATUS(aether_qmodel_size(&x.qv, &cfg, &n), AETHER_ERR_UNSUPPORTED);
    CHECK_STATUS(aether_qmodel_init(buf, 1, &x.qv, NULL, &qm), AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK(qm == NULL);
    memset(buf, 0, sizeof buf);
    CHECK_STATUS(aether_qmodel_forward_workspace_size((const aether_qmodel *)(void *)buf, 4, &n),
                 AETHER_ERR_NOT_INITIALIZED);
    CHECK_STATUS(aether_qmodel_forward_workspace_size(x.qm, 0, &n), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_qmodel_forward_q16(x.qm, f, 1, (aether_pool)7, l, NULL, buf, 0),
                 AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_qmodel_forward_q16(x.qm, f, 1, AETHER_POOL_LAST, l, NULL, NULL, 0),
                 AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_qmodel_forward_q16(x.qm, f, 1, AETHER_POOL_LAST, l, NULL, buf, 8),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_qsession_size(x.qm, 0, AETHER_KV_EVICT_NONE, &n), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_qsession_size(x.qm, 1, AETHER_KV_EVICT_SLIDING, &n),
                 AETHER_ERR_INVALID_ARG); /* token 0 stays: nothing left to slide */
    /* a sliding cache smaller than a landmark block: the landmarks are summed
     * as frames arrive, so blocks still complete */
    {
        size_t sb = 0, t;
        void *mem;
        aether_qsession *s = NULL;
        CHECK_STATUS(aether_qsession_size(x.qm, 5, AETHER_KV_EVICT_SLIDING, &sb), AETHER_OK);
        mem = malloc(sb);
        CHECK_STATUS(aether_qsession_init(mem, sb, x.qm, 5, AETHER_KV_EVICT_SLIDING, &s),
                     AETHER_OK);
        for (t = 0; t < 50 && s; ++t) {
            f[t % 16] = (int32_t)(t * 40000u);
            CHECK_STATUS(aether_qsession_step_q16(s, f, l, NULL), AETHER_OK);
        }
        CHECK_EQ_INT(aether_qsession_evicted(s), 1);
        free(mem);
    }
    CHECK_STATUS(aether_qsession_size(x.qm, 64, AETHER_KV_EVICT_SCORED, &n),
                 AETHER_ERR_UNSUPPORTED);
    CHECK_STATUS(aether_qsession_size(x.qm, 64, (aether_kv_evict)99, &n), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_qsession_step_q16(NULL, f, l, NULL), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_qsession_reset(NULL), AETHER_ERR_NULL_ARG);
    CHECK_EQ_INT(aether_qsession_frames(NULL), 0);
    /* the dense backend beyond 65,535 candidates: the softmax sum's bound */
    cfg = aether_head_config_default_aether();
    cfg.backend = AETHER_HEAD_DENSE;
    CHECK_STATUS(aether_qsession_size_for(&x.qv, &cfg, 65535, AETHER_KV_EVICT_NONE, &n),
                 AETHER_OK);
    CHECK_STATUS(aether_qsession_size_for(&x.qv, &cfg, 65536, AETHER_KV_EVICT_NONE, &n),
                 AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_qmodel_forward_workspace_size_for(&x.qv, &cfg, 70000, &n),
                 AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_qmodel_forward_workspace_size_for(&x.qv, NULL, 70000, &n), AETHER_OK);
    CHECK(aether_qmodel_header(NULL) == NULL);
    CHECK(aether_qmodel_head(x.qm) != NULL);
    CHECK_EQ_INT(aether_qmodel_header(x.qm)->input_dim, 16);
    fix_close(&x);
}

TEST_MAIN(test_q16_conversions, test_saturating_helpers, test_quantize_round_trip,
          test_forward_vs_f32, test_stream_equals_window, test_sliding_long_and_memory,
          test_saturation, test_api_errors)
