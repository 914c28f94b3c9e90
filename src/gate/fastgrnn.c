/*
 * FastGRNN gate parameters: layout on caller memory, the deterministic
 * initialisation of docs/KERNELS.md section 11.2, from_weights, accessors.
 */
#include "gate/gate_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

aether_status aether_fastgrnn_check_(const aether_fastgrnn *g)
{
    if (!g)
        return AETHER_ERR_NULL_ARG;
    if (g->magic != AETHER_FASTGRNN_MAGIC)
        return AETHER_ERR_NOT_INITIALIZED;
    return AETHER_OK;
}

/* One layout for the size query and the init. */
static aether_status layout(aether_arena *a, size_t in, size_t hid, aether_fastgrnn **out)
{
    size_t nw, nu;
    aether_fastgrnn *g;
    float *w_g, *u_g, *w_u, *u_u, *b_g, *b_u;
    if (in == 0 || hid == 0)
        return AETHER_ERR_INVALID_ARG;
    if (aether_size_mul(in, hid, &nw) != AETHER_OK || aether_size_mul(hid, hid, &nu) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    g = (aether_fastgrnn *)aether_arena_alloc(a, 1, sizeof *g, AETHER_ALIGN);
    w_g = (float *)aether_arena_alloc(a, nw, sizeof(float), AETHER_ALIGN);
    u_g = (float *)aether_arena_alloc(a, nu, sizeof(float), AETHER_ALIGN);
    w_u = (float *)aether_arena_alloc(a, nw, sizeof(float), AETHER_ALIGN);
    u_u = (float *)aether_arena_alloc(a, nu, sizeof(float), AETHER_ALIGN);
    b_g = (float *)aether_arena_alloc(a, hid, sizeof(float), AETHER_ALIGN);
    b_u = (float *)aether_arena_alloc(a, hid, sizeof(float), AETHER_ALIGN);
    if (a->status != AETHER_OK)
        return a->status;
    if (g) {
        g->heap = NULL;
        g->in = in;
        g->hid = hid;
        g->w_g = w_g;
        g->u_g = u_g;
        g->w_u = w_u;
        g->u_u = u_u;
        g->b_g = b_g;
        g->b_u = b_u;
        g->zeta = 1.0f;
        g->nu = 0.0f;
    }
    *out = g;
    return AETHER_OK;
}

aether_status aether_fastgrnn_size(size_t input_dim, size_t hidden_dim, size_t *bytes)
{
    aether_arena a;
    aether_fastgrnn *g;
    aether_status st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    aether_arena_measure(&a);
    if ((st = layout(&a, input_dim, hidden_dim, &g)) != AETHER_OK)
        return st;
    *bytes = a.used;
    return AETHER_OK;
}

/* Section 11.2: a 32-bit multiplicative hash of the seed index mapped to
 * [-1, 1) and scaled, every operation in f32 left to right. */
static float seeded_weight(size_t index, float scale)
{
    uint32_t r32 = (uint32_t)((uint32_t)index * 2654435761u + 0x9E3779B9u);
    float r = (float)r32;
    return (((r / 4294967296.0f) - 0.5f) * 2.0f) * scale * 0.1f;
}

static void fill_seeded(float *m, size_t n, size_t offset, float scale)
{
    size_t e;
    for (e = 0; e < n; ++e)
        m[e] = seeded_weight(e + offset, scale);
}

aether_status aether_fastgrnn_init(void *buf, size_t len, size_t input_dim, size_t hidden_dim,
                                   aether_fastgrnn_seeding seeding, aether_fastgrnn **out)
{
    aether_arena a;
    aether_fastgrnn *g;
    aether_status st;
    size_t sum, nw, nu, off[4], lens[4], m;
    float scale;
    float **mats[4];
    if (!buf || !out)
        return AETHER_ERR_NULL_ARG;
    if (seeding != AETHER_FASTGRNN_SEED_REFERENCE && seeding != AETHER_FASTGRNN_SEED_DISJOINT)
        return AETHER_ERR_INVALID_ARG;
    if (aether_size_add(input_dim, hidden_dim, &sum) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    /* Validate everything on a measuring arena first: *out stays untouched. */
    aether_arena_measure(&a);
    if ((st = layout(&a, input_dim, hidden_dim, &g)) != AETHER_OK)
        return st;
    nw = input_dim * hidden_dim;
    nu = hidden_dim * hidden_dim;
    lens[0] = nw;
    lens[1] = nu;
    lens[2] = nw;
    lens[3] = nu;
    off[0] = 0;
    for (m = 1; m < 4; ++m) {
        size_t step = 1000;
        if (seeding == AETHER_FASTGRNN_SEED_DISJOINT && lens[m - 1] > step)
            step = lens[m - 1];
        if (aether_size_add(off[m - 1], step, &off[m]) != AETHER_OK)
            return AETHER_ERR_OVERFLOW;
    }

    if (len < a.used)
        return AETHER_ERR_BUFFER_TOO_SMALL; /* as measured, whatever buf's alignment */
    aether_arena_init(&a, buf, len);
    if ((st = layout(&a, input_dim, hidden_dim, &g)) != AETHER_OK)
        return st;
    scale = sqrtf(2.0f / (float)sum);
    mats[0] = &g->w_g;
    mats[1] = &g->u_g;
    mats[2] = &g->w_u;
    mats[3] = &g->u_u;
    for (m = 0; m < 4; ++m)
        fill_seeded(*mats[m], lens[m], off[m], scale);
    g->magic = AETHER_FASTGRNN_MAGIC;
    *out = g;
    return AETHER_OK;
}

static aether_status check_array(const float *p, size_t got, size_t want)
{
    if (got != want)
        return AETHER_ERR_SHAPE_MISMATCH;
    if (want > 0 && !p)
        return AETHER_ERR_NULL_ARG;
    return AETHER_OK;
}

static aether_status check_weights(const aether_fastgrnn_weights *w)
{
    size_t nw, nu;
    aether_status st;
    if (w->input_dim == 0 || w->hidden_dim == 0)
        return AETHER_ERR_INVALID_ARG;
    if (aether_size_mul(w->input_dim, w->hidden_dim, &nw) != AETHER_OK ||
        aether_size_mul(w->hidden_dim, w->hidden_dim, &nu) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    if ((st = check_array(w->w_gate, w->w_gate_len, nw)) != AETHER_OK ||
        (st = check_array(w->u_gate, w->u_gate_len, nu)) != AETHER_OK ||
        (st = check_array(w->w_update, w->w_update_len, nw)) != AETHER_OK ||
        (st = check_array(w->u_update, w->u_update_len, nu)) != AETHER_OK ||
        (st = check_array(w->b_gate, w->b_gate_len, w->hidden_dim)) != AETHER_OK ||
        (st = check_array(w->b_update, w->b_update_len, w->hidden_dim)) != AETHER_OK)
        return st;
    return AETHER_OK;
}

aether_status aether_fastgrnn_init_from_weights(void *buf, size_t len,
                                                const aether_fastgrnn_weights *w,
                                                aether_fastgrnn **out)
{
    aether_arena a;
    aether_fastgrnn *g;
    aether_status st;
    size_t nw, nu;
    if (!buf || !w || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = check_weights(w)) != AETHER_OK)
        return st;
    aether_arena_measure(&a);
    if ((st = layout(&a, w->input_dim, w->hidden_dim, &g)) != AETHER_OK)
        return st;
    if (len < a.used)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    aether_arena_init(&a, buf, len);
    if ((st = layout(&a, w->input_dim, w->hidden_dim, &g)) != AETHER_OK)
        return st;
    nw = w->input_dim * w->hidden_dim;
    nu = w->hidden_dim * w->hidden_dim;
    memcpy(g->w_g, w->w_gate, nw * sizeof(float));
    memcpy(g->u_g, w->u_gate, nu * sizeof(float));
    memcpy(g->w_u, w->w_update, nw * sizeof(float));
    memcpy(g->u_u, w->u_update, nu * sizeof(float));
    memcpy(g->b_g, w->b_gate, w->hidden_dim * sizeof(float));
    memcpy(g->b_u, w->b_update, w->hidden_dim * sizeof(float));
    g->zeta = w->zeta;
    g->nu = w->nu;
    g->magic = AETHER_FASTGRNN_MAGIC;
    *out = g;
    return AETHER_OK;
}

aether_status aether_fastgrnn_create(size_t input_dim, size_t hidden_dim,
                                     aether_fastgrnn_seeding seeding, aether_fastgrnn **out)
{
    size_t bytes;
    void *buf;
    aether_status st;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_fastgrnn_size(input_dim, hidden_dim, &bytes)) != AETHER_OK)
        return st;
    if (!(buf = malloc(bytes)))
        return AETHER_ERR_NO_MEM;
    if ((st = aether_fastgrnn_init(buf, bytes, input_dim, hidden_dim, seeding, out)) !=
        AETHER_OK) {
        free(buf);
        return st;
    }
    (*out)->heap = buf;
    return AETHER_OK;
}

aether_status aether_fastgrnn_create_from_weights(const aether_fastgrnn_weights *w,
                                                  aether_fastgrnn **out)
{
    size_t bytes;
    void *buf;
    aether_status st;
    if (!w || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = check_weights(w)) != AETHER_OK)
        return st;
    if ((st = aether_fastgrnn_size(w->input_dim, w->hidden_dim, &bytes)) != AETHER_OK)
        return st;
    if (!(buf = malloc(bytes)))
        return AETHER_ERR_NO_MEM;
    if ((st = aether_fastgrnn_init_from_weights(buf, bytes, w, out)) != AETHER_OK) {
        free(buf);
        return st;
    }
    (*out)->heap = buf;
    return AETHER_OK;
}

void aether_fastgrnn_destroy(aether_fastgrnn *g)
{
    if (aether_fastgrnn_check_(g) != AETHER_OK || !g->heap)
        return;
    g->magic = 0;
    free(g->heap);
}

size_t aether_fastgrnn_input_dim(const aether_fastgrnn *g)
{
    return aether_fastgrnn_check_(g) == AETHER_OK ? g->in : 0;
}

size_t aether_fastgrnn_hidden_dim(const aether_fastgrnn *g)
{
    return aether_fastgrnn_check_(g) == AETHER_OK ? g->hid : 0;
}

aether_status aether_fastgrnn_params(const aether_fastgrnn *g, const float **w_gate,
                                     const float **u_gate, const float **w_update,
                                     const float **u_update, const float **b_gate,
                                     const float **b_update, float *zeta, float *nu)
{
    aether_status st = aether_fastgrnn_check_(g);
    if (st != AETHER_OK)
        return st;
    if (w_gate)
        *w_gate = g->w_g;
    if (u_gate)
        *u_gate = g->u_g;
    if (w_update)
        *w_update = g->w_u;
    if (u_update)
        *u_update = g->u_u;
    if (b_gate)
        *b_gate = g->b_g;
    if (b_update)
        *b_update = g->b_u;
    if (zeta)
        *zeta = g->zeta;
    if (nu)
        *nu = g->nu;
    return AETHER_OK;
}
