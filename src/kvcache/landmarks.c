/*
 * The KV cache's landmark ring: per-block running sums (LM_SUM) or running
 * means (LM_WELFORD) of the appended rows, block b in entry b % nb_ring.
 */
#include <string.h>

#include "kvcache/kv_checks.h"
#include "kvcache/kv_landmarks.h"

static void clear_entry(aether_kvcache *c, size_t e, size_t tag)
{
    size_t off = e * c->row;
    c->lm_tag[e] = tag;
    c->lm_count[e] = 0;
    memset(c->lm_mean_k + off, 0, c->row * sizeof(float));
    memset(c->lm_mean_v + off, 0, c->row * sizeof(float));
    if (c->lm_sum_k) {
        memset(c->lm_sum_k + off, 0, c->row * sizeof(float));
        memset(c->lm_sum_v + off, 0, c->row * sizeof(float));
    }
}

void aether_kv_landmarks_clear_(aether_kvcache *c)
{
    size_t e;
    for (e = 0; e < c->nb_ring; ++e)
        clear_entry(c, e, e);
}

void aether_kv_landmark_add_(aether_kvcache *c, size_t pos, const float *k, const float *v)
{
    size_t b = pos / c->block_size, e = b % c->nb_ring, off = e * c->row, x;
    float n;
    if (c->lm_tag[e] != b || c->lm_count[e] == 0)
        clear_entry(c, e, b); /* a new block retires the one that used the entry */
    c->lm_count[e] += 1;
    n = (float)c->lm_count[e];
    if (c->lm_mode == AETHER_KV_LM_WELFORD) {
        float *mk = c->lm_mean_k + off, *mv = c->lm_mean_v + off;
        for (x = 0; x < c->row; ++x) {
            mk[x] = mk[x] + (k[x] - mk[x]) / n;
            mv[x] = mv[x] + (v[x] - mv[x]) / n;
        }
        return;
    }
    {
        float *sk = c->lm_sum_k + off, *sv = c->lm_sum_v + off;
        for (x = 0; x < c->row; ++x) {
            sk[x] = sk[x] + k[x];
            sv[x] = sv[x] + v[x];
        }
        /* Divide once, when the block completes: the prefill landmark. */
        if (c->lm_count[e] == c->block_size) {
            float *mk = c->lm_mean_k + off, *mv = c->lm_mean_v + off;
            for (x = 0; x < c->row; ++x) {
                mk[x] = sk[x] / n;
                mv[x] = sv[x] / n;
            }
        }
    }
}

int aether_kv_landmark_rows_(aether_kvcache *c, size_t b, const float **mk, const float **mv)
{
    size_t e = b % c->nb_ring, off = e * c->row, x;
    float n;
    if (c->lm_tag[e] != b || c->lm_count[e] == 0)
        return 0;
    if (c->lm_mode == AETHER_KV_LM_WELFORD || c->lm_count[e] == c->block_size) {
        *mk = c->lm_mean_k + off;
        *mv = c->lm_mean_v + off;
        return 1;
    }
    /* A partial block (never visited by the docs/KERNELS.md section 5.2 rules, kept for
     * completeness): divide on use. */
    n = (float)c->lm_count[e];
    for (x = 0; x < c->row; ++x) {
        c->lm_tmp[x] = c->lm_sum_k[off + x] / n;
        c->lm_tmp[c->row + x] = c->lm_sum_v[off + x] / n;
    }
    *mk = c->lm_tmp;
    *mv = c->lm_tmp + c->row;
    return 1;
}

aether_status aether_kvcache_landmark(const aether_kvcache *cache, size_t block, float *k_out,
                                      float *v_out)
{
    size_t e, off, x;
    aether_status st = aether_kv_check_(cache);
    if (st != AETHER_OK)
        return st;
    if (!k_out && !v_out)
        return AETHER_ERR_NULL_ARG;
    e = block % cache->nb_ring;
    off = e * cache->row;
    for (x = 0; x < cache->row; ++x) {
        float mk = 0.0f, mv = 0.0f;
        if (cache->lm_tag[e] == block && cache->lm_count[e] > 0) {
            if (cache->lm_mode == AETHER_KV_LM_WELFORD) {
                mk = cache->lm_mean_k[off + x];
                mv = cache->lm_mean_v[off + x];
            } else {
                float n = (float)cache->lm_count[e];
                mk = cache->lm_sum_k[off + x] / n;
                mv = cache->lm_sum_v[off + x] / n;
            }
        }
        if (k_out)
            k_out[x] = mk;
        if (v_out)
            v_out[x] = mv;
    }
    return AETHER_OK;
}
