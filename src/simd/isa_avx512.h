/*
 * AVX-512F/DQ vector primitives: CMake compiles the template sources with
 * -DAE_ISA=avx512 and -mavx512f -mavx512dq -mavx2 -mfma on x86-64.
 * Elsewhere AE_ISA_ON is 0: the templates compile to getters returning
 * NULL. The primitives the templates use are listed in simd/kern.h.
 */
#ifndef AETHER_SIMD_ISA_AVX512_H
#define AETHER_SIMD_ISA_AVX512_H

#if (defined(__x86_64__) || defined(_M_X64)) && defined(__AVX512F__) && defined(__AVX512DQ__)
#define AE_ISA_ON 1
#include <immintrin.h>

/* exp(x): x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact
 * reduction), exp(r) by a degree-7 polynomial (Cephes coefficients), 2^n
 * added to the exponent bits. Inputs below -87.33 give 0 (so -inf -> 0),
 * inputs above 88 are clamped (attention only uses x <= 0), NaN stays NaN.
 * Measured max relative error vs glibc expf over [-87, 88]: see
 * tests/test_simd.c (about 2 ulp). */
static inline __m512 ae_vexp(__m512 x)
{
    const __m512 lo = _mm512_set1_ps(-87.3365478515625f), hi = _mm512_set1_ps(88.0f);
    __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    __m512 xc = _mm512_min_ps(hi, _mm512_max_ps(lo, x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
    __m512 p, y;
    __m512i e;
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
    e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    y = _mm512_mul_ps(y, _mm512_castsi512_ps(e));
    return _mm512_maskz_mov_ps((__mmask16)~under, y);
}

/* Horizontal sums of four vectors at once (a transpose-add tree). */
static inline void ae_hsum4(__m512 a, __m512 b, __m512 c, __m512 d, float *out)
{
    __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    __m512 u = _mm512_add_ps(_mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 2, 3, 2)));
    __m256 w = _mm256_add_ps(_mm512_castps512_ps256(u), _mm512_extractf32x8_ps(u, 1));
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(w), _mm256_extractf128_ps(w, 1));
    _mm_storeu_ps(out, x);
}

/* Scores of four gathered keys against four query rows at once (GQA
 * decode): the lanes hold (row, d mod 4), qv[k] packs q_0..q_3[4k..4k+3],
 * each key's 4 floats d = 4k..4k+3 are broadcast to the four lane groups,
 * and one transpose-add turns the four keys' accumulators into the 16
 * (row, key) sums - instead of a horizontal sum per key. Handles n rounded
 * down to a multiple of 4 and returns that count; s[h * sstride + j]. */
static inline size_t ae_dots_g4(const float *qv, size_t dim, const float *kb, size_t stride,
                                const size_t *idx, size_t n, float scale, float *s,
                                size_t sstride, size_t nh)
{
    size_t j, k, nk = dim / 4;
    __m512 sc = _mm512_set1_ps(scale);
    for (j = 0; j + 4 <= n; j += 4) {
        const float *k0 = kb + idx[j] * stride, *k1 = kb + idx[j + 1] * stride;
        const float *k2 = kb + idx[j + 2] * stride, *k3 = kb + idx[j + 3] * stride;
        __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
        __m512 c = _mm512_setzero_ps(), d = _mm512_setzero_ps(), t0, t1, u;
        for (k = 0; k < nk; ++k) {
            __m512 qk = _mm512_loadu_ps(qv + 16 * k);
            a = _mm512_fmadd_ps(qk, _mm512_broadcast_f32x4(_mm_loadu_ps(k0 + 4 * k)), a);
            b = _mm512_fmadd_ps(qk, _mm512_broadcast_f32x4(_mm_loadu_ps(k1 + 4 * k)), b);
            c = _mm512_fmadd_ps(qk, _mm512_broadcast_f32x4(_mm_loadu_ps(k2 + 4 * k)), c);
            d = _mm512_fmadd_ps(qk, _mm512_broadcast_f32x4(_mm_loadu_ps(k3 + 4 * k)), d);
        }
        /* Per lane group: [a0+a2, b0+b2, a1+a3, b1+b3], then key sums. */
        t0 = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
        t1 = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
        u = _mm512_add_ps(_mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(1, 0, 1, 0)),
                          _mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 2, 3, 2)));
        u = _mm512_mul_ps(u, sc);
        /* Lane group h now holds row h's scores of keys j..j+3. */
        _mm_storeu_ps(s + j, _mm512_castps512_ps128(u));
        if (nh > 1)
            _mm_storeu_ps(s + sstride + j, _mm512_extractf32x4_ps(u, 1));
        if (nh > 2)
            _mm_storeu_ps(s + 2 * sstride + j, _mm512_extractf32x4_ps(u, 2));
        if (nh > 3)
            _mm_storeu_ps(s + 3 * sstride + j, _mm512_extractf32x4_ps(u, 3));
    }
    return j;
}
#define AE_DOTS_G4(qv, dim, kb, stride, idx, n, scale, s, sstride, nh) \
    ae_dots_g4((qv), (dim), (kb), (stride), (idx), (n), (scale), (s), (sstride), (nh))

/* Arguments x <= 0 (softmax weights): the general exp here. */
#define ae_vexp_neg(x) ae_vexp(x)
#define AE_VW 16u
#define AE_V __m512
#define AE_LOADU(p) _mm512_loadu_ps(p)
#define AE_STOREU(p, x) _mm512_storeu_ps((p), (x))
#define AE_SET1(x) _mm512_set1_ps(x)
#define AE_ZERO() _mm512_setzero_ps()
#define AE_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define AE_ADD(a, b) _mm512_add_ps((a), (b))
#define AE_SUB(a, b) _mm512_sub_ps((a), (b))
#define AE_MUL(a, b) _mm512_mul_ps((a), (b))
#define AE_MAX(a, b) _mm512_max_ps((a), (b))
#define AE_PD 4u
#define AE_HSUM(v) _mm512_reduce_add_ps(v)
#define AE_HSUM4(a, b, c, d, o) ae_hsum4((a), (b), (c), (d), (o))
#define AE_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
/* In-place transpose of the 16 x 16 block v[0..16) (v[i] lane j becomes
 * v[j] lane i): pairs of rows interleaved, then groups of four rows per
 * 128-bit lane, then the lanes gathered across the four groups. */
static inline void ae_transpose16(__m512 *v)
{
    __m512 t[16], u[16];
    int i, k;
    for (i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]);
    }
    for (i = 0; i < 4; ++i) {
        u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    /* u[4i + k] lane L: rows 4i..4i+3 at column 4L + k. */
    for (k = 0; k < 4; ++k) {
        __m512 a0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88);
        __m512 a1 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xDD);
        __m512 b0 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
        __m512 b1 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xDD);
        v[k] = _mm512_shuffle_f32x4(a0, b0, 0x88);
        v[8 + k] = _mm512_shuffle_f32x4(a0, b0, 0xDD);
        v[4 + k] = _mm512_shuffle_f32x4(a1, b1, 0x88);
        v[12 + k] = _mm512_shuffle_f32x4(a1, b1, 0xDD);
    }
}
#define AE_TRANSPOSE(v) ae_transpose16(v)
#define AE_WIDEN16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
/* bfloat16 widens by a 16-bit shift (exact); int8 mantissas convert exactly.
 * No AVX512-BF16 dot products: plain loads feed the f32 arithmetic. */
#define AE_WIDENBF(p)                                                               \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256( \
                                              (const __m256i *)(const void *)(p))), \
                                          16))
#define AE_WIDENI8(p) \
    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))))
/* AE_VW floats to binary16 at p, round to nearest even. */
#define AE_NARROW16(p, x)                       \
    _mm256_storeu_si256((__m256i *)(void *)(p), \
                        _mm512_cvtps_ph((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC))
#else
#define AE_ISA_ON 0
#endif

#endif /* AETHER_SIMD_ISA_AVX512_H */
