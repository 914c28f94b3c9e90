/* Time-based validation split, normalisation statistics and evaluation. */
#include "core/workspace.h"
#include "train/train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int rec_before(const aether_train_recording *a, const aether_train_recording *b)
{
    if (a->time != b->time)
        return a->time < b->time;
    return strcmp(a->name, b->name) < 0;
}

aether_status aether_train_split_by_time(aether_train_recording *recs, size_t n_recs,
                                         size_t n_classes, double val_fraction)
{
    size_t c, i, j, *idx;
    if (!recs && n_recs > 0)
        return AETHER_ERR_NULL_ARG;
    if (!(val_fraction >= 0.0 && val_fraction < 1.0))
        return AETHER_ERR_INVALID_ARG;
    /* A NaN time has no place in the order: (time, name) would stop being
     * a total order and the split would depend on the input order. */
    for (i = 0; i < n_recs; ++i)
        if (recs[i].label >= n_classes || isnan(recs[i].time))
            return AETHER_ERR_INVALID_ARG;
    idx = (size_t *)malloc((n_recs ? n_recs : 1) * sizeof(size_t));
    if (!idx)
        return AETHER_ERR_NO_MEM;
    for (c = 0; c < n_classes; ++c) {
        size_t n = 0, n_val;
        for (i = 0; i < n_recs; ++i)
            if (recs[i].label == c)
                idx[n++] = i;
        /* insertion sort by (time, name): n is small */
        for (i = 1; i < n; ++i)
            for (j = i; j > 0 && rec_before(&recs[idx[j]], &recs[idx[j - 1]]); --j) {
                size_t t = idx[j];
                idx[j] = idx[j - 1];
                idx[j - 1] = t;
            }
        n_val = (size_t)floor(val_fraction * (double)n + 0.5);
        if (n_val == 0 && n >= 2 && val_fraction > 0.0)
            n_val = 1;
        if (n_val >= n && n > 0)
            n_val = n - 1;
        for (i = 0; i < n; ++i)
            recs[idx[i]].split = i + n_val >= n ? AETHER_SPLIT_VAL : AETHER_SPLIT_TRAIN;
    }
    free(idx);
    return AETHER_OK;
}

aether_status aether_train_norm_stats(const aether_train_recording *recs, size_t n_recs,
                                      size_t dim, const unsigned char *mask, float std_floor,
                                      float *mean, float *inv_std)
{
    double *s, *s2;
    double cnt = 0.0;
    size_t r, t, j;
    if ((!recs && n_recs) || !mean || !inv_std)
        return AETHER_ERR_NULL_ARG;
    if (dim == 0 || !(std_floor > 0.0f))
        return AETHER_ERR_INVALID_ARG;
    s = (double *)calloc(dim, sizeof(double));
    s2 = (double *)calloc(dim, sizeof(double));
    if (!s || !s2) {
        free(s);
        free(s2);
        return AETHER_ERR_NO_MEM;
    }
    for (r = 0; r < n_recs; ++r) {
        if (recs[r].split != AETHER_SPLIT_TRAIN)
            continue;
        for (t = 0; t < recs[r].n_frames; ++t)
            for (j = 0; j < dim; ++j) {
                float x = recs[r].frames[t * dim + j];
                /* A NaN or Inf would make the feature's mean and inv_std
                 * NaN: rejected, mean and inv_std left as they were. */
                if (!isfinite(x)) {
                    free(s);
                    free(s2);
                    return AETHER_ERR_NONFINITE;
                }
                s[j] += x;
            }
        cnt += (double)recs[r].n_frames;
    }
    for (j = 0; j < dim; ++j)
        s[j] = cnt > 0.0 ? s[j] / cnt : 0.0;
    for (r = 0; r < n_recs; ++r) {
        if (recs[r].split != AETHER_SPLIT_TRAIN)
            continue;
        for (t = 0; t < recs[r].n_frames; ++t)
            for (j = 0; j < dim; ++j) {
                double d = recs[r].frames[t * dim + j] - s[j];
                s2[j] += d * d;
            }
    }
    for (j = 0; j < dim; ++j) {
        double sd = cnt > 0.0 ? sqrt(s2[j] / cnt) : 1.0;
        if (sd < (double)std_floor)
            sd = (double)std_floor;
        if (mask && !mask[j]) {
            mean[j] = 0.0f;
            inv_std[j] = 0.0f;
        } else {
            mean[j] = (float)s[j];
            inv_std[j] = (float)(1.0 / sd);
        }
    }
    free(s);
    free(s2);
    return AETHER_OK;
}

size_t aether_train_eval_windows(size_t n_frames, size_t window, size_t stride)
{
    if (n_frames == 0 || window == 0 || stride == 0)
        return 0;
    if (n_frames <= window)
        return 1;
    return (n_frames - window) / stride + 1;
}

static aether_status evaluate(const aether_train_net *net, const aether_train_recording *recs,
                              size_t n_recs, int split, size_t window, size_t stride,
                              aether_pool pool, size_t *conf, double *loss_sum, size_t *n_windows,
                              void *ws, size_t ws_len)
{
    size_t r, k, C, need = 0, count = 0;
    double lsum = 0.0;
    float logits[AETHER_TRAIN_MAX_CLASSES];
    aether_status st = AETHER_OK;
    if (!net || (!recs && n_recs) || !conf)
        return AETHER_ERR_NULL_ARG;
    if (window == 0 || stride == 0)
        return AETHER_ERR_INVALID_ARG;
    C = aether_train_net_header(net)->n_classes;
    if (C > AETHER_TRAIN_MAX_CLASSES)
        return AETHER_ERR_INVALID_ARG;
    st = aether_train_example_ws_size(net, window, &need);
    if (st != AETHER_OK)
        return st;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    /* Every recording that will be scored is checked first, so a bad one
     * does not leave conf counting the windows of those before it. */
    for (r = 0; r < n_recs; ++r) {
        const aether_train_recording *rc = &recs[r];
        size_t nw, dim = aether_train_net_header(net)->input_dim, used, i;
        if (split >= 0 && rc->split != split)
            continue;
        if (rc->label >= C)
            return AETHER_ERR_INVALID_ARG;
        nw = aether_train_eval_windows(rc->n_frames, window, stride);
        if (nw == 0)
            continue;
        if (!rc->frames)
            return AETHER_ERR_NULL_ARG;
        /* the frames the windows read: up to the end of the last one */
        used = rc->n_frames < window ? rc->n_frames : (nw - 1) * stride + window;
        for (i = 0; i < used * dim; ++i)
            if (!aether_isfinite(rc->frames[i]))
                return AETHER_ERR_NONFINITE;
    }
    for (r = 0; r < n_recs && st == AETHER_OK; ++r) {
        const aether_train_recording *rc = &recs[r];
        size_t nw, dim = aether_train_net_header(net)->input_dim;
        if (split >= 0 && rc->split != split)
            continue;
        nw = aether_train_eval_windows(rc->n_frames, window, stride);
        for (k = 0; k < nw; ++k) {
            size_t off = k * stride, len = rc->n_frames < window ? rc->n_frames : window;
            size_t c, best = 0;
            double l = 0.0;
            st = aether_train_example(net, rc->frames + off * dim, len, pool, rc->label, 1.0f,
                                      NULL, logits, &l, ws, ws_len);
            if (st != AETHER_OK)
                break;
            for (c = 1; c < C; ++c)
                if (logits[c] > logits[best])
                    best = c;
            conf[rc->label * C + best]++;
            lsum += l;
            count++;
        }
    }
    if (st == AETHER_OK) {
        if (loss_sum)
            *loss_sum = lsum;
        if (n_windows)
            *n_windows = count;
    }
    return st;
}

aether_kernel_mode aether_train_reference_begin_(void)
{
    aether_kernel_mode saved = aether_get_kernel_mode();
    if (saved != AETHER_KERNELS_REFERENCE)
        (void)aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
    return saved;
}

void aether_train_reference_end_(aether_kernel_mode saved)
{
    if (saved != AETHER_KERNELS_REFERENCE)
        (void)aether_set_kernel_mode(saved);
}

/* Scored with the reference kernels, like aether_train_fit's epochs. */
aether_status aether_train_evaluate(const aether_train_net *net,
                                    const aether_train_recording *recs, size_t n_recs, int split,
                                    size_t window, size_t stride, aether_pool pool, size_t *conf,
                                    double *loss_sum, size_t *n_windows, void *ws, size_t ws_len)
{
    aether_kernel_mode saved = aether_train_reference_begin_();
    aether_status st = evaluate(net, recs, n_recs, split, window, stride, pool, conf, loss_sum,
                                n_windows, ws, ws_len);
    aether_train_reference_end_(saved);
    return st;
}
