/*
 * Internal layout of aether_kvcache. Everything lives in the caller's
 * buffer, carved by one arena layout. The files of this folder: cache.c
 * (lifecycle), slots.c (slot storage), landmarks.c, append.c, decode.c
 * (decode of a query over the rows), step.c (append + decode of one token),
 * evict.c. They share their helpers per data structure: kv_checks.h
 * (validation, a leaf), kv_slots.h (slot map, eviction order),
 * kv_landmarks.h (landmark ring), kv_append.h (storing a token),
 * kv_decode.h (the decode, for the step); kv_step.h is the streaming step
 * for upper layers.
 */
#ifndef AETHER_KVCACHE_INTERNAL_H
#define AETHER_KVCACHE_INTERNAL_H

#include "aether/kvcache.h"
#include "dispatch/kernels.h"

#define AETHER_KVCACHE_MAGIC 0x4B564331u /* "KVC1" */
/* Value rows the reference decode holds widened at once (its chunk). */
#define KV_VCHUNK 8u

struct aether_kvcache {
    uint32_t magic;
    size_t bytes; /* size of the whole object, from the layout */
    size_t capacity;
    size_t kv_heads;
    size_t head_dim;
    size_t row; /* kv_heads * head_dim: floats per token */
    size_t block_size;
    aether_kv_storage storage;
    aether_kv_landmarks lm_mode;
    aether_kv_evict evict;
    size_t protect[AETHER_MAX_GLOBALS];
    size_t n_protect;
    size_t protect_recent;

    size_t len;
    size_t next_token; /* token id of the next append */

    /* Rows [capacity][row]: exactly one of the pairs is set (k16/v16 for
     * F16 and BF16; k8/v8 for I8, with one exponent byte per token and kv
     * head in ke/ve [capacity][kv_heads]). */
    float *k32, *v32;
    uint16_t *k16, *v16;
    int8_t *k8, *v8;
    uint8_t *ke, *ve;
    size_t *slot_token; /* token id per slot */
    float *score;       /* SCORED: accumulated weight per slot */
    /* SCORED: tournament tree; node i holds 1 + the weakest evictable slot
     * below it (0 = none), leaves at tree_base + slot. */
    size_t *tree;
    size_t tree_base;
    unsigned char *slot_protected; /* SLIDING/SCORED: token id is protected */
    size_t cursor;                 /* SLIDING: next slot to consider replacing */

    /* Position -> slot (SLIDING/SCORED), entries hold slot + 1 (0 =
     * empty), hash_mask + 1 >= 2 * capacity is a power of two. SCORED:
     * open addressing, linear probing. SLIDING: a direct map, token t in
     * entry t & hash_mask, its protected tokens in protect_slot instead
     * (slot + 1 per protect[] entry, 0 = not stored yet); see slots.c. */
    size_t *hash;
    size_t hash_mask;
    size_t protect_slot[AETHER_MAX_GLOBALS];

    /* Landmark ring: block b lives in entry b % nb_ring when tag == b. */
    size_t nb_ring;
    size_t *lm_tag;
    size_t *lm_count;
    float *lm_sum_k, *lm_sum_v;   /* LM_SUM only: running sums */
    float *lm_mean_k, *lm_mean_v; /* means (SUM: complete blocks; WELFORD: running) */

    /* Decode scratch, sized at init for `seq_bound` positions. */
    size_t seq_bound;
    size_t tok_cap, blk_cap;
    size_t *tok;      /* token candidate positions */
    size_t *tok_slot; /* resolved slots */
    size_t *blk;      /* block candidates */
    float *tok_score; /* SCORED: each token candidate's score for one head */
    float *acc;       /* head_dim */
    float *kbuf;      /* head_dim: widened key row (reduced storages) */
    /* Reduced storages: widened value rows of the reference decode,
     * KV_VCHUNK rows of head_dim; I8: Q16 scratch of head_dim int32. */
    float *vbuf;
    int32_t *qbuf;
    float *lm_tmp;    /* 2 * row: means of a partial block (LM_SUM) */
    /* The last optimised decode left tok_slot[0..fast_n_tok) and blk[0..
     * fast_n_blk) (ring entries) final for token count fast_token (0 = no
     * such lists): a twin cache with the same configuration and history
     * may decode the same position from them (aether_kv_step_rows_twin_). */
    size_t fast_token, fast_n_tok, fast_n_blk;
    /* Decode kernels chosen at init (dispatch/kernels.h). */
    aether_kernel_sel kern;
};

#endif /* AETHER_KVCACHE_INTERNAL_H */
