/*
 * aether/window.h - the window classifier: a ring of one stream's last W
 * frames and the model's window forward over them.
 *
 * A decision over a window is what the shipped models are trained for
 * (metadata pool=mean, window_frames W): push every frame, and when a
 * decision is due, classify the frames held, oldest first:
 *   logits = aether_model_forward(model, last min(W, pushed) frames, pool)
 * bit for bit (the same call on the same frames and kernels). Every front
 * end uses this one implementation: the CLI (`aether run`), the tracks
 * table (one window per track), the firmware ABI (RUV_TEMPORAL_MODE_WINDOW)
 * and Python, so all of them give the same numbers.
 *
 * The parameters usually come from the blob's metadata
 * (aether_window_params_from_meta). When decisions are due is the caller's
 * choice (every window_stride frames, every S seconds, on request).
 *
 * Memory: one block fixed at init: the ring (W x input_dim floats) and,
 * unless params.external_workspace, the model's forward workspace for W
 * frames (aether_window_size +
 * aether_window_init on caller memory, or _create/_destroy). Push and
 * classify never allocate. Classify reorders the ring in place (three
 * reversals) rather than copying it, so no second window-sized buffer
 * exists. Reset and destroy overwrite the held frames with zeros.
 *
 * Threads: one thread at a time per window; the model may be shared.
 */
#ifndef AETHER_WINDOW_H
#define AETHER_WINDOW_H

#include "aether/export.h"
#include <stddef.h>
#include <stdint.h>

#include "aether/blob.h"
#include "aether/core.h"
#include "aether/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aether_window_params {
    size_t frames;    /* W, the ring's capacity, >= 1 */
    aether_pool pool; /* pooling of the window forward */
    /* 0: the window holds its forward workspace (aether_window_classify).
     * 1: it holds only the ring; aether_window_classify_ws takes the
     * workspace, so many windows stepped by one thread (a tracks table)
     * share one (aether_window_workspace_size). */
    int external_workspace;
} aether_window_params;

/* From the typed metadata: frames = window_frames (0 when absent: set it
 * before init), pool = the metadata's (LAST when absent), own workspace.
 * NULL_ARG only. */
AETHER_API aether_status aether_window_params_from_meta(const aether_blob_model_meta *meta,
                                                        aether_window_params *out);

typedef struct aether_window aether_window; /* opaque */

/* Bytes aether_window_init needs. Errors: NULL_ARG; NOT_INITIALIZED
 * (model); INVALID_ARG (frames 0, unknown pool); OVERFLOW. */
AETHER_API aether_status aether_window_size(const aether_model *model,
                                            const aether_window_params *p, size_t *bytes);

/* The same before the model exists (to plan one memory block for model +
 * window): the result for a model built from (blob, cfg), cfg NULL for the
 * blob's default head config. Errors: NULL_ARG, INVALID_ARG, the model
 * size query's. */
AETHER_API aether_status aether_window_size_for(const aether_blob_view *blob,
                                                const aether_head_config *cfg,
                                                const aether_window_params *p, size_t *bytes);

/* An empty window in buf[0, len) (any alignment; BUFFER_TOO_SMALL if
 * short). The model must outlive it; the buffer must not move. */
AETHER_API aether_status aether_window_init(void *buf, size_t len, const aether_model *model,
                                            const aether_window_params *p, aether_window **out);

/* malloc convenience; destroy zero-fills and frees (accepts NULL; never
 * destroy an init'ed window). */
AETHER_API aether_status aether_window_create(const aether_model *model,
                                              const aether_window_params *p, aether_window **out);
AETHER_API void aether_window_destroy(aether_window *w);

/* Append one frame (input_dim floats); the oldest is dropped once W are
 * held. Errors, with nothing changed: NULL_ARG, NOT_INITIALIZED, NONFINITE
 * (a NaN/Inf value). */
AETHER_API aether_status aether_window_push(aether_window *w, const float *frame);

/* The window forward over the frames held, oldest first: logits (n_classes
 * floats), pooled (optional, input_dim floats). Errors: NULL_ARG,
 * NOT_INITIALIZED, CACHE_EMPTY (no frame held), STATE (an external-
 * workspace window: use aether_window_classify_ws), and the forward's. The
 * frames held do not change (their slots may). */
AETHER_API aether_status aether_window_classify(aether_window *w, float *logits, float *pooled);

/* Bytes of the forward workspace for W frames, for a window with an
 * external workspace (the errors of aether_window_size). */
AETHER_API aether_status aether_window_workspace_size(const aether_model *model,
                                                      const aether_window_params *p,
                                                      size_t *bytes);

/* aether_window_classify with the caller's workspace. ws: at least
 * aether_window_workspace_size bytes; NULL is an error (NULL_ARG, short
 * BUFFER_TOO_SMALL: aether/core.h). Works for either kind of window. */
AETHER_API aether_status aether_window_classify_ws(aether_window *w, void *ws, size_t ws_len,
                                                   float *logits, float *pooled);

/* The input distance (aether/decision.h) of the frames held. Errors:
 * NULL_ARG, NOT_INITIALIZED, CACHE_EMPTY (no frame held). */
AETHER_API aether_status aether_window_input_distance(const aether_window *w, float *distance);

/* Drop every frame (zero-filled). */
AETHER_API aether_status aether_window_reset(aether_window *w);

/* Frames held now (<= W), frames pushed since init or reset; 0 for NULL. */
AETHER_API size_t aether_window_held(const aether_window *w);
AETHER_API uint64_t aether_window_pushed(const aether_window *w);

/* The parameters the window was built with (NULL_ARG, NOT_INITIALIZED). */
AETHER_API aether_status aether_window_get_params(const aether_window *w,
                                                  aether_window_params *out);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_WINDOW_H */
