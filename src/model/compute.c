/* The reference arithmetic (docs/MODEL.md section 2.2) shared by forward and streaming. */
#include "model/model_internal.h"

void aether_model_matvec_(const float *x, size_t rows, const float *w, size_t cols, float *y)
{
    /* y[j] = ((0 + x[0] w[0][j]) + x[1] w[1][j]) + ...: each sum adds its
     * products with i ascending, the order the spec fixes. Eight (then four)
     * columns at a time, their sums held in registers over the rows: on a scalar FPU
     * about half the instructions of a row-outer loop, which loads and
     * stores y[j] for every product. Every sum keeps its order, so the bits
     * do not change. x and y do not overlap. */
    size_t i, j = 0;
    for (; j + 8 <= cols; j += 8) {
        const float *wc = w + j;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        float s4 = 0.0f, s5 = 0.0f, s6 = 0.0f, s7 = 0.0f;
        for (i = 0; i < rows; ++i, wc += cols) {
            const float xi = x[i];
            s0 = s0 + xi * wc[0];
            s1 = s1 + xi * wc[1];
            s2 = s2 + xi * wc[2];
            s3 = s3 + xi * wc[3];
            s4 = s4 + xi * wc[4];
            s5 = s5 + xi * wc[5];
            s6 = s6 + xi * wc[6];
            s7 = s7 + xi * wc[7];
        }
        y[j] = s0;
        y[j + 1] = s1;
        y[j + 2] = s2;
        y[j + 3] = s3;
        y[j + 4] = s4;
        y[j + 5] = s5;
        y[j + 6] = s6;
        y[j + 7] = s7;
    }
    for (; j + 4 <= cols; j += 4) {
        const float *wc = w + j;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        for (i = 0; i < rows; ++i, wc += cols) {
            const float xi = x[i];
            s0 = s0 + xi * wc[0];
            s1 = s1 + xi * wc[1];
            s2 = s2 + xi * wc[2];
            s3 = s3 + xi * wc[3];
        }
        y[j] = s0;
        y[j + 1] = s1;
        y[j + 2] = s2;
        y[j + 3] = s3;
    }
    for (; j < cols; ++j) {
        const float *wc = w + j;
        float s = 0.0f;
        for (i = 0; i < rows; ++i, wc += cols)
            s = s + x[i] * wc[0];
        y[j] = s;
    }
}

void aether_model_matmul_(const float *x, size_t n, size_t rows, const float *w, size_t cols,
                          float *y)
{
    /* Every y[b][j] is the sum of aether_model_matvec_: from 0, i
     * ascending, one rounding per product and per add. Rows go two at a
     * time (four columns of both per pass over W, so each weight read
     * serves two sums); only the grouping of the independent sums
     * differs, which does not change any of them. A row left over goes
     * through aether_model_matvec_ itself. */
    size_t b, i, j;
    for (b = 0; b + 2 <= n; b += 2) {
        const float *x0 = x + b * rows, *x1 = x0 + rows;
        float *y0 = y + b * cols, *y1 = y0 + cols;
        for (j = 0; j + 4 <= cols; j += 4) {
            const float *wc = w + j;
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
            for (i = 0; i < rows; ++i, wc += cols) {
                const float xi = x0[i], xk = x1[i];
                s0 = s0 + xi * wc[0];
                s1 = s1 + xi * wc[1];
                s2 = s2 + xi * wc[2];
                s3 = s3 + xi * wc[3];
                t0 = t0 + xk * wc[0];
                t1 = t1 + xk * wc[1];
                t2 = t2 + xk * wc[2];
                t3 = t3 + xk * wc[3];
            }
            y0[j] = s0;
            y0[j + 1] = s1;
            y0[j + 2] = s2;
            y0[j + 3] = s3;
            y1[j] = t0;
            y1[j + 1] = t1;
            y1[j + 2] = t2;
            y1[j + 3] = t3;
        }
        for (; j < cols; ++j) {
            const float *wc = w + j;
            float s = 0.0f, t = 0.0f;
            for (i = 0; i < rows; ++i, wc += cols) {
                s = s + x0[i] * wc[0];
                t = t + x1[i] * wc[0];
            }
            y0[j] = s;
            y1[j] = t;
        }
    }
    if (b < n)
        aether_model_matvec_(x + b * rows, rows, w, cols, y + b * cols);
}

void aether_model_prepare_frame_(const aether_model *m, const float *x, float *h)
{
    size_t i, n = m->header.input_dim;
    if (m->header.flags & AETHER_BLOB_FLAG_INPUT_NORM) {
        const float *mean = m->w + m->layout.norm_mean;
        const float *inv_std = m->w + m->layout.norm_inv_std;
        for (i = 0; i < n; ++i)
            h[i] = (x[i] - mean[i]) * inv_std[i];
    } else {
        for (i = 0; i < n; ++i)
            h[i] = x[i];
    }
}

void aether_model_residual_(const aether_model *m, size_t layer, const float *a, float *tmp,
                            float *h)
{
    size_t j, n = m->header.input_dim;
    aether_model_matvec_(a, m->layout.q_width, aether_model_wo_(m, layer), n, tmp);
    for (j = 0; j < n; ++j)
        h[j] = h[j] + tmp[j];
}

const float *aether_model_wq_(const aether_model *m, size_t l)
{
    return m->w + l * m->layout.layer_elems + m->layout.wq;
}

const float *aether_model_wk_(const aether_model *m, size_t l)
{
    return m->w + l * m->layout.layer_elems + m->layout.wk;
}

const float *aether_model_wv_(const aether_model *m, size_t l)
{
    return m->w + l * m->layout.layer_elems + m->layout.wv;
}

const float *aether_model_wo_(const aether_model *m, size_t l)
{
    return m->w + l * m->layout.layer_elems + m->layout.wo;
}

const float *aether_model_wc_(const aether_model *m)
{
    return m->w + m->layout.classifier;
}
