/*
 * Internal: the scalar reference primitives every attention kernel shares -
 * the left-to-right dot product and the one-pass (online) softmax recurrence
 * of docs/KERNELS.md section 4.2. Compiled with -ffp-contract=off.
 */
#ifndef AETHER_KERNELS_OSM_H
#define AETHER_KERNELS_OSM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "aether/core.h"

/* 1 / sqrtf(dim) as the reference computes it. */
static inline float aether_attn_scale(size_t dim)
{
    return 1.0f / sqrtf((float)dim);
}

static inline float aether_dot_ref(const float *a, const float *b, size_t n)
{
    float s = 0.0f;
    size_t i;
    for (i = 0; i < n; ++i)
        s += a[i] * b[i];
    return s;
}

/* Running state of one (query, head): max, denominator, accumulator. */
typedef struct aether_osm {
    float m;
    float denom;
    float *acc; /* dim floats */
    size_t dim;
} aether_osm;

static inline void aether_osm_begin(aether_osm *s, float *acc, size_t dim)
{
    size_t d;
    s->m = -INFINITY;
    s->denom = 0.0f;
    s->acc = acc;
    s->dim = dim;
    for (d = 0; d < dim; ++d)
        acc[d] = 0.0f;
}

/* Rescale when the score is a new strict maximum, then accumulate. */
static inline float aether_osm_weight(aether_osm *s, float score)
{
    if (score > s->m) {
        float c = expf(s->m - score);
        size_t d;
        for (d = 0; d < s->dim; ++d)
            s->acc[d] = s->acc[d] * c;
        s->denom = s->denom * c;
        s->m = score;
    }
    return expf(score - s->m);
}

static inline void aether_osm_push(aether_osm *s, float score, const float *v)
{
    float w = aether_osm_weight(s, score);
    size_t d;
    s->denom = s->denom + w;
    for (d = 0; d < s->dim; ++d)
        s->acc[d] = s->acc[d] + w * v[d];
}

/* Value row stored as binary16: converted element-wise inline. */
static inline void aether_osm_push_f16(aether_osm *s, float score, const uint16_t *v)
{
    float w = aether_osm_weight(s, score);
    size_t d;
    s->denom = s->denom + w;
    for (d = 0; d < s->dim; ++d)
        s->acc[d] = s->acc[d] + w * aether_f16_to_f32(v[d]);
}

static inline void aether_osm_end(const aether_osm *s, float *out)
{
    float inv = (s->denom > 0.0f) ? 1.0f / s->denom : 0.0f;
    size_t d;
    for (d = 0; d < s->dim; ++d)
        out[d] = s->acc[d] * inv;
}

#endif /* AETHER_KERNELS_OSM_H */
