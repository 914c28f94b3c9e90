/* RVNE blob flag bit 2: the model metadata record at the payload's end
 * (format and rules in aether/blob.h). */
#include "blob_internal.h"

#include <string.h>

static size_t pad_of(size_t text_len)
{
    return (4u - text_len % 4u) % 4u;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (1..4), 0 if
 * malformed, overlong, a surrogate or above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0], k, i;
    unsigned long cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (i = 1; i < k; ++i) {
        if ((s[i] & 0xC0u) != 0x80u)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((k == 3 && cp < 0x800u) || (k == 4 && (cp < 0x10000ul || cp > 0x10FFFFul)) ||
        (cp >= 0xD800u && cp <= 0xDFFFu))
        return 0;
    return k;
}

static int key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

/* Key length of the line starting at line (its '=' position), 0 if the
 * line is not key=value. */
static size_t key_len_of(const char *line, size_t line_len)
{
    size_t i;
    for (i = 0; i < line_len && line[i] != '='; ++i)
        if (!key_char((unsigned char)line[i]))
            return 0;
    if (i == line_len || i == 0 || i > AETHER_BLOB_META_MAX_KEY)
        return 0;
    return i;
}

/* Lines are scanned twice at most: the text is at most 4 KiB, so the
 * quadratic duplicate check stays cheap and needs no memory. */
aether_status aether_blob_metadata_check_text(const char *text, size_t len, size_t *n_entries)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t i, start, n = 0;
    if (!text && len > 0)
        return AETHER_ERR_NULL_ARG;
    if (len > AETHER_BLOB_META_MAX_TEXT)
        return AETHER_ERR_BLOB_EXTENSION;
    if (len > 0 && text[len - 1] != '\n')
        return AETHER_ERR_BLOB_EXTENSION;
    for (i = 0; i < len;) {
        size_t k;
        if (u[i] == '\n') {
            i++;
            continue;
        }
        if (u[i] < 0x20u || u[i] == 0x7Fu)
            return AETHER_ERR_BLOB_EXTENSION;
        k = utf8_len(u + i, len - i);
        if (k == 0)
            return AETHER_ERR_BLOB_EXTENSION;
        i += k;
    }
    for (start = 0; start < len; ++n) {
        size_t end = start, kl, prev;
        while (text[end] != '\n')
            end++;
        kl = key_len_of(text + start, end - start);
        if (kl == 0)
            return AETHER_ERR_BLOB_EXTENSION;
        for (prev = 0; prev < start;) {
            size_t pend = prev;
            while (text[pend] != '\n')
                pend++;
            if (key_len_of(text + prev, pend - prev) == kl &&
                !memcmp(text + prev, text + start, kl))
                return AETHER_ERR_BLOB_EXTENSION;
            prev = pend + 1;
        }
        start = end + 1;
    }
    if (n_entries)
        *n_entries = n;
    return AETHER_OK;
}

aether_status aether_blob_meta_locate_(const unsigned char *payload, size_t payload_len,
                                       size_t arrays_bytes, size_t *text_len,
                                       size_t *record_bytes)
{
    size_t L, P, i;
    const unsigned char *trailer;
    if (payload_len < arrays_bytes || payload_len - arrays_bytes < AETHER_BLOB_META_TRAILER)
        return AETHER_ERR_BLOB_LAYOUT;
    trailer = payload + payload_len - AETHER_BLOB_META_TRAILER;
    if (aether_load_le32(trailer + 4) != AETHER_BLOB_META_TAG)
        return AETHER_ERR_BLOB_EXTENSION;
    if (aether_load_le32(trailer) > AETHER_BLOB_META_MAX_TEXT)
        return AETHER_ERR_BLOB_EXTENSION;
    L = (size_t)aether_load_le32(trailer);
    P = pad_of(L);
    /* All terms are small (<= 4107) next to payload_len: no wrap. */
    if (payload_len - arrays_bytes != L + P + AETHER_BLOB_META_TRAILER)
        return AETHER_ERR_BLOB_LAYOUT;
    for (i = 0; i < P; ++i)
        if (payload[arrays_bytes + L + i] != 0)
            return AETHER_ERR_BLOB_EXTENSION;
    if (aether_blob_metadata_check_text((const char *)payload + arrays_bytes, L, NULL) !=
        AETHER_OK)
        return AETHER_ERR_BLOB_EXTENSION;
    *text_len = L;
    *record_bytes = L + P + AETHER_BLOB_META_TRAILER;
    return AETHER_OK;
}

aether_status aether_blob_metadata_get(const aether_blob_view *v, aether_blob_metadata *out)
{
    aether_blob_layout l;
    aether_blob_metadata m;
    aether_status st;
    if (!v || !out)
        return AETHER_ERR_NULL_ARG;
    st = aether_blob_validate_model(v, &l);
    if (st != AETHER_OK)
        return st;
    memset(&m, 0, sizeof m);
    if (v->header.flags & AETHER_BLOB_FLAG_METADATA) {
        size_t arrays = l.total_bytes - l.meta_bytes;
        m.present = 1;
        m.text_len = (size_t)aether_load_le32(v->weights + v->header.weights_len -
                                              AETHER_BLOB_META_TRAILER);
        m.text = m.text_len ? (const char *)v->weights + arrays : NULL;
        (void)aether_blob_metadata_check_text(m.text, m.text_len, &m.n_entries);
    }
    *out = m;
    return AETHER_OK;
}

/* Walk to entry `index`; 1 if found. */
static int entry_at(const aether_blob_metadata *m, size_t index, size_t *start, size_t *end,
                    size_t *key_len)
{
    size_t s = 0, n = 0;
    while (s < m->text_len) {
        size_t e = s;
        while (m->text[e] != '\n')
            e++;
        if (n == index) {
            *start = s;
            *end = e;
            *key_len = key_len_of(m->text + s, e - s);
            return 1;
        }
        n++;
        s = e + 1;
    }
    return 0;
}

aether_status aether_blob_metadata_entry(const aether_blob_metadata *m, size_t index,
                                         const char **key, size_t *key_len, const char **value,
                                         size_t *value_len)
{
    size_t s, e, kl;
    if (!m || !key || !key_len || !value || !value_len)
        return AETHER_ERR_NULL_ARG;
    if (index >= m->n_entries || !entry_at(m, index, &s, &e, &kl))
        return AETHER_ERR_INVALID_ARG;
    *key = m->text + s;
    *key_len = kl;
    *value = m->text + s + kl + 1;
    *value_len = e - (s + kl + 1);
    return AETHER_OK;
}

aether_status aether_blob_metadata_find(const aether_blob_metadata *m, const char *key,
                                        const char **value, size_t *value_len)
{
    size_t i, n;
    if (!m || !key || !value || !value_len)
        return AETHER_ERR_NULL_ARG;
    n = strlen(key);
    *value = NULL;
    *value_len = 0;
    for (i = 0; i < m->n_entries; ++i) {
        const char *k, *v;
        size_t kl, vl;
        if (aether_blob_metadata_entry(m, i, &k, &kl, &v, &vl) != AETHER_OK)
            break;
        if (kl == n && !memcmp(k, key, n)) {
            *value = v;
            *value_len = vl;
            break;
        }
    }
    return AETHER_OK;
}

aether_status aether_blob_metadata_copy(const aether_blob_metadata *m, const char *key, char *buf,
                                        size_t cap, int *found)
{
    const char *v;
    size_t vl;
    aether_status st;
    if (!buf)
        return AETHER_ERR_NULL_ARG;
    st = aether_blob_metadata_find(m, key, &v, &vl);
    if (st != AETHER_OK)
        return st;
    if (cap == 0)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    buf[0] = '\0';
    if (found)
        *found = v != NULL;
    if (!v)
        return AETHER_OK;
    if (vl + 1 > cap)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    memcpy(buf, v, vl);
    buf[vl] = '\0';
    return AETHER_OK;
}

aether_status aether_blob_metadata_record_size(size_t text_len, size_t *bytes)
{
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    if (text_len > AETHER_BLOB_META_MAX_TEXT)
        return AETHER_ERR_INVALID_ARG;
    *bytes = text_len + pad_of(text_len) + AETHER_BLOB_META_TRAILER;
    return AETHER_OK;
}

/* Header and arrays' bytes of the blob that v becomes with a record of
 * `record` bytes. */
static aether_status plan(const aether_blob_view *v, size_t text_len, aether_blob_header *h,
                          size_t *arrays, size_t *record)
{
    aether_blob_layout l;
    aether_status st;
    if (!v)
        return AETHER_ERR_NULL_ARG;
    st = aether_blob_validate_model(v, &l);
    if (st != AETHER_OK)
        return st;
    if (text_len > AETHER_BLOB_META_MAX_TEXT)
        return AETHER_ERR_BLOB_EXTENSION;
    st = aether_blob_metadata_record_size(text_len, record);
    if (st != AETHER_OK)
        return st;
    *arrays = l.total_bytes - l.meta_bytes;
    if ((uint64_t)*arrays + (uint64_t)*record > 0xFFFFFFFFull)
        return AETHER_ERR_BLOB_LAYOUT;
    *h = v->header;
    h->flags = (uint8_t)(h->flags | AETHER_BLOB_FLAG_METADATA);
    h->weights_len = (uint32_t)(*arrays + *record);
    return AETHER_OK;
}

aether_status aether_blob_with_metadata_size(const aether_blob_view *v, size_t text_len,
                                             size_t *bytes)
{
    aether_blob_header h;
    size_t arrays, record;
    aether_status st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    st = plan(v, text_len, &h, &arrays, &record);
    if (st != AETHER_OK)
        return st;
    return aether_blob_serialized_size(&h, bytes);
}

aether_status aether_blob_with_metadata(const aether_blob_view *v, const char *text,
                                        size_t text_len, void *out, size_t cap, size_t *written)
{
    aether_blob_header h;
    size_t arrays, record, total;
    unsigned char *p = (unsigned char *)out, *payload;
    aether_status st;
    if (!v || !out || (!text && text_len > 0))
        return AETHER_ERR_NULL_ARG;
    st = plan(v, text_len, &h, &arrays, &record);
    if (st != AETHER_OK)
        return st;
    st = aether_blob_metadata_check_text(text, text_len, NULL);
    if (st != AETHER_OK)
        return st;
    st = aether_blob_serialized_size(&h, &total);
    if (st != AETHER_OK)
        return st;
    if (cap < total)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    payload = p + AETHER_BLOB_HEADER_LEN;
    if (arrays)
        memcpy(payload, v->weights, arrays);
    if (text_len)
        memcpy(payload + arrays, text, text_len);
    memset(payload + arrays + text_len, 0, pad_of(text_len));
    aether_store_le32(payload + arrays + record - 8, (uint32_t)text_len);
    aether_store_le32(payload + arrays + record - 4, AETHER_BLOB_META_TAG);
    /* In place: the payload already sits at out + 24. */
    return aether_blob_serialize(&h, payload, out, cap, written);
}
