/*
 * The public attention entry points (aether/attention.h): validation, the
 * workspace plan, then the kernel choice, made once per call here: the
 * optimised drivers of src/kernels/fast.c over the active ISA table, or the
 * scalar reference (src/kernels/forward.c, dense.c).
 *
 * Workspace: the reference layout, then one block of driver scratch per
 * worker thread (aether_get_num_threads()); one size serves every kernel
 * mode. A caller workspace smaller than the threads' share runs fewer
 * workers (results do not depend on the count; the scalar reference needs
 * the reference layout only), never allocates; a NULL
 * one is AETHER_ERR_NULL_ARG (aether/core.h). Only aether_attn_dense, the
 * reference API's workspace-free form, allocates its scratch per call.
 */
#include <stdlib.h>
#include <string.h>

#include "core/workspace.h"
#include "dispatch/kernels.h"
#include "kernels/fast.h"
#include "kernels/sparse_internal.h"

/* Reference layout plus `workers` driver scratch blocks of *each bytes. */
static aether_status plan(aether_arena *a, const aether_attn_config *cfg, size_t seq,
                          size_t kv_heads, size_t dim, unsigned workers, aether_sparse_ws *w,
                          void **scratch, size_t *each)
{
    size_t total = 0;
    void *p;
    aether_status st = aether_sparse_ws_layout_(a, cfg, seq, kv_heads, dim, w);
    if (st != AETHER_OK)
        return st;
    if (aether_fast_scratch_bytes_(w->tok_cap, w->blk_cap, dim, each) != AETHER_OK ||
        aether_size_mul(*each, workers, &total) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    p = aether_arena_alloc(a, total, 1, AETHER_ALIGN);
    if (scratch)
        *scratch = p;
    return a->status;
}

/* Bytes of the plan for `workers` threads. */
static aether_status plan_bytes(const aether_attn_config *cfg, size_t seq, size_t kv_heads,
                                size_t dim, unsigned workers, size_t *bytes, size_t *each)
{
    aether_arena a;
    aether_sparse_ws w;
    aether_status st;
    aether_arena_measure(&a);
    if ((st = plan(&a, cfg, seq, kv_heads, dim, workers, &w, NULL, each)) != AETHER_OK)
        return st;
    *bytes = a.used;
    return AETHER_OK;
}

/* Workers a workspace of len bytes holds: need1 bytes for one, each more
 * per further worker, at most `threads`. */
static unsigned workers_in(size_t len, size_t need1, size_t each, unsigned threads)
{
    size_t more = each > 0 ? (len - need1) / each : 0;
    return more >= threads - 1 ? threads : (unsigned)(more + 1);
}

aether_status aether_attn_forward_workspace_size(const aether_attn_config *cfg, size_t seq,
                                                 size_t q_heads, size_t kv_heads, size_t dim,
                                                 size_t *bytes)
{
    size_t each;
    aether_status st;
    /* Candidate lists are shared by all query heads: q_heads does not matter. */
    (void)q_heads;
    if (!cfg || !bytes)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_attn_config_check(cfg)) != AETHER_OK)
        return st;
    return plan_bytes(cfg, seq, kv_heads, dim, aether_get_num_threads(), bytes, &each);
}

/* Shapes are validated; k->heads > 0 and q->heads is a multiple of it. */
static aether_status run_sparse(const aether_attn_config *cfg, const aether_tensor *q,
                                const aether_tensor *k, const aether_tensor *v,
                                aether_tensor *out, void *ws, size_t ws_len)
{
    size_t seq = q->seq, dim = q->dim, kvh = k->heads, need1, each;
    unsigned threads, workers;
    aether_arena a;
    aether_sparse_ws w;
    aether_status st;
    void *scratch = NULL;
    const aether_simd_ops *ops;

    if (seq == 0 || q->heads == 0)
        return AETHER_OK;
    ops = aether_simd_active_();
    threads = ops ? aether_get_num_threads() : 1;
    /* The optimised drivers need one worker's scratch at least; the
     * reference kernel runs on the reference layout alone. */
    if ((st = plan_bytes(cfg, seq, kvh, dim, ops ? 1 : 0, &need1, &each)) != AETHER_OK)
        return st;
    if ((st = aether_ws_check_(ws, ws_len, need1)) != AETHER_OK)
        return st;
    workers = ops ? workers_in(ws_len, need1, each, threads) : 0;
    aether_arena_init(&a, ws, ws_len);
    if ((st = plan(&a, cfg, seq, kvh, dim, workers, &w, &scratch, &each)) != AETHER_OK)
        return st;
    if (w.nb > 0) {
        aether_landmarks_prefill_(k->data, seq, kvh, dim, cfg->block_size, w.lm_k);
        aether_landmarks_prefill_(v->data, seq, kvh, dim, cfg->block_size, w.lm_v);
    }
    if (ops)
        aether_fast_sparse_(ops, cfg, q, k, v, out, w.lm_k, w.lm_v, w.tok_cap, w.blk_cap, workers,
                            scratch, each);
    else
        aether_sparse_prefill_ref_(cfg, q, k, v, out, &w);
    return AETHER_OK;
}

aether_status aether_attn_forward(const aether_attn_config *cfg, const aether_tensor *q,
                                  const aether_tensor *k, const aether_tensor *v,
                                  aether_tensor *out, void *ws, size_t ws_len)
{
    aether_status st;
    if (!cfg || !q || !k || !v || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_attn_config_check(cfg)) != AETHER_OK)
        return st;
    if (q->dim == 0)
        return AETHER_ERR_ZERO_HEAD_DIM;
    if (!aether_tensor_same_shape(q, k) || !aether_tensor_same_shape(k, v))
        return AETHER_ERR_SHAPE_MISMATCH;
    if (cfg->block_size == 0)
        return AETHER_ERR_BLOCK_SIZE;
    if (!aether_tensor_same_shape(out, q))
        return AETHER_ERR_SHAPE_MISMATCH;
    if ((st = aether_attn_check_data_(q, k, v, out)) != AETHER_OK)
        return st;
    if (q->heads == 0)
        return AETHER_OK;
    return run_sparse(cfg, q, k, v, out, ws, ws_len);
}

aether_status aether_attn_forward_gqa(const aether_attn_config *cfg, const aether_tensor *q,
                                      const aether_tensor *k, const aether_tensor *v,
                                      aether_tensor *out, void *ws, size_t ws_len)
{
    aether_status st;
    if (!cfg || !q || !k || !v || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_attn_config_check(cfg)) != AETHER_OK)
        return st;
    if (q->dim == 0)
        return AETHER_ERR_ZERO_HEAD_DIM;
    if (q->seq != k->seq || k->seq != v->seq)
        return AETHER_ERR_SHAPE_MISMATCH;
    if (q->dim != k->dim || k->dim != v->dim)
        return AETHER_ERR_HEAD_DIM_MISMATCH;
    if (k->heads == 0 || q->heads % k->heads != 0)
        return AETHER_ERR_GQA_RATIO;
    if (k->heads != v->heads)
        return AETHER_ERR_KV_HEADS_MISMATCH;
    if (cfg->block_size == 0)
        return AETHER_ERR_BLOCK_SIZE;
    if (!aether_tensor_same_shape(out, q))
        return AETHER_ERR_SHAPE_MISMATCH;
    if ((st = aether_attn_check_data_(q, k, v, out)) != AETHER_OK)
        return st;
    return run_sparse(cfg, q, k, v, out, ws, ws_len);
}

aether_status aether_attn_forward_auto(const aether_attn_config *cfg, const aether_tensor *q,
                                       const aether_tensor *k, const aether_tensor *v,
                                       aether_tensor *out, void *ws, size_t ws_len)
{
    if (!q || !k)
        return AETHER_ERR_NULL_ARG;
    if (q->heads == k->heads)
        return aether_attn_forward(cfg, q, k, v, out, ws, ws_len);
    return aether_attn_forward_gqa(cfg, q, k, v, out, ws, ws_len);
}

/* ---------- dense ---------- */

static aether_status dense_check(const aether_tensor *q, const aether_tensor *k,
                                 const aether_tensor *v, const aether_tensor *out)
{
    aether_status st;
    if (!q || !k || !v || !out)
        return AETHER_ERR_NULL_ARG;
    if (q->dim == 0)
        return AETHER_ERR_ZERO_HEAD_DIM;
    if (q->seq != k->seq || k->seq != v->seq || q->dim != k->dim || k->dim != v->dim ||
        k->heads != v->heads)
        return AETHER_ERR_SHAPE_MISMATCH;
    /* Equal head counts are plain MHA (even 0); otherwise a whole ratio. */
    if (q->heads != k->heads && (k->heads == 0 || q->heads % k->heads != 0))
        return AETHER_ERR_GQA_RATIO;
    if (!aether_tensor_same_shape(out, q))
        return AETHER_ERR_SHAPE_MISMATCH;
    if ((st = aether_attn_check_tensor_(q)) != AETHER_OK ||
        (st = aether_attn_check_tensor_(k)) != AETHER_OK ||
        (st = aether_attn_check_tensor_(v)) != AETHER_OK ||
        (st = aether_attn_check_tensor_(out)) != AETHER_OK)
        return st;
    /* The output row doubles as the accumulator: no sharing at all. */
    if (aether_attn_overlaps_(out, q) || aether_attn_overlaps_(out, k) ||
        aether_attn_overlaps_(out, v))
        return AETHER_ERR_INVALID_ARG;
    return AETHER_OK;
}

static aether_status dense_each(size_t dim, size_t *each)
{
    return aether_fast_scratch_bytes_(0, 0, dim, each);
}

aether_status aether_attn_dense_workspace_size(size_t q_heads, size_t kv_heads, size_t dim,
                                               size_t *bytes)
{
    size_t each;
    (void)q_heads;
    (void)kv_heads;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    if (dense_each(dim, &each) != AETHER_OK ||
        aether_size_mul(each, aether_get_num_threads(), bytes) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    return AETHER_OK;
}

/* Checked arguments, seq and heads > 0; ws holds at least `each` bytes or
 * is NULL (then the reference kernel, which needs none, runs). */
static void dense_run(const aether_tensor *q, const aether_tensor *k, const aether_tensor *v,
                      int causal, aether_tensor *out, void *ws, size_t ws_len, size_t each)
{
    const aether_simd_ops *ops = aether_simd_active_();
    if (ops && ws)
        aether_fast_dense_(ops, q, k, v, causal, out,
                           workers_in(ws_len, each, each, aether_get_num_threads()), ws, each);
    else
        aether_dense_ref_(q, k, v, causal, out);
}

aether_status aether_attn_dense_ws(const aether_tensor *q, const aether_tensor *k,
                                   const aether_tensor *v, int causal, aether_tensor *out,
                                   void *ws, size_t ws_len)
{
    size_t each;
    aether_status st = dense_check(q, k, v, out);
    if (st != AETHER_OK)
        return st;
    if (dense_each(q->dim, &each) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    if ((st = aether_ws_check_(ws, ws_len, each)) != AETHER_OK)
        return st;
    if (q->seq == 0 || q->heads == 0)
        return AETHER_OK;
    dense_run(q, k, v, causal, out, ws, ws_len, each);
    return AETHER_OK;
}

/* The workspace-free form of the reference API: the one attention entry
 * point that allocates (the optimised kernels' scratch, per call). If that
 * fails it runs the reference kernel, which needs none. */
aether_status aether_attn_dense(const aether_tensor *q, const aether_tensor *k,
                                const aether_tensor *v, int causal, aether_tensor *out)
{
    size_t each, need = 0;
    void *heap = NULL;
    aether_status st = dense_check(q, k, v, out);
    if (st != AETHER_OK)
        return st;
    if (dense_each(q->dim, &each) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    if (q->seq == 0 || q->heads == 0)
        return AETHER_OK;
    if (aether_simd_active_() &&
        aether_size_mul(each, aether_get_num_threads(), &need) == AETHER_OK)
        heap = malloc(need);
    dense_run(q, k, v, causal, out, heap, heap ? need : 0, each);
    free(heap);
    return AETHER_OK;
}

void aether_sparse_query_fast_(const float *q, size_t dim, float scale, const aether_rows *tokens,
                               const size_t *tok, size_t n_tok, const aether_rows *blocks,
                               const size_t *blk, size_t n_blk, float *acc, float *out)
{
    const aether_simd_ops *ops = aether_simd_active_();
    if (ops)
        ops->query(q, dim, scale, tokens, tok, n_tok, blocks, blk, n_blk, acc, out);
    else
        aether_sparse_query_(q, dim, scale, tokens, tok, n_tok, blocks, blk, n_blk, acc, out);
}
