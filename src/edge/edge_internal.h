/* Internal: the ruv_temporal context and the helpers its files share. */
#ifndef AETHER_EDGE_INTERNAL_H
#define AETHER_EDGE_INTERNAL_H

#include "ruv_temporal.h"

#include "aether/attention.h"
#include "aether/blob.h"
#include "aether/model.h"
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
    float *last_logits; /* n_classes: logits of the latest push */
    int broken;         /* a failed step left the caches out of step */
    uint64_t frames_total;
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

#endif
