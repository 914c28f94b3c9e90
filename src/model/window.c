/* The window classifier (aether/window.h): a ring of the last W frames and
 * a window forward over them. Validates before it mutates; never
 * allocates after init. */
#include "aether/window.h"
#include "aether/decision.h"

#include <stdlib.h>
#include <string.h>

#define WINDOW_MAGIC 0x57494E44u /* "WIND" */

struct aether_window {
    uint32_t magic;
    const aether_model *model;
    aether_window_params p;
    size_t dim, n_classes;
    float *ring;     /* W x dim, slot-major */
    size_t next;     /* slot the next frame goes to */
    size_t held;     /* frames held, <= W */
    uint64_t pushed; /* frames pushed since init / reset */
    void *ws;        /* forward workspace for W frames */
    size_t ws_len;
    size_t bytes; /* the whole block */
    void *owned;  /* malloc'd block (create), NULL for init */
};

aether_status aether_window_params_from_meta(const aether_blob_model_meta *meta,
                                             aether_window_params *out)
{
    if (!meta || !out)
        return AETHER_ERR_NULL_ARG;
    out->frames = meta->have_window_frames ? meta->window_frames : 0;
    out->pool = meta->pool == AETHER_META_POOL_MEAN ? AETHER_POOL_MEAN : AETHER_POOL_LAST;
    out->external_workspace = 0;
    return AETHER_OK;
}

static aether_status check_params(const aether_model *model, const aether_window_params *p,
                                  aether_model_info *info)
{
    if (!model || !p)
        return AETHER_ERR_NULL_ARG;
    if (aether_model_get_info(model, info) != AETHER_OK)
        return AETHER_ERR_NOT_INITIALIZED;
    if (p->frames == 0 || (p->pool != AETHER_POOL_LAST && p->pool != AETHER_POOL_MEAN))
        return AETHER_ERR_INVALID_ARG;
    return AETHER_OK;
}

/* One layout for the size query (measuring arena) and the init. ws_len is
 * the workspace the window holds (0 for an external one). */
static aether_status layout(aether_arena *ar, size_t frames, size_t dim, size_t ws_len,
                            aether_window **out)
{
    size_t ring_elems;
    aether_window *w;
    float *ring;
    void *ws;
    if (aether_size_mul(frames, dim, &ring_elems) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    w = (aether_window *)aether_arena_alloc(ar, 1, sizeof *w, AETHER_ALIGN);
    ring = (float *)aether_arena_alloc(ar, ring_elems, sizeof(float), AETHER_ALIGN);
    ws = ws_len ? aether_arena_alloc(ar, ws_len, 1, AETHER_ALIGN) : NULL;
    if (ar->status != AETHER_OK)
        return ar->status;
    if (out) {
        memset(w, 0, sizeof *w);
        memset(ring, 0, ring_elems * sizeof(float));
        w->ring = ring;
        w->ws = ws;
        w->ws_len = ws_len;
        *out = w;
    }
    return AETHER_OK;
}

static aether_status measure(size_t frames, size_t dim, size_t ws_len, size_t *bytes)
{
    aether_arena ar;
    aether_status st;
    aether_arena_measure(&ar);
    st = layout(&ar, frames, dim, ws_len, NULL);
    if (st == AETHER_OK)
        *bytes = ar.used; /* the measure counts worst-case alignment padding */
    return st;
}

/* The workspace a window of p holds for `model`. */
static aether_status held_workspace(const aether_model *model, const aether_window_params *p,
                                    size_t *ws_len)
{
    *ws_len = 0;
    return p->external_workspace ? AETHER_OK
                                 : aether_model_forward_workspace_size(model, p->frames, ws_len);
}

aether_status aether_window_size(const aether_model *model, const aether_window_params *p,
                                 size_t *bytes)
{
    aether_model_info info;
    size_t ws_len = 0;
    aether_status st = check_params(model, p, &info);
    if (st == AETHER_OK && !bytes)
        st = AETHER_ERR_NULL_ARG;
    if (st == AETHER_OK)
        st = held_workspace(model, p, &ws_len);
    if (st != AETHER_OK)
        return st;
    return measure(p->frames, info.input_dim, ws_len, bytes);
}

aether_status aether_window_size_for(const aether_blob_view *blob, const aether_head_config *cfg,
                                     const aether_window_params *p, size_t *bytes)
{
    size_t ws_len = 0;
    aether_status st;
    if (!blob || !p || !bytes)
        return AETHER_ERR_NULL_ARG;
    if (p->frames == 0 || (p->pool != AETHER_POOL_LAST && p->pool != AETHER_POOL_MEAN))
        return AETHER_ERR_INVALID_ARG;
    if (!p->external_workspace) {
        st = aether_model_forward_workspace_size_for(blob, cfg, p->frames, &ws_len);
        if (st != AETHER_OK)
            return st;
    }
    return measure(p->frames, blob->header.input_dim, ws_len, bytes);
}

aether_status aether_window_init(void *buf, size_t len, const aether_model *model,
                                 const aether_window_params *p, aether_window **out)
{
    aether_model_info info;
    aether_arena ar;
    aether_window *w = NULL;
    size_t need = 0, ws_len = 0;
    aether_status st = aether_window_size(model, p, &need);
    if (st != AETHER_OK)
        return st;
    if (!buf || !out)
        return AETHER_ERR_NULL_ARG;
    if (len < need)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    aether_model_get_info(model, &info);
    held_workspace(model, p, &ws_len);
    aether_arena_init(&ar, buf, len);
    st = layout(&ar, p->frames, info.input_dim, ws_len, &w);
    if (st != AETHER_OK)
        return st;
    w->model = model;
    w->p = *p;
    w->dim = info.input_dim;
    w->n_classes = info.n_classes;
    w->bytes = len;
    w->magic = WINDOW_MAGIC;
    *out = w;
    return AETHER_OK;
}

aether_status aether_window_create(const aether_model *model, const aether_window_params *p,
                                   aether_window **out)
{
    size_t need = 0;
    void *mem;
    aether_status st = aether_window_size(model, p, &need);
    if (st != AETHER_OK)
        return st;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    mem = malloc(need);
    if (!mem)
        return AETHER_ERR_NO_MEM;
    st = aether_window_init(mem, need, model, p, out);
    if (st != AETHER_OK) {
        free(mem);
        return st;
    }
    (*out)->owned = mem;
    return AETHER_OK;
}

static int live(const aether_window *w)
{
    return w && w->magic == WINDOW_MAGIC;
}

void aether_window_destroy(aether_window *w)
{
    void *mem;
    if (!live(w) || !w->owned)
        return;
    mem = w->owned;
    memset(w->ring, 0, w->p.frames * w->dim * sizeof(float));
    memset(w, 0, sizeof *w);
    free(mem);
}

aether_status aether_window_push(aether_window *w, const float *frame)
{
    size_t i;
    if (!w || !frame)
        return AETHER_ERR_NULL_ARG;
    if (!live(w))
        return AETHER_ERR_NOT_INITIALIZED;
    for (i = 0; i < w->dim; ++i)
        if (!aether_isfinite(frame[i]))
            return AETHER_ERR_NONFINITE;
    memcpy(w->ring + w->next * w->dim, frame, w->dim * sizeof(float));
    w->next = w->next + 1 == w->p.frames ? 0 : w->next + 1;
    if (w->held < w->p.frames)
        w->held++;
    if (w->pushed != UINT64_MAX)
        w->pushed++;
    return AETHER_OK;
}

static void swap_frames(float *ring, size_t dim, size_t a, size_t b)
{
    float *x = ring + a * dim, *y = ring + b * dim;
    size_t i;
    for (i = 0; i < dim; ++i) {
        float t = x[i];
        x[i] = y[i];
        y[i] = t;
    }
}

static void reverse_frames(float *ring, size_t dim, size_t lo, size_t hi)
{
    while (lo + 1 < hi) {
        swap_frames(ring, dim, lo, hi - 1);
        ++lo;
        --hi;
    }
}

/* Oldest frame to slot 0 with three reversals; the contents held do not
 * change. A ring that has not wrapped is already in order. */
static void linearise(aether_window *w)
{
    size_t k = w->next, n = w->p.frames;
    if (w->held < n || k == 0)
        return;
    reverse_frames(w->ring, w->dim, 0, k);
    reverse_frames(w->ring, w->dim, k, n);
    reverse_frames(w->ring, w->dim, 0, n);
    w->next = 0;
}

aether_status aether_window_workspace_size(const aether_model *model,
                                           const aether_window_params *p, size_t *bytes)
{
    aether_model_info info;
    aether_status st = check_params(model, p, &info);
    if (st == AETHER_OK && !bytes)
        st = AETHER_ERR_NULL_ARG;
    if (st != AETHER_OK)
        return st;
    return aether_model_forward_workspace_size(model, p->frames, bytes);
}

aether_status aether_window_classify_ws(aether_window *w, void *ws, size_t ws_len, float *logits,
                                        float *pooled)
{
    size_t need = 0;
    aether_status st;
    if (!w || !logits || !ws)
        return AETHER_ERR_NULL_ARG;
    if (!live(w))
        return AETHER_ERR_NOT_INITIALIZED;
    if (w->held == 0)
        return AETHER_ERR_CACHE_EMPTY;
    st = aether_model_forward_workspace_size(w->model, w->p.frames, &need);
    if (st != AETHER_OK)
        return st;
    if (ws_len < need)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    linearise(w);
    return aether_model_forward(w->model, w->ring, w->held, w->p.pool, logits, pooled, ws,
                                ws_len);
}

aether_status aether_window_classify(aether_window *w, float *logits, float *pooled)
{
    if (!w || !logits)
        return AETHER_ERR_NULL_ARG;
    if (!live(w))
        return AETHER_ERR_NOT_INITIALIZED;
    if (w->p.external_workspace)
        return AETHER_ERR_STATE;
    if (w->held == 0)
        return AETHER_ERR_CACHE_EMPTY;
    linearise(w);
    return aether_model_forward(w->model, w->ring, w->held, w->p.pool, logits, pooled, w->ws,
                                w->ws_len);
}

aether_status aether_window_reset(aether_window *w)
{
    if (!w)
        return AETHER_ERR_NULL_ARG;
    if (!live(w))
        return AETHER_ERR_NOT_INITIALIZED;
    memset(w->ring, 0, w->p.frames * w->dim * sizeof(float));
    w->next = 0;
    w->held = 0;
    w->pushed = 0;
    return AETHER_OK;
}

size_t aether_window_held(const aether_window *w)
{
    return live(w) ? w->held : 0;
}

uint64_t aether_window_pushed(const aether_window *w)
{
    return live(w) ? w->pushed : 0;
}

aether_status aether_window_get_params(const aether_window *w, aether_window_params *out)
{
    if (!w || !out)
        return AETHER_ERR_NULL_ARG;
    if (!live(w))
        return AETHER_ERR_NOT_INITIALIZED;
    *out = w->p;
    return AETHER_OK;
}

aether_status aether_window_input_distance(const aether_window *w, float *distance)
{
    if (!w || !distance)
        return AETHER_ERR_NULL_ARG;
    if (!live(w))
        return AETHER_ERR_NOT_INITIALIZED;
    if (w->held == 0)
        return AETHER_ERR_CACHE_EMPTY;
    /* the frames held are slots [0, held) of the ring (a full ring: all of
     * them); their order does not matter for a mean */
    return aether_model_input_distance(w->model, w->ring, w->held, distance);
}
