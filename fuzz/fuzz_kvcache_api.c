/*
 * API-sequence fuzzer for the KV cache: the input is a program. The first
 * bytes choose the cache and attention parameters (every eviction policy,
 * storage and landmark mode); the rest is a list of calls (append, prefill,
 * decode, batch decode, reference evict_and_append, reset, queries) with
 * fuzz-chosen arguments, some deliberately wrong.
 *
 * Invariants checked after every call:
 *   - every status is a defined code;
 *   - len <= capacity, tokens_seen never decreases except on reset, the
 *     object's byte size never changes;
 *   - a failing call leaves the whole cache buffer bit-for-bit unchanged;
 *   - a successful append grows len by one (or keeps it at capacity when a
 *     policy evicted) and advances tokens_seen by one;
 *   - decode outputs are finite whenever every value fed since the last
 *     reset was small and finite.
 */
#include <stdlib.h>
#include <string.h>

#include "aether/kvcache.h"
#include "fuzz_common.h"

#define MAXH 4u
#define MAXD 8u
#define MAXN 4u

typedef struct prog_state {
    aether_kvcache *c;
    unsigned char *buf;
    unsigned char *shadow;
    size_t bytes;
    aether_attn_config cfg;
    size_t kvh, dim, cap;
    aether_kv_evict evict;
    aether_kv_storage storage;
    int small; /* every K/V/q value since the last reset was small and finite */
} prog_state;

static float gen_value(fuzz_input *in, int *small)
{
    float x = fuzz_f32(in);
    if (!(x >= -8.0f && x <= 8.0f))
        *small = 0;
    return x;
}

/* 1 when every value is one the storage holds (aether_kv_storage: finite,
 * and below 65520 for F16, 2^128 (1 - 2^-9) for BF16, 32768 for I8). */
static int storable(const prog_state *ps, const float *x, size_t n)
{
    float lim = ps->storage == AETHER_KV_F16    ? 65520.0f
                : ps->storage == AETHER_KV_BF16 ? aether_f32_from_bits(0x7F7F8000u)
                                                : 32768.0f;
    size_t i;
    if (!fuzz_all_finite(x, n))
        return 0;
    for (i = 0; ps->storage != AETHER_KV_F32 && i < n; ++i)
        if (!(x[i] < lim && x[i] > -lim))
            return 0;
    return 1;
}

static void fill(fuzz_input *in, float *x, size_t n, int *small)
{
    size_t i;
    for (i = 0; i < n; ++i)
        x[i] = gen_value(in, small);
}

static void snapshot(prog_state *ps)
{
    memcpy(ps->shadow, ps->buf, ps->bytes);
}

static void check_after(prog_state *ps, aether_status st, size_t len0, size_t seen0)
{
    size_t len = aether_kvcache_len(ps->c);
    FUZZ_VALID_STATUS(st);
    FUZZ_ASSERT(len <= aether_kvcache_capacity(ps->c));
    FUZZ_ASSERT(aether_kvcache_bytes(ps->c) == ps->bytes);
    FUZZ_ASSERT(aether_kvcache_tokens_seen(ps->c) >= seen0);
    if (st != AETHER_OK) {
        FUZZ_ASSERT(len == len0);
        FUZZ_ASSERT(memcmp(ps->shadow, ps->buf, ps->bytes) == 0);
    }
}

static void op_append(prog_state *ps, fuzz_input *in, uint8_t mode)
{
    float k[MAXH * MAXD], v[MAXH * MAXD];
    aether_tensor kt, vt;
    size_t len0 = aether_kvcache_len(ps->c), seen0 = aether_kvcache_tokens_seen(ps->c);
    size_t heads = ps->kvh, dim = ps->dim, seq = 1;
    int small = ps->small;
    aether_status st;

    if (mode & 0x10)
        heads = 1 + (mode & 3u);
    if (mode & 0x20)
        dim = 1 + ((mode >> 2) & 7u);
    if ((mode & 0xC0) == 0xC0)
        seq = 0;
    fill(in, k, MAXH * MAXD, &small);
    fill(in, v, MAXH * MAXD, &small);
    aether_tensor_view(&kt, k, seq * heads * dim, seq, heads, dim);
    aether_tensor_view(&vt, v, seq * heads * dim, seq, heads, dim);
    snapshot(ps);
    st = aether_kvcache_append(ps->c, &kt, &vt);
    check_after(ps, st, len0, seen0);
    if (st == AETHER_OK) {
        size_t len = aether_kvcache_len(ps->c);
        FUZZ_ASSERT(heads == ps->kvh && dim == ps->dim && seq == 1);
        FUZZ_ASSERT(aether_kvcache_tokens_seen(ps->c) == seen0 + 1);
        FUZZ_ASSERT(len == len0 + 1 || (len == len0 && len == ps->cap &&
                                        (ps->evict == AETHER_KV_EVICT_SLIDING ||
                                         ps->evict == AETHER_KV_EVICT_SCORED)));
        ps->small = small;
    } else if (heads == ps->kvh && dim == ps->dim && seq == 1 && len0 < ps->cap &&
               storable(ps, k, heads * dim) && storable(ps, v, heads * dim)) {
        FUZZ_ASSERT(0 && "a valid append below capacity failed");
    }
}

static void op_append_all(prog_state *ps, fuzz_input *in, uint8_t mode)
{
    float k[MAXN * MAXH * MAXD], v[MAXN * MAXH * MAXD];
    aether_tensor kt, vt;
    size_t n = mode % (MAXN + 1), nv = (mode & 0x80) ? (n + 1) % (MAXN + 1) : n;
    size_t len0 = aether_kvcache_len(ps->c), seen0 = aether_kvcache_tokens_seen(ps->c);
    int small = ps->small;
    aether_status st;

    fill(in, k, n * ps->kvh * ps->dim, &small);
    fill(in, v, nv * ps->kvh * ps->dim, &small);
    aether_tensor_view(&kt, k, n * ps->kvh * ps->dim, n, ps->kvh, ps->dim);
    aether_tensor_view(&vt, v, nv * ps->kvh * ps->dim, nv, ps->kvh, ps->dim);
    snapshot(ps);
    st = aether_kvcache_append_all(ps->c, &kt, &vt);
    check_after(ps, st, len0, seen0);
    if (st == AETHER_OK) {
        FUZZ_ASSERT(aether_kvcache_len(ps->c) == len0 + n);
        FUZZ_ASSERT(aether_kvcache_tokens_seen(ps->c) == seen0 + n);
        ps->small = small;
    }
}

static void op_decode(prog_state *ps, fuzz_input *in, uint8_t mode)
{
    float q[MAXN * 2 * MAXH * MAXD], out[MAXN * 2 * MAXH * MAXD];
    float k[MAXN * MAXH * MAXD], v[MAXN * MAXH * MAXD];
    aether_tensor qt, ot, kt, vt;
    size_t ratio = 1 + (mode & 1u), qh = ps->kvh * ratio, n = 1;
    size_t len0 = aether_kvcache_len(ps->c), seen0 = aether_kvcache_tokens_seen(ps->c);
    size_t i;
    int small = ps->small;
    int batch = (mode & 2u) != 0;
    aether_status st;

    if (mode & 0x40)
        qh = qh + 1; /* GQA ratio violation (or a different valid ratio) */
    if (batch)
        n = (mode >> 2) % (MAXN + 1);
    if (qh > 2 * MAXH)
        qh = 2 * MAXH;
    fill(in, q, n * qh * ps->dim, &small);
    for (i = 0; i < n * qh * ps->dim; ++i)
        out[i] = -1.0f;
    aether_tensor_view(&qt, q, n * qh * ps->dim, n, qh, ps->dim);
    aether_tensor_view(&ot, out, n * qh * ps->dim, n, qh, ps->dim);
    snapshot(ps);
    if (!batch) {
        st = aether_kvcache_decode_step(&ps->cfg, &qt, ps->c, &ot);
    } else {
        fill(in, k, n * ps->kvh * ps->dim, &small);
        fill(in, v, n * ps->kvh * ps->dim, &small);
        aether_tensor_view(&kt, k, n * ps->kvh * ps->dim, n, ps->kvh, ps->dim);
        aether_tensor_view(&vt, v, n * ps->kvh * ps->dim, n, ps->kvh, ps->dim);
        st = aether_kvcache_decode_batch(&ps->cfg, &qt, &kt, &vt, ps->c, &ot);
    }
    check_after(ps, st, len0, seen0);
    if (st == AETHER_OK) {
        ps->small = small;
        if (small)
            FUZZ_ASSERT(fuzz_all_finite(out, n * qh * ps->dim));
        if (batch)
            FUZZ_ASSERT(aether_kvcache_tokens_seen(ps->c) == seen0 + n);
        else
            FUZZ_ASSERT(aether_kvcache_len(ps->c) == len0);
    }
}

static void op_evict_and_append(prog_state *ps, fuzz_input *in, uint8_t mode)
{
    float k[MAXH * MAXD], v[MAXH * MAXD], scores[64];
    size_t globals[3], evicted = 12345;
    aether_tensor kt, vt;
    size_t len0 = aether_kvcache_len(ps->c), seen0 = aether_kvcache_tokens_seen(ps->c);
    size_t n_scores = (mode & 0x80) ? (mode & 63u) : len0, i;
    int small = ps->small;
    aether_status st;

    if (n_scores > 64)
        n_scores = 64;
    fill(in, k, ps->kvh * ps->dim, &small);
    fill(in, v, ps->kvh * ps->dim, &small);
    for (i = 0; i < 64; ++i)
        scores[i] = fuzz_f32(in);
    globals[0] = fuzz_u8(in) % 8u;
    globals[1] = fuzz_u8(in) % 8u;
    globals[2] = fuzz_u8(in) % 8u;
    aether_tensor_view(&kt, k, ps->kvh * ps->dim, 1, ps->kvh, ps->dim);
    aether_tensor_view(&vt, v, ps->kvh * ps->dim, 1, ps->kvh, ps->dim);
    snapshot(ps);
    st = aether_kvcache_evict_and_append(ps->c, &kt, &vt, scores, n_scores, globals,
                                         (mode >> 4) & 3u, (mode >> 2) & 3u, &evicted);
    check_after(ps, st, len0, seen0);
    if (st == AETHER_OK) {
        FUZZ_ASSERT(ps->evict == AETHER_KV_EVICT_H2O_COMPAT);
        if (len0 < ps->cap)
            FUZZ_ASSERT(evicted == AETHER_KVCACHE_NO_SLOT &&
                        aether_kvcache_len(ps->c) == len0 + 1);
        else
            FUZZ_ASSERT(evicted < len0 && aether_kvcache_len(ps->c) == len0);
        ps->small = small;
    } else if (ps->evict != AETHER_KV_EVICT_H2O_COMPAT) {
        FUZZ_ASSERT(st == AETHER_ERR_STATE);
    }
}

static void op_query(prog_state *ps, uint8_t mode)
{
    float k[MAXH * MAXD], v[MAXH * MAXD], score = 0.0f;
    size_t len = aether_kvcache_len(ps->c), slot = mode % (ps->cap + 2), tok = 0, i;
    aether_status st;

    snapshot(ps);
    st = aether_kvcache_slot_token(ps->c, slot, &tok);
    FUZZ_VALID_STATUS(st);
    if (slot < len) {
        FUZZ_ASSERT(st == AETHER_OK && tok < aether_kvcache_tokens_seen(ps->c));
    } else {
        FUZZ_ASSERT(st != AETHER_OK);
    }
    st = aether_kvcache_slot_score(ps->c, slot, &score);
    FUZZ_VALID_STATUS(st);
    st = aether_kvcache_slot_rows(ps->c, slot, k, v);
    FUZZ_VALID_STATUS(st);
    if (st == AETHER_OK && slot < len && ps->small) {
        FUZZ_ASSERT(fuzz_all_finite(k, ps->kvh * ps->dim));
        FUZZ_ASSERT(fuzz_all_finite(v, ps->kvh * ps->dim));
    }
    for (i = 0; i < aether_kvcache_landmark_blocks(ps->c) + 2 && i < 8; ++i) {
        size_t bs = aether_kvcache_block_size(ps->c);
        size_t newest = bs ? aether_kvcache_tokens_seen(ps->c) / bs : 0;
        st = aether_kvcache_landmark(ps->c, newest >= i ? newest - i : i, k, v);
        FUZZ_VALID_STATUS(st);
        if (st == AETHER_OK && ps->small) {
            FUZZ_ASSERT(fuzz_all_finite(k, ps->kvh * ps->dim));
            FUZZ_ASSERT(fuzz_all_finite(v, ps->kvh * ps->dim));
        }
    }
    /* Queries never change the cache. */
    FUZZ_ASSERT(memcmp(ps->shadow, ps->buf, ps->bytes) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    aether_attn_params ap = aether_attn_params_default();
    aether_kvcache_params kp;
    prog_state ps;
    size_t globals[2], steps = 0;
    uint8_t b0 = fuzz_u8(&in), b1 = fuzz_u8(&in), b2 = fuzz_u8(&in), b3 = fuzz_u8(&in);
    uint8_t b4 = fuzz_u8(&in);
    aether_status st;

    memset(&ps, 0, sizeof ps);
    ap.window = b0 & 7u;
    ap.block_size = 1 + ((b0 >> 3) & 7u);
    globals[0] = 0;
    globals[1] = b4 % 10u;
    ap.globals = globals;
    ap.n_globals = (b0 >> 6) & 3u;
    if (ap.n_globals > 2)
        ap.n_globals = 2;
    ap.causal = (b1 & 1u) ? 0 : 1;
    ap.use_log_stride = (b1 >> 1) & 1u;
    ap.use_landmarks = (b1 >> 2) & 1u;
    ap.sort_candidates = (b1 >> 3) & 1u;
    if (aether_attn_config_init(&ps.cfg, &ap) != AETHER_OK)
        return 0;
    ps.kvh = 1 + (b2 & 3u);
    ps.dim = 1 + ((b2 >> 2) & 7u);
    ps.cap = b3 & 15u;
    kp = aether_kvcache_params_default(&ps.cfg, ps.cap, ps.kvh, ps.dim);
    /* F32, F16, BF16, I8 */
    kp.storage = (aether_kv_storage)(((b1 >> 4) & 1u) | ((b2 >> 6) & 2u));
    kp.landmarks = (b1 >> 5) & 1u ? AETHER_KV_LM_WELFORD : AETHER_KV_LM_SUM;
    kp.evict = (aether_kv_evict)((b1 >> 6) & 3u);
    kp.protect_recent = (b3 >> 4) & 3u;
    if (b2 & 0x40)
        kp.landmark_blocks = 1 + ((b3 >> 6) & 3u);
    ps.evict = kp.evict;
    ps.storage = kp.storage;

    st = aether_kvcache_size(&kp, &ps.bytes);
    FUZZ_VALID_STATUS(st);
    if (st != AETHER_OK)
        return 0;
    FUZZ_ASSERT(ps.bytes > 0 && ps.bytes < (1u << 24));
    /* Zeroed: the byte-for-byte comparisons also cover alignment padding
     * that init never writes. */
    ps.buf = calloc(1, ps.bytes);
    ps.shadow = malloc(ps.bytes);
    if (!ps.buf || !ps.shadow)
        goto done;
    FUZZ_ASSERT(aether_kvcache_init(ps.buf, ps.bytes - 1, &kp, &ps.c) ==
                AETHER_ERR_BUFFER_TOO_SMALL);
    FUZZ_ASSERT(ps.c == NULL);
    st = aether_kvcache_init(ps.buf, ps.bytes, &kp, &ps.c);
    FUZZ_ASSERT(st == AETHER_OK && ps.c != NULL);
    FUZZ_ASSERT(aether_kvcache_len(ps.c) == 0 && aether_kvcache_capacity(ps.c) == ps.cap);
    ps.small = 1;

    while (in.n > 0 && steps++ < 256) {
        uint8_t op = fuzz_u8(&in), mode = fuzz_u8(&in);
        switch (op % 8u) {
        case 0:
        case 1:
            op_append(&ps, &in, mode);
            break;
        case 2:
            op_append_all(&ps, &in, mode);
            break;
        case 3:
        case 4:
            op_decode(&ps, &in, mode);
            break;
        case 5:
            op_evict_and_append(&ps, &in, mode);
            break;
        case 6:
            op_query(&ps, mode);
            break;
        default:
            if (mode & 1u) {
                FUZZ_ASSERT(aether_kvcache_reset(ps.c) == AETHER_OK);
                FUZZ_ASSERT(aether_kvcache_len(ps.c) == 0);
                FUZZ_ASSERT(aether_kvcache_tokens_seen(ps.c) == 0);
                ps.small = 1;
            } else {
                /* Calls with NULL arguments fail without touching anything. */
                snapshot(&ps);
                FUZZ_ASSERT(aether_kvcache_append(ps.c, NULL, NULL) == AETHER_ERR_NULL_ARG);
                FUZZ_ASSERT(aether_kvcache_append_rows(ps.c, NULL, NULL) == AETHER_ERR_NULL_ARG);
                FUZZ_ASSERT(aether_kvcache_decode_step(&ps.cfg, NULL, ps.c, NULL) ==
                            AETHER_ERR_NULL_ARG);
                FUZZ_ASSERT(memcmp(ps.shadow, ps.buf, ps.bytes) == 0);
            }
            break;
        }
    }
done:
    free(ps.buf);
    free(ps.shadow);
    return 0;
}
