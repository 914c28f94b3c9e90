/*
 * Internal: the optimised kernel paths behind aether/dispatch.h.
 *
 * Each instruction set provides one aether_simd_ops table: its vector
 * primitives (simd/isa_<isa>.h) and the template sources tile.c, decode.c,
 * probe.c, ops.c and batch.c, which CMake compiles once per ISA with -DAE_ISA=<isa>
 * and the ISA's flags (cmake/aether_simd.cmake). The tables are only
 * compiled where the compiler targets the ISA; a getter returns NULL
 * elsewhere, so callers never need #ifdefs.
 *
 * The tile kernel computes attention for up to `rows` query rows that share
 * one K/V head: each row has a contiguous window [lo, hi] of key indices
 * plus optional extra candidates (token indices outside the window and
 * landmark block indices). Scores of all rows against a chunk of keys are
 * computed as a small GEMM with the rows in the vector lanes, the softmax
 * statistics are kept per row (online across chunks), and P.V accumulates
 * with the head dimension in the vector lanes. Extras go through the
 * gathered single-row path. Keys outside a row's window never touch that
 * row: their scores are replaced by -inf and the P.V loop skips them.
 */
#ifndef AETHER_SIMD_SIMD_H
#define AETHER_SIMD_SIMD_H

#include <stddef.h>
#include <stdint.h>

#include "aether/core.h"
#include "simd/rows.h"

/* Most keys per score chunk (bounds the score scratch): the tile takes
 * chunks of 128 keys, and a rest of up to this many in one chunk. */
#define AETHER_TILE_KC 160u
/* Largest row count of any ISA's tile (AVX-512: 2 x 16 lanes). */
#define AETHER_TILE_RMAX 32u

typedef struct aether_tile {
    size_t rows; /* 1..ops->rows */
    size_t dim;
    float scale;
    const float *const *q;        /* rows pointers to dim floats */
    float *const *out;            /* rows pointers to dim floats */
    const size_t *lo, *hi;        /* rows windows [lo, hi] (inclusive, lo <= hi) */
    const size_t *const *ext_tok; /* rows lists of extra token indices (or NULL) */
    const size_t *n_ext_tok;
    const size_t *const *ext_blk; /* rows lists of landmark block indices (or NULL) */
    const size_t *n_ext_blk;
    aether_rows tokens; /* token rows of this kv head */
    aether_rows blocks; /* landmark rows of this kv head (k NULL if none) */
    float *scratch;     /* aether_tile_scratch_floats(dim) floats, 64-byte aligned */
} aether_tile;

/* Scratch floats any ISA's tile needs for this head dimension: Q^T,
 * scores, accumulators, then m, l, alpha per row. */
static inline size_t aether_tile_scratch_floats(size_t dim)
{
    return dim * AETHER_TILE_RMAX + AETHER_TILE_KC * AETHER_TILE_RMAX + AETHER_TILE_RMAX * dim +
           3 * AETHER_TILE_RMAX;
}

typedef struct aether_simd_ops {
    const char *name;
    size_t rows; /* rows per tile */
    void (*tile)(const aether_tile *t);
    /* Same contract as aether_sparse_query_ (acc: dim floats of scratch). */
    void (*query)(const float *q, size_t dim, float scale, const aether_rows *tokens,
                  const size_t *tok, size_t n_tok, const aether_rows *blocks, const size_t *blk,
                  size_t n_blk, float *acc, float *out);
    /* y[i] = exp(x[i]) with the vector polynomial (y may equal x). */
    void (*exp)(const float *x, float *y, size_t n);
    /* nh (1..AETHER_QGROUP_MAX) query rows q[h*dim..] sharing one K/V head
     * over the same gathered candidates (decode of a GQA group): each K/V
     * row is loaded once for all nh rows. acc: nh*dim floats of scratch,
     * which may be `out` itself (nh rows of dim floats). Per row, the same
     * contract as query. */
    void (*query_group)(const float *q, size_t nh, size_t dim, float scale,
                        const aether_rows *tokens, const size_t *tok, size_t n_tok,
                        const aether_rows *blocks, const size_t *blk, size_t n_blk, float *acc,
                        float *out);
    /* y[0..cols) = x[0..rows) . W (row-major rows x cols), vectorised over
     * the columns with fused multiply-adds (within the accuracy contract,
     * not the reference's bits). */
    void (*matvec)(const float *x, size_t rows, const float *w, size_t cols, float *y);
    /* nh (1..AETHER_QHEADS_MAX) query rows q[h*dim..] over the same
     * gathered candidates, row h reading the dim floats at offset koff[h]
     * of each candidate's token / landmark row (its kv head): scores a few
     * candidates at a time for every row, P.V one row at a time with its
     * output block in registers. Per row, the contract of query;
     * out: nh rows of dim floats (also the accumulator). */
    void (*query_heads)(const float *q, size_t nh, size_t dim, const size_t *koff, float scale,
                        const aether_rows *tokens, const size_t *tok, size_t n_tok,
                        const aether_rows *blocks, const size_t *blk, size_t n_blk, float *out);
    /* Start loading the first len floats of the K and V rows idx[0..n) of
     * `rows` (a hint: reads nothing, cannot fault). */
    void (*prefetch)(const aether_rows *rows, const size_t *idx, size_t n, size_t len);
    /* dst[0..n) = src[0..n) widened from IEEE binary16, bit for bit what
     * aether_f16_to_f32 gives (NaNs quietened the same way): the
     * conversion the f16 kernels below apply to every row element. */
    void (*widen_f16)(const uint16_t *src, float *dst, size_t n);
    /* query_group and query_heads over binary16 token rows (landmark rows
     * stay f32): the same arithmetic as on f32 rows holding the widened
     * values, at half the bytes read. */
    void (*query_group16)(const float *q, size_t nh, size_t dim, float scale,
                          const aether_rows16 *tokens, const size_t *tok, size_t n_tok,
                          const aether_rows *blocks, const size_t *blk, size_t n_blk, float *acc,
                          float *out);
    void (*query_heads16)(const float *q, size_t nh, size_t dim, const size_t *koff, float scale,
                          const aether_rows16 *tokens, const size_t *tok, size_t n_tok,
                          const aether_rows *blocks, const size_t *blk, size_t n_blk, float *out);
    /* The same over bfloat16 token rows (BF16 caches) and over int8 token
     * rows with a power-of-two scale per row (I8 caches): the arithmetic
     * of f32 rows holding the widened values (an int8 row's scale is
     * applied to its score and its weight; exact). */
    void (*query_group_bf16)(const float *q, size_t nh, size_t dim, float scale,
                             const aether_rows16 *tokens, const size_t *tok, size_t n_tok,
                             const aether_rows *blocks, const size_t *blk, size_t n_blk,
                             float *acc, float *out);
    void (*query_heads_bf16)(const float *q, size_t nh, size_t dim, const size_t *koff,
                             float scale, const aether_rows16 *tokens, const size_t *tok,
                             size_t n_tok, const aether_rows *blocks, const size_t *blk,
                             size_t n_blk, float *out);
    void (*query_group_i8)(const float *q, size_t nh, size_t dim, float scale,
                           const aether_rows8 *tokens, const size_t *tok, size_t n_tok,
                           const aether_rows *blocks, const size_t *blk, size_t n_blk, float *acc,
                           float *out);
    void (*query_heads_i8)(const float *q, size_t nh, size_t dim, const size_t *koff, float scale,
                           const aether_rows8 *tokens, const size_t *tok, size_t n_tok,
                           const aether_rows *blocks, const size_t *blk, size_t n_blk, float *out);
    /* dst[0..n) = src[0..n) rounded to binary16 (nearest even): for finite
     * inputs bit for bit aether_f32_to_f16 (the F16 cache's appends). */
    void (*narrow_f16)(const float *src, uint16_t *dst, size_t n);
    /* prefetch for rows of any element size: the first len bytes of the K
     * and V rows idx[0..n), row j at k / v + idx[j] * stride bytes. */
    void (*prefetch_bytes)(const void *k, const void *v, size_t stride, const size_t *idx,
                           size_t n, size_t len);
    size_t lanes; /* floats per vector */
    /* y[b*cols..] = x[b*rows..] . W for b in [0, n) (x: n rows of `rows`
     * floats, y: n rows of cols floats, no overlap): every element by the
     * same operations, in the same order, as matvec on that row alone, so
     * a batch of rows gives the bits of separate matvec calls; each vector
     * of W loaded serves several rows. */
    void (*matmul)(const float *x, size_t n, size_t rows, const float *w, size_t cols,
                   float *y);
    /* Optional (NULL where the ISA has none): x[0..n) (|x| < 32768) as an
     * I8 cache row, bit for bit the scalar quantizer of the I8 appends:
     * q[i] = round(x[i] * 65536) (halves away from zero), m[i] = round(q[i]
     * / 2^s) with the smallest s >= 0 fitting +-127 (core/int8row.h);
     * returns s. */
    unsigned (*to_i8)(const float *x, size_t n, int32_t *q, int8_t *m);
} aether_simd_ops;

/* Most query rows query_group takes at once. */
#define AETHER_QGROUP_MAX 4u
/* Most query rows query_heads takes at once. */
#define AETHER_QHEADS_MAX 8u

/* Machine probes for the benchmark's bounds (aether bench), built with the
 * same vector primitives as the kernels but kept out of their tables (no
 * kernel uses them): fma_probe runs iters steps of 12 independent
 * multiply-add chains of vectors seeded from x (24 * lanes * iters flops);
 * read_probe sums p[0..n) with streaming vector loads. Both return a value
 * that depends on all their work. */
typedef struct aether_simd_probes {
    const char *name;
    size_t lanes; /* floats per vector */
    float (*fma_probe)(size_t iters, float x);
    float (*read_probe)(const float *p, size_t n);
} aether_simd_probes;

/* Declares the getters of ISA `isa` (defined by ops.c compiled with
 * -DAE_ISA=isa): aether_simd_<isa>_ returns its ops table and
 * aether_simd_probes_<isa>_ its probes, both NULL where this build does
 * not target the ISA. src/dispatch/mode.c declares one pair per row of its
 * table. */
#define AETHER_SIMD_GETTERS(isa)                       \
    const aether_simd_ops *aether_simd_##isa##_(void); \
    const aether_simd_probes *aether_simd_probes_##isa##_(void)

#endif /* AETHER_SIMD_SIMD_H */
