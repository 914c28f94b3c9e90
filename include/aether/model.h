/*
 * aether/model.h - the temporal model an RVNE blob describes (docs/MODEL.md).
 *
 * Window forward over frames x_0..x_{N-1} (row vectors of input_dim floats):
 *   h = x                          (after (x - mean) * inv_std when the blob
 *                                   has flag bit 1, input normalisation)
 *   per layer l: Q = h.Wq_l, K = h.Wk_l, V = h.Wv_l      ([N, heads, d])
 *                A = attention(Q, K, V)   (the head's backend and pattern)
 *                h_t = h_t + (A_t.Wo_l)
 *   pooled = h_{N-1} (LAST) or (sum_t h_t, t ascending) * (1.0f / N) (MEAN)
 *   logits = pooled.Wc
 * Every x.W accumulates y[j] = sum_i x[i]*W[i][j] in float, i ascending,
 * from 0, no FMA. f16 payloads are converted to f32 once, at load.
 *
 * Streaming (aether_model_session_*): one KV cache per layer; a step runs the
 * same computation for one new frame against the caches. While no cache
 * has evicted, the logits after frame t equal the window forward over
 * x_0..x_t with LAST pooling bit for bit, for both backends (sparse: the
 * caches keep landmark sums; dense: the same two-pass order over the cached
 * rows), when the window forward runs the scalar reference kernels
 * (AETHER_KERNELS_REFERENCE, aether/dispatch.h). The streaming decode is
 * always scalar; an optimised prefill differs from it within the dispatch
 * accuracy contract (about 1e-6). After an eviction, positions are the frames' token ids (the cache's
 * EVICT_SLIDING/SCORED semantics): globals and the window keep their
 * meaning, evicted frames are simply absent, and the equivalence no longer
 * holds.
 *
 * Memory: aether_model_size + aether_model_init place the model in caller
 * memory; _create/_destroy use malloc. Weights are either copied (decoded to
 * f32) into that memory, or borrowed zero-copy from the blob buffer (f32
 * payload, little-endian host, 4-byte aligned payload): then the buffer the
 * view points into must outlive the model and stay unmodified.
 *
 * Threads: a model is read-only after init, so forwards may run concurrently
 * (each with its own workspace) and several sessions may share one model; a
 * session is used by one thread at a time.
 */
#ifndef AETHER_MODEL_H
#define AETHER_MODEL_H

#include "aether/export.h"
#include "aether/blob.h"
#include "aether/head.h"
#include "aether/kvcache.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aether_pool {
    AETHER_POOL_LAST = 0, /* last frame's hidden state (streaming decisions) */
    AETHER_POOL_MEAN = 1  /* mean over the window (embeddings / re-ID) */
} aether_pool;

/* Where the model's weights live. */
typedef enum aether_model_weights {
    /* Decode the payload into the model's memory (f16 converted). The blob
     * buffer may be released after init. */
    AETHER_MODEL_COPY = 0,
    /* Point into the blob's f32 payload (no copy). AETHER_ERR_UNSUPPORTED if
     * the payload is f16, the host is big-endian or the payload address is
     * not 4-byte aligned. The blob buffer must outlive the model. */
    AETHER_MODEL_BORROW = 1,
    /* BORROW when possible, else COPY. */
    AETHER_MODEL_BORROW_IF_POSSIBLE = 2
} aether_model_weights;

typedef struct aether_model aether_model;

/* Shape and options of a loaded model. */
typedef struct aether_model_info {
    size_t input_dim, n_q_heads, n_kv_heads, head_dim, n_layers, n_classes;
    size_t n_params;             /* payload elements */
    int f16_source;              /* payload was binary16 */
    int input_norm;              /* flag bit 1 present */
    int borrowed;                /* weights point into the blob buffer */
    aether_head_backend backend; /* resolved backend */
} aether_model_info;

/* The head config a blob implies by default: default_aether()'s backend,
 * window, block and causality with the blob's q_heads, kv_heads, head_dim. */
AETHER_API aether_status aether_model_default_head_config(const aether_blob_view *blob,
                                                          aether_head_config *out);

/* Bytes needed by aether_model_init for this blob, head config and weights
 * mode. cfg NULL means aether_model_default_head_config(blob). Errors (also
 * those of init, in this order): NULL_ARG; the model-level blob validation
 * (aether_blob_validate_model: BLOB_ELEM_SIZE, BLOB_EXTENSION, BLOB_LAYOUT,
 * BLOB_NONFINITE); the head config's validation; BLOB_SHAPE (cfg heads /
 * head_dim differ from the blob's); INVALID_ARG (unknown mode);
 * UNSUPPORTED (BORROW impossible); OVERFLOW. */
AETHER_API aether_status aether_model_size(const aether_blob_view *blob,
                                           const aether_head_config *cfg,
                                           aether_model_weights mode, size_t *bytes);

/* Build the model in buf[0, len) (BUFFER_TOO_SMALL if short). The buffer
 * must not move while the model is used. */
AETHER_API aether_status aether_model_init(void *buf, size_t len, const aether_blob_view *blob,
                                           const aether_head_config *cfg,
                                           aether_model_weights mode, aether_model **out);

/* malloc convenience; destroy accepts NULL (never destroy an init'ed model). */
AETHER_API aether_status aether_model_create(const aether_blob_view *blob,
                                             const aether_head_config *cfg,
                                             aether_model_weights mode, aether_model **out);
AETHER_API void aether_model_destroy(aether_model *model);

AETHER_API aether_status aether_model_get_info(const aether_model *model, aether_model_info *out);
/* The model's head (backend + attention pattern); NULL for NULL. */
AETHER_API const aether_head *aether_model_head(const aether_model *model);

/* Workspace bytes for a forward over n_frames frames. */
AETHER_API aether_status aether_model_forward_workspace_size(const aether_model *model,
                                                             size_t n_frames, size_t *bytes);

/* The same query before the model exists (to plan one memory block for
 * model + workspace + session): the result for a model built from (blob,
 * cfg), with the errors of aether_model_size. */
AETHER_API aether_status aether_model_forward_workspace_size_for(const aether_blob_view *blob,
                                                                 const aether_head_config *cfg,
                                                                 size_t n_frames, size_t *bytes);

/* Window forward. frames: n_frames * input_dim floats (row-major [N, I]).
 * logits: n_classes floats; pooled (optional): input_dim floats. ws: at
 * least aether_model_forward_workspace_size bytes; NULL is an error
 * (AETHER_ERR_NULL_ARG, aether/core.h); no heap call. Errors: NULL_ARG,
 * NOT_INITIALIZED, INVALID_ARG (n_frames 0 or unknown pool), NONFINITE (a
 * NaN/Inf frame value), then the workspace (NULL_ARG, BUFFER_TOO_SMALL), and
 * the attention kernel's statuses. Outputs are written only on success. */
AETHER_API aether_status aether_model_forward(const aether_model *model, const float *frames,
                                              size_t n_frames, aether_pool pool, float *logits,
                                              float *pooled, void *ws, size_t ws_len);

/* ---------- streaming sessions ---------- */

typedef struct aether_model_session aether_model_session;

/* Session parameters (aether_model_session_params_default). */
typedef struct aether_session_params {
    size_t capacity;               /* frames per layer cache (default 4096) */
    aether_kv_evict evict;         /* policy when full (default EVICT_SLIDING) */
    aether_kv_storage storage;     /* default AETHER_KV_F32 */
    aether_kv_landmarks landmarks; /* default AETHER_KV_LM_SUM (bit-exact contract) */
} aether_session_params;

AETHER_API aether_session_params aether_model_session_params_default(void);

/* Bytes for a session of `model` (NULL params = defaults). Errors: NULL_ARG,
 * NOT_INITIALIZED, the cache's parameter errors (e.g. INVALID_ARG for a
 * sliding policy with capacity <= 1), OVERFLOW. */
AETHER_API aether_status aether_model_session_size(const aether_model *model,
                                                   const aether_session_params *p, size_t *bytes);
/* The same before the model exists (see
 * aether_model_forward_workspace_size_for). */
AETHER_API aether_status aether_model_session_size_for(const aether_blob_view *blob,
                                                       const aether_head_config *cfg,
                                                       const aether_session_params *p,
                                                       size_t *bytes);
/* Build a session in buf[0, len); the model must outlive it. */
AETHER_API aether_status aether_model_session_init(void *buf, size_t len,
                                                   const aether_model *model,
                                                   const aether_session_params *p,
                                                   aether_model_session **out);
AETHER_API aether_status aether_model_session_create(const aether_model *model,
                                                     const aether_session_params *p,
                                                     aether_model_session **out);
AETHER_API void aether_model_session_destroy(aether_model_session *s);

/* Feed one frame (input_dim floats); logits (n_classes floats) and pooled
 * (optional, input_dim floats: the frame's final hidden state) receive the
 * result. Errors: NULL_ARG; NONFINITE (frame has NaN/Inf: nothing changes);
 * CACHE_FULL (EVICT_NONE and the caches are full: nothing changes); STATE
 * (an earlier step failed half-way, e.g. a projection overflowed to Inf in
 * a later layer, leaving the layers out of step: reset first). */
AETHER_API aether_status aether_model_session_step(aether_model_session *s, const float *frame,
                                                   float *logits, float *pooled);

/* Forget every frame (empty caches, token ids from 0, STATE cleared). */
AETHER_API aether_status aether_model_session_reset(aether_model_session *s);

/* Frames stepped since the last reset (0 for NULL). */
AETHER_API size_t aether_model_session_frames(const aether_model_session *s);
/* 1 once any cache has evicted since the last reset (equivalence with the
 * window forward no longer holds), else 0. */
AETHER_API int aether_model_session_evicted(const aether_model_session *s);
/* 1 when a failed step left the layers' caches out of step (some layer took
 * the frame, a later one failed): every step then returns AETHER_ERR_STATE
 * until aether_model_session_reset. 0 otherwise (also for NULL). */
AETHER_API int aether_model_session_broken(const aether_model_session *s);

/* ---------- batched step ----------
 *
 * aether_model_step_batch feeds one frame to each of n sessions of one
 * model at once: what a live service does at every tick. Per layer, the
 * projections of all n frames (Wq, Wk, Wv, then Wo, and the classifier at
 * the end) run as one matrix product over the batch, so each weight is
 * loaded once for several sessions instead of once per session; the
 * attention step stays per session, against that session's caches. Two
 * more things are shared where the sessions' states allow it: a session
 * whose first-layer cache is in the same state as the one stepped before
 * it (same frame count and policy: the same slots and landmark entries)
 * decodes from the candidate lists that one resolved, as the upper layers
 * of a session always do; and those lists start the loads of the rows of
 * the session two places further on.
 *
 * Results: bit for bit those of calling aether_model_session_step on the
 * sessions one after the other, in the kernel mode the sessions run (the
 * reference and every optimised path): each output element comes from the
 * same operations in the same order as the one-session product of that
 * path, only the loop around them differs. The sessions' state afterwards
 * (caches, frame counts, eviction) is the same too.
 *
 * Errors of the call itself, checked before anything is read or written
 * (nothing changes, statuses included): NOT_INITIALIZED / NULL_ARG (model);
 * then, for n > 0 (n == 0 returns AETHER_OK at once): NULL_ARG (sessions,
 * frames, logits or statuses NULL); OVERFLOW; the workspace (NULL_ARG,
 * BUFFER_TOO_SMALL when ws_len is below
 * aether_model_step_batch_workspace_size(model, n), i.e. n is larger than
 * the batch the workspace was sized for). Otherwise the call returns
 * AETHER_OK and statuses[i] holds session i's result:
 *   NULL_ARG / NOT_INITIALIZED  sessions[i] is NULL / not a session;
 *   INVALID_ARG                 the session belongs to another model, or is
 *                               listed twice (its first entry that passes
 *                               these checks steps, its later ones fail);
 *   then the errors of aether_model_session_step: STATE (broken session),
 *   NONFINITE (NaN/Inf in its frame), CACHE_FULL (full non-evicting
 *   caches), and those of a layer's step (e.g. NONFINITE when a
 *   projection overflowed; past the first layer the session is then
 *   broken, exactly as in the one-session step).
 * A session that fails is not stepped: its caches, frame count, logits and
 * pooled rows stay as they were; the others step normally.
 *
 * Layout: frames is n rows of input_dim floats (row i for sessions[i]),
 * logits n rows of n_classes floats, pooled (optional) n rows of input_dim
 * floats.
 *
 * Memory: ws is caller scratch of at least
 * aether_model_step_batch_workspace_size(model, n_max) bytes for any
 * n <= n_max (any alignment; the result never depends on it). The call
 * makes no heap call. Its size is linear in n_max: about
 * 4 * (2 * input_dim + 2 * q_width + 2 * kv_width + n_classes) + 8 bytes
 * per session, plus alignment.
 *
 * Threads: the call uses the sessions as a one-session step does (each
 * session by one thread at a time); distinct calls on disjoint sessions
 * of a shared model may run concurrently with their own workspaces.
 */
AETHER_API aether_status aether_model_step_batch_workspace_size(const aether_model *model,
                                                                size_t n_max, size_t *bytes);
AETHER_API aether_status aether_model_step_batch(const aether_model *model,
                                                 aether_model_session *const *sessions,
                                                 size_t n, const float *frames, float *logits,
                                                 float *pooled, aether_status *statuses,
                                                 void *ws, size_t ws_len);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_MODEL_H */
