/* Running per-feature normalisation (Welford or EMA) with a CRC-checked
 * little-endian state format (layout in aether/features.h). */
#include "aether/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "features_internal.h"

#define NORM_MAX_DIM 4096u
#define NORM_HEADER 32u

struct aether_feature_norm {
    aether_norm_config cfg;
    uint64_t count;
    double *mean;
    double *m2; /* WELFORD: sum of squared deviations; EMA: variance */
    void *owned;
};

aether_norm_config aether_norm_config_default(size_t dim)
{
    aether_norm_config c;
    c.dim = dim;
    c.mode = AETHER_NORM_WELFORD;
    c.alpha = 0.01f;
    c.eps = 1e-6f;
    return c;
}

static aether_status check_config(const aether_norm_config *cfg)
{
    if (!cfg)
        return AETHER_ERR_NULL_ARG;
    if (cfg->dim < 1 || cfg->dim > NORM_MAX_DIM)
        return AETHER_ERR_INVALID_ARG;
    if (cfg->mode != AETHER_NORM_WELFORD && cfg->mode != AETHER_NORM_EMA)
        return AETHER_ERR_INVALID_ARG;
    if (!aether_isfinite(cfg->eps) || !(cfg->eps > 0.0f))
        return AETHER_ERR_INVALID_ARG;
    if (cfg->mode == AETHER_NORM_EMA && !(cfg->alpha > 0.0f && cfg->alpha <= 1.0f))
        return AETHER_ERR_INVALID_ARG;
    return AETHER_OK;
}

static aether_feature_norm *layout(aether_arena *a, const aether_norm_config *cfg)
{
    aether_feature_norm *n = (aether_feature_norm *)
        aether_arena_alloc(a, 1, sizeof(aether_feature_norm), AETHER_ALIGN);
    double *mean = (double *)aether_arena_alloc(a, cfg->dim, sizeof(double), AETHER_ALIGN);
    double *m2 = (double *)aether_arena_alloc(a, cfg->dim, sizeof(double), AETHER_ALIGN);
    if (!n || !mean || !m2)
        return NULL;
    n->cfg = *cfg;
    n->count = 0;
    n->mean = mean;
    n->m2 = m2;
    n->owned = NULL;
    return n;
}

static void *layout_any(aether_arena *a, const void *cfg)
{
    return layout(a, (const aether_norm_config *)cfg);
}

aether_status aether_norm_size(const aether_norm_config *cfg, size_t *bytes)
{
    aether_status s = check_config(cfg);
    return s != AETHER_OK ? s : aether_feat_layout_size_(layout_any, cfg, bytes);
}

aether_status aether_norm_init(void *buf, size_t len, const aether_norm_config *cfg,
                               aether_feature_norm **out)
{
    void *o;
    aether_status s = check_config(cfg);
    if (s != AETHER_OK)
        return s;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    s = aether_feat_layout_init_(layout_any, buf, len, cfg, &o);
    if (s == AETHER_OK)
        *out = (aether_feature_norm *)o;
    return s;
}

aether_status aether_norm_create(const aether_norm_config *cfg, aether_feature_norm **out)
{
    void *o, *block;
    aether_status s = check_config(cfg);
    if (s != AETHER_OK)
        return s;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    s = aether_feat_layout_create_(layout_any, cfg, &o, &block);
    if (s != AETHER_OK)
        return s;
    *out = (aether_feature_norm *)o;
    (*out)->owned = block;
    return AETHER_OK;
}

void aether_norm_destroy(aether_feature_norm *n)
{
    if (n && n->owned)
        free(n->owned);
}

aether_status aether_norm_reset(aether_feature_norm *n)
{
    if (!n)
        return AETHER_ERR_NULL_ARG;
    n->count = 0;
    memset(n->mean, 0, n->cfg.dim * sizeof(double));
    memset(n->m2, 0, n->cfg.dim * sizeof(double));
    return AETHER_OK;
}

uint64_t aether_norm_count(const aether_feature_norm *n)
{
    return n ? n->count : 0;
}

aether_status aether_norm_update(aether_feature_norm *n, const float *x, size_t dim)
{
    size_t i;
    if (!n || !x)
        return AETHER_ERR_NULL_ARG;
    if (dim != n->cfg.dim)
        return AETHER_ERR_SHAPE_MISMATCH;
    for (i = 0; i < dim; ++i)
        if (!aether_isfinite(x[i]))
            return AETHER_ERR_NONFINITE;
    n->count++;
    for (i = 0; i < dim; ++i) {
        double v = (double)x[i];
        double d = v - n->mean[i];
        if (n->cfg.mode == AETHER_NORM_WELFORD) {
            n->mean[i] += d / (double)n->count;
            n->m2[i] += d * (v - n->mean[i]);
        } else if (n->count == 1) {
            n->mean[i] = v;
            n->m2[i] = 0.0;
        } else {
            double a = (double)n->cfg.alpha;
            n->mean[i] += a * d;
            n->m2[i] = (1.0 - a) * (n->m2[i] + a * d * d);
        }
    }
    return AETHER_OK;
}

static double variance(const aether_feature_norm *n, size_t i)
{
    if (n->cfg.mode == AETHER_NORM_WELFORD)
        return n->m2[i] / (double)n->count;
    return n->m2[i];
}

aether_status aether_norm_apply(const aether_feature_norm *n, const float *x, float *y,
                                size_t dim)
{
    size_t i;
    if (!n || !x || !y)
        return AETHER_ERR_NULL_ARG;
    if (dim != n->cfg.dim)
        return AETHER_ERR_SHAPE_MISMATCH;
    if (n->count == 0) {
        if (y != x)
            memmove(y, x, dim * sizeof(float));
        return AETHER_OK;
    }
    for (i = 0; i < dim; ++i) {
        double s = sqrt(variance(n, i) + (double)n->cfg.eps);
        y[i] = (float)(((double)x[i] - n->mean[i]) / s);
    }
    return AETHER_OK;
}

aether_status aether_norm_stats(const aether_feature_norm *n, size_t i, double *mean, double *var)
{
    if (!n || !mean || !var)
        return AETHER_ERR_NULL_ARG;
    if (i >= n->cfg.dim)
        return AETHER_ERR_INVALID_ARG;
    if (n->count == 0) {
        *mean = 0.0;
        *var = 1.0;
    } else {
        *mean = n->mean[i];
        *var = variance(n, i);
    }
    return AETHER_OK;
}

size_t aether_norm_state_bytes(size_t dim)
{
    if (dim < 1 || dim > NORM_MAX_DIM)
        return 0;
    return NORM_HEADER + 16u * dim + 4u;
}

static void store_f64(unsigned char *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    aether_store_le64(p, bits);
}

static double load_f64(const unsigned char *p)
{
    uint64_t bits = aether_load_le64(p);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

aether_status aether_norm_save(const aether_feature_norm *n, void *buf, size_t cap,
                               size_t *out_len)
{
    unsigned char *p = (unsigned char *)buf;
    size_t i, d, total;
    if (!n || !out_len || (!buf && cap > 0))
        return AETHER_ERR_NULL_ARG;
    d = n->cfg.dim;
    total = aether_norm_state_bytes(d);
    *out_len = total;
    if (cap < total)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    memset(p, 0, NORM_HEADER);
    aether_store_le32(p, AETHER_NORM_STATE_MAGIC);
    aether_store_le16(p + 4, (uint16_t)AETHER_NORM_STATE_VERSION);
    p[6] = (unsigned char)n->cfg.mode;
    aether_store_le32(p + 8, (uint32_t)d);
    aether_store_lef32(p + 12, n->cfg.alpha);
    aether_store_lef32(p + 16, n->cfg.eps);
    aether_store_le64(p + 24, n->count);
    for (i = 0; i < d; ++i) {
        store_f64(p + NORM_HEADER + 8u * i, n->mean[i]);
        store_f64(p + NORM_HEADER + 8u * (d + i), n->m2[i]);
    }
    aether_store_le32(p + total - 4u, aether_crc32(p, total - 4u));
    return AETHER_OK;
}

aether_status aether_norm_load(aether_feature_norm *n, const void *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    aether_norm_config cfg;
    size_t i, d;
    uint64_t count;
    double v;
    if (!n || !buf)
        return AETHER_ERR_NULL_ARG;
    if (len < NORM_HEADER + 4u)
        return AETHER_ERR_INVALID_ARG;
    if (aether_load_le32(p) != AETHER_NORM_STATE_MAGIC ||
        aether_load_le16(p + 4) != AETHER_NORM_STATE_VERSION || p[7] != 0 ||
        aether_load_le32(p + 20) != 0)
        return AETHER_ERR_FORMAT;
    d = aether_load_le32(p + 8);
    if (d != n->cfg.dim)
        return AETHER_ERR_SHAPE_MISMATCH;
    if (len != aether_norm_state_bytes(d))
        return AETHER_ERR_INVALID_ARG;
    if (aether_load_le32(p + len - 4u) != aether_crc32(p, len - 4u))
        return AETHER_ERR_PARSE;
    cfg.dim = d;
    cfg.mode = p[6] == 0 ? AETHER_NORM_WELFORD : AETHER_NORM_EMA;
    if (p[6] > 1)
        return AETHER_ERR_FORMAT;
    cfg.alpha = aether_load_lef32(p + 12);
    cfg.eps = aether_load_lef32(p + 16);
    if (check_config(&cfg) != AETHER_OK)
        return AETHER_ERR_INVALID_ARG;
    for (i = 0; i < 2u * d; ++i) {
        v = load_f64(p + NORM_HEADER + 8u * i);
        if (!isfinite(v) || (i >= d && v < 0.0))
            return AETHER_ERR_NONFINITE;
    }
    /* Statistics no sample sequence gives: before any sample everything is
     * 0, and one sample leaves every variance term 0 (both modes). Taken
     * as they are, they would skew every later update. */
    count = aether_load_le64(p + 24);
    for (i = 0; count <= 1 && i < 2u * d; ++i)
        if ((count == 0 || i >= d) && load_f64(p + NORM_HEADER + 8u * i) != 0.0)
            return AETHER_ERR_FORMAT;
    n->cfg = cfg;
    n->count = count;
    for (i = 0; i < d; ++i) {
        n->mean[i] = load_f64(p + NORM_HEADER + 8u * i);
        n->m2[i] = load_f64(p + NORM_HEADER + 8u * (d + i));
    }
    return AETHER_OK;
}
