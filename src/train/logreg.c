/* Multinomial logistic regression (the baseline): standardised inputs,
 * class-weighted full-batch gradient descent with L2 and Nesterov-free
 * momentum, deterministic. */
#include "train/train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void aether_logreg_free(aether_logreg *m)
{
    if (!m)
        return;
    free(m->w);
    free(m->mean);
    free(m->inv_std);
    memset(m, 0, sizeof *m);
}

static void scores(const aether_logreg *m, const float *row, double *s)
{
    size_t i, c, D = m->dim, C = m->n_classes;
    for (c = 0; c < C; ++c)
        s[c] = m->w[D * C + c];
    for (i = 0; i < D; ++i) {
        double z = ((double)row[i] - m->mean[i]) * m->inv_std[i];
        for (c = 0; c < C; ++c)
            s[c] += z * m->w[i * C + c];
    }
}

size_t aether_logreg_predict(const aether_logreg *m, const float *row)
{
    double s[AETHER_TRAIN_MAX_CLASSES];
    size_t c, best = 0;
    if (!m || !row || !m->w || m->n_classes > AETHER_TRAIN_MAX_CLASSES)
        return 0;
    scores(m, row, s);
    for (c = 1; c < m->n_classes; ++c)
        if (s[c] > s[best])
            best = c;
    return best;
}

aether_status aether_logreg_fit(aether_logreg *m, const float *x, const size_t *y, size_t n,
                                size_t dim, size_t n_classes, float l2, size_t iters)
{
    double cw[AETHER_TRAIN_MAX_CLASSES] = {0}, s[AETHER_TRAIN_MAX_CLASSES];
    double *g, *vel;
    size_t i, j, c, it, nw, nx;
    if (!m || !x || !y)
        return AETHER_ERR_NULL_ARG;
    if (n == 0 || dim == 0 || n_classes < 2 || n_classes > AETHER_TRAIN_MAX_CLASSES)
        return AETHER_ERR_INVALID_ARG;
    /* A NaN or infinite l2 would make every weight NaN, a negative one
     * drives them away without bound. */
    if (!(l2 >= 0.0f) || isinf(l2))
        return AETHER_ERR_INVALID_ARG;
    if (aether_size_mul(n, dim, &nx) != AETHER_OK || aether_size_add(dim, 1, &nw) != AETHER_OK ||
        aether_size_mul(nw, n_classes, &nw) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    for (i = 0; i < n; ++i) {
        if (y[i] >= n_classes)
            return AETHER_ERR_INVALID_ARG;
        cw[y[i]] += 1.0;
    }
    /* One NaN or Inf row value makes its column's mean NaN, and with it
     * every weight: rejected before m is touched. */
    for (i = 0; i < nx; ++i)
        if (!isfinite(x[i]))
            return AETHER_ERR_NONFINITE;
    memset(m, 0, sizeof *m);
    m->dim = dim;
    m->n_classes = n_classes;
    m->w = (float *)calloc(nw, sizeof(float));
    m->mean = (float *)calloc(dim, sizeof(float));
    m->inv_std = (float *)calloc(dim, sizeof(float));
    g = (double *)calloc(nw, sizeof(double));
    vel = (double *)calloc(nw, sizeof(double));
    if (!m->w || !m->mean || !m->inv_std || !g || !vel) {
        free(g);
        free(vel);
        aether_logreg_free(m);
        return AETHER_ERR_NO_MEM;
    }
    for (c = 0; c < n_classes; ++c)
        cw[c] = cw[c] > 0.0 ? (double)n / ((double)n_classes * cw[c]) : 0.0;
    for (j = 0; j < dim; ++j) {
        double mu = 0.0, var = 0.0;
        for (i = 0; i < n; ++i)
            mu += x[i * dim + j];
        mu /= (double)n;
        for (i = 0; i < n; ++i)
            var += (x[i * dim + j] - mu) * (x[i * dim + j] - mu);
        var /= (double)n;
        m->mean[j] = (float)mu;
        m->inv_std[j] = (float)(var > 1e-12 ? 1.0 / sqrt(var) : 0.0);
    }
    for (it = 0; it < iters; ++it) {
        memset(g, 0, nw * sizeof(double));
        for (i = 0; i < n; ++i) {
            const float *row = x + i * dim;
            double mx, z = 0.0;
            scores(m, row, s);
            mx = s[0];
            for (c = 1; c < n_classes; ++c)
                if (s[c] > mx)
                    mx = s[c];
            for (c = 0; c < n_classes; ++c) {
                s[c] = exp(s[c] - mx);
                z += s[c];
            }
            for (c = 0; c < n_classes; ++c)
                s[c] = cw[y[i]] * (s[c] / z - (c == y[i])) / (double)n;
            for (j = 0; j < dim; ++j) {
                double zj = ((double)row[j] - m->mean[j]) * m->inv_std[j];
                for (c = 0; c < n_classes; ++c)
                    g[j * n_classes + c] += zj * s[c];
            }
            for (c = 0; c < n_classes; ++c)
                g[dim * n_classes + c] += s[c];
        }
        for (j = 0; j < nw; ++j) {
            if (j < dim * n_classes)
                g[j] += (double)l2 * m->w[j];
            vel[j] = 0.9 * vel[j] - 0.5 * g[j];
            m->w[j] = (float)(m->w[j] + vel[j]);
        }
    }
    free(g);
    free(vel);
    return AETHER_OK;
}
