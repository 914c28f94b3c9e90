/*
 * Template source of the decode kernels (simd.h): one query row or a GQA
 * group of rows over gathered candidates, the same over f16 token rows,
 * and the f16 widening. Compiled once per ISA with
 * -DAE_ISA=<isa> and that ISA's flags (see simd/kern.h).
 */
#include <math.h>
#include <string.h>

#include "aether/core.h"
#include "simd/kern.h"
#include "simd/kern_shared.h"

#if AE_ISA_ON
/* max(init, x[0..n)) */
static float AE_FN(max_array)(const float *x, size_t n, float init)
{
    AE_V mv = AE_SET1(init);
    float t[AE_VW], mx;
    size_t i = 0;
    for (; i + AE_VW <= n; i += AE_VW)
        mv = AE_MAX(mv, AE_LOADU(x + i));
    AE_STOREU(t, mv);
    mx = t[0];
    for (i = 1; i < AE_VW; ++i)
        mx = t[i] > mx ? t[i] : mx;
    for (i = n - n % AE_VW; i < n; ++i)
        mx = x[i] > mx ? x[i] : mx;
    return mx;
}

/* x[i] = exp(x[i] - mx) in place; returns the sum (lane-split order). */
static float AE_FN(exp_sub_sum)(float *x, size_t n, float mx)
{
    AE_V mv = AE_SET1(mx), sv = AE_ZERO();
    float t[AE_VW], sum = 0.0f;
    size_t i = 0, j;
    for (; i + AE_VW <= n; i += AE_VW) {
        AE_V e = ae_vexp(AE_SUB(AE_LOADU(x + i), mv));
        AE_STOREU(x + i, e);
        sv = AE_ADD(sv, e);
    }
    if (i < n) {
        /* Padding lanes hold -inf: exp gives 0 and adds nothing. */
        for (j = 0; j < AE_VW; ++j)
            t[j] = i + j < n ? x[i + j] : -INFINITY;
        AE_V e = ae_vexp(AE_SUB(AE_LOADU(t), mv));
        sv = AE_ADD(sv, e);
        AE_STOREU(t, e);
        for (j = 0; i + j < n; ++j)
            x[i + j] = t[j];
    }
    AE_STOREU(t, sv);
    for (j = 0; j < AE_VW; ++j)
        sum += t[j];
    return sum;
}

/* acc[0..dim) += sum over a < n of w[a] * row_a (row_a = base + idx[a] *
 * stride) for the single-row decode: four candidates at a time into
 * separate partial sums, so the fused adds of long candidate lists overlap
 * instead of waiting on one chain per vector. */
static void AE_FN(accum_dec)(float *acc, size_t dim, const float *base, size_t stride,
                             const size_t *idx, size_t n, const float *w)
{
    size_t d = 0, a;
    for (; d + 2 * AE_VW <= dim; d += 2 * AE_VW) {
        AE_V a0 = AE_LOADU(acc + d), a1 = AE_LOADU(acc + d + AE_VW);
        AE_V b0 = AE_ZERO(), b1 = AE_ZERO(), c0 = AE_ZERO(), c1 = AE_ZERO();
        AE_V e0 = AE_ZERO(), e1 = AE_ZERO();
        for (a = 0; a + 4 <= n; a += 4) {
            const float *r0 = base + idx[a] * stride + d, *r1 = base + idx[a + 1] * stride + d;
            const float *r2 = base + idx[a + 2] * stride + d;
            const float *r3 = base + idx[a + 3] * stride + d;
            AE_V w0 = AE_SET1(w[a]), w1 = AE_SET1(w[a + 1]);
            AE_V w2 = AE_SET1(w[a + 2]), w3 = AE_SET1(w[a + 3]);
            a0 = AE_FMA(w0, AE_LOADU(r0), a0);
            a1 = AE_FMA(w0, AE_LOADU(r0 + AE_VW), a1);
            b0 = AE_FMA(w1, AE_LOADU(r1), b0);
            b1 = AE_FMA(w1, AE_LOADU(r1 + AE_VW), b1);
            c0 = AE_FMA(w2, AE_LOADU(r2), c0);
            c1 = AE_FMA(w2, AE_LOADU(r2 + AE_VW), c1);
            e0 = AE_FMA(w3, AE_LOADU(r3), e0);
            e1 = AE_FMA(w3, AE_LOADU(r3 + AE_VW), e1);
        }
        for (; a < n; ++a) {
            const float *r0 = base + idx[a] * stride + d;
            AE_V w0 = AE_SET1(w[a]);
            a0 = AE_FMA(w0, AE_LOADU(r0), a0);
            a1 = AE_FMA(w0, AE_LOADU(r0 + AE_VW), a1);
        }
        AE_STOREU(acc + d, AE_ADD(AE_ADD(a0, b0), AE_ADD(c0, e0)));
        AE_STOREU(acc + d + AE_VW, AE_ADD(AE_ADD(a1, b1), AE_ADD(c1, e1)));
    }
    for (; d + AE_VW <= dim; d += AE_VW) {
        AE_V a0 = AE_LOADU(acc + d), b0 = AE_ZERO(), c0 = AE_ZERO(), e0 = AE_ZERO();
        for (a = 0; a + 4 <= n; a += 4) {
            a0 = AE_FMA(AE_SET1(w[a]), AE_LOADU(base + idx[a] * stride + d), a0);
            b0 = AE_FMA(AE_SET1(w[a + 1]), AE_LOADU(base + idx[a + 1] * stride + d), b0);
            c0 = AE_FMA(AE_SET1(w[a + 2]), AE_LOADU(base + idx[a + 2] * stride + d), c0);
            e0 = AE_FMA(AE_SET1(w[a + 3]), AE_LOADU(base + idx[a + 3] * stride + d), e0);
        }
        for (; a < n; ++a)
            a0 = AE_FMA(AE_SET1(w[a]), AE_LOADU(base + idx[a] * stride + d), a0);
        AE_STOREU(acc + d, AE_ADD(AE_ADD(a0, b0), AE_ADD(c0, e0)));
    }
    if (d < dim)
        AE_FN(accum)(acc, d, dim, base, stride, idx, n, w, 1);
}

/* A decode batch: up to AE_QB candidates of the list "tokens, then
 * landmark blocks", i.e. a token part and a block part. */
typedef struct AE_FN(qbatch) {
    size_t ta, tc, ba, bc;
} AE_FN(qbatch);

static AE_FN(qbatch) AE_FN(next_batch)(size_t a, size_t n_tok, size_t n_blk)
{
    AE_FN(qbatch) b;
    size_t c = n_tok + n_blk - a < AE_QB ? n_tok + n_blk - a : AE_QB;
    b.ta = a < n_tok ? a : n_tok;
    b.tc = a < n_tok ? (n_tok - a < c ? n_tok - a : c) : 0;
    b.bc = c - b.tc;
    b.ba = a + b.tc - n_tok;
    return b;
}

/* One query row over gathered candidates (decode): tokens and landmarks
 * are scored into one batch, then a single max / exp / weighted sum pass
 * (one online-softmax update per AE_QB candidates). acc may be out. */
void AE_XFN(query)(const float *q, size_t dim, float scale, const aether_rows *tokens,
                   const size_t *tok, size_t n_tok, const aether_rows *blocks, const size_t *blk,
                   size_t n_blk, float *acc, float *out)
{
    float s[AE_QB];
    float m = AE_MINIT, l = 0.0f;
    size_t a, c;
    memset(acc, 0, dim * sizeof(float));
    for (a = 0; a < n_tok + n_blk; a += c) {
        AE_FN(qbatch) b = AE_FN(next_batch)(a, n_tok, n_blk);
        float mx;
        c = b.tc + b.bc;
        if (b.tc)
            AE_XFN(dots_fast)(q, dim, tokens, tok + b.ta, b.tc, scale, s);
        if (b.bc)
            AE_XFN(dots_fast)(q, dim, blocks, blk + b.ba, b.bc, scale, s + b.tc);
        mx = AE_FN(max_array)(s, c, m);
        if (mx > m) {
            /* Nothing accumulated yet: no rescale (and no expf of a huge
             * negative argument, which takes libm's slow path). */
            if (m != AE_MINIT) {
                float al = expf(m - mx);
                AE_FN(scale_row)(acc, dim, al);
                l *= al;
            }
            m = mx;
        }
        l += AE_FN(exp_sub_sum)(s, c, mx);
        if (b.tc)
            AE_FN(accum_dec)(acc, dim, tokens->v, tokens->stride, tok + b.ta, b.tc, s);
        if (b.bc)
            AE_FN(accum_dec)(acc, dim, blocks->v, blocks->stride, blk + b.ba, b.bc, s + b.tc);
    }
    AE_FN(finish_row)(acc, dim, l, out);
}

#ifdef AE_DOTS_G4
#define AE_G4_DMAX 128u /* largest head dim of the packed 4 x 4 path */
#endif

/* Pads nh score rows s + h * AE_QB of c candidates to whole vectors with
 * -inf (weight 0), so the max and exp passes have no tails. Called before
 * the scores are computed: the vector loads of the padding come long after
 * these scalar stores, which then cannot stall them. */
static void AE_FN(pad_rows)(float *s, size_t nh, size_t c)
{
    size_t cv = (c + AE_VW - 1) / AE_VW * AE_VW, h, i;
    for (h = 0; h < nh; ++h)
        for (i = c; i < cv; ++i)
            s[h * AE_QB + i] = -INFINITY;
}

/* The start of a group's online softmax: the nh value sums zeroed, the
 * score rows nh..rows-1 zeroed (rows past nh carry zero weights through
 * the value sums), each row's running max at its start value and its
 * weight sum at 0. */
static void AE_FN(group_start)(float *acc, size_t dim, float *s, size_t nh, size_t rows,
                               float *m, float *l)
{
    size_t h;
    memset(acc, 0, nh * dim * sizeof(float));
    if (rows > nh)
        memset(s + nh * AE_QB, 0, (rows - nh) * AE_QB * sizeof(float));
    for (h = 0; h < nh; ++h) {
        m[h] = AE_MINIT;
        l[h] = 0.0f;
    }
}

/* max / sum of the AE_VW lanes of t, as a tree (short dependency chains). */
static float AE_FN(lanes_max)(float *t)
{
    size_t w, i;
    for (w = AE_VW / 2; w > 0; w /= 2)
        for (i = 0; i < w; ++i)
            t[i] = t[i + w] > t[i] ? t[i + w] : t[i];
    return t[0];
}

static float AE_FN(lanes_sum)(float *t)
{
    size_t w, i;
    for (w = AE_VW / 2; w > 0; w /= 2)
        for (i = 0; i < w; ++i)
            t[i] += t[i + w];
    return t[0];
}

/* Online-softmax update of nh (<= AETHER_QHEADS_MAX) padded score rows
 * s + h * AE_QB of c candidates: maxima and rescales of (l, acc rows) as in
 * query, then the weights exp(s - m) in place. Phase by phase over all
 * rows, so the rows' short reductions and exp chains overlap. */
static void AE_FN(softmax_rows)(float *s, size_t nh, size_t c, float *m, float *l, float *acc,
                                size_t dim)
{
    size_t cv = (c + AE_VW - 1) / AE_VW * AE_VW, h, i;
    float t[AETHER_QHEADS_MAX][AE_VW];
    for (h = 0; h < nh; ++h) {
        const float *sh = s + h * AE_QB;
        AE_V v = AE_SET1(m[h]);
        for (i = 0; i < cv; i += AE_VW)
            v = AE_MAX(v, AE_LOADU(sh + i));
        AE_STOREU(t[h], v);
    }
    for (h = 0; h < nh; ++h) {
        float mx = AE_FN(lanes_max)(t[h]);
        if (mx > m[h]) {
            if (m[h] != AE_MINIT) {
                float al = expf(m[h] - mx);
                AE_FN(scale_row)(acc + h * dim, dim, al);
                l[h] *= al;
            }
            m[h] = mx;
        }
    }
    for (h = 0; h < nh; ++h) {
        float *sh = s + h * AE_QB;
        AE_V mv = AE_SET1(m[h]), sv = AE_ZERO();
        for (i = 0; i < cv; i += AE_VW) {
            AE_V e = ae_vexp(AE_SUB(AE_LOADU(sh + i), mv));
            AE_STOREU(sh + i, e);
            sv = AE_ADD(sv, e);
        }
        AE_STOREU(t[h], sv);
    }
    for (h = 0; h < nh; ++h)
        l[h] += AE_FN(lanes_sum)(t[h]);
}

#ifdef AE_HSUMV
/* Floats of the scratch the reduced rows' group decode widens its last
 * few token rows into. */
#define AE_WSCR 2048u
#endif

/* The row offsets (of K/V elements, and of int8 exponent bytes) of the
 * query rows of one GQA group: all read the same kv head's part, at 0. */
static const size_t ae_group_off0[AETHER_QGROUP_MAX] = {0, 0, 0, 0};

#define AE_RF32 1
#define AE_RI8 0
#define AE_RT float
#define AE_RLD(p) AE_LOADU(p)
#define AE_RSC(x) (x)
#define AE_RROWS aether_rows
#define AE_RN(n) AE_FN(n)
#define AE_RX(n) AE_XFN(n)
#include "simd/decode_rows_impl.h"

/* s[j] = scale * dot(q, k_idx[j]) with the head dimension in the lanes
 * (fused, reordered: not the reference's bits, within the contract): the
 * one-row case of the decode's dots_heads. The single-query path has no
 * rows to put in the lanes. */
void AE_XFN(dots_fast)(const float *q, size_t dim, const aether_rows *rows, const size_t *idx,
                       size_t n, float scale, float *s)
{
    AE_FN(dots_heads)(q, 1, dim, ae_group_off0, rows->k, rows->stride, idx, n, scale, s);
}

#define AE_RF32 0
#define AE_RI8 0
#define AE_RT uint16_t
#define AE_RLD(p) AE_WIDEN16(p)
#define AE_RSC(x) aether_f16_to_f32(x)
#define AE_RROWS aether_rows16
#define AE_RN(n) AE_CAT(AE_CAT2(n, h), AE_ISA)
#define AE_RX(n) AE_XFN1(n##16, AE_ISA)
#include "simd/decode_rows_impl.h"

#define AE_RF32 0
#define AE_RI8 0
#define AE_RT uint16_t
#define AE_RLD(p) AE_WIDENBF(p)
#define AE_RSC(x) aether_bf16_widen(x)
#define AE_RROWS aether_rows16
#define AE_RN(n) AE_CAT(AE_CAT2(n, bf), AE_ISA)
#define AE_RX(n) AE_XFN1(n##_bf16, AE_ISA)
#include "simd/decode_rows_impl.h"

#define AE_RF32 0
#define AE_RI8 1
#define AE_RT int8_t
#define AE_RLD(p) AE_WIDENI8(p)
#define AE_RSC(x) ((float)(x))
#define AE_RROWS aether_rows8
#define AE_RN(n) AE_CAT(AE_CAT2(n, q8), AE_ISA)
#define AE_RX(n) AE_XFN1(n##_i8, AE_ISA)
#include "simd/decode_rows_impl.h"

/* Binary16 to float: the conversion is exact, so the hardware's result is
 * the scalar one; the tail goes through the scalar routine itself. */
void AE_XFN(widen_f16)(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 4 * AE_VW <= n; i += 4 * AE_VW) {
        AE_V a = AE_WIDEN16(src + i), b = AE_WIDEN16(src + i + AE_VW);
        AE_V c = AE_WIDEN16(src + i + 2 * AE_VW), d = AE_WIDEN16(src + i + 3 * AE_VW);
        AE_STOREU(dst + i, a);
        AE_STOREU(dst + i + AE_VW, b);
        AE_STOREU(dst + i + 2 * AE_VW, c);
        AE_STOREU(dst + i + 3 * AE_VW, d);
    }
    for (; i + AE_VW <= n; i += AE_VW)
        AE_STOREU(dst + i, AE_WIDEN16(src + i));
    for (; i < n; ++i)
        dst[i] = aether_f16_to_f32(src[i]);
}

/* Start loading the first len bytes of the K and V rows idx[0..n) (row j
 * at k + idx[j] * stride bytes; a hint, reads nothing): the reduced
 * storages' twin of prefetch_rows. */
void AE_XFN(prefetch_bytes)(const void *k, const void *v, size_t stride, const size_t *idx,
                            size_t n, size_t len)
{
    const unsigned char *kb = (const unsigned char *)k, *vb = (const unsigned char *)v;
    size_t j, d;
    for (j = 0; j < n; ++j)
        for (d = 0; d < len; d += 64) {
            AE_PREFETCH(kb + idx[j] * stride + d);
            AE_PREFETCH(vb + idx[j] * stride + d);
        }
}

#ifdef AE_I8ROW
#include "core/int8row.h"

/* The I8 cache's row format from floats (|x| < 32768): the Q16 values
 * round(x * 65536), halves away from zero, then the mantissas
 * round(q / 2^s), halves away from zero, with the smallest s that fits
 * +-127; returns s. Every step is exact integer or exact float work, so
 * the bits are those of the scalar definition (append.c's to_i8 over
 * aether_q16_to_i8_), whose exponent search and mantissas the
 * scalar parts reuse. */
unsigned AE_XFN(to_i8)(const float *x, size_t n, int32_t *q, int8_t *m)
{
    const __m256 k65536 = _mm256_set1_ps(65536.0f), half = _mm256_set1_ps(0.5f);
    const __m256 mhalf = _mm256_set1_ps(-0.5f);
    __m256i mx = _mm256_setzero_si256();
    size_t i = 0, u, nv = n - n % 32;
    unsigned s;
    uint32_t t[8], big = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_mul_ps(_mm256_loadu_ps(x + i), k65536);
        __m256i v = _mm256_cvttps_epi32(a);
        __m256 r = _mm256_sub_ps(a, _mm256_cvtepi32_ps(v));
        /* + (r >= 0.5) - (r <= -0.5): the compare masks are -1 */
        v = _mm256_sub_epi32(v, _mm256_castps_si256(_mm256_cmp_ps(r, half, _CMP_GE_OQ)));
        v = _mm256_add_epi32(v, _mm256_castps_si256(_mm256_cmp_ps(r, mhalf, _CMP_LE_OQ)));
        _mm256_storeu_si256((__m256i *)(void *)(q + i), v);
        mx = _mm256_max_epu32(mx, _mm256_abs_epi32(v));
    }
    _mm256_storeu_si256((__m256i *)(void *)t, mx);
    for (u = 0; u < 8; ++u)
        big = t[u] > big ? t[u] : big;
    for (; i < n; ++i) {
        const float a = x[i] * 65536.0f;
        int32_t v = (int32_t)a;
        const float r = a - (float)v;
        uint32_t g;
        v += (r >= 0.5f) - (r <= -0.5f);
        q[i] = v;
        g = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
        big = g > big ? g : big;
    }
    /* the largest magnitude (< 2^31) decides s: aether_q16_exponent_'s search */
    {
        const int32_t probe = (int32_t)big;
        s = aether_q16_exponent_(&probe, 1, 127u);
    }
    {
        const __m256i rnd = _mm256_set1_epi32(s ? (int)(1u << (s - 1)) : 0);
        const __m128i cnt = _mm_cvtsi32_si128((int)s);
        const __m256i ord = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for (i = 0; i < nv; i += 32) {
            __m256i w[4], p01, p23;
            for (u = 0; u < 4; ++u) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(q + i + 8 * u));
                __m256i a = _mm256_srl_epi32(_mm256_add_epi32(_mm256_abs_epi32(v), rnd), cnt);
                w[u] = _mm256_sign_epi32(a, v);
            }
            p01 = _mm256_packs_epi32(w[0], w[1]);
            p23 = _mm256_packs_epi32(w[2], w[3]);
            _mm256_storeu_si256((__m256i *)(void *)(m + i),
                                _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), ord));
        }
    }
    aether_q16_mantissas_(q + nv, n - nv, s, m + nv);
    return s;
}
#endif

/* Float to binary16, round to nearest even: for finite inputs (all a
 * cache stores) the hardware's result is aether_f32_to_f16's bits. */
void AE_XFN(narrow_f16)(const float *src, uint16_t *dst, size_t n)
{
    size_t i = 0;
    for (; i + 2 * AE_VW <= n; i += 2 * AE_VW) {
        AE_NARROW16(dst + i, AE_LOADU(src + i));
        AE_NARROW16(dst + i + AE_VW, AE_LOADU(src + i + AE_VW));
    }
    for (; i + AE_VW <= n; i += AE_VW)
        AE_NARROW16(dst + i, AE_LOADU(src + i));
    for (; i < n; ++i)
        dst[i] = aether_f32_to_f16(src[i]);
}
#endif /* AE_ISA_ON */
