/* Prefetch of a cache's next decode rows from a twin's lists (kv_prefetch.h). */
#include "kvcache/kv_prefetch.h"

#include "kvcache/kvcache_internal.h"

void aether_kv_prefetch_as_(aether_kvcache *c, const aether_kvcache *like)
{
    const aether_simd_ops *ops;
    aether_rows tr, br;
    if (!c || !like || c == like || c->magic != AETHER_KVCACHE_MAGIC ||
        like->magic != AETHER_KVCACHE_MAGIC || like->fast_token == 0 ||
        like->fast_token != like->next_token || c->next_token + 1 != like->next_token ||
        c->storage != AETHER_KV_F32 || like->storage != AETHER_KV_F32 ||
        c->capacity != like->capacity || c->row != like->row || c->evict != like->evict ||
        c->block_size != like->block_size || c->nb_ring != like->nb_ring ||
        c->tok_cap != like->tok_cap || c->blk_cap != like->blk_cap ||
        (c->evict != AETHER_KV_EVICT_NONE && c->evict != AETHER_KV_EVICT_SLIDING))
        return;
    ops = aether_kernel_sel_ops(&c->kern);
    if (!ops)
        return;
    /* Every kv head's part of each row: the whole row from offset 0. */
    tr.k = c->k32;
    tr.v = c->v32;
    tr.stride = c->row;
    br.k = c->lm_mean_k;
    br.v = c->lm_mean_v;
    br.stride = c->row;
    ops->prefetch(&tr, like->tok_slot, like->fast_n_tok, c->row);
    ops->prefetch(&br, like->blk, like->fast_n_blk, c->row);
}
