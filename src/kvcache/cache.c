/*
 * KV cache lifecycle: parameter validation, the single arena layout used for
 * both the size query and init, create/destroy, reset and accessors.
 */
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"
#include "kvcache/kv_append.h"
#include "kvcache/kv_checks.h"
#include "kvcache/kv_landmarks.h"
#include "kvcache/kv_slots.h"

aether_kvcache_params aether_kvcache_params_default(const aether_attn_config *attn,
                                                    size_t capacity, size_t kv_heads,
                                                    size_t head_dim)
{
    aether_kvcache_params p;
    memset(&p, 0, sizeof p);
    p.capacity = capacity;
    p.kv_heads = kv_heads;
    p.head_dim = head_dim;
    p.block_size = 0;
    p.attn = attn;
    p.storage = AETHER_KV_F32;
    p.landmarks = AETHER_KV_LM_SUM;
    p.evict = AETHER_KV_EVICT_NONE;
    if (attn) {
        p.protect_tokens = attn->globals;
        p.n_protect = attn->n_globals;
        p.protect_recent = attn->window;
    }
    return p;
}

/* Everything derived from the parameters before any memory is touched. */
typedef struct kv_shape {
    size_t block_size;
    size_t row;
    size_t nb_ring;
    size_t hash_slots; /* 0 when no hash table */
    size_t seq_bound;
    size_t tok_cap;
    size_t blk_cap;
} kv_shape;

static int logical_policy(aether_kv_evict e)
{
    return e == AETHER_KV_EVICT_SLIDING || e == AETHER_KV_EVICT_SCORED;
}

static aether_status check_params(const aether_kvcache_params *p, kv_shape *s)
{
    aether_status st;
    size_t need, b;
    if (!p || !p->attn)
        return AETHER_ERR_NULL_ARG;
    st = aether_attn_config_check(p->attn);
    if (st != AETHER_OK)
        return st;
    if (p->head_dim == 0)
        return AETHER_ERR_ZERO_HEAD_DIM;
    if (p->kv_heads == 0)
        return AETHER_ERR_GQA_RATIO;
    if (p->block_size != 0 && p->block_size != p->attn->block_size)
        return AETHER_ERR_BLOCK_MISMATCH;
    if ((unsigned)p->storage > (unsigned)AETHER_KV_I8 ||
        (unsigned)p->landmarks > (unsigned)AETHER_KV_LM_WELFORD ||
        (unsigned)p->evict > (unsigned)AETHER_KV_EVICT_H2O_COMPAT)
        return AETHER_ERR_INVALID_ARG;
    if (logical_policy(p->evict)) {
        if (p->n_protect > AETHER_MAX_GLOBALS)
            return AETHER_ERR_TOO_MANY_GLOBALS;
        if (p->n_protect > 0 && !p->protect_tokens)
            return AETHER_ERR_NULL_ARG;
        need = p->n_protect;
        if (p->evict == AETHER_KV_EVICT_SCORED) {
            if (aether_size_add(need, p->protect_recent, &need) != AETHER_OK)
                return AETHER_ERR_INVALID_ARG;
        }
        /* An evictable slot must always exist. */
        if (p->capacity <= need)
            return AETHER_ERR_INVALID_ARG;
    }
    /* The compat rebuild needs the unrounded rows, which a reduced storage
     * does not keep. */
    if (p->evict == AETHER_KV_EVICT_H2O_COMPAT && p->storage != AETHER_KV_F32)
        return AETHER_ERR_UNSUPPORTED;

    b = p->attn->block_size;
    s->block_size = b;
    if (aether_size_mul(p->kv_heads, p->head_dim, &s->row) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    s->hash_slots = 0;
    if (logical_policy(p->evict)) {
        size_t h = 2;
        while (h < p->capacity || h - p->capacity < p->capacity) {
            if (h > SIZE_MAX / 2)
                return AETHER_ERR_OVERFLOW;
            h *= 2;
        }
        s->hash_slots = h;
        s->nb_ring = p->landmark_blocks;
        if (s->nb_ring == 0 &&
            aether_size_add(aether_ceil_div(p->capacity, b), 1, &s->nb_ring) != AETHER_OK)
            return AETHER_ERR_OVERFLOW;
        s->seq_bound = SIZE_MAX; /* positions are token ids: unbounded */
    } else {
        s->nb_ring = aether_ceil_div(p->capacity, b);
        if (s->nb_ring == 0)
            s->nb_ring = 1;
        s->seq_bound = p->capacity ? p->capacity : 1;
    }
    s->tok_cap = aether_pattern_max_tokens(p->attn, s->seq_bound);
    s->blk_cap = aether_pattern_max_blocks(p->attn, s->seq_bound);
    if (s->tok_cap == SIZE_MAX || s->blk_cap == SIZE_MAX)
        return AETHER_ERR_OVERFLOW;
    if (s->tok_cap == 0)
        s->tok_cap = 1;
    if (s->blk_cap == 0)
        s->blk_cap = 1;
    return AETHER_OK;
}

/* The one layout: measuring when a->base is NULL, carving otherwise. */
static aether_kvcache *layout(aether_arena *a, const aether_kvcache_params *p, const kv_shape *s)
{
    aether_kvcache *c = (aether_kvcache *)aether_arena_alloc(a, 1, sizeof(aether_kvcache),
                                                             AETHER_ALIGN);
    size_t cells = 0, lm_cells = 0, e_cells = 0;
    size_t elem = aether_kv_storage_bytes_(p->storage);
    int i8 = p->storage == AETHER_KV_I8, reduced = p->storage != AETHER_KV_F32;
    void *k, *v;
    unsigned char *ke, *ve;
    if (aether_size_mul(p->capacity, s->row, &cells) != AETHER_OK ||
        aether_size_mul(s->nb_ring, s->row, &lm_cells) != AETHER_OK ||
        aether_size_mul(p->capacity, i8 ? p->kv_heads : 0, &e_cells) != AETHER_OK) {
        a->status = AETHER_ERR_OVERFLOW;
        return NULL;
    }
    k = aether_arena_alloc(a, cells, elem, AETHER_ALIGN);
    v = aether_arena_alloc(a, cells, elem, AETHER_ALIGN);
    ke = (unsigned char *)aether_arena_alloc(a, e_cells, 1, AETHER_ALIGN);
    ve = (unsigned char *)aether_arena_alloc(a, e_cells, 1, AETHER_ALIGN);
    {
        size_t *slot_token = (size_t *)aether_arena_alloc(a, p->capacity, sizeof(size_t),
                                                          AETHER_ALIGN);
        float *score = (float *)
            aether_arena_alloc(a, p->evict == AETHER_KV_EVICT_SCORED ? p->capacity : 0,
                               sizeof(float), AETHER_ALIGN);
        unsigned char *prot = (unsigned char *)aether_arena_alloc(a,
                                                                  s->hash_slots ? p->capacity : 0,
                                                                  1, AETHER_ALIGN);
        size_t *hash = (size_t *)aether_arena_alloc(a, s->hash_slots, sizeof(size_t),
                                                    AETHER_ALIGN);
        /* SCORED: tournament tree over power-of-two leaves >= capacity. */
        size_t n_tree = p->evict == AETHER_KV_EVICT_SCORED ? s->hash_slots : 0;
        size_t *tree = (size_t *)aether_arena_alloc(a, n_tree, sizeof(size_t), AETHER_ALIGN);
        size_t *tag = (size_t *)aether_arena_alloc(a, s->nb_ring, sizeof(size_t), AETHER_ALIGN);
        size_t *cnt = (size_t *)aether_arena_alloc(a, s->nb_ring, sizeof(size_t), AETHER_ALIGN);
        size_t sum_cells = p->landmarks == AETHER_KV_LM_SUM ? lm_cells : 0;
        float *sk = (float *)aether_arena_alloc(a, sum_cells, sizeof(float), AETHER_ALIGN);
        float *sv = (float *)aether_arena_alloc(a, sum_cells, sizeof(float), AETHER_ALIGN);
        float *mk = (float *)aether_arena_alloc(a, lm_cells, sizeof(float), AETHER_ALIGN);
        float *mv = (float *)aether_arena_alloc(a, lm_cells, sizeof(float), AETHER_ALIGN);
        size_t *tok = (size_t *)aether_arena_alloc(a, s->tok_cap, sizeof(size_t), AETHER_ALIGN);
        size_t *tslot = (size_t *)aether_arena_alloc(a, s->tok_cap, sizeof(size_t), AETHER_ALIGN);
        size_t *blk = (size_t *)aether_arena_alloc(a, s->blk_cap, sizeof(size_t), AETHER_ALIGN);
        float *tscore = (float *)aether_arena_alloc(a, s->tok_cap, sizeof(float), AETHER_ALIGN);
        float *acc = (float *)aether_arena_alloc(a, p->head_dim, sizeof(float), AETHER_ALIGN);
        float *kbuf = (float *)aether_arena_alloc(a, p->head_dim, sizeof(float), AETHER_ALIGN);
        float *lm_tmp = (float *)aether_arena_alloc(a, s->row, 2 * sizeof(float), AETHER_ALIGN);
        float *vbuf = (float *)aether_arena_alloc(a, reduced ? p->head_dim : 0,
                                                  KV_VCHUNK * sizeof(float), AETHER_ALIGN);
        int32_t *qbuf = (int32_t *)aether_arena_alloc(a, i8 ? p->head_dim : 0, sizeof(int32_t),
                                                      AETHER_ALIGN);
        size_t i;
        if (!c || a->status != AETHER_OK)
            return NULL;
        /* Zero-length blocks still get an address: mark them absent. */
        if (p->evict != AETHER_KV_EVICT_SCORED)
            score = NULL;
        if (!n_tree)
            tree = NULL;
        if (!s->hash_slots) {
            prot = NULL;
            hash = NULL;
        }
        if (!sum_cells)
            sk = sv = NULL;
        aether_kernel_select_(&c->kern);
        c->magic = AETHER_KVCACHE_MAGIC;
        c->bytes = a->used;
        c->capacity = p->capacity;
        c->kv_heads = p->kv_heads;
        c->head_dim = p->head_dim;
        c->row = s->row;
        c->block_size = s->block_size;
        c->storage = p->storage;
        c->lm_mode = p->landmarks;
        c->evict = p->evict;
        c->n_protect = logical_policy(p->evict) ? p->n_protect : 0;
        for (i = 0; i < c->n_protect; ++i)
            c->protect[i] = p->protect_tokens[i];
        c->protect_recent = p->evict == AETHER_KV_EVICT_SCORED ? p->protect_recent : 0;
        c->len = 0;
        c->next_token = 0;
        c->fast_token = c->fast_n_tok = c->fast_n_blk = 0;
        c->k32 = c->v32 = NULL;
        c->k16 = c->v16 = NULL;
        c->k8 = c->v8 = NULL;
        c->ke = c->ve = NULL;
        if (p->storage == AETHER_KV_F16 || p->storage == AETHER_KV_BF16) {
            c->k16 = (uint16_t *)k;
            c->v16 = (uint16_t *)v;
        } else if (i8) {
            c->k8 = (int8_t *)k;
            c->v8 = (int8_t *)v;
            c->ke = (uint8_t *)ke;
            c->ve = (uint8_t *)ve;
        } else {
            c->k32 = (float *)k;
            c->v32 = (float *)v;
        }
        c->vbuf = reduced ? vbuf : NULL;
        c->qbuf = i8 ? qbuf : NULL;
        c->slot_token = slot_token;
        c->score = score;
        c->tree = tree;
        c->tree_base = n_tree / 2;
        c->slot_protected = prot;
        c->cursor = 0;
        c->hash = hash;
        c->hash_mask = s->hash_slots ? s->hash_slots - 1 : 0;
        memset(c->protect_slot, 0, sizeof c->protect_slot);
        c->nb_ring = s->nb_ring;
        c->lm_tag = tag;
        c->lm_count = cnt;
        c->lm_sum_k = sk;
        c->lm_sum_v = sv;
        c->lm_mean_k = mk;
        c->lm_mean_v = mv;
        c->seq_bound = s->seq_bound;
        c->tok_cap = s->tok_cap;
        c->blk_cap = s->blk_cap;
        c->tok = tok;
        c->tok_slot = tslot;
        c->blk = blk;
        c->tok_score = tscore;
        c->acc = acc;
        c->kbuf = kbuf;
        c->lm_tmp = lm_tmp;
        aether_kv_landmarks_clear_(c);
        return c;
    }
}

aether_status aether_kvcache_size(const aether_kvcache_params *p, size_t *bytes)
{
    kv_shape s;
    aether_arena a;
    aether_status st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    st = check_params(p, &s);
    if (st != AETHER_OK)
        return st;
    aether_arena_measure(&a);
    (void)layout(&a, p, &s);
    if (a.status != AETHER_OK)
        return a.status;
    *bytes = a.used;
    return AETHER_OK;
}

aether_status aether_kvcache_init(void *buf, size_t len, const aether_kvcache_params *p,
                                  aether_kvcache **out)
{
    size_t need;
    kv_shape s;
    aether_arena a;
    aether_kvcache *c;
    aether_status st;
    if (!buf || !out)
        return AETHER_ERR_NULL_ARG;
    st = aether_kvcache_size(p, &need);
    if (st != AETHER_OK)
        return st;
    if (len < need)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    (void)check_params(p, &s);
    aether_arena_init(&a, buf, len);
    c = layout(&a, p, &s);
    if (!c)
        return a.status != AETHER_OK ? a.status : AETHER_ERR_BUFFER_TOO_SMALL;
    c->bytes = need; /* the measured size, independent of the buffer's alignment */
    *out = c;
    return AETHER_OK;
}

/* The arena may align past the start of the buffer; keep the malloc'd base
 * so destroy can free it. */
typedef struct kv_owner {
    void *base;
} kv_owner;

aether_status aether_kvcache_create(const aether_kvcache_params *p, aether_kvcache **out)
{
    size_t need, total;
    unsigned char *mem;
    void *base = NULL;
    aether_kvcache *c;
    aether_status st;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    st = aether_kvcache_size(p, &need);
    if (st != AETHER_OK)
        return st;
    /* room for the owner record plus worst-case alignment slack */
    if (aether_size_add(need, AETHER_ALIGN + sizeof(kv_owner), &total) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    mem = (unsigned char *)aether_big_alloc_(total, 0, &base);
    if (!mem)
        return AETHER_ERR_NO_MEM;
    st = aether_kvcache_init(mem + sizeof(kv_owner), total - sizeof(kv_owner), p, &c);
    if (st != AETHER_OK) {
        free(base);
        return st;
    }
    {
        kv_owner o;
        o.base = base;
        memcpy((unsigned char *)c - sizeof(kv_owner), &o, sizeof o);
    }
    *out = c;
    return AETHER_OK;
}

void aether_kvcache_destroy(aether_kvcache *cache)
{
    kv_owner o;
    if (!cache || cache->magic != AETHER_KVCACHE_MAGIC)
        return;
    memcpy(&o, (unsigned char *)cache - sizeof(kv_owner), sizeof o);
    cache->magic = 0;
    free(o.base);
}

aether_status aether_kv_check_(const aether_kvcache *c)
{
    if (!c)
        return AETHER_ERR_NULL_ARG;
    return c->magic == AETHER_KVCACHE_MAGIC ? AETHER_OK : AETHER_ERR_NOT_INITIALIZED;
}

int aether_kv_logical_(const aether_kvcache *c)
{
    return logical_policy(c->evict);
}

aether_status aether_kvcache_reset(aether_kvcache *cache)
{
    aether_status st = aether_kv_check_(cache);
    if (st != AETHER_OK)
        return st;
    cache->len = 0;
    cache->next_token = 0;
    cache->cursor = 0;
    cache->fast_token = 0;
    if (cache->score)
        memset(cache->score, 0, cache->capacity * sizeof(float));
    if (cache->tree)
        memset(cache->tree, 0, 2 * cache->tree_base * sizeof(size_t));
    if (cache->slot_protected)
        memset(cache->slot_protected, 0, cache->capacity);
    if (aether_kv_logical_(cache))
        aether_kv_hash_clear_(cache);
    aether_kv_landmarks_clear_(cache);
    return AETHER_OK;
}

#define KV_GET(field) return aether_kv_check_(cache) == AETHER_OK ? cache->field : 0

size_t aether_kvcache_len(const aether_kvcache *cache)
{
    KV_GET(len);
}
size_t aether_kvcache_capacity(const aether_kvcache *cache)
{
    KV_GET(capacity);
}
size_t aether_kvcache_tokens_seen(const aether_kvcache *cache)
{
    KV_GET(next_token);
}
size_t aether_kvcache_kv_heads(const aether_kvcache *cache)
{
    KV_GET(kv_heads);
}
size_t aether_kvcache_head_dim(const aether_kvcache *cache)
{
    KV_GET(head_dim);
}
size_t aether_kvcache_block_size(const aether_kvcache *cache)
{
    KV_GET(block_size);
}
size_t aether_kvcache_bytes(const aether_kvcache *cache)
{
    KV_GET(bytes);
}
size_t aether_kvcache_landmark_blocks(const aether_kvcache *cache)
{
    KV_GET(nb_ring);
}

int aether_kvcache_is_full(const aether_kvcache *cache)
{
    return aether_kv_check_(cache) == AETHER_OK && cache->len >= cache->capacity;
}

aether_status aether_kvcache_slot_token(const aether_kvcache *cache, size_t slot, size_t *token)
{
    aether_status st = aether_kv_check_(cache);
    if (st != AETHER_OK)
        return st;
    if (!token)
        return AETHER_ERR_NULL_ARG;
    if (slot >= cache->len)
        return AETHER_ERR_INVALID_ARG;
    *token = cache->slot_token[slot];
    return AETHER_OK;
}

aether_status aether_kvcache_slot_score(const aether_kvcache *cache, size_t slot, float *score)
{
    aether_status st = aether_kv_check_(cache);
    if (st != AETHER_OK)
        return st;
    if (!score)
        return AETHER_ERR_NULL_ARG;
    if (slot >= cache->len)
        return AETHER_ERR_INVALID_ARG;
    *score = cache->score ? cache->score[slot] : 0.0f;
    return AETHER_OK;
}

aether_status aether_kvcache_slot_rows(const aether_kvcache *cache, size_t slot, float *k_out,
                                       float *v_out)
{
    size_t off;
    aether_status st = aether_kv_check_(cache);
    if (st != AETHER_OK)
        return st;
    if (slot >= cache->capacity)
        return AETHER_ERR_INVALID_ARG;
    off = slot * cache->row;
    if (cache->storage == AETHER_KV_F32) {
        if (k_out)
            memcpy(k_out, cache->k32 + off, cache->row * sizeof(float));
        if (v_out)
            memcpy(v_out, cache->v32 + off, cache->row * sizeof(float));
    } else {
        size_t h, dim = cache->head_dim;
        for (h = 0; h < cache->kv_heads; ++h) {
            if (k_out)
                aether_kv_widen_(cache, 0, slot, h, k_out + h * dim);
            if (v_out)
                aether_kv_widen_(cache, 1, slot, h, v_out + h * dim);
        }
    }
    return AETHER_OK;
}
