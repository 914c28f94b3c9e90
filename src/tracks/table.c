/* Track table lifecycle (size query, init on caller memory, create/destroy)
 * and read-only queries. */
#include "tracks/tracks_internal.h"
#include "core/bigmem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

aether_tracks_params aether_tracks_params_default(void)
{
    aether_tracks_params p;
    memset(&p, 0, sizeof p); /* padding too: callers may compare structs */
    p.max_tracks = 16;
    p.max_age = 0.0;
    p.full = AETHER_TRACKS_FULL_EVICT_LRU;
    p.session = aether_model_session_params_default();
    p.window.frames = 0; /* sessions */
    p.window.pool = AETHER_POOL_LAST;
    p.window.external_workspace = 1;
    return p;
}

aether_status aether_tracks_check_(const aether_tracks *t)
{
    if (!t)
        return AETHER_ERR_NULL_ARG;
    return t->magic == AETHER_TRACKS_MAGIC ? AETHER_OK : AETHER_ERR_NOT_INITIALIZED;
}

static aether_status check_params(const aether_tracks_params *p)
{
    if (p->max_tracks == 0 || p->max_tracks == (size_t)-1)
        return AETHER_ERR_INVALID_ARG;
    /* isfinite on a double: aether_isfinite takes a float, and a max_age
     * beyond FLT_MAX is legitimate. */
    if (!(p->max_age >= 0.0) || p->max_age > 1e300)
        return AETHER_ERR_INVALID_ARG;
    if (p->full != AETHER_TRACKS_FULL_EVICT_LRU && p->full != AETHER_TRACKS_FULL_FAIL)
        return AETHER_ERR_INVALID_ARG;
    /* A session that can hold no frame would refuse every step. */
    if (p->window.frames == 0 && p->session.capacity == 0)
        return AETHER_ERR_INVALID_ARG;
    return AETHER_OK;
}

/* Tracks aether_tracks_step_batch steps through one batched call at most. */
#define TRACKS_BATCH_MAX 64u

typedef struct tracks_plan {
    size_t n_slots, stride, ws_len, n_buckets;
    size_t batch_cap, bws_len, input_dim, n_classes;
} tracks_plan;

/* The window parameters every track's window is built with. */
static aether_window_params slot_window(const aether_tracks_params *p)
{
    aether_window_params w = p->window;
    w.external_workspace = 1;
    return w;
}

static aether_status make_plan(const aether_model *model, const aether_tracks_params *p,
                               tracks_plan *tp)
{
    size_t session_bytes;
    aether_status st = check_params(p);
    if (st != AETHER_OK)
        return st;
    tp->ws_len = 0;
    if (p->window.frames) {
        aether_window_params w = slot_window(p);
        st = aether_window_size(model, &w, &session_bytes);
        if (st == AETHER_OK)
            st = aether_window_workspace_size(model, &w, &tp->ws_len);
    } else {
        st = aether_model_session_size(model, &p->session, &session_bytes);
    }
    if (st != AETHER_OK)
        return st;
    /* The batch entry's scratch: a batch holds distinct active tracks. */
    tp->batch_cap = 0;
    tp->bws_len = 0;
    if (!p->window.frames) {
        aether_model_info info;
        st = aether_model_get_info(model, &info);
        if (st != AETHER_OK)
            return st;
        tp->batch_cap = p->max_tracks < TRACKS_BATCH_MAX ? p->max_tracks : TRACKS_BATCH_MAX;
        tp->input_dim = info.input_dim;
        tp->n_classes = info.n_classes;
        st = aether_model_step_batch_workspace_size(model, tp->batch_cap, &tp->bws_len);
        if (st != AETHER_OK)
            return st;
    }
    /* The session's own size already includes worst-case alignment padding,
     * so any 64-byte multiple at least that large holds it. */
    if (aether_size_add(session_bytes, AETHER_ALIGN - 1, &tp->stride) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    tp->stride -= tp->stride % AETHER_ALIGN;
    tp->n_slots = p->max_tracks + 1;
    /* the index stores slot numbers in 32 bits */
    if (tp->n_slots >= AETHER_TRACKS_NIL / 4)
        return AETHER_ERR_OVERFLOW;
    tp->n_buckets = 1;
    while (tp->n_buckets < 2 * tp->n_slots)
        tp->n_buckets *= 2;
    return AETHER_OK;
}

/* One layout for measuring and placing. */
static aether_status layout(aether_arena *ar, const tracks_plan *tp, aether_tracks **out)
{
    aether_tracks *t = (aether_tracks *)aether_arena_alloc(ar, 1, sizeof *t, AETHER_ALIGN);
    aether_track_slot_ *slots = (aether_track_slot_ *)aether_arena_alloc(ar, tp->n_slots,
                                                                         sizeof *slots,
                                                                         AETHER_ALIGN);
    size_t mem_bytes;
    unsigned char *mem = NULL;
    uint32_t *index, *lists;
    void *ws, *bws = NULL;
    aether_model_session **bsess = NULL;
    float *bframes = NULL, *bpooled = NULL, *blogits = NULL;
    size_t *bentry = NULL;
    aether_status *bstatus = NULL;
    if (aether_size_mul(tp->n_slots, tp->stride, &mem_bytes) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    mem = (unsigned char *)aether_arena_alloc(ar, mem_bytes, 1, AETHER_ALIGN);
    ws = tp->ws_len ? aether_arena_alloc(ar, tp->ws_len, 1, AETHER_ALIGN) : NULL;
    index = (uint32_t *)aether_arena_alloc(ar, tp->n_buckets, sizeof *index, AETHER_ALIGN);
    lists = (uint32_t *)aether_arena_alloc(ar, tp->n_slots, 5 * sizeof *lists, AETHER_ALIGN);
    if (tp->batch_cap) {
        size_t cap = tp->batch_cap;
        bws = aether_arena_alloc(ar, tp->bws_len, 1, AETHER_ALIGN);
        bsess = (aether_model_session **)aether_arena_alloc(ar, cap, sizeof *bsess,
                                                            AETHER_ALIGN);
        bframes = (float *)aether_arena_alloc(ar, cap, tp->input_dim * sizeof(float),
                                              AETHER_ALIGN);
        bpooled = (float *)aether_arena_alloc(ar, cap, tp->input_dim * sizeof(float),
                                              AETHER_ALIGN);
        blogits = (float *)aether_arena_alloc(ar, cap, tp->n_classes * sizeof(float),
                                              AETHER_ALIGN);
        bentry = (size_t *)aether_arena_alloc(ar, cap, sizeof *bentry, AETHER_ALIGN);
        bstatus = (aether_status *)aether_arena_alloc(ar, cap, sizeof *bstatus, AETHER_ALIGN);
    }
    if (t && ar->status == AETHER_OK) {
        t->batch_cap = tp->batch_cap;
        t->n_classes = tp->n_classes;
        t->bws = bws;
        t->bws_len = tp->bws_len;
        t->bsess = bsess;
        t->bframes = bframes;
        t->bpooled = bpooled;
        t->blogits = blogits;
        t->bentry = bentry;
        t->bstatus = bstatus;
        t->slots = slots;
        t->mem = mem;
        t->ws = ws;
        t->ws_len = tp->ws_len;
        t->index = index;
        t->index_mask = tp->n_buckets - 1;
        t->lru_prev = lists;
        t->lru_next = lists + tp->n_slots;
        t->free_slots = lists + 2 * tp->n_slots;
        t->heap = lists + 3 * tp->n_slots;
        t->heap_pos = lists + 4 * tp->n_slots;
    }
    *out = t;
    return ar->status;
}

static aether_status measure(const aether_model *model, const aether_tracks_params *p,
                             tracks_plan *tp, aether_model_info *info, size_t *bytes)
{
    aether_tracks *t;
    aether_arena ar;
    aether_status st = aether_model_get_info(model, info);
    if (st != AETHER_OK)
        return st;
    st = make_plan(model, p, tp);
    if (st != AETHER_OK)
        return st;
    aether_arena_measure(&ar);
    st = layout(&ar, tp, &t);
    if (st == AETHER_OK)
        *bytes = ar.used;
    return st;
}

aether_status aether_tracks_size(const aether_model *model, const aether_tracks_params *params,
                                 size_t *bytes)
{
    aether_tracks_params def = aether_tracks_params_default();
    aether_model_info info;
    tracks_plan tp;
    if (!model || !bytes)
        return AETHER_ERR_NULL_ARG;
    return measure(model, params ? params : &def, &tp, &info, bytes);
}

aether_status aether_tracks_init(void *buf, size_t len, const aether_model *model,
                                 const aether_tracks_params *params, aether_tracks **out)
{
    aether_tracks_params def = aether_tracks_params_default();
    aether_model_info info;
    aether_tracks *t;
    aether_arena ar;
    tracks_plan tp;
    size_t bytes = 0;
    aether_status st;
    if (!buf || !model || !out)
        return AETHER_ERR_NULL_ARG;
    if (!params)
        params = &def;
    st = measure(model, params, &tp, &info, &bytes);
    if (st != AETHER_OK)
        return st;
    if (len < bytes)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    /* Every byte is written now: free slots are all zero from the start,
     * and the memory is committed before the first frame arrives. */
    memset(buf, 0, bytes);
    aether_arena_init(&ar, buf, bytes);
    st = layout(&ar, &tp, &t);
    if (st != AETHER_OK)
        return st;
    t->model = model;
    t->params = *params;
    t->input_dim = info.input_dim;
    t->n_slots = tp.n_slots;
    t->stride = tp.stride;
    aether_tracks_index_clear_(t);
    t->total_bytes = bytes;
    t->active = 0;
    t->tick = 0;
    t->now = -HUGE_VAL;
    memset(&t->stats, 0, sizeof t->stats);
    t->stats.max_tracks = params->max_tracks;
    t->owned_ = NULL;
    t->block_ = buf;
    t->magic = AETHER_TRACKS_MAGIC;
    *out = t;
    return AETHER_OK;
}

aether_status aether_tracks_create(const aether_model *model, const aether_tracks_params *params,
                                   aether_tracks **out)
{
    size_t bytes;
    void *buf, *base;
    aether_status st;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    st = aether_tracks_size(model, params, &bytes);
    if (st != AETHER_OK)
        return st;
    /* A large table is stepped session after session, each in its own
     * part of the block: huge pages spare the TLB a miss per session
     * (init writes every byte, so no zeroing here). */
    buf = aether_big_alloc_(bytes, 0, &base);
    if (!buf) {
        free(base);
        return AETHER_ERR_NO_MEM;
    }
    st = aether_tracks_init(buf, bytes, model, params, out);
    if (st != AETHER_OK) {
        free(base);
        return st;
    }
    (*out)->owned_ = base;
    return AETHER_OK;
}

void aether_tracks_destroy(aether_tracks *t)
{
    void *base;
    if (aether_tracks_check_(t) != AETHER_OK || !t->owned_)
        return;
    base = t->owned_;
    /* Erase before handing the memory back: freed pages keep their bytes. */
    memset(t->block_, 0, t->total_bytes);
    free(base);
}

size_t aether_tracks_bytes(const aether_tracks *t)
{
    return aether_tracks_check_(t) == AETHER_OK ? t->total_bytes : 0;
}

int aether_tracks_contains(const aether_tracks *t, uint64_t id)
{
    if (aether_tracks_check_(t) != AETHER_OK)
        return 0;
    return aether_tracks_find_(t, id) != AETHER_TRACKS_NONE;
}

aether_status aether_tracks_info(const aether_tracks *t, uint64_t id, aether_track_info *out)
{
    const aether_track_slot_ *s;
    size_t i;
    aether_status st = aether_tracks_check_(t);
    if (st != AETHER_OK)
        return st;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    i = aether_tracks_find_(t, id);
    if (i == AETHER_TRACKS_NONE)
        return AETHER_ERR_TRACK_NOT_FOUND;
    s = &t->slots[i];
    out->id = s->id;
    out->slot = i;
    out->first_seen = s->first_seen;
    out->last_seen = s->last_seen;
    out->frames = s->frames;
    return AETHER_OK;
}

const aether_model_session *aether_tracks_session(const aether_tracks *t, uint64_t id)
{
    size_t i;
    if (aether_tracks_check_(t) != AETHER_OK)
        return NULL;
    i = aether_tracks_find_(t, id);
    return i == AETHER_TRACKS_NONE ? NULL : t->slots[i].session;
}

const aether_window *aether_tracks_window(const aether_tracks *t, uint64_t id)
{
    size_t i;
    if (aether_tracks_check_(t) != AETHER_OK)
        return NULL;
    i = aether_tracks_find_(t, id);
    return i == AETHER_TRACKS_NONE ? NULL : t->slots[i].window;
}

aether_status aether_tracks_list(const aether_tracks *t, uint64_t *ids, size_t cap, size_t *n)
{
    size_t i, k = 0;
    aether_status st = aether_tracks_check_(t);
    if (st != AETHER_OK)
        return st;
    if (!n || (!ids && cap > 0))
        return AETHER_ERR_NULL_ARG;
    for (i = 0; i < t->n_slots; ++i)
        if (t->slots[i].in_use) {
            if (k < cap)
                ids[k] = t->slots[i].id;
            ++k;
        }
    *n = k;
    return k > cap ? AETHER_ERR_BUFFER_TOO_SMALL : AETHER_OK;
}

aether_status aether_tracks_get_stats(const aether_tracks *t, aether_tracks_stats *out)
{
    aether_status st = aether_tracks_check_(t);
    if (st != AETHER_OK)
        return st;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    *out = t->stats;
    out->active = t->active;
    out->max_tracks = t->params.max_tracks;
    return AETHER_OK;
}

aether_status aether_tracks_reset_stats(aether_tracks *t)
{
    aether_status st = aether_tracks_check_(t);
    if (st != AETHER_OK)
        return st;
    t->stats.created = 0;
    t->stats.evicted_age = 0;
    t->stats.evicted_count = 0;
    t->stats.forgotten = 0;
    t->stats.steps = 0;
    return AETHER_OK;
}

size_t aether_tracks_slot_count(const aether_tracks *t)
{
    return aether_tracks_check_(t) == AETHER_OK ? t->n_slots : 0;
}

aether_status aether_tracks_slot_memory(const aether_tracks *t, size_t slot,
                                        const unsigned char **bytes, size_t *len)
{
    aether_status st = aether_tracks_check_(t);
    if (st != AETHER_OK)
        return st;
    if (!bytes || !len)
        return AETHER_ERR_NULL_ARG;
    if (slot >= t->n_slots)
        return AETHER_ERR_INVALID_ARG;
    *bytes = t->mem + slot * t->stride;
    *len = t->stride;
    return AETHER_OK;
}

static int all_zero(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        if (p[i])
            return 0;
    return 1;
}

int aether_tracks_slot_is_clear(const aether_tracks *t, size_t slot)
{
    if (aether_tracks_check_(t) != AETHER_OK || slot >= t->n_slots)
        return 0;
    return all_zero((const unsigned char *)&t->slots[slot], sizeof t->slots[slot]) &&
           all_zero(t->mem + slot * t->stride, t->stride);
}
