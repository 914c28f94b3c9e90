/*
 * AVX2 + FMA (+ F16C) vector primitives: CMake compiles the template sources
 * with -DAE_ISA=avx2 and -mavx2 -mfma -mf16c on x86-64.
 * Elsewhere AE_ISA_ON is 0: the templates compile to getters returning
 * NULL. The primitives the templates use are listed in simd/kern.h.
 */
#ifndef AETHER_SIMD_ISA_AVX2_H
#define AETHER_SIMD_ISA_AVX2_H

#if (defined(__x86_64__) || defined(_M_X64)) && defined(__AVX2__) && defined(__FMA__) && \
    defined(__F16C__)
#define AE_ISA_ON 1
#include <immintrin.h>
#include <math.h>

/* exp(r') for the reduced argument r' = xc - n ln 2 (ln 2 in two parts),
 * |r'| <= ln 2 / 2: the polynomial both exps below share. */
static inline __m256 ae_vexp_reduced(__m256 xc, __m256 n)
{
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    __m256 p, y;
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    return _mm256_add_ps(y, _mm256_set1_ps(1.0f));
}

/* Same algorithm and bounds as the AVX-512 exp (isa_avx512.h). */
static inline __m256 ae_vexp(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.3365478515625f), hi = _mm256_set1_ps(88.0f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    __m256 xc = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 y = ae_vexp_reduced(xc, n);
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(under, y);
}

/* ae_vexp for arguments x <= 0 (or -inf, NaN): the softmax weights
 * exp(s - max). The same reduction and polynomial, so the same error
 * bound; no upper clamp, and n = round(x * log2(e)) comes from one
 * multiply-add into the mantissa of 1.5 * 2^23 + 127, whose low bits,
 * shifted into the exponent field, are 2^n: three operations fewer. */
static inline __m256 ae_vexp_neg(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.3365478515625f);
    const __m256 magic = _mm256_set1_ps(12583039.0f); /* 1.5 * 2^23 + 127 */
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    __m256 xc = _mm256_max_ps(lo, x); /* NaN stays NaN */
    __m256 t = _mm256_fmadd_ps(xc, _mm256_set1_ps(1.44269504088896341f), magic);
    __m256 n = _mm256_sub_ps(t, magic);
    __m256 y = ae_vexp_reduced(xc, n);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23)));
    return _mm256_andnot_ps(under, y);
}

static inline float ae_hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline void ae_hsum4(__m256 a, __m256 b, __m256 c, __m256 d, float *out)
{
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
}

#define AE_VW 8u
#define AE_V __m256
#define AE_LOADU(p) _mm256_loadu_ps(p)
#define AE_STOREU(p, x) _mm256_storeu_ps((p), (x))
#define AE_SET1(x) _mm256_set1_ps(x)
#define AE_ZERO() _mm256_setzero_ps()
#define AE_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define AE_ADD(a, b) _mm256_add_ps((a), (b))
#define AE_SUB(a, b) _mm256_sub_ps((a), (b))
#define AE_MUL(a, b) _mm256_mul_ps((a), (b))
#define AE_MAX(a, b) _mm256_max_ps((a), (b))
#define AE_PD 2u
#define AE_HSUM(v) ae_hsum256(v)
#define AE_HSUM4(a, b, c, d, o) ae_hsum4((a), (b), (c), (d), (o))
/* The horizontal sums of v[0..8) as one vector (lane i: the sum of v[i]),
 * each by ae_hsum4's tree: lane pairs, then pairs of pairs, then the low
 * half plus the high half. */
static inline __m256 ae_hsum8v(const __m256 *v)
{
    __m256 x = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    __m256 y = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
    return _mm256_add_ps(_mm256_permute2f128_ps(x, y, 0x20), _mm256_permute2f128_ps(x, y, 0x31));
}
#define AE_HSUMV(v) ae_hsum8v(v)
/* v with the lanes from n on (n <= 8) set to -inf. */
static inline __m256 ae_keepn(__m256 v, size_t n)
{
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 live = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane));
    return _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v, live);
}
#define AE_KEEPN(v, n) ae_keepn((v), (n))
/* r[h] lane u = candidate u's sum for row h (u < 8, h < 4) from the four
 * vectors pv[p] holding candidate p's sums for rows 0..3 in lanes 0..3
 * and candidate p + 4's in lanes 4..7: interleaves of pairs, then of
 * pairs of pairs. */
static inline void ae_pairs4(const __m256 *pv, __m256 *r)
{
    __m256d lo0 = _mm256_castps_pd(_mm256_unpacklo_ps(pv[0], pv[1]));
    __m256d hi0 = _mm256_castps_pd(_mm256_unpackhi_ps(pv[0], pv[1]));
    __m256d lo1 = _mm256_castps_pd(_mm256_unpacklo_ps(pv[2], pv[3]));
    __m256d hi1 = _mm256_castps_pd(_mm256_unpackhi_ps(pv[2], pv[3]));
    r[0] = _mm256_castpd_ps(_mm256_unpacklo_pd(lo0, lo1));
    r[1] = _mm256_castpd_ps(_mm256_unpackhi_pd(lo0, lo1));
    r[2] = _mm256_castpd_ps(_mm256_unpacklo_pd(hi0, hi1));
    r[3] = _mm256_castpd_ps(_mm256_unpackhi_pd(hi0, hi1));
}
#define AE_PAIRS4(pv, r) ae_pairs4((pv), (r))
/* Sixteen vector registers: the decode's V sums take one query row per
 * register block (simd/decode_rows_impl.h). */
#define AE_FEWREGS 1
#define AE_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
/* In-place transpose of the 8 x 8 block v[0..8) (v[i] lane j becomes v[j]
 * lane i): pairs interleaved, groups of four per 128-bit half, halves
 * exchanged. */
static inline void ae_transpose8(__m256 *v)
{
    __m256 t[8], u[8];
    int i;
    for (i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]);
    }
    for (i = 0; i < 2; ++i) {
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (i = 0; i < 4; ++i) {
        v[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
        v[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
    }
}
#define AE_TRANSPOSE(v) ae_transpose8(v)
#define AE_WIDEN16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
/* bfloat16 widens by a 16-bit shift (exact); int8 mantissas convert exactly. */
#define AE_WIDENBF(p)                                                               \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(    \
                                              (const __m128i *)(const void *)(p))), \
                                          16))
#define AE_WIDENI8(p) \
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p))))
/* The I8 cache's row quantizer has an AVX2 form (decode.c). */
#define AE_I8ROW 1
/* AE_VW floats to binary16 at p, round to nearest even (F16C). */
#define AE_NARROW16(p, x) \
    _mm_storeu_si128((__m128i *)(void *)(p), _mm256_cvtps_ph((x), _MM_FROUND_TO_NEAREST_INT))
#else
#define AE_ISA_ON 0
#endif

#endif /* AETHER_SIMD_ISA_AVX2_H */
