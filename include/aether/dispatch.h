/*
 * aether/dispatch.h - choice of the kernel implementation and threading.
 *
 * The scalar reference kernels are the definition (bit-exact with the
 * goldens). Optimised kernels (AVX2+FMA, AVX-512, NEON) compute the same
 * attention in a different order and with a polynomial exp; they agree with
 * the reference within the accuracy contract, per output element, for
 * inputs of scale s (|x| <= s):
 *                                      |fast - ref| <= 1e-6 * s^2 + 2e-6 * |ref|
 * on every path: sparse and dense forward (the q.k sums are fused, in the
 * reference's order), KV cache decode and model step (one query row: the
 * q.k sums are fused and split over the vector lanes). The s^2 term is the
 * scores' error, which grows with |q||k|; exp and the P.V sums add the
 * relative part. For unit-scale inputs (s <= 1): 1e-6 + 2e-6 * |ref|.
 *
 * Reduced K/V caches (aether_kv_storage F16, BF16, I8): each precision's
 * scalar reference decode is its definition (the f32 arithmetic on the
 * exactly widened stored rows); its optimised kernels keep the contract
 * above against it (they widen the same values in their loads: F16C /
 * AVX-512 / NEON for f16, a 16-bit shift for bf16, int8 to float with the
 * row's power-of-two scale folded into the score and the weight). Against
 * the f32 cache fed the same rows, with |q| <= s_q, |k| <= s_k, |v| <= s_v
 * and head dim d, per output element:
 *   |out - out_f32| <= (eps * s_v + eta)
 *                      + s_v * (exp(2 * sqrt(d) * s_q * (eps * s_k + eta)) - 1)
 *   F16: eps = 2^-11, eta = 2^-25   BF16: eps = 2^-8, eta = 2^-133
 *   I8:  eps = 1/127, eta = 2^-16 (the row's largest |x| as its scale)
 * (the fast path adds the contract above). For unit-scale inputs and
 * d = 64: about 0.008 (f16), 0.068 (bf16) and 0.14 (int8); measured
 * errors are a fifth or less of the bound (tests/test_kv_precision.c).
 * There is no AVX512-BF16 dot-product path: bf16 rows are widened on every
 * ISA (see aether/kvcache.h for the formats and ranges).
 *
 * Selection: AETHER_KERNELS_AUTO (default) takes the best path the CPU and
 * the operating system support. The environment variable AETHER_KERNELS
 * (reference | avx2 | avx512 | neon | auto), read once at first use,
 * overrides the initial mode; aether_set_kernel_mode overrides both.
 * Selection is thread-safe (C11 atomics); changing the mode while another
 * thread runs a kernel only affects calls that start afterwards.
 *
 * Threads: the library never creates threads unless aether_set_num_threads
 * asked for more than one. Work is split over heads x query blocks and every
 * output row is computed by the same arithmetic whatever the thread count,
 * so results are bit-identical for any n.
 */
#ifndef AETHER_DISPATCH_H
#define AETHER_DISPATCH_H

#include "aether/export.h"
#include "aether/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aether_kernel_mode {
    AETHER_KERNELS_AUTO = 0,      /* best supported path */
    AETHER_KERNELS_REFERENCE = 1, /* scalar reference (bit-exact goldens) */
    AETHER_KERNELS_AVX2 = 2,      /* x86-64 AVX2 + FMA */
    AETHER_KERNELS_AVX512 = 3,    /* x86-64 AVX-512F/DQ */
    AETHER_KERNELS_NEON = 4       /* AArch64 Advanced SIMD */
} aether_kernel_mode;

/* CPU/OS support bits of aether_cpu_features(). */
#define AETHER_CPU_AVX2 0x1u   /* AVX2 + FMA, with OS-saved YMM state */
#define AETHER_CPU_AVX512 0x2u /* AVX-512F + DQ, with OS-saved ZMM/opmask state */
#define AETHER_CPU_NEON 0x4u   /* AArch64 Advanced SIMD */

/* Features detected on this CPU that this build has kernels for. */
AETHER_API unsigned aether_cpu_features(void);

/* Force a kernel path. AETHER_ERR_INVALID_ARG for an unknown mode,
 * AETHER_ERR_UNSUPPORTED when the CPU (or this build) lacks it; the mode is
 * then unchanged. */
AETHER_API aether_status aether_set_kernel_mode(aether_kernel_mode mode);

/* The requested mode (AUTO unless set by the API or AETHER_KERNELS). */
AETHER_API aether_kernel_mode aether_get_kernel_mode(void);

/* The path kernels run now: "reference", "avx2", "avx512" or "neon". */
AETHER_API const char *aether_kernel_name(void);

/* Parse "reference", "avx2", "avx512", "neon" or "auto" (case-sensitive).
 * AETHER_ERR_INVALID_ARG for anything else. */
AETHER_API aether_status aether_kernel_mode_parse(const char *name, aether_kernel_mode *mode);

/* Threads used by the prefill and dense kernels (1..256; default 1, which
 * never creates a thread). AETHER_ERR_INVALID_ARG outside that range. */
AETHER_API aether_status aether_set_num_threads(unsigned n);
AETHER_API unsigned aether_get_num_threads(void);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_DISPATCH_H */
