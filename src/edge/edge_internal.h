/* Internal: the ruv_temporal context and the helpers its files share. */
#ifndef AETHER_EDGE_INTERNAL_H
#define AETHER_EDGE_INTERNAL_H

#include "ruv_temporal.h"

#include "aether/attention.h"
#include "aether/blob.h"
#include "aether/decision.h"
#include "aether/model.h"
#include "aether/quant.h"
#include "aether/window.h"

#define RUV_TEMPORAL_MAGIC 0x52555654u /* "RUVT" */

struct ruv_temporal_ctx {
    uint32_t magic;
    ruv_temporal_config_t cfg;
    uint32_t input_dim, window_len, n_classes;
    aether_model *model;
    float *scratch_logits; /* n_classes: make_packet's classify target */
    /* WINDOW */
    aether_window *window; /* the library's window classifier, in ctx memory */
    /* STREAMING */
    aether_model_session *session;
    float *last_logits;              /* n_classes: logits of the latest push */
    int broken;                      /* a failed step left the caches out of step */
    aether_decision_params decision; /* the blob's calibration */
    uint64_t frames_total;
    /* the integer path (an RVNQ blob, aether/quant.h) */
    int quant;
    aether_qmodel *qmodel;
    aether_qsession *qsession; /* STREAMING */
    int32_t *qring, *qframes;  /* WINDOW: ring of Q16 frames, chronological copy */
    void *qws;                 /* WINDOW: forward workspace */
    int32_t *qlogits;          /* WINDOW: Q16 logits */
    size_t qws_len;
    uint32_t qhead, qheld; /* WINDOW: next ring slot, frames held */
    int qcopied;           /* the blob was copied into the context */
    size_t bytes;
    void *owned; /* malloc'd block, NULL for init_static */
};

/* The esp_err_t a library status maps to (the table in ruv_temporal.h). */
esp_err_t ruv_temporal_err_(aether_status st);

/* Dot product used by the on-target self test: the reference order, or
 * esp-dsp's dsps_dotprod_f32 when built with AETHER_USE_ESP_DSP under
 * ESP-IDF. */
float ruv_temporal_dot_(const float *a, const float *b, size_t n);

/* The kernel self test in parts (src/edge/selftest.c), so that
 * tests/test_selftest.c can run the same case with injected defects.
 * Arrays are [8 seq][2 heads][4 dim] floats (64). */
/* The fixed inputs. */
void ruv_temporal_self_test_inputs_(float *q, float *k, float *v);
/* The case's attention parameters; globals1 (one element) holds the global
 * token list the params point to. */
aether_attn_params ruv_temporal_self_test_params_(size_t *globals1);
/* The attention kernel the device runs on (q, k, v) with ap. */
esp_err_t ruv_temporal_self_test_forward_(const aether_attn_params *ap, const float *q,
                                          const float *k, const float *v, float *out);
/* ESP_OK when every output is within the tolerance of the recorded one. */
esp_err_t ruv_temporal_self_test_check_(const float *out);
float ruv_temporal_self_test_tolerance_(void);
/* max |out - recorded| (NaN if any output is NaN). */
float ruv_temporal_self_test_deviation_(const float *out);

/* ---------- the integer path (src/edge/quant.c) ---------- */

/* What init needs for an RVNQ blob: sizes of the parts. */
typedef struct edge_qplan {
    aether_qblob_view blob;
    aether_head_config head;
    int copy;                 /* copy the blob into the context */
    size_t blob_bytes;        /* copy: the blob's bytes */
    size_t model_bytes;       /* aether_qmodel_size */
    size_t sess_bytes;        /* STREAMING */
    size_t ring_values;       /* WINDOW: window_len * input_dim */
    size_t ws_bytes;          /* WINDOW: forward workspace for window_len frames */
    aether_kv_evict evict;    /* STREAMING */
    size_t n_classes;
    aether_decision_params decision; /* the blob's calibration metadata */
} edge_qplan;

/* Validate cfg for the integer path and size its parts. */
esp_err_t ruv_temporal_qplan_(const uint8_t *weights, size_t weights_len, uint32_t input_dim,
                              uint32_t window_len, uint32_t n_classes,
                              const ruv_temporal_config_t *cfg, edge_qplan *q);
/* Carve the parts from ar (measure or place); the pointers go to ctx when
 * ctx is not NULL. blob_mem / model_mem etc. are returned for build. */
typedef struct edge_qparts {
    void *blob_mem, *model_mem, *sess_mem, *ws;
    int32_t *ring, *frames, *logits;
} edge_qparts;
void ruv_temporal_qlayout_(aether_arena *ar, const edge_qplan *q, const ruv_temporal_config_t *cfg,
                           edge_qparts *x);
/* Build the integer model and session / window state into ctx. */
esp_err_t ruv_temporal_qbuild_(ruv_temporal_ctx_t *ctx, const edge_qplan *q,
                               const uint8_t *weights, const edge_qparts *x);
/* push / classify / reset of the integer path (ctx validated, frame finite
 * checked by the caller). */
esp_err_t ruv_temporal_qpush_(ruv_temporal_ctx_t *ctx, const float *frame);
esp_err_t ruv_temporal_qclassify_(ruv_temporal_ctx_t *ctx, float *logits);
void ruv_temporal_qreset_(ruv_temporal_ctx_t *ctx);

#endif
