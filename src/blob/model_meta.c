/* The model metadata keys, typed (aether/blob.h). Reads the validated
 * key=value text once, so every front end applies the same checks. */
#include "aether/blob.h"
#include "blob_internal.h"

#include <string.h>

/* Decimal digits only, below 2^32. */
static int parse_count(const char *s, size_t len, size_t *out)
{
    unsigned long long v = 0;
    size_t i;
    if (len == 0 || len > 10)
        return 0;
    for (i = 0; i < len; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10u + (unsigned)(s[i] - '0');
    }
    if (v > 0xFFFFFFFFull)
        return 0;
    *out = (size_t)v;
    return 1;
}

static int is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* Split the labels value into NUL-ended names; 0 if a name is empty or
 * there are too many. */
static int split_labels(const char *s, size_t len, aether_blob_model_meta *out)
{
    size_t i, start = 0;
    if (len == 0)
        return 0;
    memcpy(out->labels, s, len);
    out->labels[len] = '\0';
    out->n_labels = 0;
    for (i = 0; i <= len; ++i) {
        if (i < len && s[i] != ',')
            continue;
        if (i == start || out->n_labels == AETHER_BLOB_META_MAX_LABELS)
            return 0;
        out->labels[i] = '\0';
        out->n_labels++;
        start = i + 1;
    }
    return 1;
}

static int copy_name(const char *s, size_t len, char *dst)
{
    if (len == 0 || len >= AETHER_BLOB_META_NAME_MAX)
        return 0;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 1;
}

/* One key: 1 if its value is usable (or the key is not one of ours). */
static int read_entry(const char *key, size_t key_len, const char *val, size_t len,
                      aether_blob_model_meta *out)
{
    static const char *const counts[] = {"window_frames", "window_stride", "attn_window",
                                         "attn_block", "input_dim"};
    size_t i, n = 0;
    if (is(key, key_len, "labels"))
        return split_labels(val, len, out);
    if (is(key, key_len, "pool")) {
        out->pool = is(val, len, "last")   ? AETHER_META_POOL_LAST
                    : is(val, len, "mean") ? AETHER_META_POOL_MEAN
                                           : AETHER_META_POOL_UNSET;
        return out->pool != AETHER_META_POOL_UNSET;
    }
    if (is(key, key_len, "backend"))
        return copy_name(val, len, out->backend);
    if (is(key, key_len, "features"))
        return copy_name(val, len, out->features);
    for (i = 0; i < sizeof counts / sizeof counts[0]; ++i) {
        if (!is(key, key_len, counts[i]))
            continue;
        if (!parse_count(val, len, &n) || (i < 2 && n == 0))
            return 0;
        switch (i) {
        case 0:
            out->window_frames = n;
            out->have_window_frames = 1;
            break;
        case 1:
            out->window_stride = n;
            out->have_window_stride = 1;
            break;
        case 2:
            out->attn_window = n;
            out->have_attn_window = 1;
            break;
        case 3:
            out->attn_block = n;
            out->have_attn_block = 1;
            break;
        default:
            out->input_dim = n;
            out->have_input_dim = 1;
            break;
        }
        return 1;
    }
    return 1; /* not a key of ours */
}

aether_status aether_blob_model_meta_parse_(const aether_blob_metadata *m, size_t n_classes,
                                           size_t input_dim, aether_blob_model_meta *out)
{
    aether_status st;
    size_t i;
    memset(out, 0, sizeof *out);
    out->present = m->present;
    for (i = 0; i < m->n_entries; ++i) {
        const char *key, *val;
        size_t key_len, len;
        st = aether_blob_metadata_entry(m, i, &key, &key_len, &val, &len);
        if (st != AETHER_OK || !read_entry(key, key_len, val, len, out)) {
            memset(out, 0, sizeof *out);
            return st != AETHER_OK ? st : AETHER_ERR_BLOB_METADATA;
        }
    }
    if ((out->n_labels && out->n_labels != n_classes) ||
        (out->have_input_dim && out->input_dim != input_dim)) {
        memset(out, 0, sizeof *out);
        return AETHER_ERR_BLOB_METADATA;
    }
    return AETHER_OK;
}

aether_status aether_blob_model_meta_read(const aether_blob_view *v, aether_blob_model_meta *out)
{
    aether_blob_metadata m;
    aether_status st;
    if (!v || !out)
        return AETHER_ERR_NULL_ARG;
    memset(out, 0, sizeof *out);
    st = aether_blob_metadata_get(v, &m);
    if (st != AETHER_OK)
        return st;
    return aether_blob_model_meta_parse_(&m, v->header.n_classes, v->header.input_dim, out);
}

const char *aether_blob_model_meta_label(const aether_blob_model_meta *m, size_t i)
{
    const char *p;
    if (!m || i >= m->n_labels)
        return NULL;
    for (p = m->labels; i > 0; --i)
        p += strlen(p) + 1;
    return p;
}
