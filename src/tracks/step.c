/* Stepping a track, and the three ways a track leaves the table (age,
 * count, forget), all of which erase its memory. */
#include "tracks/tracks_internal.h"

#include <string.h>

void aether_tracks_wipe_(aether_tracks *t, size_t i)
{
    /* The slot stays reachable through t, so these stores cannot be
     * optimised away. */
    memset(t->mem + i * t->stride, 0, t->stride);
    memset(&t->slots[i], 0, sizeof t->slots[i]);
}

static int finite_double(double x)
{
    return x == x && x - x == 0.0;
}

static int is_due(const aether_tracks *t, size_t i, double now)
{
    const aether_track_slot_ *s = &t->slots[i];
    return s->in_use && t->params.max_age > 0.0 && now - s->last_seen > t->params.max_age;
}

/* The due tracks, oldest first off the age heap: O(1 + evicted log n). */
static size_t expire_at(aether_tracks *t, double now)
{
    size_t i, n = 0;
    while ((i = aether_tracks_oldest_due_(t, now)) != AETHER_TRACKS_NONE) {
        aether_tracks_release_(t, i);
        t->active--;
        ++n;
    }
    t->stats.evicted_age += n;
    return n;
}

static double later(double a, double b)
{
    return b > a ? b : a;
}

/* One frame through a track's model state: its session, or its window
 * (then a classify only when logits is given). */
static aether_status feed(aether_tracks *t, aether_track_slot_ *s, const float *frame,
                          float *logits, float *pooled)
{
    aether_status st;
    if (!s->window)
        return aether_model_session_step(s->session, frame, logits, pooled);
    st = aether_window_push(s->window, frame);
    if (st == AETHER_OK && logits)
        st = aether_window_classify_ws(s->window, t->ws, t->ws_len, logits, pooled);
    return st;
}

/* The bookkeeping after an existing track i took a frame stamped ts: its
 * times, count and LRU place, the table's clock, and the expiry at now. */
static void stepped(aether_tracks *t, size_t i, double ts, double now)
{
    aether_track_slot_ *s = &t->slots[i];
    s->last_seen = later(s->last_seen, ts);
    s->frames++;
    s->lru = ++t->tick;
    aether_tracks_touched_(t, i);
    t->now = now;
    t->stats.steps++;
    expire_at(t, now);
}

/* Step an active track that is not due. */
static aether_status step_existing(aether_tracks *t, size_t i, double ts, double now,
                                   const float *frame, float *logits, float *pooled)
{
    aether_status st = feed(t, &t->slots[i], frame, logits, pooled);
    if (st != AETHER_OK)
        return st;
    stepped(t, i, ts, now);
    return AETHER_OK;
}

/* Least recently stepped active track that is not due at `now`: the head
 * of the LRU list, past the due tracks (which the step erases anyway). */
static size_t lru_victim(const aether_tracks *t, double now)
{
    uint32_t i;
    for (i = t->lru_head; i != AETHER_TRACKS_NIL; i = t->lru_next[i])
        if (!is_due(t, i, now))
            return i;
    return AETHER_TRACKS_NONE;
}

/* Create track `id` in a free slot and step it; only after that succeeded
 * are due tracks and the LRU victim erased, so a failure changes nothing. */
static aether_status step_new(aether_tracks *t, uint64_t id, double ts, double now,
                              const float *frame, float *logits, float *pooled)
{
    size_t due = aether_tracks_count_due_(t, now), free_slot, victim = AETHER_TRACKS_NONE;
    aether_track_slot_ *slot, fresh;
    aether_status st;
    if (t->active - due >= t->params.max_tracks) {
        if (t->params.full == AETHER_TRACKS_FULL_FAIL)
            return AETHER_ERR_TRACKS_FULL;
        victim = lru_victim(t, now);
    }
    /* active <= max_tracks < n_slots: the spare guarantees a free slot. */
    free_slot = aether_tracks_free_take_(t);
    if (free_slot == AETHER_TRACKS_NONE)
        return AETHER_ERR_STATE;
    memset(&fresh, 0, sizeof fresh);
    if (t->params.window.frames) {
        aether_window_params w = t->params.window;
        w.external_workspace = 1;
        st = aether_window_init(t->mem + free_slot * t->stride, t->stride, t->model, &w,
                                &fresh.window);
    } else {
        st = aether_model_session_init(t->mem + free_slot * t->stride, t->stride, t->model,
                                       &t->params.session, &fresh.session);
    }
    if (st == AETHER_OK)
        st = feed(t, &fresh, frame, logits, pooled);
    if (st != AETHER_OK) {
        aether_tracks_wipe_(t, free_slot);
        aether_tracks_free_put_(t, free_slot);
        return st;
    }
    t->now = now;
    expire_at(t, now);
    if (victim != AETHER_TRACKS_NONE) {
        aether_tracks_release_(t, victim);
        t->active--;
        t->stats.evicted_count++;
    }
    slot = &t->slots[free_slot];
    slot->id = id;
    slot->lru = ++t->tick;
    slot->frames = 1;
    slot->first_seen = ts;
    slot->last_seen = ts;
    slot->session = fresh.session;
    slot->window = fresh.window;
    slot->in_use = 1;
    aether_tracks_link_(t, free_slot);
    t->active++;
    t->stats.created++;
    t->stats.steps++;
    return AETHER_OK;
}

aether_status aether_tracks_step(aether_tracks *t, uint64_t id, double timestamp,
                                 const float *frame, float *logits, float *pooled,
                                 int *created_out)
{
    size_t i, k;
    double now;
    aether_status st = aether_tracks_check_(t);
    if (st != AETHER_OK)
        return st;
    if (!frame || (!logits && !t->params.window.frames))
        return AETHER_ERR_NULL_ARG;
    if (!finite_double(timestamp))
        return AETHER_ERR_NONFINITE;
    /* Checked here as well as in the session so that a bad frame for a new
     * id does not even build a session. */
    for (k = 0; k < t->input_dim; ++k)
        if (!aether_isfinite(frame[k]))
            return AETHER_ERR_NONFINITE;
    now = later(t->now, timestamp);
    i = aether_tracks_find_(t, id);
    if (i != AETHER_TRACKS_NONE && !is_due(t, i, now)) {
        st = step_existing(t, i, timestamp, now, frame, logits, pooled);
        if (st == AETHER_OK && created_out)
            *created_out = 0;
        return st;
    }
    st = step_new(t, id, timestamp, now, frame, logits, pooled);
    if (st == AETHER_OK && created_out)
        *created_out = 1;
    return st;
}

aether_status aether_tracks_expire(aether_tracks *t, double now, size_t *evicted)
{
    size_t n;
    aether_status st = aether_tracks_check_(t);
    if (st != AETHER_OK)
        return st;
    if (!finite_double(now))
        return AETHER_ERR_NONFINITE;
    t->now = later(t->now, now);
    n = expire_at(t, t->now);
    if (evicted)
        *evicted = n;
    return AETHER_OK;
}

aether_status aether_tracks_forget(aether_tracks *t, uint64_t id)
{
    size_t i;
    aether_status st = aether_tracks_check_(t);
    if (st != AETHER_OK)
        return st;
    i = aether_tracks_find_(t, id);
    if (i == AETHER_TRACKS_NONE)
        return AETHER_ERR_TRACK_NOT_FOUND;
    aether_tracks_release_(t, i);
    t->active--;
    t->stats.forgotten++;
    return AETHER_OK;
}

aether_status aether_tracks_forget_all(aether_tracks *t)
{
    size_t i;
    aether_status st = aether_tracks_check_(t);
    if (st != AETHER_OK)
        return st;
    for (i = 0; i < t->n_slots; ++i)
        if (t->slots[i].in_use) {
            aether_tracks_release_(t, i);
            t->active--;
            t->stats.forgotten++;
        }
    return AETHER_OK;
}

/* ---------- many tracks at once ---------- */

/* 1 when the n floats are all finite. */
static int frame_finite(const float *x, size_t n)
{
    size_t k;
    for (k = 0; k < n; ++k)
        if (!aether_isfinite(x[k]))
            return 0;
    return 1;
}

/* Entries [from, *end) of a run that aether_tracks_step would hand to
 * step_existing if every one of them stepped: each names an active,
 * distinct track that is not due at the newest timestamp so far. Entries
 * with a non-finite timestamp or frame fail on their own (status
 * NONFINITE, nothing changes) and do not end the run. The run's tracks go
 * into the gather buffers; returns their number. */
static size_t gather_run(aether_tracks *t, const uint64_t *ids, const double *timestamps,
                         const float *frames, size_t n, size_t from, size_t *end,
                         aether_status *statuses)
{
    size_t j, k, m = 0, in = t->input_dim;
    double now = t->now;
    for (j = from; j < n && m < t->batch_cap; ++j) {
        size_t i;
        double nj;
        if (!finite_double(timestamps[j]) || !frame_finite(frames + j * in, in)) {
            statuses[j] = AETHER_ERR_NONFINITE;
            continue;
        }
        nj = later(now, timestamps[j]);
        i = aether_tracks_find_(t, ids[j]);
        if (i == AETHER_TRACKS_NONE || is_due(t, i, nj))
            break; /* a track to create: aether_tracks_step's own path */
        for (k = 0; k < m && t->bsess[k] != t->slots[i].session; ++k)
            ;
        if (k < m)
            break; /* the same track again: after this run */
        t->bsess[m] = t->slots[i].session;
        t->bentry[m] = j;
        memcpy(t->bframes + m * in, frames + j * in, in * sizeof(float));
        ++m;
        now = nj;
    }
    *end = j;
    return m;
}

aether_status aether_tracks_step_batch(aether_tracks *t, const uint64_t *ids,
                                       const double *timestamps, const float *frames, size_t n,
                                       float *logits, float *pooled, aether_status *statuses,
                                       int *created)
{
    size_t in, nc, j = 0, end, m, r;
    aether_status st = aether_tracks_check_(t);
    if (st != AETHER_OK)
        return st;
    if (n == 0)
        return AETHER_OK;
    if (!ids || !timestamps || !frames || !statuses || (!logits && !t->params.window.frames))
        return AETHER_ERR_NULL_ARG;
    in = t->input_dim;
    nc = t->n_classes;
    if (t->params.window.frames) {
        /* Window tracks: one by one (a window's push and classify). */
        aether_model_info info;
        st = aether_model_get_info(t->model, &info);
        if (st != AETHER_OK)
            return st;
        for (j = 0; j < n; ++j)
            statuses[j] = aether_tracks_step(t, ids[j], timestamps[j], frames + j * in,
                                             logits ? logits + j * info.n_classes : NULL,
                                             pooled ? pooled + j * in : NULL,
                                             created ? &created[j] : NULL);
        return AETHER_OK;
    }
    while (j < n) {
        m = gather_run(t, ids, timestamps, frames, n, j, &end, statuses);
        if (m == 0) {
            if (end < n) {
                /* Entry `end` creates (or re-creates) its track. */
                statuses[end] = aether_tracks_step(t, ids[end], timestamps[end],
                                                   frames + end * in, logits + end * nc,
                                                   pooled ? pooled + end * in : NULL,
                                                   created ? &created[end] : NULL);
                ++end;
            }
            j = end;
            continue;
        }
        st = aether_model_step_batch(t->model, t->bsess, m, t->bframes, t->blogits,
                                     pooled ? t->bpooled : NULL, t->bstatus, t->bws, t->bws_len);
        if (st != AETHER_OK)
            return st; /* cannot happen: the scratch was sized for batch_cap */
        /* The table's bookkeeping in entry order, as step_existing does it
         * after each step. A failed step changes nothing, so the newest
         * timestamp can only be lower than the run assumed, and a track the
         * run found not due is still not due: the run stays the one the
         * one-by-one calls would have stepped. */
        for (r = 0; r < m; ++r) {
            size_t e = t->bentry[r], i = aether_tracks_find_(t, ids[e]);
            double now = later(t->now, timestamps[e]);
            statuses[e] = t->bstatus[r];
            if (t->bstatus[r] != AETHER_OK || i == AETHER_TRACKS_NONE)
                continue;
            memcpy(logits + e * nc, t->blogits + r * nc, nc * sizeof(float));
            if (pooled)
                memcpy(pooled + e * in, t->bpooled + r * in, in * sizeof(float));
            if (created)
                created[e] = 0;
            stepped(t, i, timestamps[e], now);
        }
        j = end;
    }
    return AETHER_OK;
}
