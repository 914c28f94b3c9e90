/*
 * Internal header of the ISA template sources tile.c, decode.c, probe.c
 * and ops.c. CMake compiles each of them once per ISA, with
 *   -DAE_ISA=<isa>                          suffix of the generated names
 *   -DAE_ISA_HEADER="simd/isa_<isa>.h"      that ISA's vector primitives
 * and the ISA's compiler flags (cmake/aether_simd.cmake). The primitives
 * header sets AE_ISA_ON to 1 where the compiler targets the ISA (else 0:
 * only ops.c's getters, returning NULL, are compiled) and defines
 *   AE_VW             floats per vector;  AE_V  the vector type
 *   AE_LOADU/STOREU   unaligned load / store
 *   AE_SET1, AE_ZERO  broadcast, zero
 *   AE_FMA(a, b, c)   a * b + c (fused);  AE_ADD, AE_SUB, AE_MUL, AE_MAX
 *   ae_vexp(v)        vector exp (see the ISA header for its error bound)
 *   ae_vexp_neg(v)    ae_vexp for v <= 0, -inf or NaN (softmax weights)
 *   AE_PD             vectors of the head dimension per P.V register block
 *   AE_PREFETCH(p)    prefetch the cache line of p into L1
 *   AE_HSUM(v)        horizontal sum
 *   AE_HSUM4(a, b, c, d, out)  out[0..3] = horizontal sums of a, b, c, d
 *   AE_HSUMV(v)       optional: the horizontal sums of v[0..AE_VW) as one
 *                     vector, each by AE_HSUM4's order (decode scores)
 *   AE_KEEPN(v, n)    with AE_HSUMV: v with lanes n.. (n <= AE_VW) set to -inf
 *   AE_PAIRS4(pv, r)  optional, AE_VW 8: four vectors of two candidates' sums
 *                     for four rows (lanes 0-3: candidate p, 4-7: p + 4)
 *                     as four vectors of eight candidates, one per row (the
 *                     reduced rows' group decode)
 *   AE_FEWREGS        optional: 1 on ISAs with 16 vector registers
 *   AE_TRANSPOSE(v)   transpose the AE_VW x AE_VW block of vectors v[0..AE_VW)
 *   AE_WIDEN16(p)     AE_VW binary16 values at p (uint16_t *) widened to floats
 *   AE_WIDENBF(p)     AE_VW bfloat16 values at p (uint16_t *) widened to floats
 *   AE_WIDENI8(p)     AE_VW int8 values at p (int8_t *) converted to floats
 *   AE_NARROW16(p, v) store v as AE_VW binary16 values at p, nearest even
 *   AE_DOTS_G4(...)   optional: a 4 x 4 GQA score kernel (decode.c)
 *   AE_I8ROW          optional: decode.c has the ISA's to_i8 (the I8
 *                     cache's row quantizer; else the ops entry is NULL)
 * This header gives the generated names, the blocking constants, and the
 * functions one template source defines for another (and for ops.c's
 * tables).
 */
#ifndef AETHER_SIMD_KERN_H
#define AETHER_SIMD_KERN_H

#include <stddef.h>
#include <stdint.h>

#include "simd/simd.h"

#if !defined(AE_ISA) || !defined(AE_ISA_HEADER)
#error "simd template sources are compiled with -DAE_ISA=... -DAE_ISA_HEADER=... (CMake)"
#endif
#include AE_ISA_HEADER

#define AE_CAT2(a, b) a##_##b
#define AE_CAT(a, b) AE_CAT2(a, b)
/* A function private to one template source: name_<isa>. */
#define AE_FN(n) AE_CAT(n, AE_ISA)
/* A function one template source defines for the others:
 * aether_simd_name_<isa>_ (library-internal). */
#define AE_XFN2(n, isa) aether_simd_##n##_##isa##_
#define AE_XFN1(n, isa) AE_XFN2(n, isa)
#define AE_XFN(n) AE_XFN1(n, AE_ISA)
#define AE_STR2(x) #x
#define AE_STR(x) AE_STR2(x)

#if AE_ISA_ON
#define AE_RV 2u             /* row vectors per tile */
#define AE_R (AE_RV * AE_VW) /* rows per tile */
#define AE_MK 4u             /* keys per score register block */
#define AE_PR 4u             /* rows per P.V register block */
#define AE_KC AETHER_TILE_KC /* most keys per score chunk */
#define AE_KCN 128u          /* keys per chunk while more than AE_KC remain */
#define AE_BATCH 64u  /* gathered candidates scored at a time */
#define AE_QB 256u    /* decode: candidates per softmax update */
#define AE_UMAX 48u   /* largest shared landmark union (<= AE_KC) */
#define AE_PFMAX 512u /* far token rows prefetched per tile */

/* tile.c: the tile kernel, and the ops' exp and prefetch. */
void AE_XFN(tile)(const aether_tile *t);
void AE_XFN(exp_array)(const float *x, float *y, size_t n);
void AE_XFN(prefetch_rows)(const aether_rows *rows, const size_t *idx, size_t n, size_t dim);

/* decode.c: the decode kernels of the ops table, and the single-row dots
 * the tile's gathered fallback uses. */
void AE_XFN(dots_fast)(const float *q, size_t dim, const aether_rows *rows, const size_t *idx,
                       size_t n, float scale, float *s);
void AE_XFN(query)(const float *q, size_t dim, float scale, const aether_rows *tokens,
                   const size_t *tok, size_t n_tok, const aether_rows *blocks, const size_t *blk,
                   size_t n_blk, float *acc, float *out);
void AE_XFN(query_group)(const float *q, size_t nh, size_t dim, float scale,
                         const aether_rows *tokens, const size_t *tok, size_t n_tok,
                         const aether_rows *blocks, const size_t *blk, size_t n_blk, float *acc,
                         float *out);
void AE_XFN(query_heads)(const float *q, size_t nh, size_t dim, const size_t *koff, float scale,
                         const aether_rows *tokens, const size_t *tok, size_t n_tok,
                         const aether_rows *blocks, const size_t *blk, size_t n_blk, float *out);
void AE_XFN(query_group16)(const float *q, size_t nh, size_t dim, float scale,
                           const aether_rows16 *tokens, const size_t *tok, size_t n_tok,
                           const aether_rows *blocks, const size_t *blk, size_t n_blk, float *acc,
                           float *out);
void AE_XFN(query_heads16)(const float *q, size_t nh, size_t dim, const size_t *koff, float scale,
                           const aether_rows16 *tokens, const size_t *tok, size_t n_tok,
                           const aether_rows *blocks, const size_t *blk, size_t n_blk,
                           float *out);
void AE_XFN(query_group_bf16)(const float *q, size_t nh, size_t dim, float scale,
                              const aether_rows16 *tokens, const size_t *tok, size_t n_tok,
                              const aether_rows *blocks, const size_t *blk, size_t n_blk,
                              float *acc, float *out);
void AE_XFN(query_heads_bf16)(const float *q, size_t nh, size_t dim, const size_t *koff,
                              float scale, const aether_rows16 *tokens, const size_t *tok,
                              size_t n_tok, const aether_rows *blocks, const size_t *blk,
                              size_t n_blk, float *out);
void AE_XFN(query_group_i8)(const float *q, size_t nh, size_t dim, float scale,
                            const aether_rows8 *tokens, const size_t *tok, size_t n_tok,
                            const aether_rows *blocks, const size_t *blk, size_t n_blk,
                            float *acc, float *out);
void AE_XFN(query_heads_i8)(const float *q, size_t nh, size_t dim, const size_t *koff,
                            float scale, const aether_rows8 *tokens, const size_t *tok,
                            size_t n_tok, const aether_rows *blocks, const size_t *blk,
                            size_t n_blk, float *out);
void AE_XFN(narrow_f16)(const float *src, uint16_t *dst, size_t n);
void AE_XFN(prefetch_bytes)(const void *k, const void *v, size_t stride, const size_t *idx,
                            size_t n, size_t len);
void AE_XFN(matvec)(const float *x, size_t rows, const float *w, size_t cols, float *y);
#ifdef AE_I8ROW
unsigned AE_XFN(to_i8)(const float *x, size_t n, int32_t *q, int8_t *m);
#endif

/* batch.c: the batched projection of the ops table. */
void AE_XFN(matmul)(const float *x, size_t n, size_t rows, const float *w, size_t cols, float *y);
void AE_XFN(widen_f16)(const uint16_t *src, float *dst, size_t n);

/* probe.c: the benchmark's machine probes. */
float AE_XFN(fma_probe)(size_t iters, float x);
float AE_XFN(read_probe)(const float *p, size_t n);
#endif /* AE_ISA_ON */

#endif /* AETHER_SIMD_KERN_H */
