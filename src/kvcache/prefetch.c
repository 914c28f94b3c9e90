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
        c->storage != like->storage ||
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
    /* Token rows in the cache's storage (2 or 1 bytes an element for the
     * reduced ones); landmark rows are f32 in all. */
    if (c->storage == AETHER_KV_F32)
        ops->prefetch(&tr, like->tok_slot, like->fast_n_tok, c->row);
    else if (c->storage == AETHER_KV_I8)
        ops->prefetch_bytes(c->k8, c->v8, c->row, like->tok_slot, like->fast_n_tok, c->row);
    else
        ops->prefetch_bytes(c->k16, c->v16, c->row * sizeof(uint16_t), like->tok_slot,
                            like->fast_n_tok, c->row * sizeof(uint16_t));
    ops->prefetch(&br, like->blk, like->fast_n_blk, c->row);
}
