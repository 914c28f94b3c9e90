/* Typed blob metadata keys for the CLI (see model_meta.h). */
#include "model_meta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/features.h"

static int parse_count(const char *s, size_t *out)
{
    char *end;
    unsigned long long v;
    if (!*s || *s == '-' || *s == '+')
        return 0;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v > 0xFFFFFFFFull)
        return 0;
    *out = (size_t)v;
    return 1;
}

/* Copy key's value into buf; 1 found, 0 absent, -1 too long. */
static int value_of(const aether_blob_metadata *m, const char *key, char *buf, size_t cap)
{
    int found = 0;
    if (aether_blob_metadata_copy(m, key, buf, cap, &found) != AETHER_OK)
        return -1;
    return found;
}

int model_meta_read(const aether_blob_view *v, model_meta *out, char *err, size_t err_cap)
{
    aether_blob_metadata m;
    char val[1024];
    const char *bad = NULL;
    static const char *const counts[] = {"window_frames", "window_stride", "attn_window",
                                         "attn_block", "input_dim"};
    size_t i;
    int r;
    aether_status st = aether_blob_metadata_get(v, &m);
    memset(out, 0, sizeof *out);
    if (st != AETHER_OK) {
        snprintf(err, err_cap, "invalid model: %s (%s)", aether_strerror(st),
                 aether_status_name(st));
        return -1;
    }
    out->present = m.present;
    if (!m.present)
        return 0;
    r = value_of(&m, "labels", out->labels, sizeof out->labels);
    if (r < 0)
        bad = "labels";
    out->have_labels = r > 0 && out->labels[0];
    r = value_of(&m, "pool", val, sizeof val);
    if (r > 0) {
        out->have_pool = 1;
        if (!strcmp(val, "last"))
            out->pool = AETHER_POOL_LAST;
        else if (!strcmp(val, "mean"))
            out->pool = AETHER_POOL_MEAN;
        else
            bad = "pool";
    }
    for (i = 0; i < sizeof counts / sizeof counts[0]; ++i) {
        size_t n = 0;
        r = value_of(&m, counts[i], val, sizeof val);
        if (r == 0)
            continue;
        if (r < 0 || !parse_count(val, &n)) {
            bad = counts[i];
            continue;
        }
        switch (i) {
        case 0: out->window_frames = n; out->have_window_frames = n > 0; break;
        case 1: out->window_stride = n; out->have_window_stride = n > 0; break;
        case 2: out->attn_window = n; out->have_attn_window = 1; break;
        case 3: out->attn_block = n; out->have_attn_block = 1; break;
        default: out->input_dim = n; out->have_input_dim = 1; break;
        }
    }
    r = value_of(&m, "backend", val, sizeof val);
    if (r > 0) {
        out->have_backend = aether_head_backend_parse(val, &out->backend) == AETHER_OK;
        if (!out->have_backend)
            bad = "backend";
    }
    r = value_of(&m, "features", val, sizeof val);
    if (r > 0) {
        out->have_recipe = aether_features_recipe_parse(val, &out->recipe) == AETHER_OK;
        if (!out->have_recipe)
            bad = "features";
    }
    if (bad) {
        snprintf(err, err_cap, "metadata key `%s` has a value this version cannot use", bad);
        return -1;
    }
    if (out->have_input_dim && out->input_dim != v->header.input_dim) {
        snprintf(err, err_cap, "metadata input_dim %lu differs from the header's %u",
                 (unsigned long)out->input_dim, (unsigned)v->header.input_dim);
        return -1;
    }
    return 0;
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
