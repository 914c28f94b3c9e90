/*
 * Typed view of the blob metadata keys (flag bit 2, aether/blob.h) that the
 * CLI writes (`aether train`) and reads (`aether run`, `aether eval`,
 * `aether inspect`).
 */
#ifndef AETHER_TOOLS_MODEL_META_H
#define AETHER_TOOLS_MODEL_META_H

#include <stddef.h>

#include "aether/blob.h"
#include "aether/decision.h"
#include "aether/head.h"
#include "aether/model.h"
#include "aether/quant.h"

typedef struct model_meta {
    int present; /* the blob has a metadata record */
    int have_labels, have_pool, have_window_frames, have_window_stride;
    int have_attn_window, have_attn_block, have_backend, have_recipe, have_input_dim;
    char labels[1024]; /* comma-separated */
    aether_pool pool;
    size_t window_frames, window_stride, attn_window, attn_block, input_dim;
    aether_head_backend backend;
    unsigned recipe;                 /* AETHER_FEATURES_V1 / _V2 */
    int have_calibration;            /* a temperature or unknown_below key */
    aether_decision_params decision; /* the defaults without them */
} model_meta;

/* The known keys of a model-level valid blob (aether_blob_model_meta_read),
 * with the backend and recipe names resolved. Returns 0, or -1 with a
 * message in err. */
int model_meta_read(const aether_blob_view *v, model_meta *out, char *err, size_t err_cap);
/* The same for a parsed RVNQ blob (aether_qblob_model_meta_read). */
int model_meta_read_q(const aether_qblob_view *v, model_meta *out, char *err, size_t err_cap);

/* The calibrated fields of a decision line, after its "label" (or
 * "class"): `"decision":"<label, class index or unknown>","probability":P,
 * "unknown":true|false,"distance":D,` (D null when negative: not known)
 * into out (cap bytes; 128 + the label's length is enough). labels may be
 * NULL. */
void model_meta_decision_fields(const aether_decision *d, const char *const *labels,
                                float distance, char *out, size_t cap);
/* A cap for model_meta_decision_fields that holds any label of up to
 * AETHER_BLOB_META_MAX_TEXT bytes (the most a blob's metadata or a 4 KB
 * --labels list can give) escaped: at most 6 bytes (\u00XX) per byte. */
#define MODEL_META_FIELDS_CAP (128u + 6u * AETHER_BLOB_META_MAX_TEXT)

/* aether_decide under params (distance: the input distance, negative when
 * not known), or (logits NaN/Inf) the argmax with probability NaN and not
 * unknown. */
aether_decision model_meta_decide(const float *logits, size_t n,
                                  const aether_decision_params *params, float distance);

/* Metadata text (key=value lines) for the given values into buf; 0, or -1
 * if it does not fit. labels NULL leaves the key out. */
int model_meta_format(char *buf, size_t cap, size_t *len, const char *labels, aether_pool pool,
                      size_t window_frames, size_t window_stride, const aether_head_config *head,
                      unsigned recipe, size_t input_dim);

#endif
