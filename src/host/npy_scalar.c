/* 0-d .npy members of ESPectre archives (label, chip, duration_ms, ...).
 * Their dtypes (<U.., <i8, <f8) are outside what aether_npy holds, and only a
 * scalar value is needed, so this reads just enough of the header. */
#include "rec_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_HEADER 1024u

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    return p;
}

/* Position after "'key':" and blanks, or NULL. */
static const char *find_value(const char *hdr, const char *key)
{
    const char *p = strstr(hdr, key);
    if (!p)
        return NULL;
    p = skip_ws(p + strlen(key));
    if (*p != ':')
        return NULL;
    return skip_ws(p + 1);
}

static int64_t load_i64(const unsigned char *p)
{
    uint64_t u = aether_load_le64(p);
    /* Two's complement without implementation-defined conversions. */
    if (u > (uint64_t)INT64_MAX)
        return -(int64_t)(~u) - 1;
    return (int64_t)u;
}

static double load_f64(const unsigned char *p)
{
    uint64_t bits = aether_load_le64(p);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* UTF-32LE to ASCII; NUL ends the string (NumPy pads with NULs). */
static void decode_utf32(const unsigned char *p, size_t chars, char *out, size_t cap)
{
    size_t i, n = 0;
    for (i = 0; i < chars && n + 1 < cap; ++i) {
        uint32_t c = aether_load_le32(p + 4 * i);
        if (c == 0)
            break;
        out[n++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    out[n] = '\0';
}

aether_status aether_rec_npy_scalar_(const unsigned char *buf, size_t len, npy_scalar *out)
{
    char hdr[MAX_HEADER + 1];
    char descr[16];
    size_t start, hlen, dlen, n;
    const unsigned char *data;
    const char *v;
    char quote;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return AETHER_ERR_NPY_MAGIC;
    if (buf[6] < 1 || buf[6] > 3)
        return AETHER_ERR_NPY_VERSION;
    if (buf[6] == 1) {
        hlen = aether_load_le16(buf + 8);
        start = 10;
    } else {
        if (len < 12)
            return AETHER_ERR_NPY_TRUNCATED;
        hlen = aether_load_le32(buf + 8);
        start = 12;
    }
    if (hlen > MAX_HEADER)
        return AETHER_ERR_NPY_HEADER;
    if (hlen > len - start)
        return AETHER_ERR_NPY_TRUNCATED;
    memcpy(hdr, buf + start, hlen);
    hdr[hlen] = '\0';
    if (strlen(hdr) != hlen)
        return AETHER_ERR_NPY_HEADER;
    data = buf + start + hlen;
    dlen = len - start - hlen;

    v = find_value(hdr, "'shape'");
    if (!v || *v != '(')
        return AETHER_ERR_NPY_HEADER;
    if (*skip_ws(v + 1) != ')')
        return AETHER_ERR_UNSUPPORTED; /* not a scalar */
    v = find_value(hdr, "'descr'");
    if (!v || (*v != '\'' && *v != '"'))
        return AETHER_ERR_NPY_HEADER;
    quote = *v++;
    for (n = 0; v[n] && v[n] != quote; ++n)
        if (n + 1 >= sizeof descr)
            return AETHER_ERR_NPY_DTYPE;
    if (v[n] != quote)
        return AETHER_ERR_NPY_HEADER;
    memcpy(descr, v, n);
    descr[n] = '\0';

    memset(out, 0, sizeof *out);
    if (descr[0] == '<' && descr[1] == 'U') {
        char *end;
        unsigned long chars = strtoul(descr + 2, &end, 10);
        if (descr[2] < '0' || descr[2] > '9' || *end != '\0' || chars < 1 || chars > 4096)
            return AETHER_ERR_NPY_DTYPE;
        if (dlen != 4u * chars)
            return dlen < 4u * chars ? AETHER_ERR_NPY_TRUNCATED : AETHER_ERR_NPY_SIZE;
        out->kind = NPY_SCALAR_STRING;
        decode_utf32(data, chars, out->text, sizeof out->text);
        return AETHER_OK;
    }
    if (!strcmp(descr, "<i8") || !strcmp(descr, "<i4")) {
        size_t w = descr[2] == '8' ? 8 : 4;
        if (dlen != w)
            return dlen < w ? AETHER_ERR_NPY_TRUNCATED : AETHER_ERR_NPY_SIZE;
        out->kind = NPY_SCALAR_INT;
        if (w == 8) {
            out->i = load_i64(data);
        } else {
            uint32_t u = aether_load_le32(data);
            out->i = u > 0x7FFFFFFFu ? -(int64_t)(~u) - 1 : (int64_t)u;
        }
        out->d = (double)out->i;
        return AETHER_OK;
    }
    if (!strcmp(descr, "<f8") || !strcmp(descr, "<f4")) {
        size_t w = descr[2] == '8' ? 8 : 4;
        if (dlen != w)
            return dlen < w ? AETHER_ERR_NPY_TRUNCATED : AETHER_ERR_NPY_SIZE;
        out->kind = NPY_SCALAR_FLOAT;
        out->d = w == 8 ? load_f64(data) : (double)aether_load_lef32(data);
        return AETHER_OK;
    }
    if (!strcmp(descr, "|b1") || !strcmp(descr, "?")) {
        if (dlen != 1)
            return dlen < 1 ? AETHER_ERR_NPY_TRUNCATED : AETHER_ERR_NPY_SIZE;
        out->kind = NPY_SCALAR_BOOL;
        out->i = data[0] != 0;
        out->d = (double)out->i;
        return AETHER_OK;
    }
    return AETHER_ERR_NPY_DTYPE;
}
