/*
 * Decode of one query over the cached rows (docs/KERNELS.md sections 14.3,
 * 14.5): the candidate lists of the newest position come from the pattern
 * module into scratch held by the cache, then the optimised kernels or the
 * reference (the shared softmax recurrence) run over them. Nothing here
 * allocates or touches more than the candidates' rows. Appending and
 * decoding a token is step.c.
 */
#include <math.h>
#include <string.h>

#include "kernels/osm.h"
#include "kvcache/kv_append.h"
#include "kvcache/kv_checks.h"
#include "kvcache/kv_decode.h"
#include "kvcache/kv_landmarks.h"
#include "kvcache/kv_slots.h"
#include "pattern/pattern_fill.h"

aether_status aether_kv_check_cfg_(const aether_attn_config *cfg, const aether_kvcache *c)
{
    aether_status st = aether_attn_config_check(cfg);
    if (st != AETHER_OK)
        return st;
    if (cfg->block_size != c->block_size)
        return AETHER_ERR_BLOCK_MISMATCH;
    /* The scratch was sized at creation; the bound uses the same sequence
     * bound, so the answer does not depend on the current length. */
    if (aether_pattern_max_tokens(cfg, c->seq_bound) > c->tok_cap ||
        aether_pattern_max_blocks(cfg, c->seq_bound) > c->blk_cap)
        return AETHER_ERR_INVALID_CONFIG;
    return AETHER_OK;
}

/* Credit every token candidate with its normalised weight exp(s - m)/denom. */
static void add_scores(aether_kvcache *c, const aether_osm *s, size_t n_tok)
{
    size_t j;
    if (!(s->denom > 0.0f))
        return;
    for (j = 0; j < n_tok; ++j)
        c->score[c->tok_slot[j]] += expf(c->tok_score[j] - s->m) / s->denom;
}

/* Slots of the token candidates of a cache that has evicted. A bounded
 * ring fills its slots in order, so token last - d usually sits d slots
 * before the newest token's slot (or a few more, past skipped protected
 * slots): those guesses are tried first and kept only when the slot really
 * holds the token; otherwise the hash decides. */
static size_t resolve_logical(aether_kvcache *c, size_t n_tok)
{
    size_t last = c->next_token - 1, s_last = 0, j, m = 0, len = c->len;
    size_t prev_pos = SIZE_MAX, prev_slot = 0;
    int sliding = c->evict == AETHER_KV_EVICT_SLIDING, have = 0;
    /* A sliding ring's newest token sits just before the cursor. */
    if (sliding && len > 0) {
        s_last = c->cursor == 0 ? len - 1 : c->cursor - 1;
        have = s_last < len && c->slot_token[s_last] == last;
    }
    if (!have)
        have = len > 0 && aether_kv_lookup_(c, last, &s_last);
    for (j = 0; j < n_tok; ++j) {
        size_t pos = c->tok[j];
        /* Window runs are consecutive: the next token usually sits in the
         * slot after the previous one. */
        if (prev_pos != SIZE_MAX && pos == prev_pos + 1) {
            size_t g = prev_slot + 1 == len ? 0 : prev_slot + 1;
            if (c->slot_token[g] == pos) {
                c->tok_slot[m++] = g;
                prev_pos = pos;
                prev_slot = g;
                continue;
            }
        }
        prev_pos = SIZE_MAX;
        if (have && pos <= last && last - pos < len) {
            /* Each protected slot the ring skipped since pos was written
             * moves it one slot further back. */
            size_t d = last - pos, e, g = 0;
            int hit = 0;
            for (e = 0; e <= c->n_protect && d + e < len && !hit; ++e) {
                g = s_last >= d + e ? s_last - d - e : s_last + len - d - e;
                hit = c->slot_token[g] == pos;
            }
            if (hit) {
                c->tok_slot[m++] = g;
                prev_pos = pos;
                prev_slot = g;
                continue;
            }
        } else if (have && sliding && pos <= last && !aether_kv_is_protected_token_(c, pos)) {
            /* A sliding cache holds its protected tokens and otherwise only
             * the newest ones, all within len of the last: this one left. */
            continue;
        }
        if (aether_kv_lookup_(c, pos, &c->tok_slot[m]))
            ++m;
    }
    return m;
}

/* Ring entry of block b given a nearby block pb in entry pe: candidate
 * lists step by small strides, so the entry usually follows from the
 * distance with one wrap, without the division. */
static size_t ring_entry(size_t b, size_t pb, size_t pe, size_t nb)
{
    if (b >= pb && b - pb < nb) {
        size_t e = pe + (b - pb);
        return e >= nb ? e - nb : e;
    }
    if (b < pb && pb - b < nb) {
        size_t d = pb - b;
        return pe >= d ? pe - d : pe + nb - d;
    }
    return b % nb;
}

/* Turn the block candidates into landmark ring entries (in place, retired
 * blocks dropped). Returns 0 when a candidate is a partial LM_SUM block,
 * whose mean exists only in the shared temporary row. */
static int block_entries(aether_kvcache *c, size_t *n_blk)
{
    size_t j, m = 0, prev_b = 0, prev_e = 0;
    for (j = 0; j < *n_blk; ++j) {
        size_t b = c->blk[j];
        size_t e = j > 0 ? ring_entry(b, prev_b, prev_e, c->nb_ring) : b % c->nb_ring;
        prev_b = b;
        prev_e = e;
        if (c->lm_tag[e] != b || c->lm_count[e] == 0)
            continue;
        if (c->lm_mode != AETHER_KV_LM_WELFORD && c->lm_count[e] != c->block_size)
            return 0;
        c->blk[m++] = e;
    }
    *n_blk = m;
    return 1;
}

/* Floats per K (and V) store past which a cache no longer fits L2. */
#define COLD_FLOATS ((size_t)1 << 18)

/* Token and landmark rows of the cache starting `off` elements into each
 * row (a kv head's slice, or 0 for whole rows; the kv head's exponent byte
 * for I8); the token rows of an F16 / BF16 cache go to *t16, of an I8
 * cache to *t8, of an F32 cache to *tr. */
static void head_rows(const aether_kvcache *c, size_t off, aether_rows *tr, aether_rows16 *t16,
                      aether_rows8 *t8, aether_rows *br)
{
    tr->k = c->k32 ? c->k32 + off : NULL;
    tr->v = c->v32 ? c->v32 + off : NULL;
    tr->stride = c->row;
    t16->k = c->k16 ? c->k16 + off : NULL;
    t16->v = c->v16 ? c->v16 + off : NULL;
    t16->stride = c->row;
    t8->k = c->k8 ? c->k8 + off : NULL;
    t8->v = c->v8 ? c->v8 + off : NULL;
    t8->ke = c->ke ? c->ke + off / c->head_dim : NULL;
    t8->ve = c->ve ? c->ve + off / c->head_dim : NULL;
    t8->stride = c->row;
    t8->estride = c->kv_heads;
    br->k = c->lm_mean_k + off;
    br->v = c->lm_mean_v + off;
    br->stride = c->row;
}

/* The optimised decode kernels (no per-candidate weights needed) over
 * final lists: tok_slot[0..n_tok) slots, blk[0..n_blk) ring entries; F16
 * caches through the kernels' binary16 twins. With several kv heads and
 * small groups, sets of query rows go through the kernel over whole token
 * rows (every kv head's part at its offset: the scores of a few candidates
 * for all rows at once, then P.V row by row); otherwise every GQA group
 * goes through the multi-row kernel, which loads each gathered K/V row
 * once for all (up to four) rows of the group - with four rows that reuse
 * outweighs the whole-row kernel - accumulating in place in `out`, which
 * the kernel allows. */
static void decode_kernels(const aether_simd_ops *ops, const aether_kvcache *c, const float *q,
                           size_t q_heads, size_t n_tok, size_t n_blk, float *out)
{
    size_t dim = c->head_dim, group = q_heads / c->kv_heads, hk, h0, nh;
    float scale = aether_attn_scale(dim);
    aether_kv_storage st = c->storage;
    if (c->kv_heads > 1 && group < AETHER_QGROUP_MAX) {
        aether_rows tr, br;
        aether_rows16 t16;
        aether_rows8 t8;
        size_t koff[AETHER_QHEADS_MAX], h;
        head_rows(c, 0, &tr, &t16, &t8, &br);
        for (h0 = 0; h0 < q_heads; h0 += nh) {
            const float *qh = q + h0 * dim;
            float *oh = out + h0 * dim;
            nh = q_heads - h0 < AETHER_QHEADS_MAX ? q_heads - h0 : AETHER_QHEADS_MAX;
            for (h = 0; h < nh; ++h)
                koff[h] = (h0 + h) / group * dim;
            if (st == AETHER_KV_F16)
                ops->query_heads16(qh, nh, dim, koff, scale, &t16, c->tok_slot, n_tok, &br,
                                   c->blk, n_blk, oh);
            else if (st == AETHER_KV_BF16)
                ops->query_heads_bf16(qh, nh, dim, koff, scale, &t16, c->tok_slot, n_tok, &br,
                                      c->blk, n_blk, oh);
            else if (st == AETHER_KV_I8)
                ops->query_heads_i8(qh, nh, dim, koff, scale, &t8, c->tok_slot, n_tok, &br,
                                    c->blk, n_blk, oh);
            else
                ops->query_heads(qh, nh, dim, koff, scale, &tr, c->tok_slot, n_tok, &br, c->blk,
                                 n_blk, oh);
        }
        return;
    }
    for (hk = 0; hk < c->kv_heads; ++hk) {
        aether_rows tr, br;
        aether_rows16 t16;
        aether_rows8 t8;
        head_rows(c, hk * dim, &tr, &t16, &t8, &br);
        /* Rows of a cache past L2 are mostly cold: request them all first,
         * so their loads overlap instead of stalling one at a time. */
        if (c->len * c->row * aether_kv_storage_bytes_(st) > COLD_FLOATS * sizeof(float)) {
            size_t eb = aether_kv_storage_bytes_(st);
            if (st == AETHER_KV_F32)
                ops->prefetch(&tr, c->tok_slot, n_tok, dim);
            else if (st == AETHER_KV_I8)
                ops->prefetch_bytes(t8.k, t8.v, c->row, c->tok_slot, n_tok, dim);
            else
                ops->prefetch_bytes(t16.k, t16.v, c->row * eb, c->tok_slot, n_tok, dim * eb);
            ops->prefetch(&br, c->blk, n_blk, dim);
        }
        for (h0 = 0; h0 < group; h0 += nh) {
            size_t h = hk * group + h0;
            const float *qh = q + h * dim;
            float *oh = out + h * dim;
            nh = group - h0 < AETHER_QGROUP_MAX ? group - h0 : AETHER_QGROUP_MAX;
            if (st == AETHER_KV_F16)
                ops->query_group16(qh, nh, dim, scale, &t16, c->tok_slot, n_tok, &br, c->blk,
                                   n_blk, oh, oh);
            else if (st == AETHER_KV_BF16)
                ops->query_group_bf16(qh, nh, dim, scale, &t16, c->tok_slot, n_tok, &br, c->blk,
                                      n_blk, oh, oh);
            else if (st == AETHER_KV_I8)
                ops->query_group_i8(qh, nh, dim, scale, &t8, c->tok_slot, n_tok, &br, c->blk,
                                    n_blk, oh, oh);
            else
                ops->query_group(qh, nh, dim, scale, &tr, c->tok_slot, n_tok, &br, c->blk, n_blk,
                                 oh, oh);
        }
    }
}

/* The optimised decode: landmark entries, then the kernels; the final lists
 * are kept for a twin cache. Returns 0 when it does not apply; then nothing
 * was written but the block list, which the caller rebuilds. */
static int decode_fast(const aether_simd_ops *ops, aether_kvcache *c, const float *q,
                       size_t q_heads, size_t n_tok, size_t n_blk, float *out)
{
    if (!block_entries(c, &n_blk))
        return 0;
    decode_kernels(ops, c, q, q_heads, n_tok, n_blk, out);
    c->fast_token = c->next_token;
    c->fast_n_tok = n_tok;
    c->fast_n_blk = n_blk;
    return 1;
}

/* 1 when the twin's final lists are those of c's next decode: it holds
 * them for c's token count and is in the same state (same layout and
 * policy, same length and ring cursor: with identical histories of a
 * deterministic policy, the same slots and landmarks). */
static int twin_lists(const aether_kvcache *c, const aether_kvcache *prev)
{
    return prev && prev != c && prev->magic == AETHER_KVCACHE_MAGIC && prev->fast_token != 0 &&
           prev->fast_token == prev->next_token && prev->next_token == c->next_token &&
           prev->len == c->len && prev->cursor == c->cursor && prev->capacity == c->capacity &&
           prev->evict == c->evict && prev->block_size == c->block_size &&
           prev->nb_ring == c->nb_ring && prev->lm_mode == c->lm_mode &&
           prev->storage == c->storage && prev->tok_cap == c->tok_cap &&
           prev->blk_cap == c->blk_cap &&
           (c->evict == AETHER_KV_EVICT_NONE || c->evict == AETHER_KV_EVICT_SLIDING);
}

/* Decode from the twin's final lists (see twin_lists). */
static void decode_from_twin(const aether_simd_ops *ops, aether_kvcache *c,
                             const aether_kvcache *twin, const float *q, size_t q_heads,
                             float *out)
{
    memcpy(c->tok_slot, twin->tok_slot, twin->fast_n_tok * sizeof(size_t));
    memcpy(c->blk, twin->blk, twin->fast_n_blk * sizeof(size_t));
    decode_kernels(ops, c, q, q_heads, twin->fast_n_tok, twin->fast_n_blk, out);
    c->fast_token = c->next_token;
    c->fast_n_tok = twin->fast_n_tok;
    c->fast_n_blk = twin->fast_n_blk;
}

/* Query position and sequence length of the newest token. */
static void newest(const aether_kvcache *c, size_t *i, size_t *seq)
{
    if (aether_kv_logical_(c)) {
        *i = c->next_token - 1;
        *seq = c->next_token;
    } else {
        *i = c->len - 1;
        *seq = c->len;
    }
}

/* Block candidates of position i (landmark block ids), sorted as asked. */
static size_t block_list(const aether_attn_config *cfg, aether_kvcache *c, size_t i, size_t seq)
{
    size_t n_blk = 0;
    /* Capacity was checked against the same bound: this cannot fail. */
    if (cfg->use_landmarks)
        aether_pattern_blocks_fill_(cfg, i, seq, c->blk, c->blk_cap, &n_blk);
    if (cfg->sort_candidates)
        aether_pattern_sort(c->blk, n_blk);
    return n_blk;
}

/* Token candidates of position i resolved to slots in tok_slot (evicted
 * positions dropped); returns their count. */
static size_t token_slots(const aether_attn_config *cfg, aether_kvcache *c, size_t i, size_t seq)
{
    size_t n_tok = 0, j;
    /* Capacity was checked against the same bound: this cannot fail. */
    aether_pattern_tokens_fill_(cfg, i, seq, c->tok, c->tok_cap, &n_tok);
    if (cfg->sort_candidates)
        aether_pattern_sort(c->tok, n_tok);
    /* Positions whose token was evicted (bounded policies) drop out. Until
     * a bounded cache first evicts (every token seen is still held), token
     * t sits in slot t, as in an unbounded cache: no hash probes. */
    if (!aether_kv_logical_(c) || c->next_token == c->len) {
        for (j = 0; j < n_tok; ++j)
            c->tok_slot[j] = c->tok[j];
        return n_tok;
    }
    return resolve_logical(c, n_tok);
}

/* K and V rows of kv head hk in slot `slot` for the reference decode: an
 * F32 cache's own rows; a reduced storage's rows widened (exactly) into
 * kbuf and into value row n of vbuf (n < KV_VCHUNK: the chunk entry the
 * row will fill, so the rows of a chunk stay until it is flushed). */
static void ref_rows(aether_kvcache *c, size_t slot, size_t hk, size_t n, const float **k,
                     const float **v)
{
    size_t off = slot * c->row + hk * c->head_dim;
    if (c->storage == AETHER_KV_F32) {
        *k = c->k32 + off;
        *v = c->v32 + off;
        return;
    }
    aether_kv_widen_at_(c, 0, off, slot * c->kv_heads + hk, c->kbuf);
    aether_kv_widen_at_(c, 1, off, slot * c->kv_heads + hk, c->vbuf + n * c->head_dim);
    *k = c->kbuf;
    *v = c->vbuf + n * c->head_dim;
}

/* decode_ref for caches without SCORED eviction whose GQA groups hold
 * a multiple of four query heads: four heads at a time go through the
 * candidates together, each with exactly the operations, in the order, of
 * the per-head loop (aether_osm_weight / aether_osm_push), so the bits are
 * the same. Per chunk of up to GRP_CHUNK candidates, pass 1 computes the
 * four scores from one load of each K element, each head's softmax weight
 * and whether (and by what) its accumulator is rescaled first; pass 2
 * replays those updates, acc = acc * c (when rescaled), acc = acc + w * v,
 * candidate after candidate, on four elements of the four heads' output
 * rows held in registers, each V element loaded once for the four. */
#define GRP_CHUNK 8u
#if GRP_CHUNK != KV_VCHUNK
#error "the widened value rows of a chunk live in KV_VCHUNK rows of vbuf"
#endif

typedef struct grp_chunk {
    const float *v[GRP_CHUNK];
    float w[GRP_CHUNK][4];
    float c[GRP_CHUNK][4];
    unsigned char rescale[GRP_CHUNK]; /* bit i: head i rescales first */
    size_t n;
} grp_chunk;

/* The four scores of one candidate; aether_osm_weight's state changes
 * (max, denominator) and its accumulator rescale recorded for pass 2. */
static void grp_score(aether_osm *s, const float *q, size_t dim, float scale, const float *k,
                      const float *v, grp_chunk *g)
{
    float dot[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const float *q0 = q, *q1 = q + dim, *q2 = q + 2 * dim, *q3 = q + 3 * dim;
    size_t d = 0, n = g->n, h;
    unsigned char rescale = 0;
    float d0 = 0.0f, d1 = 0.0f, d2 = 0.0f, d3 = 0.0f;
    /* unrolled by four: every sum still adds its products with d ascending */
    for (; d + 4 <= dim; d += 4) {
        const float k0 = k[d], k1 = k[d + 1], k2 = k[d + 2], k3 = k[d + 3];
        d0 += q0[d] * k0;
        d0 += q0[d + 1] * k1;
        d0 += q0[d + 2] * k2;
        d0 += q0[d + 3] * k3;
        d1 += q1[d] * k0;
        d1 += q1[d + 1] * k1;
        d1 += q1[d + 2] * k2;
        d1 += q1[d + 3] * k3;
        d2 += q2[d] * k0;
        d2 += q2[d + 1] * k1;
        d2 += q2[d + 2] * k2;
        d2 += q2[d + 3] * k3;
        d3 += q3[d] * k0;
        d3 += q3[d + 1] * k1;
        d3 += q3[d + 2] * k2;
        d3 += q3[d + 3] * k3;
    }
    for (; d < dim; ++d) {
        const float kd = k[d];
        d0 += q0[d] * kd;
        d1 += q1[d] * kd;
        d2 += q2[d] * kd;
        d3 += q3[d] * kd;
    }
    dot[0] = d0;
    dot[1] = d1;
    dot[2] = d2;
    dot[3] = d3;
    for (h = 0; h < 4; ++h) {
        /* aether_osm_weight with the accumulator rescale deferred */
        aether_osm *st = &s[h];
        float score = dot[h] * scale, z, w, c = 1.0f;
        if (score > st->m) {
            if (!(st->m == -INFINITY && st->denom == 0.0f)) {
                c = expf(st->m - score);
                st->denom = st->denom * c;
                rescale |= (unsigned char)(1u << h);
            }
            st->m = score;
        }
        z = score - st->m;
        w = z == 0.0f ? 1.0f : expf(z);
        st->denom = st->denom + w; /* aether_osm_push */
        g->w[n][h] = w;
        g->c[n][h] = c;
    }
    g->rescale[n] = rescale;
    g->v[n] = v;
    g->n = n + 1;
}

/* One accumulator element of one head through the chunk. */
#define GRP_UPDATE(x, j, h, vv)                 \
    do {                                        \
        if (g->rescale[j] & (1u << (h)))        \
            (x) = (x) * g->c[j][h];             \
        (x) = (x) + g->w[j][h] * (vv);          \
    } while (0)

static void grp_flush(aether_osm *s, size_t dim, grp_chunk *g)
{
    float *a0 = s[0].acc, *a1 = s[1].acc, *a2 = s[2].acc, *a3 = s[3].acc;
    size_t d = 0, j, n = g->n;
    for (; d + 4 <= dim; d += 4) {
        float x00 = a0[d], x01 = a0[d + 1], x02 = a0[d + 2], x03 = a0[d + 3];
        float x10 = a1[d], x11 = a1[d + 1], x12 = a1[d + 2], x13 = a1[d + 3];
        float x20 = a2[d], x21 = a2[d + 1], x22 = a2[d + 2], x23 = a2[d + 3];
        float x30 = a3[d], x31 = a3[d + 1], x32 = a3[d + 2], x33 = a3[d + 3];
        for (j = 0; j < n; ++j) {
            const float *v = g->v[j] + d;
            const float v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];
            if (g->rescale[j]) {
                GRP_UPDATE(x00, j, 0, v0);
                GRP_UPDATE(x01, j, 0, v1);
                GRP_UPDATE(x02, j, 0, v2);
                GRP_UPDATE(x03, j, 0, v3);
                GRP_UPDATE(x10, j, 1, v0);
                GRP_UPDATE(x11, j, 1, v1);
                GRP_UPDATE(x12, j, 1, v2);
                GRP_UPDATE(x13, j, 1, v3);
                GRP_UPDATE(x20, j, 2, v0);
                GRP_UPDATE(x21, j, 2, v1);
                GRP_UPDATE(x22, j, 2, v2);
                GRP_UPDATE(x23, j, 2, v3);
                GRP_UPDATE(x30, j, 3, v0);
                GRP_UPDATE(x31, j, 3, v1);
                GRP_UPDATE(x32, j, 3, v2);
                GRP_UPDATE(x33, j, 3, v3);
            } else {
                const float w0 = g->w[j][0], w1 = g->w[j][1], w2 = g->w[j][2], w3 = g->w[j][3];
                x00 = x00 + w0 * v0;
                x01 = x01 + w0 * v1;
                x02 = x02 + w0 * v2;
                x03 = x03 + w0 * v3;
                x10 = x10 + w1 * v0;
                x11 = x11 + w1 * v1;
                x12 = x12 + w1 * v2;
                x13 = x13 + w1 * v3;
                x20 = x20 + w2 * v0;
                x21 = x21 + w2 * v1;
                x22 = x22 + w2 * v2;
                x23 = x23 + w2 * v3;
                x30 = x30 + w3 * v0;
                x31 = x31 + w3 * v1;
                x32 = x32 + w3 * v2;
                x33 = x33 + w3 * v3;
            }
        }
        a0[d] = x00;
        a0[d + 1] = x01;
        a0[d + 2] = x02;
        a0[d + 3] = x03;
        a1[d] = x10;
        a1[d + 1] = x11;
        a1[d + 2] = x12;
        a1[d + 3] = x13;
        a2[d] = x20;
        a2[d + 1] = x21;
        a2[d + 2] = x22;
        a2[d + 3] = x23;
        a3[d] = x30;
        a3[d + 1] = x31;
        a3[d + 2] = x32;
        a3[d + 3] = x33;
    }
    for (; d < dim; ++d) {
        float x0 = a0[d], x1 = a1[d], x2 = a2[d], x3 = a3[d];
        for (j = 0; j < n; ++j) {
            const float v = g->v[j][d];
            GRP_UPDATE(x0, j, 0, v);
            GRP_UPDATE(x1, j, 1, v);
            GRP_UPDATE(x2, j, 2, v);
            GRP_UPDATE(x3, j, 3, v);
        }
        a0[d] = x0;
        a1[d] = x1;
        a2[d] = x2;
        a3[d] = x3;
    }
    g->n = 0;
}
#undef GRP_UPDATE

static void grp_candidate(aether_osm *s, const float *q, size_t dim, float scale, const float *k,
                          const float *v, grp_chunk *g)
{
    grp_score(s, q, dim, scale, k, v, g);
    if (g->n == GRP_CHUNK)
        grp_flush(s, dim, g);
}

/* 0 (nothing done) when the grouped path does not apply or out overlaps q
 * (the accumulators are the output rows). */
static int decode_ref_grouped(const float *q, size_t q_heads, aether_kvcache *c, size_t n_tok,
                              size_t n_blk, float *out)
{
    size_t dim = c->head_dim, group = q_heads / c->kv_heads, h, i, j;
    float scale = aether_attn_scale(dim);
    uintptr_t qa = (uintptr_t)q, oa = (uintptr_t)out, len = q_heads * dim * sizeof(float);
    if (c->evict == AETHER_KV_EVICT_SCORED || group % 4 != 0 || (qa < oa + len && oa < qa + len))
        return 0;
    for (h = 0; h < q_heads; h += 4) {
        size_t kvo = (h / group) * dim;
        aether_osm s[4];
        grp_chunk g;
        g.n = 0;
        for (i = 0; i < 4; ++i)
            aether_osm_begin(&s[i], out + (h + i) * dim, dim);
        for (j = 0; j < n_tok; ++j) {
            const float *kr, *vr;
            ref_rows(c, c->tok_slot[j], h / group, g.n, &kr, &vr);
            grp_candidate(s, q + h * dim, dim, scale, kr, vr, &g);
        }
        for (j = 0; j < n_blk; ++j) {
            const float *mk, *mv;
            if (!aether_kv_landmark_rows_(c, c->blk[j], &mk, &mv))
                continue; /* retired from the landmark ring */
            grp_candidate(s, q + h * dim, dim, scale, mk + kvo, mv + kvo, &g);
            /* a partial block's mean lives in scratch the next call reuses */
            if (mk == c->lm_tmp && g.n)
                grp_flush(s, dim, &g);
        }
        grp_flush(s, dim, &g);
        for (i = 0; i < 4; ++i)
            aether_osm_end(&s[i], out + (h + i) * dim);
    }
    return 1;
}

/* The same two passes for one head at a time (f32 caches without SCORED
 * eviction whose heads do not form groups of four): scores and weights per
 * chunk, then the weighted value sums with eight elements of the head's
 * accumulator in registers. The per-element operations and their order
 * are aether_osm_push's, so the bits are the same. */
typedef struct one_chunk {
    const float *v[GRP_CHUNK];
    float w[GRP_CHUNK], c[GRP_CHUNK];
    unsigned char rescale[GRP_CHUNK];
    size_t n;
} one_chunk;

static void one_flush(aether_osm *s, one_chunk *g)
{
    float *a = s->acc;
    size_t d = 0, j, n = g->n, dim = s->dim;
    for (; d + 8 <= dim; d += 8) {
        float x0 = a[d], x1 = a[d + 1], x2 = a[d + 2], x3 = a[d + 3];
        float x4 = a[d + 4], x5 = a[d + 5], x6 = a[d + 6], x7 = a[d + 7];
        for (j = 0; j < n; ++j) {
            const float *v = g->v[j] + d;
            const float w = g->w[j];
            if (g->rescale[j]) {
                const float c = g->c[j];
                x0 = x0 * c;
                x1 = x1 * c;
                x2 = x2 * c;
                x3 = x3 * c;
                x4 = x4 * c;
                x5 = x5 * c;
                x6 = x6 * c;
                x7 = x7 * c;
            }
            x0 = x0 + w * v[0];
            x1 = x1 + w * v[1];
            x2 = x2 + w * v[2];
            x3 = x3 + w * v[3];
            x4 = x4 + w * v[4];
            x5 = x5 + w * v[5];
            x6 = x6 + w * v[6];
            x7 = x7 + w * v[7];
        }
        a[d] = x0;
        a[d + 1] = x1;
        a[d + 2] = x2;
        a[d + 3] = x3;
        a[d + 4] = x4;
        a[d + 5] = x5;
        a[d + 6] = x6;
        a[d + 7] = x7;
    }
    for (; d < dim; ++d) {
        float x = a[d];
        for (j = 0; j < n; ++j) {
            if (g->rescale[j])
                x = x * g->c[j];
            x = x + g->w[j] * g->v[j][d];
        }
        a[d] = x;
    }
    g->n = 0;
}

static void one_candidate(aether_osm *s, const float *q, float scale, const float *k,
                          const float *v, one_chunk *g)
{
    /* aether_osm_weight with the accumulator rescale deferred */
    float score = aether_dot_ref(q, k, s->dim) * scale, z, w, c = 1.0f;
    size_t n = g->n;
    unsigned char rescale = 0;
    if (score > s->m) {
        if (!(s->m == -INFINITY && s->denom == 0.0f)) {
            c = expf(s->m - score);
            s->denom = s->denom * c;
            rescale = 1;
        }
        s->m = score;
    }
    z = score - s->m;
    w = z == 0.0f ? 1.0f : expf(z);
    s->denom = s->denom + w;
    g->v[n] = v;
    g->w[n] = w;
    g->c[n] = c;
    g->rescale[n] = rescale;
    g->n = n + 1;
    if (g->n == GRP_CHUNK)
        one_flush(s, g);
}

static int decode_ref_single(const float *q, size_t q_heads, aether_kvcache *c, size_t n_tok,
                             size_t n_blk, float *out)
{
    size_t dim = c->head_dim, group = q_heads / c->kv_heads, h, j;
    float scale = aether_attn_scale(dim);
    if (c->evict == AETHER_KV_EVICT_SCORED)
        return 0;
    for (h = 0; h < q_heads; ++h) {
        const float *qr = q + h * dim;
        size_t kvo = (h / group) * dim;
        aether_osm s;
        one_chunk g;
        g.n = 0;
        aether_osm_begin(&s, c->acc, dim);
        for (j = 0; j < n_tok; ++j) {
            const float *kr, *vr;
            ref_rows(c, c->tok_slot[j], h / group, g.n, &kr, &vr);
            one_candidate(&s, qr, scale, kr, vr, &g);
        }
        for (j = 0; j < n_blk; ++j) {
            const float *mk, *mv;
            if (!aether_kv_landmark_rows_(c, c->blk[j], &mk, &mv))
                continue; /* retired from the landmark ring */
            one_candidate(&s, qr, scale, mk + kvo, mv + kvo, &g);
            /* a partial block's mean lives in scratch the next call reuses */
            if (mk == c->lm_tmp && g.n)
                one_flush(&s, &g);
        }
        one_flush(&s, &g);
        aether_osm_end(&s, out + h * dim);
    }
    return 1;
}

/* The reference decode over final token slots and block ids; a SCORED
 * cache credits every token candidate with its weight. */
static void decode_ref(const float *q, size_t q_heads, aether_kvcache *c, size_t n_tok,
                       size_t n_blk, float *out)
{
    size_t dim = c->head_dim, group = q_heads / c->kv_heads, j, h;
    float scale = aether_attn_scale(dim);
    int scored = c->evict == AETHER_KV_EVICT_SCORED;
    if (decode_ref_grouped(q, q_heads, c, n_tok, n_blk, out) ||
        decode_ref_single(q, q_heads, c, n_tok, n_blk, out))
        return;
    for (h = 0; h < q_heads; ++h) {
        const float *qr = q + h * dim;
        size_t kvo = (h / group) * dim;
        aether_osm s;
        aether_osm_begin(&s, c->acc, dim);
        for (j = 0; j < n_tok; ++j) {
            const float *kr, *vr;
            float sc;
            ref_rows(c, c->tok_slot[j], h / group, 0, &kr, &vr);
            sc = aether_dot_ref(qr, kr, dim) * scale;
            aether_osm_push(&s, sc, vr);
            if (scored)
                c->tok_score[j] = sc;
        }
        for (j = 0; j < n_blk; ++j) {
            const float *mk, *mv;
            if (!aether_kv_landmark_rows_(c, c->blk[j], &mk, &mv))
                continue; /* retired from the landmark ring */
            aether_osm_push(&s, aether_dot_ref(qr, mk + kvo, dim) * scale, mv + kvo);
        }
        aether_osm_end(&s, out + h * dim);
        if (scored)
            add_scores(c, &s, n_tok);
    }
    if (scored)
        for (j = 0; j < n_tok; ++j)
            if (aether_kv_evictable_(c, c->tok_slot[j]))
                aether_kv_tree_update_(c, c->tok_slot[j]);
}

/* The cache's kernels were chosen at init; SCORED eviction needs every
 * candidate's weight, which only the reference decode computes. */
void aether_kv_decode_(const aether_attn_config *cfg, const float *q, size_t q_heads,
                       aether_kvcache *c, const aether_kvcache *twin, float *out)
{
    size_t i, seq, n_tok, n_blk;
    const aether_simd_ops *ops = aether_kernel_sel_ops(&c->kern);
    if (c->evict == AETHER_KV_EVICT_SCORED)
        ops = NULL;
    c->fast_token = 0;
    if (ops && twin_lists(c, twin)) {
        decode_from_twin(ops, c, twin, q, q_heads, out);
        return;
    }
    newest(c, &i, &seq);
    n_tok = token_slots(cfg, c, i, seq);
    n_blk = block_list(cfg, c, i, seq);
    if (ops) {
        if (decode_fast(ops, c, q, q_heads, n_tok, n_blk, out))
            return;
        /* A partial landmark block: rebuild the list for the reference. */
        n_blk = block_list(cfg, c, i, seq);
    }
    decode_ref(q, q_heads, c, n_tok, n_blk, out);
}

aether_status aether_kvcache_decode_step(const aether_attn_config *cfg, const aether_tensor *q1,
                                         aether_kvcache *cache, aether_tensor *out)
{
    aether_status st;
    if (!cfg || !q1 || !out)
        return AETHER_ERR_NULL_ARG;
    st = aether_kv_check_(cache);
    if (st != AETHER_OK)
        return st;
    st = aether_kv_check_cfg_(cfg, cache);
    if (st != AETHER_OK)
        return st;
    if (q1->seq != 1)
        return AETHER_ERR_SEQ_NOT_ONE;
    if (q1->dim == 0)
        return AETHER_ERR_ZERO_HEAD_DIM;
    if (q1->dim != cache->head_dim)
        return AETHER_ERR_HEAD_DIM_MISMATCH;
    if (q1->heads == 0 || q1->heads % cache->kv_heads != 0)
        return AETHER_ERR_GQA_RATIO;
    if (!aether_tensor_same_shape(q1, out))
        return AETHER_ERR_SHAPE_MISMATCH;
    if (!q1->data || !out->data)
        return AETHER_ERR_NULL_ARG;
    if (!aether_kv_rows_finite_(q1->data, q1->heads * q1->dim))
        return AETHER_ERR_NONFINITE;
    if (cache->len == 0) {
        memset(out->data, 0, q1->heads * q1->dim * sizeof(float));
        return AETHER_OK;
    }
    aether_kv_decode_(cfg, q1->data, q1->heads, cache, NULL, out->data);
    return AETHER_OK;
}
