/*
 * Template source of the projection products (simd.h, ops->matvec and
 * ops->matmul): compiled once per ISA with -DAE_ISA=<isa> and that ISA's
 * flags (see simd/kern.h).
 *
 * Y = X . W for n rows of X, each output element by exactly the sequence of
 * operations matvec applies to that row alone, so a batch gives the bits of
 * n separate products:
 *   columns [0, jw), jw = cols rounded down to 4 vectors: one fused
 *     multiply-add per row of W, rows ascending, from zero;
 *   columns [jw, jn), jn = cols rounded down to 1 vector: eight partial
 *     sums over the rows (row i into sum i % 8 while eight rows remain,
 *     the rest into sum 0), added as ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7));
 *   columns [jn, cols): a scalar sum of products, rows ascending.
 * In the first region the register block is several rows of X times two
 * vectors of columns: each vector of W loaded once serves the whole block.
 * In the second, vectors go in pairs where they can: one broadcast of x
 * serves both (the products are bound by loads, not by the multiply-adds).
 */
#include "aether/core.h"
#include "simd/kern.h"

#if AE_ISA_ON
#define AE_MMB 4u /* rows of X per register block */

/* Rows b0..b0+nb (nb <= AE_MMB) over the column vectors [j, j + 2 * AE_VW):
 * fused sums in row order. */
static void AE_FN(mm_wide)(const float *x, size_t nb, size_t rows, const float *w, size_t cols,
                           size_t j, float *y)
{
    size_t i;
    if (nb == AE_MMB) {
        const float *x0 = x, *x1 = x + rows, *x2 = x + 2 * rows, *x3 = x + 3 * rows;
        AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), b0 = AE_ZERO(), b1 = AE_ZERO();
        AE_V c0 = AE_ZERO(), c1 = AE_ZERO(), d0 = AE_ZERO(), d1 = AE_ZERO();
        for (i = 0; i < rows; ++i) {
            const float *wr = w + i * cols + j;
            AE_V w0 = AE_LOADU(wr), w1 = AE_LOADU(wr + AE_VW), xv;
            xv = AE_SET1(x0[i]);
            a0 = AE_FMA(xv, w0, a0);
            a1 = AE_FMA(xv, w1, a1);
            xv = AE_SET1(x1[i]);
            b0 = AE_FMA(xv, w0, b0);
            b1 = AE_FMA(xv, w1, b1);
            xv = AE_SET1(x2[i]);
            c0 = AE_FMA(xv, w0, c0);
            c1 = AE_FMA(xv, w1, c1);
            xv = AE_SET1(x3[i]);
            d0 = AE_FMA(xv, w0, d0);
            d1 = AE_FMA(xv, w1, d1);
        }
        AE_STOREU(y + j, a0);
        AE_STOREU(y + j + AE_VW, a1);
        AE_STOREU(y + cols + j, b0);
        AE_STOREU(y + cols + j + AE_VW, b1);
        AE_STOREU(y + 2 * cols + j, c0);
        AE_STOREU(y + 2 * cols + j + AE_VW, c1);
        AE_STOREU(y + 3 * cols + j, d0);
        AE_STOREU(y + 3 * cols + j + AE_VW, d1);
        return;
    }
    for (; nb > 0; --nb, x += rows, y += cols) {
        AE_V a0 = AE_ZERO(), a1 = AE_ZERO();
        for (i = 0; i < rows; ++i) {
            const float *wr = w + i * cols + j;
            AE_V xv = AE_SET1(x[i]);
            a0 = AE_FMA(xv, AE_LOADU(wr), a0);
            a1 = AE_FMA(xv, AE_LOADU(wr + AE_VW), a1);
        }
        AE_STOREU(y + j, a0);
        AE_STOREU(y + j + AE_VW, a1);
    }
}

/* One row of X over the column vector [j, j + AE_VW): eight partial sums. */
static void AE_FN(mm_narrow)(const float *x, size_t rows, const float *w, size_t cols, size_t j,
                             float *y)
{
    AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
    AE_V a4 = AE_ZERO(), a5 = AE_ZERO(), a6 = AE_ZERO(), a7 = AE_ZERO();
    size_t i;
    for (i = 0; i + 8 <= rows; i += 8) {
        const float *wr = w + i * cols + j;
        a0 = AE_FMA(AE_SET1(x[i]), AE_LOADU(wr), a0);
        a1 = AE_FMA(AE_SET1(x[i + 1]), AE_LOADU(wr + cols), a1);
        a2 = AE_FMA(AE_SET1(x[i + 2]), AE_LOADU(wr + 2 * cols), a2);
        a3 = AE_FMA(AE_SET1(x[i + 3]), AE_LOADU(wr + 3 * cols), a3);
        a4 = AE_FMA(AE_SET1(x[i + 4]), AE_LOADU(wr + 4 * cols), a4);
        a5 = AE_FMA(AE_SET1(x[i + 5]), AE_LOADU(wr + 5 * cols), a5);
        a6 = AE_FMA(AE_SET1(x[i + 6]), AE_LOADU(wr + 6 * cols), a6);
        a7 = AE_FMA(AE_SET1(x[i + 7]), AE_LOADU(wr + 7 * cols), a7);
    }
    for (; i < rows; ++i)
        a0 = AE_FMA(AE_SET1(x[i]), AE_LOADU(w + i * cols + j), a0);
    a0 = AE_ADD(AE_ADD(a0, a1), AE_ADD(a2, a3));
    a4 = AE_ADD(AE_ADD(a4, a5), AE_ADD(a6, a7));
    AE_STOREU(y + j, AE_ADD(a0, a4));
}

/* Two column vectors [j, j + 2 * AE_VW) of one row of X: for each, the
 * eight partial sums and the final adds of mm_narrow, in its order. Sums
 * 0-3 of both vectors first, reduced to ((0 + 1) + (2 + 3)), then sums
 * 4-7: each broadcast of x serves both vectors, and eight chains run at a
 * time in registers. */
static void AE_FN(mm_narrow2)(const float *x, size_t rows, const float *w, size_t cols, size_t j,
                              float *y)
{
    const size_t r8 = rows / 8 * 8;
    size_t i;
    AE_V lo0, lo1;
    {
        AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
        AE_V b0 = AE_ZERO(), b1 = AE_ZERO(), b2 = AE_ZERO(), b3 = AE_ZERO();
        for (i = 0; i < r8; i += 8) {
            const float *wr = w + i * cols + j;
            AE_V xv = AE_SET1(x[i]);
            a0 = AE_FMA(xv, AE_LOADU(wr), a0);
            b0 = AE_FMA(xv, AE_LOADU(wr + AE_VW), b0);
            xv = AE_SET1(x[i + 1]);
            a1 = AE_FMA(xv, AE_LOADU(wr + cols), a1);
            b1 = AE_FMA(xv, AE_LOADU(wr + cols + AE_VW), b1);
            xv = AE_SET1(x[i + 2]);
            a2 = AE_FMA(xv, AE_LOADU(wr + 2 * cols), a2);
            b2 = AE_FMA(xv, AE_LOADU(wr + 2 * cols + AE_VW), b2);
            xv = AE_SET1(x[i + 3]);
            a3 = AE_FMA(xv, AE_LOADU(wr + 3 * cols), a3);
            b3 = AE_FMA(xv, AE_LOADU(wr + 3 * cols + AE_VW), b3);
        }
        /* rows past the last whole group of eight go to sum 0 */
        for (i = r8; i < rows; ++i) {
            const float *wr = w + i * cols + j;
            AE_V xv = AE_SET1(x[i]);
            a0 = AE_FMA(xv, AE_LOADU(wr), a0);
            b0 = AE_FMA(xv, AE_LOADU(wr + AE_VW), b0);
        }
        lo0 = AE_ADD(AE_ADD(a0, a1), AE_ADD(a2, a3));
        lo1 = AE_ADD(AE_ADD(b0, b1), AE_ADD(b2, b3));
    }
    {
        AE_V a4 = AE_ZERO(), a5 = AE_ZERO(), a6 = AE_ZERO(), a7 = AE_ZERO();
        AE_V b4 = AE_ZERO(), b5 = AE_ZERO(), b6 = AE_ZERO(), b7 = AE_ZERO();
        for (i = 0; i < r8; i += 8) {
            const float *wr = w + (i + 4) * cols + j;
            AE_V xv = AE_SET1(x[i + 4]);
            a4 = AE_FMA(xv, AE_LOADU(wr), a4);
            b4 = AE_FMA(xv, AE_LOADU(wr + AE_VW), b4);
            xv = AE_SET1(x[i + 5]);
            a5 = AE_FMA(xv, AE_LOADU(wr + cols), a5);
            b5 = AE_FMA(xv, AE_LOADU(wr + cols + AE_VW), b5);
            xv = AE_SET1(x[i + 6]);
            a6 = AE_FMA(xv, AE_LOADU(wr + 2 * cols), a6);
            b6 = AE_FMA(xv, AE_LOADU(wr + 2 * cols + AE_VW), b6);
            xv = AE_SET1(x[i + 7]);
            a7 = AE_FMA(xv, AE_LOADU(wr + 3 * cols), a7);
            b7 = AE_FMA(xv, AE_LOADU(wr + 3 * cols + AE_VW), b7);
        }
        a4 = AE_ADD(AE_ADD(a4, a5), AE_ADD(a6, a7));
        b4 = AE_ADD(AE_ADD(b4, b5), AE_ADD(b6, b7));
        AE_STOREU(y + j, AE_ADD(lo0, a4));
        AE_STOREU(y + j + AE_VW, AE_ADD(lo1, b4));
    }
}

/* Columns [j0, cols): a scalar sum of products, rows ascending. Four
 * columns at a time, their sums held over the rows, so the four chains of
 * adds overlap (each sum keeps its order: the bits of one column alone). */
static void AE_FN(mm_tail)(const float *x, size_t rows, const float *w, size_t cols, size_t j0,
                           float *y)
{
    size_t i, j = j0;
    for (; j + 4 <= cols; j += 4) {
        const float *wc = w + j;
        float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
        for (i = 0; i < rows; ++i, wc += cols) {
            const float xi = x[i];
            t0 += xi * wc[0];
            t1 += xi * wc[1];
            t2 += xi * wc[2];
            t3 += xi * wc[3];
        }
        y[j] = t0;
        y[j + 1] = t1;
        y[j + 2] = t2;
        y[j + 3] = t3;
    }
    for (; j < cols; ++j) {
        float t = 0.0f;
        for (i = 0; i < rows; ++i)
            t += x[i] * w[i * cols + j];
        y[j] = t;
    }
}

/* y = x . W, columns in the lanes, up to eight vectors of columns per pass. */
void AE_XFN(matvec)(const float *x, size_t rows, const float *w, size_t cols, float *y)
{
    size_t i, j = 0;
    for (; j + 8 * AE_VW <= cols; j += 8 * AE_VW) {
        AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
        AE_V a4 = AE_ZERO(), a5 = AE_ZERO(), a6 = AE_ZERO(), a7 = AE_ZERO();
        for (i = 0; i < rows; ++i) {
            const float *wr = w + i * cols + j;
            AE_V xv = AE_SET1(x[i]);
            a0 = AE_FMA(xv, AE_LOADU(wr), a0);
            a1 = AE_FMA(xv, AE_LOADU(wr + AE_VW), a1);
            a2 = AE_FMA(xv, AE_LOADU(wr + 2 * AE_VW), a2);
            a3 = AE_FMA(xv, AE_LOADU(wr + 3 * AE_VW), a3);
            a4 = AE_FMA(xv, AE_LOADU(wr + 4 * AE_VW), a4);
            a5 = AE_FMA(xv, AE_LOADU(wr + 5 * AE_VW), a5);
            a6 = AE_FMA(xv, AE_LOADU(wr + 6 * AE_VW), a6);
            a7 = AE_FMA(xv, AE_LOADU(wr + 7 * AE_VW), a7);
        }
        AE_STOREU(y + j, a0);
        AE_STOREU(y + j + AE_VW, a1);
        AE_STOREU(y + j + 2 * AE_VW, a2);
        AE_STOREU(y + j + 3 * AE_VW, a3);
        AE_STOREU(y + j + 4 * AE_VW, a4);
        AE_STOREU(y + j + 5 * AE_VW, a5);
        AE_STOREU(y + j + 6 * AE_VW, a6);
        AE_STOREU(y + j + 7 * AE_VW, a7);
    }
    for (; j + 4 * AE_VW <= cols; j += 4 * AE_VW) {
        AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
        for (i = 0; i < rows; ++i) {
            const float *wr = w + i * cols + j;
            AE_V xv = AE_SET1(x[i]);
            a0 = AE_FMA(xv, AE_LOADU(wr), a0);
            a1 = AE_FMA(xv, AE_LOADU(wr + AE_VW), a1);
            a2 = AE_FMA(xv, AE_LOADU(wr + 2 * AE_VW), a2);
            a3 = AE_FMA(xv, AE_LOADU(wr + 3 * AE_VW), a3);
        }
        AE_STOREU(y + j, a0);
        AE_STOREU(y + j + AE_VW, a1);
        AE_STOREU(y + j + 2 * AE_VW, a2);
        AE_STOREU(y + j + 3 * AE_VW, a3);
    }
    /* Narrow blocks: eight partial sums over the rows, so the adds do not
     * wait on one another (Wo has few columns and many rows); two vectors
     * at a time share the broadcasts. No call for an empty tail: the
     * projections of the temporal model have none. */
    for (; j + 2 * AE_VW <= cols; j += 2 * AE_VW)
        AE_FN(mm_narrow2)(x, rows, w, cols, j, y);
    for (; j + AE_VW <= cols; j += AE_VW)
        AE_FN(mm_narrow)(x, rows, w, cols, j, y);
    if (j < cols)
        AE_FN(mm_tail)(x, rows, w, cols, j, y);
}

void AE_XFN(matmul)(const float *x, size_t n, size_t rows, const float *w, size_t cols, float *y)
{
    size_t jw = cols / (4 * AE_VW) * (4 * AE_VW), jn = cols / AE_VW * AE_VW, b, j;
    for (j = 0; j < jw; j += 2 * AE_VW)
        for (b = 0; b < n; b += AE_MMB)
            AE_FN(mm_wide)
            (x + b * rows, n - b < AE_MMB ? n - b : AE_MMB, rows, w, cols, j, y + b * cols);
    for (b = 0; b < n; ++b) {
        const float *xb = x + b * rows;
        float *yb = y + b * cols;
        for (j = jw; j + 2 * AE_VW <= jn; j += 2 * AE_VW)
            AE_FN(mm_narrow2)(xb, rows, w, cols, j, yb);
        for (; j < jn; j += AE_VW)
            AE_FN(mm_narrow)(xb, rows, w, cols, j, yb);
        AE_FN(mm_tail)(xb, rows, w, cols, jn, yb);
    }
}
#endif /* AE_ISA_ON */
