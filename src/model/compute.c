/* The reference arithmetic (docs/MODEL.md section 2.2) shared by forward and streaming. */
#include "model/model_internal.h"

void aether_model_matvec_(const float *x, size_t rows, const float *w, size_t cols, float *y)
{
    size_t i, j;
    for (j = 0; j < cols; ++j)
        y[j] = 0.0f;
    /* Row-outer keeps W streaming in memory order; each y[j] still sums its
     * products with i ascending, which is the order the spec fixes. */
    for (i = 0; i < rows; ++i) {
        const float xi = x[i];
        const float *wr = w + i * cols;
        for (j = 0; j < cols; ++j)
            y[j] = y[j] + xi * wr[j];
    }
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
