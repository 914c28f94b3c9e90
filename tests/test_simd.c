/* Optimised kernel paths against the scalar reference: every path this CPU
 * runs, on odd shapes, within the accuracy contract of aether/dispatch.h;
 * vector exp accuracy; thread-count determinism; dispatch API and the
 * AETHER_KERNELS environment variable. */
#define _POSIX_C_SOURCE 200112L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/attention.h"
#include "aether/dispatch.h"
#include "aether/quant.h"
#include "check.h"
#include "test_ws.h"
#include "dispatch/kernels.h"
#include "kernels/sparse_internal.h"
#include "kernels/osm.h"
#include "core/int8row.h"

static unsigned long long g_rng = 88172645463325252ull;

static float frand(float scale)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return scale * ((float)(g_rng >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
}

/* Uniform in [0, n). */
static size_t urand(size_t n)
{
    size_t x = (size_t)((frand(0.5f) + 0.5f) * (float)n);
    return x < n ? x : n - 1;
}

static void fill(aether_tensor *t, float scale)
{
    size_t i, n = aether_tensor_size(t);
    for (i = 0; i < n; ++i)
        t->data[i] = frand(scale);
}

static const aether_kernel_mode k_fast[] = {AETHER_KERNELS_AVX2, AETHER_KERNELS_AVX512,
                                            AETHER_KERNELS_NEON};
static const char *const k_fast_name[] = {"avx2", "avx512", "neon"};
static double g_max_abs[3], g_max_rel[3];
static double g_bad_d, g_bad_ref; /* worst violation of the last failing call */
static size_t g_bad_i;

/* Contract: |got - ref| <= 1e-6 * scale^2 + 2e-6 * |ref|. */
static int within(const aether_tensor *got, const aether_tensor *ref, float scale, int path)
{
    size_t i, n = aether_tensor_size(ref);
    int ok = 1;
    for (i = 0; i < n; ++i) {
        double r = ref->data[i], g = got->data[i], d = fabs(g - r);
        if (d > g_max_abs[path])
            g_max_abs[path] = d;
        if (fabs(r) > 1e-3 && d / fabs(r) > g_max_rel[path])
            g_max_rel[path] = d / fabs(r);
        if (!(d <= 1e-6 * scale * scale + 2e-6 * fabs(r))) {
            if (ok || d > g_bad_d) {
                g_bad_d = d;
                g_bad_ref = r;
                g_bad_i = i;
            }
            ok = 0;
        }
    }
    return ok;
}

/* Must run first: the variable is read at first use. */
static void test_env_var(void)
{
    setenv("AETHER_KERNELS", "reference", 1);
    CHECK_EQ_INT(aether_get_kernel_mode(), AETHER_KERNELS_REFERENCE);
    CHECK(strcmp(aether_kernel_name(), "reference") == 0);
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
    unsetenv("AETHER_KERNELS");
}

static void test_dispatch_api(void)
{
    aether_kernel_mode m;
    unsigned f = aether_cpu_features();
    size_t p;
    CHECK_STATUS(aether_kernel_mode_parse("avx512", &m), AETHER_OK);
    CHECK_EQ_INT(m, AETHER_KERNELS_AVX512);
    CHECK_STATUS(aether_kernel_mode_parse("reference", &m), AETHER_OK);
    CHECK_EQ_INT(m, AETHER_KERNELS_REFERENCE);
    CHECK_STATUS(aether_kernel_mode_parse("sse9", &m), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_kernel_mode_parse(NULL, &m), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_set_kernel_mode((aether_kernel_mode)99), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
    CHECK(strcmp(aether_kernel_name(), "reference") == 0);
    for (p = 0; p < 3; ++p) {
        unsigned bit = p == 0 ? AETHER_CPU_AVX2 : p == 1 ? AETHER_CPU_AVX512 : AETHER_CPU_NEON;
        aether_status st = aether_set_kernel_mode(k_fast[p]);
        if (f & bit) {
            CHECK_EQ_INT(st, AETHER_OK);
            CHECK(strcmp(aether_kernel_name(), k_fast_name[p]) == 0);
        } else {
            CHECK_EQ_INT(st, AETHER_ERR_UNSUPPORTED);
        }
    }
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
    CHECK_EQ_INT(aether_get_kernel_mode(), AETHER_KERNELS_AUTO);
#if defined(__aarch64__)
    CHECK(f & AETHER_CPU_NEON);
    CHECK(strcmp(aether_kernel_name(), "neon") == 0);
#endif
    CHECK_STATUS(aether_set_num_threads(0), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_set_num_threads(257), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_set_num_threads(1), AETHER_OK);
    CHECK_EQ_INT(aether_get_num_threads(), 1);
    printf("cpu features 0x%x, auto path %s\n", f, aether_kernel_name());
}

/* exp over a dense sweep of [-87, 88] against expf. */
static void test_exp(void)
{
    size_t p, n = 0, i;
    static float x[200001], y[200001];
    for (i = 0; i < 200001; ++i)
        x[n++] = -87.0f + 175.0f * (float)i / 200000.0f;
    for (p = 0; p < 3; ++p) {
        double worst = 0.0;
        if (aether_set_kernel_mode(k_fast[p]) != AETHER_OK)
            continue;
        aether_simd_active_()->exp(x, y, n);
        for (i = 0; i < n; ++i) {
            double e = expf(x[i]), rel = fabs(y[i] - e) / e;
            worst = rel > worst ? rel : worst;
        }
        printf("%s exp: max rel error %.3g over %lu points in [-87, 88]\n", k_fast_name[p], worst,
               (unsigned long)n);
        CHECK_MSG(worst < 3.6e-7, "%s exp rel err %g", k_fast_name[p], worst);
        /* Below the range (masked scores) gives exact zero; 0 gives 1. */
        x[0] = -INFINITY;
        x[1] = -100.0f;
        x[2] = 0.0f;
        x[3] = NAN;
        aether_simd_active_()->exp(x, y, 4);
        CHECK(y[0] == 0.0f && y[1] == 0.0f && fabs(y[2] - 1.0f) < 2e-7 && y[3] != y[3]);
        x[0] = -87.0f;
        x[1] = -87.0f + 175.0f / 200000.0f;
        x[2] = -87.0f + 350.0f / 200000.0f;
        x[3] = -87.0f + 525.0f / 200000.0f;
    }
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

/* Every binary16 value widens to exactly the scalar aether_f16_to_f32
 * bits (NaNs quietened alike), from any alignment and with every tail
 * length. */
static void test_widen_f16(void)
{
    static uint16_t h[65536 + 64];
    static float got[65536 + 64];
    size_t p, i, off, n;
    for (p = 0; p < 3; ++p) {
        size_t bad = 0;
        if (aether_set_kernel_mode(k_fast[p]) != AETHER_OK)
            continue;
        for (i = 0; i < 65536; ++i)
            h[i + 3] = (uint16_t)i;
        aether_simd_active_()->widen_f16(h + 3, got + 1, 65536);
        for (i = 0; i < 65536; ++i) {
            uint32_t a, b;
            float ref = aether_f16_to_f32((uint16_t)i);
            memcpy(&a, &got[i + 1], 4);
            memcpy(&b, &ref, 4);
            bad += a != b;
        }
        CHECK_MSG(bad == 0, "%s widen_f16: %lu of 65536 values differ", k_fast_name[p],
                  (unsigned long)bad);
        /* Short and odd lengths: exactly n floats written. */
        for (n = 0; n <= 70; ++n)
            for (off = 0; off < 3; ++off) {
                for (i = 0; i < 80; ++i) {
                    h[i] = (uint16_t)(0x3c00u + 37u * i); /* 1.0 onwards */
                    got[i] = -7.0f;
                }
                aether_simd_active_()->widen_f16(h + off, got, n);
                for (i = 0; i < n; ++i)
                    bad += got[i] != aether_f16_to_f32(h[off + i]);
                for (; i < 80; ++i)
                    bad += got[i] != -7.0f;
            }
        CHECK_MSG(bad == 0, "%s widen_f16 lengths: %lu bad", k_fast_name[p], (unsigned long)bad);
    }
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

/* The definition of an I8 cache row: the integer path's Q16 values
 * (aether_q16_from_f32, halves away from zero, computed on the bits, not
 * as the appends compute them), then aether_q16_to_i8_. */
static unsigned i8_row_ref(const float *x, size_t n, int32_t *q, int8_t *m)
{
    size_t i;
    for (i = 0; i < n; ++i)
        (void)aether_q16_from_f32(x[i], &q[i]); /* |x| < 32768: in range */
    return aether_q16_to_i8_(q, n, m);
}

/* The ISAs' I8 row quantizer against the scalar definition: rows of every
 * scale (down to zero rows, up to the storage's limit), values on the
 * rounding halves of both steps, and lengths off the vector width. */
static void test_to_i8(void)
{
    static const float scales[] = {0.0f, 1e-6f, 3e-4f, 0.01f, 0.5f, 1.0f, 3.0f, 100.0f,
                                   4096.0f, 32767.0f};
    float x[300];
    int32_t q1[300], q2[300];
    int8_t m1[300], m2[300];
    unsigned long long rng = 0x243F6A8885A308D3ull;
    size_t p, si, n, i, bad = 0, rows = 0;
    for (p = 0; p < 3; ++p) {
        const aether_simd_ops *ops;
        if (aether_set_kernel_mode(k_fast[p]) != AETHER_OK)
            continue;
        ops = aether_simd_active_();
        if (!ops || !ops->to_i8)
            continue;
        for (si = 0; si < sizeof scales / sizeof scales[0]; ++si)
            for (n = 1; n <= 300; n += n < 70 ? 1 : 23) {
                unsigned s1, s2;
                for (i = 0; i < n; ++i) {
                    float r;
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    r = (float)(rng >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
                    x[i] = r * scales[si];
                    /* every third value on a Q16 half, every fifth one on a
                     * mantissa half of a small exponent */
                    if (i % 3 == 1)
                        x[i] = ((float)(int)(x[i] * 65536.0f) + 0.5f) / 65536.0f;
                    if (i % 5 == 2)
                        x[i] = (float)((int)(r * 300.0f) * 2 + 1) / 65536.0f;
                    if (x[i] >= 32768.0f || x[i] <= -32768.0f)
                        x[i] = 0.0f;
                }
                s1 = i8_row_ref(x, n, q1, m1);
                s2 = ops->to_i8(x, n, q2, m2);
                bad += s1 != s2 || memcmp(m1, m2, n) != 0 || memcmp(q1, q2, n * sizeof(int32_t));
                ++rows;
            }
        CHECK_MSG(bad == 0, "%s to_i8: %lu of %lu rows differ from the scalar quantizer",
                  k_fast_name[p], (unsigned long)bad, (unsigned long)rows);
    }
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

/* The projection products' arithmetic, element by element (src/simd/batch.c):
 * columns in whole blocks of four vectors, one fused chain per column from
 * zero with the rows ascending; the other whole vectors, eight partial
 * fused sums (row i into sum i % 8 while eight rows remain, the rest into
 * sum 0) added as ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)); the last
 * columns, a product then a sum per row. matvec and every row of matmul
 * give exactly these bits, on shapes reaching every region (and pairs of
 * narrow vectors with and without a single one left). */
static float mm_expect(const float *x, size_t rows, const float *w, size_t cols, size_t j,
                       size_t vw)
{
    size_t jw = cols / (4 * vw) * (4 * vw), jn = cols / vw * vw, i, r8 = rows / 8 * 8, k;
    if (j < jw) {
        float t = 0.0f;
        for (i = 0; i < rows; ++i)
            t = fmaf(x[i], w[i * cols + j], t);
        return t;
    }
    if (j < jn) {
        float p[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        for (i = 0; i < r8; ++i)
            p[i % 8] = fmaf(x[i], w[i * cols + j], p[i % 8]);
        for (; i < rows; ++i)
            p[0] = fmaf(x[i], w[i * cols + j], p[0]);
        for (k = 0; k < 8; k += 2)
            p[k] = p[k] + p[k + 1];
        p[0] = p[0] + p[2];
        p[4] = p[4] + p[6];
        return p[0] + p[4];
    }
    {
        float t = 0.0f;
        for (i = 0; i < rows; ++i) {
            const float prod = x[i] * w[i * cols + j];
            t = t + prod;
        }
        return t;
    }
}

static void test_projection_bits(void)
{
    static const size_t k_rows[] = {1, 7, 8, 16, 19, 128, 131};
    static float x[3 * 131], w[131 * 80], y[3 * 80];
    size_t p, ri, cols, i, j, b;
    for (p = 0; p < 3; ++p) {
        const aether_simd_ops *ops;
        size_t bad = 0, vw;
        if (aether_set_kernel_mode(k_fast[p]) != AETHER_OK)
            continue;
        ops = aether_simd_active_();
        vw = ops->lanes;
        for (ri = 0; ri < sizeof k_rows / sizeof k_rows[0]; ++ri) {
            const size_t rows = k_rows[ri];
            for (cols = 1; cols <= 80; cols += cols < 20 ? 1 : 7) {
                for (i = 0; i < 3 * rows; ++i)
                    x[i] = frand(1.0f);
                for (i = 0; i < rows * cols; ++i)
                    w[i] = frand(0.5f);
                ops->matvec(x, rows, w, cols, y);
                for (j = 0; j < cols; ++j)
                    bad += y[j] != mm_expect(x, rows, w, cols, j, vw);
                ops->matmul(x, 3, rows, w, cols, y);
                for (b = 0; b < 3; ++b)
                    for (j = 0; j < cols; ++j)
                        bad += y[b * cols + j] != mm_expect(x + b * rows, rows, w, cols, j, vw);
            }
        }
        CHECK_MSG(bad == 0, "%s projections: %lu elements off the documented order",
                  k_fast_name[p], (unsigned long)bad);
    }
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

/* The benchmark's machine probes: the sum read_probe returns (integer
 * values, so every order gives the same float) over lengths off the
 * vector width, and fma_probe's chains (0 steps: the seeds x .. x + 11 in
 * every lane; 1000 steps: the recurrence's closed form). */
static void test_probes(void)
{
    static float buf[1000];
    size_t p, i, n;
    for (i = 0; i < 1000; ++i)
        buf[i] = (float)(i % 7);
    for (p = 0; p < 3; ++p) {
        const aether_simd_probes *ops;
        size_t bad = 0;
        double f = pow(0.999999, 1000.0), want = 0.0;
        if (aether_set_kernel_mode(k_fast[p]) != AETHER_OK)
            continue;
        ops = aether_simd_probes_active_();
        for (n = 0; n <= 1000; n += 37) {
            float sum = 0.0f;
            for (i = 0; i < n; ++i)
                sum += buf[i + (1000 - n)];
            bad += ops->read_probe(buf + (1000 - n), n) != sum;
        }
        CHECK_MSG(bad == 0, "%s read_probe: %lu lengths wrong", k_fast_name[p],
                  (unsigned long)bad);
        CHECK_NEAR(ops->fma_probe(0, 2.0f), (double)ops->lanes * (12.0 * 2.0 + 66.0), 1e-3);
        /* Chain k after 1000 steps: 0.1 + (2 + k - 0.1) * 0.999999^1000. */
        for (i = 0; i < 12; ++i)
            want += 0.1 + (2.0 + (double)i - 0.1) * f;
        want *= (double)ops->lanes;
        CHECK_NEAR(ops->fma_probe(1000, 2.0f), want, 1e-4 * want);
    }
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

typedef struct shape {
    size_t seq, qh, kvh, dim;
} shape;

static void make_cfg(aether_attn_config *cfg, size_t w, size_t b, int causal, int logs, int lm,
                     int sort, int globals)
{
    static const size_t g[] = {0, 3, 50};
    aether_attn_params p = aether_attn_params_default();
    p.window = w;
    p.block_size = b;
    p.causal = causal;
    p.use_log_stride = logs;
    p.use_landmarks = lm;
    p.sort_candidates = sort;
    p.globals = g;
    p.n_globals = (size_t)globals;
    aether_attn_config_init(cfg, &p);
}

/* Sparse forward and dense over a grid, every fast path vs reference. */
static void test_paths_vs_reference(void)
{
    static const shape shapes[] = {{1, 1, 1, 1},    {7, 2, 2, 3},    {100, 4, 1, 17},
                                   {257, 3, 3, 33}, {130, 8, 2, 64}, {65, 6, 2, 65},
                                   {300, 1, 1, 64}, {45, 40, 1, 8}};
    size_t si, p, variant;
    for (si = 0; si < sizeof shapes / sizeof shapes[0]; ++si) {
        shape s = shapes[si];
        aether_tensor q, k, v, ref, got;
        float scale = si % 3 == 2 ? 4.0f : 1.0f;
        aether_tensor_zeros(&q, s.seq, s.qh, s.dim);
        aether_tensor_zeros(&k, s.seq, s.kvh, s.dim);
        aether_tensor_zeros(&v, s.seq, s.kvh, s.dim);
        aether_tensor_zeros(&ref, s.seq, s.qh, s.dim);
        aether_tensor_zeros(&got, s.seq, s.qh, s.dim);
        fill(&q, scale);
        fill(&k, scale);
        fill(&v, scale);
        for (variant = 0; variant < 8; ++variant) {
            aether_attn_config cfg;
            int causal = !(variant & 1);
            size_t w = variant & 4 ? 3 : 16 + si;
            make_cfg(&cfg, w, variant & 2 ? 4 : 7, causal, variant != 5, variant != 3,
                     variant == 6, (int)(variant % 4));
            aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
            CHECK_STATUS(ws_attn_forward_auto(&cfg, &q, &k, &v, &ref), AETHER_OK);
            for (p = 0; p < 3; ++p) {
                if (aether_set_kernel_mode(k_fast[p]) != AETHER_OK)
                    continue;
                memset(got.data, 0, aether_tensor_size(&got) * sizeof(float));
                CHECK_STATUS(ws_attn_forward_auto(&cfg, &q, &k, &v, &got), AETHER_OK);
                CHECK_MSG(within(&got, &ref, scale, (int)p),
                          "%s sparse seq %lu q%lu kv%lu dim %lu variant %lu: [%lu] ref %g diff "
                          "%g",
                          k_fast_name[p], (unsigned long)s.seq, (unsigned long)s.qh,
                          (unsigned long)s.kvh, (unsigned long)s.dim, (unsigned long)variant,
                          (unsigned long)g_bad_i, g_bad_ref, g_bad_d);
            }
        }
        for (variant = 0; variant < 2; ++variant) {
            aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
            CHECK_STATUS(aether_attn_dense(&q, &k, &v, (int)variant, &ref), AETHER_OK);
            for (p = 0; p < 3; ++p) {
                if (aether_set_kernel_mode(k_fast[p]) != AETHER_OK)
                    continue;
                CHECK_STATUS(aether_attn_dense(&q, &k, &v, (int)variant, &got), AETHER_OK);
                CHECK_MSG(within(&got, &ref, scale, (int)p), "%s dense seq %lu dim %lu causal %d",
                          k_fast_name[p], (unsigned long)s.seq, (unsigned long)s.dim,
                          (int)variant);
            }
        }
        aether_tensor_free(&q);
        aether_tensor_free(&k);
        aether_tensor_free(&v);
        aether_tensor_free(&ref);
        aether_tensor_free(&got);
    }
    for (p = 0; p < 3; ++p)
        if (aether_set_kernel_mode(k_fast[p]) == AETHER_OK)
            printf("%s vs reference: max abs %.3g, max rel (|ref| > 1e-3) %.3g\n", k_fast_name[p],
                   g_max_abs[p], g_max_rel[p]);
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

/* The tile's batched far candidates (extra tokens scored per slot, the
 * shared landmark union, their fallbacks when the union is too large) on
 * random shapes: long enough sequences for log-stride tokens beyond the
 * window, head dimensions off the vector width, sequences off the tile
 * size, GQA, non-causal, several (out-of-range, duplicate) globals, tiny
 * blocks whose unions overflow, every fast path vs the reference. */
static void test_far_batched(void)
{
    static const size_t dims[] = {1, 5, 8, 16, 17, 31, 33, 48, 64, 65, 72};
    static const size_t blocks[] = {1, 2, 3, 5, 8, 16, 64};
    size_t it, p;
    for (it = 0; it < 24; ++it) {
        size_t kvh = 1 + urand(3), group = 1 + it % 5, seq = 40 + urand(660);
        size_t dim = dims[it % (sizeof dims / sizeof dims[0])];
        size_t glob[4], ng = it % 5 > 3 ? 4 : it % 5, g;
        float scale = it % 4 == 3 ? 4.0f : 1.0f;
        aether_attn_params prm = aether_attn_params_default();
        aether_attn_config cfg;
        aether_tensor q, k, v, ref, got;
        for (g = 0; g < ng; ++g)
            glob[g] = g == 3 ? glob[0] : urand(seq + 20);
        prm.window = 1 + (it * 7) % 40;
        prm.block_size = blocks[it % (sizeof blocks / sizeof blocks[0])];
        prm.causal = it % 3 != 1;
        prm.use_landmarks = it % 7 != 6;
        prm.sort_candidates = it % 6 == 5;
        prm.globals = glob;
        prm.n_globals = ng;
        CHECK_STATUS(aether_attn_config_init(&cfg, &prm), AETHER_OK);
        aether_tensor_zeros(&q, seq, kvh * group, dim);
        aether_tensor_zeros(&k, seq, kvh, dim);
        aether_tensor_zeros(&v, seq, kvh, dim);
        aether_tensor_zeros(&ref, seq, kvh * group, dim);
        aether_tensor_zeros(&got, seq, kvh * group, dim);
        fill(&q, scale);
        fill(&k, scale);
        fill(&v, scale);
        aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
        CHECK_STATUS(ws_attn_forward_gqa(&cfg, &q, &k, &v, &ref), AETHER_OK);
        for (p = 0; p < 3; ++p) {
            if (aether_set_kernel_mode(k_fast[p]) != AETHER_OK)
                continue;
            memset(got.data, 0, aether_tensor_size(&got) * sizeof(float));
            CHECK_STATUS(ws_attn_forward_gqa(&cfg, &q, &k, &v, &got), AETHER_OK);
            CHECK_MSG(within(&got, &ref, scale, (int)p),
                      "%s far case %lu: seq %lu q%lu kv%lu dim %lu W %lu B %lu causal %d "
                      "globals %lu: [%lu] ref %g diff %g",
                      k_fast_name[p], (unsigned long)it, (unsigned long)seq,
                      (unsigned long)(kvh * group), (unsigned long)kvh, (unsigned long)dim,
                      (unsigned long)prm.window, (unsigned long)prm.block_size, prm.causal,
                      (unsigned long)ng, (unsigned long)g_bad_i, g_bad_ref, g_bad_d);
        }
        aether_tensor_free(&q);
        aether_tensor_free(&k);
        aether_tensor_free(&v);
        aether_tensor_free(&ref);
        aether_tensor_free(&got);
    }
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

/* Output in place (out == q) is allowed by forward and must still work. */
static void test_in_place(void)
{
    aether_tensor q, k, v, ref;
    aether_attn_config cfg;
    make_cfg(&cfg, 8, 4, 1, 1, 1, 0, 1);
    aether_tensor_zeros(&q, 90, 4, 20);
    aether_tensor_zeros(&k, 90, 4, 20);
    aether_tensor_zeros(&v, 90, 4, 20);
    aether_tensor_zeros(&ref, 90, 4, 20);
    fill(&q, 1.0f);
    fill(&k, 1.0f);
    fill(&v, 1.0f);
    aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
    CHECK_STATUS(ws_attn_forward(&cfg, &q, &k, &v, &ref), AETHER_OK);
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
    CHECK_STATUS(ws_attn_forward(&cfg, &q, &k, &v, &q), AETHER_OK);
    CHECK(within(&q, &ref, 1.0f, 0));
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&ref);
}

/* Same bits for 1, 2 and 3 threads (sparse GQA and dense). */
static void test_thread_determinism(void)
{
    aether_tensor q, k, v, o1, o2;
    aether_attn_config cfg;
    unsigned t;
    make_cfg(&cfg, 20, 8, 1, 1, 1, 0, 1);
    aether_tensor_zeros(&q, 333, 8, 24);
    aether_tensor_zeros(&k, 333, 2, 24);
    aether_tensor_zeros(&v, 333, 2, 24);
    aether_tensor_zeros(&o1, 333, 8, 24);
    aether_tensor_zeros(&o2, 333, 8, 24);
    fill(&q, 1.0f);
    fill(&k, 1.0f);
    fill(&v, 1.0f);
    aether_set_num_threads(1);
    CHECK_STATUS(ws_attn_forward_gqa(&cfg, &q, &k, &v, &o1), AETHER_OK);
    for (t = 2; t <= 3; ++t) {
        aether_set_num_threads(t);
        CHECK_STATUS(ws_attn_forward_gqa(&cfg, &q, &k, &v, &o2), AETHER_OK);
        CHECK(memcmp(o1.data, o2.data, aether_tensor_size(&o1) * sizeof(float)) == 0);
    }
    aether_set_num_threads(1);
    CHECK_STATUS(aether_attn_dense(&q, &k, &v, 1, &o1), AETHER_OK);
    aether_set_num_threads(3);
    CHECK_STATUS(aether_attn_dense(&q, &k, &v, 1, &o2), AETHER_OK);
    CHECK(memcmp(o1.data, o2.data, aether_tensor_size(&o1) * sizeof(float)) == 0);
    aether_set_num_threads(1);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&o1);
    aether_tensor_free(&o2);
}

/* Caller workspace of the queried size runs the fast path too. */
static void test_workspace(void)
{
    aether_tensor q, k, v, a, b;
    aether_attn_config cfg;
    size_t bytes = 0;
    void *ws;
    make_cfg(&cfg, 16, 8, 1, 1, 1, 0, 1);
    aether_tensor_zeros(&q, 200, 2, 32);
    aether_tensor_zeros(&k, 200, 2, 32);
    aether_tensor_zeros(&v, 200, 2, 32);
    aether_tensor_zeros(&a, 200, 2, 32);
    aether_tensor_zeros(&b, 200, 2, 32);
    fill(&q, 1.0f);
    fill(&k, 1.0f);
    fill(&v, 1.0f);
    CHECK_STATUS(aether_attn_forward_workspace_size(&cfg, 200, 2, 2, 32, &bytes), AETHER_OK);
    ws = malloc(bytes);
    CHECK_STATUS(aether_attn_forward(&cfg, &q, &k, &v, &a, ws, bytes), AETHER_OK);
    CHECK_STATUS(ws_attn_forward(&cfg, &q, &k, &v, &b), AETHER_OK);
    CHECK(memcmp(a.data, b.data, aether_tensor_size(&a) * sizeof(float)) == 0);
    /* One byte short of one worker's plan is too small for an optimised
     * path; the scalar reference (all a build without an ISA table has)
     * needs only its own layout, which is smaller. Far too small fails
     * either way, with nothing written. */
    if (aether_simd_active_())
        CHECK_STATUS(aether_attn_forward(&cfg, &q, &k, &v, &b, ws, bytes - 1),
                     AETHER_ERR_BUFFER_TOO_SMALL);
    else
        CHECK_STATUS(aether_attn_forward(&cfg, &q, &k, &v, &b, ws, bytes - 1), AETHER_OK);
    CHECK_STATUS(aether_attn_forward(&cfg, &q, &k, &v, &b, ws, 16), AETHER_ERR_BUFFER_TOO_SMALL);
    free(ws);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&a);
    aether_tensor_free(&b);
}

/* The decode hook equals the reference row within the contract. */
static void test_query_fast(void)
{
    float k[300 * 40], vv[300 * 40], qr[40], acc[40], ref[40], got[40];
    size_t tok[50], blk[3] = {1, 5, 2}, i, p, d;
    aether_rows rows;
    for (i = 0; i < 300 * 40; ++i) {
        k[i] = frand(1.0f);
        vv[i] = frand(1.0f);
    }
    for (i = 0; i < 40; ++i)
        qr[i] = frand(1.0f);
    for (i = 0; i < 50; ++i)
        tok[i] = (i * 37) % 300;
    rows.k = k;
    rows.v = vv;
    rows.stride = 40;
    aether_sparse_query_(qr, 37, 0.2f, &rows, tok, 50, &rows, blk, 3, acc, ref);
    for (p = 0; p < 3; ++p) {
        if (aether_set_kernel_mode(k_fast[p]) != AETHER_OK)
            continue;
        aether_sparse_query_fast_(qr, 37, 0.2f, &rows, tok, 50, &rows, blk, 3, acc, got);
        for (d = 0; d < 37; ++d)
            CHECK_NEAR(got[d], ref[d], 1e-6 + 2e-6 * fabs(ref[d]));
    }
    aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
    aether_sparse_query_fast_(qr, 37, 0.2f, &rows, tok, 50, &rows, blk, 3, acc, got);
    CHECK(memcmp(got, ref, 37 * sizeof(float)) == 0);
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

TEST_MAIN(test_env_var, test_dispatch_api, test_exp, test_widen_f16, test_to_i8,
          test_projection_bits, test_probes, test_paths_vs_reference, test_far_batched,
          test_in_place, test_thread_determinism, test_workspace, test_query_fast)
