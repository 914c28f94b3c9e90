/*
 * aether/kvcache.h - streaming key/value cache with incremental landmarks and
 * the single-token decode step (docs/KERNELS.md sections 14-15).
 *
 * A cache holds up to `capacity` tokens of K and V rows ([kv_heads, head_dim]
 * per token) as binary32, binary16, bfloat16 or int8 (aether_kv_storage),
 * plus per-block landmark (block mean)
 * rows, plus the scratch the decode step needs. Its size is fixed when it is
 * created: nothing is allocated afterwards, and appends and decode steps do
 * no work proportional to the number of cached tokens (only init, reset and
 * the reference-compatible H2O eviction are O(capacity); see the cost table).
 *
 * Lifetime: aether_kvcache_size() + aether_kvcache_init() place the whole
 * object in caller memory (64-byte aligned is best; any alignment works);
 * aether_kvcache_create()/aether_kvcache_destroy() do the same with malloc.
 * All of the object's memory is inside that buffer; it holds pointers into
 * it, so it must not be moved or copied after init.
 *
 * Errors: every function validates all arguments (shapes, dims, finiteness)
 * before changing anything; a call that fails leaves the cache bit-for-bit
 * unchanged. Non-finite K/V values are rejected with AETHER_ERR_NONFINITE
 * (a NaN key would poison every later output and the eviction scores), and
 * so is a non-finite query in the decode calls.
 *
 * Threads: decode calls write scratch and scores inside the cache, so a cache
 * is used by one thread at a time. Distinct caches are independent.
 *
 * ---- Positions ----
 * Every appended token gets a token id 0, 1, 2, ... (aether_kvcache_tokens_seen
 * is the next id). The position a token has for the attention pattern
 * (window, globals, log-stride, landmark block = position / block_size) is:
 *   EVICT_NONE       : its token id (= its slot; the cache never drops tokens).
 *   EVICT_SLIDING,
 *   EVICT_SCORED     : its token id ("logical positions"). Positions are never
 *                      renumbered after an eviction: a global stays global, the
 *                      window stays the most recent W+1 tokens, and a candidate
 *                      position whose token was evicted is simply skipped.
 *                      While nothing has been evicted the output is exactly
 *                      that of EVICT_NONE.
 *   EVICT_H2O_COMPAT : its slot index after compaction, as the reference
 *                      KvCache::evict_and_append (later tokens move one
 *                      position earlier at each eviction).
 *
 * ---- Landmarks ----
 * Block b holds the mean of the K (and V) rows of positions
 * [b*B, (b+1)*B), B = block_size, fed with the unrounded f32 inputs (also for
 * reduced storages).
 *   LM_SUM (default): running sums in token order, divided by the count when
 *     the block completes (a complete block's means are cached, so a decode
 *     reads them in O(1)). This is exactly the prefill landmark of forward():
 *     causal decode after appending tokens 0..L-1 equals row L-1 of
 *     aether_attn_forward / _gqa bit for bit. (The decode step is the scalar
 *     reference arithmetic; it equals forward run with the reference kernels,
 *     and the optimised forward kernels within their accuracy bound.)
 *   LM_WELFORD: the reference cache's running mean (mean += (x-mean)/count),
 *     to reproduce the reference decode goldens bit for bit.
 * In EVICT_SLIDING / EVICT_SCORED a landmark summarises every token appended to
 * its block, evicted or not (the landmark is the long-range memory; eviction
 * never touches it, so it costs nothing). Only the most recent
 * `landmark_blocks` blocks are kept (a ring); a block candidate older than the
 * ring is skipped ("retired"). In EVICT_H2O_COMPAT the landmarks are rebuilt
 * from the compacted slots after every eviction, as the reference does.
 *
 * ---- Cost per step (T = tokens in the cache, C = candidates per query =
 * window + globals + log-stride + landmark blocks, i.e. O(W + G + log T)) ----
 *   append, any policy without eviction : O(kv_heads * dim)
 *   decode_step                         : O(q_heads * C * dim) arithmetic +
 *                                         O(C) candidate lists (SLIDING adds an
 *                                         O(1) direct-map lookup per token
 *                                         candidate, SCORED an O(1) expected
 *                                         hash lookup; SCORED also adds
 *                                         O(C log T) to re-rank the credited
 *                                         slots in its tournament tree)
 *   EVICT_SLIDING eviction              : O(G + kv_heads * dim) (ring cursor)
 *   EVICT_SCORED eviction               : O(log T + kv_heads * dim): the
 *                                         weakest slot is the tree's root; the
 *                                         new token replaces it in place (no
 *                                         row moves, no landmark rebuild)
 *   EVICT_H2O_COMPAT eviction           : O(T * kv_heads * dim) compaction and
 *                                         landmark rebuild (reference behaviour)
 */
#ifndef AETHER_KVCACHE_H
#define AETHER_KVCACHE_H

#include "aether/export.h"
#include "aether/attention.h"
#include "aether/pattern.h"
#include "aether/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Storage type of the cached K/V rows. Inputs are always f32; the rows are
 * rounded once, at append, and widened exactly when read. Landmark means
 * are f32 for every storage (fed with the unrounded inputs).
 *   F32  : 4 bytes per element, the inputs as given.
 *   F16  : 2 bytes, IEEE binary16 by aether_f32_to_f16 (round to nearest
 *          even; F16C / AVX-512 / NEON convert with the same bits).
 *   BF16 : 2 bytes, bfloat16 (the high half of the binary32, round to
 *          nearest even on the bits), widened by a 16-bit shift.
 *   I8   : 1 byte plus one exponent byte per token and kv head: the
 *          integer path's int8 K/V row (docs/MODEL.md 10.1): mantissas
 *          m = round(round(x * 65536) / 2^s), both roundings half away
 *          from zero, with the smallest s >= 0 that keeps every |m| <= 127;
 *          the value is m * 2^(s - 16).
 * Range: a K/V value a storage cannot hold is rejected by the appends with
 * AETHER_ERR_NONFINITE like a NaN: F16 |x| >= 65520 (rounds to infinity),
 * BF16 |x| >= 2^128 * (1 - 2^-9) (the same), I8 |x| >= 32768 (beyond the
 * Q16 format).
 * Bytes per cached token (aether_kvcache_size grows by capacity times
 * this): 2 * kv_heads * head_dim * {4, 2, 2, 1} for F32, F16, BF16, I8,
 * plus 2 * kv_heads exponent bytes for I8.
 *
 * Accuracy (the reference decode of a reduced cache against the reference
 * decode of an F32 cache fed the same rows; inputs with |q| <= s_q,
 * |k| <= s_k, |v| <= s_v; d = head_dim), per output element:
 *   |out - out_f32| <= (eps * s_v + eta)
 *                      + s_v * (exp(2 * sqrt(d) * s_q * (eps * s_k + eta)) - 1)
 * where each stored element is within eps * s + eta of its input:
 *   F16 : eps = 2^-11, eta = 2^-25    BF16 : eps = 2^-8, eta = 2^-133
 *   I8  : eps = 1/127 (of the row's largest |x|), eta = 2^-16.
 * (The first term is the value rows' rounding; the second bounds the
 * change of the softmax weights by a score error of at most
 * sqrt(d) * s_q * (eps * s_k + eta).) The optimised kernels of a reduced
 * cache compute the same attention over the same widened values: against
 * its reference they keep the contract of aether/dispatch.h. The bound
 * holds while both caches have evicted the same tokens: under
 * EVICT_SCORED each cache evicts by its own weights, and from the first
 * eviction on which they differ (their slots, and then their landmark
 * sums, hold other tokens) the two are different histories.
 * Supported with every landmark mode and every eviction policy except
 * EVICT_H2O_COMPAT, which needs the unrounded rows: a reduced storage with
 * it is AETHER_ERR_UNSUPPORTED. No AVX512-BF16 (VDPBF16PS) path: BF16 rows
 * are widened and go through the f32 arithmetic on every ISA. */
typedef enum aether_kv_storage {
    AETHER_KV_F32 = 0,
    AETHER_KV_F16 = 1,
    AETHER_KV_BF16 = 2,
    AETHER_KV_I8 = 3
} aether_kv_storage;

/* How landmark means are accumulated (see the file comment). */
typedef enum aether_kv_landmarks {
    AETHER_KV_LM_SUM = 0,    /* sum then divide: bit-exact with forward() */
    AETHER_KV_LM_WELFORD = 1 /* reference running mean: bit-exact with its cache */
} aether_kv_landmarks;

/* What an append does when the cache is full. */
typedef enum aether_kv_evict {
    /* Fail with AETHER_ERR_CACHE_FULL. */
    AETHER_KV_EVICT_NONE = 0,
    /* Keep the protected tokens and the most recent others: the new token
     * replaces the oldest unprotected one. */
    AETHER_KV_EVICT_SLIDING = 1,
    /* Self-scored heavy hitters: each decode adds every token candidate's
     * normalised softmax weight w_j / denom (summed over query heads) to the
     * slot's score; landmark weights are not attributed to any token. A full
     * append replaces the unprotected slot with the lowest score (NaN counts
     * as lowest, ties go to the oldest token). Protected: the tokens whose ids
     * are in protect_tokens, and the protect_recent most recent tokens. A new
     * token starts with score 0. */
    AETHER_KV_EVICT_SCORED = 2,
    /* The reference's caller-scored mode: plain appends fail when full
     * (as EVICT_NONE); eviction happens only through
     * aether_kvcache_evict_and_append, with slot positions. */
    AETHER_KV_EVICT_H2O_COMPAT = 3
} aether_kv_evict;

/* Creation parameters. Start from aether_kvcache_params_default(). */
typedef struct aether_kvcache_params {
    size_t capacity;   /* max tokens held (0 is legal: always full) */
    size_t kv_heads;   /* > 0 */
    size_t head_dim;   /* > 0 */
    size_t block_size; /* landmark block; 0 = take attn->block_size */
    /* The attention configuration this cache will be decoded with (required).
     * It sizes the candidate scratch: a later decode with a config whose
     * window / globals / causality need longer candidate lists fails with
     * AETHER_ERR_INVALID_CONFIG, and its block_size must equal the cache's
     * (AETHER_ERR_BLOCK_MISMATCH). Only read during init. */
    const aether_attn_config *attn;
    aether_kv_storage storage;     /* default AETHER_KV_F32 */
    aether_kv_landmarks landmarks; /* default AETHER_KV_LM_SUM */
    aether_kv_evict evict;         /* default AETHER_KV_EVICT_NONE */
    /* SLIDING / SCORED: token ids never evicted (copied at init; at most
     * AETHER_MAX_GLOBALS). Default: the config's global positions. */
    const size_t *protect_tokens;
    size_t n_protect;
    /* SCORED: the protect_recent most recent tokens are never evicted
     * (default attn->window, which keeps the next query's local window
     * whole). Ignored by the other policies. */
    size_t protect_recent;
    /* SLIDING / SCORED: landmark ring length in blocks; 0 = default
     * ceil(capacity / block_size) + 1. Ignored otherwise (the cache keeps
     * ceil(capacity / block_size) blocks, which covers every position). */
    size_t landmark_blocks;
} aether_kvcache_params;

/* SLIDING and SCORED require capacity > n_protect + protect_recent (SCORED)
 * or capacity > n_protect (SLIDING), so an evictable slot always exists. */

/* Opaque cache object. */
typedef struct aether_kvcache aether_kvcache;

/* "No eviction happened" value of evict_and_append's evicted_slot. */
#define AETHER_KVCACHE_NO_SLOT ((size_t)-1)

/* Defaults: given sizes, block_size 0 (from attn), F32, LM_SUM, EVICT_NONE,
 * protect_tokens = attn's globals (a pointer into *attn), protect_recent =
 * attn->window, landmark_blocks 0. attn may be NULL (then
 * the caller must set it before init). */
AETHER_API aether_kvcache_params aether_kvcache_params_default(const aether_attn_config *attn,
                                                               size_t capacity, size_t kv_heads,
                                                               size_t head_dim);

/* Bytes of caller memory aether_kvcache_init needs for these parameters.
 * Errors: NULL_ARG, NOT_INITIALIZED (attn), ZERO_HEAD_DIM, GQA_RATIO
 * (kv_heads 0), BLOCK_MISMATCH (block_size != attn->block_size),
 * INVALID_ARG (unknown enum, protect constraints), UNSUPPORTED (a reduced
 * storage with EVICT_H2O_COMPAT), TOO_MANY_GLOBALS, OVERFLOW (any size
 * product). */
AETHER_API aether_status aether_kvcache_size(const aether_kvcache_params *p, size_t *bytes);

/* Build an empty cache in buf[0..len). BUFFER_TOO_SMALL if len is below
 * aether_kvcache_size. The buffer must outlive the cache and not move. */
AETHER_API aether_status aether_kvcache_init(void *buf, size_t len,
                                             const aether_kvcache_params *p,
                                             aether_kvcache **out);

/* malloc convenience; destroy accepts NULL. Do not destroy an init'ed cache. */
AETHER_API aether_status aether_kvcache_create(const aether_kvcache_params *p,
                                               aether_kvcache **out);
AETHER_API void aether_kvcache_destroy(aether_kvcache *cache);

/* ---------- appending ---------- */

/* Append one token: k1 and v1 are [1, kv_heads, head_dim] tensors.
 * Errors, in order: NULL_ARG; SEQ_NOT_ONE; KV_HEADS_MISMATCH (heads);
 * HEAD_DIM_MISMATCH (dim); NONFINITE (also a value beyond the storage's
 * range, see aether_kv_storage); OVERFLOW (token id space exhausted);
 * CACHE_FULL (EVICT_NONE / EVICT_H2O_COMPAT when full). With SLIDING/SCORED a
 * full cache evicts one token first (see aether_kv_evict). */
AETHER_API aether_status aether_kvcache_append(aether_kvcache *cache, const aether_tensor *k1,
                                               const aether_tensor *v1);

/* Same with plain arrays of kv_heads * head_dim floats each. */
AETHER_API aether_status aether_kvcache_append_rows(aether_kvcache *cache, const float *k,
                                                    const float *v);

/* Prefill: append the n = k.seq tokens of k, v ([n, kv_heads, head_dim]).
 * All-or-nothing: CACHE_FULL when len + n > capacity (any policy: a prefill
 * never evicts), SHAPE_MISMATCH when v.seq != n, then as append. n = 0 is a
 * no-op. */
AETHER_API aether_status aether_kvcache_append_all(aether_kvcache *cache, const aether_tensor *k,
                                                   const aether_tensor *v);

/* Empty the cache: len 0, token ids restart at 0, landmarks and scores
 * cleared. Row storage is not cleared (it is never read beyond len). */
AETHER_API aether_status aether_kvcache_reset(aether_kvcache *cache);

/* ---------- queries (NULL cache gives 0) ---------- */
AETHER_API size_t aether_kvcache_len(const aether_kvcache *cache);
AETHER_API size_t aether_kvcache_capacity(const aether_kvcache *cache);
AETHER_API int aether_kvcache_is_full(const aether_kvcache *cache);        /* len >= capacity */
AETHER_API size_t aether_kvcache_tokens_seen(const aether_kvcache *cache); /* next token id */
AETHER_API size_t aether_kvcache_kv_heads(const aether_kvcache *cache);
AETHER_API size_t aether_kvcache_head_dim(const aether_kvcache *cache);
AETHER_API size_t aether_kvcache_block_size(const aether_kvcache *cache);
/* Bytes the object occupies (= aether_kvcache_size of its parameters);
 * constant over its lifetime. */
AETHER_API size_t aether_kvcache_bytes(const aether_kvcache *cache);

/* Original token id held by a slot (slot < len). */
AETHER_API aether_status aether_kvcache_slot_token(const aether_kvcache *cache, size_t slot,
                                                   size_t *token);
/* Accumulated score of a slot (EVICT_SCORED; 0 for other policies). */
AETHER_API aether_status aether_kvcache_slot_score(const aether_kvcache *cache, size_t slot,
                                                   float *score);
/* Copy the K and V rows of a slot (kv_heads * head_dim floats each; a
 * reduced storage is widened: the values the decode uses). Either output may be NULL. slot < capacity: rows
 * beyond len hold whatever the storage holds (zero, or stale copies). */
AETHER_API aether_status aether_kvcache_slot_rows(const aether_kvcache *cache, size_t slot,
                                                  float *k_out, float *v_out);
/* Number of landmark block rows the cache keeps (ring length). */
AETHER_API size_t aether_kvcache_landmark_blocks(const aether_kvcache *cache);
/* Copy the landmark mean rows (kv_heads * head_dim floats each) of block
 * `block` (a block of positions, see the file comment). A block with no
 * tokens, or retired from the ring, gives zeros. LM_SUM divides the running
 * sums by the count (also for a partial block); LM_WELFORD copies the running
 * means. */
AETHER_API aether_status aether_kvcache_landmark(const aether_kvcache *cache, size_t block,
                                                 float *k_out, float *v_out);

/* ---------- decoding ---------- */

/* Attention of the newest token's query over the cache (docs/KERNELS.md 14.3):
 * the caller has appended the token's K/V first; the query sits at the
 * newest position and sees the candidates of docs/KERNELS.md section 5 for it,
 * then the landmark blocks. q1 is [1, q_heads, head_dim] with q_heads a
 * multiple of kv_heads (head h reads kv head h / (q_heads / kv_heads));
 * out is [1, q_heads, head_dim]. Honours sort_candidates for every storage.
 * An empty cache gives zeros (reference behaviour).
 * Causal: equals the last row of a forward over the cached prefix (bit for
 * bit in LM_SUM mode). Non-causal: the same prefix computation (no future
 * exists), not a row of a full-sequence non-causal forward.
 * Errors, in order: NULL_ARG; NOT_INITIALIZED (cfg); BLOCK_MISMATCH;
 * INVALID_CONFIG (cfg needs more candidate scratch than the cache was sized
 * for); SEQ_NOT_ONE; ZERO_HEAD_DIM; HEAD_DIM_MISMATCH (q dim != cache dim);
 * GQA_RATIO; SHAPE_MISMATCH (out); NONFINITE (q).
 * EVICT_SCORED: also accumulates the slot scores. */
AETHER_API aether_status aether_kvcache_decode_step(const aether_attn_config *cfg,
                                                    const aether_tensor *q1,
                                                    aether_kvcache *cache, aether_tensor *out);

/* Speculative drafts (docs/KERNELS.md 14.5): for t = 0..n-1 append (k_new[t], v_new[t]) then
 * decode q[t] into out[t]. q is [n, q_heads, dim], k_new / v_new are
 * [n, kv_heads, dim], out is [n, q_heads, dim]. Everything (including
 * capacity for all n tokens under EVICT_NONE / H2O_COMPAT, and finiteness of
 * every row) is validated first; on error nothing changes. n = 0 is a no-op.
 * Equal bit for bit to the sequential loop. */
AETHER_API aether_status aether_kvcache_decode_batch(const aether_attn_config *cfg,
                                                     const aether_tensor *q,
                                                     const aether_tensor *k_new,
                                                     const aether_tensor *v_new,
                                                     aether_kvcache *cache, aether_tensor *out);

/* ---------- reference heavy-hitter eviction (EVICT_H2O_COMPAT only) ---------- */

/* The reference evict_and_append (docs/KERNELS.md 14.6). If the cache is not full: a plain
 * append (scores, globals, window ignored; *evicted_slot = NO_SLOT).
 * Otherwise scores[j] is the caller's score of slot j (n_scores == len, else
 * SCORES_LENGTH); protected slots are j >= len - window and j in globals
 * (slot indices); the victim is the unprotected slot with the lowest score
 * (ties: lowest index; NaN compares as lowest); if every slot is protected,
 * slot 0 is evicted even if global (reference fallback). Later slots shift
 * down, the landmarks are rebuilt from slot order, then the token is
 * appended at the end. The caller must compact its own score array the same
 * way. Errors: STATE (policy is not H2O_COMPAT), NULL_ARG, the append errors
 * (checked before evicting), SCORES_LENGTH, CACHE_FULL (capacity 0). */
AETHER_API aether_status aether_kvcache_evict_and_append(aether_kvcache *cache,
                                                         const aether_tensor *k1,
                                                         const aether_tensor *v1,
                                                         const float *scores, size_t n_scores,
                                                         const size_t *globals, size_t n_globals,
                                                         size_t window, size_t *evicted_slot);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_KVCACHE_H */
