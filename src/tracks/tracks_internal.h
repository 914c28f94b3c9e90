/* Internal: the track table's layout, shared by its lifecycle, stepping and
 * erasure files. */
#ifndef AETHER_TRACKS_INTERNAL_H
#define AETHER_TRACKS_INTERNAL_H

#include "aether/tracks.h"

/* One slot's table entry. A free slot's entry is all zero bytes (it is
 * memset on erasure, never assigned field by field), which is what
 * aether_tracks_slot_is_clear checks. */
typedef struct aether_track_slot_ {
    uint64_t id;
    uint64_t lru; /* table tick of the track's latest step */
    uint64_t frames;
    double first_seen, last_seen;
    aether_model_session *session; /* inside this slot's memory block (session mode) */
    aether_window *window;         /* inside this slot's memory block (window mode) */
    unsigned in_use;
} aether_track_slot_;

struct aether_tracks {
    uint32_t magic;
    const aether_model *model;
    aether_tracks_params params;
    size_t input_dim;
    size_t n_slots; /* max_tracks + 1: one spare for atomic creation */
    size_t stride;  /* bytes per slot memory block (multiple of 64) */
    aether_track_slot_ *slots;
    unsigned char *mem; /* n_slots * stride bytes */
    void *ws;           /* window mode: the shared forward workspace */
    size_t ws_len;
    size_t total_bytes; /* the size query's answer */
    size_t active;
    uint64_t tick;
    double now; /* newest timestamp seen (-inf before any) */
    aether_tracks_stats stats;
    void *owned_;
};

#define AETHER_TRACKS_MAGIC 0x54524B53u /* "TRKS" */
#define AETHER_TRACKS_NONE ((size_t)-1)

aether_status aether_tracks_check_(const aether_tracks *t);
/* Slot index of active id, or AETHER_TRACKS_NONE. */
size_t aether_tracks_find_(const aether_tracks *t, uint64_t id);
/* Zero slot i's memory block and table entry (active is the caller's). */
void aether_tracks_wipe_(aether_tracks *t, size_t i);

#endif
