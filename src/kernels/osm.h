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
    /* Unrolled by four, the products are still added left to right (same
     * bits), with a quarter of the loop's own instructions. */
    float s = 0.0f;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s += a[i] * b[i];
        s += a[i + 1] * b[i + 1];
        s += a[i + 2] * b[i + 2];
        s += a[i + 3] * b[i + 3];
    }
    for (; i < n; ++i)
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

/* acc[d] = acc[d] * c, unrolled by four (elements are independent). */
static inline void aether_osm_scale_(float *acc, size_t dim, float c)
{
    size_t d = 0;
    for (; d + 4 <= dim; d += 4) {
        acc[d] = acc[d] * c;
        acc[d + 1] = acc[d + 1] * c;
        acc[d + 2] = acc[d + 2] * c;
        acc[d + 3] = acc[d + 3] * c;
    }
    for (; d < dim; ++d)
        acc[d] = acc[d] * c;
}

/* Rescale when the score is a new strict maximum, then accumulate.
 * Two shortcuts give the bits the plain recurrence gives, with IEC 60559
 * expf (C11 Annex F: exp(+-0) = 1, exp(-inf) = +0):
 *   - the first candidate (m = -inf, denom = 0: nothing pushed yet, acc all
 *     +0) would scale +0 by expf(-inf) = +0: nothing to do;
 *   - the weight of a score equal to the running maximum is expf(+0) = 1
 *     (always so for a new maximum). */
static inline float aether_osm_weight(aether_osm *s, float score)
{
    float z;
    if (score > s->m) {
        if (!(s->m == -INFINITY && s->denom == 0.0f)) {
            float c = expf(s->m - score);
            aether_osm_scale_(s->acc, s->dim, c);
            s->denom = s->denom * c;
        }
        s->m = score;
    }
    z = score - s->m;
    return z == 0.0f ? 1.0f : expf(z);
}

static inline void aether_osm_push(aether_osm *s, float score, const float *v)
{
    float w = aether_osm_weight(s, score);
    float *acc = s->acc;
    size_t d = 0, dim = s->dim;
    s->denom = s->denom + w;
    for (; d + 4 <= dim; d += 4) {
        acc[d] = acc[d] + w * v[d];
        acc[d + 1] = acc[d + 1] + w * v[d + 1];
        acc[d + 2] = acc[d + 2] + w * v[d + 2];
        acc[d + 3] = acc[d + 3] + w * v[d + 3];
    }
    for (; d < dim; ++d)
        acc[d] = acc[d] + w * v[d];
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
