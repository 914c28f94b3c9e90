/* Typed blob metadata keys for the CLI (see model_meta.h). */
#include "model_meta.h"

#include <stdio.h>
#include <string.h>

#include "aether/features.h"
#include "aether/packet.h"
#include "textbuf.h"
#include <math.h>

static int from_typed(aether_status st, const aether_blob_model_meta *mp, model_meta *out,
                      char *err, size_t err_cap)
{
    size_t i, len = 0;
    memset(out, 0, sizeof *out);
    out->decision = aether_decision_params_default();
    if (st != AETHER_OK) {
        snprintf(err, err_cap, "%s: %s (%s)",
                 st == AETHER_ERR_BLOB_METADATA || st == AETHER_ERR_BLOB_LABELS ||
                         st == AETHER_ERR_BLOB_TEMPERATURE || st == AETHER_ERR_BLOB_THRESHOLD
                     ? "unusable metadata"
                     : "invalid model",
                 aether_strerror(st), aether_status_name(st));
        return -1;
    }
    out->present = mp->present;
    for (i = 0; i < mp->n_labels; ++i) {
        const char *name = aether_blob_model_meta_label(mp, i);
        size_t n = strlen(name);
        if (len + n + 2 > sizeof out->labels) {
            snprintf(err, err_cap, "metadata labels longer than %lu bytes",
                     (unsigned long)sizeof out->labels - 1);
            return -1;
        }
        if (i)
            out->labels[len++] = ',';
        memcpy(out->labels + len, name, n + 1);
        len += n;
    }
    out->have_labels = mp->n_labels > 0;
    out->have_pool = mp->pool != AETHER_META_POOL_UNSET;
    out->pool = mp->pool == AETHER_META_POOL_MEAN ? AETHER_POOL_MEAN : AETHER_POOL_LAST;
    out->have_window_frames = mp->have_window_frames;
    out->window_frames = mp->window_frames;
    out->have_window_stride = mp->have_window_stride;
    out->window_stride = mp->window_stride;
    out->have_attn_window = mp->have_attn_window;
    out->attn_window = mp->attn_window;
    out->have_attn_block = mp->have_attn_block;
    out->attn_block = mp->attn_block;
    out->have_input_dim = mp->have_input_dim;
    out->input_dim = mp->input_dim;
    out->have_calibration = mp->have_temperature || mp->have_unknown_below || mp->have_ood_above;
    (void)aether_decision_params_from_meta(mp, &out->decision);
    if (mp->backend[0]) {
        out->have_backend = aether_head_backend_parse(mp->backend, &out->backend) == AETHER_OK;
        if (!out->have_backend) {
            snprintf(err, err_cap, "metadata backend `%s` is not one this version knows",
                     mp->backend);
            return -1;
        }
    }
    if (mp->features[0]) {
        out->have_recipe = aether_features_recipe_parse(mp->features, &out->recipe) == AETHER_OK;
        if (!out->have_recipe) {
            snprintf(err, err_cap, "metadata features `%s` is not a recipe this version knows",
                     mp->features);
            return -1;
        }
    }
    return 0;
}

int model_meta_read(const aether_blob_view *v, model_meta *out, char *err, size_t err_cap)
{
    aether_blob_model_meta m;
    aether_status st = aether_blob_model_meta_read(v, &m);
    return from_typed(st, &m, out, err, err_cap);
}

int model_meta_read_q(const aether_qblob_view *v, model_meta *out, char *err, size_t err_cap)
{
    aether_blob_model_meta m;
    aether_status st = aether_qblob_model_meta_read(v, &m);
    return from_typed(st, &m, out, err, err_cap);
}

int model_meta_format(char *buf, size_t cap, size_t *len, const char *labels, aether_pool pool,
                      size_t window_frames, size_t window_stride, const aether_head_config *head,
                      unsigned recipe, size_t input_dim)
{
    int n = snprintf(buf, cap,
                     "%s%s%spool=%s\nwindow_frames=%lu\nwindow_stride=%lu\nattn_window=%lu\n"
                     "attn_block=%lu\nbackend=%s\nfeatures=%s\ninput_dim=%lu\n",
                     labels ? "labels=" : "", labels ? labels : "", labels ? "\n" : "",
                     pool == AETHER_POOL_MEAN ? "mean" : "last", (unsigned long)window_frames,
                     (unsigned long)window_stride, (unsigned long)head->window,
                     (unsigned long)head->block_size, aether_head_backend_name(head->backend),
                     aether_features_recipe_name(recipe), (unsigned long)input_dim);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    *len = (size_t)n;
    return 0;
}

void model_meta_decision_fields(const aether_decision *d, const char *const *labels,
                                float distance, char *out, size_t cap)
{
    textbuf t;
    char cls[24];
    const char *name = cls;
    snprintf(cls, sizeof cls, "%lu", (unsigned long)d->top);
    if (d->unknown)
        name = "unknown";
    else if (labels)
        name = labels[d->top];
    textbuf_init(&t, out, cap);
    textbuf_printf(&t, "\"decision\":");
    textbuf_json_string(&t, name);
    textbuf_printf(&t, ",\"probability\":");
    textbuf_json_float(&t, d->probability);
    textbuf_printf(&t, ",\"unknown\":%s,\"distance\":", d->unknown ? "true" : "false");
    if (distance >= 0.0f)
        textbuf_json_float(&t, distance);
    else
        textbuf_printf(&t, "null");
    textbuf_putc(&t, ',');
    if (t.overflow && cap)
        out[0] = '\0'; /* never half a field */
}

aether_decision model_meta_decide(const float *logits, size_t n,
                                  const aether_decision_params *params, float distance)
{
    aether_decision d;
    if (aether_decide(logits, n, params, distance, &d) != AETHER_OK) {
        float top = 0.0f;
        memset(&d, 0, sizeof d);
        aether_packet_argmax(logits, n, &d.top, &top, &d.margin);
        d.probability = NAN;
    }
    return d;
}
