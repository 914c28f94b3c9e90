/*
 * aether/tracks.h - one streaming model session per tracked subject
 * (docs/MODEL.md section 6: one cache per tracked person, dropped with
 * the track when it has not been seen for too long).
 *
 * A track table keeps up to `max_tracks` sessions of one model, keyed by a
 * caller-chosen 64-bit track id (a person's re-ID track, a node id, ...).
 * The first frame of an unknown id creates its track; every frame updates
 * the track's last-seen time and its least-recently-used rank. Tracks leave
 * the table in three ways, each counted in the statistics:
 *   - age: a track whose last-seen time is more than max_age seconds older
 *     than the newest timestamp the table has seen is evicted (at the next
 *     step, or explicitly with aether_tracks_expire);
 *   - count: a new id arriving while max_tracks tracks are active evicts the
 *     least recently stepped track (AETHER_TRACKS_FULL_EVICT_LRU), or is
 *     refused with AETHER_ERR_TRACKS_FULL (AETHER_TRACKS_FULL_FAIL);
 *   - forget: aether_tracks_forget erases one track on request.
 * Whatever the reason, a track's memory (its session, KV caches, scratch
 * and table entry) is overwritten with zeros, not merely unlinked: nothing
 * of the frames it saw remains in the table's buffer.
 *
 * Memory: everything lives in one block fixed at init - the table, its
 * index (about 28 bytes per slot), max_tracks + 1 session slots laid
 * out back to back, and in session mode the scratch of
 * aether_tracks_step_batch for min(max_tracks, 64) tracks (about 1.6 KB
 * per track for the default model) (aether_tracks_size +
 * aether_tracks_init on caller memory, or _create/_destroy with malloc).
 * Nothing is allocated afterwards. The spare slot is what makes a step that
 * creates a track atomic: the new session is built and stepped in a free
 * slot first, and only once that succeeded are the expired or LRU tracks
 * erased. A failed call therefore leaves the table, its statistics and all
 * its tracks as they were (except AETHER_ERR_STATE, see aether_tracks_step).
 *
 * Results: a track's logits are exactly those of a standalone
 * aether_model_session (same model and session parameters) fed the same
 * frames since the track was created; in window mode, those of a
 * standalone aether_window (same model and window parameters) fed them.
 *
 * Cost: a track is found through a hash index over its id (open
 * addressing in the table's block, 2 to 4 buckets of 4 bytes per slot), the
 * least recently stepped track is the head of a list kept in step order,
 * and a free slot comes off a stack: a step of an existing track and the
 * choice of an LRU victim are O(1) on average, whatever max_tracks is. With
 * max_age > 0 the tracks are also kept in a binary heap by last-seen time,
 * which adds O(log max_tracks) per step and makes eviction by age
 * O(evicted x log max_tracks) rather than a scan. Creating a track
 * initialises (zero-fills) a session, O(session bytes); erasing one is
 * O(session bytes). aether_tracks_list, _forget_all and the slot
 * inspection calls walk every slot. Threads: a table is used by one thread at a time; the
 * model may be shared with other tables and sessions.
 */
#ifndef AETHER_TRACKS_H
#define AETHER_TRACKS_H

#include "aether/export.h"
#include <stddef.h>
#include <stdint.h>

#include "aether/core.h"
#include "aether/model.h"
#include "aether/window.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a new id does when max_tracks tracks are active. */
typedef enum aether_tracks_full_policy {
    AETHER_TRACKS_FULL_EVICT_LRU = 0, /* evict the least recently stepped track */
    AETHER_TRACKS_FULL_FAIL = 1       /* refuse with AETHER_ERR_TRACKS_FULL */
} aether_tracks_full_policy;

/* Table parameters (aether_tracks_params_default). */
typedef struct aether_tracks_params {
    size_t max_tracks;              /* active tracks at most, >= 1 (default 16) */
    double max_age;                 /* seconds; 0 = never evict by age (default 0) */
    aether_tracks_full_policy full; /* default AETHER_TRACKS_FULL_EVICT_LRU */
    aether_session_params session;  /* every track's session (model defaults) */
    /* window.frames 0 (default): one streaming session per track. > 0: one
     * window classifier per track (aether/window.h; its
     * external_workspace is ignored: the table holds one forward workspace
     * that every track's classify uses), the session parameters unused. */
    aether_window_params window;
} aether_tracks_params;

/* Counters since init (aether_tracks_reset_stats clears the cumulative ones). */
typedef struct aether_tracks_stats {
    size_t active;          /* tracks in the table now */
    size_t max_tracks;      /* the configured bound */
    uint64_t created;       /* tracks created by a step */
    uint64_t evicted_age;   /* erased for being older than max_age */
    uint64_t evicted_count; /* erased as least recently used to make room */
    uint64_t forgotten;     /* erased by aether_tracks_forget / _forget_all */
    uint64_t steps;         /* frames stepped successfully */
} aether_tracks_stats;

/* One track's state (aether_tracks_info). */
typedef struct aether_track_info {
    uint64_t id;
    size_t slot;       /* index of its memory slot, 0..max_tracks */
    double first_seen; /* timestamp of its first frame */
    double last_seen;  /* largest timestamp of its frames */
    uint64_t frames;   /* frames stepped since it was created */
} aether_track_info;

typedef struct aether_tracks aether_tracks; /* opaque */

/* {16, 0, EVICT_LRU, aether_model_session_params_default()}. */
AETHER_API aether_tracks_params aether_tracks_params_default(void);

/* Bytes aether_tracks_init needs for `model` (NULL params = defaults).
 * Errors: NULL_ARG; NOT_INITIALIZED (model); INVALID_ARG (max_tracks 0,
 * max_age negative or not finite, unknown policy, session capacity 0); the
 * session's parameter errors; OVERFLOW. */
AETHER_API aether_status aether_tracks_size(const aether_model *model,
                                            const aether_tracks_params *params, size_t *bytes);

/* Build an empty table in buf[0, len) (any alignment; BUFFER_TOO_SMALL if
 * short). The model must outlive the table; the buffer must not move. The
 * whole buffer is written at init (so its pages are committed up front). */
AETHER_API aether_status aether_tracks_init(void *buf, size_t len, const aether_model *model,
                                            const aether_tracks_params *params,
                                            aether_tracks **out);

/* malloc convenience; release with aether_tracks_destroy, which erases
 * every track before freeing (accepts NULL; never destroy an init'ed one). */
AETHER_API aether_status aether_tracks_create(const aether_model *model,
                                              const aether_tracks_params *params,
                                              aether_tracks **out);
AETHER_API void aether_tracks_destroy(aether_tracks *t);

/* Total bytes of the table's memory block, constant for its lifetime
 * (0 for NULL). */
AETHER_API size_t aether_tracks_bytes(const aether_tracks *t);

/*
 * Feed track `id` one frame observed at `timestamp` (seconds, any origin,
 * the same clock for every track). In order: tracks older than max_age at
 * max(timestamp, newest timestamp seen) are due for eviction, `id`
 * included (it then starts over as a new track); an unknown (or due) id
 * gets a fresh session, evicting the least recently stepped track when
 * max_tracks would be exceeded; the frame is stepped through the track's
 * session. logits (n_classes floats) and pooled (optional, input_dim
 * floats) receive the session's outputs; *created_out (optional) is 1 when
 * this call created the track. In window mode the frame is pushed into the
 * track's window, and the window is classified only when logits is not
 * NULL (a decision is due): pushing alone costs a copy.
 * Errors, with nothing changed: NULL_ARG; NOT_INITIALIZED; NONFINITE
 * (timestamp or a frame value is NaN/Inf); TRACKS_FULL (FULL_FAIL policy,
 * a new id and max_tracks tracks that are not due); the session's step
 * errors (e.g. CACHE_FULL with an EVICT_NONE session). AETHER_ERR_STATE
 * is the session's: a step of an existing track failed half-way through
 * its layers; that track refuses frames until forgotten. In window mode a
 * failed classify of an existing track keeps the pushed frame (it returns
 * the forward's status; the window stays usable).
 */
AETHER_API aether_status aether_tracks_step(aether_tracks *t, uint64_t id, double timestamp,
                                            const float *frame, float *logits, float *pooled,
                                            int *created_out);

/*
 * Feed n frames at once: entry j is track ids[j]'s frame frames[j] (rows of
 * input_dim floats) observed at timestamps[j], with the same semantics,
 * outputs and per-entry status as n calls of aether_tracks_step in entry
 * order: creation, eviction by age and by count, the newest timestamp,
 * the statistics, a track listed more than once (stepped once per entry,
 * in order), every logits row logits[j] (n_classes floats), pooled row
 * (optional, input_dim floats), created[j] (optional) and statuses[j]
 * (n entries, required) end up as those calls would leave them; an entry
 * that fails writes nothing of its own and does not stop the others.
 * In session mode, runs of entries that step distinct existing tracks go
 * through aether_model_step_batch (up to 64 tracks per batched call, the
 * projections shared; the bits are the one-session step's); an entry that
 * creates a track, or names a track again within a run, is stepped on its
 * own between runs. Window tracks (window mode) are stepped one by one
 * inside this call (logits may then be NULL: push only, as in
 * aether_tracks_step). The scratch lives in the table (sized at init);
 * nothing is allocated.
 * Errors of the call itself, with nothing changed: NOT_INITIALIZED /
 * NULL_ARG (t); for n > 0, NULL_ARG (ids, timestamps, frames or statuses
 * NULL, or logits NULL in session mode). Otherwise AETHER_OK, and the
 * entries' results are in statuses.
 */
AETHER_API aether_status aether_tracks_step_batch(aether_tracks *t, const uint64_t *ids,
                                                  const double *timestamps, const float *frames,
                                                  size_t n, float *logits, float *pooled,
                                                  aether_status *statuses, int *created);

/* Evict every track older than max_age at `now` (the newest timestamp seen
 * advances to now if later). *evicted (optional) receives the count. With
 * max_age 0 nothing is evicted. Errors: NULL_ARG, NOT_INITIALIZED,
 * NONFINITE (now). */
AETHER_API aether_status aether_tracks_expire(aether_tracks *t, double now, size_t *evicted);

/* Erase track `id`: its slot's memory is zero-filled and the id unlinked.
 * Errors: NULL_ARG, NOT_INITIALIZED, TRACK_NOT_FOUND (nothing changes). */
AETHER_API aether_status aether_tracks_forget(aether_tracks *t, uint64_t id);

/* Erase every track (each counted as forgotten). */
AETHER_API aether_status aether_tracks_forget_all(aether_tracks *t);

/* 1 if `id` is an active track, else 0 (also for NULL). Does not look at
 * ages: a track due for eviction stays until the next step or expire. */
AETHER_API int aether_tracks_contains(const aether_tracks *t, uint64_t id);

/* State of track `id` (TRACK_NOT_FOUND if absent). */
AETHER_API aether_status aether_tracks_info(const aether_tracks *t, uint64_t id,
                                            aether_track_info *out);

/* The session of track `id`, read-only (for aether_model_session_frames /
 * _evicted); NULL if absent. Valid until the track leaves the table. */
AETHER_API const aether_model_session *aether_tracks_session(const aether_tracks *t, uint64_t id);

/* The window classifier of track `id` of a window-mode table, read-only
 * (aether_window_input_distance, _held); NULL if absent or the table runs
 * streaming sessions. Valid until the track leaves the table. */
AETHER_API const aether_window *aether_tracks_window(const aether_tracks *t, uint64_t id);

/* Active track ids, in slot order, into ids[0, cap); *n receives the number
 * of active tracks (BUFFER_TOO_SMALL if cap < *n, ids then holds the first
 * cap). */
AETHER_API aether_status aether_tracks_list(const aether_tracks *t, uint64_t *ids, size_t cap,
                                            size_t *n);

/* Statistics (active and max_tracks are current, the rest cumulative). */
AETHER_API aether_status aether_tracks_get_stats(const aether_tracks *t,
                                                 aether_tracks_stats *out);
/* Zero created / evicted_* / forgotten / steps. */
AETHER_API aether_status aether_tracks_reset_stats(aether_tracks *t);

/* ---------- erasure inspection (tests and audits) ---------- */

/* Number of memory slots: max_tracks + 1 (0 for NULL). */
AETHER_API size_t aether_tracks_slot_count(const aether_tracks *t);

/* The raw bytes of slot `slot`: its session block (session object, layer
 * caches, scratch). Read-only; INVALID_ARG if slot >= slot_count. */
AETHER_API aether_status aether_tracks_slot_memory(const aether_tracks *t, size_t slot,
                                                   const unsigned char **bytes, size_t *len);

/* 1 if slot `slot` is free and every byte of its memory (session block and
 * table entry) is zero, else 0 (also for a bad slot or NULL). */
AETHER_API int aether_tracks_slot_is_clear(const aether_tracks *t, size_t slot);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_TRACKS_H */
