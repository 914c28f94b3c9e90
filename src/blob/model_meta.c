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

/* A decimal number [digits][.digits][e[+-]digits] with at least one
 * mantissa digit, as a double; independent of the C locale (strtod would
 * read "0,5" in some). Any number of digits: an exponent beyond
 * DECIMAL_EXP_MAX (leading zeros aside) only drives the value to 0 or
 * infinity, where it stops counting. 0 when the text is not one. */
#define DECIMAL_EXP_MAX 1000L
static int parse_decimal(const char *s, size_t len, double *out)
{
    double mant = 0.0, scale = 1.0;
    size_t i = 0, digits = 0;
    long ex = 0;
    int neg_ex = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        mant = mant * 10.0 + (double)(s[i++] - '0');
        digits++;
    }
    if (i < len && s[i] == '.') {
        for (++i; i < len && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
            scale /= 10.0;
            mant += scale * (double)(s[i] - '0');
        }
    }
    if (digits == 0)
        return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t e0;
        if (++i < len && (s[i] == '+' || s[i] == '-'))
            neg_ex = s[i++] == '-';
        for (e0 = i; i < len && s[i] >= '0' && s[i] <= '9'; ++i)
            if (ex < DECIMAL_EXP_MAX)
                ex = ex * 10 + (s[i] - '0');
        if (i == e0)
            return 0;
        if (ex > DECIMAL_EXP_MAX)
            ex = DECIMAL_EXP_MAX;
    }
    if (i != len)
        return 0;
    while (ex-- > 0)
        mant = neg_ex ? mant / 10.0 : mant * 10.0;
    *out = mant;
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

/* The calibration keys (aether/decision.h): name, range, the status of a
 * value outside it. A temperature below 1e-6 would overflow logits / T. */
static const struct calibration_key {
    const char *name;
    double lo, hi;
    aether_status bad;
} k_calibration[3] = {
    {"temperature", 1e-6, 1e6, AETHER_ERR_BLOB_TEMPERATURE},
    {"unknown_below", 0.0, 1.0, AETHER_ERR_BLOB_THRESHOLD},
    {"ood_above", 0.0, 1e6, AETHER_ERR_BLOB_THRESHOLD},
};

/* One of the calibration keys: *mine = 1 when key is one of them, and the
 * status of its value. */
static aether_status read_calibration(const char *key, size_t key_len, const char *val,
                                      size_t len, aether_blob_calibration *out, int *mine)
{
    size_t i;
    double d = 0.0;
    for (i = 0; i < 3; ++i) {
        float *value[3];
        int *have[3];
        if (!is(key, key_len, k_calibration[i].name))
            continue;
        *mine = 1;
        if (!parse_decimal(val, len, &d) || !(d >= k_calibration[i].lo) ||
            !(d <= k_calibration[i].hi))
            return k_calibration[i].bad;
        value[0] = &out->temperature;
        value[1] = &out->unknown_below;
        value[2] = &out->ood_above;
        have[0] = &out->have_temperature;
        have[1] = &out->have_unknown_below;
        have[2] = &out->have_ood_above;
        *value[i] = (float)d;
        *have[i] = 1;
        return AETHER_OK;
    }
    *mine = 0;
    return AETHER_OK;
}

/* One key: AETHER_OK if its value is usable (or the key is not one of
 * ours), else the status naming what is wrong. */
static aether_status read_entry(const char *key, size_t key_len, const char *val, size_t len,
                                aether_blob_model_meta *out)
{
    static const char *const counts[] = {"window_frames", "window_stride", "attn_window",
                                         "attn_block", "input_dim"};
    const aether_status bad = AETHER_ERR_BLOB_METADATA;
    size_t i, n = 0;
    aether_blob_calibration cal;
    aether_status st;
    int mine = 0;
    if (is(key, key_len, "labels"))
        return split_labels(val, len, out) ? AETHER_OK : bad;
    if (is(key, key_len, "pool")) {
        out->pool = is(val, len, "last")   ? AETHER_META_POOL_LAST
                    : is(val, len, "mean") ? AETHER_META_POOL_MEAN
                                           : AETHER_META_POOL_UNSET;
        return out->pool != AETHER_META_POOL_UNSET ? AETHER_OK : bad;
    }
    if (is(key, key_len, "backend"))
        return copy_name(val, len, out->backend) ? AETHER_OK : bad;
    if (is(key, key_len, "features"))
        return copy_name(val, len, out->features) ? AETHER_OK : bad;
    memset(&cal, 0, sizeof cal);
    st = read_calibration(key, key_len, val, len, &cal, &mine);
    if (mine) {
        if (cal.have_temperature) {
            out->temperature = cal.temperature;
            out->have_temperature = 1;
        }
        if (cal.have_unknown_below) {
            out->unknown_below = cal.unknown_below;
            out->have_unknown_below = 1;
        }
        if (cal.have_ood_above) {
            out->ood_above = cal.ood_above;
            out->have_ood_above = 1;
        }
        return st;
    }
    for (i = 0; i < sizeof counts / sizeof counts[0]; ++i) {
        if (!is(key, key_len, counts[i]))
            continue;
        if (!parse_count(val, len, &n) || (i < 2 && n == 0))
            return bad;
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
        return AETHER_OK;
    }
    return AETHER_OK; /* not a key of ours */
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
        if (st == AETHER_OK)
            st = read_entry(key, key_len, val, len, out);
        if (st != AETHER_OK) {
            memset(out, 0, sizeof *out);
            return st;
        }
    }
    st = AETHER_OK;
    if (out->n_labels && out->n_labels != n_classes)
        st = AETHER_ERR_BLOB_LABELS;
    else if (out->have_input_dim && out->input_dim != input_dim)
        st = AETHER_ERR_BLOB_METADATA;
    if (st != AETHER_OK)
        memset(out, 0, sizeof *out);
    return st;
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

aether_status aether_blob_metadata_calibration_(const aether_blob_metadata *m,
                                               aether_blob_calibration *out)
{
    aether_status st = AETHER_OK;
    size_t i;
    memset(out, 0, sizeof *out);
    for (i = 0; st == AETHER_OK && i < m->n_entries; ++i) {
        const char *key, *val;
        size_t key_len, len;
        int mine = 0;
        st = aether_blob_metadata_entry(m, i, &key, &key_len, &val, &len);
        if (st == AETHER_OK)
            st = read_calibration(key, key_len, val, len, out, &mine);
    }
    if (st != AETHER_OK)
        memset(out, 0, sizeof *out);
    return st;
}

aether_status aether_blob_model_calibration(const aether_blob_view *v,
                                            aether_blob_calibration *out)
{
    aether_blob_metadata m;
    aether_status st;
    if (!v || !out)
        return AETHER_ERR_NULL_ARG;
    memset(out, 0, sizeof *out);
    st = aether_blob_metadata_get(v, &m);
    if (st != AETHER_OK)
        return st;
    return aether_blob_metadata_calibration_(&m, out);
}
