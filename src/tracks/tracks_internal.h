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
    /* Index, kept outside the slot entries (which are all zero when free):
     * - index[]: open-addressing hash of the active ids (linear probing,
     *   backward-shift deletion), slot + 1 per bucket, 0 = empty;
     *   index_mask + 1 buckets, a power of two >= 2 n_slots;
     * - lru_prev/lru_next: the active slots from least to most recently
     *   stepped (AETHER_TRACKS_NIL ends);
     * - free_slots[0, n_free): a stack of the free slots;
     * - heap[0, heap_n), heap_pos[]: with max_age > 0, a binary min-heap of
     *   the active slots by last_seen (heap_pos: a slot's heap position). */
    uint32_t *index;
    size_t index_mask;
    uint32_t *lru_prev, *lru_next;
    uint32_t lru_head, lru_tail;
    uint32_t *free_slots;
    size_t n_free;
    uint32_t *heap, *heap_pos;
    size_t heap_n;
    void *ws;           /* window mode: the shared forward workspace */
    size_t ws_len;
    /* Session mode: aether_tracks_step_batch's scratch for up to batch_cap
     * tracks stepped at once (0 in window mode): the batched step's
     * workspace, and the gathered sessions, frames, logits, pooled rows,
     * entry numbers and statuses. */
    size_t batch_cap, n_classes;
    void *bws;
    size_t bws_len;
    aether_model_session **bsess;
    float *bframes, *blogits, *bpooled;
    size_t *bentry;
    aether_status *bstatus;
    size_t total_bytes; /* the size query's answer */
    size_t active;
    uint64_t tick;
    double now; /* newest timestamp seen (-inf before any) */
    aether_tracks_stats stats;
    void *block_; /* the caller's buffer (where total_bytes start) */
    void *owned_; /* what create got from the heap (to free), else NULL */
};

#define AETHER_TRACKS_MAGIC 0x54524B53u /* "TRKS" */
#define AETHER_TRACKS_NONE ((size_t)-1)
#define AETHER_TRACKS_NIL 0xFFFFFFFFu

aether_status aether_tracks_check_(const aether_tracks *t);
/* Slot index of active id, or AETHER_TRACKS_NONE. */
size_t aether_tracks_find_(const aether_tracks *t, uint64_t id);
/* Zero slot i's memory block and table entry (active is the caller's). */
void aether_tracks_wipe_(aether_tracks *t, size_t i);
/* Empty index, LRU list, free stack (every slot free) and heap. */
void aether_tracks_index_clear_(aether_tracks *t);
/* Take a free slot off the stack (AETHER_TRACKS_NONE if none) / put one
 * back. */
size_t aether_tracks_free_take_(aether_tracks *t);
void aether_tracks_free_put_(aether_tracks *t, size_t i);
/* Link taken slot i, whose entry holds its id and last_seen, as the most
 * recently stepped active track. */
void aether_tracks_link_(aether_tracks *t, size_t i);
/* Active slot i was stepped: most recent in the LRU order, and its
 * last_seen (already updated) re-sorted in the age heap. */
void aether_tracks_touched_(aether_tracks *t, size_t i);
/* Unlink active slot i, wipe it and push it on the free stack (active and
 * the statistics are the caller's). */
void aether_tracks_release_(aether_tracks *t, size_t i);
/* Active tracks due for eviction by age at now (0 with max_age 0), in
 * O(their number); the one with the oldest last_seen if due, else
 * AETHER_TRACKS_NONE. */
size_t aether_tracks_count_due_(const aether_tracks *t, double now);
size_t aether_tracks_oldest_due_(const aether_tracks *t, double now);

#endif
