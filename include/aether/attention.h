/*
 * aether/attention.h - attention kernels over [seq, heads, dim] tensors.
 *
 * Scalar reference semantics (docs/KERNELS.md sections 4, 6-8): score =
 * dot(q, k) * (1/sqrtf(dim)) accumulated left to right without FMA; sparse
 * kernels use the one-pass online softmax over tokens then landmark blocks
 * in visit order; dense attention is two-pass. These functions are the
 * definition; optimised paths are tested against them. Which path runs is
 * chosen by aether/dispatch.h: AETHER_KERNELS_REFERENCE gives the bits
 * above, the default AUTO mode the fastest path within its accuracy
 * contract.
 *
 * Output tensors are caller-provided with Q's shape (AETHER_ERR_SHAPE_MISMATCH
 * otherwise). seq = 0 is a successful no-op. Workspace: pass a buffer of at
 * least the queried size; NULL is an error (the rule of aether/core.h).
 */
#ifndef AETHER_ATTENTION_H
#define AETHER_ATTENTION_H

#include "aether/export.h"
#include "aether/pattern.h"
#include "aether/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exact dense attention, two-pass softmax (docs/KERNELS.md section 4.3). MHA shapes, or GQA
 * shapes (q_heads a multiple of kv_heads; head h reads kv head h/group).
 * Validation order: q.dim 0 -> ZERO_HEAD_DIM; seq or dim mismatch ->
 * SHAPE_MISMATCH; k/v heads differ or GQA ratio -> SHAPE_MISMATCH/GQA_RATIO.
 * The reference API's workspace-free form, and the one kernel entry point
 * that allocates: the optimised kernels' scratch, per call (if that fails,
 * the reference kernel, which needs none). aether_attn_dense_ws runs on
 * caller memory. */
AETHER_API aether_status aether_attn_dense(const aether_tensor *q, const aether_tensor *k,
                                           const aether_tensor *v, int causal,
                                           aether_tensor *out);

/* Workspace bytes of aether_attn_dense_ws: the optimised kernels' scratch
 * for aether_get_num_threads() threads (query it after setting them). */
AETHER_API aether_status aether_attn_dense_workspace_size(size_t q_heads, size_t kv_heads,
                                                          size_t dim, size_t *bytes);

/* aether_attn_dense on the caller's workspace: no heap call.
 * ws: at least aether_attn_dense_workspace_size bytes; NULL is an error
 * (AETHER_ERR_NULL_ARG, aether/core.h), checked after the tensors. A
 * workspace for fewer threads runs fewer threads (same results); below one
 * thread's share AETHER_ERR_BUFFER_TOO_SMALL. */
AETHER_API aether_status aether_attn_dense_ws(const aether_tensor *q, const aether_tensor *k,
                                              const aether_tensor *v, int causal,
                                              aether_tensor *out, void *ws, size_t ws_len);

/* Workspace bytes for forward / forward_gqa / forward_auto at these shapes,
 * with the optimised kernels' scratch for aether_get_num_threads() threads
 * (query it after setting them; a workspace for fewer threads runs fewer,
 * with the same results, down to one thread's share; the scalar reference
 * kernel uses the reference layout alone). The forwards make no heap call. In each of them, ws: at least this many bytes; NULL is an
 * error (AETHER_ERR_NULL_ARG, aether/core.h), checked after the tensors;
 * seq 0 needs none. */
AETHER_API aether_status aether_attn_forward_workspace_size(const aether_attn_config *cfg,
                                                            size_t seq, size_t q_heads,
                                                            size_t kv_heads, size_t dim,
                                                            size_t *bytes);

/* Sparse MHA prefill (docs/KERNELS.md section 7): q, k, v identical shapes. */
AETHER_API aether_status aether_attn_forward(const aether_attn_config *cfg,
                                             const aether_tensor *q, const aether_tensor *k,
                                             const aether_tensor *v, aether_tensor *out, void *ws,
                                             size_t ws_len);

/* Sparse GQA/MQA prefill (docs/KERNELS.md section 8.2, its validation order). */
AETHER_API aether_status aether_attn_forward_gqa(const aether_attn_config *cfg,
                                                 const aether_tensor *q, const aether_tensor *k,
                                                 const aether_tensor *v, aether_tensor *out,
                                                 void *ws, size_t ws_len);

/* forward when q.heads == k.heads, forward_gqa otherwise (docs/KERNELS.md section 8.3). */
AETHER_API aether_status aether_attn_forward_auto(const aether_attn_config *cfg,
                                                  const aether_tensor *q, const aether_tensor *k,
                                                  const aether_tensor *v, aether_tensor *out,
                                                  void *ws, size_t ws_len);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_ATTENTION_H */
