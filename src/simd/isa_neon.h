/*
 * AArch64 Advanced SIMD vector primitives (always there on AArch64): CMake
 * compiles the template sources with -DAE_ISA=neon, no flag needed.
 * Elsewhere AE_ISA_ON is 0: the templates compile to getters returning
 * NULL. The primitives the templates use are listed in simd/kern.h.
 */
#ifndef AETHER_SIMD_ISA_NEON_H
#define AETHER_SIMD_ISA_NEON_H

#if defined(__aarch64__) && defined(__ARM_NEON)
#define AE_ISA_ON 1
#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

/* Same algorithm and bounds as the AVX-512 exp (isa_avx512.h). */
static inline float32x4_t ae_vexp(float32x4_t x)
{
    const float32x4_t lo = vdupq_n_f32(-87.3365478515625f), hi = vdupq_n_f32(88.0f);
    uint32x4_t under = vcltq_f32(x, lo);
    float32x4_t xc = vminq_f32(hi, vmaxq_f32(lo, x));
    float32x4_t n = vrndnq_f32(vmulq_f32(xc, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(xc, n, vdupq_n_f32(0.693359375f));
    float32x4_t p, y;
    int32x4_t e;
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    y = vfmaq_f32(r, p, vmulq_f32(r, r));
    y = vaddq_f32(y, vdupq_n_f32(1.0f));
    e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    y = vmulq_f32(y, vreinterpretq_f32_s32(e));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(y), under));
}

/* Arguments x <= 0 (softmax weights): the general exp here. */
#define ae_vexp_neg(x) ae_vexp(x)
#define AE_VW 4u
#define AE_V float32x4_t
#define AE_LOADU(p) vld1q_f32(p)
#define AE_STOREU(p, x) vst1q_f32((p), (x))
#define AE_SET1(x) vdupq_n_f32(x)
#define AE_ZERO() vdupq_n_f32(0.0f)
#define AE_FMA(a, b, c) vfmaq_f32((c), (a), (b))
#define AE_ADD(a, b) vaddq_f32((a), (b))
#define AE_SUB(a, b) vsubq_f32((a), (b))
#define AE_MUL(a, b) vmulq_f32((a), (b))
#define AE_MAX(a, b) vmaxq_f32((a), (b))
#define AE_PD 4u
#define AE_HSUM(v) vaddvq_f32(v)
#define AE_HSUM4(a, b, c, d, o) \
    vst1q_f32((o), vpaddq_f32(vpaddq_f32((a), (b)), vpaddq_f32((c), (d))))
#define AE_PREFETCH(p) __builtin_prefetch(p)
/* In-place transpose of the 4 x 4 block v[0..4) (v[i] lane j becomes v[j]
 * lane i). */
static inline void ae_transpose4(float32x4_t *v)
{
    float32x4x2_t a = vtrnq_f32(v[0], v[1]), b = vtrnq_f32(v[2], v[3]);
    v[0] = vcombine_f32(vget_low_f32(a.val[0]), vget_low_f32(b.val[0]));
    v[1] = vcombine_f32(vget_low_f32(a.val[1]), vget_low_f32(b.val[1]));
    v[2] = vcombine_f32(vget_high_f32(a.val[0]), vget_high_f32(b.val[0]));
    v[3] = vcombine_f32(vget_high_f32(a.val[1]), vget_high_f32(b.val[1]));
}
#define AE_TRANSPOSE(v) ae_transpose4(v)
#define AE_WIDEN16(p) vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)))
/* bfloat16 widens by a 16-bit shift (exact); int8 mantissas convert exactly
 * (four bytes through a 32-bit copy: no alignment assumed). */
#define AE_WIDENBF(p) vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16))
static inline float32x4_t ae_widen_i8(const int8_t *p)
{
    uint32_t w;
    memcpy(&w, p, sizeof w);
    return vcvtq_f32_s32(vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(w))))));
}
#define AE_WIDENI8(p) ae_widen_i8(p)
/* AE_VW floats to binary16 at p (FPCR default: round to nearest even). */
#define AE_NARROW16(p, x) vst1_u16((p), vreinterpret_u16_f16(vcvt_f16_f32(x)))
#else
#define AE_ISA_ON 0
#endif

#endif /* AETHER_SIMD_ISA_NEON_H */
