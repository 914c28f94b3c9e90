/*
 * KV cache appends: validation, then the slot (kv_slots.h) and the
 * landmark (kv_landmarks.h) of the new token. Every entry point validates
 * the whole input before the first write, so a failure changes nothing.
 */
#include <string.h>

#include "kvcache/kv_append.h"
#include "kvcache/kv_checks.h"
#include "kvcache/kv_landmarks.h"
#include "kvcache/kv_slots.h"
#include "core/int8row.h"
#include "simd/rows.h"

/* ---------- storing ---------- */

/* 1 when every |x[i]| (as bits, sign cleared) is below the bits `lim`. */
static int rows_below(const float *x, size_t n, uint32_t lim)
{
    /* |x| >= lim carries into bit 31 when 2^31 - lim is added to its bits:
     * add, and, or only, which compilers vectorise. */
    uint32_t bad = 0, add = 0x80000000u - lim;
    size_t i;
    for (i = 0; i < n; ++i) {
        /* Through a float load: memcpy from x + i (a void pointer to the
         * compiler) becomes four byte loads on strict-alignment cores. */
        const float f = x[i];
        uint32_t b;
        memcpy(&b, &f, sizeof b);
        bad |= (b & 0x7FFFFFFFu) + add;
    }
    return (bad & 0x80000000u) == 0;
}

int aether_kv_rows_finite_(const float *x, size_t n)
{
    return rows_below(x, n, 0x7F800000u);
}

/* Bits of the smallest magnitude a storage cannot hold: F16 rounds 65520
 * up to infinity, BF16 rounds (2 - 2^-8) * 2^127 up to infinity, I8 rows
 * hold the integer path's Q16 range (|x| < 32768). */
static uint32_t storage_limit(aether_kv_storage st)
{
    switch (st) {
    case AETHER_KV_F16:
        return 0x477FF000u;
    case AETHER_KV_BF16:
        return 0x7F7F8000u;
    case AETHER_KV_I8:
        return 0x47000000u;
    default:
        return 0x7F800000u;
    }
}

aether_status aether_kv_check_rows_(const aether_kvcache *c, const float *k, const float *v)
{
    /* A branch-free exponent test over both rows instead of a call per element. */
    uint32_t lim = storage_limit(c->storage);
    if (!rows_below(k, c->row, lim) || !rows_below(v, c->row, lim))
        return AETHER_ERR_NONFINITE;
    return AETHER_OK;
}

size_t aether_kv_storage_bytes_(aether_kv_storage st)
{
    switch (st) {
    case AETHER_KV_F16:
    case AETHER_KV_BF16:
        return 2;
    case AETHER_KV_I8:
        return 1;
    default:
        return 4;
    }
}

/* bfloat16 of a finite float below the BF16 limit: round to nearest even
 * on the bits (no carry past the largest finite value). */
static void to_bf16(const float *src, uint16_t *dst, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        const float f = src[i];
        uint32_t b;
        memcpy(&b, &f, sizeof b);
        dst[i] = (uint16_t)((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
    }
}

/* One kv head's row as the integer path's int8 K/V row (docs/MODEL.md
 * 10.1, core/int8row.h): the Q16 values round(x * 65536) (half away from
 * zero, as aether_q16_from_f32; |x| < 32768 was checked), then the
 * mantissas round(v / 2^s) with the smallest s >= 0 that fits +-127. */
static unsigned to_i8(const float *x, size_t n, int32_t *q, int8_t *m)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        /* exact: a power-of-two scaling, then a truncation whose remainder
         * is exact too */
        const float a = x[i] * 65536.0f;
        int32_t t = (int32_t)a;
        const float r = a - (float)t;
        t += (r >= 0.5f) - (r <= -0.5f);
        q[i] = t;
    }
    return aether_q16_to_i8_(q, n, m);
}

void aether_kv_widen_at_(const aether_kvcache *c, int which, size_t off, size_t ei, float *dst)
{
    size_t d, dim = c->head_dim;
    if (c->storage == AETHER_KV_I8) {
        const int8_t *m = (which ? c->v8 : c->k8) + off;
        const float sc = aether_i8_scale((which ? c->ve : c->ke)[ei]);
        for (d = 0; d < dim; ++d)
            dst[d] = (float)m[d] * sc;
    } else if (c->storage == AETHER_KV_BF16) {
        const uint16_t *h = (which ? c->v16 : c->k16) + off;
        for (d = 0; d < dim; ++d)
            dst[d] = aether_bf16_widen(h[d]);
    } else {
        aether_f16_to_f32_array((which ? c->v16 : c->k16) + off, dst, dim);
    }
}

void aether_kv_widen_(const aether_kvcache *c, int which, size_t slot, size_t h, float *dst)
{
    if (c->storage == AETHER_KV_F32) {
        memcpy(dst, (which ? c->v32 : c->k32) + slot * c->row + h * c->head_dim,
               c->head_dim * sizeof(float));
        return;
    }
    aether_kv_widen_at_(c, which, slot * c->row + h * c->head_dim, slot * c->kv_heads + h, dst);
}

void aether_kv_store_(aether_kvcache *c, size_t slot, size_t pos, const float *k, const float *v)
{
    size_t off = slot * c->row;
    if (c->storage == AETHER_KV_F16) {
        /* The hardware conversion where the kernels have one: the same bits
         * for the finite values a cache holds. */
        const aether_simd_ops *ops = aether_kernel_sel_ops(&c->kern);
        if (ops) {
            ops->narrow_f16(k, c->k16 + off, c->row);
            ops->narrow_f16(v, c->v16 + off, c->row);
        } else {
            aether_f32_to_f16_array(k, c->k16 + off, c->row);
            aether_f32_to_f16_array(v, c->v16 + off, c->row);
        }
    } else if (c->storage == AETHER_KV_BF16) {
        to_bf16(k, c->k16 + off, c->row);
        to_bf16(v, c->v16 + off, c->row);
    } else if (c->storage == AETHER_KV_I8) {
        size_t h, dim = c->head_dim, e = slot * c->kv_heads;
        /* The ISA's quantizer where the kernels have one: the same bits. */
        const aether_simd_ops *ops = aether_kernel_sel_ops(&c->kern);
        unsigned (*quant)(const float *, size_t, int32_t *, int8_t *) =
            ops && ops->to_i8 ? ops->to_i8 : to_i8;
        for (h = 0; h < c->kv_heads; ++h) {
            c->ke[e + h] = (uint8_t)quant(k + h * dim, dim, c->qbuf, c->k8 + off + h * dim);
            c->ve[e + h] = (uint8_t)quant(v + h * dim, dim, c->qbuf, c->v8 + off + h * dim);
        }
    } else {
        /* A float loop, not memcpy: small C libraries (picolibc, built for
         * size) copy byte by byte, four times the instructions of a push's
         * whole row copy. */
        float *kd = c->k32 + off, *vd = c->v32 + off;
        size_t i;
        for (i = 0; i < c->row; ++i) {
            kd[i] = k[i];
            vd[i] = v[i];
        }
    }
    c->slot_token[slot] = c->next_token;
    if (c->score)
        c->score[slot] = 0.0f;
    if (c->slot_protected)
        c->slot_protected[slot] = (unsigned char)aether_kv_is_protected_token_(c, c->next_token);
    c->next_token += 1;
    /* Landmarks always see the caller's f32 rows, whatever the storage. */
    aether_kv_landmark_add_(c, pos, k, v);
}

void aether_kv_push_(aether_kvcache *c, const float *k, const float *v)
{
    size_t slot;
    int logical = aether_kv_logical_(c);
    if (c->len < c->capacity) {
        slot = c->len;
        aether_kv_store_(c, slot, logical ? c->next_token : slot, k, v);
        c->len += 1;
    } else {
        /* Only SLIDING / SCORED reach here (callers check the others). */
        slot = aether_kv_victim_(c);
        aether_kv_hash_remove_(c, slot);
        aether_kv_store_(c, slot, c->next_token, k, v);
        if (c->evict == AETHER_KV_EVICT_SLIDING)
            c->cursor = slot + 1 == c->capacity ? 0 : slot + 1;
    }
    if (logical)
        aether_kv_hash_insert_(c, slot);
    if (c->tree) {
        size_t aged;
        aether_kv_tree_update_(c, slot);
        /* Exactly one token leaves the protected recent range per append. */
        if (c->next_token > c->protect_recent &&
            aether_kv_lookup_(c, c->next_token - 1 - c->protect_recent, &aged))
            aether_kv_tree_update_(c, aged);
    }
}

aether_status aether_kv_check_token_tensor_(const aether_kvcache *c, const aether_tensor *t)
{
    if (!t || !t->data)
        return AETHER_ERR_NULL_ARG;
    if (t->seq != 1)
        return AETHER_ERR_SEQ_NOT_ONE;
    if (t->heads != c->kv_heads)
        return AETHER_ERR_KV_HEADS_MISMATCH;
    if (t->dim != c->head_dim)
        return AETHER_ERR_HEAD_DIM_MISMATCH;
    return AETHER_OK;
}

/* Validation of one append, in the documented order. */
static aether_status check_append(const aether_kvcache *c, const float *k, const float *v)
{
    aether_status st = aether_kv_check_rows_(c, k, v);
    if (st != AETHER_OK)
        return st;
    if (c->next_token == SIZE_MAX)
        return AETHER_ERR_OVERFLOW;
    if (c->len >= c->capacity && !aether_kv_logical_(c))
        return AETHER_ERR_CACHE_FULL;
    return AETHER_OK;
}

aether_status aether_kvcache_append_rows(aether_kvcache *cache, const float *k, const float *v)
{
    aether_status st = aether_kv_check_(cache);
    if (st != AETHER_OK)
        return st;
    if (!k || !v)
        return AETHER_ERR_NULL_ARG;
    st = check_append(cache, k, v);
    if (st != AETHER_OK)
        return st;
    aether_kv_push_(cache, k, v);
    return AETHER_OK;
}

aether_status aether_kvcache_append(aether_kvcache *cache, const aether_tensor *k1,
                                    const aether_tensor *v1)
{
    aether_status st = aether_kv_check_(cache);
    if (st != AETHER_OK)
        return st;
    if (!k1 || !v1 || !k1->data || !v1->data)
        return AETHER_ERR_NULL_ARG;
    if (k1->seq != 1 || v1->seq != 1)
        return AETHER_ERR_SEQ_NOT_ONE;
    if (k1->heads != cache->kv_heads || v1->heads != cache->kv_heads)
        return AETHER_ERR_KV_HEADS_MISMATCH;
    if (k1->dim != cache->head_dim || v1->dim != cache->head_dim)
        return AETHER_ERR_HEAD_DIM_MISMATCH;
    return aether_kvcache_append_rows(cache, k1->data, v1->data);
}

aether_status aether_kvcache_append_all(aether_kvcache *cache, const aether_tensor *k,
                                        const aether_tensor *v)
{
    size_t n, t, room;
    aether_status st = aether_kv_check_(cache);
    if (st != AETHER_OK)
        return st;
    if (!k || !v)
        return AETHER_ERR_NULL_ARG;
    n = k->seq;
    if (v->seq != n)
        return AETHER_ERR_SHAPE_MISMATCH;
    if (n == 0)
        return AETHER_OK;
    if (!k->data || !v->data)
        return AETHER_ERR_NULL_ARG;
    if (k->heads != cache->kv_heads || v->heads != cache->kv_heads)
        return AETHER_ERR_KV_HEADS_MISMATCH;
    if (k->dim != cache->head_dim || v->dim != cache->head_dim)
        return AETHER_ERR_HEAD_DIM_MISMATCH;
    for (t = 0; t < n; ++t) {
        st = aether_kv_check_rows_(cache, k->data + t * cache->row, v->data + t * cache->row);
        if (st != AETHER_OK)
            return st;
    }
    if (n > SIZE_MAX - cache->next_token)
        return AETHER_ERR_OVERFLOW;
    room = cache->capacity - cache->len;
    if (n > room)
        return AETHER_ERR_CACHE_FULL;
    for (t = 0; t < n; ++t)
        aether_kv_push_(cache, k->data + t * cache->row, v->data + t * cache->row);
    return AETHER_OK;
}
